/*
 * template.h - tend's logic-light template language.
 *
 * Mustache-like, never code execution:
 *   {{ name }}  {{ facts.hostname }}   variable (dotted path), rendered raw
 *   {{ . }}                            the current item inside a section
 *   {{#list}}...{{/list}}              section: once per item of a list; once
 *                                      with a map pushed as context; once for
 *                                      any other truthy value; never for
 *                                      false, null, "", 0, [] or {}
 *   {{^name}}...{{/name}}              inverted section: only when falsy
 *   {{ name | default("x") }}          filters, left to right: default("x"),
 *   {{ name | upper }} | lower |       upper, lower, join(","), trim
 *   join(", ") | trim
 *   {{ "literal" }}                    a string literal (e.g. {{ "{{" }})
 *   {{! comment }}                     dropped
 * A missing variable is an error unless a default() filter follows it.
 * Names resolve innermost section context first, then outward.
 * Scalars render as: strings as is, integers in decimal, reals with %g,
 * true/false, null as "".  A list or map rendered as a value is an error
 * unless join() turns a list of scalars into a string.
 * A section or standalone tag alone on its line takes its line (and
 * newline) with it, as in Mustache.
 */
#ifndef TEND_TEMPLATE_H
#define TEND_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

/*
 * tmpl_render - render src (len bytes, need not be NUL-terminated) against
 * the context object ctx, appending to out.  name is the template's name
 * for messages (a file path, or "file:/etc/motd content").  On error,
 * returns -EINVAL with "NAME:LINE:COL: message" in err (e.g.
 * "site.conf.tmpl:3:7: missing variable 'http_port'") and out may hold a
 * partial rendering which the caller must discard.
 * Facts unknown: when ctx holds "facts": null (a catalog compiled on the
 * server, rendered later on the node), a missing name under facts. is
 * -ENODATA instead ("NAME:LINE:COL: 'facts.x' is a fact, known only on
 * the node"), so that callers can tell it from a real error.
 */
int tmpl_render(const char *src, size_t len, const char *name, json_t *ctx,
		struct buf *out, struct tend_err *err);

/* tmpl_has_tags - whether s contains "{{" (cheap test to skip rendering). */
int tmpl_has_tags(const char *s, size_t len);

#endif
