/*
 * repo.c - the configuration repository, over libgit2.
 *
 * The repository is bare (an existing non-bare one is accepted: only its
 * object database and its branch are used, never its work tree or index).
 * Every read goes through a snapshot, which is just a git tree: the tree
 * of a commit, or a candidate tree built in memory from edits (an
 * in-memory git_index, never a work tree) or by git_revert_commit.
 * Candidate trees are written to the object database unreferenced; a
 * commit makes them reachable.  The branch moves with a compare-and-swap
 * on the reference (git_reference_create_matching), so a push made with
 * plain git between a caller's read and its write is never overwritten:
 * the write is refused with -ESTALE instead.  Object and reference writes
 * are fsynced (GIT_OPT_ENABLE_FSYNC_GITDIR): a commit that was answered
 * survives a crash.
 *
 * Commits made here carry the trailers "Tend-Caller: NAME" and
 * "Tend-Address: ADDR" in a last paragraph of their message; history,
 * one commit and diffs are read in repo_history.c.
 */
#include "repo.h"
#include "repo_git.h"

#include <dirent.h>
#include <errno.h>
#include <git2.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/strutil.h"

#define REPO_REV_MAX 256        /* longest revision text accepted */
#define REPO_MSG_MAX (64 << 10) /* longest commit message written */
#define REPO_COMMITTER "tend-server"
#define REPO_COMMITTER_EMAIL "tend-server@tend"

struct repo_snap {
	git_tree *tree;
	char tree_id[REPO_OID_HEX + 1];
	char commit_id[REPO_OID_HEX + 1];
	bool is_commit;
};

int repo_git_fail(struct tend_err *err, int gerr, const char *what)
{
	const git_error *e = git_error_last();
	int code;

	switch (gerr) {
	case GIT_ENOTFOUND:
		code = -ENOENT;
		break;
	case GIT_EEXISTS:
		code = -EEXIST;
		break;
	case GIT_EAMBIGUOUS:
	case GIT_EINVALIDSPEC:
	case GIT_EINVALID:
		code = -EINVAL;
		break;
	case GIT_EMODIFIED:
		code = -ESTALE;
		break;
	case GIT_ELOCKED:
		code = -EBUSY;
		break;
	default:
		code = -EIO;
		break;
	}
	return err_set(err, code, "%s: %s", what, e && e->message ? e->message : "git error");
}

void repo_oid_hex(const git_oid *id, char out[REPO_OID_HEX + 1])
{
	git_oid_tostr(out, REPO_OID_HEX + 1, id);
}

/* ---- paths -------------------------------------------------------------- */

bool repo_path_ok(const char *p)
{
	size_t n, comp = 0;
	const char *c, *start;

	if (!p)
		return false;
	n = strnlen(p, REPO_PATH_MAX + 1);
	if (n == 0 || n > REPO_PATH_MAX || p[0] == '/')
		return false;
	start = p;
	for (c = p;; c++) {
		if (*c == '/' || *c == '\0') {
			comp = (size_t)(c - start);
			if (comp == 0 || comp > 255)
				return false;
			if ((comp == 1 && start[0] == '.') || (comp == 2 && !memcmp(start, "..", 2)))
				return false;
			/* git refuses to store a ".git" entry; so do we */
			if (comp == 4 && !strncasecmp(start, ".git", 4))
				return false;
			if (*c == '\0')
				break;
			start = c + 1;
			continue;
		}
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\\')
			return false;
	}
	/* paths are JSON strings in answers, history and audit: UTF-8 only */
	return utf8_ok(p);
}

/* ---- opening and the example layout --------------------------------------- */

