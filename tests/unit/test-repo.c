/*
 * test-repo.c - unit tests for the configuration repository (repo.h).
 *
 * Each test works on a fresh repository in its own temporary directory.
 * The module never forks git; these tests do, to play the admin who
 * clones, commits and pushes with plain git, and to check with git's own
 * eyes (log, ls-tree, fsck) what the module wrote.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "repo.h"

struct fixture {
	char dir[256];
	char repo[PATH_MAX];
	struct repo *r;
	struct tend_err err;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/tend-test-repo-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->repo, sizeof(f->repo), "%s/state/config.git", f->dir);
	/* plain git run by the tests: no user or system configuration */
	setenv("HOME", f->dir, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "Ada Admin", 1);
	setenv("GIT_AUTHOR_EMAIL", "ada@example.org", 1);
	setenv("GIT_COMMITTER_NAME", "Ada Admin", 1);
	setenv("GIT_COMMITTER_EMAIL", "ada@example.org", 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[PATH_MAX + 32];

	repo_free(f->r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		print_error("could not remove %s\n", f->dir);
	free(f);
	return 0;
}

/* sh - run a bash command built from fmt; assert it succeeds. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[4 * PATH_MAX];
	va_list ap;
	pid_t pid;
	int n, st;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(cmd));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/bin/bash", "bash", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("command failed: %s", cmd);
}

/* sh_out - first line of a shell command's output (newline dropped). */
static void sh_out(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void sh_out(char *out, size_t len, const char *fmt, ...)
{
	char cmd[4 * PATH_MAX];
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(out, (int)len, p))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	assert_int_equal(pclose(p), 0);
}

static void open_new(struct fixture *f)
{
	int rc = repo_open(f->repo, true, &f->r, &f->err);

	if (rc < 0)
		fail_msg("repo_open: %d %s", rc, f->err.msg);
}

/* read_file - the content of path at rev as a string (asserts it exists). */
static char *read_at(struct fixture *f, const char *rev, const char *path)
{
	struct repo_snap *s = NULL;
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(repo_snap_open(f->r, rev, &s, &f->err), 0);
	if (repo_snap_read(s, path, &b, &f->err) < 0)
		fail_msg("read %s at %s: %s", path, rev ? rev : "HEAD", f->err.msg);
	repo_snap_free(s);
	return buf_steal(&b);
}

/* commit - edit HEAD with e[0..n) and commit it as "admin"; out: new head. */
static int commit(struct fixture *f, const struct repo_edit *e, size_t n, const char *msg,
		  char out[REPO_OID_HEX + 1])
{
	const struct repo_author who = { "admin", NULL, "192.0.2.7" };
	char head[REPO_OID_HEX + 1];
	struct repo_snap *base = NULL, *cand = NULL;
	int rc;

	assert_int_equal(repo_head(f->r, head, &f->err), 0);
	assert_int_equal(repo_snap_open(f->r, head, &base, &f->err), 0);
	rc = repo_snap_edit(f->r, base, e, n, &cand, &f->err);
	if (rc == 0)
		rc = repo_commit_snap(f->r, cand, head, &who, msg, out, &f->err);
	repo_snap_free(cand);
	repo_snap_free(base);
	return rc;
}

static void put(struct fixture *f, const char *path, const char *data, const char *msg,
		char out[REPO_OID_HEX + 1])
{
	struct repo_edit e = { path, data, strlen(data), false };
	int rc = commit(f, &e, 1, msg, out);

	if (rc < 0)
		fail_msg("commit %s: %d %s", path, rc, f->err.msg);
}

/* ---- creation ---- */

static void test_create_example_layout(void **state)
{
	struct fixture *f = *state;
	char head[REPO_OID_HEX + 1], head2[REPO_OID_HEX + 1], line[256];
	struct stat st;
	char *s;
	json_t *log = NULL;

	open_new(f);
	/* bare: git's own files at the top, no work tree */
	sh("test -f '%s/HEAD' && test -d '%s/objects' && ! test -e '%s/.git'", f->repo, f->repo,
	   f->repo);
	sh_out(line, sizeof(line), "git -C '%s' rev-parse --is-bare-repository", f->repo);
	assert_string_equal(line, "true");
	assert_int_equal(repo_head(f->r, head, &f->err), 0);
	assert_int_equal(strlen(head), REPO_OID_HEX);

	s = read_at(f, NULL, "nodes/example.yaml");
	assert_non_null(strstr(s, "\ntags: [base]\n"));
	assert_true(s[0] == '#'); /* commented */
	free(s);
	s = read_at(f, NULL, "tags/base.yaml");
	assert_non_null(strstr(s, "- file: /etc/motd\n    template: files/motd.tmpl\n"));
	free(s);
	s = read_at(f, NULL, "files/motd.tmpl");
	assert_non_null(strstr(s, "{{ motd_greeting }}"));
	free(s);
	s = read_at(f, NULL, "README.md");
	assert_non_null(strstr(s, "tags/TAG.yaml"));
	free(s);

	/* committed by tend-server, one commit, seen by plain git */
	assert_int_equal(repo_log(f->r, NULL, NULL, 0, 50, &log, &f->err), 0);
	assert_int_equal(json_array_size(log), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(log, 0), "author")),
			    "tend-server");
	json_decref(log);
	sh_out(line, sizeof(line), "git -C '%s' log --format='%%H %%an' main", f->repo);
	assert_int_equal(strncmp(line, head, REPO_OID_HEX), 0);
	assert_string_equal(line + REPO_OID_HEX, " tend-server");
	sh("set -o pipefail; git -C '%s' fsck --strict --no-progress 2>&1 | (! grep .)", f->repo);

	/* opening again (even with create) adds nothing */
	repo_free(f->r);
	f->r = NULL;
	open_new(f);
	assert_int_equal(repo_head(f->r, head2, &f->err), 0);
	assert_string_equal(head, head2);
	assert_int_equal(stat(f->repo, &st), 0);
}

