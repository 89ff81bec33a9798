/*
 * rpc_up.c - the rollout of `tend up`, apart from the bus and from
 * printing (rpc_up_cmd.c does both): which nodes go in which batch, one
 * failure budget for the whole rollout, when to stop, and what each node
 * did.
 *
 * The loop: analyse (every node plans; nothing changes); confirm; then
 * pass after pass, apply to the nodes that have something to change,
 * canary first (pass 1 only) then batches, and analyse those that applied
 * again; until nothing is left to change or max_passes passes ran.
 *
 * A node fails when it says failed or refused, or does not answer, to an
 * apply or to a later analysis: that spends one of the budget and the
 * node is out of the rest of the rollout.  When the failures are more
 * than the budget, the rollout stops after the batch that spent it:
 * nodes not applied yet are "not started".  The first analysis spends
 * nothing: a node that cannot plan there is only reported (and keeps
 * the result from being a success); nothing has changed yet, and the
 * admin sees it before confirming.
 *
 * Everything the world says comes through ops->call, so tests drive this
 * with simulated nodes (tests/unit/test-tend-rpc-up.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"
#include "util/strutil.h"

#define BATCH_DEFAULT_PCT 10
#define MAX_PASSES_DEFAULT 3

void up_answers_add(struct up_answers *s, const char *node, enum up_verdict v, const char *reason)
{
	s->a = xgrow(s->a, s->n, &s->cap, sizeof(*s->a));
	s->a[s->n].node = xstrdup(node);
	s->a[s->n].v = v;
	s->a[s->n].reason = xstrdup(reason);
	s->n++;
}

void up_answers_free(struct up_answers *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->a[i].node);
		free(s->a[i].reason);
	}
	free(s->a);
	s->a = NULL;
	s->n = s->cap = 0;
}

const char *up_state_name(enum up_state s)
{
	static const char *const names[] = { "converged",   "pending",	     "applied", "failed",
					     "not started", "not converged", "missing" };

	return s <= UP_MISSING ? names[s] : "?";
}

void up_init(struct up_rollout *r, const struct up_limits *lim)
{
	memset(r, 0, sizeof(*r));
	r->lim = *lim;
	if (r->lim.batch.n <= 0)
		r->lim.batch = (struct rpc_amount){ BATCH_DEFAULT_PCT, true };
	if (r->lim.max_passes <= 0)
		r->lim.max_passes = MAX_PASSES_DEFAULT;
	if (r->lim.canary < 0)
		r->lim.canary = 0;
}

void up_free(struct up_rollout *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->nodes[i].id);
		free(r->nodes[i].reason);
	}
	free(r->nodes);
	r->nodes = NULL;
	r->n = r->cap = 0;
}

static int node_cmp(const void *a, const void *b)
{
	return rpc_node_cmp(((const struct up_node *)a)->id, ((const struct up_node *)b)->id);
}

struct up_node *up_find(const struct up_rollout *r, const char *id)
{
	struct up_node key = { .id = (char *)id };

	return r->n ? bsearch(&key, r->nodes, r->n, sizeof(*r->nodes), node_cmp) : NULL;
}

size_t up_count(const struct up_rollout *r, enum up_state s)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->nodes[i].state == s;
	return n;
}

/* set_state - node x is now s (reason copied, may be NULL). */
static void set_state(struct up_rollout *r, struct up_node *x, enum up_state s, const char *stage,
		      const char *reason)
{
	x->state = s;
	x->pass = r->pass;
	x->stage = stage;
	free(x->reason);
	x->reason = xstrdup(reason);
}

/* fail - x failed in the modify phase: spend the budget, maybe stop. */
static void fail(struct up_rollout *r, struct up_node *x, const char *stage, const char *reason)
{
	set_state(r, x, UP_FAILED, stage, reason ? reason : "no answer");
	x->counted = true;
	r->failures++;
	if (r->failures > r->budget)
		r->stopped = true;
}

/* ---- the first analysis ---- */

