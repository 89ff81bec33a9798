/*
 * rpc.h - tend-rpc, the commands of the CLI that talk to nodes over NATS
 * (tend ping, run, rpc, up).  `tend` execs tend-rpc for them so that the
 * tend binary itself, which every node runs for `tend apply`, never
 * loads cnats or libssl.
 *
 * The parts: the admin's identity bundle (rpc_identity.c); the options
 * every command takes, the filter among them (rpc_opts.c); the link to
 * the bus: connect, send one signed request, collect and verify the
 * replies (rpc_client.c); the nodes the inventory expects to answer
 * (rpc_expect.c); KEY=VALUE arguments (rpc_args.c); grouping nodes
 * whose results are the same (rpc_group.c); printing (rpc_print.c); the
 * commands (rpc_ping.c, rpc_run.c, rpc_action.c, rpc_up_cmd.c) and the
 * rollout logic of `tend up`, which knows nothing of the bus or of
 * printing (rpc_up.c).
 *
 * Exit codes: 0 done and every node did what was asked, 1 a node failed,
 * refused, did not answer, or an error, 2 usage.
 */
#ifndef TEND_CLI_RPC_H
#define TEND_CLI_RPC_H

#include <getopt.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "api_client.h"
#include "util/buf.h"
#include "util/err.h"

enum { RPC_EXIT_OK = 0, RPC_EXIT_FAIL = 1, RPC_EXIT_USAGE = 2 };

/* The commands (rpc_main.c dispatches to them). */
int rpc_cmd_ping(int argc, char **argv);
int rpc_cmd_run(int argc, char **argv);
int rpc_cmd_rpc(int argc, char **argv);
int rpc_cmd_up(int argc, char **argv);

/* ---- the identity bundle (rpc_identity.c) ---- */

#define RPC_IDENTITY_MAX ((size_t)64 << 10) /* the largest bundle read */
#define RPC_NATS_URLS_MAX 32
#define RPC_URL_MAX 1024
#define RPC_NAME_MAX 64 /* CN and OU of an admin's certificate */

/*
 * An administrator's identity, as `tend-server user add` writes it (mode
 * 0600):
 *
 *   # tend identity: alice (role ops)        comments and blank lines
 *   nats: tls://127.0.0.1:4222               zero or more brokers
 *   server: http://127.0.0.1:8440            optional: tend-server's API
 *   -----BEGIN PRIVATE KEY-----              the admin's key (PKCS#8)
 *   -----BEGIN CERTIFICATE-----              the admin's certificate
 *   -----BEGIN CERTIFICATE-----              the tend CA's certificate
 *
 * in that order for the PEM blocks.  The certificate must belong to the
 * key, chain to the CA, be valid now and name an administrator
 * (O=tend-admin, OU=ROLE, CN=NAME).
 */
struct rpc_identity {
	char *path;
	char *nats[RPC_NATS_URLS_MAX + 1]; /* NULL-terminated */
	size_t nnats;
	char *server; /* NULL when the bundle has no server: line */
	char *key_pem, *cert_pem, *ca_pem;
	EVP_PKEY *key;
	char name[RPC_NAME_MAX + 1], role[RPC_NAME_MAX + 1];
};

/*
 * rpc_identity_parse - the bundle text (len bytes, at most
 * RPC_IDENTITY_MAX) read from path (for messages) into *ret.  -EINVAL
 * with "PATH:LINE: what was expected" when it is malformed, or "PATH:
 * ..." when its parts do not fit together.
 */
int rpc_identity_parse(const char *path, const char *text, size_t len, struct rpc_identity *ret,
		       struct tend_err *err);

/*
 * rpc_identity_load - the bundle at path (NULL: $TEND_IDENTITY, else
 * $XDG_CONFIG_HOME/tend/identity.pem, else ~/.config/tend/identity.pem).
 * A file that group or others may read or write is refused (-EPERM), as
 * ssh refuses a private key anyone can read; -ENOENT says where it
 * looked and how to get one.
 */
int rpc_identity_load(const char *path, struct rpc_identity *ret, struct tend_err *err);
void rpc_identity_free(struct rpc_identity *id);

/* ---- options every command takes (rpc_opts.c) ---- */

#define RPC_FILTER_ITEMS_MAX 1024 /* --node, --tag, --fact given, each */

