/*
 * api_nodes.c - the inventory over HTTP: nodes (what the repository says
 * merged with what the database saw), setting a node's tags, run reports,
 * and the audit log.
 *
 * A node exists when it has a document nodes/NODE.yaml at HEAD or when it
 * has reported; the listing is the union of both, sorted by id.
 *
 * Setting tags edits nodes/NODE.yaml in place (node_doc.h): only the
 * value of its top-level `tags:` key changes, so comments and hand
 * formatting survive, and an edit that cannot be proven right is refused
 * rather than guessed at.  Every tag must exist as tags/TAG.yaml in the
 * revision edited.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "api.h"
#include "compile.h"
#include "db.h"
#include "node_doc.h"
#include "repo.h"
#include "util/buf.h"
#include "util/strutil.h"

#define TAGS_MAX 256 /* tags of one node */
#define LIST_DEFAULT 50
#define LIST_MAX 1000
#define MESSAGE_MAX 16384

/* ---- helpers ---- */

/* node_param - the {node} of the route, checked; NULL with a 400 in rs. */
static const char *node_param(struct api_req *rq, struct api_resp *rs)
{
	const char *id = rq->params[0];

	if (!db_node_id_ok(id)) {
		api_error(rs, 400,
			  "bad node name '%.100s': letters, digits, '.', '-', '_', 1 to %d bytes",
			  id ? id : "", DB_NODE_ID_MAX);
		return NULL;
	}
	return id;
}

static int answer_err(struct api_resp *rs, int code, const struct tend_err *err)
{
	if (code == -E2BIG)
		code = -EFBIG;
	return api_error_errno(rs, code, err->msg);
}

static int head_snap(struct api_req *rq, struct api_resp *rs, struct repo_snap **ret)
{
	struct tend_err err = { "" };
	int r = repo_snap_open(rq->srv->repo, NULL, ret, &err);

	if (r < 0)
		answer_err(rs, r, &err);
	return r;
}

/* node_tags - the node's tags at s, or null with "tags_error" set in o. */
static void node_tags(struct api_req *rq, struct repo_snap *s, const char *id, json_t *o)
{
	struct tend_err err = { "" };
	json_t *tags = NULL;

	if (compile_node_tags(rq->srv->compiler, s, id, &tags, &err) < 0) {
		json_object_set_new(o, "tags", json_null());
		json_object_set_new(o, "tags_error", json_string(err.msg[0] ? err.msg : "broken"));
		return;
	}
	json_object_set_new(o, "tags", tags);
}

static int doc_path(const char *id, char *out, size_t len)
{
	int n = snprintf(out, len, "nodes/%s.yaml", id);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- GET /v1/nodes ---- */

/* list_entry - {"id","tags","status","last_seen","has_document"}. */
static json_t *list_entry(struct api_req *rq, struct repo_snap *s, const char *id,
			  const json_t *seen, bool doc)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(id));
	node_tags(rq, s, id, o);
	json_object_set(o, "status", seen ? json_object_get(seen, "status") : json_null());
	if (seen && db_node_unreachable(rq->srv->db, id))
		json_object_set_new(o, "status", json_string("unreachable"));
	json_object_set(o, "last_seen", seen ? json_object_get(seen, "last_seen") : json_null());
	json_object_set_new(o, "has_document", json_boolean(doc));
	return o;
}

int api_nodes_list(struct api_req *rq, struct api_resp *rs)
{
	struct tend_err err = { "" };
	struct repo_snap *s = NULL;
	json_t *docs = NULL, *seen = NULL, *out;
	size_t i = 0, j = 0;
	int r;

	if (head_snap(rq, rs, &s) < 0)
		return 0;
	r = compile_nodes(s, &docs, &err);
	if (r == 0)
		r = db_node_list(rq->srv->db, &seen, &err);
	if (r < 0) {
		answer_err(rs, r, &err);
		goto out;
	}
	/* both are sorted by id (byte order): merge them */
	out = json_array();
	while (i < json_array_size(docs) || j < json_array_size(seen)) {
		const char *d = json_string_value(json_array_get(docs, i));
		json_t *n = json_array_get(seen, j);
		const char *sid = json_string_value(json_object_get(n, "id"));
		int c = !d ? 1 : !sid ? -1 : strcmp(d, sid);

		if (c < 0)
			json_array_append_new(out, list_entry(rq, s, d, NULL, true)), i++;
		else if (c > 0)
			json_array_append_new(out, list_entry(rq, s, sid, n, false)), j++;
		else
			json_array_append_new(out, list_entry(rq, s, d, n, true)), i++, j++;
	}
	api_ok(rs, 200, json_pack("{s:s?, s:o}", "revision", repo_snap_commit_id(s), "nodes", out));
out:
	json_decref(docs);
	json_decref(seen);
	repo_snap_free(s);
	return 0;
}

