/*
 * db_enroll.c - enrollment in the server database (see db.h): one-time
 * enrollment tokens, requests that wait for an administrator, and the
 * certificates the CA issued, with their revocations.
 *
 * Enrollment tokens are like API tokens (db_token.c): random secrets
 * shown once and stored as SHA-256, but with a longer prefix
 * ("tend_enroll_"), so that one can never be mistaken for an API token,
 * and with an expiry and a number of uses.  A use is claimed in one
 * IMMEDIATE transaction, so two nodes racing for the last use cannot
 * both get it, and refunded when the enrollment then fails.
 *
 * The certs table is the inventory of identities: what the broker lets
 * in (db_cert_active_nodes) and what revoke revokes.  A key is known by
 * the SHA-256 of its public key, so a node polling for its approved
 * certificate may send a fresh CSR for the same key each time.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "db_int.h"
#include "util/strutil.h"

#define ENROLL_PREFIX "tend_enroll_"
#define ENROLL_RAW 32
#define ENROLL_B64 43 /* base64url of 32 bytes, unpadded */
#define ENROLL_LEN (sizeof(ENROLL_PREFIX) - 1 + ENROLL_B64)
#define ENROLL_NAME_MAX 64

/* ---- tokens ---- */

/* secret_hash - SHA-256 hex of s. */
static int secret_hash(const char *s, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL) || n != 32)
		return -EIO;
	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

/* make_secret - "tend_enroll_" + base64url of 32 random bytes. */
static int make_secret(char out[ENROLL_LEN + 1])
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[ENROLL_RAW + 2] = { 0 };
	size_t o = sizeof(ENROLL_PREFIX) - 1;

	if (RAND_bytes(raw, ENROLL_RAW) != 1)
		return -EIO;
	memcpy(out, ENROLL_PREFIX, o);
	/* 32 bytes: ten groups of 3 and 2 left, 43 characters */
	for (size_t i = 0; i < ENROLL_RAW; i += 3) {
		unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
		size_t k = ENROLL_RAW - i >= 3 ? 4 : ENROLL_RAW - i + 1;

		for (size_t j = 0; j < k; j++)
			out[o++] = a[(v >> (18 - 6 * j)) & 63];
	}
	out[o] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return o == ENROLL_LEN ? 0 : -EIO;
}

