/*
 * fsroot.h - resolving managed paths beneath a root directory.
 *
 * Everything tend manages lives under a root (--root DIR, "/" by default).
 * Paths are resolved with openat2(RESOLVE_IN_ROOT): ".." and absolute
 * symlinks stay inside the root, so an image or chroot is managed exactly
 * as its own processes would see it and nothing escapes to the host.
 * Operations on the final component use *at() calls on the parent's fd.
 */
#ifndef TEND_FSROOT_H
#define TEND_FSROOT_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/err.h"

struct fsroot {
	int fd;            /* O_PATH|O_DIRECTORY fd of the root */
	char *path;        /* as given, without trailing slash ("" for "/") */
	/* one-entry cache of the last parent directory opened */
	char *cache_dir;
	int cache_fd;
};

/* fsroot_open - open DIR as the root.  r is set only on success. */
int fsroot_open(struct fsroot *r, const char *dir, struct tend_err *err);
void fsroot_close(struct fsroot *r);

/*
 * fsroot_path_ok - whether p is absolute and normalised: starts with '/',
 * no empty, "." or ".." components, no trailing '/' (except "/" itself).
 */
bool fsroot_path_ok(const char *p);

/*
 * fsroot_parent - the directory fd holding absolute path p, and p's last
 * component.  The fd belongs to r (do not close it); it stays valid until
 * the next fsroot_* call that changes directories or fsroot_forget().
 * -ENOENT / -ENOTDIR when a parent is missing or not a directory.
 */
int fsroot_parent(struct fsroot *r, const char *p, int *ret_dirfd, const char **ret_base);

/* fsroot_forget - drop the cached parent (after removing/renaming directories). */
void fsroot_forget(struct fsroot *r);

/*
 * fsroot_open_path - openat2(root, p, flags|O_CLOEXEC, mode) resolved in the
 * root.  Returns the fd or -errno.  Symlinks in the final component are
 * followed unless flags has O_NOFOLLOW.
 */
int fsroot_open_path(const struct fsroot *r, const char *p, int flags, mode_t mode);

/*
 * fsroot_host_path - the host path of p (root prefix + p), malloc'd, for
 * messages and for commands that need a path string.
 */
char *fsroot_host_path(const struct fsroot *r, const char *p);

/*
 * fsroot_fd_path - the path inside the root of the file open as fd, as the
 * kernel resolved it (through symlinks).  Compared with the root's own
 * resolved path, so a relative or symlinked --root works.  -EXDEV when fd
 * is not beneath the root.  *ret is malloc'd.
 */
int fsroot_fd_path(const struct fsroot *r, int fd, char **ret);

/* fsroot_is_host - whether the root is the host's "/". */
bool fsroot_is_host(const struct fsroot *r);

#endif
