/*
 * catalog.c - the resource set: identity index, merge rule, variables
 * (see catalog.h).  Parsing of manifest files is in manifest.c.
 */
#include "model/catalog.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "model/catalog_int.h"
#include "model/schema.h"
#include "model/yaml.h"
#include "resources/external.h"
#include "util/strutil.h"

void catalog_init(struct catalog *c)
{
	memset(c, 0, sizeof(*c));
	c->vars = json_object();
	c->var_pos = json_object();
}

static void change_free(struct change *ch)
{
	free(ch->what);
	free(ch->from);
	free(ch->to);
	free(ch->diff);
}

void res_clear_changes(struct resource *r)
{
	for (size_t i = 0; i < r->nchanges; i++)
		change_free(&r->changes[i]);
	free(r->changes);
	r->changes = NULL;
	r->nchanges = 0;
}

static void resource_free(struct resource *r)
{
	if (r->state && r->type->free_state)
		r->type->free_state(r);
	free(r->state);
	if (r->desired) {
		if (r->type->free_desired)
			r->type->free_desired(r);
		schema_free_desired(r);
	}
	free(r->desired);
	for (size_t i = 0; i < r->nattrs; i++)
		json_decref(r->attrs[i].val);
	free(r->attrs);
	if (r->rel) {
		strlist_free(&r->rel->requires);
		strlist_free(&r->rel->before);
		strlist_free(&r->rel->notify);
		strlist_free(&r->rel->subscribe);
		free(r->rel);
	}
	if (!r->deps_pooled)
		free(r->deps);
	free(r->notifies);
	res_clear_changes(r);
	free(r->message);
	if (r->output) {
		buf_free(r->output);
		free(r->output);
	}
	free(r);
}

struct buf *res_output(struct resource *r, size_t max)
{
	if (!r->output) {
		r->output = xcalloc(1, sizeof(*r->output));
		buf_init(r->output, max);
	}
	return r->output;
}

