/*
 * yaml.c - libyaml events to a position-carrying tree (see yaml.h).
 */
#include "model/yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "util/buf.h"
#include "util/strutil.h"

#define ARENA_CHUNK ((size_t)64 << 10)

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct anchor {
	char *name;
	struct ynode *node;
};

struct ydoc {
	struct arena_chunk *chunks;
	struct ynode *root;
	char *name;
	struct anchor *anchors;
	size_t nanchors;
};

static void *arena_alloc(struct ydoc *d, size_t n)
{
	struct arena_chunk *c = d->chunks;
	size_t align = sizeof(max_align_t);

	n = (n + align - 1) / align * align;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;

		c = xcalloc(1, sizeof(*c) + cap);
		c->cap = cap;
		c->next = d->chunks;
		d->chunks = c;
	}
	c->used += n;
	return (char *)c->data + c->used - n;
}

static char *arena_strndup(struct ydoc *d, const char *s, size_t n)
{
	char *p = arena_alloc(d, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void ydoc_free(struct ydoc *d)
{
	struct arena_chunk *c, *next;

	if (!d)
		return;
	for (c = d->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	for (size_t i = 0; i < d->nanchors; i++)
		free(d->anchors[i].name);
	free(d->anchors);
	free(d->name);
	free(d);
}

struct ynode *ydoc_root(const struct ydoc *d)
{
	return d->root;
}

const char *ydoc_name(const struct ydoc *d)
{
	return d->name;
}

const char *ynode_kind_name(const struct ynode *n)
{
	if (!n)
		return "nothing";
	switch (n->kind) {
	case YN_SCALAR:
		return "a scalar";
	case YN_SEQ:
		return "a list";
	case YN_MAP:
		return "a map";
	}
	return "?";
}

struct ynode *ynode_map_get(const struct ynode *map, const char *key)
{
	if (!map || map->kind != YN_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++) {
		struct ynode *k = map->items[2 * i];

		if (k->kind == YN_SCALAR && !strcmp(k->str, key))
			return map->items[2 * i + 1];
	}
	return NULL;
}

/* Builder: a stack of open collections whose items grow in temporary arrays. */
struct frame {
	struct ynode *node;
	struct ynode **items;
	size_t n, cap;
};

struct builder {
	struct ydoc *doc;
	yaml_parser_t parser;
	struct frame stack[YAML_DEPTH_MAX + 1];
	int depth;
	struct tend_err *err;
	const struct ydoc_stream *stream;
	/* where the item being streamed started: the arena and anchors to go back to */
	struct arena_chunk *mark_chunk;
	size_t mark_used, mark_anchors;
};

/* streaming - whether the open frame at depth 2 is the streamed sequence:
 * root map -> KEY -> sequence, so a node finished now is one of its items. */
static bool streaming(const struct builder *b)
{
	const struct frame *root = &b->stack[0], *seq = &b->stack[1];
	const struct ynode *key;

	if (!b->stream || b->depth != 2 || root->node->kind != YN_MAP || seq->node->kind != YN_SEQ ||
	    root->n % 2 != 1)
		return false;
	key = root->items[root->n - 1];
	return key->kind == YN_SCALAR && !strcmp(key->str, b->stream->key);
}

static void mark(struct builder *b)
{
	b->mark_chunk = b->doc->chunks;
	b->mark_used = b->doc->chunks ? b->doc->chunks->used : 0;
	b->mark_anchors = b->doc->nanchors;
}

/* rewind - forget everything allocated since mark(): the streamed item is done. */
static void rewind_to_mark(struct builder *b)
{
	struct ydoc *d = b->doc;

	while (d->chunks && d->chunks != b->mark_chunk) {
		struct arena_chunk *c = d->chunks;

		d->chunks = c->next;
		free(c);
	}
	if (d->chunks)
		d->chunks->used = b->mark_used;
	while (d->nanchors > b->mark_anchors)
		free(d->anchors[--d->nanchors].name);
}

static int add_anchor(struct ydoc *d, const char *name, struct ynode *n)
{
	d->anchors = xrealloc(d->anchors, (d->nanchors + 1) * sizeof(*d->anchors));
	d->anchors[d->nanchors].name = xstrdup(name);
	d->anchors[d->nanchors].node = n;
	d->nanchors++;
	return 0;
}

static struct ynode *find_anchor(struct ydoc *d, const char *name)
{
	for (size_t i = d->nanchors; i-- > 0;)
		if (!strcmp(d->anchors[i].name, name))
			return d->anchors[i].node;
	return NULL;
}

static int check_dup_key(struct builder *b, struct frame *f, struct ynode *key)
{
	if (f->node->kind != YN_MAP || f->n % 2 || key->kind != YN_SCALAR)
		return 0;
	for (size_t i = 0; i < f->n; i += 2) {
		struct ynode *k = f->items[i];

		if (k->kind == YN_SCALAR && !strcmp(k->str, key->str))
			return err_at(b->err, -EINVAL, b->doc->name, key->line, key->col,
				      "duplicate key '%s' (first at line %d)", key->str, k->line);
	}
	return 0;
}

/* attach - a finished node goes into the open collection, or becomes root. */
static int attach(struct builder *b, struct ynode *n)
{
	struct frame *f;
	int r;

	if (b->depth == 0) {
		b->doc->root = n;
		return 0;
	}
	if (streaming(b)) {
		r = b->stream->on_item(b->stream->arg, n);
		rewind_to_mark(b);
		return r;
	}
	f = &b->stack[b->depth - 1];
	r = check_dup_key(b, f, n);
	if (r < 0)
		return r;
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		f->items = xrealloc(f->items, f->cap * sizeof(*f->items));
	}
	f->items[f->n++] = n;
	return 0;
}

static struct ynode *new_node(struct builder *b, enum ynode_kind kind, yaml_mark_t m)
{
	struct ynode *n = arena_alloc(b->doc, sizeof(*n));

	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->line = (int)m.line + 1;
	n->col = (int)m.column + 1;
	return n;
}

static int close_frame(struct builder *b)
{
	struct frame *f = &b->stack[--b->depth];
	struct ynode *n = f->node;

	n->items = arena_alloc(b->doc, (f->n ? f->n : 1) * sizeof(*n->items));
	if (f->n)
		memcpy(n->items, f->items, f->n * sizeof(*n->items));
	n->n = n->kind == YN_MAP ? f->n / 2 : f->n;
	free(f->items);
	f->items = NULL;
	return attach(b, n);
}

static int on_event(struct builder *b, yaml_event_t *ev, int *done)
{
	struct ynode *n;
	const char *anchor = NULL;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (b->doc->root || *done)
			return err_at(b->err, -EINVAL, b->doc->name, (int)ev->start_mark.line + 1,
				      (int)ev->start_mark.column + 1,
				      "a second YAML document in one file is not supported");
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		*done = 1;
		return 0;
	case YAML_SCALAR_EVENT:
		if (streaming(b))
			mark(b);
		n = new_node(b, YN_SCALAR, ev->start_mark);
		n->str = arena_strndup(b->doc, (const char *)ev->data.scalar.value, ev->data.scalar.length);
		n->len = ev->data.scalar.length;
		n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		anchor = (const char *)ev->data.scalar.anchor;
		if (anchor)
			add_anchor(b->doc, anchor, n);
		return attach(b, n);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (b->depth >= YAML_DEPTH_MAX)
			return err_at(b->err, -EINVAL, b->doc->name, (int)ev->start_mark.line + 1,
				      (int)ev->start_mark.column + 1, "nesting deeper than %d levels",
				      YAML_DEPTH_MAX);
		if (streaming(b))
			mark(b);
		n = new_node(b, ev->type == YAML_SEQUENCE_START_EVENT ? YN_SEQ : YN_MAP, ev->start_mark);
		anchor = (const char *)(ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.anchor
									       : ev->data.mapping_start.anchor);
		if (anchor)
			add_anchor(b->doc, anchor, n);
		b->stack[b->depth].node = n;
		b->stack[b->depth].items = NULL;
		b->stack[b->depth].n = 0;
		b->stack[b->depth].cap = 0;
		b->depth++;
		return 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return close_frame(b);
	case YAML_ALIAS_EVENT:
		if (streaming(b))
			mark(b);
		n = find_anchor(b->doc, (const char *)ev->data.alias.anchor);
		if (!n)
			return err_at(b->err, -EINVAL, b->doc->name, (int)ev->start_mark.line + 1,
				      (int)ev->start_mark.column + 1, "unknown alias '*%s'",
				      (const char *)ev->data.alias.anchor);
		return attach(b, n);
	default:
		return 0;
	}
}

int ydoc_load(const char *name, const char *data, size_t len, struct ydoc **ret,
	      struct tend_err *err)
{
	return ydoc_load_stream(name, data, len, NULL, ret, err);
}

/* fd_input - feeds libyaml from a file descriptor, so a large manifest
 * is never held in memory whole; counts bytes against YAML_FILE_MAX. */
struct fd_input {
	int fd;
	size_t total;
	int error;             /* errno of a failed read, or EFBIG */
};

static int read_fd(void *arg, unsigned char *buffer, size_t size, size_t *size_read)
{
	struct fd_input *in = arg;
	ssize_t n;

	do
		n = read(in->fd, buffer, size);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		in->error = errno;
		return 0;
	}
	in->total += (size_t)n;
	if (in->total > YAML_FILE_MAX) {
		in->error = EFBIG;
		return 0;
	}
	*size_read = (size_t)n;
	return 1;
}

