/*
 * cmd_audit.c - `tend audit [--follow] [--node N] [--caller U]
 * [--request ID] [--refused] [--limit N] [--json]`: what nodes recorded
 * of the requests they were sent over the bus (tend ping, run, rpc, up),
 * allowed or refused with the reason, as tend-server stored them
 * (GET /v1/rpc-audit), oldest first.  Listing and following are
 * api_log.c's.  Each node also keeps its own records, in
 * STATE/audit.jsonl (tendd(8)).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "api_client.h"
#include "api_log.h"
#include "cli.h"
#include "util/log.h"
#include "util/strutil.h"

#define AUDIT_LIMIT_MAX 1000

/* print_record - time, node, caller, action, decision, and the reason or the status. */
static void print_record(const json_t *e)
{
	const char *decision = json_str(json_object_get(e, "decision"), "?");
	const char *status = json_str(json_object_get(e, "status"), "");
	const char *reason = json_str(json_object_get(e, "reason"), "");

	printf("%-24s  %-20s  %-12s  %-8s  %-8s  %s%s%s\n",
	       json_str(json_object_get(e, "time"), "?"), json_str(json_object_get(e, "node"), "?"),
	       json_str(json_object_get(e, "caller"), "?"),
	       json_str(json_object_get(e, "action"), "?"), decision, status,
	       *status && *reason ? ": " : "", reason);
}

static void usage(FILE *f)
{
	fputs("usage: tend audit [--follow] [--node NODE] [--caller USER] [--request ID]\n"
	      "                  [--refused | --allowed] [--limit N] [OPTIONS]\n\n"
	      "What nodes recorded of the requests they were sent (tend ping, run, rpc, up):\n"
	      "who asked for what, and whether the node allowed it, with the reason, oldest\n"
	      "first; with --follow, every new record as it arrives (^C to stop).\n\noptions:\n"
	      "  -f, --follow        keep printing new records (asks every second)\n"
	      "      --node NODE     only this node's records\n"
	      "      --caller USER   only requests from this administrator\n"
	      "      --request ID    only the records of one request\n"
	      "      --refused       only refused requests (--allowed: only allowed ones)\n"
	      "  -n, --limit N       how many past records to show first (1-1000, default 50)\n",
	      f);
	fputs(API_COMMON_HELP "\nexit status: 0 done, 1 error or refused, 2 usage\n", f);
}

/* take - one of audit's own options into l; false when ch is none of them. */
static bool take(struct api_log *l, int ch, const char *arg)
{
	static const char *const keys[] = { "node", "caller", "request", "decision" };
	long long v;

	switch (ch) {
	case 'f': l->follow = true; return true;
	case 'N': case 'C': case 'R': case 'D': case 'A': {
		int i = ch == 'N' ? 0 : ch == 'C' ? 1 : ch == 'R' ? 2 : 3;

		l->filters[i].key = keys[i];
		l->filters[i].value = ch == 'D' ? "refused" : ch == 'A' ? "allowed" : arg;
		return true;
	}
	case 'n':
		if (str_to_ll(arg, 10, 1, AUDIT_LIMIT_MAX, &v) < 0) {
			log_warnx("audit: --limit takes a number from 1 to %d", AUDIT_LIMIT_MAX);
			return false;
		}
		l->limit = (long)v;
		return true;
	default: return false;
	}
}

int cmd_audit(int argc, char **argv)
{
	static const struct option opts[] = {
		API_COMMON_OPTIONS,
		{ "follow", no_argument, NULL, 'f' },
		{ "node", required_argument, NULL, 'N' },
		{ "caller", required_argument, NULL, 'C' },
		{ "request", required_argument, NULL, 'R' },
		{ "refused", no_argument, NULL, 'D' },
		{ "allowed", no_argument, NULL, 'A' },
		{ "limit", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct api_log l = { .what = "audit", .path = "/v1/rpc-audit", .member = "records",
			     .id = "seq", .none = "no audit records yet", .limit = 50,
			     .print = print_record };
	struct api_opts o = { 0 };
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "hfn:", opts, NULL)) != -1) {
		if ((ch == 'D' || ch == 'A') && l.filters[3].key &&
		    strcmp(l.filters[3].value, ch == 'D' ? "refused" : "allowed")) {
			log_warnx("audit: --refused or --allowed, not both");
			return API_EXIT_USAGE;
		}
		if (api_opts_take(&o, ch, optarg) || take(&l, ch, optarg))
			continue;
		usage(stderr);
		return API_EXIT_USAGE;
	}
	return api_log_main(&l, &o, argc, argv, usage);
}
