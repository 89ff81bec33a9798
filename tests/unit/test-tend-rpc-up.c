/*
 * test-tend-rpc-up.c - the rollout of `tend up` (src/tend/rpc_up.c),
 * driven by simulated nodes: each needs some apply rounds before it has
 * nothing left to change, and may fail its apply, not answer, or fail
 * the analysis after it.  The tests check which batches were sent, in
 * which order, and what each node ended as: one failure budget for the
 * whole rollout, a failed node left out of the rest, a stop when the
 * failures are more than the budget, percentages, the canary, passes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "rpc.h"

struct sim_node {
	const char *id;
	int rounds;	  /* applies before nothing is left to change */
	bool fail_apply;  /* its apply fails */
	bool silent;	  /* it does not answer an apply */
	bool fail_replan; /* its analysis after an apply fails */
	bool fail_plan;	  /* its first analysis fails */
	bool absent;	  /* expected, never answers */
};

struct sim {
	struct sim_node *nodes;
	size_t n;
	bool decline; /* say no when asked to confirm */
	bool asked;
	int abort_on_apply; /* the apply call number that fails (the bus went away); 0: none */
	int applies;
	struct buf log; /* batches sent: "a,b|c" */
};

static struct sim_node *sim_find(struct sim *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->nodes[i].id, id))
			return &s->nodes[i];
	return NULL;
}

static void sim_plan(struct sim *s, const char *const *ids, size_t n, struct up_answers *out,
		     char ***ret_missing, size_t *ret_nmissing)
{
	size_t nm = 0;

	if (!ids) { /* the first analysis: every node */
		*ret_missing = calloc(s->n, sizeof(char *));
		for (size_t i = 0; i < s->n; i++) {
			struct sim_node *x = &s->nodes[i];

			if (x->absent)
				(*ret_missing)[nm++] = strdup(x->id);
			else if (x->fail_plan)
				up_answers_add(out, x->id, UP_V_FAILED, "cannot plan");
			else
				up_answers_add(out, x->id, x->rounds ? UP_V_CHANGES : UP_V_NOTHING,
					       NULL);
		}
		*ret_nmissing = nm;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct sim_node *x = sim_find(s, ids[i]);

		if (x->fail_replan)
			up_answers_add(out, x->id, UP_V_FAILED, "plan broke");
		else
			up_answers_add(out, x->id, x->rounds ? UP_V_CHANGES : UP_V_NOTHING, NULL);
	}
}

static int sim_call(void *arg, enum up_phase phase, const char *const *ids, size_t n,
		    struct up_answers *out, char ***ret_missing, size_t *ret_nmissing)
{
	struct sim *s = arg;

	if (phase == UP_PLAN) {
		sim_plan(s, ids, n, out, ret_missing, ret_nmissing);
		return 0;
	}
	assert_non_null(ids);
	if (++s->applies == s->abort_on_apply)
		return -EIO;
	if (s->log.max == 0)
		buf_init(&s->log, 4096);
	if (s->log.len)
		buf_puts(&s->log, "|");
	for (size_t i = 0; i < n; i++) {
		struct sim_node *x = sim_find(s, ids[i]);

		buf_printf(&s->log, "%s%s", i ? "," : "", ids[i]);
		if (x->silent)
			continue;
		if (x->fail_apply) {
			up_answers_add(out, x->id, UP_V_FAILED, "boom");
			continue;
		}
		if (x->rounds > 0)
			x->rounds--;
		up_answers_add(out, x->id, UP_V_DONE, NULL);
	}
	return 0;
}

static bool sim_confirm(void *arg, const struct up_rollout *r)
{
	struct sim *s = arg;

	s->asked = true;
	return !s->decline;
}

static const struct up_ops sim_ops = { sim_call, sim_confirm, NULL, NULL };

/* run - the rollout of nodes with lim; its result. */
static int run(struct up_rollout *r, struct sim *s, const struct up_limits *lim)
{
	up_init(r, lim);
	return up_run(r, &sim_ops, s);
}

static void assert_state(const struct up_rollout *r, const char *id, enum up_state st)
{
	struct up_node *x = up_find(r, id);

	assert_non_null(x);
	if (x->state != st)
		print_error("%s is %s, not %s\n", id, up_state_name(x->state), up_state_name(st));
	assert_int_equal(x->state, st);
}

