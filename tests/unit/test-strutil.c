/*
 * test-strutil.c - unit tests for checked parsing and "did you mean"
 * suggestions (util/strutil.h).
 *
 * Parsers are checked for what they accept, what they refuse, and that a
 * refused input leaves the out-parameter untouched (the project's "ret_
 * written only on success" rule): every call starts from a sentinel.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/strutil.h"

#define SENTINEL_LL 0x5a5a5a5aLL
#define SENTINEL_MODE 0xdeadu
#define SENTINEL_DUR (-12345.0)

static void check_ll(const char *s, int base, long long min, long long max, int want_r,
		     long long want, const char *file, int line)
{
	long long v = SENTINEL_LL;
	int r = str_to_ll(s, base, min, max, &v);

	if (r != want_r)
		print_error("str_to_ll(\"%s\", %d, %lld, %lld) returned %d\n", s ? s : "(null)",
			    base, min, max, r);
	_assert_int_equal((uintmax_t)r, (uintmax_t)want_r, file, line);
	_assert_int_equal((uintmax_t)v, (uintmax_t)(r == 0 ? want : SENTINEL_LL), file, line);
}

#define assert_ll(s, base, min, max, v) check_ll(s, base, min, max, 0, v, __FILE__, __LINE__)
#define assert_ll_fails(s, base, min, max, e) check_ll(s, base, min, max, e, 0, __FILE__, __LINE__)

static void check_mode(const char *s, int ok, unsigned want, const char *file, int line)
{
	unsigned m = SENTINEL_MODE;
	int r = str_to_mode(s, &m);

	if ((r == 0) != ok)
		print_error("str_to_mode(\"%s\") returned %d\n", s ? s : "(null)", r);
	_assert_int_equal((uintmax_t)r, (uintmax_t)(ok ? 0 : -EINVAL), file, line);
	_assert_int_equal(m, ok ? want : SENTINEL_MODE, file, line);
}

#define assert_mode(s, want) check_mode(s, 1, want, __FILE__, __LINE__)
#define assert_mode_fails(s) check_mode(s, 0, 0, __FILE__, __LINE__)

static void check_duration(const char *s, int ok, double want, const char *file, int line)
{
	double d = SENTINEL_DUR;
	int r = str_to_duration(s, &d);

	if ((r == 0) != ok)
		print_error("str_to_duration(\"%s\") returned %d (value %g)\n", s, r, d);
	_assert_int_equal((uintmax_t)r, (uintmax_t)(ok ? 0 : -EINVAL), file, line);
	if (ok) {
		double diff = d > want ? d - want : want - d;

		if (!(diff <= 1e-9))
			print_error("str_to_duration(\"%s\") gave %.12g, want %.12g\n", s, d, want);
		_assert_true(diff <= 1e-9, "duration value", file, line);
	} else {
		_assert_true(d == SENTINEL_DUR, "out-parameter untouched on failure", file, line);
	}
}

#define assert_duration(s, want) check_duration(s, 1, want, __FILE__, __LINE__)
#define assert_duration_fails(s) check_duration(s, 0, 0, __FILE__, __LINE__)

/* --- str_to_ll ----------------------------------------------------------- */

static void ll_accepts_whole_numbers_within_bounds(void **state)
{
	(void)state;
	assert_ll("0", 10, 0, 10, 0);
	assert_ll("10", 10, 0, 10, 10);
	assert_ll("-5", 10, -5, 5, -5);
	assert_ll("9223372036854775807", 10, LLONG_MIN, LLONG_MAX, LLONG_MAX);
	assert_ll("-9223372036854775808", 10, LLONG_MIN, LLONG_MAX, LLONG_MIN);
	assert_ll("755", 8, 0, 07777, 0755);
	assert_ll("ff", 16, 0, 255, 255);
}