static void test_open_refuses(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX + 16];
	struct repo *r = NULL;

	snprintf(p, sizeof(p), "%s/nothing", f->dir);
	assert_int_equal(repo_open(p, false, &r, &f->err), -ENOENT);
	assert_int_equal(access(p, F_OK), -1); /* not created without create */

	/* a directory with something else in it is not made a repository */
	snprintf(p, sizeof(p), "%s/other", f->dir);
	sh("mkdir '%s' && echo keep > '%s/file'", p, p);
	assert_true(repo_open(p, true, &r, &f->err) < 0);
	assert_null(r);
	sh("test \"$(ls -A '%s')\" = file", p);
}

static void test_empty_repository_gets_example(void **state)
{
	struct fixture *f = *state;
	char head[REPO_OID_HEX + 1];
	struct repo *r = NULL;
	char *s;

	/* as left by a server killed before its first commit (or git init) */
	sh("git init -q --bare -b trunk '%s'", f->repo);
	assert_int_equal(repo_open(f->repo, false, &r, &f->err), 0);
	assert_int_equal(repo_head(r, head, &f->err), -ENOENT);
	repo_free(r);
	open_new(f);
	assert_int_equal(repo_head(f->r, head, &f->err), 0);
	s = read_at(f, "trunk", "tags/base.yaml"); /* the branch HEAD names */
	free(s);
}

/* ---- snapshots ---- */

static void test_snapshot_read_list(void **state)
{
	struct fixture *f = *state;
	const char *want[] = { "README.md", "files/motd.tmpl", "nodes/example.yaml",
			       "tags/base.yaml" };
	char head[REPO_OID_HEX + 1], blob[REPO_OID_HEX + 1], line[256];
	struct repo_snap *s = NULL;
	json_t *l = NULL;
	struct buf b;

	open_new(f);
	assert_int_equal(repo_head(f->r, head, &f->err), 0);
	assert_int_equal(repo_snap_open(f->r, NULL, &s, &f->err), 0);
	assert_string_equal(repo_snap_commit_id(s), head);
	sh_out(line, sizeof(line), "git -C '%s' rev-parse 'main^{tree}'", f->repo);
	assert_string_equal(repo_snap_tree_id(s), line);

	assert_int_equal(repo_snap_list(s, "", &l, &f->err), 0);
	assert_int_equal(json_array_size(l), 4);
	for (size_t i = 0; i < 4; i++) {
		json_t *e = json_array_get(l, i);
		char *data = read_at(f, head, want[i]);

		assert_string_equal(json_string_value(json_object_get(e, "path")), want[i]);
		assert_int_equal(json_integer_value(json_object_get(e, "size")), strlen(data));
		assert_int_equal(repo_snap_blob_id(s, want[i], blob), 0);
		assert_string_equal(json_string_value(json_object_get(e, "blob")), blob);
		free(data);
	}
	sh_out(line, sizeof(line), "git -C '%s' rev-parse main:tags/base.yaml", f->repo);
	assert_int_equal(repo_snap_blob_id(s, "tags/base.yaml", blob), 0);
	assert_string_equal(blob, line);
	json_decref(l);

	assert_int_equal(repo_snap_list(s, "tags/", &l, &f->err), 0);
	assert_int_equal(json_array_size(l), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "path")),
			    "tags/base.yaml");
	json_decref(l);
	assert_int_equal(repo_snap_list(s, "nope", &l, &f->err), 0);
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	assert_int_equal(repo_snap_list(s, "README.md", &l, &f->err), 0);
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	assert_int_equal(repo_snap_list(s, "../x", &l, &f->err), -EINVAL);

	buf_init(&b, 0);
	assert_int_equal(repo_snap_read(s, "tags", &b, &f->err), -EISDIR);
	assert_int_equal(repo_snap_read(s, "tags/none.yaml", &b, &f->err), -ENOENT);
	assert_int_equal(repo_snap_read(s, "tags/../README.md", &b, &f->err), -EINVAL);
	assert_int_equal(repo_snap_blob_id(s, "tags", blob), -EISDIR);
	assert_int_equal(repo_snap_blob_id(s, "none", blob), -ENOENT);
	buf_free(&b);
	/* the reader's buffer limit holds */
	buf_init(&b, 10);
	assert_int_equal(repo_snap_read(s, "tags/base.yaml", &b, &f->err), -EFBIG);
	buf_free(&b);
	repo_snap_free(s);
}

/* ---- edits and commits ---- */

