/*
 * http.c - the HTTP transport of the API, on libmicrohttpd.
 *
 * One internal polling thread (epoll) runs every request from start to
 * end, so handlers never run concurrently and need no locks.  A request
 * goes through:
 *   1. headers in: path length (414), "." / ".." path components,
 *      percent-encoded or not, and control characters, %00 included
 *      (400), query arguments (at most
 *      API_QUERY_MAX), then api_begin routes and authorises it (404, 405,
 *      401, 403) and a Content-Length beyond body_max is 413 - all before
 *      a byte of the body is read;
 *   2. body chunks accumulate in a buffer bounded by body_max (a chunked
 *      body that grows past it is 413 once it ends);
 *   3. api_finish runs the handler and audits writes;
 *   4. the answer: JSON (application/json) or the handler's raw bytes.
 *      Conditional GET lives here: when the handler set rs->etag and the
 *      request's If-None-Match names it (or is "*"), a 200 becomes a 304
 *      without a body.  401 carries WWW-Authenticate: Bearer.
 * At -v one line per request is logged when it completes.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strutil.h"

#define HTTP_PEM_MAX ((size_t)1 << 20)

struct http {
	struct server *srv;
	struct MHD_Daemon *d;
	char *tls_cert; /* PEM text, kept while the daemon runs */
	char *tls_key;
};

/* One request in progress. */
struct http_req {
	struct api_req rq;
	struct api_resp rs;
	const struct api_route *route;
	char *caller;
	struct buf body;
	bool too_large;
	bool answered;   /* a response was queued */
	int status;      /* what was answered, for the log */
	size_t nargs;
	bool too_many_args;
	struct api_arg args[API_QUERY_MAX];
	struct timespec start;
	char method[16];
	char path[HTTP_PATH_MAX + 1];
	char scratch[HTTP_PATH_MAX + 1];
	char address[INET6_ADDRSTRLEN + 1];
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_warnx("http: %s", line);
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct http_req *hr = cls;

	if (hr->nargs >= API_QUERY_MAX) {
		hr->too_many_args = true;
		return MHD_NO;
	}
	hr->args[hr->nargs].name = key;
	hr->args[hr->nargs].value = value ? value : "";
	hr->nargs++;
	return MHD_YES;
}

static int hexval(char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/*
 * unescape - percent-decode s in place (paths and query arguments).
 * libmicrohttpd's own decoder turns %00 into a NUL that silently cuts
 * the string ("a.yaml%00.txt" would read "a.yaml"); here it becomes
 * \x01, a control character that paths refuse (control_char).
 */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	const char *r = s;
	char *w = s;

	while (*r) {
		if (r[0] == '%' && isxdigit((unsigned char)r[1]) && isxdigit((unsigned char)r[2])) {
			int v = hexval(r[1]) * 16 + hexval(r[2]);

			*w++ = v ? (char)v : '\x01';
			r += 3;
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* control_char - whether s holds a control character (after decoding). */
static bool control_char(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

/* dot_segment - whether the decoded path has a "." or ".." component. */
static bool dot_segment(const char *path)
{
	const char *s = path;

	while (*s) {
		size_t n;

		while (*s == '/')
			s++;
		n = strcspn(s, "/");
		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return true;
		s += n;
	}
	return false;
}

int http_path_check(const char *url, char path[HTTP_PATH_MAX + 1], struct api_resp *rs)
{
	if (strlen(url) > HTTP_PATH_MAX) {
		snprintf(path, HTTP_PATH_MAX + 1, "%.64s...", url);
		api_error(rs, 414, "the URL path is longer than %d bytes", HTTP_PATH_MAX);
		return 1;
	}
	snprintf(path, HTTP_PATH_MAX + 1, "%s", url);
	if (control_char(path)) {
		api_error(rs, 400, "the path has a control character (or %%00)");
		return 1;
	}
	if (dot_segment(path)) {
		api_error(rs, 400, "the path has a '.' or '..' component: %s", path);
		return 1;
	}
	return 0;
}

static void client_address(struct MHD_Connection *conn, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, len, "-");
	if (!sa)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)len);
}

/* etag_matches - whether an If-None-Match value names etag ("*" does). */
static bool etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);
	const char *p = inm;

	while (p && *p) {
		size_t l;

		p += strspn(p, " \t,");
		if (!strncmp(p, "W/", 2))
			p += 2;
		l = strcspn(p, ",");
		while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
			l--;
		if ((l == 1 && *p == '*') || (l == n && !strncmp(p, etag, n)))
			return true;
		p += l;
		p += strcspn(p, ",");
	}
	return false;
}