enum {
	RPC_OPT_NODE = 0x1100, /* after API_OPT_* */
	RPC_OPT_TAG,
	RPC_OPT_FACT,
	RPC_OPT_IDENTITY,
	RPC_OPT_NATS,
	RPC_OPT_TIMEOUT,
	RPC_OPT_VERBOSE,
};

/* clang-format off */
#define RPC_COMMON_OPTIONS                                             \
	API_COMMON_OPTIONS,                                            \
	{ "node", required_argument, NULL, RPC_OPT_NODE },             \
	{ "tag", required_argument, NULL, RPC_OPT_TAG },               \
	{ "fact", required_argument, NULL, RPC_OPT_FACT },             \
	{ "identity", required_argument, NULL, RPC_OPT_IDENTITY },     \
	{ "nats", required_argument, NULL, RPC_OPT_NATS },             \
	{ "timeout", required_argument, NULL, RPC_OPT_TIMEOUT },       \
	{ "verbose", no_argument, NULL, RPC_OPT_VERBOSE }
/* clang-format on */

#define RPC_FILTER_HELP                                                                 \
	"filter (combinable; every node when none is given):\n"                         \
	"  --node GLOB         nodes whose id matches GLOB (repeatable: any of them)\n" \
	"  --tag TAG           nodes that have TAG (repeatable: all of them)\n"         \
	"  --fact EXPR         nodes whose facts satisfy EXPR, e.g. os.id=debian or\n"  \
	"                      'memory.total>8G' (= != < <= > >=; repeatable: all of them)\n"

#define RPC_COMMON_HELP                                                                       \
	"  --identity FILE     the admin's identity bundle (TEND_IDENTITY,\n"                 \
	"                      ~/.config/tend/identity.pem)\n"                                \
	"  --nats URL          a broker, instead of the bundle's nats: lines (repeatable;\n"  \
	"                      TEND_NATS, comma-separated)\n"                                 \
	"  -v, --verbose       say more (which nodes the inventory expects, ...)\n"           \
	"  --json              print the result as JSON\n"                                    \
	"  --server URL        tend-server, for the nodes expected to answer (TEND_SERVER,\n" \
	"                      the identity's server: line, cli.conf 'server')\n"             \
	"  --token SECRET      its API token (TEND_TOKEN, cli.conf 'token')\n"                \
	"  --cacert FILE       CA certificate of an https server (TEND_CACERT, cli.conf\n" \
	"                      'cacert')\n"                                                \
	"  -h, --help          show this help\n"

/* What the command line said. */
struct rpc_opts {
	struct api_opts api;	      /* --server --token --cacert --json --help */
	json_t *nodes, *tags, *facts; /* arrays of strings, NULL when not given */
	const char *identity;
	const char *nats[RPC_NATS_URLS_MAX + 1];
	size_t nnats;
	double timeout; /* seconds; 0: not given */
	bool verbose;
};

/*
 * rpc_opts_take - handle getopt_long's value c if it is one of the
 * common options (arg is optarg): 1 when taken, 0 when not one of them,
 * -EINVAL with the reason for a bad value.
 */
int rpc_opts_take(struct rpc_opts *o, int c, const char *arg, struct tend_err *err);
void rpc_opts_free(struct rpc_opts *o);

/*
 * rpc_opts_filter - the request filter of --node/--tag/--fact (a new
 * reference, NULL when none was given), checked: -EINVAL with
 * rpc_filter_check's reason.
 */
int rpc_opts_filter(const struct rpc_opts *o, json_t **ret, struct tend_err *err);

/* rpc_filter_one_node - the node when filter names exactly one node and no glob, else NULL. */
const char *rpc_filter_one_node(const json_t *filter);

/* An amount: N, or P% of something. */
struct rpc_amount {
	long n;
	bool pct;
};

/* rpc_amount_parse - "N" or "P%" (0 allowed only with zero_ok; P at most 100). */
int rpc_amount_parse(const char *s, bool zero_ok, struct rpc_amount *ret);

/* rpc_amount_of - a of total: N itself, or P% rounded up (round_up) or down. */
size_t rpc_amount_of(struct rpc_amount a, size_t total, bool round_up);

/* ---- the bus (rpc_client.c) ---- */

