/*
 * rpc_nonce.c - the request ids an agent has seen, so that a request
 * captured off the bus cannot be played again while it is still fresh.
 *
 * An id is kept until its request's created + ttl + RPC_SKEW_MS: past
 * that the request is refused as expired anyway, so the id may go.  In
 * memory: an open-addressing table of 16-byte ids (linear probing, at
 * most half full); expired ids are dropped when the table would grow.
 *
 * With a file, the ids survive a crash or restart.  Each line is
 * "ID EXPIRY_MS\n"; a new id is appended with one write() and made
 * durable with fdatasync() before the request may run.  At open the
 * file is read (expired and malformed lines dropped: a line torn by a
 * crash is skipped, never trusted) and rewritten compacted through
 * atomic_write_at, so appends always start on a clean line.  It is
 * rewritten again when more than half its lines are expired ids (looked
 * at from COMPACT_MIN lines on, then every time it grows by half the
 * live ids: the look costs a pass over the table).
 *
 * Bounds: at most NONCE_MAX ids are live at once - with the longest TTL
 * (an hour) that is ~277 requests a second to one node, sustained.
 * Past that a new request is refused ("too many requests in flight")
 * rather than the table or the file growing without end; the file holds
 * at most about 2.5 * NONCE_MAX + COMPACT_MIN lines (about 140 MB).  A file
 * with more live ids than NONCE_MAX cannot have been written by this
 * code and is refused at open.  One process per file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "rpc/rpc_int.h"
#include "util/atomic.h"
#include "util/buf.h"
#include "util/strutil.h"

#define NONCE_MAX 1000000
#define COMPACT_MIN 1024
#define LINE_MAX_LEN 64 /* 32 hex, a space, 19 digits, a newline */

struct nonce_slot {
	unsigned char id[RPC_ID_HEX / 2];
	long long expiry; /* 0: empty */
};

