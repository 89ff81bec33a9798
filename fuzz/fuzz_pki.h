/*
 * fuzz_pki.h - a real tend CA in the target's state directory (fuzz.h)
 * for the fuzz targets that read signed messages, with one administrator
 * (alice, role ops) and one node (web01).  Header-only: included once by
 * each such target.
 *
 * Those targets read their input two ways (fx_input), by its first
 * byte: even, the rest is a whole envelope as it came off the bus
 * (nothing verifies, so this tests the reading up to the signature
 * check); odd, the rest is a body that fx_sign wraps in an envelope
 * signed by a real identity of this CA, so that the checks after the
 * signature see any body at all.
 */
#ifndef TEND_FUZZ_PKI_H
#define TEND_FUZZ_PKI_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pki/pki.h"
#include "rpc/rpc_int.h"
#include "util/buf.h"

/* the clock the targets pass in (2027-01-15), so that seeds stay in date;
 * the identities are valid for 3,000 days from now, so around it too */
#define FUZZ_NOW_MS 1800000000000LL

struct fuzz_ident {
	EVP_PKEY *key;
	char *pem;
};

static struct {
	struct pki_ca *ca;
	const char *ca_pem;
	struct fuzz_ident alice, web01;
} fx;

static void fx_cleanup(void)
{
	pki_ca_free(fx.ca);
}

/* fx_setup - the CA and both identities; -1 (said on stderr) on failure. */
static int fx_setup(void)
{
	struct tend_err err = { "" };
	char path[128], serial[PKI_SERIAL_HEX_MAX + 1];
	const char *dir = fuzz_state_dir("pki");
	X509_REQ *req = NULL;
	char *csr = NULL;

	if (!dir)
		return -1;
	atexit(fx_cleanup);
	snprintf(path, sizeof(path), "%s/ca", dir);
	if (pki_ca_open(path, true, &fx.ca, &err) < 0 || pki_key_new(&fx.alice.key) < 0 ||
	    pki_key_new(&fx.web01.key) < 0 ||
	    pki_ca_issue_admin(fx.ca, fx.alice.key, "alice", "ops", 3000, &fx.alice.pem, serial,
			       &err) < 0 ||
	    pki_csr_new(fx.web01.key, "web01", &csr, &err) < 0 ||
	    pki_csr_check(csr, strlen(csr), "web01", &req, &err) < 0 ||
	    pki_ca_issue_node(fx.ca, req, "web01", 3000, &fx.web01.pem, serial, &err) < 0) {
		fprintf(stderr, "fuzz: cannot make the CA: %s\n", err.msg);
		return -1;
	}
	X509_REQ_free(req);
	free(csr);
	fx.ca_pem = pki_ca_cert_pem(fx.ca);
	return 0;
}

/* fx_sign - body signed by who, in an envelope of magic; NULL on failure. */
static char *fx_sign(const struct fuzz_ident *who, const char *magic, const uint8_t *body,
		     size_t len, size_t *ret_len)
{
	struct buf cert = BUF_INIT;
	char *sig = NULL, *out = NULL;

	if (pki_sign(who->key, body, len, &sig, NULL) == 0 &&
	    rpc_json_escape(&cert, who->pem, strlen(who->pem)) == 0 &&
	    rpc_env_build(magic, (const char *)body, len, buf_str(&cert), cert.len, sig, &out,
			  ret_len, NULL) < 0)
		out = NULL;
	free(sig);
	buf_free(&cert);
	return out;
}

/*
 * fx_input - the envelope an input stands for (see above): *env and *len
 * to check, and the memory to free afterwards in *owned (NULL for an
 * input taken as it is).  false when there is nothing to check.
 */
static bool fx_input(const struct fuzz_ident *who, const char *magic, const uint8_t *data,
		     size_t size, const char **env, size_t *len, char **owned)
{
	*owned = NULL;
	if (size < 1)
		return false;
	if (!(data[0] & 1)) {
		*env = (const char *)data + 1;
		*len = size - 1;
		return true;
	}
	*owned = fx_sign(who, magic, data + 1, size - 1, len);
	*env = *owned;
	return *owned != NULL;
}

#endif
