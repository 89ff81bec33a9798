/*
 * graph.c - dependency graph and stable topological sort (see graph.h).
 */
#include "engine/graph.h"

#include <errno.h>
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

static void add_dep(struct resource *r, struct resource *dep)
{
	if (r == dep || has_ptr(r->deps, r->ndeps, dep))
		return;
	r->deps = xrealloc(r->deps, (r->ndeps + 1) * sizeof(*r->deps));
	r->deps[r->ndeps++] = dep;
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
};

static void auto_add(void *arg, const char *id)
{
	struct auto_ctx *a = arg;
	struct resource *t = catalog_find(a->c, id);

	if (t && t != a->r)
		add_dep(a->r, t);
}

static int relations(struct catalog *c, struct resource *r, struct tend_err *err)
{
	struct resource *t = NULL;
	struct res_rel *rel = r->rel;
	int ret;

	if (!rel)
		return 0;
	for (size_t i = 0; i < rel->requires.n; i++) {
		if ((ret = lookup(c, r, "requires", rel->requires.v[i], &t, err)) < 0)
			return ret;
		add_dep(r, t);
	}
	for (size_t i = 0; i < rel->before.n; i++) {
		if ((ret = lookup(c, r, "before", rel->before.v[i], &t, err)) < 0)
			return ret;
		add_dep(t, r);
	}
	for (size_t i = 0; i < rel->notify.n; i++) {
		if ((ret = lookup(c, r, "notify", rel->notify.v[i], &t, err)) < 0)
			return ret;
		add_dep(t, r);
		add_notify(r, t);
	}
	for (size_t i = 0; i < rel->subscribe.n; i++) {
		if ((ret = lookup(c, r, "subscribe", rel->subscribe.v[i], &t, err)) < 0)
			return ret;
		add_dep(r, t);
		add_notify(t, r);
	}
	return 0;
}

/* cycle_error - find and name one cycle among the resources left unsorted. */
static int cycle_error(struct catalog *c, const int *indeg, struct tend_err *err)
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

/* A binary min-heap of resources by declaration index: among the
 * resources whose dependencies are done, the one declared first runs. */
struct heap {
	struct resource **v;
	size_t n;
};

static void heap_push(struct heap *h, struct resource *r)
{
	size_t i = h->n++;

	while (i > 0 && h->v[(i - 1) / 2]->order > r->order) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = r;
}

static struct resource *heap_pop(struct heap *h)
{
	struct resource *top = h->v[0], *last = h->v[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->order < h->v[c]->order)
			c++;
		if (h->v[c]->order >= last->order)
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
	return top;
}

int graph_build(struct catalog *c, struct resource ***ret_order, struct tend_err *err)
{
	struct resource **order;
	struct heap ready;
	int *indeg;
	size_t no = 0;
	int ret = 0;

	for (size_t i = 0; i < c->n; i++)
		c->res[i]->order = (int)i;
	for (size_t i = 0; i < c->n; i++) {
		struct resource *r = c->res[i];
		struct auto_ctx a = { c, r };

		if ((ret = relations(c, r, err)) < 0)
			return ret;
		if (r->type->autorequire)
			r->type->autorequire(r, auto_add, &a);
	}
	/* Kahn's algorithm with a heap: dependencies first, otherwise
	 * declaration order. */
	indeg = xcalloc(c->n, sizeof(*indeg));
	for (size_t i = 0; i < c->n; i++)
		indeg[i] = (int)c->res[i]->ndeps;
	/* reverse adjacency: who depends on me */
	size_t *cnt = xcalloc(c->n + 1, sizeof(*cnt));
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < c->res[i]->ndeps; j++)
			cnt[c->res[i]->deps[j]->order + 1]++;
	for (size_t i = 0; i < c->n; i++)
		cnt[i + 1] += cnt[i];
	struct resource **rev = xcalloc(cnt[c->n] + 1, sizeof(*rev));
	size_t *fill = xcalloc(c->n, sizeof(*fill));
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < c->res[i]->ndeps; j++) {
			size_t d = (size_t)c->res[i]->deps[j]->order;

			rev[cnt[d] + fill[d]++] = c->res[i];
		}
	order = xcalloc(c->n + 1, sizeof(*order));
	ready.v = xcalloc(c->n + 1, sizeof(*ready.v));
	ready.n = 0;
	for (size_t i = 0; i < c->n; i++)
		if (indeg[i] == 0)
			heap_push(&ready, c->res[i]);
	while (ready.n) {
		struct resource *r = heap_pop(&ready);
		size_t d = (size_t)r->order;

		order[no++] = r;
		for (size_t k = cnt[d]; k < cnt[d + 1]; k++)
			if (--indeg[rev[k]->order] == 0)
				heap_push(&ready, rev[k]);
	}
	if (no < c->n) {
		ret = cycle_error(c, indeg, err);
		free(order);
	} else {
		*ret_order = order;
	}
	free(indeg);
	free(cnt);
	free(rev);
	free(fill);
	free(ready.v);
	return ret;
}
