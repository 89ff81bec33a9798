/*
 * node_doc.c - editing a node's document in place (see node_doc.h).
 *
 * Only the bytes of the top-level `tags:` value are replaced: a flow list
 * stays a flow list, a block list a block list, and comments, key order
 * and hand formatting around it are untouched.  The parser (model/yaml.h)
 * gives each node's line and column; the byte offsets of a value's start
 * and end are found by scanning the text from there.  The edited document
 * is parsed again and compared key by key with the original before it is
 * handed back; when an in-place edit cannot be proven right (anchors,
 * aliases, block scalars, odd layouts) it is refused rather than guessed
 * at, and the caller tells the user to edit the file itself.
 */
#include "node_doc.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "model/yaml.h"

bool node_doc_tag_ok(const char *t)
{
	return t && strlen(t) <= NODE_DOC_TAG_MAX && db_node_id_ok(t);
}

/* tags_ok - tags is an array of tag names; -EINVAL naming the first bad one. */
static int tags_ok(const char *name, const json_t *tags, struct tend_err *err)
{
	size_t i;
	json_t *t;

	if (!json_is_array(tags))
		return err_set(err, -EINVAL, "%s: the tags must be a list of names", name);
	json_array_foreach(tags, i, t)
		if (!node_doc_tag_ok(json_string_value(t)))
			return err_set(err, -EINVAL,
				       "%s: tags[%zu] is not a tag name: letters, digits, '.', "
				       "'-', '_' (1 to %d bytes)",
				       name, i, NODE_DOC_TAG_MAX);
	return 0;
}

/* plain_ok - whether a tag name can be written as a plain YAML scalar and
 * read back as the same string (not null, a boolean or a number). */