static bool secret_shape_ok(const char *s)
{
	size_t p = sizeof(ENROLL_PREFIX) - 1;

	return s && strlen(s) == ENROLL_LEN && !strncmp(s, ENROLL_PREFIX, p) &&
	       strspn(s + p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
		       ENROLL_B64;
}

static int tags_check(const json_t *tags, struct tend_err *err)
{
	size_t i;
	json_t *t;

	if (!json_is_array(tags) || json_array_size(tags) > DB_ENROLL_TAGS_MAX)
		return err_set(err, -EINVAL, "tags: a list of at most %d tag names",
			       DB_ENROLL_TAGS_MAX);
	json_array_foreach(tags, i, t) {
		if (!db_name_ok(json_string_value(t), 128))
			return err_set(err, -EINVAL,
				       "bad tag name '%.100s': letters, digits, '.', '-', '_'",
				       json_is_string(t) ? json_string_value(t) : "");
	}
	return 0;
}

/* enroll_insert - one INSERT; -EEXIST when the name is taken. */
static int enroll_insert(struct db *db, const char *name, const char *hash, const char *tags,
			 int64_t ttl, int uses, struct tend_err *err)
{
	sqlite3_stmt *st;
	int64_t now = db_now();
	int r, rc;

	r = db_prepare(db, &st, err,
		       "INSERT INTO enroll_tokens (name, hash, tags, created, expires, uses, "
		       "uses_left) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
		       "tttIIi", name, hash, tags, now, now + ttl, uses);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		r = err_set(err, -EEXIST, "an enrollment token named '%s' exists already", name);
	else if (rc != SQLITE_DONE)
		r = db_sql_err(db, err, rc, "add enrollment token");
	sqlite3_finalize(st);
	return r;
}

int db_enroll_token_create(struct db *db, const char *name, const json_t *tags, int64_t ttl,
			   int uses, char **ret_secret, struct tend_err *err)
{
	char secret[ENROLL_LEN + 1], hash[65], gen[32];
	char *tags_text = NULL;
	int r;

	if (name && !db_name_ok(name, ENROLL_NAME_MAX))
		return err_set(err, -EINVAL,
			       "bad token name '%s': letters, digits, '.', '-', '_', at most %d",
			       name, ENROLL_NAME_MAX);
	if (ttl <= 0 || uses < 1 || uses > DB_ENROLL_USES_MAX)
		return err_set(err, -EINVAL, "an enrollment token needs a ttl > 0 and 1 to %d uses",
			       DB_ENROLL_USES_MAX);
	r = tags_check(tags, err);
	if (r < 0)
		return r;
	if (make_secret(secret) < 0 || secret_hash(secret, hash) < 0)
		return err_set(err, -EIO, "cannot make a token (libcrypto)");
	tags_text = json_dumps(tags, JSON_COMPACT);
	if (name) {
		r = enroll_insert(db, name, hash, tags_text, ttl, uses, err);
	} else {
		sqlite3_stmt *st;
		int64_t n = 1;

		if (db_prepare(db, &st, NULL,
			       "SELECT coalesce(max(seq), 0) + 1 FROM sqlite_sequence "
			       "WHERE name = 'enroll_tokens'",
			       "") == 0) {
			if (sqlite3_step(st) == SQLITE_ROW)
				n = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
		}
		for (int i = 0; i < 100; i++, n++) {
			snprintf(gen, sizeof(gen), "enroll-%lld", (long long)n);
			r = enroll_insert(db, gen, hash, tags_text, ttl, uses, err);
			if (r != -EEXIST)
				break;
		}
	}
	free(tags_text);
	if (r == 0)
		*ret_secret = xstrdup(secret);
	OPENSSL_cleanse(secret, sizeof(secret));
	return r;
}

/* claim_row - check the row st points at and spend one use of it. */
static int claim_row(struct db *db, sqlite3_stmt *st, char **ret_name, json_t **ret_tags,
		     struct tend_err *err)
{
	int64_t id = sqlite3_column_int64(st, 0), now = db_now();
	const char *name = (const char *)sqlite3_column_text(st, 1);
	sqlite3_stmt *up;
	json_t *tags;
	int r;

	if (sqlite3_column_int64(st, 3) <= now)
		return err_set(err, -EKEYEXPIRED, "enrollment token '%s' has expired", name);
	if (sqlite3_column_int64(st, 4) <= 0)
		return err_set(err, -EKEYREVOKED, "enrollment token '%s' was used already", name);
	tags = db_col_json(st, 2);
	if (!json_is_array(tags)) {
		json_decref(tags);
		tags = json_array();
	}
	r = db_prepare(db, &up, err,
		       "UPDATE enroll_tokens SET uses_left = uses_left - 1, last_used = ?1 "
		       "WHERE id = ?2 AND uses_left > 0",
		       "II", now, id);
	if (r == 0)
		r = db_step_done(db, up, "claim enrollment token", err);
	if (r < 0) {
		json_decref(tags);
		return r;
	}
	*ret_name = xstrdup(name);
	*ret_tags = tags;
	return 0;
}

int db_enroll_token_claim(struct db *db, const char *secret, char **ret_name, json_t **ret_tags,
			  struct tend_err *err)
{
	sqlite3_stmt *st;
	char hash[65], *name = NULL;
	json_t *tags = NULL;
	int r, rc;

	if (!secret_shape_ok(secret))
		return err_set(err, -EACCES, "not an enrollment token");
	if (secret_hash(secret, hash) < 0)
		return err_set(err, -EIO, "cannot hash the token (libcrypto)");
	r = db_begin(db, err);
	if (r < 0)
		return r;
	r = db_prepare(db, &st, err,
		       "SELECT id, name, tags, expires, uses_left FROM enroll_tokens "
		       "WHERE hash = ?1",
		       "t", hash);
	if (r == 0) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			r = claim_row(db, st, &name, &tags, err);
		else if (rc == SQLITE_DONE)
			r = err_set(err, -EACCES, "unknown or revoked enrollment token");
		else
			r = db_sql_err(db, err, rc, "find enrollment token");
		sqlite3_finalize(st);
	}
	if (r == 0)
		r = db_commit(db, err);
	else
		db_rollback(db);
	if (r < 0) {
		json_decref(tags);
		free(name);
		return r;
	}
	*ret_name = name;
	*ret_tags = tags;
	return 0;
}

void db_enroll_token_refund(struct db *db, const char *name)
{
	sqlite3_stmt *st;

	if (db_prepare(db, &st, NULL,
		       "UPDATE enroll_tokens SET uses_left = uses_left + 1 "
		       "WHERE name = ?1 AND uses_left < uses",
		       "t", name) == 0)
		db_step_done(db, st, "refund enrollment token", NULL);
}

