/*
 * rpc_agent.c - the agent's side of RPC: everything a node checks before
 * it runs a request, its signed reply, and the audit record.
 *
 * The order of the checks is chosen for a fleet.  A broadcast reaches
 * every node, and most nodes are not in its filter: the filter is read
 * from the body before anything is verified, and a node the filter does
 * not pick ignores the request (no verification, no audit, no reply).
 * Forging a filter only makes nodes ignore a request, never run one.
 * Then, for the nodes it is for: the caller's certificate chains to the
 * CA and is an administrator's (O=tend-admin; a node's certificate is
 * never a caller), the body's caller is the certificate's CN, the
 * signature holds over the body's bytes, the request is fresh (created
 * + ttl not past, created not beyond now + RPC_SKEW_MS), its id was
 * never seen (and is recorded durably before this returns), and the
 * policy allows it.  Every refusal has a one-line reason.
 *
 * Certificates that verified are kept (rpc_certcache.c), so the second
 * request from an administrator costs a hash, not a chain check and a
 * key parse.  The agent's own certificate is escaped into JSON once.
 * A struct rpc_agent is not thread-safe.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pki/pki.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"
#include "util/buf.h"
#include "util/strutil.h"

#define CREATED_MAX (1LL << 53) /* ms: far beyond any clock, far below overflow */

struct rpc_agent {
	char *node;
	char *ca_pem;
	EVP_PKEY *key;
	char *cert_json; /* own certificate, escaped for the reply envelope */
	size_t cert_json_len;
	struct rpc_certcache *certs;
	bool own_certs;
	struct rpc_nonce *nonces;
	struct rpc_policy *policy;
	long long crl_number; /* of the revocation list in use; 0: none */
};

/* What the body says, beyond what struct rpc_call keeps. */
struct request {
	struct rpc_env env;
	json_t *body;
	long long created, ttl;
};

