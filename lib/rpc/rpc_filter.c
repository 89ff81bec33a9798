/*
 * rpc_filter.c - which nodes a request is for.  A broadcast carries a
 * filter that every agent evaluates against itself (name, tags, facts);
 * the policy's rules use the same conditions.
 *
 * A filter is {"nodes": [GLOB...], "tags": [TAG...], "facts": [EXPR...]},
 * every member optional: a node matches one of the globs (fnmatch), has
 * every tag, and every expression holds.  An expression is PATH OP
 * VALUE (spaces around OP allowed), PATH dotted into the facts (a number
 * indexes a list), OP one of = != < <= > >=.  When VALUE is a number
 * (K M G T: powers of 1024) and so is the fact, they compare as numbers;
 * otherwise = and != compare text and the others are false.  A fact
 * that is missing satisfies only !=.
 *
 * rpc_filter_check says what is wrong with a filter, for the CLI before
 * it sends; rpc_filter_match treats anything invalid as matching
 * nothing, so a node never acts on a filter it cannot read.
 */
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc.h"
#include "rpc/rpc_int.h"

#define FILTER_ITEMS_MAX 1024
#define FILTER_ITEM_MAX 1024 /* bytes in a glob, tag or expression */
#define FACT_DEPTH_MAX 16

enum fact_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

/* An expression, pointing into its text. */
struct fact_expr {
	const char *path;
	size_t path_len;
	enum fact_op op;
	const char *value;
	size_t value_len;
	bool is_num;
	double num;
};

static const char *const filter_keys[] = { "nodes", "tags", "facts", NULL };

/* parse_num - s (n bytes) as a decimal number with an optional K M G T suffix. */
static bool parse_num(const char *s, size_t n, double *ret)
{
	static const char suffixes[] = "KkMmGgTt";
	char text[64], *end;
	const char *suf;
	double v, mult = 1;

	if (n == 0 || n >= sizeof(text))
		return false;
	memcpy(text, s, n);
	text[n] = '\0';
	suf = text[n - 1] ? strchr(suffixes, text[n - 1]) : NULL;
	if (suf) {
		mult = (double)(1ULL << (10 * (1 + (suf - suffixes) / 2)));
		text[--n] = '\0';
	}
	/* only decimal: strtod would also take "inf", "nan" and hex */
	if (n == 0 || strspn(text, "0123456789.+-eE") != n || !strpbrk(text, "0123456789"))
		return false;
	v = strtod(text, &end);
	if (end != text + n || !isfinite(v * mult))
		return false;
	*ret = v * mult;
	return true;
}

/* parse_op - the operator at s: its length, 0 when there is none. */
static size_t parse_op(const char *s, enum fact_op *ret)
{
	static const struct {
		const char *text;
		enum fact_op op;
	} ops[] = {
		{ "!=", OP_NE }, { "<=", OP_LE }, { ">=", OP_GE },
		{ "=", OP_EQ },	 { "<", OP_LT },  { ">", OP_GT },
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t n = strlen(ops[i].text);

		if (!strncmp(s, ops[i].text, n)) {
			*ret = ops[i].op;
			return n;
		}
	}
	return 0;
}

/* path_ok - dotted words: no empty component, no space. */
static bool path_ok(const char *p, size_t n)
{
	if (n == 0 || p[0] == '.' || p[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f ||
		    (p[i] == '.' && i + 1 < n && p[i + 1] == '.'))
			return false;
	}
	return true;
}

