/*
 * test-userdb.c - unit tests for users and groups read from a managed
 * root's etc/passwd and etc/group (util/userdb.h).
 *
 * The temporary root's accounts differ from any host's on purpose
 * ("daemon" is uid 4242 here), so an answer that came from the host's
 * files or NSS instead of the root's would be noticed.  The files mix
 * valid entries with malformed lines that must be skipped without losing
 * the entries that follow them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/userdb.h"

static const char passwd[] =
	"root:x:0:0:root:/root:/bin/bash\n"
	"daemon:x:4242:4242:not the host's daemon:/srv/daemon:/usr/sbin/nologin\n"
	"\n"
	"# a comment is not an entry\n"
	"alice:x:1000:1000:Alice A:/home/alice:/bin/sh\n"
	"bob:x:1001:100::/home/bob:/usr/sbin/nologin\n"
	"fewfields:x:1002:100\n"
	"badid:x:12ab:100::/h:/bin/sh\n"
	"badgid:x:1003:xyz::/h:/bin/sh\n"
	"negative:x:-5:100::/h:/bin/sh\n"
	"toolarge:x:4294967295:100::/h:/bin/sh\n"
	"emptyid:x::100::/h:/bin/sh\n"
	"+nisuser:x:1004:100::/h:/bin/sh\n"
	"-excluded:x:1005:100::/h:/bin/sh\n"
	":x:1006:100::/h:/bin/sh\n"
	"carol:x:1007:1007:Carol:/home/carol:/bin/zsh\n"
	"alice:x:2000:2000:second alice:/elsewhere:/bin/false\n"
	"last:x:1010:1010::/home/last:/bin/sh"; /* no final newline */

static const char group[] = "root:x:0:\n"
			    "users:x:100:alice,bob\n"
			    "wheel:x:10:alice\n"
			    "carol:x:1007:\n"
			    "short:x\n"
			    "badgid:x:abc:alice\n"
			    "+nisgroup:x:300:alice\n"
			    "docker:x:999:bob,alice,\n"
			    "commas:x:500:,,carol,,\n"
			    "daemon:x:4242:\n";

struct fixture {
	char root[256];
	struct fsroot r;
	struct userdb db;
};

static void write_file(const char *root, const char *rel, const char *text)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char p[PATH_MAX];
	struct tend_err err;

	if (!f)
		return -1;
	snprintf(f->root, sizeof(f->root), "/tmp/tend-test-userdb-XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	snprintf(p, sizeof(p), "%s/etc", f->root);
	if (mkdir(p, 0755) < 0)
		return -1;
	write_file(f->root, "/etc/passwd", passwd);
	write_file(f->root, "/etc/group", group);
	if (fsroot_open(&f->r, f->root, &err) < 0)
		return -1;
	userdb_init(&f->db);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[512];

	userdb_free(&f->db);
	fsroot_close(&f->r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	if (system(cmd) != 0)
		print_error("could not remove %s\n", f->root);
	free(f);
	return 0;
}

static void check_uid(struct fixture *f, const char *s, int want_r, uid_t want, const char *file,
		      int line)
{
	uid_t u = 777777;
	int r = userdb_resolve_user(&f->db, &f->r, s, &u);

	_assert_int_equal((uintmax_t)r, (uintmax_t)want_r, file, line);
	_assert_int_equal(u, want_r == 0 ? want : 777777, file, line);
}

static void check_gid(struct fixture *f, const char *s, int want_r, gid_t want, const char *file,
		      int line)
{
	gid_t g = 777777;
	int r = userdb_resolve_group(&f->db, &f->r, s, &g);

	_assert_int_equal((uintmax_t)r, (uintmax_t)want_r, file, line);
	_assert_int_equal(g, want_r == 0 ? want : 777777, file, line);
}

#define assert_uid(f, s, want) check_uid(f, s, 0, want, __FILE__, __LINE__)
#define assert_uid_fails(f, s, e) check_uid(f, s, e, 0, __FILE__, __LINE__)
#define assert_gid(f, s, want) check_gid(f, s, 0, want, __FILE__, __LINE__)
#define assert_gid_fails(f, s, e) check_gid(f, s, e, 0, __FILE__, __LINE__)

/* groups_str - userdb_groups_of as "g1,g2,..." for one comparison. */
static void check_groups(struct fixture *f, const char *name, const char *want, const char *file,
			 int line)
{
	gid_t *v = NULL;
	size_t n = 99;
	char got[256] = "";
	size_t len = 0;
	int r = userdb_groups_of(&f->db, &f->r, name, &v, &n);

	_assert_int_equal((uintmax_t)r, 0, file, line);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%u", i ? "," : "",
					(unsigned)v[i]);
	free(v);
	_assert_string_equal(got, want, file, line);
}