static const char example_readme[] =
	"# tend configuration repository\n"
	"\n"
	"This repository is the configuration of a fleet managed by tend.\n"
	"tend-server serves it; edit it through the API (`tend config put`)\n"
	"or with git: clone it, commit, and push to the branch.  A push is\n"
	"accepted as is, so run `tend-server --check` on a clone first.\n"
	"\n"
	"    nodes/NODE.yaml   one document per node: its tags, then overrides\n"
	"    tags/TAG.yaml     one document per tag: vars and resources\n"
	"    files/...         file sources and templates, named by repository path\n"
	"    types/NAME        custom resource types (executables)\n"
	"\n"
	"A node's catalog is its tags' documents merged in order, then its own\n"
	"document: a later document overrides the attributes it sets.  The format\n"
	"is tend.yaml(5); `tend explain NODE` shows where every value came from.\n";

static const char example_node[] =
	"# nodes/example.yaml - the document of the node named \"example\".\n"
	"#\n"
	"# A node's document names its tags; their documents (tags/TAG.yaml) are\n"
	"# merged in this order, then what this document declares overrides them.\n"
	"tags: [base]\n"
	"\n"
	"# Values set here win over the tags' values:\n"
	"# vars:\n"
	"#   motd_greeting: Hello\n"
	"#\n"
	"# and so do resources with the same TYPE:NAME (tend.yaml(5)):\n"
	"# resources:\n"
	"#   - file: /etc/motd\n"
	"#     mode: \"0640\"\n";

static const char example_tag[] =
	"# tags/base.yaml - what every node tagged \"base\" gets.\n"
	"#\n"
	"# Same format as a tend.yaml(5) manifest: vars, then resources.  A\n"
	"# template is a repository path, rendered on the node with the merged\n"
	"# vars and the node's facts.\n"
	"vars:\n"
	"  motd_greeting: Welcome\n"
	"\n"
	"resources:\n"
	"  - file: /etc/motd\n"
	"    template: files/motd.tmpl\n"
	"    mode: \"0644\"\n";

static const char example_motd[] =
	"{{! files/motd.tmpl - rendered on each node for file:/etc/motd (tags/base.yaml) }}\n"
	"{{ motd_greeting }} to {{ facts.hostname }}.\n"
	"This machine is managed by tend: local changes to this file are overwritten.\n";

static int make_signature(git_signature **ret, const char *name, const char *email,
			  struct tend_err *err)
{
	int rc = git_signature_now(ret, name, email);

	return rc < 0 ? repo_git_fail(err, rc, "commit signature") : 0;
}

/* write_example - the first commit on an unborn branch. */
static int write_example(struct repo *r, struct tend_err *err)
{
	const struct repo_edit edits[] = {
		{ "README.md", example_readme, sizeof(example_readme) - 1, false },
		{ "nodes/example.yaml", example_node, sizeof(example_node) - 1, false },
		{ "tags/base.yaml", example_tag, sizeof(example_tag) - 1, false },
		{ "files/motd.tmpl", example_motd, sizeof(example_motd) - 1, false },
	};
	struct repo_snap *s = NULL;
	git_signature *sig = NULL;
	git_reference *ref = NULL;
	git_oid cid;
	int rc;

	rc = repo_snap_edit(r, NULL, edits, sizeof(edits) / sizeof(edits[0]), &s, err);
	if (rc < 0)
		return rc;
	rc = make_signature(&sig, REPO_COMMITTER, REPO_COMMITTER_EMAIL, err);
	if (rc < 0)
		goto out;
	rc = git_commit_create(&cid, r->git, NULL, sig, sig, NULL,
			       "Example layout\n\nCreated by tend-server on first start.\n", s->tree,
			       0, NULL);
	if (rc < 0) {
		rc = repo_git_fail(err, rc, "first commit");
		goto out;
	}
	/* not forced: a branch someone created meanwhile is kept */
	rc = git_reference_create(&ref, r->git, r->branch, &cid, 0, "tend-server: example");
	git_reference_free(ref);
	if (rc < 0)
		rc = repo_git_fail(err, rc, r->branch);
out:
	git_signature_free(sig);
	repo_snap_free(s);
	return rc;
}

