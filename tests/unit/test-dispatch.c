/*
 * test-dispatch.c - unit tests for the API's route table and dispatcher
 * (dispatch.c) and the request helpers handlers use (api_util.c).
 *
 * The table is checked as data: every route declares a permission and a
 * handler, every pattern is reachable by the matcher, no two routes
 * collide, and an injected table without a permission is refused.
 * Authorisation is exercised against a real database in a temp dir:
 * missing, unknown and read-only tokens, and the audit record a refused
 * write leaves behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "db.h"

/* ---- the table ---- */

static void every_route_declares_permission_and_handler(void **state)
{
	struct tend_err err = { "" };
	size_t n = 0;

	assert_int_equal(api_routes_check(&err), 0);
	for (const struct api_route *r = api_routes; r->method; r++, n++) {
		assert_true(r->perm == API_PERM_PUBLIC || r->perm == API_PERM_READ ||
			    r->perm == API_PERM_WRITE);
		assert_non_null(r->fn);
		assert_non_null(r->summary);
		/* only GET routes may be public, and every non-GET route writes,
		 * but enrollment: a node has no API token, its request carries
		 * an enrollment token (or waits for an administrator) */
		if (!strcmp(r->method, "POST") && !strcmp(r->pattern, "/v1/enroll")) {
			assert_int_equal(r->perm, API_PERM_PUBLIC);
			continue;
		}
		if (r->perm == API_PERM_PUBLIC)
			assert_string_equal(r->method, "GET");
		if (strcmp(r->method, "GET"))
			assert_int_equal(r->perm, API_PERM_WRITE);
	}
	assert_int_equal(n, 27); /* configuration, events, enrollment, requests' audit */
}

static void table_without_permission_is_refused(void **state)
{
	const struct api_route bad_perm[] = {
		API_ROUTE("GET", "/v1/health", PUBLIC, api_health, "ok"),
		{ "PUT", "/v1/files/{path...}", API_PERM_UNSET, api_file_put, "no permission" },
		{ NULL, NULL, API_PERM_UNSET, NULL, NULL },
	};
	const struct api_route bad_fn[] = {
		{ "GET", "/v1/x", API_PERM_READ, NULL, "no handler" },
		{ NULL, NULL, API_PERM_UNSET, NULL, NULL },
	};
	struct tend_err err = { "" };

	assert_int_equal(api_routes_check_table(bad_perm, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "PUT /v1/files/{path...}"));
	assert_non_null(strstr(err.msg, "permission"));
	assert_int_equal(api_routes_check_table(bad_fn, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "handler"));
	assert_int_equal(api_routes_check_table(bad_fn + 1, &err), 0);
}

/* instantiate - a concrete path for pattern: {x} -> "x1", {x...} -> "a/b/x1". */
static void instantiate(const char *pat, char *out, size_t len)
{
	size_t o = 0;

	while (*pat && o + 8 < len) {
		if (*pat == '{') {
			const char *close = strchr(pat, '}');
			bool rest = !strncmp(close - 3, "...", 3);

			o += (size_t)snprintf(out + o, len - o, "%s", rest ? "a/b/x1" : "x1");
			pat = close + 1;
			continue;
		}
		out[o++] = *pat++;
	}
	out[o] = '\0';
}

static void every_pattern_is_reachable_and_unique(void **state)
{
	const char *params[API_PARAMS_MAX];
	char path[256], scratch[256];
	bool known;

	for (const struct api_route *r = api_routes; r->method; r++) {
		instantiate(r->pattern, path, sizeof(path));
		assert_ptr_equal(api_route_match(r->method, path, params, scratch,
						 sizeof(scratch), &known), r);
		assert_true(known);
		for (const struct api_route *q = r + 1; q->method; q++)
			assert_false(!strcmp(r->method, q->method) &&
				     !strcmp(r->pattern, q->pattern));
	}
}

