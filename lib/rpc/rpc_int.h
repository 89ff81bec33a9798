/*
 * rpc_int.h - what the files of lib/rpc share and nobody else sees: the
 * envelope as text, verified certificates kept by their hash, the store
 * of request ids already seen, names and fact expressions.
 */
#ifndef TEND_RPC_INT_H
#define TEND_RPC_INT_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

#include "pki/pki.h"
#include "rpc/rpc.h"
#include "util/buf.h"
#include "util/err.h"

#define RPC_MAGIC_REQUEST "tend_rpc"
#define RPC_MAGIC_REPLY "tend_rpc_reply"
#define RPC_ACTION_MAX 32

/* rpc_now_ms - the real-time clock in ms since the epoch. */
long long rpc_now_ms(void);

/* rpc_action_ok - 1..RPC_ACTION_MAX bytes of letters, digits, '.', '-', '_'. */
bool rpc_action_ok(const char *action);

/* rpc_id_ok - RPC_ID_HEX lowercase hex digits. */
bool rpc_id_ok(const char *id);

/*
 * rpc_utf8_fix - make s valid UTF-8 in place (each byte of a broken or
 * truncated sequence becomes '?'): reasons are cut to fit their buffers,
 * and JSON strings must be UTF-8.
 */
void rpc_utf8_fix(char *s);

/* ---- envelopes as text (rpc_wire.c) ---- */

/* An envelope read by rpc_env_parse; the strings (decoded) live in mem. */
struct rpc_env {
	char *mem;
	const char *body;
	size_t body_len;
	const char *cert;
	size_t cert_len;
	const char *sig; /* NULL when unsigned or sig_bad */
	bool sig_bad;	 /* "sig" is not a string of at most PKI_SIG_B64_MAX characters */
};

/*
 * rpc_env_parse - data (len bytes, at most RPC_ENVELOPE_MAX) as an
 * envelope whose version member is magic, with a body; -EBADMSG with
 * the reason in why otherwise.  The certificate and signature may be
 * missing (NULL): the agent reads the body's filter before it refuses
 * anything, so rpc_env_problem says what is wrong with them.
 */
int rpc_env_parse(const char *data, size_t len, const char *magic, struct rpc_env *ret, char *why,
		  size_t why_len);
/* rpc_env_problem - why env's certificate or signature cannot be checked, or NULL. */
const char *rpc_env_problem(const struct rpc_env *env);
void rpc_env_clear(struct rpc_env *e);

/* rpc_json_escape - s (n bytes of UTF-8) as a JSON string, quotes included, appended to b. */
int rpc_json_escape(struct buf *b, const char *s, size_t n);

/*
 * rpc_env_build - the envelope {"MAGIC":1,"body":...,"cert":...,"sig":...}
 * with cert_json the certificate already escaped (rpc_json_escape: kept by
 * whoever sends many).  -E2BIG past RPC_ENVELOPE_MAX.
 */
int rpc_env_build(const char *magic, const char *body, size_t body_len, const char *cert_json,
		  size_t cert_json_len, const char *sig, char **ret, size_t *ret_len,
		  struct tend_err *err);

/* ---- certificates already verified (rpc_certcache.c) ---- */

/* A certificate that verified against the cache's CA. */
struct rpc_cert {
	unsigned char digest[32]; /* SHA-256 of the PEM text */
	struct pki_identity id;	  /* names, end of validity, public key */
	unsigned char *der;	  /* loaded from a file: the key, decoded on first use */
	size_t der_len;
};

/*
 * For rpc_certfile.c: rpc_certcache_bind - make ca_pem the cache's CA
 * (emptied when it was another); rpc_certcache_put - add e (taken) as
 * verified; rpc_certcache_ca - the CA or NULL; rpc_certcache_dirty -
 * whether a certificate was verified since the cache was made;
 * rpc_certcache_next - the entries one by one (*it starts at 0), NULL at
 * the end.
 */
void rpc_certcache_bind(struct rpc_certcache *c, const char *ca_pem);
void rpc_certcache_put(struct rpc_certcache *c, struct rpc_cert *e);
const char *rpc_certcache_ca(const struct rpc_certcache *c);
/* rpc_certcache_set_crl - verify with crl_pem (NULL: none) from now on; forgets every entry. */
void rpc_certcache_set_crl(struct rpc_certcache *c, const char *crl_pem);
bool rpc_certcache_dirty(const struct rpc_certcache *c);
const struct rpc_cert *rpc_certcache_next(const struct rpc_certcache *c, size_t *it);

/*
 * rpc_certcache_get - the certificate pem (len bytes) verified against
 * ca_pem, from the cache when its text was verified before and has not
 * expired at now_ms, else verified now (pki_verify_identity) and kept.
 * *ret lives until the next call on c.  -EKEYREJECTED (or -EINVAL) with
 * the reason.
 */
int rpc_certcache_get(struct rpc_certcache *c, const char *ca_pem, const char *pem, size_t len,
		      long long now_ms, const struct rpc_cert **ret, struct tend_err *err);

/* ---- request ids seen (rpc_nonce.c) ---- */

struct rpc_nonce;

/*
 * rpc_nonce_open - the store, in memory only (path NULL) or kept in the
 * file at path: read (ids expired at now_ms dropped, malformed lines
 * skipped) and rewritten compacted.  One process per file.
 */
int rpc_nonce_open(const char *path, long long now_ms, struct rpc_nonce **ret,
		   struct tend_err *err);
void rpc_nonce_free(struct rpc_nonce *n);

/*
 * rpc_nonce_add - record id (RPC_ID_HEX hex) as seen until expiry_ms:
 * 0 once it is recorded (on disk, synced, with a path); -EEXIST when it
 * was seen before; another -errno with the reason when it cannot be
 * recorded (the store is full, the file cannot be written): the request
 * must then be refused.
 */
int rpc_nonce_add(struct rpc_nonce *n, const char *id, long long expiry_ms, long long now_ms,
		  struct tend_err *err);

/* rpc_nonce_count - ids held (expired ones not yet dropped included). */
size_t rpc_nonce_count(const struct rpc_nonce *n);

/* ---- filters (rpc_filter.c) ---- */

/*
 * rpc_fact_expr_check - whether expr is PATH OP VALUE; why gets the
 * reason when not.
 */
bool rpc_fact_expr_check(const char *expr, char *why, size_t why_len);

#endif
