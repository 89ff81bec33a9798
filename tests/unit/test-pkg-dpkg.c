/*
 * test-pkg-dpkg.c - unit tests for the dpkg/apt provider's parsers and
 * version comparison (resources/pkg_dpkg.h), and the package sets and
 * failure reasons both providers share (resources/pkg_provider.h).
 *
 * Version cases come from dpkg's own rules (deb-version(7)): '~' before
 * everything, letters before other characters, digits as numbers, epochs
 * first.  Status and policy inputs are shaped like what dpkg and
 * apt-cache write, including the parts a naive parser trips on:
 * continuation lines that look like fields, several architectures, apt's
 * notes on unknown names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "resources/pkg_dpkg.h"

static void check_cmp(const char *a, const char *b, int want, const char *file, int line)
{
	int got = dpkg_vercmp(a, b), back = dpkg_vercmp(b, a);

	if (got != want || back != -want)
		print_error("dpkg_vercmp(\"%s\", \"%s\") = %d (reverse %d), want %d\n", a, b, got, back, want);
	_assert_int_equal((uintmax_t)(got + 1), (uintmax_t)(want + 1), file, line);
	_assert_int_equal((uintmax_t)(back + 1), (uintmax_t)(-want + 1), file, line);
}

#define assert_cmp(a, b, want) check_cmp(a, b, want, __FILE__, __LINE__)

static void vercmp_orders_numbers_as_numbers(void **state)
{
	(void)state;
	assert_cmp("1.0", "1.0", 0);
	assert_cmp("1.0", "1.1", -1);
	assert_cmp("1.9", "1.10", -1);
	assert_cmp("2.30-1", "2.3-1", 1);
	assert_cmp("1.001", "1.1", 0);
	assert_cmp("10", "9", 1);
}

static void vercmp_tilde_sorts_before_everything_even_the_end(void **state)
{
	(void)state;
	assert_cmp("1.0~rc1", "1.0", -1);
	assert_cmp("1.0~~", "1.0~", -1);
	assert_cmp("1.0~~a", "1.0~", -1);
	assert_cmp("1.0~rc1", "1.0~rc2", -1);
	assert_cmp("1.0", "1.0+b1", -1);
}

static void vercmp_letters_sort_before_other_characters(void **state)
{
	(void)state;
	assert_cmp("1.0a", "1.0", 1);
	assert_cmp("1.0a", "1.0+", -1);
	assert_cmp("1.0a", "1.0b", -1);
	assert_cmp("1.0Z", "1.0a", -1);
}

static void vercmp_epoch_wins_and_zero_epoch_is_none(void **state)
{
	(void)state;
	assert_cmp("1:0.1", "2.0", 1);
	assert_cmp("0:1.0", "1.0", 0);
	assert_cmp("2:1.0", "10:0.1", -1);
}

static void vercmp_revision_compares_after_upstream(void **state)
{
	(void)state;
	assert_cmp("1.0-1", "1.0-2", -1);
	assert_cmp("1.0", "1.0-1", -1);
	assert_cmp("1.0", "1.0-0", 0);
	assert_cmp("1.0-1-2", "1.0-1-10", -1); /* the last '-' splits */
	assert_cmp("1.0-1ubuntu1", "1.0-1", 1);
	assert_cmp("1.0-1+deb12u1", "1.0-1", 1);
}