static void ll_bounds_are_inclusive_and_one_past_is_erange(void **state)
{
	(void)state;
	assert_ll("100", 10, 100, 200, 100);
	assert_ll("200", 10, 100, 200, 200);
	assert_ll_fails("99", 10, 100, 200, -ERANGE);
	assert_ll_fails("201", 10, 100, 200, -ERANGE);
	assert_ll_fails("-1", 10, 0, LLONG_MAX, -ERANGE);
	assert_ll_fails("4294967295", 10, 0, 0xfffffffeLL, -ERANGE);
}

static void ll_overflow_of_long_long_is_erange(void **state)
{
	(void)state;
	assert_ll_fails("9223372036854775808", 10, LLONG_MIN, LLONG_MAX, -ERANGE);
	assert_ll_fails("-9223372036854775809", 10, LLONG_MIN, LLONG_MAX, -ERANGE);
	assert_ll_fails("99999999999999999999999", 10, LLONG_MIN, LLONG_MAX, -ERANGE);
}

static void ll_refuses_empty_blank_and_trailing_garbage(void **state)
{
	(void)state;
	assert_ll_fails("", 10, 0, 100, -EINVAL);
	assert_ll_fails(NULL, 10, 0, 100, -EINVAL);
	assert_ll_fails(" 5", 10, 0, 100, -EINVAL);
	assert_ll_fails("\t5", 10, 0, 100, -EINVAL);
	assert_ll_fails("5 ", 10, 0, 100, -EINVAL);
	assert_ll_fails("5\n", 10, 0, 100, -EINVAL);
	assert_ll_fails("12abc", 10, 0, 100, -EINVAL);
	assert_ll_fails("abc", 10, 0, 100, -EINVAL);
	assert_ll_fails("-", 10, 0, 100, -EINVAL);
	assert_ll_fails("1.5", 10, 0, 100, -EINVAL);
	assert_ll_fails("0x10", 10, 0, 100, -EINVAL);
	assert_ll_fails("8", 8, 0, 100, -EINVAL);
}

/* --- str_to_mode ---------------------------------------------------------- */

static void mode_accepts_three_to_five_octal_digits(void **state)
{
	(void)state;
	assert_mode("644", 0644);
	assert_mode("0644", 0644);
	assert_mode("755", 0755);
	assert_mode("000", 0);
	assert_mode("1777", 01777);
	assert_mode("4755", 04755);
	assert_mode("7777", 07777);
	assert_mode("00644", 0644);
	assert_mode("07777", 07777);
}

static void mode_refuses_symbolic_and_non_octal_text(void **state)
{
	(void)state;
	assert_mode_fails("rwx");
	assert_mode_fails("u+rwx");
	assert_mode_fails("0888");
	assert_mode_fails("0649");
	assert_mode_fails("0x1ff");
	assert_mode_fails("-644");
	assert_mode_fails("+644");
	assert_mode_fails(" 644");
	assert_mode_fails("644 ");
	assert_mode_fails("");
	assert_mode_fails(NULL);
}

static void mode_refuses_wrong_length_and_bits_above_07777(void **state)
{
	(void)state;
	assert_mode_fails("12345678");
	assert_mode_fails("64");
	assert_mode_fails("7");
	assert_mode_fails("000644");
	assert_mode_fails("10000");
	assert_mode_fails("77777");
}

/* --- str_to_duration ---------------------------------------------------- */

static void duration_plain_number_and_s_are_seconds(void **state)
{
	(void)state;
	assert_duration("300", 300);
	assert_duration("300s", 300);
	assert_duration("0", 0);
	assert_duration("1.5s", 1.5);
	assert_duration("0.25", 0.25);
}

static void duration_units_ms_m_h_d_scale_to_seconds(void **state)
{
	(void)state;
	assert_duration("250ms", 0.25);
	assert_duration("5m", 300);
	assert_duration("1.5m", 90);
	assert_duration("1h", 3600);
	assert_duration("2d", 172800);
}

