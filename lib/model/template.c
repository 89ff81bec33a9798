/*
 * template.c - tend's template language (see template.h).
 *
 * A render is two steps.  tmpl_parse() (template_parse.c) reads the
 * source once, left to right, into a flat array of ops: text ranges,
 * variable tags, and section open/close pairs that know each other's
 * index.  Every syntax error (bad name, unknown filter, unbalanced or too
 * deeply nested sections) is found there, whatever the data.  run() then walks the ops with an explicit
 * stack of section frames: a list section jumps back to its first op once
 * per item, a falsy one jumps past its close.  Nothing recurses, so a
 * template cannot exhaust the C stack, and no section body is parsed twice.
 *
 * Text and names stay as offsets into src (which need not be
 * NUL-terminated; nothing reads past len).  Unescaped string literals and
 * filter arguments live in one pool buffer; filters that rewrite text take
 * turns with two scratch buffers.  A render allocates a handful of times,
 * never per character or per tag.
 *
 * Every name lookup is strict, sections included: a missing name is an
 * error unless a default() filter in the tag's chain supplies a value
 * ({{#opt | default("")}} tests an optional key).
 */
#include "model/template.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/template_int.h"

/* A section being rendered. */
struct frame {
	size_t open; /* index of its SECTION or INVERTED op */
	json_t *list; /* the list iterated, or NULL */
	size_t idx; /* of the current item of list */
	json_t *owned; /* a string made from filtered text for ".", or NULL */
	bool pushed; /* whether it pushed a context */
};

struct render {
	const struct parser *p;
	struct buf *out;
	json_t *ctx[TMPL_MAX_DEPTH + 1]; /* the root, then one per section */
	size_t nctx;
	struct frame frames[TMPL_MAX_DEPTH];
	size_t nframes;
	struct buf scratch[2]; /* filters write to scratch[flip], then flip */
	int flip;
	char num[64]; /* a number formatted as text */
};

/* A value on its way through a tag's filters. */
enum val_kind { V_MISSING, V_JSON, V_TEXT };

struct val {
	enum val_kind kind;
	json_t *json;
	const char *text;
	size_t len;
};

