/*
 * api_client.c - the remote commands' link to tend-server (see
 * api_client.h): settings from flags, environment and cli.conf; HTTP
 * requests with libcurl; errors told to a person; a text table.
 *
 * The same `tend` binary runs on every managed node, where most runs
 * never talk to the API.  libcurl drags in a TLS stack worth megabytes of
 * resident memory, so it is loaded with dlopen on the first request, as
 * lib/resources/fetch.c does for file sources; that loader is private to
 * libtend's fetch code and needs fewer functions, so this file has its own.
 * Prototypes come from curl.h via __typeof__.
 */
#include "api_client.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/strutil.h"

#define CONF_MAX ((size_t)64 << 10)
#define URL_MAX 2048
#define TOKEN_MAX 4096
#define CONNECT_TIMEOUT 10L /* seconds */
#define REQUEST_TIMEOUT 300L

bool api_opts_take(struct api_opts *o, int c, const char *arg)
{
	switch (c) {
	case API_OPT_SERVER:
		o->server = arg;
		return true;
	case API_OPT_TOKEN:
		o->token = arg;
		return true;
	case API_OPT_CACERT:
		o->cacert = arg;
		return true;
	case API_OPT_JSON:
		o->json = true;
		return true;
	case API_OPT_HELP:
	case 'h':
		o->help = true;
		return true;
	default:
		return false;
	}
}

const char *json_str(const json_t *v, const char *dflt)
{
	return json_is_string(v) ? json_string_value(v) : dflt;
}

/* ---- settings ---------------------------------------------------------- */

struct conf {
	char *server, *token, *cacert;
};

static void conf_free(struct conf *f)
{
	free(f->server);
	if (f->token)
		explicit_bzero(f->token, strlen(f->token));
	free(f->token);
	free(f->cacert);
}

/* conf_path - where cli.conf is; -ENOENT when neither XDG_CONFIG_HOME nor HOME says. */
static int conf_path(struct buf *out)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (xdg && xdg[0] == '/')
		return buf_printf(out, "%s/tend/cli.conf", xdg);
	if (home && home[0] == '/')
		return buf_printf(out, "%s/.config/tend/cli.conf", home);
	return -ENOENT;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* conf_line - one "key = value" line of path into f. */
static int conf_line(struct conf *f, const char *path, int lineno, char *line, struct tend_err *err)
{
	static const char *const keys[] = { "server", "token", "cacert", NULL };
	char *eq, *key, *val, **slot;
	const char *near;
	size_t n;

	line = trim(line);
	if (!*line || *line == '#')
		return 0;
	eq = strchr(line, '=');
	if (!eq)
		return err_at(err, -EINVAL, path, lineno, 0, "expected 'KEY = VALUE'");
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	n = strlen(val);
	if (n >= 2 &&
	    ((val[0] == '"' && val[n - 1] == '"') || (val[0] == '\'' && val[n - 1] == '\''))) {
		val[n - 1] = '\0';
		val++;
	}
	if (!strcmp(key, "server"))
		slot = &f->server;
	else if (!strcmp(key, "token"))
		slot = &f->token;
	else if (!strcmp(key, "cacert"))
		slot = &f->cacert;
	else if ((near = closest_name(key, keys)))
		return err_at(err, -EINVAL, path, lineno, 0,
			      "unknown setting '%s' (did you mean '%s'?)", key, near);
	else
		return err_at(err, -EINVAL, path, lineno, 0,
			      "unknown setting '%s' (known: server, token, cacert)", key);
	if (!*val)
		return err_at(err, -EINVAL, path, lineno, 0, "'%s' has no value", key);
	free(*slot);
	*slot = xstrdup(val);
	return 0;
}

/* read_small - the whole regular file at fd (at most max bytes). */
static int read_small(int fd, size_t max, struct buf *out)
{
	char chunk[4096];
	ssize_t n;
	int r;

	out->max = max;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		r = buf_add(out, chunk, (size_t)n);
		if (r < 0)
			return r;
	}
}

/*
 * conf_load - cli.conf into f; a missing file is no error.  A file that
 * holds a token must not be readable (or writable) by others: the token
 * is a password.
 */
