/*
 * schema.c - decoding raw attributes into a type's desired struct by the
 * type's schema table (see schema.h).
 */
#include "model/schema.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "model/template.h"
#include "util/fsroot.h"
#include "util/strutil.h"

const char *const schema_meta_attrs[] = {
	"requires", "before", "notify", "subscribe", "sensitive", NULL,
};

bool schema_is_meta(const char *key)
{
	for (size_t i = 0; schema_meta_attrs[i]; i++)
		if (!strcmp(schema_meta_attrs[i], key))
			return true;
	return false;
}

const struct res_attr *schema_attr(const struct res_type *t, const char *key)
{
	for (const struct res_attr *a = t->attrs; a->name; a++)
		if (!strcmp(a->name, key))
			return a;
	return NULL;
}

int schema_check_key(const struct res_type *t, const char *id, const char *key,
		     const struct srcpos *pos, struct tend_err *err)
{
	const char *names[64], *hint;
	size_t n = 0;

	if (schema_is_meta(key) || schema_attr(t, key) || t->open_schema)
		return 0;
	for (const struct res_attr *a = t->attrs; a->name && n < 50; a++)
		names[n++] = a->name;
	for (size_t i = 0; schema_meta_attrs[i] && n < 63; i++)
		names[n++] = schema_meta_attrs[i];
	names[n] = NULL;
	hint = closest_name(key, names);
	if (hint)
		return err_at(err, -EINVAL, pos->file, pos->line, pos->col,
			      "unknown attribute '%s' in %s (did you mean '%s'?)", key, id, hint);
{
		char list[1024];
		size_t len = 0;

		list[0] = '\0';
		for (size_t i = 0; names[i] && len < sizeof(list); i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", names[i]);
		return err_at(err, -EINVAL, pos->file, pos->line, pos->col,
			      "unknown attribute '%s' in %s (%s accepts: %s)", key, id, t->name, list);
	}
}

void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void strlist_push(struct strlist *l, const char *s)
{
	l->v = xrealloc(l->v, (l->n + 2) * sizeof(*l->v));
	l->v[l->n++] = xstrdup(s);
	l->v[l->n] = NULL;
	l->set = true;
}

int res_err_attr(const struct resource *r, struct tend_err *err, const char *key,
		 const char *fmt, ...)
{
	const struct raw_attr *a = key ? res_find_attr(r, key) : NULL;
	const struct srcpos *p = a ? &a->val_pos : &r->pos;
	char msg[TEND_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_at(err, -EINVAL, p->file, p->line, p->col, "%s", msg);
}

/* render - a string attribute through the template engine, unless ATTR_RAW. */
static int render(const struct raw_attr *a, const char *s, struct res_ctx *ctx, unsigned flags,
		  char **ret, struct tend_err *err)
{
	struct buf out;
	struct tend_err terr;
	const char *msg;
	int r;

	if ((flags & ATTR_RAW) || !ctx || !ctx->tmpl || !tmpl_has_tags(s, strlen(s))) {
		*ret = xstrdup(s);
		return 0;
	}
	buf_init(&out, (size_t)16 << 20);
	r = tmpl_render(s, strlen(s), "\x01", ctx->tmpl, &out, &terr);
	if (r < 0) {
		buf_free(&out);
		/* the engine's message starts "\x01:LINE:COL: "; re-position at the attribute */
		msg = terr.msg;
		for (int colons = 0; *msg && colons < 3; msg++)
			colons += (*msg == ':');
		while (*msg == ' ')
			msg++;
		/* -ENODATA: a fact while facts are unknown (template.h) */
		return err_at(err, r == -ENODATA ? -ENODATA : -EINVAL, a->val_pos.file,
			      a->val_pos.line, a->val_pos.col, "%s (in '%s')", *msg ? msg : terr.msg,
			      a->key);
	}
	*ret = buf_steal(&out);
	return 0;
}

/* render_json - v with every string rendered; depth is bounded by the YAML reader. */
static int render_json(const struct raw_attr *a, json_t *v, struct res_ctx *ctx, json_t **ret,
		       struct tend_err *err)
{
	json_t *out, *item, *x;
	const char *k;
	size_t i;
	char *s;
	int r = 0;

	if (json_is_string(v)) {
		r = render(a, json_string_value(v), ctx, 0, &s, err);
		if (r < 0)
			return r;
		out = json_string(s);
		free(s);
		if (!out)
			return err_at(err, -EINVAL, a->val_pos.file, a->val_pos.line, a->val_pos.col,
				      "'%s': a rendered value is not valid UTF-8", a->key);
		*ret = out;
		return 0;
	}
	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach(v, i, item) {
			if ((r = render_json(a, item, ctx, &x, err)) < 0)
				break;
			json_array_append_new(out, x);
		}
	} else if (json_is_object(v)) {
		out = json_object();
		json_object_foreach(v, k, item) {
			if ((r = render_json(a, item, ctx, &x, err)) < 0)
				break;
			json_object_set_new(out, k, x);
		}
	} else {
		out = json_incref(v);
	}
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}

int schema_render_json(const struct raw_attr *a, struct res_ctx *ctx, json_t **ret,
		       struct tend_err *err)
{
	return render_json(a, a->val, ctx, ret, err);
}

static int want_scalar(const struct resource *r, const struct raw_attr *a, struct tend_err *err,
		       const char *what)
{
	if (json_is_string(a->val))
		return 0;
	return err_at(err, -EINVAL, a->val_pos.file, a->val_pos.line, a->val_pos.col,
		      "'%s' of %s must be %s, not a %s", a->key, r->id, what,
		      json_is_array(a->val) ? "list" : json_is_object(a->val) ? "map" : "null");
}

static int decode_list(const struct resource *r, const struct raw_attr *a, struct res_ctx *ctx,
		       unsigned flags, bool map, struct strlist *out, struct tend_err *err)
{
	size_t i;
	json_t *v;
	const char *k;
	char *s;
	int ret;

	out->set = true;
	if (json_is_string(a->val)) {
		ret = render(a, json_string_value(a->val), ctx, flags, &s, err);
		if (ret < 0)
			return ret;
		strlist_push(out, s);
		out->scalar = true;
		free(s);
		return map && !strchr(out->v[0], '=') ? res_err_attr(r, err, a->key,
			"'%s' of %s: expected KEY=VALUE or a map, found '%s'", a->key, r->id, out->v[0]) : 0;
	}
	if (map && json_is_object(a->val)) {
		json_object_foreach(a->val, k, v) {
			char *kv;
			size_t n;

			if (!json_is_string(v))
				return res_err_attr(r, err, a->key, "'%s' of %s: the value of '%s' must be a string",
						    a->key, r->id, k);
			ret = render(a, json_string_value(v), ctx, flags, &s, err);
			if (ret < 0)
				return ret;
			n = strlen(k) + strlen(s) + 2;
			kv = xcalloc(1, n);
			snprintf(kv, n, "%s=%s", k, s);
			strlist_push(out, kv);
			free(kv);
			free(s);
		}
		return 0;
	}
	if (!json_is_array(a->val))
		return res_err_attr(r, err, a->key, "'%s' of %s must be a list%s", a->key, r->id,
				    map ? " or a map" : "");
	json_array_foreach(a->val, i, v) {
		if (!json_is_string(v))
			return res_err_attr(r, err, a->key, "'%s' of %s: item %zu must be a string",
					    a->key, r->id, i + 1);
		ret = render(a, json_string_value(v), ctx, flags, &s, err);
		if (ret < 0)
			return ret;
		if (map && !strchr(s, '=')) {
			ret = res_err_attr(r, err, a->key, "'%s' of %s: expected KEY=VALUE, found '%s'",
					   a->key, r->id, s);
			free(s);
			return ret;
		}
		strlist_push(out, s);
		free(s);
	}
	if (!out->v) {
		out->v = xcalloc(1, sizeof(*out->v));
	}
	return 0;
}

static int decode_scalar(const struct resource *r, const struct res_attr *sa, const char *s,
			 void *field, const struct raw_attr *a, struct tend_err *err)
{
	const struct srcpos *p = a ? &a->val_pos : &r->pos;
	const char *key = sa->name;
	long long ll;
	unsigned mode;
	bool b;
	double d;

	switch (sa->kind) {
	case ATTR_STRING:
		*(char **)field = xstrdup(s);
		return 0;
	case ATTR_PATH:
		if (!fsroot_path_ok(s))
			return err_at(err, -EINVAL, p->file, p->line, p->col,
				      "'%s' of %s must be an absolute path without '.', '..' or '//', found '%s'",
				      key, r->id, s);
		*(char **)field = xstrdup(s);
		return 0;
	case ATTR_BOOL:
		if (str_to_bool(s, &b) < 0)
			return err_at(err, -EINVAL, p->file, p->line, p->col,
				      "'%s' of %s must be true or false, found '%s'", key, r->id, s);
		*(int *)field = b;
		return 0;
	case ATTR_INT:
		if (str_to_ll(s, 10, 0, LLONG_MAX, &ll) < 0)
			return err_at(err, -EINVAL, p->file, p->line, p->col,
				      "'%s' of %s must be a whole number, found '%s'", key, r->id, s);
		*(long long *)field = ll;
		return 0;
	case ATTR_MODE:
		if (str_to_mode(s, &mode) < 0)
			return err_at(err, -EINVAL, p->file, p->line, p->col,
				      "'%s' of %s must be octal permissions like \"0644\", found '%s'", key,
				      r->id, s);
		*(int *)field = (int)mode;
		return 0;
	case ATTR_DURATION:
		if (str_to_duration(s, &d) < 0)
			return err_at(err, -EINVAL, p->file, p->line, p->col,
				      "'%s' of %s must be a duration like 300, 30s, 5m or 1h, found '%s'",
				      key, r->id, s);
		*(double *)field = d;
		return 0;
	case ATTR_ENUM:
		for (int i = 0; sa->choices[i]; i++)
			if (!strcmp(sa->choices[i], s)) {
				*(int *)field = i;
				return 0;
			}
		{
			char list[512] = "";
			size_t n = 0;

			for (int i = 0; sa->choices[i] && n < sizeof(list); i++)
				n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
						      sa->choices[i]);
			return err_at(err, -EINVAL, p->file, p->line, p->col,
				      "'%s' of %s must be one of %s, found '%s'", key, r->id, list, s);
		}
	default:
		return -EINVAL;
	}
}

