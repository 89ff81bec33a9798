/*
 * repo_history.c - reading the configuration repository's history: the
 * commits that touch a path (repo_log), one commit (repo_commit_info) and
 * the changes between two revisions (repo_diff), over libgit2.
 *
 * A commit's files are its changes against its first parent (everything,
 * added, for the first commit).  The trailers "Tend-Caller" and
 * "Tend-Address" that repo_commit_snap writes in the message's last
 * paragraph are reported as "caller" and "address", and the message
 * without that paragraph.  Paths filter literally (a file or a
 * directory), never as patterns.
 */
#include "repo.h"
#include "repo_git.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/strutil.h"

#define REPO_PATCH_MAX ((size_t)64 << 20)

static void iso_time(git_time_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

static const char *status_name(git_delta_t st)
{
	switch (st) {
	case GIT_DELTA_ADDED:
		return "added";
	case GIT_DELTA_DELETED:
		return "deleted";
	default:
		return "modified";
	}
}

static int diff_opts_init(git_diff_options *o, const char *path, char **spec)
{
	git_diff_options_init(o, GIT_DIFF_OPTIONS_VERSION);
	if (path && *path) {
		if (!repo_path_ok(path))
			return -EINVAL;
		*spec = (char *)path;
		o->pathspec.strings = spec;
		o->pathspec.count = 1;
		/* a path names a file or a directory, never a pattern */
		o->flags |= GIT_DIFF_DISABLE_PATHSPEC_MATCH;
	}
	return 0;
}

/* diff_files - {"path","status"} of every delta of d. */
static json_t *diff_files(git_diff *d)
{
	json_t *arr = json_array();
	size_t n = git_diff_num_deltas(d);

	for (size_t i = 0; arr && i < n; i++) {
		const git_diff_delta *x = git_diff_get_delta(d, i);
		const char *p = x->status == GIT_DELTA_DELETED ? x->old_file.path : x->new_file.path;

		json_array_append_new(arr,
				      json_pack("{s:s, s:s}", "path", p, "status", status_name(x->status)));
	}
	return arr;
}

/* commit_diff - commit c against its first parent (or nothing), limited to path. */
static int commit_diff(git_repository *g, git_commit *c, const char *path, git_diff **ret)
{
	git_commit *p = NULL;
	git_tree *old = NULL, *new = NULL;
	git_diff_options o;
	char *spec;
	int rc;

	rc = diff_opts_init(&o, path, &spec);
	if (rc < 0)
		return rc;
	if (git_commit_parentcount(c) > 0) {
		rc = git_commit_parent(&p, c, 0);
		if (rc == 0)
			rc = git_commit_tree(&old, p);
	}
	if (rc == 0)
		rc = git_commit_tree(&new, c);
	if (rc == 0)
		rc = git_diff_tree_to_tree(ret, g, old, new, &o);
	git_tree_free(new);
	git_tree_free(old);
	git_commit_free(p);
	return rc < 0 ? -EIO : 0;
}

/* message_body - the message without our trailer paragraph (malloc'd). */
static char *message_body(const char *msg)
{
	size_t n = strlen(msg);
	const char *last = NULL, *p = msg;

	while (n > 0 && strchr(" \t\r\n", msg[n - 1]))
		n--;
	/* the last paragraph, when it is the trailer block written here */
	while ((p = memmem(p, n - (size_t)(p - msg), "\n\n", 2)) != NULL)
		last = p++;
	if (last && str_has_prefix(last + 2, "Tend-Caller: ")) {
		n = (size_t)(last - msg);
		while (n > 0 && strchr(" \t\r\n", msg[n - 1]))
			n--;
	}
	return strndup(msg, n);
}

static json_t *commit_json(git_commit *c, json_t *files)
{
	const git_signature *a = git_commit_author(c);
	git_message_trailer_array tr = { 0 };
	const char *caller = NULL, *address = NULL;
	char id[REPO_OID_HEX + 1], when[32];
	json_t *parents = json_array();
	char *body;
	json_t *j;

	repo_oid_hex(git_commit_id(c), id);
	iso_time(a->when.time, when);
	if (git_message_trailers(&tr, git_commit_message(c)) == 0) {
		for (size_t i = 0; i < tr.count; i++) {
			if (!strcmp(tr.trailers[i].key, "Tend-Caller"))
				caller = tr.trailers[i].value;
			else if (!strcmp(tr.trailers[i].key, "Tend-Address"))
				address = tr.trailers[i].value;
		}
	}
	for (unsigned i = 0; i < git_commit_parentcount(c); i++) {
		char p[REPO_OID_HEX + 1];

		repo_oid_hex(git_commit_parent_id(c, i), p);
		json_array_append_new(parents, json_string(p));
	}
	body = message_body(git_commit_message(c));
	j = json_pack("{s:s, s:s?, s:s?, s:s, s:s?, s:s?, s:s?, s:o, s:o}", "id", id, "author",
		      a->name, "email", a->email, "time", when, "message", body, "caller", caller,
		      "address", address, "parents", parents, "files", files);
	free(body);
	git_message_trailer_array_free(&tr);
	return j;
}

/* What is at a path in one commit's tree (repo_log's path filter). */
struct path_entry {
	git_oid commit;
	git_oid id;
	git_filemode_t mode;
	bool found;
	bool valid;
};

/* entry_at - what is at path in c's tree, through cache (the last parent seen). */
static void entry_at(git_commit *c, const char *path, struct path_entry *cache,
		     struct path_entry *out)
{
	git_tree_entry *e = NULL;
	git_tree *t = NULL;

	if (cache->valid && git_oid_equal(&cache->commit, git_commit_id(c))) {
		*out = *cache;
		return;
	}
	memset(out, 0, sizeof(*out));
	git_oid_cpy(&out->commit, git_commit_id(c));
	out->valid = true;
	if (git_commit_tree(&t, c) == 0 && git_tree_entry_bypath(&e, t, path) == 0) {
		git_oid_cpy(&out->id, git_tree_entry_id(e));
		out->mode = git_tree_entry_filemode(e);
		out->found = true;
	}
	git_tree_entry_free(e);
	git_tree_free(t);
}

/*
 * touches - whether c changes path (a file, or anything beneath a
 * directory) against its first parent.  Comparing two tree entries is much
 * cheaper than a diff, most commits of a long history do not match, and
 * a commit's parent is usually the next commit walked: cache holds it.
 */
static bool touches(git_commit *c, const char *path, struct path_entry *cache)
{
	struct path_entry here, parent = { 0 };
	git_commit *p = NULL;

	entry_at(c, path, cache, &here);
	if (git_commit_parentcount(c) > 0 && git_commit_parent(&p, c, 0) == 0) {
		entry_at(p, path, cache, &parent);
		*cache = parent;
	}
	git_commit_free(p);
	if (here.found != parent.found)
		return true;
	return here.found && (here.mode != parent.mode || !git_oid_equal(&here.id, &parent.id));
}

/* log_one - c as JSON when it touches path; *ret NULL when it does not. */
static int log_one(struct repo *r, git_commit *c, const char *path, struct path_entry *cache,
		   json_t **ret)
{
	git_diff *d = NULL;
	int rc;

	*ret = NULL;
	if (path && !touches(c, path, cache))
		return 0;
	rc = commit_diff(r->git, c, path, &d);
	if (rc < 0)
		return rc;
	*ret = commit_json(c, diff_files(d));
	git_diff_free(d);
	return *ret ? 0 : -ENOMEM;
}

int repo_log(struct repo *r, const char *rev, const char *path, size_t skip, size_t limit,
	     json_t **ret, struct tend_err *err)
{
	struct path_entry cache = { 0 };
	git_revwalk *w = NULL;
	git_commit *start = NULL;
	json_t *arr = NULL;
	git_oid id;
	int rc;

	if (path && *path && !repo_path_ok(path))
		return err_set(err, -EINVAL, "'%.64s': not an acceptable repository path", path);
	rc = repo_lookup_commit(r, rev, &start, err);
	if (rc < 0)
		return rc;
	arr = json_array();
	rc = git_revwalk_new(&w, r->git);
	if (rc == 0)
		/* git's default order, newest first; incremental, unlike the sorted
		 * modes, which walk the whole history before the first commit */
		rc = git_revwalk_sorting(w, GIT_SORT_NONE);
	if (rc == 0)
		rc = git_revwalk_push(w, git_commit_id(start));
	if (rc < 0) {
		rc = repo_git_fail(err, rc, "history");
		goto out;
	}
	while (json_array_size(arr) < limit && (rc = git_revwalk_next(&id, w)) == 0) {
		git_commit *c = NULL;
		json_t *j = NULL;

		rc = git_commit_lookup(&c, r->git, &id);
		if (rc == 0)
			rc = log_one(r, c, path && *path ? path : NULL, &cache, &j);
		git_commit_free(c);
		if (rc < 0)
			break;
		if (!j)
			continue;
		if (skip > 0) {
			skip--;
			json_decref(j);
			continue;
		}
		json_array_append_new(arr, j);
	}
	if (rc == GIT_ITEROVER)
		rc = 0;
	if (rc < 0)
		rc = err_set(err, rc == -ENOMEM ? rc : -EIO, "cannot read the history");
out:
	git_revwalk_free(w);
	git_commit_free(start);
	if (rc < 0) {
		json_decref(arr);
		return rc;
	}
	*ret = arr;
	return 0;
}

int repo_commit_info(struct repo *r, const char *rev, json_t **ret, struct tend_err *err)
{
	git_commit *c = NULL;
	json_t *j = NULL;
	int rc;

	if (!rev)
		return err_set(err, -EINVAL, "no revision given");
	rc = repo_lookup_commit(r, rev, &c, err);
	if (rc < 0)
		return rc;
	rc = log_one(r, c, NULL, NULL, &j);
	git_commit_free(c);
	if (rc < 0)
		return err_set(err, rc, "cannot read commit %.64s", rev);
	*ret = j;
	return 0;
}

int repo_diff(struct repo *r, const char *from, const char *to, const char *path,
	      json_t **ret_files, char **ret_patch, struct tend_err *err)
{
	git_commit *a = NULL, *b = NULL;
	git_tree *ta = NULL, *tb = NULL;
	git_diff *d = NULL;
	git_buf patch = { 0 };
	git_diff_options o;
	json_t *files = NULL;
	char *spec, *p = NULL;
	int rc;

	if (diff_opts_init(&o, path, &spec) < 0)
		return err_set(err, -EINVAL, "'%.64s': not an acceptable repository path", path);
	if (!from)
		return err_set(err, -EINVAL, "no revision to diff from");
	rc = repo_lookup_commit(r, from, &a, err);
	if (rc == 0)
		rc = repo_lookup_commit(r, to, &b, err);
	if (rc < 0)
		goto out;
	rc = git_commit_tree(&ta, a);
	if (rc == 0)
		rc = git_commit_tree(&tb, b);
	if (rc == 0)
		rc = git_diff_tree_to_tree(&d, r->git, ta, tb, &o);
	if (rc == 0)
		rc = git_diff_to_buf(&patch, d, GIT_DIFF_FORMAT_PATCH);
	if (rc < 0) {
		rc = repo_git_fail(err, rc, "diff");
		goto out;
	}
	if (patch.size > REPO_PATCH_MAX) {
		rc = err_set(err, -EFBIG, "the diff is larger than %zu bytes", REPO_PATCH_MAX);
		goto out;
	}
	files = diff_files(d);
	p = strndup(patch.ptr ? patch.ptr : "", patch.size);
	if (!files || !p) {
		rc = -ENOMEM;
		goto out;
	}
	*ret_files = files;
	*ret_patch = p;
	files = NULL;
	p = NULL;
out:
	free(p);
	json_decref(files);
	git_buf_dispose(&patch);
	git_diff_free(d);
	git_tree_free(tb);
	git_tree_free(ta);
	git_commit_free(b);
	git_commit_free(a);
	return rc;
}
