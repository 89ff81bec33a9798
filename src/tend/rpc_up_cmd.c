/*
 * rpc_up_cmd.c - `tend up [FILTER]`: the fleet's plan/apply loop.  The
 * rollout itself (batches, budget, passes) is rpc_up.c; this file gives
 * it the world (plan and apply requests over the bus) and tells the
 * admin what happens: the grouped plan, the confirmation, each batch,
 * and at the end what every node did (or, with --json, one record of
 * the whole rollout).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rpc.h"
#include "util/log.h"
#include "util/strutil.h"

#define PLAN_TIMEOUT_S 30.0
#define APPLY_TIMEOUT_S 600.0

enum {
	OPT_YES = 0x1200,
	OPT_BATCH,
	OPT_CANARY,
	OPT_MAX_FAILURES,
	OPT_MAX_PASSES,
	OPT_APPLY_TIMEOUT,
};

struct up_ctx {
	struct rpc_opts o;
	struct rpc_session s;
	struct up_limits lim;
	bool yes;
	double apply_timeout;
	json_t *plans;	  /* node -> plan data, of the latest analysis */
	json_t *changes;  /* the first analysis's changes, grouped (for --json) */
	json_t *batches;  /* [{"pass","canary","nodes","applied","failed"}] */
	json_t *rejected; /* replies that did not verify, the whole rollout */
	double t0;
};

static void usage(FILE *f)
{
	fputs("usage: tend up [FILTER] [--yes] [--batch N|P%] [--canary N]\n"
	      "               [--max-failures N|P%] [--max-passes N] [OPTIONS]\n\n"
	      "Converges the nodes the filter picks, in three steps.  Analyze: every node\n"
	      "plans (nothing changes) and the plans are shown as one, each change once\n"
	      "with the nodes it is for.  Confirm: apply to N nodes? (--yes: do not ask).\n"
	      "Modify: --canary nodes first, then batches of --batch nodes in parallel; a\n"
	      "node that fails, refuses or does not answer spends one of the failure budget\n"
	      "and is left out of the rest; when the failures are more than the budget\n"
	      "the rollout stops and says what each node did.  Then the nodes that applied\n"
	      "plan again, and those with changes left apply again, up to --max-passes.\n\n",
	      f);
	fputs(RPC_FILTER_HELP
	      "\noptions:\n"
	      "  -y, --yes           apply without asking (needed when stdin is no terminal)\n"
	      "  --batch N|P%        nodes applying at once (default 10% of those to change,\n"
	      "                      rounded up)\n"
	      "  --canary N          apply to N nodes first, alone (default 0)\n"
	      "  --max-failures N|P% failures the whole rollout tolerates (default 0; P% of\n"
	      "                      the nodes to change, rounded down)\n"
	      "  --max-passes N      apply rounds at most (default 3)\n"
	      "  --timeout S         wait at most S for plans (default 30s)\n"
	      "  --apply-timeout S   wait at most S for a batch to apply (default 600s)\n" RPC_COMMON_HELP
	      "\nexit status: 0 every node converged, 1 otherwise, 2 usage\n",
	      f);
}

static double mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* ---- the world: plan and apply over the bus ---- */

/* batch_filter - the command's filter, its node list replaced by exactly ids. */
static json_t *batch_filter(const json_t *filter, const char *const *ids, size_t n)
{
	json_t *f = filter ? json_deep_copy(filter) : json_object(), *nodes = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(nodes, json_string(ids[i]));
	json_object_set_new(f, "nodes", nodes);
	return f;
}

/* file_answers - each verified answer's verdict into out; plans kept for printing. */
static void file_answers(struct up_ctx *x, enum up_phase phase, const struct rpc_outcome *res,
			 struct up_answers *out)
{
	struct buf why = BUF_INIT;

