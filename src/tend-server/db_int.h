/*
 * db_int.h - what the files of the database module share and nobody else
 * sees: db.c (opening, migrations, these helpers), db_token.c (API
 * tokens) and db_records.c (nodes, reports, the audit log).  Users of the
 * database include db.h only.
 *
 * Every statement goes through db_prepare with a constant SQL string and
 * bound parameters, and every SQLite failure becomes -errno with a message
 * through db_sql_err, so the rules written atop db.c hold in each file.
 * The connection is used from one thread at a time.
 */
#ifndef TEND_SERVER_DB_INT_H
#define TEND_SERVER_DB_INT_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "util/err.h"

/* A 'c' parameter of db_prepare (audit text from outside) is cut to this. */
#define DB_AUDIT_FIELD_MAX 2048

struct db {
	sqlite3 *h;
	char *path; /* for messages */
};

/* db_now - the current time in Unix seconds, as stored. */
int64_t db_now(void);

/*
 * db_sql_err - an SQLite result code rc as -errno (a constraint -EEXIST,
 * busy/locked -EBUSY, ... anything else -EIO), with "PATH: WHAT: sqlite's
 * message" in err (which may be NULL).
 */
int db_sql_err(struct db *db, struct tend_err *err, int rc, const char *what);

/*
 * db_prepare - compile sql into *st and bind its parameters ?1, ?2 ...
 * from the arguments, one per character of types: 't' text (const char *,
 * NULL binds NULL), 'c' text clipped to DB_AUDIT_FIELD_MAX at a UTF-8
 * boundary, 'I' int64_t, 'i' int.  types must name exactly as many values
 * as sql has parameters (-EINVAL otherwise: a bug).  On success the caller
 * finalizes *st; on failure there is nothing to finalize.
 */
int db_prepare(struct db *db, sqlite3_stmt **st, struct tend_err *err, const char *sql,
	       const char *types, ...);

/* db_exec - run sql (constant text, no parameters, any number of statements). */
int db_exec(struct db *db, const char *sql, struct tend_err *err);

/*
 * db_begin, db_commit, db_rollback - one IMMEDIATE transaction (the write
 * lock is taken at once, waiting out busy_timeout).  db_commit rolls back
 * when it fails; db_rollback does nothing outside a transaction.
 */
int db_begin(struct db *db, struct tend_err *err);
int db_commit(struct db *db, struct tend_err *err);
void db_rollback(struct db *db);

/*
 * db_dump - j as compact JSON text (malloc'd) in *ret, for a column;
 * -EFBIG when longer than max bytes, -EINVAL when it cannot be
 * serialized; what names it in the message.
 */
int db_dump(const json_t *j, size_t max, const char *what, char **ret, struct tend_err *err);

/* db_step_done - run st, a statement that returns no rows; finalizes st. */
int db_step_done(struct db *db, sqlite3_stmt *st, const char *what, struct tend_err *err);

/* db_name_ok - letters, digits, '.', '-', '_'; 1..max bytes (s may be NULL). */
bool db_name_ok(const char *s, size_t max);

/*
 * Result columns as JSON values (new references, never NULL but on
 * allocation failure): db_col_text a string or null (bytes that are not
 * UTF-8 become '?'), db_col_json the serialized JSON a column holds or
 * null, db_col_time Unix seconds as "2026-11-22T06:09:23Z" or null.
 */
json_t *db_col_text(sqlite3_stmt *st, int i);
json_t *db_col_json(sqlite3_stmt *st, int i);
json_t *db_col_time(sqlite3_stmt *st, int i);

/* A result column, in SELECT order, as a JSON member; lists end with a NULL key. */
enum db_col_kind { DB_COL_TEXT, DB_COL_TIME, DB_COL_INT, DB_COL_JSON };

struct db_col {
	const char *key;
	enum db_col_kind kind;
};

/* db_row_fn - the current row of st as a new JSON value. */
typedef json_t *db_row_fn(sqlite3_stmt *st, const struct db_col *cols);

/* db_row_json - the current row of st as an object with cols' members. */
json_t *db_row_json(sqlite3_stmt *st, const struct db_col *cols);

/*
 * db_rows - every row of st as row(st, cols) into a new array *ret;
 * finalizes st whatever happens.  what names the query in messages.
 */
int db_rows(struct db *db, sqlite3_stmt *st, db_row_fn *row, const struct db_col *cols,
	    const char *what, json_t **ret, struct tend_err *err);

#endif