static const char status_db[] =
	"Package: hello\n"
	"Status: install ok installed\n"
	"Priority: optional\n"
	"Architecture: amd64\n"
	"Version: 2.10-3\n"
	"Description: says hello\n"
	" a long description whose next line looks like a field\n"
	" Package: fake-in-description\n"
	"\n"
	"Package: gone\n"
	"Status: deinstall ok config-files\n"
	"Architecture: amd64\n"
	"Version: 1.0\n"
	"\n"
	"Package: half\n"
	"Status: install reinstreq half-installed\n"
	"Version: 1.0\n"
	"Architecture: all\n"
	"\n"
	"Package: trig\n"
	"Status: install ok triggers-pending\n"
	"Version: 3\n"
	"Architecture: all\n"
	"\n"
	"Package: libfoo\n"
	"Status: install ok installed\n"
	"Architecture: i386\n"
	"Version: 1.0-i386\n"
	"\n"
	"Package: libfoo\n"
	"Status: install ok installed\n"
	"Architecture: amd64\n"
	"Version: 1.0-amd64\n"
	"\n"
	"Package: onlyforeign\n"
	"Status: install ok installed\n"
	"Architecture: i386\n"
	"Version: 7\n"
	"\n"
	"Package: last\n"
	"Status: install ok installed\n"
	"Architecture: all\n"
	"Version: 9";

static const char *installed(const struct pkg_set *s, const char *key)
{
	const struct pkg_entry *e = pkg_set_find(s, key);

	return e ? e->version : NULL;
}

static void status_keeps_installed_packages_by_name_and_arch(void **state)
{
	struct pkg_set s = { 0 };

	(void)state;
	assert_int_equal(dpkg_status_parse(status_db, strlen(status_db), "amd64", &s), 0);
	assert_string_equal(installed(&s, "hello"), "2.10-3");
	assert_string_equal(installed(&s, "hello:amd64"), "2.10-3");
	assert_string_equal(installed(&s, "trig"), "3");
	assert_string_equal(installed(&s, "last"), "9");
	assert_string_equal(installed(&s, "last:all"), "9");
	assert_string_equal(installed(&s, "last:amd64"), "9");
	assert_null(installed(&s, "hello:i386"));
	pkg_set_free(&s);
}

static void status_skips_removed_and_half_installed_packages(void **state)
{
	struct pkg_set s = { 0 };

	(void)state;
	assert_int_equal(dpkg_status_parse(status_db, strlen(status_db), "amd64", &s), 0);
	assert_null(installed(&s, "gone"));
	assert_null(installed(&s, "half"));
	assert_null(installed(&s, "fake-in-description"));
	pkg_set_free(&s);
}

static void status_name_means_the_native_arch_else_any(void **state)
{
	struct pkg_set s = { 0 };

	(void)state;
	assert_int_equal(dpkg_status_parse(status_db, strlen(status_db), "amd64", &s), 0);
	assert_string_equal(installed(&s, "libfoo"), "1.0-amd64");
	assert_string_equal(installed(&s, "libfoo:i386"), "1.0-i386");
	assert_string_equal(installed(&s, "onlyforeign"), "7");
	pkg_set_free(&s);
	/* the same database seen from an i386 system */
	assert_int_equal(dpkg_status_parse(status_db, strlen(status_db), "i386", &s), 0);
	assert_string_equal(installed(&s, "libfoo"), "1.0-i386");
	pkg_set_free(&s);
}

static void status_without_package_field_is_refused(void **state)
{
	static const char bad[] = "Package: a\nStatus: install ok installed\nVersion: 1\n\n"
				  "Status: install ok installed\nVersion: 2\n";
	struct pkg_set s = { 0 };

	(void)state;
	assert_int_equal(dpkg_status_parse(bad, strlen(bad), "amd64", &s), -EINVAL);
	assert_int_equal(s.n, 0);
}

static void status_empty_database_is_an_empty_set(void **state)
{
	struct pkg_set s = { 0 };

	(void)state;
	assert_int_equal(dpkg_status_parse("", 0, "amd64", &s), 0);
	assert_int_equal(s.n, 0);
	assert_null(pkg_set_find(&s, "hello"));
	pkg_set_free(&s);
}

