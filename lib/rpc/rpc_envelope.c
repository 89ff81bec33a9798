/*
 * rpc_envelope.c - the caller's side of RPC: a signed request envelope
 * (rpc_request_new) and the check of a node's signed reply
 * (rpc_reply_open); and the envelope as text, which the agent shares.
 *
 * The body is JSON text carried as a string inside the envelope, and the
 * signature is over its exact bytes: nothing is canonicalised, so what
 * was signed is what is read.  Envelopes are written by hand around the
 * body (escaping it once) rather than built as JSON objects and dumped,
 * because the emulator writes thousands per second and the certificate
 * in each one is the same text every time (escaped once by the sender).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "pki/pki.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"
#include "util/buf.h"
#include "util/strutil.h"

#define STR_(x) #x
#define STR(x) STR_(x)

long long rpc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool rpc_action_ok(const char *action)
{
	size_t n = 0;

	if (!action || !*action)
		return false;
	for (; action[n]; n++) {
		char c = action[n];

		if (n >= RPC_ACTION_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

bool rpc_id_ok(const char *id)
{
	return id && strlen(id) == RPC_ID_HEX && strspn(id, "0123456789abcdef") == RPC_ID_HEX;
}

/* utf8_len - the length of the valid UTF-8 sequence at s, 0 when there is none. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;
	unsigned min;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, min = 0x80, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, min = 0x800, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, min = 0x10000, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void rpc_utf8_fix(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		size_t n = utf8_len(p);

		if (n == 0)
			*p++ = '?';
		else
			p += n;
	}
}

/* env_string - member key of root as a string of 1..max bytes without NUL, or NULL. */
static const char *env_string(const json_t *root, const char *key, size_t max, size_t *ret_len)
{
	const json_t *v = json_object_get(root, key);
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (!s || n == 0 || n > max || strlen(s) != n)
		return NULL;
	*ret_len = n;
	return s;
}

int rpc_env_parse(const char *data, size_t len, const char *magic, struct rpc_env *ret,
		  char *why, size_t why_len)
{
	json_error_t je;
	json_t *root, *v, *sig;
	struct rpc_env e = { 0 };
	size_t n;

	if (!data || len > RPC_ENVELOPE_MAX) {
		snprintf(why, why_len, "the envelope is larger than %zu bytes", RPC_ENVELOPE_MAX);
		return -EBADMSG;
	}
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(root)) {
		snprintf(why, why_len, "the envelope is not a JSON object%s%s", root ? "" : ": ",
			 root ? "" : je.text);
		json_decref(root);
		return -EBADMSG;
	}
	e.root = root;
	v = json_object_get(root, magic);
	e.body = env_string(root, "body", RPC_ENVELOPE_MAX, &e.body_len);
	e.cert = env_string(root, "cert", PKI_PEM_MAX, &e.cert_len);
	/* missing, null or "": unsigned, which the caller refuses in its own words */
	sig = json_object_get(root, "sig");
	if (sig && !json_is_null(sig) && !(json_is_string(sig) && json_string_length(sig) == 0)) {
		e.sig = env_string(root, "sig", PKI_SIG_B64_MAX, &n);
		e.sig_bad = !e.sig;
	}
	if (!json_is_integer(v) || json_integer_value(v) != 1) {
		snprintf(why, why_len, "not a tend envelope (\"%s\": 1 is missing)", magic);
	} else if (!e.body) {
		snprintf(why, why_len, "the envelope has no body");
	} else {
		*ret = e;
		return 0;
	}
	json_decref(root);
	return -EBADMSG;
}

const char *rpc_env_problem(const struct rpc_env *env)
{
	if (!env->cert)
		return "the envelope has no certificate (or one over " STR(PKI_PEM_MAX) " bytes)";
	if (env->sig_bad)
		return "the signature is not a string of at most " STR(PKI_SIG_B64_MAX)
		       " characters";
	if (!env->sig)
		return "the envelope is not signed";
	return NULL;
}

void rpc_env_clear(struct rpc_env *e)
{
	if (!e)
		return;
	json_decref(e->root);
	memset(e, 0, sizeof(*e));
}