/* find_branch - the branch HEAD names (HEAD must be symbolic). */
static int find_branch(struct repo *r, const char *path, struct tend_err *err)
{
	git_reference *head = NULL;
	const char *t;
	int rc;

	rc = git_reference_lookup(&head, r->git, "HEAD");
	if (rc < 0)
		return repo_git_fail(err, rc, path);
	if (git_reference_type(head) != GIT_REFERENCE_SYMBOLIC) {
		git_reference_free(head);
		return err_set(err, -EINVAL, "%s: HEAD is detached; it must name a branch", path);
	}
	t = git_reference_symbolic_target(head);
	if (!t || strncmp(t, "refs/heads/", 11) != 0) {
		git_reference_free(head);
		return err_set(err, -EINVAL, "%s: HEAD does not name a branch", path);
	}
	r->branch = strdup(t);
	git_reference_free(head);
	return r->branch ? 0 : -ENOMEM;
}

/* dir_missing_or_empty - whether a repository may be created at path. */
static bool dir_missing_or_empty(const char *path)
{
	struct dirent *de;
	bool empty = true;
	DIR *d = opendir(path);

	if (!d)
		return errno == ENOENT;
	while (empty && (de = readdir(d)) != NULL)
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
}

static int open_or_init(git_repository **g, const char *path, bool create, struct tend_err *err)
{
	git_repository_init_options o = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	int rc;

	rc = git_repository_open_ext(g, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (rc == 0)
		return 0;
	if (rc != GIT_ENOTFOUND)
		return repo_git_fail(err, rc, path);
	if (!create || !dir_missing_or_empty(path))
		return err_set(err, -ENOENT, "%s: not a git repository", path);
	o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH |
		  GIT_REPOSITORY_INIT_NO_REINIT;
	o.initial_head = "main";
	o.description = "tend configuration repository";
	rc = git_repository_init_ext(g, path, &o);
	return rc < 0 ? repo_git_fail(err, rc, path) : 0;
}

int repo_open(const char *path, bool create, struct repo **ret, struct tend_err *err)
{
	struct repo *r;
	git_oid id;
	int rc;

	if (git_libgit2_init() < 0)
		return err_set(err, -EIO, "cannot initialise libgit2");
	/* objects and refs reach the disk before a commit is answered */
	git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
	/* libgit2 caches no tree above 4 KiB: nodes/ of a 10,000-node fleet
	 * (~500 KiB) would be inflated and parsed again for every path looked
	 * up in it (3 ms each; 28 s for a --check of 10,000 node documents) */
	git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE, (size_t)16 << 20);
	r = calloc(1, sizeof(*r));
	if (!r) {
		git_libgit2_shutdown();
		return -ENOMEM;
	}
	r->loose_max = REPO_LOOSE_MAX;
	r->grace_s = REPO_PACK_GRACE_S;
	rc = open_or_init(&r->git, path, create, err);
	if (rc < 0)
		goto fail;
	rc = find_branch(r, path, err);
	if (rc < 0)
		goto fail;
	rc = git_reference_name_to_id(&id, r->git, r->branch);
	if (rc == GIT_ENOTFOUND && create) {
		/* new, or killed before its first commit */
		rc = write_example(r, err);
		if (rc < 0)
			goto fail;
	} else if (rc < 0 && rc != GIT_ENOTFOUND) {
		rc = repo_git_fail(err, rc, r->branch);
		goto fail;
	}
	*ret = r;
	return 0;
fail:
	repo_free(r);
	return rc;
}

void repo_free(struct repo *r)
{
	if (!r)
		return;
	repo_pack_wait(r);
	git_repository_free(r->git);
	free(r->branch);
	free(r);
	git_libgit2_shutdown();
}

/* ---- revisions ---------------------------------------------------------- */

int repo_head(struct repo *r, char out[REPO_OID_HEX + 1], struct tend_err *err)
{
	git_oid id;
	int rc = git_reference_name_to_id(&id, r->git, r->branch);

	if (rc == GIT_ENOTFOUND)
		return err_set(err, -ENOENT, "%s has no commit yet", r->branch);
	if (rc < 0)
		return repo_git_fail(err, rc, r->branch);
	repo_oid_hex(&id, out);
	return 0;
}

