/*
 * rpc_certfile.c - the CLI's certificate cache kept across runs (see
 * rpc.h: rpc_certcache_load / rpc_certcache_save).
 *
 * A CLI process that starts afresh would check every node's certificate
 * chain again on every `tend ping`: parsing and verifying a certificate
 * costs about 250 us here, a quarter of a second for a thousand nodes,
 * more than all the rest of the round.  So, like ssh's known_hosts, the
 * CLI keeps what it verified: per certificate (by the SHA-256 of its PEM
 * text) its names, end of validity and public key (DER), in a file of
 * the user's (0600).  Keys are decoded only when a reply carries that
 * certificate again.  Every reply's signature is still verified.
 *
 * The file is bound to the CA: its first line is "tend-certcache 1
 * SHA256(CA PEM)", and a file for another CA is ignored.  Lines are
 * "DIGEST CN ROLE|- ADMIN NOT_AFTER KEY" (hex digest, 0/1, Unix seconds,
 * base64 DER).  A line that does not read is skipped; expired entries
 * are not loaded.  The file is advisory: losing it costs time, never
 * trust, since only the user can write it.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pki/pki.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"
#include "util/atomic.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/strutil.h"

#define CERTFILE_MAGIC "tend-certcache 1"
#define CERTFILE_MAX ((size_t)64 << 20)
#define KEY_DER_MAX 1024

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* parse_line - one entry into *ret (key kept as DER, decoded on first use). */
static bool parse_line(char *line, long long now_s, struct rpc_cert **ret)
{
	char *f[6], *p = line;
	unsigned char der[KEY_DER_MAX];
	struct rpc_cert *e;
	long long na;
	int n, dlen;

	line[strcspn(line, "\n")] = '\0';
	for (n = 0; n < 6 && p; n++) {
		f[n] = p;
		p = strchr(p, ' ');
		if (p)
			*p++ = '\0';
	}
	if (n < 6 || p)
		return false;
	if (strlen(f[0]) != 64 || strlen(f[1]) > PKI_CN_MAX || strlen(f[2]) > PKI_CN_MAX ||
	    (strcmp(f[3], "0") && strcmp(f[3], "1")) ||
	    str_to_ll(f[4], 10, 0, 1LL << 40, &na) < 0 || na <= now_s ||
	    strlen(f[5]) > 4 * KEY_DER_MAX / 3)
		return false;
	dlen = EVP_DecodeBlock(der, (const unsigned char *)f[5], (int)strlen(f[5]));
	if (dlen <= 0)
		return false;
	dlen -= (int)(strlen(f[5]) - strcspn(f[5], "=")); /* the padding decodes to zeros */
	e = xcalloc(1, sizeof(*e));
	for (int i = 0; i < 32; i++) {
		int hi = hexval(f[0][2 * i]), lo = hexval(f[0][2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(e);
			return false;
		}
		e->digest[i] = (unsigned char)(hi << 4 | lo);
	}
	snprintf(e->id.cn, sizeof(e->id.cn), "%s", f[1]);
	snprintf(e->id.role, sizeof(e->id.role), "%s", strcmp(f[2], "-") ? f[2] : "");
	e->id.admin = f[3][0] == '1';
	e->id.not_after = na;
	e->der = xcalloc(1, (size_t)dlen);
	memcpy(e->der, der, (size_t)dlen);
	e->der_len = (size_t)dlen;
	*ret = e;
	return true;
}

/* ca_line - the first line of a file for ca_pem. */
static void ca_line(const char *ca_pem, char out[sizeof(CERTFILE_MAGIC) + 66])
{
	char hex[SHA256_HEX_LEN + 1];

	sha256_hex(ca_pem, strlen(ca_pem), hex);
	snprintf(out, sizeof(CERTFILE_MAGIC) + 66, "%s %s", CERTFILE_MAGIC, hex);
}

int rpc_certcache_load(struct rpc_certcache *c, const char *ca_pem, const char *path)
{
	char head[sizeof(CERTFILE_MAGIC) + 66], *line = NULL;
	long long now_s = rpc_now_ms() / 1000;
	size_t cap = 0, loaded = 0;
	struct stat st;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > CERTFILE_MAX ||
	    (st.st_mode & 022)) {
		fclose(f);
		return -EPERM; /* somebody else could have written it: not ours to trust */
	}
	ca_line(ca_pem, head);
	if (getline(&line, &cap, f) > 0 && !strncmp(line, head, strlen(head))) {
		rpc_certcache_bind(c, ca_pem);
		while (getline(&line, &cap, f) > 0) {
			struct rpc_cert *e;

			if (parse_line(line, now_s, &e)) {
				rpc_certcache_put(c, e);
				loaded++;
			}
		}
	}
	free(line);
	fclose(f);
	return (int)(loaded > 0x7fffffff ? 0x7fffffff : loaded);
}

/* entry_line - e as a line of the file into b; false when its key cannot be encoded. */
static bool entry_line(const struct rpc_cert *e, struct buf *b)
{
	unsigned char *der = NULL, b64[4 * KEY_DER_MAX / 3 + 8];
	const unsigned char *key = e->der;
	int len = (int)e->der_len;
	bool ok;

	if (!key && e->id.pub) {
		len = i2d_PUBKEY(e->id.pub, &der);
		key = der;
	}
	ok = key && len > 0 && len <= KEY_DER_MAX;
	if (ok) {
		EVP_EncodeBlock(b64, key, len);
		for (int i = 0; i < 32; i++)
			buf_printf(b, "%02x", e->digest[i]);
		buf_printf(b, " %s %s %d %lld %s\n", e->id.cn, e->id.role[0] ? e->id.role : "-",
			   e->id.admin ? 1 : 0, e->id.not_after, (const char *)b64);
	}
	OPENSSL_free(der);
	return ok;
}

/* write_at_path - b's bytes as path, atomically, 0600. */
static int write_at_path(const char *path, const struct buf *b)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrdup(path) : xstrdup(".");
	int dfd, r;

	if (slash)
		dir[slash == path ? 1 : slash - path] = '\0';
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (dfd < 0)
		return -errno;
	r = atomic_write_at(dfd, slash ? slash + 1 : path, b->data, b->len, 0600,
			    ATOMIC_KEEP_OWNER, (gid_t)-1);
	close(dfd);
	return r;
}

int rpc_certcache_save(struct rpc_certcache *c, const char *path, struct tend_err *err)
{
	char head[sizeof(CERTFILE_MAGIC) + 66];
	const struct rpc_cert *e;
	struct buf b = BUF_INIT;
	size_t it = 0;
	const char *ca = rpc_certcache_ca(c);
	int r;

	if (!ca || !rpc_certcache_dirty(c))
		return 0;
	ca_line(ca, head);
	buf_printf(&b, "%s\n", head);
	while ((e = rpc_certcache_next(c, &it)))
		entry_line(e, &b);
	r = write_at_path(path, &b);
	if (r < 0)
		err_set(err, r, "%s: %s", path, strerror(-r));
	buf_free(&b);
	return r;
}
