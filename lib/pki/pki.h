/*
 * pki.h - tend's own certificate authority and the identities it issues:
 * keys, certificate requests, node and server certificates, the
 * revocation list, and detached signatures (OpenSSL 3's libcrypto).
 *
 * One CA per tend-server, in a directory of its state (STATE/ca, 0700):
 *   ca.key      EC P-256 private key, 0600; never leaves the directory
 *   ca.pem      self-signed CA certificate: CA:true, pathlen 0, 10 years
 *   crl.pem     the revocation list, rewritten on every revoke
 *   server.key  tend-server's own key (0600) ...
 *   server.pem  ... and certificate: CN "tend-server", serverAuth and
 *               clientAuth, SANs for the addresses it is reached at
 *
 * A node certificate names the node and nothing else: subject CN = node
 * id, no SANs, CA:false, clientAuth only, issued from a CSR that asked
 * for exactly that (pki_csr_check) and signed with a random 128-bit
 * serial.  Nothing in a CSR but its public key is ever copied into a
 * certificate: the subject and extensions are written by the CA.
 *
 * Everything here returns 0 or -errno with a one-line message in err
 * (which may be NULL); out-parameters are written only on success.  A
 * struct pki_ca is not thread-safe: callers serialize its use.
 * Inputs from the network are bounded (PKI_PEM_MAX, PKI_SIG_B64_MAX).
 */
#ifndef TEND_PKI_H
#define TEND_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define PKI_PEM_MAX 16384      /* the largest CSR or certificate accepted, PEM */
#define PKI_SIG_B64_MAX 512    /* the largest signature accepted, base64 */
#define PKI_SERIAL_HEX_MAX 40  /* serial numbers, lowercase hex */
#define PKI_FPR_HEX 64         /* key fingerprints: SHA-256 hex */
#define PKI_CN_MAX 64          /* longest common name (RFC 5280 ub-common-name) */
#define PKI_SERVER_CN "tend-server"
#define PKI_KEY_FILE_MAX 65536 /* the largest key file read */

/* ---- keys (pki_key.c) ---- */

/* pki_key_new - a new EC P-256 key. */
int pki_key_new(EVP_PKEY **ret);

/*
 * pki_key_save - k's private key as PKCS#8 PEM at path, mode 0600,
 * replaced atomically (a crash leaves the old file or the new one).
 */
int pki_key_save(const EVP_PKEY *k, const char *path, struct tend_err *err);

/*
 * pki_key_pem - k's private key as PKCS#8 PEM text (*ret malloc'd; the
 * caller wipes it with OPENSSL_cleanse before freeing).
 */
int pki_key_pem(const EVP_PKEY *k, char **ret, struct tend_err *err);

/*
 * pki_key_load - the private key in the PEM file at path.  A file that
 * group or others may read or write is refused (-EPERM), as ssh does:
 * a key that leaked is no identity.  -ENOENT when missing.
 */
int pki_key_load(const char *path, EVP_PKEY **ret, struct tend_err *err);

/*
 * pki_key_fingerprint - SHA-256 (hex) of k's public key in DER
 * (SubjectPublicKeyInfo): what an administrator compares before
 * approving a request, and how the server recognises a key again.
 */
int pki_key_fingerprint(EVP_PKEY *k, char out[PKI_FPR_HEX + 1]);

/*
 * pki_pubkey_decode - the public key in DER SubjectPublicKeyInfo (der,
 * len bytes: all of it), as i2d_PUBKEY wrote it.  -EINVAL when it is
 * not one.
 */
int pki_pubkey_decode(const unsigned char *der, size_t len, EVP_PKEY **ret);

/* ---- certificate requests (pki_csr.c) ---- */

/*
 * pki_csr_new - a PEM CSR for key k with subject CN=cn and nothing else
 * (no extensions, no attributes): the request pki_csr_check accepts.
 * *ret_pem is malloc'd.
 */
int pki_csr_new(EVP_PKEY *k, const char *cn, char **ret_pem, struct tend_err *err);

/*
 * pki_csr_check - parse the PEM CSR (len bytes, at most PKI_PEM_MAX) and
 * accept it only if: its subject is exactly one CN equal to expect_cn;
 * it requests no extension at all (no subjectAltName, no basicConstraints
 * - CA:true -, no key or extended key usage: the CA decides those) and
 * carries no other attribute; its key is EC P-256 or P-384, or RSA of
 * at least 2048 bits; its self-signature verifies.  Otherwise -EINVAL
 * with the reason ("the request asks for a subjectAltName: ...").
 */
int pki_csr_check(const char *pem, size_t len, const char *expect_cn, X509_REQ **ret,
		  struct tend_err *err);

/* pki_csr_fingerprint - pki_key_fingerprint of the CSR's public key. */
int pki_csr_fingerprint(X509_REQ *csr, char out[PKI_FPR_HEX + 1]);

/* ---- the CA (pki_ca.c) ---- */

struct pki_ca;