#define RPC_CONNECT_TIMEOUT_MS 10000

struct rpc_client;

/*
 * rpc_client_open - load the identity (o->identity ...), connect to the
 * brokers (o->nats, else TEND_NATS, else the bundle's) and wait until
 * connected (at most RPC_CONNECT_TIMEOUT_MS); subscribe to the client's
 * reply inbox.  -errno with the reason.
 */
int rpc_client_open(const struct rpc_opts *o, struct rpc_client **ret, struct tend_err *err);
void rpc_client_close(struct rpc_client *c);
const struct rpc_identity *rpc_client_identity(const struct rpc_client *c);

/* One node's verified answer. */
struct rpc_answer {
	char *node;
	char *status;  /* "ok", "failed", "refused" */
	char *reason;  /* may be NULL */
	json_t *data;  /* may be NULL */
	double ms;     /* how long the action took, as the node says */
	double rtt_ms; /* from sending the request to receiving this reply */
};

/* A reply that did not verify, or could not be read. */
struct rpc_reject {
	char *from; /* the node it claims to come from, unverified ("?" when none) */
	char *reason;
};

struct rpc_outcome {
	struct rpc_answer *ans; /* sorted by node */
	size_t nans, ans_cap;
	struct rpc_reject *rej;
	size_t nrej, rej_cap;
	json_t *missing;   /* expected nodes that did not answer (array), NULL: no expected set */
	double elapsed_ms; /* to the last reply, or to the end of waiting when there was none */
	double waited_ms;  /* to the end of waiting */
	size_t duplicates; /* replies from a node that had answered already (ignored) */
};

/* A request. */
struct rpc_query {
	const char *action;
	const json_t *args;   /* object or NULL */
	const json_t *filter; /* object or NULL */
	int timeout_ms;	      /* collect replies this long ... */
	const json_t *expect; /* ... or until these nodes (array, may be NULL) answered */
};

/*
 * rpc_client_call - send call (to RPC_SUBJ_NODE<node> when the filter
 * names one node exactly, else RPC_SUBJ_ALL) and collect the replies:
 * each is verified (rpc_reply_open); those that do not verify are in
 * ret->rej, never in ret->ans.  0 with *ret, or -errno when the request
 * could not be sent.
 */
int rpc_client_call(struct rpc_client *c, const struct rpc_query *call, struct rpc_outcome *ret,
		    struct tend_err *err);
void rpc_outcome_free(struct rpc_outcome *o);

/* ---- what every command does first (rpc_session.c) ---- */

/* A command's link: the client, the checked filter, the expected set. */
struct rpc_session {
	struct rpc_client *client;
	json_t *filter; /* NULL: every node */
	json_t *expect; /* NULL: not known */
};

/*
 * rpc_session_open - check the filter, connect, ask the inventory which
 * nodes should answer.  Errors are printed; returns RPC_EXIT_OK, or the
 * exit code (RPC_EXIT_USAGE for a bad filter, RPC_EXIT_FAIL else).
 */
int rpc_session_open(const struct rpc_opts *o, struct rpc_session *s);
void rpc_session_close(struct rpc_session *s);

/*
 * rpc_usage_error - after getopt_long returned '?' or ':' (it said why)
 * or rpc_opts_take failed (err says why, may be NULL): point at --help
 * and return RPC_EXIT_USAGE.
 */
int rpc_usage_error(const struct tend_err *err);

/* ---- the expected set (rpc_expect.c) ---- */

#define RPC_EXPECT_FACTS_MAX 200 /* nodes whose facts are fetched for a --fact filter */

/*
 * rpc_expected - the ids (a sorted array, new reference) of the nodes
 * tend-server's inventory says match filter, or NULL when no server is
 * configured (--server, TEND_SERVER, the bundle's server:, cli.conf) or
 * it could not say (told on stderr; without a server only with -v).
 */
json_t *rpc_expected(const struct rpc_opts *o, const struct rpc_identity *id, const json_t *filter);

/* ---- KEY=VALUE arguments (rpc_args.c) ---- */

#define RPC_ARGS_MAX 256
#define RPC_ARG_KEY_MAX 64