/*
 * rev_text_ok - revision syntax accepted from users: names, hex, ~ and ^
 * suffixes.  No ':' (paths, message search), no '@{' (reflogs), no
 * leading '-'.
 */
static bool rev_text_ok(const char *rev)
{
	size_t n = strnlen(rev, REPO_REV_MAX + 1);

	if (n == 0 || n > REPO_REV_MAX || rev[0] == '-')
		return false;
	for (const char *c = rev; *c; c++) {
		unsigned char u = (unsigned char)*c;

		if (!((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
		      strchr("~^./_-", u)))
			return false;
	}
	return true;
}

int repo_lookup_commit(struct repo *r, const char *rev, git_commit **ret, struct tend_err *err)
{
	git_object *obj = NULL, *peeled = NULL;
	int rc;

	if (!rev)
		rev = r->branch;
	else if (!rev_text_ok(rev))
		return err_set(err, -EINVAL, "'%.64s' is not a revision", rev);
	rc = git_revparse_single(&obj, r->git, rev);
	if (rc == GIT_ENOTFOUND)
		return err_set(err, -ENOENT, "no revision '%s'", rev);
	if (rc < 0)
		return repo_git_fail(err, rc, rev);
	rc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
	git_object_free(obj);
	if (rc < 0)
		return err_set(err, -ENOENT, "'%s' is not a commit", rev);
	*ret = (git_commit *)peeled;
	return 0;
}

int repo_resolve(struct repo *r, const char *rev, char out[REPO_OID_HEX + 1], struct tend_err *err)
{
	git_commit *c = NULL;
	int rc;

	if (!rev)
		return err_set(err, -EINVAL, "no revision given");
	rc = repo_lookup_commit(r, rev, &c, err);
	if (rc < 0)
		return rc;
	repo_oid_hex(git_commit_id(c), out);
	git_commit_free(c);
	return 0;
}

/* ---- snapshots ---------------------------------------------------------- */

static int snap_new(git_tree *tree, const git_oid *commit, struct repo_snap **ret)
{
	struct repo_snap *s = calloc(1, sizeof(*s));

	if (!s) {
		git_tree_free(tree);
		return -ENOMEM;
	}
	s->tree = tree;
	repo_oid_hex(git_tree_id(tree), s->tree_id);
	if (commit) {
		repo_oid_hex(commit, s->commit_id);
		s->is_commit = true;
	}
	*ret = s;
	return 0;
}

static int snap_from_tree_id(struct repo *r, const git_oid *tid, struct repo_snap **ret,
			     struct tend_err *err)
{
	git_tree *tree = NULL;
	int rc = git_tree_lookup(&tree, r->git, tid);

	if (rc < 0)
		return repo_git_fail(err, rc, "candidate tree");
	return snap_new(tree, NULL, ret);
}

int repo_snap_open(struct repo *r, const char *rev, struct repo_snap **ret, struct tend_err *err)
{
	git_commit *c = NULL;
	git_tree *tree = NULL;
	int rc;

	rc = repo_lookup_commit(r, rev, &c, err);
	if (rc < 0)
		return rc;
	rc = git_commit_tree(&tree, c);
	if (rc < 0) {
		rc = repo_git_fail(err, rc, "commit tree");
		git_commit_free(c);
		return rc;
	}
	rc = snap_new(tree, git_commit_id(c), ret);
	git_commit_free(c);
	return rc;
}

void repo_snap_free(struct repo_snap *s)
{
	if (!s)
		return;
	git_tree_free(s->tree);
	free(s);
}

const char *repo_snap_tree_id(const struct repo_snap *s)
{
	return s->tree_id;
}

const char *repo_snap_commit_id(const struct repo_snap *s)
{
	return s->is_commit ? s->commit_id : NULL;
}

/* snap_entry - the tree entry at path (caller frees); -ENOENT when none. */
static int snap_entry(struct repo_snap *s, const char *path, git_tree_entry **ret)
{
	if (!repo_path_ok(path))
		return -EINVAL;
	return git_tree_entry_bypath(ret, s->tree, path) < 0 ? -ENOENT : 0;
}

int repo_snap_read(struct repo_snap *s, const char *path, struct buf *out, struct tend_err *err)
{
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	size_t limit = out->max && out->max != BUF_MAX_DEFAULT ? out->max : REPO_FILE_MAX;
	git_object_size_t size;
	int rc;

	buf_reset(out);
	rc = snap_entry(s, path, &e);
	if (rc == -EINVAL)
		return err_set(err, rc, "'%.64s': not an acceptable repository path", path);
	if (rc < 0)
		return err_set(err, rc, "%s: no such file", path);
	if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
		git_tree_entry_free(e);
		return err_set(err, -EISDIR, "%s is a directory", path);
	}
	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
		git_tree_entry_free(e);
		return err_set(err, -ENOENT, "%s: no such file", path);
	}
	rc = git_blob_lookup(&blob, git_tree_owner(s->tree), git_tree_entry_id(e));
	git_tree_entry_free(e);
	if (rc < 0)
		return repo_git_fail(err, rc, path);
	size = git_blob_rawsize(blob);
	if (size > limit) {
		git_blob_free(blob);
		return err_set(err, -EFBIG, "%s: %llu bytes, more than %zu", path,
			       (unsigned long long)size, limit);
	}
	rc = buf_add(out, git_blob_rawcontent(blob), (size_t)size);
	git_blob_free(blob);
	if (rc < 0)
		return err_set(err, rc == -E2BIG ? -EFBIG : rc, "%s: too large to read", path);
	return 0;
}

