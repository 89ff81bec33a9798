/*
 * pkg_dpkg.c - the dpkg/apt package provider (Debian, Ubuntu).
 *
 * What is installed comes from reading ROOT/var/lib/dpkg/status directly:
 * no fork however many packages a run manages.  What the sources offer
 * comes from one `apt-cache policy` for every package name of the run, so
 * apt's own pinning and candidate rules decide, and compressed or
 * symlinked lists need no parser here.  Transactions are one `apt-get
 * install` with "name", "name=version" and "name-" (remove) arguments,
 * noninteractive and keeping existing conffiles.
 *
 * With --root, apt is pointed at the root by an APT_CONFIG file (a memfd
 * passed as /proc/self/fd/N) that sets Dir before any configuration is
 * read: apt then reads the root's own apt.conf.d and sources.list, keeps
 * its lists, cache and logs in the root and reads the root's dpkg
 * database; the host's apt configuration is not read at all.  A root with
 * its own dpkg (a real system) gets DPkg::Chroot-Directory: apt chroots
 * to run dpkg and the root's hooks, so e.g. debconf's preconfiguration
 * hook never writes the host's debconf database.  A bare root (no dpkg
 * yet) gets the host's dpkg with --root; hooks would then run on the
 * host, but a bare root has none.
 */
#include "resources/pkg_dpkg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "resources/common.h"
#include "util/fsroot.h"
#include "util/strutil.h"

/* apt-cache policy prints ~10 lines a package: 16 MiB is 100,000 packages */
#define APT_POLICY_MAX ((size_t)16 << 20)
#define APT_LISTS_DIR "/var/lib/apt/lists"

/* --- versions ------------------------------------------------------------ */

static int order(int c)
{
	if (c >= '0' && c <= '9')
		return 0;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return c;
	if (c == '~')
		return -1;
	if (c)
		return c + 256;
	return 0;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* verrevcmp - dpkg's comparison of an upstream version or a revision (a, b NUL-ended). */
static int verrevcmp(const char *a, const char *b)
{
	while (*a || *b) {
		int first_diff = 0;

		while ((*a && !is_digit(*a)) || (*b && !is_digit(*b))) {
			int ac = order(*a), bc = order(*b);

			if (ac != bc)
				return ac - bc;
			a++;
			b++;
		}
		while (*a == '0')
			a++;
		while (*b == '0')
			b++;
		while (is_digit(*a) && is_digit(*b)) {
			if (!first_diff)
				first_diff = *a - *b;
			a++;
			b++;
		}
		if (is_digit(*a))
			return 1;
		if (is_digit(*b))
			return -1;
		if (first_diff)
			return first_diff;
	}
	return 0;
}

struct dver {
	unsigned long epoch;
	char *upstream;   /* malloc'd: upstream, then revision after a NUL */
	const char *revision;
};

static void dver_parse(const char *s, struct dver *v)
{
	const char *colon = strchr(s, ':');
	char *dash;

	v->epoch = 0;
	if (colon) {
		char *end;

		v->epoch = strtoul(s, &end, 10);
		if (end != colon)
			v->epoch = 0;
		s = colon + 1;
	}
	v->upstream = xstrdup(s);
	dash = strrchr(v->upstream, '-');
	if (dash) {
		*dash = '\0';
		v->revision = dash + 1;
	} else {
		v->revision = "";
	}
}

int dpkg_vercmp(const char *a, const char *b)
{
	struct dver x, y;
	int c;

	dver_parse(a, &x);
	dver_parse(b, &y);
	if (x.epoch != y.epoch)
		c = x.epoch > y.epoch ? 1 : -1;
	else if ((c = verrevcmp(x.upstream, y.upstream)) == 0)
		c = verrevcmp(x.revision, y.revision);
	free(x.upstream);
	free(y.upstream);
	return c < 0 ? -1 : c > 0;
}

/* version_matches - a pin names a version when dpkg compares them equal ("1:2.0" and "01:2.0"). */
static bool dpkg_version_matches(const char *pin, const char *v)
{
	return dpkg_vercmp(pin, v) == 0;
}

/* --- the status database ------------------------------------------------- */

const char *dpkg_native_arch(void)
{
	static const char *const map[][2] = {
		{ "x86_64", "amd64" }, { "aarch64", "arm64" }, { "i686", "i386" },
		{ "i586", "i386" },    { "i386", "i386" },     { "armv7l", "armhf" },
		{ "ppc64le", "ppc64el" }, { "s390x", "s390x" }, { "riscv64", "riscv64" },
		{ "mips64", "mips64el" }, { "loongarch64", "loong64" },
	};
	struct utsname u;

	if (uname(&u) < 0)
		return "";
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(u.machine, map[i][0]))
			return map[i][1];
	return "";
}

