/*
 * common.c - helpers shared by the file-family resource types (see common.h).
 */
#include "resources/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "model/catalog.h"
#include "resources/registry.h"
#include "util/atomic.h"
#include "util/fsroot.h"
#include "util/strutil.h"
#include "util/userdb.h"

const char *const res_ensure_choices[] = { "present", "absent", NULL };

int res_read_fd(int fd, size_t max, struct buf *out, struct stat *st)
{
	char chunk[65536];

	if (fstat(fd, st) < 0)
		return -errno;
	if (!S_ISREG(st->st_mode))
		return S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
	if ((size_t)st->st_size > max)
		return -EFBIG;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : 0;
		if (buf_add(out, chunk, (size_t)n) < 0)
			return -EFBIG;
	}
}

int res_read_at(int dirfd, const char *base, size_t max, struct buf *out, struct stat *st)
{
	int r, fd = openat(dirfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	r = res_read_fd(fd, max, out, st);
	close(fd);
	return r;
}

int res_resolve_owner(struct resource *r, struct res_ctx *ctx, const char *owner,
		      const char *group, uid_t *ret_uid, gid_t *ret_gid)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	if (owner && userdb_resolve_user(ctx->users, ctx->root, owner, &uid) < 0) {
		if (ctx->plan) {
			res_unknown(r, "user '%s' does not exist in the root (yet)", owner);
			return -ENOENT;
		}
		return res_fail(r, "user '%s' does not exist in %s/etc/passwd", owner, ctx->root->path);
	}
	if (group && userdb_resolve_group(ctx->users, ctx->root, group, &gid) < 0) {
		if (ctx->plan) {
			res_unknown(r, "group '%s' does not exist in the root (yet)", group);
			return -ENOENT;
		}
		return res_fail(r, "group '%s' does not exist in %s/etc/group", group, ctx->root->path);
	}
	*ret_uid = uid;
	*ret_gid = gid;
	return 0;
}

const char *res_mode_str(unsigned mode, char out[8])
{
	snprintf(out, 8, "%04o", mode & 07777);
	return out;
}

void res_owner_str(struct res_ctx *ctx, uid_t uid, char *out, size_t n)
{
	const struct userdb_ent *e = userdb_user_by_id(ctx->users, ctx->root, uid);

	if (e)
		snprintf(out, n, "%s", e->name);
	else
		snprintf(out, n, "%u", (unsigned)uid);
}

void res_group_str(struct res_ctx *ctx, gid_t gid, char *out, size_t n)
{
	const struct userdb_ent *e = userdb_group_by_id(ctx->users, ctx->root, gid);

	if (e)
		snprintf(out, n, "%s", e->name);
	else
		snprintf(out, n, "%u", (unsigned)gid);
}

void res_diff_meta(struct resource *r, struct res_ctx *ctx, const struct stat *st, uid_t uid,
		   gid_t gid, int mode)
{
	char a[64], b[64];

	if (uid != (uid_t)-1 && st->st_uid != uid) {
		res_owner_str(ctx, st->st_uid, a, sizeof(a));
		res_owner_str(ctx, uid, b, sizeof(b));
		res_change(r, "owner", a, b);
	}
	if (gid != (gid_t)-1 && st->st_gid != gid) {
		res_group_str(ctx, st->st_gid, a, sizeof(a));
		res_group_str(ctx, gid, b, sizeof(b));
		res_change(r, "group", a, b);
	}
	if (mode >= 0 && (st->st_mode & 07777) != (unsigned)mode) {
		char ma[8], mb[8];

		res_change(r, "mode", res_mode_str(st->st_mode, ma), res_mode_str((unsigned)mode, mb));
	}
}

int res_fix_meta(struct resource *r, int dirfd, const char *base, uid_t uid, gid_t gid, int mode)
{
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchownat(dirfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return res_fail(r, "chown: %s", strerror(errno));
	/* chown may clear setuid bits: set the mode afterwards */
	if (mode >= 0 && fchmodat(dirfd, base, (mode_t)mode, 0) < 0)
		return res_fail(r, "chmod: %s", strerror(errno));
	return 0;
}

void res_autorequire_path(const char *path, const char *owner, const char *group,
			  void (*add)(void *arg, const char *id), void *arg)
{
	char id[4096 + 16];
	size_t n = strlen(path);

	while (n > 1) {
		while (n > 0 && path[n - 1] != '/')
			n--;
		if (n > 1)
			n--; /* drop the slash */
		if (n == 0 || n > 4096)
			break;
		snprintf(id, sizeof(id), "directory:%.*s", (int)n, path);
		add(arg, id);
		if (n == 1)
			break;
	}
	if (owner) {
		snprintf(id, sizeof(id), "user:%s", owner);
		add(arg, id);
	}
	if (group) {
		snprintf(id, sizeof(id), "group:%s", group);
		add(arg, id);
	}
}

bool res_dep_pending(const struct resource *r, const char *id)
{
	for (size_t i = 0; i < r->ndeps; i++) {
		const struct resource *d = r->deps[i];

		if (!strcmp(d->id, id))
			return d->status == RES_CHANGE || d->status == RES_UNKNOWN ||
			       d->status == RES_CHANGED;
	}
	return false;
}

bool res_no_parent_unknown(struct resource *r, struct res_ctx *ctx, const char *path)
{
	const char *slash = strrchr(path, '/');
	char id[4096 + 16];
	int n = slash ? (int)(slash - path) : 0;

	if (!ctx->plan)
		return false;
	snprintf(id, sizeof(id), "directory:%.*s", n ? n : 1, path);
	if (res_dep_pending(r, id))
		return false;
	/* a directory planned beneath the parent (parents: true) creates it too */
	for (size_t i = 0; ctx->cat && i < ctx->cat->n; i++) {
		const struct resource *o = ctx->cat->res[i];

		if (o->type == &res_type_directory && (o->status == RES_CHANGE || o->status == RES_UNKNOWN) &&
		    !strncmp(o->name, path, (size_t)n) && o->name[n] == '/')
			return false;
	}
	for (size_t i = 0; i < r->ndeps; i++) {
		const struct resource *d = r->deps[i];

		if (d->status == RES_CHANGE || d->status == RES_UNKNOWN) {
			res_unknown(r, "the parent directory %.*s does not exist yet (%s, which this follows, changes first)",
				    n ? n : 1, path, d->id);
			return true;
		}
	}
	res_unknown(r, "the parent directory %.*s does not exist and nothing in this run creates it",
		    n ? n : 1, path);
	return true;
}

int res_sync_dir(struct res_ctx *ctx, int dirfd)
{
	if (ctx->stager && ctx->stager->dirty && ctx->stager->dirty(ctx->stager->arg, dirfd) == 0)
		return 0;
	return fsync_dir(dirfd) < 0 ? -errno : 0;
}

int res_write_file(struct resource *r, struct res_ctx *ctx, const char *path, int dirfd,
		   const char *base, const void *data, size_t len, mode_t mode, uid_t uid, gid_t gid)
{
	int ret;

	if (!ctx->stager || !r->type->staging_ok)
		return atomic_write_at(dirfd, base, data, len, mode, uid, gid);
	ret = atomic_stage_at(dirfd, base, data, len, mode, uid, gid);
	if (ret == 0 && (ret = ctx->stager->add(ctx->stager->arg, r, path, dirfd)) < 0) {
		/* the engine cannot take it (too many filesystems): write it at once */
		atomic_abort_at(dirfd, base);
		return atomic_write_at(dirfd, base, data, len, mode, uid, gid);
	}
	return ret;
}