/* add_node - a node seen in the first analysis (its first answer counts; seen: a set). */
static void add_node(struct up_rollout *r, json_t *seen, const char *id, enum up_state s,
		     const char *reason)
{
	if (json_object_get(seen, id))
		return;
	json_object_set_new(seen, id, json_true());
	r->nodes = xgrow(r->nodes, r->n, &r->cap, sizeof(*r->nodes));
	memset(&r->nodes[r->n], 0, sizeof(*r->nodes));
	r->nodes[r->n].id = xstrdup(id);
	set_state(r, &r->nodes[r->n], s, s == UP_FAILED ? "plan" : NULL, reason);
	r->n++;
}

static int first_analysis(struct up_rollout *r, const struct up_ops *ops, void *arg)
{
	struct up_answers ans = { NULL, 0 };
	char **missing = NULL;
	size_t nmissing = 0;
	json_t *seen;
	int ret;

	r->pass = 1;
	ret = ops->call(arg, UP_PLAN, NULL, 0, &ans, &missing, &nmissing);
	if (ret < 0) {
		r->aborted = true;
		up_answers_free(&ans);
		return ret;
	}
	seen = json_object();
	for (size_t i = 0; i < ans.n; i++) {
		const struct up_answer *a = &ans.a[i];

		add_node(r, seen, a->node,
			 a->v == UP_V_CHANGES ? UP_PENDING :
			 a->v == UP_V_FAILED  ? UP_FAILED :
						UP_CONVERGED,
			 a->v == UP_V_FAILED ? (a->reason ? a->reason : "failed") : NULL);
	}
	for (size_t i = 0; i < nmissing; i++) {
		add_node(r, seen, missing[i], UP_MISSING, "did not answer the analysis");
		free(missing[i]);
	}
	free(missing);
	json_decref(seen);
	up_answers_free(&ans);
	if (r->n)
		qsort(r->nodes, r->n, sizeof(*r->nodes), node_cmp);
	r->to_change = up_count(r, UP_PENDING);
	r->batch_size = rpc_amount_of(r->lim.batch, r->to_change, true);
	if (r->batch_size == 0)
		r->batch_size = 1;
	r->budget = rpc_amount_of(r->lim.max_failures, r->to_change, false);
	return 0;
}

/* ---- the modify phase ---- */

/* pending_ids - the ids of the nodes in state s (malloc'd array of borrowed names). */
static const char **ids_in(const struct up_rollout *r, enum up_state s, size_t *ret_n)
{
	const char **ids = xcalloc(r->n + 1, sizeof(*ids));
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		if (r->nodes[i].state == s)
			ids[n++] = r->nodes[i].id;
	*ret_n = n;
	return ids;
}

static int answer_cmp(const void *a, const void *b)
{
	return strcmp(((const struct up_answer *)a)->node, ((const struct up_answer *)b)->node);
}

/*
 * sort_answers - ans sorted by node for find_answer, one answer per node
 * (call never gives two; if it did, one of them would count).
 */
static void sort_answers(struct up_answers *ans)
{
	size_t k = 0;

	if (ans->n == 0)
		return;
	qsort(ans->a, ans->n, sizeof(*ans->a), answer_cmp);
	for (size_t i = 0; i < ans->n; i++) {
		if (k && !strcmp(ans->a[k - 1].node, ans->a[i].node)) {
			free(ans->a[i].node);
			free(ans->a[i].reason);
			continue;
		}
		ans->a[k++] = ans->a[i];
	}
	ans->n = k;
}

/* find_answer - the answer for id in ans (sorted), or NULL. */
static const struct up_answer *find_answer(const struct up_answers *ans, const char *id)
{
	struct up_answer key = { .node = (char *)id };

	return ans->n ? bsearch(&key, ans->a, ans->n, sizeof(*ans->a), answer_cmp) : NULL;
}

/* apply_batch - apply to ids; record what each did.  <0: aborted. */
static int apply_batch(struct up_rollout *r, const struct up_ops *ops, void *arg, const char **ids,
		       size_t n, bool canary)
{
	struct up_answers ans = { NULL, 0 };
	int ret;

	r->batches++;
	if (ops->batch)
		ops->batch(arg, r, ids, n, canary, false);
	ret = ops->call(arg, UP_APPLY, ids, n, &ans, NULL, NULL);
	if (ret < 0) {
		r->aborted = true;
		up_answers_free(&ans);
		return ret;
	}
	sort_answers(&ans);
	for (size_t i = 0; i < n; i++) {
		const struct up_answer *a = find_answer(&ans, ids[i]);
		struct up_node *x = up_find(r, ids[i]);

		if (a && a->v == UP_V_DONE) {
			set_state(r, x, UP_APPLIED, "apply", NULL);
			x->napplied++;
		} else {
			fail(r, x, "apply", a ? (a->reason ? a->reason : "failed") : "no answer");
		}
	}
	up_answers_free(&ans);
	if (ops->batch)
		ops->batch(arg, r, ids, n, canary, true);
	return 0;
}

