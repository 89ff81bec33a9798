/*
 * pki_crl.c - the CA's revocation list (crl.pem).
 *
 * The CRL is the CA's own record of what it revoked: every revoke reads
 * the entries of the current list, adds one, and signs a new list with
 * the next CRL number, written atomically, so a crash leaves the old list
 * or the new one.  A list that is not signed by the CA is refused when
 * the CA is opened rather than replaced: losing revocations silently
 * would let revoked nodes back in.
 *
 * Lists are valid for a year and re-signed (same entries) when the CA
 * is opened with less than half of that left, so a verifier that checks
 * CRL freshness never sees an expired one from a server restarted at
 * least twice a year.
 *
 * More than one process revokes: the running server (a node, through
 * the API) and `tend-server user revoke`.  So a revoke holds an flock on
 * the CA directory and starts from the list on disk, not from the one
 * this process read earlier, which would drop the other's revocations.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "pki/pki.h"
#include "pki/pki_int.h"

#define CRL_DAYS 365

/* next_number - old's CRL number + 1 (1 for the first list). */
static ASN1_INTEGER *next_number(const X509_CRL *old)
{
	ASN1_INTEGER *n = old ? X509_CRL_get_ext_d2i(old, NID_crl_number, NULL, NULL) : NULL;
	BIGNUM *bn = n ? ASN1_INTEGER_to_BN(n, NULL) : BN_new();
	ASN1_INTEGER *next = NULL;

	ASN1_INTEGER_free(n);
	if (bn && BN_add_word(bn, 1))
		next = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return next;
}

/* signed_by - whether crl names ca as its issuer and ca's key signed it. */
static bool signed_by(X509_CRL *crl, X509 *ca)
{
	bool ok = !X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) &&
		  X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1;

	ERR_clear_error();
	return ok;
}

/* number_of - crl's CRL number (0 without one, or one too large). */
static long long number_of(const X509_CRL *crl)
{
	ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	int64_t v = 0;

	if (!n || !ASN1_INTEGER_get_int64(&v, n) || v < 0)
		v = 0;
	ASN1_INTEGER_free(n);
	ERR_clear_error();
	return (long long)v;
}

/* crl_entries - old's entries, and a new one for add (may be NULL) dated now. */
static int crl_entries(X509_CRL *crl, const X509_CRL *old, ASN1_INTEGER *add, ASN1_TIME *now)
{
	STACK_OF(X509_REVOKED) *revs = old ? X509_CRL_get_REVOKED((X509_CRL *)old) : NULL;
	X509_REVOKED *rv;

	for (int i = 0; revs && i < sk_X509_REVOKED_num(revs); i++) {
		rv = X509_REVOKED_dup(sk_X509_REVOKED_value(revs, i));
		if (!rv || !X509_CRL_add0_revoked(crl, rv)) {
			X509_REVOKED_free(rv);
			return -ENOMEM;
		}
	}
	if (!add)
		return 0;
	rv = X509_REVOKED_new();
	if (!rv || !X509_REVOKED_set_serialNumber(rv, add) ||
	    !X509_REVOKED_set_revocationDate(rv, now) || !X509_CRL_add0_revoked(crl, rv)) {
		X509_REVOKED_free(rv);
		return -ENOMEM;
	}
	return 0;
}

/* crl_build - a new signed list: old's entries plus add. */
static int crl_build(struct pki_ca *ca, const X509_CRL *old, ASN1_INTEGER *add, X509_CRL **ret)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *now = X509_gmtime_adj(NULL, 0);
	ASN1_TIME *next = X509_time_adj_ex(NULL, CRL_DAYS, 0, NULL);
	ASN1_INTEGER *number = next_number(old);
	X509_EXTENSION *aki = NULL;
	X509V3_CTX ctx;
	int r = -EIO;

	if (!crl || !now || !next || !number || !X509_CRL_set_version(crl, 1) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) ||
	    !X509_CRL_set1_lastUpdate(crl, now) || !X509_CRL_set1_nextUpdate(crl, next))
		goto out;
	if (crl_entries(crl, old, add, now) < 0 || !X509_CRL_sort(crl) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0))
		goto out;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, ca->cert, NULL, NULL, crl, 0);
	aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	if (!aki || !X509_CRL_add_ext(crl, aki, -1) || !X509_CRL_sign(crl, ca->key, EVP_sha256()))
		goto out;
	*ret = crl;
	crl = NULL;
	r = 0;
out:
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(number);
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	X509_CRL_free(crl);
	return r;
}

