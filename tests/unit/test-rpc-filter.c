/*
 * test-rpc-filter.c - unit tests for request filters (rpc/rpc.h): which
 * nodes a broadcast is for.  Each test states a node (name, tags, facts
 * as a real agent reports them) and filters that must and must not pick
 * it; invalid filters are refused by rpc_filter_check with the reason
 * and pick no node at all.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rpc/rpc.h"

/* A node: web01, tags [base, web, production], facts of a Debian box with 16 GiB. */
static const char facts_json[] =
	"{\"os\": {\"id\": \"debian\", \"version_id\": \"12\", \"family\": \"debian\"},"
	" \"memory\": {\"total\": 17179869184, \"total_h\": \"16.0 GiB\"},"
	" \"processors\": {\"count\": 4, \"models\": [\"Xeon\", \"Xeon\"]},"
	" \"virtual\": {\"container\": false}, \"load\": 0.75}";

static json_t *tags, *facts;
static struct rpc_self self;

static int setup(void **state)
{
	tags = json_pack("[sss]", "base", "web", "production");
	facts = json_loads(facts_json, 0, NULL);
	self.node = "web01";
	self.tags = tags;
	self.facts = facts;
	return tags && facts ? 0 : -1;
}

static int teardown(void **state)
{
	json_decref(tags);
	json_decref(facts);
	return 0;
}

/* matches - whether the filter in JSON text picks self (and it is valid). */
static bool matches(const char *text)
{
	json_error_t je;
	json_t *f = json_loads(text, 0, &je);
	struct tend_err err = { "" };
	bool m;

	if (!f)
		fail_msg("bad test filter %s: %s", text, je.text);
	if (rpc_filter_check(f, &err) < 0)
		fail_msg("filter %s refused: %s", text, err.msg);
	m = rpc_filter_match(f, &self);
	json_decref(f);
	return m;
}

/* refused - rpc_filter_check refuses the filter saying why, and it matches nothing. */
static void refused(const char *text, const char *why)
{
	json_t *f = json_loads(text, JSON_DECODE_ANY, NULL);
	struct tend_err err = { "" };

	assert_non_null(f);
	assert_int_equal(rpc_filter_check(f, &err), -EINVAL);
	if (!strstr(err.msg, why))
		fail_msg("'%s' does not say '%s'", err.msg, why);
	assert_false(rpc_filter_match(f, &self));
	json_decref(f);
}

static void no_filter_or_an_empty_one_picks_every_node(void **state)
{
	assert_int_equal(rpc_filter_check(NULL, NULL), 0);
	assert_true(rpc_filter_match(NULL, &self));
	assert_true(rpc_filter_match(json_null(), &self));
	assert_true(matches("{}"));
}

static void node_globs_pick_a_node_that_matches_any_of_them(void **state)
{
	assert_true(matches("{\"nodes\": [\"web01\"]}"));
	assert_true(matches("{\"nodes\": [\"web*\"]}"));
	assert_true(matches("{\"nodes\": [\"db*\", \"web0?\"]}"));
	assert_true(matches("{\"nodes\": [\"web[0-9]1\"]}"));
	assert_false(matches("{\"nodes\": [\"db*\"]}"));
	assert_false(matches("{\"nodes\": [\"web1*\", \"web02\"]}"));
	assert_false(matches("{\"nodes\": [\"web0\"]}")); /* a glob matches the whole name */
}

static void tags_must_all_be_present(void **state)
{
	assert_true(matches("{\"tags\": [\"web\"]}"));
	assert_true(matches("{\"tags\": [\"web\", \"production\"]}"));
	assert_false(matches("{\"tags\": [\"web\", \"staging\"]}"));
	assert_false(matches("{\"tags\": [\"db\"]}"));
	assert_false(matches("{\"tags\": [\"we*\"]}")); /* tags are names, not globs */
}

static void text_facts_compare_with_equal_and_not_equal(void **state)
{
	assert_true(matches("{\"facts\": [\"os.id=debian\"]}"));
	assert_false(matches("{\"facts\": [\"os.id=ubuntu\"]}"));
	assert_true(matches("{\"facts\": [\"os.id!=ubuntu\"]}"));
	assert_false(matches("{\"facts\": [\"os.id!=debian\"]}"));
	assert_true(matches("{\"facts\": [\"os.id = debian\"]}"));
	assert_true(matches("{\"facts\": [\"virtual.container=false\"]}"));
	assert_true(matches("{\"facts\": [\"processors.models.1=Xeon\"]}"));
	/* ordering operators on text are false, not an alphabetical order */
	assert_false(matches("{\"facts\": [\"os.id>alpine\"]}"));
	assert_false(matches("{\"facts\": [\"os.id<zzz\"]}"));
}

