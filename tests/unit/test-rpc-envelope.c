/*
 * test-rpc-envelope.c - unit tests for the caller's side of RPC
 * (rpc/rpc.h) and the administrators' certificates it rests on
 * (pki/pki.h): what rpc_request_new signs, and every reply
 * rpc_reply_open must refuse - another node's name, another request's
 * id, an administrator or a foreign CA as the signer, a flipped byte,
 * no signature.  Replies are made by hand here (json + pki_sign) so that
 * each one differs from a good reply in exactly one way.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "rpc/rpc.h"
#include "rpc/rpc_int.h"
#include "test-rpc-fixture.h"

static const char req_id[] = "0123456789abcdef0123456789abcdef";

/* reply_body - a good reply body's text for node to req_id. */
static char *reply_body(const char *node, const char *id)
{
	json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:{s:b}, s:i}", "id", id, "node", node,
			      "action", "ping", "status", "ok", "data", "pong", 1, "ms", 3);
	char *text = json_dumps(b, JSON_COMPACT);

	json_decref(b);
	return text;
}

/* envelope - {"tend_rpc_reply": 1, body, cert, sig}; sig signed by key (NULL: none). */
static char *envelope(const char *body, const char *cert_pem, EVP_PKEY *key)
{
	struct tend_err err = { "" };
	char *sig = NULL, *text;
	json_t *env;

	if (key)
		assert_int_equal(pki_sign(key, body, strlen(body), &sig, &err), 0);
	env = json_pack("{s:i, s:s, s:s}", "tend_rpc_reply", 1, "body", body, "cert", cert_pem);
	if (sig)
		json_object_set_new(env, "sig", json_string(sig));
	text = json_dumps(env, JSON_COMPACT);
	json_decref(env);
	free(sig);
	return text;
}

/* open_reply - rpc_reply_open of text expecting id; the body or NULL, why in err. */
static json_t *open_reply(const char *text, const char *id, struct tend_err *err)
{
	json_t *body = NULL;
	int r = rpc_reply_open(rfx->ca_pem, NULL, text, strlen(text), id, &body, err);

	if (r < 0) {
		assert_int_equal(r, -EBADMSG);
		assert_null(body);
	}
	return body;
}

static void refused(const char *text, const char *id, const char *why)
{
	struct tend_err err = { "" };

	assert_null(open_reply(text, id, &err));
	assert_says(err.msg, why);
}

static X509 *parse_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

	BIO_free(b);
	assert_non_null(x);
	return x;
}

static void admin_certificate_names_org_role_and_name_for_client_auth(void **state)
{
	X509 *x = parse_cert(rfx->alice.pem);
	const X509_NAME *n = X509_get_subject_name(x);
	const int order[] = { NID_organizationName, NID_organizationalUnitName, NID_commonName };
	const char *values[] = { "tend-admin", "ops", "alice" };
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);

	assert_int_equal(X509_NAME_entry_count(n), 3);
	for (int i = 0; i < 3; i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(n, i);
		const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);

		assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)), order[i]);
		assert_int_equal(ASN1_STRING_length(v), (int)strlen(values[i]));
		assert_memory_equal(ASN1_STRING_get0_data(v), values[i], strlen(values[i]));
	}
	assert_int_equal(X509_check_ca(x), 0);
	assert_non_null(eku);
	assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), NID_client_auth);
	assert_null(X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL));
	assert_true(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_cmp_time(X509_get0_notBefore(x), NULL), -1);
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	X509_free(x);
}

static void certificate_identity_tells_administrators_from_nodes(void **state)
{
	char cn[PKI_CN_MAX + 1], role[PKI_CN_MAX + 1];
	bool admin = false;

	assert_int_equal(pki_cert_identity(rfx->alice.pem, cn, role, &admin, NULL), 0);
	assert_string_equal(cn, "alice");
	assert_string_equal(role, "ops");
	assert_true(admin);
	assert_int_equal(pki_cert_identity(rfx->web01.pem, cn, role, &admin, NULL), 0);
	assert_string_equal(cn, "web01");
	assert_string_equal(role, "");
	assert_false(admin);
	assert_int_equal(pki_cert_identity("garbage", cn, role, &admin, NULL), -EINVAL);
}

