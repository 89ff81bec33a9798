/*
 * rpc_expect.c - which nodes should answer: tend-server's inventory
 * (GET /v1/nodes) run through the request's own filter, so that ping can
 * say who is missing and a command can stop waiting once everyone
 * answered.
 *
 * Only nodes whose agent was seen at least once are expected.  The list
 * of nodes carries ids and tags, not facts.  A --fact filter
 * therefore needs each candidate's facts (GET /v1/nodes/ID); that is
 * done for up to RPC_EXPECT_FACTS_MAX candidates, beyond which there is
 * no expected set (the command waits its full --timeout instead).
 *
 * The server is the one the other remote commands use (--server,
 * TEND_SERVER), else the identity bundle's server: line, else cli.conf;
 * the token likewise (--token, TEND_TOKEN, cli.conf).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"
#include "rpc/rpc.h"
#include "util/log.h"
#include "util/strutil.h"

/*
 * candidate - whether node n (from the list) passes filter f (facts
 * aside).  A node whose agent never reported (a document written ahead
 * of the machine, the example layout's "example") is not expected.
 */
static bool candidate(const json_t *f, const json_t *n, const char **ret_id)
{
	const char *id = json_string_value(json_object_get(n, "id"));
	json_t *tags = json_object_get(n, "tags"), *empty = json_array();
	struct rpc_self self = { .node = id, .tags = json_is_array(tags) ? tags : empty };
	bool seen = json_is_string(json_object_get(n, "last_seen"));
	bool ok = id && seen && rpc_filter_match(f, &self);

	json_decref(empty);
	*ret_id = id;
	return ok;
}

/* with_facts - whether node id, whose facts the server has, passes filter f. */
static bool with_facts(struct api_client *c, const json_t *f, const char *id, const json_t *tags)
{
	struct buf url = BUF_INIT, what = BUF_INIT;
	struct rpc_self self = { .node = id, .tags = tags };
	json_t *v = NULL;
	bool ok = false;

	buf_puts(&url, "/v1/nodes/");
	api_escape(&url, id, false);
	buf_printf(&what, "facts of %s", id);
	if (api_get_json(c, buf_str(&url), buf_str(&what), &v) == 0) {
		self.facts = json_is_object(json_object_get(v, "facts")) ?
				     json_object_get(v, "facts") :
				     NULL;
		ok = self.facts && rpc_filter_match(f, &self);
	}
	json_decref(v);
	buf_free(&url);
	buf_free(&what);
	return ok;
}

static int name_cmp(const void *a, const void *b)
{
	return rpc_node_cmp(json_string_value(*(json_t *const *)a),
			    json_string_value(*(json_t *const *)b));
}

/* sorted - arr's strings in version order (a new array). */
static json_t *sorted(json_t *arr)
{
	size_t n = json_array_size(arr);
	json_t **v = xcalloc(n ? n : 1, sizeof(*v)), *out = json_array();

	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	if (n)
		qsort(v, n, sizeof(*v), name_cmp);
	for (size_t i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

/* match_list - the ids of list (GET /v1/nodes) that filter matches; NULL when it cannot say. */
static json_t *match_list(struct api_client *c, const json_t *list, const json_t *filter)
{
	json_t *pre = filter ? json_deep_copy(filter) : NULL, *cands = json_array(), *out, *n;
	bool facts = json_array_size(json_object_get(filter, "facts")) > 0;
	const char *id;
	size_t i;

	if (pre)
		json_object_del(pre, "facts");
	json_array_foreach(json_object_get(list, "nodes"), i, n)
		if (candidate(pre, n, &id))
			json_array_append(cands, n);
	json_decref(pre);
	if (facts && json_array_size(cands) > RPC_EXPECT_FACTS_MAX) {
		log_info("no expected set: --fact would need the facts of %zu nodes (more than %d)",
			 json_array_size(cands), RPC_EXPECT_FACTS_MAX);
		json_decref(cands);
		return NULL;
	}
	out = json_array();
	json_array_foreach(cands, i, n) {
		json_t *tags = json_object_get(n, "tags"), *empty = json_array();

		id = json_string_value(json_object_get(n, "id"));
		if (!facts || with_facts(c, filter, id, json_is_array(tags) ? tags : empty))
			json_array_append_new(out, json_string(id));
		json_decref(empty);
	}
	json_decref(cands);
	n = sorted(out);
	json_decref(out);
	return n;
}

json_t *rpc_expected(const struct rpc_opts *o, const struct rpc_identity *id, const json_t *filter)
{
	struct api_opts a = o->api;
	const char *env = getenv("TEND_SERVER");
	struct tend_err err = { "" };
	struct api_client c;
	json_t *list = NULL, *out;

	if (!a.server && !(env && *env) && id->server)
		a.server = id->server;
	a.json = false; /* a refusal's JSON must not mix with the command's --json */
	if (api_client_init(&c, &a, &err) < 0) {
		if (str_has_prefix(err.msg, "no server"))
			log_info("no expected set: no tend-server is configured (--server, "
				 "TEND_SERVER, the identity's server: line)");
		else if (str_has_prefix(err.msg, "no token"))
			log_info("no expected set: no API token for %s (--token, TEND_TOKEN, "
				 "cli.conf)",
				 a.server ? a.server : "the server");
		else
			log_warnx("no expected set from the inventory: %s", err.msg);
		return NULL;
	}
	if (api_get_json(&c, "/v1/nodes", "the inventory", &list)) {
		log_warnx("no expected set: the nodes that did not answer cannot be named");
		api_client_free(&c);
		return NULL;
	}
	out = match_list(&c, list, filter);
	if (out)
		log_info("the inventory at %s expects %zu node%s to answer", c.server,
			 json_array_size(out), json_array_size(out) == 1 ? "" : "s");
	json_decref(list);
	api_client_free(&c);
	return out;
}
