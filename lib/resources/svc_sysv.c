/*
 * svc_sysv.c - sysvinit services: LSB headers, rc.d links, init scripts
 * (see svc_sysv.h).
 *
 * The links are written here rather than by update-rc.d, which a root
 * being built (a debootstrap, an image) may not have, and which needs the
 * root's own insserv.  Sequence numbers follow what insserv-era
 * update-rc.d writes for a script without dependencies (01); a link with
 * another number that already exists is left alone, so a root managed by
 * update-rc.d before is not churned.  Scripts run chrooted into the
 * managed root, so they see its own paths, PATH and pid files.
 */
#include "resources/svc_sysv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/schema.h"
#include "util/buf.h"
#include "util/strutil.h"

#define LSB_READ_MAX ((size_t)64 << 10) /* the header is at the top of a script */
#define DEF_START 0x3cu			/* 2 3 4 5 */
#define DEF_STOP 0x43u			/* 0 1 6 */
#define NAME_MAX_LEN 200

const char *svc_enable_state_name(int st)
{
	static const char *const names[] = { "false", "true", "partial", "masked", "static" };

	return st >= 0 && st <= SVC_STATIC ? names[st] : "unknown";
}

static int level_index(char c)
{
	const char *p = c ? strchr(SVC_RUNLEVELS, c == 's' ? 'S' : c) : NULL;

	return p ? (int)(p - SVC_RUNLEVELS) : -1;
}

/* levels - a runlevel list such as " 2 3 4 5" (the rest of a header line). */
static unsigned levels(const char *p, const char *end)
{
	unsigned m = 0;

	while (p < end) {
		const char *w;

		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		w = p;
		while (p < end && *p != ' ' && *p != '\t' && *p != '\r')
			p++;
		if (p - w == 1 && level_index(*w) >= 0)
			m |= 1u << level_index(*w);
	}
	return m;
}

/* field - when line [p,end) is "# KEY: ...", the start of the value. */
static const char *field(const char *p, const char *end, const char *key)
{
	size_t k = strlen(key);

	if (p >= end || *p != '#')
		return NULL;
	p++;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(end - p) <= k || strncasecmp(p, key, k) || p[k] != ':')
		return NULL;
	return p + k + 1;
}

void svc_sysv_parse_lsb(const char *text, size_t len, struct svc_lsb *ret)
{
	static const char begin[] = "### BEGIN INIT INFO", finish[] = "### END INIT INFO";
	struct svc_lsb l = { DEF_START, DEF_STOP };
	const char *p = text, *end = text + len;
	bool in = false;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *v;
		size_t n = (size_t)(e - p);

		if (!in) {
			in = n >= sizeof(begin) - 1 && !memcmp(p, begin, sizeof(begin) - 1);
		} else if (n >= sizeof(finish) - 1 && !memcmp(p, finish, sizeof(finish) - 1)) {
			break;
		} else if ((v = field(p, e, "Default-Start"))) {
			l.start = levels(v, e);
		} else if ((v = field(p, e, "Default-Stop"))) {
			l.stop = levels(v, e);
		}
		p = nl ? nl + 1 : end;
	}
	*ret = l;
}

bool svc_sysv_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > NAME_MAX_LEN || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p <= ' ' || *p == '/' || *p == 0x7f)
			return false;
	return true;
}