/*
 * rpc_args_parse - the n arguments "KEY=VALUE" or "KEY:=JSON" as one
 * object (*ret, a new reference).  A VALUE that is a JSON number, true
 * or false keeps its type; anything else is a string.  JSON is any JSON
 * text (arrays, objects, strings in quotes).  -EINVAL naming the
 * argument for a bad key, a bad JSON text or a key given twice.
 */
int rpc_args_parse(char *const *kv, int n, json_t **ret, struct tend_err *err);

/* ---- grouping identical results (rpc_group.c) ---- */

/* One node's result to group: nodes with the same rank and key are one group. */
struct rpc_item {
	const char *node;
	const char *key;
	int rank;   /* groups of a lower rank come first */
	size_t idx; /* the caller's, e.g. an index into its answers */
};

/* A group: items[first .. first + n - 1], sorted by node. */
struct rpc_group {
	size_t first, n;
};

/*
 * rpc_group_items - sort items by (rank, key, node) and return the groups
 * (*ret, malloc'd; *ret_n of them): by rank, then the larger first, then
 * by their first node.  Node names sort as versions: web2 before web10.
 */
void rpc_group_items(struct rpc_item *items, size_t n, struct rpc_group **ret, size_t *ret_n);

/* rpc_node_cmp - node names in version order (web2 < web10). */
int rpc_node_cmp(const char *a, const char *b);

#define RPC_NODES_SHOWN 10 /* names on a group's line unless all are asked for */

/*
 * rpc_nodes_label - "web01", "web01, web02 (2 nodes)" or "web01, ...,
 * web10 and 90 more (100 nodes)" (all: every name) into b.
 */
void rpc_nodes_label(struct buf *b, const char *const *nodes, size_t n, bool all);

/* rpc_group_label - rpc_nodes_label of group g's nodes. */
void rpc_group_label(struct buf *b, const struct rpc_item *items, const struct rpc_group *g,
		     bool all);

/* ---- printing (rpc_print.c) ---- */

/*
 * rpc_print_text - text from a node on f, each line after indent,
 * control characters (but tab) shown as \xHH: a node must not drive the
 * admin's terminal.
 */
void rpc_print_text(FILE *f, const char *indent, const char *text, size_t len);

/* rpc_safe - s with control characters as '?' into b (for one-line messages). */
const char *rpc_safe(struct buf *b, const char *s);

/*
 * rpc_print_trouble - the replies refused (did not verify) and the
 * expected nodes that did not answer, one line each, on stdout; the
 * duplicates with -v.  The number of those lines.
 */
size_t rpc_print_trouble(const struct rpc_outcome *o, bool verbose);

/* rpc_round_ms - ms to the microsecond, for JSON that people read. */
double rpc_round_ms(double ms);

/* rpc_answer_json - {"node","status","reason","ms","rtt_ms","data"} of a (new reference). */
json_t *rpc_answer_json(const struct rpc_answer *a);

/* rpc_trouble_json - {"node","status":"missing"} and {"node","status":"rejected","reason"} appended to arr. */
void rpc_trouble_json(json_t *arr, const struct rpc_outcome *o);

/* rpc_missing_names - the missing list as "a, b, c" (all: every name) into b. */
void rpc_missing_names(struct buf *b, const json_t *missing, bool all);

/* ---- tend up: the rollout (rpc_up.c) ---- */

/* Where a node stands in a rollout. */
enum up_state {
	UP_CONVERGED,	/* nothing to change at its last analysis */
	UP_PENDING,	/* changes to apply in the current pass */
	UP_APPLIED,	/* applied in the current pass, not analysed again yet */
	UP_FAILED,	/* failed (see stage and reason): excluded from the rest */
	UP_NOT_STARTED, /* the rollout stopped (or was declined) before its turn */
	UP_UNCONVERGED, /* still had changes after the last pass */
	UP_MISSING,	/* expected, did not answer the first analysis */
};

struct up_node {
	char *id;
	enum up_state state;
	char *reason;	   /* why it failed; NULL else */
	const char *stage; /* "plan" or "apply": where it failed */
	int pass;	   /* the pass of its last change of state */
	int napplied;	   /* how many times it applied */
	bool counted;	   /* its failure spent the budget */
};

