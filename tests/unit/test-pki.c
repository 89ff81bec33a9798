/*
 * test-pki.c - unit tests for tend's CA and identities (pki/pki.h): keys,
 * the checks a CSR must pass before the CA signs it, node and server
 * certificates, revocation, verification and detached signatures.
 *
 * Each refusal the CA makes has a test here that builds the request it
 * refuses (a SAN, CA:true, a foreign CN, a forged signature, ...) with
 * OpenSSL directly, so that removing a check makes a test fail.  Each
 * test works in a fresh temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pki/pki.h"

struct fixture {
	char dir[256];
	char ca[300];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/tend-test-pki-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->ca, sizeof(f->ca), "%s/ca", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		print_error("could not remove %s\n", f->dir);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static struct pki_ca *open_ca(struct fixture *f)
{
	struct tend_err err = { "" };
	struct pki_ca *ca = NULL;
	int r = pki_ca_open(f->ca, true, &ca, &err);

	if (r < 0)
		print_error("pki_ca_open: %s\n", err.msg);
	assert_int_equal(r, 0);
	return ca;
}

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = NULL;

	assert_int_equal(pki_key_new(&k), 0);
	return k;
}

/* What a hand-made CSR should carry beyond its CN. */
struct csr_spec {
	const char *cn;
	const char *org;      /* a second RDN */
	int ext_nid;          /* an extension request */
	const char *ext_value;
	bool password;        /* a challengePassword attribute */
	EVP_PKEY *signer;     /* sign with another key than the request's */
	long version;         /* 0: v1, the only one there is */
};

static char *make_csr(EVP_PKEY *k, const struct csr_spec *s)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL, *pem;
	long n;

	assert_true(X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
					       (const unsigned char *)s->cn, -1, -1, 0));
	if (s->org)
		assert_true(X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
						       (const unsigned char *)s->org, -1, -1, 0));
	assert_true(X509_REQ_set_subject_name(req, name));
	assert_true(X509_REQ_set_version(req, s->version));
	assert_true(X509_REQ_set_pubkey(req, k));
	if (s->ext_nid) {
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, s->ext_nid, s->ext_value);

		assert_non_null(e);
		sk_X509_EXTENSION_push(exts, e);
		assert_true(X509_REQ_add_extensions(req, exts));
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	if (s->password)
		assert_true(X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword,
						      MBSTRING_ASC, (const unsigned char *)"x", 1));
	assert_true(X509_REQ_sign(req, s->signer ? s->signer : k, EVP_sha256()));
	assert_true(PEM_write_bio_X509_REQ(b, req));
	n = BIO_get_mem_data(b, &data);
	pem = calloc(1, (size_t)n + 1);
	memcpy(pem, data, (size_t)n);
	BIO_free(b);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return pem;
}

/* check_refused - pki_csr_check refuses pem for node cn with a message holding why. */
static void check_refused(const char *pem, const char *cn, const char *why)
{
	struct tend_err err = { "" };
	X509_REQ *req = NULL;

	assert_int_equal(pki_csr_check(pem, strlen(pem), cn, &req, &err), -EINVAL);
	assert_null(req);
	if (!strstr(err.msg, why))
		print_error("message '%s' does not say '%s'\n", err.msg, why);
	assert_non_null(strstr(err.msg, why));
}

static X509 *parse_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

	BIO_free(b);
	assert_non_null(x);
	return x;
}

/* issue - a node certificate for a fresh key; *ret_key the key (may be NULL). */
static char *issue(struct pki_ca *ca, const char *cn, char serial[PKI_SERIAL_HEX_MAX + 1],
		   EVP_PKEY **ret_key)
{
	struct tend_err err = { "" };
	EVP_PKEY *k = new_key();
	X509_REQ *req = NULL;
	char *csr = NULL, *pem = NULL;

	assert_int_equal(pki_csr_new(k, cn, &csr, &err), 0);
	assert_int_equal(pki_csr_check(csr, strlen(csr), cn, &req, &err), 0);
	assert_int_equal(pki_ca_issue_node(ca, req, cn, 365, &pem, serial, &err), 0);
	X509_REQ_free(req);
	free(csr);
	if (ret_key)
		*ret_key = k;
	else
		EVP_PKEY_free(k);
	return pem;
}

static mode_t file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static char *read_text(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *s = calloc(1, 1 << 20);
	size_t n;

	assert_non_null(fp);
	n = fread(s, 1, (1 << 20) - 1, fp);
	s[n] = '\0';
	fclose(fp);
	return s;
}

static void write_text(const char *path, const char *s)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(s, fp);
	fclose(fp);
}

/* ---- keys ---- */

static void key_saved_0600_loads_back_with_the_same_fingerprint(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	char path[PATH_MAX], a[PKI_FPR_HEX + 1], b[PKI_FPR_HEX + 1];
	EVP_PKEY *k = new_key(), *back = NULL;

	snprintf(path, sizeof(path), "%s/node.key", f->dir);
	umask(0);
	assert_int_equal(pki_key_save(k, path, &err), 0);
	umask(022);
	assert_int_equal(file_mode(path), 0600);
	assert_int_equal(pki_key_load(path, &back, &err), 0);
	assert_int_equal(pki_key_fingerprint(k, a), 0);
	assert_int_equal(pki_key_fingerprint(back, b), 0);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), PKI_FPR_HEX);
	assert_true(EVP_PKEY_is_a(back, "EC"));
	EVP_PKEY_free(k);
	EVP_PKEY_free(back);
}