struct stanza {
	char *package, *version, *arch, *status;
};

static void stanza_clear(struct stanza *s)
{
	free(s->package);
	free(s->version);
	free(s->arch);
	free(s->status);
	memset(s, 0, sizeof(*s));
}

/* field - when line (len bytes) is "NAME: value", a copy of the trimmed value. */
static char *field(const char *line, size_t len, const char *name)
{
	size_t nl = strlen(name);
	const char *v, *end = line + len;

	if (len <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
		return NULL;
	v = line + nl + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	return strndup(v, (size_t)(end - v));
}

/* installed_state - the dpkg states in which a package's files are there and configured. */
static bool installed_state(const char *status)
{
	const char *st = status ? strrchr(status, ' ') : NULL;

	st = st ? st + 1 : status;
	return st && (!strcmp(st, "installed") || !strcmp(st, "triggers-pending") ||
		      !strcmp(st, "triggers-awaited"));
}

/* stanza_end - record a finished stanza; foreign-architecture entries wait in later. */
static int stanza_end(struct stanza *s, const char *native, struct pkg_set *ret, struct pkg_set *later)
{
	int r = 0;

	if (!s->package && (s->version || s->status || s->arch))
		r = -EINVAL;
	if (s->package && s->version && installed_state(s->status)) {
		bool primary = !s->arch || !strcmp(s->arch, native) || !strcmp(s->arch, "all");

		pkg_set_add(primary ? ret : later, s->package, s->version);
		if (s->arch) {
			char key[512];

			snprintf(key, sizeof(key), "%s:%s", s->package, s->arch);
			pkg_set_add(ret, key, s->version);
			/* apt accepts name:NATIVE for an Architecture: all package */
			snprintf(key, sizeof(key), "%s:%s", s->package, native);
			if (!strcmp(s->arch, "all") && *native)
				pkg_set_add(ret, key, s->version);
		}
	}
	stanza_clear(s);
	return r;
}

int dpkg_status_parse(const char *data, size_t len, const char *native, struct pkg_set *ret)
{
	struct pkg_set set = { 0 }, later = { 0 };
	struct stanza st = { 0 };
	const char *p = data, *end = data + len;
	int r = 0;

	while (p < end && r == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *v;

		if (n == 0 || (n == 1 && *p == '\r'))
			r = stanza_end(&st, native, &set, &later);
		else if (*p == ' ' || *p == '\t')
			; /* continuation of a multi-line field */
		else if ((v = field(p, n, "Package")))
			free(st.package), st.package = v;
		else if ((v = field(p, n, "Version")))
			free(st.version), st.version = v;
		else if ((v = field(p, n, "Architecture")))
			free(st.arch), st.arch = v;
		else if ((v = field(p, n, "Status")))
			free(st.status), st.status = v;
		p += n + (nl != NULL);
	}
	if (r == 0)
		r = stanza_end(&st, native, &set, &later);
	stanza_clear(&st);
	/* a name installed only for a foreign architecture still answers to "name" */
	for (size_t i = 0; r == 0 && i < later.n; i++)
		pkg_set_add(&set, later.v[i].key, later.v[i].version);
	pkg_set_free(&later);
	if (r < 0) {
		pkg_set_free(&set);
		return r;
	}
	pkg_set_finish(&set, NULL);
	*ret = set;
	return 0;
}

static int dpkg_load_installed(struct res_ctx *ctx, const struct pkg_prov_ctx *pc, struct pkg_set *ret,
			       char *why, size_t whylen)
{
	struct buf data;
	struct stat st;
	int fd, r;

	(void)pc;
	fd = fsroot_open_path(ctx->root, DPKG_STATUS_PATH, O_RDONLY | O_NOCTTY, 0);
	if (fd < 0) {
		snprintf(why, whylen, "cannot read %s%s: %s", ctx->root->path, DPKG_STATUS_PATH, strerror(-fd));
		return fd;
	}
	buf_init(&data, DPKG_STATUS_MAX);
	r = res_read_fd(fd, DPKG_STATUS_MAX, &data, &st);
	close(fd);
	if (r == 0) {
		r = dpkg_status_parse(buf_str(&data), data.len, dpkg_native_arch(), ret);
		if (r < 0)
			snprintf(why, whylen, "%s%s: a stanza has no Package field", ctx->root->path,
				 DPKG_STATUS_PATH);
	} else {
		snprintf(why, whylen, "cannot read %s%s: %s", ctx->root->path, DPKG_STATUS_PATH,
			 r == -EFBIG ? "larger than 256 MiB" : strerror(-r));
	}
	buf_free(&data);
	return r;
}

/* --- apt ------------------------------------------------------------------ */

int apt_policy_parse(const char *text, struct pkg_set *ret)
{
	struct pkg_set set = { 0 };
	struct pkg_entry *cur = NULL;
	char curver[256] = "";
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char line[1024];
		size_t ind = 0;

		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1), p);
		p += n + (nl != NULL);
		n = strlen(line);
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
			line[--n] = '\0';
		if (!n)
			continue;
		if (line[0] != ' ') {
			/* "name:" or "name:arch:" opens a package; "N: ..." notes do not */
			bool header = line[n - 1] == ':' && !strchr(line, ' ');

			if (header) {
				line[n - 1] = '\0';
				cur = pkg_set_add(&set, line, NULL);
				curver[0] = '\0';
			} else {
				cur = NULL;
			}
			continue;
		}
		if (!cur)
			continue;
		if (str_has_prefix(line, "  Candidate: ")) {
			const char *c = line + 13;

			free(cur->version);
			cur->version = strcmp(c, "(none)") ? xstrdup(c) : NULL;
			continue;
		}
		if (str_has_prefix(line, " *** ")) {
			ind = 5;
		} else {
			while (line[ind] == ' ')
				ind++;
		}
		if (ind == 5) {
			/* "     2.0 500": a version of the table */
			size_t vl = strcspn(line + 5, " ");

			snprintf(curver, sizeof(curver), "%.*s", (int)vl, line + 5);
		} else if (ind >= 8 && curver[0] && !strstr(line, "dpkg/status")) {
			/* "        500 http://... Packages": a source offers curver */
			pkg_entry_add_version(cur, curver);
		}
	}
	pkg_set_finish(&set, NULL);
	*ret = set;
	return 0;
}