static void matching_captures_segments_and_rest(void **state)
{
	const char *params[API_PARAMS_MAX];
	char scratch[256];
	const struct api_route *r;
	bool known = false;

	r = api_route_match("GET", "/v1/files/tags/web/base.yaml", params, scratch,
			    sizeof(scratch), &known);
	assert_non_null(r);
	assert_ptr_equal(r->fn, api_file_get);
	assert_string_equal(params[0], "tags/web/base.yaml");
	assert_null(params[1]);

	r = api_route_match("PUT", "/v1/nodes/web01.example.com/tags", params, scratch,
			    sizeof(scratch), &known);
	assert_non_null(r);
	assert_ptr_equal(r->fn, api_node_tags_put);
	assert_string_equal(params[0], "web01.example.com");

	/* same path, the method picks the route */
	r = api_route_match("POST", "/v1/nodes/n1/reports", params, scratch, sizeof(scratch),
			    &known);
	assert_ptr_equal(r->fn, api_node_report_post);
	r = api_route_match("GET", "/v1/nodes/n1/reports", params, scratch, sizeof(scratch),
			    &known);
	assert_ptr_equal(r->fn, api_node_reports);

	/* HEAD is routed as GET */
	r = api_route_match("HEAD", "/v1/health", params, scratch, sizeof(scratch), &known);
	assert_ptr_equal(r->fn, api_health);

	/* a {node} capture never spans segments; a {path...} needs a non-empty rest */
	known = true;
	assert_null(api_route_match("GET", "/v1/nodes/a/b", params, scratch, sizeof(scratch),
				    &known));
	assert_false(known);
	known = true;
	assert_null(api_route_match("GET", "/v1/nodes/", params, scratch, sizeof(scratch),
				    &known));
	assert_false(known);
	known = true;
	assert_null(api_route_match("GET", "/v1/files/", params, scratch, sizeof(scratch),
				    &known));
	assert_false(known);
	known = true;
	assert_null(api_route_match("GET", "/v1/health/", params, scratch, sizeof(scratch),
				    &known));
	assert_false(known);
	/* a path longer than the scratch space cannot be captured */
	assert_null(api_route_match("GET", "/v1/files/0123456789", params, scratch, 8, &known));
}

static void unknown_path_is_404_known_path_wrong_method_is_405(void **state)
{
	const char *params[API_PARAMS_MAX];
	char scratch[256];
	bool known = true;

	assert_null(api_route_match("GET", "/v1/nope", params, scratch, sizeof(scratch), &known));
	assert_false(known);
	known = true;
	assert_null(api_route_match("GET", "/v2/health", params, scratch, sizeof(scratch),
				    &known));
	assert_false(known);
	known = false;
	assert_null(api_route_match("DELETE", "/v1/nodes", params, scratch, sizeof(scratch),
				    &known));
	assert_true(known);
	known = false;
	assert_null(api_route_match("PATCH", "/v1/files/a.yaml", params, scratch,
				    sizeof(scratch), &known));
	assert_true(known);
	known = false;
	assert_null(api_route_match("POST", "/v1/health", params, scratch, sizeof(scratch),
				    &known));
	assert_true(known);
	/* what a 405's Allow header says */
	api_route_allow("/v1/files/tags/base.yaml", scratch, sizeof(scratch));
	assert_string_equal(scratch, "GET, PUT, DELETE");
	api_route_allow("/v1/nodes/n1/reports", scratch, sizeof(scratch));
	assert_string_equal(scratch, "GET, POST");
	api_route_allow("/v1/nope", scratch, sizeof(scratch));
	assert_string_equal(scratch, "");
}

/* ---- api_util ---- */

static const char *resp_error(const struct api_resp *rs)
{
	return json_string_value(json_object_get(rs->json, "error"));
}

static void body_json(const char *body, const char *const *allowed, int want_status,
		      const char *want_in_error, json_t **ret)
{
	struct api_req rq = { 0 };
	struct api_resp rs = { 0 };
	json_t *obj = (json_t *)0x1;
	int r;

	rq.body = body;
	rq.body_len = body ? strlen(body) : 0;
	r = api_body_json(&rq, &rs, allowed, &obj);
	if (want_status) {
		assert_int_equal(r, -EINVAL);
		assert_int_equal(rs.status, want_status);
		assert_ptr_equal(obj, (json_t *)0x1); /* untouched on failure */
		assert_non_null(resp_error(&rs));
		if (!strstr(resp_error(&rs), want_in_error))
			fail_msg("error '%s' lacks '%s'", resp_error(&rs), want_in_error);
	} else {
		assert_int_equal(r, 0);
		assert_true(json_is_object(obj));
		assert_int_equal(rs.status, 0);
		if (ret)
			*ret = obj;
		else
			json_decref(obj);
	}
	api_resp_clear(&rs);
}