int svc_sysv_read_lsb(const struct fsroot *root, const char *name, struct svc_lsb *ret)
{
	char path[NAME_MAX_LEN + 32], *text;
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/etc/init.d/%s", name);
	fd = fsroot_open_path(root, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
	if (fd < 0)
		return fd == -ENOTDIR ? -ENOENT : fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	text = xcalloc(1, LSB_READ_MAX);
	do
		n = pread(fd, text, LSB_READ_MAX, 0);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		svc_sysv_parse_lsb(text, (size_t)n, ret);
	else
		n = -errno;
	free(text);
	close(fd);
	return n < 0 ? (int)n : 0;
}

/* link_kind - 'S' or 'K' when ent is S??NAME or K??NAME, else 0. */
static char link_kind(const char *ent, const char *name)
{
	if ((ent[0] != 'S' && ent[0] != 'K') || ent[1] < '0' || ent[1] > '9' || ent[2] < '0' ||
	    ent[2] > '9')
		return 0;
	return strcmp(ent + 3, name) ? 0 : ent[0];
}

/* rc_path - "/etc/rcL.d" for level index i. */
static void rc_path(int i, char out[16])
{
	snprintf(out, 16, "/etc/rc%c.d", SVC_RUNLEVELS[i]);
}

/*
 * scan_level - the S and K links of name in level i's directory: entry
 * names into s and k (may be NULL).  A missing directory has none.
 */
static int scan_level(const struct fsroot *root, int i, const char *name, struct strlist *s,
		      struct strlist *k, unsigned *ret_s, unsigned *ret_k)
{
	char dir[16];
	struct dirent *de;
	DIR *d;
	int fd;

	rc_path(i, dir);
	fd = fsroot_open_path(root, dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -ENOENT || fd == -ENOTDIR)
		return 0;
	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		char kind = link_kind(de->d_name, name);

		if (kind == 'S') {
			*ret_s |= 1u << i;
			if (s)
				strlist_push(s, de->d_name);
		} else if (kind == 'K') {
			*ret_k |= 1u << i;
			if (k)
				strlist_push(k, de->d_name);
		}
	}
	closedir(d);
	return 0;
}

int svc_sysv_enabled(const struct fsroot *root, const char *name, const struct svc_lsb *lsb,
		     int *ret_state)
{
	unsigned s = 0, k = 0;
	int ret;

	for (int i = 0; i < 8; i++)
		if ((ret = scan_level(root, i, name, NULL, NULL, &s, &k)) < 0)
			return ret;
	if (!s)
		*ret_state = lsb->start ? SVC_DISABLED : SVC_STATIC;
	else if ((s & lsb->start) == lsb->start && !(k & lsb->start) && lsb->start)
		*ret_state = SVC_ENABLED;
	else
		*ret_state = SVC_PARTIAL;
	return 0;
}

