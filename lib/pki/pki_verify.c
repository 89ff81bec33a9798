/*
 * pki_verify.c - checking what others present: a certificate against
 * tend's CA and CRL, and detached signatures (catalogs are signed by the
 * server's key; an agent checks the signature with pki_verify and the
 * signer's certificate with pki_verify_cert).
 *
 * Signatures travel as base64 of the DER signature (ECDSA-SHA256 for
 * tend's keys), at most PKI_SIG_B64_MAX characters: a longer one is
 * refused before anything is decoded.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <time.h>

#include "pki/pki.h"
#include "pki/pki_int.h"
#include "util/strutil.h"

int pki_crl_parse(const char *pem, X509_CRL **ret, struct tend_err *err)
{
	size_t n = strlen(pem);
	BIO *b = n <= ((size_t)64 << 20) ? BIO_new_mem_buf(pem, (int)n) : NULL;
	X509_CRL *crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	if (!crl)
		return pki_ssl_err(err, -EINVAL, "not a PEM revocation list");
	*ret = crl;
	return 0;
}

/*
 * crl_dates_ok - the verify callback: a CRL's dates are not a reason to
 * refuse.  A list past its next update still names what it revoked (a
 * revocation is never undone), and one issued a moment ago is "not yet
 * valid" on a node whose clock is a little behind: refusing then would
 * lock every administrator out of a node that merely holds an old list.
 */
static int crl_dates_ok(int ok, X509_STORE_CTX *ctx)
{
	int e = X509_STORE_CTX_get_error(ctx);

	if (!ok && (e == X509_V_ERR_CRL_HAS_EXPIRED || e == X509_V_ERR_CRL_NOT_YET_VALID)) {
		X509_STORE_CTX_set_error(ctx, X509_V_OK);
		return 1;
	}
	return ok;
}

int pki_chain_check(X509 *ca, X509_CRL *crl, X509 *x, struct tend_err *err)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int r = -ENOMEM;

	if (!st || !ctx || !X509_STORE_add_cert(st, ca) || (crl && !X509_STORE_add_crl(st, crl)))
		goto out;
	X509_STORE_set_flags(st, X509_V_FLAG_X509_STRICT | (crl ? X509_V_FLAG_CRL_CHECK : 0));
	X509_STORE_set_verify_cb(st, crl_dates_ok);
	if (!X509_STORE_CTX_init(ctx, st, x, NULL))
		goto out;
	if (X509_verify_cert(ctx) == 1) {
		r = 0;
	} else {
		int e = X509_STORE_CTX_get_error(ctx);

		r = err_set(err, -EKEYREJECTED, "the certificate does not verify: %s",
			    X509_verify_cert_error_string(e));
	}
out:
	if (r == -ENOMEM)
		r = pki_ssl_err(err, r, "cannot verify the certificate");
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return r;
}

int pki_verify_cert(const char *ca_pem, const char *crl_pem, const char *cert_pem,
		    const char *expect_cn, char **ret_cn, struct tend_err *err)
{
	char cn[PKI_CN_MAX + 2];
	X509 *ca = NULL, *x = NULL;
	X509_CRL *crl = NULL;
	int r;

	r = pki_cert_parse(ca_pem, 0, &ca, err);
	if (r < 0) {
		err_prefix(err, "the CA certificate");
		return r;
	}
	r = pki_cert_parse(cert_pem, 0, &x, err);
	if (r == 0 && crl_pem)
		r = pki_crl_parse(crl_pem, &crl, err);
	if (r < 0)
		goto out;
	/* the CA's own certificate verifies against itself: it is not an identity */
	if (X509_check_ca(x) != 0) {
		r = err_set(err, -EKEYREJECTED, "a CA certificate is not an identity");
		goto out;
	}
	r = pki_chain_check(ca, crl, x, err);
	if (r < 0)
		goto out;
	if (pki_name_cn(X509_get_subject_name(x), cn, sizeof(cn)) < 0) {
		r = err_set(err, -EKEYREJECTED, "the certificate's subject is not one common name");
		goto out;
	}
	if (expect_cn && strcmp(cn, expect_cn)) {
		r = err_set(err, -EKEYREJECTED, "the certificate is for '%s', not '%s'", cn,
			    expect_cn);
		goto out;
	}
	if (ret_cn)
		*ret_cn = xstrdup(cn);
out:
	ERR_clear_error();
	X509_CRL_free(crl);
	X509_free(x);
	X509_free(ca);
	return r;
}