int rpc_json_escape(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;
	int r = buf_putc(b, '"');

	for (size_t i = 0; i < n && r == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7] = { '\\', 0 };
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		r = buf_add(b, s + run, i - run);
		if (r == 0)
			r = buf_add(b, esc, elen);
		run = i + 1;
	}
	if (r == 0)
		r = buf_add(b, s + run, n - run);
	if (r == 0)
		r = buf_putc(b, '"');
	return r;
}

int rpc_env_build(const char *magic, const char *body, size_t body_len, const char *cert_json,
		  size_t cert_json_len, const char *sig, char **ret, size_t *ret_len,
		  struct tend_err *err)
{
	struct buf b;
	int r;

	buf_init(&b, RPC_ENVELOPE_MAX);
	r = buf_printf(&b, "{\"%s\":1,\"body\":", magic);
	if (r == 0)
		r = rpc_json_escape(&b, body, body_len);
	if (r == 0)
		r = buf_puts(&b, ",\"cert\":");
	if (r == 0)
		r = buf_add(&b, cert_json, cert_json_len);
	if (r == 0)
		r = buf_printf(&b, ",\"sig\":\"%s\"}", sig);
	if (r < 0) {
		buf_free(&b);
		return err_set(err, r == -E2BIG ? -E2BIG : r,
			       "the envelope would be larger than %zu bytes", RPC_ENVELOPE_MAX);
	}
	*ret_len = b.len;
	*ret = buf_steal(&b);
	return 0;
}

