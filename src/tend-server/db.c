/*
 * db.c - the server's runtime state in SQLite (see db.h).
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
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/strutil.h"

#define DB_APP_ID 0x74656e64 /* "tend" */
#define DB_BUSY_MS 10000
#define TOKEN_PREFIX "tend_"
#define TOKEN_RAW 32
#define TOKEN_B64 43 /* base64url of 32 bytes, unpadded */
#define TOKEN_LEN (sizeof(TOKEN_PREFIX) - 1 + TOKEN_B64)
#define TOKEN_NAME_MAX 64
#define TOKEN_TOUCH_SECS 60 /* last_used is refreshed at most this often */
#define AUDIT_FIELD_MAX 2048
#define NODE_LIST_MAX 65536 /* serialized addresses / macs */
#define NODE_STATUS_MAX 64

struct db {
	sqlite3 *h;
	char *path;
};

/* ---- schema ---- */

/* migrations[i]: version i -> i + 1.  Append only; never edit a released one. */
static const char *const migrations[] = {
	/* 1: the tables */
	"CREATE TABLE tokens ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  role TEXT NOT NULL CHECK (role IN ('ro', 'rw')),"
	"  hash TEXT NOT NULL UNIQUE,"          /* SHA-256 hex of the secret */
	"  created INTEGER NOT NULL,"
	"  last_used INTEGER);"
	"CREATE TABLE nodes ("
	"  id TEXT PRIMARY KEY,"
	"  first_seen INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL,"
	"  status TEXT,"
	"  addresses TEXT,"                      /* JSON array */
	"  macs TEXT,"                           /* JSON array */
	"  facts TEXT,"                          /* JSON object */
	"  last_report INTEGER REFERENCES reports(id) ON DELETE SET NULL);"
	"CREATE TABLE reports ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  node TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,"
	"  time INTEGER NOT NULL,"
	"  status TEXT NOT NULL,"
	"  summary TEXT NOT NULL,"               /* JSON object */
	"  body TEXT NOT NULL);"                 /* JSON object: the whole report */
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
	"PRAGMA application_id = 1952804452;"  /* DB_APP_ID */
	"PRAGMA user_version = 1;",
	/* 2: what the API looks things up by */
	"CREATE INDEX reports_node ON reports(node, id);"
	"CREATE INDEX audit_commit ON audit(\"commit\") WHERE \"commit\" IS NOT NULL;"
	"PRAGMA user_version = 2;",
};

#define DB_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* ---- small helpers ---- */

static int64_t now_secs(void)
{
	return (int64_t)time(NULL);
}

/* sql_err - an SQLite failure as -errno with the connection's message. */
static int sql_err(struct db *db, struct tend_err *err, int rc, const char *what)
{
	int code;

	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT: code = -EEXIST; break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: code = -EBUSY; break;
	case SQLITE_NOMEM: code = -ENOMEM; break;
	case SQLITE_FULL: code = -ENOSPC; break;
	case SQLITE_READONLY:
	case SQLITE_PERM: code = -EACCES; break;
	case SQLITE_CANTOPEN: code = -ENOENT; break;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT: code = -EINVAL; break;
	default: code = -EIO; break;
	}
	return err_set(err, code, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->h));
}

static int prepare(struct db *db, const char *sql, sqlite3_stmt **st, struct tend_err *err)
{
	int rc = sqlite3_prepare_v2(db->h, sql, -1, st, NULL);

	if (rc != SQLITE_OK)
		return sql_err(db, err, rc, "prepare");
	return 0;
}

static int exec(struct db *db, const char *sql, struct tend_err *err)
{
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return sql_err(db, err, rc, sql);
	return 0;
}

static int begin(struct db *db, struct tend_err *err)
{
	return exec(db, "BEGIN IMMEDIATE", err);
}

