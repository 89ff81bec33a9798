/*
 * fuzz_csr.c - a certificate request as POST /v1/enroll receives it from
 * anyone who can reach the server (pki_csr_check): PEM, then DER, then
 * the rules (CN is the node, no SANs, not a CA, client auth only).
 *
 * By the input's first byte: even, the rest is the text as sent; odd,
 * the rest is DER that is sent as PEM, so that mutations reach the
 * request's contents rather than stop at its armour.
 */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pki/pki.h"

#define HEAD "-----BEGIN CERTIFICATE REQUEST-----\n"
#define TAIL "\n-----END CERTIFICATE REQUEST-----\n"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

/* armour - der as PEM text (base64 on one line: PEM readers take that). */
static char *armour(const uint8_t *der, size_t len, size_t *ret_len)
{
	size_t b64 = 4 * ((len + 2) / 3);
	char *pem = malloc(sizeof(HEAD) + b64 + sizeof(TAIL));
	int n;

	if (!pem || len > 64 * 1024) {
		free(pem);
		return NULL;
	}
	memcpy(pem, HEAD, sizeof(HEAD) - 1);
	n = EVP_EncodeBlock((unsigned char *)pem + sizeof(HEAD) - 1, der, (int)len);
	memcpy(pem + sizeof(HEAD) - 1 + n, TAIL, sizeof(TAIL));
	*ret_len = sizeof(HEAD) - 1 + (size_t)n + sizeof(TAIL) - 1;
	return pem;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tend_err err = { "" };
	X509_REQ *req = NULL;
	char *pem = NULL;
	size_t len = 0;

	if (size < 1)
		return 0;
	if ((data[0] & 1) && !(pem = armour(data + 1, size - 1, &len)))
		return 0;
	if (pki_csr_check(pem ? pem : (const char *)data + 1, pem ? len : size - 1, "web01", &req,
			  &err) == 0)
		X509_REQ_free(req);
	else if (!err.msg[0])
		__builtin_trap();
	free(pem);
	return 0;
}
