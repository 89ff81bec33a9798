/*
 * rpc_action.c - `tend rpc ACTION [KEY=VALUE...] [FILTER]`: any action
 * the agents know (ping, facts, plan, apply, run, service, check) with
 * its arguments given on the command line (rpc_args.c), each node's
 * status and data printed as they came, or as one JSON array.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"
#include "util/log.h"

#define ACTION_TIMEOUT_S 10.0
#define ACTION_NAME_MAX 32

static void usage(FILE *f)
{
	fputs("usage: tend rpc ACTION [KEY=VALUE | KEY:=JSON ...] [FILTER] [OPTIONS]\n\n"
	      "Sends ACTION with its arguments to the nodes the filter picks and prints\n"
	      "each node's answer.  The agents' actions: ping, facts, plan, apply, run\n"
	      "(argv:='[\"uptime\"]'), service (name=nginx op=restart), check (name=http).\n"
	      "KEY=VALUE is a string, or a number or true/false when VALUE is one;\n"
	      "KEY:=JSON takes any JSON text (arrays, objects, \"quoted strings\").\n\n",
	      f);
	fputs(RPC_FILTER_HELP
	      "\noptions:\n"
	      "  --timeout S         wait at most S for answers (default 10s)\n" RPC_COMMON_HELP
	      "\nexit status: 0 every node answered ok, 1 a node failed, refused or did not\n"
	      "answer (or a reply did not verify), 2 usage\n",
	      f);
}

static bool action_ok(const char *a)
{
	size_t n = strlen(a);

	if (n == 0 || n > ACTION_NAME_MAX)
		return false;
	for (const char *p = a; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '-'))
			return false;
	return true;
}

static void print_answers(const struct rpc_outcome *o, bool verbose)
{
	struct buf s = BUF_INIT;
	size_t ok = 0;

	for (size_t i = 0; i < o->nans; i++) {
		const struct rpc_answer *a = &o->ans[i];
		json_t *d = a->data;
		char *text;

		ok += !strcmp(a->status, "ok");
		printf("%s: %s", a->node, a->status);
		if (a->reason)
			printf(": %s", rpc_safe(&s, a->reason));
		printf(" (%.0f ms)\n", a->ms);
		if (!d || json_is_null(d) || (json_is_object(d) && !json_object_size(d)))
			continue;
		text = json_dumps(d, JSON_INDENT(2) | JSON_ENCODE_ANY);
		if (text)
			rpc_print_text(stdout, "    ", text, strlen(text));
		free(text);
	}
	printf("%zu of %zu %s ok in %.2f s\n", ok, o->nans, o->nans == 1 ? "node" : "nodes",
	       o->elapsed_ms / 1000);
	rpc_print_trouble(o, verbose);
	buf_free(&s);
}

/* parse - options and ACTION KEY=VALUE...; 0, or the exit code. */
static int parse(int argc, char **argv, struct rpc_opts *o, const char **ret_action,
		 json_t **ret_args)
{
	static const struct option opts[] = { RPC_COMMON_OPTIONS, { NULL, 0, NULL, 0 } };
	struct tend_err err = { "" };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1)
		if (rpc_opts_take(o, c, optarg, &err) <= 0)
			return rpc_usage_error(&err);
	if (o->api.help) {
		usage(stdout);
		return RPC_EXIT_OK;
	}
	if (optind >= argc) {
		log_warnx("no action: tend rpc ACTION [KEY=VALUE...]");
		return rpc_usage_error(NULL);
	}
	if (!action_ok(argv[optind])) {
		log_warnx("'%.40s' is not an action name (lowercase letters, digits, '_', '-')",
			  argv[optind]);
		return rpc_usage_error(NULL);
	}
	*ret_action = argv[optind];
	if (rpc_args_parse(argv + optind + 1, argc - optind - 1, ret_args, &err) < 0)
		return rpc_usage_error(&err);
	return -1;
}

int rpc_cmd_rpc(int argc, char **argv)
{
	struct rpc_opts o = { .timeout = 0 };
	struct rpc_outcome out = { .ans = NULL };
	struct tend_err err = { "" };
	struct rpc_query call = { .action = NULL };
	struct rpc_session s;
	json_t *args = NULL;
	size_t ok = 0;
	int r;

	r = parse(argc, argv, &o, &call.action, &args);
	if (r >= 0) {
		rpc_opts_free(&o);
		return r;
	}
	r = rpc_session_open(&o, &s);
	if (r != RPC_EXIT_OK)
		goto out;
	call.args = args;
	call.filter = s.filter;
	call.expect = s.expect;
	call.timeout_ms = (int)((o.timeout > 0 ? o.timeout : ACTION_TIMEOUT_S) * 1000);
	r = RPC_EXIT_FAIL;
	if (rpc_client_call(s.client, &call, &out, &err) < 0) {
		log_warnx("%s", err.msg);
		goto out;
	}
	if (o.api.json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < out.nans; i++)
			json_array_append_new(arr, rpc_answer_json(&out.ans[i]));
		rpc_trouble_json(arr, &out);
		api_print_json(arr);
		json_decref(arr);
	} else {
		print_answers(&out, o.verbose);
	}
	for (size_t i = 0; i < out.nans; i++)
		ok += !strcmp(out.ans[i].status, "ok");
	r = ok > 0 && ok == out.nans && !out.nrej && !json_array_size(out.missing) ? RPC_EXIT_OK :
										     RPC_EXIT_FAIL;
out:
	json_decref(args);
	rpc_outcome_free(&out);
	rpc_session_close(&s);
	rpc_opts_free(&o);
	return r;
}
