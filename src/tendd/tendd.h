/*
 * tendd.h - what the agent's files share: the agent's settings and
 * running state, and each module's entry points.
 *
 *   main.c      options, signals, the loop (interval + splay, alive, SIGUSR1)
 *   enroll.c    --enroll: key, CSR, POST /v1/enroll, identity files, agent.conf
 *   conf.c      agent.conf and the identity files of STATE
 *   converge.c  one convergence: catalog, facts, engine, report
 *   cache.c     the signed catalog on disk, verified, with the previous one kept
 *   spool.c     reports kept on disk until the server acknowledged them
 *   events.c    lifecycle events and time stamps
 *
 * State directory (default /var/lib/tendd, mode 0700):
 *   node.key node.pem ca.pem agent.conf   identity (enroll.c)
 *   catalog/ catalog.prev/                catalog.json, catalog.sig, signer.pem
 *   files/                                the catalog's files (sources, templates)
 *   spool/ID.json                         reports not yet acknowledged
 */
#ifndef TENDD_H
#define TENDD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/buf.h"
#include "util/err.h"

#define TENDD_STATE_DEFAULT "/var/lib/tendd"
#define TENDD_NODE_MAX 253
#define TENDD_URLS_MAX 16
#define TENDD_PEM_MAX ((size_t)64 << 10)
#define TENDD_CATALOG_MAX ((size_t)64 << 20)
#define TENDD_REPORT_MAX ((size_t)4 << 20)

/* Exit codes besides `tend apply`'s 0 (converged) and 1 (failed). */
enum { TENDD_EXIT_USAGE = 2, TENDD_EXIT_PENDING = 3 };

/* agent.conf: who this node is and where its server and brokers are. */
struct agent_conf {
	char *node;
	char *server;                 /* HTTP API (enrollment) */
	char *nats_urls[TENDD_URLS_MAX + 1]; /* NULL-terminated */
	size_t nurls;
};

int agent_conf_load(const char *state, struct agent_conf *c, struct tend_err *err);
int agent_conf_save(const char *state, const struct agent_conf *c, struct tend_err *err);
void agent_conf_free(struct agent_conf *c);

/* state_path - STATE/name into b (reset first); 0 or -ENAMETOOLONG. */
int state_path(struct buf *b, const char *state, const char *name);

/* read_file_max - the whole regular file at path (at most max bytes) into out. */
int read_file_max(const char *path, size_t max, struct buf *out);

/* node_id_ok - letters, digits, '.', '-', '_'; 1..253 bytes (the server's rule). */
bool node_id_ok(const char *id);

/* ---- enroll.c ------------------------------------------------------------ */

struct enroll_opts {
	const char *state;
	const char *server;
	const char *token;            /* NULL: ask for approval */
	const char *node;             /* NULL: the host name */
	const char *cacert;           /* CA of an https server */
	bool wait;                    /* poll until approved */
	double poll;                  /* seconds between polls */
};

/* enroll - enroll this node; returns an exit code (0, 1, TENDD_EXIT_PENDING). */
int enroll(const struct enroll_opts *o);

/* ---- cache.c ------------------------------------------------------------- */

/*
 * cache_store - verify a catalog the server sent (signer chains to ca_pem
 * and is "tend-server"; signature over the exact text; JSON object with
 * "hash") and keep it as STATE/catalog/, the one it replaces becoming
 * STATE/catalog.prev/.  A catalog that does not verify is refused
 * (-EBADMSG, why in err) and nothing on disk changes.  ret_hash (81
 * bytes) gets the catalog's hash.
 */
int cache_store(const char *state, const char *ca_pem, const char *text, size_t len,
		const char *sig, const char *signer, char ret_hash[81], struct tend_err *err);

/*
 * cache_load - the newest catalog on disk that verifies: STATE/catalog/,
 * else STATE/catalog.prev/ (*ret_prev true; why the newer one was refused
 * in warn).  *ret: the parsed catalog (a new reference); ret_hash its
 * hash.  -ENOENT when there is none, -EBADMSG when none verifies.
 */
int cache_load(const char *state, const char *ca_pem, json_t **ret, char ret_hash[81],
	       bool *ret_prev, struct tend_err *warn, struct tend_err *err);

/* cache_write_files - the catalog's "files" under STATE/files/ (skipped when already there for hash). */
int cache_write_files(const char *state, const json_t *catalog, const char *hash,
		      struct tend_err *err);

/* ---- spool.c ------------------------------------------------------------- */

#define SPOOL_MAX 1000    /* reports kept while offline; the oldest go first */
#define UUID_LEN 36

/* spool_new_id - a UUIDv7 (time-ordered: names sort oldest first). */
void spool_new_id(char out[UUID_LEN + 1]);

/* spool_add - keep payload as STATE/spool/ID.json (atomic, 0600). */
int spool_add(const char *state, const char *id, const char *payload, size_t len,
	      struct tend_err *err);

/*
 * spool_flush - hand every spooled payload to deliver, oldest first, and
 * remove each one deliver acknowledged (returns 0).  Stops at the first
 * one deliver could not hand over (returns < 0: retry later); one the
 * server refused for good (deliver returns 1) is renamed ID.refused.
 * Returns the number delivered, or the first delivery error.
 */
int spool_flush(const char *state, int (*deliver)(void *arg, const char *id, const char *payload,
						  size_t len),
		void *arg, size_t *ret_left);

/* spool_count - reports waiting. */
size_t spool_count(const char *state);

/* ---- events.c ------------------------------------------------------------ */

struct bus;

/* iso_time - t as "2026-11-22T07:03:53Z" into out (21 bytes). */
void iso_time(time_t t, char out[32]);

/* event_publish - {"type","node","time","data"} on tend.event.NODE.TYPE; data taken (may be NULL). */
int event_publish(struct bus *b, const char *node, const char *type, json_t *data);

/* ---- converge.c ---------------------------------------------------------- */

struct agent {
	const char *state;
	const char *root;
	struct agent_conf conf;
	char *ca_pem;                 /* STATE/ca.pem, to verify catalogs */
	struct bus *bus;
	char hash[81];                /* of the catalog in use; "" none */
	time_t stale_since;           /* first failure to get the current catalog; 0 fresh */
	char facts_hash[65];          /* of the facts last acknowledged */
	int request_timeout_ms;
};

/*
 * agent_converge - one convergence (catalog, facts, engine, report,
 * spool flush, run event); returns the exit code `tend apply` would (0
 * converged, 1 failed or no catalog).
 */
int agent_converge(struct agent *a);

/* agent_flush - deliver the spooled reports (when connected). */
void agent_flush(struct agent *a);

#endif
