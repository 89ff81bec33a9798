/*
 * api_catalog.c - catalogs over HTTP: a node's catalog, where its values
 * came from (explain), and the tags.
 *
 * Each reads one snapshot: HEAD, or ?revision=REV.  A catalog answers
 * with its content hash as ETag, so an agent that polls with
 * If-None-Match gets 304 until its catalog really changes (the HTTP layer
 * compares; compiled catalogs are cached, so the hash costs no compile).
 * A catalog that cannot be compiled is a 400 naming the first error with
 * its FILE:LINE:COL, in "errors" too, as a refused write answers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "compile.h"
#include "repo.h"

/* snap - the snapshot at ?revision= (HEAD when absent); answers 400/404 itself. */
static int snap(struct api_req *rq, struct api_resp *rs, struct repo_snap **ret)
{
	struct tend_err err = { "" };
	int r = repo_snap_open(rq->srv->repo, api_query(rq, "revision"), ret, &err);

	if (r < 0)
		api_error_errno(rs, r == -ENOENT || r == -EINVAL ? r : -EIO, err.msg);
	return r;
}

/* compile_error - a compile.h error: 400/404 with the message (and "errors"). */
static int compile_error(struct api_resp *rs, int r, const struct tend_err *err)
{
	json_t *j;

	if (r != -EINVAL)
		return api_error_errno(rs, r, err->msg);
	j = json_pack("{s:s, s:[s]}", "error", err->msg, "errors", err->msg);
	if (!j)
		return api_error(rs, 400, "invalid catalog");
	return api_ok(rs, 400, j);
}

/* compiler - the server's compiler; 503 when there is none. */
static struct compiler *compiler(struct api_req *rq, struct api_resp *rs)
{
	if (!rq->srv->compiler)
		api_error(rs, 503, "catalogs cannot be compiled on this server");
	return rq->srv->compiler;
}

int api_node_catalog(struct api_req *rq, struct api_resp *rs)
{
	struct tend_err err = { "" };
	struct repo_snap *s = NULL;
	struct compiler *c = compiler(rq, rs);
	json_t *cat = NULL;
	int r;

	if (!c || snap(rq, rs, &s) < 0)
		return 0;
	r = compile_node(c, s, rq->params[0], &cat, &err);
	repo_snap_free(s);
	if (r < 0)
		return compile_error(rs, r, &err);
	snprintf(rs->etag, sizeof(rs->etag), "%s", json_string_value(json_object_get(cat, "hash")));
	return api_ok(rs, 200, cat);
}

int api_node_explain(struct api_req *rq, struct api_resp *rs)
{
	struct tend_err err = { "" };
	struct repo_snap *s = NULL;
	struct compiler *c = compiler(rq, rs);
	const char *id = api_query(rq, "id");
	json_t *x = NULL;
	int r;

	if (!c)
		return 0;
	if (id && (!*id || !strchr(id, ':') || strlen(id) > 4096))
		return api_error(rs, 400, "id: expected TYPE:NAME, e.g. file:/etc/motd");
	if (snap(rq, rs, &s) < 0)
		return 0;
	r = compile_explain(c, s, rq->params[0], id, &x, &err);
	repo_snap_free(s);
	if (r < 0)
		return compile_error(rs, r, &err);
	return api_ok(rs, 200, x);
}

int api_tags(struct api_req *rq, struct api_resp *rs)
{
	struct tend_err err = { "" };
	struct repo_snap *s = NULL;
	struct compiler *c = compiler(rq, rs);
	const char *rev;
	json_t *tags = NULL;
	int r;

	if (!c || snap(rq, rs, &s) < 0)
		return 0;
	r = compile_tags(c, s, &tags, &err);
	rev = repo_snap_commit_id(s);
	if (r == 0)
		r = api_ok(rs, 200, json_pack("{s:s?, s:o}", "revision", rev, "tags", tags));
	else
		api_error_errno(rs, r, err.msg);
	repo_snap_free(s);
	return 0;
}
