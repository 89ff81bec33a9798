/*
 * manifest.c - reading manifest documents into a catalog.
 *
 *   vars:       map of template variables
 *   resources:  list of maps; the first key names the type and its value
 *               the resource's name: "- file: /etc/motd"
 *
 * Everything is checked against the schema here, with positions: unknown
 * top-level keys, unknown types and attributes (with suggestions),
 * duplicate identities within one document.  A type that is not built in
 * may be a custom type: an executable found beside the manifest
 * (registry.h), which takes any attribute.  Values are decoded later
 * (schema.c), when the template context exists.  tend-server sets hooks
 * (catalog.h) to find custom types in its repository and to read the
 * 'tags' of node documents.
 */
#include "model/catalog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/catalog_int.h"
#include "model/schema.h"
#include "model/yaml.h"
#include "resources/registry.h"
#include "util/strutil.h"

static const char *const top_keys[] = { "vars", "resources", NULL };

static struct srcpos pos_of(const char *file, const struct ynode *n)
{
	struct srcpos p = { file, n ? n->line : 0, n ? n->col : 0 };

	return p;
}

static int merge_vars(struct catalog *c, const char *file, const struct ynode *vars,
		      struct tend_err *err)
{
	if (vars->kind != YN_MAP)
		return err_at(err, -EINVAL, file, vars->line, vars->col,
			      "'vars' must be a map of names to values, not %s", ynode_kind_name(vars));
	for (size_t i = 0; i < vars->n; i++) {
		const struct ynode *k = vars->items[2 * i], *v = vars->items[2 * i + 1];
		json_t *j;
		char where[1024];

		if (k->kind != YN_SCALAR || !k->len || strchr(k->str, '.'))
			return err_at(err, -EINVAL, file, k->line, k->col,
				      "variable names must be plain words without dots");
		if (!strcmp(k->str, "facts"))
			return err_at(err, -EINVAL, file, k->line, k->col,
				      "'facts' is reserved for facts and cannot be a variable");
		j = ynode_to_json(v, true);
		if (!j)
			return err_at(err, -EINVAL, file, v->line, v->col,
				      "value of '%s' is too deeply nested or too large", k->str);
		json_object_set_new(c->vars, k->str, j);
		snprintf(where, sizeof(where), "%s:%d", file, k->line);
		json_object_set_new(c->var_pos, k->str, json_string(where));
	}
	return 0;
}

/* check_dup - refuse a second declaration of one identity in one document. */
static int check_dup(struct catalog *c, struct resource *r, const char *file, const struct ynode *at,
		     struct tend_err *err)
{
	if (r->seen_doc == c->docs)
		return err_at(err, -EINVAL, file, at->line, at->col,
			      "duplicate resource %s (first declared at line %d)", r->id, r->seen_line);
	r->seen_doc = c->docs;
	r->seen_line = at->line;
	return 0;
}

/* type_of - a built-in type, else a custom type found beside file or in the types path. */
static int type_of(struct catalog *c, const char *file, const struct ynode *key,
		   const struct res_type **ret, struct tend_err *err)
{
	char why[1024];
	const char *hint;
	int r;

	if (c->type_lookup && !res_type_find(key->str))
		r = c->type_lookup(c->hook_arg, c, key->str, ret, why, sizeof(why));
	else
		r = res_type_lookup(key->str, file, &c->ext_types, ret, why, sizeof(why));

	if (r == 0)
		return 0;
	if (r != -ENOENT)
		return err_at(err, -EINVAL, file, key->line, key->col, "%s", why);
	hint = closest_name(key->str, res_type_names());
	if (hint)
		return err_at(err, -EINVAL, file, key->line, key->col,
			      "unknown resource type '%s' (did you mean '%s'? %s)", key->str, hint, why);
	return err_at(err, -EINVAL, file, key->line, key->col,
		      "unknown resource type '%s' (a resource starts with its type, e.g. '- file: /etc/motd'; %s)",
		      key->str, why);
}

static int add_resource(struct catalog *c, const char *file, const struct ynode *item,
			struct tend_err *err)
{
	const struct res_type *t = NULL;
	const struct ynode *tk, *nv;
	struct resource *r;
	struct srcpos pos, npos;
	int ret;

