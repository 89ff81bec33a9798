/*
 * pki_ca.c - tend's certificate authority: made on first start, opened
 * on every other, and the one function that writes certificates
 * (pki_ca_issue_name), used for node certificates (pki_ca_issue_node),
 * the server's own (pki_server.c) and administrators' (pki_admin.c).
 *
 * The CA key is EC P-256, written 0600 in a 0700 directory and read back
 * only by this file; nothing ever copies it elsewhere.  The CA
 * certificate's name carries a random suffix ("tend CA 3f9a1c2e") so
 * that two installations' CAs are never confused by name.  Serial
 * numbers are 128 random bits, so certificates need no counter file and
 * two issued at once cannot collide.  Every certificate is built here,
 * from the CA's template: a CSR contributes its public key and nothing
 * else.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "pki/pki.h"
#include "pki/pki_int.h"
#include "util/strutil.h"

#define CA_DAYS 3650
#define SKEW_SECS 300 /* certificates start this much in the past: clock skew */

static const char *const file_names[] = { "ca.pem", "crl.pem", "server.pem", "server.key" };

/* rand_serial - 16 random bytes, the first in 0x10..0x7f: positive, 32 hex digits. */
static int rand_serial(ASN1_INTEGER **ret)
{
	unsigned char raw[16];
	BIGNUM *bn;
	ASN1_INTEGER *s;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	raw[0] = (unsigned char)(0x10 + raw[0] % 0x70);
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	s = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	BN_free(bn);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int pki_serial_parse(const char *hex, ASN1_INTEGER **ret)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *s;
	size_t n = hex ? strlen(hex) : 0;

	if (n == 0 || n > PKI_SERIAL_HEX_MAX || strspn(hex, "0123456789abcdefABCDEF") != n)
		return -EINVAL;
	if (!BN_hex2bn(&bn, hex))
		return -EINVAL;
	s = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* add_ext - one extension from OpenSSL's text form ("critical,CA:FALSE"). */
static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!e)
		return -EINVAL;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -ENOMEM;
}

/* set_validity - from SKEW_SECS ago for days days, not past limit (may be NULL). */
static int set_validity(X509 *x, int days, const ASN1_TIME *limit)
{
	if (!X509_gmtime_adj(X509_getm_notBefore(x), -SKEW_SECS) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL))
		return -EIO;
	if (limit && ASN1_TIME_compare(X509_get0_notAfter(x), limit) > 0 &&
	    !X509_set1_notAfter(x, limit))
		return -EIO;
	return 0;
}

/* name_cn - a name that is one CN. */
static X509_NAME *name_cn(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	if (n && !X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
					     (const unsigned char *)cn, -1, -1, 0)) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

/* profile_exts - the extensions of a profile, after the common ones. */
static int profile_exts(X509 *x, X509 *issuer, EVP_PKEY *pub, enum pki_profile profile,
			const char *san)
{
	/* RSA keys may be used for key transport (TLS 1.2 RSA key exchange) */
	const char *ku = EVP_PKEY_is_a(pub, "RSA") ? "critical,digitalSignature,keyEncipherment"
						   : "critical,digitalSignature";
	int r = add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");

	if (r == 0)
		r = add_ext(x, issuer, NID_key_usage, ku);
	if (r == 0)
		r = add_ext(x, issuer, NID_ext_key_usage,
			    profile == PKI_PROFILE_SERVER ? "serverAuth,clientAuth" : "clientAuth");
	if (r == 0 && profile == PKI_PROFILE_SERVER && san && *san)
		r = add_ext(x, issuer, NID_subject_alt_name, san);
	return r;
}

int pki_ca_issue_name(struct pki_ca *ca, EVP_PKEY *pub, const X509_NAME *subject, int days,
		      enum pki_profile profile, const char *san, X509 **ret, struct tend_err *err)
{
	X509 *x = NULL;
	ASN1_INTEGER *serial = NULL;
	int r = -EIO;

