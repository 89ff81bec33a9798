/*
 * file.c - the `file` resource type: a regular file's presence, content
 * (inline, from a source file or URL, or from a template), mode and owner.
 *
 * Probing forks nothing and reads the file at most once; content is
 * compared byte for byte.  Writes go through atomic_write_at, so the file
 * is always either the old or the new bytes.  A symlink at the path is
 * replaced by the file unless follow: true, which manages the link's
 * target (resolved inside the root).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/template.h"
#include "resources/common.h"
#include "resources/fetch.h"
#include "resources/registry.h"
#include "util/atomic.h"
#include "util/fsroot.h"
#include "util/hash.h"
#include "util/strutil.h"
#include "util/udiff.h"

/* one per file resource, for the whole run: ordered to leave no padding */
struct file_desired {
	char *content;
	char *source;
	char *template;
	char *sha256;
	char *owner;
	char *group;
	int ensure;
	int mode;
	int follow;
	int force;
	/* prepared (not attributes): the desired bytes; data points at content
	 * or is owned (source, template) */
	char *data;
	size_t len;
	bool have_data;
	bool data_owned;
};

enum file_kind { FK_MISSING, FK_REGULAR, FK_SYMLINK, FK_DIRECTORY, FK_OTHER, FK_NOPARENT };

struct file_state {
	char *path;              /* effective path (the link target with follow) */
	enum file_kind kind;
	struct stat st;
	struct buf cur;          /* current content when compared */
	uid_t uid;
	gid_t gid;
	bool ids_known;
};

#define D(r) RES_DESIRED(r, struct file_desired)
#define S(r) RES_STATE(r, struct file_state)

static const struct res_attr file_attrs[] = {
	{ "ensure", ATTR_ENUM, offsetof(struct file_desired, ensure), 0, "present", res_ensure_choices,
	  "present: the file exists as a regular file; absent: it does not" },
	{ "content", ATTR_STRING, offsetof(struct file_desired, content), 0, NULL, NULL,
	  "the exact content (a template: {{ var }} is replaced)" },
	{ "source", ATTR_STRING, offsetof(struct file_desired, source), ATTR_RAW, NULL, NULL,
	  "a file relative to the manifest's directory, or an http(s) URL (needs sha256)" },
	{ "template", ATTR_STRING, offsetof(struct file_desired, template), ATTR_RAW, NULL, NULL,
	  "a template file relative to the manifest's directory, rendered with vars and facts" },
	{ "sha256", ATTR_STRING, offsetof(struct file_desired, sha256), 0, NULL, NULL,
	  "expected SHA-256 of the content (required for URL sources)" },
	{ "mode", ATTR_MODE, offsetof(struct file_desired, mode), 0, NULL, NULL,
	  "permission bits, octal (\"0644\"); new files get 0644" },
	{ "owner", ATTR_STRING, offsetof(struct file_desired, owner), 0, NULL, NULL,
	  "user name (in the root's /etc/passwd) or uid" },
	{ "group", ATTR_STRING, offsetof(struct file_desired, group), 0, NULL, NULL,
	  "group name (in the root's /etc/group) or gid" },
	{ "follow", ATTR_BOOL, offsetof(struct file_desired, follow), 0, "false", NULL,
	  "when the path is a symlink, manage its target instead of replacing the link" },
	{ "force", ATTR_BOOL, offsetof(struct file_desired, force), 0, "false", NULL,
	  "replace a directory at the path (removing it if empty)" },
	{ NULL },
};

static int file_check(struct resource *r, struct res_ctx *ctx, struct tend_err *err)
{
	struct file_desired *d = D(r);
	int n = !!d->content + !!d->source + !!d->template;

	(void)ctx;
	if (n > 1)
		return res_err_attr(r, err, d->template ? "template" : "source",
				    "%s: give only one of content, source and template", r->id);
	if (d->sha256 && (strlen(d->sha256) != 64 || strspn(d->sha256, "0123456789abcdef") != 64))
		return res_err_attr(r, err, "sha256", "%s: sha256 must be 64 lowercase hex digits", r->id);
	if (d->source && fetch_is_url(d->source) && !d->sha256)
		return res_err_attr(r, err, "source", "%s: a URL source needs sha256 (the expected checksum)",
				    r->id);
	if (d->ensure == ENSURE_ABSENT && n)
		return res_err_attr(r, err, "ensure", "%s: ensure: absent cannot have content, source or template",
				    r->id);
	return 0;
}