/* ---- GET /v1/nodes/{node} ---- */

static const char *const node_db_keys[] = { "status", "first_seen", "last_seen",   "addresses",
					    "macs",   "facts",	    "last_report", NULL };

int api_node_get(struct api_req *rq, struct api_resp *rs)
{
	char path[REPO_PATH_MAX + 1], blob[REPO_OID_HEX + 1];
	struct tend_err err = { "" };
	struct repo_snap *s = NULL;
	json_t *seen = NULL, *o;
	const char *id;
	bool doc;
	int r;

	id = node_param(rq, rs);
	if (!id || doc_path(id, path, sizeof(path)) < 0 || head_snap(rq, rs, &s) < 0)
		return 0;
	r = repo_snap_blob_id(s, path, blob);
	if (r < 0 && r != -ENOENT) {
		api_error(rs, 500, "%s: cannot read: %s", path, strerror(-r));
		goto out;
	}
	doc = r == 0;
	r = db_node_get(rq->srv->db, id, &seen, &err);
	if (r < 0 && r != -ENOENT) {
		answer_err(rs, r, &err);
		goto out;
	}
	if (!doc && !seen) {
		api_error(rs, 404, "no node '%s': it has no document (%s) and never reported", id,
			  path);
		goto out;
	}
	o = json_object();
	json_object_set_new(o, "id", json_string(id));
	node_tags(rq, s, id, o);
	json_object_set_new(o, "document", doc ? json_string(path) : json_null());
	json_object_set_new(o, "revision", json_string(repo_snap_commit_id(s)));
	for (size_t k = 0; node_db_keys[k]; k++) {
		json_t *v = seen ? json_object_get(seen, node_db_keys[k]) : NULL;

		if (!v &&
		    (!strcmp(node_db_keys[k], "addresses") || !strcmp(node_db_keys[k], "macs")))
			json_object_set_new(o, node_db_keys[k], json_array());
		else
			json_object_set(o, node_db_keys[k], v ? v : json_null());
	}
	/* the agent stopped saying it is alive: whatever its last run said */
	if (seen && db_node_unreachable(rq->srv->db, id))
		json_object_set_new(o, "status", json_string("unreachable"));
	api_ok(rs, 200, o);
out:
	json_decref(seen);
	repo_snap_free(s);
	return 0;
}

/* ---- PUT /v1/nodes/{node}/tags ---- */

/* tags_arg - body "tags": a list of distinct tag names; 400 in rs otherwise. */
static int tags_arg(json_t *body, struct api_resp *rs, json_t **ret)
{
	json_t *tags = json_object_get(body, "tags"), *t;
	size_t i;

	if (!json_is_array(tags))
		return api_error(rs, 400, "field 'tags' must be a list of tag names"), -EINVAL;
	if (json_array_size(tags) > TAGS_MAX)
		return api_error(rs, 400, "at most %d tags", TAGS_MAX), -EINVAL;
	json_array_foreach(tags, i, t) {
		const char *s = json_string_value(t);

		if (!node_doc_tag_ok(s))
			return api_error(rs, 400,
					 "tags[%zu]: a tag name is letters, digits, '.', '-', '_' "
					 "(1 to %d bytes)",
					 i, NODE_DOC_TAG_MAX),
			       -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(s, json_string_value(json_array_get(tags, j))))
				return api_error(rs, 400, "tag '%s' is listed twice", s), -EINVAL;
	}
	*ret = tags;
	return 0;
}

