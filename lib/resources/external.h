/*
 * external.h - custom resource types: an executable in a types directory
 * (found by registry.c) that speaks the JSON protocol of
 * docs/custom-types.md.  tend writes one request on its stdin
 * (operation probe or apply), the executable answers one JSON object on
 * stdout; exit status 0 means it worked, anything else that it failed.
 */
#ifndef TEND_EXTERNAL_H
#define TEND_EXTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "model/resource.h"
#include "util/buf.h"

#define EXT_PROTOCOL 1
#define EXT_NAME_MAX 64
#define EXT_OUTPUT_MAX ((size_t)1 << 20)   /* stdout+stderr of one call */
#define EXT_TIMEOUT_DEFAULT 60.0           /* seconds, when no timeout: attribute */

/* ext_name_ok - whether name can name a custom type: [a-z][a-z0-9_]*, at most EXT_NAME_MAX bytes. */
bool ext_name_ok(const char *name);

struct ext_type;

/*
 * ext_type_get - the custom type name whose executable is dir/name (dir
 * absolute), kept in *list (owned by the caller, e.g. the catalog): made
 * on first use (open_schema, verify, ops that run the executable), then
 * the same pointer for the same name and dir.
 */
const struct res_type *ext_type_get(struct ext_type **list, const char *name, const char *dir);

/* ext_types_free - free every type in list (NULL is fine). */
void ext_types_free(struct ext_type *list);

/* ext_type_path - the executable behind t, or NULL when t is not a custom type. */
const char *ext_type_path(const struct res_type *t);

/*
 * ext_parse_answer - find the answer in what the executable printed
 * (stdout and stderr arrive through one pipe): the whole output when it
 * is one JSON value, else the last JSON object that starts at the
 * beginning of a line.  Everything else is diagnostics, appended to diag
 * (bounded by diag's max).  Returns 0 with *ret an object (new
 * reference), -ENOMSG when there is no JSON object (why says so), -EBADMSG
 * when the answer is not valid JSON or not an object (why says where and
 * what).
 */
int ext_parse_answer(const char *out, size_t len, json_t **ret, struct buf *diag, char *why,
		     size_t whylen);

/*
 * ext_check_probe - validate a probe answer: "state" an object, "changes"
 * a list of objects with a non-empty string "what", "unknown" and
 * "message" strings, "protocol" 1 when present.  0 or -EBADMSG (why).
 */
int ext_check_probe(const json_t *answer, char *why, size_t whylen);

/* ext_scalar_text - a change's from/to as text: strings as they are, other JSON compact; NULL for null/absent. */
char *ext_scalar_text(const json_t *v);

/* ext_tail - the last lines of text (at most max bytes, whole lines when possible), trimmed, into out. */
void ext_tail(const char *text, size_t len, char *out, size_t max);

#endif