	if (days < 1)
		return err_set(err, -EINVAL, "a certificate must be valid for at least a day");
	x = X509_new();
	if (!x || !subject || rand_serial(&serial) < 0) {
		r = pki_ssl_err(err, -ENOMEM, "cannot make a certificate");
		goto out;
	}
	if (!X509_set_version(x, 2) || !X509_set_serialNumber(x, serial) ||
	    !X509_set_subject_name(x, subject) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) || !X509_set_pubkey(x, pub) ||
	    set_validity(x, days, X509_get0_notAfter(ca->cert)) < 0 ||
	    add_ext(x, ca->cert, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") < 0) {
		r = pki_ssl_err(err, -EIO, "cannot make a certificate");
		goto out;
	}
	r = profile_exts(x, ca->cert, pub, profile, san);
	if (r < 0) {
		r = pki_ssl_err(err, r, "cannot set the certificate's extensions");
		goto out;
	}
	if (!X509_sign(x, ca->key, EVP_sha256())) {
		r = pki_ssl_err(err, -EIO, "cannot sign the certificate");
		goto out;
	}
	*ret = x;
	x = NULL;
	r = 0;
out:
	ASN1_INTEGER_free(serial);
	X509_free(x);
	return r;
}

int pki_ca_issue(struct pki_ca *ca, EVP_PKEY *pub, const char *cn, int days,
		 enum pki_profile profile, const char *san, X509 **ret, struct tend_err *err)
{
	X509_NAME *subject = name_cn(cn);
	int r;

	if (!subject)
		return pki_ssl_err(err, -ENOMEM, "cannot make a certificate");
	r = pki_ca_issue_name(ca, pub, subject, days, profile, san, ret, err);
	X509_NAME_free(subject);
	return r;
}

int pki_ca_issue_node(struct pki_ca *ca, X509_REQ *csr, const char *cn, int days, char **ret_pem,
		      char serial_hex[PKI_SERIAL_HEX_MAX + 1], struct tend_err *err)
{
	EVP_PKEY *pub = csr ? X509_REQ_get0_pubkey(csr) : NULL;
	char hex[PKI_SERIAL_HEX_MAX + 1];
	X509 *x = NULL;
	char *pem = NULL;
	int r;

	if (!pki_cn_ok(cn) || !strcmp(cn, PKI_SERVER_CN))
		return err_set(err, -EINVAL, "'%.100s' cannot be a node's name", cn ? cn : "");
	/* checked by pki_csr_check already; checked again: this is what signs */
	if (!pub || X509_REQ_verify(csr, pub) != 1)
		return pki_ssl_err(err, -EINVAL, "the request's signature does not verify");
	r = pki_ca_issue(ca, pub, cn, days, PKI_PROFILE_NODE, NULL, &x, err);
	if (r < 0)
		return r;
	r = pki_serial_hex(X509_get0_serialNumber(x), hex);
	if (r == 0)
		r = pki_cert_pem(x, &pem);
	X509_free(x);
	if (r < 0)
		return err_set(err, r, "cannot encode the certificate");
	memcpy(serial_hex, hex, sizeof(hex));
	*ret_pem = pem;
	return 0;
}

/* ca_self_sign - a new CA certificate for ca->key. */
static int ca_self_sign(struct pki_ca *ca, struct tend_err *err)
{
	unsigned char raw[4];
	char cn[32];
	X509 *x = X509_new();
	X509_NAME *name = NULL;
	ASN1_INTEGER *serial = NULL;
	int r = -EIO;

	if (RAND_bytes(raw, sizeof(raw)) != 1 || !x)
		goto fail;
	snprintf(cn, sizeof(cn), "tend CA %02x%02x%02x%02x", raw[0], raw[1], raw[2], raw[3]);
	name = name_cn(cn);
	if (!name || rand_serial(&serial) < 0 || !X509_set_version(x, 2) ||
	    !X509_set_serialNumber(x, serial) || !X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, ca->key) ||
	    set_validity(x, CA_DAYS, NULL) < 0 ||
	    add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") < 0 ||
	    add_ext(x, x, NID_subject_key_identifier, "hash") < 0 ||
	    !X509_sign(x, ca->key, EVP_sha256()))
		goto fail;
	r = pki_cert_pem(x, &ca->cert_pem);
	if (r < 0)
		goto fail;
	r = pki_file_write(ca->path[PKI_CA_CERT], ca->cert_pem, strlen(ca->cert_pem), 0644, err);
	if (r < 0)
		goto out;
	ca->cert = x;
	x = NULL;
	goto out;
fail:
	r = pki_ssl_err(err, r < 0 ? r : -EIO, "cannot make the CA certificate");
out:
	ASN1_INTEGER_free(serial);
	X509_NAME_free(name);
	X509_free(x);
	return r;
}