static void body_json_refuses_unknown_fields_and_bad_json(void **state)
{
	static const char *const allowed[] = { "content", "revision", "message", NULL };
	json_t *obj = NULL;

	body_json("{\"content\":\"x\",\"revision\":\"abc\"}", allowed, 0, NULL, &obj);
	assert_string_equal(json_string_value(json_object_get(obj, "content")), "x");
	json_decref(obj);
	body_json("{\"content\":\"x\",\"mode\":\"0644\"}", allowed, 400, "unknown field 'mode'",
		  NULL);
	body_json("{\"revison\":\"abc\"}", allowed, 400, "did you mean 'revision'", NULL);
	body_json("{\"content\":", allowed, 400, "malformed JSON", NULL);
	body_json("{\"content\":\"x\"} trailing", allowed, 400, "malformed JSON", NULL);
	body_json("[1,2]", allowed, 400, "must be a JSON object", NULL);
	body_json("\"text\"", allowed, 400, "", NULL);
	body_json("{\"content\":\"a\",\"content\":\"b\"}", allowed, 400, "duplicate", NULL);
	body_json("{\"content\":\"\xff\"}", allowed, 400, "malformed JSON", NULL);
	/* an empty body is an empty object: the handler names what it needs */
	body_json(NULL, allowed, 0, NULL, &obj);
	assert_int_equal(json_object_size(obj), 0);
	json_decref(obj);
	/* allowed NULL: any field (report bodies are free-form) */
	body_json("{\"anything\":1}", NULL, 0, NULL, NULL);
}

