/*
 * fetch.h - downloading file sources over http(s) with libcurl.
 */
#ifndef TEND_FETCH_H
#define TEND_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

/* fetch_is_url - whether s starts with http:// or https://. */
bool fetch_is_url(const char *s);

/*
 * fetch_url - GET url into out (at most max bytes), following redirects
 * within http(s), failing on HTTP errors, with a 60 s overall timeout.
 */
int fetch_url(const char *url, size_t max, struct buf *out, struct tend_err *err);

#endif