/* ca_dir - the directory, 0700, made when missing and create is set. */
static int ca_dir(const char *dir, bool create, struct tend_err *err)
{
	struct stat st;

	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_set(err, -errno, "%s: %s", dir, strerror(errno));
	if (stat(dir, &st) < 0)
		return err_set(err, -errno, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(err, -ENOTDIR, "%s: not a directory", dir);
	if (st.st_mode & 077)
		return err_set(err, -EPERM, "%s: the CA directory may be read by others (mode %04o)",
			       dir, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* ca_load_cert - ca.pem: a CA certificate for ca->key. */
static int ca_load_cert(struct pki_ca *ca, struct tend_err *err)
{
	const char *path = ca->path[PKI_CA_CERT];
	struct buf b;
	int r = pki_file_read(path, PKI_PEM_MAX * 4, &b, NULL, err);

	if (r < 0)
		return r;
	r = pki_cert_parse(buf_str(&b), b.len, &ca->cert, err);
	buf_free(&b);
	if (r < 0) {
		err_prefix(err, "%s", path);
		return r;
	}
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		ERR_clear_error();
		return err_set(err, -EINVAL, "%s: the CA certificate does not match %s", path,
			       ca->key_path);
	}
	if (X509_check_ca(ca->cert) < 1)
		return err_set(err, -EINVAL, "%s: not a CA certificate", path);
	return pki_cert_pem(ca->cert, &ca->cert_pem);
}

/* ca_load - key and certificate, made when create allows it. */
static int ca_load(struct pki_ca *ca, bool create, struct tend_err *err)
{
	struct stat st;
	int r = pki_key_load(ca->key_path, &ca->key, err);

	if (r == -ENOENT && create) {
		if (stat(ca->path[PKI_CA_CERT], &st) == 0)
			return err_set(err, -EINVAL,
				       "%s exists without its key %s: restore the key from a "
				       "backup (a new CA would orphan every node)",
				       ca->path[PKI_CA_CERT], ca->key_path);
		r = pki_key_new(&ca->key);
		if (r < 0)
			return err_set(err, r, "cannot make the CA key");
		r = pki_key_save(ca->key, ca->key_path, err);
		if (r == 0)
			r = ca_self_sign(ca, err);
		return r;
	}
	if (r < 0)
		return r;
	r = ca_load_cert(ca, err);
	if (r != -ENOENT || !create)
		return r;
	/* killed between the key and the certificate (made before the CRL);
	 * with a CRL, the CA was in use: a new certificate would orphan its nodes */
	if (stat(ca->path[PKI_CA_CRL], &st) == 0)
		return err_set(err, -EINVAL,
			       "%s is missing but the CA is in use (%s exists): restore it from "
			       "a backup",
			       ca->path[PKI_CA_CERT], ca->path[PKI_CA_CRL]);
	return ca_self_sign(ca, err);
}

static char *join_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = xcalloc(1, n);

	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

int pki_ca_open(const char *dir, bool create, struct pki_ca **ret, struct tend_err *err)
{
	struct pki_ca *ca;
	int r = ca_dir(dir, create, err);

	if (r < 0)
		return r;
	ca = xcalloc(1, sizeof(*ca));
	ca->dir = xstrdup(dir);
	ca->key_path = join_path(dir, "ca.key");
	for (size_t i = 0; i < sizeof(file_names) / sizeof(file_names[0]); i++)
		ca->path[i] = join_path(dir, file_names[i]);
	r = ca_load(ca, create, err);
	if (r == 0)
		r = pki_crl_load(ca, create, err);
	if (r < 0) {
		pki_ca_free(ca);
		return r;
	}
	*ret = ca;
	return 0;
}

void pki_ca_free(struct pki_ca *ca)
{
	if (!ca)
		return;
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	X509_CRL_free(ca->crl);
	EVP_PKEY_free(ca->srv_key);
	free(ca->cert_pem);
	free(ca->crl_pem);
	free(ca->srv_pem);
	for (size_t i = 0; i < sizeof(ca->path) / sizeof(ca->path[0]); i++)
		free(ca->path[i]);
	free(ca->key_path);
	free(ca->dir);
	free(ca);
}

const char *pki_ca_cert_pem(struct pki_ca *ca)
{
	return ca->cert_pem;
}

const char *pki_ca_crl_pem(struct pki_ca *ca)
{
	return ca->crl_pem;
}

const char *pki_ca_path(struct pki_ca *ca, enum pki_ca_file file)
{
	if ((unsigned)file >= sizeof(ca->path) / sizeof(ca->path[0]))
		return NULL;
	return ca->path[file];
}

EVP_PKEY *pki_ca_server_key(struct pki_ca *ca)
{
	return ca->srv_key;
}

const char *pki_ca_server_cert_pem(struct pki_ca *ca)
{
	return ca->srv_pem;
}