static void query_int_bounds(void **state)
{
	struct api_arg args[] = { { "limit", "50" }, { "big", "1001" }, { "neg", "-1" },
				  { "word", "ten" }, { "empty", "" }, { "skip", "0" } };
	struct api_req rq = { 0 };
	long v = 7;

	rq.query = args;
	rq.nquery = sizeof(args) / sizeof(args[0]);
	assert_int_equal(api_query_int(&rq, "limit", 10, 1, 1000, &v), 0);
	assert_int_equal(v, 50);
	assert_int_equal(api_query_int(&rq, "absent", 10, 1, 1000, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(api_query_int(&rq, "skip", 5, 0, 1000, &v), 0);
	assert_int_equal(v, 0);
	v = 7;
	assert_int_equal(api_query_int(&rq, "big", 10, 1, 1000, &v), -EINVAL);
	assert_int_equal(api_query_int(&rq, "neg", 10, 1, 1000, &v), -EINVAL);
	assert_int_equal(api_query_int(&rq, "word", 10, 1, 1000, &v), -EINVAL);
	assert_int_equal(api_query_int(&rq, "empty", 10, 1, 1000, &v), -EINVAL);
	assert_int_equal(v, 7); /* untouched on failure */
	assert_int_equal(api_query_int(&rq, "big", 10, 1, 1001, &v), 0);
	assert_int_equal(v, 1001);
	assert_string_equal(api_query(&rq, "word"), "ten");
	assert_null(api_query(&rq, "nothing"));
}

static void errors_map_errno_and_stay_valid_utf8(void **state)
{
	static const int codes[][2] = { { -ENOENT, 404 }, { -ESTALE, 409 }, { -EEXIST, 409 },
					{ -EINVAL, 400 }, { -EFBIG, 413 }, { -EIO, 500 } };
	struct api_resp rs = { 0 };
	char *dump;

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		api_error_errno(&rs, codes[i][0], i == 0 ? "no such file" : NULL);
		assert_int_equal(rs.status, codes[i][1]);
		assert_non_null(resp_error(&rs));
	}
	api_error_errno(&rs, -ENOENT, "no such file");
	assert_string_equal(resp_error(&rs), "no such file");
	/* a client's invalid UTF-8 quoted in a message still encodes */
	api_error(&rs, 400, "bad path '%s'", "a\xff\xc3-b");
	assert_string_equal(resp_error(&rs), "bad path 'a?" "?-b'");
	dump = json_dumps(rs.json, 0);
	assert_non_null(dump);
	free(dump);
	api_ok(&rs, 0, json_pack("{s:i}", "n", 1));
	assert_int_equal(rs.status, 200);
	assert_null(json_object_get(rs.json, "error"));
	api_resp_clear(&rs);
	assert_null(rs.json);
}

/* ---- authorisation and audit, on a real database ---- */

struct fixture {
	char dir[64];
	char dbpath[96];
	struct server srv;
	char *rw, *ro;
};

static int setup_db(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct tend_err err = { "" };

	snprintf(f->dir, sizeof(f->dir), "/tmp/test-dispatch.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->dbpath, sizeof(f->dbpath), "%s/tend.db", f->dir);
	assert_int_equal(db_open(f->dbpath, &f->srv.db, &err), 0);
	assert_int_equal(db_token_create(f->srv.db, "admin", DB_ROLE_RW, &f->rw, &err), 0);
	assert_int_equal(db_token_create(f->srv.db, "reader", DB_ROLE_RO, &f->ro, &err), 0);
	*state = f;
	return 0;
}

static int teardown_db(void **state)
{
	struct fixture *f = *state;
	char p[160];

	db_close(f->srv.db);
	free(f->rw);
	free(f->ro);
	snprintf(p, sizeof(p), "%s-wal", f->dbpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->dbpath);
	unlink(p);
	unlink(f->dbpath);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* begin - api_begin on method/path with authorization; its return value. */
static int begin(struct fixture *f, const char *method, const char *path, const char *auth,
		 struct api_resp *rs, char **ret_caller)
{
	struct api_req rq = { 0 };
	const struct api_route *route = NULL;
	char scratch[256];

	rq.srv = &f->srv;
	rq.method = method;
	rq.path = path;
	rq.address = "192.0.2.7";
	*ret_caller = NULL;
	return api_begin(&rq, auth, &route, ret_caller, scratch, sizeof(scratch), rs);
}

static json_t *audit_log(struct fixture *f)
{
	json_t *a = NULL;

	assert_int_equal(db_audit_list(f->srv.db, 0, 100, &a, NULL), 0);
	return a;
}

static void tokens_decide_who_may_do_what(void **state)
{
	struct fixture *f = *state;
	struct api_resp rs = { 0 };
	char auth[128], *caller;
	json_t *a;

	/* public: no token needed */
	assert_int_equal(begin(f, "GET", "/v1/health", NULL, &rs, &caller), 0);
	/* no token, a bad scheme, an unknown token: 401 */
	assert_int_equal(begin(f, "GET", "/v1/nodes", NULL, &rs, &caller), 1);
	assert_int_equal(rs.status, 401);
	assert_int_equal(begin(f, "GET", "/v1/nodes", "Basic YWRtaW46eA==", &rs, &caller), 1);
	assert_int_equal(rs.status, 401);
	assert_int_equal(begin(f, "GET", "/v1/nodes", "Bearer tend_nope", &rs, &caller), 1);
	assert_int_equal(rs.status, 401);
	/* 404 and 405 come before authentication */
	assert_int_equal(begin(f, "GET", "/v1/nope", NULL, &rs, &caller), 1);
	assert_int_equal(rs.status, 404);
	assert_int_equal(begin(f, "PATCH", "/v1/nodes", NULL, &rs, &caller), 1);
	assert_int_equal(rs.status, 405);
	/* ro reads */
	snprintf(auth, sizeof(auth), "Bearer %s", f->ro);
	api_resp_clear(&rs);
	assert_int_equal(begin(f, "GET", "/v1/nodes/n1", auth, &rs, &caller), 0);
	assert_string_equal(caller, "reader");
	free(caller);
	/* nothing audited so far: reads and unauthenticated requests are not */
	a = audit_log(f);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	/* ro on a write: 403, audited */
	assert_int_equal(begin(f, "PUT", "/v1/files/tags/base.yaml", auth, &rs, &caller), 1);
	assert_int_equal(rs.status, 403);
	assert_null(caller);
	a = audit_log(f);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "who")),
			    "reader");
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "action")),
			    "PUT /v1/files/tags/base.yaml");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "status")),
			 403);
	json_decref(a);
	/* rw writes */
	snprintf(auth, sizeof(auth), "Bearer %s", f->rw);
	assert_int_equal(begin(f, "DELETE", "/v1/files/x", auth, &rs, &caller), 0);
	assert_string_equal(caller, "admin");
	free(caller);
	api_resp_clear(&rs);
}

