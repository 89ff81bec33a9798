/*
 * cache.c - the last good catalog, kept on disk so the node keeps
 * converging while the server or the broker is away.
 *
 * A generation is a directory holding the catalog's exact text
 * (catalog.json), the server's signature over it (catalog.sig) and the
 * signer's certificate (signer.pem).  STATE/catalog/ is the newest,
 * STATE/catalog.prev/ the one before.  A new catalog is written whole
 * into catalog.new/ and renamed into place, so a crash leaves either
 * generation complete; and every load verifies the signature again, so a
 * catalog damaged on disk (truncated, edited) is refused and the previous
 * good one is used instead.  A catalog is never trusted because of where
 * it lies: only because tend's CA vouches for the server that signed it.
 *
 * The catalog's "files" (sources and templates, by repository path) are
 * written under STATE/files/ the same way (files.new/, then renamed),
 * with the catalog's hash in files/.hash so an unchanged catalog does not
 * rewrite them on every run.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pki/pki.h"
#include "tendd.h"
#include "util/atomic.h"
#include "util/hash.h"
#include "util/strutil.h"

#define SIG_MAX ((size_t)4 << 10)
#define HASH_MAX 80
#define FILES_PATH_MAX 1024

static const char *const gen_files[] = { "catalog.json", "catalog.sig", "signer.pem" };

/* verify - text signed by signer (a "tend-server" cert from ca_pem); *ret the parsed catalog. */
static int verify(const char *ca_pem, const char *text, size_t len, const char *sig,
		  const char *signer, json_t **ret, char hash[81], struct tend_err *err)
{
	struct tend_err e;
	const char *h;
	json_t *j;

	if (pki_verify_cert(ca_pem, NULL, signer, "tend-server", NULL, &e) < 0)
		return err_set(err, -EBADMSG, "the signer is not tend's server: %s", e.msg);
	if (pki_verify(signer, text, len, sig, &e) < 0)
		return err_set(err, -EBADMSG, "bad signature: %s", e.msg);
	j = json_loadb(text, len, 0, NULL);
	h = json_string_value(json_object_get(j, "hash"));
	if (!json_is_object(j) || !h || !*h || strlen(h) > HASH_MAX) {
		json_decref(j);
		return err_set(err, -EBADMSG, "signed, but not a catalog (no \"hash\")");
	}
	snprintf(hash, 81, "%s", h);
	if (ret)
		*ret = j;
	else
		json_decref(j);
	return 0;
}

/* rm_tree - remove path and everything beneath (no symlink followed); missing is fine. */
static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return (flag == FTW_DP ? rmdir(p) : unlink(p)) < 0 && errno != ENOENT ? -1 : 0;
}

static int rm_tree(const char *path)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* load_gen - generation STATE/name verified: parsed catalog and hash. */
static int load_gen(const char *state, const char *name, const char *ca_pem, json_t **ret,
		    char hash[81], struct tend_err *err)
{
	struct buf path = BUF_INIT, f[3] = { BUF_INIT, BUF_INIT, BUF_INIT };
	size_t max[3] = { TENDD_CATALOG_MAX, SIG_MAX, TENDD_PEM_MAX };
	int r = 0;

	for (size_t i = 0; i < 3 && r == 0; i++) {
		buf_reset(&path);
		if (buf_printf(&path, "%s/%s/%s", state, name, gen_files[i]) < 0)
			r = err_set(err, -ENAMETOOLONG, "%s: path too long", state);
		else if ((r = read_file_max(buf_str(&path), max[i], &f[i])) < 0)
			r = err_set(err, r == -ENOENT && i == 0 ? -ENOENT : -EBADMSG, "%s: %s",
				    buf_str(&path), strerror(-r));
	}
	if (r == 0) {
		/* the signature file ends with a newline for people; the signature does not */
		while (f[1].len && (f[1].data[f[1].len - 1] == '\n'))
			f[1].data[--f[1].len] = '\0';
		r = verify(ca_pem, f[0].data ? f[0].data : "", f[0].len, buf_str(&f[1]),
			   buf_str(&f[2]), ret, hash, err);
		if (r < 0)
			err_prefix(err, "%s/%s", state, name);
	}
	for (size_t i = 0; i < 3; i++)
		buf_free(&f[i]);
	buf_free(&path);
	return r == -ENOENT ? -ENOENT : r < 0 ? -EBADMSG : 0;
}

