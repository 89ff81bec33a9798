/*
 * rpc_print.c - what the tend-rpc commands print alike: text that came
 * from nodes (made harmless for a terminal), the replies that were
 * rejected and the nodes that did not answer, and one node's answer as
 * JSON.
 *
 * Everything a node sends is untrusted: its output may hold escape
 * sequences that would drive the admin's terminal, so control characters
 * are shown, not sent.  --json output is JSON-escaped by jansson.
 */
#include <stdlib.h>
#include <string.h>

#include "rpc.h"

/* put_escaped - byte c as \xHH. */
static void put_escaped(FILE *f, unsigned char c)
{
	fprintf(f, "\\x%02x", c);
}

void rpc_print_text(FILE *f, const char *indent, const char *text, size_t len)
{
	bool bol = true;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (bol)
			fputs(indent, f);
		bol = c == '\n';
		if (c == '\n' || c == '\t' || (c >= ' ' && c != 0x7f && c != 0xc2)) {
			fputc(c, f);
		} else if (c == 0xc2 && i + 1 < len && (unsigned char)text[i + 1] >= 0x80 &&
			   (unsigned char)text[i + 1] <= 0x9f) {
			/* U+0080..U+009F: C1 controls (CSI is U+009B) */
			fprintf(f, "\\u%04x", (unsigned char)text[++i]);
		} else if (c == 0xc2) {
			fputc(c, f);
		} else {
			put_escaped(f, c);
		}
	}
	if (!bol)
		fputc('\n', f);
}

const char *rpc_safe(struct buf *b, const char *s)
{
	buf_reset(b);
	for (const char *p = s ? s : ""; *p; p++)
		buf_putc(b, (unsigned char)*p < ' ' || *p == 0x7f ? '?' : *p);
	return buf_str(b);
}

void rpc_missing_names(struct buf *b, const json_t *missing, bool all)
{
	size_t n = json_array_size(missing);
	size_t shown = all || n <= RPC_NODES_SHOWN ? n : RPC_NODES_SHOWN;

	buf_reset(b);
	for (size_t i = 0; i < shown; i++)
		buf_printf(b, "%s%s", i ? ", " : "", json_string_value(json_array_get(missing, i)));
	if (shown < n)
		buf_printf(b, " and %zu more (-v shows them all)", n - shown);
}

size_t rpc_print_trouble(const struct rpc_outcome *o, bool verbose)
{
	struct buf b = BUF_INIT, s1 = BUF_INIT, s2 = BUF_INIT;
	size_t lines = 0, shown;

	if (o->nrej) {
		shown = verbose || o->nrej <= RPC_NODES_SHOWN ? o->nrej : RPC_NODES_SHOWN;
		printf("%zu %s rejected (did not verify):", o->nrej,
		       o->nrej == 1 ? "reply" : "replies");
		for (size_t i = 0; i < shown; i++)
			printf("%s %s from '%s'", i ? ";" : "", rpc_safe(&s1, o->rej[i].reason),
			       rpc_safe(&s2, o->rej[i].from));
		if (shown < o->nrej)
			printf("; and %zu more (-v shows them all)", o->nrej - shown);
		printf("\n");
		lines++;
	}
	if (json_array_size(o->missing)) {
		rpc_missing_names(&b, o->missing, verbose);
		printf("%zu expected %s did not answer: %s\n", json_array_size(o->missing),
		       json_array_size(o->missing) == 1 ? "node" : "nodes", buf_str(&b));
		lines++;
	}
	if (verbose && o->duplicates)
		printf("%zu duplicate replies ignored\n", o->duplicates);
	buf_free(&b);
	buf_free(&s1);
	buf_free(&s2);
	return lines;
}

double rpc_round_ms(double ms)
{
	return (double)(long long)(ms * 1000 + 0.5) / 1000;
}

json_t *rpc_answer_json(const struct rpc_answer *a)
{
	json_t *j = json_object();

	json_object_set_new(j, "node", json_string(a->node));
	json_object_set_new(j, "status", json_string(a->status));
	if (a->reason)
		json_object_set_new(j, "reason", json_string(a->reason));
	json_object_set_new(j, "ms", json_real(a->ms));
	json_object_set_new(j, "rtt_ms", json_real(rpc_round_ms(a->rtt_ms)));
	json_object_set(j, "data", a->data ? a->data : json_null());
	return j;
}

void rpc_trouble_json(json_t *arr, const struct rpc_outcome *o)
{
	size_t i;
	json_t *m;

	json_array_foreach(o->missing, i, m)
		json_array_append_new(arr, json_pack("{s:O, s:s}", "node", m, "status", "missing"));
	for (i = 0; i < o->nrej; i++)
		json_array_append_new(arr,
				      json_pack("{s:s, s:s, s:s}", "node", o->rej[i].from, "status",
						"rejected", "reason", o->rej[i].reason));
}
