/*
 * db.c - the server's runtime state in SQLite (see db.h): opening the
 * file, its schema migrations, and the SQL and JSON helpers that the
 * other files of the module share (db_int.h).  API tokens are in
 * db_token.c; nodes, reports and the audit log in db_records.c.
 *
 * One connection per process, used from one thread at a time (the HTTP
 * layer handles one request at a time).  The file is opened in WAL mode
 * with synchronous=FULL, so a write that returned is on disk even after a
 * power cut, and readers (the `token` subcommands run while the server is
 * up) never block the writer; busy_timeout covers the short moments two
 * processes both want to write.
 *
 * The schema is versioned with PRAGMA user_version: migrations[i] takes a
 * file from version i to i + 1, each in its own IMMEDIATE transaction
 * that also sets the new user_version, so a crash leaves the file at one
 * version or the next, never between.  PRAGMA application_id marks the
 * file as ours; a file from a newer tend-server, or another program's
 * SQLite file, is refused rather than guessed at.
 *
 * Every statement is a constant string with bound parameters: nothing
 * that came from outside is ever spliced into SQL.  Whatever is stored
 * from outside has a size limit (DB_FACTS_MAX, DB_REPORT_MAX, ...).
 */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db_int.h"
#include "util/strutil.h"

#define DB_APP_ID 0x74656e64 /* "tend" */
#define DB_BUSY_MS 10000

/* ---- schema ---- */

/* migrations[i]: version i -> i + 1.  Append only; never edit a released one. */
static const char *const migrations[] = {
	/* 1: the tables */
	"CREATE TABLE tokens ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  role TEXT NOT NULL CHECK (role IN ('ro', 'rw')),"
	"  hash TEXT NOT NULL UNIQUE," /* SHA-256 hex of the secret */
	"  created INTEGER NOT NULL,"
	"  last_used INTEGER);"
	"CREATE TABLE nodes ("
	"  id TEXT PRIMARY KEY,"
	"  first_seen INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL,"
	"  status TEXT,"
	"  addresses TEXT," /* JSON array */
	"  macs TEXT,"	    /* JSON array */
	"  facts TEXT,"	    /* JSON object */
	"  last_report INTEGER REFERENCES reports(id) ON DELETE SET NULL);"
	"CREATE TABLE reports ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  node TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,"
	"  time INTEGER NOT NULL,"
	"  status TEXT NOT NULL,"
	"  summary TEXT NOT NULL," /* JSON object */
	"  body TEXT NOT NULL);"   /* JSON object: the whole report */
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time INTEGER NOT NULL,"
	"  who TEXT NOT NULL,"
	"  address TEXT,"
	"  action TEXT NOT NULL,"
	"  target TEXT,"
	"  status INTEGER NOT NULL,"
	"  \"commit\" TEXT,"
	"  detail TEXT);"
	"PRAGMA application_id = 1952804452;" /* DB_APP_ID */
	"PRAGMA user_version = 1;",
	/* 2: what the API looks things up by */
	"CREATE INDEX reports_node ON reports(node, id);"
	"CREATE INDEX audit_commit ON audit(\"commit\") WHERE \"commit\" IS NOT NULL;"
	"PRAGMA user_version = 2;",
	/* 3: lifecycle events from the bus; reports delivered twice are stored once
	 * (db_events.c) */
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  node TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  time INTEGER NOT NULL,"     /* when the node says it happened */
	"  received INTEGER NOT NULL," /* when it was stored */
	"  data TEXT);"		       /* JSON object, or NULL */
	"CREATE INDEX events_node ON events(node, id);"
	"ALTER TABLE reports ADD COLUMN uuid TEXT;" /* the sender's id of the report */
	"CREATE UNIQUE INDEX reports_uuid ON reports(uuid) WHERE uuid IS NOT NULL;"
	"PRAGMA user_version = 3;",
	/* 4: enrollment: one-time tokens, requests waiting for approval, the
	 * certificates issued and which were revoked (db_enroll.c) */
	"CREATE TABLE enroll_tokens ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  hash TEXT NOT NULL UNIQUE," /* SHA-256 hex of the secret */
	"  tags TEXT NOT NULL,"	       /* JSON array */
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  uses INTEGER NOT NULL,"
	"  uses_left INTEGER NOT NULL,"
	"  last_used INTEGER);"
	"CREATE TABLE enroll_pending ("
	"  node TEXT PRIMARY KEY,"
	"  csr TEXT NOT NULL,"
	"  fingerprint TEXT NOT NULL," /* SHA-256 hex of the public key */
	"  address TEXT,"
	"  requested INTEGER NOT NULL,"
	"  polled INTEGER NOT NULL);"
	"CREATE TABLE certs ("
	"  serial TEXT PRIMARY KEY," /* lowercase hex */
	"  node TEXT NOT NULL,"
	"  fingerprint TEXT NOT NULL,"
	"  pem TEXT NOT NULL,"
	"  issued INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  issued_by TEXT NOT NULL,"
	"  revoked INTEGER);"
	"CREATE INDEX certs_node ON certs(node, fingerprint);"
	"CREATE INDEX certs_fingerprint ON certs(fingerprint);"
	"PRAGMA user_version = 4;",
	/* 5: administrators' identities (certificates for the bus) and the audit
	 * records nodes forward for the requests they were sent (db_users.c) */
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL,"
	"  role TEXT NOT NULL,"
	"  serial TEXT NOT NULL UNIQUE," /* lowercase hex */
	"  pem TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  revoked INTEGER);"
	"CREATE UNIQUE INDEX users_active ON users(name) WHERE revoked IS NULL;"
	"CREATE TABLE rpc_audit ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  node TEXT NOT NULL,"
	"  time TEXT,"		     /* when the node decided, as it says (ISO 8601) */
	"  received INTEGER NOT NULL,"
	"  request TEXT,"	     /* the request's id */
	"  caller TEXT,"
	"  action TEXT,"
	"  decision TEXT NOT NULL," /* allowed, refused */
	"  record TEXT NOT NULL);"  /* JSON object: the node's whole record */
	"CREATE INDEX rpc_audit_node ON rpc_audit(node, id);"
	"CREATE INDEX rpc_audit_request ON rpc_audit(request);"
	"PRAGMA user_version = 5;",
};

