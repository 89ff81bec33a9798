/*
 * rpc.h - signed requests to nodes and their signed replies: the wire
 * format, the checks an agent makes before it runs anything, the policy
 * that says who may run what where, and the filter that says which
 * nodes a broadcast is for.  tendd, tend-emulator and the CLI share it.
 *
 * A request is an envelope published on tend.rpc.all (broadcast, the
 * filter picks the nodes) or tend.rpc.NODE:
 *
 *   {"tend_rpc": 1, "body": "<JSON text>", "cert": "<caller PEM>",
 *    "sig": "<base64 ECDSA-SHA256 over the bytes of body>"}
 *
 * body: {"id": "<32 hex: nonce>", "caller": "<CN of cert>",
 *        "action": "ping", "args": {...}, "filter": {...},
 *        "created": <ms since the epoch>, "ttl": <ms>}
 * filter: {"nodes": ["web*", ...], "tags": ["web", ...],
 *          "facts": ["os.id=debian", "memory.total>8G", ...]}
 *   every member optional; a node matches when it matches one of
 *   "nodes" (globs), has every one of "tags", and every fact expression
 *   holds.  Expressions: PATH OP VALUE, OP one of = != < <= > >=;
 *   PATH is dotted into the facts; numbers compare as numbers and VALUE
 *   may carry K M G T (powers of 1024); otherwise = and != compare text
 *   and the others are false.
 *
 * The signature is over the body's exact bytes, so nothing is
 * canonicalised.  A reply is the same shape, "tend_rpc_reply": 1, signed
 * by the node's key, body:
 *   {"id": "<request id>", "node": "web01", "action": "ping",
 *    "status": "ok" | "failed" | "refused", "reason": "...",
 *    "data": {...}, "ms": <time the action took>}
 *
 * Callers are administrators: certificates of the tend CA whose subject
 * is O=tend-admin, OU=ROLE, CN=NAME (tend-server user add).  A node's
 * certificate (CN only) is never a caller.
 *
 * Library code: nothing here logs; errors come back in struct tend_err.
 */
#ifndef TEND_RPC_H
#define TEND_RPC_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define RPC_SUBJ_ALL "tend.rpc.all"
#define RPC_SUBJ_NODE "tend.rpc." /* + node */
#define RPC_SUBJ_AUDIT "tend.audit." /* + node: audit records forwarded */
#define RPC_SUBJ_CRL "tend.crl"      /* the CA's revocation list, published when it changes */
#define RPC_ENVELOPE_MAX ((size_t)256 << 10) /* the largest request or reply accepted */
#define RPC_ID_HEX 32
#define RPC_SKEW_MS 5000      /* a request may come from this far in the future */
#define RPC_TTL_DEFAULT_MS 60000
#define RPC_TTL_MAX_MS (3600 * 1000)
#define RPC_ADMIN_ORG "tend-admin"

/* ---- the caller's side (rpc_envelope.c) ---- */

/*
 * rpc_request_new - a signed envelope for action with args (borrowed, an
 * object or NULL) and filter (borrowed, object or NULL), created now
 * (now_ms; 0: the clock) and valid ttl_ms, signed with key whose
 * certificate is cert_pem (its CN becomes "caller").  *ret_id gets the
 * request id (RPC_ID_HEX + 1 bytes).  *ret is malloc'd text.
 */
int rpc_request_new(EVP_PKEY *key, const char *cert_pem, const char *action, const json_t *args,
		    const json_t *filter, long long now_ms, long long ttl_ms,
		    char ret_id[RPC_ID_HEX + 1], char **ret, size_t *ret_len, struct tend_err *err);

/*
 * rpc_reply_open - check a reply envelope (at most RPC_ENVELOPE_MAX):
 * its certificate chains to ca_pem and names a node (not an admin), its
 * signature holds, its body's "node" is the certificate's CN and its
 * "id" is expect_id.  *ret gets the body (a new reference).  A cache of
 * certificates already verified (struct rpc_certcache, may be NULL)
 * saves the chain check for nodes seen before.  -EBADMSG with the reason.
 */
struct rpc_certcache;
struct rpc_certcache *rpc_certcache_new(void);
void rpc_certcache_free(struct rpc_certcache *c);
/*
 * rpc_certcache_load - add the certificates path holds, verified by an
 * earlier run against ca_pem (a file for another CA, or one that group
 * or others may write, is not used: -EPERM); the number loaded, 0 when
 * there is no file.  rpc_certcache_save - write the cache to path (0600,
 * atomically) when it verified anything new.  (rpc_certfile.c)
 */
int rpc_certcache_load(struct rpc_certcache *c, const char *ca_pem, const char *path);
int rpc_certcache_save(struct rpc_certcache *c, const char *path, struct tend_err *err);
int rpc_reply_open(const char *ca_pem, struct rpc_certcache *cache, const char *data, size_t len,
		   const char *expect_id, json_t **ret, struct tend_err *err);

/* ---- the policy (rpc_policy.c) ---- */

/*
 * policy/NAME.yaml in the configuration repository:
 *
 *   rules:
 *     - allow: [ping, facts, run]    # actions, or "*"
 *       roles: [ops]                 # and/or users: [alice]; one of them is required
 *       commands: ["/usr/bin/uptime", "/bin/systemctl status *"]  # for run: globs
 *       nodes: ["web*"]              # optional, as the request filter
 *       tags: [web]                  # optional
 *       facts: ["os.id=debian"]      # optional
 *     - deny: [run]                  # a matching deny wins over any allow
 *       users: [mallory]
 *
 * "run" is allowed only by a rule that lists "commands" and only for a
 * command line (argv joined with single spaces) that one of them
 * matches.  Default deny: no rule that allows is a refusal, and so is
 * everything when there is no policy file or any file fails to parse.
 */