static void key_others_may_read_is_refused(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	char path[PATH_MAX];
	EVP_PKEY *k = new_key(), *back = NULL;

	snprintf(path, sizeof(path), "%s/node.key", f->dir);
	assert_int_equal(pki_key_save(k, path, &err), 0);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(pki_key_load(path, &back, &err), -EPERM);
	assert_null(back);
	assert_non_null(strstr(err.msg, "read by others"));
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(pki_key_load(path, &back, &err), -EPERM);
	EVP_PKEY_free(k);
}

static void key_missing_or_garbage_is_an_error(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	char path[PATH_MAX];
	EVP_PKEY *k = NULL;

	snprintf(path, sizeof(path), "%s/none.key", f->dir);
	assert_int_equal(pki_key_load(path, &k, &err), -ENOENT);
	write_text(path, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
	chmod(path, 0600);
	assert_int_equal(pki_key_load(path, &k, &err), -EINVAL);
	assert_null(k);
}

/* ---- certificate requests ---- */

static void csr_made_by_pki_csr_new_is_accepted(void **state)
{
	struct tend_err err = { "" };
	EVP_PKEY *k = new_key();
	X509_REQ *req = NULL;
	char *pem = NULL, a[PKI_FPR_HEX + 1], b[PKI_FPR_HEX + 1];

	assert_int_equal(pki_csr_new(k, "web01.example.com", &pem, &err), 0);
	assert_non_null(strstr(pem, "BEGIN CERTIFICATE REQUEST"));
	assert_int_equal(pki_csr_check(pem, strlen(pem), "web01.example.com", &req, &err), 0);
	assert_int_equal(pki_csr_fingerprint(req, a), 0);
	assert_int_equal(pki_key_fingerprint(k, b), 0);
	assert_string_equal(a, b);
	X509_REQ_free(req);
	free(pem);
	EVP_PKEY_free(k);
}

static void csr_for_another_node_is_refused(void **state)
{
	EVP_PKEY *k = new_key();
	char *pem = make_csr(k, &(struct csr_spec){ .cn = "db01" });

	check_refused(pem, "web01", "not for node 'web01'");
	/* a prefix or a case change is another name too */
	check_refused(pem, "db0", "not for node 'db0'");
	check_refused(pem, "DB01", "not for node 'DB01'");
	free(pem);
	EVP_PKEY_free(k);
}

static void csr_subject_with_more_than_the_cn_is_refused(void **state)
{
	EVP_PKEY *k = new_key();
	char *pem = make_csr(k, &(struct csr_spec){ .cn = "web01", .org = "evil" });

	check_refused(pem, "web01", "exactly one common name");
	free(pem);
	EVP_PKEY_free(k);
}

static void csr_asking_for_a_subject_alt_name_is_refused(void **state)
{
	EVP_PKEY *k = new_key();
	char *pem = make_csr(k, &(struct csr_spec){ .cn = "web01",
						     .ext_nid = NID_subject_alt_name,
						     .ext_value = "DNS:web01,DNS:bank.example" });

	check_refused(pem, "web01", "subjectAltName");
	free(pem);
	EVP_PKEY_free(k);
}

static void csr_asking_to_be_a_ca_is_refused(void **state)
{
	EVP_PKEY *k = new_key();
	char *pem = make_csr(k, &(struct csr_spec){ .cn = "web01",
						     .ext_nid = NID_basic_constraints,
						     .ext_value = "critical,CA:TRUE" });

	check_refused(pem, "web01", "never a CA");
	free(pem);
	EVP_PKEY_free(k);
}

static void csr_asking_for_server_auth_is_refused(void **state)
{
	EVP_PKEY *k = new_key();
	char *pem = make_csr(k, &(struct csr_spec){ .cn = "web01",
						     .ext_nid = NID_ext_key_usage,
						     .ext_value = "serverAuth" });

	check_refused(pem, "web01", "Extended Key Usage");
	free(pem);
	EVP_PKEY_free(k);
}

static void csr_with_an_attribute_is_refused(void **state)
{
	EVP_PKEY *k = new_key();
	char *pem = make_csr(k, &(struct csr_spec){ .cn = "web01", .password = true });

	check_refused(pem, "web01", "attribute");
	free(pem);
	EVP_PKEY_free(k);
}

static void csr_signed_by_another_key_is_refused(void **state)
{
	EVP_PKEY *k = new_key(), *other = new_key();
	char *pem = make_csr(k, &(struct csr_spec){ .cn = "web01", .signer = other });

	check_refused(pem, "web01", "signature does not verify");
	free(pem);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

static void csr_with_a_weak_key_is_refused(void **state)
{
	EVP_PKEY *rsa = EVP_RSA_gen(1024), *k1 = EVP_EC_gen("secp256k1");
	char *pem = make_csr(rsa, &(struct csr_spec){ .cn = "web01" });
	char *pem1 = make_csr(k1, &(struct csr_spec){ .cn = "web01" });

	check_refused(pem, "web01", "1024 bits");
	check_refused(pem1, "web01", "secp256k1");
	free(pem);
	free(pem1);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(k1);
}

static void csr_of_an_unknown_version_is_refused(void **state)
{
	EVP_PKEY *k = new_key();
	char *pem = make_csr(k, &(struct csr_spec){ .cn = "web01", .version = 1 });

	check_refused(pem, "web01", "version");
	free(pem);
	EVP_PKEY_free(k);
}

static void csr_garbage_empty_or_oversized_is_refused(void **state)
{
	struct tend_err err = { "" };
	X509_REQ *req = NULL;
	char *big = malloc(PKI_PEM_MAX + 2);

	check_refused("hello", "web01", "not a PEM certificate request");
	assert_int_equal(pki_csr_check("", 0, "web01", &req, &err), -EINVAL);
	memset(big, 'A', PKI_PEM_MAX + 1);
	big[PKI_PEM_MAX + 1] = '\0';
	assert_int_equal(pki_csr_check(big, PKI_PEM_MAX + 1, "web01", &req, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "larger than"));
	assert_null(req);
	free(big);
}

/* ---- the CA ---- */

static void ca_is_made_on_first_open_private_and_a_real_ca(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];
	struct pki_ca *ca = open_ca(f);
	X509 *x = parse_cert(pki_ca_cert_pem(ca));
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	int days = 0, secs = 0;

	assert_int_equal(file_mode(f->ca), 0700);
	snprintf(path, sizeof(path), "%s/ca.key", f->ca);
	assert_int_equal(file_mode(path), 0600);
	assert_non_null(bc);
	assert_true(bc->ca);
	assert_non_null(bc->pathlen);
	assert_int_equal(ASN1_INTEGER_get(bc->pathlen), 0);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)), 1);
	assert_in_range(days, 3640, 3651);
	assert_true(X509_check_issued(x, x) == X509_V_OK);
	assert_non_null(strstr(pki_ca_crl_pem(ca), "BEGIN X509 CRL"));
	assert_string_equal(pki_ca_path(ca, PKI_CA_CERT) + strlen(f->ca), "/ca.pem");
	BASIC_CONSTRAINTS_free(bc);
	X509_free(x);
	pki_ca_free(ca);
}