#define DB_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* ---- SQL helpers (db_int.h) ---- */

int64_t db_now(void)
{
	return (int64_t)time(NULL);
}

int db_sql_err(struct db *db, struct tend_err *err, int rc, const char *what)
{
	static const int map[][2] = {
		{ SQLITE_CONSTRAINT, -EEXIST }, { SQLITE_BUSY, -EBUSY },
		{ SQLITE_LOCKED, -EBUSY },	{ SQLITE_NOMEM, -ENOMEM },
		{ SQLITE_FULL, -ENOSPC },	{ SQLITE_READONLY, -EACCES },
		{ SQLITE_PERM, -EACCES },	{ SQLITE_CANTOPEN, -ENOENT },
		{ SQLITE_NOTADB, -EINVAL },	{ SQLITE_CORRUPT, -EINVAL },
	};
	int code = -EIO;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i][0] == (rc & 0xff))
			code = map[i][1];
	return err_set(err, code, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->h));
}

/* bind_text - text or NULL; SQLITE_TRANSIENT copies, so s may go away. */
static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

/* bind_clipped - text cut to max bytes at a UTF-8 character boundary: an
 * audit record is kept whole rather than refused for a long field. */
static void bind_clipped(sqlite3_stmt *st, int i, const char *s, size_t max)
{
	size_t n;

	if (!s) {
		sqlite3_bind_null(st, i);
		return;
	}
	n = strlen(s);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	sqlite3_bind_text(st, i, s, (int)n, SQLITE_TRANSIENT);
}

int db_prepare(struct db *db, sqlite3_stmt **st, struct tend_err *err, const char *sql,
	       const char *types, ...)
{
	int rc = sqlite3_prepare_v2(db->h, sql, -1, st, NULL);
	va_list ap;

	if (rc != SQLITE_OK)
		return db_sql_err(db, err, rc, "prepare");
	/* a mismatch is a bug here, caught before a wrong va_arg is read */
	if ((int)strlen(types) != sqlite3_bind_parameter_count(*st)) {
		int want = sqlite3_bind_parameter_count(*st);

		sqlite3_finalize(*st);
		return err_set(err, -EINVAL, "%s: %d parameters for %zu values: %s", db->path, want,
			       strlen(types), sql);
	}
	va_start(ap, types);
	for (int i = 1; types[i - 1]; i++) {
		switch (types[i - 1]) {
		case 't':
			bind_text(*st, i, va_arg(ap, const char *));
			break;
		case 'c':
			bind_clipped(*st, i, va_arg(ap, const char *), DB_AUDIT_FIELD_MAX);
			break;
		case 'I':
			sqlite3_bind_int64(*st, i, va_arg(ap, int64_t));
			break;
		default:
			sqlite3_bind_int(*st, i, va_arg(ap, int));
			break;
		}
	}
	va_end(ap);
	return 0;
}

