/*
 * pki_admin.c - administrators' identities: the certificate tend-server
 * user add issues (O=tend-admin, OU=ROLE, CN=NAME), reading who a
 * certificate names, and verifying a certificate that may be a node's
 * or an administrator's (the RPC agent and CLI, lib/rpc).
 *
 * A subject is read strictly: at most one O, one OU and one CN, each in
 * its own RDN, nothing else.  An administrator's is exactly O=tend-admin,
 * OU, CN in that order; a node's exactly one CN.  Anything else verifies
 * as nobody: a certificate tend did not shape is not an identity, even
 * when the CA signed it.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <time.h>

#include "pki/pki.h"
#include "pki/pki_int.h"
#include "util/strutil.h"

enum subject_kind {
	SUBJECT_OTHER,
	SUBJECT_NODE,  /* CN */
	SUBJECT_ADMIN, /* O=tend-admin, OU, CN */
};

/* What a subject holds, read by read_subject. */
struct subject {
	char cn[PKI_CN_MAX + 1];
	char ou[PKI_CN_MAX + 1];
	char o[PKI_CN_MAX + 1];
	int nid[3]; /* in the subject's order */
	int n;
	enum subject_kind kind;
};

/* subject_slot - where the value of nid goes, or NULL for a foreign attribute. */
static char *subject_slot(struct subject *s, int nid)
{
	switch (nid) {
	case NID_commonName:
		return s->cn;
	case NID_organizationalUnitName:
		return s->ou;
	case NID_organizationName:
		return s->o;
	default:
		return NULL;
	}
}

/* read_subject - name into s: -EINVAL unless at most one O, OU, CN, each its own RDN, with a CN. */
static int read_subject(const X509_NAME *name, struct subject *s)
{
	int count = name ? X509_NAME_entry_count(name) : 0;
	bool have_cn = false;

	memset(s, 0, sizeof(*s));
	if (count < 1 || count > 3)
		return -EINVAL;
	for (int i = 0; i < count; i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		char *slot = subject_slot(s, nid);

		/* a multi-valued RDN shares its set number with the entry before */
		if (!slot || X509_NAME_ENTRY_set(e) != i)
			return -EINVAL;
		for (int j = 0; j < s->n; j++)
			if (s->nid[j] == nid)
				return -EINVAL;
		if (pki_entry_text(e, slot, PKI_CN_MAX + 1) < 0 || !*slot)
			return -EINVAL;
		s->nid[s->n++] = nid;
		have_cn |= nid == NID_commonName;
	}
	if (!have_cn)
		return -EINVAL;
	if (s->n == 1)
		s->kind = SUBJECT_NODE;
	else if (s->n == 3 && s->nid[0] == NID_organizationName &&
		 s->nid[1] == NID_organizationalUnitName && s->nid[2] == NID_commonName &&
		 !strcmp(s->o, PKI_ADMIN_ORG))
		s->kind = SUBJECT_ADMIN;
	else
		s->kind = SUBJECT_OTHER;
	return 0;
}

/* admin_name - O=tend-admin, OU=role, CN=name, in that order. */
static X509_NAME *admin_name(const char *name, const char *role)
{
	const struct {
		int nid;
		const char *value;
	} parts[] = {
		{ NID_organizationName, PKI_ADMIN_ORG },
		{ NID_organizationalUnitName, role },
		{ NID_commonName, name },
	};
	X509_NAME *n = X509_NAME_new();

	for (size_t i = 0; n && i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (!X509_NAME_add_entry_by_NID(n, parts[i].nid, MBSTRING_UTF8,
						(const unsigned char *)parts[i].value, -1, -1, 0)) {
			X509_NAME_free(n);
			n = NULL;
		}
	}
	return n;
}

int pki_ca_issue_admin(struct pki_ca *ca, EVP_PKEY *key, const char *name, const char *role,
		       int days, char **ret_pem, char serial_hex[PKI_SERIAL_HEX_MAX + 1],
		       struct tend_err *err)
{
	char hex[PKI_SERIAL_HEX_MAX + 1];
	X509_NAME *subject;
	X509 *x = NULL;
	char *pem = NULL;
	int r;