int pki_cert_serial(const char *cert_pem, char serial_hex[PKI_SERIAL_HEX_MAX + 1],
		    long long *ret_not_after, struct tend_err *err)
{
	char hex[PKI_SERIAL_HEX_MAX + 1];
	struct tm tm;
	X509 *x = NULL;
	int r = pki_cert_parse(cert_pem, 0, &x, err);

	if (r < 0)
		return r;
	r = pki_serial_hex(X509_get0_serialNumber(x), hex);
	if (r < 0)
		r = err_set(err, r, "the certificate's serial number is not one tend issues");
	else if (ret_not_after && !ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
		r = err_set(err, -EINVAL, "the certificate's end of validity cannot be read");
	X509_free(x);
	ERR_clear_error();
	if (r < 0)
		return r;
	memcpy(serial_hex, hex, sizeof(hex));
	if (ret_not_after)
		*ret_not_after = (long long)timegm(&tm);
	return 0;
}

int pki_sign(EVP_PKEY *k, const void *data, size_t len, char **ret_b64, struct tend_err *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *sig = NULL;
	char *b64 = NULL;
	size_t n = 0;
	int r = -EIO;

	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
	    EVP_DigestSign(md, NULL, &n, data, len) != 1)
		goto out;
	sig = xcalloc(1, n);
	if (EVP_DigestSign(md, sig, &n, data, len) != 1)
		goto out;
	b64 = xcalloc(1, 4 * ((n + 2) / 3) + 1);
	if (EVP_EncodeBlock((unsigned char *)b64, sig, (int)n) < 0)
		goto out;
	*ret_b64 = b64;
	b64 = NULL;
	r = 0;
out:
	if (r < 0)
		pki_ssl_err(err, r, "cannot sign");
	free(b64);
	free(sig);
	EVP_MD_CTX_free(md);
	return r;
}

/* b64_decode - strict base64 (no whitespace) into out (3 * len / 4 bytes). */
static int b64_decode(const char *s, unsigned char *out, size_t *ret_len)
{
	size_t n = strlen(s), pad = 0;
	int got;

	if (n == 0 || n % 4 ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != n)
		return -EINVAL;
	while (pad < 2 && s[n - 1 - pad] == '=')
		pad++;
	if (memchr(s, '=', n - pad))
		return -EINVAL;
	got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (got < 0 || (size_t)got < pad)
		return -EINVAL;
	*ret_len = (size_t)got - pad;
	return 0;
}

int pki_verify_key(EVP_PKEY *pub, const void *data, size_t len, const char *sig_b64,
		   struct tend_err *err)
{
	unsigned char sig[PKI_SIG_B64_MAX];
	EVP_MD_CTX *md = NULL;
	size_t n = 0;
	int r = 0;

	if (!sig_b64 || strnlen(sig_b64, PKI_SIG_B64_MAX + 1) > PKI_SIG_B64_MAX ||
	    b64_decode(sig_b64, sig, &n) < 0)
		return err_set(err, -EKEYREJECTED, "the signature is not base64 of at most %d "
				"characters", PKI_SIG_B64_MAX);
	md = EVP_MD_CTX_new();
	if (!md || !pub || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) != 1)
		r = pki_ssl_err(err, -EIO, "cannot verify the signature");
	else if (EVP_DigestVerify(md, sig, n, data, len) != 1)
		r = err_set(err, -EKEYREJECTED, "the signature does not verify");
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	return r;
}

int pki_verify(const char *cert_pem, const void *data, size_t len, const char *sig_b64,
	       struct tend_err *err)
{
	X509 *x = NULL;
	int r;

	if (!sig_b64 || strnlen(sig_b64, PKI_SIG_B64_MAX + 1) > PKI_SIG_B64_MAX)
		return err_set(err, -EKEYREJECTED, "the signature is not base64 of at most %d "
				"characters", PKI_SIG_B64_MAX);
	r = pki_cert_parse(cert_pem, 0, &x, err);
	if (r < 0)
		return r;
	r = pki_verify_key(X509_get0_pubkey(x), data, len, sig_b64, err);
	X509_free(x);
	return r;
}