static void admin_certificate_for_a_bad_name_or_role_is_refused(void **state)
{
	const char *bad[] = { "", "al ice", "alice/ops", "a,b", "x=y", NULL };
	char serial[PKI_SERIAL_HEX_MAX + 1], long_name[PKI_CN_MAX + 2];
	struct tend_err err = { "" };
	char *pem = NULL;

	for (size_t i = 0; bad[i]; i++) {
		assert_int_equal(pki_ca_issue_admin(rfx->ca, rfx->alice.key, bad[i], "ops", 30,
						    &pem, serial, &err),
				 -EINVAL);
		assert_says(err.msg, "cannot be an administrator's name");
		assert_int_equal(pki_ca_issue_admin(rfx->ca, rfx->alice.key, "alice", bad[i], 30,
						    &pem, serial, &err),
				 -EINVAL);
		assert_says(err.msg, "cannot be a role");
	}
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(pki_ca_issue_admin(rfx->ca, rfx->alice.key, long_name, "ops", 30, &pem,
					    serial, &err),
			 -EINVAL);
	long_name[PKI_CN_MAX] = '\0';
	assert_int_equal(pki_ca_issue_admin(rfx->ca, rfx->alice.key, long_name, "ops", 30, &pem,
					    serial, &err),
			 0);
	assert_int_equal(strlen(serial), 32);
	free(pem);
}

static void admin_certificate_is_no_node_and_verifies_as_an_administrator(void **state)
{
	struct pki_identity id = { 0 };
	struct tend_err err = { "" };

	/* "which node is this?" has no answer for an administrator */
	assert_int_equal(pki_verify_cert(rfx->ca_pem, NULL, rfx->alice.pem, NULL, NULL, &err),
			 -EKEYREJECTED);
	assert_int_equal(pki_verify_identity(rfx->ca_pem, NULL, rfx->alice.pem, &id, &err), 0);
	assert_string_equal(id.cn, "alice");
	assert_string_equal(id.role, "ops");
	assert_true(id.admin);
	assert_non_null(id.pub);
	assert_true(id.not_after > (long long)time(NULL) + 29 * 86400);
	pki_identity_clear(&id);
	assert_int_equal(pki_verify_identity(rfx->ca_pem, NULL, rfx->web01.pem, &id, &err), 0);
	assert_string_equal(id.cn, "web01");
	assert_false(id.admin);
	pki_identity_clear(&id);
	assert_int_equal(pki_verify_identity(rfx->ca_pem, NULL, rfx->forged.pem, &id, &err),
			 -EKEYREJECTED);
	assert_int_equal(pki_verify_identity(rfx->ca_pem, NULL, rfx->ca_pem, &id, &err),
			 -EKEYREJECTED);
	assert_says(err.msg, "a CA certificate is not an identity");
}

