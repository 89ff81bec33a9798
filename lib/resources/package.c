/*
 * package.c - the `package` resource type: a package installed (present,
 * latest, or exactly one version) or absent, through the system's package
 * manager (dpkg/apt or rpm/dnf, see pkg_provider.h).
 *
 * Everything a run learns about packages is kept once per run in the
 * type's cache: the installed set (one read of the dpkg status database,
 * or one `rpm -qa`), what the sources offer for every package of the run
 * (one `apt-cache policy` / `dnf repoquery`, asked only when some
 * resource needs it) and whether the lists were refreshed.  Apply hands
 * all packages that are ready together to one transaction (apply_batch):
 * one apt-get for twenty packages, not twenty.
 *
 * The source lists are refreshed (apt-get update) at most once a run, and
 * only by apply: when a package or pinned version is not in them, or when
 * they are older than PKG_LISTS_MAX_AGE (24 h) and something is to be
 * installed or upgraded to `latest`.  A plan never refreshes them: what it
 * cannot know without doing so (is there a newer version than the one
 * installed?) it reports as unknown, saying why.  A package no source
 * offers even after the refresh fails alone; the rest of its batch goes
 * on.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/catalog.h"
#include "resources/pkg_dpkg.h"
#include "resources/pkg_provider.h"
#include "resources/registry.h"
#include "util/fsroot.h"
#include "util/strutil.h"

/* Source lists older than this are refreshed before installing from them. */
#define PKG_LISTS_MAX_AGE (24 * 3600.0)
/* apt-get and dnf download and unpack: they get at least this long. */
#define PKG_MIN_TIMEOUT 1800.0

enum pk_kind { PK_PRESENT, PK_ABSENT, PK_LATEST, PK_VERSION };
enum { PROV_DPKG, PROV_RPM, PROV_N };

static const char *const provider_choices[] = { "dpkg", "rpm", NULL };
static const struct pkg_provider *const providers[PROV_N] = { &pkg_provider_dpkg, &pkg_provider_rpm };
static const char *const ensure_words[] = { "present", "absent", "latest", NULL };

struct package_desired {
	char *ensure;
	int provider;
	/* derived by check() */
	enum pk_kind kind;
};

struct package_state {
	int prov;              /* index into providers */
	char *installed;       /* installed version, NULL when not installed */
	bool have_op;
	struct pkg_op op;      /* what the transaction does; op.version is op_version */
	char *op_version;
	bool need_refresh;     /* apply: refresh the lists, then decide again */
};

/* What one run knows through one provider. */
struct prov_run {
	bool installed_loaded;
	int installed_rc;      /* <0: reading what is installed failed (why in installed_why) */
	char installed_why[PKG_WHY_MAX];
	struct pkg_set installed;
	int avail_rc;          /* 0: not asked yet, 1: loaded, <0: asking failed */
	struct pkg_set avail;
	char avail_why[PKG_WHY_MAX];
	bool refreshed;        /* the lists were refreshed in this run (or that was tried) */
	char refresh_why[PKG_WHY_MAX]; /* why refreshing failed; "" when it worked */
	bool age_loaded;
	int age_rc;
	double age;
};

struct package_run {
	bool def_done;
	int def;               /* provider chosen from facts or the root's databases; -1: none */
	char def_why[512];
	struct prov_run p[PROV_N];
};

#define D(r) RES_DESIRED(r, struct package_desired)
#define S(r) RES_STATE(r, struct package_state)

static const struct res_attr package_attrs[] = {
	{ "ensure", ATTR_STRING, offsetof(struct package_desired, ensure), 0, "present", NULL,
	  "present: installed (any version); absent: not installed; latest: the newest version the "
	  "sources offer; anything else is a version, installed exactly (upgrading or downgrading)" },
	{ "provider", ATTR_ENUM, offsetof(struct package_desired, provider), 0, NULL, provider_choices,
	  "dpkg (apt) or rpm (dnf); default: from facts.os.family, else from the package "
	  "database found in the root" },
	{ NULL },
};

