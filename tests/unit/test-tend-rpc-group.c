/*
 * test-tend-rpc-group.c - how tend-rpc shows many nodes' results
 * (src/tend/rpc_group.c, rpc_print.c, rpc_up_plan.c): nodes with the
 * same result are one group, groups come in a stable order, labels say
 * who and how many, node output cannot drive the terminal, and tend up's
 * plans are judged and grouped by change.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"

static void test_same_key_and_rank_is_one_group_bigger_first(void **state)
{
	struct rpc_item it[] = {
		{ "web10", "exit 0: up 3 days", 0, 0 }, { "db1", "exit 1: no", 1, 1 },
		{ "web2", "exit 0: up 3 days", 0, 2 },	{ "web1", "exit 0: up 9 days", 0, 3 },
		{ "web3", "exit 0: up 3 days", 0, 4 },	{ "db2", "refused", 3, 5 },
	};
	struct rpc_group *g = NULL;
	size_t ng = 0;
	struct buf b = BUF_INIT;

	rpc_group_items(it, 6, &g, &ng);
	assert_int_equal(ng, 4);
	/* rank 0 first, the larger group first, nodes in version order */
	assert_int_equal(g[0].n, 3);
	rpc_group_label(&b, it, &g[0], false);
	assert_string_equal(buf_str(&b), "web2, web3, web10 (3 nodes)");
	assert_int_equal(it[g[0].first].idx, 2);
	rpc_group_label(&b, it, &g[1], false);
	assert_string_equal(buf_str(&b), "web1");
	rpc_group_label(&b, it, &g[2], false);
	assert_string_equal(buf_str(&b), "db1");
	assert_string_equal(it[g[3].first].key, "refused");
	free(g);
	buf_free(&b);
}

static void test_same_key_in_another_rank_is_another_group(void **state)
{
	struct rpc_item it[] = { { "a", "k", 0, 0 }, { "b", "k", 2, 1 }, { "c", "k", 0, 2 } };
	struct rpc_group *g = NULL;
	size_t ng = 0;

	rpc_group_items(it, 3, &g, &ng);
	assert_int_equal(ng, 2);
	assert_int_equal(g[0].n, 2);
	assert_int_equal(g[1].n, 1);
	assert_string_equal(it[g[1].first].node, "b");
	free(g);
	rpc_group_items(it, 0, &g, &ng);
	assert_int_equal(ng, 0);
	free(g);
}

static void test_long_node_lists_are_cut_unless_all_are_asked_for(void **state)
{
	const char *names[25];
	char bufs[25][8];
	struct buf b = BUF_INIT;

	for (int i = 0; i < 25; i++) {
		snprintf(bufs[i], sizeof(bufs[i]), "n%d", i + 1);
		names[i] = bufs[i];
	}
	rpc_nodes_label(&b, names, 25, false);
	assert_string_equal(buf_str(&b),
			    "n1, n2, n3, n4, n5, n6, n7, n8, n9, n10 and 15 more (25 nodes)");
	rpc_nodes_label(&b, names, 25, true);
	assert_non_null(strstr(buf_str(&b), "n24, n25 (25 nodes)"));
	rpc_nodes_label(&b, names, 1, false);
	assert_string_equal(buf_str(&b), "n1");
	buf_free(&b);
}

/* printed - what rpc_print_text writes for text. */
static char *printed(const char *text, size_t len)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	rpc_print_text(f, "  ", text, len);
	fclose(f);
	return out;
}

static void test_node_output_is_indented_and_cannot_drive_the_terminal(void **state)
{
	char *s = printed("one\n\x1b[31mred\tok\x07\n", 17);

	assert_string_equal(s, "  one\n  \\x1b[31mred\tok\\x07\n");
	free(s);
	s = printed("no newline", 10);
	assert_string_equal(s, "  no newline\n");
	free(s);
	s = printed("caf\xc3\xa9 \xc2\x9b"
		    "2J \xc2\xa0",
		    13); /* é, CSI (C1), nbsp */
	assert_string_equal(s, "  caf\xc3\xa9 \\u009b2J \xc2\xa0\n");
	free(s);
}

/* answer - an rpc_answer with data parsed from json (owned by the caller: answer_free). */
static struct rpc_answer answer(const char *node, const char *status, const char *json)
{
	struct rpc_answer a = { (char *)node, (char *)status, NULL, NULL, 1, 2 };

	a.data = json ? json_loads(json, 0, NULL) : NULL;
	return a;
}