#define assert_groups(f, name, want) check_groups(f, name, want, __FILE__, __LINE__)

/* --- lookups --------------------------------------------------------------------- */

static void user_by_name_gives_every_field(void **state)
{
	struct fixture *f = *state;
	const struct userdb_ent *e = userdb_user_by_name(&f->db, &f->r, "bob");

	assert_non_null(e);
	assert_string_equal(e->name, "bob");
	assert_int_equal(e->id, 1001);
	assert_int_equal(e->gid, 100);
	assert_string_equal(e->home, "/home/bob");
	assert_string_equal(e->shell, "/usr/sbin/nologin");
}

static void user_by_id_finds_the_name(void **state)
{
	struct fixture *f = *state;
	const struct userdb_ent *e;

	e = userdb_user_by_id(&f->db, &f->r, 1007);
	assert_non_null(e);
	assert_string_equal(e->name, "carol");
	e = userdb_user_by_id(&f->db, &f->r, 0);
	assert_non_null(e);
	assert_string_equal(e->name, "root");
	assert_null(userdb_user_by_id(&f->db, &f->r, 31337));
}

static void group_by_name_and_id_with_members(void **state)
{
	struct fixture *f = *state;
	const struct userdb_ent *e;

	e = userdb_group_by_name(&f->db, &f->r, "users");
	assert_non_null(e);
	assert_int_equal(e->id, 100);
	assert_non_null(e->members);
	assert_string_equal(e->members[0], "alice");
	assert_string_equal(e->members[1], "bob");
	assert_null(e->members[2]);
	e = userdb_group_by_id(&f->db, &f->r, 10);
	assert_non_null(e);
	assert_string_equal(e->name, "wheel");
	e = userdb_group_by_name(&f->db, &f->r, "root");
	assert_non_null(e);
	assert_non_null(e->members);
	assert_null(e->members[0]);
	assert_null(userdb_group_by_name(&f->db, &f->r, "nosuchgroup"));
}

static void answers_come_from_the_root_not_the_host(void **state)
{
	struct fixture *f = *state;

	/* a host's daemon is uid 1 or 2; this root's is 4242 */
	assert_uid(f, "daemon", 4242);
	assert_gid(f, "daemon", 4242);
	assert_uid_fails(f, "nobody", -ENOENT); /* in every host's passwd, not in ours */
}

static void first_of_duplicate_entries_wins(void **state)
{
	struct fixture *f = *state;
	const struct userdb_ent *e = userdb_user_by_name(&f->db, &f->r, "alice");

	assert_non_null(e);
	assert_int_equal(e->id, 1000);
	assert_string_equal(e->home, "/home/alice");
	/* the later line still answers by its own id */
	e = userdb_user_by_id(&f->db, &f->r, 2000);
	assert_non_null(e);
	assert_string_equal(e->home, "/elsewhere");
}

/* --- resolving --------------------------------------------------------------------- */

static void resolve_names_to_ids(void **state)
{
	struct fixture *f = *state;

	assert_uid(f, "root", 0);
	assert_uid(f, "alice", 1000);
	assert_uid(f, "carol", 1007);
	assert_gid(f, "users", 100);
	assert_gid(f, "wheel", 10);
	assert_gid(f, "docker", 999);
}

static void numeric_strings_resolve_even_without_an_entry(void **state)
{
	struct fixture *f = *state;

	assert_uid(f, "1000", 1000);
	assert_uid(f, "31337", 31337);
	assert_uid(f, "0", 0);
	assert_uid(f, "4294967294", 4294967294u);
	assert_gid(f, "65534", 65534);
	assert_gid(f, "100", 100);
}

static void unknown_names_are_enoent_and_leave_the_result_untouched(void **state)
{
	struct fixture *f = *state;

	assert_uid_fails(f, "mallory", -ENOENT);
	assert_uid_fails(f, "", -ENOENT);
	assert_uid_fails(f, "-1", -ENOENT);
	assert_uid_fails(f, "4294967295", -ENOENT); /* (uid_t)-1 means "no change" to chown */
	assert_uid_fails(f, " 1000", -ENOENT);
	assert_gid_fails(f, "nosuchgroup", -ENOENT);
	assert_gid_fails(f, "Users", -ENOENT); /* names are case-sensitive */
}

/* --- malformed lines ----------------------------------------------------------------- */