/* open_rc_dir - level i's directory (O_PATH), created 0755 when missing. */
static int open_rc_dir(const struct fsroot *root, int i, struct buf *log, struct tend_err *err)
{
	char dir[16];
	int fd, etc;

	rc_path(i, dir);
	fd = fsroot_open_path(root, dir, O_PATH | O_DIRECTORY, 0);
	if (fd != -ENOENT)
		return fd < 0 ? err_set(err, fd, "cannot open %s: %s", dir, strerror(-fd)) : fd;
	etc = fsroot_open_path(root, "/etc", O_PATH | O_DIRECTORY, 0);
	if (etc < 0)
		return err_set(err, etc, "cannot open /etc: %s", strerror(-etc));
	if (mkdirat(etc, dir + 5, 0755) < 0 && errno != EEXIST) {
		fd = -errno;
		close(etc);
		return err_set(err, fd, "cannot create %s: %s", dir, strerror(-fd));
	}
	fd = openat(etc, dir + 5, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(etc);
	if (fd < 0)
		return err_set(err, -errno, "cannot open %s: %s", dir, strerror(errno));
	if (fchmod(fd, 0755) < 0) {
		int e = -errno;

		close(fd);
		return err_set(err, e, "cannot chmod %s: %s", dir, strerror(-e));
	}
	if (log)
		buf_printf(log, "created %s\n", dir);
	return fd;
}

static int add_link(const struct fsroot *root, int i, char kind, const char *name, struct buf *log,
		    struct tend_err *err)
{
	char ent[NAME_MAX_LEN + 8], target[NAME_MAX_LEN + 16];
	int fd = open_rc_dir(root, i, log, err), ret = 0;

	if (fd < 0)
		return fd;
	snprintf(ent, sizeof(ent), "%c01%s", kind, name);
	snprintf(target, sizeof(target), "../init.d/%s", name);
	if (symlinkat(target, fd, ent) < 0)
		ret = err_set(err, -errno, "cannot create /etc/rc%c.d/%s: %s", SVC_RUNLEVELS[i],
			      ent, strerror(errno));
	else if (log)
		buf_printf(log, "linked /etc/rc%c.d/%s -> %s\n", SVC_RUNLEVELS[i], ent, target);
	close(fd);
	return ret;
}

static int remove_links(const struct fsroot *root, int i, const struct strlist *ents,
			struct buf *log, struct tend_err *err)
{
	char dir[16];
	int fd, ret = 0;

	if (!ents->n)
		return 0;
	rc_path(i, dir);
	fd = fsroot_open_path(root, dir, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return err_set(err, fd, "cannot open %s: %s", dir, strerror(-fd));
	for (size_t j = 0; j < ents->n && !ret; j++) {
		if (unlinkat(fd, ents->v[j], 0) < 0) {
			if (errno != ENOENT)
				ret = err_set(err, -errno, "cannot remove %s/%s: %s", dir,
					      ents->v[j], strerror(errno));
		} else if (log)
			buf_printf(log, "removed %s/%s\n", dir, ents->v[j]);
	}
	close(fd);
	return ret;
}

/* set_level - make level i's links right for on/off; see svc_sysv_set_enabled. */
static int set_level(const struct fsroot *root, int i, const char *name, const struct svc_lsb *lsb,
		     bool on, struct buf *log, struct tend_err *err)
{
	struct strlist s = { 0 }, k = { 0 };
	unsigned sm = 0, km = 0, bit = 1u << i;
	int ret = scan_level(root, i, name, &s, &k, &sm, &km);

	if (ret < 0) {
		ret = err_set(err, ret, "cannot read /etc/rc%c.d: %s", SVC_RUNLEVELS[i],
			      strerror(-ret));
	} else if (on && (lsb->start & bit)) {
		ret = remove_links(root, i, &k, log, err);
		if (!ret && !s.n)
			ret = add_link(root, i, 'S', name, log, err);
	} else if (on && (lsb->stop & bit)) {
		if (!s.n && !k.n)
			ret = add_link(root, i, 'K', name, log, err);
	} else if (!on && s.n) {
		ret = remove_links(root, i, &s, log, err);
		if (!ret && !k.n)
			ret = add_link(root, i, 'K', name, log, err);
	}
	strlist_free(&s);
	strlist_free(&k);
	return ret;
}

int svc_sysv_set_enabled(const struct fsroot *root, const char *name, const struct svc_lsb *lsb,
			 bool on, struct buf *log, struct tend_err *err)
{
	int ret = 0;

	for (int i = 0; i < 8 && !ret; i++)
		ret = set_level(root, i, name, lsb, on, log, err);
	return ret;
}

bool svc_sysv_can_run(const struct fsroot *root, char *why, size_t whylen)
{
	int fd;

	if (fsroot_is_host(root))
		return true;
	fd = fsroot_open_path(root, "/bin/sh", O_PATH, 0);
	if (fd >= 0) {
		close(fd);
		return true;
	}
	snprintf(why, whylen,
		 "%s/bin/sh does not exist: init scripts run chrooted into %s and need its shell",
		 root->path, root->path);
	return false;
}

int svc_sysv_run(const struct fsroot *root, const char *name, const char *verb, double timeout,
		 size_t output_max, struct proc_result *res, struct tend_err *err)
{
	char path[NAME_MAX_LEN + 32];
	char pathenv[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	char *argv[] = { path, (char *)verb, NULL }, *env[] = { pathenv, NULL };
	struct proc_spec spec = { 0 };
	char *chroot_dir = NULL;
	int ret;

	snprintf(path, sizeof(path), "/etc/init.d/%s", name);
	if (!fsroot_is_host(root))
		chroot_dir = fsroot_host_path(root, "");
	spec.argv = argv;
	spec.env_extra = env;
	spec.chroot_dir = chroot_dir;
	spec.cwd = NULL;
	spec.timeout = timeout;
	spec.output_max = output_max;
	ret = proc_run(&spec, res, err);
	free(chroot_dir);
	return ret;
}
