/*
 * audit.c - the agent's record of every RPC request it looked at:
 * STATE/audit.jsonl, one JSON object a line (rpc_audit_record), appended
 * with one write(2) each under O_APPEND, mode 0600; and its forwarding
 * to the server on tend.audit.NODE.
 *
 * The file is the record; forwarding is a copy.  STATE/audit.sent holds
 * how many bytes of the file were published.  A line written while the
 * broker is away stays behind that mark and is published, in order, when
 * the connection comes back (audit_forward, called by the loop), and a
 * newer line is never published before an older one.  What the broker
 * accepted may still miss a server that was not listening then: the
 * server's copy is best effort, the node's file is complete.
 *
 * A file renamed away (log rotation) is noticed before the next line:
 * a new one is started and forwarding starts at its beginning.  A last
 * line cut short by a crash is ended with a newline before the next one,
 * so one bad line never swallows a good one.
 *
 * Requests arrive on several cnats threads and forwarding runs on the
 * loop's: one mutex orders them all.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus/bus.h"
#include "tendd.h"
#include "util/buf.h"
#include "util/strutil.h"

/* the longest line forwarded (a request is at most 256 KiB; its record is smaller) */
#define AUDIT_LINE_MAX ((size_t)1 << 20)
#define AUDIT_CHUNK ((size_t)64 << 10) /* read at once when forwarding */

struct audit {
	pthread_mutex_t mu;
	char *path, *sent_path;
	int fd, sent_fd;
	off_t size; /* bytes in the file */
	off_t sent; /* bytes of it published */
};

static off_t read_sent(int fd)
{
	char text[32];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	char *end;
	long long v;

	if (n <= 0)
		return 0;
	text[n] = '\0';
	v = strtoll(text, &end, 10);
	return v > 0 && (*end == '\n' || !*end) ? (off_t)v : 0;
}

static void save_sent(struct audit *au)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%020lld\n", (long long)au->sent);

	/* fixed width: the number is rewritten in place, never left half longer */
	if (pwrite(au->sent_fd, text, (size_t)n, 0) != n) {
		/* kept in memory; at worst lines are forwarded twice after a restart */
	}
}