/* batches_for - how many batches npending nodes take this pass. */
static size_t batches_for(const struct up_rollout *r, size_t npending, size_t canary)
{
	size_t rest = npending - canary;

	return (canary ? 1 : 0) + (rest + r->batch_size - 1) / r->batch_size;
}

/* apply_pass - every pending node, canary first, in batches; stops when the budget is spent. */
static int apply_pass(struct up_rollout *r, const struct up_ops *ops, void *arg)
{
	size_t n, done = 0, canary = 0;
	const char **ids = ids_in(r, UP_PENDING, &n);
	int ret = 0;

	if (r->pass == 1 && r->lim.canary > 0)
		canary = (size_t)r->lim.canary < n ? (size_t)r->lim.canary : n;
	r->pass_batches = batches_for(r, n, canary);
	while (done < n && !r->stopped) {
		size_t k = canary && done == 0 ? canary : r->batch_size;

		if (k > n - done)
			k = n - done;
		ret = apply_batch(r, ops, arg, ids + done, k, canary && done == 0);
		if (ret < 0)
			break;
		done += k;
	}
	for (size_t i = done; i < n; i++)
		set_state(r, up_find(r, ids[i]), UP_NOT_STARTED, NULL, NULL);
	free(ids);
	return ret;
}

/* reanalyse - plan again on the nodes that applied this pass. */
static int reanalyse(struct up_rollout *r, const struct up_ops *ops, void *arg)
{
	struct up_answers ans = { NULL, 0 };
	size_t n;
	const char **ids = ids_in(r, UP_APPLIED, &n);
	int ret = 0;

	if (n == 0)
		goto out;
	r->pass++;
	ret = ops->call(arg, UP_PLAN, ids, n, &ans, NULL, NULL);
	if (ret < 0) {
		r->aborted = true;
		goto out;
	}
	sort_answers(&ans);
	for (size_t i = 0; i < n; i++) {
		const struct up_answer *a = find_answer(&ans, ids[i]);
		struct up_node *x = up_find(r, ids[i]);

		if (!a || a->v == UP_V_FAILED)
			fail(r, x, "plan", a ? (a->reason ? a->reason : "failed") : "no answer");
		else
			set_state(r, x, a->v == UP_V_CHANGES ? UP_PENDING : UP_CONVERGED, NULL,
				  NULL);
	}
	if (ops->analyzed)
		ops->analyzed(arg, r);
out:
	up_answers_free(&ans);
	free(ids);
	return ret;
}

/* finish - what the end of the rollout makes of the nodes still in flight. */
static int finish(struct up_rollout *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct up_node *x = &r->nodes[i];

		if (x->state == UP_PENDING)
			set_state(r, x,
				  r->stopped || r->declined || r->aborted ? UP_NOT_STARTED :
									    UP_UNCONVERGED,
				  NULL, NULL);
	}
	return up_count(r, UP_CONVERGED) == r->n && r->n > 0 ? 0 : 1;
}

int up_run(struct up_rollout *r, const struct up_ops *ops, void *arg)
{
	int ret = first_analysis(r, ops, arg);

	if (ret < 0)
		return ret;
	if (ops->analyzed)
		ops->analyzed(arg, r);
	if (r->to_change == 0)
		return finish(r);
	if (!ops->confirm(arg, r)) {
		r->declined = true;
		return finish(r);
	}
	for (;;) {
		ret = apply_pass(r, ops, arg);
		if (ret < 0 || r->stopped)
			break;
		ret = reanalyse(r, ops, arg);
		if (ret < 0 || r->stopped || up_count(r, UP_PENDING) == 0)
			break;
		if (r->pass > r->lim.max_passes)
			break;
	}
	if (ret < 0) {
		finish(r);
		return ret;
	}
	return finish(r);
}
