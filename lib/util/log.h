/*
 * log.h - the binaries' logging: one line to stderr, prefixed by the
 * program name.  Library code never logs; it returns errors (err.h).
 * log_warn appends strerror(errno); log_warnx does not.
 */
#ifndef TEND_LOG_H
#define TEND_LOG_H

enum log_level { LOG_QUIET = 0, LOG_NORMAL = 1, LOG_VERBOSE = 2, LOG_DEBUG = 3 };

/* The level and program name are the only global mutable state. */
void log_init(const char *progname, enum log_level level);
enum log_level log_get_level(void);
void log_set_level(enum log_level level);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fatalx - print and exit(1); only during setup in main(). */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