/* new_id - 16 random bytes as 32 lowercase hex digits. */
static int new_id(char out[RPC_ID_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[RPC_ID_HEX / 2];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[RPC_ID_HEX] = '\0';
	return 0;
}

/* request_body - the body's JSON text. */
static char *request_body(const char *id, const char *caller, const char *action,
			  const json_t *args, const json_t *filter, long long now_ms,
			  long long ttl_ms)
{
	json_t *body = json_object();
	char *text;

	json_object_set_new(body, "id", json_string(id));
	json_object_set_new(body, "caller", json_string(caller));
	json_object_set_new(body, "action", json_string(action));
	json_object_set_new(body, "args", args ? json_incref((json_t *)args) : json_object());
	if (filter && !json_is_null(filter))
		json_object_set_new(body, "filter", json_incref((json_t *)filter));
	json_object_set_new(body, "created", json_integer(now_ms));
	json_object_set_new(body, "ttl", json_integer(ttl_ms));
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	return text;
}

int rpc_request_new(EVP_PKEY *key, const char *cert_pem, const char *action, const json_t *args,
		    const json_t *filter, long long now_ms, long long ttl_ms,
		    char ret_id[RPC_ID_HEX + 1], char **ret, size_t *ret_len, struct tend_err *err)
{
	char cn[PKI_CN_MAX + 1], role[PKI_CN_MAX + 1], id[RPC_ID_HEX + 1];
	char *body = NULL, *sig = NULL, *out = NULL;
	struct buf cert = BUF_INIT;
	size_t out_len = 0;
	bool admin;
	int r;

	if (!key || !rpc_action_ok(action))
		return err_set(err, -EINVAL, "'%.100s' is not an action (1 to %d letters, digits, "
			       "'.', '-', '_')", action ? action : "", RPC_ACTION_MAX);
	if (args && !json_is_object(args))
		return err_set(err, -EINVAL, "the arguments must be an object");
	if (ttl_ms < 1 || ttl_ms > RPC_TTL_MAX_MS)
		return err_set(err, -EINVAL, "the ttl must be 1 to %d ms", RPC_TTL_MAX_MS);
	r = rpc_filter_check(filter, err);
	if (r == 0)
		r = pki_cert_identity(cert_pem, cn, role, &admin, err);
	if (r == 0 && (r = new_id(id)) < 0)
		err_set(err, r, "cannot draw a request id: %s", strerror(-r));
	if (r < 0)
		return r;
	body = request_body(id, cn, action, args, filter, now_ms ? now_ms : rpc_now_ms(), ttl_ms);
	if (!body)
		return err_set(err, -EINVAL, "the request cannot be written as JSON");
	r = pki_sign(key, body, strlen(body), &sig, err);
	if (r == 0 && rpc_json_escape(&cert, cert_pem, strlen(cert_pem)) < 0)
		r = err_set(err, -ENOMEM, "out of memory");
	if (r == 0)
		r = rpc_env_build(RPC_MAGIC_REQUEST, body, strlen(body), buf_str(&cert), cert.len,
				  sig, &out, &out_len, err);
	free(body);
	free(sig);
	buf_free(&cert);
	if (r < 0)
		return r;
	memcpy(ret_id, id, sizeof(id));
	*ret = out;
	*ret_len = out_len;
	return 0;
}

/* reply_body - the reply's body, checked against the node that signed it. */
static int reply_body(const struct rpc_env *env, const char *node, const char *expect_id,
		      json_t **ret, struct tend_err *err)
{
	static const char *const statuses[] = { "ok", "failed", "refused", NULL };
	json_t *body = json_loadb(env->body, env->body_len, JSON_REJECT_DUPLICATES, NULL);
	const char *id, *who, *status, *reason;
	bool known = false;
	int r = -EBADMSG;

	if (!json_is_object(body)) {
		err_set(err, r, "the reply's body is not a JSON object");
		goto out;
	}
	id = json_string_value(json_object_get(body, "id"));
	who = json_string_value(json_object_get(body, "node"));
	status = json_string_value(json_object_get(body, "status"));
	reason = json_string_value(json_object_get(body, "reason"));
	for (size_t i = 0; status && statuses[i]; i++)
		known |= !strcmp(status, statuses[i]);
	if (!who || strcmp(who, node))
		err_set(err, r, "the reply names node '%.100s' but is signed by '%s'",
			who ? who : "", node);
	else if (!id || strcmp(id, expect_id ? expect_id : ""))
		err_set(err, r, "the reply is for request '%.40s', not '%.40s'", id ? id : "",
			expect_id ? expect_id : "");
	else if (!known)
		err_set(err, r, "the reply's status is not ok, failed or refused");
	else if (!json_is_string(json_object_get(body, "action")) ||
		 !json_is_integer(json_object_get(body, "ms")) ||
		 (json_object_get(body, "reason") && !reason))
		err_set(err, r, "the reply's action, ms or reason has the wrong type");
	else
		r = 0;
out:
	if (r < 0)
		json_decref(body);
	else
		*ret = body;
	return r;
}

int rpc_reply_open(const char *ca_pem, struct rpc_certcache *cache, const char *data, size_t len,
		   const char *expect_id, json_t **ret, struct tend_err *err)
{
	struct rpc_certcache *own = cache ? NULL : rpc_certcache_new();
	const struct rpc_cert *cert = NULL;
	struct rpc_env env = { 0 };
	struct tend_err e = { "" };
	char why[300], node[PKI_CN_MAX + 1];
	int r = rpc_env_parse(data, len, RPC_MAGIC_REPLY, &env, why, sizeof(why));

	if (r < 0) {
		err_set(err, -EBADMSG, "%s", why);
		goto out;
	}
	r = -EBADMSG;
	if (rpc_env_problem(&env)) {
		err_set(err, r, "%s", rpc_env_problem(&env));
		goto out;
	}
	if (rpc_certcache_get(cache ? cache : own, ca_pem, env.cert, env.cert_len, rpc_now_ms(),
			      &cert, &e) < 0) {
		err_set(err, r, "the reply's certificate is refused: %s", e.msg);
		goto out;
	}
	memcpy(node, cert->id.cn, sizeof(node));
	if (cert->id.admin)
		err_set(err, r, "the reply's certificate is an administrator's (%s), not a node's",
			node);
	else if (!strcmp(node, PKI_SERVER_CN))
		err_set(err, r, "the reply's certificate is tend-server's, not a node's");
	else if (pki_verify_key(cert->id.pub, env.body, env.body_len, env.sig, &e) < 0)
		err_set(err, r, "the reply's signature does not verify (%s)", node);
	else
		r = reply_body(&env, node, expect_id, ret, err);
out:
	rpc_env_clear(&env);
	rpc_certcache_free(own);
	return r;
}
