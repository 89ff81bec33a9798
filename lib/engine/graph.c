/*
 * graph.c - dependency graph and stable topological sort (see graph.h).
 */
#include "engine/graph.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/schema.h"
#include "util/strutil.h"

static bool has_ptr(struct resource **v, size_t n, const struct resource *p)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == p)
			return true;
	return false;
}

/*
 * The dependencies, while relations are resolved: a list of edges "r runs
 * after dep" by declaration index.  Once complete, they go into one array
 * for the whole catalog (pool_deps), not one small allocation for each of
 * 10,000 files that follow their directory.
 */
struct edges {
	struct edge {
		uint32_t r, dep;
	} *v;
	size_t n, cap;
};

static void add_dep(struct edges *e, struct resource *r, struct resource *dep)
{
	if (r == dep)
		return;
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 256;
		e->v = xrealloc(e->v, e->cap * sizeof(*e->v));
	}
	e->v[e->n].r = (uint32_t)r->order;
	e->v[e->n].dep = (uint32_t)dep->order;
	e->n++;
}

static void add_notify(struct resource *r, struct resource *target)
{
	if (r == target || has_ptr(r->notifies, r->nnotifies, target))
		return;
	r->notifies = xrealloc(r->notifies, (r->nnotifies + 1) * sizeof(*r->notifies));
	r->notifies[r->nnotifies++] = target;
}

static int lookup(struct catalog *c, struct resource *r, const char *key, const char *id,
		  struct resource **ret, struct tend_err *err)
{
	struct resource *t = catalog_find(c, id);

	if (!t)
		return res_err_attr(r, err, key, "%s '%s' of %s: no such resource is declared", key, id, r->id);
	if (t == r)
		return res_err_attr(r, err, key, "%s of %s names the resource itself", key, r->id);
	*ret = t;
	return 0;
}

struct auto_ctx {
	struct catalog *c;
	struct resource *r;
	struct edges *e;
};

static void auto_add(void *arg, const char *id)
{
	struct auto_ctx *a = arg;
	struct resource *t = catalog_find(a->c, id);

	if (t && t != a->r)
		add_dep(a->e, a->r, t);
}

static int relations(struct catalog *c, struct resource *r, struct edges *e, struct tend_err *err)
{
	struct resource *t = NULL;
	struct res_rel *rel = r->rel;
	int ret;

	if (!rel)
		return 0;
	for (size_t i = 0; i < rel->requires.n; i++) {
		if ((ret = lookup(c, r, "requires", rel->requires.v[i], &t, err)) < 0)
			return ret;
		add_dep(e, r, t);
	}
	for (size_t i = 0; i < rel->before.n; i++) {
		if ((ret = lookup(c, r, "before", rel->before.v[i], &t, err)) < 0)
			return ret;
		add_dep(e, t, r);
	}
	for (size_t i = 0; i < rel->notify.n; i++) {
		if ((ret = lookup(c, r, "notify", rel->notify.v[i], &t, err)) < 0)
			return ret;
		add_dep(e, t, r);
		add_notify(r, t);
	}
	for (size_t i = 0; i < rel->subscribe.n; i++) {
		if ((ret = lookup(c, r, "subscribe", rel->subscribe.v[i], &t, err)) < 0)
			return ret;
		add_dep(e, r, t);
		add_notify(t, r);
	}
	return 0;
}

/* cycle_error - find and name one cycle among the resources left unsorted. */
static int cycle_error(struct catalog *c, const uint32_t *indeg, struct tend_err *err)
{
	struct resource *start = NULL, *cur;
	struct resource **path;
	size_t n = 0, first = 0;
	struct buf b;
	int ret;

	for (size_t i = 0; i < c->n && !start; i++)
		if (indeg[c->res[i]->order] > 0)
			start = c->res[i];
	path = xcalloc(c->n + 1, sizeof(*path));
	/* walk dependencies that are themselves unsorted until one repeats */
	for (cur = start; cur;) {
		struct resource *next = NULL;

		for (size_t i = 0; i < n; i++)
			if (path[i] == cur) {
				first = i;
				goto found;
			}
		path[n++] = cur;
		for (size_t i = 0; i < cur->ndeps && !next; i++)
			if (indeg[cur->deps[i]->order] > 0)
				next = cur->deps[i];
		cur = next;
	}
found:
	buf_init(&b, 0);
	for (size_t i = n; i-- > first;)
		buf_printf(&b, "%s -> ", path[i]->id);
	buf_puts(&b, path[n - 1]->id);
	ret = err_at(err, -EINVAL, path[first]->pos.file, path[first]->pos.line, path[first]->pos.col,
		     "dependency cycle: %s", buf_str(&b));
	buf_free(&b);
	free(path);
	return ret;
}

/* A binary min-heap of declaration indexes: among the resources whose
 * dependencies are done, the one declared first runs. */
struct heap {
	uint32_t *v;
	size_t n, cap;
};

static void heap_push(struct heap *h, uint32_t x)
{
	size_t i;

	/* the ready set is usually far smaller than the catalog: grow as needed */
	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 256;
		h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
	}
	i = h->n++;

	while (i > 0 && h->v[(i - 1) / 2] > x) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = x;
}