void catalog_free(struct catalog *c)
{
	for (size_t i = 0; i < c->n; i++)
		resource_free(c->res[i]);
	free(c->res);
	free(c->index);
	for (size_t i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
	catalog_share_end(c);
	json_decref(c->vars);
	json_decref(c->var_pos);
	ext_types_free(c->ext_types);
	memset(c, 0, sizeof(*c));
}

const char *catalog_intern(struct catalog *c, const char *s)
{
	for (size_t i = 0; i < c->nfiles; i++)
		if (!strcmp(c->files[i], s))
			return c->files[i];
	c->files = xrealloc(c->files, (c->nfiles + 1) * sizeof(*c->files));
	c->files[c->nfiles] = xstrdup(s);
	return c->files[c->nfiles++];
}

static size_t hash_str(const char *s)
{
	size_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

#define SHARED_SLOTS 4096
#define SHARED_MAX_LEN 64

json_t *catalog_share_value(struct catalog *c, json_t *v)
{
	const char *s;
	size_t len, h = 14695981039346656037ULL, i;

	if (!json_is_string(v) || (len = json_string_length(v)) > SHARED_MAX_LEN)
		return v;
	s = json_string_value(v);
	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	i = h & (SHARED_SLOTS - 1);
	if (!c->shared)
		c->shared = xcalloc(SHARED_SLOTS, sizeof(*c->shared));
	if (c->shared[i] && json_string_length(c->shared[i]) == len &&
	    !memcmp(json_string_value(c->shared[i]), s, len)) {
		json_decref(v);
		return json_incref(c->shared[i]);
	}
	/* a collision replaces the slot: values that repeat keep winning it */
	json_decref(c->shared[i]);
	c->shared[i] = json_incref(v);
	return v;
}

void catalog_share_end(struct catalog *c)
{
	if (!c->shared)
		return;
	for (size_t i = 0; i < SHARED_SLOTS; i++)
		json_decref(c->shared[i]);
	free(c->shared);
	c->shared = NULL;
}

static void index_put(struct catalog *c, struct resource *r)
{
	size_t i = hash_str(r->id) & (c->index_cap - 1);

	while (c->index[i])
		i = (i + 1) & (c->index_cap - 1);
	c->index[i] = r;
}

/* index_grow - keep the index at most 3/4 full (FNV-1a spreads ids well
 * enough for linear probing at that load). */
static void index_grow(struct catalog *c)
{
	if (c->index_cap && (c->n + 1) * 4 <= c->index_cap * 3)
		return;
	free(c->index);
	c->index_cap = c->index_cap ? c->index_cap * 2 : 256;
	c->index = xcalloc(c->index_cap, sizeof(*c->index));
	for (size_t i = 0; i < c->n; i++)
		index_put(c, c->res[i]);
}

struct resource *catalog_find(const struct catalog *c, const char *id)
{
	size_t i;

	if (!c->index_cap)
		return NULL;
	for (i = hash_str(id) & (c->index_cap - 1); c->index[i]; i = (i + 1) & (c->index_cap - 1))
		if (!strcmp(c->index[i]->id, id))
			return c->index[i];
	return NULL;
}

struct resource *catalog_new_resource(struct catalog *c, const struct res_type *t,
				      const char *name, const struct srcpos *pos,
				      const struct srcpos *name_pos)
{
	size_t tl = strlen(t->name), nl = strlen(name);
	/* one allocation: the resource, then "TYPE:NAME" (the name is its tail) */
	struct resource *r = xcalloc(1, offsetof(struct resource, idbuf) + tl + nl + 2);

	r->type = t;
	r->id = r->idbuf;
	memcpy(r->id, t->name, tl);
	r->id[tl] = ':';
	memcpy(r->id + tl + 1, name, nl);
	r->name = r->id + tl + 1;
	r->pos = *pos;
	/* the name is in the declaration's document: its file is pos's */
	r->name_pos.line = name_pos->line;
	r->name_pos.col = name_pos->col;
	index_grow(c);
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->res = xrealloc(c->res, c->cap * sizeof(*c->res));
	}
	c->res[c->n++] = r;
	index_put(c, r);
	return r;
}

void catalog_set_attr_take(struct catalog *c, struct resource *r, const char *key, json_t *val,
			   const struct srcpos *key_pos, const struct srcpos *val_pos)
{
	const struct res_attr *sa = schema_attr(r->type, key);
	for (size_t i = 0; i < r->nattrs; i++) {
		if (!strcmp(r->attrs[i].key, key)) {
			json_decref(r->attrs[i].val);
			r->attrs[i].val = val;
			r->attrs[i].key_pos = *key_pos;
			r->attrs[i].val_pos = *val_pos;
			return;
		}
	}
	r->attrs = xrealloc(r->attrs, (r->nattrs + 1) * sizeof(*r->attrs));
	/* keys repeat across thousands of resources: share one copy */
	if (sa) {
		r->attrs[r->nattrs].key = sa->name;
	} else {
		const char *k = NULL;

		for (size_t i = 0; schema_meta_attrs[i] && !k; i++)
			if (!strcmp(schema_meta_attrs[i], key))
				k = schema_meta_attrs[i];
		r->attrs[r->nattrs].key = k ? k : catalog_intern(c, key);
	}
	r->attrs[r->nattrs].val = val;
	r->attrs[r->nattrs].key_pos = *key_pos;
	r->attrs[r->nattrs].val_pos = *val_pos;
	r->nattrs++;
}

const struct raw_attr *res_find_attr(const struct resource *r, const char *key)
{
	for (size_t i = 0; i < r->nattrs; i++)
		if (!strcmp(r->attrs[i].key, key))
			return &r->attrs[i];
	return NULL;
}

/* merge_pos - p with its file name interned in c (last is a one-entry cache). */
static struct srcpos merge_pos(struct catalog *c, const struct srcpos *p, const char **last_src,
			       const char **last_dst)
{
	struct srcpos q = *p;

	if (!p->file)
		return q;
	if (p->file != *last_src) {
		*last_src = p->file;
		*last_dst = catalog_intern(c, p->file);
	}
	q.file = *last_dst;
	return q;
}

/* merge_type - t as c's own: custom types belong to their catalog. */
static const struct res_type *merge_type(struct catalog *c, const struct res_type *t)
{
	const char *exe = ext_type_path(t);
	size_t el, nl = strlen(t->name);
	char dir[4096];

	if (!exe)
		return t;
	el = strlen(exe);
	if (el <= nl + 1 || el - nl - 1 >= sizeof(dir))
		return NULL;
	memcpy(dir, exe, el - nl - 1);
	dir[el - nl - 1] = '\0';
	return ext_type_get(&c->ext_types, t->name, dir);
}

int catalog_merge(struct catalog *c, const struct catalog *src, struct tend_err *err)
{
	const char *k, *ls = NULL, *ld = NULL;
	json_t *v;

	c->docs++;
	json_object_foreach(src->vars, k, v) {
		json_object_set(c->vars, k, v);
		json_object_set(c->var_pos, k, json_object_get(src->var_pos, k));
	}
	for (size_t i = 0; i < src->n; i++) {
		const struct resource *s = src->res[i];
		const struct res_type *t = merge_type(c, s->type);
		struct resource *r = catalog_find(c, s->id);

		if (!t)
			return err_set(err, -EINVAL, "%s: custom type path too long", s->id);
		if (!r) {
			struct srcpos p = merge_pos(c, &s->pos, &ls, &ld);
			struct srcpos np = res_name_pos(s);

			r = catalog_new_resource(c, t, s->name, &p, &np);
		}
		for (size_t j = 0; j < s->nattrs; j++) {
			const struct raw_attr *a = &s->attrs[j];
			struct srcpos kp = merge_pos(c, &a->key_pos, &ls, &ld);
			struct srcpos vp = merge_pos(c, &a->val_pos, &ls, &ld);

			if (!a->val)
				return err_at(err, -EINVAL, kp.file, kp.line, kp.col,
					      "%s: '%s' was decoded already and cannot be merged", s->id, a->key);
			catalog_set_attr_take(c, r, a->key, json_incref(a->val), &kp, &vp);
		}
	}
	return 0;
}

int catalog_set_var(struct catalog *c, const char *key, const char *value, struct tend_err *err)
{
	struct ydoc *d = NULL;
	json_t *v;
	int r;

	if (!*key || strchr(key, '.') || !strcmp(key, "facts"))
		return err_set(err, -EINVAL, "--var %s: invalid variable name (and 'facts' is reserved)", key);
	r = ydoc_load("--var", value, strlen(value), &d, err);
	if (r < 0)
		return r;
	if (!ydoc_root(d))
		v = json_string("");
	else if (ydoc_root(d)->kind == YN_SCALAR)
		v = ynode_to_json(ydoc_root(d), true);
	else
		v = json_string(value);
	ydoc_free(d);
	json_object_set_new(c->vars, key, v);
	json_object_set_new(c->var_pos, key, json_string("--var"));
	return 0;
}
