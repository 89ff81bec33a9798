/*
 * line.c - the `line` resource type: one line of a file present (replacing
 * the first line that matches `match`, else appended) or absent (every
 * line equal to the text, and every line matching `match`, removed).  The
 * resource's name is the line's text.
 *
 * The rest of the file is kept byte for byte: the edit works on whole
 * lines of the current content and the result is written with
 * atomic_write_at, keeping the file's mode, owner and group.  (Like every
 * atomic replacement this gives the file a new inode: hard links to it and
 * extended attributes other than the mode and owner are not carried over.)
 * A file that does not end in a newline gets one before an appended line.
 *
 * Unlike `file`, a symlink at the path is followed (inside the root): a
 * config file that is a link, such as /etc/resolv.conf, is edited where it
 * lives instead of being replaced by a regular file.  A symlink to nothing
 * is an error, never silently replaced.
 *
 * The file must exist unless create: true; in plan a missing file is
 * "unknown" (another resource may create it before this one runs).
 */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
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
#include "util/udiff.h"

struct line_desired {
	char *path;
	char *match;
	int ensure;
	int create;
	/* derived by check() */
	regex_t re;
	bool have_re;
};

enum line_where { LW_FILE, LW_MISSING, LW_NOPARENT, LW_DANGLING };

struct line_state {
	enum line_where where;
	char *target;            /* the file's path in the root (a symlink's target) */
	struct buf cur;          /* current content */
	struct stat st;
};

#define D(r) RES_DESIRED(r, struct line_desired)
#define S(r) RES_STATE(r, struct line_state)

static const struct res_attr line_attrs[] = {
	{ "path", ATTR_PATH, offsetof(struct line_desired, path), ATTR_REQUIRED, NULL, NULL,
	  "the file (absolute path in the root; a symlink is followed)" },
	{ "match", ATTR_STRING, offsetof(struct line_desired, match), ATTR_RAW, NULL, NULL,
	  "POSIX extended regex: the first matching line is replaced (present) or every matching "
	  "line removed (absent)" },
	{ "ensure", ATTR_ENUM, offsetof(struct line_desired, ensure), 0, "present", res_ensure_choices,
	  "present: the line is in the file; absent: it is not" },
	{ "create", ATTR_BOOL, offsetof(struct line_desired, create), 0, "false", NULL,
	  "create a missing file (0644) holding the line; otherwise a missing file is an error" },
	{ NULL },
};

static void line_free_desired(struct resource *r)
{
	struct line_desired *d = D(r);

	if (d->have_re)
		regfree(&d->re);
	d->have_re = false;
}

static int line_check(struct resource *r, struct res_ctx *ctx, struct tend_err *err)
{
	struct line_desired *d = D(r);
	char why[256];
	int ret;

	(void)ctx;
	line_free_desired(r);
	if (strchr(r->name, '\n'))
		return err_at(err, -EINVAL, r->pos.file, r->name_pos.line, r->name_pos.col,
			      "%s: the line must not contain a newline", r->id);
	if (!d->match)
		return 0;
	ret = regcomp(&d->re, d->match, REG_EXTENDED | REG_NOSUB);
	if (ret) {
		regerror(ret, &d->re, why, sizeof(why));
		return res_err_attr(r, err, "match", "match of %s is not a valid extended regex: %s",
				    r->id, why);
	}
	d->have_re = true;
	return 0;
}

/*
 * target_of - the path in the root of the file open as fd, reached through
 * path: path itself unless its last component is a symlink.
 */