int repo_snap_blob_id(struct repo_snap *s, const char *path, char out[REPO_OID_HEX + 1])
{
	git_tree_entry *e = NULL;
	int rc = snap_entry(s, path, &e);

	if (rc < 0)
		return rc;
	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB)
		rc = git_tree_entry_type(e) == GIT_OBJECT_TREE ? -EISDIR : -ENOENT;
	else
		repo_oid_hex(git_tree_entry_id(e), out);
	git_tree_entry_free(e);
	return rc;
}

struct list_ctx {
	git_odb *odb;
	const char *prefix; /* "dir/" or "" */
	json_t *arr;
	int rc;
};

static int list_cb(const char *root, const git_tree_entry *e, void *payload)
{
	struct list_ctx *c = payload;
	char blob[REPO_OID_HEX + 1], path[REPO_PATH_MAX * 2 + 2];
	git_object_t type;
	size_t size = 0;
	int n;

	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB)
		return 0;
	n = snprintf(path, sizeof(path), "%s%s%s", c->prefix, root, git_tree_entry_name(e));
	if (n < 0 || (size_t)n > REPO_PATH_MAX)
		return 0; /* no API can name it: leave it out */
	if (git_odb_read_header(&size, &type, c->odb, git_tree_entry_id(e)) < 0) {
		c->rc = -EIO;
		return -1;
	}
	repo_oid_hex(git_tree_entry_id(e), blob);
	if (json_array_append_new(c->arr, json_pack("{s:s, s:I, s:s}", "path", path, "size",
						    (json_int_t)size, "blob", blob)) < 0) {
		c->rc = -ENOMEM;
		return -1;
	}
	return 0;
}