/* --- input ------------------------------------------------------------------ */

/*
 * name_ok - what dpkg and rpm names are made of.  Never a leading '-' (an
 * option to apt-get or dnf) nor a trailing '-' or ':' (apt-get install
 * reads "name-" as a removal).
 */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 255 || !(isalnum((unsigned char)s[0]) || s[0] == '_') || strchr("-:", s[n - 1]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("+-._:~", s[i]))
			return false;
	return true;
}

/* version_ok - Debian and rpm versions: digits somewhere, no blanks, no option-like start. */
static bool version_ok(const char *s)
{
	bool digit = false;
	size_t n = strlen(s);

	if (!n || n > 255 || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) && !strchr(".+~:-_^", s[i]))
			return false;
		digit |= isdigit((unsigned char)s[i]) != 0;
	}
	return digit;
}

static int package_check(struct resource *r, struct res_ctx *ctx, struct tend_err *err)
{
	struct package_desired *d = D(r);
	const char *hint;

	(void)ctx;
	if (!name_ok(r->name))
		return err_at(err, -EINVAL, r->pos.file, r->name_pos.line, r->name_pos.col,
			      "'%s' is not a package name (letters, digits and + - . _ : ~)", r->name);
	if (!strcmp(d->ensure, "present"))
		d->kind = PK_PRESENT;
	else if (!strcmp(d->ensure, "absent"))
		d->kind = PK_ABSENT;
	else if (!strcmp(d->ensure, "latest"))
		d->kind = PK_LATEST;
	else if (version_ok(d->ensure))
		d->kind = PK_VERSION;
	else if ((hint = closest_name(d->ensure, ensure_words)))
		return res_err_attr(r, err, "ensure", "ensure of %s: '%s' is not present, absent, latest "
				    "or a version (did you mean '%s'?)", r->id, d->ensure, hint);
	else
		return res_err_attr(r, err, "ensure", "ensure of %s: '%s' is not present, absent, latest "
				    "or a version", r->id, d->ensure);
	return 0;
}

/* --- the per-run cache ------------------------------------------------------ */

static void package_free_cache(void *p)
{
	struct package_run *run = p;

	for (size_t i = 0; i < PROV_N; i++) {
		pkg_set_free(&run->p[i].installed);
		pkg_set_free(&run->p[i].avail);
	}
	free(run);
}

const struct res_type res_type_package;

static struct package_run *run_get(struct res_ctx *ctx)
{
	struct package_run *run = res_cache_get(ctx, &res_type_package);

	if (run)
		return run;
	run = xcalloc(1, sizeof(*run));
	run->def = -1;
	res_cache_set(ctx, &res_type_package, run);
	/* NULL when the context had no room left: it then freed run */
	return res_cache_get(ctx, &res_type_package);
}

