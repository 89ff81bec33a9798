/*
 * events.c - lifecycle events: small JSON documents published on
 * tend.event.NODE.TYPE (startup, shutdown, alive, run).  Events are
 * fire-and-forget: one lost while the broker is away is not spooled
 * (the report of a run is, in spool.c); `alive` says the node is there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "tendd.h"

void iso_time(time_t t, char out[32])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

int event_publish(struct bus *b, const char *node, const char *type, json_t *data)
{
	char subject[TENDD_NODE_MAX + 64], now[32];
	struct tend_err err;
	json_t *ev;
	char *text;
	int r;

	iso_time(time(NULL), now);
	ev = json_pack("{s:s, s:s, s:s, s:o}", "type", type, "node", node, "time", now, "data",
		       data ? data : json_object());
	text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	if (!text)
		return -ENOMEM;
	snprintf(subject, sizeof(subject), "tend.event.%s.%s", node, type);
	r = b ? bus_publish(b, subject, text, strlen(text), &err) : -ENOTCONN;
	free(text);
	return r;
}