static void ca_reopened_is_the_same_ca(void **state)
{
	struct fixture *f = *state;
	struct pki_ca *ca = open_ca(f), *again;
	char *first = strdup(pki_ca_cert_pem(ca));

	pki_ca_free(ca);
	again = open_ca(f);
	assert_string_equal(first, pki_ca_cert_pem(again));
	pki_ca_free(again);
	free(first);
}

static void ca_missing_without_create_is_enoent(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	struct pki_ca *ca = NULL;

	assert_int_equal(pki_ca_open(f->ca, false, &ca, &err), -ENOENT);
	assert_null(ca);
}

static void ca_directory_others_may_read_is_refused(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	struct pki_ca *ca = open_ca(f);

	pki_ca_free(ca);
	ca = NULL;
	assert_int_equal(chmod(f->ca, 0755), 0);
	assert_int_equal(pki_ca_open(f->ca, true, &ca, &err), -EPERM);
	assert_null(ca);
}

static void ca_certificate_without_its_key_is_not_replaced(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	char path[PATH_MAX];
	struct pki_ca *ca = open_ca(f);
	char *pem = strdup(pki_ca_cert_pem(ca));
	char *on_disk;

	pki_ca_free(ca);
	ca = NULL;
	snprintf(path, sizeof(path), "%s/ca.key", f->ca);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(pki_ca_open(f->ca, true, &ca, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "without its key"));
	snprintf(path, sizeof(path), "%s/ca.pem", f->ca);
	on_disk = read_text(path);
	assert_string_equal(on_disk, pem);
	free(on_disk);
	free(pem);
}

static void ca_key_without_its_certificate_gets_a_new_one_only_if_unused(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	char path[PATH_MAX], crl[PATH_MAX];
	struct pki_ca *ca = open_ca(f);

	pki_ca_free(ca);
	ca = NULL;
	/* the CA was in use (it has a CRL): refused, nothing written */
	snprintf(path, sizeof(path), "%s/ca.pem", f->ca);
	snprintf(crl, sizeof(crl), "%s/crl.pem", f->ca);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(pki_ca_open(f->ca, true, &ca, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "in use"));
	assert_int_equal(access(path, F_OK), -1);
	/* killed while it was being made: completed */
	assert_int_equal(unlink(crl), 0);
	ca = open_ca(f);
	assert_non_null(strstr(pki_ca_cert_pem(ca), "BEGIN CERTIFICATE"));
	assert_int_equal(access(crl, F_OK), 0);
	pki_ca_free(ca);
}

static void ca_certificate_of_another_key_is_refused(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	char path[PATH_MAX];
	struct pki_ca *ca = open_ca(f);
	EVP_PKEY *k = new_key();

	pki_ca_free(ca);
	ca = NULL;
	snprintf(path, sizeof(path), "%s/ca.key", f->ca);
	assert_int_equal(pki_key_save(k, path, &err), 0);
	assert_int_equal(pki_ca_open(f->ca, true, &ca, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "does not match"));
	EVP_PKEY_free(k);
}

