/*
 * db_token.c - the API tokens in the server database (see db.h).
 *
 * A token is a random bearer secret ("tend_" + 43 base64url characters of
 * 32 bytes from libcrypto's RAND_bytes) with a name and a role.  The secret
 * is shown once, when it is made; the database keeps only its SHA-256, so
 * a copy of tend.db lets no one in.  A request's token is found by the
 * hash of what it presents, and its last use is written at most once a
 * minute, so checking a token costs no fsync per request.
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

#define TOKEN_PREFIX "tend_"
#define TOKEN_RAW 32
#define TOKEN_B64 43 /* base64url of 32 bytes, unpadded */
#define TOKEN_LEN (sizeof(TOKEN_PREFIX) - 1 + TOKEN_B64)
#define TOKEN_NAME_MAX 64
#define TOKEN_TOUCH_SECS 60 /* last_used is refreshed at most this often */

const char *db_role_name(enum db_role r)
{
	switch (r) {
	case DB_ROLE_RO:
		return "ro";
	case DB_ROLE_RW:
		return "rw";
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

	r = db_prepare(db, &st, err,
		       "INSERT INTO tokens (name, role, hash, created) VALUES (?1, ?2, ?3, ?4)",
		       "tttI", name, db_role_name(role), hash, db_now());
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		r = err_set(err, -EEXIST, "a token named '%s' exists already", name);
	else if (rc != SQLITE_DONE)
		r = db_sql_err(db, err, rc, "add token");
	sqlite3_finalize(st);
	return r;
}

/* next_token_number - 1 + the highest id ever given, for "token-N". */
static int64_t next_token_number(struct db *db)
{
	sqlite3_stmt *st;
	int64_t n = 1;

	if (db_prepare(
		    db, &st, NULL,
		    "SELECT coalesce(max(seq), 0) + 1 FROM sqlite_sequence WHERE name = 'tokens'",
		    "") < 0)
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
	if (name && !db_name_ok(name, TOKEN_NAME_MAX))
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
	int64_t id, used, now = db_now();

	if (!secret || !secret_shape_ok(secret))
		return -EACCES;
	if (secret_hash(secret, hash) < 0)
		return -EIO;
	r = db_prepare(db, &st, NULL,
		       "SELECT id, name, role, coalesce(last_used, 0) FROM tokens WHERE hash = ?1",
		       "t", hash);
	if (r < 0)
		return r;
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
	    db_prepare(db, &st, NULL, "UPDATE tokens SET last_used = ?1 WHERE id = ?2", "II", now,
		       id) == 0)
		db_step_done(db, st, "", NULL);
	return 0;
}

static const struct db_col token_cols[] = { { "name", DB_COL_TEXT },
					    { "role", DB_COL_TEXT },
					    { "created", DB_COL_TIME },
					    { "last_used", DB_COL_TIME },
					    { NULL } };

int db_token_list(struct db *db, json_t **ret, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r = db_prepare(db, &st, err,
			   "SELECT name, role, created, last_used FROM tokens ORDER BY name", "");

	return r < 0 ? r : db_rows(db, st, db_row_json, token_cols, "list tokens", ret, err);
}

int db_token_revoke(struct db *db, const char *name, struct tend_err *err)
{
	sqlite3_stmt *st;
	int r, rc;

	r = db_prepare(db, &st, err, "DELETE FROM tokens WHERE name = ?1", "t", name);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = db_sql_err(db, err, rc, "revoke token");
	else if (sqlite3_changes(db->h) == 0)
		r = err_set(err, -ENOENT, "no token named '%s'", name);
	sqlite3_finalize(st);
	return r;
}
