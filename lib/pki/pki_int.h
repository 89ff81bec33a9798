/*
 * pki_int.h - what the files of lib/pki share and nobody else sees:
 * reading and writing PEM files, OpenSSL's error queue as a message,
 * names and serial numbers as text.
 */
#ifndef TEND_PKI_INT_H
#define TEND_PKI_INT_H

#include <openssl/bio.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>

#include "pki/pki.h"
#include "util/buf.h"
#include "util/err.h"

/*
 * pki_ssl_err - code with "WHAT: OpenSSL's reason" in err; empties
 * OpenSSL's (thread-local) error queue so that no stale reason is
 * reported later.
 */
int pki_ssl_err(struct tend_err *err, int code, const char *what);

/* pki_bio_take - the bytes written to memory BIO b as a malloc'd string; frees b. */
int pki_bio_take(BIO *b, char **ret);

/*
 * pki_file_read - the whole file at path (at most max bytes: -EFBIG) into
 * out (initialised here; freed on failure); *ret_mode (may be NULL) gets
 * its permission bits, from the file read (no race with a rename).
 */
int pki_file_read(const char *path, size_t max, struct buf *out, unsigned *ret_mode,
		  struct tend_err *err);

/* pki_file_write - replace path atomically with len bytes of data, mode mode. */
int pki_file_write(const char *path, const void *data, size_t len, unsigned mode,
		   struct tend_err *err);

/* pki_cert_parse - the first certificate in pem (len bytes; 0: strlen). */
int pki_cert_parse(const char *pem, size_t len, X509 **ret, struct tend_err *err);

/* pki_cert_pem - x as PEM, malloc'd. */
int pki_cert_pem(X509 *x, char **ret);

/*
 * pki_name_cn - the CN of name into out when name is exactly one RDN
 * holding one CN (what tend issues and accepts); -EINVAL otherwise.
 */
int pki_name_cn(const X509_NAME *name, char *out, size_t len);

/*
 * pki_entry_text - the value of name entry e as UTF-8 into out (len
 * bytes with the NUL); -EINVAL when it does not fit or holds a NUL.
 */
int pki_entry_text(const X509_NAME_ENTRY *e, char *out, size_t len);

/* pki_serial_hex - serial as lowercase hex without leading zeros ("0" for 0). */
int pki_serial_hex(const ASN1_INTEGER *serial, char out[PKI_SERIAL_HEX_MAX + 1]);

/* The CA (pki_ca.c); the CRL in pki_crl.c, the server identity in pki_server.c. */
struct pki_ca {
	char *dir;
	char *path[4];       /* enum pki_ca_file */
	char *key_path;      /* ca.key */
	EVP_PKEY *key;
	X509 *cert;
	char *cert_pem;
	X509_CRL *crl;
	char *crl_pem;
	long long crl_number; /* crl's */
	EVP_PKEY *srv_key;   /* after pki_ca_server_cert */
	char *srv_pem;
};

/* Certificate profiles pki_ca_issue writes. */
enum pki_profile {
	PKI_PROFILE_NODE,    /* clientAuth */
	PKI_PROFILE_SERVER,  /* serverAuth, clientAuth, SANs */
};

/*
 * pki_ca_issue - a certificate signed by ca for public key pub, subject
 * CN=cn, valid from 5 minutes ago for days days (not past the CA's end),
 * with a fresh random serial and the extensions of profile; san (server
 * only) is an OpenSSL subjectAltName value ("DNS:x,IP:1.2.3.4").
 */
int pki_ca_issue(struct pki_ca *ca, EVP_PKEY *pub, const char *cn, int days,
		 enum pki_profile profile, const char *san, X509 **ret, struct tend_err *err);

/* pki_ca_issue_name - pki_ca_issue for any subject (copied; an admin's has O, OU, CN). */
int pki_ca_issue_name(struct pki_ca *ca, EVP_PKEY *pub, const X509_NAME *subject, int days,
		      enum pki_profile profile, const char *san, X509 **ret, struct tend_err *err);

/*
 * pki_crl_load - read and check crl.pem (signed by the CA; -EINVAL when
 * not), write an empty one when it is missing and create is set
 * (-ENOENT otherwise), and re-sign it when it is due within half its life.
 */
int pki_crl_load(struct pki_ca *ca, bool create, struct tend_err *err);

/* pki_crl_parse - a PEM CRL (not checked: pki_chain_check does). */
int pki_crl_parse(const char *pem, X509_CRL **ret, struct tend_err *err);

/*
 * pki_chain_check - x chains to ca, is valid now and, with crl (may be
 * NULL), is not revoked: -EKEYREJECTED with the reason otherwise.  Names
 * are not looked at.
 */
int pki_chain_check(X509 *ca, X509_CRL *crl, X509 *x, struct tend_err *err);

/* pki_serial_parse - lowercase or uppercase hex, 1..PKI_SERIAL_HEX_MAX digits. */
int pki_serial_parse(const char *hex, ASN1_INTEGER **ret);

/* pki_cn_ok - 1..PKI_CN_MAX bytes of letters, digits, '.', '-', '_'. */
bool pki_cn_ok(const char *cn);

#endif