static void node_certificate_names_only_the_node_for_client_auth(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	char serial[PKI_SERIAL_HEX_MAX + 1], serial2[PKI_SERIAL_HEX_MAX + 1];
	struct pki_ca *ca = open_ca(f);
	char *pem = issue(ca, "web01", serial, NULL), *cn = NULL;
	X509 *x = parse_cert(pem);
	long long not_after = 0;
	int days = 0, secs = 0;

	assert_int_equal(strlen(serial), 32);
	assert_int_equal(pki_verify_cert(pki_ca_cert_pem(ca), pki_ca_crl_pem(ca), pem, "web01",
					 &cn, &err),
			 0);
	assert_string_equal(cn, "web01");
	assert_int_equal(X509_check_ca(x), 0);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);
	assert_true(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
	assert_false(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
	assert_int_equal(X509_get_ext_by_NID(x, NID_subject_alt_name, -1), -1);
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 1);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)), 1);
	assert_in_range(days, 364, 365);
	assert_int_equal(pki_cert_serial(pem, serial2, &not_after, &err), 0);
	assert_string_equal(serial, serial2);
	assert_true(not_after > time(NULL) + 364L * 86400);
	X509_free(x);
	free(cn);
	free(pem);
	pki_ca_free(ca);
}

static void node_certificates_get_distinct_serials(void **state)
{
	struct fixture *f = *state;
	char a[PKI_SERIAL_HEX_MAX + 1], b[PKI_SERIAL_HEX_MAX + 1];
	struct pki_ca *ca = open_ca(f);

	free(issue(ca, "n1", a, NULL));
	free(issue(ca, "n1", b, NULL));
	assert_string_not_equal(a, b);
	pki_ca_free(ca);
}

static void node_certificate_for_a_bad_name_or_the_server_name_is_refused(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	char serial[PKI_SERIAL_HEX_MAX + 1];
	struct pki_ca *ca = open_ca(f);
	EVP_PKEY *k = new_key();
	char *csr = make_csr(k, &(struct csr_spec){ .cn = "tend-server" }), *pem = NULL;
	X509_REQ *req = NULL;

	assert_int_equal(pki_csr_check(csr, strlen(csr), "tend-server", &req, &err), 0);
	assert_int_equal(pki_ca_issue_node(ca, req, "tend-server", 365, &pem, serial, &err),
			 -EINVAL);
	assert_int_equal(pki_ca_issue_node(ca, req, "a/b", 365, &pem, serial, &err), -EINVAL);
	assert_int_equal(pki_ca_issue_node(ca, req, "", 365, &pem, serial, &err), -EINVAL);
	assert_null(pem);
	X509_REQ_free(req);
	free(csr);
	EVP_PKEY_free(k);
	pki_ca_free(ca);
}

static void node_certificate_is_not_signed_for_a_forged_request(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	char serial[PKI_SERIAL_HEX_MAX + 1];
	struct pki_ca *ca = open_ca(f);
	EVP_PKEY *k = new_key(), *other = new_key();
	char *csr = make_csr(k, &(struct csr_spec){ .cn = "web01", .signer = other });
	char *pem = NULL;
	BIO *b = BIO_new_mem_buf(csr, -1);
	X509_REQ *req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);

	/* bypassing pki_csr_check: the CA checks the signature itself */
	assert_non_null(req);
	assert_int_equal(pki_ca_issue_node(ca, req, "web01", 365, &pem, serial, &err), -EINVAL);
	assert_null(pem);
	X509_REQ_free(req);
	BIO_free(b);
	free(csr);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
	pki_ca_free(ca);
}

/* ---- revocation ---- */

static void revoked_certificate_fails_verification_others_do_not(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	char s1[PKI_SERIAL_HEX_MAX + 1], s2[PKI_SERIAL_HEX_MAX + 1];
	struct pki_ca *ca = open_ca(f);
	char *c1 = issue(ca, "n1", s1, NULL), *c2 = issue(ca, "n2", s2, NULL);

	assert_false(pki_ca_is_revoked(ca, s1));
	assert_int_equal(pki_ca_revoke(ca, s1, &err), 0);
	assert_true(pki_ca_is_revoked(ca, s1));
	assert_false(pki_ca_is_revoked(ca, s2));
	assert_int_equal(pki_verify_cert(pki_ca_cert_pem(ca), pki_ca_crl_pem(ca), c1, NULL, NULL,
					 &err),
			 -EKEYREJECTED);
	assert_non_null(strstr(err.msg, "revoked"));
	assert_int_equal(pki_verify_cert(pki_ca_cert_pem(ca), pki_ca_crl_pem(ca), c2, NULL, NULL,
					 &err),
			 0);
	/* without a CRL, only the chain is checked */
	assert_int_equal(pki_verify_cert(pki_ca_cert_pem(ca), NULL, c1, NULL, NULL, &err), 0);
	free(c1);
	free(c2);
	pki_ca_free(ca);
}

