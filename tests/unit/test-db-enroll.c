/*
 * test-db-enroll.c - enrollment state in the server database
 * (src/tend-server/db_enroll.c): enrollment tokens (hashed, expiring,
 * counted uses, never two claims for the last use), requests waiting for
 * approval (first key wins, bounded), and the certificates issued, which
 * decide who the broker lets in.  Each test works in a fresh temp
 * directory.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "db.h"

struct fx {
	char dir[64];
	char path[128];
	struct db *db;
};

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct tend_err err = { { 0 } };

	snprintf(f->dir, sizeof(f->dir), "/tmp/test-db-enroll.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/tend.db", f->dir);
	if (db_open(f->path, &f->db, &err) < 0)
		fail_msg("db_open: %s", err.msg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	db_close(f->db);
	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* token - a new enrollment token's secret (tags "a,b" as JSON text). */
static char *token(struct db *db, const char *name, const char *tags, int64_t ttl, int uses)
{
	struct tend_err err = { { 0 } };
	json_t *t = json_loads(tags, 0, NULL);
	char *secret = NULL;

	assert_non_null(t);
	if (db_enroll_token_create(db, name, t, ttl, uses, &secret, &err) < 0)
		fail_msg("db_enroll_token_create: %s", err.msg);
	json_decref(t);
	return secret;
}

/* claim - db_enroll_token_claim's result; the name and tags are dropped. */
static int claim(struct db *db, const char *secret)
{
	struct tend_err err = { { 0 } };
	json_t *tags = NULL;
	char *name = NULL;
	int r = db_enroll_token_claim(db, secret, &name, &tags, &err);

	free(name);
	json_decref(tags);
	return r;
}

static void token_is_shown_once_and_stored_hashed(void **state)
{
	struct fx *f = *state;
	char *secret = token(f->db, "t1", "[\"base\", \"web\"]", 3600, 1);
	sqlite3 *h;
	sqlite3_stmt *st;
	char *name = NULL;
	json_t *tags = NULL;
	struct tend_err err = { { 0 } };

	assert_int_equal(strncmp(secret, "tend_enroll_", 12), 0);
	assert_int_equal(strlen(secret), 12 + 43);
	assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT hash FROM enroll_tokens", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_null(strstr((const char *)sqlite3_column_text(st, 0), secret + 12));
	assert_int_equal(strlen((const char *)sqlite3_column_text(st, 0)), 64);
	sqlite3_finalize(st);
	sqlite3_close(h);
	assert_int_equal(db_enroll_token_claim(f->db, secret, &name, &tags, &err), 0);
	assert_string_equal(name, "t1");
	assert_int_equal(json_array_size(tags), 2);
	assert_string_equal(json_string_value(json_array_get(tags, 1)), "web");
	free(name);
	json_decref(tags);
	free(secret);
}

static void token_uses_are_counted_and_refunded(void **state)
{
	struct fx *f = *state;
	char *secret = token(f->db, "t2", "[]", 3600, 2);

	assert_int_equal(claim(f->db, secret), 0);
	assert_int_equal(claim(f->db, secret), 0);
	assert_int_equal(claim(f->db, secret), -EKEYREVOKED);
	db_enroll_token_refund(f->db, "t2");
	assert_int_equal(claim(f->db, secret), 0);
	assert_int_equal(claim(f->db, secret), -EKEYREVOKED);
	/* a refund never gives more than the token had */
	db_enroll_token_refund(f->db, "t2");
	db_enroll_token_refund(f->db, "t2");
	db_enroll_token_refund(f->db, "t2");
	assert_int_equal(claim(f->db, secret), 0);
	assert_int_equal(claim(f->db, secret), 0);
	assert_int_equal(claim(f->db, secret), -EKEYREVOKED);
	free(secret);
}

static void token_claimed_through_two_connections_gives_the_last_use_once(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	struct db *other = NULL;
	char *secret = token(f->db, "t3", "[]", 3600, 1);
	int a, b;

	assert_int_equal(db_open(f->path, &other, &err), 0);
	a = claim(f->db, secret);
	b = claim(other, secret);
	assert_true((a == 0) != (b == 0));
	db_close(other);
	free(secret);
}