/* parse - run the parser (its input already set) into a document. */
static int parse(const char *name, struct builder *b, const struct fd_input *in,
		 struct ydoc **ret, struct tend_err *err)
{
	int r = 0, done = 0, end = 0;

	while (!end && r == 0) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&b->parser, &ev)) {
			yaml_mark_t m = b->parser.problem_mark;

			if (in && in->error == EFBIG)
				r = err_set(err, -EFBIG, "%s: larger than %zu MiB", name,
					    (size_t)YAML_FILE_MAX >> 20);
			else if (in && in->error)
				r = err_set(err, -in->error, "%s: %s", name, strerror(in->error));
			else
				r = err_at(err, -EINVAL, name, (int)m.line + 1, (int)m.column + 1, "%s%s%s",
					   b->parser.problem ? b->parser.problem : "invalid YAML",
					   b->parser.context ? " " : "",
					   b->parser.context ? b->parser.context : "");
			break;
		}
		end = ev.type == YAML_STREAM_END_EVENT;
		r = on_event(b, &ev, &done);
		yaml_event_delete(&ev);
	}
	while (b->depth > 0)
		free(b->stack[--b->depth].items);
	yaml_parser_delete(&b->parser);
	if (r < 0) {
		ydoc_free(b->doc);
		return r;
	}
	*ret = b->doc;
	return 0;
}