static void malformed_user_lines_are_skipped(void **state)
{
	static const char *const bad[] = {
		"fewfields", "badid",	  "badgid",
		"negative",  "toolarge",  "emptyid",
		"+nisuser",  "-excluded", "# a comment is not an entry"
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (userdb_user_by_name(&f->db, &f->r, bad[i]))
			fail_msg("malformed line for '%s' was read as a user", bad[i]);
	assert_null(userdb_user_by_id(&f->db, &f->r, 1002));
	assert_null(userdb_user_by_id(&f->db, &f->r, 1003));
	assert_null(userdb_user_by_id(&f->db, &f->r, 1004));
	assert_null(userdb_user_by_id(&f->db, &f->r, 1005));
	assert_null(userdb_user_by_id(&f->db, &f->r, 1006)); /* empty name */
	assert_int_equal(f->db.nusers, 7);
}

static void entries_after_malformed_lines_and_without_newline_are_read(void **state)
{
	struct fixture *f = *state;
	const struct userdb_ent *e;

	e = userdb_user_by_name(&f->db, &f->r, "carol");
	assert_non_null(e);
	assert_string_equal(e->shell, "/bin/zsh");
	e = userdb_user_by_name(&f->db, &f->r, "last");
	assert_non_null(e);
	assert_string_equal(e->shell, "/bin/sh");
	assert_non_null(userdb_group_by_name(&f->db, &f->r, "daemon"));
}

static void malformed_group_lines_are_skipped(void **state)
{
	struct fixture *f = *state;

	assert_null(userdb_group_by_name(&f->db, &f->r, "short"));
	assert_null(userdb_group_by_name(&f->db, &f->r, "badgid"));
	assert_null(userdb_group_by_name(&f->db, &f->r, "+nisgroup"));
	assert_null(userdb_group_by_id(&f->db, &f->r, 300));
	assert_int_equal(f->db.ngroups, 7);
}

/* --- supplementary groups -------------------------------------------------------------- */

static void groups_of_lists_groups_naming_the_user_in_file_order(void **state)
{
	struct fixture *f = *state;

	assert_groups(f, "alice", "100,10,999");
	assert_groups(f, "bob", "100,999");
}

static void groups_of_excludes_the_primary_group_and_empty_members(void **state)
{
	struct fixture *f = *state;

	/* carol's primary group 1007 lists no members; "commas" lists her between empty items */
	assert_groups(f, "carol", "500");
	assert_groups(f, "", "");
	assert_groups(f, "nosuchuser", "");
	assert_groups(f, "ali", ""); /* whole names only */
}

/* --- loading ------------------------------------------------------------------------------ */

static void missing_group_file_leaves_groups_empty_but_users_work(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/etc/group", f->root);
	assert_int_equal(unlink(p), 0);
	assert_uid(f, "alice", 1000);
	assert_null(userdb_group_by_name(&f->db, &f->r, "users"));
	assert_gid(f, "100", 100);
	assert_gid_fails(f, "users", -ENOENT);
	assert_groups(f, "alice", "");
}

static void empty_root_has_no_accounts_but_numbers_resolve(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/etc/passwd", f->root);
	assert_int_equal(unlink(p), 0);
	snprintf(p, sizeof(p), "%s/etc/group", f->root);
	assert_int_equal(unlink(p), 0);
	assert_null(userdb_user_by_name(&f->db, &f->r, "root"));
	assert_uid_fails(f, "root", -ENOENT);
	assert_uid(f, "0", 0);
}

static void database_is_cached_until_invalidated(void **state)
{
	struct fixture *f = *state;

	assert_uid_fails(f, "newuser", -ENOENT);
	write_file(f->root, "/etc/passwd", "newuser:x:3000:3000::/home/newuser:/bin/sh\n");
	/* loaded once: the change is not seen yet */
	assert_uid_fails(f, "newuser", -ENOENT);
	assert_uid(f, "alice", 1000);
	userdb_invalidate(&f->db);
	assert_uid(f, "newuser", 3000);
	assert_uid_fails(f, "alice", -ENOENT);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(user_by_name_gives_every_field),
		T(user_by_id_finds_the_name),
		T(group_by_name_and_id_with_members),
		T(answers_come_from_the_root_not_the_host),
		T(first_of_duplicate_entries_wins),
		T(resolve_names_to_ids),
		T(numeric_strings_resolve_even_without_an_entry),
		T(unknown_names_are_enoent_and_leave_the_result_untouched),
		T(malformed_user_lines_are_skipped),
		T(entries_after_malformed_lines_and_without_newline_are_read),
		T(malformed_group_lines_are_skipped),
		T(groups_of_lists_groups_naming_the_user_in_file_order),
		T(groups_of_excludes_the_primary_group_and_empty_members),
		T(missing_group_file_leaves_groups_empty_but_users_work),
		T(empty_root_has_no_accounts_but_numbers_resolve),
		T(database_is_cached_until_invalidated),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
