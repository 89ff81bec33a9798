/*
 * events.c - lifecycle events: small JSON documents published on
 * tend.event.NODE.TYPE (startup, shutdown, alive, run), each with the
 * time it happened.
 *
 * An event that cannot be sent because the broker is away waits in
 * memory, oldest first, and goes out when the connection is back
 * (events_flush, called with the report spool's flush): `tend events`
 * then shows the runs of an outage at the times they happened.  Those
 * are sent as requests that the server answers, one at a time: a broker
 * that has just come back may carry them before tend-server has
 * subscribed again, and a plain publication would then reach nobody.  At most
 * EVENTS_QUEUE_MAX wait; past that the oldest go, and the next flush
 * says how many.  `alive` events are not kept (they mean "there now").
 * They are not written to disk: a tendd stopped during an outage loses
 * its waiting events (the reports of its runs are spooled, spool.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "tendd.h"
#include "util/log.h"
#include "util/strutil.h"

#define EVENTS_QUEUE_MAX 1000

struct queued {
	struct queued *next;
	char *subject, *text;
};

static struct {
	pthread_mutex_t lock;
	struct queued *head, **tail;
	size_t n, dropped;
} q = { PTHREAD_MUTEX_INITIALIZER, NULL, &q.head, 0, 0 };

void iso_time(time_t t, char out[32])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

/* queue_pop - the oldest waiting event (the caller frees it), or NULL; q.lock held. */
static struct queued *queue_pop(void)
{
	struct queued *e = q.head;

	if (e) {
		q.head = e->next;
		if (!q.head)
			q.tail = &q.head;
		q.n--;
	}
	return e;
}

static void queued_free(struct queued *e)
{
	if (e) {
		free(e->subject);
		free(e->text);
		free(e);
	}
}

/* queue_push - keep subject and text (taken) to send later; q.lock held. */
static void queue_push(char *subject, char *text)
{
	struct queued *e = malloc(sizeof(*e));

	if (!e) {
		free(subject);
		free(text);
		q.dropped++;
		return;
	}
	*e = (struct queued){ NULL, subject, text };
	*q.tail = e;
	q.tail = &e->next;
	if (++q.n > EVENTS_QUEUE_MAX) {
		queued_free(queue_pop());
		q.dropped++;
	}
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
	pthread_mutex_lock(&q.lock);
	/* after those that wait, in order */
	r = q.head ? -ENOTCONN : b ? bus_publish(b, subject, text, strlen(text), &err) : -ENOTCONN;
	if (r == -ENOTCONN && strcmp(type, "alive")) {
		queue_push(xstrdup(subject), text);
		text = NULL;
		r = 0;
	}
	pthread_mutex_unlock(&q.lock);
	free(text);
	return r;
}

/* sent - whether the server took e (or refused it for good); false: try again later. */
static bool sent(struct bus *b, const struct queued *e, int timeout_ms)
{
	struct tend_err err = { "" };
	size_t len = 0;
	char *text = NULL;
	json_t *ans;
	bool done;

	if (bus_request(b, e->subject, e->text, strlen(e->text), timeout_ms, &text, &len, &err) < 0)
		return false;
	ans = json_loadb(text, len, 0, NULL);
	done = json_is_true(json_object_get(ans, "ok")) ||
	       !json_is_true(json_object_get(ans, "retry"));
	if (!json_is_true(json_object_get(ans, "ok")))
		log_warnx("the server %s an event that waited: %s", done ? "refused" : "put off",
			  json_string_value(json_object_get(ans, "error")) ?: "no reason");
	json_decref(ans);
	free(text);
	return done;
}

/* The lock is held while requests go out, so that nothing overtakes
 * them: a thread publishing an event meanwhile waits, at most one
 * request timeout longer than the answered requests take (the first
 * unanswered one ends the flush). */
size_t events_flush(struct bus *b, int timeout_ms)
{
	struct queued *e;
	size_t n = 0, dropped;

	pthread_mutex_lock(&q.lock);
	while (b && (e = q.head) && sent(b, e, timeout_ms)) {
		queued_free(queue_pop());
		n++;
	}
	dropped = q.dropped;
	q.dropped = 0;
	pthread_mutex_unlock(&q.lock);
	if (dropped)
		log_warnx("%zu events were dropped while the broker was away (more than %d waited)",
			  dropped, EVENTS_QUEUE_MAX);
	if (n)
		log_info("sent %zu event%s that waited for the broker", n, n == 1 ? "" : "s");
	return n;
}

size_t events_waiting(void)
{
	size_t n;

	pthread_mutex_lock(&q.lock);
	n = q.n;
	pthread_mutex_unlock(&q.lock);
	return n;
}
