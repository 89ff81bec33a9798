/*
 * api_events.c - the lifecycle events nodes sent over the bus (startup,
 * shutdown, alive, run, ...), over HTTP:
 *
 *   GET /v1/events[?node=N][?since=ID][?limit=1..1000]
 *     -> {"events":[{"id","node","type","time","received","data"}],
 *         "next": ID}
 *
 * Events come oldest first.  Without since, the newest limit events;
 * with since, the events after that id, so that a client that follows
 * the stream (`tend events --follow`) asks again with ?since=NEXT and
 * sees every event once.
 */
#include <errno.h>
#include <stdint.h>

#include "api.h"
#include "db.h"

#define EVENTS_DEFAULT 50
#define EVENTS_MAX 1000

int api_events(struct api_req *rq, struct api_resp *rs)
{
	struct tend_err err = { "" };
	const char *node = api_query(rq, "node");
	json_t *list = NULL, *last;
	long limit, since;
	int r;

	if (node && !db_node_id_ok(node))
		return api_error(rs, 400,
				 "node: bad node name '%.100s': letters, digits, '.', '-', '_'",
				 node);
	if (api_query_int(rq, "limit", EVENTS_DEFAULT, 1, EVENTS_MAX, &limit) < 0)
		return api_error(rs, 400, "limit: expected a number from 1 to %d", EVENTS_MAX);
	if (api_query_int(rq, "since", 0, 0, INT64_MAX, &since) < 0)
		return api_error(rs, 400, "since: expected an event id (a number >= 0)");
	r = db_event_list(rq->srv->db, node, since, (int)limit, &list, &err);
	if (r < 0)
		return api_error_errno(rs, r, err.msg);
	last = json_object_get(json_array_get(list, json_array_size(list) - 1), "id");
	return api_ok(rs, 200,
		      json_pack("{s:o, s:o}", "events", list, "next",
				last ? json_incref(last) : json_integer(since)));
}