static int conf_load(struct conf *f, struct tend_err *err)
{
	struct buf path = BUF_INIT, text = BUF_INIT;
	struct stat st;
	char *line, *nl;
	int fd, r, lineno = 0;

	if (conf_path(&path) < 0)
		return 0;
	fd = open(buf_str(&path), O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not hang us */
	if (fd < 0) {
		r = errno == ENOENT || errno == ENOTDIR ? 0 :
							  err_set(err, -errno, "cannot open %s: %s",
								  buf_str(&path), strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = err_set(err, -EINVAL, "%s is not a regular file", buf_str(&path));
		goto out_close;
	}
	r = read_small(fd, CONF_MAX, &text);
	if (r < 0) {
		r = err_set(err, r, "cannot read %s: %s", buf_str(&path),
			    r == -E2BIG ? "larger than 64 KiB" : strerror(-r));
		goto out_close;
	}
	if (memchr(buf_str(&text), '\0', text.len)) {
		r = err_set(err, -EINVAL, "%s: not a text file", buf_str(&path));
		goto out_close;
	}
	for (line = text.data; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		r = conf_line(f, buf_str(&path), ++lineno, line, err);
		if (r < 0)
			goto out_close;
	}
	if (f->token && (st.st_mode & (S_IROTH | S_IWOTH)))
		r = err_set(err, -EACCES,
			    "%s holds a token and anyone on this machine can read it (mode %04o); "
			    "run: chmod 600 %s",
			    buf_str(&path), (unsigned)(st.st_mode & 07777), buf_str(&path));
out_close:
	close(fd);
out:
	buf_free(&path);
	buf_free(&text);
	return r;
}

static int check_server(const char *url, struct tend_err *err)
{
	if (!str_has_prefix(url, "http://") && !str_has_prefix(url, "https://"))
		return err_set(err, -EINVAL, "server '%s' is not an http:// or https:// URL", url);
	if (strlen(url) > URL_MAX)
		return err_set(err, -EINVAL, "server URL longer than %d bytes", URL_MAX);
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return err_set(err, -EINVAL,
				       "server URL '%s' holds a space or a control character", url);
	return 0;
}

static int check_token(const char *t, struct tend_err *err)
{
	size_t n = strlen(t);

	if (n == 0 || n > TOKEN_MAX)
		return err_set(err, -EINVAL, "the token is empty or longer than %d bytes",
			       TOKEN_MAX);
	for (const char *p = t; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return err_set(err, -EINVAL,
				       "the token holds a space or a control character");
	return 0;
}

/* pick - the first of flag, environment variable env, conf value that is set. */
static const char *pick(const char *flag, const char *env, const char *conf)
{
	const char *e = getenv(env);

	if (flag)
		return flag;
	if (e && *e)
		return e;
	return conf;
}

int api_client_init(struct api_client *c, const struct api_opts *o, struct tend_err *err)
{
	struct conf f = { NULL, NULL, NULL };
	const char *server, *token, *cacert;
	size_t n;
	int r;

	memset(c, 0, sizeof(*c));
	c->json = o->json;
	r = conf_load(&f, err);
	if (r < 0)
		goto out;
	server = pick(o->server, "TEND_SERVER", f.server);
	token = pick(o->token, "TEND_TOKEN", f.token);
	cacert = pick(o->cacert, "TEND_CACERT", f.cacert);
	r = -EINVAL;
	if (!server) {
		err_set(err, r,
			"no server: give --server URL, set TEND_SERVER, or write "
			"'server = URL' in ~/.config/tend/cli.conf");
		goto out;
	}
	if (!token) {
		err_set(err, r,
			"no token: give --token SECRET, set TEND_TOKEN, or write "
			"'token = SECRET' in ~/.config/tend/cli.conf (mode 0600)");
		goto out;
	}
	if ((r = check_server(server, err)) < 0 || (r = check_token(token, err)) < 0)
		goto out;
	if (cacert && access(cacert, R_OK) < 0) {
		r = err_set(err, -errno, "cannot read the CA certificate %s: %s", cacert,
			    strerror(errno));
		goto out;
	}
	c->server = xstrdup(server);
	n = strlen(c->server);
	while (n > 0 && c->server[n - 1] == '/')
		c->server[--n] = '\0';
	c->token = xstrdup(token);
	c->cacert = xstrdup(cacert);
	r = 0;
out:
	conf_free(&f);
	return r;
}

void api_client_free(struct api_client *c)
{
	if (!c)
		return;
	free(c->server);
	if (c->token)
		explicit_bzero(c->token, strlen(c->token));
	free(c->token);
	free(c->cacert);
	memset(c, 0, sizeof(*c));
}

/* ---- libcurl, loaded on first use ---------------------------------------- */

struct curl_api {
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

#define LOAD(h, api, field, sym) ((api)->field = (__typeof__((api)->field))dlsym(h, sym)) != NULL

/* curl_api - libcurl (soname 4 since 2006), or NULL when it is not installed. */
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
	if (!(LOAD(h, &api, global_init, "curl_global_init") &&
	      LOAD(h, &api, easy_init, "curl_easy_init") &&
	      LOAD(h, &api, setopt, "curl_easy_setopt") &&
	      LOAD(h, &api, perform, "curl_easy_perform") &&
	      LOAD(h, &api, getinfo, "curl_easy_getinfo") &&
	      LOAD(h, &api, cleanup, "curl_easy_cleanup") &&
	      LOAD(h, &api, strerror, "curl_easy_strerror") &&
	      LOAD(h, &api, slist_append, "curl_slist_append") &&
	      LOAD(h, &api, slist_free_all, "curl_slist_free_all")))
		return NULL;
	if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	state = 1;
	return &api;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct buf *out = arg;

	if (buf_add(out, p, size * n) < 0)
		return 0; /* over the limit: abort the transfer */
	return size * n;
}

void api_result_free(struct api_result *r)
{
	if (!r)
		return;
	json_decref(r->json);
	r->json = NULL;
	buf_free(&r->body);
}

/* headers - the request's header list; NULL when out of memory. */
static struct curl_slist *headers(const struct curl_api *curl, const struct api_client *c,
				  bool body)
{
	struct curl_slist *h = NULL, *t;
	struct buf auth = BUF_INIT;
	const char *fixed[] = { "Accept: application/json",
				"Expect:", body ? "Content-Type: application/json" : NULL };

	if (buf_printf(&auth, "Authorization: Bearer %s", c->token) < 0)
		return NULL;
	h = curl->slist_append(NULL, buf_str(&auth));
	explicit_bzero(auth.data, auth.len);
	buf_free(&auth);
	for (size_t i = 0; h && i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (!fixed[i])
			continue;
		t = curl->slist_append(h, fixed[i]);
		if (!t) {
			curl->slist_free_all(h);
			return NULL;
		}
		h = t;
	}
	return h;
}

static void set_method(const struct curl_api *curl, CURL *h, const char *method, const char *body)
{
	if (body) {
		curl->setopt(h, CURLOPT_POSTFIELDS, body);
		curl->setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	if (!strcmp(method, "GET"))
		curl->setopt(h, CURLOPT_HTTPGET, 1L);
	else if (strcmp(method, "POST") != 0 || !body)
		curl->setopt(h, CURLOPT_CUSTOMREQUEST, method);
}

/* finish - status and parsed body of a completed transfer into res. */
static void finish(const struct curl_api *curl, CURL *h, struct api_result *res)
{
	char *ctype = NULL;

	curl->getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
	curl->getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
	/* raw file content (?raw=1) is not parsed, even when it looks like JSON */
	if (ctype ? strstr(ctype, "json") != NULL : res->body.len && res->body.data[0] == '{')
		res->json =
			json_loadb(res->body.data ? res->body.data : "", res->body.len, 0, NULL);
}

int api_call(struct api_client *c, const char *method, const char *path, const json_t *body,
	     struct api_result *res, struct tend_err *err)
{
	const struct curl_api *curl = curl_api();
	char ebuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	struct buf url = BUF_INIT;
	char *text = NULL;
	CURL *h = NULL;
	CURLcode cc;
	int r = 0;

	memset(res, 0, sizeof(*res));
	buf_init(&res->body, API_BODY_MAX);
	if (!curl)
		return err_set(err, -ENOSYS,
			       "cannot reach %s: libcurl (libcurl.so.4) is not installed",
			       c->server);
	if (body && !(text = json_dumps(body, JSON_COMPACT)))
		return err_set(err, -ENOMEM, "out of memory");
	if (buf_printf(&url, "%s%s", c->server, path) < 0 || !(h = curl->easy_init()) ||
	    !(hdr = headers(curl, c, body != NULL))) {
		r = err_set(err, -ENOMEM, "cannot set up a request to %s", c->server);
		goto out;
	}
	curl->setopt(h, CURLOPT_URL, buf_str(&url));
	curl->setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl->setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl->setopt(h, CURLOPT_WRITEDATA, &res->body);
	curl->setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl->setopt(h, CURLOPT_PATH_AS_IS, 1L);     /* "a/../b" is the server's to refuse */
	curl->setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* never hand the token elsewhere */
	curl->setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl->setopt(h, CURLOPT_TIMEOUT, REQUEST_TIMEOUT);
	curl->setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl->setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl->setopt(h, CURLOPT_USERAGENT, "tend/" TEND_VERSION);
	if (c->cacert)
		curl->setopt(h, CURLOPT_CAINFO, c->cacert);
	set_method(curl, h, method, text);
	cc = curl->perform(h);
	if (cc == CURLE_WRITE_ERROR && res->body.len + CURL_MAX_WRITE_SIZE >= API_BODY_MAX)
		r = err_set(err, -E2BIG, "the answer from %s is larger than %zu MiB", c->server,
			    API_BODY_MAX >> 20);
	else if (cc != CURLE_OK)
		r = err_set(err, -EIO, "cannot reach the server at %s: %s", c->server,
			    ebuf[0] ? ebuf : curl->strerror(cc));
	else
		finish(curl, h, res);
out:
	if (r < 0)
		api_result_free(res);
	if (h)
		curl->cleanup(h);
	if (hdr)
		curl->slist_free_all(hdr);
	buf_free(&url);
	free(text);
	return r;
}

int api_escape(struct buf *b, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	int r = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && r == 0; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p) || (keep_slash && *p == '/')) {
			r = buf_putc(b, (char)*p);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };

			r = buf_add(b, e, 3);
		}
	}
	return r;
}

