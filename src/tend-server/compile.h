/*
 * compile.h - catalogs: what one node should be, compiled from a snapshot
 * of the configuration repository.
 *
 * A node's document nodes/NODE.yaml lists its tags (`tags: [a, b]`) and
 * may hold vars and resources of its own.  Its catalog is tags/A.yaml,
 * tags/B.yaml ... merged in order, then the node document, with the merge
 * rule of catalog.h (a later document overrides the attributes it sets).
 * A node with no document, or whose document has no `tags:` key, gets the
 * default tags (server configuration); `tags: []` is no tags.
 * The result is validated as `tend plan` would before probing: schema
 * (unknown attribute, bad mode, enum), relations and cycles, and file
 * sources/templates (`source:` / `template:` are repository paths and
 * must exist in the snapshot).  Templates and facts.* are left for the
 * node to render.
 *
 * A catalog is JSON:
 *   {"node","revision","tags":[...],"hash":"sha256:HEX",
 *    "vars":{...},
 *    "resources":[{"type","name","attrs":{...},"origin":"FILE:LINE"}],
 *    "files":{"files/x.tmpl":"content", ...}}
 * "attrs" are the values as written (templates unrendered); a file that
 * is not UTF-8 is {"base64": "..."} in "files".  "hash" is
 * "sha256:" + SHA-256 of json_dumps(JSON_SORT_KEYS | JSON_COMPACT) of the
 * catalog without "node", "revision" and "hash", so nodes with the same
 * tags and no document of their own share one catalog and one hash.
 * Catalogs share their members with the cache: callers must not modify
 * what they are given (compile_node_tags' copy excepted).
 *
 * Compiled catalogs are cached by (snapshot tree, tag list, node document
 * blob, or none); parsed tag documents are not re-read per node.
 */
#ifndef TEND_SERVER_COMPILE_H
#define TEND_SERVER_COMPILE_H

#include <jansson.h>

#include "repo.h"
#include "util/err.h"

struct compiler;

/* compiler_new - default_tags: tags of nodes without a document (may be NULL). */
struct compiler *compiler_new(const char *const *default_tags);
void compiler_free(struct compiler *c);

/* compiler_stats - {"compiled","cache_hits","cached"} since creation. */
json_t *compiler_stats(const struct compiler *c);

/*
 * compile_node - node's catalog at snapshot s (*ret: a new reference).
 * An invalid catalog is -EINVAL with the first error in err; node names
 * are checked (letters, digits, '.', '-', '_'; 1..253 bytes): -EINVAL.
 */
int compile_node(struct compiler *c, struct repo_snap *s, const char *node, json_t **ret,
		 struct tend_err *err);

/*
 * compile_node_tags - the node's tag list at s (from its document, else the
 * defaults): a JSON array; -EINVAL when the document is broken.
 */
int compile_node_tags(struct compiler *c, struct repo_snap *s, const char *node, json_t **ret,
		      struct tend_err *err);

/*
 * compile_explain - where every value of node's catalog came from:
 *   {"node","revision","tags":[...],"documents":["tags/base.yaml",...],
 *    "vars":{"NAME":[{"value","origin":"FILE:LINE"},...]},
 *    "resources":[{"id","origin","attrs":{"KEY":[{"value","origin"},...]}}]}
 * each list oldest first, the last entry the one in effect.  id
 * ("TYPE:NAME") limits it to one resource: -ENOENT when the node has none.
 */
int compile_explain(struct compiler *c, struct repo_snap *s, const char *node, const char *id,
		    json_t **ret, struct tend_err *err);

/*
 * compile_validate - compile every node document and every tag document
 * alone at s; *ret_errors: a JSON array of messages "FILE:LINE:COL: ..."
 * (empty when all is well).  Returns the number of errors (>= 0) or -errno.
 */
int compile_validate(struct compiler *c, struct repo_snap *s, json_t **ret_errors);

/*
 * compile_nodes - ids of every node with a document at s (sorted array).
 */
int compile_nodes(struct repo_snap *s, json_t **ret, struct tend_err *err);

/*
 * compile_tags - every tag: [{"name","file","nodes":[ids using it]}],
 * tags named by nodes but without a document included with "file": null.
 */
int compile_tags(struct compiler *c, struct repo_snap *s, json_t **ret, struct tend_err *err);

#endif
