/*
 * test-buf.c - unit tests for growable, size-limited buffers (util/buf.h).
 *
 * The invariants under test are the ones buf.h promises: data is NULL or
 * NUL-terminated at len, len never passes max, and a refused append
 * (-E2BIG) leaves the buffer exactly as it was, storage included.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/* snapshot - what a refused append must not change. */
struct snapshot {
	char *data;
	size_t len, cap, max;
	char bytes[256];
};

static void take(const struct buf *b, struct snapshot *s)
{
	s->data = b->data;
	s->len = b->len;
	s->cap = b->cap;
	s->max = b->max;
	assert_true(b->len < sizeof(s->bytes));
	if (b->data)
		memcpy(s->bytes, b->data, b->len + 1);
}

static void check_unchanged(const struct buf *b, const struct snapshot *s, const char *file,
			    int line)
{
	_assert_true(b->data == s->data, "data pointer unchanged", file, line);
	_assert_int_equal(b->len, s->len, file, line);
	_assert_int_equal(b->cap, s->cap, file, line);
	_assert_int_equal(b->max, s->max, file, line);
	if (b->data)
		_assert_memory_equal(b->data, s->bytes, s->len + 1, file, line);
}

#define assert_unchanged(b, s) check_unchanged(b, s, __FILE__, __LINE__)

static void check_invariants(const struct buf *b, const char *file, int line)
{
	_assert_true(b->len <= b->max, "len <= max", file, line);
	if (b->data) {
		_assert_true(b->len < b->cap, "len + NUL fits in cap", file, line);
		_assert_int_equal(b->data[b->len], '\0', file, line);
	} else {
		_assert_int_equal(b->len, 0, file, line);
	}
}

#define assert_invariants(b) check_invariants(b, __FILE__, __LINE__)

/* --- empty buffers -------------------------------------------------------- */

static void empty_buffer_reads_as_empty_string_without_allocating(void **state)
{
	struct buf a = BUF_INIT, b;
	(void)state;

	buf_init(&b, 100);
	assert_null(a.data);
	assert_null(b.data);
	assert_string_equal(buf_str(&a), "");
	assert_string_equal(buf_str(&b), "");
	assert_int_equal(a.max, BUF_MAX_DEFAULT);
	assert_int_equal(b.max, 100);
	buf_init(&b, 0);
	assert_int_equal(b.max, BUF_MAX_DEFAULT);
	buf_free(&a);
	buf_free(&b);
	buf_free(NULL);
}

static void adding_nothing_still_gives_a_terminated_string(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;

	assert_int_equal(buf_add(&b, "", 0), 0);
	assert_int_equal(b.len, 0);
	assert_non_null(b.data);
	assert_string_equal(buf_str(&b), "");
	assert_invariants(&b);
	buf_free(&b);
}

/* --- appending ------------------------------------------------------------ */

static void appends_concatenate_and_keep_the_terminator(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;

	assert_int_equal(buf_puts(&b, "ab"), 0);
	assert_int_equal(buf_putc(&b, 'c'), 0);
	assert_int_equal(buf_add(&b, "defXXX", 3), 0);
	assert_int_equal(buf_printf(&b, "-%d-%s", 42, "x"), 0);
	assert_int_equal(b.len, 11);
	assert_string_equal(buf_str(&b), "abcdef-42-x");
	assert_invariants(&b);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
}

static void binary_data_with_nul_bytes_is_kept_by_length(void **state)
{
	static const char bin[] = { 'a', '\0', 'b', '\0', 'c' };
	struct buf b = BUF_INIT;
	(void)state;

	assert_int_equal(buf_add(&b, bin, sizeof(bin)), 0);
	assert_int_equal(buf_putc(&b, '\0'), 0);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, bin, sizeof(bin));
	assert_int_equal(b.data[5], '\0');
	assert_invariants(&b);
	buf_free(&b);
}

static void many_small_appends_grow_the_storage(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;

	for (int i = 0; i < 100000; i++) {
		assert_int_equal(buf_putc(&b, (char)('a' + i % 26)), 0);
	}
	assert_int_equal(b.len, 100000);
	assert_true(b.cap > 100000);
	assert_invariants(&b);
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] != (char)('a' + i % 26))
			fail_msg("byte %zu is '%c'", i, b.data[i]);
	buf_free(&b);
}

static void printf_output_longer_than_the_storage_grows_it(void **state)
{
	struct buf b = BUF_INIT;
	char big[5000];
	(void)state;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(buf_puts(&b, "<"), 0);
	assert_true(b.cap < sizeof(big));
	assert_int_equal(buf_printf(&b, "%s|%05d|%s", big, 7, big), 0);
	assert_int_equal(b.len, 1 + 4999 + 7 + 4999);
	assert_int_equal(b.data[0], '<');
	assert_memory_equal(b.data + 1 + 4999, "|00007|", 7);
	assert_int_equal(b.data[b.len - 1], 'x');
	assert_invariants(&b);
	buf_free(&b);
}

static void printf_of_empty_text_on_a_fresh_buffer_gives_empty_string(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;

	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_str(&b), "");
	assert_invariants(&b);
	buf_free(&b);
}

