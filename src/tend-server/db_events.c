/*
 * db_events.c - what nodes send over the bus, stored (see db.h): their
 * lifecycle events (startup, shutdown, alive, run, ...) and their run
 * reports, each report once.
 *
 * An agent spools a report until the server acknowledged it, so the same
 * report can arrive twice (the acknowledgement was lost, or the agent
 * was killed before it removed the spooled copy).  The agent's id of the
 * report (a UUID) is stored with it under a unique index, and looking it
 * up and storing the report happen in one transaction: a report is
 * stored exactly once however often it is delivered.
 *
 * Events are kept up to DB_EVENTS_KEEP; older ones are deleted as new
 * ones arrive (a thousand at a time), so a fleet that says "alive" every
 * few minutes does not grow the file for ever.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "db_int.h"

#define EVENTS_PRUNE_EVERY 1000

static bool uuid_ok(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++)
		if (n >= DB_REPORT_UUID_MAX ||
		    !((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') ||
		      (s[n] >= 'A' && s[n] <= 'F') || s[n] == '-'))
			return false;
	return n > 0;
}

static bool type_ok(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++)
		if (n >= DB_EVENT_TYPE_MAX ||
		    !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '-' ||
		      s[n] == '_'))
			return false;
	return n > 0;
}

static int check_node(const char *node, struct tend_err *err)
{
	if (!db_node_id_ok(node))
		return err_set(err, -EINVAL,
			       "bad node name '%s': letters, digits, '.', '-', '_', 1 to %d bytes",
			       node ? node : "", DB_NODE_ID_MAX);
	return 0;
}

/* touch_node - create node or set its last_seen (and status when given). */
static int touch_node(struct db *db, const char *node, const char *status, int64_t now,
		      struct tend_err *err)
{
	sqlite3_stmt *st;
	int r = db_prepare(
		db, &st, err,
		"INSERT INTO nodes (id, first_seen, last_seen, status) VALUES (?1, ?2, ?2, ?3)"
		" ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen,"
		"  status = coalesce(excluded.status, status)",
		"tIt", node, now, status);

	return r < 0 ? r : db_step_done(db, st, "update node", err);
}

/* ---- reports ---- */

/* report_status - db_report_status, made "stale" by a stale catalog. */
static int report_status(const json_t *report, const char **ret, struct tend_err *err)
{
	json_t *cat = json_object_get(report, "catalog");
	int r = db_report_status(report, ret, err);

	if (r == 0 && strcmp(*ret, "failed") && json_is_string(json_object_get(cat, "stale_since")))
		*ret = "stale";
	return r;
}

/* find_uuid - the id of the report stored under uuid: 1 found, 0 not, -errno. */
static int find_uuid(struct db *db, const char *uuid, int64_t *ret_id, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r = db_prepare(db, &st, err, "SELECT id FROM reports WHERE uuid = ?1", "t", uuid), rc;

	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret_id = sqlite3_column_int64(st, 0);
		r = 1;
	} else if (rc != SQLITE_DONE) {
		r = db_sql_err(db, err, rc, "find report");
	}
	sqlite3_finalize(st);
	return r;
}

static int insert_report(struct db *db, const char *node, const char *uuid, const char *status,
			 const char *summary, const char *body, int64_t now, int64_t *ret_id,
			 struct tend_err *err)
{
	sqlite3_stmt *st;
	int r;

	r = touch_node(db, node, status, now, err);
	if (r == 0)
		r = db_prepare(db, &st, err,
			       "INSERT INTO reports (node, time, status, summary, body, uuid)"
			       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			       "tItttt", node, now, status, summary, body, uuid);
	if (r == 0)
		r = db_step_done(db, st, "add report", err);
	if (r < 0)
		return r;
	*ret_id = sqlite3_last_insert_rowid(db->h);
	r = db_prepare(db, &st, err, "UPDATE nodes SET last_report = ?1 WHERE id = ?2", "It",
		       *ret_id, node);
	return r < 0 ? r : db_step_done(db, st, "update node", err);
}

int db_report_add_once(struct db *db, const char *node, const char *uuid, const json_t *report,
		       int64_t *ret_id, bool *ret_new, struct tend_err *err)
{
	const char *status = NULL;
	char *body = NULL, *summary = NULL;
	int64_t id = 0;
	int r;

	r = check_node(node, err);
	if (r == 0 && !uuid_ok(uuid))
		r = err_set(err, -EINVAL, "bad report id: 1 to %d hex digits and '-'",
			    DB_REPORT_UUID_MAX);
	if (r == 0)
		r = report_status(report, &status, err);
	if (r == 0)
		r = db_dump(report, DB_REPORT_MAX, "the report", &body, err);
	if (r == 0)
		r = db_dump(json_object_get(report, "summary"), DB_REPORT_MAX, "the summary", &summary,
			 err);
	if (r == 0)
		r = db_begin(db, err);
	if (r < 0)
		goto out;
	r = find_uuid(db, uuid, &id, err);
	if (r == 0)
		r = insert_report(db, node, uuid, status, summary, body, db_now(), &id, err);
	if (r >= 0) {
		bool stored = r == 0;

		r = db_commit(db, err);
		if (r == 0) {
			*ret_id = id;
			*ret_new = stored;
		}
	} else {
		db_rollback(db);
	}
out:
	free(body);
	free(summary);
	return r;
}