struct rpc_nonce {
	struct nonce_slot *slot;
	size_t cap, n; /* n: ids held, expired or not */
	uint64_t seed;
	char *path;	   /* NULL: memory only */
	int fd;		   /* appends, -1 without a file */
	size_t lines;	   /* lines in the file */
	size_t compact_at; /* lines at which to look whether most have expired */
	bool torn;	   /* a write failed half-way: rewrite before appending */
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* id_decode - 32 lowercase hex digits to 16 bytes. */
static bool id_decode(const char *hex, unsigned char out[RPC_ID_HEX / 2])
{
	for (size_t i = 0; i < RPC_ID_HEX / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);

		if (lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

static void id_encode(const unsigned char id[RPC_ID_HEX / 2], char out[RPC_ID_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < RPC_ID_HEX / 2; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 15];
	}
	out[RPC_ID_HEX] = '\0';
}

/* find - the slot holding id or the empty slot where it belongs. */
static struct nonce_slot *find(struct nonce_slot *slot, size_t cap, uint64_t seed,
			       const unsigned char *id)
{
	uint64_t h;
	size_t i;

	memcpy(&h, id, sizeof(h));
	/* ids come from signed requests, but a keyed mix costs nothing */
	h = (h ^ seed) * 0x9e3779b97f4a7c15ULL;
	for (i = (size_t)(h >> 20) & (cap - 1);; i = (i + 1) & (cap - 1)) {
		if (!slot[i].expiry || !memcmp(slot[i].id, id, sizeof(slot[i].id)))
			return &slot[i];
	}
}

/* rehash - a table of cap slots holding the ids of n not expired at now_ms. */
static void rehash(struct rpc_nonce *n, size_t cap, long long now_ms)
{
	struct nonce_slot *slot = xcalloc(cap, sizeof(*slot));
	size_t count = 0;

	for (size_t i = 0; i < n->cap; i++) {
		if (!n->slot[i].expiry || n->slot[i].expiry < now_ms)
			continue;
		*find(slot, cap, n->seed, n->slot[i].id) = n->slot[i];
		count++;
	}
	free(n->slot);
	n->slot = slot;
	n->cap = cap;
	n->n = count;
}

/* make_room - room for one more id: drop the expired ones, then grow. */
static int make_room(struct rpc_nonce *n, long long now_ms)
{
	if (2 * (n->n + 1) <= n->cap)
		return 0;
	rehash(n, n->cap, now_ms);
	if (n->n >= NONCE_MAX)
		return -ENOSPC;
	if (4 * (n->n + 1) > n->cap) /* keep it at most half full after the next few */
		rehash(n, 2 * n->cap, now_ms);
	return 0;
}

/* put - hold id until expiry (the later expiry when it is there); whether it was new. */
static bool put(struct rpc_nonce *n, const unsigned char *id, long long expiry)
{
	struct nonce_slot *s = find(n->slot, n->cap, n->seed, id);

	if (s->expiry) {
		if (expiry > s->expiry)
			s->expiry = expiry;
		return false;
	}
	memcpy(s->id, id, sizeof(s->id));
	s->expiry = expiry;
	n->n++;
	return true;
}

/* line_format - "ID EXPIRY\n" into out (LINE_MAX_LEN bytes); its length. */
static size_t line_format(const unsigned char *id, long long expiry, char out[LINE_MAX_LEN])
{
	char hex[RPC_ID_HEX + 1];
	int len;

	id_encode(id, hex);
	len = snprintf(out, LINE_MAX_LEN, "%s %lld\n", hex, expiry);
	return len > 0 && len < LINE_MAX_LEN ? (size_t)len : 0;
}

/* line_parse - one line (without its newline) into id and expiry. */
static bool line_parse(const char *line, size_t len, unsigned char *id, long long *ret_expiry)
{
	char num[24];
	long long v;

	if (len < RPC_ID_HEX + 2 || len - RPC_ID_HEX - 1 >= sizeof(num) ||
	    line[RPC_ID_HEX] != ' ' || !id_decode(line, id))
		return false;
	memcpy(num, line + RPC_ID_HEX + 1, len - RPC_ID_HEX - 1);
	num[len - RPC_ID_HEX - 1] = '\0';
	if (strspn(num, "0123456789") != strlen(num) || str_to_ll(num, 10, 1, INT64_MAX, &v) < 0)
		return false;
	*ret_expiry = v;
	return true;
}

/* file_rewrite - replace the file with the ids live at now_ms, and append to the new one. */
static int file_rewrite(struct rpc_nonce *n, long long now_ms, struct tend_err *err)
{
	const char *slash = strrchr(n->path, '/');
	char line[LINE_MAX_LEN], *dir;
	struct buf b;
	int dfd, fd, r = 0;

	rehash(n, n->cap, now_ms);
	buf_init(&b, 0);
	for (size_t i = 0; i < n->cap && r == 0; i++)
		if (n->slot[i].expiry)
			r = buf_add(&b, line, line_format(n->slot[i].id, n->slot[i].expiry, line));
	if (r < 0) {
		buf_free(&b);
		return err_set(err, r, "%s: cannot write %zu ids", n->path, n->n);
	}
	dir = slash ? xstrdup(n->path) : xstrdup(".");
	if (slash)
		dir[slash == n->path ? 1 : slash - n->path] = '\0';
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = dfd < 0 ? -errno :
		      atomic_write_at(dfd, slash ? slash + 1 : n->path, buf_str(&b), b.len, 0600,
				      ATOMIC_KEEP_OWNER, (gid_t)-1);
	if (dfd >= 0)
		close(dfd);
	free(dir);
	buf_free(&b);
	if (r < 0)
		return err_set(err, r, "%s: cannot rewrite: %s", n->path, strerror(-r));
	fd = open(n->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return err_set(err, -errno, "%s: %s", n->path, strerror(errno));
	if (n->fd >= 0)
		close(n->fd);
	n->fd = fd;
	n->lines = n->n;
	n->compact_at = n->n > COMPACT_MIN ? 2 * n->n : COMPACT_MIN;
	n->torn = false;
	return 0;
}

/* file_line - one line read at open (without its newline). */
static int file_line(struct rpc_nonce *n, const char *line, size_t len, long long now_ms)
{
	unsigned char id[RPC_ID_HEX / 2];
	long long expiry;

	if (!line_parse(line, len, id, &expiry) || expiry < now_ms)
		return 0; /* malformed (a torn write) or expired: dropped */
	if (make_room(n, now_ms) < 0)
		return -EFBIG;
	put(n, id, expiry);
	return 0;
}

/* file_load - the ids of the file still live at now_ms; a missing file is empty. */
static int file_load(struct rpc_nonce *n, long long now_ms, struct tend_err *err)
{
	char chunk[65536], line[LINE_MAX_LEN];
	size_t len = 0;
	bool overlong = false;
	int fd = open(n->path, O_RDONLY | O_CLOEXEC | O_NOCTTY), r = 0;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return err_set(err, -errno, "%s: %s", n->path, strerror(errno));
	while (r == 0) {
		ssize_t got = read(fd, chunk, sizeof(chunk));

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			r = err_set(err, -errno, "%s: %s", n->path, strerror(errno));
		if (got <= 0)
			break;
		for (ssize_t i = 0; i < got && r == 0; i++) {
			if (chunk[i] == '\n') {
				if (!overlong)
					r = file_line(n, line, len, now_ms);
				len = 0;
				overlong = false;
			} else if (len < sizeof(line)) {
				line[len++] = chunk[i];
			} else {
				overlong = true;
			}
		}
	}
	close(fd);
	if (r == -EFBIG)
		r = err_set(err, r, "%s: more than %d request ids still valid", n->path, NONCE_MAX);
	return r;
}

int rpc_nonce_open(const char *path, long long now_ms, struct rpc_nonce **ret, struct tend_err *err)
{
	struct rpc_nonce *n = xcalloc(1, sizeof(*n));
	int r = 0;

	n->fd = -1;
	n->cap = 64;
	n->slot = xcalloc(n->cap, sizeof(*n->slot));
	if (getrandom(&n->seed, sizeof(n->seed), GRND_NONBLOCK) != sizeof(n->seed))
		n->seed = (uint64_t)(uintptr_t)n ^ (uint64_t)now_ms;
	if (path) {
		n->path = xstrdup(path);
		r = file_load(n, now_ms, err);
		if (r == 0)
			r = file_rewrite(n, now_ms, err);
	}
	if (r < 0) {
		rpc_nonce_free(n);
		return r;
	}
	*ret = n;
	return 0;
}

void rpc_nonce_free(struct rpc_nonce *n)
{
	if (!n)
		return;
	if (n->fd >= 0)
		close(n->fd);
	free(n->path);
	free(n->slot);
	free(n);
}

/* file_record - id appended to the file and synced, or the file rewritten with it. */
static int file_record(struct rpc_nonce *n, const unsigned char *id, long long expiry,
		       long long now_ms, struct tend_err *err)
{
	char line[LINE_MAX_LEN];
	size_t len = line_format(id, expiry, line), done = 0;

	if (!n->torn && n->fd >= 0 && n->lines >= n->compact_at) {
		rehash(n, n->cap, now_ms); /* how many are live? */
		n->torn = n->lines > 2 * n->n;
		n->compact_at = n->lines + (n->n / 2 > COMPACT_MIN ? n->n / 2 : COMPACT_MIN);
	}
	if (n->torn || n->fd < 0)
		return file_rewrite(n, now_ms, err); /* the table holds id already */
	while (done < len) {
		ssize_t w = write(n->fd, line + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			n->torn = true;
			return err_set(err, w < 0 ? -errno : -EIO, "%s: %s", n->path,
				       w < 0 ? strerror(errno) : "short write");
		}
		done += (size_t)w;
	}
	if (fdatasync(n->fd) < 0) {
		n->torn = true;
		return err_set(err, -errno, "%s: %s", n->path, strerror(errno));
	}
	n->lines++;
	return 0;
}

int rpc_nonce_add(struct rpc_nonce *n, const char *id, long long expiry_ms, long long now_ms,
		  struct tend_err *err)
{
	unsigned char raw[RPC_ID_HEX / 2];

	if (!rpc_id_ok(id) || !id_decode(id, raw) || expiry_ms < 1)
		return err_set(err, -EINVAL, "not a request id");
	if (find(n->slot, n->cap, n->seed, raw)->expiry)
		return -EEXIST;
	if (make_room(n, now_ms) < 0)
		return err_set(err, -ENOSPC, "too many requests in flight (%d ids still valid)",
			       NONCE_MAX);
	put(n, raw, expiry_ms);
	if (!n->path)
		return 0;
	return file_record(n, raw, expiry_ms, now_ms, err);
}

size_t rpc_nonce_count(const struct rpc_nonce *n)
{
	return n->n;
}