static int target_of(struct res_ctx *ctx, const char *path, int fd, char **ret)
{
	const char *base;
	struct stat lst;
	int dirfd, r;

	r = fsroot_parent(ctx->root, path, &dirfd, &base);
	if (r < 0)
		return r;
	if (fstatat(dirfd, base, &lst, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISLNK(lst.st_mode)) {
		*ret = xstrdup(path);
		return 0;
	}
	return fsroot_fd_path(ctx->root, fd, ret);
}

/*
 * load - read the file at path (following a final symlink inside the
 * root) into out.  *where says whether it exists; *ret_target is where it
 * is (or would be created).  -errno when it cannot be read.
 */
static int load(struct res_ctx *ctx, const char *path, struct buf *out, struct stat *st,
		enum line_where *where, char **ret_target)
{
	const char *base;
	struct stat lst;
	int fd, dirfd, r;

	fd = fsroot_open_path(ctx->root, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
	if (fd == -ENOENT || fd == -ENOTDIR) {
		r = fsroot_parent(ctx->root, path, &dirfd, &base);
		if (r == -ENOENT || r == -ENOTDIR)
			*where = LW_NOPARENT;
		else if (r < 0)
			return r;
		else if (fstatat(dirfd, base, &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode))
			*where = LW_DANGLING;
		else
			*where = LW_MISSING;
		*ret_target = xstrdup(path);
		return 0;
	}
	if (fd < 0)
		return fd;
	r = res_read_fd(fd, RES_FILE_MAX, out, st);
	if (r == 0)
		r = target_of(ctx, path, fd, ret_target);
	close(fd);
	if (r == 0)
		*where = LW_FILE;
	return r;
}

static bool line_matches(const struct line_desired *d, const char *line, size_t len,
			 struct buf *scratch)
{
	buf_reset(scratch);
	if (buf_add(scratch, line, len) < 0)
		return false;
	return regexec(&d->re, buf_str(scratch), 0, NULL, 0) == 0;
}

/*
 * edit - the new content of a file holding old, and in *ret_from a copy
 * of the first line replaced or removed (NULL when none).  out equals old
 * when nothing is to change.
 */
static int edit(const struct line_desired *d, const char *text, const char *old, size_t len,
		struct buf *out, char **ret_from)
{
	size_t tl = strlen(text), m = 0, mlen = 0;
	bool found = false, exact = false, absent = d->ensure == ENSURE_ABSENT;
	char *from = NULL;
	struct buf scratch;
	int r = 0;

	buf_init(&scratch, RES_FILE_MAX);
	for (size_t p = 0; p < len && r == 0;) {
		const char *nl = memchr(old + p, '\n', len - p);
		size_t ll = nl ? (size_t)(nl - (old + p)) : len - p, next = p + ll + (nl ? 1 : 0);
		bool eq = ll == tl && !memcmp(old + p, text, tl);
		bool hit = d->have_re && (absent || !found) && line_matches(d, old + p, ll, &scratch);

		if (absent && (eq || hit)) {
			if (!from)
				from = strndup(old + p, ll);
		} else if (absent) {
			r = buf_add(out, old + p, next - p);
		}
		exact |= eq;
		if (hit && !found) {
			found = true;
			m = p;
			mlen = ll;
		}
		p = next;
	}
	buf_free(&scratch);
	if (absent || r < 0)
		goto out;
	if (found && !(mlen == tl && !memcmp(old + m, text, tl))) {
		from = strndup(old + m, mlen);
		if ((r = buf_add(out, old, m)) == 0 && (r = buf_add(out, text, tl)) == 0)
			r = buf_add(out, old + m + mlen, len - m - mlen);
	} else if (found || exact) {
		r = buf_add(out, old, len);
	} else {
		if ((r = buf_add(out, old, len)) == 0 && len && old[len - 1] != '\n')
			r = buf_putc(out, '\n');
		if (r == 0 && (r = buf_add(out, text, tl)) == 0)
			r = buf_putc(out, '\n');
	}
out:
	if (r < 0) {
		free(from);
		return r;
	}
	*ret_from = from;
	return 0;
}

static const char *load_error(int e)
{
	switch (e) {
	case -EISDIR:
		return "it is a directory";
	case -EINVAL:
		return "it is not a regular file";
	case -EFBIG:
		return "it is larger than 256 MiB";
	case -EXDEV:
		return "it resolves outside the root";
	default:
		return strerror(-e);
	}
}

static int line_probe(struct resource *r, struct res_ctx *ctx)
{
	struct line_state *s = S(r);
	int ret;

	free(s->target);
	s->target = NULL;
	buf_free(&s->cur);
	buf_init(&s->cur, RES_FILE_MAX);
	ret = load(ctx, D(r)->path, &s->cur, &s->st, &s->where, &s->target);
	if (ret < 0)
		return res_fail(r, "cannot read %s: %s", D(r)->path, load_error(ret));
	return 0;
}

/* record - the "line" change from old to new content, with a diff unless sensitive. */
static void record(struct resource *r, const char *label, const char *old, size_t old_len,
		   const struct buf *new, const char *from)
{
	bool present = D(r)->ensure == ENSURE_PRESENT;
	struct buf diff;

	if (r->sensitive) {
		res_change(r, "line", from ? "(sensitive)" : NULL, present ? "(sensitive)" : NULL);
		return;
	}
	res_change(r, "line", from, present ? r->name : NULL);
	buf_init(&diff, 0);
	if (udiff(old, old_len, buf_str(new), new->len, label, label, &diff) == 0)
		res_change_diff_take(r, buf_steal(&diff));
	buf_free(&diff);
}

/* missing - what a missing file means: nothing (absent), an error, or a creation. */
static int missing(struct resource *r, struct res_ctx *ctx, enum line_where where)
{
	struct line_desired *d = D(r);

	if (d->ensure == ENSURE_ABSENT)
		return 0;
	if (where == LW_DANGLING)
		return res_fail(r, "%s is a symlink to a missing file", d->path);
	if (d->create == 1)
		return 1;
	if (ctx->plan) {
		char id[4096 + 16];

		snprintf(id, sizeof(id), "file:%s", d->path);
		if (res_dep_pending(r, id))
			res_unknown(r, "%s is created by %s first; the line is checked then", d->path, id);
		else
			return res_fail(r, "%s does not exist (set create: true to create it)", d->path);
		return 0;
	}
	return res_fail(r, "%s does not exist (set create: true to create it)", d->path);
}

static int line_diff(struct resource *r, struct res_ctx *ctx)
{
	struct line_state *s = S(r);
	struct buf out;
	char *from = NULL;
	int ret;

	buf_init(&out, RES_FILE_MAX + strlen(r->name) + 2);
	if (s->where != LW_FILE) {
		ret = missing(r, ctx, s->where);
		if (ret == 1 && (ret = buf_puts(&out, r->name)) == 0 && (ret = buf_putc(&out, '\n')) == 0)
			record(r, s->target, "", 0, &out, NULL);
		buf_free(&out);
		return ret < 0 ? ret : 0;
	}
	ret = edit(D(r), r->name, buf_str(&s->cur), s->cur.len, &out, &from);
	if (ret < 0) {
		buf_free(&out);
		return res_fail(r, "%s: the edited file would be larger than 256 MiB", D(r)->path);
	}
	if (out.len != s->cur.len || memcmp(buf_str(&out), buf_str(&s->cur), out.len))
		record(r, s->target, buf_str(&s->cur), s->cur.len, &out, from);
	free(from);
	buf_free(&out);
	return 0;
}

/* write_new - replace (or create) target with data, with the given mode and owner. */
static int write_new(struct resource *r, struct res_ctx *ctx, const char *target,
		     const struct buf *data, mode_t mode, uid_t uid, gid_t gid)
{
	const char *base;
	int dirfd, ret;

	ret = fsroot_parent(ctx->root, target, &dirfd, &base);
	if (ret < 0)
		return res_fail(r, "the parent directory of %s: %s", target, strerror(-ret));
	ret = atomic_write_at(dirfd, base, buf_str(data), data->len, mode, uid, gid);
	if (ret < 0)
		return res_fail(r, "cannot write %s: %s", target, strerror(-ret));
	return 0;
}

static int line_apply(struct resource *r, struct res_ctx *ctx)
{
	struct line_desired *d = D(r);
	struct buf cur, out;
	enum line_where where;
	struct stat st;
	char *target = NULL, *from = NULL;
	int ret;

	/* start from what is there now, not from the probe: keep others' edits */
	buf_init(&cur, RES_FILE_MAX);
	buf_init(&out, RES_FILE_MAX + strlen(r->name) + 2);
	ret = load(ctx, d->path, &cur, &st, &where, &target);
	if (ret < 0) {
		ret = res_fail(r, "cannot read %s: %s", d->path, load_error(ret));
		goto out;
	}
	if (where != LW_FILE) {
		ret = missing(r, ctx, where);
		if (ret != 1)
			goto out;
		if (where == LW_NOPARENT) {
			ret = res_fail(r, "the parent directory of %s does not exist", d->path);
			goto out;
		}
		if ((ret = buf_puts(&out, r->name)) == 0 && (ret = buf_putc(&out, '\n')) == 0)
			ret = write_new(r, ctx, target, &out, 0644, ATOMIC_KEEP_OWNER, (gid_t)-1);
		goto out;
	}
	ret = edit(d, r->name, buf_str(&cur), cur.len, &out, &from);
	if (ret < 0) {
		ret = res_fail(r, "%s: the edited file would be larger than 256 MiB", d->path);
		goto out;
	}
	if (out.len != cur.len || memcmp(buf_str(&out), buf_str(&cur), out.len))
		ret = write_new(r, ctx, target, &out, st.st_mode & 07777, st.st_uid, st.st_gid);
out:
	free(from);
	free(target);
	buf_free(&cur);
	buf_free(&out);
	return ret;
}

static void line_autorequire(struct resource *r, void (*add)(void *arg, const char *id), void *arg)
{
	const char *path = D(r)->path;
	char id[4096 + 16];

	if (!path || strlen(path) > 4096)
		return;
	res_autorequire_path(path, NULL, NULL, add, arg);
	snprintf(id, sizeof(id), "file:%s", path);
	add(arg, id);
}

static void line_free_state(struct resource *r)
{
	struct line_state *s = S(r);

	free(s->target);
	s->target = NULL;
	buf_free(&s->cur);
}

const struct res_type res_type_line = {
	.name = "line",
	.doc = "one line of a file: present (replacing the first line matching `match`, else "
	       "appended) or absent",
	.attrs = line_attrs,
	.desired_size = sizeof(struct line_desired),
	.state_size = sizeof(struct line_state),
	.name_is_path = false,
	.verify = true,
	.check = line_check,
	.probe = line_probe,
	.diff = line_diff,
	.apply = line_apply,
	.autorequire = line_autorequire,
	.free_state = line_free_state,
	.free_desired = line_free_desired,
};
