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
 *   rpc.c       signed RPC requests: subscriptions, checks, replies, jobs for the loop
 *   actions.c   the built-in actions (ping, facts, plan, apply); actions_run.c:
 *               run, check, service
 *   audit.c     STATE/audit.jsonl and its forwarding to the server
 *
 * State directory (default /var/lib/tendd, mode 0700):
 *   node.key node.pem ca.pem agent.conf   identity (enroll.c)
 *   catalog/ catalog.prev/                catalog.json, catalog.sig, signer.pem
 *   files/                                the catalog's files (sources, templates)
 *   spool/ID.json                         reports not yet acknowledged
 *   rpc-nonces                            request ids seen (replays refused across restarts)
 *   audit.jsonl audit.sent                RPC audit records; how much was forwarded
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

/*
 * event_publish - {"type","node","time","data"} on tend.event.NODE.TYPE;
 * data taken (may be NULL).  When the broker is away the event waits in
 * memory for events_flush (but "alive": it is dropped), and 0 is returned.
 */
int event_publish(struct bus *b, const char *node, const char *type, json_t *data);

/*
 * events_flush - send the events that wait, oldest first, each as a
 * request the server must answer within timeout_ms, until one is not;
 * how many went.
 */
size_t events_flush(struct bus *b, int timeout_ms);

/* events_waiting - how many events wait for the broker. */
size_t events_waiting(void);

/* ---- converge.c ---------------------------------------------------------- */

struct rpc_node;

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
	struct rpc_node *rpc;         /* NULL: no RPC (--once, or it could not start) */
};

/*
 * agent_converge - one convergence (catalog, facts, engine, report,
 * spool flush, run event); returns the exit code `tend apply` would (0
 * converged, 1 failed or no catalog).
 */
int agent_converge(struct agent *a);

/*
 * agent_converge_report - agent_converge, and the run's report in
 * *ret_report (a new reference, the one spooled; NULL when there was no
 * usable catalog).
 */
int agent_converge_report(struct agent *a, json_t **ret_report);

/* agent_facts - the facts of the root now (a new reference; NULL when the root cannot be opened). */
json_t *agent_facts(struct agent *a);

/*
 * agent_plan - what a convergence would change now: the catalog asked
 * for as a run does (the cached one when the server cannot say), fresh
 * facts, the engine in plan mode.  Nothing of the managed root is
 * written (STATE is: a new catalog, its files).  *ret the report
 * (command "plan"; "catalog": {"hash", "stale"}; "error" for an input
 * error).  -ENOENT when there is no usable catalog (why in err).
 */
int agent_plan(struct agent *a, json_t **ret, struct tend_err *err);

/* agent_flush - deliver the spooled reports (when connected). */
void agent_flush(struct agent *a);

/* ---- actions.c, actions_run.c ------------------------------------------------ */

#define ACTION_OUTPUT_MAX ((size_t)64 << 10) /* stdout, and stderr, of a command */
#define ACTION_TIMEOUT_DEFAULT 60.0
#define ACTION_TIMEOUT_MAX 3600

struct proc_result;

/* What an action may know and use. */
struct action_ctx {
	const char *node;
	const char *root;              /* --root */
	const char *hash;              /* the catalog in use ("" none) */
	double uptime_s;               /* of the agent */
	const json_t *facts;           /* NULL: not collected */
	/* plan (plan true) or apply: the report of a convergence, or -errno with err */
	int (*converge)(void *arg, bool plan, json_t **ret_report, struct tend_err *err);
	void *arg;
};

struct action_result {
	bool ok;                       /* status "ok", else "failed" */
	char reason[1024];             /* why it failed */
	json_t *data;                  /* an object or NULL (owned) */
};

/*
 * action_run - run the built-in action with args (an object or NULL) and
 * fill res in: ok with data, or failed with the reason (an unknown action,
 * arguments it does not take or that are wrong, a command that failed;
 * data may still say more).  Free with action_result_clear.
 */
void action_run(const char *action, const json_t *args, const struct action_ctx *c,
		struct action_result *res);
void action_result_clear(struct action_result *res);

/* action_report_data - the data of plan/apply from an engine report: status, summary, changes. */
void action_report_data(const json_t *report, bool plan, struct action_result *res);