/* tags_exist - every tag has tags/TAG.yaml at s; 400 in rs otherwise. */
static int tags_exist(struct repo_snap *s, const json_t *tags, struct api_resp *rs)
{
	char path[REPO_PATH_MAX + 1], blob[REPO_OID_HEX + 1];
	size_t i;
	json_t *t;

	json_array_foreach(tags, i, t) {
		const char *name = json_string_value(t);
		int r;

		snprintf(path, sizeof(path), "tags/%s.yaml", name);
		r = repo_snap_blob_id(s, path, blob);
		if (r == -ENOENT)
			return api_error(rs, 400, "unknown tag '%s': there is no %s", name, path),
			       -EINVAL;
		if (r < 0)
			return api_error(rs, 500, "%s: %s", path, strerror(-r)), r;
	}
	return 0;
}

/* string_field - body[name] as a string or NULL; 400 in rs when not one. */
static int string_field(json_t *body, const char *name, size_t max, struct api_resp *rs,
			const char **ret)
{
	json_t *v = json_object_get(body, name);

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > max)
		return api_error(rs, 400, "field '%s' must be a string of at most %zu bytes", name,
				 max),
		       -EINVAL;
	*ret = json_string_value(v);
	return 0;
}

static const char *const tags_fields[] = { "tags", "revision", "message", NULL };

/* default_message - "set tags of NODE: a, b". */
static void default_message(struct buf *b, const char *id, const json_t *tags)
{
	size_t i;
	json_t *t;

	buf_printf(b, "set tags of %s:", id);
	json_array_foreach(tags, i, t)
		buf_printf(b, "%s %s", i ? "," : "", json_string_value(t));
	if (!json_array_size(tags))
		buf_puts(b, " (none)");
}

/* set_tags - edit, validate and commit; the answer in rs. */
static void set_tags(struct api_req *rq, struct api_resp *rs, const char *id, const char *path,
		     const json_t *tags, const char *revision, const char *message)
{
	char rev[REPO_OID_HEX + 1];
	struct tend_err err = { "" };
	struct repo_snap *base = NULL, *cand = NULL;
	struct buf old, doc, msg;
	struct repo_edit e;
	bool exists;
	int r;

	buf_init(&old, REPO_FILE_MAX);
	buf_init(&doc, REPO_FILE_MAX);
	buf_init(&msg, MESSAGE_MAX + 4096);
	r = repo_snap_open(rq->srv->repo, revision, &base, &err);
	if (r < 0) {
		answer_err(rs, r, &err);
		goto out;
	}
	if (tags_exist(base, tags, rs) < 0)
		goto out;
	r = repo_snap_read(base, path, &old, &err);
	if (r < 0 && r != -ENOENT) {
		answer_err(rs, r == -EISDIR ? -EINVAL : r, &err);
		goto out;
	}
	exists = r == 0;
	r = node_doc_set_tags(path, exists ? buf_str(&old) : NULL, old.len, tags, &doc, &err);
	if (r < 0) {
		answer_err(rs, r, &err);
		goto out;
	}
	e = (struct repo_edit){ path, buf_str(&doc), doc.len, false };
	r = repo_snap_edit(rq->srv->repo, base, &e, 1, &cand, &err);
	if (r < 0) {
		answer_err(rs, r, &err);
		goto out;
	}
	if (message && *message)
		buf_puts(&msg, message);
	else
		default_message(&msg, id, tags);
	if (api_commit_checked(rq, rs, cand, repo_snap_commit_id(base), buf_str(&msg), rev) != 0)
		goto out;
	api_ok(rs, 200,
	       json_pack("{s:s, s:s, s:O, s:b}", "revision", rev, "document", path, "tags", tags,
			 "created", !exists));
out:
	buf_free(&old);
	buf_free(&doc);
	buf_free(&msg);
	repo_snap_free(cand);
	repo_snap_free(base);
}

int api_node_tags_put(struct api_req *rq, struct api_resp *rs)
{
	char path[REPO_PATH_MAX + 1];
	const char *id, *revision, *message;
	json_t *body = NULL, *tags;

	id = node_param(rq, rs);
	if (!id || doc_path(id, path, sizeof(path)) < 0)
		return 0;
	snprintf(rs->audit_target, sizeof(rs->audit_target), "%s", path);
	if (api_body_json(rq, rs, tags_fields, &body) < 0)
		return 0;
	if (tags_arg(body, rs, &tags) == 0 &&
	    string_field(body, "revision", 256, rs, &revision) == 0 &&
	    string_field(body, "message", MESSAGE_MAX, rs, &message) == 0)
		set_tags(rq, rs, id, path, tags, revision, message);
	json_decref(body);
	return 0;
}

