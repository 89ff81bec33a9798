/*
 * cmd_events.c - `tend events [--follow] [--node N] [--limit N] [--json]`:
 * the lifecycle events nodes sent over the bus (startup, shutdown,
 * alive, run, ...), as tend-server stored them, oldest first.
 *
 * --follow keeps printing new events as they arrive: it asks the server
 * every second for the events after the last one it printed (GET
 * /v1/events?since=ID), so nothing is shown twice or skipped, and it
 * rides out a server restart (it says so once and keeps asking).  With
 * --json, events are printed one JSON object per line when following
 * (a stream), or as the API's answer otherwise.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_client.h"
#include "cli.h"
#include "util/log.h"
#include "util/strutil.h"

#define EVENTS_LIMIT_MAX 1000
#define DATA_SHOWN_MAX 160 /* characters of an event's data on its line */

struct events_args {
	struct api_opts o;
	const char *node;
	long limit;
	bool follow;
};

/* events_url - /v1/events with the query for node, since and limit. */
static void events_url(struct buf *b, const struct events_args *a, long long since)
{
	char n[32];

	buf_reset(b);
	buf_puts(b, "/v1/events");
	api_query_add(b, "node", a->node);
	if (since > 0) {
		snprintf(n, sizeof(n), "%lld", since);
		api_query_add(b, "since", n);
	}
	snprintf(n, sizeof(n), "%ld", a->limit);
	api_query_add(b, "limit", n);
}

/* print_event - one line: time, node, type, data (cut to DATA_SHOWN_MAX). */
static void print_event(const json_t *e, bool json)
{
	json_t *data = json_object_get(e, "data");
	char *text;

	if (json) {
		text = json_dumps(e, JSON_COMPACT);
		printf("%s\n", text ? text : "{}");
		free(text);
		return;
	}
	text = json_is_object(data) && json_object_size(data) ? json_dumps(data, JSON_COMPACT) :
								NULL;
	printf("%-20s  %-24s  %-9s  %.*s%s\n", json_str(json_object_get(e, "time"), "?"),
	       json_str(json_object_get(e, "node"), "?"), json_str(json_object_get(e, "type"), "?"),
	       DATA_SHOWN_MAX, text ? text : "",
	       text && strlen(text) > DATA_SHOWN_MAX ? "..." : "");
	free(text);
}

/* fetch - one GET; 0 with *ret, 1 when the server refused or was unreachable (said once). */
static int fetch(struct api_client *c, const char *url, bool quiet_errors, json_t **ret)
{
	struct api_result res = { 0 };
	struct tend_err err = { "" };
	int r = api_call(c, "GET", url, NULL, &res, &err);

	if (r < 0) {
		if (!quiet_errors)
			log_warnx("events: %s", err.msg);
		return 1;
	}
	if (res.status != 200 || !json_is_array(json_object_get(res.json, "events"))) {
		if (!quiet_errors)
			api_report_error(c, &res, "events");
		api_result_free(&res);
		return 1;
	}
	*ret = json_incref(res.json);
	api_result_free(&res);
	return 0;
}

static int events_follow(struct api_client *c, const struct events_args *a, long long next)
{
	struct buf url = BUF_INIT;
	bool failing = false;

	for (;;) {
		json_t *v = NULL, *e;
		size_t i;

		sleep(1);
		events_url(&url, a, next > 0 ? next : 0);
		if (fetch(c, buf_str(&url), failing, &v)) {
			if (!failing)
				log_warnx("events: still trying, every second");
			failing = true;
			continue;
		}
		if (failing)
			log_warnx("events: the server answers again");
		failing = false;
		json_array_foreach(json_object_get(v, "events"), i, e) {
			json_t *id = json_object_get(e, "id");

			print_event(e, c->json);
			if (json_is_integer(id) && json_integer_value(id) > next)
				next = json_integer_value(id);
		}
		fflush(stdout);
		json_decref(v);
	}
	buf_free(&url); /* not reached: ^C ends it */
	return 0;
}

static int events_run(struct api_client *c, const struct events_args *a)
{
	struct buf url = BUF_INIT;
	json_t *v = NULL, *e, *next;
	long long last = 0;
	size_t i;
	int r;

	events_url(&url, a, 0);
	r = fetch(c, buf_str(&url), false, &v);
	buf_free(&url);
	if (r)
		return API_EXIT_ERROR;
	if (c->json && !a->follow) {
		api_print_json(v);
		json_decref(v);
		return 0;
	}
	json_array_foreach(json_object_get(v, "events"), i, e)
		print_event(e, c->json);
	if (!i && !a->follow && !c->json)
		log_warnx("no events yet%s%s", a->node ? " from " : "", a->node ? a->node : "");
	next = json_object_get(v, "next");
	if (json_is_integer(next))
		last = json_integer_value(next);
	json_decref(v);
	fflush(stdout);
	return a->follow ? events_follow(c, a, last) : 0;
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
	struct events_args a = { .limit = 50 };
	struct api_client c;
	struct tend_err err;
	long long v;
	int ch, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "hfn:", opts, NULL)) != -1) {
		if (api_opts_take(&a.o, ch, optarg))
			continue;
		if (ch == 'f') {
			a.follow = true;
		} else if (ch == 'N') {
			a.node = optarg;
		} else if (ch == 'n' && str_to_ll(optarg, 10, 1, EVENTS_LIMIT_MAX, &v) == 0) {
			a.limit = (long)v;
		} else {
			if (ch == 'n')
				log_warnx("events: --limit takes a number from 1 to %d",
					  EVENTS_LIMIT_MAX);
			usage(stderr);
			return API_EXIT_USAGE;
		}
	}
	if (a.o.help) {
		usage(stdout);
		return API_EXIT_OK;
	}
	if (optind != argc) {
		log_warnx("events: unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return API_EXIT_USAGE;
	}
	if (api_client_init(&c, &a.o, &err) < 0) {
		log_warnx("%s", err.msg);
		return API_EXIT_ERROR;
	}
	r = events_run(&c, &a);
	api_client_free(&c);
	return r;
}
