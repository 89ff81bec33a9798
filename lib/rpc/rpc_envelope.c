/*
 * rpc_envelope.c - the caller's side of RPC: a signed request envelope
 * (rpc_request_new) and the check of a node's signed reply
 * (rpc_reply_open), plus the small checks of names and ids the agent
 * shares.  The envelope as text is rpc_wire.c's.
 *
 * The body is JSON text carried as a string inside the envelope, and the
 * signature is over its exact bytes: nothing is canonicalised, so what
 * was signed is what is read.
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
		return err_set(err, -EINVAL,
			       "'%.100s' is not an action (1 to %d letters, digits, "
			       "'.', '-', '_')",
			       action ? action : "", RPC_ACTION_MAX);
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