#define N(id, rounds)                                         \
	{                                                     \
		id, rounds, false, false, false, false, false \
	}

static void test_nothing_to_change_applies_nothing_and_asks_nothing(void **state)
{
	struct sim_node nodes[] = { N("a", 0), N("b", 0) };
	struct sim s = { nodes, 2 };
	struct up_limits lim = { .batch = { 1, false } };
	struct up_rollout r;

	assert_int_equal(run(&r, &s, &lim), 0);
	assert_false(s.asked);
	assert_int_equal(s.applies, 0);
	assert_state(&r, "a", UP_CONVERGED);
	up_free(&r);
	buf_free(&s.log);
}

static void test_budget_of_one_continues_without_the_failed_node(void **state)
{
	struct sim_node nodes[] = { N("a", 1), N("b", 1), N("c", 1), N("d", 1), N("e", 1) };
	struct sim s = { nodes, 5 };
	struct up_limits lim = { .batch = { 1, false }, .max_failures = { 1, false } };
	struct up_rollout r;

	nodes[2].fail_apply = true;
	assert_int_equal(run(&r, &s, &lim), 1); /* c did not converge */
	assert_string_equal(buf_str(&s.log), "a|b|c|d|e");
	assert_false(r.stopped);
	assert_int_equal(r.failures, 1);
	assert_state(&r, "a", UP_CONVERGED);
	assert_state(&r, "e", UP_CONVERGED);
	assert_state(&r, "c", UP_FAILED);
	assert_true(up_find(&r, "c")->counted);
	assert_string_equal(up_find(&r, "c")->reason, "boom");
	assert_string_equal(up_find(&r, "c")->stage, "apply");
	assert_int_equal(up_find(&r, "d")->napplied, 1);
	up_free(&r);
	buf_free(&s.log);
}

static void test_budget_of_zero_stops_after_the_failure(void **state)
{
	struct sim_node nodes[] = { N("a", 1), N("b", 1), N("c", 1), N("d", 1), N("e", 1) };
	struct sim s = { nodes, 5 };
	struct up_limits lim = { .batch = { 1, false }, .max_failures = { 0, false } };
	struct up_rollout r;

	nodes[2].fail_apply = true;
	assert_int_equal(run(&r, &s, &lim), 1);
	assert_string_equal(buf_str(&s.log), "a|b|c");
	assert_true(r.stopped);
	assert_state(&r, "a", UP_APPLIED); /* applied, not analysed again: the rollout stopped */
	assert_state(&r, "b", UP_APPLIED);
	assert_state(&r, "c", UP_FAILED);
	assert_state(&r, "d", UP_NOT_STARTED);
	assert_state(&r, "e", UP_NOT_STARTED);
	assert_int_equal(up_find(&r, "d")->napplied, 0);
	up_free(&r);
	buf_free(&s.log);
}

static void test_percentages_size_the_batches_and_the_budget(void **state)
{
	struct sim_node nodes[] = { N("n1", 1), N("n2", 1), N("n3", 1), N("n4", 1), N("n5", 1),
				    N("n6", 1), N("n7", 1), N("n8", 1), N("n9", 1), N("n10", 1) };
	struct sim s = { nodes, 10 };
	struct up_limits lim = { .batch = { 30, true }, .max_failures = { 20, true } };
	struct up_rollout r;

	nodes[0].fail_apply = nodes[1].fail_apply = true; /* 2 failures: within 20% of 10 */
	assert_int_equal(run(&r, &s, &lim), 1);
	assert_int_equal(r.batch_size, 3);
	assert_int_equal(r.budget, 2);
	assert_string_equal(buf_str(&s.log), "n1,n2,n3|n4,n5,n6|n7,n8,n9|n10");
	assert_false(r.stopped);
	up_free(&r);

	nodes[0].rounds = nodes[1].rounds = 1;
	for (size_t i = 2; i < 10; i++)
		nodes[i].rounds = 1;
	nodes[3].fail_apply = true; /* a third failure: more than 20% */
	buf_reset(&s.log);
	s.applies = 0;
	assert_int_equal(run(&r, &s, &lim), 1);
	assert_string_equal(buf_str(&s.log), "n1,n2,n3|n4,n5,n6");
	assert_true(r.stopped);
	assert_state(&r, "n6", UP_APPLIED);
	assert_state(&r, "n7", UP_NOT_STARTED);
	assert_state(&r, "n10", UP_NOT_STARTED);
	up_free(&r);
	buf_free(&s.log);
}