/* expr_parse - s as PATH OP VALUE. */
static bool expr_parse(const char *s, struct fact_expr *e)
{
	size_t path_end = strcspn(s, "=!<>"), n, oplen;

	if (strnlen(s, FILTER_ITEM_MAX + 1) > FILTER_ITEM_MAX || !s[path_end])
		return false;
	n = path_end;
	while (n > 0 && s[n - 1] == ' ')
		n--;
	e->path = s;
	e->path_len = n;
	oplen = parse_op(s + path_end, &e->op);
	if (!oplen || !path_ok(s, n))
		return false;
	e->value = s + path_end + oplen;
	e->value += strspn(e->value, " ");
	e->value_len = strlen(e->value);
	while (e->value_len > 0 && e->value[e->value_len - 1] == ' ')
		e->value_len--;
	/* "memory.total>>8", "os.id==debian": a typo, not a value */
	if (e->value_len == 0 || strchr("=<>", e->value[0]))
		return false;
	e->is_num = parse_num(e->value, e->value_len, &e->num);
	return true;
}

bool rpc_fact_expr_check(const char *expr, char *why, size_t why_len)
{
	struct fact_expr e;

	if (expr && expr_parse(expr, &e))
		return true;
	snprintf(why, why_len, "'%.200s' is not PATH OP VALUE (OP one of = != < <= > >=)",
		 expr ? expr : "");
	return false;
}

/* fact_get - the value at e's dotted path in facts, or NULL. */
static const json_t *fact_get(const json_t *facts, const struct fact_expr *e)
{
	const char *p = e->path, *end = e->path + e->path_len;
	const json_t *cur = facts;

	for (int depth = 0; cur && p < end; depth++) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);

		if (depth >= FACT_DEPTH_MAX)
			return NULL;
		if (json_is_object(cur)) {
			cur = json_object_getn(cur, p, n);
		} else if (json_is_array(cur) && n < 10 && strspn(p, "0123456789") >= n) {
			size_t idx = 0;

			for (size_t i = 0; i < n; i++)
				idx = idx * 10 + (size_t)(p[i] - '0');
			cur = json_array_get(cur, idx);
		} else {
			return NULL;
		}
		p += n + 1;
	}
	return cur;
}

/* fact_text - v as text (n bytes) in tmp or v's own storage; false for lists and maps. */
static bool fact_text(const json_t *v, char *tmp, size_t tmp_len, const char **ret, size_t *ret_n)
{
	int n;

	switch (json_typeof(v)) {
	case JSON_STRING:
		*ret = json_string_value(v);
		*ret_n = json_string_length(v);
		return true;
	case JSON_INTEGER:
		n = snprintf(tmp, tmp_len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		n = snprintf(tmp, tmp_len, "%.17g", json_real_value(v));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
	case JSON_NULL:
		n = snprintf(tmp, tmp_len, "%s",
			     json_is_true(v)  ? "true" :
			     json_is_false(v) ? "false" :
						"null");
		break;
	default:
		return false;
	}
	*ret = tmp;
	*ret_n = n > 0 ? (size_t)n : 0;
	return true;
}

/* fact_num - v as a number, when it is one (or a string that reads as one). */
static bool fact_num(const json_t *v, double *ret)
{
	if (json_is_integer(v)) {
		*ret = (double)json_integer_value(v);
		return true;
	}
	if (json_is_real(v)) {
		*ret = json_real_value(v);
		return true;
	}
	return json_is_string(v) && parse_num(json_string_value(v), json_string_length(v), ret);
}

/* expr_holds - whether e holds for facts. */
static bool expr_holds(const struct fact_expr *e, const json_t *facts)
{
	const json_t *v = facts ? fact_get(facts, e) : NULL;
	char tmp[64];
	const char *text;
	size_t n;
	double num;
	bool eq;

	if (!v)
		return e->op == OP_NE;
	if (e->is_num && fact_num(v, &num)) {
		switch (e->op) {
		case OP_EQ:
			return num == e->num;
		case OP_NE:
			return num != e->num;
		case OP_LT:
			return num < e->num;
		case OP_LE:
			return num <= e->num;
		case OP_GT:
			return num > e->num;
		case OP_GE:
			return num >= e->num;
		}
		return false;
	}
	if (e->op != OP_EQ && e->op != OP_NE)
		return false;
	if (!fact_text(v, tmp, sizeof(tmp), &text, &n))
		return e->op == OP_NE;
	eq = n == e->value_len && !memcmp(text, e->value, n);
	return e->op == OP_EQ ? eq : !eq;
}

/* check_list - member key of a filter: a list of 1..FILTER_ITEMS_MAX strings. */
static int check_list(const char *key, const json_t *list, struct tend_err *err)
{
	char why[300];
	size_t i;
	const json_t *v;

	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > FILTER_ITEMS_MAX)
		return err_set(err, -EINVAL, "filter: %s must be a list of 1 to %d strings", key,
			       FILTER_ITEMS_MAX);
	json_array_foreach(list, i, v) {
		const char *s = json_string_value(v);

		if (!s || !*s || json_string_length(v) > FILTER_ITEM_MAX ||
		    strlen(s) != json_string_length(v))
			return err_set(err, -EINVAL,
				       "filter: %s[%zu] must be a string of 1 to %d "
				       "bytes",
				       key, i, FILTER_ITEM_MAX);
		if (!strcmp(key, "facts") && !rpc_fact_expr_check(s, why, sizeof(why)))
			return err_set(err, -EINVAL, "filter: facts: %s", why);
	}
	return 0;
}