int api_query_add(struct buf *b, const char *name, const char *value)
{
	int r;

	if (!value)
		return 0;
	r = buf_printf(b, "%c%s=", memchr(buf_str(b), '?', b->len) ? '&' : '?', name);
	return r < 0 ? r : api_escape(b, value, false);
}

/* ---- answers --------------------------------------------------------------- */

void api_print_json(const json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
	fputc('\n', stdout);
}

/* error_text - the server's "error", else the start of a non-JSON body. */
static const char *error_text(const struct api_result *r, char *tmp, size_t len)
{
	const char *e = r->json ? json_str(json_object_get(r->json, "error"), NULL) : NULL;
	size_t n;

	if (e)
		return e;
	if (!r->body.len)
		return "no explanation given";
	n = strcspn(buf_str(&r->body), "\r\n");
	if (n > 200)
		n = 200;
	snprintf(tmp, len, "%.*s", (int)n, buf_str(&r->body));
	for (char *p = tmp; *p; p++)
		if ((unsigned char)*p < ' ')
			*p = '?';
	return tmp;
}

int api_report_error(struct api_client *c, const struct api_result *r, const char *what)
{
	char tmp[256];
	const char *msg = error_text(r, tmp, sizeof(tmp));
	size_t i;
	json_t *e;

	if (c->json && r->json)
		api_print_json(r->json);
	if (r->status == 401)
		log_warnx("%s: the server did not accept the token (%s); check --token, "
			  "TEND_TOKEN or cli.conf",
			  what, msg);
	else if (r->status == 403)
		log_warnx("%s: refused: this is a read-only token, and changes need a read-write "
			  "one (%s)",
			  what, msg);
	else
		log_warnx("%s: %s (HTTP %ld)", what, msg, r->status);
	json_array_foreach(r->json ? json_object_get(r->json, "errors") : NULL, i, e)
		fprintf(stderr, "%s\n", json_str(e, "?"));
	return API_EXIT_ERROR;
}