int rpc_agent_new(const struct rpc_agent_cfg *cfg, struct rpc_agent **ret, struct tend_err *err)
{
	char cn[PKI_CN_MAX + 1], role[PKI_CN_MAX + 1];
	struct rpc_agent *a;
	struct buf cert = BUF_INIT;
	bool admin;
	int r;

	if (!cfg || !cfg->node || !cfg->ca_pem || !cfg->key || !cfg->cert_pem)
		return err_set(err, -EINVAL,
			       "an agent needs its node name, the CA, its key and "
			       "its certificate");
	r = pki_cert_identity(cfg->cert_pem, cn, role, &admin, err);
	if (r < 0)
		return r;
	if (admin || strcmp(cn, cfg->node))
		return err_set(err, -EINVAL,
			       "the agent's certificate is for '%s', not node '%.100s'", cn,
			       cfg->node);
	if (rpc_json_escape(&cert, cfg->cert_pem, strlen(cfg->cert_pem)) < 0)
		return err_set(err, -ENOMEM, "out of memory");
	a = xcalloc(1, sizeof(*a));
	a->node = xstrdup(cfg->node);
	a->ca_pem = xstrdup(cfg->ca_pem);
	EVP_PKEY_up_ref(cfg->key);
	a->key = cfg->key;
	a->cert_json_len = cert.len;
	a->cert_json = buf_steal(&cert);
	a->own_certs = !cfg->certs;
	a->certs = cfg->certs ? cfg->certs : rpc_certcache_new();
	r = rpc_nonce_open(cfg->nonce_path, rpc_now_ms(), &a->nonces, err);
	if (r < 0) {
		rpc_agent_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

void rpc_agent_free(struct rpc_agent *a)
{
	if (!a)
		return;
	free(a->node);
	free(a->ca_pem);
	EVP_PKEY_free(a->key);
	free(a->cert_json);
	if (a->own_certs)
		rpc_certcache_free(a->certs);
	rpc_nonce_free(a->nonces);
	rpc_policy_free(a->policy);
	free(a);
}

int rpc_agent_set_crl(struct rpc_agent *a, const char *crl_pem, struct tend_err *err)
{
	long long n = 0;
	int r = pki_crl_check(a->ca_pem, crl_pem, &n, err);

	if (r < 0)
		return r;
	/* an older list (replayed, or read from a stale copy) never replaces a newer one */
	if (a->crl_number && n <= a->crl_number)
		return 0;
	rpc_certcache_set_crl(a->certs, crl_pem);
	a->crl_number = n > 0 ? n : 1;
	return 1;
}

long long rpc_agent_crl_number(const struct rpc_agent *a)
{
	return a->crl_number;
}

void rpc_agent_set_policy(struct rpc_agent *a, struct rpc_policy *p)
{
	rpc_policy_free(a->policy);
	a->policy = p;
}

/* copy_name - s into out (size bytes) when it is a string of 1..size-1 bytes. */
static bool copy_name(const json_t *v, char *out, size_t size)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (!s || n == 0 || n >= size || strlen(s) != n)
		return false;
	memcpy(out, s, n + 1);
	return true;
}

/* read_body - the members of the body into c and q; the first problem in why. */
static bool read_body(struct request *q, struct rpc_call *c, char *why, size_t why_len)
{
	const json_t *b = q->body, *args = json_object_get(b, "args");
	const json_t *created = json_object_get(b, "created"), *ttl = json_object_get(b, "ttl");
	char id[RPC_ID_HEX + 2];
	bool id_ok = copy_name(json_object_get(b, "id"), id, sizeof(id)) && rpc_id_ok(id);
	bool caller_ok = copy_name(json_object_get(b, "caller"), c->caller, sizeof(c->caller));
	bool action_ok = copy_name(json_object_get(b, "action"), c->action, sizeof(c->action)) &&
			 rpc_action_ok(c->action);

	if (id_ok)
		memcpy(c->id, id, sizeof(c->id));
	if (json_is_object(args))
		c->args = json_incref((json_t *)args);
	q->created = json_integer_value(created);
	q->ttl = json_integer_value(ttl);
	if (!id_ok)
		snprintf(why, why_len, "the request id is not %d lowercase hex digits", RPC_ID_HEX);
	else if (!caller_ok)
		snprintf(why, why_len, "the request's caller is not a name of 1 to %d bytes",
			 PKI_CN_MAX);
	else if (!action_ok)
		snprintf(why, why_len,
			 "the action is not a name of 1 to %d letters, digits, '.', "
			 "'-', '_'",
			 RPC_ACTION_MAX);
	else if (args && !json_is_null(args) && !json_is_object(args))
		snprintf(why, why_len, "the request's args is not an object");
	else if (!json_is_integer(created) || q->created < 0 || q->created > CREATED_MAX)
		snprintf(why, why_len, "the request's created is not a time in ms");
	else if (!json_is_integer(ttl))
		snprintf(why, why_len, "the request's ttl is not a number of ms");
	else
		return true;
	return false;
}

/* read_request - envelope and body, nothing verified; false with the reason in why. */
static bool read_request(const char *data, size_t len, struct request *q, struct rpc_call *c,
			 char *why, size_t why_len)
{
	if (rpc_env_parse(data, len, RPC_MAGIC_REQUEST, &q->env, why, why_len) < 0)
		return false;
	q->body = json_loadb(q->env.body, q->env.body_len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(q->body)) {
		snprintf(why, why_len, "the request's body is not a JSON object");
		return false;
	}
	return read_body(q, c, why, why_len);
}

/* verify_caller - certificate, caller and signature. */
static bool verify_caller(struct rpc_agent *a, const struct request *q, struct rpc_call *c,
			  long long now_ms, char *why, size_t why_len)
{
	const struct rpc_cert *cert;
	struct tend_err e = { "" };

	if (!q->env.cert || q->env.sig_bad) {
		snprintf(why, why_len, "%s", rpc_env_problem(&q->env));
		return false;
	}
	if (rpc_certcache_get(a->certs, a->ca_pem, q->env.cert, q->env.cert_len, now_ms, &cert,
			      &e) < 0) {
		snprintf(why, why_len, "the caller's certificate is refused: %s", e.msg);
		return false;
	}
	if (!cert->id.admin) {
		snprintf(why, why_len,
			 "the caller's certificate is a node's, not an "
			 "administrator's");
		return false;
	}
	if (strcmp(c->caller, cert->id.cn)) {
		snprintf(why, why_len, "the request's caller '%s' is not the certificate's '%s'",
			 c->caller, cert->id.cn);
		return false;
	}
	memcpy(c->role, cert->id.role, sizeof(c->role));
	if (!q->env.sig) {
		snprintf(why, why_len, "the request is not signed");
		return false;
	}
	if (pki_verify_key(cert->id.pub, q->env.body, q->env.body_len, q->env.sig, &e) < 0) {
		snprintf(why, why_len, "the request's signature does not verify");
		return false;
	}
	return true;
}

/* verify_fresh - the time window and the id, recorded when new. */
static bool verify_fresh(struct rpc_agent *a, const struct request *q, const struct rpc_call *c,
			 long long now_ms, char *why, size_t why_len)
{
	struct tend_err e = { "" };
	int r;

	if (q->ttl < 1 || q->ttl > RPC_TTL_MAX_MS) {
		snprintf(why, why_len, "the request's ttl %lld ms is not between 1 and %d", q->ttl,
			 RPC_TTL_MAX_MS);
		return false;
	}
	if (q->created + q->ttl < now_ms) {
		snprintf(why, why_len, "the request expired %lld ms ago",
			 now_ms - (q->created + q->ttl));
		return false;
	}
	if (q->created > now_ms + RPC_SKEW_MS) {
		snprintf(why, why_len,
			 "the request is from the future: created %lld ms after this "
			 "node's clock (more than %d ms of skew)",
			 q->created - now_ms, RPC_SKEW_MS);
		return false;
	}
	r = rpc_nonce_add(a->nonces, c->id, q->created + q->ttl + RPC_SKEW_MS, now_ms, &e);
	if (r == -EEXIST)
		snprintf(why, why_len, "replayed request id %s", c->id);
	else if (r < 0)
		snprintf(why, why_len, "the request id cannot be recorded: %s", e.msg);
	return r == 0;
}

int rpc_agent_check(struct rpc_agent *a, const struct rpc_self *self, const char *data, size_t len,
		    long long now_ms, struct rpc_call *ret)
{
	struct request q = { 0 };
	char why[sizeof(ret->reason)] = "";
	bool ok;

	if (!now_ms)
		now_ms = rpc_now_ms();
	memset(ret, 0, sizeof(*ret));
	ret->received_ms = now_ms;
	ok = read_request(data, len, &q, ret, why, sizeof(why));
	/* a body that reads as an object has its filter looked at, even if
	 * something else in it is wrong: nodes it is not for stay silent */
	if (json_is_object(q.body) && !rpc_filter_match(json_object_get(q.body, "filter"), self)) {
		rpc_env_clear(&q.env);
		json_decref(q.body);
		rpc_call_clear(ret);
		return 1;
	}
	ok = ok && verify_caller(a, &q, ret, now_ms, why, sizeof(why)) &&
	     verify_fresh(a, &q, ret, now_ms, why, sizeof(why));
	if (ok)
		ok = rpc_policy_check(a->policy, ret->caller, ret->role, ret->action, ret->args,
				      self, why, sizeof(why));
	ret->allowed = ok;
	memcpy(ret->reason, why, sizeof(ret->reason));
	rpc_utf8_fix(ret->reason);
	if (!ret->args)
		ret->args = json_object();
	rpc_env_clear(&q.env);
	json_decref(q.body);
	return 0;
}

void rpc_call_clear(struct rpc_call *c)
{
	if (!c)
		return;
	json_decref(c->args);
	memset(c, 0, sizeof(*c));
}

/* reply_reason - the reason a reply carries, or NULL. */
static const char *reply_reason(const struct rpc_call *call, const char *status, const json_t *data)
{
	const char *s = json_string_value(json_object_get(data, "error"));

	if (!strcmp(status, "refused") && !call->allowed)
		return call->reason;
	if (!strcmp(status, "ok"))
		return NULL;
	return s ? s : !strcmp(status, "failed") ? "the action failed" : "refused";
}

int rpc_agent_reply(struct rpc_agent *a, const struct rpc_call *call, const char *status,
		    json_t *data, long long ms, char **ret, size_t *ret_len, struct tend_err *err)
{
	const char *reason;
	json_t *body;
	char *text = NULL, *sig = NULL;
	int r;

	if (!status ||
	    (strcmp(status, "ok") && strcmp(status, "failed") && strcmp(status, "refused")) ||
	    (!call->allowed && strcmp(status, "refused"))) {
		json_decref(data);
		return err_set(err, -EINVAL,
			       "a reply's status is ok, failed or refused (refused "
			       "when the request was)");
	}
	reason = reply_reason(call, status, data);
	body = json_pack("{s:s, s:s, s:s, s:s}", "id", call->id, "node", a->node, "action",
			 call->action, "status", status);
	if (body && reason)
		json_object_set_new(body, "reason", json_string(reason));
	if (body) {
		json_object_set_new(body, "data", data ? data : json_null());
		data = NULL;
		json_object_set_new(body, "ms", json_integer(ms < 0 ? 0 : ms));
		text = json_dumps(body, JSON_COMPACT);
	}
	json_decref(body);
	json_decref(data);
	if (!text)
		return err_set(err, -ENOMEM, "the reply cannot be written as JSON");
	r = pki_sign(a->key, text, strlen(text), &sig, err);
	if (r == 0)
		r = rpc_env_build(RPC_MAGIC_REPLY, text, strlen(text), a->cert_json,
				  a->cert_json_len, sig, ret, ret_len, err);
	free(text);
	free(sig);
	return r;
}

/* iso_time - ms since the epoch as "2024-05-01T12:00:00.123Z". */
static void iso_time(long long ms, char out[32])
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	if (!gmtime_r(&secs, &tm) || !(n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm))) {
		snprintf(out, 32, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(out + n, 32 - n, ".%03lldZ", ms % 1000);
}

json_t *rpc_audit_record(const char *node, const struct rpc_call *call, const char *status,
			 long long ms)
{
	char when[32];
	json_t *rec;

	iso_time(call->received_ms, when);
	rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "time", when, "node", node ? node : "",
			"id", call->id, "caller", call->caller, "role", call->role, "action",
			call->action);
	if (!rec)
		return NULL;
	json_object_set_new(rec, "args", call->args ? json_incref(call->args) : json_object());
	json_object_set_new(rec, "decision", json_string(call->allowed ? "allowed" : "refused"));
	json_object_set_new(rec, "reason", json_string(call->reason));
	json_object_set_new(rec, "status", status ? json_string(status) : json_null());
	json_object_set_new(rec, "ms", json_integer(ms));
	return rec;
}