static void set_unset(const struct res_attr *sa, void *field)
{
	switch (sa->kind) {
	case ATTR_STRING:
	case ATTR_PATH:
		*(char **)field = NULL;
		break;
	case ATTR_BOOL:
	case ATTR_MODE:
	case ATTR_ENUM:
		*(int *)field = -1;
		break;
	case ATTR_INT:
		*(long long *)field = ATTR_INT_UNSET;
		break;
	case ATTR_DURATION:
		*(double *)field = -1;
		break;
	default:
		memset(field, 0, sizeof(struct strlist));
		break;
	}
}

static int decode_meta(struct resource *r, const struct raw_attr *a, struct res_ctx *ctx,
		       struct tend_err *err)
{
	static const struct res_attr sens = { "sensitive", ATTR_BOOL, 0, 0, NULL, NULL, NULL };
	struct strlist *l = NULL;
	int b = -1, ret;

	if (!strcmp(a->key, "sensitive")) {
		if (want_scalar(r, a, err, "true or false") < 0)
			return -EINVAL;
		ret = decode_scalar(r, &sens, json_string_value(a->val), &b, a, err);
		r->sensitive = b == 1;
		return ret;
	}
	if (!r->rel)
		r->rel = xcalloc(1, sizeof(*r->rel));
	if (!strcmp(a->key, "requires"))
		l = &r->rel->requires;
	else if (!strcmp(a->key, "before"))
		l = &r->rel->before;
	else if (!strcmp(a->key, "notify"))
		l = &r->rel->notify;
	else
		l = &r->rel->subscribe;
	strlist_free(l);
	ret = decode_list(r, a, ctx, ATTR_RAW, false, l, err);
	for (size_t i = 0; ret == 0 && i < l->n; i++)
		if (!strchr(l->v[i], ':'))
			ret = res_err_attr(r, err, a->key,
					   "'%s' of %s: '%s' is not a resource identity (expected TYPE:NAME, e.g. file:/etc/motd)",
					   a->key, r->id, l->v[i]);
	return ret;
}