	for (size_t i = 0; i < res->nans; i++) {
		const struct rpc_answer *a = &res->ans[i];
		enum up_verdict v = rpc_up_verdict(phase, a, &why);

		up_answers_add(out, a->node, v, v == UP_V_FAILED ? buf_str(&why) : NULL);
		if (phase == UP_PLAN && v == UP_V_CHANGES)
			json_object_set(x->plans, a->node, a->data);
	}
	for (size_t i = 0; i < res->nrej; i++)
		json_array_append_new(x->rejected, json_pack("{s:s, s:s}", "from", res->rej[i].from,
							     "reason", res->rej[i].reason));
	if (res->nrej && !x->o.api.json) {
		struct rpc_outcome only = { .rej = res->rej, .nrej = res->nrej };

		rpc_print_trouble(&only, x->o.verbose);
	}
	buf_free(&why);
}

/* missing_list - the expected nodes that did not answer, as up_ops wants them. */
static void missing_list(const json_t *missing, char ***ret, size_t *ret_n)
{
	size_t n = json_array_size(missing);
	char **m = n ? xcalloc(n, sizeof(*m)) : NULL;

	for (size_t i = 0; i < n; i++)
		m[i] = xstrdup(json_string_value(json_array_get(missing, i)));
	*ret = m;
	*ret_n = n;
}

static int up_call(void *arg, enum up_phase phase, const char *const *ids, size_t n,
		   struct up_answers *out, char ***ret_missing, size_t *ret_nmissing)
{
	struct up_ctx *x = arg;
	struct rpc_outcome res = { .ans = NULL };
	struct tend_err err = { "" };
	json_t *filter = ids ? batch_filter(x->s.filter, ids, n) : json_incref(x->s.filter);
	json_t *expect =
		ids ? json_incref(json_object_get(filter, "nodes")) : json_incref(x->s.expect);
	struct rpc_query call = { .action = phase == UP_PLAN ? "plan" : "apply",
				  .filter = filter,
				  .expect = expect };
	double t = phase == UP_PLAN ? (x->o.timeout > 0 ? x->o.timeout : PLAN_TIMEOUT_S) :
				      x->apply_timeout;
	int r;

	call.timeout_ms = (int)(t * 1000);
	if (phase == UP_PLAN)
		json_object_clear(x->plans);
	r = rpc_client_call(x->s.client, &call, &res, &err);
	if (r < 0) {
		log_warnx("%s: %s", call.action, err.msg);
	} else {
		file_answers(x, phase, &res, out);
		if (ret_missing)
			missing_list(res.missing, ret_missing, ret_nmissing);
	}
	rpc_outcome_free(&res);
	json_decref(filter);
	json_decref(expect);
	return r;
}

/* ---- telling the admin ---- */

/* print_state - the nodes in state s since this pass, one line: "a, b (2 nodes): WHAT". */
static void print_state(const struct up_rollout *r, enum up_state s, const char *what, bool verbose)
{
	size_t n = 0;
	const char **ids = xcalloc(r->n + 1, sizeof(*ids));
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < r->n; i++)
		if (r->nodes[i].state == s && r->nodes[i].pass == r->pass)
			ids[n++] = r->nodes[i].id;
	if (n) {
		rpc_nodes_label(&b, ids, n, verbose);
		printf("%s: %s\n", buf_str(&b), what);
	}
	buf_free(&b);
	free(ids);
}

static void print_failed(const struct up_rollout *r)
{
	struct buf s = BUF_INIT;

	for (size_t i = 0; i < r->n; i++) {
		const struct up_node *n = &r->nodes[i];

		if (n->state == UP_FAILED)
			printf("%s: cannot %s: %s\n", n->id, n->stage ? n->stage : "?",
			       rpc_safe(&s, n->reason ? n->reason : "?"));
	}
	buf_free(&s);
}

