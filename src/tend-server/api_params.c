/*
 * api_params.c - query arguments are checked against the API's own
 * description: a route accepts exactly the query parameters that
 * docs/openapi.json (embedded, served at /v1/openapi.json) lists for it,
 * and anything else is refused with 400 before the handler runs, as an
 * unknown JSON field is.  The document is the contract, so it cannot drift
 * from what the server does without a test noticing.
 *
 * The document is parsed once (pthread_once) into a small read-only
 * table: route pattern and method -> allowed names.
 */
#include "api.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/strutil.h"

extern const char api_openapi_json[];
extern const size_t api_openapi_json_len;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static json_t *doc; /* written once by load(), read-only afterwards */

static void load(void)
{
	doc = json_loadb(api_openapi_json, api_openapi_json_len, 0, NULL);
}

/* doc_path - the document's key for a route pattern: "{path...}" is "{path}". */
static void doc_path(const char *pattern, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = pattern; *p && o + 1 < len; p++) {
		if (!strncmp(p, "...}", 4)) {
			p += 2; /* and the loop steps over the third '.' */
			continue;
		}
		out[o++] = *p;
	}
	out[o] = '\0';
}

static bool listed(const json_t *params, const char *name)
{
	size_t i;
	json_t *p;

	json_array_foreach(params, i, p) {
		const char *in = json_string_value(json_object_get(p, "in"));
		const char *n = json_string_value(json_object_get(p, "name"));

		if (in && n && !strcmp(in, "query") && !strcmp(n, name))
			return true;
	}
	return false;
}

int api_route_operation(const struct api_route *route, json_t **ret)
{
	char path[256], method[16];
	json_t *item, *op;
	size_t i;

	pthread_once(&once, load);
	if (!doc)
		return -EINVAL;
	doc_path(route->pattern, path, sizeof(path));
	for (i = 0; route->method[i] && i + 1 < sizeof(method); i++)
		method[i] = (char)(route->method[i] | 0x20);
	method[i] = '\0';
	item = json_object_get(json_object_get(doc, "paths"), path);
	op = json_object_get(item, method);
	if (!op)
		return -ENOENT;
	*ret = op;
	return 0;
}

int api_query_check(const struct api_req *rq, const struct api_route *route, struct api_resp *rs)
{
	char path[256];
	json_t *op, *item;

	if (!rq->nquery)
		return 0;
	if (api_route_operation(route, &op) < 0)
		return api_error(rs, 500, "the API description has no %s %s", route->method,
				 route->pattern), 1;
	doc_path(route->pattern, path, sizeof(path));
	item = json_object_get(json_object_get(doc, "paths"), path);
	for (size_t i = 0; i < rq->nquery; i++) {
		const char *name = rq->query[i].name;

		if (listed(json_object_get(op, "parameters"), name) ||
		    listed(json_object_get(item, "parameters"), name))
			continue;
		api_error(rs, 400, "unknown query argument '%s' for %s %s (see /v1/openapi.json)",
			  name, route->method, route->pattern);
		return 1;
	}
	return 0;
}
