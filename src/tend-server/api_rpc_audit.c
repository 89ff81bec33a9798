/*
 * api_rpc_audit.c - what nodes recorded of the requests they were sent
 * over the bus (tend ping, run, rpc, up), allowed or refused, over HTTP:
 *
 *   GET /v1/rpc-audit[?node=N][?caller=U][?request=ID][?decision=D]
 *                    [?since=SEQ][?limit=1..1000]
 *     -> {"records":[{"seq","node","received","time","id","caller",
 *                     "role","action","args","decision","reason",
 *                     "status","ms"}], "next": SEQ}
 *
 * Records come oldest first, as api_events.c's events do: without
 * since the newest limit, with since those after it (follow with
 * ?since=NEXT).  Everything but seq, node and received is the node's
 * own record (lib/rpc: rpc_audit_record).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "api.h"
#include "db.h"

#define RECORDS_DEFAULT 50
#define RECORDS_MAX 1000

int api_rpc_audit(struct api_req *rq, struct api_resp *rs)
{
	struct tend_err err = { "" };
	struct db_rpc_audit_query q = {
		.node = api_query(rq, "node"),
		.caller = api_query(rq, "caller"),
		.request = api_query(rq, "request"),
		.decision = api_query(rq, "decision"),
	};
	json_t *list = NULL, *last;
	long limit, since;
	int r;

	if (q.node && !db_node_id_ok(q.node))
		return api_error(rs, 400,
				 "node: bad node name '%.100s': letters, digits, '.', '-', '_'",
				 q.node);
	if (q.decision && strcmp(q.decision, "allowed") && strcmp(q.decision, "refused"))
		return api_error(rs, 400, "decision: expected allowed or refused");
	if (api_query_int(rq, "limit", RECORDS_DEFAULT, 1, RECORDS_MAX, &limit) < 0)
		return api_error(rs, 400, "limit: expected a number from 1 to %d", RECORDS_MAX);
	if (api_query_int(rq, "since", 0, 0, INT64_MAX, &since) < 0)
		return api_error(rs, 400, "since: expected a record's seq (a number >= 0)");
	q.limit = (int)limit;
	q.since = since;
	r = db_rpc_audit_list(&q, rq->srv->db, &list, &err);
	if (r < 0)
		return api_error_errno(rs, r, err.msg);
	last = json_object_get(json_array_get(list, json_array_size(list) - 1), "seq");
	return api_ok(rs, 200,
		      json_pack("{s:o, s:o}", "records", list, "next",
				last ? json_incref(last) : json_integer(since)));
}