int cache_load(const char *state, const char *ca_pem, json_t **ret, char ret_hash[81],
	       bool *ret_prev, struct tend_err *warn, struct tend_err *err)
{
	struct tend_err e2;
	int r1, r2;

	err_clear(warn);
	r1 = load_gen(state, "catalog", ca_pem, ret, ret_hash, warn);
	if (r1 == 0) {
		*ret_prev = false;
		return 0;
	}
	r2 = load_gen(state, "catalog.prev", ca_pem, ret, ret_hash, &e2);
	if (r2 == 0) {
		*ret_prev = true;
		return 0;
	}
	if (r1 == -EBADMSG)
		return err_set(err, -EBADMSG, "%s", warn->msg);
	if (r2 == -EBADMSG)
		return err_set(err, -EBADMSG, "%s", e2.msg);
	return err_set(err, -ENOENT, "no catalog in %s yet", state);
}

/* write_gen - the three files into STATE/name/ (created afresh). */
static int write_gen(const char *state, const char *name, const char *const data[3],
		     const size_t len[3], struct tend_err *err)
{
	struct buf path = BUF_INIT;
	int dfd = -1, r;

	if (buf_printf(&path, "%s/%s", state, name) < 0) {
		r = err_set(err, -ENAMETOOLONG, "%s: path too long", state);
		goto out;
	}
	rm_tree(buf_str(&path));
	if (mkdir(buf_str(&path), 0700) < 0 ||
	    (dfd = open(buf_str(&path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = err_set(err, -errno, "cannot create %s: %s", buf_str(&path), strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < 3; i++) {
		r = atomic_write_at(dfd, gen_files[i], data[i], len[i], 0600, ATOMIC_KEEP_OWNER,
				    (gid_t)-1);
		if (r < 0) {
			err_set(err, r, "cannot write %s/%s: %s", buf_str(&path), gen_files[i],
				strerror(-r));
			goto out;
		}
	}
	r = 0;
out:
	if (dfd >= 0)
		close(dfd);
	buf_free(&path);
	return r;
}

/* swap - STATE/from becomes STATE/to (which is removed first). */
static int swap(const char *state, const char *from, const char *to)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	int r = 0;

	if (state_path(&a, state, from) < 0 || state_path(&b, state, to) < 0)
		r = -ENAMETOOLONG;
	else if ((r = rm_tree(buf_str(&b))) == 0 && rename(buf_str(&a), buf_str(&b)) < 0)
		r = -errno;
	buf_free(&a);
	buf_free(&b);
	return r;
}

static void sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync_dir(fd);
		close(fd);
	}
}

int cache_store(const char *state, const char *ca_pem, const char *text, size_t len,
		const char *sig, const char *signer, char ret_hash[81], struct tend_err *err)
{
	const char *data[3] = { text, sig, signer };
	size_t lens[3] = { len, strlen(sig), strlen(signer) };
	char hash[81], cur[81];
	struct tend_err e;
	int r;

	if (len > TENDD_CATALOG_MAX || lens[1] > SIG_MAX || lens[2] > TENDD_PEM_MAX)
		return err_set(err, -EBADMSG, "the catalog's parts are too large");
	r = verify(ca_pem, text, len, sig, signer, NULL, hash, err);
	if (r < 0)
		return r;
	r = write_gen(state, "catalog.new", data, lens, err);
	if (r < 0)
		return r;
	/* the current one becomes the previous one only if it is good itself */
	if (load_gen(state, "catalog", ca_pem, NULL, cur, &e) == 0)
		r = swap(state, "catalog", "catalog.prev");
	if (r == 0)
		r = swap(state, "catalog.new", "catalog");
	if (r < 0)
		return err_set(err, r, "cannot keep the catalog in %s: %s", state, strerror(-r));
	sync_dir(state);
	snprintf(ret_hash, 81, "%s", hash);
	return 0;
}

/* ---- files ------------------------------------------------------------------ */

/* rel_ok - a plain relative path (the server's repository paths). */
static bool rel_ok(const char *p)
{
	size_t n = strlen(p);

	if (!n || n > FILES_PATH_MAX || p[0] == '/' || p[n - 1] == '/' || p[0] == '.')
		return false;
	for (const char *s = p; *s;) {
		size_t l = strcspn(s, "/");

		if (l == 0 || (l == 1 && s[0] == '.') || (l == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += l + (s[l] == '/');
	}
	return true;
}

/* content - a "files" value as bytes: a string, or {"base64": ...}. */
static int content(const json_t *v, struct buf *out)
{
	const char *b64 = json_string_value(json_object_get(v, "base64"));
	unsigned char *dec;
	size_t n, pad = 0;
	int len;

	buf_reset(out);
	if (json_is_string(v))
		return buf_add(out, json_string_value(v), json_string_length(v));
	if (!b64)
		return -EINVAL;
	n = strlen(b64);
	if (n > INT32_MAX / 2)
		return -E2BIG;
	while (pad < n && pad < 2 && b64[n - 1 - pad] == '=')
		pad++;
	dec = xcalloc(1, n / 4 * 3 + 3);
	len = base64_decode(dec, (const unsigned char *)b64, (int)n);
	len = len < 0 || (size_t)len < pad ? -EINVAL : buf_add(out, dec, (size_t)len - pad);
	free(dec);
	return len;
}

/* write_one - path (relative) under dfd: parents created, content written. */
static int write_one(int dfd, const char *path, const struct buf *data)
{
	char part[FILES_PATH_MAX + 1];
	const char *slash;
	int d = dfd, r = 0;

	snprintf(part, sizeof(part), "%s", path);
	for (char *p = part; (slash = strchr(p, '/')); p = (char *)slash + 1) {
		int nd;

		*(char *)slash = '\0';
		if (mkdirat(d, p, 0700) < 0 && errno != EEXIST)
			r = -errno;
		nd = r ? -1 : openat(d, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (d != dfd)
			close(d);
		if (nd < 0)
			return r ? r : -errno;
		d = nd;
	}
	slash = strrchr(path, '/');
	r = atomic_write_at(d, slash ? slash + 1 : path, data->data ? data->data : "", data->len,
			    0600, ATOMIC_KEEP_OWNER, (gid_t)-1);
	if (d != dfd)
		close(d);
	return r;
}

static bool files_current(const char *state, const char *hash)
{
	struct buf p = BUF_INIT, t = BUF_INIT;
	bool same;

	same = state_path(&p, state, "files/.hash") == 0 &&
	       read_file_max(buf_str(&p), 128, &t) == 0 && !strcmp(buf_str(&t), hash);
	buf_free(&p);
	buf_free(&t);
	return same;
}

int cache_write_files(const char *state, const json_t *catalog, const char *hash,
		      struct tend_err *err)
{
	const json_t *files = json_object_get(catalog, "files");
	struct buf dir = BUF_INIT, data = BUF_INIT;
	const char *k;
	json_t *v;
	int dfd = -1, r = 0;

	if (files_current(state, hash))
		return 0;
	if (state_path(&dir, state, "files.new") < 0)
		return err_set(err, -ENAMETOOLONG, "%s: path too long", state);
	rm_tree(buf_str(&dir));
	if (mkdir(buf_str(&dir), 0700) < 0 ||
	    (dfd = open(buf_str(&dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = err_set(err, -errno, "cannot create %s: %s", buf_str(&dir), strerror(errno));
		goto out;
	}
	data.max = TENDD_CATALOG_MAX;
	json_object_foreach((json_t *)files, k, v) {
		if (!rel_ok(k)) {
			r = err_set(err, -EINVAL, "catalog: '%s' is not a repository path", k);
			goto out;
		}
		if ((r = content(v, &data)) < 0 || (r = write_one(dfd, k, &data)) < 0) {
			err_set(err, r, "cannot write %s/%s: %s", buf_str(&dir), k,
				r == -EINVAL ? "not a string or {\"base64\"}" : strerror(-r));
			goto out;
		}
	}
	r = atomic_write_at(dfd, ".hash", hash, strlen(hash), 0600, ATOMIC_KEEP_OWNER, (gid_t)-1);
	if (r == 0)
		r = swap(state, "files.new", "files");
	if (r < 0)
		err_set(err, r, "cannot put the catalog's files in %s/files: %s", state, strerror(-r));
out:
	if (dfd >= 0)
		close(dfd);
	buf_free(&dir);
	buf_free(&data);
	return r;
}