static bool plain_ok(const char *t)
{
	static const char *const special[] = { "null", "true", "false", "yes", "no",
					       "on",   "off",  "y",	"n",   NULL };

	if (!((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z')))
		return false;
	for (size_t i = 0; special[i]; i++)
		if (!strcasecmp(t, special[i]))
			return false;
	return true;
}

static void put_tag(struct buf *b, const char *t)
{
	buf_printf(b, plain_ok(t) ? "%s" : "\"%s\"", t);
}

/* flow_list - "[a, b]". */
static void flow_list(struct buf *b, const json_t *tags)
{
	size_t i;
	json_t *t;

	buf_putc(b, '[');
	json_array_foreach(tags, i, t) {
		if (i)
			buf_puts(b, ", ");
		put_tag(b, json_string_value(t));
	}
	buf_putc(b, ']');
}

/* line_off - byte offset of 1-based (line, col), col counted in characters
 * as libyaml does; -EINVAL past the end. */
static int line_off(const char *doc, size_t len, int line, int col, size_t *ret)
{
	size_t o = 0;

	for (int l = 1; l < line; l++) {
		const char *nl = memchr(doc + o, '\n', len - o);

		if (!nl)
			return -EINVAL;
		o = (size_t)(nl - doc) + 1;
	}
	for (int c = 1; c < col; c++) {
		if (o >= len || doc[o] == '\n')
			return -EINVAL;
		o++;
		while (o < len && ((unsigned char)doc[o] & 0xc0) == 0x80)
			o++;
	}
	*ret = o;
	return 0;
}

/* quoted_end - offset just past the quoted scalar starting at doc[o]. */
static int quoted_end(const char *doc, size_t len, size_t o, size_t *ret)
{
	char q = doc[o];

	for (size_t i = o + 1; i < len; i++) {
		if (q == '"' && doc[i] == '\\') {
			i++;
		} else if (doc[i] == q) {
			if (q == '\'' && i + 1 < len && doc[i + 1] == '\'') {
				i++;
				continue;
			}
			*ret = i + 1;
			return 0;
		}
	}
	return -EINVAL;
}

/* flow_end - offset just past the flow collection starting at doc[o]. */
static int flow_end(const char *doc, size_t len, size_t o, size_t *ret)
{
	int depth = 0;

	for (size_t i = o; i < len; i++) {
		char c = doc[i], prev = i > o ? doc[i - 1] : '[';
		bool boundary = strchr("[{,: \t\r\n", prev) != NULL;

		if ((c == '"' || c == '\'') && boundary) {
			if (quoted_end(doc, len, i, &i) < 0)
				return -EINVAL;
			i--;
		} else if (c == '#' && strchr(" \t\r\n", prev)) {
			while (i < len && doc[i] != '\n')
				i++;
		} else if (c == '[' || c == '{') {
			depth++;
		} else if ((c == ']' || c == '}') && --depth == 0) {
			*ret = i + 1;
			return 0;
		}
	}
	return -EINVAL;
}

/* colon_after - offset just past the ':' that follows key k. */
static int colon_after(const char *doc, size_t len, const struct ynode *k, size_t *ret)
{
	size_t o;

	if (line_off(doc, len, k->line, k->col, &o) < 0)
		return -EINVAL;
	if (doc[o] == '"' || doc[o] == '\'') {
		if (quoted_end(doc, len, o, &o) < 0)
			return -EINVAL;
	} else if (o + k->len <= len && !memcmp(doc + o, k->str, k->len)) {
		o += k->len;
	} else {
		return -EINVAL;
	}
	while (o < len && (doc[o] == ' ' || doc[o] == '\t'))
		o++;
	if (o >= len || doc[o] != ':')
		return -EINVAL;
	*ret = o + 1;
	return 0;
}

/* line_end - offset just past the end of the line holding o (its '\n'). */
static size_t line_end(const char *doc, size_t len, size_t o)
{
	const char *nl = memchr(doc + o, '\n', len - o);

	return nl ? (size_t)(nl - doc) + 1 : len;
}

/* A replacement of doc[from, to) by text. */
struct span {
	size_t from, to;
	struct buf text;
};

/* block_span - a block list: its item lines, rewritten item by item with
 * the first item's indentation (or `tags: []` when now empty). */
static int block_span(const char *doc, size_t len, const struct ynode *k, const struct ynode *v,
		      size_t voff, const json_t *tags, struct span *sp)
{
	size_t start = voff, i;
	const struct ynode *last = v->items[v->n - 1];
	json_t *t;

	while (start > 0 && doc[start - 1] != '\n')
		start--;
	for (size_t o = start; o < voff; o++)
		if (doc[o] != ' ' && doc[o] != '\t')
			return -EINVAL; /* "tags: - a" or similar: not a layout we rewrite */
	if (last->kind != YN_SCALAR || last->line < v->line)
		return -EINVAL;
	if (line_off(doc, len, last->line, 1, &sp->to) < 0)
		return -EINVAL;
	sp->to = line_end(doc, len, sp->to);
	if (json_array_size(tags) == 0) {
		/* a block list cannot be empty: "tags: []" on the key's line */
		size_t colon;

		if (colon_after(doc, len, k, &colon) < 0 || colon > start)
			return -EINVAL;
		/* two spans in one: keep doc[colon, start) between them */
		buf_puts(&sp->text, " []");
		buf_add(&sp->text, doc + colon, start - colon);
		sp->from = colon;
		return 0;
	}
	sp->from = start;
	json_array_foreach(tags, i, t) {
		buf_add(&sp->text, doc + start, voff - start);
		buf_puts(&sp->text, "- ");
		put_tag(&sp->text, json_string_value(t));
		buf_putc(&sp->text, '\n');
	}
	if (sp->to == len && (len == 0 || doc[len - 1] != '\n'))
		sp->text.data[--sp->text.len] = '\0'; /* the document ended without one */
	return 0;
}

/* value_span - what to replace for the value v of key k. */
static int value_span(const char *doc, size_t len, const struct ynode *k, const struct ynode *v,
		      const json_t *tags, struct span *sp)
{
	size_t voff;

	/* an alias points at a node defined elsewhere: its position is not here */
	if (v->line < k->line || (v->line == k->line && v->col <= k->col))
		return -EINVAL;
	if (v->kind == YN_SCALAR && !v->quoted && v->len == 0) {
		/* "tags:" with nothing: the value goes right after the colon */
		if (colon_after(doc, len, k, &sp->from) < 0)
			return -EINVAL;
		sp->to = sp->from;
		buf_putc(&sp->text, ' ');
		flow_list(&sp->text, tags);
		return 0;
	}
	if (line_off(doc, len, v->line, v->col, &voff) < 0 || voff >= len)
		return -EINVAL;
	sp->from = voff;
	if (v->kind == YN_SEQ && doc[voff] == '[') {
		if (flow_end(doc, len, voff, &sp->to) < 0)
			return -EINVAL;
	} else if (v->kind == YN_SEQ && doc[voff] == '-' && v->n > 0) {
		return block_span(doc, len, k, v, voff, tags, sp);
	} else if (v->kind == YN_SCALAR && (doc[voff] == '"' || doc[voff] == '\'')) {
		if (quoted_end(doc, len, voff, &sp->to) < 0)
			return -EINVAL;
	} else if (v->kind == YN_SCALAR && !v->quoted && v->line == k->line &&
		   voff + v->len <= len && !memcmp(doc + voff, v->str, v->len)) {
		sp->to = voff + v->len;
	} else {
		return -EINVAL;
	}
	flow_list(&sp->text, tags);
	return 0;
}

/* same_values - whether a's root map and b's agree on every key but
 * "tags", and b's tags are exactly tags. */
static bool same_values(const struct ynode *a, const struct ynode *b, const json_t *tags)
{
	size_t na = a ? a->n : 0, want = na;
	json_t *bt;
	bool ok;

	if (!b || b->kind != YN_MAP)
		return false;
	if (!a || !ynode_map_get(a, "tags"))
		want++;
	if (b->n != want)
		return false;
	for (size_t i = 0; i < na; i++) {
		const struct ynode *key = a->items[2 * i], *bv;
		json_t *x, *y;

		if (key->kind != YN_SCALAR || !strcmp(key->str, "tags"))
			continue;
		bv = ynode_map_get(b, key->str);
		if (!bv)
			return false;
		x = ynode_to_json(a->items[2 * i + 1], false);
		y = ynode_to_json(bv, false);
		ok = x && y && json_equal(x, y);
		json_decref(x);
		json_decref(y);
		if (!ok)
			return false;
	}
	bt = ynode_to_json(ynode_map_get(b, "tags"), false);
	ok = bt && json_equal(bt, tags);
	json_decref(bt);
	return ok;
}

int node_doc_set_tags(const char *name, const char *doc, size_t len, const json_t *tags,
		      struct buf *out, struct tend_err *err)
{
	struct ydoc *y = NULL, *y2 = NULL;
	struct ynode *root, *k = NULL, *v = NULL;
	struct span sp = { 0, 0, BUF_INIT };
	int r;

	buf_reset(out);
	r = tags_ok(name, tags, err);
	if (r < 0)
		return r;
	if (!doc)
		doc = "", len = 0;
	r = ydoc_load(name, doc, len, &y, err);
	if (r < 0) {
		err_prefix(err, "the document is broken already");
		return r;
	}
	root = ydoc_root(y);
	if (root && root->kind != YN_MAP) {
		r = err_set(err, -EINVAL, "%s: the document is %s, not a map", name,
			    ynode_kind_name(root));
		goto out;
	}
	for (size_t i = 0; root && i < root->n; i++)
		if (root->items[2 * i]->kind == YN_SCALAR &&
		    !strcmp(root->items[2 * i]->str, "tags"))
			k = root->items[2 * i], v = root->items[2 * i + 1];
	if (!k) {
		/* no tags yet: a line at the end */
		sp.from = sp.to = len;
		if (len && doc[len - 1] != '\n')
			buf_putc(&sp.text, '\n');
		buf_puts(&sp.text, "tags: ");
		flow_list(&sp.text, tags);
		buf_putc(&sp.text, '\n');
	} else if (value_span(doc, len, k, v, tags, &sp) < 0) {
		r = err_set(
			err, -EINVAL,
			"%s:%d:%d: cannot rewrite this 'tags:' value in place; edit the file itself",
			name, k->line, k->col);
		goto out;
	}
	if (buf_add(out, doc, sp.from) < 0 || buf_add(out, sp.text.data, sp.text.len) < 0 ||
	    buf_add(out, doc + sp.to, len - sp.to) < 0) {
		r = err_set(err, -EFBIG, "%s: too large", name);
		goto out;
	}
	/* prove it: the new document says the same but for the tags */
	r = ydoc_load(name, buf_str(out), out->len, &y2, NULL);
	if (r < 0 || !same_values(root, ydoc_root(y2), tags))
		r = k ? err_set(err, -EINVAL,
				"%s:%d:%d: cannot rewrite this 'tags:' value in place; edit the file itself",
				name, k->line, k->col) :
			err_set(err, -EINVAL,
				"%s: cannot add 'tags:' to this document in place; edit the file itself",
				name);
out:
	if (r < 0)
		buf_reset(out);
	buf_free(&sp.text);
	ydoc_free(y2);
	ydoc_free(y);
	return r;
}
