/*
 * db.h - the server's runtime state in SQLite (WAL): API tokens, nodes as
 * last seen (facts, addresses, MACs, status), reports, and the audit log.
 * What is configured lives in git (repo.h); this is what was observed.
 *
 * The schema is versioned: db_open applies the migrations the file has
 * not seen yet, each in its own transaction, and refuses a file written
 * by a newer tend-server.  Every write is one transaction, durable before
 * the call returns (synchronous=FULL under WAL).
 *
 * JSON in and out is jansson; strings returned in JSON are copies.
 * Times are ISO 8601 UTC strings ("2026-11-22T06:09:23Z") in JSON and
 * Unix seconds in the database.
 */
#ifndef TEND_SERVER_DB_H
#define TEND_SERVER_DB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

struct db;

/* Limits on what is stored from outside (-EFBIG beyond). */
#define DB_FACTS_MAX ((size_t)1 << 20)	/* a node's facts, serialized */
#define DB_REPORT_MAX ((size_t)8 << 20) /* one report, serialized */
#define DB_NODE_ID_MAX 253

/* db_node_id_ok - letters, digits, '.', '-', '_'; 1..DB_NODE_ID_MAX bytes. */
bool db_node_id_ok(const char *id);

/* Roles of API tokens. */
enum db_role {
	DB_ROLE_RO = 1, /* reads only */
	DB_ROLE_RW = 2, /* reads and writes */
};

/*
 * db_open - open (creating, mode 0600) the database file at path, migrating
 * it.  -ENOENT when its directory does not exist; -EPROTO for a file whose
 * schema is newer than this program's; -EINVAL for a file that is not a
 * tend-server database.
 */
int db_open(const char *path, struct db **ret, struct tend_err *err);
void db_close(struct db *db);

/* db_schema_version - the schema version the file is at. */
int db_schema_version(struct db *db);

/* ---- tokens ---- */

/*
 * db_token_create - a new token for role, named name (unique; NULL: a
 * generated "token-N").  *ret_secret (malloc'd) is the bearer secret,
 * "tend_" + 43 base64url characters of 32 random bytes: shown once, only
 * its SHA-256 is stored.  -EEXIST when the name is taken.
 */
int db_token_create(struct db *db, const char *name, enum db_role role, char **ret_secret,
		    struct tend_err *err);

/*
 * db_token_check - the token whose secret this is: its name (malloc'd)
 * and role; -EACCES when no live token matches (compared by hash).
 * Records the time it was last used.
 */
int db_token_check(struct db *db, const char *secret, char **ret_name, enum db_role *ret_role);

/* db_token_list - [{"name","role","created","last_used"}]; never secrets. */
int db_token_list(struct db *db, json_t **ret, struct tend_err *err);

/* db_token_revoke - delete the token named name; -ENOENT when none. */
int db_token_revoke(struct db *db, const char *name, struct tend_err *err);

const char *db_role_name(enum db_role r);
/* db_role_parse - "ro" / "rw" to a role; -EINVAL otherwise. */
int db_role_parse(const char *s, enum db_role *ret);

/* ---- audit ---- */

struct db_audit {
	const char *who;     /* token name or identity */
	const char *address; /* client address */
	const char *action;  /* "PUT /v1/files/tags/base.yaml" */
	const char *target;  /* what it acted on: a path, a node; may be NULL */
	int status;	     /* HTTP status answered */
	const char *commit;  /* commit made, or NULL */
	const char *detail;  /* short free text (an error message), or NULL */
	int64_t time;	     /* 0: now */
};

int db_audit_add(struct db *db, const struct db_audit *a, struct tend_err *err);

/* db_audit_has_commit - whether an audit record names commit id. */
bool db_audit_has_commit(struct db *db, const char *commit);

/*
 * db_audit_list - newest first, at most limit, with id < before (0: no
 * bound): [{"id","time","who","address","action","target","status",
 * "commit","detail"}].
 */
int db_audit_list(struct db *db, int64_t before, int limit, json_t **ret, struct tend_err *err);

/* ---- nodes ---- */

/*
 * db_node_seen - create or update node id with what it reported: any of
 * "facts" (object), "addresses" (array of strings), "macs" (array),
 * "status" (string) in fields; first_seen is kept, last_seen set to now.
 * Another field is -EINVAL; facts beyond DB_FACTS_MAX are -EFBIG.
 */
int db_node_seen(struct db *db, const char *id, const json_t *fields, struct tend_err *err);

/*
 * db_node_get - {"id","first_seen","last_seen","status","addresses",
 * "macs","facts","last_report"} ; -ENOENT when unknown.
 */
int db_node_get(struct db *db, const char *id, json_t **ret, struct tend_err *err);

/* db_node_list - every known node, sorted by id, without facts. */
int db_node_list(struct db *db, json_t **ret, struct tend_err *err);

/* db_node_facts - the node's last facts (a new reference), or NULL. */
json_t *db_node_facts(struct db *db, const char *id);