int repo_snap_list(struct repo_snap *s, const char *dir, json_t **ret, struct tend_err *err)
{
	char d[REPO_PATH_MAX + 2];
	struct list_ctx c = { 0 };
	git_tree_entry *e = NULL;
	git_tree *sub = NULL, *walk = s->tree;
	size_t n;
	int rc;

	n = dir ? strnlen(dir, REPO_PATH_MAX + 1) : 0;
	while (n > 0 && dir[n - 1] == '/')
		n--;
	c.arr = json_array();
	if (!c.arr)
		return -ENOMEM;
	if (n > 0) {
		if (n > REPO_PATH_MAX) {
			json_decref(c.arr);
			return err_set(err, -EINVAL, "directory name too long");
		}
		memcpy(d, dir, n);
		d[n] = '\0';
		if (!repo_path_ok(d)) {
			json_decref(c.arr);
			return err_set(err, -EINVAL, "'%.64s': not an acceptable repository path", d);
		}
		if (git_tree_entry_bypath(&e, s->tree, d) < 0 ||
		    git_tree_entry_type(e) != GIT_OBJECT_TREE ||
		    git_tree_lookup(&sub, git_tree_owner(s->tree), git_tree_entry_id(e)) < 0) {
			git_tree_entry_free(e);
			*ret = c.arr; /* no such directory: nothing beneath it */
			return 0;
		}
		git_tree_entry_free(e);
		walk = sub;
		d[n] = '/';
		d[n + 1] = '\0';
		c.prefix = d;
	} else {
		c.prefix = "";
	}
	rc = git_repository_odb(&c.odb, git_tree_owner(s->tree));
	if (rc == 0)
		rc = git_tree_walk(walk, GIT_TREEWALK_PRE, list_cb, &c);
	git_odb_free(c.odb);
	git_tree_free(sub);
	if (rc < 0 || c.rc < 0) {
		json_decref(c.arr);
		return c.rc < 0 ? err_set(err, c.rc, "cannot list files") : repo_git_fail(err, rc, "list");
	}
	/* git's tree order is the byte order of full paths: already sorted */
	*ret = c.arr;
	return 0;
}

/* ---- candidate trees ---------------------------------------------------- */

/* index_has_dir - whether some entry of ix lies beneath directory path. */
static bool index_has_dir(git_index *ix, const char *path)
{
	char pre[REPO_PATH_MAX + 2];
	size_t pos;

	snprintf(pre, sizeof(pre), "%s/", path);
	return git_index_find_prefix(&pos, ix, pre) == 0;
}

/* index_file_parent - whether a leading component of path is a file in ix. */
static const char *index_file_parent(git_index *ix, const char *path, char *scratch, size_t len)
{
	snprintf(scratch, len, "%s", path);
	for (char *c = scratch; (c = strchr(c, '/')) != NULL; c++) {
		*c = '\0';
		if (git_index_get_bypath(ix, scratch, 0))
			return scratch;
		*c = '/';
	}
	return NULL;
}

static int apply_edit(struct repo *r, git_index *ix, const struct repo_edit *e,
		      struct tend_err *err)
{
	char scratch[REPO_PATH_MAX + 1];
	const git_index_entry *old;
	git_index_entry ne;
	const char *p;
	int rc;

	if (!repo_path_ok(e->path))
		return err_set(err, -EINVAL, "'%.64s': not an acceptable repository path",
			       e->path ? e->path : "(null)");
	old = git_index_get_bypath(ix, e->path, 0);
	if (!old && index_has_dir(ix, e->path))
		return err_set(err, -EISDIR, "%s is a directory", e->path);
	if (e->remove) {
		if (!old)
			return err_set(err, -ENOENT, "%s: no such file", e->path);
		rc = git_index_remove(ix, e->path, 0);
		return rc < 0 ? repo_git_fail(err, rc, e->path) : 0;
	}
	if (e->len > REPO_FILE_MAX)
		return err_set(err, -EFBIG, "%s: %zu bytes, more than %zu", e->path, e->len,
			       REPO_FILE_MAX);
	p = index_file_parent(ix, e->path, scratch, sizeof(scratch));
	if (p)
		return err_set(err, -ENOTDIR, "%s: %s is a file", e->path, p);
	memset(&ne, 0, sizeof(ne));
	/* an executable (a custom type) stays executable when rewritten */
	ne.mode = old && old->mode == GIT_FILEMODE_BLOB_EXECUTABLE ? GIT_FILEMODE_BLOB_EXECUTABLE
								    : GIT_FILEMODE_BLOB;
	ne.path = e->path;
	rc = git_blob_create_from_buffer(&ne.id, r->git, e->data ? e->data : "", e->len);
	if (rc < 0)
		return repo_git_fail(err, rc, e->path);
	rc = git_index_add(ix, &ne);
	return rc < 0 ? repo_git_fail(err, rc, e->path) : 0;
}

