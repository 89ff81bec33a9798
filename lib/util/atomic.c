/*
 * atomic.c - crash-safe file replacement (see atomic.h).
 */
#include "util/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


int fsync_dir(int dirfd)
{
	if (fsync(dirfd) < 0 && errno != EINVAL && errno != EROFS)
		return -errno;
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * tmp_name - ".BASE.tend-new".  One fixed name per target: runs on a root
 * are serialised by its lock, so a name that already exists is a leftover
 * of a killed run, and the next write of the same file removes it.
 */
static void tmp_name(char *out, size_t n, const char *base)
{
	snprintf(out, n, ".%.200s.tend-new", base);
}

static int open_tmp(int dirfd, const char *base, mode_t mode, char *name, size_t n, int *named)
{
	int fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode & 0777);

	*named = 0;
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd < 0 ? -errno : fd;
	tmp_name(name, n, base);
	for (unsigned i = 0; i < 2; i++) {
		fd = openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode & 0777);
		if (fd >= 0) {
			*named = 1;
			return fd;
		}
		if (errno != EEXIST)
			return -errno;
		unlinkat(dirfd, name, 0); /* a leftover of a killed run */
	}
	return -EEXIST;
}

static int link_tmp(int dirfd, int fd, const char *base, char *name, size_t n)
{
	char proc[64];

	tmp_name(name, n, base);
	for (unsigned i = 0; i < 2; i++) {
		if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0)
			return 0;
		if (errno == ENOENT || errno == EPERM) {
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
			if (linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) == 0)
				return 0;
		}
		if (errno != EEXIST)
			return -errno;
		unlinkat(dirfd, name, 0); /* a leftover of a killed run */
	}
	return -EEXIST;
}

int atomic_write_at(int dirfd, const char *base, const void *data, size_t len,
		    mode_t mode, uid_t uid, gid_t gid)
{
	char name[256];
	int fd, named, r;

	fd = open_tmp(dirfd, base, mode, name, sizeof(name), &named);
	if (fd < 0)
		return fd;
	r = write_all(fd, data, len);
	if (r == 0 && (uid != ATOMIC_KEEP_OWNER || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0)
		r = -errno;
	if (r == 0 && fchmod(fd, mode & 07777) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && !named)
		r = link_tmp(dirfd, fd, base, name, sizeof(name));
	close(fd);
	if (r < 0) {
		if (named)
			unlinkat(dirfd, name, 0);
		return r;
	}
	if (renameat(dirfd, name, dirfd, base) < 0) {
		r = -errno;
		unlinkat(dirfd, name, 0);
		return r;
	}
	return fsync_dir(dirfd);
}

int atomic_stage_at(int dirfd, const char *base, const void *data, size_t len, mode_t mode,
		    uid_t uid, gid_t gid)
{
	char name[256];
	int fd, r;

	tmp_name(name, sizeof(name), base);
	fd = openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode & 0777);
	if (fd < 0 && errno == EEXIST) {
		unlinkat(dirfd, name, 0); /* a leftover of a killed run */
		fd = openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode & 0777);
	}
	if (fd < 0)
		return -errno;
	r = write_all(fd, data, len);
	if (r == 0 && (uid != ATOMIC_KEEP_OWNER || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0)
		r = -errno;
	/* the umask may have taken bits off: set the mode exactly */
	if (r == 0 && fchmod(fd, mode & 07777) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		unlinkat(dirfd, name, 0);
	return r;
}

int atomic_commit_at(int dirfd, const char *base)
{
	char name[256];

	tmp_name(name, sizeof(name), base);
	if (renameat(dirfd, name, dirfd, base) < 0) {
		int r = -errno;

		unlinkat(dirfd, name, 0);
		return r;
	}
	return 0;
}

void atomic_abort_at(int dirfd, const char *base)
{
	char name[256];

	tmp_name(name, sizeof(name), base);
	unlinkat(dirfd, name, 0);
}