/* ---- reports ---- */

/*
 * db_report_add - store a run report of node id (the JSON `tend apply
 * --json` prints); the node is created if unknown and its status set from
 * the report's summary (db_report_status).  *ret_id: its id.  A report
 * larger than DB_REPORT_MAX serialized is -EFBIG.
 */
int db_report_add(struct db *db, const char *node, const json_t *report, int64_t *ret_id,
		  struct tend_err *err);

/*
 * db_report_status - the node status a report means: "failed" (a resource
 * failed or did not converge), "changed" ("drifted" for a plan), else
 * "converged"; -EINVAL when report is not an object with a summary.
 */
int db_report_status(const json_t *report, const char **ret, struct tend_err *err);

/*
 * db_report_list - node's reports (NULL: all nodes), newest first, at most
 * limit: [{"id","node","time","status","summary"}] without the bodies.
 */
int db_report_list(struct db *db, const char *node, int limit, json_t **ret, struct tend_err *err);

/* db_report_get - one whole report: {"id","node","time","status","report"}; -ENOENT. */
int db_report_get(struct db *db, int64_t id, json_t **ret, struct tend_err *err);

/* ---- what nodes send over the bus (db_events.c) ---- */

#define DB_EVENT_DATA_MAX ((size_t)64 << 10) /* an event's data, serialized */
#define DB_EVENT_TYPE_MAX 32
#define DB_REPORT_UUID_MAX 64
#define DB_EVENTS_KEEP 1000000 /* the oldest events beyond this many are dropped */

/*
 * db_report_add_once - db_report_add for a report the node identified
 * with uuid (1..DB_REPORT_UUID_MAX of hex digits and '-'): stored only if
 * no report with that uuid is (a node that did not see the answer sends
 * it again).  *ret_id: the report's id; *ret_new: whether it was stored
 * now.  A report whose "catalog" says "stale_since" sets the node status
 * "stale" unless it failed.  All in one transaction.
 */
int db_report_add_once(struct db *db, const char *node, const char *uuid, const json_t *report,
		       int64_t *ret_id, bool *ret_new, struct tend_err *err);

/*
 * db_event_add - store an event of node: type (1..DB_EVENT_TYPE_MAX
 * lowercase letters, digits, '-', '_'), time (Unix seconds the node
 * gave; <= 0: now), data (an object or NULL; -EFBIG beyond
 * DB_EVENT_DATA_MAX serialized); the node's last_seen is set to now.
 * *ret_id (may be NULL): the event's id.
 */
int db_event_add(struct db *db, const char *node, const char *type, int64_t time,
		 const json_t *data, int64_t *ret_id, struct tend_err *err);

/*
 * db_event_list - events of node (NULL: every node), oldest first: with
 * since > 0 the first limit events whose id > since, else the newest
 * limit: [{"id","node","type","time","received","data"}].
 */
int db_event_list(struct db *db, const char *node, int64_t since, int limit, json_t **ret,
		  struct tend_err *err);

/* db_event_last - time (Unix seconds) of node's newest event of type; 0 when none. */
int64_t db_event_last(struct db *db, const char *node, const char *type);

/*
 * db_node_unreachable - whether node has stopped sending `alive`: its
 * newest alive event (by the server's clock) is older than 3 times the
 * interval that event announced (data.interval, seconds; 300 when
 * absent).  false for a node that never sent one.
 */
bool db_node_unreachable(struct db *db, const char *node);

/* ---- enrollment (db_enroll.c) ---- */

#define DB_ENROLL_PENDING_MAX 1000 /* requests waiting for approval; more: -ENOSPC */
#define DB_ENROLL_TAGS_MAX 64
#define DB_ENROLL_USES_MAX 100000
#define DB_CSR_MAX 16384

/*
 * db_enroll_token_create - a one-time (or uses-time) enrollment token
 * named name (NULL: "enroll-N"), giving tags (an array of names, may be
 * empty) to the nodes that enroll with it, valid ttl seconds (> 0) and
 * uses times (1..DB_ENROLL_USES_MAX).  *ret_secret (malloc'd) is
 * "tend_enroll_" + 43 base64url characters, shown once; only its SHA-256
 * is stored.  -EEXIST when the name is taken.
 */
int db_enroll_token_create(struct db *db, const char *name, const json_t *tags, int64_t ttl,
			   int uses, char **ret_secret, struct tend_err *err);

/*
 * db_enroll_token_claim - use the enrollment token whose secret this is
 * once: its name and tags (new reference).  -EACCES no such token (or
 * revoked), -EKEYEXPIRED expired, -EKEYREVOKED every use spent; nothing
 * changes then.  One transaction: two claims never both get the last use.
 */
int db_enroll_token_claim(struct db *db, const char *secret, char **ret_name, json_t **ret_tags,
			  struct tend_err *err);

/* db_enroll_token_refund - give back a use claimed for an enrollment that failed. */
void db_enroll_token_refund(struct db *db, const char *name);

