/*
 * test-rpc-fixture.h - a real tend CA in a temporary directory for the
 * RPC unit tests, with the identities they need: administrators (O =
 * tend-admin, made by pki_ca_issue_admin), nodes (a CSR accepted by
 * pki_csr_check, then pki_ca_issue_node), and a second, foreign CA.
 * Made once per test program (group setup): a CA and its keys cost a
 * few milliseconds.  Header-only: each test-rpc-*.c that needs it
 * includes it once, after cmocka.h.
 */
#ifndef TEND_TEST_RPC_FIXTURE_H
#define TEND_TEST_RPC_FIXTURE_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pki/pki.h"

struct ident {
	EVP_PKEY *key;
	char *pem;
};

struct rfx {
	char dir[256];
	struct pki_ca *ca, *other;
	const char *ca_pem;
	struct ident alice;  /* admin, role ops */
	struct ident bob;    /* admin, role dev */
	struct ident web01;  /* node */
	struct ident web02;  /* node */
	struct ident forged; /* admin "alice", role ops, of the other CA */
};

static struct rfx *rfx;

static EVP_PKEY *rfx_key(void)
{
	EVP_PKEY *k = NULL;

	assert_int_equal(pki_key_new(&k), 0);
	return k;
}

static struct ident rfx_admin(struct pki_ca *ca, const char *name, const char *role)
{
	struct tend_err err = { "" };
	char serial[PKI_SERIAL_HEX_MAX + 1];
	struct ident id = { rfx_key(), NULL };
	int r = pki_ca_issue_admin(ca, id.key, name, role, 30, &id.pem, serial, &err);

	if (r < 0)
		print_error("pki_ca_issue_admin: %s\n", err.msg);
	assert_int_equal(r, 0);
	return id;
}

static struct ident rfx_node(struct pki_ca *ca, const char *cn)
{
	struct tend_err err = { "" };
	char serial[PKI_SERIAL_HEX_MAX + 1];
	struct ident id = { rfx_key(), NULL };
	X509_REQ *req = NULL;
	char *csr = NULL;

	assert_int_equal(pki_csr_new(id.key, cn, &csr, &err), 0);
	assert_int_equal(pki_csr_check(csr, strlen(csr), cn, &req, &err), 0);
	assert_int_equal(pki_ca_issue_node(ca, req, cn, 30, &id.pem, serial, &err), 0);
	X509_REQ_free(req);
	free(csr);
	return id;
}

static void ident_free(struct ident *id)
{
	EVP_PKEY_free(id->key);
	free(id->pem);
}

static int rfx_setup(void **state)
{
	struct tend_err err = { "" };
	char path[300];

	rfx = calloc(1, sizeof(*rfx));
	if (!rfx)
		return -1;
	snprintf(rfx->dir, sizeof(rfx->dir), "/tmp/tend-test-rpc-XXXXXX");
	if (!mkdtemp(rfx->dir))
		return -1;
	snprintf(path, sizeof(path), "%s/ca", rfx->dir);
	if (pki_ca_open(path, true, &rfx->ca, &err) < 0) {
		print_error("pki_ca_open: %s\n", err.msg);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/other-ca", rfx->dir);
	if (pki_ca_open(path, true, &rfx->other, &err) < 0)
		return -1;
	rfx->ca_pem = pki_ca_cert_pem(rfx->ca);
	rfx->alice = rfx_admin(rfx->ca, "alice", "ops");
	rfx->bob = rfx_admin(rfx->ca, "bob", "dev");
	rfx->web01 = rfx_node(rfx->ca, "web01");
	rfx->web02 = rfx_node(rfx->ca, "web02");
	rfx->forged = rfx_admin(rfx->other, "alice", "ops");
	return 0;
}

static int rfx_teardown(void **state)
{
	char cmd[PATH_MAX + 32];

	ident_free(&rfx->alice);
	ident_free(&rfx->bob);
	ident_free(&rfx->web01);
	ident_free(&rfx->web02);
	ident_free(&rfx->forged);
	pki_ca_free(rfx->ca);
	pki_ca_free(rfx->other);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rfx->dir);
	if (system(cmd) != 0)
		print_error("could not remove %s\n", rfx->dir);
	free(rfx);
	rfx = NULL;
	return 0;
}

/* assert_says - msg contains what (printed when not, to see why). */
#define assert_says(msg, what)                                                  \
	do {                                                                    \
		if (!strstr((msg), (what)))                                     \
			print_error("'%s' does not say '%s'\n", (msg), (what)); \
		assert_non_null(strstr((msg), (what)));                         \
	} while (0)

#endif
