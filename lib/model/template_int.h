/*
 * template_int.h - what the two halves of the template language share:
 * template_parse.c turns the source into ops, template.c renders them.
 */
#ifndef TEND_TEMPLATE_INT_H
#define TEND_TEMPLATE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "model/template.h"

#define TMPL_MAX_DEPTH 64
/* Names quoted in messages are cut to this many bytes. */
#define TMPL_MSG_NAME_MAX 200

enum op_kind { OP_TEXT, OP_VAR, OP_SECTION, OP_INVERTED, OP_CLOSE, OP_COMMENT };

enum filter_kind { F_DEFAULT, F_UPPER, F_LOWER, F_JOIN, F_TRIM };

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

static inline int msg_len(size_t n)
{
	return (int)(n > TMPL_MSG_NAME_MAX ? TMPL_MSG_NAME_MAX : n);
}

static inline bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* tmpl_resource_error - a failed allocation or size limit, not the template's fault. */
int tmpl_resource_error(struct tend_err *err, const char *name, int r, size_t max);

/* tmpl_parse - the whole template into p->ops, or the first syntax error. */
int tmpl_parse(struct parser *p);

#endif
