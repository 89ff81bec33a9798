/*
 * http.c - JSON over HTTP with libcurl, loaded on first use (see http.h).
 *
 * The loader is the same idea as src/tend/api_client.c's and
 * lib/resources/fetch.c's: prototypes from curl.h through __typeof__,
 * symbols from libcurl.so.4 (its soname since 2006).  Nothing here logs;
 * errors come back as messages.
 */
#include "net/http.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/strutil.h"

#define CONNECT_TIMEOUT_DEFAULT 10L
#define TIMEOUT_DEFAULT 60L

struct curl_fns {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *setopt;
	__typeof__(curl_easy_perform) *perform;
	__typeof__(curl_easy_getinfo) *getinfo;
	__typeof__(curl_easy_cleanup) *cleanup;
	__typeof__(curl_easy_strerror) *strerror;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
};

static struct curl_fns fns;
static int fns_state; /* 0 not tried, 1 loaded, -1 unavailable */
static pthread_once_t fns_once = PTHREAD_ONCE_INIT;

#define LOAD(h, field, sym) (fns.field = (__typeof__(fns.field))dlsym(h, sym)) != NULL

static void load_curl(void)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);

	fns_state = -1;
	if (!h)
		return;
	if (!(LOAD(h, global_init, "curl_global_init") && LOAD(h, easy_init, "curl_easy_init") &&
	      LOAD(h, setopt, "curl_easy_setopt") && LOAD(h, perform, "curl_easy_perform") &&
	      LOAD(h, getinfo, "curl_easy_getinfo") && LOAD(h, cleanup, "curl_easy_cleanup") &&
	      LOAD(h, strerror, "curl_easy_strerror") &&
	      LOAD(h, slist_append, "curl_slist_append") &&
	      LOAD(h, slist_free_all, "curl_slist_free_all")))
		return;
	if (fns.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return;
	fns_state = 1;
}

/* curl - the loaded functions, or NULL when libcurl is not installed. */
static const struct curl_fns *curl(void)
{
	pthread_once(&fns_once, load_curl);
	return fns_state > 0 ? &fns : NULL;
}

bool http_url_ok(const char *url)
{
	if (!url || (!str_has_prefix(url, "http://") && !str_has_prefix(url, "https://")))
		return false;
	if (strlen(url) > HTTP_URL_MAX)
		return false;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

void http_result_free(struct http_result *res)
{
	if (!res)
		return;
	json_decref(res->json);
	res->json = NULL;
	buf_free(&res->body);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct buf *out = arg;

	if (buf_add(out, p, size * n) < 0)
		return 0; /* over the limit: curl aborts the transfer */
	return size * n;
}

/* headers - the request's header list, NULL when out of memory. */
static struct curl_slist *headers(const struct curl_fns *c, const char *bearer, bool body)
{
	const char *fixed[] = { "Accept: application/json", "Expect:",
				body ? "Content-Type: application/json" : NULL };
	struct curl_slist *h = NULL, *t;
	struct buf auth = BUF_INIT;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (!fixed[i])
			continue;
		t = c->slist_append(h, fixed[i]);
		if (!t)
			goto fail;
		h = t;
	}
	if (bearer) {
		if (buf_printf(&auth, "Authorization: Bearer %s", bearer) < 0)
			goto fail;
		t = c->slist_append(h, buf_str(&auth));
		explicit_bzero(auth.data, auth.len);
		buf_free(&auth);
		if (!t)
			goto fail;
		h = t;
	}
	return h;
fail:
	if (h)
		c->slist_free_all(h);
	return NULL;
}