static void test_small_percentages_round_batches_up_and_budgets_down(void **state)
{
	struct sim_node nodes[] = { N("a", 1), N("b", 1), N("c", 1), N("d", 1), N("e", 1) };
	struct sim s = { nodes, 5 };
	struct up_limits lim = { .batch = { 10, true }, .max_failures = { 10, true } };
	struct up_rollout r;

	nodes[0].fail_apply = true;
	assert_int_equal(run(&r, &s, &lim), 1);
	assert_int_equal(r.batch_size, 1); /* 10% of 5, rounded up */
	assert_int_equal(r.budget, 0);	   /* 10% of 5, rounded down */
	assert_string_equal(buf_str(&s.log), "a");
	assert_true(r.stopped);
	up_free(&r);
	buf_free(&s.log);
}

static void test_default_batch_is_ten_percent(void **state)
{
	struct sim_node nodes[20];
	char ids[20][8];
	struct sim s = { nodes, 20 };
	struct up_limits lim = { .max_passes = 0 };
	struct up_rollout r;

	for (int i = 0; i < 20; i++) {
		snprintf(ids[i], sizeof(ids[i]), "n%02d", i);
		nodes[i] = (struct sim_node)N(ids[i], 1);
	}
	assert_int_equal(run(&r, &s, &lim), 0);
	assert_int_equal(r.batch_size, 2);
	assert_int_equal(r.batches, 10);
	assert_int_equal(up_count(&r, UP_CONVERGED), 20);
	up_free(&r);
	buf_free(&s.log);
}

static void test_canary_goes_alone_first(void **state)
{
	struct sim_node nodes[] = { N("a", 1), N("b", 1), N("c", 1), N("d", 1), N("e", 1) };
	struct sim s = { nodes, 5 };
	struct up_limits lim = { .batch = { 100, true }, .canary = 2 };
	struct up_rollout r;

	assert_int_equal(run(&r, &s, &lim), 0);
	assert_string_equal(buf_str(&s.log), "a,b|c,d,e");
	assert_int_equal(up_count(&r, UP_CONVERGED), 5);
	up_free(&r);
	buf_free(&s.log);
}

static void test_failed_canary_stops_the_rollout(void **state)
{
	struct sim_node nodes[] = { N("a", 1), N("b", 1), N("c", 1) };
	struct sim s = { nodes, 3 };
	struct up_limits lim = { .batch = { 100, true }, .canary = 1 };
	struct up_rollout r;

	nodes[0].fail_apply = true;
	assert_int_equal(run(&r, &s, &lim), 1);
	assert_string_equal(buf_str(&s.log), "a");
	assert_state(&r, "b", UP_NOT_STARTED);
	assert_state(&r, "c", UP_NOT_STARTED);
	up_free(&r);
	buf_free(&s.log);
}

static void test_passes_reapply_what_is_left_until_max_passes(void **state)
{
	struct sim_node nodes[] = { N("a", 2), N("b", 1), N("c", 99) };
	struct sim s = { nodes, 3 };
	struct up_limits lim = { .batch = { 100, true }, .max_passes = 3 };
	struct up_rollout r;

	assert_int_equal(run(&r, &s, &lim), 1);
	assert_string_equal(buf_str(&s.log), "a,b,c|a,c|c");
	assert_state(&r, "a", UP_CONVERGED);
	assert_int_equal(up_find(&r, "a")->napplied, 2);
	assert_state(&r, "b", UP_CONVERGED);
	assert_state(&r, "c", UP_UNCONVERGED);
	assert_int_equal(up_find(&r, "c")->napplied, 3);
	assert_false(r.stopped);
	up_free(&r);
	buf_free(&s.log);
}

static void test_declined_confirmation_applies_nothing(void **state)
{
	struct sim_node nodes[] = { N("a", 1), N("b", 0) };
	struct sim s = { nodes, 2 };
	struct up_limits lim = { .batch = { 1, false } };
	struct up_rollout r;

	s.decline = true;
	assert_int_equal(run(&r, &s, &lim), 1);
	assert_true(s.asked);
	assert_true(r.declined);
	assert_int_equal(s.applies, 0);
	assert_state(&r, "a", UP_NOT_STARTED);
	assert_state(&r, "b", UP_CONVERGED);
	up_free(&r);
	buf_free(&s.log);
}

