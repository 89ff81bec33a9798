/*
 * db_records.c - what the server database records (see db.h): nodes as
 * last seen (status, addresses, MACs, facts), the run reports they send,
 * and the audit log of write requests.
 *
 * What comes from outside is checked and serialized with a limit before
 * it is stored (DB_FACTS_MAX, DB_REPORT_MAX, NODE_LIST_MAX); audit text is
 * clipped instead, so a long URL never costs the record.  A report and
 * the node status it sets are written in one transaction.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "db_int.h"
#include "util/strutil.h"

#define NODE_LIST_MAX 65536 /* serialized addresses / macs */
#define NODE_STATUS_MAX 64

bool db_node_id_ok(const char *id)
{
	return db_name_ok(id, DB_NODE_ID_MAX);
}

/* ---- audit ---- */

int db_audit_add(struct db *db, const struct db_audit *a, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r;

	r = db_prepare(
		db, &st, err,
		"INSERT INTO audit (time, who, address, action, target, status, \"commit\", detail)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
		"Iccccicc", a->time ? a->time : db_now(), a->who ? a->who : "-", a->address,
		a->action ? a->action : "-", a->target, a->status,
		a->commit && *a->commit ? a->commit : NULL,
		a->detail && *a->detail ? a->detail : NULL);
	return r < 0 ? r : db_step_done(db, st, "add audit record", err);
}

