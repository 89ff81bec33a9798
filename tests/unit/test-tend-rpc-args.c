/*
 * test-tend-rpc-args.c - the command-line arguments of `tend rpc` and
 * the options of the other commands (src/tend/rpc_args.c, rpc_opts.c):
 * KEY=VALUE keeps numbers and booleans typed and everything else a
 * string, KEY:=JSON takes JSON as it is, bad arguments are refused
 * naming the argument; amounts ("10", "25%") and the filter options.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "rpc.h"

/* args - parse the NULL-terminated arguments; the result as compact JSON text. */
static char *args_json(const char *first, ...)
{
	char *kv[16];
	struct tend_err err = { "" };
	json_t *o = NULL;
	va_list ap;
	char *s;
	int n = 0;

	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *))
		kv[n++] = (char *)a;
	va_end(ap);
	if (rpc_args_parse(kv, n, &o, &err) < 0)
		print_error("rpc_args_parse: %s\n", err.msg);
	assert_non_null(o);
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return s;
}

#define assert_args(want, ...)                             \
	do {                                               \
		char *got_ = args_json(__VA_ARGS__, NULL); \
		assert_string_equal(got_, want);           \
		free(got_);                                \
	} while (0)

static void args_fail(const char *arg, const char *what)
{
	char *kv[] = { (char *)"ok=1", (char *)arg };
	json_t *sentinel = json_string("sentinel"), *o = sentinel;
	struct tend_err err = { "" };

	assert_int_equal(rpc_args_parse(kv, 2, &o, &err), -EINVAL);
	assert_ptr_equal(o, sentinel);
	if (!strstr(err.msg, what))
		print_error("'%s' does not say '%s'\n", err.msg, what);
	assert_non_null(strstr(err.msg, what));
	json_decref(sentinel);
}

static void test_values_that_are_json_numbers_or_booleans_keep_their_type(void **state)
{
	assert_args("{\"count\":3,\"force\":true,\"off\":false,\"ratio\":-1.5}", "count=3",
		    "force=true", "off=false", "ratio=-1.5");
}

static void test_everything_else_is_a_string(void **state)
{
	/* "0644" has a leading zero: not a JSON number, so a mode stays a string */
	assert_args("{\"a\":\"\",\"b\":\"null\",\"e\":\"x=y\",\"mode\":\"0644\",\"name\":\"nginx\","
		    "\"t\":\"True\",\"u\":\"3 apples\"}",
		    "name=nginx", "mode=0644", "b=null", "t=True", "u=3 apples", "a=", "e=x=y");
}

static void test_colon_equals_takes_any_json(void **state)
{
	assert_args("{\"argv\":[\"uptime\",\"-p\"],\"n\":\"3\",\"o\":{\"k\":null}}",
		    "argv:=[\"uptime\", \"-p\"]", "n:=\"3\"", "o:={\"k\": null}");
}

static void test_no_arguments_is_an_empty_object(void **state)
{
	char *none[] = { NULL };
	struct tend_err err = { "" };
	json_t *o = NULL;

	assert_int_equal(rpc_args_parse(none, 0, &o, &err), 0);
	assert_true(json_is_object(o));
	assert_int_equal(json_object_size(o), 0);
	json_decref(o);
}

static void test_bad_arguments_are_refused_by_name(void **state)
{
	args_fail("uptime", "'uptime' is not KEY=VALUE or KEY:=JSON");
	args_fail("=5", "the key must be");
	args_fail("a b=5", "the key must be");
	args_fail("ok=2", "'ok' is given twice");
	args_fail("argv:=[\"x\"", "argument 'argv:=': not JSON");
	args_fail(":=1", "the key must be");
}

static void test_amounts_are_numbers_or_percentages(void **state)
{
	struct rpc_amount a = { -7, true };

	assert_int_equal(rpc_amount_parse("10", false, &a), 0);
	assert_int_equal(a.n, 10);
	assert_false(a.pct);
	assert_int_equal(rpc_amount_parse("25%", false, &a), 0);
	assert_int_equal(a.n, 25);
	assert_true(a.pct);
	assert_int_equal(rpc_amount_parse("0", true, &a), 0);
	assert_int_equal(a.n, 0);
	a = (struct rpc_amount){ -7, true };
	assert_int_equal(rpc_amount_parse("0", false, &a), -EINVAL);
	assert_int_equal(rpc_amount_parse("101%", false, &a), -EINVAL);
	assert_int_equal(rpc_amount_parse("%", false, &a), -EINVAL);
	assert_int_equal(rpc_amount_parse("1.5", false, &a), -EINVAL);
	assert_int_equal(rpc_amount_parse("-1", true, &a), -EINVAL);
	assert_int_equal(rpc_amount_parse("", true, &a), -EINVAL);
	assert_int_equal(a.n, -7); /* untouched */
}

