/*
 * common.h - what the file-family types (file, directory, symlink, line)
 * share: reading files beneath the root, owner/group/mode probing and
 * fixing, parent-directory autorequires.
 */
#ifndef TEND_RES_COMMON_H
#define TEND_RES_COMMON_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "model/resource.h"
#include "util/buf.h"

#define RES_FILE_MAX ((size_t)256 << 20)

/* ensure values shared by file-family types: index into res_ensure_choices */
enum { ENSURE_PRESENT = 0, ENSURE_ABSENT = 1 };
extern const char *const res_ensure_choices[];

/*
 * res_read_at - read dirfd/base (not following a final symlink) into out,
 * at most max bytes.  0, -ENOENT, -ELOOP (a symlink), -EISDIR, -EFBIG, ...
 * st gets the file's stat.
 */
int res_read_at(int dirfd, const char *base, size_t max, struct buf *out, struct stat *st);

/* res_read_fd - the same for an open fd (not closed). */
int res_read_fd(int fd, size_t max, struct buf *out, struct stat *st);

/*
 * res_resolve_owner - owner/group names or numbers to ids inside the root;
 * a NULL name gives (uid_t)-1 / (gid_t)-1.  An unknown name fails with a
 * message on r (res_fail) in apply, or res_unknown in plan (a user or
 * group resource in this run may create it); -ENOENT then.
 */
int res_resolve_owner(struct resource *r, struct res_ctx *ctx, const char *owner,
		      const char *group, uid_t *ret_uid, gid_t *ret_gid);

/*
 * res_diff_meta - record owner/group/mode changes of st against the
 * desired ids (-1: unmanaged) and mode (-1: unmanaged).
 */
void res_diff_meta(struct resource *r, struct res_ctx *ctx, const struct stat *st, uid_t uid,
		   gid_t gid, int mode);

/* res_fix_meta - apply owner/group/mode to dirfd/base (no symlink follow). */
int res_fix_meta(struct resource *r, int dirfd, const char *base, uid_t uid, gid_t gid, int mode);

/* res_autorequire_path - offer directory:/a and directory:/a/b for /a/b/c,
 * and user:OWNER, group:GROUP when given. */
void res_autorequire_path(const char *path, const char *owner, const char *group,
			  void (*add)(void *arg, const char *id), void *arg);

/*
 * res_dep_pending - whether r depends on the resource id and the plan has
 * it changing (or unknown): what it creates cannot be seen by probing yet.
 */
bool res_dep_pending(const struct resource *r, const char *id);

/*
 * res_no_parent - the parent directory of path is missing.  In a plan,
 * when no resource this one depends on will create it, say so (unknown)
 * and return true: the plan must not promise a creation apply cannot do.
 */
bool res_no_parent_unknown(struct resource *r, struct res_ctx *ctx, const char *path);

/*
 * res_write_file - replace path (dirfd/base inside the root) with data,
 * atomically.  When the engine batches writes (ctx->stager), the content
 * is staged and r completes when the batch is committed (one syncfs for
 * many files); otherwise it is written and fsync'd at once.  0 or -errno.
 */
/*
 * res_sync_dir - make a change to directory dirfd's entries durable: with
 * the engine's batch commit when it batches (one syncfs per filesystem
 * for the whole batch), else fsync now.  0 or -errno.
 */
int res_sync_dir(struct res_ctx *ctx, int dirfd);

int res_write_file(struct resource *r, struct res_ctx *ctx, const char *path, int dirfd,
		   const char *base, const void *data, size_t len, mode_t mode, uid_t uid, gid_t gid);

/* res_mode_str - "0644" into a 8-byte buffer. */
const char *res_mode_str(unsigned mode, char out[8]);

/* res_owner_name - "root" or the number, for messages (static buffer per call site). */
void res_owner_str(struct res_ctx *ctx, uid_t uid, char *out, size_t n);
void res_group_str(struct res_ctx *ctx, gid_t gid, char *out, size_t n);

#endif
