/*
 * fsroot.c - path resolution beneath a managed root (see fsroot.h).
 */
#include "util/fsroot.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/strutil.h"

static int sys_openat2(int dirfd, const char *p, struct open_how *how)
{
	return (int)syscall(SYS_openat2, dirfd, p, how, sizeof(*how));
}

int fsroot_open(struct fsroot *r, const char *dir, struct tend_err *err)
{
	size_t n = strlen(dir);
	int fd;

	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "root %s: %s", dir, strerror(errno));
	r->fd = fd;
	while (n > 1 && dir[n - 1] == '/')
		n--;
	r->path = strndup(dir, n);
	if (!strcmp(r->path, "/"))
		r->path[0] = '\0';
	r->cache_dir = NULL;
	r->cache_fd = -1;
	return 0;
}

void fsroot_forget(struct fsroot *r)
{
	if (r->cache_fd >= 0)
		close(r->cache_fd);
	free(r->cache_dir);
	r->cache_dir = NULL;
	r->cache_fd = -1;
}

void fsroot_close(struct fsroot *r)
{
	if (!r)
		return;
	fsroot_forget(r);
	if (r->fd >= 0)
		close(r->fd);
	free(r->path);
	r->fd = -1;
	r->path = NULL;
}

bool fsroot_path_ok(const char *p)
{
	const char *c;

	if (!p || p[0] != '/')
		return false;
	if (!strcmp(p, "/"))
		return true;
	for (c = p; *c;) {
		const char *next;
		size_t n;

		c++; /* skip '/' */
		next = strchr(c, '/');
		n = next ? (size_t)(next - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (!next)
			break;
		c = next;
	}
	return true;
}

int fsroot_open_path(const struct fsroot *r, const char *p, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	const char *rel = p;
	int fd;

	while (*rel == '/')
		rel++;
	if (!*rel)
		rel = ".";
	fd = sys_openat2(r->fd, rel, &how);
	return fd < 0 ? -errno : fd;
}

int fsroot_parent(struct fsroot *r, const char *p, int *ret_dirfd, const char **ret_base)
{
	const char *slash = strrchr(p, '/');
	size_t dlen;
	char *dir;
	int fd;

	if (!slash || !slash[1])
		return -EINVAL;
	dlen = (size_t)(slash - p);
	if (dlen == 0)
		dlen = 1; /* parent is "/" */
	if (r->cache_dir && strlen(r->cache_dir) == dlen && !memcmp(r->cache_dir, p, dlen)) {
		*ret_dirfd = r->cache_fd;
		*ret_base = slash + 1;
		return 0;
	}
	dir = strndup(p, dlen);
	if (!dir)
		return -ENOMEM;
	fd = fsroot_open_path(r, dir, O_DIRECTORY | O_RDONLY, 0);
	if (fd < 0) {
		free(dir);
		return fd;
	}
	fsroot_forget(r);
	r->cache_dir = dir;
	r->cache_fd = fd;
	*ret_dirfd = fd;
	*ret_base = slash + 1;
	return 0;
}

char *fsroot_host_path(const struct fsroot *r, const char *p)
{
	size_t a = strlen(r->path), b = strlen(p);
	char *s = xcalloc(1, a + b + 1);

	memcpy(s, r->path, a);
	memcpy(s + a, p, b);
	return s;
}

bool fsroot_is_host(const struct fsroot *r)
{
	return r->path[0] == '\0';
}

static int fd_host_path(int fd, char *out, size_t n)
{
	char proc[64];
	ssize_t len;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	len = readlink(proc, out, n - 1);
	if (len < 0)
		return -errno;
	if ((size_t)len >= n - 1)
		return -ENAMETOOLONG;
	out[len] = '\0';
	return 0;
}

int fsroot_fd_path(const struct fsroot *r, int fd, char **ret)
{
	char root[4096], host[4096];
	size_t rl;
	int e;

	if ((e = fd_host_path(r->fd, root, sizeof(root))) < 0 ||
	    (e = fd_host_path(fd, host, sizeof(host))) < 0)
		return e;
	if (!strcmp(root, "/"))
		root[0] = '\0';
	rl = strlen(root);
	if (strncmp(host, root, rl) || (host[rl] != '/' && host[rl] != '\0'))
		return -EXDEV;
	*ret = xstrdup(host[rl] ? host + rl : "/");
	return 0;
}