int api_get_json(struct api_client *c, const char *path, const char *what, json_t **ret)
{
	struct api_result res;
	struct tend_err err;

	if (api_call(c, "GET", path, NULL, &res, &err) < 0) {
		log_warnx("%s", err.msg);
		return API_EXIT_ERROR;
	}
	if (res.status < 200 || res.status > 299) {
		api_report_error(c, &res, what);
		api_result_free(&res);
		return API_EXIT_ERROR;
	}
	if (!json_is_object(res.json)) {
		log_warnx("%s: the server's answer is not a JSON object (HTTP %ld)", what,
			  res.status);
		api_result_free(&res);
		return API_EXIT_ERROR;
	}
	*ret = json_incref(res.json);
	api_result_free(&res);
	return 0;
}

int api_change(struct api_client *c, const char *method, const char *path, const json_t *body,
	       const char *what, const char *revision, json_t **ret, long *ret_status)
{
	struct api_result res;
	struct tend_err err;
	const char *head;
	int r = API_EXIT_ERROR;

	if (api_call(c, method, path, body, &res, &err) < 0) {
		log_warnx("%s: %s", what, err.msg);
		return API_EXIT_ERROR;
	}
	head = res.json ? json_str(json_object_get(res.json, "head"), NULL) : NULL;
	if (res.status == 409 && head) {
		if (c->json)
			api_print_json(res.json);
		log_warnx("%s: someone else changed the configuration since revision %s; "
			  "fetch and retry (it is now at %s)",
			  what, revision, head);
	} else if (res.status < 200 || res.status > 299) {
		api_report_error(c, &res, what);
	} else if (!json_is_object(res.json)) {
		log_warnx("%s: the server's answer is not a JSON object (HTTP %ld)", what,
			  res.status);
	} else {
		*ret = json_incref(res.json);
		*ret_status = res.status;
		r = 0;
	}
	api_result_free(&res);
	return r;
}

