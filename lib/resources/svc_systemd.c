/*
 * svc_systemd.c - systemd units beneath a root (see svc_systemd.h).
 *
 * Whether a unit is enabled is a question about symlinks: its [Install]
 * section names the links (TARGET.wants/UNIT, TARGET.requires/UNIT,
 * TARGET.upholds/UNIT, ALIAS) that `systemctl enable` makes in
 * /etc/systemd/system.  Reading them needs no running systemd and no
 * fork, so a plan over a thousand services costs a few thousand stat
 * calls.  Writing them goes through `systemctl --root`, which knows every
 * corner of the install logic; when the host has no systemctl the links
 * are made here the same way, and the verify pass after apply reads them
 * back with the same rules either way.
 *
 * Links are recognised by name, as systemd's loader does; a unit's
 * own Also= units are part of its enablement, as in `systemctl enable`.
 */
#include "resources/svc_systemd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/schema.h"
#include "resources/common.h"
#include "resources/svc_sysv.h"
#include "util/strutil.h"

#define UNIT_FILE_MAX ((size_t)1 << 20)
#define INSTALL_LINE_MAX ((size_t)64 << 10)
#define INSTALL_LIST_MAX 256 /* values kept per setting */
#define ALSO_DEPTH_MAX 8
#define ETC_UNITS "/etc/systemd/system"

static const char *const unit_dirs[] = { ETC_UNITS,
					 "/run/systemd/system",
					 "/usr/local/lib/systemd/system",
					 "/lib/systemd/system",
					 "/usr/lib/systemd/system",
					 NULL };
static const char *const unit_suffixes[] = { ".service", ".socket", ".timer", ".path",
					     ".target",	 ".mount",  NULL };
static const char *const dep_dirs[] = { ".wants", ".requires", ".upholds", NULL };

/* --- parsing ------------------------------------------------------------- */

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static void set_list(struct strlist *l, char *v)
{
	if (!*v) {
		strlist_free(l);
		return;
	}
	for (char *w = v; *w;) {
		char *e = w;

		while (*e && *e != ' ' && *e != '\t')
			e++;
		if (e > w && l->n < INSTALL_LIST_MAX) {
			char c = *e;

			*e = '\0';
			strlist_push(l, w);
			*e = c;
		}
		while (*e == ' ' || *e == '\t')
			e++;
		w = e;
	}
}

/* install_line - one logical line; *in_section tracks "[Install]". */
static void install_line(char *s, bool *in_section, struct svc_install *in)
{
	char *eq, *key, *val;

	s = trim(s);
	if (!*s || *s == '#' || *s == ';')
		return;
	if (*s == '[') {
		*in_section = !strcmp(s, "[Install]");
		in->section |= *in_section;
		return;
	}
	if (!*in_section || !(eq = strchr(s, '=')))
		return;
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	if (!strcmp(key, "WantedBy"))
		set_list(&in->wanted_by, val);
	else if (!strcmp(key, "RequiredBy"))
		set_list(&in->required_by, val);
	else if (!strcmp(key, "UpheldBy"))
		set_list(&in->upheld_by, val);
	else if (!strcmp(key, "Alias"))
		set_list(&in->alias, val);
	else if (!strcmp(key, "Also"))
		set_list(&in->also, val);
	else if (!strcmp(key, "DefaultInstance")) {
		free(in->default_instance);
		in->default_instance = *val ? xstrdup(val) : NULL;
	}
}

void svc_install_parse(const char *text, size_t len, struct svc_install *ret)
{
	struct svc_install in = { 0 };
	const char *p = text, *end = text + len;
	bool section = false;
	struct buf line;

	buf_init(&line, INSTALL_LINE_MAX);
	while (p < end) {
		buf_reset(&line);
		for (;;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *e = nl ? nl : end;
			bool more;

			if (e > p && e[-1] == '\r')
				e--;
			more = e > p && e[-1] == '\\';
			buf_add(&line, p, (size_t)(e - p - (more ? 1 : 0)));
			p = nl ? nl + 1 : end;
			if (!more || p >= end)
				break;
			buf_putc(&line, ' ');
		}
		if (line.data)
			install_line(line.data, &section, &in);
	}
	buf_free(&line);
	*ret = in;
}

void svc_install_free(struct svc_install *in)
{
	strlist_free(&in->wanted_by);
	strlist_free(&in->required_by);
	strlist_free(&in->upheld_by);
	strlist_free(&in->alias);
	strlist_free(&in->also);
	free(in->default_instance);
	in->default_instance = NULL;
	in->section = false;
}

