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
