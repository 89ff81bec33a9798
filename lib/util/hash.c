/*
 * hash.c - SHA-256 and base64 from libcrypto, loaded on first use (see hash.h).
 */
#include "util/hash.h"

#include <dlfcn.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

struct crypto_api {
	__typeof__(EVP_Digest) *digest;
	__typeof__(EVP_sha256) *sha256;
	__typeof__(EVP_EncodeBlock) *encode;
	__typeof__(EVP_DecodeBlock) *decode;
};

static const char *load_error;

static const struct crypto_api *crypto(void)
{
	static struct crypto_api api;
	static int state; /* 0 not tried, 1 loaded, -1 unavailable */
	void *h;

	if (state)
		return state > 0 ? &api : NULL;
	state = -1;
	h = dlopen("libcrypto.so." STR(OPENSSL_SHLIB_VERSION), RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		load_error = dlerror();
		return NULL;
	}
	api.digest = (__typeof__(api.digest))dlsym(h, "EVP_Digest");
	api.sha256 = (__typeof__(api.sha256))dlsym(h, "EVP_sha256");
	api.encode = (__typeof__(api.encode))dlsym(h, "EVP_EncodeBlock");
	api.decode = (__typeof__(api.decode))dlsym(h, "EVP_DecodeBlock");
	if (!api.digest || !api.sha256 || !api.encode || !api.decode) {
		load_error = "libcrypto lacks EVP_Digest/EVP_sha256/EVP_EncodeBlock/EVP_DecodeBlock";
		return NULL;
	}
	state = 1;
	return &api;
}

const char *hash_error(void)
{
	return load_error;
}

int sha256_raw(const void *data, size_t len, unsigned char out[SHA256_LEN])
{
	const struct crypto_api *c = crypto();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!c || !c->digest(data, len, md, &n, c->sha256(), NULL) || n != SHA256_LEN)
		return -ENOSYS;
	memcpy(out, md, SHA256_LEN);
	return 0;
}

void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_LEN];

	if (sha256_raw(data, len, md) < 0) {
		memset(out, 'x', SHA256_HEX_LEN);
		out[SHA256_HEX_LEN] = '\0';
		return;
	}
	for (unsigned i = 0; i < SHA256_LEN; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[SHA256_HEX_LEN] = '\0';
}

int base64_encode(unsigned char *out, const unsigned char *in, int n)
{
	const struct crypto_api *c = crypto();

	return c ? c->encode(out, in, n) : -ENOSYS;
}

int base64_decode(unsigned char *out, const unsigned char *in, int n)
{
	const struct crypto_api *c = crypto();

	return c ? c->decode(out, in, n) : -ENOSYS;
}
