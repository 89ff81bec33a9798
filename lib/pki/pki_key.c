/*
 * pki_key.c - private keys: made (EC P-256), saved (PKCS#8 PEM, 0600,
 * atomically), loaded (refused when others may read them), and
 * fingerprinted (SHA-256 of the public key) so that a person can compare
 * what a node shows with what the server was asked to sign.  Public keys
 * kept as DER (a certificate cache) are decoded again quickly.
 */
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <string.h>

#include "pki/pki.h"
#include "pki/pki_int.h"

int pki_key_new(EVP_PKEY **ret)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	if (!k) {
		ERR_clear_error();
		return -EIO;
	}
	*ret = k;
	return 0;
}

int pki_key_pem(const EVP_PKEY *k, char **ret, struct tend_err *err)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *pem = NULL;
	int r;

	if (!b)
		return err_set(err, -ENOMEM, "out of memory");
	if (!PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) {
		BIO_free(b);
		return pki_ssl_err(err, -EIO, "cannot encode the key");
	}
	r = pki_bio_take(b, &pem);
	if (r < 0)
		return err_set(err, r, "cannot encode the key");
	*ret = pem;
	return 0;
}

int pki_key_save(const EVP_PKEY *k, const char *path, struct tend_err *err)
{
	char *pem = NULL;
	int r;

	r = pki_key_pem(k, &pem, err);
	if (r < 0)
		return r;
	r = pki_file_write(path, pem, strlen(pem), 0600, err);
	OPENSSL_cleanse(pem, strlen(pem));
	free(pem);
	return r;
}

int pki_key_load(const char *path, EVP_PKEY **ret, struct tend_err *err)
{
	struct buf b;
	unsigned mode = 0;
	EVP_PKEY *k;
	BIO *bio;
	int r;

	r = pki_file_read(path, PKI_KEY_FILE_MAX, &b, &mode, err);
	if (r < 0)
		return r;
	if (mode & 077) {
		r = err_set(err, -EPERM,
			    "%s: private key may be read by others (mode %04o): chmod 600 it, or "
			    "make a new one if it may have leaked",
			    path, mode);
		goto out;
	}
	bio = BIO_new_mem_buf(buf_str(&b), (int)b.len);
	if (!bio) {
		r = err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!k) {
		r = pki_ssl_err(err, -EINVAL, path);
		err_prefix(err, "not a PEM private key");
		goto out;
	}
	*ret = k;
out:
	if (b.data)
		OPENSSL_cleanse(b.data, b.len);
	buf_free(&b);
	return r;
}

int pki_key_fingerprint(EVP_PKEY *k, char out[PKI_FPR_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int n = i2d_PUBKEY(k, &der);

	if (n <= 0) {
		ERR_clear_error();
		return -EINVAL;
	}
	if (!EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		OPENSSL_free(der);
		ERR_clear_error();
		return -EIO;
	}
	OPENSSL_free(der);
	for (unsigned i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[PKI_FPR_HEX] = '\0';
	return 0;
}

/*
 * The DER SubjectPublicKeyInfo of every P-256 key with an uncompressed
 * point is these 26 bytes (SEQUENCE, AlgorithmIdentifier id-ecPublicKey
 * prime256v1, BIT STRING header) and then the 65 bytes of the point.
 */
static const unsigned char p256_spki_prefix[] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
};
#define P256_POINT_LEN 65

/* P-256's domain parameters as a key of its own, made once (p256_params). */
static EVP_PKEY *p256_params_key;
static pthread_once_t p256_params_once = PTHREAD_ONCE_INIT;

static void p256_params_make(void)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	OSSL_PARAM p[2];

	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
	p[1] = OSSL_PARAM_construct_end();
	if (!c || EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &p256_params_key, EVP_PKEY_KEY_PARAMETERS, p) != 1)
		p256_params_key = NULL;
	EVP_PKEY_CTX_free(c);
}

/*
 * p256_from_point - the public key of the uncompressed P-256 point pt, or
 * NULL (a point not on the curve among others: setting the point checks
 * it).  The curve's parameters are copied from one key made once: making
 * them for every key (EVP_PKEY_fromdata with the group's name) builds
 * the group again each time, 15 us a key against 4 us here.
 */
static EVP_PKEY *p256_from_point(const unsigned char *pt)
{
	EVP_PKEY *k;

	pthread_once(&p256_params_once, p256_params_make);
	if (!p256_params_key || !(k = EVP_PKEY_new()))
		return NULL;
	if (EVP_PKEY_copy_parameters(k, p256_params_key) != 1 ||
	    EVP_PKEY_set1_encoded_public_key(k, pt, P256_POINT_LEN) != 1) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

int pki_pubkey_decode(const unsigned char *der, size_t len, EVP_PKEY **ret)
{
	const unsigned char *p = der;
	EVP_PKEY *k = NULL;

	/* d2i_PUBKEY goes through OpenSSL 3's decoder search: about 100 us a
	 * key here, against 4 us for a P-256 point given directly; a CLI
	 * that hears from thousands of nodes decodes thousands of keys */
	if (len == sizeof(p256_spki_prefix) + P256_POINT_LEN &&
	    !memcmp(der, p256_spki_prefix, sizeof(p256_spki_prefix)) &&
	    der[sizeof(p256_spki_prefix)] == 0x04)
		k = p256_from_point(der + sizeof(p256_spki_prefix));
	else if (len <= 0x7fffffff && (k = d2i_PUBKEY(NULL, &p, (long)len)) && p != der + len) {
		EVP_PKEY_free(k); /* bytes after the key */
		k = NULL;
	}
	if (!k) {
		ERR_clear_error();
		return -EINVAL;
	}
	*ret = k;
	return 0;
}
