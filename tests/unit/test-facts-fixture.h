/*
 * test-facts-fixture.h - fixture trees for the fact parsers' unit tests.
 *
 * Each test gets a fresh temp directory standing for the host's "/" (the
 * collectors read proc/..., sys/..., run/... beneath its fd) and for the
 * managed root (an fsroot opened on the same directory).  fx_put writes a
 * file, creating its parent directories, so a test states the exact
 * /proc or /sys content it feeds a parser.  Header-only: every
 * test-facts-*.c includes it once, after cmocka.h.
 */
#ifndef TEND_TEST_FACTS_FIXTURE_H
#define TEND_TEST_FACTS_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "facts/facts_int.h"

struct fx {
	char dir[PATH_MAX];
	int host;	    /* fd of dir: the "running machine" */
	struct fsroot root; /* dir as the managed root */
	json_t *f;	    /* facts collected by the test */
};

static inline void fx_mkdirs(struct fx *x, const char *rel)
{
	char p[PATH_MAX * 2];

	snprintf(p, sizeof(p), "%s/%s", x->dir, rel);
	for (char *s = p + strlen(x->dir) + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", p, strerror(errno));
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", p, strerror(errno));
}

/* fx_write - rel (relative to the fixture) holds exactly len bytes of text, mode. */
static inline void fx_write(struct fx *x, const char *rel, const char *text, size_t len,
			    mode_t mode)
{
	char p[PATH_MAX * 2], parent[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	int fd;

	if (slash) {
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - rel), rel);
		fx_mkdirs(x, parent);
	}
	snprintf(p, sizeof(p), "%s/%s", x->dir, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		fail_msg("open %s: %s", p, strerror(errno));
	if (write(fd, text, len) != (ssize_t)len)
		fail_msg("write %s", p);
	fchmod(fd, mode);
	close(fd);
}

static inline void fx_put(struct fx *x, const char *rel, const char *text)
{
	fx_write(x, rel, text, strlen(text), 0644);
}

static inline void fx_symlink(struct fx *x, const char *target, const char *rel)
{
	char p[PATH_MAX * 2], parent[PATH_MAX];
	const char *slash = strrchr(rel, '/');

	if (slash) {
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - rel), rel);
		fx_mkdirs(x, parent);
	}
	snprintf(p, sizeof(p), "%s/%s", x->dir, rel);
	if (symlink(target, p) < 0)
		fail_msg("symlink %s: %s", p, strerror(errno));
}

static inline int fx_setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct tend_err err;

	if (!x)
		return -1;
	snprintf(x->dir, sizeof(x->dir), "/tmp/tend-test-facts-XXXXXX");
	if (!mkdtemp(x->dir))
		return -1;
	x->host = open(x->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (x->host < 0 || fsroot_open(&x->root, x->dir, &err) < 0)
		return -1;
	x->f = json_object();
	*state = x;
	return 0;
}

static inline int fx_rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static inline int fx_teardown(void **state)
{
	struct fx *x = *state;

	json_decref(x->f);
	fsroot_close(&x->root);
	close(x->host);
	nftw(x->dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
	free(x);
	return 0;
}

/* fx_get - the fact at a dotted path ("cpu.count"; keys must not hold dots). */
static inline json_t *fx_get(json_t *f, const char *path)
{
	char part[256];
	json_t *v = f;

	while (v && *path) {
		size_t n = strcspn(path, ".");

		snprintf(part, sizeof(part), "%.*s", (int)n, path);
		v = json_object_get(v, part);
		path += n + (path[n] == '.');
	}
	return v;
}

static inline void fx_assert_str(json_t *f, const char *path, const char *want)
{
	json_t *v = fx_get(f, path);

	if (!json_is_string(v)) {
		char *dump = json_dumps(f, JSON_COMPACT);

		fail_msg("%s: want \"%s\", got no string in %s", path, want, dump ? dump : "?");
	}
	if (strcmp(json_string_value(v), want))
		fail_msg("%s: want \"%s\", got \"%s\"", path, want, json_string_value(v));
}

static inline void fx_assert_int(json_t *f, const char *path, long long want)
{
	json_t *v = fx_get(f, path);

	if (!json_is_integer(v)) {
		char *dump = json_dumps(f, JSON_COMPACT);

		fail_msg("%s: want %lld, got no integer in %s", path, want, dump ? dump : "?");
	}
	if (json_integer_value(v) != want)
		fail_msg("%s: want %lld, got %lld", path, want, (long long)json_integer_value(v));
}

static inline void fx_assert_absent(json_t *f, const char *path)
{
	json_t *v = fx_get(f, path);

	if (v) {
		char *dump = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

		fail_msg("%s: want nothing, got %s", path, dump ? dump : "?");
	}
}

#endif