/* ---- reports ---- */

/* node_known - whether id has a document at HEAD or is in the database;
 * answers 404 (or 500) in rs when not. */
static bool node_known(struct api_req *rq, struct api_resp *rs, const char *id)
{
	char path[REPO_PATH_MAX + 1], blob[REPO_OID_HEX + 1];
	struct repo_snap *s = NULL;
	json_t *n = NULL;
	bool known;

	if (db_node_get(rq->srv->db, id, &n, NULL) == 0) {
		json_decref(n);
		return true;
	}
	if (doc_path(id, path, sizeof(path)) < 0 || head_snap(rq, rs, &s) < 0)
		return false;
	known = repo_snap_blob_id(s, path, blob) == 0;
	repo_snap_free(s);
	if (!known)
		api_error(rs, 404, "no node '%s': it has no document (%s) and never reported", id,
			  path);
	return known;
}

int api_node_reports(struct api_req *rq, struct api_resp *rs)
{
	struct tend_err err = { "" };
	json_t *list = NULL;
	const char *id;
	long limit;
	int r;

	id = node_param(rq, rs);
	if (!id)
		return 0;
	if (api_query_int(rq, "limit", LIST_DEFAULT, 1, LIST_MAX, &limit) < 0)
		return api_error(rs, 400, "limit: expected a number from 1 to %d", LIST_MAX);
	if (!node_known(rq, rs, id))
		return 0;
	r = db_report_list(rq->srv->db, id, (int)limit, &list, &err);
	if (r < 0)
		return answer_err(rs, r, &err);
	return api_ok(rs, 200, json_pack("{s:s, s:o}", "node", id, "reports", list));
}

int api_node_report_post(struct api_req *rq, struct api_resp *rs)
{
	struct tend_err err = { "" };
	const char *id, *status = NULL;
	json_t *body = NULL;
	int64_t rid = 0;
	int r;

	id = node_param(rq, rs);
	if (!id)
		return 0;
	snprintf(rs->audit_target, sizeof(rs->audit_target), "%s", id);
	if (api_body_json(rq, rs, NULL, &body) < 0)
		return 0;
	r = db_report_status(body, &status, &err);
	if (r == 0)
		r = db_report_add(rq->srv->db, id, body, &rid, &err);
	if (r < 0) {
		answer_err(rs, r, &err);
	} else {
		snprintf(rs->audit_detail, sizeof(rs->audit_detail), "report %lld: %s",
			 (long long)rid, status);
		api_ok(rs, 201,
		       json_pack("{s:I, s:s, s:s}", "id", (json_int_t)rid, "node", id, "status",
				 status));
	}
	json_decref(body);
	return 0;
}

int api_report_get(struct api_req *rq, struct api_resp *rs)
{
	struct tend_err err = { "" };
	const char *p = rq->params[0];
	json_t *rep = NULL;
	long long id;
	int r;

	if (!p || str_to_ll(p, 10, 1, INT64_MAX, &id) < 0)
		return api_error(rs, 400, "bad report id '%.40s': expected a positive number",
				 p ? p : "");
	r = db_report_get(rq->srv->db, id, &rep, &err);
	if (r < 0)
		return answer_err(rs, r, &err);
	return api_ok(rs, 200, rep);
}

/* ---- GET /v1/audit ---- */

int api_audit(struct api_req *rq, struct api_resp *rs)
{
	struct tend_err err = { "" };
	json_t *list = NULL, *o;
	long limit, before;
	size_t n;
	int r;

	if (api_query_int(rq, "limit", LIST_DEFAULT, 1, LIST_MAX, &limit) < 0)
		return api_error(rs, 400, "limit: expected a number from 1 to %d", LIST_MAX);
	if (api_query_int(rq, "before", 0, 0, INT64_MAX, &before) < 0)
		return api_error(rs, 400, "before: expected a record id (a positive number)");
	r = db_audit_list(rq->srv->db, before, (int)limit, &list, &err);
	if (r < 0)
		return answer_err(rs, r, &err);
	o = json_pack("{s:o}", "audit", list);
	/* the next page: ?before=NEXT */
	n = json_array_size(list);
	if (o && n == (size_t)limit)
		json_object_set(o, "next", json_object_get(json_array_get(list, n - 1), "id"));
	return api_ok(rs, 200, o);
}
