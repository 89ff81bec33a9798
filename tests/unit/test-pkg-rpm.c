/*
 * test-pkg-rpm.c - unit tests for the rpm/dnf provider's version
 * comparison and query parser (resources/pkg_rpm.h).
 *
 * The rpm_vercmp cases are rpm's own test table (rpmvercmp.at): segments
 * of digits or letters, '~' before the end, '^' after it, separators
 * ignored.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "resources/pkg_rpm.h"

static const struct {
	const char *a, *b;
	int want;
} cases[] = {
	{ "1.0", "1.0", 0 }, { "1.0", "2.0", -1 }, { "2.0.1", "2.0", 1 }, { "2.0.1a", "2.0.1", 1 },
	{ "5.5p1", "5.5p2", -1 }, { "5.5p10", "5.5p1", 1 }, { "10xyz", "10.1xyz", -1 },
	{ "xyz10", "xyz10.1", -1 }, { "xyz.4", "8", -1 }, { "xyz.4", "2", -1 },
	{ "5.5p2", "5.6p1", -1 }, { "6.0.rc1", "6.0", 1 }, { "10b2", "10a1", 1 },
	{ "10a2", "10b2", -1 }, { "1.0a", "1.0aa", -1 }, { "10.0001", "10.1", 0 },
	{ "10.0001", "10.0039", -1 }, { "4.999.9", "5.0", -1 }, { "20101121", "20101122", -1 },
	{ "2_0", "2.0", 0 }, { "a+", "a_", 0 }, { "+a", "_a", 0 }, { "+", "_", 0 },
	{ "1.0~rc1", "1.0", -1 }, { "1.0~rc1", "1.0~rc2", -1 }, { "1.0~rc1~git123", "1.0~rc1", -1 },
	{ "1.0^", "1.0", 1 }, { "1.0^git1", "1.0^git2", -1 }, { "1.0^git1", "1.01", -1 },
	{ "1.0^20160101", "1.0.1", -1 }, { "1.0^20160102", "1.0^20160101^git1", 1 },
	{ "1.0~rc1^git1", "1.0~rc1", 1 }, { "1.0^git1", "1.0^git1~pre", 1 },
};

static void vercmp_matches_rpms_table_both_ways(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = rpm_vercmp(cases[i].a, cases[i].b), back = rpm_vercmp(cases[i].b, cases[i].a);

		if (got != cases[i].want || back != -cases[i].want)
			print_error("rpm_vercmp(\"%s\", \"%s\") = %d (reverse %d), want %d\n", cases[i].a,
				    cases[i].b, got, back, cases[i].want);
		assert_int_equal(got, cases[i].want);
		assert_int_equal(back, -cases[i].want);
	}
}

static void evr_epoch_then_version_then_release(void **state)
{
	(void)state;
	assert_true(rpm_evr_cmp("1:1.0-1", "2.0-1") > 0);
	assert_true(rpm_evr_cmp("0:2.0-1", "2.0-1") == 0);
	assert_true(rpm_evr_cmp("2.0-1", "2.0-2") < 0);
	assert_true(rpm_evr_cmp("2.0-10.el9", "2.0-9.el9") > 0);
	assert_true(rpm_evr_cmp("2.0", "2.0-1") < 0);
}

static void pin_matches_the_parts_it_names(void **state)
{
	(void)state;
	assert_true(rpm_evr_matches("1.0", "1.0-3"));
	assert_true(rpm_evr_matches("1.0-3", "1.0-3"));
	assert_false(rpm_evr_matches("1.0-3", "1.0-4"));
	assert_false(rpm_evr_matches("1.0", "1.0.1-1"));
	assert_true(rpm_evr_matches("2:1.0-1", "2:1.0-1"));
	assert_false(rpm_evr_matches("2:1.0", "1.0-1"));
	assert_true(rpm_evr_matches("0:1.0", "1.0-1"));
}

static void nevra_keeps_highest_and_every_version(void **state)
{
	static const char out[] = "tpkg (none):1.0-1 noarch\n"
				  "tpkg 0:2.0-1 noarch\n"
				  "kernel 0:5.14.0-2 x86_64\n"
				  "kernel 0:5.14.0-10 x86_64\n"
				  "junk line\n"
				  "bash 1:5.1-2 x86_64";
	struct pkg_set s = { 0 };
	const struct pkg_entry *e;

	(void)state;
	assert_int_equal(rpm_nevra_parse(out, &s), 0);
	e = pkg_set_find(&s, "tpkg");
	assert_non_null(e);
	assert_string_equal(e->version, "2.0-1");
	assert_int_equal(e->nversions, 2);
	assert_non_null(pkg_set_find(&s, "tpkg.noarch"));
	assert_string_equal(pkg_set_find(&s, "kernel")->version, "5.14.0-10");
	assert_string_equal(pkg_set_find(&s, "bash.x86_64")->version, "1:5.1-2");
	assert_null(pkg_set_find(&s, "junk"));
	pkg_set_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vercmp_matches_rpms_table_both_ways),
		cmocka_unit_test(evr_epoch_then_version_then_release),
		cmocka_unit_test(pin_matches_the_parts_it_names),
		cmocka_unit_test(nevra_keeps_highest_and_every_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
