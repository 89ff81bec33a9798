/*
 * api_client.h - what the remote commands (config, nodes, explain) share:
 * where the server is and which token to present, one HTTP request to
 * tend-server's API (libcurl, loaded on first use), and how an answer the
 * API refused is told to a person.
 *
 * The server URL, token and CA certificate come from, in this order:
 * --server / --token / --cacert, then TEND_SERVER / TEND_TOKEN /
 * TEND_CACERT, then ~/.config/tend/cli.conf ($XDG_CONFIG_HOME/tend/cli.conf
 * when that is set), which holds "server = URL", "token = SECRET" and
 * "cacert = FILE" lines.  A cli.conf that holds a token and that anyone
 * may read is refused.
 *
 * Exit codes of the remote commands: 0 done, 1 error or refused by the
 * server, 2 usage (API_EXIT_*).
 */
#ifndef TEND_API_CLIENT_H
#define TEND_API_CLIENT_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util/buf.h"
#include "util/err.h"

enum { API_EXIT_OK = 0, API_EXIT_ERROR = 1, API_EXIT_USAGE = 2 };

/* The largest answer read from the server; the rest is refused. */
#define API_BODY_MAX ((size_t)64 << 20)
/* The largest file `tend config put` sends (the server's own limit). */
#define API_FILE_MAX ((size_t)16 << 20)

/* Options every remote command takes (getopt_long values >= 0x1000). */
enum {
	API_OPT_SERVER = 0x1000,
	API_OPT_TOKEN,
	API_OPT_CACERT,
	API_OPT_JSON,
	API_OPT_HELP,
};

#define API_COMMON_OPTIONS                                               \
	{ "server", required_argument, NULL, API_OPT_SERVER },           \
	{ "token", required_argument, NULL, API_OPT_TOKEN },             \
	{ "cacert", required_argument, NULL, API_OPT_CACERT },           \
	{ "json", no_argument, NULL, API_OPT_JSON },                     \
	{ "help", no_argument, NULL, API_OPT_HELP }

/* The usage lines of the common options, for --help texts. */
#define API_COMMON_HELP                                                                  \
	"  --server URL        tend-server's address (TEND_SERVER, cli.conf 'server')\n"         \
	"  --token SECRET      API token (TEND_TOKEN, cli.conf 'token')\n"                       \
	"  --cacert FILE       CA certificate of an https server (TEND_CACERT, cli.conf 'cacert')\n" \
	"  --json              print the API's JSON answer\n"                                     \
	"  -h, --help          show this help\n"

/* What the command line said (borrowed strings). */
struct api_opts {
	const char *server;
	const char *token;
	const char *cacert;
	bool json;
	bool help;
};

/*
 * api_opts_take - handle getopt_long's value c if it is a common option
 * (storing optarg in o): true when it was one.  'h' counts as --help.
 */
bool api_opts_take(struct api_opts *o, int c, const char *arg);

struct api_client {
	char *server; /* base URL, no trailing '/' */
	char *token;
	char *cacert; /* NULL: the system's CAs */
	bool json;    /* --json */
};

/*
 * api_client_init - resolve server, token and CA from o, the environment
 * and cli.conf (see above).  -EINVAL with a message when there is no
 * server or no token, the URL is not http(s), or cli.conf is unreadable,
 * malformed, or readable by everyone while holding a token.
 */
int api_client_init(struct api_client *c, const struct api_opts *o, struct tend_err *err);
void api_client_free(struct api_client *c);

/* An answer from the server. */
struct api_result {
	long status;      /* HTTP status */
	json_t *json;     /* the body parsed, when it is JSON; else NULL */
	struct buf body;  /* the raw body (at most API_BODY_MAX) */
};

void api_result_free(struct api_result *r);

/*
 * api_call - method (GET, PUT, POST, DELETE) on path (beneath the server's
 * URL, already escaped: see api_escape), with body (NULL: none) sent as
 * JSON.  Returns 0 once the server answered, whatever the status (*res is
 * then filled and must be freed), or -errno with a message naming the URL
 * when it could not be reached, timed out, or answered too much.
 */
int api_call(struct api_client *c, const char *method, const char *path, const json_t *body,
	     struct api_result *res, struct tend_err *err);

/*
 * api_escape - append s to b percent-encoded for a URL: letters, digits and
 * "-._~" are kept, and '/' too when keep_slash.  0 or -E2BIG.
 */
int api_escape(struct buf *b, const char *s, bool keep_slash);

/*
 * api_query_add - append "?name=value" (or "&name=value" when b already
 * holds a '?') with value escaped; nothing when value is NULL.
 */
int api_query_add(struct buf *b, const char *name, const char *value);

/*
 * api_get_json - GET path and require a 2xx JSON answer: 0 with *ret (a
 * new reference), or 1 after printing why (api_report_error).
 */
int api_get_json(struct api_client *c, const char *path, const char *what, json_t **ret);

/*
 * api_report_error - tell the user (stderr) why the server refused what
 * (e.g. "put tags/base.yaml"): its "error", then each of "errors" on a
 * line of its own; 401 and 403 say what is wrong with the token.  With
 * --json the answer's JSON also goes to stdout.  Returns API_EXIT_ERROR.
 */
int api_report_error(struct api_client *c, const struct api_result *r, const char *what);

/*
 * api_change - send a write (method on path with body) that was based on
 * revision.  On 2xx: 0, *ret the answer (a new reference), *ret_status
 * its status.  A 409 that names the new "head" means someone committed
 * since revision: says so ("fetch and retry").  Other refusals are
 * reported as api_report_error does.  Returns 1 when refused or failed.
 */
int api_change(struct api_client *c, const char *method, const char *path, const json_t *body,
	       const char *what, const char *revision, json_t **ret, long *ret_status);

/* api_head_revision - the configuration's current revision (41 bytes). 0 or 1 (printed). */
int api_head_revision(struct api_client *c, char out[41]);

/* api_print_json - v on stdout, indented, with a final newline. */
void api_print_json(const json_t *v);

/* json_str - v's string, or dflt when v is not a string. */
const char *json_str(const json_t *v, const char *dflt);

/*
 * A text table: cells added row by row, printed with each column as wide
 * as its widest cell (the last column is not padded).
 */
struct cli_table {
	size_t ncols;
	unsigned right; /* bit i: column i is aligned right (numbers) */
	size_t ncells;
	char **cells;
};

void cli_table_init(struct cli_table *t, size_t ncols);
/* cli_table_add - the next cell (copied; NULL prints as "-"). */
void cli_table_add(struct cli_table *t, const char *cell);
void cli_table_print(struct cli_table *t, FILE *f);
void cli_table_free(struct cli_table *t);

#endif
