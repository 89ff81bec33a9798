/*
 * schema.h - decoding a resource's raw attributes through its type's
 * schema, and the attributes every type shares.
 */
#ifndef TEND_SCHEMA_H
#define TEND_SCHEMA_H

#include "model/catalog.h"
#include "model/resource.h"

/* Attributes every resource accepts, handled by the engine. */
extern const char *const schema_meta_attrs[];

/* schema_is_meta - whether key is one of schema_meta_attrs. */
bool schema_is_meta(const char *key);

/* schema_attr - the type's attribute named key, or NULL. */
const struct res_attr *schema_attr(const struct res_type *t, const char *key);

/*
 * schema_check_key - error when key is neither a meta attribute nor in the
 * type's schema, with a "did you mean" suggestion.  Any key is fine for a
 * type with open_schema.
 */
int schema_check_key(const struct res_type *t, const char *id, const char *key,
		     const struct srcpos *pos, struct tend_err *err);

/*
 * schema_decode - fill r->desired (allocating it) from r->attrs: defaults,
 * template rendering of strings against ctx->tmpl, type conversion, the
 * required check, then the type's check().  Meta attributes go to r.
 * A type with open_schema accepts attributes it does not declare: they
 * stay in r->attrs for its check() (schema_render_json).
 */
int schema_decode(struct resource *r, struct res_ctx *ctx, struct tend_err *err);

/*
 * schema_render_json - for types with open_schema: a new copy of the raw
 * attribute a's value with every string in it (not map keys) rendered as
 * a template against ctx->tmpl, like string attributes; errors name a's
 * position.  Other scalars (typed by YAML) are kept as they are.
 */
int schema_render_json(const struct raw_attr *a, struct res_ctx *ctx, json_t **ret,
		       struct tend_err *err);

/* schema_free_desired - free what schema_decode allocated in r->desired. */
void schema_free_desired(struct resource *r);

/* strlist helpers */
void strlist_free(struct strlist *l);
void strlist_push(struct strlist *l, const char *s);

#endif
