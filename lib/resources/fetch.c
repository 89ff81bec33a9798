/*
 * fetch.c - http(s) downloads for file sources (see fetch.h).  The caller
 * verifies the content against the manifest's sha256.
 */
#include "resources/fetch.h"

#include <curl/curl.h>
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

int fetch_url(const char *url, size_t max, struct buf *out, struct tend_err *err)
{
	static int inited;
	char ebuf[CURL_ERROR_SIZE] = "";
	CURL *h;
	CURLcode c;
	int r = 0;

	if (!inited) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		inited = 1;
	}
	h = curl_easy_init();
	if (!h)
		return err_set(err, -ENOMEM, "cannot initialise libcurl");
	out->max = max;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "tend/" TEND_VERSION);
	c = curl_easy_perform(h);
	if (c != CURLE_OK)
		r = err_set(err, -EIO, "cannot fetch %s: %s", url, ebuf[0] ? ebuf : curl_easy_strerror(c));
	curl_easy_cleanup(h);
	return r;
}