/* failure - the error of a transfer that did not complete, as -errno and a message. */
static int failure(const struct curl_fns *c, CURLcode cc, const char *ebuf, const char *url,
		   const struct buf *body, struct tend_err *err)
{
	const char *why = ebuf[0] ? ebuf : c->strerror(cc);

	switch (cc) {
	case CURLE_WRITE_ERROR:
		if (body->len + CURL_MAX_WRITE_SIZE >= body->max)
			return err_set(err, -E2BIG, "%s: the answer is larger than %zu bytes", url,
				       body->max);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		return err_set(err, -ETIMEDOUT, "%s: %s", url, why);
	case CURLE_COULDNT_CONNECT:
		return err_set(err, -ECONNREFUSED, "%s: %s", url, why);
	case CURLE_COULDNT_RESOLVE_HOST:
		return err_set(err, -EHOSTUNREACH, "%s: %s", url, why);
	default:
		break;
	}
	return err_set(err, -EIO, "%s: %s", url, why);
}

static void set_method(const struct curl_fns *c, CURL *h, const char *method, const char *text)
{
	if (text) {
		c->setopt(h, CURLOPT_POSTFIELDS, text);
		c->setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
	}
	if (!strcmp(method, "GET"))
		c->setopt(h, CURLOPT_HTTPGET, 1L);
	else if (strcmp(method, "POST") != 0 || !text)
		c->setopt(h, CURLOPT_CUSTOMREQUEST, method);
}

static void setup(const struct curl_fns *c, CURL *h, const char *url, const struct http_opts *o,
		  struct curl_slist *hdr, struct buf *body, char *ebuf)
{
	c->setopt(h, CURLOPT_URL, url);
	c->setopt(h, CURLOPT_HTTPHEADER, hdr);
	c->setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	c->setopt(h, CURLOPT_WRITEDATA, body);
	c->setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	c->setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* never hand a token or a CSR elsewhere */
	c->setopt(h, CURLOPT_CONNECTTIMEOUT,
		  o && o->connect_timeout > 0 ? o->connect_timeout : CONNECT_TIMEOUT_DEFAULT);
	c->setopt(h, CURLOPT_TIMEOUT, o && o->timeout > 0 ? o->timeout : TIMEOUT_DEFAULT);
	c->setopt(h, CURLOPT_NOSIGNAL, 1L);
	c->setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	c->setopt(h, CURLOPT_USERAGENT, "tend/" TEND_VERSION);
	if (o && o->cacert)
		c->setopt(h, CURLOPT_CAINFO, o->cacert);
}

int http_request(const char *method, const char *url, const json_t *body,
		 const struct http_opts *o, struct http_result *res, struct tend_err *err)
{
	const struct curl_fns *c;
	char ebuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	char *text = NULL;
	CURL *h = NULL;
	CURLcode cc;
	int r = 0;

	memset(res, 0, sizeof(*res));
	buf_init(&res->body, o && o->body_max ? o->body_max : HTTP_BODY_MAX_DEFAULT);
	if (!http_url_ok(url))
		return err_set(err, -EINVAL, "'%.200s' is not an http:// or https:// URL", url);
	c = curl();
	if (!c)
		return err_set(err, -ENOSYS, "cannot reach %s: libcurl (libcurl.so.4) is not installed",
			       url);
	if (body && !(text = json_dumps(body, JSON_COMPACT)))
		return err_set(err, -ENOMEM, "out of memory");
	if (!(h = c->easy_init()) || !(hdr = headers(c, o ? o->bearer : NULL, text != NULL))) {
		r = err_set(err, -ENOMEM, "cannot set up a request to %s", url);
		goto out;
	}
	setup(c, h, url, o, hdr, &res->body, ebuf);
	set_method(c, h, method, text);
	cc = c->perform(h);
	if (cc != CURLE_OK) {
		r = failure(c, cc, ebuf, url, &res->body, err);
		goto out;
	}
	c->getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
	if (res->body.len)
		res->json = json_loadb(res->body.data, res->body.len, JSON_DECODE_ANY, NULL);
out:
	if (r < 0)
		http_result_free(res);
	if (h)
		c->cleanup(h);
	if (hdr)
		c->slist_free_all(hdr);
	if (text) {
		explicit_bzero(text, strlen(text)); /* may hold an enrollment token */
		free(text);
	}
	return r;
}
