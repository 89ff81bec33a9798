/*
 * fetch.c - http(s) downloads for file sources (see fetch.h).  The caller
 * verifies the content against the manifest's sha256.
 *
 * libcurl pulls in a TLS stack worth megabytes of memory in every process;
 * most runs never download anything, so it is loaded with dlopen when the
 * first URL is fetched.  Prototypes come from curl.h via __typeof__.
 */
#include "resources/fetch.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "util/strutil.h"

bool fetch_is_url(const char *s)
{
	return str_has_prefix(s, "http://") || str_has_prefix(s, "https://");
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct buf *out = arg;

	if (buf_add(out, p, size * n) < 0)
		return 0; /* over the limit: abort the transfer */
	return size * n;
}

struct curl_api {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *setopt;
	__typeof__(curl_easy_perform) *perform;
	__typeof__(curl_easy_cleanup) *cleanup;
	__typeof__(curl_easy_strerror) *strerror;
};

/* curl_api - libcurl loaded on first use (soname 4 since 2006); NULL if absent. */
static const struct curl_api *curl_api(void)
{
	static struct curl_api api;
	static int state;
	void *h;

	if (state)
		return state > 0 ? &api : NULL;
	state = -1;
	h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return NULL;
	api.global_init = (__typeof__(api.global_init))dlsym(h, "curl_global_init");
	api.easy_init = (__typeof__(api.easy_init))dlsym(h, "curl_easy_init");
	api.setopt = (__typeof__(api.setopt))dlsym(h, "curl_easy_setopt");
	api.perform = (__typeof__(api.perform))dlsym(h, "curl_easy_perform");
	api.cleanup = (__typeof__(api.cleanup))dlsym(h, "curl_easy_cleanup");
	api.strerror = (__typeof__(api.strerror))dlsym(h, "curl_easy_strerror");
	if (!api.global_init || !api.easy_init || !api.setopt || !api.perform || !api.cleanup ||
	    !api.strerror)
		return NULL;
	api.global_init(CURL_GLOBAL_DEFAULT);
	state = 1;
	return &api;
}

int fetch_url(const char *url, size_t max, struct buf *out, struct tend_err *err)
{
	const struct curl_api *curl = curl_api();
	char ebuf[CURL_ERROR_SIZE] = "";
	CURL *h;
	CURLcode c;
	int r = 0;

	if (!curl)
		return err_set(err, -ENOSYS, "cannot fetch %s: libcurl (libcurl.so.4) is not installed", url);
	h = curl->easy_init();
	if (!h)
		return err_set(err, -ENOMEM, "cannot initialise libcurl");
	out->max = max;
	curl->setopt(h, CURLOPT_URL, url);
	curl->setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl->setopt(h, CURLOPT_WRITEDATA, out);
	curl->setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl->setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl->setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl->setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl->setopt(h, CURLOPT_FAILONERROR, 1L);
	curl->setopt(h, CURLOPT_TIMEOUT, 60L);
	curl->setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl->setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl->setopt(h, CURLOPT_USERAGENT, "tend/" TEND_VERSION);
	c = curl->perform(h);
	if (c != CURLE_OK)
		r = err_set(err, -EIO, "cannot fetch %s: %s", url, ebuf[0] ? ebuf : curl->strerror(c));
	curl->cleanup(h);
	return r;
}
