/*
 * symlink.c - the `symlink` resource type: a symbolic link and its target.
 * A wrong link is replaced atomically (new link under a temporary name,
 * renamed over the old); a file or directory in the way is refused unless
 * force: true.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resources/common.h"
#include "resources/registry.h"
#include "util/atomic.h"
#include "util/fsroot.h"
#include "util/strutil.h"

struct link_desired {
	int ensure;
	char *target;
	int force;
};

struct link_state {
	bool exists, is_link, is_dir, no_parent;
	char target[4096];
};

#define D(r) RES_DESIRED(r, struct link_desired)
#define S(r) RES_STATE(r, struct link_state)

static const struct res_attr link_attrs[] = {
	{ "ensure", ATTR_ENUM, offsetof(struct link_desired, ensure), 0, "present", res_ensure_choices,
	  "present: the link exists and points to target; absent: no link" },
	{ "target", ATTR_STRING, offsetof(struct link_desired, target), 0, NULL, NULL,
	  "what the link points to, written as given (absolute or relative)" },
	{ "force", ATTR_BOOL, offsetof(struct link_desired, force), 0, "false", NULL,
	  "replace a regular file or an empty directory in the way" },
	{ NULL },
};

static int link_check(struct resource *r, struct res_ctx *ctx, struct tend_err *err)
{
	struct link_desired *d = D(r);

	(void)ctx;
	if (d->ensure == ENSURE_PRESENT && (!d->target || !*d->target))
		return res_err_attr(r, err, NULL, "%s needs 'target'", r->id);
	if (d->target && strlen(d->target) >= sizeof(((struct link_state *)0)->target))
		return res_err_attr(r, err, "target", "%s: target is too long", r->id);
	return 0;
}

static int link_probe(struct resource *r, struct res_ctx *ctx)
{
	struct link_state *s = S(r);
	struct stat st;
	const char *base;
	int dirfd, ret;
	ssize_t n;

	memset(s, 0, sizeof(*s));
	ret = fsroot_parent(ctx->root, r->name, &dirfd, &base);
	if (ret == -ENOTDIR)
		return res_fail(r, "a parent of %s is not a directory", r->name);
	if (ret == -ENOENT) {
		s->no_parent = true;
		return 0;
	}
	if (ret < 0)
		return res_fail(r, "cannot open the parent of %s: %s", r->name, strerror(-ret));
	n = readlinkat(dirfd, base, s->target, sizeof(s->target) - 1);
	if (n >= 0) {
		s->target[n] = '\0';
		s->exists = s->is_link = true;
		return 0;
	}
	if (errno == ENOENT)
		return 0;
	if (errno != EINVAL)
		return res_fail(r, "cannot read %s: %s", r->name, strerror(errno));
	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		s->exists = true;
		s->is_dir = S_ISDIR(st.st_mode);
	}
	return 0;
}

static int link_diff(struct resource *r, struct res_ctx *ctx)
{
	struct link_desired *d = D(r);
	struct link_state *s = S(r);

	if (d->ensure == ENSURE_ABSENT) {
		if (s->is_link)
			res_change(r, "ensure", "symlink", "absent");
		return 0;
	}
	if (s->no_parent && res_no_parent_unknown(r, ctx, r->name))
		return 0;
	if (!s->exists)
		res_change(r, "ensure", "absent", "symlink");
	else if (!s->is_link && d->force != 1)
		return res_fail(r, "%s is a %s; set force: true to replace it with a symlink", r->name,
				s->is_dir ? "directory" : "file");
	else if (!s->is_link)
		res_change(r, "ensure", s->is_dir ? "directory" : "file", "symlink");
	else if (strcmp(s->target, d->target))
		res_change(r, "target", s->target, d->target);
	return 0;
}

static int link_apply(struct resource *r, struct res_ctx *ctx)
{
	struct link_desired *d = D(r);
	struct link_state *s = S(r);
	const char *base;
	char tmp[300];
	int dirfd, ret;

	ret = fsroot_parent(ctx->root, r->name, &dirfd, &base);
	if (ret < 0)
		return res_fail(r, "the parent of %s: %s", r->name, strerror(-ret));
	if (d->ensure == ENSURE_ABSENT) {
		if (unlinkat(dirfd, base, 0) < 0 && errno != ENOENT)
			return res_fail(r, "cannot remove %s: %s", r->name, strerror(errno));
		return res_sync_dir(ctx, dirfd);
	}
	if (s->exists && !s->is_link) {
		if (d->force != 1)
			return res_fail(r, "%s is a %s; set force: true to replace it with a symlink", r->name,
					s->is_dir ? "directory" : "file");
		if (unlinkat(dirfd, base, s->is_dir ? AT_REMOVEDIR : 0) < 0)
			return res_fail(r, "cannot remove %s: %s", r->name, strerror(errno));
	}
	snprintf(tmp, sizeof(tmp), ".%.200s.tend-link-%d", base, (int)getpid());
	unlinkat(dirfd, tmp, 0);
	if (symlinkat(d->target, dirfd, tmp) < 0)
		return res_fail(r, "cannot create %s: %s", r->name, strerror(errno));
	if (renameat(dirfd, tmp, dirfd, base) < 0) {
		ret = errno;
		unlinkat(dirfd, tmp, 0);
		return res_fail(r, "cannot create %s: %s", r->name, strerror(ret));
	}
	return res_sync_dir(ctx, dirfd);
}

static void link_autorequire(struct resource *r, void (*add)(void *arg, const char *id), void *arg)
{
	res_autorequire_path(r->name, NULL, NULL, add, arg);
}

const struct res_type res_type_symlink = {
	.name = "symlink",
	.doc = "a symbolic link pointing at target",
	.attrs = link_attrs,
	.desired_size = sizeof(struct link_desired),
	.state_size = sizeof(struct link_state),
	.name_is_path = true,
	.verify = true,
	.check = link_check,
	.probe = link_probe,
	.diff = link_diff,
	.apply = link_apply,
	.autorequire = link_autorequire,
};