int repo_snap_edit(struct repo *r, struct repo_snap *base, const struct repo_edit *e, size_t n,
		   struct repo_snap **ret, struct tend_err *err)
{
	git_index *ix = NULL;
	git_oid tid;
	int rc;

	rc = git_index_new(&ix);
	if (rc < 0)
		return repo_git_fail(err, rc, "index");
	if (base) {
		rc = git_index_read_tree(ix, base->tree);
		if (rc < 0) {
			rc = repo_git_fail(err, rc, "read tree");
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		rc = apply_edit(r, ix, &e[i], err);
		if (rc < 0)
			goto out;
	}
	rc = git_index_write_tree_to(&tid, ix, r->git);
	if (rc < 0) {
		rc = repo_git_fail(err, rc, "write tree");
		goto out;
	}
	r->writes++; /* objects that stay loose, even when nothing commits them */
	rc = snap_from_tree_id(r, &tid, ret, err);
out:
	git_index_free(ix);
	return rc;
}

/* conflict_error - -EEXIST naming the conflicting files of ix. */
static int conflict_error(git_index *ix, const char *rev, struct tend_err *err)
{
	git_index_conflict_iterator *it = NULL;
	const git_index_entry *anc, *ours, *theirs;
	struct buf b;
	int rc;

	buf_init(&b, 1024);
	buf_printf(&b, "reverting %.12s conflicts with later changes to", rev);
	if (git_index_conflict_iterator_new(&it, ix) == 0) {
		const char *sep = " ";

		while (git_index_conflict_next(&anc, &ours, &theirs, it) == 0) {
			const git_index_entry *x = ours ? ours : theirs ? theirs : anc;

			if (buf_printf(&b, "%s%s", sep, x->path) < 0)
				break;
			sep = ", ";
		}
		git_index_conflict_iterator_free(it);
	}
	rc = err_set(err, -EEXIST, "%s", buf_str(&b));
	buf_free(&b);
	return rc;
}

int repo_snap_revert(struct repo *r, const char *rev, const char *head, struct repo_snap **ret,
		     struct tend_err *err)
{
	git_commit *undo = NULL, *ours = NULL;
	git_index *ix = NULL;
	char hex[REPO_OID_HEX + 1];
	git_oid tid;
	int rc;

	rc = repo_lookup_commit(r, rev, &undo, err);
	if (rc < 0)
		return rc;
	repo_oid_hex(git_commit_id(undo), hex);
	if (git_commit_parentcount(undo) != 1) {
		rc = err_set(err, -EINVAL, "%.12s is %s commit: it cannot be reverted", hex,
			     git_commit_parentcount(undo) ? "a merge" : "the first");
		goto out;
	}
	rc = repo_lookup_commit(r, head, &ours, err);
	if (rc < 0)
		goto out;
	rc = git_revert_commit(&ix, r->git, undo, ours, 0, NULL);
	if (rc < 0) {
		rc = repo_git_fail(err, rc, "revert");
		goto out;
	}
	if (git_index_has_conflicts(ix)) {
		rc = conflict_error(ix, hex, err);
		goto out;
	}
	rc = git_index_write_tree_to(&tid, ix, r->git);
	if (rc < 0) {
		rc = repo_git_fail(err, rc, "write tree");
		goto out;
	}
	rc = snap_from_tree_id(r, &tid, ret, err);
out:
	git_index_free(ix);
	git_commit_free(ours);
	git_commit_free(undo);
	return rc;
}

/* ---- commits ------------------------------------------------------------ */

/* ident_ok - text fit for a signature or a trailer: no control, no <>. */
static bool ident_ok(const char *s, size_t max)
{
	size_t n;

	if (!s)
		return false;
	n = strnlen(s, max + 1);
	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '<' || *s == '>')
			return false;
	return true;
}

