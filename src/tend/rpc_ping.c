/*
 * rpc_ping.c - `tend ping [FILTER]`: which nodes answer a signed ping,
 * how long each took, and which nodes the inventory expected that did
 * not answer.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"
#include "util/log.h"

#define PING_TIMEOUT_S 10.0

static void usage(FILE *f)
{
	fputs("usage: tend ping [FILTER] [OPTIONS]\n\n"
	      "Sends a signed ping to the nodes the filter picks and lists those that\n"
	      "answer, with the round trip, then the count and the time it took.  With an\n"
	      "inventory (tend-server), it also names the nodes that should have answered\n"
	      "and did not, and stops waiting as soon as all of them answered.\n\n",
	      f);
	fputs(RPC_FILTER_HELP
	      "\noptions:\n"
	      "  --timeout S         wait at most S for answers (default 10s)\n" RPC_COMMON_HELP
	      "\nexit status: 0 at least one node answered and every expected node did,\n"
	      "1 otherwise (or a reply did not verify, or a node refused), 2 usage\n",
	      f);
}

static json_t *ping_json(const struct rpc_outcome *o)
{
	json_t *ok = json_array(), *refused = json_array(), *rejected = json_array();

	for (size_t i = 0; i < o->nans; i++) {
		const struct rpc_answer *a = &o->ans[i];

		if (!strcmp(a->status, "ok"))
			json_array_append_new(ok, json_pack("{s:s, s:f}", "node", a->node, "ms",
							    rpc_round_ms(a->rtt_ms)));
		else
			json_array_append_new(refused, json_pack("{s:s, s:s, s:s}", "node", a->node,
								 "status", a->status, "reason",
								 a->reason ? a->reason : ""));
	}
	for (size_t i = 0; i < o->nrej; i++)
		json_array_append_new(rejected, json_pack("{s:s, s:s}", "from", o->rej[i].from,
							  "reason", o->rej[i].reason));
	return json_pack("{s:o, s:o, s:o, s:O, s:f}", "answered", ok, "refused", refused,
			 "rejected", rejected, "missing", o->missing ? o->missing : json_null(),
			 "elapsed_ms", rpc_round_ms(o->elapsed_ms));
}

/* print - the text report; the number of nodes that answered ok. */
static size_t print(const struct rpc_outcome *o, bool verbose)
{
	struct buf s = BUF_INIT;
	struct cli_table t;
	size_t ok = 0;
	char ms[32];

	cli_table_init(&t, 2);
	t.right = 2;
	for (size_t i = 0; i < o->nans; i++) {
		if (strcmp(o->ans[i].status, "ok"))
			continue;
		snprintf(ms, sizeof(ms), "%.1f ms", o->ans[i].rtt_ms);
		cli_table_add(&t, o->ans[i].node);
		cli_table_add(&t, ms);
		ok++;
	}
	cli_table_print(&t, stdout);
	cli_table_free(&t);
	for (size_t i = 0; i < o->nans; i++)
		if (strcmp(o->ans[i].status, "ok"))
			printf("%s: %s: %s\n", o->ans[i].node, o->ans[i].status,
			       rpc_safe(&s, o->ans[i].reason ? o->ans[i].reason : "no reason"));
	printf("%zu %s answered in %.2f s", o->nans, o->nans == 1 ? "node" : "nodes",
	       o->elapsed_ms / 1000);
	if (ok < o->nans)
		printf(" (%zu of them did not say ok)", o->nans - ok);
	printf("\n");
	rpc_print_trouble(o, verbose);
	if (verbose)
		printf("waited %.2f s\n", o->waited_ms / 1000);
	buf_free(&s);
	return ok;
}

int rpc_cmd_ping(int argc, char **argv)
{
	static const struct option opts[] = { RPC_COMMON_OPTIONS, { NULL, 0, NULL, 0 } };
	struct rpc_opts o = { .timeout = 0 };
	struct tend_err err = { "" };
	struct rpc_outcome out = { .ans = NULL };
	struct rpc_session s;
	struct rpc_query call = { .action = "ping" };
	size_t ok;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		r = rpc_opts_take(&o, c, optarg, &err);
		if (r <= 0) {
			rpc_opts_free(&o);
			return rpc_usage_error(&err);
		}
	}
	if (o.api.help) {
		usage(stdout);
		rpc_opts_free(&o);
		return RPC_EXIT_OK;
	}
	if (optind < argc) {
		log_warnx("unexpected argument '%s' (a filter is --node, --tag, --fact)",
			  argv[optind]);
		rpc_opts_free(&o);
		return rpc_usage_error(NULL);
	}
	r = rpc_session_open(&o, &s);
	if (r != RPC_EXIT_OK)
		goto out;
	call.filter = s.filter;
	call.expect = s.expect;
	call.timeout_ms = (int)((o.timeout > 0 ? o.timeout : PING_TIMEOUT_S) * 1000);
	r = RPC_EXIT_FAIL;
	if (rpc_client_call(s.client, &call, &out, &err) < 0) {
		log_warnx("%s", err.msg);
		goto out;
	}
	if (o.api.json) {
		json_t *j = ping_json(&out);

		api_print_json(j);
		json_decref(j);
		ok = 0;
		for (size_t i = 0; i < out.nans; i++)
			ok += !strcmp(out.ans[i].status, "ok");
	} else {
		ok = print(&out, o.verbose);
	}
	r = ok > 0 && ok == out.nans && out.nrej == 0 && json_array_size(out.missing) == 0 ?
		    RPC_EXIT_OK :
		    RPC_EXIT_FAIL;
out:
	rpc_outcome_free(&out);
	rpc_session_close(&s);
	rpc_opts_free(&o);
	return r;
}