static void duration_refuses_negative_unknown_units_and_junk(void **state)
{
	(void)state;
	assert_duration_fails("");
	assert_duration_fails("-1");
	assert_duration_fails("-1s");
	assert_duration_fails("5x");
	assert_duration_fails("5 s");
	assert_duration_fails("5S");
	assert_duration_fails("5min");
	assert_duration_fails("s");
	assert_duration_fails("ms");
	assert_duration_fails(" 5");
	assert_duration_fails("5s ");
	assert_duration_fails("1h30m");
}

static void duration_refuses_nan_and_infinity(void **state)
{
	(void)state;
	/* strtod reads these; a timeout of NaN or infinity seconds is no
	 * duration "like 300, 30s, 5m or 1h". */
	assert_duration_fails("nan");
	assert_duration_fails("NaN");
	assert_duration_fails("inf");
	assert_duration_fails("infinity");
	assert_duration_fails("infs");
	assert_duration_fails("1e999");
}

/* --- str_to_bool ---------------------------------------------------------- */

static void bool_accepts_the_six_words_and_digits_in_any_case(void **state)
{
	static const char *const yes[] = { "true", "TRUE", "True", "yes", "YeS", "on", "ON", "1" };
	static const char *const no[] = { "false", "FALSE", "no", "No", "off", "OFF", "0" };
	(void)state;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		bool b = false;

		assert_int_equal(str_to_bool(yes[i], &b), 0);
		assert_true(b);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		bool b = true;

		assert_int_equal(str_to_bool(no[i], &b), 0);
		assert_false(b);
	}
}

static void bool_refuses_anything_else_and_keeps_the_out_value(void **state)
{
	static const char *const bad[] = { "",	    "2",     "y",     "n",	 "t",  "f",
					   "truee", " true", "true ", "enabled", "-1", "01" };
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool b = true;

		if (str_to_bool(bad[i], &b) != -EINVAL)
			fail_msg("str_to_bool accepted \"%s\"", bad[i]);
		assert_true(b);
	}
}

/* --- edit_distance ---------------------------------------------------------- */

static void edit_distance_counts_insert_delete_substitute(void **state)
{
	(void)state;
	assert_int_equal(edit_distance("", ""), 0);
	assert_int_equal(edit_distance("mode", "mode"), 0);
	assert_int_equal(edit_distance("", "abc"), 3);
	assert_int_equal(edit_distance("abc", ""), 3);
	assert_int_equal(edit_distance("mode", "mod"), 1);
	assert_int_equal(edit_distance("mod", "mode"), 1);
	assert_int_equal(edit_distance("mode", "mide"), 1);
	assert_int_equal(edit_distance("kitten", "sitting"), 3);
	assert_int_equal(edit_distance("intention", "execution"), 5);
}

static void edit_distance_counts_adjacent_transposition_as_one(void **state)
{
	(void)state;
	assert_int_equal(edit_distance("mdoe", "mode"), 1);
	assert_int_equal(edit_distance("fiel", "file"), 1);
	assert_int_equal(edit_distance("ab", "ba"), 1);
	/* optimal string alignment: "ca" -> "abc" is three edits, not two */
	assert_int_equal(edit_distance("ca", "abc"), 3);
}

static void edit_distance_is_symmetric(void **state)
{
	static const char *const w[] = { "",	   "a",	      "mode",	 "mdoe",     "owner",
					 "ensure", "content", "contnet", "directory" };
	(void)state;

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		for (size_t j = 0; j < sizeof(w) / sizeof(w[0]); j++)
			assert_int_equal(edit_distance(w[i], w[j]), edit_distance(w[j], w[i]));
}

static void edit_distance_caps_long_strings_at_32(void **state)
{
	char a[40], b[40];
	(void)state;

	memset(a, 'a', 32);
	a[32] = '\0';
	memset(b, 'b', 32);
	b[32] = '\0';
	assert_int_equal(edit_distance(a, b), 32); /* 32 chars: computed */
	assert_int_equal(edit_distance(a, a), 0);
	memset(a, 'a', 33);
	a[33] = '\0';
	assert_int_equal(edit_distance(a, a), 32); /* 33 chars: capped */
	assert_int_equal(edit_distance(a, "a"), 32);
}