/* odd_cert - a certificate of the tend CA (signed by hand with its key) for subject. */
static char *odd_cert(EVP_PKEY *pub, const char *const *nids_values, bool multi_valued)
{
	char path[300];
	EVP_PKEY *ca_key = NULL;
	X509 *ca = parse_cert(rfx->ca_pem), *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	BIO *b = BIO_new(BIO_s_mem());
	const struct {
		int nid;
		const char *value;
	} exts[] = { { NID_subject_key_identifier, "hash" },
		     { NID_authority_key_identifier, "keyid:always" } };
	X509V3_CTX ctx;
	char *data, *pem;
	long n;

	snprintf(path, sizeof(path), "%s/ca/ca.key", rfx->dir);
	assert_int_equal(pki_key_load(path, &ca_key, NULL), 0);
	for (int i = 0; nids_values[i]; i += 2)
		assert_true(X509_NAME_add_entry_by_txt(name, nids_values[i], MBSTRING_UTF8,
						       (const unsigned char *)nids_values[i + 1],
						       -1, -1, multi_valued && i > 0 ? -1 : 0));
	assert_true(X509_set_version(x, 2));
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), 4242));
	assert_true(X509_set_subject_name(x, name));
	assert_true(X509_set_issuer_name(x, X509_get_subject_name(ca)));
	assert_true(X509_set_pubkey(x, pub));
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -300));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	for (int i = 0; i < 2; i++) {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, exts[i].nid, exts[i].value);

		assert_non_null(e);
		assert_true(X509_add_ext(x, e, -1));
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, ca_key, EVP_sha256()));
	assert_true(PEM_write_bio_X509(b, x));
	n = BIO_get_mem_data(b, &data);
	pem = calloc(1, (size_t)n + 1);
	memcpy(pem, data, (size_t)n);
	BIO_free(b);
	X509_NAME_free(name);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return pem;
}

static void certificate_of_another_shape_is_nobody(void **state)
{
	const char *other_org[] = { "O", "acme", "OU", "ops", "CN", "alice", NULL };
	const char *reordered[] = { "OU", "ops", "O", "tend-admin", "CN", "alice", NULL };
	const char *extra[] = { "O", "tend-admin", "OU", "ops", "CN", "alice", "L", "x", NULL };
	const char *no_cn[] = { "O", "tend-admin", "OU", "ops", NULL };
	const char *admin[] = { "O", "tend-admin", "OU", "ops", "CN", "alice", NULL };
	char cn[PKI_CN_MAX + 1], role[PKI_CN_MAX + 1];
	struct pki_identity id = { 0 };
	struct tend_err err = { "" };
	bool is_admin = true;
	char *pem;

	/* the control: made by hand, the right shape is an administrator */
	pem = odd_cert(rfx->alice.key, admin, false);
	if (pki_verify_identity(rfx->ca_pem, NULL, pem, &id, &err) < 0)
		fail_msg("%s", err.msg);
	assert_true(id.admin);
	pki_identity_clear(&id);
	free(pem);
	pem = odd_cert(rfx->alice.key, other_org, false);
	assert_int_equal(pki_cert_identity(pem, cn, role, &is_admin, &err), 0);
	assert_false(is_admin);
	assert_int_equal(pki_verify_identity(rfx->ca_pem, NULL, pem, &id, &err), -EKEYREJECTED);
	assert_says(err.msg, "neither a node's nor an administrator's");
	free(pem);
	pem = odd_cert(rfx->alice.key, reordered, false);
	assert_int_equal(pki_verify_identity(rfx->ca_pem, NULL, pem, &id, &err), -EKEYREJECTED);
	free(pem);
	pem = odd_cert(rfx->alice.key, admin, true);
	assert_int_equal(pki_cert_identity(pem, cn, role, &is_admin, &err), -EINVAL);
	assert_int_equal(pki_verify_identity(rfx->ca_pem, NULL, pem, &id, &err), -EKEYREJECTED);
	free(pem);
	pem = odd_cert(rfx->alice.key, extra, false);
	assert_int_equal(pki_cert_identity(pem, cn, role, &is_admin, &err), -EINVAL);
	assert_int_equal(pki_verify_identity(rfx->ca_pem, NULL, pem, &id, &err), -EKEYREJECTED);
	free(pem);
	pem = odd_cert(rfx->alice.key, no_cn, false);
	assert_int_equal(pki_cert_identity(pem, cn, role, &is_admin, &err), -EINVAL);
	free(pem);
}

