/*
 * template.c - tend's template language (see template.h).
 *
 * A render is two steps.  parse() reads the source once, left to right,
 * into a flat array of ops: text ranges, variable tags, and section
 * open/close pairs that know each other's index.  Every syntax error (bad
 * name, unknown filter, unbalanced or too deeply nested sections) is found
 * there, whatever the data.  run() then walks the ops with an explicit
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

#define TMPL_MAX_DEPTH 64
/* Names quoted in messages are cut to this many bytes. */
#define TMPL_MSG_NAME_MAX 200

enum op_kind { OP_TEXT, OP_VAR, OP_SECTION, OP_INVERTED, OP_CLOSE, OP_COMMENT };

enum filter_kind { F_DEFAULT, F_UPPER, F_LOWER, F_JOIN, F_TRIM };

static const struct {
	const char *name;
	enum filter_kind kind;
	bool takes_arg;
} filter_table[] = {
	{ "default", F_DEFAULT, true },
	{ "upper", F_UPPER, false },
	{ "lower", F_LOWER, false },
	{ "join", F_JOIN, true },
	{ "trim", F_TRIM, false },
};
#define KNOWN_FILTERS "default, upper, lower, join, trim"

struct filter {
	enum filter_kind kind;
	size_t arg, arg_len; /* the unescaped argument, in the pool */
};

struct op {
	enum op_kind kind;
	bool literal; /* OP_VAR: off/len is a string literal in the pool */
	int line, col; /* of the tag's "{{" */
	size_t off, len; /* OP_TEXT: bytes of src; else the name in src */
	size_t filter, nfilter; /* range of parser.filters */
	size_t match; /* opener: index of its OP_CLOSE; OP_CLOSE: of its opener */
};

struct parser {
	const char *src;
	size_t len;
	const char *name;
	struct tend_err *err;
	size_t line, line_start, scanned; /* newlines counted up to scanned */
	int tag_line, tag_col;
	struct op *ops;
	size_t nops, ops_cap;
	struct filter *filters;
	size_t nfilters, filters_cap;
	struct buf pool;
	size_t open[TMPL_MAX_DEPTH];
	size_t depth;
};

static int msg_len(size_t n)
{
	return (int)(n > TMPL_MSG_NAME_MAX ? TMPL_MSG_NAME_MAX : n);
}

