/*
 * compile_int.h - what compile.c (documents, compiling, the cache) and
 * compile_report.c (explain, validate, listings) share.  Not for other
 * modules: compile.h is the interface.
 */
#ifndef TEND_SERVER_COMPILE_INT_H
#define TEND_SERVER_COMPILE_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "compile.h"
#include "model/catalog.h"
#include "repo.h"

#define NAME_MAX_LEN 253
#define TAGS_MAX 64                          /* tags of one node */

/* A node document's tag list (kept by blob id). */
struct ninfo {
	char *key;               /* blob id */
	json_t *tags;            /* array of names; NULL: no 'tags' key */
	int line[TAGS_MAX], col[TAGS_MAX];
	bool only_tags;          /* declares nothing else */
};

/* One node as compile_* sees it. */
struct node {
	char path[REPO_PATH_MAX];
	char blob[REPO_OID_HEX + 1];
	bool has_doc;
	const struct ninfo *info;    /* its tag list (cached), or NULL without a document */
	json_t *tags;                /* borrowed: info's or the defaults */
	struct catalog *cat;         /* its document, when parsed (owned) */
};

/* compile_name_ok - node and tag names: letters, digits, '.', '-', '_'; 1..253 bytes. */
bool compile_name_ok(const char *s);

/* compiler_defaults - the default tags (borrowed). */
json_t *compiler_defaults(const struct compiler *c);

/*
 * compile_node_load - node's document at s (blob: its id when the caller
 * knows it, else NULL): its tags, and with want_cat its catalog when it
 * declares more than tags.  Release n with compile_node_release.
 */
int compile_node_load(struct compiler *c, struct repo_snap *s, const char *node, const char *blob,
		      bool want_cat, struct node *n, struct tend_err *err);
void compile_node_release(struct node *n);

/*
 * compile_entry - n's compiled catalog at s (cached): 0 when valid
 * (*ret_body, when not NULL: a new reference to all but node and
 * revision), else the error.
 */
int compile_entry(struct compiler *c, struct repo_snap *s, struct node *n, json_t **ret_body,
		  struct tend_err *err);

/* compile_tag_doc - tag's document at s, parsed alone (cached); -ENOENT when none. */
int compile_tag_doc(struct compiler *c, struct repo_snap *s, const char *tag,
		    const struct catalog **ret, struct tend_err *err);

/* compile_origin - "FILE:LINE" of p (a new reference). */
json_t *compile_origin(const struct srcpos *p);

/*
 * compile_policy - policy/NAME.yaml of s as a JSON object path -> text
 * (compile_policy.c); -EFBIG over 1 MiB together, -EINVAL for a file
 * that is not UTF-8.
 */
int compile_policy(struct repo_snap *s, json_t **ret, struct tend_err *err);

#endif