int db_exec(struct db *db, const char *sql, struct tend_err *err)
{
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return db_sql_err(db, err, rc, sql);
	return 0;
}

int db_begin(struct db *db, struct tend_err *err)
{
	return db_exec(db, "BEGIN IMMEDIATE", err);
}

int db_commit(struct db *db, struct tend_err *err)
{
	int r = db_exec(db, "COMMIT", err);

	if (r < 0)
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

void db_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

int db_step_done(struct db *db, sqlite3_stmt *st, const char *what, struct tend_err *err)
{
	int rc = sqlite3_step(st), r = 0;

	if (rc != SQLITE_DONE)
		r = db_sql_err(db, err, rc, what);
	sqlite3_finalize(st);
	return r;
}

bool db_name_ok(const char *s, size_t max)
{
	size_t n = 0;

	if (!s || !*s)
		return false;
	for (; s[n]; n++) {
		char c = s[n];

		if (n >= max)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* ---- result columns as JSON (db_int.h) ---- */

/* json_text - a string value as JSON; bytes that are not UTF-8 become '?'
 * (audit fields hold URL paths as sent, which need not be UTF-8). */
static json_t *json_text(const char *s)
{
	json_t *j;
	char *c;

	if (!s)
		return json_null();
	j = json_string(s);
	if (j)
		return j;
	c = xstrdup(s);
	for (char *p = c; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(c);
	free(c);
	return j;
}

json_t *db_col_text(sqlite3_stmt *st, int i)
{
	return json_text((const char *)sqlite3_column_text(st, i));
}

json_t *db_col_json(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	json_t *j;

	if (!s)
		return json_null();
	j = json_loads(s, JSON_DECODE_ANY, NULL);
	return j ? j : json_null();
}

/* iso_time - Unix seconds as "2026-11-22T06:09:23Z". */
static json_t *iso_time(int64_t t)
{
	char s[64];
	struct tm tm;
	time_t tt = (time_t)t;

	if (!gmtime_r(&tt, &tm) || !strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return json_null();
	return json_string(s);
}

json_t *db_col_time(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	return iso_time(sqlite3_column_int64(st, i));
}

json_t *db_row_json(sqlite3_stmt *st, const struct db_col *cols)
{
	json_t *o = json_object();

	for (int i = 0; cols[i].key; i++) {
		json_t *v;

		switch (cols[i].kind) {
		case DB_COL_TEXT:
			v = db_col_text(st, i);
			break;
		case DB_COL_TIME:
			v = db_col_time(st, i);
			break;
		case DB_COL_INT:
			v = json_integer(sqlite3_column_int64(st, i));
			break;
		default:
			v = db_col_json(st, i);
			break;
		}
		json_object_set_new(o, cols[i].key, v);
	}
	return o;
}

int db_rows(struct db *db, sqlite3_stmt *st, db_row_fn *row, const struct db_col *cols,
	    const char *what, json_t **ret, struct tend_err *err)
{
	json_t *a = json_array();
	int rc, r = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(a, row(st, cols));
	if (rc != SQLITE_DONE) {
		r = db_sql_err(db, err, rc, what);
		json_decref(a);
	} else {
		*ret = a;
	}
	sqlite3_finalize(st);
	return r;
}

/* ---- open, migrate ---- */

static int pragma_int(struct db *db, const char *sql, int *ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r = db_prepare(db, &st, err, sql, ""), rc;

	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int(st, 0);
	else
		r = db_sql_err(db, err, rc, sql);
	sqlite3_finalize(st);
	return r;
}

/* check_owner - refuse a file that some other program uses, or a newer tend's. */
static int check_owner(struct db *db, int version, struct tend_err *err)
{
	int app = 0, tables = 0, r;

	r = pragma_int(db, "PRAGMA application_id", &app, err);
	if (r < 0)
		return r;
	if (app != 0 && app != DB_APP_ID)
		return err_set(err, -EINVAL, "%s: not a tend-server database (application id %#x)",
			       db->path, (unsigned)app);
	if (version == 0) {
		r = pragma_int(db, "SELECT count(*) FROM sqlite_schema", &tables, err);
		if (r < 0)
			return r;
		if (tables > 0)
			return err_set(
				err, -EINVAL,
				"%s: not a tend-server database (it has tables but no schema version)",
				db->path);
	}
	if (version > DB_VERSION)
		return err_set(
			err, -EPROTO,
			"%s: schema version %d is newer than this tend-server knows (%d): "
			"it was written by a newer tend-server; upgrade, or restore a backup",
			db->path, version, DB_VERSION);
	return 0;
}

static int migrate(struct db *db, struct tend_err *err)
{
	int version = 0, r;

	r = pragma_int(db, "PRAGMA user_version", &version, err);
	if (r < 0)
		return r;
	r = check_owner(db, version, err);
	if (r < 0)
		return r;
	while (version < DB_VERSION) {
		int again = 0;

		r = db_begin(db, err);
		if (r < 0)
			return r;
		/* another process may have migrated since we looked */
		r = pragma_int(db, "PRAGMA user_version", &again, err);
		if (r == 0 && again == version)
			r = db_exec(db, migrations[version], err);
		if (r == 0)
			r = db_commit(db, err);
		else
			db_rollback(db);
		if (r < 0) {
			err_prefix(err, "migration to schema version %d", version + 1);
			return r;
		}
		version = again == version ? version + 1 : again;
		if (version > DB_VERSION)
			return check_owner(db, version, err);
	}
	return 0;
}

/* precreate - make the file 0600 before SQLite does (the -wal and -shm
 * files take its mode); a missing directory is a clear ENOENT here. */
static int precreate(const char *path, struct tend_err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return err_set(err, -errno, "%s: %s", path, strerror(errno));
	close(fd);
	return 0;
}

int db_open(const char *path, struct db **ret, struct tend_err *err)
{
	struct db *db;
	char *mode = NULL;
	int r, rc;

	r = precreate(path, err);
	if (r < 0)
		return r;
	db = xcalloc(1, sizeof(*db));
	db->path = xstrdup(path);
	rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		r = db->h ? db_sql_err(db, err, rc, "open") :
			    err_set(err, -ENOMEM, "%s: cannot open: out of memory", path);
		goto fail;
	}
	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_busy_timeout(db->h, DB_BUSY_MS);
	r = db_exec(db, "PRAGMA foreign_keys = ON", err);
	if (r == 0) {
		sqlite3_stmt *st;

		r = db_prepare(db, &st, err, "PRAGMA journal_mode = WAL", "");
		if (r == 0) {
			rc = sqlite3_step(st);
			if (rc == SQLITE_ROW)
				mode = xstrdup((const char *)sqlite3_column_text(st, 0));
			else
				r = db_sql_err(db, err, rc, "journal_mode");
			sqlite3_finalize(st);
		}
	}
	if (r == 0 && (!mode || strcmp(mode, "wal")))
		r = err_set(err, -EIO, "%s: cannot use write-ahead logging (journal mode %s)", path,
			    mode ? mode : "?");
	if (r == 0)
		r = db_exec(db, "PRAGMA synchronous = FULL", err);
	if (r == 0)
		r = migrate(db, err);
	free(mode);
	if (r < 0)
		goto fail;
	*ret = db;
	return 0;
fail:
	db_close(db);
	return r;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	sqlite3_close_v2(db->h);
	free(db->path);
	free(db);
}

int db_schema_version(struct db *db)
{
	int v = 0, r = pragma_int(db, "PRAGMA user_version", &v, NULL);

	return r < 0 ? r : v;
}

int db_dump(const json_t *j, size_t max, const char *what, char **ret, struct tend_err *err)
{
	size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	char *s;

	if (n == 0)
		return err_set(err, -EINVAL, "%s cannot be serialized", what);
	if (n > max)
		return err_set(err, -EFBIG, "%s is larger than %zu bytes", what, max);
	s = malloc(n + 1);
	if (!s)
		return err_set(err, -ENOMEM, "out of memory");
	json_dumpb(j, s, n, JSON_COMPACT | JSON_ENCODE_ANY);
	s[n] = '\0';
	*ret = s;
	return 0;
}