/* db_enroll_token_list - [{"name","tags","created","expires","uses","uses_left","last_used"}]. */
int db_enroll_token_list(struct db *db, json_t **ret, struct tend_err *err);

/* db_enroll_token_revoke - delete the enrollment token named name; -ENOENT when none. */
int db_enroll_token_revoke(struct db *db, const char *name, struct tend_err *err);

/*
 * db_enroll_pending_put - keep node's request (csr, the PEM; fingerprint
 * of its key; the requester's address) until approved: 1 when stored
 * now, 0 when the same key's request is already waiting (its poll time is
 * updated), -EEXIST when a request with another key is waiting (the
 * first one stays: an administrator decides), -ENOSPC when
 * DB_ENROLL_PENDING_MAX requests wait.
 */
int db_enroll_pending_put(struct db *db, const char *node, const char *csr,
			  const char *fingerprint, const char *address, struct tend_err *err);

/* db_enroll_pending_get - {"node","csr","fingerprint","address","requested","polled"}; -ENOENT. */
int db_enroll_pending_get(struct db *db, const char *node, json_t **ret, struct tend_err *err);

/* db_enroll_pending_delete - forget node's request; -ENOENT when none. */
int db_enroll_pending_delete(struct db *db, const char *node, struct tend_err *err);

/* db_enroll_pending_list - every waiting request, oldest first, without the CSR. */
int db_enroll_pending_list(struct db *db, json_t **ret, struct tend_err *err);

/* A certificate the CA issued. */
struct db_cert {
	const char *serial;	 /* lowercase hex */
	const char *node;
	const char *fingerprint; /* of its public key */
	const char *pem;
	int64_t expires;	 /* Unix seconds */
	const char *issued_by;	 /* "enroll:TOKEN", "approve:CALLER" */
};

int db_cert_add(struct db *db, const struct db_cert *c, struct tend_err *err);

/*
 * db_cert_find - node's newest certificate for the key with fingerprint
 * that has not expired: {"serial","pem","issued","expires","issued_by",
 * "revoked" (time or null)}; -ENOENT when none.
 */
int db_cert_find(struct db *db, const char *node, const char *fingerprint, json_t **ret,
		 struct tend_err *err);

/* db_cert_key_revoked - whether a certificate for that key was ever revoked. */
bool db_cert_key_revoked(struct db *db, const char *fingerprint);

/* db_cert_active - serials of node's certificates neither revoked nor expired. */
int db_cert_active(struct db *db, const char *node, json_t **ret, struct tend_err *err);

/* db_cert_revoke - mark serial revoked (now); -ENOENT when unknown; revoked twice is 0. */
int db_cert_revoke(struct db *db, const char *serial, struct tend_err *err);

/*
 * db_cert_active_nodes - the nodes holding a certificate neither revoked
 * nor expired: a sorted JSON array of ids (what the broker lets in).
 */
int db_cert_active_nodes(struct db *db, json_t **ret, struct tend_err *err);

/* ---- administrators and the requests' audit (db_users.c) ---- */

#define DB_USER_NAME_MAX 64
#define DB_SERIAL_MAX 40
#define DB_RPC_AUDIT_MAX ((size_t)64 << 10) /* one forwarded record, serialized */

/* An administrator's certificate. */
struct db_user {
	const char *name, *role;
	const char *serial; /* lowercase hex */
	const char *pem;
	int64_t expires;    /* Unix seconds */
};

/* db_user_add - record u; -EEXIST when name has an active certificate already. */
int db_user_add(struct db *db, const struct db_user *u, struct tend_err *err);

/*
 * db_user_list - [{"name","role","serial","created","expires","revoked"}]
 * by name; with active, only those neither revoked nor expired.
 */
int db_user_list(struct db *db, bool active, json_t **ret, struct tend_err *err);

/* db_user_revoke - mark name's active certificate revoked; its serial; -ENOENT. */
int db_user_revoke(struct db *db, const char *name, char serial[DB_SERIAL_MAX + 1],
		   struct tend_err *err);

/*
 * db_rpc_audit_add - store an audit record node forwarded (an object with
 * "decision" allowed or refused; -EFBIG beyond DB_RPC_AUDIT_MAX).  The
 * newest 200,000 records are kept.
 */
int db_rpc_audit_add(struct db *db, const char *node, const json_t *record,
		     struct tend_err *err);

/* Which audit records to list; NULL members match anything. */
struct db_rpc_audit_query {
	const char *node, *caller, *request, *decision;
	int64_t since; /* records whose seq is greater */
	int limit;     /* the newest limit of those */
};

/*
 * db_rpc_audit_list - matching records oldest first: each the node's
 * record with "seq" (the server's number), "node" and "received".
 */
int db_rpc_audit_list(const struct db_rpc_audit_query *q, struct db *db, json_t **ret,
		      struct tend_err *err);

#endif