int apt_config_text(const char *root, bool chroot, struct buf *out)
{
	if (strpbrk(root, "\"\n\\{};"))
		return -EINVAL;
	return buf_printf(out,
			  "Dir \"%s/\";\n"
			  "Dir::State::status \"%s" DPKG_STATUS_PATH "\";\n"
			  "%s \"%s%s\";\n",
			  root, root, chroot ? "DPkg::Chroot-Directory" : "DPkg::Options::",
			  chroot ? "" : "--root=", root);
}

/* root_has_dpkg - whether the root has its own dpkg (a real system, not a bare root being filled). */
static bool root_has_dpkg(const struct pkg_prov_ctx *pc)
{
	int fd = pc->froot ? fsroot_open_path(pc->froot, "/usr/bin/dpkg", O_PATH, 0) : -1;

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/*
 * apt_env - the environment for apt commands: C locale (apt-cache policy
 * is parsed), no questions; and with a root, APT_CONFIG pointing to a
 * memfd holding apt_config_text.  *conf_fd gets the memfd (or -1) to close
 * once the command ended.  env holds 5 strings that the caller frees.
 */
static int apt_env(const struct pkg_prov_ctx *pc, char *env[6], int *conf_fd, char *why, size_t whylen)
{
	struct buf conf;
	size_t n = 0;
	int fd, r;

	*conf_fd = -1;
	memset(env, 0, 6 * sizeof(*env));
	env[n++] = xstrdup("LC_ALL=C");
	env[n++] = xstrdup("DEBIAN_FRONTEND=noninteractive");
	env[n++] = xstrdup("APT_LISTCHANGES_FRONTEND=none");
	if (!pc->root[0])
		return 0;
	buf_init(&conf, 64 << 10);
	r = apt_config_text(pc->root, root_has_dpkg(pc), &conf);
	if (r < 0) {
		snprintf(why, whylen, "the root path %s cannot be handed to apt (quote or brace in it)", pc->root);
		buf_free(&conf);
		return r;
	}
	/* inherited by apt (no CLOEXEC) and read as /proc/self/fd/N there */
	fd = memfd_create("tend-apt.conf", 0);
	if (fd < 0 || write(fd, conf.data, conf.len) != (ssize_t)conf.len) {
		r = -errno;
		snprintf(why, whylen, "cannot write apt's configuration: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		buf_free(&conf);
		return r ? r : -EIO;
	}
	buf_free(&conf);
	if (asprintf(&env[n], "APT_CONFIG=/proc/self/fd/%d", fd) < 0) {
		close(fd);
		return -ENOMEM;
	}
	*conf_fd = fd;
	return 0;
}

static void env_free(char *env[6])
{
	for (size_t i = 0; i < 6; i++)
		free(env[i]);
}

/*
 * apt_run - run argv under apt_env.  0 when it ran (whatever the exit
 * status), -errno with why when it could not.  res is valid either way
 * (free it with proc_result_free).
 */
static int apt_run(const struct pkg_prov_ctx *pc, char **argv, size_t output_max,
		   struct proc_result *res, char *why, size_t whylen)
{
	struct proc_spec spec = { 0 };
	struct tend_err err = { "" };
	char *env[6];
	int conf_fd, r;

	memset(res, 0, sizeof(*res));
	r = apt_env(pc, env, &conf_fd, why, whylen);
	if (r < 0) {
		env_free(env);
		return r;
	}
	spec.argv = argv;
	spec.env_extra = env;
	spec.timeout = pc->timeout;
	spec.output_max = output_max;
	r = proc_run(&spec, res, &err);
	if (r < 0)
		snprintf(why, whylen, "cannot run %s: %s", argv[0], err.msg[0] ? err.msg : strerror(-r));
	else if (res->timed_out)
		snprintf(why, whylen, "%s timed out after %g s", argv[0], pc->timeout);
	if (conf_fd >= 0)
		close(conf_fd);
	env_free(env);
	return r;
}

static const char *const apt_error_prefixes[] = { "E: ", "dpkg: error", "Err:", NULL };

static int dpkg_load_available(const struct pkg_prov_ctx *pc, char *const *names, size_t n,
			       struct pkg_set *ret, char *why, size_t whylen)
{
	struct proc_result res;
	char **argv = xcalloc(n + 7, sizeof(*argv));
	size_t k = 0;
	int r;

	/* no pkgcache.bin written in the root: plan stays read-only, apply does not need it */
	argv[k++] = "apt-cache";
	argv[k++] = "-o";
	argv[k++] = "Dir::Cache::pkgcache=";
	argv[k++] = "-o";
	argv[k++] = "Dir::Cache::srcpkgcache=";
	argv[k++] = "policy";
	for (size_t i = 0; i < n; i++)
		argv[k++] = names[i];
	r = apt_run(pc, argv, APT_POLICY_MAX, &res, why, whylen);
	free(argv);
	if (r < 0) {
		proc_result_free(&res);
		return r;
	}
	if (res.exit_code != 0 || res.truncated || res.timed_out) {
		char e[PKG_WHY_MAX];

		pkg_why_from_output(&res.output, apt_error_prefixes, e, sizeof(e));
		snprintf(why, whylen, "apt-cache policy failed: %s",
			 res.truncated ? "output larger than 16 MiB" : e);
		proc_result_free(&res);
		return -EIO;
	}
	r = apt_policy_parse(buf_str(&res.output), ret);
	proc_result_free(&res);
	return r;
}

/*
 * dpkg_lists_age - apt renames fresh lists into lists/ and works in
 * lists/partial/ on every update, so the newer of the two directories'
 * mtimes is when the lists were last refreshed.  (The lists' own mtimes
 * are the servers' Last-Modified dates, not when apt fetched them.)
 */
static int dpkg_lists_age(struct res_ctx *ctx, double *ret_seconds)
{
	struct stat st, pst;
	struct timespec now;
	struct dirent *de;
	bool any = false;
	double t;
	DIR *d;
	int fd;

	fd = fsroot_open_path(ctx->root, APT_LISTS_DIR, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -errno;
	}
	if (fstatat(fd, "partial", &pst, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (pst.st_mtim.tv_sec > st.st_mtim.tv_sec))
		st.st_mtim = pst.st_mtim;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while (!any && (de = readdir(d)))
		any = strstr(de->d_name, "_Packages") != NULL;
	closedir(d);
	if (!any)
		return -ENOENT;
	clock_gettime(CLOCK_REALTIME, &now);
	t = (double)(now.tv_sec - st.st_mtim.tv_sec) + (double)(now.tv_nsec - st.st_mtim.tv_nsec) / 1e9;
	*ret_seconds = t > 0 ? t : 0;
	return 0;
}

static int dpkg_refresh(const struct pkg_prov_ctx *pc, struct proc_result *res, char *why, size_t whylen)
{
	char *argv[] = { "apt-get", "-q", "update", NULL };
	int r;

	r = apt_run(pc, argv, pc->output_max, res, why, whylen);
	if (r < 0)
		return r;
	if (res->exit_code != 0 || res->timed_out) {
		char e[PKG_WHY_MAX];

		pkg_why_from_output(&res->output, apt_error_prefixes, e, sizeof(e));
		if (!res->timed_out)
			snprintf(why, whylen, "apt-get update failed (exit %d): %s", res->exit_code, e);
		return -EIO;
	}
	return 0;
}

static int dpkg_transact(const struct pkg_prov_ctx *pc, const struct pkg_op *ops, size_t n,
			 struct proc_result *res, char *why, size_t whylen)
{
	char **argv = xcalloc(n + 12, sizeof(*argv)), **specs = xcalloc(n + 1, sizeof(*specs));
	bool downgrade = false;
	size_t k = 0;
	int r;

	argv[k++] = "apt-get";
	argv[k++] = "-q";
	argv[k++] = "-y";
	argv[k++] = "-o";
	argv[k++] = "Dpkg::Options::=--force-confdef";
	argv[k++] = "-o";
	argv[k++] = "Dpkg::Options::=--force-confold";
	for (size_t i = 0; i < n; i++)
		downgrade |= ops[i].kind == PKG_OP_DOWNGRADE;
	if (downgrade)
		argv[k++] = "--allow-downgrades";
	argv[k++] = "install";
	for (size_t i = 0; i < n; i++) {
		int w;

		if (ops[i].kind == PKG_OP_REMOVE)
			w = asprintf(&specs[i], "%s-", ops[i].name);
		else if (ops[i].version)
			w = asprintf(&specs[i], "%s=%s", ops[i].name, ops[i].version);
		else
			w = asprintf(&specs[i], "%s", ops[i].name);
		if (w < 0)
			specs[i] = xstrdup(ops[i].name);
		argv[k++] = specs[i];
	}
	r = apt_run(pc, argv, pc->output_max, res, why, whylen);
	if (r == 0 && (res->exit_code != 0 || res->timed_out)) {
		char e[PKG_WHY_MAX];

		pkg_why_from_output(&res->output, apt_error_prefixes, e, sizeof(e));
		if (!res->timed_out)
			snprintf(why, whylen, "apt-get failed (exit %d): %s", res->exit_code, e);
		r = -EIO;
	}
	for (size_t i = 0; i < n; i++)
		free(specs[i]);
	free(specs);
	free(argv);
	return r;
}

const struct pkg_provider pkg_provider_dpkg = {
	.name = "dpkg",
	.tool = "apt-get",
	.lists = "apt lists",
	.load_installed = dpkg_load_installed,
	.load_available = dpkg_load_available,
	.lists_age = dpkg_lists_age,
	.refresh = dpkg_refresh,
	.transact = dpkg_transact,
	.vercmp = dpkg_vercmp,
	.version_matches = dpkg_version_matches,
};