static void number_facts_compare_as_numbers_with_binary_suffixes(void **state)
{
	assert_true(matches("{\"facts\": [\"memory.total>8G\"]}"));
	assert_true(matches("{\"facts\": [\"memory.total>=16G\"]}"));
	assert_false(matches("{\"facts\": [\"memory.total>16G\"]}"));
	assert_true(matches("{\"facts\": [\"memory.total=16G\"]}"));
	assert_true(matches("{\"facts\": [\"memory.total=16384M\"]}"));
	assert_true(matches("{\"facts\": [\"memory.total=16777216K\"]}"));
	assert_true(matches("{\"facts\": [\"memory.total<1T\"]}"));
	assert_false(matches("{\"facts\": [\"memory.total<15.5G\"]}"));
	assert_true(matches("{\"facts\": [\"memory.total!=8G\"]}"));
	assert_true(matches("{\"facts\": [\"processors.count<=4\", \"processors.count>3\"]}"));
	assert_false(matches("{\"facts\": [\"processors.count<4\"]}"));
	assert_true(matches("{\"facts\": [\"load<1\"]}"));
	/* a string fact that reads as a number compares as one: 12 > 9 */
	assert_true(matches("{\"facts\": [\"os.version_id>9\"]}"));
	assert_true(matches("{\"facts\": [\"os.version_id=12.0\"]}"));
}

static void every_fact_expression_must_hold(void **state)
{
	assert_true(matches("{\"facts\": [\"os.id=debian\", \"memory.total>8G\"]}"));
	assert_false(matches("{\"facts\": [\"os.id=debian\", \"memory.total>32G\"]}"));
	assert_true(matches("{\"nodes\": [\"web*\"], \"tags\": [\"web\"], "
			    "\"facts\": [\"os.family=debian\"]}"));
	assert_false(matches("{\"nodes\": [\"web*\"], \"tags\": [\"db\"], "
			     "\"facts\": [\"os.family=debian\"]}"));
}

static void a_missing_fact_satisfies_only_not_equal(void **state)
{
	assert_false(matches("{\"facts\": [\"gpu.count>0\"]}"));
	assert_false(matches("{\"facts\": [\"gpu.model=a100\"]}"));
	assert_true(matches("{\"facts\": [\"gpu.model!=a100\"]}"));
	/* a path through a scalar, or past the end of a list */
	assert_false(matches("{\"facts\": [\"os.id.x=debian\"]}"));
	assert_false(matches("{\"facts\": [\"processors.models.7=Xeon\"]}"));
	/* a map is not a value */
	assert_false(matches("{\"facts\": [\"os=debian\"]}"));
	/* a node that reports no facts at all */
	self.facts = NULL;
	assert_false(matches("{\"facts\": [\"os.id=debian\"]}"));
	assert_true(matches("{\"facts\": [\"os.id!=debian\"]}"));
	self.facts = facts;
}

static void invalid_filters_are_refused_with_the_reason_and_match_nothing(void **state)
{
	refused("{\"facts\": [\"memory.total>>8\"]}", "'memory.total>>8' is not PATH OP VALUE");
	refused("{\"facts\": [\"os.id==debian\"]}", "is not PATH OP VALUE");
	refused("{\"facts\": [\"os.id\"]}", "is not PATH OP VALUE");
	refused("{\"facts\": [\"=debian\"]}", "is not PATH OP VALUE");
	refused("{\"facts\": [\"os.id=\"]}", "is not PATH OP VALUE");
	refused("{\"facts\": [\"os..id=x\"]}", "is not PATH OP VALUE");
	refused("{\"facts\": [\"os id=x\"]}", "is not PATH OP VALUE");
	refused("{\"facts\": [\".os=x\"]}", "is not PATH OP VALUE");
	refused("{\"facts\": \"os.id=debian\"}", "facts must be a list");
	refused("{\"nodes\": []}", "nodes must be a list of 1 to");
	refused("{\"tags\": [\"web\", 3]}", "tags[1] must be a string");
	refused("{\"nodes\": [\"\"]}", "nodes[0] must be a string");
	refused("{\"node\": [\"web01\"]}", "unknown member 'node' (expected nodes, tags, facts)");
	refused("[\"web01\"]", "not an object");
	refused("\"web*\"", "not an object");
}

static void numbers_that_are_not_decimal_are_text(void **state)
{
	/* "inf", hex and a bare suffix are not numbers: = compares text */
	assert_false(matches("{\"facts\": [\"memory.total<inf\"]}"));
	assert_false(matches("{\"facts\": [\"memory.total<0x7fffffffffff\"]}"));
	assert_false(matches("{\"facts\": [\"memory.total>G\"]}"));
	assert_true(matches("{\"facts\": [\"os.id!=0x10\"]}"));
}

int main(void)
{
#define T(name) cmocka_unit_test(name)
	const struct CMUnitTest tests[] = {
		T(no_filter_or_an_empty_one_picks_every_node),
		T(node_globs_pick_a_node_that_matches_any_of_them),
		T(tags_must_all_be_present),
		T(text_facts_compare_with_equal_and_not_equal),
		T(number_facts_compare_as_numbers_with_binary_suffixes),
		T(every_fact_expression_must_hold),
		T(a_missing_fact_satisfies_only_not_equal),
		T(invalid_filters_are_refused_with_the_reason_and_match_nothing),
		T(numbers_that_are_not_decimal_are_text),
	};
#undef T

	return cmocka_run_group_tests(tests, setup, teardown);
}