static int commit(struct db *db, struct tend_err *err)
{
	int r = exec(db, "COMMIT", err);

	if (r < 0)
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static void rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

/* bind_text - text or NULL; SQLITE_TRANSIENT copies, so s may go away. */
static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

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

static json_t *col_text(sqlite3_stmt *st, int i)
{
	return json_text((const char *)sqlite3_column_text(st, i));
}

/* col_json - a column holding serialized JSON, or null. */
static json_t *col_json(sqlite3_stmt *st, int i)
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

static json_t *col_time(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	return iso_time(sqlite3_column_int64(st, i));
}

/* name_ok - letters, digits, '.', '-', '_'; 1..max bytes. */
static bool name_ok(const char *s, size_t max)
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

bool db_node_id_ok(const char *id)
{
	return name_ok(id, DB_NODE_ID_MAX);
}

/* dump - compact JSON text of j, at most max bytes: -EFBIG beyond. */
static int dump(const json_t *j, size_t max, const char *what, char **ret, struct tend_err *err)
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

/* ---- open, migrate ---- */

static int pragma_int(struct db *db, const char *sql, int *ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r = prepare(db, sql, &st, err), rc;

	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int(st, 0);
	else
		r = sql_err(db, err, rc, sql);
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
			return err_set(err, -EINVAL,
				       "%s: not a tend-server database (it has tables but no schema version)",
				       db->path);
	}
	if (version > DB_VERSION)
		return err_set(err, -EPROTO,
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

		r = begin(db, err);
		if (r < 0)
			return r;
		/* another process may have migrated since we looked */
		r = pragma_int(db, "PRAGMA user_version", &again, err);
		if (r == 0 && again == version)
			r = exec(db, migrations[version], err);
		if (r == 0)
			r = commit(db, err);
		else
			rollback(db);
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
		r = db->h ? sql_err(db, err, rc, "open")
			  : err_set(err, -ENOMEM, "%s: cannot open: out of memory", path);
		goto fail;
	}
	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_busy_timeout(db->h, DB_BUSY_MS);
	r = exec(db, "PRAGMA foreign_keys = ON", err);
	if (r == 0) {
		sqlite3_stmt *st;

		r = prepare(db, "PRAGMA journal_mode = WAL", &st, err);
		if (r == 0) {
			rc = sqlite3_step(st);
			if (rc == SQLITE_ROW)
				mode = xstrdup((const char *)sqlite3_column_text(st, 0));
			else
				r = sql_err(db, err, rc, "journal_mode");
			sqlite3_finalize(st);
		}
	}
	if (r == 0 && (!mode || strcmp(mode, "wal")))
		r = err_set(err, -EIO, "%s: cannot use write-ahead logging (journal mode %s)", path,
			    mode ? mode : "?");
	if (r == 0)
		r = exec(db, "PRAGMA synchronous = FULL", err);
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

/* ---- tokens ---- */

const char *db_role_name(enum db_role r)
{
	switch (r) {
	case DB_ROLE_RO: return "ro";
	case DB_ROLE_RW: return "rw";
	}
	return "?";
}

int db_role_parse(const char *s, enum db_role *ret)
{
	if (s && !strcmp(s, "ro"))
		*ret = DB_ROLE_RO;
	else if (s && !strcmp(s, "rw"))
		*ret = DB_ROLE_RW;
	else
		return -EINVAL;
	return 0;
}

/* secret_hash - SHA-256 hex of the secret, through libcrypto (linked:
 * a token must never hash to a placeholder). */
static int secret_hash(const char *secret, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	static const char hex[] = "0123456789abcdef";

	if (!EVP_Digest(secret, strlen(secret), md, &n, EVP_sha256(), NULL) || n != 32)
		return -EIO;
	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

/* b64url - n bytes as unpadded base64url into out (4n/3 + 2 bytes). */
static void b64url(const unsigned char *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = a[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = a[v & 63];
	}
	out[o] = '\0';
}

/* secret_shape_ok - "tend_" + 43 base64url characters. */
static bool secret_shape_ok(const char *s)
{
	if (strncmp(s, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1) || strlen(s) != TOKEN_LEN)
		return false;
	for (s += sizeof(TOKEN_PREFIX) - 1; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

/* token_insert - one INSERT; -EEXIST when the name is taken. */
static int token_insert(struct db *db, const char *name, enum db_role role, const char *hash,
			struct tend_err *err)
{
	sqlite3_stmt *st;
	int r, rc;

	r = prepare(db, "INSERT INTO tokens (name, role, hash, created) VALUES (?1, ?2, ?3, ?4)", &st,
		    err);
	if (r < 0)
		return r;
	bind_text(st, 1, name);
	bind_text(st, 2, db_role_name(role));
	bind_text(st, 3, hash);
	sqlite3_bind_int64(st, 4, now_secs());
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		r = err_set(err, -EEXIST, "a token named '%s' exists already", name);
	else if (rc != SQLITE_DONE)
		r = sql_err(db, err, rc, "add token");
	sqlite3_finalize(st);
	return r;
}

/* next_token_number - 1 + the highest id ever given, for "token-N". */
static int64_t next_token_number(struct db *db)
{
	sqlite3_stmt *st;
	int64_t n = 1;

	if (prepare(db, "SELECT coalesce(max(seq), 0) + 1 FROM sqlite_sequence WHERE name = 'tokens'",
		    &st, NULL) < 0)
		return n;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

int db_token_create(struct db *db, const char *name, enum db_role role, char **ret_secret,
		    struct tend_err *err)
{
	unsigned char raw[TOKEN_RAW];
	char secret[TOKEN_LEN + 8], hash[65], gen[32];
	int r;

	if (role != DB_ROLE_RO && role != DB_ROLE_RW)
		return err_set(err, -EINVAL, "unknown token role %d", (int)role);
	if (name && !name_ok(name, TOKEN_NAME_MAX))
		return err_set(err, -EINVAL,
			       "bad token name '%s': letters, digits, '.', '-', '_', at most %d",
			       name, TOKEN_NAME_MAX);
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return err_set(err, -EIO, "cannot get random bytes for a token");
	memcpy(secret, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
	b64url(raw, sizeof(raw), secret + sizeof(TOKEN_PREFIX) - 1);
	OPENSSL_cleanse(raw, sizeof(raw));
	r = secret_hash(secret, hash);
	if (r < 0) {
		r = err_set(err, r, "cannot hash a token (libcrypto)");
		goto out;
	}
	if (name) {
		r = token_insert(db, name, role, hash, err);
	} else {
		/* another process may take the number first: try the next */
		int64_t n = next_token_number(db);

		for (int i = 0; i < 100; i++, n++) {
			snprintf(gen, sizeof(gen), "token-%lld", (long long)n);
			r = token_insert(db, gen, role, hash, err);
			if (r != -EEXIST)
				break;
		}
	}
	if (r == 0)
		*ret_secret = xstrdup(secret);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	return r;
}

/*
 * The lookup is by SHA-256 of the presented secret, so no compare of
 * secret bytes happens at all: an index search (and its timing) can at
 * most tell an attacker how much of the hash of their guess matches a
 * stored hash, and since a guess cannot be steered to match a hash byte
 * by byte (preimage resistance) and secrets carry 256 random bits,
 * that says nothing useful.  A constant-time compare is therefore not
 * needed; it would be if the secrets themselves were compared.
 */
int db_token_check(struct db *db, const char *secret, char **ret_name, enum db_role *ret_role)
{
	sqlite3_stmt *st;
	char hash[65];
	int r, rc;
	enum db_role role;
	int64_t id, used, now = now_secs();

	if (!secret || !secret_shape_ok(secret))
		return -EACCES;
	if (secret_hash(secret, hash) < 0)
		return -EIO;
	r = prepare(db, "SELECT id, name, role, coalesce(last_used, 0) FROM tokens WHERE hash = ?1",
		    &st, NULL);
	if (r < 0)
		return r;
	bind_text(st, 1, hash);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? -EACCES : -EIO;
	}
	id = sqlite3_column_int64(st, 0);
	if (db_role_parse((const char *)sqlite3_column_text(st, 2), &role) < 0) {
		sqlite3_finalize(st);
		return -EACCES;
	}
	used = sqlite3_column_int64(st, 3);
	*ret_name = xstrdup((const char *)sqlite3_column_text(st, 1));
	*ret_role = role;
	sqlite3_finalize(st);
	/* a write (and an fsync) per request would be too dear: once a minute */
	if (now - used >= TOKEN_TOUCH_SECS &&
	    prepare(db, "UPDATE tokens SET last_used = ?1 WHERE id = ?2", &st, NULL) == 0) {
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_int64(st, 2, id);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	return 0;
}

int db_token_list(struct db *db, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	json_t *a;
	int r, rc;

	r = prepare(db, "SELECT name, role, created, last_used FROM tokens ORDER BY name", &st, err);
	if (r < 0)
		return r;
	a = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *t = json_object();

		json_object_set_new(t, "name", col_text(st, 0));
		json_object_set_new(t, "role", col_text(st, 1));
		json_object_set_new(t, "created", col_time(st, 2));
		json_object_set_new(t, "last_used", col_time(st, 3));
		json_array_append_new(a, t);
	}
	if (rc != SQLITE_DONE) {
		r = sql_err(db, err, rc, "list tokens");
		json_decref(a);
	} else {
		*ret = a;
	}
	sqlite3_finalize(st);
	return r;
}

int db_token_revoke(struct db *db, const char *name, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r, rc;

	r = prepare(db, "DELETE FROM tokens WHERE name = ?1", &st, err);
	if (r < 0)
		return r;
	bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = sql_err(db, err, rc, "revoke token");
	else if (sqlite3_changes(db->h) == 0)
		r = err_set(err, -ENOENT, "no token named '%s'", name);
	sqlite3_finalize(st);
	return r;
}

/* ---- audit ---- */

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

int db_audit_add(struct db *db, const struct db_audit *a, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r, rc;

	r = prepare(db,
		    "INSERT INTO audit (time, who, address, action, target, status, \"commit\", detail)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
		    &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, a->time ? a->time : now_secs());
	bind_clipped(st, 2, a->who ? a->who : "-", AUDIT_FIELD_MAX);
	bind_clipped(st, 3, a->address, AUDIT_FIELD_MAX);
	bind_clipped(st, 4, a->action ? a->action : "-", AUDIT_FIELD_MAX);
	bind_clipped(st, 5, a->target, AUDIT_FIELD_MAX);
	sqlite3_bind_int(st, 6, a->status);
	bind_clipped(st, 7, a->commit && *a->commit ? a->commit : NULL, 64);
	bind_clipped(st, 8, a->detail && *a->detail ? a->detail : NULL, AUDIT_FIELD_MAX);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = sql_err(db, err, rc, "add audit record");
	sqlite3_finalize(st);
	return r;
}

bool db_audit_has_commit(struct db *db, const char *commit)
{
	sqlite3_stmt *st;
	bool found;

	if (!commit || prepare(db, "SELECT 1 FROM audit WHERE \"commit\" = ?1 LIMIT 1", &st, NULL) < 0)
		return false;
	bind_text(st, 1, commit);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

int db_audit_list(struct db *db, int64_t before, int limit, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	json_t *a;
	int r, rc;

	if (limit <= 0 || before < 0)
		return err_set(err, -EINVAL, "bad limit or bound");
	r = prepare(db,
		    "SELECT id, time, who, address, action, target, status, \"commit\", detail"
		    " FROM audit WHERE ?1 = 0 OR id < ?1 ORDER BY id DESC LIMIT ?2",
		    &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int(st, 2, limit);
	a = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *e = json_object();

		json_object_set_new(e, "id", json_integer(sqlite3_column_int64(st, 0)));
		json_object_set_new(e, "time", col_time(st, 1));
		json_object_set_new(e, "who", col_text(st, 2));
		json_object_set_new(e, "address", col_text(st, 3));
		json_object_set_new(e, "action", col_text(st, 4));
		json_object_set_new(e, "target", col_text(st, 5));
		json_object_set_new(e, "status", json_integer(sqlite3_column_int(st, 6)));
		json_object_set_new(e, "commit", col_text(st, 7));
		json_object_set_new(e, "detail", col_text(st, 8));
		json_array_append_new(a, e);
	}
	if (rc != SQLITE_DONE) {
		r = sql_err(db, err, rc, "list audit records");
		json_decref(a);
	} else {
		*ret = a;
	}
	sqlite3_finalize(st);
	return r;
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
	return dump(v, NODE_LIST_MAX, what, ret, err);
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
			r = json_is_object(v) ? dump(v, DB_FACTS_MAX, "facts", &c->facts, err)
					      : err_set(err, -EINVAL, "'facts' must be an object");
		} else if (!strcmp(k, "addresses")) {
			r = string_list(v, k, &c->addresses, err);
		} else if (!strcmp(k, "macs")) {
			r = string_list(v, k, &c->macs, err);
		} else if (!strcmp(k, "status")) {
			if (!json_is_string(v) || json_string_length(v) > NODE_STATUS_MAX)
				r = err_set(err, -EINVAL, "'status' must be a string of at most %d bytes",
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
	int r, rc;

	r = prepare(db,
		    "INSERT INTO nodes (id, first_seen, last_seen, status, addresses, macs, facts)"
		    " VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6)"
		    " ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen,"
		    "  status = coalesce(excluded.status, status),"
		    "  addresses = coalesce(excluded.addresses, addresses),"
		    "  macs = coalesce(excluded.macs, macs),"
		    "  facts = coalesce(excluded.facts, facts)",
		    &st, err);
	if (r < 0)
		return r;
	bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	bind_text(st, 3, c->status);
	bind_text(st, 4, c->addresses);
	bind_text(st, 5, c->macs);
	bind_text(st, 6, c->facts);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = sql_err(db, err, rc, "update node");
	sqlite3_finalize(st);
	return r;
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
		r = node_upsert(db, id, &c, now_secs(), err);
	node_cols_free(&c);
	return r;
}

/* node_json - a row of NODE_COLS as JSON; with_facts adds "facts". */
#define NODE_COLS                                                                                  \
	"n.id, n.first_seen, n.last_seen, n.status, n.addresses, n.macs, n.last_report,"           \
	" r.time, r.status, r.summary, n.facts"

static json_t *list_or_empty(sqlite3_stmt *st, int i)
{
	json_t *j = col_json(st, i);

	if (json_is_array(j))
		return j;
	json_decref(j);
	return json_array();
}

static json_t *node_json(sqlite3_stmt *st, bool with_facts)
{
	json_t *n = json_object();

	json_object_set_new(n, "id", col_text(st, 0));
	json_object_set_new(n, "first_seen", col_time(st, 1));
	json_object_set_new(n, "last_seen", col_time(st, 2));
	json_object_set_new(n, "status", col_text(st, 3));
	json_object_set_new(n, "addresses", list_or_empty(st, 4));
	json_object_set_new(n, "macs", list_or_empty(st, 5));
	if (sqlite3_column_type(st, 6) == SQLITE_NULL) {
		json_object_set_new(n, "last_report", json_null());
	} else {
		json_t *lr = json_object();

		json_object_set_new(lr, "id", json_integer(sqlite3_column_int64(st, 6)));
		json_object_set_new(lr, "time", col_time(st, 7));
		json_object_set_new(lr, "status", col_text(st, 8));
		json_object_set_new(lr, "summary", col_json(st, 9));
		json_object_set_new(n, "last_report", lr);
	}
	if (with_facts)
		json_object_set_new(n, "facts", col_json(st, 10));
	return n;
}

int db_node_get(struct db *db, const char *id, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r, rc;

	r = prepare(db,
		    "SELECT " NODE_COLS " FROM nodes n LEFT JOIN reports r ON r.id = n.last_report"
		    " WHERE n.id = ?1",
		    &st, err);
	if (r < 0)
		return r;
	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = node_json(st, true);
	else if (rc == SQLITE_DONE)
		r = err_set(err, -ENOENT, "no node '%s' has reported", id ? id : "");
	else
		r = sql_err(db, err, rc, "get node");
	sqlite3_finalize(st);
	return r;
}

int db_node_list(struct db *db, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	json_t *a;
	int r, rc;

	r = prepare(db,
		    "SELECT " NODE_COLS " FROM nodes n LEFT JOIN reports r ON r.id = n.last_report"
		    " ORDER BY n.id",
		    &st, err);
	if (r < 0)
		return r;
	a = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(a, node_json(st, false));
	if (rc != SQLITE_DONE) {
		r = sql_err(db, err, rc, "list nodes");
		json_decref(a);
	} else {
		*ret = a;
	}
	sqlite3_finalize(st);
	return r;
}

json_t *db_node_facts(struct db *db, const char *id)
{
	sqlite3_stmt *st;
	json_t *f = NULL;

	if (prepare(db, "SELECT facts FROM nodes WHERE id = ?1 AND facts IS NOT NULL", &st, NULL) < 0)
		return NULL;
	bind_text(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		f = col_json(st, 0);
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
			 const char *summary, const char *body, int64_t *ret_id, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r, rc;

	r = prepare(db,
		    "INSERT INTO reports (node, time, status, summary, body) VALUES (?1, ?2, ?3, ?4, ?5)",
		    &st, err);
	if (r < 0)
		return r;
	bind_text(st, 1, node);
	sqlite3_bind_int64(st, 2, now);
	bind_text(st, 3, status);
	bind_text(st, 4, summary);
	bind_text(st, 5, body);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = sql_err(db, err, rc, "add report");
	else
		*ret_id = sqlite3_last_insert_rowid(db->h);
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	r = prepare(db, "UPDATE nodes SET last_report = ?1 WHERE id = ?2", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, *ret_id);
	bind_text(st, 2, node);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = sql_err(db, err, rc, "update node");
	sqlite3_finalize(st);
	return r;
}

int db_report_add(struct db *db, const char *node, const json_t *report, int64_t *ret_id,
		  struct tend_err *err)
{
	struct node_cols c = { 0 };
	const char *status = NULL;
	char *body = NULL, *summary = NULL;
	int64_t id = 0, now = now_secs();
	int r;

	r = check_node_id(node, err);
	if (r == 0)
		r = db_report_status(report, &status, err);
	if (r == 0)
		r = dump(report, DB_REPORT_MAX, "the report", &body, err);
	if (r == 0)
		r = dump(json_object_get(report, "summary"), DB_REPORT_MAX, "the summary", &summary, err);
	if (r < 0)
		goto out;
	c.status = xstrdup(status);
	r = begin(db, err);
	if (r < 0)
		goto out;
	r = node_upsert(db, node, &c, now, err);
	if (r == 0)
		r = report_insert(db, node, now, status, summary, body, &id, err);
	if (r == 0)
		r = commit(db, err);
	else
		rollback(db);
	if (r == 0)
		*ret_id = id;
out:
	node_cols_free(&c);
	free(body);
	free(summary);
	return r;
}

int db_report_list(struct db *db, const char *node, int limit, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	json_t *a;
	int r, rc;

	if (limit <= 0)
		return err_set(err, -EINVAL, "bad limit %d", limit);
	r = prepare(db,
		    "SELECT id, node, time, status, summary FROM reports"
		    " WHERE ?1 IS NULL OR node = ?1 ORDER BY id DESC LIMIT ?2",
		    &st, err);
	if (r < 0)
		return r;
	bind_text(st, 1, node);
	sqlite3_bind_int(st, 2, limit);
	a = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *e = json_object();

		json_object_set_new(e, "id", json_integer(sqlite3_column_int64(st, 0)));
		json_object_set_new(e, "node", col_text(st, 1));
		json_object_set_new(e, "time", col_time(st, 2));
		json_object_set_new(e, "status", col_text(st, 3));
		json_object_set_new(e, "summary", col_json(st, 4));
		json_array_append_new(a, e);
	}
	if (rc != SQLITE_DONE) {
		r = sql_err(db, err, rc, "list reports");
		json_decref(a);
	} else {
		*ret = a;
	}
	sqlite3_finalize(st);
	return r;
}

int db_report_get(struct db *db, int64_t id, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r, rc;

	r = prepare(db, "SELECT id, node, time, status, body FROM reports WHERE id = ?1", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		json_t *e = json_object();

		json_object_set_new(e, "id", json_integer(sqlite3_column_int64(st, 0)));
		json_object_set_new(e, "node", col_text(st, 1));
		json_object_set_new(e, "time", col_time(st, 2));
		json_object_set_new(e, "status", col_text(st, 3));
		json_object_set_new(e, "report", col_json(st, 4));
		*ret = e;
	} else if (rc == SQLITE_DONE) {
		r = err_set(err, -ENOENT, "no report %lld", (long long)id);
	} else {
		r = sql_err(db, err, rc, "get report");
	}
	sqlite3_finalize(st);
	return r;
}