static int vprintf_helper(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int vprintf_helper(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

static void vprintf_appends_like_printf(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;

	assert_int_equal(vprintf_helper(&b, "%s=%u", "k", 5u), 0);
	assert_int_equal(vprintf_helper(&b, ";%c", 'z'), 0);
	assert_string_equal(buf_str(&b), "k=5;z");
	buf_free(&b);
}

/* --- the limit ------------------------------------------------------------ */

static void appends_up_to_exactly_max_succeed(void **state)
{
	struct buf b;
	(void)state;

	buf_init(&b, 8);
	assert_int_equal(buf_puts(&b, "1234"), 0);
	assert_int_equal(buf_puts(&b, "5678"), 0);
	assert_int_equal(b.len, 8);
	assert_string_equal(buf_str(&b), "12345678");
	assert_invariants(&b);
	buf_free(&b);
}

static void add_past_max_is_refused_and_leaves_buffer_unchanged(void **state)
{
	struct buf b;
	struct snapshot s;
	(void)state;

	buf_init(&b, 8);
	assert_int_equal(buf_puts(&b, "12345"), 0);
	take(&b, &s);
	assert_int_equal(buf_puts(&b, "6789"), -E2BIG);
	assert_unchanged(&b, &s);
	assert_int_equal(buf_add(&b, "6789", 4), -E2BIG);
	assert_unchanged(&b, &s);
	assert_int_equal(buf_add(&b, "x", SIZE_MAX), -E2BIG);
	assert_unchanged(&b, &s);
	/* what still fits is still accepted */
	assert_int_equal(buf_puts(&b, "678"), 0);
	assert_string_equal(buf_str(&b), "12345678");
	assert_int_equal(buf_putc(&b, '9'), -E2BIG);
	assert_string_equal(buf_str(&b), "12345678");
	buf_free(&b);
}

static void printf_past_max_is_refused_and_leaves_buffer_unchanged(void **state)
{
	struct buf b;
	struct snapshot s;
	(void)state;

	buf_init(&b, 10);
	assert_int_equal(buf_printf(&b, "%s", "head"), 0);
	take(&b, &s);
	assert_int_equal(buf_printf(&b, "%d", 1234567), -E2BIG);
	assert_unchanged(&b, &s);
	assert_int_equal(buf_printf(&b, "%d", 123456), 0);
	assert_string_equal(buf_str(&b), "head123456");
	buf_free(&b);
}

static void refused_first_append_leaves_buffer_unallocated(void **state)
{
	struct buf b;
	struct snapshot s;
	(void)state;

	buf_init(&b, 3);
	take(&b, &s);
	assert_int_equal(buf_puts(&b, "toolong"), -E2BIG);
	assert_unchanged(&b, &s);
	assert_null(b.data);
	assert_int_equal(buf_printf(&b, "%s", "toolong"), -E2BIG);
	assert_null(b.data);
	assert_string_equal(buf_str(&b), "");
	buf_free(&b);
}

static void reset_keeps_storage_and_limit_but_empties(void **state)
{
	struct buf b;
	char *data;
	(void)state;

	buf_init(&b, 6);
	assert_int_equal(buf_puts(&b, "abcdef"), 0);
	data = b.data;
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_ptr_equal(b.data, data);
	assert_string_equal(buf_str(&b), "");
	assert_int_equal(b.max, 6);
	/* the whole limit is available again */
	assert_int_equal(buf_puts(&b, "ghijkl"), 0);
	assert_int_equal(buf_putc(&b, 'm'), -E2BIG);
	assert_string_equal(buf_str(&b), "ghijkl");
	buf_free(&b);
	buf_reset(&b); /* on an unallocated buffer: no crash */
	assert_int_equal(b.len, 0);
}

/* --- steal ---------------------------------------------------------------- */

static void steal_hands_over_the_contents_and_empties_the_buffer(void **state)
{
	struct buf b;
	char *s, *data;
	(void)state;

	buf_init(&b, 100);
	assert_int_equal(buf_printf(&b, "%s-%d", "taken", 1), 0);
	data = b.data;
	s = buf_steal(&b);
	assert_ptr_equal(s, data);
	assert_string_equal(s, "taken-1");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, 100);
	assert_string_equal(buf_str(&b), "");
	/* the emptied buffer is usable again, and independent of s */
	assert_int_equal(buf_puts(&b, "new"), 0);
	assert_string_equal(s, "taken-1");
	assert_string_equal(buf_str(&b), "new");
	free(s);
	buf_free(&b);
}

static void steal_of_an_empty_buffer_gives_an_empty_string_not_null(void **state)
{
	struct buf b = BUF_INIT;
	char *s;
	(void)state;

	s = buf_steal(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_buffer_reads_as_empty_string_without_allocating),
		cmocka_unit_test(adding_nothing_still_gives_a_terminated_string),
		cmocka_unit_test(appends_concatenate_and_keep_the_terminator),
		cmocka_unit_test(binary_data_with_nul_bytes_is_kept_by_length),
		cmocka_unit_test(many_small_appends_grow_the_storage),
		cmocka_unit_test(printf_output_longer_than_the_storage_grows_it),
		cmocka_unit_test(printf_of_empty_text_on_a_fresh_buffer_gives_empty_string),
		cmocka_unit_test(vprintf_appends_like_printf),
		cmocka_unit_test(appends_up_to_exactly_max_succeed),
		cmocka_unit_test(add_past_max_is_refused_and_leaves_buffer_unchanged),
		cmocka_unit_test(printf_past_max_is_refused_and_leaves_buffer_unchanged),
		cmocka_unit_test(refused_first_append_leaves_buffer_unallocated),
		cmocka_unit_test(reset_keeps_storage_and_limit_but_empties),
		cmocka_unit_test(steal_hands_over_the_contents_and_empties_the_buffer),
		cmocka_unit_test(steal_of_an_empty_buffer_gives_an_empty_string_not_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