static const char policy_out[] =
	"hello:\n"
	"  Installed: 1.0\n"
	"  Candidate: 2.0\n"
	"  Version table:\n"
	"     2.0 500\n"
	"        500 file:/tmp/repo ./ Packages\n"
	" *** 1.0 100\n"
	"        500 file:/tmp/repo ./ Packages\n"
	"        100 /root/var/lib/dpkg/status\n"
	"N: Unable to locate package nope\n"
	"local:\n"
	"  Installed: 3.0\n"
	"  Candidate: 3.0\n"
	"  Version table:\n"
	" *** 3.0 100\n"
	"        100 /var/lib/dpkg/status\n"
	"virtual:\n"
	"  Installed: (none)\n"
	"  Candidate: (none)\n"
	"  Version table:\n"
	"libfoo:i386:\n"
	"  Installed: (none)\n"
	"  Candidate: 1.5\n"
	"  Version table:\n"
	"     1.5 500\n"
	"        500 http://deb.example/debian bookworm/main i386 Packages\n";

static void policy_reads_candidate_and_offered_versions(void **state)
{
	struct pkg_set s = { 0 };
	const struct pkg_entry *e;

	(void)state;
	assert_int_equal(apt_policy_parse(policy_out, &s), 0);
	e = pkg_set_find(&s, "hello");
	assert_non_null(e);
	assert_string_equal(e->version, "2.0");
	assert_int_equal(e->nversions, 2);
	assert_string_equal(e->versions[0], "2.0");
	assert_string_equal(e->versions[1], "1.0");
	e = pkg_set_find(&s, "libfoo:i386");
	assert_non_null(e);
	assert_string_equal(e->version, "1.5");
	pkg_set_free(&s);
}

static void policy_status_only_version_is_not_offered(void **state)
{
	struct pkg_set s = { 0 };
	const struct pkg_entry *e;

	(void)state;
	assert_int_equal(apt_policy_parse(policy_out, &s), 0);
	e = pkg_set_find(&s, "local");
	assert_non_null(e);
	assert_string_equal(e->version, "3.0");
	assert_int_equal(e->nversions, 0);
	pkg_set_free(&s);
}

static void policy_none_candidate_and_unknown_names(void **state)
{
	struct pkg_set s = { 0 };
	const struct pkg_entry *e;

	(void)state;
	assert_int_equal(apt_policy_parse(policy_out, &s), 0);
	e = pkg_set_find(&s, "virtual");
	assert_non_null(e);
	assert_null(e->version);
	assert_null(pkg_set_find(&s, "nope"));
	assert_null(pkg_set_find(&s, "N"));
	assert_int_equal(s.n, 4);
	pkg_set_free(&s);
}

static void apt_config_points_everything_at_the_root(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(apt_config_text("/srv/img", false, &b), 0);
	assert_non_null(strstr(buf_str(&b), "Dir \"/srv/img/\";\n"));
	assert_non_null(strstr(buf_str(&b), "Dir::State::status \"/srv/img/var/lib/dpkg/status\";\n"));
	assert_non_null(strstr(buf_str(&b), "DPkg::Options:: \"--root=/srv/img\";\n"));
	assert_null(strstr(buf_str(&b), "Chroot"));
	buf_free(&b);
	/* a root with its own dpkg: apt chroots to run it and the root's hooks */
	buf_init(&b, 0);
	assert_int_equal(apt_config_text("/srv/img", true, &b), 0);
	assert_non_null(strstr(buf_str(&b), "Dir \"/srv/img/\";\n"));
	assert_non_null(strstr(buf_str(&b), "DPkg::Chroot-Directory \"/srv/img\";\n"));
	assert_null(strstr(buf_str(&b), "--root"));
	buf_free(&b);
}