static void up_analyzed(void *arg, const struct up_rollout *r)
{
	struct up_ctx *x = arg;

	if (r->pass == 1)
		x->changes = rpc_up_plan_json(x->plans);
	if (x->o.api.json)
		return;
	printf(r->pass == 1 ? "analysis:\n" : "pass %d, analysis of the nodes that applied:\n",
	       r->pass);
	rpc_up_plan_print(x->plans, x->o.verbose);
	print_state(r, UP_CONVERGED, "nothing to change", x->o.verbose);
	if (r->pass == 1) {
		print_failed(r);
		print_state(r, UP_MISSING, "expected, did not answer", true);
	}
	if (r->pass == 1 || up_count(r, UP_PENDING))
		printf("%zu %s to change\n", up_count(r, UP_PENDING),
		       up_count(r, UP_PENDING) == 1 ? "node has something" :
						      "nodes have something");
}

static bool up_confirm(void *arg, const struct up_rollout *r)
{
	struct up_ctx *x = arg;
	char line[16];

	if (x->yes)
		return true;
	if (!isatty(STDIN_FILENO)) {
		log_warnx("%zu nodes would change; nothing applied: confirm on a terminal, or give "
			  "--yes",
			  r->to_change);
		return false;
	}
	fprintf(stderr, "apply to %zu node%s (batches of %zu, failures tolerated: %zu)? [y/N] ",
		r->to_change, r->to_change == 1 ? "" : "s", r->batch_size, r->budget);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return !strcmp(line, "y\n") || !strcmp(line, "Y\n") || !strcmp(line, "yes\n");
}

/* batch_record - {"pass","canary","nodes","applied","failed"} of a batch done. */
static json_t *batch_record(const struct up_rollout *r, const char *const *ids, size_t n,
			    bool canary)
{
	json_t *nodes = json_array(), *ok = json_array(), *bad = json_array();

	for (size_t i = 0; i < n; i++) {
		const struct up_node *u = up_find(r, ids[i]);

		json_array_append_new(nodes, json_string(ids[i]));
		json_array_append_new(u && u->state == UP_FAILED ? bad : ok, json_string(ids[i]));
	}
	return json_pack("{s:i, s:b, s:o, s:o, s:o}", "pass", r->pass, "canary", canary, "nodes",
			 nodes, "applied", ok, "failed", bad);
}

static void up_batch(void *arg, const struct up_rollout *r, const char *const *ids, size_t n,
		     bool canary, bool done)
{
	struct up_ctx *x = arg;
	struct buf b = BUF_INIT, s = BUF_INIT;
	json_t *rec;

	if (!done) {
		if (!x->o.api.json) {
			rpc_nodes_label(&b, ids, n, x->o.verbose);
			printf("pass %d, batch %zu%s: applying on %s\n", r->pass, r->batches,
			       canary ? " (canary)" : "", buf_str(&b));
			fflush(stdout);
		}
		buf_free(&b);
		return;
	}
	rec = batch_record(r, ids, n, canary);
	if (!x->o.api.json) {
		printf("  %zu applied, %zu failed (failures so far: %zu, tolerated: %zu)\n",
		       json_array_size(json_object_get(rec, "applied")),
		       json_array_size(json_object_get(rec, "failed")), r->failures, r->budget);
		for (size_t i = 0; i < n; i++) {
			const struct up_node *u = up_find(r, ids[i]);

			if (u && u->state == UP_FAILED)
				printf("  %s: failed: %s\n", u->id, rpc_safe(&s, u->reason));
		}
	}
	json_array_append_new(x->batches, rec);
	buf_free(&b);
	buf_free(&s);
}

/* ---- the end ---- */

