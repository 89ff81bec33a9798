/*
 * err.c - formatting of library error messages (see err.h).
 */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(struct tend_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

int err_at(struct tend_err *e, int code, const char *file, int line, int col,
	   const char *fmt, ...)
{
	va_list ap;
	size_t n = 0;

	if (!e)
		return code;
	e->msg[0] = '\0';
	if (file && line > 0 && col > 0)
		n = (size_t)snprintf(e->msg, sizeof(e->msg), "%s:%d:%d: ", file, line, col);
	else if (file && line > 0)
		n = (size_t)snprintf(e->msg, sizeof(e->msg), "%s:%d: ", file, line);
	else if (file)
		n = (size_t)snprintf(e->msg, sizeof(e->msg), "%s: ", file);
	if (n >= sizeof(e->msg))
		return code;
	va_start(ap, fmt);
	vsnprintf(e->msg + n, sizeof(e->msg) - n, fmt, ap);
	va_end(ap);
	return code;
}

void err_prefix(struct tend_err *e, const char *fmt, ...)
{
	char pre[TEND_ERR_MAX], old[TEND_ERR_MAX];
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	{
		size_t n = strnlen(pre, sizeof(pre) - 3);

		memcpy(e->msg, pre, n);
		memcpy(e->msg + n, ": ", 2);
		n += 2;
		memcpy(e->msg + n, old, strnlen(old, sizeof(e->msg) - n - 1));
		e->msg[n + strnlen(old, sizeof(e->msg) - n - 1)] = '\0';
	}
}

void err_clear(struct tend_err *e)
{
	if (e)
		e->msg[0] = '\0';
}
