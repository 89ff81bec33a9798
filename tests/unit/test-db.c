/*
 * test-db.c - the server's SQLite state (src/tend-server/db.c): schema
 * migrations and their refusals, tokens (only hashes stored), the audit
 * log's order and paging, nodes, reports and the node status they set,
 * and the size limits on what comes from outside.  Each test works in a
 * fresh temp directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

	snprintf(f->dir, sizeof(f->dir), "/tmp/test-db.XXXXXX");
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

static void reopen(struct fx *f)
{
	struct tend_err err = { { 0 } };

	db_close(f->db);
	f->db = NULL;
	if (db_open(f->path, &f->db, &err) < 0)
		fail_msg("db_open: %s", err.msg);
}

/* raw_exec - run SQL on the file behind db.c's back. */
static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *h;

	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	sqlite3_close(h);
}

static int raw_int(const char *path, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int v = -1;

	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* file_has - whether the file at path contains needle. */
static bool file_has(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "rb");
	char *data;
	long n;
	bool found;

	if (!fp)
		return false;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	data = malloc((size_t)n + 1);
	assert_int_equal(fread(data, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	found = memmem(data, (size_t)n, needle, strlen(needle)) != NULL;
	free(data);
	return found;
}

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* ---- schema ---- */

static void migrates_from_empty(void **state)
{
	struct fx *f = *state;
	struct stat sb;
	int v = db_schema_version(f->db);

	assert_true(v >= 2);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), v);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
					  " AND name IN ('tokens', 'nodes', 'reports', 'audit')"),
			 4);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema WHERE type = 'index'"
					  " AND name IN ('reports_node', 'audit_commit')"),
			 2);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM pragma_journal_mode WHERE"
					  " journal_mode = 'wal'"),
			 1);
	/* a state file of secrets' hashes and facts is the owner's alone */
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void reopen_keeps_data_and_version(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	char *secret = NULL, *name = NULL;
	enum db_role role;
	json_t *n = NULL;
	int v = db_schema_version(f->db);

	assert_int_equal(db_token_create(f->db, "admin", DB_ROLE_RW, &secret, &err), 0);
	assert_int_equal(db_node_seen(f->db, "web1", NULL, &err), 0);
	reopen(f);
	assert_int_equal(db_schema_version(f->db), v);
	assert_int_equal(db_token_check(f->db, secret, &name, &role), 0);
	assert_string_equal(name, "admin");
	assert_int_equal(db_node_get(f->db, "web1", &n, &err), 0);
	assert_string_equal(sget(n, "id"), "web1");
	json_decref(n);
	free(name);
	free(secret);
}

static void newer_schema_is_refused(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	struct db *db = NULL;

	db_close(f->db);
	f->db = NULL;
	raw_exec(f->path, "PRAGMA user_version = 999");
	assert_int_equal(db_open(f->path, &db, &err), -EPROTO);
	assert_null(db);
	assert_non_null(strstr(err.msg, "newer"));
	assert_non_null(strstr(err.msg, "999"));
	/* and the file was left as it was */
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 999);
}

