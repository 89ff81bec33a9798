/*
 * db_users.c - administrators' identities and the audit records of
 * requests on the bus, in the server database (see db.h).
 *
 * An administrator (tend-server user add) is a certificate of the tend
 * CA with O=tend-admin, OU=role, CN=name: the broker lets it publish
 * requests and the nodes check it against their policy.  Only one
 * certificate per name is active at a time (users_active); a revoked
 * one stays in the table, so `user ls` shows the history and the serial
 * can be found in the CRL.
 *
 * Nodes forward an audit record for each request they looked at, on
 * tend.audit.NODE.  Records are untrusted node data: stored as the node
 * sent them (size-limited), with the subject's node name, never the
 * record's own claim, as the node.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "db_int.h"

#define RPC_AUDIT_KEEP 200000 /* records kept; older ones are pruned */
#define RPC_AUDIT_PRUNE_EVERY 1000

int db_user_add(struct db *db, const struct db_user *u, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r;

	if (!db_name_ok(u->name, DB_USER_NAME_MAX) || !db_name_ok(u->role, DB_USER_NAME_MAX))
		return err_set(err, -EINVAL,
			       "bad user or role name: 1 to %d letters, digits, '.', '-', '_'",
			       DB_USER_NAME_MAX);
	r = db_prepare(db, &st, err,
		       "INSERT INTO users (name, role, serial, pem, created, expires)"
		       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
		       "ttttII", u->name, u->role, u->serial, u->pem, db_now(), u->expires);
	if (r == 0)
		r = db_step_done(db, st, "add user", err);
	if (r == -EEXIST)
		err_set(err, r, "user '%s' exists (revoke it first)", u->name);
	return r;
}

static const struct db_col user_cols[] = { { "name", DB_COL_TEXT },    { "role", DB_COL_TEXT },
					   { "serial", DB_COL_TEXT },  { "created", DB_COL_TIME },
					   { "expires", DB_COL_TIME }, { "revoked", DB_COL_TIME },
					   { NULL } };

int db_user_list(struct db *db, bool active, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r;

	r = db_prepare(db, &st, err,
		       "SELECT name, role, serial, created, expires, revoked FROM users"
		       " WHERE ?1 = 0 OR (revoked IS NULL AND expires > ?2) ORDER BY name, id",
		       "iI", active ? 1 : 0, db_now());
	if (r < 0)
		return r;
	return db_rows(db, st, db_row_json, user_cols, "list users", ret, err);
}

int db_user_revoke(struct db *db, const char *name, char serial[DB_SERIAL_MAX + 1],
		   struct tend_err *err)
{
	sqlite3_stmt *st;
	int r;

	r = db_begin(db, err);
	if (r == 0)
		r = db_prepare(db, &st, err,
			       "SELECT serial FROM users WHERE name = ?1 AND revoked IS NULL", "t",
			       name);
	if (r < 0)
		return r;
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		db_rollback(db);
		return err_set(err, -ENOENT, "no user '%s' (or it is revoked already)", name);
	}
	snprintf(serial, DB_SERIAL_MAX + 1, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	r = db_prepare(db, &st, err, "UPDATE users SET revoked = ?1 WHERE serial = ?2", "It",
		       db_now(), serial);
	if (r == 0)
		r = db_step_done(db, st, "revoke user", err);
	if (r == 0)
		return db_commit(db, err);
	db_rollback(db);
	return r;
}

/* str_member - o's string member key, or NULL. */
static const char *str_member(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int db_rpc_audit_add(struct db *db, const char *node, const json_t *record, struct tend_err *err)
{
	const char *decision = str_member(record, "decision");
	sqlite3_stmt *st;
	char *text = NULL;
	int64_t id;
	int r;

	if (!db_name_ok(node, DB_NODE_ID_MAX))
		return err_set(err, -EINVAL, "bad node name");
	if (!json_is_object(record) || !decision ||
	    (strcmp(decision, "allowed") && strcmp(decision, "refused")))
		return err_set(err, -EINVAL,
			       "an audit record is an object with \"decision\": allowed or refused");
	r = db_dump(record, DB_RPC_AUDIT_MAX, "the audit record", &text, err);
	if (r == 0)
		r = db_prepare(db, &st, err,
			       "INSERT INTO rpc_audit (node, time, received, request, caller,"
			       " action, decision, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
			       "tcIccctt", node, str_member(record, "time"), db_now(),
			       str_member(record, "id"), str_member(record, "caller"),
			       str_member(record, "action"), decision, text);
	if (r == 0)
		r = db_step_done(db, st, "add audit record", err);
	free(text);
	if (r < 0)
		return r;
	id = sqlite3_last_insert_rowid(db->h);
	if (id % RPC_AUDIT_PRUNE_EVERY == 0 && id > RPC_AUDIT_KEEP &&
	    db_prepare(db, &st, NULL, "DELETE FROM rpc_audit WHERE id <= ?1", "I",
		       id - RPC_AUDIT_KEEP) == 0)
		db_step_done(db, st, "prune audit records", NULL);
	return 0;
}

/* audit_row - a record as the node sent it, with the server's id, node and time received. */
static json_t *audit_row(sqlite3_stmt *st, const struct db_col *cols)
{
	json_t *rec = db_col_json(st, 3);

	if (!json_is_object(rec)) {
		json_decref(rec);
		rec = json_object();
	}
	json_object_set_new(rec, "seq", json_integer(sqlite3_column_int64(st, 0)));
	json_object_set_new(rec, "node", db_col_text(st, 1));
	json_object_set_new(rec, "received", db_col_time(st, 2));
	return rec;
}

int db_rpc_audit_list(const struct db_rpc_audit_query *q, struct db *db, json_t **ret,
		      struct tend_err *err)
{
	sqlite3_stmt *st;
	json_t *rows = NULL, *a;
	int r;

	if (q->limit <= 0 || q->since < 0)
		return err_set(err, -EINVAL, "bad limit or bound");
	r = db_prepare(db, &st, err,
		       "SELECT id, node, received, record FROM rpc_audit"
		       " WHERE id > ?1 AND (?2 IS NULL OR node = ?2) AND (?3 IS NULL OR caller = ?3)"
		       " AND (?4 IS NULL OR request = ?4) AND (?5 IS NULL OR decision = ?5)"
		       " ORDER BY id DESC LIMIT ?6",
		       "Icccci", q->since, q->node, q->caller, q->request, q->decision, q->limit);
	if (r == 0)
		r = db_rows(db, st, audit_row, NULL, "list audit records", &rows, err);
	if (r < 0)
		return r;
	/* newest first from SQL: turned around, oldest first like a log */
	a = json_array();
	for (size_t i = json_array_size(rows); i > 0; i--)
		json_array_append(a, json_array_get(rows, i - 1));
	json_decref(rows);
	*ret = a;
	return 0;
}