static const struct db_col enroll_cols[] = {
	{ "name", DB_COL_TEXT },    { "tags", DB_COL_JSON }, { "created", DB_COL_TIME },
	{ "expires", DB_COL_TIME }, { "uses", DB_COL_INT },  { "uses_left", DB_COL_INT },
	{ "last_used", DB_COL_TIME }, { NULL }
};

int db_enroll_token_list(struct db *db, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r = db_prepare(db, &st, err,
			   "SELECT name, tags, created, expires, uses, uses_left, last_used "
			   "FROM enroll_tokens ORDER BY name",
			   "");

	return r < 0 ? r : db_rows(db, st, db_row_json, enroll_cols, "list enrollment tokens",
				   ret, err);
}

int db_enroll_token_revoke(struct db *db, const char *name, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r, rc;

	r = db_prepare(db, &st, err, "DELETE FROM enroll_tokens WHERE name = ?1", "t", name);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = db_sql_err(db, err, rc, "revoke enrollment token");
	else if (sqlite3_changes(db->h) == 0)
		r = err_set(err, -ENOENT, "no enrollment token named '%s'", name);
	sqlite3_finalize(st);
	return r;
}

/* ---- requests waiting for approval ---- */

/* pending_count - how many requests wait. */
static int64_t pending_count(struct db *db)
{
	sqlite3_stmt *st;
	int64_t n = DB_ENROLL_PENDING_MAX;

	if (db_prepare(db, &st, NULL, "SELECT count(*) FROM enroll_pending", "") < 0)
		return n;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* pending_put - the body of db_enroll_pending_put, in a transaction. */
static int pending_put(struct db *db, const char *node, const char *csr, const char *fpr,
		       const char *address, struct tend_err *err)
{
	sqlite3_stmt *st;
	int64_t now = db_now();
	int r, rc;

	r = db_prepare(db, &st, err, "SELECT fingerprint FROM enroll_pending WHERE node = ?1", "t",
		       node);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		bool same = !strcmp((const char *)sqlite3_column_text(st, 0), fpr);

		sqlite3_finalize(st);
		if (!same)
			return err_set(err, -EEXIST,
				       "another request (another key) for node '%s' is waiting for "
				       "approval",
				       node);
		r = db_prepare(db, &st, err, "UPDATE enroll_pending SET polled = ?1 WHERE node = ?2",
			       "It", now, node);
		return r < 0 ? r : db_step_done(db, st, "update request", err);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, err, rc, "find request");
	if (pending_count(db) >= DB_ENROLL_PENDING_MAX)
		return err_set(err, -ENOSPC, "%d enrollment requests are waiting already",
			       DB_ENROLL_PENDING_MAX);
	r = db_prepare(db, &st, err,
		       "INSERT INTO enroll_pending (node, csr, fingerprint, address, requested, "
		       "polled) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
		       "ttttI", node, csr, fpr, address, now);
	if (r == 0)
		r = db_step_done(db, st, "add request", err);
	return r < 0 ? r : 1;
}

int db_enroll_pending_put(struct db *db, const char *node, const char *csr,
			  const char *fingerprint, const char *address, struct tend_err *err)
{
	int r, c;

	if (!db_node_id_ok(node) || !csr || strlen(csr) > DB_CSR_MAX || !fingerprint)
		return err_set(err, -EINVAL, "bad enrollment request");
	r = db_begin(db, err);
	if (r < 0)
		return r;
	r = pending_put(db, node, csr, fingerprint, address, err);
	if (r < 0) {
		db_rollback(db);
		return r;
	}
	c = db_commit(db, err);
	return c < 0 ? c : r;
}

static const struct db_col pending_cols[] = {
	{ "node", DB_COL_TEXT },      { "fingerprint", DB_COL_TEXT }, { "address", DB_COL_TEXT },
	{ "requested", DB_COL_TIME }, { "polled", DB_COL_TIME },      { "csr", DB_COL_TEXT },
	{ NULL }
};

int db_enroll_pending_get(struct db *db, const char *node, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r, rc;

	r = db_prepare(db, &st, err,
		       "SELECT node, fingerprint, address, requested, polled, csr "
		       "FROM enroll_pending WHERE node = ?1",
		       "t", node);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = db_row_json(st, pending_cols);
	else if (rc == SQLITE_DONE)
		r = err_set(err, -ENOENT, "no enrollment request for node '%s'", node);
	else
		r = db_sql_err(db, err, rc, "find request");
	sqlite3_finalize(st);
	return r;
}

