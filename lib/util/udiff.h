/*
 * udiff.h - unified diffs of two buffers, for plans and reports.
 */
#ifndef TEND_UDIFF_H
#define TEND_UDIFF_H

#include <stddef.h>

#include "util/buf.h"

#define UDIFF_MAX_INPUT ((size_t)4 << 20)

/*
 * udiff - append a unified diff (3 lines of context) of old -> new to out,
 * with "--- a_label" / "+++ b_label" headers.  Binary input (a NUL byte) or
 * input over UDIFF_MAX_INPUT gives a one-line summary with sizes and
 * SHA-256 instead.  Returns 0 or -errno.
 */
int udiff(const char *old, size_t old_len, const char *new, size_t new_len,
	  const char *a_label, const char *b_label, struct buf *out);

#endif