/* --- names ----------------------------------------------------------------- */

static const char *unit_suffix(const char *u)
{
	size_t n = strlen(u);

	for (const char *const *s = unit_suffixes; *s; s++) {
		size_t k = strlen(*s);

		if (n > k && !strcmp(u + n - k, *s))
			return u + n - k;
	}
	return NULL;
}

int svc_unit_name(const char *name, char out[SVC_UNIT_MAX])
{
	size_t n = strlen(name);
	const char *at = strchr(name, '@');

	if (!n || *name == '@' || (at && strchr(at + 1, '@')))
		return -EINVAL;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr(":_.\\-@", *p)))
			return -EINVAL;
	if (unit_suffix(name))
		return snprintf(out, SVC_UNIT_MAX, "%s", name) >= SVC_UNIT_MAX ? -EINVAL : 0;
	return snprintf(out, SVC_UNIT_MAX, "%s.service", name) >= SVC_UNIT_MAX ? -EINVAL : 0;
}

static int put(char *out, size_t n, size_t *len, const char *s, size_t k)
{
	if (*len + k >= n)
		return -ENAMETOOLONG;
	memcpy(out + *len, s, k);
	*len += k;
	out[*len] = '\0';
	return 0;
}

int svc_unit_expand(const char *s, const char *unit, char *out, size_t n)
{
	const char *sfx = strrchr(unit, '.'), *at = strchr(unit, '@');
	const char *pend = at ? at : sfx ? sfx : unit + strlen(unit);
	size_t len = 0;
	int ret = 0;

	if (!n)
		return -ENAMETOOLONG;
	out[0] = '\0';
	sfx = sfx ? sfx : unit + strlen(unit);
	for (; *s && !ret; s++) {
		const char *dash;

		if (*s != '%') {
			ret = put(out, n, &len, s, 1);
			continue;
		}
		switch (*++s) {
		case 'n':
			ret = put(out, n, &len, unit, strlen(unit));
			break;
		case 'N':
			ret = put(out, n, &len, unit, (size_t)(sfx - unit));
			break;
		case 'p':
			ret = put(out, n, &len, unit, (size_t)(pend - unit));
			break;
		case 'i':
			if (at && at < sfx)
				ret = put(out, n, &len, at + 1, (size_t)(sfx - at - 1));
			break;
		case 'j':
			for (dash = pend; dash > unit && dash[-1] != '-'; dash--)
				;
			ret = put(out, n, &len, dash, (size_t)(pend - dash));
			break;
		case '%':
			ret = put(out, n, &len, "%", 1);
			break;
		default:
			return -EINVAL;
		}
	}
	return ret;
}

/* --- finding a unit -------------------------------------------------------- */

