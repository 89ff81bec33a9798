/*
 * pki_csr.c - certificate signing requests: the one a node makes
 * (pki_csr_new) and the checks the server makes before it signs one
 * (pki_csr_check).
 *
 * A CSR is untrusted input from the network.  The CA copies only its
 * public key into a certificate, so most of what a CSR could ask for is
 * ignored anyway; it is still refused, with the reason, so that a client
 * asking for more than a node identity (a subjectAltName, CA:true,
 * serverAuth) learns it will not get it instead of silently getting less.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "pki/pki.h"
#include "pki/pki_int.h"

int pki_csr_new(EVP_PKEY *k, const char *cn, char **ret_pem, struct tend_err *err)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	BIO *b = NULL;
	int r = -EIO;

	if (!pki_cn_ok(cn)) {
		r = err_set(err, -EINVAL, "bad common name '%.100s'", cn ? cn : "");
		goto out;
	}
	if (!req || !name ||
	    !X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_REQ_set_version(req, 0) || !X509_REQ_set_subject_name(req, name) ||
	    !X509_REQ_set_pubkey(req, k) || !X509_REQ_sign(req, k, EVP_sha256())) {
		r = pki_ssl_err(err, -EIO, "cannot make a certificate request");
		goto out;
	}
	b = BIO_new(BIO_s_mem());
	if (!b || !PEM_write_bio_X509_REQ(b, req)) {
		r = pki_ssl_err(err, -EIO, "cannot encode the certificate request");
		goto out;
	}
	r = pki_bio_take(b, ret_pem);
	b = NULL;
out:
	BIO_free(b);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return r;
}

/* key_ok - the key types a node may use; -EINVAL with why not. */
static int key_ok(EVP_PKEY *k, struct tend_err *err)
{
	char group[64] = "";
	size_t glen = 0;

	if (!k)
		return err_set(err, -EINVAL, "the request has no readable public key");
	if (EVP_PKEY_is_a(k, "EC")) {
		if (!EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &glen)) {
			ERR_clear_error();
			return err_set(err, -EINVAL, "the request's EC key has no named curve");
		}
		if (strcmp(group, "prime256v1") && strcmp(group, "secp384r1"))
			return err_set(err, -EINVAL,
				       "the request's key is on curve %s: use P-256 or P-384",
				       group);
		return 0;
	}
	if (EVP_PKEY_is_a(k, "RSA")) {
		if (EVP_PKEY_get_bits(k) < 2048)
			return err_set(err, -EINVAL,
				       "the request's RSA key has %d bits: at least 2048 are needed",
				       EVP_PKEY_get_bits(k));
		return 0;
	}
	return err_set(err, -EINVAL, "the request's key type is not accepted (EC P-256 or RSA)");
}

/* ext_name - a requested extension's short name, for messages. */
static const char *ext_name(X509_EXTENSION *e)
{
	int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
	const char *s = nid == NID_undef ? NULL : OBJ_nid2ln(nid);

	return s ? s : "an unknown extension";
}

/*
 * extensions_none - a node asks for no extension: say which one it asked
 * for, naming the two that matter most (a SAN would let the certificate
 * stand for a host name, CA:true for a CA).
 */
static int extensions_none(X509_REQ *req, struct tend_err *err)
{
	STACK_OF(X509_EXTENSION) *exts;
	int n, r = 0;

	/* attributes: only an extension request is understood; others refused */
	for (int i = 0; i < X509_REQ_get_attr_count(req); i++) {
		X509_ATTRIBUTE *a = X509_REQ_get_attr(req, i);
		int nid = OBJ_obj2nid(X509_ATTRIBUTE_get0_object(a));

		if (nid != NID_ext_req && nid != NID_ms_ext_req)
			return err_set(err, -EINVAL,
				       "the request carries an attribute (%s): a node's request "
				       "holds only its name and key",
				       nid == NID_undef ? "unknown" : OBJ_nid2ln(nid));
	}
	exts = X509_REQ_get_extensions(req);
	n = exts ? sk_X509_EXTENSION_num(exts) : 0;
	if (!exts && X509_REQ_get_attr_count(req) > 0) {
		ERR_clear_error();
		return err_set(err, -EINVAL, "the request's extensions cannot be read");
	}
	for (int i = 0; i < n && r == 0; i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
		int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));

		if (nid == NID_subject_alt_name)
			r = err_set(err, -EINVAL,
				    "the request asks for a subjectAltName: a node certificate "
				    "names only the node (its CN), no other names");
		else if (nid == NID_basic_constraints)
			r = err_set(err, -EINVAL,
				    "the request asks for basicConstraints (CA:true?): a node "
				    "certificate is never a CA");
		else
			r = err_set(err, -EINVAL,
				    "the request asks for the extension %s: a node's request "
				    "holds no extension (the CA sets them: client authentication "
				    "only)",
				    ext_name(e));
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return r;
}

int pki_csr_check(const char *pem, size_t len, const char *expect_cn, X509_REQ **ret,
		  struct tend_err *err)
{
	char cn[PKI_CN_MAX + 2];
	X509_REQ *req = NULL;
	EVP_PKEY *k;
	BIO *b;
	int r;

	if (!pem || len == 0 || !expect_cn)
		return err_set(err, -EINVAL, "no certificate request");
	if (len > PKI_PEM_MAX)
		return err_set(err, -EINVAL, "the certificate request is larger than %d bytes",
			       PKI_PEM_MAX);
	b = BIO_new_mem_buf(pem, (int)len);
	if (!b)
		return err_set(err, -ENOMEM, "out of memory");
	req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	BIO_free(b);
	if (!req)
		return pki_ssl_err(err, -EINVAL, "not a PEM certificate request");
	/* the signature first: nothing else a forged request says is worth a reason */
	k = X509_REQ_get0_pubkey(req);
	r = key_ok(k, err);
	if (r == 0 && X509_REQ_verify(req, k) != 1)
		r = pki_ssl_err(err, -EINVAL,
				"the request's signature does not verify (not made with its key)");
	if (r < 0)
		goto out;
	if (pki_name_cn(X509_REQ_get_subject_name(req), cn, sizeof(cn)) < 0) {
		r = err_set(err, -EINVAL,
			    "the request's subject must be exactly one common name (CN=%s)",
			    expect_cn);
		goto out;
	}
	if (strcmp(cn, expect_cn)) {
		r = err_set(err, -EINVAL, "the request is for '%s', not for node '%s'", cn,
			    expect_cn);
		goto out;
	}
	if (X509_REQ_get_version(req) != 0) {
		r = err_set(err, -EINVAL, "the request's version is not 1");
		goto out;
	}
	r = extensions_none(req, err);
out:
	ERR_clear_error();
	if (r < 0) {
		X509_REQ_free(req);
		return r;
	}
	*ret = req;
	return 0;
}

int pki_csr_fingerprint(X509_REQ *csr, char out[PKI_FPR_HEX + 1])
{
	EVP_PKEY *k = X509_REQ_get0_pubkey(csr);

	return k ? pki_key_fingerprint(k, out) : -EINVAL;
}
