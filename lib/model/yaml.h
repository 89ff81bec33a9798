/*
 * yaml.h - YAML documents as a small position-carrying tree.
 *
 * Built from libyaml's events: every node keeps the line and column where
 * it starts, so every later error can name FILE:LINE:COL.  All nodes and
 * strings of a document live in one arena, freed with the document.
 * Aliases point at the anchored node (shared, never copied).  Duplicate
 * keys in a mapping are an error.  Only the first document of a stream is
 * read; a second one is an error.
 */
#ifndef TEND_YAML_H
#define TEND_YAML_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define YAML_FILE_MAX ((size_t)64 << 20)
#define YAML_DEPTH_MAX 64

enum ynode_kind { YN_SCALAR, YN_SEQ, YN_MAP };

struct ynode {
	enum ynode_kind kind;
	int line, col;          /* 1-based */
	bool quoted;            /* scalar written in any non-plain style */
	const char *str;        /* scalar text, NUL-terminated */
	size_t len;
	struct ynode **items;   /* seq: n items; map: 2n (key, value, key, ...) */
	size_t n;
};

struct ydoc;

/*
 * ydoc_load - parse data (len bytes) named name.  An empty document gives a
 * NULL root.  Errors: -EINVAL with "NAME:LINE:COL: problem".
 */
int ydoc_load(const char *name, const char *data, size_t len, struct ydoc **ret,
	      struct tend_err *err);

/* ydoc_load_file - read path (at most YAML_FILE_MAX bytes) and parse it. */
int ydoc_load_file(const char *path, struct ydoc **ret, struct tend_err *err);

/*
 * Streaming: the items of the sequence under the root map's key are handed
 * to on_item as each one is complete and are not kept (the sequence stays
 * empty in the tree), so a manifest with 10,000 resources never holds more
 * than one resource's nodes.  An anchor defined inside an item is not
 * visible after it.  on_item returns 0, or a negative errno (having set
 * the error) to stop the parse.
 */
struct ydoc_stream {
	const char *key;
	int (*on_item)(void *arg, const struct ynode *item);
	void *arg;
};

int ydoc_load_stream(const char *name, const char *data, size_t len, const struct ydoc_stream *st,
		     struct ydoc **ret, struct tend_err *err);
int ydoc_load_file_stream(const char *path, const struct ydoc_stream *st, struct ydoc **ret,
			  struct tend_err *err);

struct ynode *ydoc_root(const struct ydoc *d);
const char *ydoc_name(const struct ydoc *d);
void ydoc_free(struct ydoc *d);

/* ynode_kind_name - "a scalar", "a list", "a map" for messages. */
const char *ynode_kind_name(const struct ynode *n);

/* ynode_map_get - the value for key in a map node, or NULL. */
struct ynode *ynode_map_get(const struct ynode *map, const char *key);

/*
 * ynode_to_json - convert to JSON.  typed: plain scalars follow the YAML
 * 1.2 core schema (null, true/false, integers, floats); otherwise every
 * scalar is a string except a plain null/~/empty, which is JSON null.
 * Returns a new reference, or NULL on allocation failure or when the value
 * is nested deeper than YAML_DEPTH_MAX or larger than a million nodes
 * (aliases can describe such values in a few lines).
 */
json_t *ynode_to_json(const struct ynode *n, bool typed);

#endif
