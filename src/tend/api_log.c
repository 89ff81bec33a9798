/*
 * api_log.c - listing and following an append-only log the server keeps
 * (lifecycle events, the requests' audit): see api_log.h.
 *
 * --follow asks the server every second for the entries after the last
 * one it printed (?since=ID), so nothing is shown twice or skipped, and
 * it rides out a server restart (it says so once and keeps asking).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "api_log.h"
#include "util/log.h"

/* log_url - the log's path with the query for its filters, since and limit. */
static void log_url(struct buf *b, const struct api_log *l, long long since)
{
	char n[32];

	buf_reset(b);
	buf_puts(b, l->path);
	for (size_t i = 0; i < API_LOG_FILTERS_MAX && l->filters[i].key; i++)
		api_query_add(b, l->filters[i].key, l->filters[i].value);
	if (since > 0) {
		snprintf(n, sizeof(n), "%lld", since);
		api_query_add(b, "since", n);
	}
	snprintf(n, sizeof(n), "%ld", l->limit);
	api_query_add(b, "limit", n);
}

/* fetch - one GET; 0 with *ret, 1 when the server refused or was unreachable. */
static int fetch(struct api_client *c, const struct api_log *l, const char *url,
		 bool quiet_errors, json_t **ret)
{
	struct api_result res = { 0 };
	struct tend_err err = { "" };
	int r = api_call(c, "GET", url, NULL, &res, &err);

	if (r < 0) {
		if (!quiet_errors)
			log_warnx("%s: %s", l->what, err.msg);
		return 1;
	}
	if (res.status != 200 || !json_is_array(json_object_get(res.json, l->member))) {
		if (!quiet_errors)
			api_report_error(c, &res, l->what);
		api_result_free(&res);
		return 1;
	}
	*ret = json_incref(res.json);
	api_result_free(&res);
	return 0;
}

/* print_entries - each entry of v; the highest id seen into *next. */
static size_t print_entries(struct api_client *c, const struct api_log *l, json_t *v,
			    long long *next)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(v, l->member), i, e) {
		json_t *id = json_object_get(e, l->id);

		if (c->json) {
			char *text = json_dumps(e, JSON_COMPACT);

			printf("%s\n", text ? text : "{}");
			free(text);
		} else {
			l->print(e);
		}
		if (json_is_integer(id) && json_integer_value(id) > *next)
			*next = json_integer_value(id);
	}
	fflush(stdout);
	return i;
}

static int follow(struct api_client *c, const struct api_log *l, long long next)
{
	struct buf url = BUF_INIT;
	bool failing = false;

	for (;;) {
		json_t *v = NULL;

		sleep(1);
		log_url(&url, l, next > 0 ? next : 0);
		if (fetch(c, l, buf_str(&url), failing, &v)) {
			if (!failing)
				log_warnx("%s: still trying, every second", l->what);
			failing = true;
			continue;
		}
		if (failing)
			log_warnx("%s: the server answers again", l->what);
		failing = false;
		print_entries(c, l, v, &next);
		json_decref(v);
	}
	buf_free(&url); /* not reached: ^C ends it */
	return 0;
}

int api_log_run(struct api_client *c, const struct api_log *l)
{
	struct buf url = BUF_INIT;
	json_t *v = NULL, *next;
	long long last = 0;
	int r;

	log_url(&url, l, 0);
	r = fetch(c, l, buf_str(&url), false, &v);
	buf_free(&url);
	if (r)
		return API_EXIT_ERROR;
	if (c->json && !l->follow) {
		api_print_json(v);
		json_decref(v);
		return 0;
	}
	if (!print_entries(c, l, v, &last) && !l->follow && !c->json)
		log_warnx("%s", l->none);
	next = json_object_get(v, "next");
	if (json_is_integer(next))
		last = json_integer_value(next);
	json_decref(v);
	return l->follow ? follow(c, l, last) : 0;
}

int api_log_main(const struct api_log *l, const struct api_opts *o, int argc, char **argv,
		 void (*usage)(FILE *))
{
	struct api_client c;
	struct tend_err err;
	int r;

	if (o->help) {
		usage(stdout);
		return API_EXIT_OK;
	}
	if (optind != argc) {
		log_warnx("%s: unexpected argument '%s'", l->what, argv[optind]);
		usage(stderr);
		return API_EXIT_USAGE;
	}
	if (api_client_init(&c, o, &err) < 0) {
		log_warnx("%s", err.msg);
		return API_EXIT_ERROR;
	}
	r = api_log_run(&c, l);
	api_client_free(&c);
	return r;
}
