/*
 * err.h - error values carried out of library code.
 *
 * Library functions return a negative errno (or -EINVAL for bad input) and,
 * when the caller passed a struct tend_err, a one-line lowercase message
 * that names the file and the thing.  The binary decides how to print it.
 */
#ifndef TEND_ERR_H
#define TEND_ERR_H

#include <stddef.h>

#define TEND_ERR_MAX 2048

struct tend_err {
	char msg[TEND_ERR_MAX];
};

/*
 * err_set - format a message into e (which may be NULL) and return code,
 * which should be a negative errno.  A message already in e is replaced.
 */
int err_set(struct tend_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * err_at - like err_set, prefixed "FILE:LINE:COL: ".  line or col <= 0 are
 * left out.  file may be NULL.
 */
int err_at(struct tend_err *e, int code, const char *file, int line, int col,
	   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/*
 * err_prefix - put "PREFIX: " in front of the message already in e.
 */
void err_prefix(struct tend_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* err_clear - empty the message. */
void err_clear(struct tend_err *e);

#endif
