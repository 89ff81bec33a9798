/*
 * resource.c - recording a resource's changes and outcome (see resource.h).
 */
#include "model/resource.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strutil.h"

const char *res_status_name(enum res_status s)
{
	static const char *const names[] = { "pending", "ok", "change", "unknown",
					     "changed", "failed", "skipped" };

	return s <= RES_SKIPPED ? names[s] : "?";
}

void res_change(struct resource *r, const char *what, const char *from, const char *to)
{
	struct change *c;

	r->changes = xrealloc(r->changes, (r->nchanges + 1) * sizeof(*r->changes));
	c = &r->changes[r->nchanges++];
	c->what = xstrdup(what);
	c->from = xstrdup(from);
	c->to = xstrdup(to);
	c->diff = NULL;
}

void res_change_diff_take(struct resource *r, char *diff)
{
	if (!r->nchanges) {
		free(diff);
		return;
	}
	free(r->changes[r->nchanges - 1].diff);
	r->changes[r->nchanges - 1].diff = diff;
}

static char *vfmt(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return xstrdup("(out of memory)");
	return s;
}

void res_unknown(struct resource *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	free(r->message);
	r->message = vfmt(fmt, ap);
	va_end(ap);
	r->status = RES_UNKNOWN;
}

int res_fail(struct resource *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	free(r->message);
	r->message = vfmt(fmt, ap);
	va_end(ap);
	r->status = RES_FAILED;
	return -EIO;
}

bool res_has_change(const struct resource *r, const char *what)
{
	for (size_t i = 0; i < r->nchanges; i++)
		if (!strcmp(r->changes[i].what, what))
			return true;
	return false;
}

void *res_cache_get(struct res_ctx *ctx, const struct res_type *t)
{
	for (size_t i = 0; i < sizeof(ctx->caches) / sizeof(ctx->caches[0]); i++)
		if (ctx->caches[i].type == t)
			return ctx->caches[i].data;
	return NULL;
}

void res_cache_set(struct res_ctx *ctx, const struct res_type *t, void *data)
{
	struct res_cache *free_slot = NULL;

	for (size_t i = 0; i < sizeof(ctx->caches) / sizeof(ctx->caches[0]); i++) {
		struct res_cache *c = &ctx->caches[i];

		if (c->type == t) {
			if (c->data && c->data != data && t->free_cache)
				t->free_cache(c->data);
			c->data = data;
			if (!data)
				c->type = NULL;
			return;
		}
		if (!c->type && !free_slot)
			free_slot = c;
	}
	if (data && free_slot) {
		free_slot->type = t;
		free_slot->data = data;
	} else if (data && t->free_cache) {
		t->free_cache(data); /* no room: behave as uncached */
	}
}

void res_cache_free_all(struct res_ctx *ctx)
{
	for (size_t i = 0; i < sizeof(ctx->caches) / sizeof(ctx->caches[0]); i++) {
		struct res_cache *c = &ctx->caches[i];

		if (c->type && c->data && c->type->free_cache)
			c->type->free_cache(c->data);
		c->type = NULL;
		c->data = NULL;
	}
}
