/*
 * test-exec-args.c - unit tests for the exec type's command-string helpers
 * (resources/exec_args.h): which strings a shell would interpret, how a
 * plain string splits into argv, exit-status parsing, and argv shown as
 * text a shell would accept.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "resources/exec_args.h"

/* syntax_at - the offset exec_shell_syntax reports, or -1 for none. */
static long syntax_at(const char *s)
{
	const char *p = exec_shell_syntax(s);

	return p ? (long)(p - s) : -1;
}

static void plain_commands_have_no_shell_syntax(void **state)
{
	(void)state;
	assert_int_equal(syntax_at("/usr/local/sbin/rebuild-index --all"), -1);
	assert_int_equal(syntax_at("systemctl  restart\tnginx"), -1);
	assert_int_equal(syntax_at("env FOO=bar /bin/true"), -1);
	assert_int_equal(syntax_at("cp a~ b#c /x/y"), -1);
	assert_int_equal(syntax_at("test -n x=y"), -1);
	assert_int_equal(syntax_at("[ -f /etc/motd ]"), -1);
	assert_int_equal(syntax_at(""), -1);
}

static void every_shell_metacharacter_is_found_where_it_is(void **state)
{
	static const char chars[] = "'\"$`|&;<>*?(){}\\\n\r";

	(void)state;
	for (const char *c = chars; *c; c++) {
		char cmd[32];

		memcpy(cmd, "echo a", 6);
		cmd[6] = *c;
		memcpy(cmd + 7, "b", 2);
		assert_int_equal(syntax_at(cmd), 6);
	}
}

static void tilde_and_hash_count_only_at_the_start_of_a_word(void **state)
{
	(void)state;
	assert_int_equal(syntax_at("ls ~/x"), 3);
	assert_int_equal(syntax_at("~/bin/x"), 0);
	assert_int_equal(syntax_at("echo\t#comment"), 5);
	assert_int_equal(syntax_at("echo a#b a~b"), -1);
}

static void a_leading_assignment_is_shell_syntax(void **state)
{
	(void)state;
	assert_int_equal(syntax_at("FOO=bar /bin/true"), 0);
	assert_int_equal(syntax_at("  _x1=2 cmd"), 2);
	assert_int_equal(syntax_at("1x=2 cmd"), -1);
	assert_int_equal(syntax_at("=x cmd"), -1);
}

static void split_collapses_blanks_and_keeps_words_intact(void **state)
{
	char **v = NULL;

	(void)state;
	assert_int_equal(exec_split("  /bin/echo \t a--b   c ", &v), 0);
	assert_non_null(v);
	assert_string_equal(v[0], "/bin/echo");
	assert_string_equal(v[1], "a--b");
	assert_string_equal(v[2], "c");
	assert_null(v[3]);
	exec_argv_free(v);
}

static void split_of_only_blanks_is_einval_and_leaves_the_output(void **state)
{
	char **v = (char **)0x1;

	(void)state;
	assert_int_equal(exec_split(" \t ", &v), -EINVAL);
	assert_int_equal(exec_split("", &v), -EINVAL);
	assert_ptr_equal(v, (char **)0x1);
	exec_argv_free(NULL);
}

static void argv_dup_copies_and_terminates(void **state)
{
	char *in[] = { "a", "b c", NULL };
	char **v = exec_argv_dup(in, 2);

	(void)state;
	assert_string_equal(v[0], "a");
	assert_string_equal(v[1], "b c");
	assert_ptr_not_equal(v[1], in[1]);
	assert_null(v[2]);
	exec_argv_free(v);
}

static void status_accepts_0_to_255_only(void **state)
{
	int code = 99;

	(void)state;
	assert_int_equal(exec_parse_status("0", &code), 0);
	assert_int_equal(code, 0);
	assert_int_equal(exec_parse_status("255", &code), 0);
	assert_int_equal(code, 255);
	code = 7;
	assert_int_equal(exec_parse_status("256", &code), -EINVAL);
	assert_int_equal(exec_parse_status("-1", &code), -EINVAL);
	assert_int_equal(exec_parse_status("3x", &code), -EINVAL);
	assert_int_equal(exec_parse_status("", &code), -EINVAL);
	assert_int_equal(code, 7);
}

static void argv_text_quotes_only_what_a_shell_would_need(void **state)
{
	char *argv[] = { "/bin/sh", "-c", "echo 'hi' $X", "", "a=b,c:d@e%f+g", NULL };
	struct buf out;

	(void)state;
	buf_init(&out, 0);
	assert_int_equal(exec_argv_text(argv, &out), 0);
	assert_string_equal(buf_str(&out), "/bin/sh -c 'echo '\\''hi'\\'' $X' '' a=b,c:d@e%f+g");
	buf_free(&out);
}

static void argv_text_past_the_buffer_limit_is_e2big(void **state)
{
	char *argv[] = { "0123456789", "abcdef", NULL };
	struct buf out;

	(void)state;
	buf_init(&out, 12);
	assert_int_equal(exec_argv_text(argv, &out), -E2BIG);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_commands_have_no_shell_syntax),
		cmocka_unit_test(every_shell_metacharacter_is_found_where_it_is),
		cmocka_unit_test(tilde_and_hash_count_only_at_the_start_of_a_word),
		cmocka_unit_test(a_leading_assignment_is_shell_syntax),
		cmocka_unit_test(split_collapses_blanks_and_keeps_words_intact),
		cmocka_unit_test(split_of_only_blanks_is_einval_and_leaves_the_output),
		cmocka_unit_test(argv_dup_copies_and_terminates),
		cmocka_unit_test(status_accepts_0_to_255_only),
		cmocka_unit_test(argv_text_quotes_only_what_a_shell_would_need),
		cmocka_unit_test(argv_text_past_the_buffer_limit_is_e2big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