/* action_check_parse - a plugin's stdout as "output", "long_output", "perfdata" members of data. */
void action_check_parse(const char *out, size_t len, json_t *data);

/* action_text - s[0..n) as a JSON string, each byte that is not UTF-8 replaced by U+FFFD. */
json_t *action_text(const char *s, size_t n);

/* helpers the actions share (actions.c, actions_run.c) */
void action_fail(struct action_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int action_args_only(const json_t *args, const char *const *allowed, struct action_result *res);
int action_exec(const struct action_ctx *c, const char *const *argv, double timeout,
		struct proc_result *ret, struct action_result *res);
void action_run_cmd(const json_t *args, const struct action_ctx *c, struct action_result *res);
void action_check(const json_t *args, const struct action_ctx *c, struct action_result *res);
void action_service(const json_t *args, const struct action_ctx *c, struct action_result *res);

/* ---- audit.c ----------------------------------------------------------------- */

struct audit;

/*
 * audit_open - STATE/audit.jsonl (created 0600, appended to) and
 * STATE/audit.sent (how many bytes of it were forwarded).  *ret is
 * shared by threads: every call below locks it.
 */
int audit_open(const char *state, struct audit **ret, struct tend_err *err);
void audit_free(struct audit *au);

/*
 * audit_write - rec (borrowed) as one line appended with one write(2),
 * then published on subject when b is connected and nothing older waits
 * to be forwarded (else audit_forward sends it later, in order).
 * 0, or -errno when the line could not be written (err).
 */
int audit_write(struct audit *au, struct bus *b, const char *subject, const json_t *rec,
		struct tend_err *err);

/*
 * audit_forward - publish the lines not forwarded yet, oldest first,
 * while b is connected.  Returns how many were sent, or -errno.
 */
int audit_forward(struct audit *au, struct bus *b, const char *subject);

/* ---- rpc.c ------------------------------------------------------------------- */

/*
 * rpc_node_new - the agent's RPC side: its key and certificate
 * (STATE/node.key, node.pem), the request checker (lib/rpc) with its
 * nonce file STATE/rpc-nonces, the audit file, the policy and tags of
 * catalog (may be NULL: everything refused) and the facts collected now.
 * Nothing is subscribed yet (rpc_node_subscribe).
 */
int rpc_node_new(struct agent *a, const json_t *catalog, struct rpc_node **ret,
		 struct tend_err *err);

/* rpc_node_subscribe - listen on tend.rpc.NODE and tend.rpc.all. */
int rpc_node_subscribe(struct rpc_node *n, struct tend_err *err);

/* rpc_node_fd - readable when a plan or apply waits for the loop (rpc_node_jobs). */
int rpc_node_fd(const struct rpc_node *n);

/* rpc_node_jobs - on the loop's thread: run the plans and applies requests wait for. */
void rpc_node_jobs(struct rpc_node *n);

/*
 * rpc_node_catalog - a catalog was loaded (loop's thread): its "policy"
 * and "tags" become the ones requests are checked against (nothing
 * happens when hash is the one already in use).
 */
void rpc_node_catalog(struct rpc_node *n, const json_t *catalog, const char *hash);

/* rpc_node_facts - the facts filters, policies and the facts action see (borrowed). */
void rpc_node_facts(struct rpc_node *n, json_t *facts);

/*
 * rpc_node_crl - a revocation list the server sent (with a catalog
 * answer): used from now on, and kept in STATE/crl.pem, when it is
 * signed by the CA and newer than the one in use (1); 0 when it was not
 * newer; -errno when it was refused (logged).  rpc_node_crl_number - the
 * number of the list in use, 0 without one: what the catalog request
 * tells the server.
 */
#define TENDD_CRL_FILE "crl.pem"
#define TENDD_CRL_MAX ((size_t)16 << 20)
int rpc_node_crl(struct rpc_node *n, const char *pem);
long long rpc_node_crl_number(struct rpc_node *n);

/* rpc_node_connected - the broker is back: forward the audit lines it missed. */
void rpc_node_connected(struct rpc_node *n);

/*
 * rpc_node_stop - before bus_close: refuse what comes from now on and
 * end the waits of requests whose plan or apply the loop will not run.
 * rpc_node_free - after bus_close.
 */
void rpc_node_stop(struct rpc_node *n);
void rpc_node_free(struct rpc_node *n);

#endif