/* rel_to_manifest - path relative to the directory of the manifest that set key. */
static char *rel_to_manifest(const struct resource *r, const char *key, const char *p)
{
	const struct raw_attr *a = res_find_attr(r, key);
	const char *file = a ? a->val_pos.file : r->pos.file;
	const char *slash = strrchr(file, '/');
	size_t dl = slash ? (size_t)(slash - file) : 0;
	char *out;

	if (p[0] == '/' || !slash)
		return xstrdup(p);
	out = xcalloc(1, dl + strlen(p) + 2);
	memcpy(out, file, dl);
	out[dl] = '/';
	memcpy(out + dl + 1, p, strlen(p));
	return out;
}

static int load_local(const char *path, struct buf *out)
{
	struct stat st;
	int r, fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	r = res_read_fd(fd, RES_FILE_MAX, out, &st);
	close(fd);
	return r;
}

static int file_prepare(struct resource *r, struct res_ctx *ctx, struct tend_err *err)
{
	struct file_desired *d = D(r);
	const char *key = d->template ? "template" : "source";
	struct buf raw;
	char *path;
	int ret;

	if (d->content) {
		d->data = d->content;
		d->len = strlen(d->content);
		d->have_data = true;
	}
	if (!d->source && !d->template)
		goto check_sum;
	buf_init(&raw, RES_FILE_MAX);
	if (d->source && fetch_is_url(d->source)) {
		ret = fetch_url(d->source, RES_FILE_MAX, &raw, err);
		if (ret < 0) {
			buf_free(&raw);
			return res_err_attr(r, err, "source", "%s: %s", r->id, err->msg);
		}
		path = xstrdup(d->source);
	} else {
		path = rel_to_manifest(r, key, d->source ? d->source : d->template);
		ret = load_local(path, &raw);
		if (ret < 0) {
			buf_free(&raw);
			ret = res_err_attr(r, err, key, "%s of %s: cannot read %s: %s", key, r->id, path,
					   ret == -EFBIG ? "larger than 256 MiB" : strerror(-ret));
			free(path);
			return ret;
		}
	}
	if (d->template) {
		struct buf out;

		buf_init(&out, RES_FILE_MAX);
		ret = tmpl_render(buf_str(&raw), raw.len, path, ctx->tmpl, &out, err);
		buf_free(&raw);
		if (ret < 0) {
			size_t n = strlen(err->msg);

			snprintf(err->msg + n, sizeof(err->msg) - n, " (template of %s)", r->id);
			buf_free(&out);
			free(path);
			return ret;
		}
		d->len = out.len;
		d->data = buf_steal(&out);
	} else {
		d->len = raw.len;
		d->data = buf_steal(&raw);
	}
	d->have_data = true;
	d->data_owned = true;
	free(path);
check_sum:
	if (d->sha256 && d->have_data) {
		char hex[SHA256_HEX_LEN + 1];

		sha256_hex(d->data, d->len, hex);
		if (strcmp(hex, d->sha256))
			return res_err_attr(r, err, "sha256", "%s: content has sha256 %s, expected %s", r->id,
					    hex, d->sha256);
	}
	return 0;
}

/* resolve_follow - the path inside the root that the symlink at p points to. */
static int resolve_follow(struct res_ctx *ctx, const char *p, char **ret)
{
	int r, fd = fsroot_open_path(ctx->root, p, O_PATH, 0);

	if (fd < 0)
		return fd;
	r = fsroot_fd_path(ctx->root, fd, ret);
	close(fd);
	return r;
}

static void reset_probe(struct file_state *s)
{
	free(s->path);
	s->path = NULL;
	buf_free(&s->cur);
	buf_init(&s->cur, RES_FILE_MAX);
	memset(&s->st, 0, sizeof(s->st));
	s->kind = FK_MISSING;
}

