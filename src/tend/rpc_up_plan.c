/*
 * rpc_up_plan.c - what `tend up` makes of the nodes' plans and applies:
 * the verdict of one answer (something to change, nothing, failed), and
 * the plans of many nodes shown as one: each distinct change once with
 * the nodes it is for ("web01, web02 (2 nodes): file:/etc/motd:
 * content" and its diff below, once).
 *
 * A plan or apply answer's data is what the agent makes of its run's
 * report (tendd's actions.c): {"status": "converged" | "drifted" |
 * "changed" | "failed", "summary": {"changed", "unknown", "failed",
 * "not_converged", ...}, "changes": [{"resource": "file:/etc/motd",
 * "status", "changes": [{"what", "from", "to", "diff"}], "message"}]},
 * the resources that are not ok.  In a plan, a resource to change has
 * status "change", one whose outcome cannot be predicted "unknown" (both
 * count as something to change).
 */
#include <stdlib.h>
#include <string.h>

#include "rpc.h"
#include "util/strutil.h"

static long long summary_n(const json_t *data, const char *key)
{
	json_t *v = json_object_get(json_object_get(data, "summary"), key);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* first_failed - "ID: message" of the first failed resource into b. */
static void first_failed(struct buf *b, const json_t *data)
{
	struct buf s = BUF_INIT;
	size_t i;
	json_t *r;

	json_array_foreach(json_object_get(data, "changes"), i, r) {
		const char *st = json_string_value(json_object_get(r, "status"));

		if (st && !strcmp(st, "failed")) {
			buf_printf(b, " (first: %s",
				   rpc_safe(&s, json_string_value(json_object_get(r, "resource"))));
			if (json_is_string(json_object_get(r, "message")))
				buf_printf(b, ": %s",
					   rpc_safe(&s, json_string_value(
								json_object_get(r, "message"))));
			buf_puts(b, ")");
			break;
		}
	}
	buf_free(&s);
}

enum up_verdict rpc_up_verdict(enum up_phase phase, const struct rpc_answer *a, struct buf *why)
{
	struct buf s = BUF_INIT;
	long long failed, nc;

	buf_reset(why);
	if (strcmp(a->status, "ok")) {
		if (!strcmp(a->status, "refused") || !a->reason)
			buf_printf(why, "%s%s", a->status, a->reason ? ": " : "");
		buf_puts(why, rpc_safe(&s, a->reason ? a->reason : ""));
		first_failed(why, a->data);
		buf_free(&s);
		return UP_V_FAILED;
	}
	buf_free(&s);
	if (!json_is_object(json_object_get(a->data, "summary"))) {
		buf_puts(why, "the answer holds no report");
		return UP_V_FAILED;
	}
	failed = summary_n(a->data, "failed");
	nc = summary_n(a->data, "not_converged");
	if (failed > 0 || (phase == UP_APPLY && nc > 0)) {
		if (failed > 0)
			buf_printf(why, "%lld resource%s failed", failed, failed == 1 ? "" : "s");
		else
			buf_printf(why, "%lld resource%s did not converge", nc, nc == 1 ? "" : "s");
		first_failed(why, a->data);
		return UP_V_FAILED;
	}
	if (phase == UP_APPLY)
		return UP_V_DONE;
	return summary_n(a->data, "changed") + summary_n(a->data, "unknown") > 0 ? UP_V_CHANGES :
										   UP_V_NOTHING;
}

/* One change of one node's plan. */
struct change {
	const json_t *res; /* the resource */
	const json_t *chg; /* the change, NULL for a resource that is unknown or lists none */
};

/* change_key - what makes two nodes' changes the same. */
static char *change_key(const struct change *c)
{
	const json_t *r = c->res, *g = c->chg;
	json_t *k = json_pack("[O?, O?, O?, O?, O?, O?, O?]", json_object_get(r, "resource"),
			      json_object_get(r, "status"), json_object_get(g, "what"),
			      json_object_get(g, "from"), json_object_get(g, "to"),
			      json_object_get(g, "diff"), g ? NULL : json_object_get(r, "message"));
	char *s = k ? json_dumps(k, JSON_COMPACT) : NULL;

	json_decref(k);
	return s ? s : xstrdup("?");
}

/* collect_changes - every change of every plan in plans (node -> data). */
static size_t collect_changes(const json_t *plans, struct change **ret, const char ***ret_nodes)
{
	struct change *cs = NULL;
	const char **nodes = NULL;
	size_t n = 0, cs_cap = 0, nodes_cap = 0, i, j;
	const char *node;
	json_t *data, *r, *g;

	json_object_foreach((json_t *)plans, node, data) {
		json_array_foreach(json_object_get(data, "changes"), i, r) {
			const char *st = json_string_value(json_object_get(r, "status"));
			json_t *chs = json_object_get(r, "changes");

			if (!st || (strcmp(st, "change") && strcmp(st, "unknown")))
				continue;
			for (j = 0; j < (json_array_size(chs) ? json_array_size(chs) : 1); j++) {
				g = json_array_get(chs, j);
				cs = xgrow(cs, n, &cs_cap, sizeof(*cs));
				nodes = xgrow(nodes, n, &nodes_cap, sizeof(*nodes));
				cs[n] = (struct change){ r, !strcmp(st, "unknown") ? NULL : g };
				nodes[n++] = node;
				if (!strcmp(st, "unknown"))
					break;
			}
		}
	}
	*ret = cs;
	*ret_nodes = nodes;
	return n;
}

/* headline - "file:/etc/motd: content", "package:x: ensure: absent -> present". */
static void headline(struct buf *b, const struct change *c)
{
	const json_t *g = c->chg;
	const char *id = json_string_value(json_object_get(c->res, "resource"));
	const char *from = json_string_value(json_object_get(g, "from"));
	const char *to = json_string_value(json_object_get(g, "to"));
	struct buf s = BUF_INIT;

	buf_reset(b);
	buf_printf(b, "%s: ", rpc_safe(&s, id ? id : "?"));
	if (!g) {
		const char *msg = json_string_value(json_object_get(c->res, "message"));
		const char *st = json_string_value(json_object_get(c->res, "status"));

		buf_printf(b, "%s", st && !strcmp(st, "unknown") ? "unknown" : "to change");
		if (msg)
			buf_printf(b, ": %s", rpc_safe(&s, msg));
	} else {
		buf_printf(b, "%s", rpc_safe(&s, json_string_value(json_object_get(g, "what"))));
		if (!json_is_string(json_object_get(g, "diff"))) {
			buf_printf(b, ": %s -> ", rpc_safe(&s, from ? from : "(none)"));
			buf_printf(b, "%s", rpc_safe(&s, to ? to : "(none)"));
		}
	}
	buf_free(&s);
}

/* The changes of many plans, grouped. */
struct grouping {
	struct change *cs;
	struct rpc_item *items;
	size_t n;
	struct rpc_group *g;
	size_t ng;
};

static void grouping_make(struct grouping *gr, const json_t *plans)
{
	const char **nodes = NULL;

	gr->n = collect_changes(plans, &gr->cs, &nodes);
	gr->items = xcalloc(gr->n ? gr->n : 1, sizeof(*gr->items));
	for (size_t i = 0; i < gr->n; i++)
		gr->items[i] = (struct rpc_item){ nodes[i], change_key(&gr->cs[i]), 0, i };
	rpc_group_items(gr->items, gr->n, &gr->g, &gr->ng);
	free(nodes);
}

static void grouping_free(struct grouping *gr)
{
	for (size_t i = 0; i < gr->n; i++)
		free((char *)gr->items[i].key);
	free(gr->items);
	free(gr->g);
	free(gr->cs);
}

void rpc_up_plan_print(const json_t *plans, bool verbose)
{
	struct buf label = BUF_INIT, head = BUF_INIT;
	struct grouping gr;

	grouping_make(&gr, plans);
	for (size_t i = 0; i < gr.ng; i++) {
		const struct change *c = &gr.cs[gr.items[gr.g[i].first].idx];
		json_t *diff = json_object_get(c->chg, "diff");

		rpc_group_label(&label, gr.items, &gr.g[i], verbose);
		headline(&head, c);
		printf("%s: %s\n", buf_str(&label), buf_str(&head));
		if (json_is_string(diff))
			rpc_print_text(stdout, "    ", json_string_value(diff),
				       json_string_length(diff));
	}
	grouping_free(&gr);
	buf_free(&label);
	buf_free(&head);
}

json_t *rpc_up_plan_json(const json_t *plans)
{
	json_t *out = json_array();
	struct grouping gr;

	grouping_make(&gr, plans);
	for (size_t i = 0; i < gr.ng; i++) {
		const struct rpc_group *g = &gr.g[i];
		const struct change *c = &gr.cs[gr.items[g->first].idx];
		json_t *nodes = json_array(), *o;

		for (size_t j = 0; j < g->n; j++)
			json_array_append_new(nodes, json_string(gr.items[g->first + j].node));
		o = json_pack("{s:O?, s:O?, s:o}", "resource", json_object_get(c->res, "resource"),
			      "status", json_object_get(c->res, "status"), "nodes", nodes);
		if (c->chg)
			json_object_set(o, "change", (json_t *)c->chg);
		else if (json_object_get(c->res, "message"))
			json_object_set(o, "message", json_object_get(c->res, "message"));
		json_array_append_new(out, o);
	}
	grouping_free(&gr);
	return out;
}
