/*
 * hash.h - SHA-256 (OpenSSL EVP) as lowercase hex.
 */
#ifndef TEND_HASH_H
#define TEND_HASH_H

#include <stddef.h>

#define SHA256_HEX_LEN 64

/* sha256_hex - hex digest of len bytes into out (65 bytes). */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);

#endif
