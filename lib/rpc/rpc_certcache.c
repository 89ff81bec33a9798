/*
 * rpc_certcache.c - certificates already verified, kept by the SHA-256
 * of their PEM text: the agent sees the same administrator's
 * certificate in every request, and the CLI the same node certificates
 * in every reply, so the chain is checked once and the public key parsed
 * once; later requests cost a hash and a lookup.  An entry is good until
 * its certificate's end of validity (checked on every hit), until the
 * CA changes or until a new revocation list is set.
 *
 * An open-addressing table (linear probing, at most half full) of
 * pointers; it is emptied when it reaches CERTCACHE_MAX entries rather
 * than grow without bound.  Only certificates that verified are kept: a
 * refused one is checked again every time.  Not thread-safe.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pki/pki.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"
#include "util/strutil.h"

#define CERTCACHE_MAX 131072 /* well above the nodes one CLI talks to */

struct rpc_certcache {
	char *ca_pem;		 /* the CA the entries verified against */
	char *crl_pem;		 /* and its revocation list, or NULL */
	struct pki_trust *trust; /* ca_pem and crl_pem parsed */
	EVP_MD *sha256;
	struct rpc_cert **slot;
	size_t cap, n;
	bool dirty;              /* verified a certificate since made (rpc_certfile.c) */
};

struct rpc_certcache *rpc_certcache_new(void)
{
	struct rpc_certcache *c = xcalloc(1, sizeof(*c));

	c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	c->cap = 16;
	c->slot = xcalloc(c->cap, sizeof(*c->slot));
	return c;
}

static void cert_free(struct rpc_cert *e)
{
	if (!e)
		return;
	pki_identity_clear(&e->id);
	free(e->der);
	free(e);
}

/* cache_empty - drop every entry, keep the table. */
static void cache_empty(struct rpc_certcache *c)
{
	for (size_t i = 0; i < c->cap; i++) {
		cert_free(c->slot[i]);
		c->slot[i] = NULL;
	}
	c->n = 0;
}

void rpc_certcache_free(struct rpc_certcache *c)
{
	if (!c)
		return;
	cache_empty(c);
	free(c->slot);
	free(c->ca_pem);
	free(c->crl_pem);
	pki_trust_free(c->trust);
	EVP_MD_free(c->sha256);
	free(c);
}

/* find - the slot holding digest, or the empty one where it belongs. */
static struct rpc_cert **find(struct rpc_cert **slot, size_t cap, const unsigned char *digest)
{
	uint64_t h;
	size_t i;

	memcpy(&h, digest, sizeof(h)); /* a SHA-256: already uniform */
	for (i = (size_t)h & (cap - 1);; i = (i + 1) & (cap - 1)) {
		if (!slot[i] || !memcmp(slot[i]->digest, digest, sizeof(slot[i]->digest)))
			return &slot[i];
	}
}

static void grow(struct rpc_certcache *c)
{
	size_t cap = 2 * c->cap;
	struct rpc_cert **slot = xcalloc(cap, sizeof(*slot));

	for (size_t i = 0; i < c->cap; i++)
		if (c->slot[i])
			*find(slot, cap, c->slot[i]->digest) = c->slot[i];
	free(c->slot);
	c->slot = slot;
	c->cap = cap;
}

/* key_decode - e's public key from the DER a file gave; -EINVAL when it does not decode. */
static int key_decode(struct rpc_cert *e)
{
	e->id.pub = NULL;
	return e->der ? pki_pubkey_decode(e->der, e->der_len, &e->id.pub) : -EINVAL;
}

/* rehash - every entry again (linear probing: after a removal). */
static void rehash(struct rpc_certcache *c)
{
	struct rpc_cert **slot = xcalloc(c->cap, sizeof(*slot));

	for (size_t i = 0; i < c->cap; i++)
		if (c->slot[i])
			*find(slot, c->cap, c->slot[i]->digest) = c->slot[i];
	free(c->slot);
	c->slot = slot;
}

