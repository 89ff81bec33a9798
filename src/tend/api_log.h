/*
 * api_log.h - `tend events` and `tend audit`: an append-only log the
 * server keeps, the newest entries oldest first, then with --follow
 * every new one as it arrives (api_log.c).  With --json, entries are one
 * JSON object per line when following (a stream), the API's answer
 * otherwise.
 */
#ifndef TEND_API_LOG_H
#define TEND_API_LOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "api_client.h"

#define API_LOG_FILTERS_MAX 4

struct api_log {
	const char *what;   /* the command, for messages: "events" */
	const char *path;   /* "/v1/events" */
	const char *member; /* the answer's array: "events" */
	const char *id;     /* the entries' increasing id: "id" */
	const char *none;   /* said when there is nothing yet */
	struct {
		const char *key, *value; /* query filters; value NULL: left out */
	} filters[API_LOG_FILTERS_MAX];
	long limit;
	bool follow;
	void (*print)(const json_t *entry); /* one line per entry */
};

/* api_log_run - list (and follow) l; returns the exit status. */
int api_log_run(struct api_client *c, const struct api_log *l);

/*
 * api_log_main - the rest of `tend events|audit` once getopt is done
 * (optind past the options): --help, no stray argument, the client from
 * o, then api_log_run.  Returns the exit status.
 */
int api_log_main(const struct api_log *l, const struct api_opts *o, int argc, char **argv,
		 void (*usage)(FILE *));

#endif
