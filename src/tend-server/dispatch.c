/*
 * dispatch.c - the route table and the one place where requests are
 * authenticated, authorised and audited.
 *
 * Every route is one API_ROUTE() line below: method, pattern, permission,
 * handler.  The HTTP layer (http.c) calls api_begin as soon as a request's
 * headers are in (so an unauthenticated or read-only caller never gets a
 * body buffered) and api_finish once the body is complete.  Handlers never
 * look at tokens; a route whose permission is missing makes
 * api_routes_check fail, and the server refuses to start.
 *
 * Patterns are literal segments and captures: "{name}" takes one
 * non-empty segment, "{name...}" the non-empty rest of the path.  HEAD is
 * routed as GET (libmicrohttpd leaves the body out).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "db.h"
#include "repo.h"
#include "util/log.h"

const struct api_route api_routes[] = {
	API_ROUTE("GET", "/v1/health", PUBLIC, api_health, "server status and version"),
	API_ROUTE("GET", "/v1/openapi.json", PUBLIC, api_openapi, "this API's OpenAPI document"),
	API_ROUTE("GET", "/v1/nodes", READ, api_nodes_list, "every node: documents and inventory"),
	API_ROUTE("GET", "/v1/nodes/{node}", READ, api_node_get, "one node"),
	API_ROUTE("PUT", "/v1/nodes/{node}/tags", WRITE, api_node_tags_put, "set a node's tags"),
	API_ROUTE("GET", "/v1/nodes/{node}/catalog", READ, api_node_catalog, "a node's catalog"),
	API_ROUTE("GET", "/v1/nodes/{node}/explain", READ, api_node_explain,
		  "where a node's values come from"),
	API_ROUTE("GET", "/v1/nodes/{node}/reports", READ, api_node_reports, "a node's run reports"),
	API_ROUTE("POST", "/v1/nodes/{node}/reports", WRITE, api_node_report_post,
		  "store a run report"),
	API_ROUTE("GET", "/v1/reports/{id}", READ, api_report_get, "one run report"),
	API_ROUTE("GET", "/v1/tags", READ, api_tags, "every tag and the nodes using it"),
	API_ROUTE("GET", "/v1/files", READ, api_files_list, "files of the repository"),
	API_ROUTE("GET", "/v1/files/{path...}", READ, api_file_get, "one file"),
	API_ROUTE("PUT", "/v1/files/{path...}", WRITE, api_file_put, "create or replace a file"),
	API_ROUTE("DELETE", "/v1/files/{path...}", WRITE, api_file_delete, "delete a file"),
	API_ROUTE("GET", "/v1/history", READ, api_history, "commits, newest first"),
	API_ROUTE("GET", "/v1/history/{rev}", READ, api_commit_get, "one commit"),
	API_ROUTE("GET", "/v1/diff", READ, api_diff, "changes between two revisions"),
	API_ROUTE("POST", "/v1/revert", WRITE, api_revert, "undo a commit with a new one"),
	API_ROUTE("GET", "/v1/audit", READ, api_audit, "the audit log"),
	API_ROUTE("GET", "/v1/events", READ, api_events, "lifecycle events nodes sent"),
	API_ROUTE("GET", "/v1/rpc-audit", READ, api_rpc_audit,
		  "what nodes recorded of the requests they were sent"),
	API_ROUTE("POST", "/v1/enroll", PUBLIC, api_enroll,
		  "a node asks for its certificate (with a token, or to be approved)"),
	API_ROUTE("GET", "/v1/ca", PUBLIC, api_ca, "the CA certificate and revocation list"),
	API_ROUTE("GET", "/v1/enrollments", READ, api_enrollments,
		  "enrollment requests waiting for approval"),
	API_ROUTE("POST", "/v1/nodes/{node}/approve", WRITE, api_node_approve,
		  "approve a node's waiting enrollment request"),
	API_ROUTE("POST", "/v1/nodes/{node}/revoke", WRITE, api_node_revoke,
		  "revoke a node's certificates (or drop its waiting request)"),
	{ NULL, NULL, API_PERM_UNSET, NULL, NULL },
};

int api_routes_check_table(const struct api_route *table, struct tend_err *err)
{
	for (const struct api_route *r = table; r->method; r++) {
		if (!r->pattern || r->pattern[0] != '/')
			return err_set(err, -EINVAL, "route %s has no pattern", r->method);
		if (r->perm != API_PERM_PUBLIC && r->perm != API_PERM_READ &&
		    r->perm != API_PERM_WRITE)
			return err_set(err, -EINVAL, "route %s %s declares no permission", r->method,
				       r->pattern);
		if (!r->fn)
			return err_set(err, -EINVAL, "route %s %s has no handler", r->method,
				       r->pattern);
	}
	return 0;
}

int api_routes_check(struct tend_err *err)
{
	return api_routes_check_table(api_routes, err);
}

/*
 * pattern_match - whether path fits pattern; off/len of each capture (at
 * most API_PARAMS_MAX) in *n.
 */