/*
 * schema_decode - (schema.h).  With facts unknown (a template context
 * holding "facts": null, see template.h), a value that needs a fact is
 * left unset and the type's check() is skipped: the node decodes it once
 * it knows its facts.
 */
int schema_decode(struct resource *r, struct res_ctx *ctx, struct tend_err *err)
{
	const struct res_type *t = r->type;
	bool deferred = false;
	int ret;

	if (!r->desired)
		r->desired = xcalloc(1, t->desired_size ? t->desired_size : 1);
	if (t->name_is_path && !fsroot_path_ok(r->name))
		return err_at(err, -EINVAL, r->pos.file, r->name_pos.line, r->name_pos.col,
			      "%s needs an absolute path without '.', '..' or '//', found '%s'",
			      t->name, r->name);
	for (const struct res_attr *sa = t->attrs; sa->name; sa++) {
		void *field = (char *)r->desired + sa->offset;

		set_unset(sa, field);
		if (sa->def && sa->kind != ATTR_LIST && sa->kind != ATTR_MAP && sa->kind != ATTR_ARGV) {
			ret = decode_scalar(r, sa, sa->def, field, NULL, err);
			if (ret < 0)
				return ret;
		}
	}
	for (size_t i = 0; i < r->nattrs; i++) {
		const struct raw_attr *a = &r->attrs[i];
		const struct res_attr *sa;
		void *field;
		char *s;

		if (schema_is_meta(a->key)) {
			ret = decode_meta(r, a, ctx, err);
			if (ret < 0)
				return ret;
			continue;
		}
		sa = schema_attr(t, a->key);
		if (!sa && t->open_schema)
			continue; /* kept as JSON in r->attrs: see schema_render_json */
		if (!sa)
			return schema_check_key(t, r->id, a->key, &a->key_pos, err);
		field = (char *)r->desired + sa->offset;
		if (json_is_null(a->val))
			continue; /* explicit null: keep the default */
		if (sa->kind == ATTR_LIST || sa->kind == ATTR_MAP || sa->kind == ATTR_ARGV) {
			strlist_free(field);
			ret = decode_list(r, a, ctx, sa->flags, sa->kind == ATTR_MAP, field, err);
			if (ret == -ENODATA) {
				strlist_free(field);
				deferred = true;
				continue;
			}
			if (ret < 0)
				return ret;
			continue;
		}
		if (want_scalar(r, a, err, sa->kind == ATTR_BOOL ? "true or false" : "a single value") < 0)
			return -EINVAL;
		ret = render(a, json_string_value(a->val), ctx, sa->flags, &s, err);
		if (ret == -ENODATA) {
			deferred = true; /* the node decodes it, knowing its facts */
			continue;
		}
		if (ret < 0)
			return ret;
		if (sa->kind == ATTR_STRING || sa->kind == ATTR_PATH)
			free(*(char **)field);
		ret = decode_scalar(r, sa, s, field, a, err);
		free(s);
		if (ret < 0)
			return ret;
	}
	for (const struct res_attr *sa = t->attrs; sa->name; sa++) {
		if ((sa->flags & ATTR_REQUIRED) && !res_find_attr(r, sa->name))
			return err_at(err, -EINVAL, r->pos.file, r->pos.line, r->pos.col,
				      "%s needs '%s'", r->id, sa->name);
	}
	/* cross-attribute checks need every value: with facts unknown, the node does them */
	if (deferred || !t->check)
		return 0;
	ret = t->check(r, ctx, err);
	return ret == -ENODATA ? 0 : ret;
}

void schema_free_desired(struct resource *r)
{
	for (const struct res_attr *sa = r->type->attrs; sa->name; sa++) {
		void *field = (char *)r->desired + sa->offset;

		if (sa->kind == ATTR_STRING || sa->kind == ATTR_PATH) {
			free(*(char **)field);
			*(char **)field = NULL;
		} else if (sa->kind == ATTR_LIST || sa->kind == ATTR_MAP || sa->kind == ATTR_ARGV) {
			strlist_free(field);
		}
	}
}