static void revocations_survive_reopening_and_accumulate(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	char s1[PKI_SERIAL_HEX_MAX + 1], s2[PKI_SERIAL_HEX_MAX + 1], path[PATH_MAX];
	struct pki_ca *ca = open_ca(f);
	char *c1 = issue(ca, "n1", s1, NULL), *c2 = issue(ca, "n2", s2, NULL), *disk;

	assert_int_equal(pki_ca_revoke(ca, s1, &err), 0);
	pki_ca_free(ca);
	ca = open_ca(f);
	assert_true(pki_ca_is_revoked(ca, s1));
	assert_int_equal(pki_ca_revoke(ca, s2, &err), 0);
	/* twice: nothing changes, no error */
	assert_int_equal(pki_ca_revoke(ca, s2, &err), 0);
	assert_true(pki_ca_is_revoked(ca, s1));
	assert_true(pki_ca_is_revoked(ca, s2));
	snprintf(path, sizeof(path), "%s/crl.pem", f->ca);
	disk = read_text(path);
	assert_string_equal(disk, pki_ca_crl_pem(ca));
	assert_int_equal(pki_verify_cert(pki_ca_cert_pem(ca), disk, c1, NULL, NULL, &err),
			 -EKEYREJECTED);
	assert_int_equal(pki_verify_cert(pki_ca_cert_pem(ca), disk, c2, NULL, NULL, &err),
			 -EKEYREJECTED);
	/* uppercase serials name the same certificate */
	for (char *p = s1; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	assert_true(pki_ca_is_revoked(ca, s1));
	free(disk);
	free(c1);
	free(c2);
	pki_ca_free(ca);
}

/* two processes revoke (the server, `tend-server user revoke`): the list
 * each writes starts from the one on disk, so neither loses the other's */
static void revocations_by_two_handles_are_both_kept(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	char s1[PKI_SERIAL_HEX_MAX + 1], s2[PKI_SERIAL_HEX_MAX + 1];
	struct pki_ca *a = open_ca(f), *b = open_ca(f);
	char *c1 = issue(a, "n1", s1, NULL), *c2 = issue(a, "n2", s2, NULL);
	long long n0 = pki_ca_crl_number(a), number = 0;

	assert_int_equal(pki_ca_revoke(a, s1, &err), 0);
	assert_int_equal(pki_ca_revoke(b, s2, &err), 0); /* b read the list before a's revoke */
	assert_true(pki_ca_is_revoked(b, s1));
	assert_true(pki_ca_is_revoked(b, s2));
	assert_int_equal(pki_ca_crl_number(b), n0 + 2);
	/* a sees b's revocation once told to read the list again */
	assert_false(pki_ca_is_revoked(a, s2));
	assert_int_equal(pki_ca_crl_reload(a, &err), 0);
	assert_true(pki_ca_is_revoked(a, s2));
	assert_int_equal(pki_ca_crl_number(a), n0 + 2);
	assert_int_equal(pki_crl_check(pki_ca_cert_pem(a), pki_ca_crl_pem(a), &number, &err), 0);
	assert_int_equal(number, n0 + 2);
	free(c1);
	free(c2);
	pki_ca_free(a);
	pki_ca_free(b);
}

/* pki_crl_check: only a list the CA signed, whatever its dates */
static void crl_check_wants_the_ca_signature(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	struct pki_ca *ca = open_ca(f), *other;
	char dir[PATH_MAX];
	long long number = -1;

	snprintf(dir, sizeof(dir), "%s/other", f->dir);
	assert_int_equal(pki_ca_open(dir, true, &other, &err), 0);
	assert_int_equal(pki_crl_check(pki_ca_cert_pem(ca), pki_ca_crl_pem(ca), &number, &err), 0);
	assert_int_equal(number, pki_ca_crl_number(ca));
	assert_true(number >= 1);
	assert_int_equal(pki_crl_check(pki_ca_cert_pem(ca), pki_ca_crl_pem(other), &number, &err),
			 -EKEYREJECTED);
	assert_int_equal(pki_crl_check(pki_ca_cert_pem(ca), "not a list", &number, &err),
			 -EINVAL);
	pki_ca_free(other);
	pki_ca_free(ca);
}

/* a list past its next update (a node that held it for long), or issued
 * a moment "after" a node's clock, still revokes, and lets the others in */
static void crl_out_of_its_dates_still_revokes(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	char s1[PKI_SERIAL_HEX_MAX + 1], s2[PKI_SERIAL_HEX_MAX + 1], path[PATH_MAX], *pem;
	struct pki_ca *ca = open_ca(f);
	char *c1 = issue(ca, "n1", s1, NULL), *c2 = issue(ca, "n2", s2, NULL), *ca_key_pem;
	X509_CRL *crl = NULL;
	EVP_PKEY *key = NULL;
	BIO *b;
	long dates[2][2] = { { -2 * 86400, -86400 }, { 3600, 2 * 3600 } }; /* last, next update */

	assert_int_equal(pki_ca_revoke(ca, s1, &err), 0);
	snprintf(path, sizeof(path), "%s/ca.key", f->ca);
	ca_key_pem = read_text(path);
	b = BIO_new_mem_buf(ca_key_pem, -1);
	key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(key);
	for (int i = 0; i < 2; i++) {
		b = BIO_new_mem_buf(pki_ca_crl_pem(ca), -1);
		crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
		BIO_free(b);
		assert_non_null(crl);
		X509_gmtime_adj((ASN1_TIME *)X509_CRL_get0_lastUpdate(crl), dates[i][0]);
		X509_gmtime_adj((ASN1_TIME *)X509_CRL_get0_nextUpdate(crl), dates[i][1]);
		assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
		b = BIO_new(BIO_s_mem());
		assert_true(PEM_write_bio_X509_CRL(b, crl));
		pem = calloc(1, 8192);
		assert_true(BIO_read(b, pem, 8191) > 0);
		BIO_free(b);
		assert_int_equal(pki_verify_cert(pki_ca_cert_pem(ca), pem, c1, NULL, NULL, &err),
				 -EKEYREJECTED);
		assert_non_null(strstr(err.msg, "revoked"));
		assert_int_equal(pki_verify_cert(pki_ca_cert_pem(ca), pem, c2, NULL, NULL, &err), 0);
		free(pem);
		X509_CRL_free(crl);
	}
	EVP_PKEY_free(key);
	free(ca_key_pem);
	free(c1);
	free(c2);
	pki_ca_free(ca);
}

static void revoke_of_a_bad_serial_is_refused(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	struct pki_ca *ca = open_ca(f);

	assert_int_equal(pki_ca_revoke(ca, "xyz", &err), -EINVAL);
	assert_int_equal(pki_ca_revoke(ca, "", &err), -EINVAL);
	assert_int_equal(
		pki_ca_revoke(ca, "0123456789012345678901234567890123456789a", &err), -EINVAL);
	pki_ca_free(ca);
}

static void crl_not_signed_by_the_ca_is_refused_at_open(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	char path[PATH_MAX], other_dir[PATH_MAX], other_crl[PATH_MAX + 16];
	struct pki_ca *ca = open_ca(f), *other = NULL;
	char *foreign;

	pki_ca_free(ca);
	ca = NULL;
	snprintf(other_dir, sizeof(other_dir), "%s/other", f->dir);
	assert_int_equal(pki_ca_open(other_dir, true, &other, &err), 0);
	pki_ca_free(other);
	snprintf(other_crl, sizeof(other_crl), "%s/crl.pem", other_dir);
	foreign = read_text(other_crl);
	snprintf(path, sizeof(path), "%s/crl.pem", f->ca);
	write_text(path, foreign);
	assert_int_equal(pki_ca_open(f->ca, true, &ca, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not signed by this CA"));
	assert_null(ca);
	free(foreign);
}

/* ---- verification ---- */

static void certificate_of_another_ca_does_not_verify(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	char serial[PKI_SERIAL_HEX_MAX + 1], other_dir[PATH_MAX];
	struct pki_ca *ca = open_ca(f), *other = NULL;
	char *pem;

	snprintf(other_dir, sizeof(other_dir), "%s/other", f->dir);
	assert_int_equal(pki_ca_open(other_dir, true, &other, &err), 0);
	pem = issue(other, "web01", serial, NULL);
	assert_int_equal(pki_verify_cert(pki_ca_cert_pem(ca), NULL, pem, "web01", NULL, &err),
			 -EKEYREJECTED);
	assert_int_equal(pki_verify_cert(pki_ca_cert_pem(other), NULL, pem, "web01", NULL, &err),
			 0);
	free(pem);
	pki_ca_free(other);
	pki_ca_free(ca);
}

static void certificate_for_another_name_or_the_ca_itself_does_not_verify(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	char serial[PKI_SERIAL_HEX_MAX + 1];
	struct pki_ca *ca = open_ca(f);
	char *pem = issue(ca, "web01", serial, NULL), *cn = NULL;

	assert_int_equal(pki_verify_cert(pki_ca_cert_pem(ca), NULL, pem, "web02", &cn, &err),
			 -EKEYREJECTED);
	assert_null(cn);
	assert_int_equal(pki_verify_cert(pki_ca_cert_pem(ca), NULL, pki_ca_cert_pem(ca), NULL,
					 &cn, &err),
			 -EKEYREJECTED);
	assert_non_null(strstr(err.msg, "CA certificate"));
	assert_null(cn);
	assert_int_equal(pki_verify_cert(pki_ca_cert_pem(ca), NULL, "garbage", NULL, &cn, &err),
			 -EINVAL);
	free(pem);
	pki_ca_free(ca);
}

/* ---- the server's identity ---- */

static bool cert_has_ip(X509 *x, const char *ip)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	ASN1_OCTET_STRING *want = a2i_IPADDRESS(ip);
	bool found = false;

	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);

		if (g->type == GEN_IPADD && !ASN1_OCTET_STRING_cmp(g->d.ip, want))
			found = true;
	}
	ASN1_OCTET_STRING_free(want);
	GENERAL_NAMES_free(names);
	return found;
}

