/*
 * pkg_rpm.c - the rpm/dnf package provider (RHEL and clones, Fedora).
 *
 * What is installed comes from one `rpm -qa` per run with a fixed query
 * format; what the repositories offer from one `dnf repoquery` for every
 * package name of the run.  dnf keeps its metadata fresh by itself
 * (metadata_expire), so there is no list age here; a name no repository
 * knows makes apply run `dnf makecache --refresh` once.
 *
 * A plan does not run dnf at all: even `dnf -C repoquery` writes its logs
 * (beneath the installroot, whatever logdir says) and a lock file in the
 * root's cache.  So a plan knows exactly what rpm says is installed, and
 * reports as unknown whatever depends on the repositories.
 *
 * Every install, upgrade and downgrade of a batch is one `dnf install`
 * (exact versions: "name-1.0-1"); removals follow in one `dnf remove`.
 *
 * rpm and dnf use the rpm database path of the host's rpm configuration
 * (%_dbpath), beneath --root / --installroot: both always agree.
 */
#include "resources/pkg_rpm.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strutil.h"

#define RPM_QUERY_MAX ((size_t)16 << 20)
#define RPM_QF "%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE} %{ARCH}\\n"
#define DNF_QF "%{name} %{epoch}:%{version}-%{release} %{arch}"

/* --- versions ------------------------------------------------------------ */

static bool is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

int rpm_vercmp(const char *a, const char *b)
{
	const char *one = a, *two = b;

	if (!strcmp(a, b))
		return 0;
	while (*one || *two) {
		const char *s1, *s2;
		bool isnum;
		size_t l1, l2;
		int rc;

		while (*one && !is_alpha(*one) && !is_digit(*one) && *one != '~' && *one != '^')
			one++;
		while (*two && !is_alpha(*two) && !is_digit(*two) && *two != '~' && *two != '^')
			two++;
		/* '~' sorts before everything, even the end of the string */
		if (*one == '~' || *two == '~') {
			if (*one != '~')
				return 1;
			if (*two != '~')
				return -1;
			one++;
			two++;
			continue;
		}
		/* '^' sorts after the end but before anything else */
		if (*one == '^' || *two == '^') {
			if (!*one)
				return -1;
			if (!*two)
				return 1;
			if (*one != '^')
				return 1;
			if (*two != '^')
				return -1;
			one++;
			two++;
			continue;
		}
		if (!(*one && *two))
			break;
		s1 = one;
		s2 = two;
		isnum = is_digit(*s1);
		if (isnum) {
			while (is_digit(*s1))
				s1++;
			while (is_digit(*s2))
				s2++;
		} else {
			while (is_alpha(*s1))
				s1++;
			while (is_alpha(*s2))
				s2++;
		}
		if (two == s2)
			return isnum ? 1 : -1; /* a number is newer than letters */
		if (isnum) {
			while (*one == '0' && one + 1 < s1)
				one++;
			while (*two == '0' && two + 1 < s2)
				two++;
			if (s1 - one != s2 - two)
				return s1 - one > s2 - two ? 1 : -1;
		}
		l1 = (size_t)(s1 - one);
		l2 = (size_t)(s2 - two);
		rc = strncmp(one, two, l1 < l2 ? l1 : l2);
		if (!rc && l1 != l2)
			rc = l1 < l2 ? -1 : 1;
		if (rc)
			return rc < 0 ? -1 : 1;
		one = s1;
		two = s2;
	}
	if (!*one && !*two)
		return 0;
	return *one ? 1 : -1;
}

struct evr {
	char *buf;
	const char *epoch;     /* NULL: not given */
	const char *version;
	const char *release;   /* NULL: not given */
};

static void evr_parse(const char *s, struct evr *e)
{
	char *colon, *dash;

	e->buf = xstrdup(s);
	e->epoch = NULL;
	e->version = e->buf;
	colon = strchr(e->buf, ':');
	if (colon) {
		*colon = '\0';
		e->epoch = e->buf;
		e->version = colon + 1;
	}
	dash = strrchr(e->version, '-');
	e->release = NULL;
	if (dash) {
		*dash = '\0';
		e->release = dash + 1;
	}
}

static unsigned long long epoch_num(const char *s)
{
	long long v;

	return s && str_to_ll(s, 10, 0, LLONG_MAX, &v) == 0 ? (unsigned long long)v : 0;
}