int api_head_revision(struct api_client *c, char out[41])
{
	json_t *v = NULL;
	const char *rev;

	if (api_get_json(c, "/v1/history?limit=1", "the current revision", &v))
		return API_EXIT_ERROR;
	rev = json_str(json_object_get(json_array_get(json_object_get(v, "commits"), 0), "id"),
		       NULL);
	if (!rev || strlen(rev) > 40) {
		log_warnx("the current revision: the server's history names no commit");
		json_decref(v);
		return API_EXIT_ERROR;
	}
	snprintf(out, 41, "%s", rev);
	json_decref(v);
	return 0;
}

/* ---- tables ------------------------------------------------------------------ */

void cli_table_init(struct cli_table *t, size_t ncols)
{
	t->ncols = ncols;
	t->right = 0;
	t->ncells = 0;
	t->cells = NULL;
}

void cli_table_add(struct cli_table *t, const char *cell)
{
	t->cells = xrealloc(t->cells, (t->ncells + 1) * sizeof(*t->cells));
	t->cells[t->ncells++] = xstrdup(cell ? cell : "-");
}

void cli_table_print(struct cli_table *t, FILE *f)
{
	size_t *w = xcalloc(t->ncols, sizeof(*w));

	for (size_t i = 0; i < t->ncells; i++) {
		size_t n = strlen(t->cells[i]);

		if (n > w[i % t->ncols])
			w[i % t->ncols] = n;
	}
	for (size_t i = 0; i < t->ncells; i++) {
		size_t col = i % t->ncols;

		bool last = col + 1 == t->ncols || i + 1 == t->ncells;
		int width = last && !(t->right & 1u << col) ? 0 : (int)w[col];

		fprintf(f, t->right & 1u << col ? "%*s%s" : "%-*s%s", width, t->cells[i],
			last ? "\n" : "  ");
	}
	free(w);
}

void cli_table_free(struct cli_table *t)
{
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->ncells = 0;
}