static void server_certificate_serves_and_connects_for_its_addresses(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	const char *sans[] = { "10.1.2.3", "tend.example.com", "0.0.0.0", NULL };
	struct pki_ca *ca = open_ca(f);
	X509 *x;
	char *cn = NULL;

	assert_null(pki_ca_server_key(ca));
	assert_int_equal(pki_ca_server_cert(ca, sans, 730, &err), 0);
	assert_non_null(pki_ca_server_key(ca));
	x = parse_cert(pki_ca_server_cert_pem(ca));
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
	assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "tend.example.com", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "other.example.com", 0, 0, NULL), 0);
	assert_true(cert_has_ip(x, "127.0.0.1"));
	assert_true(cert_has_ip(x, "::1"));
	assert_true(cert_has_ip(x, "10.1.2.3"));
	assert_false(cert_has_ip(x, "0.0.0.0"));
	assert_int_equal(X509_check_private_key(x, pki_ca_server_key(ca)), 1);
	assert_int_equal(pki_verify_cert(pki_ca_cert_pem(ca), pki_ca_crl_pem(ca),
					 pki_ca_server_cert_pem(ca), PKI_SERVER_CN, &cn, &err),
			 0);
	assert_int_equal(file_mode(pki_ca_path(ca, PKI_SERVER_KEY)), 0600);
	X509_free(x);
	free(cn);
	pki_ca_free(ca);
}