/* lstat_in - lstat of path (absolute, inside the root) without following its last component. */
static int lstat_in(const struct fsroot *root, const char *path, struct stat *st)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	int fd, ret = 0;

	if (!slash || (size_t)(slash - path) >= sizeof(dir))
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	fd = fsroot_open_path(root, dir, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return fd == -ENOTDIR ? -ENOENT : fd;
	if (fstatat(fd, slash + 1, st, AT_SYMLINK_NOFOLLOW) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* open_unit_file - file in the first unit directory that has it; masked when it is /dev/null. */
static int open_unit_file(const struct fsroot *root, const char *file, struct svc_unit *u,
			  int *ret_fd)
{
	for (const char *const *d = unit_dirs; *d; d++) {
		char path[PATH_MAX], link[64];
		struct stat st;
		ssize_t k;
		int fd, dfd;

		snprintf(path, sizeof(path), "%s/%s", *d, file);
		dfd = fsroot_open_path(root, *d, O_PATH | O_DIRECTORY, 0);
		if (dfd < 0)
			continue;
		k = readlinkat(dfd, file, link, sizeof(link) - 1);
		close(dfd);
		if (k > 0) {
			link[k] = '\0';
			if (!strcmp(link, "/dev/null")) {
				snprintf(u->path, sizeof(u->path), "%s", path);
				u->masked = true;
				*ret_fd = -1;
				return 0;
			}
		}
		fd = fsroot_open_path(root, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
		if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP || fd == -EXDEV)
			continue;
		if (fd < 0)
			return fd;
		if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
			close(fd);
			continue;
		}
		snprintf(u->path, sizeof(u->path), "%s", path);
		u->masked = S_ISCHR(st.st_mode) || (S_ISREG(st.st_mode) && st.st_size == 0);
		*ret_fd = fd;
		return 0;
	}
	return -ENOENT;
}

/* template_of - "foo@.service" for "foo@bar.service"; false when unit is no instance. */
static bool template_of(const char *unit, char out[SVC_UNIT_MAX])
{
	const char *at = strchr(unit, '@'), *dot = strrchr(unit, '.');

	if (!at || !dot || dot <= at + 1)
		return false;
	snprintf(out, SVC_UNIT_MAX, "%.*s%s", (int)(at - unit + 1), unit, dot);
	return true;
}

/* follow_alias - u->name and u->path after the symlinks the file was reached through. */
static void follow_alias(const struct fsroot *root, int fd, const char *unit, struct svc_unit *u)
{
	char *real = NULL, tmpl[SVC_UNIT_MAX];
	const char *base;

	snprintf(u->name, sizeof(u->name), "%s", unit);
	if (fsroot_fd_path(root, fd, &real) < 0)
		return;
	base = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
	/* an instance reaches its template: the unit is still the instance */
	if (strcmp(base, unit) && !(template_of(unit, tmpl) && !strcmp(base, tmpl)) &&
	    unit_suffix(base)) {
		snprintf(u->name, sizeof(u->name), "%s", base);
		snprintf(u->path, sizeof(u->path), "%s", real);
	} else if (strcmp(strrchr(u->path, '/') + 1, base)) {
		snprintf(u->path, sizeof(u->path), "%s", real);
	}
	free(real);
}

int svc_unit_find(const struct fsroot *root, const char *unit, struct svc_unit *ret)
{
	struct svc_unit *u = xcalloc(1, sizeof(*u));
	char tmpl[SVC_UNIT_MAX];
	struct buf text;
	struct stat st;
	int fd = -1, r;

	r = open_unit_file(root, unit, u, &fd);
	if (r == -ENOENT && template_of(unit, tmpl))
		r = open_unit_file(root, tmpl, u, &fd);
	if (r < 0) {
		free(u);
		return r;
	}
	snprintf(u->name, sizeof(u->name), "%s", unit);
	if (fd >= 0) {
		follow_alias(root, fd, unit, u);
		buf_init(&text, UNIT_FILE_MAX);
		if (!u->masked && res_read_fd(fd, UNIT_FILE_MAX, &text, &st) == 0)
			svc_install_parse(buf_str(&text), text.len, &u->install);
		buf_free(&text);
		close(fd);
	}
	*ret = *u;
	free(u);
	return 0;
}

void svc_unit_free(struct svc_unit *u)
{
	svc_install_free(&u->install);
}

/* --- the links a unit's enablement consists of ----------------------------- */

struct links {
	struct strlist path, target; /* link (inside the root) -> what it points to */
	struct strlist names;	     /* unit names linked into dependency directories */
	struct strlist seen;	     /* units visited through Also= */
};

static void links_free(struct links *l)
{
	strlist_free(&l->path);
	strlist_free(&l->target);
	strlist_free(&l->names);
	strlist_free(&l->seen);
}

/* link_name - the name links of u get: an instance, or the template's DefaultInstance. */
static int link_name(const struct svc_unit *u, char out[SVC_UNIT_MAX], struct tend_err *err)
{
	const char *at = strchr(u->name, '@'), *dot = strrchr(u->name, '.');

	snprintf(out, SVC_UNIT_MAX, "%s", u->name);
	if (!at || !dot || dot != at + 1)
		return 0;
	if (!u->install.default_instance)
		return err_set(err, -EINVAL, "%s is a template: name an instance (%.*s@NAME%s)",
			       u->name, (int)(at - u->name), u->name, dot);
	if (snprintf(out, SVC_UNIT_MAX, "%.*s%s%s", (int)(at - u->name + 1), u->name,
		     u->install.default_instance, dot) >= SVC_UNIT_MAX)
		return err_set(err, -EINVAL, "%s: DefaultInstance is too long", u->name);
	return 0;
}

/* add_links - the links for one [Install] list: DIR/TARGET<kind>/NAME, or DIR/ALIAS when kind is NULL. */
static int add_links(struct links *l, const struct strlist *vals, const char *kind,
		     const char *name, const char *target, struct tend_err *err)
{
	for (size_t i = 0; i < vals->n; i++) {
		char v[SVC_UNIT_MAX], path[PATH_MAX];
		int ret = svc_unit_expand(vals->v[i], name, v, sizeof(v));

		if (ret == 0 && (strchr(v, '/') || !*v || !strcmp(v, ".") || !strcmp(v, "..")))
			ret = -EINVAL;
		if (ret < 0)
			return err_set(err, ret, "%s: cannot use '%s' from its [Install] section",
				       name, vals->v[i]);
		if (kind)
			snprintf(path, sizeof(path), ETC_UNITS "/%s%s/%s", v, kind, name);
		else
			snprintf(path, sizeof(path), ETC_UNITS "/%s", v);
		strlist_push(&l->path, path);
		strlist_push(&l->target, target);
	}
	return 0;
}

static int collect(const struct fsroot *root, const char *unit, const char *from, struct links *l,
		   int depth, struct tend_err *err)
{
	char name[SVC_UNIT_MAX];
	struct svc_unit u;
	int ret;

	for (size_t i = 0; i < l->seen.n; i++)
		if (!strcmp(l->seen.v[i], unit))
			return 0;
	if (depth > ALSO_DEPTH_MAX)
		return 0;
	strlist_push(&l->seen, unit);
	ret = svc_unit_find(root, unit, &u);
	if (ret == -ENOENT && from)
		return err_set(err, ret, "unit %s (Also= of %s) does not exist", unit, from);
	if (ret < 0)
		return err_set(err, ret, "cannot read unit %s: %s", unit, strerror(-ret));
	if (u.masked && from)
		ret = err_set(err, -EPERM, "unit %s (Also= of %s) is masked", unit, from);
	if (ret == 0 && !u.masked && (ret = link_name(&u, name, err)) == 0) {
		if (u.install.wanted_by.n + u.install.required_by.n + u.install.upheld_by.n)
			strlist_push(&l->names, name);
		ret = add_links(l, &u.install.wanted_by, ".wants", name, u.path, err);
		if (!ret)
			ret = add_links(l, &u.install.required_by, ".requires", name, u.path, err);
		if (!ret)
			ret = add_links(l, &u.install.upheld_by, ".upholds", name, u.path, err);
		if (!ret)
			ret = add_links(l, &u.install.alias, NULL, name, u.path, err);
	}
	for (size_t i = 0; ret == 0 && i < u.install.also.n; i++) {
		char v[SVC_UNIT_MAX], also[SVC_UNIT_MAX];

		if (svc_unit_expand(u.install.also.v[i], u.name, v, sizeof(v)) < 0 ||
		    svc_unit_name(v, also) < 0)
			ret = err_set(err, -EINVAL, "%s: cannot use Also=%s", u.name,
				      u.install.also.v[i]);
		else
			ret = collect(root, also, u.name, l, depth + 1, err);
	}
	svc_unit_free(&u);
	return ret;
}

static bool is_dep_dir(const char *name)
{
	size_t n = strlen(name);

	for (const char *const *s = dep_dirs; *s; s++)
		if (n > strlen(*s) && !strcmp(name + n - strlen(*s), *s))
			return true;
	return false;
}

/*
 * strays - links named like one of names in any dependency directory of
 * /etc/systemd/system; with remove, unlink them (and the directory when
 * it empties).  *ret_found counts them.
 */
static int strays(const struct fsroot *root, const struct strlist *names, bool remove,
		  struct buf *log, int *ret_found, struct tend_err *err)
{
	struct dirent *de;
	int fd, ret = 0;
	DIR *d;

	*ret_found = 0;
	fd = fsroot_open_path(root, ETC_UNITS, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -ENOENT || fd == -ENOTDIR || !names->n) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (fd < 0 || !(d = fdopendir(fd))) {
		ret = fd < 0 ? fd : -errno;
		if (fd >= 0)
			close(fd);
		return err_set(err, ret, "cannot read " ETC_UNITS ": %s", strerror(-ret));
	}
	while (!ret && (de = readdir(d))) {
		int sub;

		if (!is_dep_dir(de->d_name))
			continue;
		sub = openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue;
		for (size_t i = 0; i < names->n && !ret; i++) {
			struct stat st;

			if (fstatat(sub, names->v[i], &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISLNK(st.st_mode))
				continue;
			++*ret_found;
			if (!remove)
				continue;
			if (unlinkat(sub, names->v[i], 0) < 0)
				ret = err_set(err, -errno, "cannot remove " ETC_UNITS "/%s/%s: %s",
					      de->d_name, names->v[i], strerror(errno));
			else if (log)
				buf_printf(log, "removed " ETC_UNITS "/%s/%s\n", de->d_name,
					   names->v[i]);
		}
		close(sub);
		if (remove)
			unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR); /* only when now empty */
	}
	closedir(d);
	return ret;
}

int svc_systemd_enabled(const struct fsroot *root, const char *unit, int *ret_state,
			struct tend_err *err)
{
	struct links l = { 0 };
	struct svc_unit u;
	size_t present = 0;
	int ret, stray = 0;

	ret = svc_unit_find(root, unit, &u);
	if (ret < 0)
		return ret == -ENOENT ?
			       ret :
			       err_set(err, ret, "cannot read unit %s: %s", unit, strerror(-ret));
	if (u.masked) {
		svc_unit_free(&u);
		*ret_state = SVC_MASKED;
		return 0;
	}
	svc_unit_free(&u);
	ret = collect(root, unit, NULL, &l, 0, err);
	for (size_t i = 0; ret == 0 && i < l.path.n; i++) {
		struct stat st;

		if (lstat_in(root, l.path.v[i], &st) == 0 && S_ISLNK(st.st_mode))
			present++;
	}
	if (ret == 0 && !present)
		ret = strays(root, &l.names, false, NULL, &stray, err);
	if (ret == 0) {
		if (!l.path.n)
			*ret_state = SVC_STATIC;
		else if (present == l.path.n)
			*ret_state = SVC_ENABLED;
		else
			*ret_state = present || stray ? SVC_PARTIAL : SVC_DISABLED;
	}
	links_free(&l);
	return ret;
}

/* --- writing links ------------------------------------------------------ */

/* mkdir_p - dir (inside the root) and its missing parents, 0755. */
static int mkdir_p(const struct fsroot *root, const char *dir, int depth, struct tend_err *err)
{
	const char *slash = strrchr(dir, '/');
	char parent[PATH_MAX];
	int fd, ret;

	fd = fsroot_open_path(root, dir, O_PATH | O_DIRECTORY, 0);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (fd != -ENOENT || !slash || depth > 64)
		return err_set(err, fd < 0 ? fd : -EINVAL, "cannot open %s: %s", dir,
			       strerror(-fd));
	snprintf(parent, sizeof(parent), "%.*s", slash == dir ? 1 : (int)(slash - dir), dir);
	if ((ret = mkdir_p(root, parent, depth + 1, err)) < 0)
		return ret;
	fd = fsroot_open_path(root, parent, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return err_set(err, fd, "cannot open %s: %s", parent, strerror(-fd));
	if (mkdirat(fd, slash + 1, 0755) < 0 && errno != EEXIST)
		ret = err_set(err, -errno, "cannot create %s: %s", dir, strerror(errno));
	if (ret == 0) {
		int sub = openat(fd, slash + 1, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (sub < 0 || fchmod(sub, 0755) < 0)
			ret = err_set(err, -errno, "cannot chmod %s: %s", dir, strerror(errno));
		if (sub >= 0)
			close(sub);
	}
	close(fd);
	return ret;
}

/* set_link - make (on) or remove (off) the symlink path -> target. */
static int set_link(const struct fsroot *root, const char *path, const char *target, bool on,
		    struct buf *log, struct tend_err *err)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	struct stat st;
	int ret = lstat_in(root, path, &st), fd;

	if (ret == 0 && !S_ISLNK(st.st_mode))
		return on ? err_set(err, -EEXIST, "%s exists and is not a symlink", path) : 0;
	if ((ret == 0) == on)
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (on && (ret = mkdir_p(root, dir, 0, err)) < 0)
		return ret;
	fd = fsroot_open_path(root, dir, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return err_set(err, fd, "cannot open %s: %s", dir, strerror(-fd));
	ret = on ? symlinkat(target, fd, slash + 1) : unlinkat(fd, slash + 1, 0);
	if (ret < 0)
		ret = err_set(err, -errno, "cannot %s %s: %s", on ? "create" : "remove", path,
			      strerror(errno));
	else if (log && on)
		buf_printf(log, "linked %s -> %s\n", path, target);
	else if (log)
		buf_printf(log, "removed %s\n", path);
	close(fd);
	if (ret == 0 && !on && is_dep_dir(dir)) {
		int up = fsroot_open_path(root, ETC_UNITS, O_PATH | O_DIRECTORY, 0);

		if (up >= 0 && !strncmp(dir, ETC_UNITS "/", sizeof(ETC_UNITS)))
			unlinkat(up, dir + sizeof(ETC_UNITS),
				 AT_REMOVEDIR); /* only when now empty */
		if (up >= 0)
			close(up);
	}
	return ret;
}

int svc_systemd_links_set(const struct fsroot *root, const char *unit, bool on, struct buf *log,
			  struct tend_err *err)
{
	struct links l = { 0 };
	struct svc_unit u;
	int ret, found;

	ret = svc_unit_find(root, unit, &u);
	if (ret < 0)
		return err_set(err, ret, "unit %s: %s", unit,
			       ret == -ENOENT ? "no such unit file" : strerror(-ret));
	if (u.masked && on)
		ret = err_set(err, -EPERM, "unit %s is masked (%s)", unit, u.path);
	svc_unit_free(&u);
	if (ret == 0)
		ret = collect(root, unit, NULL, &l, 0, err);
	if (ret == 0 && on && !l.path.n)
		ret = err_set(err, -EINVAL, "unit %s has no [Install] section: nothing enables it",
			      unit);
	for (size_t i = 0; ret == 0 && i < l.path.n; i++)
		ret = set_link(root, l.path.v[i], l.target.v[i], on, log, err);
	if (ret == 0 && !on)
		ret = strays(root, &l.names, true, log, &found, err);
	links_free(&l);
	return ret;
}

/* --- systemctl -------------------------------------------------------------- */

static int systemctl_argv(const char *rootopt, const char *const *args, double timeout,
			  size_t output_max, struct proc_result *res, struct tend_err *err)
{
	const char *argv[16];
	struct proc_spec spec = { 0 };
	char pager[] = "SYSTEMD_PAGER=", *env[] = { pager, NULL };
	size_t n = 0;

	argv[n++] = "systemctl";
	argv[n++] = "--no-pager";
	if (rootopt)
		argv[n++] = rootopt;
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	spec.argv = (char *const *)argv;
	spec.env_extra = env;
	spec.timeout = timeout;
	spec.output_max = output_max;
	return proc_run(&spec, res, err);
}

int svc_systemctl(const char *const *args, double timeout, size_t output_max,
		  struct proc_result *res, struct tend_err *err)
{
	return systemctl_argv(NULL, args, timeout, output_max, res, err);
}

/* last_line - the last non-empty line of s, into out. */
static void last_line(const char *s, char *out, size_t n)
{
	const char *e = s + strlen(s), *b;

	while (e > s && (e[-1] == '\n' || e[-1] == ' '))
		e--;
	for (b = e; b > s && b[-1] != '\n'; b--)
		;
	snprintf(out, n, "%.*s", (int)(e - b), b);
}

int svc_systemd_set_enabled(const struct fsroot *root, const char *unit, bool on, double timeout,
			    struct buf *log, struct tend_err *err)
{
	const char *args[] = { on ? "enable" : "disable", unit, NULL };
	char *rootopt = NULL, line[512];
	struct proc_result res;
	int ret;

	if (!svc_systemd_live(root) &&
	    asprintf(&rootopt, "--root=%s", root->path[0] ? root->path : "/") < 0)
		return err_set(err, -ENOMEM, "out of memory");
	ret = systemctl_argv(rootopt, args, timeout, 0, &res, err);
	free(rootopt);
	if (ret == -ENOENT) {
		if (log)
			buf_puts(log, "systemctl is not installed: links made by tend\n");
		return svc_systemd_links_set(root, unit, on, log, err);
	}
	if (ret < 0)
		return ret;
	if (log && res.output.len)
		buf_add(log, res.output.data, res.output.len);
	if (res.timed_out)
		ret = err_set(err, -ETIMEDOUT, "systemctl %s %s timed out after %g s", args[0],
			      unit, timeout);
	else if (res.exit_code != 0) {
		last_line(buf_str(&res.output), line, sizeof(line));
		ret = err_set(err, -EIO, "systemctl %s %s exited %d%s%s", args[0], unit,
			      res.exit_code, line[0] ? ": " : "", line);
	}
	proc_result_free(&res);
	return ret;
}

bool svc_systemd_installed(const struct fsroot *root)
{
	static const char *const bins[] = { "/lib/systemd/systemd", "/usr/lib/systemd/systemd",
					    NULL };

	for (const char *const *b = bins; *b; b++) {
		int fd = fsroot_open_path(root, *b, O_PATH, 0);

		if (fd >= 0) {
			close(fd);
			return true;
		}
	}
	return svc_systemd_live(root);
}

bool svc_systemd_live(const struct fsroot *root)
{
	int fd;

	if (!fsroot_is_host(root))
		return false;
	fd = fsroot_open_path(root, "/run/systemd/system", O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}
