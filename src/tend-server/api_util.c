/*
 * api_util.c - what every handler uses to read a request and write an
 * answer: JSON answers and errors, query arguments, JSON bodies with
 * their field lists checked.
 *
 * Error messages may quote what the client sent (a path, a field name):
 * they are made valid UTF-8 (bad bytes become '?') so that an answer can
 * always be encoded.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "api.h"
#include "util/strutil.h"

void api_resp_clear(struct api_resp *rs)
{
	json_decref(rs->json);
	free(rs->raw);
	memset(rs, 0, sizeof(*rs));
}

int api_ok(struct api_resp *rs, int status, json_t *json)
{
	if (!json)
		return api_error(rs, 500, "out of memory");
	json_decref(rs->json);
	free(rs->raw);
	rs->raw = NULL;
	rs->raw_len = 0;
	rs->json = json;
	rs->status = status ? status : 200;
	return 0;
}

/* utf8_seq - length of the valid UTF-8 sequence at s (1..4), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s)
{
	size_t n;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return n;
}

/* utf8_clean - replace every byte of s that is not valid UTF-8 by '?'. */
static void utf8_clean(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		size_t n = utf8_seq(p);

		if (n == 0) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

int api_error(struct api_resp *rs, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	utf8_clean(msg);
	json_decref(rs->json);
	free(rs->raw);
	rs->raw = NULL;
	rs->raw_len = 0;
	j = json_object();
	if (j)
		json_object_set_new(j, "error", json_string(msg));
	rs->json = j;
	rs->status = status;
	return 0;
}

int api_error_errno(struct api_resp *rs, int code, const char *msg)
{
	int status;

	switch (code) {
	case -ENOENT:
		status = 404;
		break;
	case -ESTALE:
	case -EEXIST:
		status = 409;
		break;
	case -EINVAL:
		status = 400;
		break;
	case -EFBIG:
		status = 413;
		break;
	default:
		status = 500;
		break;
	}
	return api_error(rs, status, "%s", msg && *msg ? msg : strerror(code < 0 ? -code : code));
}

const char *api_query(struct api_req *rq, const char *name)
{
	for (size_t i = 0; i < rq->nquery; i++)
		if (!strcmp(rq->query[i].name, name))
			return rq->query[i].value ? rq->query[i].value : "";
	return NULL;
}

int api_query_int(struct api_req *rq, const char *name, long def, long min, long max, long *ret)
{
	const char *v = api_query(rq, name);
	long long n;

	if (!v) {
		*ret = def;
		return 0;
	}
	if (str_to_ll(v, 10, min, max, &n) < 0)
		return -EINVAL;
	*ret = (long)n;
	return 0;
}

static bool field_allowed(const char *key, const char *const *allowed)
{
	for (size_t i = 0; allowed[i]; i++)
		if (!strcmp(allowed[i], key))
			return true;
	return false;
}

int api_body_json(struct api_req *rq, struct api_resp *rs, const char *const *allowed,
		  json_t **ret)
{
	json_error_t jerr;
	const char *key;
	json_t *obj, *v;

	if (rq->json) {
		obj = json_incref(rq->json);
	} else if (!rq->body || rq->body_len == 0) {
		obj = json_object();
	} else {
		obj = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
		if (!obj) {
			api_error(rs, 400, "malformed JSON body: %s (line %d, column %d)", jerr.text,
				  jerr.line, jerr.column);
			return -EINVAL;
		}
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		api_error(rs, 400, "the request body must be a JSON object");
		return -EINVAL;
	}
	if (allowed) {
		json_object_foreach(obj, key, v) {
			const char *near;

			if (field_allowed(key, allowed))
				continue;
			near = closest_name(key, allowed);
			if (near)
				api_error(rs, 400, "unknown field '%.100s' (did you mean '%s'?)", key,
					  near);
			else
				api_error(rs, 400, "unknown field '%.100s'", key);
			json_decref(obj);
			return -EINVAL;
		}
	}
	*ret = obj;
	return 0;
}