static int probe_path(struct resource *r, struct res_ctx *ctx, const char *p, bool read_content)
{
	struct file_state *s = S(r);
	const char *base;
	int dirfd, ret;

	ret = fsroot_parent(ctx->root, p, &dirfd, &base);
	if (ret == -ENOTDIR)
		return res_fail(r, "a parent of %s is not a directory", r->name);
	if (ret == -ENOENT) {
		s->kind = FK_NOPARENT;
		return 0;
	}
	if (ret < 0)
		return res_fail(r, "cannot open the parent of %s: %s", p, strerror(-ret));
	if (read_content) {
		ret = res_read_at(dirfd, base, RES_FILE_MAX, &s->cur, &s->st);
		if (ret == 0) {
			s->kind = FK_REGULAR;
			return 0;
		}
		if (ret == -EFBIG)
			return res_fail(r, "%s is larger than 256 MiB", p);
		if (ret != -ENOENT && ret != -ELOOP && ret != -EISDIR && ret != -EINVAL)
			return res_fail(r, "cannot read %s: %s", p, strerror(-ret));
		buf_reset(&s->cur);
	}
	if (fstatat(dirfd, base, &s->st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return res_fail(r, "cannot stat %s: %s", p, strerror(errno));
	}
	if (S_ISREG(s->st.st_mode))
		s->kind = FK_REGULAR;
	else if (S_ISLNK(s->st.st_mode))
		s->kind = FK_SYMLINK;
	else if (S_ISDIR(s->st.st_mode))
		s->kind = FK_DIRECTORY;
	else
		s->kind = FK_OTHER;
	return 0;
}

static int file_probe(struct resource *r, struct res_ctx *ctx)
{
	struct file_desired *d = D(r);
	struct file_state *s = S(r);
	bool want_content = d->have_data && d->ensure == ENSURE_PRESENT;
	int ret;

	reset_probe(s);
	s->path = xstrdup(r->name);
	ret = probe_path(r, ctx, s->path, want_content);
	if (ret == 0 && s->kind == FK_SYMLINK && d->follow == 1 && d->ensure == ENSURE_PRESENT) {
		char *target;

		ret = resolve_follow(ctx, r->name, &target);
		if (ret == -ENOENT)
			return res_fail(r, "follow: the symlink %s points to a missing file", r->name);
		if (ret < 0)
			return res_fail(r, "follow: cannot resolve %s: %s", r->name, strerror(-ret));
		free(s->path);
		s->path = target;
		buf_reset(&s->cur);
		ret = probe_path(r, ctx, s->path, want_content);
	}
	if (ret < 0)
		return ret;
	s->ids_known = res_resolve_owner(r, ctx, d->owner, d->group, &s->uid, &s->gid) == 0;
	return s->ids_known || r->status == RES_UNKNOWN ? 0 : -ENOENT;
}

static const char *kind_name(enum file_kind k)
{
	static const char *const names[] = { "absent", "file", "symlink", "directory", "special file",
					     "absent" };

	return names[k];
}

static void diff_content(struct resource *r, const struct file_desired *d, struct file_state *s)
{
	char a[SHA256_HEX_LEN + 1], b[SHA256_HEX_LEN + 1];
	struct buf diff;

	if (s->cur.len == d->len && (!d->len || !memcmp(s->cur.data, d->data, d->len)))
		return;
	if (r->sensitive) {
		res_change(r, "content", "(sensitive)", "(sensitive)");
		return;
	}
	sha256_hex(buf_str(&s->cur), s->cur.len, a);
	sha256_hex(d->data, d->len, b);
	a[12] = b[12] = '\0';
	res_change(r, "content", a, b);
	buf_init(&diff, 0);
	if (udiff(buf_str(&s->cur), s->cur.len, d->data, d->len, s->path, s->path, &diff) == 0)
		res_change_diff_take(r, buf_steal(&diff));
	buf_free(&diff);
}

static int file_diff(struct resource *r, struct res_ctx *ctx)
{
	struct file_desired *d = D(r);
	struct file_state *s = S(r);

	if (d->ensure == ENSURE_ABSENT) {
		if (s->kind != FK_MISSING && s->kind != FK_NOPARENT)
			res_change(r, "ensure", kind_name(s->kind), "absent");
		return 0;
	}
	if (s->kind == FK_NOPARENT && res_no_parent_unknown(r, ctx, s->path))
		return 0;
	if (s->kind == FK_DIRECTORY && d->force != 1)
		return res_fail(r, "%s is a directory (set force: true to replace an empty one)", s->path);
	if (s->kind == FK_OTHER)
		return res_fail(r, "%s is a special file; refusing to replace it", s->path);
	if (s->kind != FK_REGULAR) {
		res_change(r, "ensure", kind_name(s->kind), "file");
		return 0;
	}
	if (d->have_data)
		diff_content(r, d, s);
	if (s->ids_known)
		res_diff_meta(r, ctx, &s->st, s->uid, s->gid, d->mode);
	return 0;
}

static int file_apply(struct resource *r, struct res_ctx *ctx)
{
	struct file_desired *d = D(r);
	struct file_state *s = S(r);
	const char *base;
	int dirfd, ret;
	mode_t mode;
	uid_t uid = s->uid;
	gid_t gid = s->gid;

	ret = fsroot_parent(ctx->root, s->path, &dirfd, &base);
	if (ret < 0)
		return res_fail(r, "parent directory of %s: %s", s->path, strerror(-ret));
	if (d->ensure == ENSURE_ABSENT) {
		if (s->kind == FK_DIRECTORY)
			return res_fail(r, "%s is a directory; manage it with a directory resource", s->path);
		if (unlinkat(dirfd, base, 0) < 0 && errno != ENOENT)
			return res_fail(r, "cannot remove %s: %s", s->path, strerror(errno));
		ret = res_sync_dir(ctx, dirfd);
		return ret < 0 ? res_fail(r, "fsync %s: %s", s->path, strerror(-ret)) : 0;
	}
	if (s->kind == FK_DIRECTORY) {
		if (d->force != 1)
			return res_fail(r, "%s is a directory (set force: true to replace an empty one)", s->path);
		if (unlinkat(dirfd, base, AT_REMOVEDIR) < 0)
			return res_fail(r, "cannot remove directory %s: %s", s->path, strerror(errno));
		s->kind = FK_MISSING;
	}
	if (s->kind == FK_OTHER)
		return res_fail(r, "%s is a special file; refusing to replace it", s->path);
	if (s->kind != FK_REGULAR || res_has_change(r, "content")) {
		/* write: keep the current mode and owner unless managed */
		bool keep = s->kind == FK_REGULAR;

		mode = d->mode >= 0 ? (mode_t)d->mode : keep ? (s->st.st_mode & 07777) : 0644;
		if (uid == (uid_t)-1 && keep)
			uid = s->st.st_uid;
		if (gid == (gid_t)-1 && keep)
			gid = s->st.st_gid;
		ret = res_write_file(r, ctx, s->path, dirfd, base, d->have_data ? d->data : "",
				     d->have_data ? d->len : 0, mode, uid, gid);
		if (ret < 0)
			return res_fail(r, "cannot write %s: %s", s->path, strerror(-ret));
		return 0;
	}
	return res_fix_meta(r, dirfd, base, uid, gid, d->mode);
}

static void file_autorequire(struct resource *r, void (*add)(void *arg, const char *id), void *arg)
{
	res_autorequire_path(r->name, D(r)->owner, D(r)->group, add, arg);
}

static void file_free_state(struct resource *r)
{
	struct file_state *s = S(r);

	free(s->path);
	buf_free(&s->cur);
}

static void file_free_desired(struct resource *r)
{
	struct file_desired *d = D(r);

	if (d->data_owned)
		free(d->data);
	d->data = NULL;
	d->have_data = false;
}

const struct res_type res_type_file = {
	.name = "file",
	.doc = "a regular file: presence, content, mode, owner and group",
	.attrs = file_attrs,
	.desired_size = sizeof(struct file_desired),
	.state_size = sizeof(struct file_state),
	.name_is_path = true,
	.verify = true,
	.staging_ok = true,
	.keeps_dirs = true,
	.check = file_check,
	.prepare = file_prepare,
	.probe = file_probe,
	.diff = file_diff,
	.apply = file_apply,
	.autorequire = file_autorequire,
	.free_state = file_free_state,
	.free_desired = file_free_desired,
};