int rpc_filter_check(const json_t *filter, struct tend_err *err)
{
	const char *key;
	const json_t *v;
	bool known;

	if (!filter || json_is_null(filter))
		return 0;
	if (!json_is_object(filter))
		return err_set(err, -EINVAL, "filter: not an object");
	json_object_foreach((json_t *)filter, key, v) {
		known = false;
		for (size_t i = 0; filter_keys[i]; i++)
			known |= !strcmp(key, filter_keys[i]);
		if (!known)
			return err_set(err, -EINVAL,
				       "filter: unknown member '%.100s' (expected nodes, "
				       "tags, facts)",
				       key);
		if (check_list(key, v, err) < 0)
			return -EINVAL;
	}
	return 0;
}

/* has_tag - whether tags (an array of strings) holds tag. */
static bool has_tag(const json_t *tags, const json_t *tag)
{
	size_t i;
	const json_t *t;

	json_array_foreach(tags, i, t) {
		if (json_is_string(t) && json_equal(t, tag))
			return true;
	}
	return false;
}

/* list_ok - the shape check_list wants, without the message. */
static bool list_ok(const json_t *list)
{
	size_t i;
	const json_t *v;

	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > FILTER_ITEMS_MAX)
		return false;
	json_array_foreach(list, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > FILTER_ITEM_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return false;
	}
	return true;
}

/* match_member - whether self satisfies the member key of a filter (valid or false). */
static bool match_member(const char *key, const json_t *list, const struct rpc_self *self)
{
	size_t i;
	const json_t *v;
	struct fact_expr e;

	if (!list_ok(list))
		return false;
	if (!strcmp(key, "nodes")) {
		json_array_foreach(list, i, v) {
			if (self->node && fnmatch(json_string_value(v), self->node, 0) == 0)
				return true;
		}
		return false;
	}
	if (!strcmp(key, "tags")) {
		json_array_foreach(list, i, v) {
			if (!json_is_array(self->tags) || !has_tag(self->tags, v))
				return false;
		}
		return true;
	}
	if (!strcmp(key, "facts")) {
		json_array_foreach(list, i, v) {
			if (!expr_parse(json_string_value(v), &e) || !expr_holds(&e, self->facts))
				return false;
		}
		return true;
	}
	return false;
}

bool rpc_filter_match(const json_t *filter, const struct rpc_self *self)
{
	const char *key;
	const json_t *v;

	if (!filter || json_is_null(filter))
		return true;
	if (!json_is_object(filter) || !self)
		return false;
	json_object_foreach((json_t *)filter, key, v) {
		if (!match_member(key, v, self))
			return false;
	}
	return true;
}
