/*
 * api.h - the HTTP API's request handlers and the one table that routes
 * requests to them.
 *
 * Authorisation happens in the dispatcher (dispatch.c), never in a
 * handler: every route declares its permission in API_ROUTE(), a macro
 * that does not compile without one, and the dispatcher refuses to start
 * (and test-dispatch fails) if a table entry has none.  A handler runs
 * only after the caller was authenticated and allowed; writes are audited
 * by the dispatcher from what the handler put in rs->audit_*.
 *
 * Handlers answer JSON: api_ok / api_error set the response and return 0.
 * Request bodies are at most cfg.body_max bytes (413 beyond), JSON bodies
 * must be objects; unknown fields are refused with 400 (api_body_fields).
 */
#ifndef TEND_SERVER_API_H
#define TEND_SERVER_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "server.h"

enum api_perm {
	API_PERM_UNSET = 0,   /* a table entry without permission: refused at start */
	API_PERM_PUBLIC,      /* no token needed */
	API_PERM_READ,        /* ro or rw token */
	API_PERM_WRITE,       /* rw token; audited */
};

#define API_PARAMS_MAX 4
#define API_QUERY_MAX 32   /* query arguments kept per request; more: 400 */

/* One query argument ("?raw" has value ""). */
struct api_arg {
	const char *name;
	const char *value;
};

struct api_req {
	struct server *srv;
	const char *method;            /* "GET", "PUT", ... */
	const char *path;              /* URL path, decoded, without the query */
	const char *params[API_PARAMS_MAX]; /* captured {x} and {x...} segments */
	void *conn;                    /* MHD connection (query arguments, headers) */
	const char *body;              /* request body (NUL-terminated), may be NULL */
	size_t body_len;
	const char *caller;            /* token name */
	const char *address;           /* client address, text */
	const struct api_arg *query;   /* query arguments (api_query), decoded */
	size_t nquery;
	json_t *json;                  /* the body, parsed by the HTTP layer when a
					* write route has one (api_body_json uses it) */
};

struct api_resp {
	int status;
	json_t *json;                  /* body (taken), or NULL with raw */
	char *raw;                     /* raw body (malloc'd), used when json is NULL */
	size_t raw_len;
	const char *content_type;      /* for raw; default text/plain */
	char etag[80];                 /* sent as ETag when set (quoted by the HTTP
					* layer if bare); a GET whose If-None-Match
					* names it is answered 304 without a body */
	/* audit: what a write acted on (dispatcher records it) */
	char audit_target[1100];
	char audit_commit[41];
	char audit_detail[512];
};

typedef int (*api_handler)(struct api_req *rq, struct api_resp *rs);

struct repo_snap;

struct api_route {
	const char *method;
	const char *pattern;   /* "/v1/nodes/{node}", "/v1/files/{path...}" (rest of path) */
	enum api_perm perm;
	api_handler fn;
	const char *summary;
};

