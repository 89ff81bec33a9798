/*
 * spool.c - reports kept on disk until the server acknowledged them.
 *
 * Every report is written to STATE/spool/ID.json before it is sent, and
 * removed once the server answered {"ok":true}: a report survives the
 * broker being away, the agent being killed, the machine rebooting.  IDs
 * are UUIDv7s, whose text sorts in time order, so the directory listing
 * sorted by name is the order the runs happened.  The server keeps one
 * copy per ID, so a report sent again (its acknowledgement lost) is
 * stored once.  At most SPOOL_MAX reports wait; beyond that the oldest
 * are dropped, since a node that has been offline that long is better
 * described by its recent runs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tendd.h"
#include "util/atomic.h"
#include "util/log.h"

void spool_new_id(char out[UUID_LEN + 1])
{
	unsigned char b[16];
	struct timespec ts;
	unsigned long long ms;
	unsigned sub;
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(b)) {
		n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) { /* no entropy source at all: the clock still orders them */
			memset(b + got, 0x5a, sizeof(b) - got);
			break;
		}
		got += (size_t)n;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
	/* rand_a holds the fraction of the millisecond (RFC 9562, method 3) */
	sub = (unsigned)((unsigned long long)(ts.tv_nsec % 1000000) * 4096 / 1000000);
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	b[6] = (unsigned char)(0x70 | (sub >> 8));
	b[7] = (unsigned char)(sub & 0xff);
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
	snprintf(out, UUID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
}

/* is_spooled - NAME is "UUID.json". */
static int is_spooled(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n == UUID_LEN + 5 && !strcmp(d->d_name + UUID_LEN, ".json") && d->d_name[0] != '.';
}

/* list - the spooled names, oldest first; n entries (free each and the array). */
static int list(const char *dir, struct dirent ***ret)
{
	int n = scandir(dir, ret, is_spooled, alphasort);

	return n < 0 ? (errno == ENOENT ? 0 : -errno) : n;
}

static void free_list(struct dirent **l, int n)
{
	for (int i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

static int open_dir(const char *state, bool create, struct buf *path)
{
	int fd;

	if (state_path(path, state, "spool") < 0)
		return -ENAMETOOLONG;
	if (create && mkdir(buf_str(path), 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = open(buf_str(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* trim - drop the oldest beyond SPOOL_MAX. */
static void trim(int dfd, const char *dir)
{
	struct dirent **l = NULL;
	int n = list(dir, &l);

	for (int i = 0; n > SPOOL_MAX && i < n - SPOOL_MAX; i++) {
		log_warnx("spool: more than %d reports wait; dropping the oldest, %s", SPOOL_MAX,
			  l[i]->d_name);
		unlinkat(dfd, l[i]->d_name, 0);
	}
	if (n > 0)
		free_list(l, n);
}

int spool_add(const char *state, const char *id, const char *payload, size_t len,
	      struct tend_err *err)
{
	struct buf dir = BUF_INIT;
	char name[UUID_LEN + 8];
	int dfd, r;

	dfd = open_dir(state, true, &dir);
	if (dfd < 0) {
		r = err_set(err, dfd, "cannot open %s: %s", buf_str(&dir), strerror(-dfd));
		goto out;
	}
	snprintf(name, sizeof(name), "%s.json", id);
	r = atomic_write_at(dfd, name, payload, len, 0600, ATOMIC_KEEP_OWNER, (gid_t)-1);
	if (r < 0)
		err_set(err, r, "cannot write %s/%s: %s", buf_str(&dir), name, strerror(-r));
	else
		trim(dfd, buf_str(&dir));
	close(dfd);
out:
	buf_free(&dir);
	return r;
}

size_t spool_count(const char *state)
{
	struct buf dir = BUF_INIT;
	struct dirent **l = NULL;
	int n = -1;

	if (state_path(&dir, state, "spool") == 0)
		n = list(buf_str(&dir), &l);
	if (n > 0)
		free_list(l, n);
	buf_free(&dir);
	return n > 0 ? (size_t)n : 0;
}

/* deliver_one - read name, hand it over; 0 delivered (removed), 1 refused (set aside), < 0 later. */
static int deliver_one(int dfd, const char *dir, const char *name,
		       int (*deliver)(void *, const char *, const char *, size_t), void *arg)
{
	struct buf path = BUF_INIT, text = BUF_INIT;
	char id[UUID_LEN + 1], refused[UUID_LEN + 16];
	int r;

	snprintf(id, sizeof(id), "%.*s", UUID_LEN, name);
	r = buf_printf(&path, "%s/%s", dir, name);
	if (r == 0)
		r = read_file_max(buf_str(&path), TENDD_REPORT_MAX, &text);
	if (r == 0)
		r = deliver(arg, id, buf_str(&text), text.len);
	else if (r != -ENOENT)
		r = 1; /* unreadable: never deliverable */
	if (r == 0 || r == -ENOENT) {
		unlinkat(dfd, name, 0);
		r = 0;
	} else if (r > 0) {
		snprintf(refused, sizeof(refused), "%s.refused", id);
		log_warnx("spool: report %s refused for good; kept as %s/%s", id, dir, refused);
		renameat(dfd, name, dfd, refused);
	}
	buf_free(&path);
	buf_free(&text);
	return r;
}

int spool_flush(const char *state, int (*deliver)(void *arg, const char *id, const char *payload,
						  size_t len),
		void *arg, size_t *ret_left)
{
	struct buf dir = BUF_INIT;
	struct dirent **l = NULL;
	int n = 0, i = 0, r = 0, done = 0, dfd;

	dfd = open_dir(state, false, &dir);
	if (dfd >= 0)
		n = list(buf_str(&dir), &l);
	for (i = 0; i < n; i++) {
		r = deliver_one(dfd, buf_str(&dir), l[i]->d_name, deliver, arg);
		if (r < 0)
			break;
		if (r == 0)
			done++;
	}
	if (ret_left)
		*ret_left = n > i ? (size_t)(n - i) : 0;
	if (n > 0)
		free_list(l, n);
	if (dfd >= 0)
		close(dfd);
	buf_free(&dir);
	return r < 0 ? r : done;
}
