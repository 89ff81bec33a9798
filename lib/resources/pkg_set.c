/*
 * pkg_set.c - package sets shared by the package providers (see
 * pkg_provider.h): a sorted array searched by binary search, so probing
 * ten thousand package resources against a status database of three
 * thousand packages stays cheap; and the reason a package command failed,
 * taken from its output.
 */
#include <stdlib.h>
#include <string.h>

#include "resources/pkg_provider.h"
#include "util/strutil.h"

struct pkg_entry *pkg_set_add(struct pkg_set *s, const char *key, const char *version)
{
	struct pkg_entry *e;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	e = &s->v[s->n];
	memset(e, 0, sizeof(*e));
	e->key = xstrdup(key);
	e->version = xstrdup(version);
	e->idx = s->n++;
	return e;
}

void pkg_entry_add_version(struct pkg_entry *e, const char *v)
{
	for (size_t i = 0; i < e->nversions; i++)
		if (!strcmp(e->versions[i], v))
			return;
	e->versions = xrealloc(e->versions, (e->nversions + 1) * sizeof(*e->versions));
	e->versions[e->nversions++] = xstrdup(v);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct pkg_entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void entry_free(struct pkg_entry *e)
{
	free(e->key);
	free(e->version);
	for (size_t i = 0; i < e->nversions; i++)
		free(e->versions[i]);
	free(e->versions);
}

/* merge - fold dup into keep (same key). */
static void merge(struct pkg_entry *keep, struct pkg_entry *dup, int (*vercmp)(const char *, const char *))
{
	for (size_t i = 0; i < dup->nversions; i++)
		pkg_entry_add_version(keep, dup->versions[i]);
	if (vercmp && dup->version && (!keep->version || vercmp(dup->version, keep->version) > 0)) {
		char *t = keep->version;

		keep->version = dup->version;
		dup->version = t;
	}
	entry_free(dup);
}

void pkg_set_finish(struct pkg_set *s, int (*vercmp)(const char *, const char *))
{
	size_t out = 0;

	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof(*s->v), entry_cmp);
	for (size_t i = 1; i < s->n; i++) {
		if (!strcmp(s->v[i].key, s->v[out].key))
			merge(&s->v[out], &s->v[i], vercmp);
		else
			s->v[++out] = s->v[i];
	}
	s->n = out + 1;
}

const struct pkg_entry *pkg_set_find(const struct pkg_set *s, const char *key)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, s->v[mid].key);

		if (!c)
			return &s->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void pkg_set_free(struct pkg_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		entry_free(&s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* has_prefix - line starts with one of prefixes and has more than it ("Error: " alone does not count). */
static bool has_prefix(const char *line, size_t len, const char *const *prefixes)
{
	while (len && (line[len - 1] == ' ' || line[len - 1] == '\r'))
		len--;
	for (size_t i = 0; prefixes && prefixes[i]; i++) {
		size_t pl = strlen(prefixes[i]);

		if (len > pl && !memcmp(line, prefixes[i], pl))
			return true;
	}
	return false;
}

/* add_line - append line (trimmed, at most what fits) to why, "; "-separated. */
static void add_line(char *why, size_t whylen, const char *line, size_t len)
{
	size_t have = strlen(why);

	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (have && have + 2 < whylen) {
		memcpy(why + have, "; ", 3);
		have += 2;
	}
	if (have + 1 >= whylen)
		return;
	if (len > whylen - have - 1)
		len = whylen - have - 1;
	memcpy(why + have, line, len);
	why[have + len] = '\0';
}

void pkg_why_from_output(const struct buf *out, const char *const *prefixes, char *why, size_t whylen)
{
	const char *s = buf_str(out), *lines[3];
	size_t lens[3], n = 0, nlast = 0;
	const char *last[3];
	size_t lastlens[3];

	if (!whylen)
		return;
	why[0] = '\0';
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		/* progress output ends lines with \r: keep what follows the last one */
		const char *cr = memrchr(s, '\r', len);

		if (cr && cr + 1 < s + len) {
			len -= (size_t)(cr + 1 - s);
			s = cr + 1;
		}
		if (len) {
			if (has_prefix(s, len, prefixes) && n < 3) {
				lines[n] = s;
				lens[n++] = len;
			}
			if (nlast == 3) {
				memmove(last, last + 1, 2 * sizeof(*last));
				memmove(lastlens, lastlens + 1, 2 * sizeof(*lastlens));
				nlast--;
			}
			last[nlast] = s;
			lastlens[nlast++] = len;
		}
		s += len;
		if (*s == '\n')
			s++;
	}
	for (size_t i = 0; i < n; i++)
		add_line(why, whylen, lines[i], lens[i]);
	for (size_t i = 0; !n && i < nlast; i++)
		add_line(why, whylen, last[i], lastlens[i]);
	if (!why[0])
		add_line(why, whylen, "(no output)", 11);
}