/* node_what - what node u did, in words. */
static void node_what(struct buf *b, const struct up_rollout *r, const struct up_node *u)
{
	struct buf s = BUF_INIT;

	buf_reset(b);
	switch (u->state) {
	case UP_CONVERGED:
		buf_puts(b, u->napplied ? "applied, converged" : "nothing to change");
		break;
	case UP_APPLIED:
		buf_puts(b, "applied (not analysed again: the rollout stopped)");
		break;
	case UP_FAILED:
		if (u->counted)
			buf_printf(b, "failed to %s (pass %d), left out of the rest: %s",
				   u->stage ? u->stage : "?", u->pass,
				   rpc_safe(&s, u->reason ? u->reason : "?"));
		else
			buf_printf(b, "could not %s, left out of the rollout: %s",
				   u->stage ? u->stage : "?",
				   rpc_safe(&s, u->reason ? u->reason : "?"));
		break;
	case UP_UNCONVERGED:
		buf_printf(b, "still has changes after %d passes", r->lim.max_passes);
		break;
	default:
		buf_puts(b, up_state_name(u->state));
	}
	buf_free(&s);
}

static void print_end(const struct up_ctx *x, const struct up_rollout *r)
{
	struct buf b = BUF_INIT;
	bool all = x->o.verbose || r->stopped;
	size_t applied = 0;

	if (r->declined)
		printf("nothing applied\n");
	if (r->aborted)
		printf("rollout aborted: a request could not be sent (see above)\n");
	if (r->stopped)
		printf("rollout stopped: %zu %s, more than the %zu tolerated (--max-failures)\n",
		       r->failures, r->failures == 1 ? "failure" : "failures", r->budget);
	for (size_t i = 0; i < r->n; i++) {
		const struct up_node *u = &r->nodes[i];

		if (!all && u->state == UP_CONVERGED)
			continue;
		node_what(&b, r, u);
		printf("%s: %s\n", u->id, buf_str(&b));
	}
	for (size_t i = 0; i < r->n; i++)
		applied += r->nodes[i].napplied > 0;
	printf("%zu of %zu nodes converged (%zu applied to), %zu failed, %zu not started, "
	       "%zu not converged, %zu missing, in %.2f s\n",
	       up_count(r, UP_CONVERGED), r->n, applied, up_count(r, UP_FAILED),
	       up_count(r, UP_NOT_STARTED), up_count(r, UP_UNCONVERGED), up_count(r, UP_MISSING),
	       (mono_ms() - x->t0) / 1000);
	buf_free(&b);
}

static json_t *record_json(const struct up_ctx *x, const struct up_rollout *r, int result)
{
	json_t *nodes = json_array();
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < r->n; i++) {
		const struct up_node *u = &r->nodes[i];

		node_what(&b, r, u);
		json_array_append_new(
			nodes, json_pack("{s:s, s:s, s:s?, s:s?, s:i, s:i, s:b, s:s}", "node",
					 u->id, "state", up_state_name(u->state), "stage", u->stage,
					 "reason", u->reason, "pass", u->pass, "applied",
					 u->napplied, "counted", u->counted, "what", buf_str(&b)));
	}
	buf_free(&b);
	return json_pack("{s:b, s:b, s:b, s:b, s:i, s:I, s:I, s:I, s:I, s:o, s:O?, s:O, s:O, s:f}",
			 "converged", result == 0, "stopped", r->stopped, "declined", r->declined,
			 "aborted", r->aborted, "passes", r->pass, "to_change",
			 (json_int_t)r->to_change, "batch_size", (json_int_t)r->batch_size,
			 "budget", (json_int_t)r->budget, "failures", (json_int_t)r->failures,
			 "nodes", nodes, "changes", x->changes, "batches", x->batches, "rejected",
			 x->rejected, "elapsed_ms", rpc_round_ms(mono_ms() - x->t0));
}

/*
 * take_opt - one of up's own options: 1 taken, 0 not one of them, -EINVAL
 * with the reason.
 */
