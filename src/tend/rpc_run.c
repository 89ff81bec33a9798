/*
 * rpc_run.c - `tend run [FILTER] [--timeout S] [--shell] -- CMD ARGS...`:
 * one command on many nodes, their exit status and output grouped so
 * that nodes that did the same are shown once ("web01, web02 (2 nodes):
 * exit 0" and the output below).
 *
 * The command runs without a shell unless --shell; the agent kills it at
 * --timeout and the policy on each node decides whether this admin may
 * run it at all.  The reply's data (tendd's actions_run.c) is {"exit":
 * N or null, "stdout", "stderr", "truncated", "timed_out", "signal"};
 * a command that did not exit 0 makes the status "failed" with the
 * reason ("exited 1", "timed out after 2s ...").
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"
#include "util/log.h"
#include "util/strutil.h"

#define RUN_TIMEOUT_S 60.0
#define RUN_GRACE_S 10.0 /* waited beyond the command's timeout */

enum { OPT_SHELL = 0x1200 };

static void usage(FILE *f)
{
	fputs("usage: tend run [FILTER] [--timeout S] [--shell] [OPTIONS] -- CMD [ARGS...]\n\n"
	      "Runs CMD with ARGS on the nodes the filter picks, without a shell unless\n"
	      "--shell, and shows each distinct result once with the nodes that had it:\n"
	      "exit status, standard output, standard error (each cut at the agent's limit).\n"
	      "Options go before CMD.  Each node's policy decides whether you may run CMD.\n\n",
	      f);
	fputs(RPC_FILTER_HELP
	      "\noptions:\n"
	      "  --timeout S         kill the command after S (default 60s); answers are\n"
	      "                      awaited 10s longer\n"
	      "  --shell             run the command line with /bin/sh -c\n" RPC_COMMON_HELP
	      "\nexit status: 0 every node ran CMD and it exited 0, 1 a node failed, refused\n"
	      "or did not answer (or a reply did not verify), 2 usage\n",
	      f);
}

/* exit_of - the command's exit status in data, -1 when none. */
static long long exit_of(const json_t *data)
{
	json_t *e = json_object_get(data, "exit");

	return json_is_integer(e) ? json_integer_value(e) : -1;
}

/* ran - whether data is a command's result (the agent ran it). */
static bool ran(const json_t *data)
{
	return json_object_get(data, "exit") != NULL;
}

/* succeeded - ok, exited 0, not killed. */
static bool succeeded(const struct rpc_answer *a)
{
	return !strcmp(a->status, "ok") && exit_of(a->data) == 0 &&
	       !json_is_true(json_object_get(a->data, "timed_out"));
}

/* rank - groups in this order: exit 0, other exits, failures, refusals. */
static int rank(const struct rpc_answer *a)
{
	if (succeeded(a))
		return 0;
	if (!strcmp(a->status, "refused"))
		return 3;
	return exit_of(a->data) > 0 ? 1 : 2;
}

/* result_key - what makes two nodes' results the same. */
static char *result_key(const struct rpc_answer *a)
{
	json_t *d = a->data, *k;
	char *s;

	k = json_pack("[s, s?, O?, O?, O?, O?, O?, O?]", a->status, a->reason,
		      json_object_get(d, "exit"), json_object_get(d, "stdout"),
		      json_object_get(d, "stderr"), json_object_get(d, "timed_out"),
		      json_object_get(d, "signal"), json_object_get(d, "truncated"));
	s = k ? json_dumps(k, JSON_COMPACT) : NULL;
	json_decref(k);
	return s ? s : xstrdup("?");
}

/*
 * headline - what happened, in a few words: "exit 0", "exit 2", "timed
 * out after 2s (process group killed)", "killed by signal 9", "failed:
 * cannot run /x: ...", "refused: no rule allows run ...".
 */
static void headline(struct buf *b, const struct rpc_answer *a)
{
	json_t *sig = json_object_get(a->data, "signal");
	const char *why = a->reason ? a->reason : "no reason given";
	struct buf s = BUF_INIT;

	buf_reset(b);
	if (!ran(a->data) || !strcmp(a->status, "refused"))
		buf_printf(b, "%s: %s", a->status, rpc_safe(&s, why));
	else if (json_is_true(json_object_get(a->data, "timed_out")))
		buf_puts(b, a->reason ? rpc_safe(&s, a->reason) : "timed out");
	else if (json_is_integer(sig))
		buf_printf(b, "killed by signal %lld", (long long)json_integer_value(sig));
	else if (exit_of(a->data) >= 0)
		buf_printf(b, "exit %lld", exit_of(a->data));
	else
		buf_printf(b, "%s: %s", a->status, rpc_safe(&s, why));
	if (json_is_true(json_object_get(a->data, "truncated")))
		buf_puts(b, " (output cut at the agent's limit)");
	buf_free(&s);
}

