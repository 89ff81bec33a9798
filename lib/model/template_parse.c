/*
 * template_parse.c - the first step of a render (template.c): the source,
 * read once left to right, into a flat array of ops.  Every syntax error
 * is found here, whatever the data.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/template_int.h"

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

static int clamp_int(size_t n)
{
	return n > INT_MAX ? INT_MAX : (int)n;
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

int tmpl_resource_error(struct tend_err *err, const char *name, int r, size_t max)
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
		return tmpl_resource_error(p->err, p->name, -ENOMEM, 0);
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
			return tmpl_resource_error(p->err, p->name, r, p->pool.max);
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
			return tmpl_resource_error(p->err, p->name, r, p->pool.max);
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
		return tmpl_resource_error(p->err, p->name, -ENOMEM, 0);
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

int tmpl_parse(struct parser *p)
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