__attribute__((format(printf, 3, 4)))
static int op_error(struct render *r, const struct op *op, const char *fmt, ...)
{
	char msg[TEND_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_at(r->p->err, -EINVAL, r->p->name, op->line, op->col, "%s", msg);
}

static void set_text(struct val *v, const char *s, size_t n)
{
	*v = (struct val){ .kind = V_TEXT, .text = s, .len = n };
}

static bool is_absent(const struct val *v)
{
	return v->kind == V_MISSING || (v->kind == V_JSON && json_is_null(v->json));
}

static const char *type_name(const struct val *v)
{
	if (v->kind == V_TEXT)
		return "a string";
	switch (json_typeof(v->json)) {
	case JSON_OBJECT:
		return "a map";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		break;
	}
	return "null";
}

static bool is_truthy(const struct val *v)
{
	if (v->kind == V_TEXT)
		return v->len > 0;
	switch (json_typeof(v->json)) {
	case JSON_OBJECT:
		return json_object_size(v->json) > 0;
	case JSON_ARRAY:
		return json_array_size(v->json) > 0;
	case JSON_STRING:
		return json_string_length(v->json) > 0;
	case JSON_INTEGER:
		return json_integer_value(v->json) != 0;
	case JSON_REAL:
		return json_real_value(v->json) != 0.0;
	case JSON_TRUE:
		return true;
	case JSON_FALSE:
	case JSON_NULL:
		break;
	}
	return false;
}

/* to_text - a scalar as template.h says it renders; lists and maps fail. */
static int to_text(struct render *r, const struct op *op, const json_t *j, const char **s,
		   size_t *n)
{
	int k = 0;

	switch (json_typeof(j)) {
	case JSON_STRING:
		*s = json_string_value(j);
		*n = json_string_length(j);
		return 0;
	case JSON_INTEGER:
		k = snprintf(r->num, sizeof(r->num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		break;
	case JSON_REAL:
		k = snprintf(r->num, sizeof(r->num), "%g", json_real_value(j));
		break;
	case JSON_TRUE:
		*s = "true";
		*n = 4;
		return 0;
	case JSON_FALSE:
		*s = "false";
		*n = 5;
		return 0;
	case JSON_NULL:
		*s = "";
		*n = 0;
		return 0;
	case JSON_ARRAY:
		return op_error(r, op, "cannot render a list as text (use join)");
	case JSON_OBJECT:
		return op_error(r, op, "cannot render a map as text");
	}
	*s = r->num;
	*n = k > 0 ? (size_t)k : 0;
	return 0;
}

static int val_text(struct render *r, const struct op *op, const struct val *v, const char **s,
		    size_t *n)
{
	if (v->kind == V_TEXT) {
		*s = v->text;
		*n = v->len;
		return 0;
	}
	return to_text(r, op, v->json, s, n);
}

/* next_scratch - the scratch buffer not holding the current value, emptied. */
static struct buf *next_scratch(struct render *r)
{
	struct buf *b = &r->scratch[r->flip];

	r->flip ^= 1;
	buf_reset(b);
	return b;
}

static int add_scratch(struct render *r, struct buf *b, const char *s, size_t n)
{
	int ret = buf_add(b, s, n);

	return ret < 0 ? tmpl_resource_error(r->p->err, r->p->name, ret, b->max) : 0;
}

static int filter_case(struct render *r, const struct op *op, struct val *v, bool upper)
{
	struct buf *b;
	const char *s;
	size_t n, k;
	int ret;

	ret = val_text(r, op, v, &s, &n);
	if (ret < 0)
		return ret;
	b = next_scratch(r);
	ret = add_scratch(r, b, s, n);
	if (ret < 0)
		return ret;
	/* ASCII only: other bytes (UTF-8 included) pass through unchanged. */
	for (k = 0; k < n; k++) {
		char c = b->data[k];

		if (upper && c >= 'a' && c <= 'z')
			b->data[k] = (char)(c - 'a' + 'A');
		else if (!upper && c >= 'A' && c <= 'Z')
			b->data[k] = (char)(c - 'A' + 'a');
	}
	set_text(v, b->data, n);
	return 0;
}

static int filter_trim(struct render *r, const struct op *op, struct val *v)
{
	const char *s;
	size_t n;
	int ret;

	ret = val_text(r, op, v, &s, &n);
	if (ret < 0)
		return ret;
	while (n && (is_space(*s) || *s == '\f' || *s == '\v')) {
		s++;
		n--;
	}
	while (n && (is_space(s[n - 1]) || s[n - 1] == '\f' || s[n - 1] == '\v'))
		n--;
	set_text(v, s, n);
	return 0;
}

static int filter_join(struct render *r, const struct op *op, const struct filter *f,
		       struct val *v)
{
	const char *sep = buf_str(&r->p->pool) + f->arg, *s;
	struct buf *b;
	json_t *item;
	size_t idx, n;
	int ret;

	if (v->kind != V_JSON || !json_is_array(v->json))
		return op_error(r, op, "filter 'join' needs a list, not %s", type_name(v));
	b = next_scratch(r);
	json_array_foreach(v->json, idx, item) {
		if (json_is_array(item) || json_is_object(item))
			return op_error(r, op, "cannot join a list that holds %s",
					json_is_array(item) ? "a list" : "a map");
		ret = idx ? add_scratch(r, b, sep, f->arg_len) : 0;
		if (ret >= 0)
			ret = to_text(r, op, item, &s, &n);
		if (ret >= 0)
			ret = add_scratch(r, b, s, n);
		if (ret < 0)
			return ret;
	}
	set_text(v, buf_str(b), b->len);
	return 0;
}

static int apply_filter(struct render *r, const struct op *op, const struct filter *f,
			struct val *v)
{
	if (f->kind == F_DEFAULT) {
		if (is_absent(v))
			set_text(v, buf_str(&r->p->pool) + f->arg, f->arg_len);
		return 0;
	}
	/* The others pass a missing value on (for a later default) and null too. */
	if (is_absent(v))
		return 0;
	switch (f->kind) {
	case F_UPPER:
	case F_LOWER:
		return filter_case(r, op, v, f->kind == F_UPPER);
	case F_TRIM:
		return filter_trim(r, op, v);
	case F_JOIN:
		return filter_join(r, op, f, v);
	case F_DEFAULT:
		break;
	}
	return 0;
}

/*
 * lookup - a dotted name: the first segment in the innermost context that
 * is a map holding it, the rest within what that found (as in Mustache, no
 * falling back outward half-way).  A digit segment indexes a list.  NULL
 * when missing.
 */
static json_t *lookup(const struct render *r, const char *name, size_t len)
{
	const char *end = name + len, *dot;
	json_t *v = NULL;
	size_t k, seg, idx;

	if (len == 1 && name[0] == '.')
		return r->ctx[r->nctx - 1];
	dot = memchr(name, '.', len);
	seg = dot ? (size_t)(dot - name) : len;
	for (k = r->nctx; k-- > 0 && !v;)
		if (json_is_object(r->ctx[k]))
			v = json_object_getn(r->ctx[k], name, seg);
	while (v && dot) {
		name = dot + 1;
		dot = memchr(name, '.', (size_t)(end - name));
		seg = dot ? (size_t)(dot - name) : (size_t)(end - name);
		if (json_is_object(v)) {
			v = json_object_getn(v, name, seg);
		} else if (json_is_array(v)) {
			for (idx = 0, k = 0; k < seg && name[k] >= '0' && name[k] <= '9'; k++)
				idx = idx > SIZE_MAX / 10 - 1 ? SIZE_MAX : idx * 10 + (size_t)(name[k] - '0');
			v = k == seg ? json_array_get(v, idx) : NULL;
		} else {
			v = NULL;
		}
	}
	return v;
}

/*
 * facts_unknown - whether the missing name is a fact while facts are
 * unknown: the root context holds "facts": null (tend-server compiles
 * catalogs without facts; the node renders them).
 */
static bool facts_unknown(const struct render *r, const char *name, size_t len)
{
	const json_t *f;

	if (len < 5 || memcmp(name, "facts", 5) || (len > 5 && name[5] != '.'))
		return false;
	f = json_is_object(r->ctx[0]) ? json_object_get(r->ctx[0], "facts") : NULL;
	return f && json_is_null(f);
}

/* eval - a tag's name or literal through its filters; missing is an error. */
static int eval(struct render *r, const struct op *op, struct val *v)
{
	const struct parser *p = r->p;
	size_t k;
	int ret;

	if (op->literal) {
		set_text(v, buf_str(&p->pool) + op->off, op->len);
	} else {
		json_t *j = lookup(r, p->src + op->off, op->len);

		*v = (struct val){ .kind = j ? V_JSON : V_MISSING, .json = j };
	}
	for (k = 0; k < op->nfilter; k++) {
		ret = apply_filter(r, op, &p->filters[op->filter + k], v);
		if (ret < 0)
			return ret;
	}
	if (v->kind == V_MISSING && !op->literal && facts_unknown(r, p->src + op->off, op->len))
		return err_at(p->err, -ENODATA, p->name, op->line, op->col,
			      "'%.*s' is a fact, known only on the node", msg_len(op->len),
			      p->src + op->off);
	if (v->kind == V_MISSING)
		return op_error(r, op, "missing variable '%.*s'", msg_len(op->len),
				p->src + op->off);
	return 0;
}

static int emit(struct render *r, const char *s, size_t n)
{
	int ret = buf_add(r->out, s, n);

	return ret < 0 ? tmpl_resource_error(r->p->err, r->p->name, ret, r->out->max) : 0;
}

static int run_var(struct render *r, const struct op *op)
{
	struct val v;
	const char *s;
	size_t n;
	int ret;

	ret = eval(r, op, &v);
	if (ret >= 0)
		ret = val_text(r, op, &v, &s, &n);
	if (ret >= 0)
		ret = emit(r, s, n);
	return ret;
}

/* enter_section - at ops[i], an opener: its first op or past its close. */
static int enter_section(struct render *r, size_t i, size_t *next)
{
	const struct op *op = &r->p->ops[i];
	struct frame *f;
	struct val v;
	json_t *ctx;
	int ret;

	ret = eval(r, op, &v);
	if (ret < 0)
		return ret;
	if (is_truthy(&v) == (op->kind == OP_INVERTED)) {
		*next = op->match + 1;
		return 0;
	}
	/* tmpl_parse() refused deeper nesting; this keeps the arrays safe regardless. */
	if (r->nframes == TMPL_MAX_DEPTH)
		return op_error(r, op, "sections nested deeper than %d", TMPL_MAX_DEPTH);
	f = &r->frames[r->nframes++];
	*f = (struct frame){ .open = i };
	*next = i + 1;
	if (op->kind == OP_INVERTED)
		return 0;
	if (v.kind == V_TEXT) {
		f->owned = json_stringn_nocheck(v.text, v.len);
		if (!f->owned)
			return tmpl_resource_error(r->p->err, r->p->name, -ENOMEM, 0);
		ctx = f->owned;
	} else if (json_is_array(v.json)) {
		f->list = v.json;
		ctx = json_array_get(v.json, 0);
	} else {
		ctx = v.json;
	}
	r->ctx[r->nctx++] = ctx;
	f->pushed = true;
	return 0;
}

/* leave_section - at ops[i], a close: back for the next item, or onward. */
static void leave_section(struct render *r, size_t i, size_t *next)
{
	struct frame *f = &r->frames[r->nframes - 1];

	if (f->list && ++f->idx < json_array_size(f->list)) {
		r->ctx[r->nctx - 1] = json_array_get(f->list, f->idx);
		*next = f->open + 1;
		return;
	}
	if (f->pushed)
		r->nctx--;
	json_decref(f->owned);
	r->nframes--;
	*next = i + 1;
}

static int run(struct render *r)
{
	const struct parser *p = r->p;
	size_t i = 0;
	int ret = 0;

	while (i < p->nops && ret >= 0) {
		const struct op *op = &p->ops[i];

		switch (op->kind) {
		case OP_TEXT:
			ret = emit(r, p->src + op->off, op->len);
			i++;
			break;
		case OP_VAR:
			ret = run_var(r, op);
			i++;
			break;
		case OP_SECTION:
		case OP_INVERTED:
			ret = enter_section(r, i, &i);
			break;
		case OP_CLOSE:
			leave_section(r, i, &i);
			break;
		case OP_COMMENT:
			i++;
			break;
		}
	}
	return ret;
}

int tmpl_render(const char *src, size_t len, const char *name, json_t *ctx, struct buf *out,
		struct tend_err *err)
{
	struct parser p = { .src = src, .len = len, .err = err, .line = 1 };
	struct render r = { .p = &p, .out = out, .nctx = 1 };
	size_t k;
	int ret;

	p.name = name ? name : "template";
	if (!out || (!src && len))
		return err_at(err, -EINVAL, p.name, 0, 0, "no template or no output buffer");
	if (!tmpl_has_tags(src, len)) {
		ret = buf_add(out, src, len);
		return ret < 0 ? tmpl_resource_error(err, p.name, ret, out->max) : 0;
	}
	buf_init(&p.pool, 0);
	buf_init(&r.scratch[0], out->max);
	buf_init(&r.scratch[1], out->max);
	r.ctx[0] = ctx;
	ret = tmpl_parse(&p);
	if (ret >= 0)
		ret = run(&r);
	for (k = 0; k < r.nframes; k++)
		json_decref(r.frames[k].owned);
	buf_free(&r.scratch[0]);
	buf_free(&r.scratch[1]);
	buf_free(&p.pool);
	free(p.filters);
	free(p.ops);
	return ret < 0 ? ret : 0;
}

int tmpl_has_tags(const char *s, size_t len)
{
	return s && len >= 2 && memmem(s, len, "{{", 2) != NULL;
}