bool db_audit_has_commit(struct db *db, const char *commit)
{
	sqlite3_stmt *st;
	bool found;

	if (!commit ||
	    db_prepare(db, &st, NULL, "SELECT 1 FROM audit WHERE \"commit\" = ?1 LIMIT 1", "t",
		       commit) < 0)
		return false;
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

static const struct db_col audit_cols[] = { { "id", DB_COL_INT },      { "time", DB_COL_TIME },
					    { "who", DB_COL_TEXT },    { "address", DB_COL_TEXT },
					    { "action", DB_COL_TEXT }, { "target", DB_COL_TEXT },
					    { "status", DB_COL_INT },  { "commit", DB_COL_TEXT },
					    { "detail", DB_COL_TEXT }, { NULL } };

int db_audit_list(struct db *db, int64_t before, int limit, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r;

	if (limit <= 0 || before < 0)
		return err_set(err, -EINVAL, "bad limit or bound");
	r = db_prepare(db, &st, err,
		       "SELECT id, time, who, address, action, target, status, \"commit\", detail"
		       " FROM audit WHERE ?1 = 0 OR id < ?1 ORDER BY id DESC LIMIT ?2",
		       "Ii", before, limit);
	return r < 0 ? r : db_rows(db, st, db_row_json, audit_cols, "list audit records", ret, err);
}

/* ---- nodes ---- */

/* string_list - an array of strings, serialized, within NODE_LIST_MAX. */
static int string_list(const json_t *v, const char *what, char **ret, struct tend_err *err)
{
	size_t i;
	json_t *x;

	if (!json_is_array(v))
		return err_set(err, -EINVAL, "'%s' must be a list of strings", what);
	json_array_foreach(v, i, x)
		if (!json_is_string(x))
			return err_set(err, -EINVAL, "'%s' must be a list of strings", what);
	return db_dump(v, NODE_LIST_MAX, what, ret, err);
}

/* node_fields - the serialized columns of db_node_seen's fields. */
struct node_cols {
	char *status, *addresses, *macs, *facts;
};

static void node_cols_free(struct node_cols *c)
{
	free(c->status);
	free(c->addresses);
	free(c->macs);
	free(c->facts);
}

static int node_cols_parse(const json_t *fields, struct node_cols *c, struct tend_err *err)
{
	const char *k;
	json_t *v;
	int r = 0;

	if (fields && !json_is_object(fields))
		return err_set(err, -EINVAL, "node fields must be an object");
	json_object_foreach((json_t *)fields, k, v) {
		if (!strcmp(k, "facts")) {
			r = json_is_object(v) ? db_dump(v, DB_FACTS_MAX, "facts", &c->facts, err) :
						err_set(err, -EINVAL, "'facts' must be an object");
		} else if (!strcmp(k, "addresses")) {
			r = string_list(v, k, &c->addresses, err);
		} else if (!strcmp(k, "macs")) {
			r = string_list(v, k, &c->macs, err);
		} else if (!strcmp(k, "status")) {
			if (!json_is_string(v) || json_string_length(v) > NODE_STATUS_MAX)
				r = err_set(err, -EINVAL,
					    "'status' must be a string of at most %d bytes",
					    NODE_STATUS_MAX);
			else
				c->status = xstrdup(json_string_value(v));
		} else {
			r = err_set(err, -EINVAL, "unknown node field '%s'", k);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* node_upsert - create node id or update what is given; last_seen = now. */
static int node_upsert(struct db *db, const char *id, const struct node_cols *c, int64_t now,
		       struct tend_err *err)
{
	sqlite3_stmt *st;
	int r;

	r = db_prepare(
		db, &st, err,
		"INSERT INTO nodes (id, first_seen, last_seen, status, addresses, macs, facts)"
		" VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6)"
		" ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen,"
		"  status = coalesce(excluded.status, status),"
		"  addresses = coalesce(excluded.addresses, addresses),"
		"  macs = coalesce(excluded.macs, macs),"
		"  facts = coalesce(excluded.facts, facts)",
		"tItttt", id, now, c->status, c->addresses, c->macs, c->facts);
	return r < 0 ? r : db_step_done(db, st, "update node", err);
}

static int check_node_id(const char *id, struct tend_err *err)
{
	if (!db_node_id_ok(id))
		return err_set(err, -EINVAL,
			       "bad node name '%s': letters, digits, '.', '-', '_', 1 to %d bytes",
			       id ? id : "", DB_NODE_ID_MAX);
	return 0;
}

int db_node_seen(struct db *db, const char *id, const json_t *fields, struct tend_err *err)
{
	struct node_cols c = { 0 };
	int r;

	r = check_node_id(id, err);
	if (r == 0)
		r = node_cols_parse(fields, &c, err);
	if (r == 0)
		r = node_upsert(db, id, &c, db_now(), err);
	node_cols_free(&c);
	return r;
}

/* node_json - a row of NODE_COLS as JSON; with_facts adds "facts". */
#define NODE_COLS                                                                        \
	"n.id, n.first_seen, n.last_seen, n.status, n.addresses, n.macs, n.last_report," \
	" r.time, r.status, r.summary, n.facts"

static json_t *list_or_empty(sqlite3_stmt *st, int i)
{
	json_t *j = db_col_json(st, i);

	if (json_is_array(j))
		return j;
	json_decref(j);
	return json_array();
}

static json_t *node_json(sqlite3_stmt *st, bool with_facts)
{
	json_t *n = json_object();

	json_object_set_new(n, "id", db_col_text(st, 0));
	json_object_set_new(n, "first_seen", db_col_time(st, 1));
	json_object_set_new(n, "last_seen", db_col_time(st, 2));
	json_object_set_new(n, "status", db_col_text(st, 3));
	json_object_set_new(n, "addresses", list_or_empty(st, 4));
	json_object_set_new(n, "macs", list_or_empty(st, 5));
	if (sqlite3_column_type(st, 6) == SQLITE_NULL) {
		json_object_set_new(n, "last_report", json_null());
	} else {
		json_t *lr = json_object();

		json_object_set_new(lr, "id", json_integer(sqlite3_column_int64(st, 6)));
		json_object_set_new(lr, "time", db_col_time(st, 7));
		json_object_set_new(lr, "status", db_col_text(st, 8));
		json_object_set_new(lr, "summary", db_col_json(st, 9));
		json_object_set_new(n, "last_report", lr);
	}
	if (with_facts)
		json_object_set_new(n, "facts", db_col_json(st, 10));
	return n;
}

int db_node_get(struct db *db, const char *id, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r, rc;

	r = db_prepare(db, &st, err,
		       "SELECT " NODE_COLS
		       " FROM nodes n LEFT JOIN reports r ON r.id = n.last_report"
		       " WHERE n.id = ?1",
		       "t", id);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = node_json(st, true);
	else if (rc == SQLITE_DONE)
		r = err_set(err, -ENOENT, "no node '%s' has reported", id ? id : "");
	else
		r = db_sql_err(db, err, rc, "get node");
	sqlite3_finalize(st);
	return r;
}

/* node_row - a listed node: node_json without its facts. */
static json_t *node_row(sqlite3_stmt *st, const struct db_col *cols)
{
	(void)cols;
	return node_json(st, false);
}

int db_node_list(struct db *db, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r = db_prepare(db, &st, err,
			   "SELECT " NODE_COLS
			   " FROM nodes n LEFT JOIN reports r ON r.id = n.last_report"
			   " ORDER BY n.id",
			   "");

	return r < 0 ? r : db_rows(db, st, node_row, NULL, "list nodes", ret, err);
}

json_t *db_node_facts(struct db *db, const char *id)
{
	sqlite3_stmt *st;
	json_t *f = NULL;

	if (db_prepare(db, &st, NULL, "SELECT facts FROM nodes WHERE id = ?1 AND facts IS NOT NULL",
		       "t", id) < 0)
		return NULL;
	if (sqlite3_step(st) == SQLITE_ROW) {
		f = db_col_json(st, 0);
		if (!json_is_object(f)) {
			json_decref(f);
			f = NULL;
		}
	}
	sqlite3_finalize(st);
	return f;
}

/* ---- reports ---- */

/* summary_count - summary[key] as a count; -EINVAL when not one. */
static int summary_count(const json_t *sum, const char *key, json_int_t *ret, struct tend_err *err)
{
	json_t *v = json_object_get(sum, key);

	*ret = 0;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return err_set(err, -EINVAL, "report summary: '%s' must be a count", key);
	*ret = json_integer_value(v);
	return 0;
}

int db_report_status(const json_t *report, const char **ret, struct tend_err *err)
{
	json_t *sum = json_object_get(report, "summary"), *cmd = json_object_get(report, "command");
	json_int_t failed = 0, changed = 0, stuck = 0;
	int r;

	if (!json_is_object(report))
		return err_set(err, -EINVAL, "a report must be a JSON object");
	if (!json_is_object(sum))
		return err_set(err, -EINVAL, "the report has no 'summary' object");
	if (cmd && !json_is_string(cmd))
		return err_set(err, -EINVAL, "report 'command' must be a string");
	r = summary_count(sum, "failed", &failed, err);
	if (r == 0)
		r = summary_count(sum, "changed", &changed, err);
	if (r == 0)
		r = summary_count(sum, "not_converged", &stuck, err);
	if (r < 0)
		return r;
	if (failed || stuck)
		*ret = "failed";
	else if (changed)
		*ret = cmd && !strcmp(json_string_value(cmd), "plan") ? "drifted" : "changed";
	else
		*ret = "converged";
	return 0;
}

static int report_insert(struct db *db, const char *node, int64_t now, const char *status,
			 const char *summary, const char *body, int64_t *ret_id,
			 struct tend_err *err)
{
	sqlite3_stmt *st;
	int r;

	r = db_prepare(
		db, &st, err,
		"INSERT INTO reports (node, time, status, summary, body) VALUES (?1, ?2, ?3, ?4, ?5)",
		"tIttt", node, now, status, summary, body);
	if (r == 0)
		r = db_step_done(db, st, "add report", err);
	if (r < 0)
		return r;
	*ret_id = sqlite3_last_insert_rowid(db->h);
	r = db_prepare(db, &st, err, "UPDATE nodes SET last_report = ?1 WHERE id = ?2", "It",
		       *ret_id, node);
	return r < 0 ? r : db_step_done(db, st, "update node", err);
}

int db_report_add(struct db *db, const char *node, const json_t *report, int64_t *ret_id,
		  struct tend_err *err)
{
	struct node_cols c = { 0 };
	const char *status = NULL;
	char *body = NULL, *summary = NULL;
	int64_t id = 0, now = db_now();
	int r;

	r = check_node_id(node, err);
	if (r == 0)
		r = db_report_status(report, &status, err);
	if (r == 0)
		r = db_dump(report, DB_REPORT_MAX, "the report", &body, err);
	if (r == 0)
		r = db_dump(json_object_get(report, "summary"), DB_REPORT_MAX, "the summary", &summary,
			 err);
	if (r < 0)
		goto out;
	c.status = xstrdup(status);
	r = db_begin(db, err);
	if (r < 0)
		goto out;
	r = node_upsert(db, node, &c, now, err);
	if (r == 0)
		r = report_insert(db, node, now, status, summary, body, &id, err);
	if (r == 0)
		r = db_commit(db, err);
	else
		db_rollback(db);
	if (r == 0)
		*ret_id = id;
out:
	node_cols_free(&c);
	free(body);
	free(summary);
	return r;
}

static const struct db_col report_cols[] = { { "id", DB_COL_INT },	 { "node", DB_COL_TEXT },
					     { "time", DB_COL_TIME },	 { "status", DB_COL_TEXT },
					     { "summary", DB_COL_JSON }, { NULL } };

static const struct db_col report_body_cols[] = {
	{ "id", DB_COL_INT },	   { "node", DB_COL_TEXT },   { "time", DB_COL_TIME },
	{ "status", DB_COL_TEXT }, { "report", DB_COL_JSON }, { NULL }
};

int db_report_list(struct db *db, const char *node, int limit, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r;

	if (limit <= 0)
		return err_set(err, -EINVAL, "bad limit %d", limit);
	r = db_prepare(db, &st, err,
		       "SELECT id, node, time, status, summary FROM reports"
		       " WHERE ?1 IS NULL OR node = ?1 ORDER BY id DESC LIMIT ?2",
		       "ti", node, limit);
	return r < 0 ? r : db_rows(db, st, db_row_json, report_cols, "list reports", ret, err);
}

int db_report_get(struct db *db, int64_t id, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r, rc;

	r = db_prepare(db, &st, err,
		       "SELECT id, node, time, status, body FROM reports WHERE id = ?1", "I", id);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = db_row_json(st, report_body_cols);
	else if (rc == SQLITE_DONE)
		r = err_set(err, -ENOENT, "no report %lld", (long long)id);
	else
		r = db_sql_err(db, err, rc, "get report");
	sqlite3_finalize(st);
	return r;
}
