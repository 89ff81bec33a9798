/*
 * atomic.h - replacing a file so that no reader, and no crash, ever sees
 * it half-written.
 *
 * The new content is written to an unnamed O_TMPFILE inode in the target's
 * directory, given its mode and owner, fsync'd, linked under a temporary
 * name and renamed over the target; then the directory is fsync'd.  Killed
 * at any moment, the target holds the old bytes or the new ones; at worst
 * a ".NAME.tend-new" link remains, which atomic_write_at removes on the
 * next write of the same file.
 */
#ifndef TEND_ATOMIC_H
#define TEND_ATOMIC_H

#include <stddef.h>
#include <sys/types.h>

#define ATOMIC_KEEP_OWNER ((uid_t)-1)

/*
 * atomic_write_at - replace dirfd/base with len bytes of data, mode bits
 * mode, owner uid:gid (ATOMIC_KEEP_OWNER / (gid_t)-1 leave the creator's).
 * If base exists as a symlink, the link itself is replaced.  0 or -errno.
 */
int atomic_write_at(int dirfd, const char *base, const void *data, size_t len,
		    mode_t mode, uid_t uid, gid_t gid);

/*
 * Staged writes, for many files at once: atomic_stage_at writes the new
 * content to ".BASE.tend-new" beside the target (mode and owner set, no
 * fsync); the caller makes every staged file durable with one syncfs()
 * per filesystem, then atomic_commit_at renames each over its target, and
 * a second syncfs makes the renames durable.  Killed at any point, a
 * target is its old bytes or its new ones; a leftover ".BASE.tend-new"
 * is removed by the next write of that file.
 */
int atomic_stage_at(int dirfd, const char *base, const void *data, size_t len, mode_t mode,
		    uid_t uid, gid_t gid);
int atomic_commit_at(int dirfd, const char *base);
/* atomic_abort_at - remove a staged temp that will not be committed. */
void atomic_abort_at(int dirfd, const char *base);

/* fsync_dir - fsync a directory fd (ignores EINVAL on filesystems without). */
int fsync_dir(int dirfd);

#endif
