/*
 * catalog.h - the merged set of resources and variables a run works on.
 *
 * catalog_add_file parses one manifest and merges it into the catalog:
 * a resource whose identity (TYPE:NAME) is already there has the
 * attributes it sets overridden, and new ones added, keeping where each
 * value came from; vars merge key by key.  The same rule serves
 * `tend apply a.yaml b.yaml` and the tag hierarchy on the server.
 */
#ifndef TEND_CATALOG_H
#define TEND_CATALOG_H

#include <jansson.h>
#include <stddef.h>

#include "model/resource.h"
#include "util/err.h"

struct ynode;

struct catalog {
	struct resource **res;     /* declaration order (first declaration) */
	size_t n, cap;
	json_t *vars;              /* merged vars (typed) */
	json_t *var_pos;           /* var name -> "file:line" of the winning value */
	unsigned docs;             /* documents added so far */
	struct ext_type *ext_types; /* custom types the resources use */
	char **files;              /* interned file names (srcpos.file points here) */
	size_t nfiles;
	/* open-addressing index id -> resource */
	struct resource **index;
	size_t index_cap;
	/* short string values seen while parsing, shared between resources
	 * ("0644" once, not 10,000 times); direct-mapped, NULL when released */
	json_t **shared;

	/* Hooks for tend-server, which reads documents from a repository
	 * snapshot (all NULL for manifests applied directly). */
	/* type_lookup - resolve a type that is not built in, instead of the
	 * host's types directories: 0 with *ret, or -ENOENT with why (which
	 * ends the "unknown resource type" message). */
	int (*type_lookup)(void *arg, struct catalog *c, const char *name,
			   const struct res_type **ret, char *why, size_t whylen);
	/* on_tags - a node document's top-level 'tags' value; without the
	 * hook, 'tags' is refused. */
	int (*on_tags)(void *arg, const char *file, const struct ynode *tags, struct tend_err *err);
	void *hook_arg;
};

void catalog_init(struct catalog *c);
void catalog_free(struct catalog *c);

/*
 * catalog_add_file - parse the manifest at path and merge it.  Errors
 * (-EINVAL, "FILE:LINE:COL: message") leave the catalog unusable: free it.
 */
int catalog_add_file(struct catalog *c, const char *path, struct tend_err *err);

/* catalog_add_buf - same, from memory; name is used in messages. */
int catalog_add_buf(struct catalog *c, const char *name, const char *data, size_t len,
		    struct tend_err *err);

/*
 * catalog_merge - merge src (a catalog built from its own documents, not
 * decoded) into c as if src's documents had been added to c after c's
 * own: the same rule as catalog_add_file.  Values are shared with src
 * (never modified by either), positions point at c's interned names,
 * custom types are made again in c.  Lets a server parse each document
 * once and merge it into many catalogs.
 */
int catalog_merge(struct catalog *c, const struct catalog *src, struct tend_err *err);

/*
 * catalog_add_json - merge a catalog compiled by tend-server (JSON, the
 * format of src/tend-server/compile.h: "vars", "resources" [{"type",
 * "name","attrs","origin"}], "files") as one more document.  Positions
 * come from each resource's "origin" ("FILE:LINE").  The "source" and
 * "template" of file resources are repository paths whose contents the
 * caller has written under files_dir: they become files_dir/PATH (URLs
 * are kept; a path the catalog's "files" does not carry is an error).
 * Types that are not built in are custom types, looked up in
 * files_dir/types/ and then as for manifests (registry.h), unless the
 * type_lookup hook is set.  Unknown attributes are refused as in
 * manifests.  -EINVAL with a message on malformed input.
 */
int catalog_add_json(struct catalog *c, const json_t *catalog, const char *files_dir,
		     struct tend_err *err);

/* catalog_find - the resource with identity id ("TYPE:NAME"), or NULL. */
struct resource *catalog_find(const struct catalog *c, const char *id);

/*
 * catalog_set_var - set (override) a variable, e.g. from --var KEY=VALUE.
 * value is taken as YAML scalar text (so "8080" is an integer).
 */
int catalog_set_var(struct catalog *c, const char *key, const char *value, struct tend_err *err);

/*
 * catalog_share_value - v (taken), or an equal short string value already
 * seen (a new reference; v is released).  Raw attribute values are never
 * modified, so resources may share them.  Used while parsing.
 */
json_t *catalog_share_value(struct catalog *c, json_t *v);

/* catalog_share_end - forget the shared values (parsing is over), so that
 * dropping the raw values after decoding frees them. */
void catalog_share_end(struct catalog *c);

/* catalog_intern - a copy of s owned by the catalog (for srcpos.file). */
const char *catalog_intern(struct catalog *c, const char *s);

#endif