/* --- closest_name ------------------------------------------------------------- */

static const char *const file_attrs[] = { "ensure", "content", "source", "template",
					  "sha256", "mode",    "owner",	 "group",
					  "follow", "force",   NULL };
static const char *const types[] = { "file", "directory", "symlink", "line", "exec", NULL };

static void closest_name_suggests_a_one_edit_typo(void **state)
{
	(void)state;
	assert_string_equal(closest_name("mdoe", file_attrs), "mode");
	assert_string_equal(closest_name("fiel", types), "file");
	assert_string_equal(closest_name("exce", types), "exec");
	assert_string_equal(closest_name("gruop", file_attrs), "group");
	assert_string_equal(closest_name("mode", file_attrs), "mode");
}

static void closest_name_allows_a_third_of_the_length(void **state)
{
	(void)state;
	/* 9 letters: up to 3 edits */
	assert_string_equal(closest_name("dxrxctxry", types), "directory"); /* 3 */
	assert_null(closest_name("dxrxctxrx", types));			    /* 4 */
	/* 8 letters: up to 2 edits */
	assert_string_equal(closest_name("dirctroy", types), "directory"); /* 2 */
	assert_null(closest_name("dxrxctoy", types));			   /* 3 */
	/* 6 letters: up to 2 edits */
	assert_string_equal(closest_name("cotnet", file_attrs), "content"); /* 2 */
	assert_string_equal(closest_name("xxsure", file_attrs), "ensure");  /* 2 */
	assert_null(closest_name("xxxure", file_attrs));		    /* 3 */
}

static void closest_name_short_words_get_at_least_one_edit(void **state)
{
	(void)state;
	/* len/3 is 0 or 1 here; the limit is max(1, len/3) */
	assert_string_equal(closest_name("mod", file_attrs), "mode");
	assert_string_equal(closest_name("lin", types), "line");
	assert_null(closest_name("md", file_attrs));
	assert_null(closest_name("xyz", types));
	assert_null(closest_name("fxxe", types)); /* 2 edits from "file", limit 1 */
}

static void closest_name_returns_null_for_an_empty_list(void **state)
{
	static const char *const none[] = { NULL };
	(void)state;

	assert_null(closest_name("mode", none));
}

static void closest_name_prefers_the_first_of_equally_close_names(void **state)
{
	static const char *const ab[] = { "cat", "bat", NULL };
	static const char *const ba[] = { "bat", "cat", NULL };
	(void)state;

	assert_string_equal(closest_name("hat", ab), "cat");
	assert_string_equal(closest_name("hat", ba), "bat");
	/* a closer later name still wins */
	assert_string_equal(closest_name("bat", ab), "bat");
}

/* --- str_has_prefix / xstrdup --------------------------------------------------- */

static void has_prefix_matches_only_at_the_start(void **state)
{
	(void)state;
	assert_true(str_has_prefix("0o755", "0o"));
	assert_true(str_has_prefix("abc", ""));
	assert_true(str_has_prefix("abc", "abc"));
	assert_false(str_has_prefix("ab", "abc"));
	assert_false(str_has_prefix("xabc", "abc"));
}

static void xstrdup_copies_and_passes_null_through(void **state)
{
	const char *s = "text";
	char *p;
	(void)state;

	assert_null(xstrdup(NULL));
	p = xstrdup(s);
	assert_non_null(p);
	assert_ptr_not_equal(p, s);
	assert_string_equal(p, "text");
	free(p);
}

