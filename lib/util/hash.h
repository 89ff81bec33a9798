/*
 * hash.h - SHA-256 and base64 through OpenSSL's libcrypto.
 *
 * libcrypto costs about 1.5 MB of memory in every process that links it,
 * and a converged run never hashes anything, so it is loaded with dlopen
 * on first use.  When it cannot be loaded, sha256_* give a digest of all
 * 'x' (and say so in hash_error()), base64 functions fail with -ENOSYS.
 */
#ifndef TEND_HASH_H
#define TEND_HASH_H

#include <stddef.h>

#define SHA256_HEX_LEN 64
#define SHA256_LEN 32

/* sha256_hex - hex digest of len bytes into out (65 bytes). */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);

/* sha256_raw - the 32-byte digest.  0, or -ENOSYS without libcrypto. */
int sha256_raw(const void *data, size_t len, unsigned char out[SHA256_LEN]);

/* base64_encode - n bytes into out (4 * ceil(n / 3) + 1 bytes, NUL-terminated);
 * returns the length written or -ENOSYS. */
int base64_encode(unsigned char *out, const unsigned char *in, int n);

/* base64_decode - n base64 characters into out (3 * n / 4 bytes); returns
 * the decoded length including padding bytes (as EVP_DecodeBlock) or < 0. */
int base64_decode(unsigned char *out, const unsigned char *in, int n);

/* hash_error - why libcrypto could not be loaded, or NULL. */
const char *hash_error(void);

#endif