static int take_opt(struct up_ctx *x, int c, const char *arg, struct tend_err *err)
{
	struct rpc_amount a;
	double d;

	switch (c) {
	case 'y':
	case OPT_YES:
		x->yes = true;
		return 1;
	case OPT_BATCH:
		if (rpc_amount_parse(arg, false, &x->lim.batch) < 0)
			return err_set(err, -EINVAL, "--batch: '%s' is not N or P%% (1 to 100)",
				       arg);
		return 1;
	case OPT_MAX_FAILURES:
		if (rpc_amount_parse(arg, true, &x->lim.max_failures) < 0)
			return err_set(err, -EINVAL,
				       "--max-failures: '%s' is not N or P%% (0 to 100)", arg);
		return 1;
	case OPT_CANARY:
		if (rpc_amount_parse(arg, true, &a) < 0 || a.pct)
			return err_set(err, -EINVAL, "--canary: '%s' is not a number of nodes",
				       arg);
		x->lim.canary = a.n;
		return 1;
	case OPT_MAX_PASSES:
		if (rpc_amount_parse(arg, false, &a) < 0 || a.pct || a.n > 100)
			return err_set(err, -EINVAL,
				       "--max-passes: '%s' is not a number (1 to 100)", arg);
		x->lim.max_passes = (int)a.n;
		return 1;
	case OPT_APPLY_TIMEOUT:
		if (str_to_duration(arg, &d) < 0 || d <= 0 || d > 86400)
			return err_set(err, -EINVAL,
				       "--apply-timeout: '%s' is not a duration (e.g. 600, 10m)",
				       arg);
		x->apply_timeout = d;
		return 1;
	default:
		return rpc_opts_take(&x->o, c, arg, err);
	}
}

/* parse - the command line into x; -1 to go on, else the exit code. */
static int parse(int argc, char **argv, struct up_ctx *x)
{
	static const struct option opts[] = {
		RPC_COMMON_OPTIONS,
		{ "yes", no_argument, NULL, OPT_YES },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "canary", required_argument, NULL, OPT_CANARY },
		{ "max-failures", required_argument, NULL, OPT_MAX_FAILURES },
		{ "max-passes", required_argument, NULL, OPT_MAX_PASSES },
		{ "apply-timeout", required_argument, NULL, OPT_APPLY_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	struct tend_err err = { "" };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hvy", opts, NULL)) != -1)
		if (take_opt(x, c, optarg, &err) <= 0)
			return rpc_usage_error(&err);
	if (x->o.api.help) {
		usage(stdout);
		return RPC_EXIT_OK;
	}
	if (optind < argc) {
		log_warnx("unexpected argument '%s' (a filter is --node, --tag, --fact)",
			  argv[optind]);
		return rpc_usage_error(NULL);
	}
	return -1;
}

static void ctx_free(struct up_ctx *x)
{
	json_decref(x->plans);
	json_decref(x->changes);
	json_decref(x->batches);
	json_decref(x->rejected);
	rpc_session_close(&x->s);
	rpc_opts_free(&x->o);
}

int rpc_cmd_up(int argc, char **argv)
{
	static const struct up_ops ops = { up_call, up_confirm, up_analyzed, up_batch };
	struct up_ctx x = { .apply_timeout = APPLY_TIMEOUT_S };
	struct up_rollout r;
	int ret;

	x.plans = json_object();
	x.batches = json_array();
	x.rejected = json_array();
	x.t0 = mono_ms();
	ret = parse(argc, argv, &x);
	if (ret >= 0)
		goto out;
	ret = rpc_session_open(&x.o, &x.s);
	if (ret != RPC_EXIT_OK)
		goto out;
	up_init(&r, &x.lim);
	ret = up_run(&r, &ops, &x);
	if (x.o.api.json) {
		json_t *rec = record_json(&x, &r, ret);

		api_print_json(rec);
		json_decref(rec);
	} else {
		print_end(&x, &r);
	}
	ret = ret == 0 && json_array_size(x.rejected) == 0 ? RPC_EXIT_OK : RPC_EXIT_FAIL;
	up_free(&r);
out:
	ctx_free(&x);
	return ret;
}