static void test_edit_and_commit(void **state)
{
	struct fixture *f = *state;
	const struct repo_edit e[] = {
		{ "tags/base.yaml", "vars: {}\n", 9, false },
		{ "files/deep/new.txt", "new\n", 4, false },
		{ "README.md", NULL, 0, true },
	};
	char head[REPO_OID_HEX + 1], now[REPO_OID_HEX + 1], out[REPO_OID_HEX + 1], line[512],
		want[512];
	const struct repo_author who = { "alice", "alice@example.org", NULL };
	struct repo_snap *base = NULL, *cand = NULL;
	struct buf b;
	char *s;

	open_new(f);
	assert_int_equal(repo_head(f->r, head, &f->err), 0);
	assert_int_equal(repo_snap_open(f->r, head, &base, &f->err), 0);
	assert_int_equal(repo_snap_edit(f->r, base, e, 3, &cand, &f->err), 0);
	assert_null(repo_snap_commit_id(cand));
	assert_string_not_equal(repo_snap_tree_id(cand), repo_snap_tree_id(base));
	buf_init(&b, 0);
	assert_int_equal(repo_snap_read(cand, "tags/base.yaml", &b, &f->err), 0);
	assert_string_equal(buf_str(&b), "vars: {}\n");
	assert_int_equal(repo_snap_read(cand, "README.md", &b, &f->err), -ENOENT);
	/* nothing committed yet */
	assert_int_equal(repo_head(f->r, now, &f->err), 0);
	assert_string_equal(now, head);

	assert_int_equal(repo_commit_snap(f->r, cand, head, &who, "edit base\n\n", out, &f->err),
			 0);
	assert_int_equal(repo_head(f->r, now, &f->err), 0);
	assert_string_equal(now, out);
	s = read_at(f, out, "files/deep/new.txt");
	assert_string_equal(s, "new\n");
	free(s);
	/* git sees the same: parent, author, committer, message with trailers */
	sh_out(line, sizeof(line), "git -C '%s' log -1 --format='%%P|%%an <%%ae>|%%cn|%%s' main",
	       f->repo);
	snprintf(want, sizeof(want), "%s|alice <alice@example.org>|tend-server|edit base", head);
	assert_string_equal(line, want);
	sh_out(line, sizeof(line), "git -C '%s' log -1 --format=%%B main | git interpret-trailers --parse",
	       f->repo);
	assert_string_equal(line, "Tend-Caller: alice");
	sh("git -C '%s' cat-file -p main:README.md 2>/dev/null; test $? -ne 0", f->repo);
	sh("set -o pipefail; git -C '%s' fsck --strict --no-progress 2>&1 | (! grep .)", f->repo);
	buf_free(&b);
	repo_snap_free(cand);
	repo_snap_free(base);
}

static void test_edit_errors(void **state)
{
	struct fixture *f = *state;
	struct repo_snap *base = NULL, *cand = NULL;
	struct repo_edit e = { 0 };
	json_t *l = NULL;
	struct buf b;

	open_new(f);
	assert_int_equal(repo_snap_open(f->r, NULL, &base, &f->err), 0);
	e = (struct repo_edit){ "tags/none.yaml", NULL, 0, true };
	assert_int_equal(repo_snap_edit(f->r, base, &e, 1, &cand, &f->err), -ENOENT);
	e = (struct repo_edit){ "tags", "x", 1, false };
	assert_int_equal(repo_snap_edit(f->r, base, &e, 1, &cand, &f->err), -EISDIR);
	e = (struct repo_edit){ "tags", NULL, 0, true };
	assert_int_equal(repo_snap_edit(f->r, base, &e, 1, &cand, &f->err), -EISDIR);
	e = (struct repo_edit){ "README.md/x", "x", 1, false };
	assert_int_equal(repo_snap_edit(f->r, base, &e, 1, &cand, &f->err), -ENOTDIR);
	assert_non_null(strstr(f->err.msg, "README.md"));
	e = (struct repo_edit){ "../x", "x", 1, false };
	assert_int_equal(repo_snap_edit(f->r, base, &e, 1, &cand, &f->err), -EINVAL);
	e = (struct repo_edit){ ".git/config", "x", 1, false };
	assert_int_equal(repo_snap_edit(f->r, base, &e, 1, &cand, &f->err), -EINVAL);
	assert_null(cand);

	/* removing a directory's only file removes the directory */
	e = (struct repo_edit){ "files/motd.tmpl", NULL, 0, true };
	assert_int_equal(repo_snap_edit(f->r, base, &e, 1, &cand, &f->err), 0);
	assert_int_equal(repo_snap_list(cand, "", &l, &f->err), 0);
	assert_int_equal(json_array_size(l), 3);
	json_decref(l);
	buf_init(&b, 0);
	assert_int_equal(repo_snap_read(cand, "files", &b, &f->err), -ENOENT);
	buf_free(&b);
	repo_snap_free(cand);
	repo_snap_free(base);
}

static void test_stale_and_identical(void **state)
{
	struct fixture *f = *state;
	const struct repo_author who = { "bob", NULL, "198.51.100.1" };
	struct repo_edit e1 = { "tags/a.yaml", "a\n", 2, false };
	struct repo_edit e2 = { "tags/b.yaml", "b\n", 2, false };
	char h0[REPO_OID_HEX + 1], h1[REPO_OID_HEX + 1], now[REPO_OID_HEX + 1];
	struct repo_snap *base = NULL, *c1 = NULL, *c2 = NULL, *same = NULL;

	open_new(f);
	assert_int_equal(repo_head(f->r, h0, &f->err), 0);
	assert_int_equal(repo_snap_open(f->r, h0, &base, &f->err), 0);
	/* two writers edit the same revision */
	assert_int_equal(repo_snap_edit(f->r, base, &e1, 1, &c1, &f->err), 0);
	assert_int_equal(repo_snap_edit(f->r, base, &e2, 1, &c2, &f->err), 0);
	assert_int_equal(repo_commit_snap(f->r, c1, h0, &who, "a", h1, &f->err), 0);
	assert_int_equal(repo_commit_snap(f->r, c2, h0, &who, "b", now, &f->err), -ESTALE);
	assert_int_equal(repo_head(f->r, now, &f->err), 0);
	assert_string_equal(now, h1);
	sh("test \"$(git -C '%s' rev-list --count main)\" = 2", f->repo);
	sh("git -C '%s' cat-file -e main:tags/a.yaml && ! git -C '%s' cat-file -e main:tags/b.yaml "
	   "2>/dev/null",
	   f->repo, f->repo);

	/* a candidate equal to the head's tree: nothing to commit */
	assert_int_equal(repo_snap_open(f->r, h1, &same, &f->err), 0);
	assert_int_equal(repo_commit_snap(f->r, same, h1, &who, "noop", now, &f->err), -EALREADY);
	e1.data = "a\n"; /* rewriting the same bytes is no change either */
	repo_snap_free(c1);
	c1 = NULL;
	assert_int_equal(repo_snap_edit(f->r, same, &e1, 1, &c1, &f->err), 0);
	assert_string_equal(repo_snap_tree_id(c1), repo_snap_tree_id(same));
	assert_int_equal(repo_commit_snap(f->r, c1, h1, &who, "noop", now, &f->err), -EALREADY);
	assert_int_equal(repo_head(f->r, now, &f->err), 0);
	assert_string_equal(now, h1);
	/* an unknown or malformed revision to commit on */
	assert_int_equal(repo_commit_snap(f->r, c2, "0123456789abcdef0123", &who, "x", now, &f->err),
			 -ENOENT);
	assert_int_equal(repo_commit_snap(f->r, c2, h1, &(struct repo_author){ "a<b", NULL, NULL },
					  "x", now, &f->err),
			 -EINVAL);
	repo_snap_free(same);
	repo_snap_free(c2);
	repo_snap_free(c1);
	repo_snap_free(base);
}

