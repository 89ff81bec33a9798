/*
 * rpc_group.c - nodes whose results are the same, shown once: "web01,
 * web02 (2 nodes): exit 0" and the output below it, instead of the same
 * lines 9,000 times.
 *
 * Items are sorted, not hashed: n log n whatever the outputs, and the
 * order of the groups and of the nodes in them is the same from one run
 * to the next.
 */
#include <stdlib.h>
#include <string.h>

#include "rpc.h"
#include "util/strutil.h"

int rpc_node_cmp(const char *a, const char *b)
{
	return strverscmp(a, b);
}

static int item_cmp(const void *pa, const void *pb)
{
	const struct rpc_item *a = pa, *b = pb;
	int c;

	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	c = strcmp(a->key, b->key);
	return c ? c : rpc_node_cmp(a->node, b->node);
}

/* The items, for group_cmp (qsort has no argument). */
struct group_sort {
	const struct rpc_item *items;
	struct rpc_group g;
};

static int group_cmp(const void *pa, const void *pb)
{
	const struct group_sort *a = pa, *b = pb;
	const struct rpc_item *fa = &a->items[a->g.first], *fb = &b->items[b->g.first];

	if (fa->rank != fb->rank)
		return fa->rank < fb->rank ? -1 : 1;
	if (a->g.n != b->g.n)
		return a->g.n > b->g.n ? -1 : 1;
	return rpc_node_cmp(fa->node, fb->node);
}

void rpc_group_items(struct rpc_item *items, size_t n, struct rpc_group **ret, size_t *ret_n)
{
	struct group_sort *gs;
	struct rpc_group *out;
	size_t ng = 0;

	if (n)
		qsort(items, n, sizeof(*items), item_cmp);
	gs = xcalloc(n ? n : 1, sizeof(*gs));
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || items[i].rank != items[i - 1].rank ||
		    strcmp(items[i].key, items[i - 1].key)) {
			gs[ng].items = items;
			gs[ng].g.first = i;
			ng++;
		}
		gs[ng - 1].g.n++;
	}
	if (ng)
		qsort(gs, ng, sizeof(*gs), group_cmp);
	out = xcalloc(ng ? ng : 1, sizeof(*out));
	for (size_t i = 0; i < ng; i++)
		out[i] = gs[i].g;
	free(gs);
	*ret = out;
	*ret_n = ng;
}

void rpc_nodes_label(struct buf *b, const char *const *nodes, size_t n, bool all)
{
	size_t shown = all || n <= RPC_NODES_SHOWN ? n : RPC_NODES_SHOWN;

	buf_reset(b);
	for (size_t i = 0; i < shown; i++)
		buf_printf(b, "%s%s", i ? ", " : "", nodes[i]);
	if (shown < n)
		buf_printf(b, " and %zu more", n - shown);
	if (n > 1)
		buf_printf(b, " (%zu nodes)", n);
}

void rpc_group_label(struct buf *b, const struct rpc_item *items, const struct rpc_group *g,
		     bool all)
{
	const char **names = xcalloc(g->n ? g->n : 1, sizeof(*names));

	for (size_t i = 0; i < g->n; i++)
		names[i] = items[g->first + i].node;
	rpc_nodes_label(b, names, g->n, all);
	free(names);
}