int rpc_certcache_get(struct rpc_certcache *c, const char *ca_pem, const char *pem, size_t len,
		      long long now_ms, const struct rpc_cert **ret, struct tend_err *err)
{
	unsigned char digest[32];
	unsigned int dlen = 0;
	struct rpc_cert **slot, *e;
	int r;

	if (!ca_pem || !pem)
		return err_set(err, -EINVAL, "no certificate");
	if (len > PKI_PEM_MAX || strlen(pem) != len)
		return err_set(err, -EINVAL, "the certificate is not text of at most %d bytes",
			       PKI_PEM_MAX);
	rpc_certcache_bind(c, ca_pem);
	if (!c->trust && (r = pki_trust_new(ca_pem, c->crl_pem, &c->trust, err)) < 0)
		return r;
	if (!c->sha256 || EVP_Digest(pem, len, digest, &dlen, c->sha256, NULL) != 1 ||
	    dlen != sizeof(digest))
		return err_set(err, -EIO, "cannot hash the certificate");
	slot = find(c->slot, c->cap, digest);
	if (*slot && !(*slot)->id.pub && key_decode(*slot) < 0) {
		/* a key from the file that does not decode: verify the certificate again */
		cert_free(*slot);
		*slot = NULL;
		c->n--;
		rehash(c);
		slot = find(c->slot, c->cap, digest);
	}
	if (*slot) {
		if (now_ms / 1000 >= (*slot)->id.not_after)
			return err_set(err, -EKEYREJECTED, "the certificate has expired");
		*ret = *slot;
		return 0;
	}
	e = xcalloc(1, sizeof(*e));
	memcpy(e->digest, digest, sizeof(digest));
	r = pki_trust_verify(c->trust, pem, &e->id, err);
	if (r < 0) {
		free(e);
		return r;
	}
	if (c->n >= CERTCACHE_MAX)
		cache_empty(c);
	if (2 * (c->n + 1) > c->cap)
		grow(c);
	*find(c->slot, c->cap, digest) = e;
	c->n++;
	c->dirty = true;
	*ret = e;
	return 0;
}

void rpc_certcache_bind(struct rpc_certcache *c, const char *ca_pem)
{
	if (c->ca_pem && !strcmp(c->ca_pem, ca_pem))
		return;
	cache_empty(c);
	free(c->ca_pem);
	free(c->crl_pem); /* another CA's */
	c->crl_pem = NULL;
	pki_trust_free(c->trust);
	c->trust = NULL;
	c->ca_pem = xstrdup(ca_pem);
}

void rpc_certcache_set_crl(struct rpc_certcache *c, const char *crl_pem)
{
	free(c->crl_pem);
	c->crl_pem = crl_pem ? xstrdup(crl_pem) : NULL;
	pki_trust_free(c->trust);
	c->trust = NULL;
	cache_empty(c); /* verified before this list: verified again */
}

void rpc_certcache_put(struct rpc_certcache *c, struct rpc_cert *e)
{
	struct rpc_cert **slot;

	if (c->n >= CERTCACHE_MAX) {
		cert_free(e);
		return;
	}
	if (2 * (c->n + 1) > c->cap)
		grow(c);
	slot = find(c->slot, c->cap, e->digest);
	if (*slot) {
		cert_free(e);
		return;
	}
	*slot = e;
	c->n++;
}

const char *rpc_certcache_ca(const struct rpc_certcache *c)
{
	return c->ca_pem;
}

bool rpc_certcache_dirty(const struct rpc_certcache *c)
{
	return c->dirty;
}

const struct rpc_cert *rpc_certcache_next(const struct rpc_certcache *c, size_t *it)
{
	while (*it < c->cap) {
		const struct rpc_cert *e = c->slot[(*it)++];

		if (e)
			return e;
	}
	return NULL;
}