int db_enroll_pending_delete(struct db *db, const char *node, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r, rc;

	r = db_prepare(db, &st, err, "DELETE FROM enroll_pending WHERE node = ?1", "t", node);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = db_sql_err(db, err, rc, "delete request");
	else if (sqlite3_changes(db->h) == 0)
		r = err_set(err, -ENOENT, "no enrollment request for node '%s'", node);
	sqlite3_finalize(st);
	return r;
}

int db_enroll_pending_list(struct db *db, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r = db_prepare(db, &st, err,
			   "SELECT node, fingerprint, address, requested, polled "
			   "FROM enroll_pending ORDER BY requested, node",
			   "");

	/* the same columns but the CSR */
	static const struct db_col list_cols[] = {
		{ "node", DB_COL_TEXT },      { "fingerprint", DB_COL_TEXT },
		{ "address", DB_COL_TEXT },   { "requested", DB_COL_TIME },
		{ "polled", DB_COL_TIME },    { NULL }
	};

	return r < 0 ? r : db_rows(db, st, db_row_json, list_cols, "list requests", ret, err);
}

/* ---- certificates ---- */

int db_cert_add(struct db *db, const struct db_cert *c, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r = db_prepare(db, &st, err,
			   "INSERT INTO certs (serial, node, fingerprint, pem, issued, expires, "
			   "issued_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			   "ttttIIt", c->serial, c->node, c->fingerprint, c->pem, db_now(),
			   c->expires, c->issued_by);

	return r < 0 ? r : db_step_done(db, st, "add certificate", err);
}

static const struct db_col cert_cols[] = {
	{ "serial", DB_COL_TEXT },  { "pem", DB_COL_TEXT },	  { "issued", DB_COL_TIME },
	{ "expires", DB_COL_TIME }, { "issued_by", DB_COL_TEXT }, { "revoked", DB_COL_TIME },
	{ NULL }
};

int db_cert_find(struct db *db, const char *node, const char *fingerprint, json_t **ret,
		 struct tend_err *err)
{
	sqlite3_stmt *st;
	int r, rc;

	r = db_prepare(db, &st, err,
		       "SELECT serial, pem, issued, expires, issued_by, revoked FROM certs "
		       "WHERE node = ?1 AND fingerprint = ?2 AND expires > ?3 "
		       "ORDER BY issued DESC, rowid DESC LIMIT 1",
		       "ttI", node, fingerprint, db_now());
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = db_row_json(st, cert_cols);
	else if (rc == SQLITE_DONE)
		r = err_set(err, -ENOENT, "no certificate of node '%s' for that key", node);
	else
		r = db_sql_err(db, err, rc, "find certificate");
	sqlite3_finalize(st);
	return r;
}

bool db_cert_key_revoked(struct db *db, const char *fingerprint)
{
	sqlite3_stmt *st;
	bool found = true; /* when in doubt, the key is refused */

	if (db_prepare(db, &st, NULL,
		       "SELECT 1 FROM certs WHERE fingerprint = ?1 AND revoked IS NOT NULL", "t",
		       fingerprint) < 0)
		return found;
	found = sqlite3_step(st) != SQLITE_DONE;
	sqlite3_finalize(st);
	return found;
}

static json_t *first_column(sqlite3_stmt *st, const struct db_col *cols)
{
	return db_col_text(st, 0);
}

int db_cert_active(struct db *db, const char *node, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r = db_prepare(db, &st, err,
			   "SELECT serial FROM certs WHERE node = ?1 AND revoked IS NULL AND "
			   "expires > ?2 ORDER BY issued",
			   "tI", node, db_now());

	return r < 0 ? r : db_rows(db, st, first_column, NULL, "list certificates", ret, err);
}

int db_cert_revoke(struct db *db, const char *serial, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r, rc;

	r = db_prepare(db, &st, err,
		       "UPDATE certs SET revoked = coalesce(revoked, ?1) WHERE serial = ?2", "It",
		       db_now(), serial);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = db_sql_err(db, err, rc, "revoke certificate");
	else if (sqlite3_changes(db->h) == 0)
		r = err_set(err, -ENOENT, "no certificate with serial %s", serial);
	sqlite3_finalize(st);
	return r;
}

int db_cert_active_nodes(struct db *db, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r = db_prepare(db, &st, err,
			   "SELECT DISTINCT node FROM certs WHERE revoked IS NULL AND expires > ?1 "
			   "ORDER BY node",
			   "I", db_now());

	return r < 0 ? r : db_rows(db, st, first_column, NULL, "list enrolled nodes", ret, err);
}
