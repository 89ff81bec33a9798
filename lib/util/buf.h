/*
 * buf.h - growable byte buffers with a hard size limit.
 *
 * Invariants: after buf_init, data is either NULL (nothing appended yet) or
 * a NUL-terminated allocation of cap bytes holding len bytes plus the NUL.
 * len never exceeds max: an append that would pass it fails with -E2BIG and
 * leaves the buffer unchanged.  Every buffer that holds input from outside
 * tend must be given a max that fits what it is for.
 */
#ifndef TEND_BUF_H
#define TEND_BUF_H

#include <stdarg.h>
#include <stddef.h>

#define BUF_MAX_DEFAULT ((size_t)256 << 20)

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

#define BUF_INIT { NULL, 0, 0, BUF_MAX_DEFAULT }

/* buf_init - empty buffer that may grow to max bytes (0 = BUF_MAX_DEFAULT). */
void buf_init(struct buf *b, size_t max);

/* buf_free - release the storage; b may be NULL; b is left empty. */
void buf_free(struct buf *b);

/* buf_reset - keep storage, set length to zero. */
void buf_reset(struct buf *b);

/* buf_add - append n bytes.  0 or -E2BIG/-ENOMEM (buffer unchanged). */
int buf_add(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* buf_str - the contents as a C string ("" when empty, never NULL). */
const char *buf_str(const struct buf *b);

/* buf_steal - hand the contents (NUL-terminated, never NULL) to the caller. */
char *buf_steal(struct buf *b);

#endif