static void test_no_answer_to_an_apply_is_a_failure(void **state)
{
	struct sim_node nodes[] = { N("a", 1), N("b", 1) };
	struct sim s = { nodes, 2 };
	struct up_limits lim = { .batch = { 2, false }, .max_failures = { 1, false } };
	struct up_rollout r;

	nodes[0].silent = true;
	assert_int_equal(run(&r, &s, &lim), 1);
	assert_state(&r, "a", UP_FAILED);
	assert_string_equal(up_find(&r, "a")->reason, "no answer");
	assert_state(&r, "b", UP_CONVERGED);
	up_free(&r);
	buf_free(&s.log);
}

static void test_first_analysis_failures_are_reported_but_spend_nothing(void **state)
{
	struct sim_node nodes[] = { N("a", 1), N("x", 1), N("m", 1), N("b", 1) };
	struct sim s = { nodes, 4 };
	struct up_limits lim = { .batch = { 1, false }, .max_failures = { 0, false } };
	struct up_rollout r;

	nodes[1].fail_plan = true;
	nodes[2].absent = true;
	assert_int_equal(run(&r, &s, &lim), 1); /* not every node converged */
	assert_string_equal(buf_str(&s.log), "a|b");
	assert_int_equal(r.to_change, 2);
	assert_int_equal(r.failures, 0);
	assert_state(&r, "x", UP_FAILED);
	assert_false(up_find(&r, "x")->counted);
	assert_string_equal(up_find(&r, "x")->stage, "plan");
	assert_state(&r, "m", UP_MISSING);
	assert_state(&r, "a", UP_CONVERGED);
	up_free(&r);
	buf_free(&s.log);
}

static void test_failed_analysis_after_an_apply_spends_the_budget(void **state)
{
	struct sim_node nodes[] = { N("a", 1), N("b", 2) };
	struct sim s = { nodes, 2 };
	struct up_limits lim = { .batch = { 2, false }, .max_failures = { 0, false } };
	struct up_rollout r;

	nodes[0].fail_replan = true;
	assert_int_equal(run(&r, &s, &lim), 1);
	assert_state(&r, "a", UP_FAILED);
	assert_true(up_find(&r, "a")->counted);
	assert_string_equal(up_find(&r, "a")->stage, "plan");
	assert_true(r.stopped);
	assert_state(&r, "b", UP_NOT_STARTED); /* it had changes left for pass 2 */
	assert_string_equal(buf_str(&s.log), "a,b");
	up_free(&r);
	buf_free(&s.log);
}

static void test_lost_bus_aborts_the_rollout(void **state)
{
	struct sim_node nodes[] = { N("a", 1), N("b", 1) };
	struct sim s = { nodes, 2 };
	struct up_limits lim = { .batch = { 1, false } };
	struct up_rollout r;

	s.abort_on_apply = 2;
	assert_int_equal(run(&r, &s, &lim), -EIO);
	assert_true(r.aborted);
	assert_state(&r, "a", UP_APPLIED);
	assert_state(&r, "b", UP_NOT_STARTED);
	up_free(&r);
	buf_free(&s.log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_to_change_applies_nothing_and_asks_nothing),
		cmocka_unit_test(test_budget_of_one_continues_without_the_failed_node),
		cmocka_unit_test(test_budget_of_zero_stops_after_the_failure),
		cmocka_unit_test(test_percentages_size_the_batches_and_the_budget),
		cmocka_unit_test(test_small_percentages_round_batches_up_and_budgets_down),
		cmocka_unit_test(test_default_batch_is_ten_percent),
		cmocka_unit_test(test_canary_goes_alone_first),
		cmocka_unit_test(test_failed_canary_stops_the_rollout),
		cmocka_unit_test(test_passes_reapply_what_is_left_until_max_passes),
		cmocka_unit_test(test_declined_confirmation_applies_nothing),
		cmocka_unit_test(test_no_answer_to_an_apply_is_a_failure),
		cmocka_unit_test(test_first_analysis_failures_are_reported_but_spend_nothing),
		cmocka_unit_test(test_failed_analysis_after_an_apply_spends_the_budget),
		cmocka_unit_test(test_lost_bus_aborts_the_rollout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
