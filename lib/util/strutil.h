/*
 * strutil.h - small string helpers: checked number parsing, "did you mean"
 * suggestions, duration parsing.
 */
#ifndef TEND_STRUTIL_H
#define TEND_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>

/* str_to_ll - whole string s as a base-10 (or base) integer in [min,max]. */
int str_to_ll(const char *s, int base, long long min, long long max, long long *ret);

/* str_to_mode - octal permission bits "0644", "644", "1777" -> 0..07777. */
int str_to_mode(const char *s, unsigned *ret_mode);

/*
 * str_to_duration - "300", "300s", "5m", "1h", "1.5s", "250ms" -> seconds.
 */
int str_to_duration(const char *s, double *ret_seconds);

/* str_to_bool - true/false/yes/no/on/off/1/0 (any case). */
int str_to_bool(const char *s, bool *ret);

/* edit_distance - Levenshtein distance counting an adjacent transposition
 * as one edit; 32 for strings longer than 32. */
size_t edit_distance(const char *a, const char *b);

/*
 * closest_name - of the NULL-terminated names, the closest to s if close
 * enough to be a plausible typo (distance <= max(1, len/3)), else NULL.
 */
const char *closest_name(const char *s, const char *const *names);

/* str_has_prefix - whether s starts with prefix. */
bool str_has_prefix(const char *s, const char *prefix);

/*
 * utf8_seq_len - the length of the valid UTF-8 sequence that starts at s,
 * within avail bytes (shortest form, no surrogates, at most U+10FFFF); 0
 * when there is none.  utf8_valid - whether the n bytes at s are valid
 * UTF-8 without a NUL (what a JSON string can carry); utf8_ok - the same
 * for the string s.
 */
size_t utf8_seq_len(const unsigned char *s, size_t avail);
bool utf8_valid(const char *s, size_t n);
bool utf8_ok(const char *s);

/* xstrdup-like helper that returns NULL only when s is NULL. Aborts on OOM. */
char *xstrdup(const char *s);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
/*
 * xgrow - p with room for at least n + 1 elements of size bytes, *cap the
 * room it has: doubled when n reaches it, so that filling an array one
 * element at a time copies it O(log n) times, not n.  Dies like xcalloc.
 */
void *xgrow(void *p, size_t n, size_t *cap, size_t size);

#endif