static void request_is_a_signed_body_naming_the_caller(void **state)
{
	json_t *args = json_pack("{s:s}", "unit", "nginx"), *filter, *env, *body;
	struct tend_err err = { "" };
	char id[RPC_ID_HEX + 1], id2[RPC_ID_HEX + 1], *text = NULL, *text2 = NULL;
	const char *b;
	size_t len = 0, len2 = 0;

	filter = json_pack("{s:[s]}", "tags", "web");
	assert_int_equal(rpc_request_new(rfx->alice.key, rfx->alice.pem, "service", args, filter,
					 1700000000000LL, 30000, id, &text, &len, &err),
			 0);
	assert_int_equal(strlen(text), len);
	assert_true(len <= RPC_ENVELOPE_MAX);
	assert_int_equal(strspn(id, "0123456789abcdef"), RPC_ID_HEX);
	env = json_loads(text, 0, NULL);
	assert_non_null(env);
	assert_int_equal(json_integer_value(json_object_get(env, "tend_rpc")), 1);
	assert_string_equal(json_string_value(json_object_get(env, "cert")), rfx->alice.pem);
	b = json_string_value(json_object_get(env, "body"));
	assert_int_equal(pki_verify(rfx->alice.pem, b, strlen(b),
				    json_string_value(json_object_get(env, "sig")), &err),
			 0);
	body = json_loads(b, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(body, "id")), id);
	assert_string_equal(json_string_value(json_object_get(body, "caller")), "alice");
	assert_string_equal(json_string_value(json_object_get(body, "action")), "service");
	assert_true(json_equal(json_object_get(body, "args"), args));
	assert_true(json_equal(json_object_get(body, "filter"), filter));
	assert_int_equal(json_integer_value(json_object_get(body, "created")), 1700000000000LL);
	assert_int_equal(json_integer_value(json_object_get(body, "ttl")), 30000);
	/* a fresh id every time */
	assert_int_equal(rpc_request_new(rfx->alice.key, rfx->alice.pem, "service", args, filter,
					 1700000000000LL, 30000, id2, &text2, &len2, &err),
			 0);
	assert_string_not_equal(id, id2);
	json_decref(body);
	json_decref(env);
	json_decref(args);
	json_decref(filter);
	free(text);
	free(text2);
}

static void request_with_a_bad_action_filter_or_ttl_is_not_made(void **state)
{
	json_t *filter = json_pack("{s:[s]}", "facts", "memory.total>>8"), *args = json_array();
	struct tend_err err = { "" };
	char id[RPC_ID_HEX + 1], *text = NULL;
	size_t len = 0;

	assert_int_equal(rpc_request_new(rfx->alice.key, rfx->alice.pem, "run rm", NULL, NULL, 0,
					 1000, id, &text, &len, &err),
			 -EINVAL);
	assert_int_equal(rpc_request_new(rfx->alice.key, rfx->alice.pem,
					 "a23456789012345678901234567890123", NULL, NULL, 0, 1000,
					 id, &text, &len, &err),
			 -EINVAL);
	assert_int_equal(rpc_request_new(rfx->alice.key, rfx->alice.pem, "ping", NULL, filter, 0,
					 1000, id, &text, &len, &err),
			 -EINVAL);
	assert_says(err.msg, "memory.total>>8");
	assert_int_equal(rpc_request_new(rfx->alice.key, rfx->alice.pem, "ping", args, NULL, 0,
					 1000, id, &text, &len, &err),
			 -EINVAL);
	assert_int_equal(rpc_request_new(rfx->alice.key, rfx->alice.pem, "ping", NULL, NULL, 0, 0,
					 id, &text, &len, &err),
			 -EINVAL);
	assert_int_equal(rpc_request_new(rfx->alice.key, rfx->alice.pem, "ping", NULL, NULL, 0,
					 RPC_TTL_MAX_MS + 1, id, &text, &len, &err),
			 -EINVAL);
	assert_null(text);
	json_decref(filter);
	json_decref(args);
}