static bool pattern_match(const char *pat, const char *path, size_t off[API_PARAMS_MAX],
			  size_t len[API_PARAMS_MAX], size_t *n)
{
	const char *p = pat, *q = path;

	*n = 0;
	while (*p) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			bool rest;
			size_t l;

			if (!close || *n >= API_PARAMS_MAX)
				return false;
			rest = close - p > 4 && !strncmp(close - 3, "...", 3);
			l = rest ? strlen(q) : strcspn(q, "/");
			if (l == 0)
				return false;
			off[*n] = (size_t)(q - path);
			len[*n] = l;
			(*n)++;
			q += l;
			p = close + 1;
			continue;
		}
		if (*p != *q)
			return false;
		p++;
		q++;
	}
	return *q == '\0';
}

const struct api_route *api_route_match(const char *method, const char *path,
					const char *params[API_PARAMS_MAX], char *scratch,
					size_t scratch_len, bool *ret_path_known)
{
	size_t off[API_PARAMS_MAX], len[API_PARAMS_MAX], n, plen = strlen(path);
	bool known = false;

	if (!strcmp(method, "HEAD"))
		method = "GET";
	for (int i = 0; i < API_PARAMS_MAX; i++)
		params[i] = NULL;
	for (const struct api_route *r = api_routes; r->method; r++) {
		if (!pattern_match(r->pattern, path, off, len, &n))
			continue;
		known = true;
		if (strcmp(r->method, method))
			continue;
		if (plen >= scratch_len)
			break; /* cannot hold the captures: treated as unknown */
		memcpy(scratch, path, plen + 1);
		for (size_t i = 0; i < n; i++) {
			scratch[off[i] + len[i]] = '\0';
			params[i] = scratch + off[i];
		}
		*ret_path_known = true;
		return r;
	}
	*ret_path_known = known;
	return NULL;
}

void api_route_allow(const char *path, char *out, size_t len)
{
	size_t off[API_PARAMS_MAX], l[API_PARAMS_MAX], n, o = 0;

	out[0] = '\0';
	for (const struct api_route *r = api_routes; r->method; r++) {
		int w;

		if (!pattern_match(r->pattern, path, off, l, &n))
			continue;
		w = snprintf(out + o, len - o, "%s%s", o ? ", " : "", r->method);
		if (w < 0 || (size_t)w >= len - o)
			break;
		o += (size_t)w;
	}
}

/* bearer - the token of an "Authorization: Bearer TOKEN" header, or NULL. */
static const char *bearer(const char *authorization)
{
	const char *t;

	if (!authorization || strncasecmp(authorization, "Bearer ", 7))
		return NULL;
	t = authorization + 7;
	while (*t == ' ')
		t++;
	return *t ? t : NULL;
}

static const char *resp_error_text(const struct api_resp *rs)
{
	json_t *e = rs->json ? json_object_get(rs->json, "error") : NULL;

	return json_is_string(e) ? json_string_value(e) : NULL;
}

/*
 * audit - record a WRITE request: who, from where, what, the answer and
 * the commit it made.  A failure to record is logged, not answered: the
 * commit (if any) is made, and server_open rebuilds missing records from
 * the commit trailers.
 */
static void audit(const struct api_req *rq, const struct api_resp *rs)
{
	struct tend_err err = { "" };
	char action[2200];
	struct db_audit a = { 0 };
	int r;

	if (!rq->srv || !rq->srv->db)
		return;
	snprintf(action, sizeof(action), "%s %s", rq->method, rq->path);
	a.who = rq->caller ? rq->caller : "-";
	a.address = rq->address;
	a.action = action;
	a.target = rs->audit_target[0] ? rs->audit_target : rq->params[0];
	a.status = rs->status;
	a.commit = rs->audit_commit[0] ? rs->audit_commit : NULL;
	a.detail = rs->audit_detail[0] ? rs->audit_detail
				       : (rs->status >= 400 ? resp_error_text(rs) : NULL);
	r = db_audit_add(rq->srv->db, &a, &err);
	if (r < 0)
		log_warnx("audit: cannot record %s by %s: %s", action, a.who,
			  err.msg[0] ? err.msg : strerror(-r));
}

/* authenticate - the caller named by a bearer token; 1 with rs answered when none. */
static int authenticate(struct api_req *rq, const char *authorization, char **ret_name,
			enum db_role *ret_role, struct api_resp *rs)
{
	const char *secret = bearer(authorization);
	int r;