int rpm_evr_cmp(const char *a, const char *b)
{
	struct evr x, y;
	unsigned long long ex, ey;
	int c;

	evr_parse(a, &x);
	evr_parse(b, &y);
	ex = epoch_num(x.epoch);
	ey = epoch_num(y.epoch);
	if (ex != ey)
		c = ex > ey ? 1 : -1;
	else if ((c = rpm_vercmp(x.version, y.version)) == 0)
		c = rpm_vercmp(x.release ? x.release : "", y.release ? y.release : "");
	free(x.buf);
	free(y.buf);
	return c;
}

bool rpm_evr_matches(const char *pin, const char *evr)
{
	struct evr p, v;
	bool m;

	evr_parse(pin, &p);
	evr_parse(evr, &v);
	m = (!p.epoch || epoch_num(p.epoch) == epoch_num(v.epoch)) &&
	    rpm_vercmp(p.version, v.version) == 0 &&
	    (!p.release || (v.release && rpm_vercmp(p.release, v.release) == 0));
	free(p.buf);
	free(v.buf);
	return m;
}

/* --- parsing ------------------------------------------------------------- */

int rpm_nevra_parse(const char *text, struct pkg_set *ret)
{
	struct pkg_set set = { 0 };
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char line[1024], name[256], evr[512], arch[64], key[400];
		const char *v;

		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1), p);
		p += n + (nl != NULL);
		if (sscanf(line, "%255s %511s %63s", name, evr, arch) != 3)
			continue;
		v = evr;
		if (str_has_prefix(v, "(none):"))
			v += 7;
		else if (str_has_prefix(v, "0:"))
			v += 2;
		pkg_entry_add_version(pkg_set_add(&set, name, v), v);
		snprintf(key, sizeof(key), "%s.%s", name, arch);
		pkg_entry_add_version(pkg_set_add(&set, key, v), v);
	}
	pkg_set_finish(&set, rpm_evr_cmp);
	*ret = set;
	return 0;
}

/* --- commands ------------------------------------------------------------ */

/* dnf's "Error: " may stand alone, the reason on the " Problem" and "  - " lines after it */
static const char *const dnf_error_prefixes[] = { "Error: ", " Problem", "  - ", "No match", "error: ", NULL };

/*
 * run_tool - run argv (C locale; stdin_data fed when not NULL).  0 when it
 * ran and exited 0; -EIO with the tool's error lines in why when it
 * failed; other -errno when it could not run.  res is valid either way.
 */
static int run_tool(const struct pkg_prov_ctx *pc, char **argv, const char *stdin_data,
		    size_t output_max, struct proc_result *res, char *why, size_t whylen)
{
	char *env[] = { "LC_ALL=C", NULL };
	struct proc_spec spec = { 0 };
	struct tend_err err = { "" };
	char e[PKG_WHY_MAX];
	int r;

	spec.argv = argv;
	spec.env_extra = env;
	spec.timeout = pc->timeout;
	spec.output_max = output_max;
	spec.stdin_data = stdin_data;
	spec.stdin_len = stdin_data ? strlen(stdin_data) : 0;
	r = proc_run(&spec, res, &err);
	if (r < 0) {
		snprintf(why, whylen, "cannot run %s: %s", argv[0], err.msg[0] ? err.msg : strerror(-r));
		return r;
	}
	if (res->timed_out) {
		snprintf(why, whylen, "%s timed out after %g s", argv[0], pc->timeout);
		return -ETIMEDOUT;
	}
	if (res->exit_code != 0 || res->truncated) {
		pkg_why_from_output(&res->output, dnf_error_prefixes, e, sizeof(e));
		snprintf(why, whylen, "%s failed (exit %d): %s", argv[0], res->exit_code,
			 res->truncated ? "too much output" : e);
		return -EIO;
	}
	return 0;
}

/* dnf_argv - "dnf [-q] [--installroot ROOT]" into argv; returns the count. */
static size_t dnf_argv(const struct pkg_prov_ctx *pc, char **argv, bool quiet)
{
	size_t k = 0;

	argv[k++] = "dnf";
	if (quiet)
		argv[k++] = "-q";
	if (pc->root[0]) {
		argv[k++] = "--installroot";
		argv[k++] = (char *)pc->root;
	}
	return k;
}

static int rpm_load_installed(struct res_ctx *ctx, const struct pkg_prov_ctx *pc, struct pkg_set *ret,
			      char *why, size_t whylen)
{
	char *argv[] = { "rpm", "-qa", "--qf", RPM_QF, NULL, NULL, NULL };
	struct proc_result res;
	int r;

	(void)ctx;
	if (pc->root[0]) {
		argv[4] = "--root";
		argv[5] = (char *)pc->root;
	}
	r = run_tool(pc, argv, NULL, RPM_QUERY_MAX, &res, why, whylen);
	if (r == 0)
		r = rpm_nevra_parse(buf_str(&res.output), ret);
	proc_result_free(&res);
	return r;
}