	if (!pki_cn_ok(name))
		return err_set(err, -EINVAL,
			       "'%.100s' cannot be an administrator's name (1 to %d "
			       "letters, digits, '.', '-', '_')",
			       name ? name : "", PKI_CN_MAX);
	if (!pki_cn_ok(role))
		return err_set(err, -EINVAL,
			       "'%.100s' cannot be a role (1 to %d letters, digits, "
			       "'.', '-', '_')",
			       role ? role : "", PKI_CN_MAX);
	if (!key)
		return err_set(err, -EINVAL, "no key to certify");
	subject = admin_name(name, role);
	if (!subject)
		return pki_ssl_err(err, -ENOMEM, "cannot make a certificate");
	r = pki_ca_issue_name(ca, key, subject, days, PKI_PROFILE_NODE, NULL, &x, err);
	X509_NAME_free(subject);
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

int pki_cert_identity(const char *cert_pem, char cn[PKI_CN_MAX + 1], char role[PKI_CN_MAX + 1],
		      bool *ret_admin, struct tend_err *err)
{
	struct subject s;
	X509 *x = NULL;
	int r = pki_cert_parse(cert_pem, 0, &x, err);

	if (r < 0)
		return r;
	r = read_subject(X509_get_subject_name(x), &s);
	X509_free(x);
	if (r < 0)
		return err_set(err, r,
			       "the certificate's subject is not one tend issues (at most "
			       "one O, OU and CN, with a CN)");
	memcpy(cn, s.cn, sizeof(s.cn));
	memcpy(role, s.ou, sizeof(s.ou));
	*ret_admin = s.kind == SUBJECT_ADMIN;
	return 0;
}

/* not_after - x's end of validity in Unix seconds. */
static int not_after(X509 *x, long long *ret)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
		return -EINVAL;
	*ret = (long long)timegm(&tm);
	return 0;
}

/* identity_of - the identity x (which verified) names. */
static int identity_of(X509 *x, struct pki_identity *ret, struct tend_err *err)
{
	struct subject s;
	EVP_PKEY *pub;
	long long end;

	if (read_subject(X509_get_subject_name(x), &s) < 0 || s.kind == SUBJECT_OTHER)
		return err_set(err, -EKEYREJECTED,
			       "the certificate's subject is neither a node's "
			       "nor an administrator's");
	if (not_after(x, &end) < 0)
		return err_set(err, -EKEYREJECTED,
			       "the certificate's end of validity cannot be read");
	pub = X509_get_pubkey(x);
	if (!pub)
		return pki_ssl_err(err, -EKEYREJECTED, "the certificate's key cannot be read");
	memset(ret, 0, sizeof(*ret));
	memcpy(ret->cn, s.cn, sizeof(s.cn));
	if (s.kind == SUBJECT_ADMIN)
		memcpy(ret->role, s.ou, sizeof(s.ou));
	ret->admin = s.kind == SUBJECT_ADMIN;
	ret->not_after = end;
	ret->pub = pub;
	return 0;
}

struct pki_trust {
	X509 *ca;
	X509_CRL *crl;
};

int pki_trust_new(const char *ca_pem, const char *crl_pem, struct pki_trust **ret,
		  struct tend_err *err)
{
	struct pki_trust *t = xcalloc(1, sizeof(*t));
	int r = pki_cert_parse(ca_pem, 0, &t->ca, err);

	if (r < 0)
		err_prefix(err, "the CA certificate");
	else if (crl_pem)
		r = pki_crl_parse(crl_pem, &t->crl, err);
	if (r < 0) {
		pki_trust_free(t);
		return r;
	}
	*ret = t;
	return 0;
}

void pki_trust_free(struct pki_trust *t)
{
	if (!t)
		return;
	X509_free(t->ca);
	X509_CRL_free(t->crl);
	free(t);
}

int pki_trust_verify(const struct pki_trust *t, const char *cert_pem, struct pki_identity *ret,
		     struct tend_err *err)
{
	X509 *x = NULL;
	int r = pki_cert_parse(cert_pem, 0, &x, err);

	if (r < 0)
		return r;
	/* the CA's own certificate verifies against itself: it is not an identity */
	if (X509_check_ca(x) != 0)
		r = err_set(err, -EKEYREJECTED, "a CA certificate is not an identity");
	else
		r = pki_chain_check(t->ca, t->crl, x, err);
	if (r == 0)
		r = identity_of(x, ret, err);
	ERR_clear_error();
	X509_free(x);
	return r;
}

int pki_verify_identity(const char *ca_pem, const char *crl_pem, const char *cert_pem,
			struct pki_identity *ret, struct tend_err *err)
{
	struct pki_trust *t = NULL;
	int r = pki_trust_new(ca_pem, crl_pem, &t, err);

	if (r == 0)
		r = pki_trust_verify(t, cert_pem, ret, err);
	pki_trust_free(t);
	return r;
}

void pki_identity_clear(struct pki_identity *id)
{
	if (!id)
		return;
	EVP_PKEY_free(id->pub);
	id->pub = NULL;
}