/*
 * pki_ca_open - the CA in directory dir (see above).  With create, a
 * missing directory (0700), key and certificate are made; a CA key
 * without its certificate gets a new self-signed one when there is no
 * CRL either (a crash while the CA was being made; -EINVAL otherwise:
 * a new CA certificate would orphan every node); a missing CRL is
 * written empty.  Without create, a
 * missing CA is -ENOENT.  A certificate that does not match the key, or
 * that is not a CA, is -EINVAL.  A CRL due to expire within half its
 * life is re-signed.
 */
int pki_ca_open(const char *dir, bool create, struct pki_ca **ret, struct tend_err *err);
void pki_ca_free(struct pki_ca *ca);

/* pki_ca_cert_pem - the CA certificate, PEM (lives as long as ca). */
const char *pki_ca_cert_pem(struct pki_ca *ca);
/* pki_ca_crl_pem - the current CRL, PEM (valid until the next revoke). */
const char *pki_ca_crl_pem(struct pki_ca *ca);

/* Files of the CA directory, for programs configured by path (nats-server). */
enum pki_ca_file {
	PKI_CA_CERT,     /* ca.pem */
	PKI_CA_CRL,      /* crl.pem */
	PKI_SERVER_CERT, /* server.pem (exists once pki_ca_server_cert ran) */
	PKI_SERVER_KEY,  /* server.key */
};

/* pki_ca_path - the absolute or dir-relative path of file (lives as long as ca). */
const char *pki_ca_path(struct pki_ca *ca, enum pki_ca_file file);

/*
 * pki_ca_server_cert - make sure server.key and server.pem exist: a
 * certificate with CN "tend-server", serverAuth and clientAuth, whose
 * SANs are at least "localhost", this host's name, 127.0.0.1, ::1 and
 * each of sans (NULL-terminated, may be NULL: an IP address literal
 * becomes an IP SAN, anything else a DNS name; "0.0.0.0", "::" and ""
 * are skipped).  It is (re)issued, keeping the key, when missing, when
 * a SAN is missing, when it was not issued by this CA, or when it
 * expires within a third of days (its lifetime).  Loads the key and the
 * certificate for pki_ca_server_key / pki_ca_server_cert_pem.
 */
int pki_ca_server_cert(struct pki_ca *ca, const char *const *sans, int days,
		       struct tend_err *err);

/* pki_ca_server_key - the server's private key (borrowed), NULL before pki_ca_server_cert. */
EVP_PKEY *pki_ca_server_key(struct pki_ca *ca);
/* pki_ca_server_cert_pem - the server's certificate, PEM, NULL before pki_ca_server_cert. */
const char *pki_ca_server_cert_pem(struct pki_ca *ca);

/*
 * pki_ca_issue_node - a node certificate for csr (already accepted by
 * pki_csr_check): subject CN=cn, the CSR's public key, CA:false,
 * digitalSignature, clientAuth only, no SANs, valid from 5 minutes ago
 * (clock skew) for days days (never past the CA's own end).  *ret_pem is
 * malloc'd; serial_hex gets its serial.  The CSR's signature is checked
 * again; -EINVAL when it does not verify or cn is not a node name
 * (1..PKI_CN_MAX bytes of letters, digits, '.', '-', '_').
 */
int pki_ca_issue_node(struct pki_ca *ca, X509_REQ *csr, const char *cn, int days, char **ret_pem,
		      char serial_hex[PKI_SERIAL_HEX_MAX + 1], struct tend_err *err);

/*
 * pki_ca_revoke - add serial_hex to the CRL and rewrite crl.pem
 * atomically (a new CRL number, signed by the CA).  Revoking a serial
 * twice is not an error (nothing changes).  -EINVAL for a serial that is
 * not hex.  The list it adds to is the one on disk (under an flock on
 * the CA directory): revocations made by other processes are kept.
 */
int pki_ca_revoke(struct pki_ca *ca, const char *serial_hex, struct tend_err *err);

/*
 * pki_ca_crl_reload - read crl.pem again (another process revoked
 * something); the list in use stays when the file does not check.
 */
int pki_ca_crl_reload(struct pki_ca *ca, struct tend_err *err);

/* pki_ca_crl_number - the CRL number of the list in use (it grows with every revoke). */
long long pki_ca_crl_number(const struct pki_ca *ca);

/*
 * pki_crl_check - whether crl_pem is a revocation list signed by the CA
 * certificate ca_pem; its CRL number in *ret_number.  Its dates are not
 * looked at (a list that has expired still names what it revoked).
 * -EKEYREJECTED when another key signed it, -EINVAL when it does not parse.
 */
int pki_crl_check(const char *ca_pem, const char *crl_pem, long long *ret_number,
		  struct tend_err *err);

/* pki_ca_is_revoked - whether serial_hex is in the CRL. */
bool pki_ca_is_revoked(struct pki_ca *ca, const char *serial_hex);

/* ---- verification and signatures (pki_verify.c) ---- */

/*
 * pki_verify_cert - whether cert_pem (the first certificate in it) chains
 * to the CA certificate ca_pem, is valid now and, with crl_pem, is not
 * revoked (the CRL must be signed by that CA and current).  With
 * expect_cn, its subject CN must be that.  *ret_cn (may be NULL) gets the
 * subject CN, malloc'd.  -EKEYREJECTED with the reason ("certificate
 * revoked", "certificate has expired", ...) when it does not verify;
 * -EINVAL when something does not parse.
 */