static int rpm_load_available(const struct pkg_prov_ctx *pc, char *const *names, size_t n,
			      struct pkg_set *ret, char *why, size_t whylen)
{
	char **argv = xcalloc(n + 12, sizeof(*argv));
	struct proc_result res;
	size_t k;
	int r;

	if (pc->plan) {
		free(argv);
		snprintf(why, whylen, "a plan does not run dnf (it writes logs and locks in the root)");
		return -EROFS;
	}
	k = dnf_argv(pc, argv, true);
	argv[k++] = "repoquery";
	argv[k++] = "--available";
	argv[k++] = "--qf";
	argv[k++] = DNF_QF;
	for (size_t i = 0; i < n; i++)
		argv[k++] = names[i];
	r = run_tool(pc, argv, NULL, RPM_QUERY_MAX, &res, why, whylen);
	free(argv);
	if (r == 0)
		r = rpm_nevra_parse(buf_str(&res.output), ret);
	proc_result_free(&res);
	return r;
}

static int rpm_refresh(const struct pkg_prov_ctx *pc, struct proc_result *res, char *why, size_t whylen)
{
	char *argv[8];
	size_t k = dnf_argv(pc, argv, false);

	argv[k++] = "makecache";
	argv[k++] = "--refresh";
	argv[k] = NULL;
	return run_tool(pc, argv, NULL, pc->output_max, res, why, whylen);
}

/* run_dnf - "dnf -y [--installroot ROOT] VERB ARGS..." for the ops of one kind group. */
static int run_dnf(const struct pkg_prov_ctx *pc, const char *verb, const struct pkg_op *ops, size_t n,
		   bool removals, struct proc_result *res, char *why, size_t whylen)
{
	char **argv = xcalloc(n + 8, sizeof(*argv)), **specs = xcalloc(n + 1, sizeof(*specs));
	size_t k = dnf_argv(pc, argv, false), nspecs = 0;
	int r;

	argv[k++] = "-y";
	argv[k++] = (char *)verb;
	for (size_t i = 0; i < n; i++) {
		if ((ops[i].kind == PKG_OP_REMOVE) != removals)
			continue;
		if (ops[i].version && !removals && asprintf(&specs[nspecs], "%s-%s", ops[i].name, ops[i].version) >= 0)
			argv[k++] = specs[nspecs++];
		else
			argv[k++] = (char *)ops[i].name;
	}
	r = run_tool(pc, argv, NULL, pc->output_max, res, why, whylen);
	for (size_t i = 0; i < nspecs; i++)
		free(specs[i]);
	free(specs);
	free(argv);
	return r;
}

/*
 * rpm_transact - `dnf install` for installs, upgrades and downgrades (with
 * an exact version, "name-1.0-1", dnf installs over an older or newer
 * one), then `dnf remove` for removals.  Not one `dnf shell` script:
 * dnf shell skips what it cannot do and still exits 0, which would hide
 * exactly the failures a run must report.
 */
static int rpm_transact(const struct pkg_prov_ctx *pc, const struct pkg_op *ops, size_t n,
			struct proc_result *res, char *why, size_t whylen)
{
	size_t nrm = 0;
	int r = 0;

	memset(res, 0, sizeof(*res));
	for (size_t i = 0; i < n; i++)
		nrm += ops[i].kind == PKG_OP_REMOVE;
	if (nrm < n)
		r = run_dnf(pc, "install", ops, n, false, res, why, whylen);
	if (r == 0 && nrm) {
		struct proc_result rm;

		if (nrm < n) {
			r = run_dnf(pc, "remove", ops, n, true, &rm, why, whylen);
			buf_add(&res->output, rm.output.data ? rm.output.data : "",
				rm.output.len < res->output.max - res->output.len ? rm.output.len
										: res->output.max - res->output.len);
			res->truncated |= rm.truncated;
			proc_result_free(&rm);
		} else {
			proc_result_free(res);
			r = run_dnf(pc, "remove", ops, n, true, res, why, whylen);
		}
	}
	return r;
}

const struct pkg_provider pkg_provider_rpm = {
	.name = "rpm",
	.tool = "dnf",
	.lists = "dnf metadata",
	.load_installed = rpm_load_installed,
	.load_available = rpm_load_available,
	.lists_age = NULL,
	.refresh = rpm_refresh,
	.transact = rpm_transact,
	.vercmp = rpm_evr_cmp,
	.version_matches = rpm_evr_matches,
};