static void reply_signed_by_its_node_opens(void **state)
{
	char *body = reply_body("web01", req_id);
	char *text = envelope(body, rfx->web01.pem, rfx->web01.key);
	struct tend_err err = { "" };
	json_t *b = open_reply(text, req_id, &err);

	if (!b)
		fail_msg("refused: %s", err.msg);
	assert_string_equal(json_string_value(json_object_get(b, "node")), "web01");
	assert_true(json_is_true(json_object_get(json_object_get(b, "data"), "pong")));
	json_decref(b);
	free(text);
	free(body);
}

static void reply_naming_another_node_is_refused(void **state)
{
	/* web01's key and certificate, claiming to be web02 */
	char *body = reply_body("web02", req_id);
	char *text = envelope(body, rfx->web01.pem, rfx->web01.key);

	refused(text, req_id, "the reply names node 'web02' but is signed by 'web01'");
	free(text);
	free(body);
}

static void reply_to_another_request_is_refused(void **state)
{
	char *body = reply_body("web01", "ffffffffffffffffffffffffffffffff");
	char *text = envelope(body, rfx->web01.pem, rfx->web01.key);

	refused(text, req_id, "the reply is for request 'ffffffffffffffffffffffffffffffff'");
	free(text);
	free(body);
}

static void reply_signed_by_an_administrator_is_refused(void **state)
{
	char *body = reply_body("alice", req_id);
	char *text = envelope(body, rfx->alice.pem, rfx->alice.key);

	refused(text, req_id,
		"the reply's certificate is an administrator's (alice), not a node's");
	free(text);
	free(body);
}

static void reply_signed_by_the_server_is_refused(void **state)
{
	struct tend_err err = { "" };
	char *body, *text;

	if (pki_ca_server_cert(rfx->ca, NULL, 30, &err) < 0)
		fail_msg("pki_ca_server_cert: %s", err.msg);
	body = reply_body(PKI_SERVER_CN, req_id);
	text = envelope(body, pki_ca_server_cert_pem(rfx->ca), pki_ca_server_key(rfx->ca));
	refused(text, req_id, "the reply's certificate is tend-server's, not a node's");
	free(text);
	free(body);
}

static void reply_of_a_node_of_another_ca_is_refused(void **state)
{
	struct ident stranger = rfx_node(rfx->other, "web01");
	char *body = reply_body("web01", req_id);
	char *text = envelope(body, stranger.pem, stranger.key);

	refused(text, req_id, "the reply's certificate is refused");
	free(text);
	free(body);
	ident_free(&stranger);
}

static void reply_tampered_or_unsigned_is_refused(void **state)
{
	char *body = reply_body("web01", req_id);
	char *text = envelope(body, rfx->web01.pem, rfx->web01.key), *flip;
	char *unsigned_ = envelope(body, rfx->web01.pem, NULL);
	/* signed by web02's key, web01's certificate */
	char *wrong_key = envelope(body, rfx->web01.pem, rfx->web02.key);

	/* one byte of the body: "ms":3 becomes "ms":4 */
	flip = strstr(text, "\\\"ms\\\":3");
	assert_non_null(flip);
	flip[7] = '4';
	refused(text, req_id, "the reply's signature does not verify");
	refused(unsigned_, req_id, "not signed");
	refused(wrong_key, req_id, "the reply's signature does not verify");
	refused("{\"tend_rpc\": 1, \"body\": \"{}\"}", req_id, "not a tend envelope");
	refused("not json", req_id, "not a JSON object");
	free(text);
	free(unsigned_);
	free(wrong_key);
	free(body);
}

static void reply_over_the_size_limit_is_refused_unread(void **state)
{
	size_t n = RPC_ENVELOPE_MAX + 1;
	char *big = malloc(n + 1);
	struct tend_err err = { "" };
	json_t *b = NULL;

	memset(big, ' ', n);
	big[n] = '\0';
	assert_int_equal(rpc_reply_open(rfx->ca_pem, NULL, big, n, req_id, &b, &err), -EBADMSG);
	assert_says(err.msg, "larger than");
	free(big);
}