static void foreign_file_is_refused(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	struct db *db = NULL;
	char other[160];

	snprintf(other, sizeof(other), "%s/other.db", f->dir);
	raw_exec(other, "CREATE TABLE t (x)");
	assert_int_equal(db_open(other, &db, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a tend-server database"));
	assert_int_equal(raw_int(other, "SELECT count(*) FROM sqlite_schema"), 1);
}

static void missing_directory_is_an_error(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	struct db *db = NULL;
	char p[192];

	snprintf(p, sizeof(p), "%s/no/such/dir/tend.db", f->dir);
	assert_int_equal(db_open(p, &db, &err), -ENOENT);
	assert_null(db);
	assert_non_null(strstr(err.msg, "no/such/dir"));
}

/* ---- tokens ---- */

static void token_lifecycle(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	char *rw = NULL, *ro = NULL, *name = NULL, wal[160];
	enum db_role role = 0;
	json_t *list = NULL, *t;
	size_t i;

	assert_int_equal(db_token_create(f->db, "admin", DB_ROLE_RW, &rw, &err), 0);
	assert_int_equal(db_token_create(f->db, "reader", DB_ROLE_RO, &ro, &err), 0);
	assert_int_equal(strlen(rw), 5 + 43);
	assert_true(!strncmp(rw, "tend_", 5));
	assert_int_equal(strspn(rw + 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					"0123456789-_"),
			 43);
	assert_string_not_equal(rw, ro);

	assert_int_equal(db_token_check(f->db, rw, &name, &role), 0);
	assert_string_equal(name, "admin");
	assert_int_equal(role, DB_ROLE_RW);
	free(name);
	assert_int_equal(db_token_check(f->db, ro, &name, &role), 0);
	assert_string_equal(name, "reader");
	assert_int_equal(role, DB_ROLE_RO);
	free(name);

	/* a secret one character off, malformed ones */
	rw[10] = rw[10] == 'A' ? 'B' : 'A';
	assert_int_equal(db_token_check(f->db, rw, &name, &role), -EACCES);
	rw[10] = rw[10] == 'A' ? 'B' : 'A';
	assert_int_equal(db_token_check(f->db, "", &name, &role), -EACCES);
	assert_int_equal(db_token_check(f->db, "tend_short", &name, &role), -EACCES);
	assert_int_equal(db_token_check(f->db, NULL, &name, &role), -EACCES);

	/* never stored: neither in the database nor in its write-ahead log */
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_false(file_has(f->path, rw + 5));
	assert_false(file_has(wal, rw + 5));
	assert_false(file_has(f->path, ro + 5));
	assert_false(file_has(wal, ro + 5));
	assert_true(file_has(f->path, "reader") || file_has(wal, "reader"));

	assert_int_equal(db_token_list(f->db, &list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(sget(json_array_get(list, 0), "name"), "admin");
	assert_string_equal(sget(json_array_get(list, 0), "role"), "rw");
	assert_string_equal(sget(json_array_get(list, 1), "role"), "ro");
	json_array_foreach(list, i, t) {
		assert_null(json_object_get(t, "secret"));
		assert_null(json_object_get(t, "hash"));
		assert_non_null(sget(t, "created"));
		assert_non_null(sget(t, "last_used")); /* both were used above */
	}
	json_decref(list);

	assert_int_equal(db_token_revoke(f->db, "admin", &err), 0);
	assert_int_equal(db_token_check(f->db, rw, &name, &role), -EACCES);
	assert_int_equal(db_token_revoke(f->db, "admin", &err), -ENOENT);
	assert_int_equal(db_token_check(f->db, ro, &name, &role), 0);
	free(name);
	free(rw);
	free(ro);
}

static void token_names(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	char *s1 = NULL, *s2 = NULL, *s3 = NULL, *name = NULL;
	enum db_role role;

	assert_int_equal(db_token_create(f->db, "ci", DB_ROLE_RW, &s1, &err), 0);
	assert_int_equal(db_token_create(f->db, "ci", DB_ROLE_RO, &s2, &err), -EEXIST);
	assert_null(s2);
	assert_non_null(strstr(err.msg, "ci"));
	assert_int_equal(db_token_create(f->db, "bad name", DB_ROLE_RO, &s2, &err), -EINVAL);
	assert_int_equal(db_token_create(f->db, "x", (enum db_role)7, &s2, &err), -EINVAL);
	assert_null(s2);

	/* no name: a generated one, different each time */
	assert_int_equal(db_token_create(f->db, NULL, DB_ROLE_RO, &s2, &err), 0);
	assert_int_equal(db_token_create(f->db, NULL, DB_ROLE_RO, &s3, &err), 0);
	assert_int_equal(db_token_check(f->db, s2, &name, &role), 0);
	assert_true(!strncmp(name, "token-", 6));
	free(name);
	assert_int_equal(db_token_check(f->db, s3, &name, &role), 0);
	assert_true(!strncmp(name, "token-", 6));
	free(name);
	free(s1);
	free(s2);
	free(s3);
}

static void roles(void **state)
{
	enum db_role r = 0;

	assert_int_equal(db_role_parse("ro", &r), 0);
	assert_int_equal(r, DB_ROLE_RO);
	assert_int_equal(db_role_parse("rw", &r), 0);
	assert_int_equal(r, DB_ROLE_RW);
	assert_int_equal(db_role_parse("admin", &r), -EINVAL);
	assert_int_equal(db_role_parse(NULL, &r), -EINVAL);
	assert_string_equal(db_role_name(DB_ROLE_RO), "ro");
	assert_string_equal(db_role_name(DB_ROLE_RW), "rw");
}

/* ---- audit ---- */

static void audit_order_and_paging(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	json_t *page = NULL, *e;
	char action[64];
	int64_t last;

	for (int i = 1; i <= 5; i++) {
		struct db_audit a = { .who = "admin",
				      .address = "127.0.0.1",
				      .action = action,
				      .target = "tags/base.yaml",
				      .status = 200 };

		snprintf(action, sizeof(action), "PUT /v1/files/%d", i);
		if (i == 3)
			a.commit = "0123456789abcdef0123456789abcdef01234567";
		if (i == 4) {
			a.status = 403;
			a.detail = "read-only token";
			a.time = 1700000000;
		}
		assert_int_equal(db_audit_add(f->db, &a, &err), 0);
	}
	assert_int_equal(db_audit_list(f->db, 0, 2, &page, &err), 0);
	assert_int_equal(json_array_size(page), 2);
	e = json_array_get(page, 0);
	assert_string_equal(sget(e, "action"), "PUT /v1/files/5");
	assert_string_equal(sget(e, "who"), "admin");
	assert_string_equal(sget(e, "address"), "127.0.0.1");
	assert_string_equal(sget(e, "target"), "tags/base.yaml");
	assert_true(json_is_null(json_object_get(e, "commit")));
	e = json_array_get(page, 1);
	assert_string_equal(sget(e, "action"), "PUT /v1/files/4");
	assert_int_equal(json_integer_value(json_object_get(e, "status")), 403);
	assert_string_equal(sget(e, "detail"), "read-only token");
	assert_string_equal(sget(e, "time"), "2023-11-14T22:13:20Z");
	last = json_integer_value(json_object_get(e, "id"));
	json_decref(page);

	/* the next page starts below the last id seen */
	assert_int_equal(db_audit_list(f->db, last, 10, &page, &err), 0);
	assert_int_equal(json_array_size(page), 3);
	assert_string_equal(sget(json_array_get(page, 0), "action"), "PUT /v1/files/3");
	assert_string_equal(sget(json_array_get(page, 0), "commit"),
			    "0123456789abcdef0123456789abcdef01234567");
	assert_string_equal(sget(json_array_get(page, 2), "action"), "PUT /v1/files/1");
	json_decref(page);

	assert_true(db_audit_has_commit(f->db, "0123456789abcdef0123456789abcdef01234567"));
	assert_false(db_audit_has_commit(f->db, "1123456789abcdef0123456789abcdef01234567"));
	assert_int_equal(db_audit_list(f->db, 0, 0, &page, &err), -EINVAL);
}

static void audit_keeps_long_and_odd_fields(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	char *longpath = malloc(100000);
	json_t *page = NULL;
	struct db_audit a = { .who = "admin", .action = "PUT /v1/files/\xff\xfe", .status = 400 };

	memset(longpath, 'a', 99999);
	longpath[99999] = '\0';
	a.target = longpath;
	assert_int_equal(db_audit_add(f->db, &a, &err), 0);
	assert_int_equal(db_audit_list(f->db, 0, 1, &page, &err), 0);
	/* a request's bytes that are not UTF-8 still give valid JSON */
	assert_string_equal(sget(json_array_get(page, 0), "action"), "PUT /v1/files/??");
	assert_true(strlen(sget(json_array_get(page, 0), "target")) <= 4096);
	json_decref(page);
	free(longpath);
}

/* ---- nodes ---- */

static void nodes_seen_get_list(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	json_t *fields, *n = NULL, *list = NULL, *facts;

	fields = json_pack("{s:{s:s},s:[s,s],s:[s],s:s}", "facts", "os", "debian", "addresses",
			   "10.0.0.2", "fe80::1", "macs", "52:54:00:12:34:56", "status", "new");
	assert_int_equal(db_node_seen(f->db, "web2.example.org", fields, &err), 0);
	json_decref(fields);
	assert_int_equal(db_node_seen(f->db, "db1", NULL, &err), 0);

	/* an update of some fields keeps the others */
	fields = json_pack("{s:s}", "status", "converged");
	assert_int_equal(db_node_seen(f->db, "web2.example.org", fields, &err), 0);
	json_decref(fields);

	assert_int_equal(db_node_get(f->db, "web2.example.org", &n, &err), 0);
	assert_string_equal(sget(n, "status"), "converged");
	assert_string_equal(sget(json_object_get(n, "facts"), "os"), "debian");
	assert_string_equal(json_string_value(json_array_get(json_object_get(n, "addresses"), 1)),
			    "fe80::1");
	assert_int_equal(json_array_size(json_object_get(n, "macs")), 1);
	assert_non_null(sget(n, "first_seen"));
	assert_non_null(sget(n, "last_seen"));
	assert_true(json_is_null(json_object_get(n, "last_report")));
	json_decref(n);

	facts = db_node_facts(f->db, "web2.example.org");
	assert_string_equal(sget(facts, "os"), "debian");
	json_decref(facts);
	assert_null(db_node_facts(f->db, "db1"));
	assert_null(db_node_facts(f->db, "nobody"));

	assert_int_equal(db_node_list(f->db, &list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(sget(json_array_get(list, 0), "id"), "db1");
	assert_string_equal(sget(json_array_get(list, 1), "id"), "web2.example.org");
	assert_null(json_object_get(json_array_get(list, 1), "facts"));
	assert_int_equal(json_array_size(json_object_get(json_array_get(list, 0), "addresses")), 0);
	json_decref(list);

	assert_int_equal(db_node_get(f->db, "nobody", &n, &err), -ENOENT);
}

static void nodes_bad_input(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	json_t *fields;
	char longid[300];

	assert_int_equal(db_node_seen(f->db, "a/b", NULL, &err), -EINVAL);
	assert_int_equal(db_node_seen(f->db, "", NULL, &err), -EINVAL);
	assert_int_equal(db_node_seen(f->db, "..;drop", NULL, &err), -EINVAL);
	memset(longid, 'a', 254);
	longid[254] = '\0';
	assert_int_equal(db_node_seen(f->db, longid, NULL, &err), -EINVAL);
	longid[253] = '\0';
	assert_int_equal(db_node_seen(f->db, longid, NULL, &err), 0);
	assert_true(db_node_id_ok(longid));

	fields = json_pack("{s:s}", "colour", "red");
	assert_int_equal(db_node_seen(f->db, "n1", fields, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "colour"));
	json_decref(fields);
	fields = json_pack("{s:[i]}", "addresses", 1);
	assert_int_equal(db_node_seen(f->db, "n1", fields, &err), -EINVAL);
	json_decref(fields);
	fields = json_pack("{s:[]}", "facts");
	assert_int_equal(db_node_seen(f->db, "n1", fields, &err), -EINVAL);
	json_decref(fields);
	assert_int_equal(db_node_get(f->db, "n1", &fields, &err), -ENOENT);
}

/* ---- reports ---- */

static json_t *report(int changed, int failed, const char *command)
{
	return json_pack("{s:i,s:s,s:s,s:{s:i,s:i,s:i,s:i,s:i,s:i,s:i},s:[{s:s,s:s}]}", "version",
			 1, "command", command, "root", "/", "summary", "total", 3, "ok",
			 3 - changed - failed, "changed", changed, "failed", failed, "skipped", 0,
			 "unknown", 0, "not_converged", 0, "resources", "id", "file:/etc/motd",
			 "status",
			 failed	 ? "failed" :
			 changed ? "changed" :
				   "ok");
}

static void reports_and_status(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	int64_t id1 = 0, id2 = 0, id3 = 0;
	json_t *r, *n = NULL, *list = NULL, *got = NULL;

	r = report(1, 0, "apply");
	assert_int_equal(db_report_add(f->db, "web1", r, &id1, &err), 0);
	json_decref(r);
	assert_int_equal(db_node_get(f->db, "web1", &n, &err), 0); /* created by its report */
	assert_string_equal(sget(n, "status"), "changed");
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(n, "last_report"), "id")), id1);
	json_decref(n);

	r = report(0, 1, "apply");
	assert_int_equal(db_report_add(f->db, "web1", r, &id2, &err), 0);
	json_decref(r);
	r = report(0, 0, "apply");
	assert_int_equal(db_report_add(f->db, "db1", r, &id3, &err), 0);
	json_decref(r);
	assert_true(id1 < id2 && id2 < id3);

	assert_int_equal(db_node_get(f->db, "web1", &n, &err), 0);
	assert_string_equal(sget(n, "status"), "failed");
	assert_string_equal(sget(json_object_get(n, "last_report"), "status"), "failed");
	json_decref(n);
	assert_int_equal(db_node_get(f->db, "db1", &n, &err), 0);
	assert_string_equal(sget(n, "status"), "converged");
	json_decref(n);

	assert_int_equal(db_report_list(f->db, "web1", 50, &list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "id")), id2);
	assert_string_equal(sget(json_array_get(list, 0), "status"), "failed");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_array_get(list, 0), "summary"), "failed")),
			 1);
	assert_null(json_object_get(json_array_get(list, 0), "report"));
	json_decref(list);
	assert_int_equal(db_report_list(f->db, NULL, 2, &list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(sget(json_array_get(list, 0), "node"), "db1");
	json_decref(list);

	assert_int_equal(db_report_get(f->db, id1, &got, &err), 0);
	assert_string_equal(sget(got, "node"), "web1");
	assert_string_equal(sget(got, "status"), "changed");
	assert_string_equal(sget(json_object_get(got, "report"), "command"), "apply");
	assert_string_equal(
		sget(json_array_get(json_object_get(json_object_get(got, "report"), "resources"),
				    0),
		     "id"),
		"file:/etc/motd");
	json_decref(got);
	assert_int_equal(db_report_get(f->db, id3 + 100, &got, &err), -ENOENT);
}

static void report_status_rules(void **state)
{
	const char *s = NULL;
	json_t *r;

	r = report(2, 0, "plan");
	assert_int_equal(db_report_status(r, &s, NULL), 0);
	assert_string_equal(s, "drifted");
	json_decref(r);
	r = report(0, 0, "plan");
	assert_int_equal(db_report_status(r, &s, NULL), 0);
	assert_string_equal(s, "converged");
	json_decref(r);
	r = json_pack("{s:{s:i}}", "summary", "not_converged", 1);
	assert_int_equal(db_report_status(r, &s, NULL), 0);
	assert_string_equal(s, "failed");
	json_decref(r);
	r = json_pack("{s:{s:s}}", "summary", "failed", "many");
	assert_int_equal(db_report_status(r, &s, NULL), -EINVAL);
	json_decref(r);
	r = json_pack("{s:i}", "version", 1);
	assert_int_equal(db_report_status(r, &s, NULL), -EINVAL);
	json_decref(r);
	r = json_pack("[]");
	assert_int_equal(db_report_status(r, &s, NULL), -EINVAL);
	json_decref(r);
}

static void reports_bad_input(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	int64_t id = 0;
	json_t *r = json_pack("{s:i}", "version", 1), *list = NULL;

	assert_int_equal(db_report_add(f->db, "web1", r, &id, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "summary"));
	json_decref(r);
	r = report(0, 0, "apply");
	assert_int_equal(db_report_add(f->db, "../etc", r, &id, &err), -EINVAL);
	json_decref(r);
	assert_int_equal(db_report_list(f->db, NULL, 10, &list, &err), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(db_node_list(f->db, &list, &err), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
}

/* ---- limits ---- */

static json_t *big_string(size_t n)
{
	char *s = malloc(n + 1);
	json_t *j;

	memset(s, 'x', n);
	s[n] = '\0';
	j = json_string(s);
	free(s);
	return j;
}

static void limits(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	json_t *fields, *r, *list = NULL;
	int64_t id = 0;

	/* facts just under 1 MiB pass, over it are refused */
	fields = json_pack("{s:{s:o}}", "facts", "blob", big_string(DB_FACTS_MAX - 64));
	assert_int_equal(db_node_seen(f->db, "n1", fields, &err), 0);
	json_decref(fields);
	fields = json_pack("{s:{s:o}}", "facts", "blob", big_string(DB_FACTS_MAX));
	assert_int_equal(db_node_seen(f->db, "n2", fields, &err), -EFBIG);
	json_decref(fields);
	assert_int_equal(db_node_get(f->db, "n2", &r, &err), -ENOENT);

	r = report(0, 0, "apply");
	json_object_set_new(r, "padding", big_string(DB_REPORT_MAX));
	assert_int_equal(db_report_add(f->db, "n3", r, &id, &err), -EFBIG);
	json_decref(r);
	/* nothing of it was stored, not even the node */
	assert_int_equal(db_report_list(f->db, NULL, 10, &list, &err), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(db_node_get(f->db, "n3", &r, &err), -ENOENT);

	r = report(0, 0, "apply");
	json_object_set_new(r, "padding", big_string(DB_REPORT_MAX - 4096));
	assert_int_equal(db_report_add(f->db, "n3", r, &id, &err), 0);
	json_decref(r);
}

static void users_one_active_certificate_per_name(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	struct db_user a = { "alice", "ops", "0a1b", "PEM", 4102444800LL };
	struct db_user again = { "alice", "ops", "0c2d", "PEM2", 4102444800LL };
	struct db_user bad = { "al ice", "ops", "0e3f", "PEM", 4102444800LL };
	char serial[DB_SERIAL_MAX + 1];
	json_t *list = NULL;

	assert_int_equal(db_user_add(f->db, &a, &err), 0);
	assert_int_equal(db_user_add(f->db, &again, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "exists"));
	assert_int_equal(db_user_add(f->db, &bad, &err), -EINVAL);
	assert_int_equal(db_user_revoke(f->db, "alice", serial, &err), 0);
	assert_string_equal(serial, "0a1b");
	assert_int_equal(db_user_revoke(f->db, "alice", serial, &err), -ENOENT);
	/* revoked, the name can be given a new certificate */
	assert_int_equal(db_user_add(f->db, &again, &err), 0);
	assert_int_equal(db_user_list(f->db, true, &list, &err), 0);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "serial")),
			    "0c2d");
	json_decref(list);
	assert_int_equal(db_user_list(f->db, false, &list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	assert_true(json_is_string(json_object_get(json_array_get(list, 0), "revoked")));
	json_decref(list);
}

static void rpc_audit_filters_and_order(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { { 0 } };
	struct db_rpc_audit_query q = { .limit = 10 };
	json_t *list = NULL, *r;

	for (int i = 0; i < 4; i++) {
		r = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", i % 2 ? "aa" : "bb", "caller",
			      i < 2 ? "alice" : "bob", "action", "ping", "decision",
			      i == 3 ? "refused" : "allowed", "reason", "why");
		assert_int_equal(db_rpc_audit_add(f->db, i ? "n1" : "n2", r, &err), 0);
		json_decref(r);
	}
	r = json_pack("{s:s}", "decision", "maybe");
	assert_int_equal(db_rpc_audit_add(f->db, "n1", r, &err), -EINVAL);
	json_decref(r);
	r = json_pack("{s:s}", "decision", "allowed");
	assert_int_equal(db_rpc_audit_add(f->db, "bad node", r, &err), -EINVAL);
	json_decref(r);
	assert_int_equal(db_rpc_audit_list(&q, f->db, &list, &err), 0);
	assert_int_equal(json_array_size(list), 4);
	/* oldest first, with the server's seq, node and time received */
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "node")),
			    "n2");
	assert_true(json_integer_value(json_object_get(json_array_get(list, 3), "seq")) >
		    json_integer_value(json_object_get(json_array_get(list, 0), "seq")));
	assert_true(json_is_string(json_object_get(json_array_get(list, 0), "received")));
	json_decref(list);
	q.node = "n1";
	q.decision = "refused";
	assert_int_equal(db_rpc_audit_list(&q, f->db, &list, &err), 0);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "caller")),
			    "bob");
	json_decref(list);
	q = (struct db_rpc_audit_query){ .caller = "alice", .request = "aa", .limit = 10 };
	assert_int_equal(db_rpc_audit_list(&q, f->db, &list, &err), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(migrates_from_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(reopen_keeps_data_and_version, setup, teardown),
		cmocka_unit_test_setup_teardown(newer_schema_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(foreign_file_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_directory_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(token_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(token_names, setup, teardown),
		cmocka_unit_test(roles),
		cmocka_unit_test_setup_teardown(users_one_active_certificate_per_name, setup, teardown),
		cmocka_unit_test_setup_teardown(rpc_audit_filters_and_order, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_order_and_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_keeps_long_and_odd_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(nodes_seen_get_list, setup, teardown),
		cmocka_unit_test_setup_teardown(nodes_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(reports_and_status, setup, teardown),
		cmocka_unit_test(report_status_rules),
		cmocka_unit_test_setup_teardown(reports_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(limits, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