	if (!secret) {
		api_error(rs, 401, "authentication required (Authorization: Bearer TOKEN)");
		return 1;
	}
	if (!rq->srv || !rq->srv->db) {
		api_error(rs, 500, "no token database");
		return 1;
	}
	r = db_token_check(rq->srv->db, secret, ret_name, ret_role);
	if (r == -EACCES) {
		api_error(rs, 401, "invalid or revoked token");
		return 1;
	}
	if (r < 0) {
		log_warnx("token check: %s", strerror(-r));
		api_error(rs, 500, "cannot check the token: %s", strerror(-r));
		return 1;
	}
	return 0;
}

/*
 * srv_lock / srv_unlock - the server's lock (server.h) around a request's
 * use of the database, repository and compiler: the bus callbacks run on
 * other threads.  Tests may route without a server.
 */
static void srv_lock(struct api_req *rq)
{
	if (rq->srv)
		pthread_mutex_lock(&rq->srv->lock);
}

static void srv_unlock(struct api_req *rq)
{
	if (rq->srv)
		pthread_mutex_unlock(&rq->srv->lock);
}

static int api_begin_locked(struct api_req *rq, const char *authorization,
			    const struct api_route **ret_route, char **ret_caller, char *scratch,
			    size_t scratch_len, struct api_resp *rs);

int api_begin(struct api_req *rq, const char *authorization, const struct api_route **ret_route,
	      char **ret_caller, char *scratch, size_t scratch_len, struct api_resp *rs)
{
	int r;

	srv_lock(rq);
	r = api_begin_locked(rq, authorization, ret_route, ret_caller, scratch, scratch_len, rs);
	srv_unlock(rq);
	return r;
}

static int api_begin_locked(struct api_req *rq, const char *authorization,
			    const struct api_route **ret_route, char **ret_caller, char *scratch,
			    size_t scratch_len, struct api_resp *rs)
{
	const struct api_route *route;
	char *name = NULL;
	enum db_role role = DB_ROLE_RO;
	bool known;

	route = api_route_match(rq->method, rq->path, rq->params, scratch, scratch_len, &known);
	if (!route) {
		if (known)
			api_error(rs, 405, "method %s is not allowed on %s", rq->method, rq->path);
		else
			api_error(rs, 404, "no such API path: %s", rq->path);
		return 1;
	}
	if (route->perm == API_PERM_PUBLIC) {
		*ret_route = route;
		*ret_caller = NULL;
		return 0;
	}
	if (authenticate(rq, authorization, &name, &role, rs))
		return 1;
	rq->caller = name;
	if (route->perm == API_PERM_WRITE && role != DB_ROLE_RW) {
		api_error(rs, 403, "token '%s' is read-only", name);
		audit(rq, rs);
		rq->caller = NULL;
		free(name);
		return 1;
	}
	*ret_route = route;
	*ret_caller = name;
	return 0;
}

static void api_finish_locked(struct api_req *rq, const struct api_route *route,
			      struct api_resp *rs);

void api_finish(struct api_req *rq, const struct api_route *route, struct api_resp *rs)
{
	srv_lock(rq);
	api_finish_locked(rq, route, rs);
	srv_unlock(rq);
}

static void api_finish_locked(struct api_req *rq, const struct api_route *route,
			      struct api_resp *rs)
{
	int r;

	if (rs->status == 0 && route->perm == API_PERM_WRITE && rq->body_len && !rq->json) {
		json_t *obj;

		/* every write route takes a JSON object: refuse anything else here */
		if (api_body_json(rq, rs, NULL, &obj) == 0)
			rq->json = obj;
	}
	if (rs->status == 0)
		api_query_check(rq, route, rs);
	if (rs->status == 0) {
		r = route->fn(rq, rs);
		if (rs->status == 0) {
			api_resp_clear(rs);
			if (r < 0)
				api_error(rs, 500, "internal error: %s", strerror(-r));
			else
				api_error(rs, 500, "internal error: no answer");
		}
	}
	if (route->perm == API_PERM_WRITE)
		audit(rq, rs);
}

/* ---- the two routes served by the dispatcher itself ---- */

extern const char api_openapi_json[];
extern const size_t api_openapi_json_len;

int api_health(struct api_req *rq, struct api_resp *rs)
{
	char head[REPO_OID_HEX + 1];
	json_t *rev = json_null();

	if (rq->srv && rq->srv->repo && repo_head(rq->srv->repo, head, NULL) == 0)
		rev = json_string(head);
	return api_ok(rs, 200,
		      json_pack("{s:s, s:s, s:o}", "status", "ok", "version", TEND_VERSION,
				"revision", rev));
}

int api_openapi(struct api_req *rq, struct api_resp *rs)
{
	char *copy = malloc(api_openapi_json_len + 1);

	if (!copy)
		return api_error(rs, 500, "out of memory");
	memcpy(copy, api_openapi_json, api_openapi_json_len + 1);
	rs->status = 200;
	rs->raw = copy;
	rs->raw_len = api_openapi_json_len;
	rs->content_type = "application/json";
	return 0;
}
