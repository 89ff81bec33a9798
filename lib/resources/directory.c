/*
 * directory.c - the `directory` resource type: a directory's presence,
 * mode, owner and group; parents: true creates missing parents (0755).
 * Removing a non-empty directory needs force: true (then the whole tree
 * beneath it is removed, never following symlinks).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resources/common.h"
#include "resources/registry.h"
#include "util/atomic.h"
#include "util/fsroot.h"
#include "util/strutil.h"

struct dir_desired {
	int ensure;
	int mode;
	char *owner;
	char *group;
	int parents;
	int force;
};

struct dir_state {
	bool exists, is_dir, no_parent;
	struct stat st;
	uid_t uid;
	gid_t gid;
	bool ids_known;
};

#define D(r) RES_DESIRED(r, struct dir_desired)
#define S(r) RES_STATE(r, struct dir_state)

static const struct res_attr dir_attrs[] = {
	{ "ensure", ATTR_ENUM, offsetof(struct dir_desired, ensure), 0, "present", res_ensure_choices,
	  "present: the directory exists; absent: it does not" },
	{ "mode", ATTR_MODE, offsetof(struct dir_desired, mode), 0, NULL, NULL,
	  "permission bits, octal (\"0755\"); new directories get 0755" },
	{ "owner", ATTR_STRING, offsetof(struct dir_desired, owner), 0, NULL, NULL, "user name or uid" },
	{ "group", ATTR_STRING, offsetof(struct dir_desired, group), 0, NULL, NULL, "group name or gid" },
	{ "parents", ATTR_BOOL, offsetof(struct dir_desired, parents), 0, "false", NULL,
	  "create missing parent directories (0755, root)" },
	{ "force", ATTR_BOOL, offsetof(struct dir_desired, force), 0, "false", NULL,
	  "with ensure: absent, remove a non-empty directory and everything in it" },
	{ NULL },
};

static int dir_probe(struct resource *r, struct res_ctx *ctx)
{
	struct dir_desired *d = D(r);
	struct dir_state *s = S(r);
	const char *base;
	int dirfd, ret;

	memset(s, 0, sizeof(*s));
	if (!strcmp(r->name, "/")) {
		if (fstat(ctx->root->fd, &s->st) < 0)
			return res_fail(r, "stat /: %s", strerror(errno));
		s->exists = s->is_dir = true;
	} else {
		ret = fsroot_parent(ctx->root, r->name, &dirfd, &base);
		if (ret == -ENOTDIR)
			return res_fail(r, "a parent of %s is not a directory", r->name);
		if (ret == -ENOENT) {
			s->no_parent = true;
		} else if (ret < 0) {
			return res_fail(r, "cannot open the parent of %s: %s", r->name, strerror(-ret));
		} else if (fstatat(dirfd, base, &s->st, AT_SYMLINK_NOFOLLOW) == 0) {
			s->exists = true;
			s->is_dir = S_ISDIR(s->st.st_mode);
		} else if (errno != ENOENT) {
			return res_fail(r, "cannot stat %s: %s", r->name, strerror(errno));
		}
	}
	s->ids_known = res_resolve_owner(r, ctx, d->owner, d->group, &s->uid, &s->gid) == 0;
	return s->ids_known || r->status == RES_UNKNOWN ? 0 : -ENOENT;
}

static int dir_diff(struct resource *r, struct res_ctx *ctx)
{
	struct dir_desired *d = D(r);
	struct dir_state *s = S(r);

	if (d->ensure == ENSURE_ABSENT) {
		if (s->exists)
			res_change(r, "ensure", s->is_dir ? "directory" : "not a directory", "absent");
		return 0;
	}
	if (s->no_parent && d->parents != 1 && res_no_parent_unknown(r, ctx, r->name))
		return 0;
	if (!s->exists) {
		res_change(r, "ensure", "absent", "directory");
		return 0;
	}
	if (!s->is_dir) {
		res_change(r, "ensure", "not a directory", "directory");
		return 0;
	}
	if (s->ids_known)
		res_diff_meta(r, ctx, &s->st, s->uid, s->gid, d->mode);
	return 0;
}

/* remove_tree - remove everything beneath dirfd/name, then name itself. */
static int remove_tree(int dirfd, const char *name, int depth)
{
	DIR *dir;
	struct dirent *e;
	int fd, r = 0;

	if (depth > 256)
		return -ELOOP;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while (r == 0 && (e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(fd, e->d_name, 0) == 0)
			continue;
		if (errno == EISDIR || errno == EPERM)
			r = remove_tree(fd, e->d_name, depth + 1);
		else if (errno != ENOENT)
			r = -errno;
	}
	closedir(dir);
	if (r == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
		r = -errno;
	return r;
}

static int mkdir_parents(struct resource *r, struct res_ctx *ctx, const char *path)
{
	char *p = xstrdup(path);
	int ret = 0;

	for (char *c = p + 1; *c && ret == 0; c++) {
		const char *base;
		int dirfd;

		if (*c != '/')
			continue;
		*c = '\0';
		ret = fsroot_parent(ctx->root, p, &dirfd, &base);
		if (ret == 0 && mkdirat(dirfd, base, 0755) == 0) {
			/* mkdir is subject to the umask; parents are documented as 0755 */
			if (fchmodat(dirfd, base, 0755, 0) < 0)
				ret = -errno;
			else
				ret = res_sync_dir(ctx, dirfd);
		} else if (ret == 0 && errno != EEXIST) {
			ret = -errno;
		}
		*c = '/';
	}
	free(p);
	if (ret < 0)
		return res_fail(r, "cannot create the parents of %s: %s", path, strerror(-ret));
	return 0;
}

static int dir_apply(struct resource *r, struct res_ctx *ctx)
{
	struct dir_desired *d = D(r);
	struct dir_state *s = S(r);
	const char *base;
	int dirfd, ret;

	if (s->no_parent && d->ensure == ENSURE_PRESENT) {
		if (d->parents != 1)
			return res_fail(r, "the parent of %s does not exist (set parents: true to create it)",
					r->name);
		if ((ret = mkdir_parents(r, ctx, r->name)) < 0)
			return ret;
	}
	ret = fsroot_parent(ctx->root, r->name, &dirfd, &base);
	if (ret < 0)
		return res_fail(r, "the parent of %s: %s", r->name, strerror(-ret));
	if (d->ensure == ENSURE_ABSENT) {
		if (!s->is_dir)
			return res_fail(r, "%s is not a directory; refusing to remove it", r->name);
		if (unlinkat(dirfd, base, AT_REMOVEDIR) < 0) {
			if ((errno != ENOTEMPTY && errno != EEXIST) || d->force != 1)
				return res_fail(r, "cannot remove %s: %s%s", r->name, strerror(errno),
						errno == ENOTEMPTY ? " (set force: true to remove its contents)" : "");
			ret = fsroot_parent(ctx->root, r->name, &dirfd, &base);
			if (ret == 0)
				ret = remove_tree(dirfd, base, 0);
			fsroot_forget(ctx->root);
			if (ret < 0)
				return res_fail(r, "cannot remove %s: %s", r->name, strerror(-ret));
		}
		/* cached parents beneath the removed directory are gone */
		fsroot_forget(ctx->root);
		return 0;
	}
	if (s->exists && !s->is_dir)
		return res_fail(r, "%s exists and is not a directory; refusing to replace it", r->name);
	if (!s->exists) {
		if (mkdirat(dirfd, base, d->mode >= 0 ? (mode_t)d->mode : 0755) < 0 && errno != EEXIST)
			return res_fail(r, "cannot create %s: %s", r->name, strerror(errno));
		res_sync_dir(ctx, dirfd);
		/* mkdir is subject to the umask: always set the mode explicitly */
		return res_fix_meta(r, dirfd, base, s->uid, s->gid, d->mode >= 0 ? d->mode : 0755);
	}
	return res_fix_meta(r, dirfd, base, s->uid, s->gid, d->mode);
}

static void dir_autorequire(struct resource *r, void (*add)(void *arg, const char *id), void *arg)
{
	res_autorequire_path(r->name, D(r)->owner, D(r)->group, add, arg);
}

const struct res_type res_type_directory = {
	.name = "directory",
	.doc = "a directory: presence, mode, owner and group",
	.attrs = dir_attrs,
	.desired_size = sizeof(struct dir_desired),
	.state_size = sizeof(struct dir_state),
	.name_is_path = true,
	.verify = true,
	.staging_ok = true,
	.probe = dir_probe,
	.diff = dir_diff,
	.apply = dir_apply,
	.autorequire = dir_autorequire,
};
