/*
 * facts_util.c - bounded readers and small helpers shared by the fact
 * collectors (see facts_int.h).
 *
 * Everything facts read is outside input: a /proc file can be huge on a big
 * machine, a root can hold a FIFO or a 10 GiB file where os-release should
 * be.  So every read is of a regular file, opened non-blocking, and stops
 * at a limit the caller chooses.
 */
#include "facts/facts_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/strutil.h"

int facts_read_fd(int fd, size_t max, struct buf *out)
{
	char chunk[16384];
	struct stat st;
	int ret = 0;

	buf_init(out, max);
	if (fstat(fd, &st) < 0)
		ret = -errno;
	else if (!S_ISREG(st.st_mode))
		ret = -EINVAL;
	while (ret == 0) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = -errno;
		else if (n == 0)
			break;
		else if (buf_add(out, chunk, (size_t)n) < 0)
			ret = -EFBIG;
	}
	close(fd);
	if (ret < 0)
		buf_free(out);
	return ret;
}

int facts_read_at(int dirfd, const char *rel, size_t max, struct buf *out)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	if (fd < 0) {
		buf_init(out, max);
		return -errno;
	}
	return facts_read_fd(fd, max, out);
}

int facts_read_root(const struct fsroot *root, const char *p, size_t max, struct buf *out)
{
	int fd = fsroot_open_path(root, p, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);

	if (fd < 0) {
		buf_init(out, max);
		return fd;
	}
	return facts_read_fd(fd, max, out);
}

int facts_attr_at(int dirfd, const char *rel, char *out, size_t n)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	ssize_t len;
	char *s;

	if (n == 0)
		return -EINVAL;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	do
		len = read(fd, out, n - 1);
	while (len < 0 && errno == EINTR);
	if (len < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	close(fd);
	out[len] = '\0';
	/* a value is its first line; binary junk ends it too */
	out[strcspn(out, "\n")] = '\0';
	s = facts_trim(out);
	len = (ssize_t)strlen(s);
	memmove(out, s, (size_t)len + 1);
	return (int)len;
}

char *facts_next_line(char **cur)
{
	char *line = *cur, *nl;

	if (!line || !*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*cur = nl + 1;
	} else {
		*cur = line + strlen(line);
	}
	return line;
}

char *facts_trim(char *s)
{
	size_t n;

	while (*s && isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

void facts_human(uint64_t bytes, char *out, size_t n)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(out, n, "%" PRIu64 " B", bytes);
		return;
	}
	v /= 1024.0;
	while (v >= 1023.95 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	snprintf(out, n, "%.1f %s", v, units[u]);
}

json_t *facts_string(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j)
		return j;
	/* not UTF-8 (a vendor string in Latin-1, say): keep the ASCII */
	copy = xstrdup(s);
	for (char *c = copy; *c; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

void facts_set_str(json_t *f, const char *key, const char *s)
{
	if (s && *s)
		json_object_set_new(f, key, facts_string(s));
}

json_t *facts_group(json_t *f, const char *key)
{
	json_t *g = json_object_get(f, key);

	if (!json_is_object(g)) {
		g = json_object();
		json_object_set_new(f, key, g);
	}
	return g;
}