/* ---- events ---- */

static void prune(struct db *db, int64_t id)
{
	sqlite3_stmt *st;

	if (id % EVENTS_PRUNE_EVERY || id <= DB_EVENTS_KEEP)
		return;
	if (db_prepare(db, &st, NULL, "DELETE FROM events WHERE id <= ?1", "I",
		       id - DB_EVENTS_KEEP) == 0)
		db_step_done(db, st, "prune events", NULL);
}

int db_event_add(struct db *db, const char *node, const char *type, int64_t time,
		 const json_t *data, int64_t *ret_id, struct tend_err *err)
{
	int64_t now = db_now(), id;
	sqlite3_stmt *st;
	char *text = NULL;
	int r;

	r = check_node(node, err);
	if (r == 0 && !type_ok(type))
		r = err_set(err, -EINVAL,
			    "bad event type: 1 to %d lowercase letters, digits, '-', '_'",
			    DB_EVENT_TYPE_MAX);
	if (r == 0 && data && !json_is_object(data))
		r = err_set(err, -EINVAL, "an event's data must be an object");
	if (r == 0 && data)
		r = db_dump(data, DB_EVENT_DATA_MAX, "the event's data", &text, err);
	if (r == 0)
		r = db_begin(db, err);
	if (r < 0)
		goto out;
	r = touch_node(db, node, NULL, now, err);
	if (r == 0)
		r = db_prepare(db, &st, err,
			       "INSERT INTO events (node, type, time, received, data)"
			       " VALUES (?1, ?2, ?3, ?4, ?5)",
			       "ttIIt", node, type, time > 0 ? time : now, now, text);
	if (r == 0)
		r = db_step_done(db, st, "add event", err);
	if (r == 0) {
		id = sqlite3_last_insert_rowid(db->h);
		prune(db, id);
		r = db_commit(db, err);
	} else {
		db_rollback(db);
	}
	if (r == 0 && ret_id)
		*ret_id = id;
out:
	free(text);
	return r;
}

static const struct db_col event_cols[] = { { "id", DB_COL_INT },
					    { "node", DB_COL_TEXT },
					    { "type", DB_COL_TEXT },
					    { "time", DB_COL_TIME },
					    { "received", DB_COL_TIME },
					    { "data", DB_COL_JSON },
					    { NULL } };

int db_event_list(struct db *db, const char *node, int64_t since, int limit, json_t **ret,
		  struct tend_err *err)
{
	sqlite3_stmt *st;
	json_t *rows = NULL;
	int r;

	if (limit <= 0 || since < 0)
		return err_set(err, -EINVAL, "bad limit or bound");
	if (since > 0)
		r = db_prepare(db, &st, err,
			       "SELECT id, node, type, time, received, data FROM events"
			       " WHERE id > ?1 AND (?2 IS NULL OR node = ?2) ORDER BY id LIMIT ?3",
			       "Iti", since, node, limit);
	else
		r = db_prepare(db, &st, err,
			       "SELECT id, node, type, time, received, data FROM events"
			       " WHERE ?1 IS NULL OR node = ?1 ORDER BY id DESC LIMIT ?2",
			       "ti", node, limit);
	if (r == 0)
		r = db_rows(db, st, db_row_json, event_cols, "list events", &rows, err);
	if (r < 0)
		return r;
	if (since == 0) {
		/* newest first from SQL: turned around, oldest first like a log */
		json_t *a = json_array();

		for (size_t i = json_array_size(rows); i > 0; i--)
			json_array_append(a, json_array_get(rows, i - 1));
		json_decref(rows);
		rows = a;
	}
	*ret = rows;
	return 0;
}

int64_t db_event_last(struct db *db, const char *node, const char *type)
{
	sqlite3_stmt *st;
	int64_t t = 0;

	if (db_prepare(db, &st, NULL, "SELECT max(time) FROM events WHERE node = ?1 AND type = ?2",
		       "tt", node, type) < 0)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		t = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return t;
}

bool db_node_unreachable(struct db *db, const char *node)
{
	sqlite3_stmt *st;
	bool gone = false;

	if (db_prepare(db, &st, NULL,
		       "SELECT received, data FROM events WHERE node = ?1 AND type = 'alive'"
		       " ORDER BY id DESC LIMIT 1",
		       "t", node) < 0)
		return false;
	if (sqlite3_step(st) == SQLITE_ROW) {
		int64_t received = sqlite3_column_int64(st, 0);
		json_t *data = db_col_json(st, 1);
		double interval = json_number_value(json_object_get(data, "interval"));

		if (interval <= 0)
			interval = 300;
		gone = (double)(db_now() - received) > 3 * interval;
		json_decref(data);
	}
	sqlite3_finalize(st);
	return gone;
}
