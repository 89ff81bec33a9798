/*
 * http.h - a small HTTP client for JSON APIs: one request, an answer
 * bounded in size and time, TLS checked against a CA file or the
 * system's CAs.  libcurl is loaded with dlopen on the first request, so
 * a process that never talks HTTP (an agent between enrollments, `tend
 * apply`) does not carry a TLS stack's memory.
 */
#ifndef TEND_NET_HTTP_H
#define TEND_NET_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

#define HTTP_BODY_MAX_DEFAULT ((size_t)1 << 20)
#define HTTP_URL_MAX 2048

struct http_opts {
	const char *cacert;       /* PEM file of the CAs to trust; NULL: the system's */
	const char *bearer;       /* "Authorization: Bearer ..." when set */
	long connect_timeout;     /* seconds; 10 when 0 */
	long timeout;             /* seconds for the whole request; 60 when 0 */
	size_t body_max;          /* largest answer kept; HTTP_BODY_MAX_DEFAULT when 0 */
};

struct http_result {
	long status;              /* HTTP status */
	json_t *json;             /* the body parsed when it is a JSON value, else NULL */
	struct buf body;          /* the raw body */
};

/*
 * http_url_ok - whether url is an http:// or https:// URL of at most
 * HTTP_URL_MAX bytes without spaces or control characters.
 */
bool http_url_ok(const char *url);

/*
 * http_request - method ("GET", "POST", "PUT", "DELETE") on url with body
 * (NULL: none) sent as JSON.  Returns 0 once the server answered, whatever
 * the status (*res is then filled and must be freed with
 * http_result_free), or -errno with a message naming the URL: -EINVAL bad
 * URL, -ENOSYS libcurl missing, -E2BIG answer over body_max, -ETIMEDOUT,
 * -ECONNREFUSED / -EHOSTUNREACH when nothing answered, -EIO otherwise
 * (TLS failures included).  Redirects are never followed.
 */
int http_request(const char *method, const char *url, const json_t *body,
		 const struct http_opts *o, struct http_result *res, struct tend_err *err);

/* http_result_free - release what http_request filled; res may be NULL. */
void http_result_free(struct http_result *res);

#endif