/* crl_write - sign a new list (old's entries plus add), write it, use it. */
static int crl_write(struct pki_ca *ca, ASN1_INTEGER *add, struct tend_err *err)
{
	X509_CRL *crl = NULL;
	BIO *b = NULL;
	char *pem = NULL;
	int r = crl_build(ca, ca->crl, add, &crl);

	if (r < 0)
		return pki_ssl_err(err, r, "cannot sign the revocation list");
	b = BIO_new(BIO_s_mem());
	if (!b || !PEM_write_bio_X509_CRL(b, crl)) {
		BIO_free(b);
		X509_CRL_free(crl);
		return pki_ssl_err(err, -EIO, "cannot encode the revocation list");
	}
	r = pki_bio_take(b, &pem);
	if (r == 0)
		r = pki_file_write(ca->path[PKI_CA_CRL], pem, strlen(pem), 0644, err);
	if (r < 0) {
		free(pem);
		X509_CRL_free(crl);
		return r;
	}
	X509_CRL_free(ca->crl);
	free(ca->crl_pem);
	ca->crl = crl;
	ca->crl_pem = pem;
	ca->crl_number = number_of(crl);
	return 0;
}

/* crl_read - crl.pem parsed and checked: issued and signed by this CA. */
static int crl_read(struct pki_ca *ca, struct tend_err *err)
{
	const char *path = ca->path[PKI_CA_CRL];
	X509_CRL *crl = NULL;
	struct buf b;
	BIO *bio;
	int r = pki_file_read(path, (size_t)64 << 20, &b, NULL, err);

	if (r < 0)
		return r;
	bio = BIO_new_mem_buf(buf_str(&b), (int)b.len);
	crl = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!crl) {
		r = pki_ssl_err(err, -EINVAL, path);
		err_prefix(err, "not a PEM revocation list");
	} else if (!signed_by(crl, ca->cert)) {
		r = err_set(err, -EINVAL,
			    "%s: not signed by this CA: restore it from a backup (revocations "
			    "would be lost)",
			    path);
	}
	if (r < 0) {
		X509_CRL_free(crl);
		buf_free(&b);
		return r;
	}
	X509_CRL_free(ca->crl);
	free(ca->crl_pem);
	ca->crl = crl;
	ca->crl_pem = buf_steal(&b);
	ca->crl_number = number_of(crl);
	return 0;
}

int pki_crl_load(struct pki_ca *ca, bool create, struct tend_err *err)
{
	const ASN1_TIME *next;
	int r = crl_read(ca, err);

	if (r == -ENOENT && create)
		return crl_write(ca, NULL, err);
	if (r < 0)
		return r;
	next = X509_CRL_get0_nextUpdate(ca->crl);
	if (!next || X509_cmp_time(next, &(time_t){ time(NULL) + CRL_DAYS * 86400L / 2 }) < 0)
		return crl_write(ca, NULL, err);
	return 0;
}

bool pki_ca_is_revoked(struct pki_ca *ca, const char *serial_hex)
{
	ASN1_INTEGER *serial = NULL;
	X509_REVOKED *rv = NULL;
	int found;

	if (!ca->crl || pki_serial_parse(serial_hex, &serial) < 0)
		return false;
	found = X509_CRL_get0_by_serial(ca->crl, &rv, serial);
	ASN1_INTEGER_free(serial);
	return found == 1;
}

/* lock_dir - an flock on the CA directory (blocking); the fd, or -errno. */
static int lock_dir(struct pki_ca *ca, struct tend_err *err)
{
	int fd = open(ca->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return err_set(err, -e, "%s: cannot lock: %s", ca->dir, strerror(e));
	}
	return fd;
}

int pki_ca_revoke(struct pki_ca *ca, const char *serial_hex, struct tend_err *err)
{
	ASN1_INTEGER *serial = NULL;
	int r, fd;

	if (pki_serial_parse(serial_hex, &serial) < 0)
		return err_set(err, -EINVAL, "bad serial number '%.60s': expected 1 to %d hex digits",
			       serial_hex ? serial_hex : "", PKI_SERIAL_HEX_MAX);
	fd = lock_dir(ca, err);
	if (fd < 0) {
		ASN1_INTEGER_free(serial);
		return fd;
	}
	/* what another process revoked since this one read the list stays */
	r = crl_read(ca, err);
	if (r == 0 && !pki_ca_is_revoked(ca, serial_hex))
		r = crl_write(ca, serial, err);
	close(fd);
	ASN1_INTEGER_free(serial);
	return r;
}

int pki_ca_crl_reload(struct pki_ca *ca, struct tend_err *err)
{
	int fd = lock_dir(ca, err), r;

	if (fd < 0)
		return fd;
	r = crl_read(ca, err);
	close(fd);
	return r;
}

long long pki_ca_crl_number(const struct pki_ca *ca)
{
	return ca->crl_number;
}

int pki_crl_check(const char *ca_pem, const char *crl_pem, long long *ret_number,
		  struct tend_err *err)
{
	X509 *ca = NULL;
	X509_CRL *crl = NULL;
	int r = pki_cert_parse(ca_pem, 0, &ca, err);

	if (r == 0)
		r = pki_crl_parse(crl_pem, &crl, err);
	if (r == 0 && !signed_by(crl, ca))
		r = err_set(err, -EKEYREJECTED, "the revocation list is not signed by the CA");
	if (r == 0)
		*ret_number = number_of(crl);
	ERR_clear_error();
	X509_CRL_free(crl);
	X509_free(ca);
	return r;
}