static bool root_has(struct res_ctx *ctx, const char *path)
{
	int fd = fsroot_open_path(ctx->root, path, O_PATH, 0);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* default_provider - from facts.os.family, else from the database the root holds. */
static int default_provider(struct package_run *run, struct res_ctx *ctx)
{
	json_t *os = json_object_get(json_object_get(ctx->tmpl, "facts"), "os");
	const char *fam = json_string_value(json_object_get(os, "family"));

	if (run->def_done)
		return run->def;
	run->def_done = true;
	if (fam && !strcmp(fam, "debian"))
		run->def = PROV_DPKG;
	else if (fam && (!strcmp(fam, "redhat") || !strcmp(fam, "suse")))
		run->def = PROV_RPM;
	else if (root_has(ctx, "/var/lib/dpkg/status"))
		run->def = PROV_DPKG;
	else if (root_has(ctx, "/var/lib/rpm") || root_has(ctx, "/usr/lib/sysimage/rpm"))
		run->def = PROV_RPM;
	else
		snprintf(run->def_why, sizeof(run->def_why),
			 "cannot tell the package manager of %s: the os family is '%s' and it has neither "
			 "/var/lib/dpkg/status nor /var/lib/rpm; set provider: dpkg or rpm",
			 ctx->root->path[0] ? ctx->root->path : "/", fam ? fam : "unknown");
	return run->def;
}

static int provider_of(const struct resource *r, struct package_run *run, struct res_ctx *ctx)
{
	return D(r)->provider >= 0 ? D(r)->provider : default_provider(run, ctx);
}

static struct pkg_prov_ctx prov_ctx(const struct res_ctx *ctx)
{
	struct pkg_prov_ctx pc = {
		.root = ctx->root->path,
		.froot = ctx->root,
		.timeout = ctx->default_timeout > PKG_MIN_TIMEOUT ? ctx->default_timeout : PKG_MIN_TIMEOUT,
		.output_max = ctx->output_max ? ctx->output_max : (size_t)64 << 10,
		.plan = ctx->plan,
	};

	return pc;
}

/*
 * ensure_avail - ask the sources once for every package of the run that
 * this provider manages and that is not to be absent.  0, or -EIO with
 * the reason in pr->avail_why.
 */
static int ensure_avail(struct package_run *run, int p, struct res_ctx *ctx)
{
	struct prov_run *pr = &run->p[p];
	struct pkg_prov_ctx pc = prov_ctx(ctx);
	char **names;
	size_t n = 0;
	int r;

	if (pr->avail_rc)
		return pr->avail_rc < 0 ? pr->avail_rc : 0;
	names = xcalloc(ctx->cat->n + 1, sizeof(*names));
	for (size_t i = 0; i < ctx->cat->n; i++) {
		struct resource *q = ctx->cat->res[i];

		if (q->type == &res_type_package && q->desired && D(q)->kind != PK_ABSENT &&
		    provider_of(q, run, ctx) == p)
			names[n++] = q->name;
	}
	r = providers[p]->load_available(&pc, names, n, &pr->avail, pr->avail_why, sizeof(pr->avail_why));
	free(names);
	pr->avail_rc = r < 0 ? -EIO : 1;
	return r < 0 ? -EIO : 0;
}

/* lists_stale - whether the lists are missing or too old to trust; what into why. */
static bool lists_stale(struct package_run *run, int p, struct res_ctx *ctx, char *why, size_t whylen)
{
	struct prov_run *pr = &run->p[p];

	if (!providers[p]->lists_age || pr->refreshed)
		return false;
	if (!pr->age_loaded) {
		pr->age_rc = providers[p]->lists_age(ctx, &pr->age);
		pr->age_loaded = true;
	}
	if (pr->age_rc == -ENOENT)
		snprintf(why, whylen, "missing");
	else if (pr->age_rc < 0)
		snprintf(why, whylen, "unreadable (%s)", strerror(-pr->age_rc));
	else if (pr->age > PKG_LISTS_MAX_AGE)
		snprintf(why, whylen, "%.0f h old (older than %.0f h)", pr->age / 3600, PKG_LISTS_MAX_AGE / 3600);
	else
		return false;
	return true;
}

/* --- deciding ---------------------------------------------------------------- */

static void set_op(struct package_state *s, const char *name, enum pkg_op_kind kind, const char *version)
{
	free(s->op_version);
	s->op_version = xstrdup(version);
	s->op.kind = kind;
	s->op.name = name;
	s->op.version = s->op_version;
	s->have_op = true;
}

/*
 * want - record the install, upgrade or downgrade of r to version (NULL:
 * the candidate), shown in the plan as shown.
 */
static void want(struct resource *r, const char *version, const char *shown, const struct pkg_provider *pv)
{
	struct package_state *s = S(r);
	enum pkg_op_kind kind = PKG_OP_INSTALL;

	if (!s->installed) {
		res_change(r, "ensure", "absent", "present");
		if (shown)
			res_change(r, "version", NULL, shown);
	} else {
		res_change(r, "version", s->installed, shown);
		kind = version && pv->vercmp(version, s->installed) < 0 ? PKG_OP_DOWNGRADE : PKG_OP_UPGRADE;
	}
	set_op(s, r->name, kind, version);
}

/*
 * avail_find - what the sources offer for name; "name:amd64" on amd64
 * (or "name:all"), which apt lists under the plain name, is found too.
 */
static const struct pkg_entry *avail_find(const struct prov_run *pr, const char *name)
{
	const struct pkg_entry *e = pkg_set_find(&pr->avail, name);
	const char *colon = strchr(name, ':');
	char plain[256];

	if (e || !colon || (size_t)(colon - name) >= sizeof(plain) ||
	    (strcmp(colon + 1, dpkg_native_arch()) && strcmp(colon + 1, "all")))
		return e;
	snprintf(plain, sizeof(plain), "%.*s", (int)(colon - name), name);
	return pkg_set_find(&pr->avail, plain);
}

/* offered - the version e offers that the pin names, or NULL. */
static const char *offered(const struct pkg_provider *pv, const struct pkg_entry *e, const char *pin)
{
	for (size_t i = 0; e && i < e->nversions; i++)
		if (pv->version_matches(pin, e->versions[i]))
			return e->versions[i];
	return NULL;
}

/*
 * unavailable - no source offers the package (or the pinned version).
 * After a refresh that is final; a plan cannot know (apply refreshes
 * first); apply records the change and refreshes before deciding again.
 */
static int unavailable(struct resource *r, struct res_ctx *ctx, struct prov_run *pr,
		       const struct pkg_provider *pv, const struct pkg_entry *e, const char *stale)
{
	struct package_desired *d = D(r);
	char what[512], offers[512] = "";

	if (d->kind == PK_VERSION)
		snprintf(what, sizeof(what), "version %s of package '%s'", d->ensure, r->name);
	else
		snprintf(what, sizeof(what), "package '%s'", r->name);
	for (size_t i = 0; e && i < e->nversions; i++) {
		size_t l = strlen(offers);

		snprintf(offers + l, sizeof(offers) - l, "%s%s", i ? ", " : " (offered: ", e->versions[i]);
	}
	if (offers[0] && strlen(offers) + 2 < sizeof(offers))
		memcpy(offers + strlen(offers), ")", 2);
	if (pr->refreshed)
		return res_fail(r, "%s is not available from any configured source%s%s%s", what, offers,
				pr->refresh_why[0] ? "; refreshing the lists failed: " : "", pr->refresh_why);
	if (ctx->plan) {
		res_unknown(r, "%s is not in the %s%s%s%s: apply refreshes them first and fails if it is "
			    "still not available", what, pv->lists, stale ? " (" : "", stale ? stale : "",
			    stale ? ")" : "");
		return 0;
	}
	if (d->kind == PK_VERSION)
		want(r, d->ensure, d->ensure, pv);
	else
		want(r, NULL, NULL, pv);
	S(r)->need_refresh = true;
	return 0;
}

/* decide - compare installed with desired: changes and the op, unknown, or failed. */
static int decide(struct resource *r, struct res_ctx *ctx)
{
	struct package_desired *d = D(r);
	struct package_state *s = S(r);
	struct package_run *run = run_get(ctx);
	const struct pkg_provider *pv = providers[s->prov];
	struct prov_run *pr;
	const struct pkg_entry *e;
	const char *inst = s->installed, *v;
	char stale[128];
	bool is_stale;

	s->have_op = s->need_refresh = false;
	if (d->kind == PK_ABSENT) {
		if (inst) {
			res_change(r, "ensure", "present", "absent");
			set_op(s, r->name, PKG_OP_REMOVE, NULL);
		}
		return 0;
	}
	if (inst && (d->kind == PK_PRESENT || (d->kind == PK_VERSION && pv->version_matches(d->ensure, inst))))
		return 0;
	if (!run)
		return res_fail(r, "no room for the package cache in this run");
	pr = &run->p[s->prov];
	if (ensure_avail(run, s->prov, ctx) < 0) {
		if (!ctx->plan)
			return res_fail(r, "%s", pr->avail_why);
		res_unknown(r, "cannot tell what the sources offer: %s", pr->avail_why);
		return 0;
	}
	is_stale = lists_stale(run, s->prov, ctx, stale, sizeof(stale));
	e = avail_find(pr, r->name);
	if (d->kind == PK_VERSION) {
		v = offered(pv, e, d->ensure);
		if (!v)
			return unavailable(r, ctx, pr, pv, e, is_stale ? stale : NULL);
		want(r, v, v, pv);
		s->need_refresh = !ctx->plan && is_stale;
		return 0;
	}
	if (!inst) {
		if (!e || !e->version)
			return unavailable(r, ctx, pr, pv, e, is_stale ? stale : NULL);
		want(r, NULL, e->version, pv);
		s->need_refresh = !ctx->plan && is_stale;
		return 0;
	}
	/* latest, and installed: a package no source offers is as new as it gets */
	if (is_stale && ctx->plan) {
		res_unknown(r, "the %s are %s: apply refreshes them first, so whether a version newer "
			    "than the installed %s exists is not known yet", pv->lists, stale, inst);
		return 0;
	}
	if (is_stale) {
		want(r, NULL, "latest", pv);
		s->need_refresh = true;
		return 0;
	}
	if (e && e->version && pv->vercmp(e->version, inst) > 0)
		want(r, e->version, e->version, pv);
	return 0;
}

/* --- operations -------------------------------------------------------------- */

static void package_free_state(struct resource *r)
{
	struct package_state *s = S(r);

	free(s->installed);
	free(s->op_version);
	memset(s, 0, sizeof(*s));
}

static int package_probe(struct resource *r, struct res_ctx *ctx)
{
	struct package_state *s = S(r);
	struct package_run *run = run_get(ctx);
	struct pkg_prov_ctx pc = prov_ctx(ctx);
	const struct pkg_entry *e;
	struct prov_run *pr;

	package_free_state(r);
	if (!run)
		return res_fail(r, "no room for the package cache in this run");
	s->prov = provider_of(r, run, ctx);
	if (s->prov < 0)
		return res_fail(r, "%s", run->def_why);
	pr = &run->p[s->prov];
	if (!pr->installed_loaded) {
		pr->installed_rc = providers[s->prov]->load_installed(ctx, &pc, &pr->installed,
								      pr->installed_why,
								      sizeof(pr->installed_why));
		pr->installed_loaded = true;
	}
	if (pr->installed_rc < 0)
		return res_fail(r, "%s", pr->installed_why);
	e = pkg_set_find(&pr->installed, r->name);
	s->installed = e ? xstrdup(e->version) : NULL;
	return 0;
}

static int package_diff(struct resource *r, struct res_ctx *ctx)
{
	return decide(r, ctx);
}

/* add_output - a command's output onto r's (bounded by --output-max). */
static void add_output(struct resource *r, const struct res_ctx *ctx, const struct proc_result *res)
{
	size_t max = ctx->output_max ? ctx->output_max : (size_t)64 << 10, room, take;
	struct buf *o = res_output(r, max + 128);

	if (r->sensitive) {
		if (!o->len && res->output.len)
			buf_puts(o, "(output hidden: sensitive)\n");
		return;
	}
	room = max > o->len ? max - o->len : 0;
	take = res->output.len < room ? res->output.len : room;
	buf_add(o, res->output.data ? res->output.data : "", take);
	if (take < res->output.len || res->truncated)
		buf_printf(o, "\n[output truncated at %zu bytes]\n", max);
}

/* refresh - refresh p's lists once, then decide every member again. */
static void refresh(struct resource **m, size_t n, struct res_ctx *ctx, struct package_run *run, int p)
{
	struct prov_run *pr = &run->p[p];
	struct pkg_prov_ctx pc = prov_ctx(ctx);
	struct proc_result res;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = providers[p]->refresh(&pc, &res, pr->refresh_why, sizeof(pr->refresh_why));
	if (rc == 0)
		pr->refresh_why[0] = '\0';
	pr->refreshed = true;
	/* the lists changed: ask the sources again */
	pkg_set_free(&pr->avail);
	pr->avail_rc = 0;
	for (size_t i = 0; i < n; i++) {
		struct resource *r = m[i];

		res_clear_changes(r);
		free(r->message);
		r->message = NULL;
		r->status = RES_PENDING;
		decide(r, ctx);
		if (r->status == RES_PENDING)
			r->status = r->nchanges ? RES_CHANGE : RES_OK;
		/* the refresh's output explains its failure, and what was installed after it */
		if (rc < 0 || r->status == RES_CHANGE)
			add_output(r, ctx, &res);
	}
	proc_result_free(&res);
}

/* batch_provider - refresh when needed, then one transaction for the members. */
static void batch_provider(struct resource **m, size_t n, struct res_ctx *ctx, struct package_run *run, int p)
{
	struct prov_run *pr = &run->p[p];
	struct pkg_prov_ctx pc = prov_ctx(ctx);
	struct pkg_op *ops = xcalloc(n, sizeof(*ops));
	struct proc_result res;
	char why[PKG_WHY_MAX] = "";
	bool need = false;
	size_t nops = 0;
	int rc;

	for (size_t i = 0; i < n; i++)
		need |= S(m[i])->need_refresh;
	if (need && !pr->refreshed)
		refresh(m, n, ctx, run, p);
	for (size_t i = 0; i < n; i++)
		if (m[i]->status == RES_CHANGE && S(m[i])->have_op)
			ops[nops++] = S(m[i])->op;
	if (nops) {
		rc = providers[p]->transact(&pc, ops, nops, &res, why, sizeof(why));
		for (size_t i = 0; i < n; i++) {
			if (m[i]->status != RES_CHANGE)
				continue;
			add_output(m[i], ctx, &res);
			if (rc < 0)
				res_fail(m[i], "%s", why);
			else
				m[i]->status = RES_CHANGED;
		}
		proc_result_free(&res);
		/* the system changed: the next probe reads the database again */
		pkg_set_free(&pr->installed);
		pr->installed_loaded = false;
		pr->installed_rc = 0;
	}
	free(ops);
}

static int package_apply_batch(struct resource **rs, size_t n, struct res_ctx *ctx)
{
	struct package_run *run = run_get(ctx);
	struct resource **m = xcalloc(n ? n : 1, sizeof(*m));

	for (int p = 0; run && p < PROV_N; p++) {
		size_t k = 0;

		for (size_t i = 0; i < n; i++)
			if (rs[i]->status == RES_CHANGE && S(rs[i])->prov == p)
				m[k++] = rs[i];
		if (k)
			batch_provider(m, k, ctx, run, p);
	}
	free(m);
	for (size_t i = 0; i < n; i++)
		if (rs[i]->status == RES_CHANGE)
			res_fail(rs[i], "no room for the package cache in this run");
	return 0;
}

static int package_apply(struct resource *r, struct res_ctx *ctx)
{
	return package_apply_batch(&r, 1, ctx);
}

const struct res_type res_type_package = {
	.name = "package",
	.doc = "a package installed or absent, through dpkg/apt or rpm/dnf; all packages ready at the "
	       "same point of a run are applied in one transaction; the source lists are refreshed "
	       "(apt-get update) at most once a run, when a package is not in them or they are older "
	       "than 24 h",
	.attrs = package_attrs,
	.desired_size = sizeof(struct package_desired),
	.state_size = sizeof(struct package_state),
	.verify = true,
	.check = package_check,
	.probe = package_probe,
	.diff = package_diff,
	.apply = package_apply,
	.apply_batch = package_apply_batch,
	.free_state = package_free_state,
	.free_cache = package_free_cache,
};
