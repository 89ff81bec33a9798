/*
 * api_config.c - the configuration repository over HTTP: files (list,
 * get, put, delete), history, one commit, diff, revert, and the one
 * validated write path every route that commits goes through
 * (api_commit_checked).
 *
 * Writes are optimistic: the caller names the revision it edited; the
 * edit is applied to that revision's tree, the candidate is validated
 * (compile_validate: a change that breaks any catalog is refused 400 with
 * the errors), and committed only if the branch still points at that
 * revision (409 with the current head otherwise).  Requests are handled
 * one at a time (one polling thread), and the branch moves by
 * compare-and-swap, so a push made with plain git meanwhile is detected
 * too.  Nothing is committed unless the answer is 2xx.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "api.h"
#include "compile.h"
#include "repo.h"
#include "util/buf.h"
#include "util/hash.h"

#define API_MSG_MAX 16384 /* longest commit message accepted */

/* ---- helpers ------------------------------------------------------------ */

/* answer_err - the answer for a repo.h error code (message from err). */
static int answer_err(struct api_resp *rs, int code, const struct tend_err *err)
{
	if (code == -EISDIR || code == -ENOTDIR)
		code = -EINVAL;
	if (code == -E2BIG)
		code = -EFBIG;
	return api_error_errno(rs, code, err->msg);
}

/* path_param - the {path...} of the route, checked; NULL when refused (400 in rs). */
static const char *path_param(struct api_req *rq, struct api_resp *rs)
{
	const char *p = rq->params[0];

	if (!p || !repo_path_ok(p)) {
		api_error(rs, 400, "'%.200s' is not an acceptable repository path "
			  "(relative, UTF-8, no '.', '..' or empty component, at most %d bytes)",
			  p ? p : "", REPO_PATH_MAX);
		return NULL;
	}
	return p;
}

/*
 * dir_arg - a directory argument (?prefix=, ?path=) without trailing '/'
 * into out ("" when absent); -EINVAL (400 in rs) when not acceptable.
 */
static int dir_arg(struct api_req *rq, struct api_resp *rs, const char *name,
		   char out[REPO_PATH_MAX + 1])
{
	const char *v = api_query(rq, name);
	size_t n = v ? strnlen(v, REPO_PATH_MAX + 1) : 0;

	while (n > 0 && v[n - 1] == '/')
		n--;
	if (n > REPO_PATH_MAX) {
		api_error(rs, 400, "%s: path too long", name);
		return -EINVAL;
	}
	if (n)
		memcpy(out, v, n);
	out[n] = '\0';
	if (n && !repo_path_ok(out)) {
		api_error(rs, 400, "%s: '%.200s' is not an acceptable repository path", name, v);
		return -EINVAL;
	}
	return 0;
}

/* open_snap - the snapshot at revision rev (NULL: HEAD); answers 400/404 itself. */
static int open_snap(struct api_req *rq, struct api_resp *rs, const char *rev,
		     struct repo_snap **ret)
{
	struct tend_err err = { "" };
	int r = repo_snap_open(rq->srv->repo, rev, ret, &err);

	if (r < 0)
		answer_err(rs, r, &err);
	return r;
}

/*
 * body_string - field name of body as a string: NULL when absent;
 * -EINVAL (400 in rs) when present but not a string, or when required and
 * absent.
 */
static int body_string(json_t *body, const char *name, bool required, struct api_resp *rs,
		       const char **ret)
{
	json_t *v = json_object_get(body, name);

	*ret = NULL;
	if (!v || json_is_null(v)) {
		if (!required)
			return 0;
		api_error(rs, 400, "missing field '%s'", name);
		return -EINVAL;
	}
	if (!json_is_string(v)) {
		api_error(rs, 400, "field '%s' must be a string", name);
		return -EINVAL;
	}
	*ret = json_string_value(v);
	return 0;
}

/* message_arg - the "message" field, or def; -EINVAL (400) when too long. */
static int message_arg(json_t *body, struct api_resp *rs, const char **ret)
{
	const char *m;

	if (body_string(body, "message", false, rs, &m) < 0)
		return -EINVAL;
	if (m && strlen(m) > API_MSG_MAX) {
		api_error(rs, 400, "message longer than %d bytes", API_MSG_MAX);
		return -EINVAL;
	}
	*ret = m;
	return 0;
}