int pki_verify_cert(const char *ca_pem, const char *crl_pem, const char *cert_pem,
		    const char *expect_cn, char **ret_cn, struct tend_err *err);

/*
 * pki_cert_serial - the serial number of the first certificate in
 * cert_pem, lowercase hex, and its end of validity (Unix seconds; may be
 * NULL).
 */
int pki_cert_serial(const char *cert_pem, char serial_hex[PKI_SERIAL_HEX_MAX + 1],
		    long long *ret_not_after, struct tend_err *err);

/*
 * pki_sign - ECDSA (or RSA) with SHA-256 over len bytes of data with key k:
 * the DER signature, base64, malloc'd.
 */
int pki_sign(EVP_PKEY *k, const void *data, size_t len, char **ret_b64, struct tend_err *err);

/*
 * pki_verify_key - pki_verify with the public key pub (borrowed) already
 * taken from a certificate: for callers that keep keys of certificates
 * they verified once.
 */
int pki_verify_key(EVP_PKEY *pub, const void *data, size_t len, const char *sig_b64,
		   struct tend_err *err);

/*
 * pki_verify - whether sig_b64 (pki_sign's output, at most
 * PKI_SIG_B64_MAX) is a signature of data by the key of certificate
 * cert_pem.  Only the signature: whether the certificate is one to trust
 * is pki_verify_cert's question.  -EKEYREJECTED when it does not verify.
 */
int pki_verify(const char *cert_pem, const void *data, size_t len, const char *sig_b64,
	       struct tend_err *err);

/* ---- administrators (pki_admin.c) ---- */

/*
 * An administrator's certificate (tend-server user add) names a person
 * and a role: subject O=tend-admin, OU=ROLE, CN=NAME, in that order, one
 * value per RDN; CA:false, digitalSignature, clientAuth only, no SANs.
 * Its subject is not one CN, so pki_verify_cert, which answers "which
 * node is this?", refuses it: an administrator is never taken for a
 * node, and a node's certificate (no O) is never an administrator's.
 */
#define PKI_ADMIN_ORG "tend-admin"

/*
 * pki_ca_issue_admin - an administrator's certificate for key (its
 * public part), subject O=tend-admin, OU=role, CN=name, with a random
 * 128-bit serial, valid from 5 minutes ago for days days (never past the
 * CA's end).  name and role: 1..PKI_CN_MAX bytes of letters, digits,
 * '.', '-', '_' (-EINVAL otherwise).  *ret_pem is malloc'd; serial_hex
 * gets the serial.
 */
int pki_ca_issue_admin(struct pki_ca *ca, EVP_PKEY *key, const char *name, const char *role,
		       int days, char **ret_pem, char serial_hex[PKI_SERIAL_HEX_MAX + 1],
		       struct tend_err *err);

/*
 * pki_cert_identity - who the first certificate in cert_pem names, not
 * whether to trust it: its CN, its OU ("" when none) and whether it is an
 * administrator's (O is exactly tend-admin, with an OU).  -EINVAL when
 * the subject is not made of at most one O, OU and CN, each its own RDN,
 * with a CN.
 */
int pki_cert_identity(const char *cert_pem, char cn[PKI_CN_MAX + 1], char role[PKI_CN_MAX + 1],
		      bool *ret_admin, struct tend_err *err);

/* A certificate that verified, as pki_verify_identity found it. */
struct pki_identity {
	char cn[PKI_CN_MAX + 1];
	char role[PKI_CN_MAX + 1]; /* an administrator's OU; "" for a node */
	bool admin;
	long long not_after;       /* end of validity, Unix seconds */
	EVP_PKEY *pub;             /* its public key (owned: pki_identity_clear) */
};

/*
 * pki_verify_identity - pki_verify_cert for nodes and administrators
 * alike: cert_pem chains to ca_pem, is valid now, is not revoked in
 * crl_pem (may be NULL), is not a CA, and its subject is exactly a
 * node's (one CN) or an administrator's (O=tend-admin, OU, CN).
 * -EKEYREJECTED with the reason when not; *ret filled in on success.
 */
int pki_verify_identity(const char *ca_pem, const char *crl_pem, const char *cert_pem,
			struct pki_identity *ret, struct tend_err *err);
/* pki_identity_clear - free what id holds (its key); id may be NULL. */
void pki_identity_clear(struct pki_identity *id);

/*
 * A CA and its CRL parsed once, for callers that verify many
 * certificates (a certificate cache): parsing the CA certificate costs
 * as much as checking a signature.  pki_trust_verify is
 * pki_verify_identity against it.
 */
struct pki_trust;
int pki_trust_new(const char *ca_pem, const char *crl_pem, struct pki_trust **ret,
		  struct tend_err *err);
void pki_trust_free(struct pki_trust *t);
int pki_trust_verify(const struct pki_trust *t, const char *cert_pem, struct pki_identity *ret,
		     struct tend_err *err);

#endif