/* build_message - message (trailing blank lines dropped) + trailer block. */
static int build_message(struct buf *b, const char *message, const struct repo_author *who)
{
	size_t n = message ? strnlen(message, REPO_MSG_MAX + 1) : 0;

	if (n > REPO_MSG_MAX)
		return -EINVAL;
	while (n > 0 && strchr(" \t\r\n", message[n - 1]))
		n--;
	if (n == 0)
		buf_puts(b, "update");
	else
		buf_add(b, message, n);
	buf_printf(b, "\n\nTend-Caller: %s\n", who->name);
	if (who->address)
		buf_printf(b, "Tend-Address: %s\n", who->address);
	return 0;
}

/* move_branch - compare-and-swap of the branch from expect to id. */
static int move_branch(struct repo *r, const git_oid *id, const git_oid *expect,
		       struct tend_err *err)
{
	git_reference *ref = NULL;
	int rc;

	/* a lock held by a concurrent `git push` is brief: wait for it a little */
	for (int i = 0; i < 20; i++) {
		rc = git_reference_create_matching(&ref, r->git, r->branch, id, 1, expect,
						   "tend-server: commit");
		git_reference_free(ref);
		ref = NULL;
		if (rc != GIT_ELOCKED)
			break;
		usleep(50 * 1000);
	}
	if (rc == GIT_EMODIFIED || rc == GIT_ENOTFOUND)
		return err_set(err, -ESTALE, "%s moved: the revision edited is no longer the head",
			       r->branch);
	return rc < 0 ? repo_git_fail(err, rc, r->branch) : 0;
}

int repo_commit_snap(struct repo *r, struct repo_snap *s, const char *expect,
		     const struct repo_author *who, const char *message, char out[REPO_OID_HEX + 1],
		     struct tend_err *err)
{
	git_commit *parent = NULL;
	git_signature *author = NULL, *committer = NULL;
	char email[320], head[REPO_OID_HEX + 1], want[REPO_OID_HEX + 1];
	struct buf msg;
	git_oid id;
	int rc;

	if (!who || !ident_ok(who->name, 128) || (who->email && !ident_ok(who->email, 256)) ||
	    (who->address && !ident_ok(who->address, 256)))
		return err_set(err, -EINVAL, "bad author name, email or address");
	buf_init(&msg, REPO_MSG_MAX + 1024);
	rc = repo_lookup_commit(r, expect, &parent, err);
	if (rc < 0)
		goto out;
	rc = repo_head(r, head, err);
	if (rc < 0)
		goto out;
	repo_oid_hex(git_commit_id(parent), want);
	if (strcmp(want, head) != 0) {
		rc = err_set(err, -ESTALE, "revision %.12s is not the head (%.12s)", want, head);
		goto out;
	}
	if (git_oid_cmp(git_commit_tree_id(parent), git_tree_id(s->tree)) == 0) {
		rc = err_set(err, -EALREADY, "nothing changed");
		goto out;
	}
	rc = build_message(&msg, message, who);
	if (rc < 0) {
		rc = err_set(err, rc, "commit message too long");
		goto out;
	}
	snprintf(email, sizeof(email), "%s@tend", who->name);
	rc = make_signature(&author, who->name, who->email ? who->email : email, err);
	if (rc == 0)
		rc = make_signature(&committer, REPO_COMMITTER, REPO_COMMITTER_EMAIL, err);
	if (rc < 0)
		goto out;
	rc = git_commit_create(&id, r->git, NULL, author, committer, NULL, buf_str(&msg), s->tree,
			       1, (const git_commit **)&parent);
	if (rc < 0) {
		rc = repo_git_fail(err, rc, "commit");
		goto out;
	}
	rc = move_branch(r, &id, git_commit_id(parent), err);
	if (rc == 0) {
		repo_oid_hex(&id, out);
		r->writes++;
		repo_pack_soon(r);
	}
out:
	git_signature_free(committer);
	git_signature_free(author);
	git_commit_free(parent);
	buf_free(&msg);
	return rc;
}