/* decode_base64 - standard base64 (padded) into out; -EINVAL when malformed. */
static int decode_base64(const char *in, struct buf *out)
{
	size_t n = strlen(in), pad = 0;
	unsigned char *tmp;
	int len;

	if (n % 4 != 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];

		if (c == '=' && i >= n - 2) {
			pad++;
			continue;
		}
		if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return -EINVAL;
	}
	if (n / 4 * 3 > REPO_FILE_MAX + 3)
		return -EFBIG;
	tmp = malloc(n / 4 * 3 + 1);
	if (!tmp)
		return -ENOMEM;
	/* EVP_DecodeBlock semantics: the length counts the padding bytes */
	len = base64_decode(tmp, (const unsigned char *)in, (int)n);
	if (len < 0 || (size_t)len < pad) {
		free(tmp);
		return len == -ENOSYS ? -ENOSYS : -EINVAL;
	}
	len = buf_add(out, tmp, (size_t)len - pad);
	free(tmp);
	return len < 0 ? -EFBIG : 0;
}

/* encode_base64 - data as a base64 JSON string, or NULL. */
static json_t *encode_base64(const char *data, size_t len)
{
	unsigned char *out;
	json_t *j = NULL;

	if (len > REPO_FILE_MAX)
		return NULL;
	out = malloc((len + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	if (base64_encode(out, (const unsigned char *)data, (int)len) >= 0)
		j = json_string((const char *)out);
	free(out);
	return j;
}

/* ---- the validated write path -------------------------------------------- */

/*
 * api_commit_checked returns 0 when the commit was made (or the candidate
 * changes nothing: *out is then the head, unchanged, and no commit is
 * recorded) with rs untouched, and 1 when rs holds the answer (400 invalid,
 * 409 stale, 404/500): the caller answers nothing more.
 */
int api_commit_checked(struct api_req *rq, struct api_resp *rs, struct repo_snap *s,
		       const char *expect, const char *message, char out[41])
{
	struct repo *repo = rq->srv->repo;
	const struct repo_author who = { rq->caller ? rq->caller : "-", NULL, rq->address };
	struct tend_err err = { "" };
	char want[REPO_OID_HEX + 1], head[REPO_OID_HEX + 1];
	json_t *errors = NULL;
	int r;

	r = repo_resolve(repo, expect, want, &err);
	if (r < 0)
		return answer_err(rs, r, &err), 1;
	r = repo_head(repo, head, &err);
	if (r < 0)
		return answer_err(rs, r, &err), 1;
	if (strcmp(want, head) != 0)
		goto stale; /* no need to validate what cannot be committed */

	r = rq->srv->compiler ? compile_validate(rq->srv->compiler, s, &errors) : -ENOSYS;
	if (r < 0) {
		json_decref(errors);
		return api_error(rs, 500, "cannot validate the change: %s", strerror(-r)), 1;
	}
	if (r > 0 || json_array_size(errors) > 0) {
		const char *first = json_string_value(json_array_get(errors, 0));

		snprintf(rs->audit_detail, sizeof(rs->audit_detail), "invalid: %s",
			 first ? first : "see errors");
		return api_ok(rs, 400,
			      json_pack("{s:s, s:o}", "error",
					"the change makes the configuration invalid", "errors",
					errors ? errors : json_array())),
		       1;
	}
	json_decref(errors);

	r = repo_commit_snap(repo, s, want, &who, message, out, &err);
	if (r == -EALREADY) {
		memcpy(out, want, REPO_OID_HEX + 1);
		snprintf(rs->audit_detail, sizeof(rs->audit_detail), "no change");
		return 0;
	}
	if (r == -ESTALE) {
		if (repo_head(repo, head, &err) < 0)
			head[0] = '\0';
		goto stale;
	}
	if (r < 0)
		return answer_err(rs, r, &err), 1;
	memcpy(rs->audit_commit, out, REPO_OID_HEX + 1);
	return 0;
stale:
	api_ok(rs, 409,
	       json_pack("{s:s, s:s}", "error",
			 "stale revision: the configuration changed since the revision edited; "
			 "redo the change on the head",
			 "head", head));
	return 1;
}

/* ---- files ---------------------------------------------------------------- */

int api_files_list(struct api_req *rq, struct api_resp *rs)
{
	char dir[REPO_PATH_MAX + 1];
	struct tend_err err = { "" };
	struct repo_snap *s = NULL;
	json_t *files = NULL;
	int r;

	if (dir_arg(rq, rs, "prefix", dir) < 0 ||
	    open_snap(rq, rs, api_query(rq, "revision"), &s) < 0)
		return 0;
	r = repo_snap_list(s, dir, &files, &err);
	if (r < 0)
		answer_err(rs, r, &err);
	else
		api_ok(rs, 200, json_pack("{s:s, s:o}", "revision", repo_snap_commit_id(s), "files",
					  files));
	repo_snap_free(s);
	return 0;
}

/* raw_arg - whether ?raw asks for the bytes; -EINVAL (400) when unreadable. */
static int raw_arg(struct api_req *rq, struct api_resp *rs, bool *ret)
{
	const char *v = api_query(rq, "raw");

	*ret = false;
	if (!v || !strcmp(v, "0") || !strcmp(v, "false"))
		return 0;
	if (!*v || !strcmp(v, "1") || !strcmp(v, "true")) {
		*ret = true;
		return 0;
	}
	api_error(rs, 400, "raw: expected 1 or 0, found '%.40s'", v);
	return -EINVAL;
}

/* file_answer - {"path","revision","blob","content"|"content_base64"}. */
static json_t *file_answer(const char *path, const char *rev, const char *blob,
			   const struct buf *b)
{
	json_t *content = NULL, *j;
	const char *key = "content";

	/* a string when it is text; NUL bytes make it binary for us */
	if (memchr(buf_str(b), '\0', b->len) == NULL)
		content = json_stringn(buf_str(b), b->len);
	if (!content) {
		key = "content_base64";
		content = encode_base64(buf_str(b), b->len);
		if (!content)
			return NULL;
	}
	j = json_pack("{s:s, s:s, s:s}", "path", path, "revision", rev, "blob", blob);
	if (j)
		json_object_set_new(j, key, content);
	else
		json_decref(content);
	return j;
}

int api_file_get(struct api_req *rq, struct api_resp *rs)
{
	char blob[REPO_OID_HEX + 1];
	struct tend_err err = { "" };
	struct repo_snap *s = NULL;
	const char *path;
	struct buf b;
	bool raw;
	int r;

	path = path_param(rq, rs);
	if (!path || raw_arg(rq, rs, &raw) < 0 ||
	    open_snap(rq, rs, api_query(rq, "revision"), &s) < 0)
		return 0;
	buf_init(&b, REPO_FILE_MAX);
	r = repo_snap_read(s, path, &b, &err);
	if (r == 0)
		r = repo_snap_blob_id(s, path, blob);
	if (r == -EISDIR) {
		api_error(rs, 404, "%s is a directory, not a file", path);
		goto out;
	}
	if (r < 0) {
		answer_err(rs, r, &err);
		goto out;
	}
	snprintf(rs->etag, sizeof(rs->etag), "\"%s\"", blob);
	if (raw) {
		rs->raw_len = b.len;
		rs->raw = buf_steal(&b);
		rs->content_type = "application/octet-stream";
		rs->status = 200;
	} else {
		api_ok(rs, 200, file_answer(path, repo_snap_commit_id(s), blob, &b));
	}
out:
	buf_free(&b);
	repo_snap_free(s);
	return 0;
}

static const char *const put_fields[] = { "content", "content_base64", "revision", "message",
					  NULL };

/* put_content - the new bytes from "content" or "content_base64" (exactly one). */
static int put_content(json_t *body, struct api_resp *rs, struct buf *out)
{
	const char *text = NULL, *b64 = NULL;
	json_t *c = json_object_get(body, "content");
	int r;

	if (body_string(body, "content_base64", false, rs, &b64) < 0)
		return -EINVAL;
	if (c && !json_is_null(c)) {
		if (!json_is_string(c)) {
			api_error(rs, 400, "field 'content' must be a string");
			return -EINVAL;
		}
		text = json_string_value(c);
	}
	if (!text == !b64) {
		api_error(rs, 400, "give exactly one of 'content' and 'content_base64'");
		return -EINVAL;
	}
	if (text) {
		r = buf_add(out, text, json_string_length(c));
	} else {
		r = decode_base64(b64, out);
		if (r == -EINVAL) {
			api_error(rs, 400, "content_base64: not valid base64");
			return r;
		}
	}
	if (r == -E2BIG || r == -EFBIG) {
		api_error(rs, 413, "a file is at most %zu bytes", REPO_FILE_MAX);
		return -EFBIG;
	}
	if (r < 0) {
		api_error(rs, 500, "cannot read the content: %s", strerror(-r));
		return r;
	}
	return 0;
}

/* default_message - "VERB PATH" when the caller gave none. */
static const char *default_message(const char *given, const char *verb, const char *path,
				   char *scratch, size_t len)
{
	if (given && *given)
		return given;
	snprintf(scratch, len, "%s %s", verb, path);
	return scratch;
}

int api_file_put(struct api_req *rq, struct api_resp *rs)
{
	char blob[REPO_OID_HEX + 1], rev[REPO_OID_HEX + 1], defmsg[REPO_PATH_MAX + 16];
	struct tend_err err = { "" };
	struct repo_snap *base = NULL, *cand = NULL;
	struct repo_edit e = { 0 };
	const char *path, *revision, *message;
	json_t *body = NULL;
	bool existed;
	struct buf b;
	int r;

	buf_init(&b, REPO_FILE_MAX);
	path = path_param(rq, rs);
	if (!path || api_body_json(rq, rs, put_fields, &body) < 0)
		goto out;
	snprintf(rs->audit_target, sizeof(rs->audit_target), "%s", path);
	if (body_string(body, "revision", true, rs, &revision) < 0 ||
	    message_arg(body, rs, &message) < 0 || put_content(body, rs, &b) < 0 ||
	    open_snap(rq, rs, revision, &base) < 0)
		goto out;
	existed = repo_snap_blob_id(base, path, blob) == 0;
	e = (struct repo_edit){ path, buf_str(&b), b.len, false };
	r = repo_snap_edit(rq->srv->repo, base, &e, 1, &cand, &err);
	if (r < 0) {
		answer_err(rs, r, &err);
		goto out;
	}
	message = default_message(message, "put", path, defmsg, sizeof(defmsg));
	if (api_commit_checked(rq, rs, cand, revision, message, rev) != 0)
		goto out;
	if (repo_snap_blob_id(cand, path, blob) < 0) {
		api_error(rs, 500, "%s vanished from the commit", path);
		goto out;
	}
	api_ok(rs, existed ? 200 : 201,
	       json_pack("{s:s, s:s, s:s}", "revision", rev, "path", path, "blob", blob));
out:
	json_decref(body);
	buf_free(&b);
	repo_snap_free(cand);
	repo_snap_free(base);
	return 0;
}

static const char *const delete_fields[] = { "revision", "message", NULL };

int api_file_delete(struct api_req *rq, struct api_resp *rs)
{
	char rev[REPO_OID_HEX + 1], defmsg[REPO_PATH_MAX + 16];
	struct tend_err err = { "" };
	struct repo_snap *base = NULL, *cand = NULL;
	struct repo_edit e = { 0 };
	const char *path, *revision, *message;
	json_t *body = NULL;
	int r;

	path = path_param(rq, rs);
	if (!path || api_body_json(rq, rs, delete_fields, &body) < 0)
		goto out;
	snprintf(rs->audit_target, sizeof(rs->audit_target), "%s", path);
	if (body_string(body, "revision", false, rs, &revision) < 0 ||
	    message_arg(body, rs, &message) < 0)
		goto out;
	if (!revision)
		revision = api_query(rq, "revision");
	if (!message)
		message = api_query(rq, "message");
	if (!revision) {
		api_error(rs, 400, "missing field 'revision' (the revision the deletion is based on)");
		goto out;
	}
	if (message && strlen(message) > API_MSG_MAX) {
		api_error(rs, 400, "message longer than %d bytes", API_MSG_MAX);
		goto out;
	}
	if (open_snap(rq, rs, revision, &base) < 0)
		goto out;
	e = (struct repo_edit){ path, NULL, 0, true };
	r = repo_snap_edit(rq->srv->repo, base, &e, 1, &cand, &err);
	if (r < 0) {
		answer_err(rs, r, &err);
		goto out;
	}
	message = default_message(message, "delete", path, defmsg, sizeof(defmsg));
	if (api_commit_checked(rq, rs, cand, revision, message, rev) != 0)
		goto out;
	api_ok(rs, 200, json_pack("{s:s}", "revision", rev));
out:
	json_decref(body);
	repo_snap_free(cand);
	repo_snap_free(base);
	return 0;
}

/* ---- history, diff, revert ------------------------------------------------ */

int api_history(struct api_req *rq, struct api_resp *rs)
{
	char path[REPO_PATH_MAX + 1];
	struct tend_err err = { "" };
	json_t *log = NULL;
	long limit, skip;
	int r;

	if (api_query_int(rq, "limit", 50, 1, 1000, &limit) < 0)
		return api_error(rs, 400, "limit: expected a number from 1 to 1000");
	if (api_query_int(rq, "skip", 0, 0, 1000000, &skip) < 0)
		return api_error(rs, 400, "skip: expected a number from 0 to 1000000");
	if (dir_arg(rq, rs, "path", path) < 0)
		return 0;
	r = repo_log(rq->srv->repo, api_query(rq, "revision"), path[0] ? path : NULL,
		     (size_t)skip, (size_t)limit, &log, &err);
	if (r < 0)
		return answer_err(rs, r, &err);
	return api_ok(rs, 200, json_pack("{s:o}", "commits", log));
}

int api_commit_get(struct api_req *rq, struct api_resp *rs)
{
	struct tend_err err = { "" };
	json_t *info = NULL;
	int r = repo_commit_info(rq->srv->repo, rq->params[0], &info, &err);

	if (r < 0)
		return answer_err(rs, r, &err);
	return api_ok(rs, 200, info);
}

int api_diff(struct api_req *rq, struct api_resp *rs)
{
	char path[REPO_PATH_MAX + 1], from[REPO_OID_HEX + 1], to[REPO_OID_HEX + 1];
	const char *qfrom = api_query(rq, "from"), *qto = api_query(rq, "to");
	struct tend_err err = { "" };
	json_t *files = NULL, *p, *j;
	char *patch = NULL;
	int r;

	if (!qfrom)
		return api_error(rs, 400, "missing query argument 'from' (a revision)");
	if (dir_arg(rq, rs, "path", path) < 0)
		return 0;
	r = repo_resolve(rq->srv->repo, qfrom, from, &err);
	if (r == 0)
		r = repo_resolve(rq->srv->repo, qto ? qto : "HEAD", to, &err);
	if (r == 0)
		r = repo_diff(rq->srv->repo, from, to, path[0] ? path : NULL, &files, &patch, &err);
	if (r < 0)
		return answer_err(rs, r, &err);
	j = json_pack("{s:s, s:s, s:o}", "from", from, "to", to, "files", files);
	/* a patch of text that is not UTF-8 goes out as base64 */
	p = json_string(patch);
	if (j && p) {
		json_object_set_new(j, "patch", p);
	} else if (j) {
		json_object_set_new(j, "patch", json_null());
		json_object_set_new(j, "patch_base64", encode_base64(patch, strlen(patch)));
	}
	free(patch);
	return api_ok(rs, 200, j);
}

static const char *const revert_fields[] = { "commit", "revision", "message", NULL };

/* revert_message - git's: Revert "SUBJECT" + "This reverts commit ID." */
static void revert_message(struct repo *repo, const char *id, struct buf *out)
{
	json_t *info = NULL;
	const char *msg = NULL;
	size_t n = 0;

	if (repo_commit_info(repo, id, &info, NULL) == 0) {
		msg = json_string_value(json_object_get(info, "message"));
		n = msg ? strcspn(msg, "\n") : 0;
	}
	buf_printf(out, "Revert \"%.*s\"\n\nThis reverts commit %s.\n", (int)(n > 200 ? 200 : n),
		   msg ? msg : "", id);
	json_decref(info);
}

int api_revert(struct api_req *rq, struct api_resp *rs)
{
	char undo[REPO_OID_HEX + 1], rev[REPO_OID_HEX + 1];
	struct tend_err err = { "" };
	struct repo_snap *cand = NULL;
	const char *commit, *revision, *message;
	json_t *body = NULL;
	struct buf msg;
	int r;

	buf_init(&msg, API_MSG_MAX + 512);
	if (api_body_json(rq, rs, revert_fields, &body) < 0 ||
	    body_string(body, "commit", true, rs, &commit) < 0 ||
	    body_string(body, "revision", true, rs, &revision) < 0 ||
	    message_arg(body, rs, &message) < 0)
		goto out;
	r = repo_resolve(rq->srv->repo, commit, undo, &err);
	if (r < 0) {
		answer_err(rs, r, &err);
		goto out;
	}
	snprintf(rs->audit_target, sizeof(rs->audit_target), "%s", undo);
	r = repo_snap_revert(rq->srv->repo, undo, revision, &cand, &err);
	if (r < 0) {
		answer_err(rs, r, &err); /* -EEXIST: a conflict, 409 naming the files */
		goto out;
	}
	if (message && *message)
		buf_puts(&msg, message);
	else
		revert_message(rq->srv->repo, undo, &msg);
	if (api_commit_checked(rq, rs, cand, revision, buf_str(&msg), rev) != 0)
		goto out;
	api_ok(rs, 200, json_pack("{s:s, s:s}", "revision", rev, "reverted", undo));
out:
	buf_free(&msg);
	json_decref(body);
	repo_snap_free(cand);
	return 0;
}