static void token_expired_unknown_or_revoked_is_refused(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	char *secret = token(f->db, "t4", "[]", 1, 5);
	char *other = token(f->db, "t5", "[]", 3600, 5);
	char fake[80];

	sleep(2);
	assert_int_equal(claim(f->db, secret), -EKEYEXPIRED);
	snprintf(fake, sizeof(fake), "%s", other);
	fake[20] = fake[20] == 'A' ? 'B' : 'A';
	assert_int_equal(claim(f->db, fake), -EACCES);
	assert_int_equal(claim(f->db, "tend_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), -EACCES);
	assert_int_equal(claim(f->db, ""), -EACCES);
	assert_int_equal(db_enroll_token_revoke(f->db, "t5", &err), 0);
	assert_int_equal(claim(f->db, other), -EACCES);
	assert_int_equal(db_enroll_token_revoke(f->db, "t5", &err), -ENOENT);
	free(secret);
	free(other);
}

static void token_arguments_are_checked(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	json_t *tags = json_pack("[s]", "bad tag");
	json_t *none = json_array();
	char *secret = NULL;

	assert_int_equal(db_enroll_token_create(f->db, NULL, tags, 60, 1, &secret, &err), -EINVAL);
	assert_int_equal(db_enroll_token_create(f->db, NULL, none, 0, 1, &secret, &err), -EINVAL);
	assert_int_equal(db_enroll_token_create(f->db, NULL, none, 60, 0, &secret, &err), -EINVAL);
	assert_int_equal(db_enroll_token_create(f->db, "a b", none, 60, 1, &secret, &err), -EINVAL);
	assert_null(secret);
	assert_int_equal(db_enroll_token_create(f->db, NULL, none, 60, 1, &secret, &err), 0);
	free(secret);
	secret = NULL;
	assert_int_equal(db_enroll_token_create(f->db, "enroll-1", none, 60, 1, &secret, &err),
			 -EEXIST);
	json_decref(tags);
	json_decref(none);
}

static void pending_first_key_wins_and_is_bounded(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	json_t *p = NULL, *list = NULL;
	char node[32];

	assert_int_equal(db_enroll_pending_put(f->db, "n1", "CSR1", "f1", "10.0.0.1", &err), 1);
	assert_int_equal(db_enroll_pending_put(f->db, "n1", "CSR1b", "f1", "10.0.0.1", &err), 0);
	assert_int_equal(db_enroll_pending_put(f->db, "n1", "CSR2", "f2", "10.0.0.2", &err),
			 -EEXIST);
	assert_int_equal(db_enroll_pending_get(f->db, "n1", &p, &err), 0);
	assert_string_equal(json_string_value(json_object_get(p, "csr")), "CSR1");
	assert_string_equal(json_string_value(json_object_get(p, "fingerprint")), "f1");
	json_decref(p);
	for (int i = 1; i < DB_ENROLL_PENDING_MAX; i++) {
		snprintf(node, sizeof(node), "m%d", i);
		assert_int_equal(db_enroll_pending_put(f->db, node, "C", "f", NULL, &err), 1);
	}
	assert_int_equal(db_enroll_pending_put(f->db, "one-more", "C", "f", NULL, &err), -ENOSPC);
	assert_int_equal(db_enroll_pending_list(f->db, &list, &err), 0);
	assert_int_equal(json_array_size(list), DB_ENROLL_PENDING_MAX);
	assert_null(json_object_get(json_array_get(list, 0), "csr"));
	json_decref(list);
	assert_int_equal(db_enroll_pending_delete(f->db, "n1", &err), 0);
	assert_int_equal(db_enroll_pending_delete(f->db, "n1", &err), -ENOENT);
	assert_int_equal(db_enroll_pending_get(f->db, "n1", &p, &err), -ENOENT);
	assert_int_equal(db_enroll_pending_put(f->db, "n1", "CSR2", "f2", NULL, &err), 1);
}

static void certificates_decide_who_the_broker_lets_in(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	int64_t year = (int64_t)time(NULL) + 365 * 86400;
	struct db_cert a = { "aa01", "web1", "fa", "PEM-A", year, "enroll:t" };
	struct db_cert b = { "bb02", "db1", "fb", "PEM-B", year, "approve:admin" };
	struct db_cert old = { "cc03", "old1", "fc", "PEM-C", (int64_t)time(NULL) - 10, "x" };
	json_t *nodes = NULL, *c = NULL, *active = NULL;

	assert_int_equal(db_cert_add(f->db, &a, &err), 0);
	assert_int_equal(db_cert_add(f->db, &b, &err), 0);
	assert_int_equal(db_cert_add(f->db, &old, &err), 0);
	assert_int_equal(db_cert_add(f->db, &a, &err), -EEXIST);
	assert_int_equal(db_cert_active_nodes(f->db, &nodes, &err), 0);
	assert_int_equal(json_array_size(nodes), 2);
	assert_string_equal(json_string_value(json_array_get(nodes, 0)), "db1");
	assert_string_equal(json_string_value(json_array_get(nodes, 1)), "web1");
	json_decref(nodes);
	assert_int_equal(db_cert_find(f->db, "web1", "fa", &c, &err), 0);
	assert_string_equal(json_string_value(json_object_get(c, "pem")), "PEM-A");
	assert_true(json_is_null(json_object_get(c, "revoked")));
	json_decref(c);
	assert_int_equal(db_cert_find(f->db, "web1", "fb", &c, &err), -ENOENT);
	/* an expired one is not answered again */
	assert_int_equal(db_cert_find(f->db, "old1", "fc", &c, &err), -ENOENT);
	assert_false(db_cert_key_revoked(f->db, "fa"));
	assert_int_equal(db_cert_revoke(f->db, "aa01", &err), 0);
	assert_int_equal(db_cert_revoke(f->db, "aa01", &err), 0);
	assert_int_equal(db_cert_revoke(f->db, "ffff", &err), -ENOENT);
	assert_true(db_cert_key_revoked(f->db, "fa"));
	assert_int_equal(db_cert_active(f->db, "web1", &active, &err), 0);
	assert_int_equal(json_array_size(active), 0);
	json_decref(active);
	assert_int_equal(db_cert_active_nodes(f->db, &nodes, &err), 0);
	assert_int_equal(json_array_size(nodes), 1);
	assert_string_equal(json_string_value(json_array_get(nodes, 0)), "db1");
	json_decref(nodes);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(token_is_shown_once_and_stored_hashed),
		T(token_uses_are_counted_and_refunded),
		T(token_claimed_through_two_connections_gives_the_last_use_once),
		T(token_expired_unknown_or_revoked_is_refused),
		T(token_arguments_are_checked),
		T(pending_first_key_wins_and_is_bounded),
		T(certificates_decide_who_the_broker_lets_in),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