/* xgrow: room for element n, doubling, so n appends copy O(log n) times */
static void xgrow_doubles_and_keeps_the_elements(void **state)
{
	size_t cap = 0, grew = 0, last_cap = 0;
	int *a = NULL;

	(void)state;
	for (size_t n = 0; n < 100000; n++) {
		a = xgrow(a, n, &cap, sizeof(*a));
		assert_true(cap > n);
		if (cap != last_cap) {
			grew++;
			last_cap = cap;
		}
		a[n] = (int)n;
	}
	for (size_t n = 0; n < 100000; n++)
		assert_int_equal(a[n], (int)n);
	assert_true(grew <= 20);
	/* room enough already: the same array, the same room */
	assert_ptr_equal(xgrow(a, 10, &cap, sizeof(*a)), a);
	assert_int_equal(cap, last_cap);
	free(a);
}

static void utf8_checks_every_sequence(void **state)
{
	(void)state;
	assert_true(utf8_ok(""));
	assert_true(utf8_ok("plain ascii"));
	assert_true(utf8_ok("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
	assert_false(utf8_ok("\xfe"));
	assert_false(utf8_ok("\xc3"));              /* cut short */
	assert_false(utf8_ok("\xe2\x82"));         /* cut short */
	assert_false(utf8_ok("\xc0\xaf"));         /* overlong */
	assert_false(utf8_ok("\xed\xa0\x80"));     /* surrogate */
	assert_false(utf8_ok("\xf4\x90\x80\x80")); /* past U+10FFFF */
	assert_false(utf8_ok("\x80"));              /* a continuation alone */
	/* with a length: no NUL inside, nothing read past it */
	assert_true(utf8_valid("ab", 2));
	assert_false(utf8_valid("a\0b", 3));
	assert_false(utf8_valid("\xc3\xa9", 1));
	assert_true(utf8_valid("\xc3\xa9", 2));
	assert_int_equal(utf8_seq_len((const unsigned char *)"\xe2\x82\xac", 3), 3);
	assert_int_equal(utf8_seq_len((const unsigned char *)"\xe2\x82\xac", 2), 0);
	assert_int_equal(utf8_seq_len((const unsigned char *)"x", 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ll_accepts_whole_numbers_within_bounds),
		cmocka_unit_test(ll_bounds_are_inclusive_and_one_past_is_erange),
		cmocka_unit_test(ll_overflow_of_long_long_is_erange),
		cmocka_unit_test(ll_refuses_empty_blank_and_trailing_garbage),
		cmocka_unit_test(mode_accepts_three_to_five_octal_digits),
		cmocka_unit_test(mode_refuses_symbolic_and_non_octal_text),
		cmocka_unit_test(mode_refuses_wrong_length_and_bits_above_07777),
		cmocka_unit_test(duration_plain_number_and_s_are_seconds),
		cmocka_unit_test(duration_units_ms_m_h_d_scale_to_seconds),
		cmocka_unit_test(duration_refuses_negative_unknown_units_and_junk),
		cmocka_unit_test(duration_refuses_nan_and_infinity),
		cmocka_unit_test(bool_accepts_the_six_words_and_digits_in_any_case),
		cmocka_unit_test(bool_refuses_anything_else_and_keeps_the_out_value),
		cmocka_unit_test(edit_distance_counts_insert_delete_substitute),
		cmocka_unit_test(edit_distance_counts_adjacent_transposition_as_one),
		cmocka_unit_test(edit_distance_is_symmetric),
		cmocka_unit_test(edit_distance_caps_long_strings_at_32),
		cmocka_unit_test(closest_name_suggests_a_one_edit_typo),
		cmocka_unit_test(closest_name_allows_a_third_of_the_length),
		cmocka_unit_test(closest_name_short_words_get_at_least_one_edit),
		cmocka_unit_test(closest_name_returns_null_for_an_empty_list),
		cmocka_unit_test(closest_name_prefers_the_first_of_equally_close_names),
		cmocka_unit_test(has_prefix_matches_only_at_the_start),
		cmocka_unit_test(xstrdup_copies_and_passes_null_through),
		cmocka_unit_test(xgrow_doubles_and_keeps_the_elements),
		cmocka_unit_test(utf8_checks_every_sequence),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