/* What one node said to a plan or apply. */
enum up_verdict {
	UP_V_NOTHING, /* plan: nothing to change */
	UP_V_CHANGES, /* plan: something to change */
	UP_V_DONE,    /* apply: done */
	UP_V_FAILED,  /* either: failed, refused (reason says) */
};

struct up_answer {
	char *node;
	enum up_verdict v;
	char *reason;
};

struct up_answers {
	struct up_answer *a;
	size_t n, cap;
};

/* up_answers_add - one answer (node and reason copied). */
void up_answers_add(struct up_answers *s, const char *node, enum up_verdict v, const char *reason);
void up_answers_free(struct up_answers *s);

enum up_phase { UP_PLAN, UP_APPLY };

struct up_rollout;

/*
 * How a rollout acts on the world and tells about it.  call sends phase
 * to nodes (n of them; NULL: the first analysis, every node the filter
 * matches) and fills out: a node it names that has no answer did not
 * answer.  For the first analysis it names the expected nodes that did
 * not answer in *ret_missing (a malloc'd array of malloc'd strings, may
 * stay NULL).  It returns < 0 to abort the rollout (the bus is gone).
 */
struct up_ops {
	int (*call)(void *arg, enum up_phase phase, const char *const *nodes, size_t n,
		    struct up_answers *out, char ***ret_missing, size_t *ret_nmissing);
	/* after the first analysis, when something is to change: go on? */
	bool (*confirm)(void *arg, const struct up_rollout *r);
	/* optional: an analysis (pass 1: the first) is in */
	void (*analyzed)(void *arg, const struct up_rollout *r);
	/* optional: a batch of nodes starts (done false) or is done */
	void (*batch)(void *arg, const struct up_rollout *r, const char *const *nodes, size_t n,
		      bool canary, bool done);
};

struct up_limits {
	struct rpc_amount batch;	/* default 10% */
	struct rpc_amount max_failures; /* default 0 */
	long canary;			/* nodes in the first batch; 0: none */
	int max_passes;			/* apply rounds; default 3 */
};

struct up_rollout {
	struct up_limits lim;
	struct up_node *nodes; /* sorted by id */
	size_t n, cap;
	size_t to_change;  /* nodes with changes at the first analysis */
	size_t batch_size; /* from lim.batch and to_change */
	size_t budget;	   /* failures allowed (a rollout stops when failures > budget) */
	size_t failures;
	size_t batches;	     /* batches sent so far */
	size_t pass_batches; /* batches this pass will take (known when it starts) */
	int pass;	     /* current pass, from 1 */
	bool declined, stopped, aborted;
};

/* ---- tend up: plans and applies as the admin sees them (rpc_up_plan.c) ---- */

/*
 * rpc_up_verdict - what answer a says to a plan (UP_V_CHANGES,
 * UP_V_NOTHING) or an apply (UP_V_DONE), or UP_V_FAILED with the reason
 * in why: refused, failed, no report, a resource failed.
 */
enum up_verdict rpc_up_verdict(enum up_phase phase, const struct rpc_answer *a, struct buf *why);

/* rpc_up_plan_print - the changes of plans (node -> plan data), each distinct one once. */
void rpc_up_plan_print(const json_t *plans, bool verbose);

/* rpc_up_plan_json - the same as [{"resource","status","change"|"message","nodes":[...]}]. */
json_t *rpc_up_plan_json(const json_t *plans);

void up_init(struct up_rollout *r, const struct up_limits *lim);
void up_free(struct up_rollout *r);

/*
 * up_run - analyse, confirm, then apply pass after pass (see
 * rpc_up_cmd.c's usage): canary first, then batches; every failure of a
 * node in the modify phase spends one of the budget and excludes the
 * node; more failures than the budget stop the rollout (the nodes not
 * applied yet are UP_NOT_STARTED).  Returns 0 when every node converged,
 * 1 otherwise, -errno when call did (r->aborted).
 */
int up_run(struct up_rollout *r, const struct up_ops *ops, void *arg);

/* up_find - the node called id, NULL when not in the rollout. */
struct up_node *up_find(const struct up_rollout *r, const char *id);
/* up_count - how many nodes are in state s. */
size_t up_count(const struct up_rollout *r, enum up_state s);
/* up_state_name - "converged", "pending", "applied", "failed", "not started", ... */
const char *up_state_name(enum up_state s);

#endif