static int handler_calls;

static int fake_commit(struct api_req *rq, struct api_resp *rs)
{
	static const char *const allowed[] = { "revision", NULL };
	json_t *body;

	handler_calls++;
	if (api_body_json(rq, rs, allowed, &body) < 0)
		return 0;
	json_decref(body);
	snprintf(rs->audit_commit, sizeof(rs->audit_commit), "%040d", 1);
	snprintf(rs->audit_target, sizeof(rs->audit_target), "tags/base.yaml");
	return api_ok(rs, 200, json_pack("{s:s}", "revision", rs->audit_commit));
}

static int fake_fails(struct api_req *rq, struct api_resp *rs)
{
	return -EIO;
}

static void writes_are_audited_and_failures_become_500(void **state)
{
	struct fixture *f = *state;
	const struct api_route put = API_ROUTE("PUT", "/v1/files/{path...}", WRITE, fake_commit,
					       "test");
	const struct api_route get = API_ROUTE("GET", "/v1/files", READ, fake_fails, "test");
	struct api_req rq = { 0 };
	struct api_resp rs = { 0 };
	json_t *a, *rec;

	rq.srv = &f->srv;
	rq.method = "PUT";
	rq.path = "/v1/files/tags/base.yaml";
	rq.caller = "admin";
	rq.address = "192.0.2.8";
	api_finish(&rq, &put, &rs);
	assert_int_equal(rs.status, 200);
	a = audit_log(f);
	rec = json_array_get(a, 0);
	assert_string_equal(json_string_value(json_object_get(rec, "who")), "admin");
	assert_string_equal(json_string_value(json_object_get(rec, "address")), "192.0.2.8");
	assert_string_equal(json_string_value(json_object_get(rec, "target")), "tags/base.yaml");
	assert_string_equal(json_string_value(json_object_get(rec, "commit")),
			    "0000000000000000000000000000000000000001");
	json_decref(a);
	api_resp_clear(&rs);

	/* a transport refusal (413) is audited without running the handler */
	api_error(&rs, 413, "too large");
	api_finish(&rq, &put, &rs);
	assert_int_equal(rs.status, 413);
	a = audit_log(f);
	rec = json_array_get(a, 0);
	assert_int_equal(json_integer_value(json_object_get(rec, "status")), 413);
	assert_string_equal(json_string_value(json_object_get(rec, "detail")), "too large");
	json_decref(a);
	api_resp_clear(&rs);

	/* a write's body that is not a JSON object never reaches the handler */
	handler_calls = 0;
	rq.body = "{\"revision\":";
	rq.body_len = strlen(rq.body);
	api_finish(&rq, &put, &rs);
	assert_int_equal(rs.status, 400);
	assert_non_null(strstr(resp_error(&rs), "malformed JSON"));
	api_resp_clear(&rs);
	rq.body = "[\"revision\"]";
	rq.body_len = strlen(rq.body);
	api_finish(&rq, &put, &rs);
	assert_int_equal(rs.status, 400);
	assert_int_equal(handler_calls, 0);
	api_resp_clear(&rs);
	/* a good one is parsed once, and the handler sees it through api_body_json */
	rq.body = "{\"revision\":\"abc\"}";
	rq.body_len = strlen(rq.body);
	api_finish(&rq, &put, &rs);
	assert_int_equal(rs.status, 200);
	assert_int_equal(handler_calls, 1);
	assert_true(json_is_object(rq.json));
	json_decref(rq.json);
	rq.json = NULL;
	rq.body = NULL;
	rq.body_len = 0;
	api_resp_clear(&rs);
	a = audit_log(f);
	assert_int_equal(json_array_size(a), 5);
	json_decref(a);

	/* a handler error without an answer is a 500 with a message; reads are not audited */
	rq.method = "GET";
	api_finish(&rq, &get, &rs);
	assert_int_equal(rs.status, 500);
	assert_non_null(strstr(resp_error(&rs), "internal error"));
	a = audit_log(f);
	assert_int_equal(json_array_size(a), 5);
	json_decref(a);
	api_resp_clear(&rs);
}

