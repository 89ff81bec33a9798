/*
 * log.c - stderr logging for the binaries (see log.h).
 */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *log_prog = "tend";
static enum log_level log_level = LOG_NORMAL;

void log_init(const char *progname, enum log_level level)
{
	log_prog = progname;
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

static void log_vline(const char *fmt, va_list ap, const char *tail)
{
	char line[4096];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (tail)
		fprintf(stderr, "%s: %s: %s\n", log_prog, line, tail);
	else
		fprintf(stderr, "%s: %s\n", log_prog, line);
}

void log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vline(fmt, ap, strerror(saved));
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(fmt, ap, NULL);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_level < LOG_VERBOSE)
		return;
	va_start(ap, fmt);
	log_vline(fmt, ap, NULL);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_level < LOG_DEBUG)
		return;
	va_start(ap, fmt);
	log_vline(fmt, ap, NULL);
	va_end(ap);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