static void print_stream(const json_t *data, const char *name, bool label)
{
	json_t *v = json_object_get(data, name);

	if (!json_is_string(v) || !json_string_length(v))
		return;
	if (label)
		printf("  %s:\n", name);
	rpc_print_text(stdout, "    ", json_string_value(v), json_string_length(v));
}

static void print_groups(const struct rpc_outcome *o, bool verbose)
{
	struct rpc_item *items = xcalloc(o->nans ? o->nans : 1, sizeof(*items));
	struct buf label = BUF_INIT, head = BUF_INIT;
	struct rpc_group *g = NULL;
	size_t ng = 0;

	for (size_t i = 0; i < o->nans; i++)
		items[i] = (struct rpc_item){ o->ans[i].node, result_key(&o->ans[i]),
					      rank(&o->ans[i]), i };
	rpc_group_items(items, o->nans, &g, &ng);
	for (size_t i = 0; i < ng; i++) {
		const struct rpc_answer *a = &o->ans[items[g[i].first].idx];

		rpc_group_label(&label, items, &g[i], verbose);
		headline(&head, a);
		printf("%s: %s\n", buf_str(&label), buf_str(&head));
		print_stream(a->data, "stdout", false);
		print_stream(a->data, "stderr", true);
	}
	for (size_t i = 0; i < o->nans; i++)
		free((char *)items[i].key);
	free(items);
	free(g);
	buf_free(&label);
	buf_free(&head);
}

/* run_args - {"argv": [...], "shell": bool, "timeout": S}. */
static json_t *run_args(char **cmd, int n, bool shell, double timeout)
{
	json_t *argv = json_array();

	for (int i = 0; i < n; i++)
		json_array_append_new(argv, json_string(cmd[i]));
	return json_pack("{s:o, s:b, s:o}", "argv", argv, "shell", shell, "timeout",
			 timeout == (double)(json_int_t)timeout ?
				 json_integer((json_int_t)timeout) :
				 json_real(timeout));
}

/* report - print (text or JSON); the exit code. */
static int report(const struct rpc_outcome *o, const struct rpc_opts *opt)
{
	size_t ok = 0;

	for (size_t i = 0; i < o->nans; i++)
		ok += succeeded(&o->ans[i]);
	if (opt->api.json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < o->nans; i++)
			json_array_append_new(arr, rpc_answer_json(&o->ans[i]));
		rpc_trouble_json(arr, o);
		api_print_json(arr);
		json_decref(arr);
	} else {
		print_groups(o, opt->verbose);
		printf("%zu of %zu %s succeeded in %.2f s\n", ok, o->nans,
		       o->nans == 1 ? "node" : "nodes", o->elapsed_ms / 1000);
		rpc_print_trouble(o, opt->verbose);
	}
	return ok > 0 && ok == o->nans && !o->nrej && !json_array_size(o->missing) ? RPC_EXIT_OK :
										     RPC_EXIT_FAIL;
}

int rpc_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = { RPC_COMMON_OPTIONS,
					      { "shell", no_argument, NULL, OPT_SHELL },
					      { NULL, 0, NULL, 0 } };
	struct rpc_opts o = { .timeout = 0 };
	struct rpc_outcome out = { .ans = NULL };
	struct tend_err err = { "" };
	struct rpc_query call = { .action = "run" };
	struct rpc_session s;
	json_t *args = NULL;
	bool shell = false;
	double timeout;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+hv", opts, NULL)) != -1) {
		if (c == OPT_SHELL) {
			shell = true;
			continue;
		}
		if (rpc_opts_take(&o, c, optarg, &err) <= 0) {
			rpc_opts_free(&o);
			return rpc_usage_error(&err);
		}
	}
	if (o.api.help) {
		usage(stdout);
		rpc_opts_free(&o);
		return RPC_EXIT_OK;
	}
	if (optind >= argc) {
		log_warnx("no command: tend run [OPTIONS] -- CMD [ARGS...]");
		rpc_opts_free(&o);
		return rpc_usage_error(NULL);
	}
	timeout = o.timeout > 0 ? o.timeout : RUN_TIMEOUT_S;
	r = rpc_session_open(&o, &s);
	if (r != RPC_EXIT_OK)
		goto out;
	args = run_args(argv + optind, argc - optind, shell, timeout);
	call.args = args;
	call.filter = s.filter;
	call.expect = s.expect;
	call.timeout_ms = (int)((timeout + RUN_GRACE_S) * 1000);
	r = RPC_EXIT_FAIL;
	if (rpc_client_call(s.client, &call, &out, &err) < 0)
		log_warnx("%s", err.msg);
	else
		r = report(&out, &o);
out:
	json_decref(args);
	rpc_outcome_free(&out);
	rpc_session_close(&s);
	rpc_opts_free(&o);
	return r;
}