	if (item->kind != YN_MAP || item->n == 0)
		return err_at(err, -EINVAL, file, item->line, item->col,
			      "expected a resource (a map starting with TYPE: NAME), found %s",
			      ynode_kind_name(item));
	tk = item->items[0];
	nv = item->items[1];
	if (tk->kind != YN_SCALAR)
		return err_at(err, -EINVAL, file, tk->line, tk->col, "a resource type must be a word");
	ret = type_of(c, file, tk, &t, err);
	if (ret < 0)
		return ret;
	if (nv->kind != YN_SCALAR || nv->len == 0 || (!nv->quoted && !strcmp(nv->str, "~")))
		return err_at(err, -EINVAL, file, nv->line, nv->col,
			      "%s needs a name: '- %s: NAME', found %s", t->name, t->name,
			      nv->len == 0 && nv->kind == YN_SCALAR ? "nothing" : ynode_kind_name(nv));
	if (memchr(nv->str, '\0', nv->len) || memchr(nv->str, '\n', nv->len))
		return err_at(err, -EINVAL, file, nv->line, nv->col, "a resource name must be one line");
	if (strstr(nv->str, "{{"))
		return err_at(err, -EINVAL, file, nv->line, nv->col,
			      "a resource name is its identity and is never a template; put {{ }} in attributes");
	pos = pos_of(file, tk);
	npos = pos_of(file, nv);
	{
		char id[8192];

		snprintf(id, sizeof(id), "%s:%s", t->name, nv->str);
		r = catalog_find(c, id);
	}
	if (!r)
		r = catalog_new_resource(c, t, nv->str, &pos, &npos);
	ret = check_dup(c, r, file, tk, err);
	if (ret < 0)
		return ret;
	for (size_t i = 1; i < item->n; i++) {
		const struct ynode *k = item->items[2 * i], *v = item->items[2 * i + 1];
		struct srcpos kp = pos_of(file, k), vp = pos_of(file, v);
		json_t *j;

		if (k->kind != YN_SCALAR)
			return err_at(err, -EINVAL, file, k->line, k->col, "attribute names must be words");
		if (!t->open_schema && res_type_find(k->str) && !schema_attr(t, k->str) &&
		    !schema_is_meta(k->str))
			return err_at(err, -EINVAL, file, k->line, k->col,
				      "'%s' inside %s: is this a new resource? start it with '- %s:'",
				      k->str, r->id, k->str);
		ret = schema_check_key(t, r->id, k->str, &kp, err);
		if (ret < 0)
			return ret;
		/* what a custom type gets is JSON: keep YAML's types (8080 is a number) */
		j = ynode_to_json(v, t->open_schema && !schema_attr(t, k->str) && !schema_is_meta(k->str));
		if (!j)
			return err_at(err, -EINVAL, file, v->line, v->col, "value too deeply nested or too large");
		catalog_set_attr_take(c, r, k->str, catalog_share_value(c, j), &kp, &vp);
	}
	return 0;
}

struct item_ctx {
	struct catalog *c;
	const char *file;
	struct tend_err *err;
};

/* on_item - a resource item, as soon as the parser has it (streaming). */
static int on_item(void *arg, const struct ynode *item)
{
	struct item_ctx *x = arg;

	return add_resource(x->c, x->file, item, x->err);
}

/* add_doc - the document's top level, once its resources are in (streamed). */
static int add_doc(struct catalog *c, const char *file, struct ydoc *d, struct tend_err *err)
{
	const struct ynode *root = ydoc_root(d);
	int r = 0;

	if (!root)
		return 0; /* an empty document declares nothing */
	if (root->kind != YN_MAP)
		return err_at(err, -EINVAL, file, root->line, root->col,
			      "expected a map with 'vars' and 'resources', found %s", ynode_kind_name(root));
	for (size_t i = 0; i < root->n && r == 0; i++) {
		const struct ynode *k = root->items[2 * i], *v = root->items[2 * i + 1];
		const char *hint;

		if (k->kind == YN_SCALAR && !strcmp(k->str, "vars")) {
			if (!(v->kind == YN_SCALAR && !v->quoted && v->len == 0))
				r = merge_vars(c, file, v, err);
		} else if (k->kind == YN_SCALAR && !strcmp(k->str, "resources")) {
			if (v->kind == YN_SCALAR && !v->quoted && v->len == 0)
				continue;
			if (v->kind != YN_SEQ)
				r = err_at(err, -EINVAL, file, v->line, v->col,
					   "'resources' must be a list (each item '- TYPE: NAME'), not %s",
					   ynode_kind_name(v));
			/* the items themselves were added as they were parsed (on_item) */
		} else if (k->kind == YN_SCALAR && !strcmp(k->str, "tags") && c->on_tags) {
			r = c->on_tags(c->hook_arg, file, v, err);
		} else if (k->kind == YN_SCALAR && !strcmp(k->str, "tags")) {
			r = err_at(err, -EINVAL, file, k->line, k->col,
				   "'tags' belongs in a node document on tend-server, not in a manifest applied directly");
		} else {
			hint = k->kind == YN_SCALAR ? closest_name(k->str, top_keys) : NULL;
			r = err_at(err, -EINVAL, file, k->line, k->col,
				   "unknown top-level key '%s'%s%s%s (expected 'vars' or 'resources')",
				   k->kind == YN_SCALAR ? k->str : "?", hint ? " (did you mean '" : "",
				   hint ? hint : "", hint ? "'?)" : "");
		}
	}
	return r;
}

int catalog_add_buf(struct catalog *c, const char *name, const char *data, size_t len,
		    struct tend_err *err)
{
	struct item_ctx x = { c, catalog_intern(c, name), err };
	struct ydoc_stream st = { "resources", on_item, &x };
	struct ydoc *d;
	int r;

	c->docs++;
	r = ydoc_load_stream(x.file, data, len, &st, &d, err);
	if (r < 0)
		return r;
	r = add_doc(c, x.file, d, err);
	ydoc_free(d);
	return r;
}

int catalog_add_file(struct catalog *c, const char *path, struct tend_err *err)
{
	struct item_ctx x = { c, catalog_intern(c, path), err };
	struct ydoc_stream st = { "resources", on_item, &x };
	struct ydoc *d;
	int r;

	c->docs++;
	r = ydoc_load_file_stream(x.file, &st, &d, err);
	if (r < 0)
		return r;
	r = add_doc(c, x.file, d, err);
	ydoc_free(d);
	return r;
}