static void server_certificate_is_kept_until_a_name_is_missing(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	const char *one[] = { "10.1.2.3", NULL }, *two[] = { "10.1.2.3", "10.9.9.9", NULL };
	struct pki_ca *ca = open_ca(f);
	char *first, *second;
	char fa[PKI_FPR_HEX + 1], fb[PKI_FPR_HEX + 1];
	X509 *x;

	assert_int_equal(pki_ca_server_cert(ca, one, 730, &err), 0);
	first = strdup(pki_ca_server_cert_pem(ca));
	assert_int_equal(pki_key_fingerprint(pki_ca_server_key(ca), fa), 0);
	pki_ca_free(ca);
	ca = open_ca(f);
	assert_int_equal(pki_ca_server_cert(ca, NULL, 730, &err), 0);
	assert_string_equal(first, pki_ca_server_cert_pem(ca));
	assert_int_equal(pki_ca_server_cert(ca, two, 730, &err), 0);
	second = strdup(pki_ca_server_cert_pem(ca));
	assert_string_not_equal(first, second);
	x = parse_cert(second);
	assert_true(cert_has_ip(x, "10.9.9.9"));
	/* the key is kept */
	assert_int_equal(pki_key_fingerprint(pki_ca_server_key(ca), fb), 0);
	assert_string_equal(fa, fb);
	/* a name that is not a host name is refused */
	assert_int_equal(pki_ca_server_cert(ca, (const char *[]){ "a,b", NULL }, 730, &err),
			 -EINVAL);
	X509_free(x);
	free(first);
	free(second);
	pki_ca_free(ca);
}

static void server_certificate_of_another_ca_is_replaced(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	char other_dir[PATH_MAX], other_pem[PATH_MAX + 16];
	struct pki_ca *ca = open_ca(f), *other = NULL;
	char *foreign;

	snprintf(other_dir, sizeof(other_dir), "%s/other", f->dir);
	assert_int_equal(pki_ca_open(other_dir, true, &other, &err), 0);
	assert_int_equal(pki_ca_server_cert(other, NULL, 730, &err), 0);
	snprintf(other_pem, sizeof(other_pem), "%s/server.pem", other_dir);
	foreign = read_text(other_pem);
	/* ours is made, then replaced by the other CA's (same names, another issuer) */
	assert_int_equal(pki_ca_server_cert(ca, NULL, 730, &err), 0);
	write_text(pki_ca_path(ca, PKI_SERVER_CERT), foreign);
	assert_int_equal(pki_ca_server_cert(ca, NULL, 730, &err), 0);
	assert_string_not_equal(pki_ca_server_cert_pem(ca), foreign);
	assert_int_equal(pki_verify_cert(pki_ca_cert_pem(ca), NULL, pki_ca_server_cert_pem(ca),
					 PKI_SERVER_CN, NULL, &err),
			 0);
	free(foreign);
	pki_ca_free(other);
	pki_ca_free(ca);
}

static void server_certificate_near_its_end_is_renewed(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	struct pki_ca *ca = open_ca(f);
	char *first;

	/* 30 days of 730 left is less than a third: renewed at the next start */
	assert_int_equal(pki_ca_server_cert(ca, NULL, 30, &err), 0);
	first = strdup(pki_ca_server_cert_pem(ca));
	assert_int_equal(pki_ca_server_cert(ca, NULL, 730, &err), 0);
	assert_string_not_equal(first, pki_ca_server_cert_pem(ca));
	free(first);
	pki_ca_free(ca);
}

/* ---- signatures ---- */

static void signature_verifies_only_for_the_same_bytes_and_key(void **state)
{
	struct fixture *f = *state;
	struct tend_err err = { "" };
	static const char data[] = "{\"resources\":[]}";
	char serial[PKI_SERIAL_HEX_MAX + 1];
	struct pki_ca *ca = open_ca(f);
	EVP_PKEY *k = NULL;
	char *cert = issue(ca, "signer", serial, &k), *other = issue(ca, "o", serial, NULL);
	char *sig = NULL, *bad;

	assert_int_equal(pki_sign(k, data, strlen(data), &sig, &err), 0);
	assert_int_equal(pki_verify(cert, data, strlen(data), sig, &err), 0);
	/* one byte more or less, another byte */
	assert_int_equal(pki_verify(cert, data, strlen(data) - 1, sig, &err), -EKEYREJECTED);
	assert_int_equal(pki_verify(cert, "{\"resources\":[1]}", strlen(data) + 1, sig, &err),
			 -EKEYREJECTED);
	/* another key's certificate */
	assert_int_equal(pki_verify(other, data, strlen(data), sig, &err), -EKEYREJECTED);
	/* a changed signature */
	bad = strdup(sig);
	bad[10] = bad[10] == 'A' ? 'B' : 'A';
	assert_int_equal(pki_verify(cert, data, strlen(data), bad, &err), -EKEYREJECTED);
	/* not base64, empty, too long */
	assert_int_equal(pki_verify(cert, data, strlen(data), "!!!!", &err), -EKEYREJECTED);
	assert_int_equal(pki_verify(cert, data, strlen(data), "", &err), -EKEYREJECTED);
	free(bad);
	bad = calloc(1, PKI_SIG_B64_MAX + 8);
	memset(bad, 'A', PKI_SIG_B64_MAX + 4);
	assert_int_equal(pki_verify(cert, data, strlen(data), bad, &err), -EKEYREJECTED);
	free(bad);
	free(sig);
	free(cert);
	free(other);
	EVP_PKEY_free(k);
	pki_ca_free(ca);
}