static void test_percentages_round_as_asked(void **state)
{
	struct rpc_amount ten = { 10, true }, three = { 3, false };

	assert_int_equal(rpc_amount_of(ten, 5, true), 1);  /* a batch: at least one */
	assert_int_equal(rpc_amount_of(ten, 5, false), 0); /* a budget: never more */
	assert_int_equal(rpc_amount_of(ten, 100, true), 10);
	assert_int_equal(rpc_amount_of(ten, 101, true), 11);
	assert_int_equal(rpc_amount_of(ten, 101, false), 10);
	assert_int_equal(rpc_amount_of(three, 1000, true), 3);
}

static void test_filter_options_build_the_request_filter(void **state)
{
	struct rpc_opts o = { .timeout = 0 };
	struct tend_err err = { "" };
	json_t *f = NULL;
	char *s;

	assert_int_equal(rpc_opts_filter(&o, &f, &err), 0);
	assert_null(f); /* nothing given: every node */
	assert_int_equal(rpc_opts_take(&o, RPC_OPT_NODE, "web*", &err), 1);
	assert_int_equal(rpc_opts_take(&o, RPC_OPT_NODE, "db01", &err), 1);
	assert_int_equal(rpc_opts_take(&o, RPC_OPT_TAG, "prod", &err), 1);
	assert_int_equal(rpc_opts_take(&o, RPC_OPT_FACT, "memory.total>8G", &err), 1);
	assert_int_equal(rpc_opts_take(&o, 'x', NULL, &err), 0);
	assert_int_equal(rpc_opts_filter(&o, &f, &err), 0);
	s = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"facts\":[\"memory.total>8G\"],\"nodes\":[\"web*\",\"db01\"],"
			       "\"tags\":[\"prod\"]}");
	free(s);
	assert_null(rpc_filter_one_node(f));
	json_decref(f);
	assert_int_equal(rpc_opts_take(&o, RPC_OPT_FACT, "memory.total>>8", &err), 1);
	f = json_string("sentinel");
	assert_int_equal(rpc_opts_filter(&o, &f, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "memory.total>>8"));
	assert_string_equal(json_string_value(f), "sentinel");
	json_decref(f);
	assert_int_equal(rpc_opts_take(&o, RPC_OPT_TAG, "", &err), -EINVAL);
	assert_int_equal(rpc_opts_take(&o, RPC_OPT_TIMEOUT, "0", &err), -EINVAL);
	assert_int_equal(rpc_opts_take(&o, RPC_OPT_TIMEOUT, "1.5s", &err), 1);
	assert_true(o.timeout == 1.5);
	rpc_opts_free(&o);
}

static void test_one_exact_node_goes_to_its_own_subject(void **state)
{
	json_t *f = json_pack("{s:[s]}", "nodes", "web01.example.com");

	assert_string_equal(rpc_filter_one_node(f), "web01.example.com");
	json_decref(f);
	f = json_pack("{s:[s], s:[s]}", "nodes", "web01", "tags", "prod");
	assert_string_equal(rpc_filter_one_node(f), "web01"); /* the node checks the tags */
	json_decref(f);
	f = json_pack("{s:[s]}", "nodes", "web0?");
	assert_null(rpc_filter_one_node(f));
	json_decref(f);
	f = json_pack("{s:[s]}", "nodes", "a.>");
	assert_null(rpc_filter_one_node(f)); /* a subject wildcard is no node name */
	json_decref(f);
	f = json_pack("{s:[s,s]}", "nodes", "a", "b");
	assert_null(rpc_filter_one_node(f));
	json_decref(f);
	assert_null(rpc_filter_one_node(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_that_are_json_numbers_or_booleans_keep_their_type),
		cmocka_unit_test(test_everything_else_is_a_string),
		cmocka_unit_test(test_colon_equals_takes_any_json),
		cmocka_unit_test(test_no_arguments_is_an_empty_object),
		cmocka_unit_test(test_bad_arguments_are_refused_by_name),
		cmocka_unit_test(test_amounts_are_numbers_or_percentages),
		cmocka_unit_test(test_percentages_round_as_asked),
		cmocka_unit_test(test_filter_options_build_the_request_filter),
		cmocka_unit_test(test_one_exact_node_goes_to_its_own_subject),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
