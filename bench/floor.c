/*
 * floor.c - the benchmark's floor: the least a configuration tool must do
 * to confirm that a tree is already right, with nothing else.
 *
 *   floor PATHLIST
 *
 * PATHLIST (written by bench/gen.py) holds one resource a line: "d PATH"
 * for a directory, "f PATH" for a regular file.  For a directory the floor
 * lstat()s the path; for a file it opens it, fstat()s it and reads it to
 * the end.  It compares nothing and parses nothing but its list.  Exit 0
 * when every path could be looked at, 1 (naming the first failure) when one
 * could not, 2 on a usage or list error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIST_MAX (256L << 20)

static char *read_all(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > LIST_MAX)
		goto fail;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		goto fail;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0) {
			free(buf);
			goto fail;
		}
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*len = got;
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int look_file(const char *path, char *buf, size_t bufsz)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	do
		n = read(fd, buf, bufsz);
	while (n > 0);
	close(fd);
	return n < 0 ? -EIO : 0;
}

int main(int argc, char **argv)
{
	static char buf[65536];
	size_t len, count = 0;
	char *list, *line, *next;

	if (argc != 2) {
		fprintf(stderr, "usage: floor PATHLIST\n");
		return 2;
	}
	list = read_all(argv[1], &len);
	if (!list) {
		fprintf(stderr, "floor: %s: cannot read\n", argv[1]);
		return 2;
	}
	for (line = list; line < list + len; line = next) {
		struct stat st;
		int r = 0;

		next = strchr(line, '\n');
		next = next ? next + 1 : list + len;
		if (next[-1] == '\n')
			next[-1] = '\0';
		if (line[0] == '\0')
			continue;
		if (line[1] != ' ' || (line[0] != 'd' && line[0] != 'f')) {
			fprintf(stderr, "floor: bad list line: %s\n", line);
			free(list);
			return 2;
		}
		if (line[0] == 'd')
			r = lstat(line + 2, &st) < 0 ? -errno : (S_ISDIR(st.st_mode) ? 0 : -ENOTDIR);
		else
			r = look_file(line + 2, buf, sizeof(buf));
		if (r < 0) {
			fprintf(stderr, "floor: %s: %s\n", line + 2, strerror(-r));
			free(list);
			return 1;
		}
		count++;
	}
	printf("floor: looked at %zu paths\n", count);
	free(list);
	return 0;
}