/* a public key kept as DER decodes to the same key: P-256 through its
 * quick path, others (RSA) through OpenSSL's decoders; anything else,
 * or trailing bytes, is refused */
static void public_key_der_decodes_to_the_same_key(void **state)
{
	struct tend_err err = { "" };
	EVP_PKEY *k = new_key(), *rsa = EVP_RSA_gen(2048), *back = NULL;
	unsigned char *der = NULL, *rder = NULL, junk[92];
	int n = i2d_PUBKEY(k, &der), rn = i2d_PUBKEY(rsa, &rder);
	char *sig = NULL;

	(void)state;
	assert_int_equal(n, 91);
	assert_int_equal(pki_pubkey_decode(der, (size_t)n, &back), 0);
	assert_int_equal(EVP_PKEY_eq(k, back), 1);
	assert_int_equal(pki_sign(k, "body", 4, &sig, &err), 0);
	assert_int_equal(pki_verify_key(back, "body", 4, sig, &err), 0);
	assert_int_equal(pki_verify_key(back, "bodY", 4, sig, &err), -EKEYREJECTED);
	EVP_PKEY_free(back);
	back = NULL;
	assert_true(rn > 91);
	assert_int_equal(pki_pubkey_decode(rder, (size_t)rn, &back), 0);
	assert_int_equal(EVP_PKEY_eq(rsa, back), 1);
	EVP_PKEY_free(back);
	back = NULL;
	/* a point that is not on the curve, a truncated key, trailing bytes */
	memcpy(junk, der, 91);
	junk[60] ^= 1;
	assert_int_equal(pki_pubkey_decode(junk, 91, &back), -EINVAL);
	assert_int_equal(pki_pubkey_decode(der, 90, &back), -EINVAL);
	memcpy(junk, der, 91);
	junk[91] = 0;
	assert_int_equal(pki_pubkey_decode(junk, 92, &back), -EINVAL);
	assert_int_equal(pki_pubkey_decode(rder, (size_t)rn - 1, &back), -EINVAL);
	assert_null(back);
	free(sig);
	OPENSSL_free(der);
	OPENSSL_free(rder);
	EVP_PKEY_free(k);
	EVP_PKEY_free(rsa);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(key_saved_0600_loads_back_with_the_same_fingerprint),
		T(key_others_may_read_is_refused),
		T(key_missing_or_garbage_is_an_error),
		T(csr_made_by_pki_csr_new_is_accepted),
		T(csr_for_another_node_is_refused),
		T(csr_subject_with_more_than_the_cn_is_refused),
		T(csr_asking_for_a_subject_alt_name_is_refused),
		T(csr_asking_to_be_a_ca_is_refused),
		T(csr_asking_for_server_auth_is_refused),
		T(csr_with_an_attribute_is_refused),
		T(csr_signed_by_another_key_is_refused),
		T(csr_with_a_weak_key_is_refused),
		T(csr_of_an_unknown_version_is_refused),
		T(csr_garbage_empty_or_oversized_is_refused),
		T(ca_is_made_on_first_open_private_and_a_real_ca),
		T(ca_reopened_is_the_same_ca),
		T(ca_missing_without_create_is_enoent),
		T(ca_directory_others_may_read_is_refused),
		T(ca_certificate_without_its_key_is_not_replaced),
		T(ca_key_without_its_certificate_gets_a_new_one_only_if_unused),
		T(ca_certificate_of_another_key_is_refused),
		T(node_certificate_names_only_the_node_for_client_auth),
		T(node_certificates_get_distinct_serials),
		T(node_certificate_for_a_bad_name_or_the_server_name_is_refused),
		T(node_certificate_is_not_signed_for_a_forged_request),
		T(revoked_certificate_fails_verification_others_do_not),
		T(revocations_survive_reopening_and_accumulate),
		T(revocations_by_two_handles_are_both_kept),
		T(crl_check_wants_the_ca_signature),
		T(crl_out_of_its_dates_still_revokes),
		T(revoke_of_a_bad_serial_is_refused),
		T(crl_not_signed_by_the_ca_is_refused_at_open),
		T(certificate_of_another_ca_does_not_verify),
		T(certificate_for_another_name_or_the_ca_itself_does_not_verify),
		T(server_certificate_serves_and_connects_for_its_addresses),
		T(server_certificate_is_kept_until_a_name_is_missing),
		T(server_certificate_of_another_ca_is_replaced),
		T(server_certificate_near_its_end_is_renewed),
		T(signature_verifies_only_for_the_same_bytes_and_key),
		T(public_key_der_decodes_to_the_same_key),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