static void cache_keeps_verified_nodes_but_not_across_cas(void **state)
{
	struct rpc_certcache *c = rpc_certcache_new();
	char *body = reply_body("web01", req_id);
	char *text = envelope(body, rfx->web01.pem, rfx->web01.key);
	struct tend_err err = { "" };
	json_t *b = NULL;

	for (int i = 0; i < 3; i++) {
		assert_int_equal(
			rpc_reply_open(rfx->ca_pem, c, text, strlen(text), req_id, &b, &err), 0);
		json_decref(b);
		b = NULL;
	}
	/* the same cache asked about another CA does not answer from memory */
	assert_int_equal(rpc_reply_open(pki_ca_cert_pem(rfx->other), c, text, strlen(text), req_id,
					&b, &err),
			 -EBADMSG);
	assert_says(err.msg, "certificate is refused");
	assert_int_equal(rpc_reply_open(rfx->ca_pem, c, text, strlen(text), req_id, &b, &err), 0);
	json_decref(b);
	rpc_certcache_free(c);
	rpc_certcache_free(NULL);
	free(text);
	free(body);
}

/* file_replace - in the file at path, the first "from" becomes "to" (same length). */
static void file_replace(const char *path, const char *from, const char *to)
{
	char buf[8192], *p;
	size_t n;
	FILE *f = fopen(path, "r+");

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	p = strstr(buf, from);
	assert_non_null(p);
	memcpy(p, to, strlen(to));
	rewind(f);
	fwrite(buf, 1, n, f);
	fclose(f);
}