struct rpc_policy;

/*
 * rpc_policy_parse - the policy from files (a JSON object: repository
 * path -> text, e.g. {"policy/ops.yaml": "rules: ..."}).  Always returns
 * a policy (*ret): one that refuses everything, with the reason, when
 * files is empty or NULL ("no policy") or a file is wrong
 * ("policy/ops.yaml:3:5: unknown key 'alow' ..."); in that last case it
 * returns -EINVAL with the same message in err.
 */
int rpc_policy_parse(const json_t *files, struct rpc_policy **ret, struct tend_err *err);
void rpc_policy_free(struct rpc_policy *p);

/* What a node knows of itself, for filters and policies. */
struct rpc_self {
	const char *node;
	const json_t *tags;  /* array of strings */
	const json_t *facts; /* object, may be NULL */
};

/*
 * rpc_policy_check - whether user (with role) may run action with args on
 * self.  true when allowed; why gets "allowed by policy/ops.yaml:3" or
 * "denied by policy/ops.yaml:9", "no rule allows run for alice (role
 * ops)", "policy/ops.yaml:3:5: ... (everything is denied)".
 */
bool rpc_policy_check(const struct rpc_policy *p, const char *user, const char *role,
		      const char *action, const json_t *args, const struct rpc_self *self,
		      char *why, size_t why_len);

/* ---- filters (rpc_filter.c) ---- */

/*
 * rpc_filter_check - whether filter (a JSON object as above, NULL: every
 * node) is valid: -EINVAL with the reason ("facts: 'memory.total>>8'
 * is not PATH OP VALUE").  The CLI checks before sending.
 */
int rpc_filter_check(const json_t *filter, struct tend_err *err);
/* rpc_filter_match - whether self matches filter (an invalid filter matches nothing). */
bool rpc_filter_match(const json_t *filter, const struct rpc_self *self);

/* ---- the agent's side (rpc_agent.c, rpc_nonce.c) ---- */

struct rpc_agent_cfg {
	const char *node;     /* own id: the CN of cert_pem */
	const char *ca_pem;   /* the tend CA */
	EVP_PKEY *key;        /* own key (borrowed), signs replies */
	const char *cert_pem; /* own certificate, sent with replies */
	const char *nonce_path; /* where seen request ids are kept across restarts; NULL: memory */
	/* callers' certificates already verified against ca_pem (borrowed, must
	 * outlive the agent; NULL: the agent keeps its own).  Agents in one
	 * process (tend-emulator) share one so that each certificate's chain is
	 * checked once per process; every request's signature is still checked. */
	struct rpc_certcache *certs;
};

struct rpc_agent;

int rpc_agent_new(const struct rpc_agent_cfg *cfg, struct rpc_agent **ret, struct tend_err *err);
void rpc_agent_free(struct rpc_agent *a);

/*
 * rpc_agent_set_crl - refuse the callers the revocation list crl_pem
 * revokes, from now on.  The list must be signed by the agent's CA
 * (-EKEYREJECTED, -EINVAL otherwise) and newer (a higher CRL number)
 * than the one in use: 1 when it is now in use, 0 when it was not newer.
 * The broker refuses revoked identities too; this holds where a broker
 * was not told (another cluster member, a configuration not reloaded).
 * rpc_agent_crl_number - the list in use's number, 0 without one.
 */
int rpc_agent_set_crl(struct rpc_agent *a, const char *crl_pem, struct tend_err *err);
long long rpc_agent_crl_number(const struct rpc_agent *a);

/* rpc_agent_set_policy - take p (NULL: no policy, everything refused). */
void rpc_agent_set_policy(struct rpc_agent *a, struct rpc_policy *p);

/* One request the agent looked at (rpc_agent_check). */
struct rpc_call {
	char id[RPC_ID_HEX + 1]; /* "" when the body did not parse */
	char caller[65], role[65];
	char action[33];
	json_t *args;            /* object (owned) */
	bool allowed;
	char reason[256];        /* why refused, or which rule allowed */
	long long received_ms;
};

/*
 * rpc_agent_check - everything before an action runs, in this order:
 * envelope and body parse; the filter matches self (read from the body
 * before anything is verified: a forged filter can only make a node
 * ignore a request); the caller's certificate chains to the CA
 * and is an admin's; the signature holds; created is not older than ttl
 * nor later than now + RPC_SKEW_MS; the id was not seen before (it is
 * recorded, and written to nonce_path, before this returns); the
 * policy allows.
 * Returns 0 with *ret filled in (allowed or refused with the reason),
 * or 1 when the filter does not match self (nothing to do, no audit,
 * no reply).  Never fails otherwise: a request that cannot be read is a
 * refusal with the reason.  The call is freed with rpc_call_clear.
 */
int rpc_agent_check(struct rpc_agent *a, const struct rpc_self *self, const char *data,
		    size_t len, long long now_ms, struct rpc_call *ret);
void rpc_call_clear(struct rpc_call *c);

/*
 * rpc_agent_reply - the signed reply to call: status "ok", "failed" or
 * "refused" (call->allowed false: reason is call->reason), data (taken,
 * may be NULL), ms the action took.  *ret malloc'd text.
 */
int rpc_agent_reply(struct rpc_agent *a, const struct rpc_call *call, const char *status,
		    json_t *data, long long ms, char **ret, size_t *ret_len, struct tend_err *err);

/*
 * rpc_audit_record - the audit record of call: {"time": ISO-8601 UTC,
 * "node", "id", "caller", "role", "action", "args", "decision":
 * "allowed"|"refused", "reason", "status", "ms"} (a new reference);
 * status NULL when refused.
 */
json_t *rpc_audit_record(const char *node, const struct rpc_call *call, const char *status,
			 long long ms);

#endif