static uint32_t heap_pop(struct heap *h)
{
	uint32_t top = h->v[0], last = h->v[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1] < h->v[c])
			c++;
		if (h->v[c] >= last)
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
	return top;
}

/* reset - forget the relations of an earlier graph_build. */
static void reset(struct catalog *c)
{
	for (size_t i = 0; i < c->n; i++) {
		struct resource *r = c->res[i];

		if (!r->deps_pooled)
			free(r->deps);
		free(r->notifies);
		r->deps = NULL;
		r->notifies = NULL;
		r->ndeps = r->nnotifies = 0;
		r->deps_pooled = false;
		r->order = (int)i;
	}
}

/*
 * pool_deps - the edges into each resource's deps, in the order they were
 * found, without repeats, all in one array: the first resource with
 * dependencies holds it (its deps is the array's start), the others point
 * into it (deps_pooled).  cnt: c->n + 1 zeroed counters, left dirty.
 */
static void pool_deps(struct catalog *c, const struct edges *e, uint32_t *cnt)
{
	struct resource **pool;

	if (!e->n)
		return;
	for (size_t k = 0; k < e->n; k++)
		cnt[e->v[k].r + 1]++;
	for (size_t i = 0; i < c->n; i++)
		cnt[i + 1] += cnt[i];
	pool = xcalloc(e->n, sizeof(*pool));
	/* cnt[r] moves from the start of r's range to its end (the next one's start) */
	for (size_t k = 0; k < e->n; k++)
		pool[cnt[e->v[k].r]++] = c->res[e->v[k].dep];
	for (size_t i = 0; i < c->n; i++) {
		struct resource *r = c->res[i];
		uint32_t from = i ? cnt[i - 1] : 0, m = 0;

		for (uint32_t k = from; k < cnt[i]; k++)
			if (!has_ptr(pool + from, m, pool[k]))
				pool[from + m++] = pool[k];
		r->ndeps = m;
		r->deps = m ? pool + from : NULL;
		r->deps_pooled = m && from;
	}
}

/*
 * sort - Kahn's algorithm with a heap: dependencies first, otherwise
 * declaration order.  indeg (c->n), rev (at least as many entries as
 * dependencies) and cnt (c->n + 1) are scratch space; indeg is left with
 * the unmet dependencies of what could not be ordered.  Returns how many
 * were ordered.
 */
static size_t sort(struct catalog *c, struct resource **order, uint32_t *indeg, uint32_t *rev,
		   uint32_t *cnt)
{
	struct heap ready = { NULL, 0, 0 };
	size_t no = 0;

	/* reverse adjacency: who depends on me (cnt[d] ends as the end of d's range) */
	memset(cnt, 0, (c->n + 1) * sizeof(*cnt));
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < c->res[i]->ndeps; j++)
			cnt[c->res[i]->deps[j]->order + 1]++;
	for (size_t i = 0; i < c->n; i++)
		cnt[i + 1] += cnt[i];
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < c->res[i]->ndeps; j++)
			rev[cnt[c->res[i]->deps[j]->order]++] = (uint32_t)i;
	for (size_t i = 0; i < c->n; i++) {
		indeg[i] = c->res[i]->ndeps;
		if (indeg[i] == 0)
			heap_push(&ready, (uint32_t)i);
	}
	while (ready.n) {
		uint32_t d = heap_pop(&ready);

		order[no++] = c->res[d];
		for (uint32_t k = d ? cnt[d - 1] : 0; k < cnt[d]; k++)
			if (--indeg[rev[k]] == 0)
				heap_push(&ready, rev[k]);
	}
	free(ready.v);
	return no;
}

int graph_build(struct catalog *c, struct resource ***ret_order, struct tend_err *err)
{
	struct edges e = { NULL, 0, 0 };
	struct resource **order;
	uint32_t *indeg, *rev, *cnt;
	int ret = 0;

	reset(c);
	/* most resources follow one other (a file its directory) */
	e.cap = c->n > 256 ? c->n : 256;
	e.v = xcalloc(e.cap, sizeof(*e.v));
	for (size_t i = 0; i < c->n; i++) {
		struct resource *r = c->res[i];
		struct auto_ctx a = { c, r, &e };

		if ((ret = relations(c, r, &e, err)) < 0) {
			free(e.v);
			return ret;
		}
		if (r->type->autorequire)
			r->type->autorequire(r, auto_add, &a);
	}
	cnt = xcalloc(c->n + 1, sizeof(*cnt));
	pool_deps(c, &e, cnt);
	/* the edges' storage (8 bytes each, at least c->n of them) is free
	 * now: its first half holds the reverse adjacency, its second the
	 * in-degrees */
	rev = (uint32_t *)e.v;
	indeg = rev + e.cap;
	order = xcalloc(c->n + 1, sizeof(*order));
	if (sort(c, order, indeg, rev, cnt) < c->n) {
		ret = cycle_error(c, indeg, err);
		free(order);
	} else {
		*ret_order = order;
	}
	free(cnt);
	free(e.v);
	return ret;
}