static void cache_file_keeps_verified_nodes_for_the_next_run(void **state)
{
	struct rpc_certcache *a = rpc_certcache_new(), *b = rpc_certcache_new();
	struct rpc_certcache *c = rpc_certcache_new(), *d = rpc_certcache_new();
	char *body = reply_body("web01", req_id), path[300];
	char *text = envelope(body, rfx->web01.pem, rfx->web01.key);
	struct tend_err err = { "" };
	struct stat st;
	json_t *o = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/certs", rfx->dir);
	assert_int_equal(rpc_certcache_load(a, rfx->ca_pem, path), 0); /* no file yet */
	assert_int_equal(rpc_reply_open(rfx->ca_pem, a, text, strlen(text), req_id, &o, &err), 0);
	json_decref(o);
	assert_int_equal(rpc_certcache_save(a, path, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* the next run starts with what this one verified; a line that does not read is skipped */
	f = fopen(path, "a");
	assert_non_null(f);
	fputs("garbage that is no entry\n", f);
	fclose(f);
	assert_int_equal(rpc_certcache_load(b, rfx->ca_pem, path), 1);
	assert_int_equal(rpc_reply_open(rfx->ca_pem, b, text, strlen(text), req_id, &o, &err), 0);
	json_decref(o);
	/* the file is bound to its CA */
	assert_int_equal(rpc_certcache_load(c, pki_ca_cert_pem(rfx->other), path), 0);
	/* and what it says is used: a name changed in it makes the reply's name a lie */
	file_replace(path, " web01 ", " web02 ");
	assert_int_equal(rpc_certcache_load(d, rfx->ca_pem, path), 1);
	assert_int_equal(rpc_reply_open(rfx->ca_pem, d, text, strlen(text), req_id, &o, &err),
			 -EBADMSG);
	/* so a file others may write is not used at all */
	chmod(path, 0666);
	assert_int_equal(rpc_certcache_load(c, rfx->ca_pem, path), -EPERM);
	unlink(path);
	rpc_certcache_free(a);
	rpc_certcache_free(b);
	rpc_certcache_free(c);
	rpc_certcache_free(d);
	free(text);
	free(body);
}

/* env_ok - rpc_env_parse of text as a request envelope; must succeed. */
static struct rpc_env env_ok(const char *text)
{
	struct rpc_env e = { 0 };
	char why[256] = "";

	if (rpc_env_parse(text, strlen(text), "tend_rpc", &e, why, sizeof(why)) < 0)
		fail_msg("'%s' refused: %s", text, why);
	return e;
}

static void env_bad(const char *text, const char *what)
{
	struct rpc_env e = { 0 };
	char why[256] = "";

	if (rpc_env_parse(text, strlen(text), "tend_rpc", &e, why, sizeof(why)) == 0)
		fail_msg("'%s' accepted", text);
	assert_says(why, what);
}

static void envelope_reader_decodes_what_jansson_encodes(void **state)
{
	/* every byte value but NUL, multi-byte characters and one outside the BMP */
	char s[400];
	size_t n = 0;
	unsigned seed = 12345;

	for (int c = 1; c < 0x80; c++)
		s[n++] = (char)c;
	memcpy(s + n, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 end", 13);
	n += 13;
	s[n] = '\0';
	for (int round = 0; round < 200; round++) {
		for (size_t flags = 0; flags < 2; flags++) {
			json_t *env = json_pack("{s:i, s:s, s:s, s:s}", "tend_rpc", 1, "body", s,
						"cert", "PEM", "sig", "c2ln");
			char *text =
				json_dumps(env, JSON_COMPACT | (flags ? JSON_ENSURE_ASCII : 0));
			struct rpc_env e = env_ok(text);

			assert_int_equal(e.body_len, strlen(s));
			assert_memory_equal(e.body, s, e.body_len);
			assert_string_equal(e.cert, "PEM");
			assert_string_equal(e.sig, "c2ln");
			rpc_env_clear(&e);
			free(text);
			json_decref(env);
		}
		/* then shuffle the ASCII part for another round */
		for (size_t i = 0; i < 0x7f - 1; i++) {
			size_t j;
			char t;

			seed = seed * 1103515245 + 12345;
			j = (seed >> 8) % (0x7f - 1);
			t = s[i];
			s[i] = s[j];
			s[j] = t;
		}
	}
}

static void envelope_reader_takes_whitespace_and_unknown_flat_members(void **state)
{
	struct rpc_env e =
		env_ok(" {\n\t\"x\": \"y\" , \"tend_rpc\" : 1,\"n\":null,\"t\":true,"
		       "\"f\":false,\"k\":-42,\"body\":\"{\\\"a\\\":\\\"\\\\u00e9\\\"}\","
		       "\"cert\":\"C\\nD\",\"sig\":null}\r\n");

	assert_string_equal(e.body, "{\"a\":\"\\u00e9\"}");
	assert_string_equal(e.cert, "C\nD");
	assert_null(e.sig);
	assert_false(e.sig_bad);
	rpc_env_clear(&e);
	e = env_ok("{\"tend_rpc\":1,\"body\":\"x\\ud83d\\ude00\\u20ac\\/\"}");
	assert_string_equal(e.body, "x\xf0\x9f\x98\x80\xe2\x82\xac/");
	assert_null(e.cert);
	assert_string_equal(rpc_env_problem(&e),
			    "the envelope has no certificate (or one over 16384 "
			    "bytes)");
	rpc_env_clear(&e);
	e = env_ok("{\"tend_rpc\":1,\"body\":\"x\",\"cert\":\"c\",\"sig\":7}");
	assert_true(e.sig_bad);
	rpc_env_clear(&e);
	e = env_ok("{\"tend_rpc\":1,\"body\":\"x\",\"cert\":\"c\",\"sig\":\"\"}");
	assert_false(e.sig_bad);
	assert_string_equal(rpc_env_problem(&e), "the envelope is not signed");
	rpc_env_clear(&e);
}

static void envelope_reader_refuses_anything_else(void **state)
{
	const char *const bad[] = {
		"",
		"   ",
		"{",
		"}",
		"[]",
		"\"x\"",
		"nul",
		"{\"tend_rpc\":1,}",
		"{\"tend_rpc\":1 \"body\":\"x\"}",
		"{\"tend_rpc\":1,\"body\":\"x\"} x",
		"{\"tend_rpc\":1,\"body\":\"x\"}{}",
		"{tend_rpc:1}",
		"{\"tend_rpc\":1,\"body\":\"x\",\"o\":{}}",
		"{\"tend_rpc\":1,\"body\":\"x\",\"a\":[1]}",
		"{\"tend_rpc\":1,\"body\":\"x\",\"body\":\"y\"}",
		"{\"tend_rpc\":1,\"tend_rpc\":1,\"body\":\"y\"}",
		"{\"tend_rpc\":1,\"body\":\"x\\u0000y\"}",
		"{\"tend_rpc\":1,\"body\":\"\\ud800\"}",
		"{\"tend_rpc\":1,\"body\":\"\\ude00x\"}",
		"{\"tend_rpc\":1,\"body\":\"\\ud800\\u0041\"}",
		"{\"tend_rpc\":1,\"body\":\"\\x41\"}",
		"{\"tend_rpc\":1,\"body\":\"\\u12\"}",
		"{\"tend_rpc\":1,\"body\":\"a\nb\"}",
		"{\"tend_rpc\":1,\"body\":\"abc",
		"{\"tend_rpc\":1,\"body\":\"abc\\",
		"{\"tend_rpc\":01,\"body\":\"x\"}",
		"{\"tend_rpc\":1.0,\"body\":\"x\"}",
		"{\"tend_rpc\":1e0,\"body\":\"x\"}",
		"{\"tend_rpc\":-,\"body\":\"x\"}",
		"{\"tend_rpc\":tru,\"body\":\"x\"}",
		"{\"tend_rpc\":1,\"k\":1234567890123456789,\"body\":\"x\"}",
		NULL,
	};

	for (size_t i = 0; bad[i]; i++)
		env_bad(bad[i], "not a JSON object of strings and numbers");
	env_bad("{}", "not a tend envelope");
	env_bad("{\"tend_rpc\":2,\"body\":\"x\"}", "not a tend envelope");
	env_bad("{\"tend_rpc\":\"1\",\"body\":\"x\"}", "not a tend envelope");
	env_bad("{\"tend_rpc_reply\":1,\"body\":\"x\"}", "not a tend envelope");
	env_bad("{\"tend_rpc\":1,\"body\":\"\"}", "the envelope has no body");
	env_bad("{\"tend_rpc\":1,\"body\":5}", "the envelope has no body");
}

int main(void)
{
#define T(name) cmocka_unit_test(name)
	const struct CMUnitTest tests[] = {
		T(admin_certificate_names_org_role_and_name_for_client_auth),
		T(certificate_identity_tells_administrators_from_nodes),
		T(admin_certificate_for_a_bad_name_or_role_is_refused),
		T(admin_certificate_is_no_node_and_verifies_as_an_administrator),
		T(certificate_of_another_shape_is_nobody),
		T(request_is_a_signed_body_naming_the_caller),
		T(request_with_a_bad_action_filter_or_ttl_is_not_made),
		T(reply_signed_by_its_node_opens),
		T(reply_naming_another_node_is_refused),
		T(reply_to_another_request_is_refused),
		T(reply_signed_by_an_administrator_is_refused),
		T(reply_signed_by_the_server_is_refused),
		T(reply_of_a_node_of_another_ca_is_refused),
		T(reply_tampered_or_unsigned_is_refused),
		T(reply_over_the_size_limit_is_refused_unread),
		T(cache_keeps_verified_nodes_but_not_across_cas),
		T(cache_file_keeps_verified_nodes_for_the_next_run),
		T(envelope_reader_decodes_what_jansson_encodes),
		T(envelope_reader_takes_whitespace_and_unknown_flat_members),
		T(envelope_reader_refuses_anything_else),
	};
#undef T

	return cmocka_run_group_tests(tests, rfx_setup, rfx_teardown);
}