static int clamp_int(size_t n)
{
	return n > INT_MAX ? INT_MAX : (int)n;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Letters, digits, '_', '-' and any UTF-8 byte; '.' separates segments. */
static bool is_name_char(char ch)
{
	unsigned char c = (unsigned char)ch;

	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c >= 0x80;
}

struct char_desc {
	char s[16];
};

/* describe - a byte as messages show it: 'x', or byte 0x0a. */
static struct char_desc describe(char ch)
{
	struct char_desc d;
	unsigned char c = (unsigned char)ch;

	if (c > 0x20 && c < 0x7f)
		snprintf(d.s, sizeof(d.s), "'%c'", c);
	else
		snprintf(d.s, sizeof(d.s), "byte 0x%02x", c);
	return d;
}

/* grow_array - room for one more element; the new base, or NULL (no memory). */
static void *grow_array(void *arr, size_t n, size_t *cap, size_t size)
{
	size_t ncap;
	void *q;

	if (n < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap > SIZE_MAX / size)
		return NULL;
	q = realloc(arr, ncap * size);
	if (q)
		*cap = ncap;
	return q;
}

/* resource_error - a failed allocation or size limit, not the template's fault. */
static int resource_error(struct tend_err *err, const char *name, int r, size_t max)
{
	if (r == -E2BIG)
		return err_at(err, r, name, 0, 0, "rendered output would exceed %zu bytes", max);
	return err_at(err, r, name, 0, 0, "out of memory");
}

__attribute__((format(printf, 2, 3)))
static int tag_error(struct parser *p, const char *fmt, ...)
{
	char msg[TEND_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_at(p->err, -EINVAL, p->name, p->tag_line, p->tag_col, "%s", msg);
}

/* sync_lines - count the newlines in [scanned, upto); upto never goes back. */
static void sync_lines(struct parser *p, size_t upto)
{
	const char *s = p->src + p->scanned, *end = p->src + upto, *nl;

	while (s < end && (nl = memchr(s, '\n', (size_t)(end - s)))) {
		p->line++;
		p->line_start = (size_t)(nl - p->src) + 1;
		s = nl + 1;
	}
	p->scanned = upto;
}

static int push_op(struct parser *p, const struct op *op)
{
	struct op *ops = grow_array(p->ops, p->nops, &p->ops_cap, sizeof(*ops));

	if (!ops)
		return resource_error(p->err, p->name, -ENOMEM, 0);
	p->ops = ops;
	p->ops[p->nops++] = *op;
	return 0;
}

static int push_text(struct parser *p, size_t from, size_t to)
{
	struct op op = { .kind = OP_TEXT, .off = from, .len = to - from };

	return to > from ? push_op(p, &op) : 0;
}

/*
 * find_close - the index of the "}}" that ends the tag whose body starts
 * at i.  Outside comments, a "}}" inside a string literal does not count.
 */
static int find_close(struct parser *p, size_t i, bool comment, size_t *ret)
{
	const char *s = p->src;
	size_t n = p->len;

	if (comment) {
		const char *c = i < n ? memmem(s + i, n - i, "}}", 2) : NULL;

		if (!c)
			return tag_error(p, "unterminated tag");
		*ret = (size_t)(c - s);
		return 0;
	}
	while (i < n) {
		if (s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
			if (i >= n)
				return tag_error(p, "unterminated string literal");
		} else if (s[i] == '}' && i + 1 < n && s[i + 1] == '}') {
			*ret = i;
			return 0;
		}
		i++;
	}
	return tag_error(p, "unterminated tag");
}

static size_t skip_space(const char *s, size_t i, size_t end)
{
	while (i < end && is_space(s[i]))
		i++;
	return i;
}

/*
 * parse_name - a dotted name at *i (empty when none starts there): "." or
 * segments of name characters joined by single dots.
 */
static int parse_name(struct parser *p, size_t *i, size_t end, size_t *ret_off, size_t *ret_len)
{
	const char *s = p->src;
	size_t start = *i, j = *i, k;

	while (j < end && (is_name_char(s[j]) || s[j] == '.'))
		j++;
	if (j - start > 1) {
		for (k = start; k < j; k++)
			if (s[k] == '.' && (k == start || k + 1 == j || s[k + 1] == '.'))
				return tag_error(p, "bad name '%.*s'", msg_len(j - start), s + start);
	}
	*i = j;
	*ret_off = start;
	*ret_len = j - start;
	return 0;
}

/* parse_string - the literal at *i (a '"') unescaped into the pool. */
static int parse_string(struct parser *p, size_t *i, size_t end, size_t *ret_off, size_t *ret_len)
{
	const char *s = p->src;
	size_t j = *i + 1, start = p->pool.len, run;
	int r;

	for (;;) {
		run = j;
		while (j < end && s[j] != '"' && s[j] != '\\')
			j++;
		r = buf_add(&p->pool, s + run, j - run);
		if (r < 0)
			return resource_error(p->err, p->name, r, p->pool.max);
		if (j >= end)
			return tag_error(p, "unterminated string literal");
		if (s[j] == '"')
			break;
		/* find_close paired every backslash, so j + 1 < end here. */
		if (j + 1 >= end || (s[j + 1] != '"' && s[j + 1] != '\\'))
			return tag_error(p, "bad escape '\\%c' in string literal "
					 "(only \\\" and \\\\ are allowed)",
					 j + 1 < end && s[j + 1] > 0x20 && s[j + 1] < 0x7f ? s[j + 1] : '?');
		r = buf_putc(&p->pool, s[j + 1]);
		if (r < 0)
			return resource_error(p->err, p->name, r, p->pool.max);
		j += 2;
	}
	*i = j + 1;
	*ret_off = start;
	*ret_len = p->pool.len - start;
	return 0;
}

/* parse_filter - one "name" or "name("arg")" at *i, appended to filters. */
static int parse_filter(struct parser *p, size_t *i, size_t end)
{
	const char *s = p->src;
	struct filter f = { 0 };
	struct filter *fs;
	size_t start = *i, j = *i, n, k;
	size_t nt = sizeof(filter_table) / sizeof(filter_table[0]);
	bool has_arg = false;
	int r;

	while (j < end && is_name_char(s[j]))
		j++;
	n = j - start;
	if (n == 0)
		return tag_error(p, "expected a filter name after '|'");
	for (k = 0; k < nt; k++)
		if (strlen(filter_table[k].name) == n && !memcmp(filter_table[k].name, s + start, n))
			break;
	if (k == nt)
		return tag_error(p, "unknown filter '%.*s' (known: " KNOWN_FILTERS ")",
				 msg_len(n), s + start);
	f.kind = filter_table[k].kind;
	j = skip_space(s, j, end);
	if (j < end && s[j] == '(') {
		j = skip_space(s, j + 1, end);
		if (j < end && s[j] == '"') {
			r = parse_string(p, &j, end, &f.arg, &f.arg_len);
			if (r < 0)
				return r;
			has_arg = true;
			j = skip_space(s, j, end);
		}
		if (j >= end || s[j] != ')') {
			if (has_arg)
				return tag_error(p, "expected ')' after the argument of '%s'",
						 filter_table[k].name);
			return tag_error(p, filter_table[k].takes_arg
						    ? "filter '%s' needs one string argument"
						    : "filter '%s' takes no argument",
					 filter_table[k].name);
		}
		j++;
	}
	if (filter_table[k].takes_arg != has_arg)
		return tag_error(p, has_arg ? "filter '%s' takes no argument"
					    : "filter '%s' needs one string argument",
				 filter_table[k].name);
	fs = grow_array(p->filters, p->nfilters, &p->filters_cap, sizeof(*fs));
	if (!fs)
		return resource_error(p->err, p->name, -ENOMEM, 0);
	p->filters = fs;
	p->filters[p->nfilters++] = f;
	*i = j;
	return 0;
}

/*
 * parse_body - the inside of a non-comment tag, [i, end), into op: a name
 * (or, for a variable, a string literal) then "| filter"s.  A closing tag
 * takes a bare name.
 */
static int parse_body(struct parser *p, size_t i, size_t end, char sigil, struct op *op)
{
	const char *s = p->src;
	int r;

	i = skip_space(s, i, end);
	if (op->kind == OP_VAR && i >= end)
		return tag_error(p, "empty tag");
	if (op->kind == OP_VAR && s[i] == '"') {
		op->literal = true;
		r = parse_string(p, &i, end, &op->off, &op->len);
	} else {
		r = parse_name(p, &i, end, &op->off, &op->len);
	}
	if (r < 0)
		return r;
	if (!op->literal && op->len == 0) {
		if (op->kind != OP_VAR)
			return tag_error(p, "expected a name after '%c'", sigil);
		return tag_error(p, "expected a name or a string literal, found %s",
				 describe(s[i]).s);
	}
	op->filter = p->nfilters;
	for (;;) {
		i = skip_space(s, i, end);
		if (i >= end)
			break;
		if (s[i] != '|' || op->kind == OP_CLOSE)
			return tag_error(p, "unexpected %s in tag (expected %s'}}')",
					 describe(s[i]).s, op->kind == OP_CLOSE ? "" : "'|' or ");
		i = skip_space(s, i + 1, end);
		r = parse_filter(p, &i, end);
		if (r < 0)
			return r;
	}
	op->nfilter = p->nfilters - op->filter;
	return 0;
}

/* parse_tag - the tag whose "{{" is at ts into op; *ret_end is past its "}}". */
static int parse_tag(struct parser *p, size_t ts, struct op *op, size_t *ret_end)
{
	static const char sigils[] = "!#^/";
	static const enum op_kind kinds[] = { OP_COMMENT, OP_SECTION, OP_INVERTED, OP_CLOSE };
	size_t i = ts + 2, close = 0;
	char sigil = i < p->len ? p->src[i] : '\0';
	const char *k = memchr(sigils, sigil, sizeof(sigils) - 1);
	int r;

	*op = (struct op){ .kind = k ? kinds[k - sigils] : OP_VAR,
			   .line = p->tag_line, .col = p->tag_col };
	if (k)
		i++;
	r = find_close(p, i, op->kind == OP_COMMENT, &close);
	if (r < 0)
		return r;
	if (op->kind != OP_COMMENT) {
		r = parse_body(p, i, close, sigil, op);
		if (r < 0)
			return r;
	}
	*ret_end = close + 2;
	return 0;
}

/*
 * standalone - whether the tag [ts, end) is alone on its line: nothing but
 * blanks before it since the previous tag (which ended at from) or the
 * line start, nothing but blanks after it up to a newline or the end.  If
 * so, *next is past that newline.
 */
static bool standalone(const struct parser *p, size_t from, size_t ts, size_t end, size_t *next)
{
	const char *s = p->src;
	size_t i;

	if (from > p->line_start)
		return false;
	for (i = p->line_start; i < ts; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	for (i = end; i < p->len && (s[i] == ' ' || s[i] == '\t'); i++)
		;
	if (i + 1 < p->len && s[i] == '\r' && s[i + 1] == '\n')
		i++;
	if (i < p->len && s[i] != '\n')
		return false;
	*next = i < p->len ? i + 1 : p->len;
	return true;
}

/* add_tag - append a parsed tag's op, pairing section opens and closes. */
static int add_tag(struct parser *p, struct op *op)
{
	const struct op *open;

	switch (op->kind) {
	case OP_COMMENT:
	case OP_TEXT:
		return 0;
	case OP_VAR:
		return push_op(p, op);
	case OP_SECTION:
	case OP_INVERTED:
		if (p->depth == TMPL_MAX_DEPTH)
			return tag_error(p, "sections nested deeper than %d", TMPL_MAX_DEPTH);
		p->open[p->depth++] = p->nops;
		return push_op(p, op);
	case OP_CLOSE:
		break;
	}
	if (!p->depth)
		return tag_error(p, "unexpected closing tag '%.*s' (no section is open)",
				 msg_len(op->len), p->src + op->off);
	open = &p->ops[p->open[p->depth - 1]];
	if (open->len != op->len || memcmp(p->src + open->off, p->src + op->off, op->len))
		return tag_error(p, "unexpected closing tag '%.*s' (open section is '%.*s')",
				 msg_len(op->len), p->src + op->off, msg_len(open->len),
				 p->src + open->off);
	op->match = p->open[--p->depth];
	p->ops[op->match].match = p->nops;
	return push_op(p, op);
}

/* parse - the whole template into p->ops, or the first syntax error. */
static int parse(struct parser *p)
{
	const char *s = p->src, *t;
	size_t pos = 0, ts, end, next, text_end;
	struct op op;
	int r;

	while (pos < p->len && (t = memmem(s + pos, p->len - pos, "{{", 2))) {
		ts = (size_t)(t - s);
		sync_lines(p, ts);
		p->tag_line = clamp_int(p->line);
		p->tag_col = clamp_int(ts - p->line_start + 1);
		r = parse_tag(p, ts, &op, &end);
		if (r < 0)
			return r;
		next = end;
		text_end = ts;
		/* Variables are never standalone: they produce text of their own. */
		if (op.kind != OP_VAR && standalone(p, pos, ts, end, &next))
			text_end = p->line_start;
		r = push_text(p, pos, text_end);
		if (r >= 0)
			r = add_tag(p, &op);
		if (r < 0)
			return r;
		pos = next;
	}
	r = push_text(p, pos, p->len);
	if (r < 0)
		return r;
	if (p->depth) {
		const struct op *open = &p->ops[p->open[p->depth - 1]];

		p->tag_line = open->line;
		p->tag_col = open->col;
		return tag_error(p, "unclosed section '%.*s'", msg_len(open->len), s + open->off);
	}
	return 0;
}

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

	return ret < 0 ? resource_error(r->p->err, r->p->name, ret, b->max) : 0;
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

	return ret < 0 ? resource_error(r->p->err, r->p->name, ret, r->out->max) : 0;
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
	/* parse() refused deeper nesting; this keeps the arrays safe regardless. */
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
			return resource_error(r->p->err, r->p->name, -ENOMEM, 0);
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
		return ret < 0 ? resource_error(err, p.name, ret, out->max) : 0;
	}
	buf_init(&p.pool, 0);
	buf_init(&r.scratch[0], out->max);
	buf_init(&r.scratch[1], out->max);
	r.ctx[0] = ctx;
	ret = parse(&p);
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