/* ---- history ---- */

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void test_log_and_info(void **state)
{
	struct fixture *f = *state;
	const struct repo_edit e[] = {
		{ "tags/base.yaml", "vars: {}\n", 9, false },
		{ "files/x.txt", "x\n", 2, false },
		{ "README.md", NULL, 0, true },
	};
	char h1[REPO_OID_HEX + 1], h2[REPO_OID_HEX + 1];
	json_t *log = NULL, *c, *files, *one = NULL;
	regex_t iso;

	open_new(f);
	assert_int_equal(commit(f, e, 3, "first edit\n\nwith a body", h1), 0);
	/* a message that fakes a trailer does not change the caller */
	put(f, "files/x.txt", "y\n", "second\n\nTend-Caller: mallory", h2);

	assert_int_equal(repo_log(f->r, NULL, NULL, 0, 50, &log, &f->err), 0);
	assert_int_equal(json_array_size(log), 3);
	c = json_array_get(log, 0);
	assert_string_equal(jstr(c, "id"), h2);
	assert_string_equal(jstr(c, "caller"), "admin");
	assert_string_equal(jstr(c, "message"), "second\n\nTend-Caller: mallory");
	c = json_array_get(log, 1);
	assert_string_equal(jstr(c, "id"), h1);
	assert_string_equal(jstr(c, "author"), "admin");
	assert_string_equal(jstr(c, "email"), "admin@tend");
	assert_string_equal(jstr(c, "caller"), "admin");
	assert_string_equal(jstr(c, "address"), "192.0.2.7");
	assert_string_equal(jstr(c, "message"), "first edit\n\nwith a body");
	assert_int_equal(regcomp(&iso, "^20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	assert_int_equal(regexec(&iso, jstr(c, "time"), 0, NULL, 0), 0);
	regfree(&iso);
	files = json_object_get(c, "files");
	assert_int_equal(json_array_size(files), 3);
	/* diff order: by path */
	assert_string_equal(jstr(json_array_get(files, 0), "path"), "README.md");
	assert_string_equal(jstr(json_array_get(files, 0), "status"), "deleted");
	assert_string_equal(jstr(json_array_get(files, 1), "path"), "files/x.txt");
	assert_string_equal(jstr(json_array_get(files, 1), "status"), "added");
	assert_string_equal(jstr(json_array_get(files, 2), "path"), "tags/base.yaml");
	assert_string_equal(jstr(json_array_get(files, 2), "status"), "modified");
	/* the first commit: no trailers, every file added */
	c = json_array_get(log, 2);
	assert_true(json_is_null(json_object_get(c, "caller")) || !json_object_get(c, "caller"));
	assert_int_equal(json_array_size(json_object_get(c, "files")), 4);

	assert_int_equal(repo_commit_info(f->r, h1, &one, &f->err), 0);
	assert_true(json_equal(one, json_array_get(log, 1)));
	json_decref(one);
	json_decref(log);

	/* by path, skip and limit, from a revision */
	assert_int_equal(repo_log(f->r, NULL, "files/x.txt", 0, 50, &log, &f->err), 0);
	assert_int_equal(json_array_size(log), 2);
	assert_int_equal(json_array_size(json_object_get(json_array_get(log, 0), "files")), 1);
	json_decref(log);
	assert_int_equal(repo_log(f->r, NULL, "README.md", 0, 50, &log, &f->err), 0);
	assert_int_equal(json_array_size(log), 2); /* deleted by h1, added by the first */
	json_decref(log);
	assert_int_equal(repo_log(f->r, NULL, "tags", 0, 50, &log, &f->err), 0);
	assert_int_equal(json_array_size(log), 2); /* h1 and the first commit */
	assert_string_equal(jstr(json_array_get(log, 0), "id"), h1);
	json_decref(log);
	assert_int_equal(repo_log(f->r, NULL, NULL, 1, 1, &log, &f->err), 0);
	assert_int_equal(json_array_size(log), 1);
	assert_string_equal(jstr(json_array_get(log, 0), "id"), h1);
	json_decref(log);
	assert_int_equal(repo_log(f->r, h1, NULL, 0, 50, &log, &f->err), 0);
	assert_int_equal(json_array_size(log), 2);
	json_decref(log);
	assert_int_equal(repo_log(f->r, NULL, "files/*", 0, 50, &log, &f->err), 0);
	assert_int_equal(json_array_size(log), 0); /* a path, never a pattern */
	json_decref(log);
	assert_int_equal(repo_log(f->r, "nosuch", NULL, 0, 50, &log, &f->err), -ENOENT);
	assert_int_equal(repo_log(f->r, NULL, "/abs", 0, 50, &log, &f->err), -EINVAL);
	assert_int_equal(repo_commit_info(f->r, "HEAD:README.md", &one, &f->err), -EINVAL);
}

static void test_resolve(void **state)
{
	struct fixture *f = *state;
	char h0[REPO_OID_HEX + 1], h1[REPO_OID_HEX + 1], out[REPO_OID_HEX + 1], abbrev[8];

	open_new(f);
	assert_int_equal(repo_head(f->r, h0, &f->err), 0);
	put(f, "a", "a", "a", h1);
	assert_int_equal(repo_resolve(f->r, "HEAD", out, &f->err), 0);
	assert_string_equal(out, h1);
	assert_int_equal(repo_resolve(f->r, "main", out, &f->err), 0);
	assert_string_equal(out, h1);
	assert_int_equal(repo_resolve(f->r, "HEAD~1", out, &f->err), 0);
	assert_string_equal(out, h0);
	assert_int_equal(repo_resolve(f->r, "main^", out, &f->err), 0);
	assert_string_equal(out, h0);
	snprintf(abbrev, sizeof(abbrev), "%.7s", h0);
	assert_int_equal(repo_resolve(f->r, abbrev, out, &f->err), 0);
	assert_string_equal(out, h0);
	assert_int_equal(repo_resolve(f->r, h0, out, &f->err), 0);
	assert_int_equal(repo_resolve(f->r, "HEAD~5", out, &f->err), -ENOENT);
	assert_int_equal(repo_resolve(f->r, "nosuch", out, &f->err), -ENOENT);
	assert_int_equal(repo_resolve(f->r, "ffffffffffff", out, &f->err), -ENOENT);
	assert_int_equal(repo_resolve(f->r, ":/a", out, &f->err), -EINVAL);
	assert_int_equal(repo_resolve(f->r, "HEAD@{0}", out, &f->err), -EINVAL);
	assert_int_equal(repo_resolve(f->r, "--all", out, &f->err), -EINVAL);
	assert_int_equal(repo_resolve(f->r, "", out, &f->err), -EINVAL);
	assert_int_equal(repo_resolve(f->r, "a b", out, &f->err), -EINVAL);
}

/* ---- diff ---- */

static void test_diff(void **state)
{
	struct fixture *f = *state;
	char h0[REPO_OID_HEX + 1], h1[REPO_OID_HEX + 1], h2[REPO_OID_HEX + 1];
	json_t *files = NULL;
	char *patch = NULL;

	open_new(f);
	assert_int_equal(repo_head(f->r, h0, &f->err), 0);
	put(f, "tags/base.yaml", "vars:\n  motd_greeting: Hi\n", "greet", h1);
	put(f, "files/new.txt", "n\n", "new", h2);

	assert_int_equal(repo_diff(f->r, h0, NULL, NULL, &files, &patch, &f->err), 0);
	assert_int_equal(json_array_size(files), 2);
	assert_string_equal(jstr(json_array_get(files, 0), "path"), "files/new.txt");
	assert_string_equal(jstr(json_array_get(files, 0), "status"), "added");
	assert_string_equal(jstr(json_array_get(files, 1), "status"), "modified");
	assert_non_null(strstr(patch, "diff --git a/tags/base.yaml b/tags/base.yaml\n"));
	assert_non_null(strstr(patch, "\n+  motd_greeting: Hi\n"));
	assert_non_null(strstr(patch, "\n-  motd_greeting: Welcome\n"));
	assert_non_null(strstr(patch, "+++ b/files/new.txt\n"));
	json_decref(files);
	free(patch);

	assert_int_equal(repo_diff(f->r, h0, h1, "files", &files, &patch, &f->err), 0);
	assert_int_equal(json_array_size(files), 0);
	assert_string_equal(patch, "");
	json_decref(files);
	free(patch);
	assert_int_equal(repo_diff(f->r, h2, h0, "files/new.txt", &files, &patch, &f->err), 0);
	assert_int_equal(json_array_size(files), 1);
	assert_string_equal(jstr(json_array_get(files, 0), "status"), "deleted");
	json_decref(files);
	free(patch);

	assert_int_equal(repo_diff(f->r, "nosuch", NULL, NULL, &files, &patch, &f->err), -ENOENT);
	assert_int_equal(repo_diff(f->r, h0, "x:y", NULL, &files, &patch, &f->err), -EINVAL);
	assert_int_equal(repo_diff(f->r, h0, NULL, "a//b", &files, &patch, &f->err), -EINVAL);
	assert_int_equal(repo_diff(f->r, NULL, NULL, NULL, &files, &patch, &f->err), -EINVAL);
}

/* ---- revert ---- */

static void test_revert_restores_exact_bytes(void **state)
{
	struct fixture *f = *state;
	static const char before[] = "line one\r\n\tbinary \0 byte\nno newline at end";
	struct repo_edit e = { "files/raw.bin", before, sizeof(before) - 1, false };
	const struct repo_author who = { "carol", NULL, NULL };
	char h1[REPO_OID_HEX + 1], h2[REPO_OID_HEX + 1], h3[REPO_OID_HEX + 1],
		now[REPO_OID_HEX + 1];
	struct repo_snap *s = NULL, *at = NULL;
	struct buf b;

	open_new(f);
	assert_int_equal(commit(f, &e, 1, "raw", h1), 0);
	put(f, "files/raw.bin", "replaced\n", "replace", h2);
	put(f, "tags/other.yaml", "o\n", "other", h3);

	assert_int_equal(repo_snap_revert(f->r, h2, h3, &s, &f->err), 0);
	assert_null(repo_snap_commit_id(s));
	buf_init(&b, 0);
	assert_int_equal(repo_snap_read(s, "files/raw.bin", &b, &f->err), 0);
	assert_int_equal(b.len, sizeof(before) - 1);
	assert_memory_equal(b.data, before, b.len);
	/* later changes are kept */
	assert_int_equal(repo_snap_read(s, "tags/other.yaml", &b, &f->err), 0);
	/* the whole tree equals h1's plus the later file */
	assert_int_equal(repo_commit_snap(f->r, s, h3, &who, "Revert", now, &f->err), 0);
	assert_int_equal(repo_snap_open(f->r, now, &at, &f->err), 0);
	assert_int_equal(repo_snap_read(at, "files/raw.bin", &b, &f->err), 0);
	assert_memory_equal(b.data, before, sizeof(before) - 1);
	sh("git -C '%s' cat-file blob main:files/raw.bin | cmp -s - <(git -C '%s' cat-file blob "
	   "%s:files/raw.bin)",
	   f->repo, f->repo, h1);
	buf_free(&b);
	repo_snap_free(at);
	repo_snap_free(s);
}

static void test_revert_conflict_and_refusals(void **state)
{
	struct fixture *f = *state;
	char h0[REPO_OID_HEX + 1], h1[REPO_OID_HEX + 1], h2[REPO_OID_HEX + 1],
		h3[REPO_OID_HEX + 1];
	struct repo_snap *s = NULL;

	open_new(f);
	assert_int_equal(repo_head(f->r, h0, &f->err), 0);
	put(f, "tags/base.yaml", "vars:\n  x: 1\n", "x=1", h1);
	put(f, "tags/base.yaml", "vars:\n  x: 2\n", "x=2", h2);
	put(f, "nodes/n1.yaml", "tags: [base]\n", "n1", h3);
	/* undoing x=1 conflicts with x=2 that came after it */
	assert_int_equal(repo_snap_revert(f->r, h1, h3, &s, &f->err), -EEXIST);
	assert_null(s);
	assert_non_null(strstr(f->err.msg, "tags/base.yaml"));
	assert_null(strstr(f->err.msg, "nodes/n1.yaml"));
	/* the first commit and unknown commits cannot be reverted */
	assert_int_equal(repo_snap_revert(f->r, h0, h3, &s, &f->err), -EINVAL);
	assert_int_equal(repo_snap_revert(f->r, "0000000000000000000000000000000000000001", h3, &s,
					  &f->err),
			 -ENOENT);
	assert_int_equal(repo_snap_revert(f->r, h2, "nosuch", &s, &f->err), -ENOENT);
	/* reverting the last change of the file is fine */
	assert_int_equal(repo_snap_revert(f->r, h2, h3, &s, &f->err), 0);
	repo_snap_free(s);
}

/* ---- paths ---- */

static void test_path_ok(void **state)
{
	char longp[REPO_PATH_MAX + 2], comp[300];

	(void)state;
	assert_true(repo_path_ok("tags/base.yaml"));
	assert_true(repo_path_ok("a"));
	assert_true(repo_path_ok("files/.hidden/..x/x.."));
	assert_true(repo_path_ok("nodes/web01.example.com.yaml"));
	assert_false(repo_path_ok(NULL));
	assert_false(repo_path_ok(""));
	assert_false(repo_path_ok("/etc/passwd"));
	assert_false(repo_path_ok(".."));
	assert_false(repo_path_ok("../x"));
	assert_false(repo_path_ok("tags/../../x"));
	assert_false(repo_path_ok("tags/.."));
	assert_false(repo_path_ok("./tags"));
	assert_false(repo_path_ok("tags/./a"));
	assert_false(repo_path_ok("tags//a"));
	assert_false(repo_path_ok("tags/"));
	assert_false(repo_path_ok(".git/config"));
	assert_false(repo_path_ok("x/.GIT/hooks"));
	assert_false(repo_path_ok("a\nb"));
	assert_false(repo_path_ok("a\x01" "b"));
	assert_false(repo_path_ok("a\\b"));
	/* names go into JSON: UTF-8 only */
	assert_true(repo_path_ok("files/caf\xc3\xa9.txt"));
	assert_false(repo_path_ok("policy\xfeops.yaml"));
	assert_false(repo_path_ok("files/caf\xc3"));
	assert_false(repo_path_ok("files/\xed\xa0\x80")); /* a surrogate */
	assert_false(repo_path_ok("files/\xc0\xaf")); /* an overlong '/' */
	/* a NUL cuts the path: what is left must stand on its own */
	assert_false(repo_path_ok("tags/\0/../x"));
	assert_true(repo_path_ok("tags/a\0/../../x")); /* is "tags/a" */
	memset(longp, 'a', sizeof(longp));
	longp[REPO_PATH_MAX] = '\0';
	for (size_t i = 200; i < REPO_PATH_MAX; i += 200)
		longp[i] = '/';
	assert_true(repo_path_ok(longp));
	longp[REPO_PATH_MAX] = 'a';
	longp[REPO_PATH_MAX + 1] = '\0';
	assert_false(repo_path_ok(longp));
	memset(comp, 'c', sizeof(comp));
	comp[sizeof(comp) - 1] = '\0';
	assert_false(repo_path_ok(comp)); /* one component longer than 255 */
}

/* ---- plain git alongside ---- */

static void test_non_bare_work_tree_untouched(void **state)
{
	struct fixture *f = *state;
	char wt[PATH_MAX + 8], out[REPO_OID_HEX + 1], line[256];
	struct repo_edit e = { "tags/new.yaml", "n\n", 2, false };
	const struct repo_author who = { "dave", NULL, NULL };
	struct repo_snap *s = NULL, *c = NULL;
	char *txt;

	snprintf(wt, sizeof(wt), "%s/wt", f->dir);
	sh("git init -q -b main '%s' && cd '%s' && mkdir tags && printf 'committed\\n' > "
	   "tags/base.yaml && git add . && git commit -qm init && printf 'dirty\\n' > "
	   "tags/base.yaml && echo u > untracked && git status --porcelain > ../status.before && "
	   "cp .git/index ../index.before",
	   wt, wt);
	assert_int_equal(repo_open(wt, true, &f->r, &f->err), 0);
	txt = read_at(f, NULL, "tags/base.yaml");
	assert_string_equal(txt, "committed\n");
	free(txt);
	/* no example layout in a repository that has commits */
	assert_int_equal(repo_snap_open(f->r, NULL, &s, &f->err), 0);
	assert_int_equal(repo_snap_blob_id(s, "nodes/example.yaml", out), -ENOENT);
	assert_int_equal(repo_snap_edit(f->r, s, &e, 1, &c, &f->err), 0);
	sh_out(line, sizeof(line), "git -C '%s' rev-parse main", wt);
	assert_int_equal(repo_commit_snap(f->r, c, line, &who, "new", out, &f->err), 0);
	sh_out(line, sizeof(line), "git -C '%s' rev-parse main", wt);
	assert_string_equal(line, out);
	/* the work tree and the index are as the admin left them */
	sh("cd '%s' && cmp -s tags/base.yaml <(printf 'dirty\\n') && test -f untracked && ! test -e "
	   "tags/new.yaml && cmp -s .git/index ../index.before",
	   wt);
	repo_snap_free(c);
	repo_snap_free(s);
}

static void test_plain_git_push_seen(void **state)
{
	struct fixture *f = *state;
	char clone[PATH_MAX + 8], head[REPO_OID_HEX + 1], pushed[REPO_OID_HEX + 1],
		out[REPO_OID_HEX + 1], line[256];
	struct repo_edit e = { "types/mytype", "#!/bin/sh\necho v2\n", 18, false };
	const struct repo_author who = { "erin", NULL, NULL };
	struct repo_snap *old = NULL, *s = NULL, *c = NULL;
	char *txt;

	open_new(f);
	assert_int_equal(repo_head(f->r, head, &f->err), 0);
	assert_int_equal(repo_snap_open(f->r, head, &old, &f->err), 0);
	snprintf(clone, sizeof(clone), "%s/clone", f->dir);
	sh("git clone -q '%s' '%s' && cd '%s' && mkdir types && printf '#!/bin/sh\\necho v1\\n' > "
	   "types/mytype && chmod +x types/mytype && git add . && git commit -qm 'by hand' && git "
	   "push -q origin main",
	   f->repo, clone, clone);
	sh_out(pushed, sizeof(pushed), "git -C '%s' rev-parse HEAD", clone);
	/* the open repository sees the push at once */
	assert_int_equal(repo_head(f->r, line, &f->err), 0);
	assert_string_equal(line, pushed);
	txt = read_at(f, NULL, "types/mytype");
	assert_string_equal(txt, "#!/bin/sh\necho v1\n");
	free(txt);

	/* a write based on the revision before the push is refused */
	assert_int_equal(repo_snap_edit(f->r, old, &e, 1, &c, &f->err), 0);
	assert_int_equal(repo_commit_snap(f->r, c, head, &who, "late", out, &f->err), -ESTALE);
	repo_snap_free(c);
	c = NULL;
	/* based on the pushed head it goes through, keeping the executable bit */
	assert_int_equal(repo_snap_open(f->r, NULL, &s, &f->err), 0);
	assert_int_equal(repo_snap_edit(f->r, s, &e, 1, &c, &f->err), 0);
	assert_int_equal(repo_commit_snap(f->r, c, pushed, &who, "v2", out, &f->err), 0);
	sh_out(line, sizeof(line), "git -C '%s' ls-tree main types/mytype", f->repo);
	assert_int_equal(strncmp(line, "100755 blob", 11), 0);
	sh("set -o pipefail; cd '%s' && git pull -q --ff-only && test \"$(git rev-parse HEAD)\" = %s && grep -q v2 "
	   "types/mytype && git fsck --strict --no-progress 2>&1 | (! grep .)",
	   clone, out);
	repo_snap_free(c);
	repo_snap_free(s);
	repo_snap_free(old);
}


/* ---- packing ---- */

/* loose_count - loose objects in the repository (git's own count). */
static long loose_count(struct fixture *f)
{
	char line[64];

	sh_out(line, sizeof(line), "git -C '%s' count-objects | cut -d' ' -f1", f->repo);
	return strtol(line, NULL, 10);
}

static void test_pack_keeps_everything_reachable(void **state)
{
	struct fixture *f = *state;
	char revs[40][REPO_OID_HEX + 1], path[64], data[64], line[256], old[REPO_OID_HEX + 1],
		young[REPO_OID_HEX + 1];
	struct repo_edit bad = { "files/refused.txt", "never committed\n", 16, false };
	struct repo_snap *base = NULL, *cand = NULL;
	struct repo_pack_stats st;
	long before;

	open_new(f);
	for (int i = 0; i < 40; i++) {
		snprintf(path, sizeof(path), "files/f%02d/data.txt", i % 7);
		snprintf(data, sizeof(data), "version %d\n", i);
		put(f, path, data, "a write", revs[i]);
	}
	/* a tag of an old commit, annotated, made with plain git */
	sh("git -C '%s' tag -a -m 'release one' v1 %s", f->repo, revs[3]);
	/* a candidate that was never committed (a refused write) */
	assert_int_equal(repo_snap_open(f->r, NULL, &base, &f->err), 0);
	assert_int_equal(repo_snap_edit(f->r, base, &bad, 1, &cand, &f->err), 0);
	repo_snap_free(cand);
	repo_snap_free(base);
	/* unreachable blobs: one two days old, one just written */
	sh_out(old, sizeof(old), "echo stale | git -C '%s' hash-object -w --stdin", f->repo);
	sh("touch -d '2 days ago' '%s/objects/%.2s/%s'", f->repo, old, old + 2);
	sh_out(young, sizeof(young), "echo fresh | git -C '%s' hash-object -w --stdin", f->repo);
	before = loose_count(f);
	assert_true(before > 100);

	/* below the threshold nothing happens */
	assert_int_equal(repo_pack(f->r, (size_t)before, 3600, &st, &f->err), 0);
	assert_int_equal(st.packed, 0);
	assert_int_equal(loose_count(f), before);

	if (repo_pack(f->r, 10, 3600, &st, &f->err) < 0)
		fail_msg("repo_pack: %s", f->err.msg);
	assert_int_equal((long)st.loose_before, before);
	assert_true(st.packed > 100);
	/* left loose: what nothing reaches and is younger than an hour (the
	 * fresh blob, the refused write's tree, blob and subtrees) */
	assert_int_equal((long)st.loose_after, loose_count(f));
	assert_true(st.loose_after >= 2 && st.loose_after <= 6);
	sh("! test -e '%s/objects/%.2s/%s'", f->repo, old, old + 2);
	sh("git -C '%s' cat-file -e %s", f->repo, young);
	/* everything reachable reads, through the open handle and through git */
	for (int i = 0; i < 40; i++) {
		char *txt;

		snprintf(path, sizeof(path), "files/f%02d/data.txt", i % 7);
		snprintf(data, sizeof(data), "version %d\n", i);
		txt = read_at(f, revs[i], path);
		assert_string_equal(txt, data);
		free(txt);
	}
	sh_out(line, sizeof(line), "git -C '%s' cat-file -p v1 | tail -1", f->repo);
	assert_string_equal(line, "release one");
	sh("set -o pipefail; git -C '%s' fsck --strict --no-progress --no-dangling 2>&1 | (! grep .)",
	   f->repo);
	/* writes go on after packing */
	put(f, "files/after.txt", "after\n", "after the pack", revs[0]);

	/* again with no grace: one pack left, nothing unreachable, history whole */
	if (repo_pack(f->r, 0, 0, &st, &f->err) < 0)
		fail_msg("repo_pack: %s", f->err.msg);
	assert_int_equal(st.packs_dropped, 1);
	assert_int_equal(st.loose_after, 0);
	assert_int_equal(loose_count(f), 0);
	sh("test \"$(ls '%s/objects/pack/'*.pack | wc -l)\" = 1", f->repo);
	sh("! git -C '%s' cat-file -e %s 2>/dev/null", f->repo, young);
	sh("set -o pipefail; git -C '%s' fsck --strict --no-progress --no-dangling 2>&1 | (! grep .)",
	   f->repo);
	sh("test \"$(git -C '%s' rev-list --count main)\" -ge 41", f->repo);
	free(read_at(f, revs[0], "files/after.txt"));
}

static void test_pack_refuses_a_broken_reference(void **state)
{
	struct fixture *f = *state;
	char rev[REPO_OID_HEX + 1];
	struct repo_pack_stats st;
	long before;

	open_new(f);
	for (int i = 0; i < 5; i++)
		put(f, "files/x.txt", i % 2 ? "odd\n" : "even\n", "a write", rev);
	/* a branch whose commit is not there: what it reaches cannot be known */
	sh("echo 0123456789abcdef0123456789abcdef01234567 > '%s/refs/heads/broken'", f->repo);
	before = loose_count(f);
	assert_true(repo_pack(f->r, 0, 0, &st, &f->err) < 0);
	assert_non_null(strstr(f->err.msg, "refs/heads/broken"));
	assert_int_equal(loose_count(f), before);
	sh("! ls '%s/objects/pack/'*.pack 2>/dev/null", f->repo);
}

static void test_pack_in_the_background(void **state)
{
	struct fixture *f = *state;
	char rev[REPO_OID_HEX + 1], first[REPO_OID_HEX + 1], path[64], data[64];
	char *txt;

	open_new(f);
	repo_pack_limits(f->r, 10, 3600);
	/* 60 writes: a tree and a commit each; the packing starts at 100 */
	for (int i = 0; i < 60; i++) {
		snprintf(path, sizeof(path), "files/g%02d.txt", i % 9);
		snprintf(data, sizeof(data), "take %d\n", i);
		put(f, path, data, "a write", i ? rev : first);
	}
	repo_pack_wait(f->r);
	sh("test \"$(ls '%s/objects/pack/'*.pack | wc -l)\" = 1", f->repo);
	/* what the writes after the start of the packing left, at most */
	assert_true(loose_count(f) <= 40);
	txt = read_at(f, first, "files/g00.txt");
	assert_string_equal(txt, "take 0\n");
	free(txt);
	sh("set -o pipefail; git -C '%s' fsck --strict --no-progress --no-dangling 2>&1 | (! grep .)",
	   f->repo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_example_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_repository_gets_example, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_read_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edit_and_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edit_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_and_identical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_and_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_diff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revert_restores_exact_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revert_conflict_and_refusals, setup, teardown),
		cmocka_unit_test(test_path_ok),
		cmocka_unit_test_setup_teardown(test_non_bare_work_tree_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_git_push_seen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_keeps_everything_reachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_refuses_a_broken_reference, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_in_the_background, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
