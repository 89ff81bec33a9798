/*
 * cmd_events.c - `tend events [--follow] [--node N] [--limit N] [--json]`:
 * the lifecycle events nodes sent over the bus (startup, shutdown,
 * alive, run, ...), as tend-server stored them, oldest first.
 *
 * Listing and following are api_log.c's, shared with `tend audit`.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_client.h"
#include "api_log.h"
#include "cli.h"
#include "util/log.h"
#include "util/strutil.h"

#define EVENTS_LIMIT_MAX 1000
#define DATA_SHOWN_MAX 160 /* characters of an event's data on its line */

/* print_event - one line: time, node, type, data (cut to DATA_SHOWN_MAX). */
static void print_event(const json_t *e)
{
	json_t *data = json_object_get(e, "data");
	char *text;

	text = json_is_object(data) && json_object_size(data) ? json_dumps(data, JSON_COMPACT) :
								NULL;
	printf("%-20s  %-24s  %-9s  %.*s%s\n", json_str(json_object_get(e, "time"), "?"),
	       json_str(json_object_get(e, "node"), "?"), json_str(json_object_get(e, "type"), "?"),
	       DATA_SHOWN_MAX, text ? text : "",
	       text && strlen(text) > DATA_SHOWN_MAX ? "..." : "");
	free(text);
}

static void usage(FILE *f)
{
	fputs("usage: tend events [--follow] [--node NODE] [--limit N] [OPTIONS]\n\n"
	      "The lifecycle events nodes sent (startup, shutdown, alive, run, ...), oldest\n"
	      "first: the newest --limit of them, then, with --follow, every new one as it\n"
	      "arrives (^C to stop).\n\noptions:\n"
	      "  -f, --follow        keep printing new events (asks every second)\n"
	      "      --node NODE     only this node's events\n"
	      "  -n, --limit N       how many past events to show first (1-1000, default 50)\n",
	      f);
	fputs(API_COMMON_HELP "\nexit status: 0 done, 1 error or refused, 2 usage\n", f);
}

int cmd_events(int argc, char **argv)
{
	static const struct option opts[] = {
		API_COMMON_OPTIONS,
		{ "follow", no_argument, NULL, 'f' },
		{ "node", required_argument, NULL, 'N' },
		{ "limit", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct api_log l = { .what = "events", .path = "/v1/events", .member = "events",
			     .id = "id", .none = "no events yet", .limit = 50,
			     .print = print_event };
	struct api_opts o = { 0 };
	long long v;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "hfn:", opts, NULL)) != -1) {
		if (api_opts_take(&o, ch, optarg))
			continue;
		if (ch == 'f') {
			l.follow = true;
		} else if (ch == 'N') {
			l.filters[0].key = "node";
			l.filters[0].value = optarg;
		} else if (ch == 'n' && str_to_ll(optarg, 10, 1, EVENTS_LIMIT_MAX, &v) == 0) {
			l.limit = (long)v;
		} else {
			if (ch == 'n')
				log_warnx("events: --limit takes a number from 1 to %d",
					  EVENTS_LIMIT_MAX);
			usage(stderr);
			return API_EXIT_USAGE;
		}
	}
	return api_log_main(&l, &o, argc, argv, usage);
}
