/*
 * fuzz_api.c - an HTTP API request as tend-server's dispatcher sees it
 * (http.c, then api_begin and api_finish: routing, authorisation, the
 * handler), against a real server state (git repository, SQLite, CA) on
 * tmpfs, with a read-write token.  Every route is reachable, and writes
 * commit, so later inputs see what earlier ones wrote.
 *
 * An input is "METHOD PATH[?QUERY]" on its first line and the body after
 * it; QUERY is NAME=VALUE pairs joined by '&', taken as already decoded.
 * "@HEAD@" in the body becomes the repository's head commit, so that
 * writes (which name the revision they edit) can succeed.
 * Whatever it is, the answer is a status between 200 and 599, and a 500
 * (the server failing on its own) is a crash here.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "fuzz.h"
#include "repo.h"
#include "server.h"
#include "util/buf.h"

static struct server srv;
static char auth[256];

static void cleanup(void)
{
	server_close(&srv);
	srv_config_free(&srv.cfg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct tend_err err = { "" };
	const char *dir = fuzz_state_dir("api");
	char *secret = NULL;

	if (!dir)
		return -1;
	atexit(cleanup);
	srv_config_defaults(&srv.cfg);
	free(srv.cfg.state_dir);
	srv.cfg.state_dir = strdup(dir);
	srv.cfg.body_max = 1 << 20;
	if (srv_config_finish(&srv.cfg, &err) < 0 || server_open(&srv, &err) < 0 ||
	    db_token_create(srv.db, "fuzz", DB_ROLE_RW, &secret, &err) < 0) {
		fprintf(stderr, "fuzz: %s\n", err.msg);
		return -1;
	}
	snprintf(auth, sizeof(auth), "Bearer %s", secret);
	free(secret);
	return 0;
}

/* split_query - "a=1&b=2" (modified in place) into args; the count, or -1 past max. */
static int split_query(char *q, struct api_arg *args, size_t max)
{
	size_t n = 0;

	for (char *save = NULL, *kv = strtok_r(q, "&", &save); kv;
	     kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');

		if (n == max)
			return -1;
		if (eq)
			*eq++ = '\0';
		args[n++] = (struct api_arg){ kv, eq ? eq : "" };
	}
	return (int)n;
}

/* with_head - text with every "@HEAD@" replaced by the head commit (malloc'd). */
static char *with_head(const char *text, size_t *len)
{
	char head[REPO_OID_HEX + 1] = "";
	struct buf b = BUF_INIT;
	const char *at;

	repo_head(srv.repo, head, NULL);
	while ((at = memmem(text, *len, "@HEAD@", 6))) {
		buf_add(&b, text, (size_t)(at - text));
		buf_puts(&b, head);
		*len -= (size_t)(at - text) + 6;
		text = at + 6;
	}
	buf_add(&b, text, *len);
	*len = b.len;
	return b.data ? b.data : calloc(1, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[HTTP_PATH_MAX + 1], scratch[HTTP_PATH_MAX + 1];
	struct api_arg args[API_QUERY_MAX];
	const struct api_route *route = NULL;
	struct api_resp rs = { 0 };
	struct api_req rq = { 0 };
	char *text, *nl, *sp, *q, *caller = NULL;
	int nargs;

	char *raw;

	if (size > (1 << 20) || !(raw = malloc(size + 1)))
		return 0;
	memcpy(raw, data, size);
	raw[size] = '\0';
	text = with_head(raw, &size);
	free(raw);
	if (!text)
		return 0;
	/* the request line: no NUL in it (a decoded path cannot hold one) */
	if (!(nl = memchr(text, '\n', size)) || memchr(text, '\0', (size_t)(nl - text)) ||
	    !(sp = memchr(text, ' ', (size_t)(nl - text))) || sp == text || sp - text > 7) {
		free(text);
		return 0;
	}
	*nl = *sp = '\0';
	if ((q = strchr(sp + 1, '?')))
		*q++ = '\0';
	nargs = q ? split_query(q, args, API_QUERY_MAX) : 0;
	rq = (struct api_req){ .srv = &srv, .method = text, .path = path, .address = "127.0.0.1",
			       .query = args, .nquery = nargs < 0 ? 0 : (size_t)nargs,
			       .body = nl + 1, .body_len = size - (size_t)(nl + 1 - text) };
	if (nargs >= 0 && http_path_check(sp + 1, path, &rs) == 0 &&
	    api_begin(&rq, auth, &route, &caller, scratch, sizeof(scratch), &rs) == 0) {
		rq.caller = caller;
		api_finish(&rq, route, &rs);
		if (rs.status < 200 || rs.status > 599 || rs.status == 500) {
			fprintf(stderr, "%s %s: %d %s\n", text, path, rs.status,
				rs.json ? json_string_value(json_object_get(rs.json, "error")) : "");
			__builtin_trap();
		}
	}
	if (getenv("FUZZ_DEBUG")) /* to see how far a seed gets */
		fprintf(stderr, "%s %s: %d %s\n", text, path, rs.status,
			rs.json ? json_string_value(json_object_get(rs.json, "error")) : "");
	api_resp_clear(&rs);
	json_decref(rq.json);
	free(caller);
	free(text);
	return 0;
}