static void apt_config_refuses_what_it_cannot_quote(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(apt_config_text("/srv/a\"b", false, &b), -EINVAL);
	assert_int_equal(apt_config_text("/srv/a;b", true, &b), -EINVAL);
	assert_int_equal(apt_config_text("/srv/a\nDir \"/\"", false, &b), -EINVAL);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void set_merge_keeps_first_or_highest(void **state)
{
	struct pkg_set s = { 0 };

	(void)state;
	pkg_entry_add_version(pkg_set_add(&s, "a", "2"), "2");
	pkg_entry_add_version(pkg_set_add(&s, "a", "10"), "10");
	pkg_set_add(&s, "b", "1");
	pkg_set_finish(&s, NULL);
	assert_int_equal(s.n, 2);
	assert_string_equal(installed(&s, "a"), "2");
	assert_int_equal(pkg_set_find(&s, "a")->nversions, 2);
	pkg_set_free(&s);

	pkg_set_add(&s, "a", "2");
	pkg_set_add(&s, "a", "10");
	pkg_set_add(&s, "a", "9");
	pkg_set_finish(&s, dpkg_vercmp);
	assert_string_equal(installed(&s, "a"), "10");
	pkg_set_free(&s);
}

static void check_why(const char *out, const char *want, const char *file, int line)
{
	static const char *const prefixes[] = { "E: ", NULL };
	struct buf b;
	char why[128];

	buf_init(&b, 0);
	buf_puts(&b, out);
	pkg_why_from_output(&b, prefixes, why, sizeof(why));
	buf_free(&b);
	if (strcmp(why, want))
		print_error("why \"%s\", want \"%s\"\n", why, want);
	_assert_int_equal((uintmax_t)strcmp(why, want), 0, file, line);
}

#define assert_why(out, want) check_why(out, want, __FILE__, __LINE__)

static void why_prefers_error_lines_and_falls_back_to_the_last_lines(void **state)
{
	(void)state;
	assert_why("Reading...\nE: one\nnoise\nE: two\n", "E: one; E: two");
	assert_why("a\nb\nc\nd\n", "b; c; d");
	assert_why("E: 1\nE: 2\nE: 3\nE: 4\n", "E: 1; E: 2; E: 3");
	assert_why("", "(no output)");
	/* a prefix with nothing after it is no reason; lines are trimmed */
	assert_why("E: \nE: real one\n", "E: real one");
	assert_why("  indented  \n", "indented");
	/* progress lines end with \r: what follows the last one is the line */
	assert_why("50%\r100%\rdone\n", "done");
}

static void why_is_bounded_by_its_buffer(void **state)
{
	static const char *const prefixes[] = { "E: ", NULL };
	char why[16];
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	buf_puts(&b, "E: 0123456789abcdefghij\nE: second\n");
	pkg_why_from_output(&b, prefixes, why, sizeof(why));
	buf_free(&b);
	assert_string_equal(why, "E: 0123456789ab");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vercmp_orders_numbers_as_numbers),
		cmocka_unit_test(vercmp_tilde_sorts_before_everything_even_the_end),
		cmocka_unit_test(vercmp_letters_sort_before_other_characters),
		cmocka_unit_test(vercmp_epoch_wins_and_zero_epoch_is_none),
		cmocka_unit_test(vercmp_revision_compares_after_upstream),
		cmocka_unit_test(status_keeps_installed_packages_by_name_and_arch),
		cmocka_unit_test(status_skips_removed_and_half_installed_packages),
		cmocka_unit_test(status_name_means_the_native_arch_else_any),
		cmocka_unit_test(status_without_package_field_is_refused),
		cmocka_unit_test(status_empty_database_is_an_empty_set),
		cmocka_unit_test(policy_reads_candidate_and_offered_versions),
		cmocka_unit_test(policy_status_only_version_is_not_offered),
		cmocka_unit_test(policy_none_candidate_and_unknown_names),
		cmocka_unit_test(apt_config_points_everything_at_the_root),
		cmocka_unit_test(apt_config_refuses_what_it_cannot_quote),
		cmocka_unit_test(set_merge_keeps_first_or_highest),
		cmocka_unit_test(why_prefers_error_lines_and_falls_back_to_the_last_lines),
		cmocka_unit_test(why_is_bounded_by_its_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