static struct MHD_Response *make_body(struct http_req *hr, const char **ret_type)
{
	struct api_resp *rs = &hr->rs;
	char *s;

	if (rs->json) {
		s = json_dumps(rs->json, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!s)
			return NULL;
		*ret_type = "application/json";
		return MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
	}
	if (rs->raw) {
		s = rs->raw;
		rs->raw = NULL;
		*ret_type = rs->content_type ? rs->content_type : "text/plain";
		return MHD_create_response_from_buffer(rs->raw_len, s, MHD_RESPMEM_MUST_FREE);
	}
	*ret_type = NULL;
	return MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result respond(struct MHD_Connection *conn, struct http_req *hr)
{
	struct api_resp *rs = &hr->rs;
	struct MHD_Response *resp;
	const char *type = NULL, *inm;
	char etag[sizeof(rs->etag) + 2] = "";
	int status = rs->status ? rs->status : 500;
	enum MHD_Result ret;

	if (rs->etag[0]) {
		if (rs->etag[0] == '"' || !strncmp(rs->etag, "W/", 2))
			snprintf(etag, sizeof(etag), "%s", rs->etag);
		else
			snprintf(etag, sizeof(etag), "\"%s\"", rs->etag);
		inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						  MHD_HTTP_HEADER_IF_NONE_MATCH);
		if (status == 200 && inm && etag_matches(inm, etag)) {
			status = 304;
			api_resp_clear(rs);
		}
	}
	resp = status == 304 ? MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT)
			     : make_body(hr, &type);
	if (!resp)
		return MHD_NO;
	if (type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (etag[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	if (status == 405) {
		char allow[64];

		api_route_allow(hr->path, allow, sizeof(allow));
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	}
	if (status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"tend\"");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	ret = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	hr->answered = true;
	hr->status = status;
	return ret;
}

/* body_too_long - whether the announced Content-Length is beyond the limit. */
static bool body_too_long(struct MHD_Connection *conn, size_t max)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	long long n;

	return cl && str_to_ll(cl, 10, 0, INT64_MAX, &n) == 0 && (unsigned long long)n > max;
}

/* begin - the first call for a request: everything checked before the body. */
static enum MHD_Result begin(struct http *h, struct MHD_Connection *conn, const char *url,
			     const char *method, struct http_req *hr)
{
	struct api_req *rq = &hr->rq;
	const char *auth;

	clock_gettime(CLOCK_MONOTONIC, &hr->start);
	buf_init(&hr->body, h->srv->cfg.body_max);
	client_address(conn, hr->address, sizeof(hr->address));
	snprintf(hr->method, sizeof(hr->method), "%s", method);
	rq->srv = h->srv;
	rq->method = hr->method;
	rq->path = hr->path;
	rq->conn = conn;
	rq->address = hr->address;
	rq->query = hr->args;
	if (http_path_check(url, hr->path, &hr->rs))
		return respond(conn, hr);
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, hr);
	rq->nquery = hr->nargs;
	if (hr->too_many_args) {
		api_error(&hr->rs, 400, "more than %d query arguments", API_QUERY_MAX);
		return respond(conn, hr);
	}
	auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (api_begin(rq, auth, &hr->route, &hr->caller, hr->scratch, sizeof(hr->scratch),
		      &hr->rs))
		return respond(conn, hr);
	if (body_too_long(conn, h->srv->cfg.body_max)) {
		api_error(&hr->rs, 413, "the request body is larger than %zu bytes",
			  h->srv->cfg.body_max);
		api_finish(rq, hr->route, &hr->rs); /* audits a refused write */
		return respond(conn, hr);
	}
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http *h = cls;
	struct http_req *hr = *con_cls;

	if (!hr) {
		hr = calloc(1, sizeof(*hr));
		if (!hr)
			return MHD_NO;
		*con_cls = hr;
		return begin(h, conn, url, method, hr);
	}
	if (hr->answered) {
		*upload_data_size = 0; /* answered early: the rest is discarded */
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!hr->too_large && buf_add(&hr->body, upload_data, *upload_data_size) < 0) {
			hr->too_large = true;
			buf_free(&hr->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (hr->too_large)
		api_error(&hr->rs, 413, "the request body is larger than %zu bytes",
			  h->srv->cfg.body_max);
	hr->rq.body = hr->body.data;
	hr->rq.body_len = hr->body.len;
	api_finish(&hr->rq, hr->route, &hr->rs);
	return respond(conn, hr);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_req *hr = *con_cls;
	struct timespec end;
	double ms;

	if (!hr)
		return;
	if (log_get_level() >= LOG_VERBOSE) {
		clock_gettime(CLOCK_MONOTONIC, &end);
		ms = (double)(end.tv_sec - hr->start.tv_sec) * 1e3 +
		     (double)(end.tv_nsec - hr->start.tv_nsec) / 1e6;
		log_info("%s %s %s %s %d %.1fms%s", hr->address, hr->caller ? hr->caller : "-",
			 hr->method, hr->path, hr->answered ? hr->status : 0, ms,
			 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
	}
	api_resp_clear(&hr->rs);
	json_decref(hr->rq.json);
	buf_free(&hr->body);
	free(hr->caller);
	free(hr);
	*con_cls = NULL;
}

/* parse_listen - "ADDR:PORT" or "[ADDR6]:PORT" into a socket address. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, bool *ret_v6,
			struct tend_err *err)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon = strrchr(s, ':');
	long long port;
	size_t hl;

	if (!colon || str_to_ll(colon + 1, 10, 0, 65535, &port) < 0)
		return err_set(err, -EINVAL, "listen address '%s' is not ADDR:PORT", s);
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return err_set(err, -EINVAL, "listen address '%s' is not ADDR:PORT", s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		*ret_v6 = false;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		*ret_v6 = true;
		return 0;
	}
	return err_set(err, -EINVAL, "listen address '%s': '%s' is not an IP address", s, host);
}

static int read_pem(const char *path, char **ret, struct tend_err *err)
{
	struct buf b;
	char chunk[4096];
	FILE *f = fopen(path, "re");
	size_t n;
	int r = 0;

	if (!f)
		return err_set(err, -errno, "%s: %s", path, strerror(errno));
	buf_init(&b, HTTP_PEM_MAX);
	while (r == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		r = buf_add(&b, chunk, n);
	if (r == 0 && ferror(f))
		r = -EIO;
	fclose(f);
	if (r < 0) {
		buf_free(&b);
		return err_set(err, r, "%s: %s", path, r == -E2BIG ? "too large" : strerror(-r));
	}
	*ret = buf_steal(&b);
	return 0;
}

static int load_tls(struct http *h, const struct srv_config *c, struct tend_err *err)
{
	int r;

	if (!c->tls_cert)
		return 0;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return err_set(err, -ENOTSUP, "this libmicrohttpd has no TLS support");
	r = read_pem(c->tls_cert, &h->tls_cert, err);
	if (r == 0)
		r = read_pem(c->tls_key, &h->tls_key, err);
	return r;
}

int http_start(struct server *s, struct http **ret, struct tend_err *err)
{
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	struct http *h;
	bool v6 = false;
	int r;

	r = parse_listen(s->cfg.listen, &ss, &v6, err);
	if (r < 0)
		return r;
	h = calloc(1, sizeof(*h));
	if (!h)
		return err_set(err, -ENOMEM, "out of memory");
	h->srv = s;
	r = load_tls(h, &s->cfg, err);
	if (r < 0) {
		http_stop(h);
		return r;
	}
	if (v6)
		flags |= MHD_USE_IPv6;
	if (h->tls_cert)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem ops[] = {
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, h },
		{ MHD_OPTION_SOCK_ADDR, 0, &ss },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h },
		{ MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, h },
		{ MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, 1024, NULL },
		/* without TLS the list ends here */
		{ h->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, h->tls_cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key },
		{ MHD_OPTION_END, 0, NULL },
	};
	errno = 0;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, ops,
				MHD_OPTION_END);
	if (!h->d) {
		r = errno ? -errno : -EIO;
		http_stop(h);
		return err_set(err, r, "cannot listen on %s: %s", s->cfg.listen, strerror(-r));
	}
	*ret = h;
	return 0;
}

unsigned http_port(const struct http *h)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);

	return di ? di->port : 0;
}

void http_stop(struct http *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	free(h->tls_cert);
	free(h->tls_key);
	free(h);
}