static void health_and_openapi_answer_without_state(void **state)
{
	struct api_req rq = { 0 };
	struct api_resp rs = { 0 };
	json_t *doc;

	assert_int_equal(api_health(&rq, &rs), 0);
	assert_int_equal(rs.status, 200);
	assert_string_equal(json_string_value(json_object_get(rs.json, "status")), "ok");
	assert_true(json_is_null(json_object_get(rs.json, "revision")));
	api_resp_clear(&rs);
	assert_int_equal(api_openapi(&rq, &rs), 0);
	assert_int_equal(rs.status, 200);
	assert_string_equal(rs.content_type, "application/json");
	doc = json_loadb(rs.raw, rs.raw_len, 0, NULL);
	assert_non_null(doc);
	/* the document describes every route of the table */
	for (const struct api_route *r = api_routes; r->method; r++) {
		char m[16], pat[128];
		json_t *p;
		size_t i, o = 0;

		/* OpenAPI has no multi-segment parameter: {path...} is {path} there */
		for (i = 0; r->pattern[i] && o < sizeof(pat) - 1; i++) {
			if (!strncmp(r->pattern + i, "...}", 4))
				i += 3;
			pat[o++] = r->pattern[i];
		}
		pat[o] = '\0';
		p = json_object_get(json_object_get(doc, "paths"), pat);
		for (i = 0; r->method[i] && i < sizeof(m) - 1; i++)
			m[i] = (char)(r->method[i] | 0x20);
		m[i] = '\0';
		if (!p || !json_object_get(p, m))
			fail_msg("openapi.json lacks %s %s", r->method, r->pattern);
	}
	json_decref(doc);
	api_resp_clear(&rs);
}

/* every route is described in docs/openapi.json, and a route accepts the
 * query arguments the description lists for it and refuses any other */
static void query_arguments_follow_the_api_description(void **state)
{
	const struct api_route *r;
	struct api_arg good[] = { { "limit", "5" }, { "path", "tags/base.yaml" } };
	struct api_arg bad[] = { { "limit", "5" }, { "limt", "5" } };
	struct api_req rq = { 0 };
	struct api_resp rs = { 0 };
	json_t *op;
	(void)state;

	for (r = api_routes; r->method; r++)
		if (api_route_operation(r, &op) != 0)
			fail_msg("%s %s is not described in docs/openapi.json", r->method, r->pattern);
	for (r = api_routes; r->method && strcmp(r->pattern, "/v1/history"); r++)
		;
	assert_non_null(r->method);
	rq.query = good;
	rq.nquery = 2;
	assert_int_equal(api_query_check(&rq, r, &rs), 0);
	assert_int_equal(rs.status, 0);
	rq.query = bad;
	assert_int_equal(api_query_check(&rq, r, &rs), 1);
	assert_int_equal(rs.status, 400);
	assert_non_null(strstr(json_string_value(json_object_get(rs.json, "error")), "'limt'"));
	api_resp_clear(&rs);
	/* a route with no query parameters takes none */
	for (r = api_routes; r->method && strcmp(r->pattern, "/v1/nodes"); r++)
		;
	rq.query = good;
	rq.nquery = 1;
	assert_int_equal(api_query_check(&rq, r, &rs), 1);
	assert_int_equal(rs.status, 400);
	api_resp_clear(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_route_declares_permission_and_handler),
		cmocka_unit_test(table_without_permission_is_refused),
		cmocka_unit_test(every_pattern_is_reachable_and_unique),
		cmocka_unit_test(matching_captures_segments_and_rest),
		cmocka_unit_test(unknown_path_is_404_known_path_wrong_method_is_405),
		cmocka_unit_test(body_json_refuses_unknown_fields_and_bad_json),
		cmocka_unit_test(query_int_bounds),
		cmocka_unit_test(query_arguments_follow_the_api_description),
		cmocka_unit_test(errors_map_errno_and_stay_valid_utf8),
		cmocka_unit_test_setup_teardown(tokens_decide_who_may_do_what, setup_db,
						teardown_db),
		cmocka_unit_test_setup_teardown(writes_are_audited_and_failures_become_500,
						setup_db, teardown_db),
		cmocka_unit_test(health_and_openapi_answer_without_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