/* API_ROUTE - a table entry; PERM is PUBLIC, READ or WRITE (no default). */
#define API_ROUTE(METHOD, PATTERN, PERM, FN, SUMMARY) \
	{ METHOD, PATTERN, API_PERM_##PERM, FN, SUMMARY }

/* The table (dispatch.c), terminated by { NULL }. */
extern const struct api_route api_routes[];

/*
 * api_route_match - the route for method and path, with captured params;
 * NULL when none (*ret_path_known tells 405 from 404).
 */
const struct api_route *api_route_match(const char *method, const char *path,
					const char *params[API_PARAMS_MAX], char *scratch,
					size_t scratch_len, bool *ret_path_known);

/* api_route_allow - the methods routed for path ("GET, PUT"), for Allow on 405. */
void api_route_allow(const char *path, char *out, size_t len);

/*
 * api_query_check - 0 when every query argument of rq is a query parameter
 * docs/openapi.json lists for route; else 1 with a 400 naming the argument
 * in rs (500 when the document does not describe the route).
 */
int api_query_check(const struct api_req *rq, const struct api_route *route, struct api_resp *rs);

/* api_route_operation - route's operation object in docs/openapi.json
 * (borrowed, lives as long as the process); -ENOENT when not described. */
int api_route_operation(const struct api_route *route, json_t **ret);

/* api_routes_check - -EINVAL (message) when an entry lacks a permission or a handler. */
int api_routes_check(struct tend_err *err);
/* api_routes_check_table - the same check on any table (tests inject bad ones). */
int api_routes_check_table(const struct api_route *table, struct tend_err *err);

/* ---- for the HTTP layer (http.c): the one place authorisation happens ---- */

/*
 * api_begin - route and authorise a request whose headers have arrived,
 * before its body is read: 404 (no such path), 405 (path known, method
 * not), 401 (non-PUBLIC route without a valid "Bearer" authorization),
 * 403 (ro token on a WRITE route; audited).  Returns 0 with *ret_route,
 * rq->params and rq->caller set (*ret_caller: the caller's name, malloc'd,
 * or NULL for PUBLIC routes without a token) when the request may go on;
 * 1 when rs holds the answer.  scratch holds the captured params.
 */
int api_begin(struct api_req *rq, const char *authorization, const struct api_route **ret_route,
	      char **ret_caller, char *scratch, size_t scratch_len, struct api_resp *rs);

/*
 * api_finish - run route's handler on the complete request, unless rs
 * already holds an answer (the transport refused the body: 413), and
 * audit it when the route is WRITE.  A WRITE route's non-empty body must
 * be a JSON object (400 otherwise; parsed once into rq->json, which the
 * caller releases).  Handler errors (< 0 without an answer) become 500.
 */
void api_finish(struct api_req *rq, const struct api_route *route, struct api_resp *rs);

/*
 * http_path_check - what the HTTP layer (http.c) checks of a request's
 * decoded URL path before routing: at most HTTP_PATH_MAX bytes (414), no
 * control character (400), no "." or ".." component (400).  0 with url
 * copied to path; 1 with the answer in rs (and a shortened copy in path).
 */
#define HTTP_PATH_MAX 2048
int http_path_check(const char *url, char path[HTTP_PATH_MAX + 1], struct api_resp *rs);

/* api_resp_clear - free what rs holds (json, raw) and zero it. */
void api_resp_clear(struct api_resp *rs);

/* ---- for handlers ---- */

/* api_ok - status 200 (or given) with body json (taken). */
int api_ok(struct api_resp *rs, int status, json_t *json);
/* api_error - {"error": message} with status; returns 0. */
int api_error(struct api_resp *rs, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* api_error_errno - map -ENOENT 404, -ESTALE 409, -EEXIST 409, -EINVAL 400, -EFBIG 413, else 500. */
int api_error_errno(struct api_resp *rs, int code, const char *msg);

/* api_query - query argument name, or NULL. */
const char *api_query(struct api_req *rq, const char *name);
/* api_query_int - query argument as an integer in [min,max]; def when absent; -EINVAL when bad. */
int api_query_int(struct api_req *rq, const char *name, long def, long min, long max, long *ret);

/*
 * api_body_json - the body parsed as a JSON object whose keys are all in
 * allowed (NULL-terminated; NULL: any key); on error sets a 400 in rs and
 * returns -EINVAL.  An empty body is an empty object (the handler then
 * names whatever field it requires); duplicate keys are refused.  *ret is
 * a new reference.  (A write route's body that is not a JSON object never
 * reaches its handler: the dispatcher answers 400 first.)
 */
int api_body_json(struct api_req *rq, struct api_resp *rs, const char *const *allowed,
		  json_t **ret);

/* Route handler groups (one file each). */
/* api_config.c: files, history, diff, revert */
int api_files_list(struct api_req *rq, struct api_resp *rs);
int api_file_get(struct api_req *rq, struct api_resp *rs);
int api_file_put(struct api_req *rq, struct api_resp *rs);
int api_file_delete(struct api_req *rq, struct api_resp *rs);
int api_history(struct api_req *rq, struct api_resp *rs);
int api_commit_get(struct api_req *rq, struct api_resp *rs);
int api_diff(struct api_req *rq, struct api_resp *rs);
int api_revert(struct api_req *rq, struct api_resp *rs);
/* api_catalog.c: catalogs, explain, tags */
int api_node_catalog(struct api_req *rq, struct api_resp *rs);
int api_node_explain(struct api_req *rq, struct api_resp *rs);
int api_tags(struct api_req *rq, struct api_resp *rs);
/* api_nodes.c: inventory, node tags, reports, audit */
int api_nodes_list(struct api_req *rq, struct api_resp *rs);
int api_node_get(struct api_req *rq, struct api_resp *rs);
int api_node_tags_put(struct api_req *rq, struct api_resp *rs);
int api_node_reports(struct api_req *rq, struct api_resp *rs);
int api_node_report_post(struct api_req *rq, struct api_resp *rs);
int api_report_get(struct api_req *rq, struct api_resp *rs);
int api_audit(struct api_req *rq, struct api_resp *rs);
/* api_events.c: lifecycle events */
int api_events(struct api_req *rq, struct api_resp *rs);

/* api_rpc_audit.c: nodes' records of the requests they were sent */
int api_rpc_audit(struct api_req *rq, struct api_resp *rs);
/* api_enroll.c: enrollment, the CA, approval and revocation */
int api_enroll(struct api_req *rq, struct api_resp *rs);
int api_ca(struct api_req *rq, struct api_resp *rs);
int api_enrollments(struct api_req *rq, struct api_resp *rs);
int api_node_approve(struct api_req *rq, struct api_resp *rs);
int api_node_revoke(struct api_req *rq, struct api_resp *rs);
/* dispatch.c: health, openapi */
int api_health(struct api_req *rq, struct api_resp *rs);
int api_openapi(struct api_req *rq, struct api_resp *rs);

/*
 * api_commit_checked - shared write path: validate candidate snapshot s
 * (compile_validate: 400 with {"error","errors":[...]} and nothing
 * committed when invalid), then commit it with the caller as author
 * (409 {"error","head"} on a stale expect).  Returns 0 when committed:
 * rs untouched, rs->audit_commit and *out filled (a candidate that changes
 * nothing commits nothing: *out is the head, audit_commit stays empty);
 * returns 1 when rs holds the answer (400/404/409/500).
 */
int api_commit_checked(struct api_req *rq, struct api_resp *rs, struct repo_snap *s,
		       const char *expect, const char *message, char out[41]);

#endif