static void test_plan_verdicts(void **state)
{
	struct buf why = BUF_INIT;
	struct rpc_answer a;

	a = answer("w", "ok", "{\"summary\":{\"changed\":2,\"unknown\":0,\"failed\":0}}");
	assert_int_equal(rpc_up_verdict(UP_PLAN, &a, &why), UP_V_CHANGES);
	json_decref(a.data);
	a = answer("w", "ok", "{\"summary\":{\"changed\":0,\"unknown\":1,\"failed\":0}}");
	assert_int_equal(rpc_up_verdict(UP_PLAN, &a, &why), UP_V_CHANGES);
	json_decref(a.data);
	a = answer("w", "ok", "{\"summary\":{\"changed\":0,\"unknown\":0,\"failed\":0}}");
	assert_int_equal(rpc_up_verdict(UP_PLAN, &a, &why), UP_V_NOTHING);
	json_decref(a.data);
	a = answer("w", "ok",
		   "{\"summary\":{\"failed\":1},\"changes\":[{\"resource\":\"file:/x\",\"status\":"
		   "\"failed\",\"message\":\"denied\"}]}");
	assert_int_equal(rpc_up_verdict(UP_PLAN, &a, &why), UP_V_FAILED);
	assert_string_equal(buf_str(&why), "1 resource failed (first: file:/x: denied)");
	json_decref(a.data);
	a = answer("w", "refused", NULL);
	a.reason = (char *)"no rule allows plan";
	assert_int_equal(rpc_up_verdict(UP_PLAN, &a, &why), UP_V_FAILED);
	assert_string_equal(buf_str(&why), "refused: no rule allows plan");
	a = answer("w", "ok", "{\"whatever\":1}");
	assert_int_equal(rpc_up_verdict(UP_PLAN, &a, &why), UP_V_FAILED);
	assert_string_equal(buf_str(&why), "the answer holds no report");
	json_decref(a.data);
	buf_free(&why);
}

static void test_apply_verdicts(void **state)
{
	struct buf why = BUF_INIT;
	struct rpc_answer a;

	a = answer("w", "ok", "{\"summary\":{\"changed\":2,\"failed\":0,\"not_converged\":0}}");
	assert_int_equal(rpc_up_verdict(UP_APPLY, &a, &why), UP_V_DONE);
	json_decref(a.data);
	a = answer("w", "ok", "{\"summary\":{\"changed\":2,\"failed\":0,\"not_converged\":1}}");
	assert_int_equal(rpc_up_verdict(UP_APPLY, &a, &why), UP_V_FAILED);
	assert_string_equal(buf_str(&why), "1 resource did not converge");
	json_decref(a.data);
	a = answer("w", "failed", NULL);
	assert_int_equal(rpc_up_verdict(UP_APPLY, &a, &why), UP_V_FAILED);
	assert_string_equal(buf_str(&why), "failed");
	/* the agent's own reason, and the first resource that failed */
	a = answer("w", "failed",
		   "{\"status\":\"failed\",\"summary\":{\"failed\":1},\"changes\":[{\"resource\":"
		   "\"file:/a\",\"status\":\"changed\"},{\"resource\":\"exec:fail\",\"status\":"
		   "\"failed\",\"message\":\"exited 1\"}]}");
	a.reason = (char *)"1 resources failed, 0 did not converge";
	assert_int_equal(rpc_up_verdict(UP_APPLY, &a, &why), UP_V_FAILED);
	assert_string_equal(buf_str(&why),
			    "1 resources failed, 0 did not converge (first: exec:fail: exited 1)");
	json_decref(a.data);
	buf_free(&why);
}

#define PLAN_MOTD(diff)                                                                     \
	"{\"status\":\"drifted\",\"summary\":{\"changed\":2},\"changes\":[{\"resource\":"   \
	"\"file:/etc/motd\",\"status\":\"change\",\"changes\":[{\"what\":\"content\","      \
	"\"from\":null,\"to\":null,\"diff\":\"" diff "\"}]},{\"resource\":\"package:vim\"," \
	"\"status\":\"failed\",\"changes\":[]}]}"

static void test_identical_changes_are_one_group_with_their_nodes(void **state)
{
	json_t *plans = json_object(), *g;
	char *s;

	json_object_set_new(plans, "web1", json_loads(PLAN_MOTD("-a\\n+b\\n"), 0, NULL));
	json_object_set_new(plans, "web2", json_loads(PLAN_MOTD("-a\\n+b\\n"), 0, NULL));
	json_object_set_new(plans, "web3", json_loads(PLAN_MOTD("-a\\n+c\\n"), 0, NULL));
	json_object_set_new(plans, "db1",
			    json_loads("{\"summary\":{\"unknown\":1},\"changes\":[{\"resource\":"
				       "\"exec:/x\",\"status\":\"unknown\",\"message\":\"needs "
				       "a package\"}]}",
				       0, NULL));
	g = rpc_up_plan_json(plans);
	assert_int_equal(json_array_size(g), 3);
	s = json_dumps(json_array_get(g, 0), JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"change\":{\"diff\":\"-a\\n+b\\n\",\"from\":null,\"to\":null,"
			       "\"what\":\"content\"},\"nodes\":[\"web1\",\"web2\"],\"resource\":"
			       "\"file:/etc/motd\",\"status\":\"change\"}");
	free(s);
	/* the one-node groups: db1's unknown exec, then web3's other diff */
	s = json_dumps(json_array_get(g, 1), JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"message\":\"needs a package\",\"nodes\":[\"db1\"],\"resource\":"
			       "\"exec:/x\",\"status\":\"unknown\"}");
	free(s);
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(json_array_get(g, 2), "nodes"), 0)),
			    "web3");
	json_decref(g);
	json_decref(plans);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_key_and_rank_is_one_group_bigger_first),
		cmocka_unit_test(test_same_key_in_another_rank_is_another_group),
		cmocka_unit_test(test_long_node_lists_are_cut_unless_all_are_asked_for),
		cmocka_unit_test(test_node_output_is_indented_and_cannot_drive_the_terminal),
		cmocka_unit_test(test_plan_verdicts),
		cmocka_unit_test(test_apply_verdicts),
		cmocka_unit_test(test_identical_changes_are_one_group_with_their_nodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