/* open_log - (re)open the file; end a line a crash cut short. */
static int open_log(struct audit *au)
{
	struct stat st;
	char last;

	if (au->fd >= 0)
		close(au->fd);
	au->fd = open(au->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (au->fd < 0 || fstat(au->fd, &st) < 0)
		return -errno;
	au->size = st.st_size;
	if (au->size > 0 && pread(au->fd, &last, 1, au->size - 1) == 1 && last != '\n' &&
	    write(au->fd, "\n", 1) == 1)
		au->size++;
	return 0;
}

int audit_open(const char *state, struct audit **ret, struct tend_err *err)
{
	struct audit *au = xcalloc(1, sizeof(*au));
	struct buf p = BUF_INIT;
	int r;

	pthread_mutex_init(&au->mu, NULL);
	au->fd = au->sent_fd = -1;
	state_path(&p, state, "audit.jsonl");
	au->path = xstrdup(buf_str(&p));
	state_path(&p, state, "audit.sent");
	au->sent_path = buf_steal(&p);
	r = open_log(au);
	if (r < 0) {
		err_set(err, r, "cannot open %s: %s", au->path, strerror(-r));
		goto fail;
	}
	au->sent_fd = open(au->sent_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (au->sent_fd < 0) {
		r = err_set(err, -errno, "cannot open %s: %s", au->sent_path, strerror(errno));
		goto fail;
	}
	au->sent = read_sent(au->sent_fd);
	if (au->sent > au->size) /* a new file since: all of it is new */
		au->sent = 0;
	*ret = au;
	return 0;
fail:
	audit_free(au);
	return r;
}

void audit_free(struct audit *au)
{
	if (!au)
		return;
	if (au->fd >= 0)
		close(au->fd);
	if (au->sent_fd >= 0)
		close(au->sent_fd);
	pthread_mutex_destroy(&au->mu);
	free(au->path);
	free(au->sent_path);
	free(au);
}

/* rotated - the path no longer names the open file: start a new one. */
static int follow_rotation(struct audit *au)
{
	struct stat a, b;
	int r;

	if (stat(au->path, &a) == 0 && fstat(au->fd, &b) == 0 && a.st_ino == b.st_ino &&
	    a.st_dev == b.st_dev && a.st_size >= au->size) {
		au->size = a.st_size;
		return 0;
	}
	r = open_log(au);
	if (r == 0) {
		au->sent = au->sent > au->size ? 0 : au->sent;
		save_sent(au);
	}
	return r;
}

/* publish_line - one line (without its newline) on subject; 0 or -errno. */
static int publish_line(struct bus *b, const char *subject, const char *line, size_t len)
{
	struct tend_err err;

	return bus_publish(b, subject, line, len, &err);
}

/* drop - take n bytes off the front of c, counted as forwarded. */
static void drop(struct audit *au, struct buf *c, size_t n)
{
	memmove(c->data, c->data + n, c->len - n);
	c->len -= n;
	c->data[c->len] = '\0';
	au->sent += (off_t)n;
}

/* forward_chunk - publish the whole lines at the front of c, dropping each one sent; 1 when a publication failed. */
static int forward_chunk(struct audit *au, struct bus *b, const char *subject, struct buf *c,
			 int *n_sent)
{
	const char *nl;

	while (c->len && (nl = memchr(c->data, '\n', c->len)) != NULL) {
		size_t len = (size_t)(nl - c->data);

		/* an empty line (the end of one a crash cut short) is skipped */
		if (len > 0 && publish_line(b, subject, c->data, len) < 0)
			return 1;
		if (len > 0)
			(*n_sent)++;
		drop(au, c, len + 1);
	}
	return 0;
}

/* forward_locked - publish from au->sent to the end; the number sent, or -errno. */
static int forward_locked(struct audit *au, struct bus *b, const char *subject)
{
	struct buf c;
	bool skip = false;
	int rfd, n_sent = 0, r = 0;

	if (!b || !bus_connected(b) || au->sent >= au->size)
		return 0;
	rfd = open(au->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (rfd < 0)
		return -errno;
	buf_init(&c, AUDIT_LINE_MAX + AUDIT_CHUNK);
	while (au->sent + (off_t)c.len < au->size) {
		off_t at = au->sent + (off_t)c.len;
		size_t want =
			au->size - at < (off_t)AUDIT_CHUNK ? (size_t)(au->size - at) : AUDIT_CHUNK;
		char *chunk = xcalloc(1, want);
		ssize_t n = pread(rfd, chunk, want, at);
		const char *nl;

		if (n > 0)
			buf_add(&c, chunk, (size_t)n);
		free(chunk);
		if (n <= 0)
			break;
		if (skip && (nl = memchr(c.data, '\n', c.len)) != NULL) {
			drop(au, &c, (size_t)(nl - c.data) + 1);
			skip = false;
		}
		if (!skip && forward_chunk(au, b, subject, &c, &n_sent)) {
			r = -ENOTCONN;
			break;
		}
		if (c.len > AUDIT_LINE_MAX) {
			/* no newline in a megabyte: not a line of ours; skip to the next one */
			drop(au, &c, c.len);
			skip = true;
		} else if (skip) {
			drop(au, &c, c.len);
		}
	}
	buf_free(&c);
	close(rfd);
	save_sent(au);
	return r < 0 && n_sent == 0 ? r : n_sent;
}

int audit_write(struct audit *au, struct bus *b, const char *subject, const json_t *rec,
		struct tend_err *err)
{
	char *text = json_dumps(rec, JSON_COMPACT);
	size_t len, done = 0;
	off_t start;
	int r = 0;

	if (!text)
		return err_set(err, -ENOMEM, "the audit record cannot be written as JSON");
	len = strlen(text);
	pthread_mutex_lock(&au->mu);
	r = follow_rotation(au);
	if (r < 0) {
		err_set(err, r, "cannot open %s: %s", au->path, strerror(-r));
		goto out;
	}
	start = au->size;
	{
		/* one write of the line and its newline: lines of other writers never interleave */
		char *line = xrealloc(text, len + 2);

		text = line;
		line[len] = '\n';
		line[len + 1] = '\0';
	}
	while (done < len + 1) {
		ssize_t n = write(au->fd, text + done, len + 1 - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = err_set(err, n < 0 ? -errno : -EIO, "cannot write %s: %s", au->path,
				    n < 0 ? strerror(errno) : "short write");
			break;
		}
		done += (size_t)n;
	}
	au->size = start + (off_t)done;
	if (r < 0)
		goto out;
	if (au->sent == start && b && bus_connected(b)) {
		if (publish_line(b, subject, text, len) == 0) {
			au->sent = au->size;
			save_sent(au);
		}
	} else if (au->sent < start) {
		forward_locked(au, b, subject); /* older lines first, this one with them */
	}
out:
	pthread_mutex_unlock(&au->mu);
	free(text);
	return r;
}

int audit_forward(struct audit *au, struct bus *b, const char *subject)
{
	int r;

	pthread_mutex_lock(&au->mu);
	r = follow_rotation(au);
	if (r == 0)
		r = forward_locked(au, b, subject);
	pthread_mutex_unlock(&au->mu);
	return r;
}