static int builder_init(struct builder *b, const char *name, const struct ydoc_stream *st,
			struct tend_err *err)
{
	memset(b, 0, sizeof(*b));
	b->err = err;
	b->stream = st;
	b->doc = xcalloc(1, sizeof(*b->doc));
	b->doc->name = xstrdup(name);
	if (!yaml_parser_initialize(&b->parser)) {
		ydoc_free(b->doc);
		return err_set(err, -ENOMEM, "%s: cannot initialise the YAML parser", name);
	}
	return 0;
}

int ydoc_load_stream(const char *name, const char *data, size_t len, const struct ydoc_stream *st,
		     struct ydoc **ret, struct tend_err *err)
{
	struct builder b;
	int r = builder_init(&b, name, st, err);

	if (r < 0)
		return r;
	yaml_parser_set_input_string(&b.parser, (const unsigned char *)data, len);
	return parse(name, &b, NULL, ret, err);
}

int ydoc_load_file(const char *path, struct ydoc **ret, struct tend_err *err)
{
	return ydoc_load_file_stream(path, NULL, ret, err);
}

int ydoc_load_file_stream(const char *path, const struct ydoc_stream *st, struct ydoc **ret,
			  struct tend_err *err)
{
	struct fd_input in = { -1, 0, 0 };
	struct builder b;
	int r;

	in.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (in.fd < 0)
		return err_set(err, -errno, "%s: %s", path, strerror(errno));
	r = builder_init(&b, path, st, err);
	if (r == 0) {
		yaml_parser_set_input(&b.parser, read_fd, &in);
		r = parse(path, &b, &in, ret, err);
	}
	close(in.fd);
	return r;
}

static bool is_null_scalar(const struct ynode *n)
{
	return !n->quoted && (n->len == 0 || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
			      !strcmp(n->str, "Null") || !strcmp(n->str, "NULL"));
}

static json_t *typed_scalar(const struct ynode *n)
{
	const char *s = n->str;
	long long v;
	char *end;
	double d;

	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_false();
	if (str_to_ll(s, 10, LLONG_MIN, LLONG_MAX, &v) == 0)
		return json_integer(v);
	if (str_has_prefix(s, "0o") && str_to_ll(s + 2, 8, 0, LLONG_MAX, &v) == 0)
		return json_integer(v);
	if (str_has_prefix(s, "0x") && str_to_ll(s + 2, 16, 0, LLONG_MAX, &v) == 0)
		return json_integer(v);
	if (strspn(s, "0123456789.eE+-") == n->len && strpbrk(s, "0123456789")) {
		d = strtod(s, &end);
		if (*end == '\0' && isfinite(d))
			return json_real(d);
	}
	return json_stringn(s, n->len);
}

/*
 * Aliases share nodes, so a hostile document can describe an exponential
 * (or, through an alias to an open collection, cyclic) value: conversion is
 * bounded in depth and in total nodes.
 */
#define YAML_CONVERT_MAX 1000000

static json_t *to_json(const struct ynode *n, bool typed, int depth, size_t *budget)
{
	json_t *j;

	if (depth > YAML_DEPTH_MAX || *budget == 0)
		return NULL;
	(*budget)--;
	switch (n->kind) {
	case YN_SCALAR:
		if (is_null_scalar(n))
			return json_null();
		if (typed && !n->quoted)
			return typed_scalar(n);
		return json_stringn(n->str, n->len);
	case YN_SEQ:
		j = json_array();
		for (size_t i = 0; j && i < n->n; i++) {
			json_t *v = to_json(n->items[i], typed, depth + 1, budget);

			if (!v) {
				json_decref(j);
				return NULL;
			}
			json_array_append_new(j, v);
		}
		return j;
	case YN_MAP:
		j = json_object();
		for (size_t i = 0; j && i < n->n; i++) {
			const struct ynode *k = n->items[2 * i];

			json_t *v;

			if (k->kind != YN_SCALAR)
				continue;
			v = to_json(n->items[2 * i + 1], typed, depth + 1, budget);
			if (!v) {
				json_decref(j);
				return NULL;
			}
			json_object_set_new(j, k->str, v);
		}
		return j;
	}
	return NULL;
}

json_t *ynode_to_json(const struct ynode *n, bool typed)
{
	size_t budget = YAML_CONVERT_MAX;

	return to_json(n, typed, 0, &budget);
}
