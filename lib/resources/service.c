/*
 * service.c - the `service` resource type: whether a service starts at
 * boot (enabled), whether it runs now (state), and restarting it when a
 * resource that notifies it changed.
 *
 * Two providers, chosen from the root unless `provider:` says: systemd
 * when the root has systemd (or is "/" with systemd running), else
 * sysvinit.  Enablement is read from links beneath the root without
 * forking (svc_systemd.c, svc_sysv.c).  The running state needs the init
 * of the managed system: systemctl when systemd runs the root (only "/"
 * can be), the root's own /etc/init.d script (chrooted into the root)
 * for sysvinit.  Asking an init script costs a fork per service: there is
 * no other way to ask it, and it is only done when state is managed or
 * the service was notified.  Plan asks too (`status` is read-only by the
 * LSB contract), so that it shows what apply will do.  When the init cannot act, state is unknown
 * in a plan and fails in apply, after enabled has been made right; a
 * notification then has nothing to restart (nothing of that init runs).
 *
 * Notifications are handled in diff, like exec's: a notified service that
 * is running gets a "state running -> restart (notified)" change (reload
 * with reload_on_notify), shown by plan and applied with the others, so
 * it happens once per run however many resources notify it, never when
 * this run starts or stops the service, and the verify pass does not
 * restart again (the desired struct remembers it happened).  So the type
 * has no refresh op.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resources/registry.h"
#include "resources/svc_systemd.h"
#include "resources/svc_sysv.h"
#include "util/fsroot.h"
#include "util/proc.h"
#include "util/strutil.h"

enum { ST_RUNNING = 0, ST_STOPPED = 1 };
enum { PROV_SYSTEMD = 0, PROV_SYSVINIT = 1 };

static const char *const state_choices[] = { "running", "stopped", NULL };
static const char *const provider_choices[] = { "systemd", "sysvinit", NULL };

struct svc_desired {
	int state;
	int enabled;
	int reload_on_notify;
	int provider;
	/* set by apply: started or restarted in this run, the notification is spent */
	bool refreshed;
};

#define RUN_UNKNOWN (-1) /* s->why says why */
#define RUN_UNPROBED (-2)

struct svc_state {
	int provider;
	bool links_sysv;	 /* enabled through rc.d links (sysvinit; systemd without a unit) */
	bool state_sysv;	 /* state through the init script, else systemctl */
	bool can_act;		 /* the init can start and stop services of this root */
	char unit[SVC_UNIT_MAX]; /* systemd unit */
	char script[SVC_UNIT_MAX]; /* init script name */
	struct svc_lsb lsb;
	int enabled; /* enum svc_enable_state, -1 when not probed */
	int running; /* 1, 0, RUN_UNKNOWN, RUN_UNPROBED */
	char why[1024];
};

#define D(r) RES_DESIRED(r, struct svc_desired)
#define S(r) RES_STATE(r, struct svc_state)

static const struct res_attr service_attrs[] = {
	{ "state", ATTR_ENUM, offsetof(struct svc_desired, state), 0, NULL, state_choices,
	  "running or stopped now (unset: not managed); needs the init of the root to be running" },
	{ "enabled", ATTR_BOOL, offsetof(struct svc_desired, enabled), 0, NULL, NULL,
	  "started at boot (unset: not managed): unit links, or rc.d links for sysvinit" },
	{ "reload_on_notify", ATTR_BOOL, offsetof(struct svc_desired, reload_on_notify), 0, "false",
	  NULL, "a notification reloads the running service instead of restarting it" },
	{ "provider", ATTR_ENUM, offsetof(struct svc_desired, provider), 0, NULL, provider_choices,
	  "systemd or sysvinit (default: systemd when the root has it, else sysvinit)" },
	{ NULL },
};

static const char *root_name(const struct res_ctx *ctx)
{
	return ctx->root->path[0] ? ctx->root->path : "/";
}

static int service_check(struct resource *r, struct res_ctx *ctx, struct tend_err *err)
{
	char unit[SVC_UNIT_MAX];

	(void)ctx;
	D(r)->refreshed = false; /* decoded again for each run: a new run, a new notification */
	if (!svc_sysv_name_ok(r->name) ||
	    (D(r)->provider == PROV_SYSTEMD && svc_unit_name(r->name, unit) < 0))
		return err_at(err, -EINVAL, r->pos.file, r->name_pos.line, r->name_pos.col,
			      "'%s' is not a valid service name", r->name);
	return 0;
}

/* dep_pending - in a plan, whether something this service follows changes first. */
static bool dep_pending(const struct resource *r)
{
	for (size_t i = 0; i < r->ndeps; i++)
		if (r->deps[i]->status == RES_CHANGE || r->deps[i]->status == RES_UNKNOWN)
			return true;
	return false;
}

/*
 * missing - the service does not exist: unknown in a plan when a resource
 * it follows changes first (a package may bring it), else a failure.
 * Returns what probe returns.
 */
static int missing(struct resource *r, struct res_ctx *ctx, const char *what)
{
	if (ctx->plan && dep_pending(r)) {
		res_unknown(r, "%s does not exist yet in %s (a resource it follows changes first)",
			    what, root_name(ctx));
		return 0;
	}
	return res_fail(r, "%s does not exist in %s", what, root_name(ctx));
}

/* locate_sysv - the init script and whether it can run.  1: found. */
static int locate_sysv(struct resource *r, struct res_ctx *ctx)
{
	struct svc_state *s = S(r);
	char what[SVC_UNIT_MAX + 32];
	int ret;

	s->links_sysv = s->state_sysv = true;
	ret = svc_sysv_read_lsb(ctx->root, s->script, &s->lsb);
	snprintf(what, sizeof(what), "/etc/init.d/%s", s->script);
	if (ret == -ENOENT)
		return missing(r, ctx, what);
	if (ret < 0)
		return res_fail(r, "cannot read %s: %s", what, strerror(-ret));
	s->can_act = svc_sysv_can_run(ctx->root, s->why, sizeof(s->why));
	return 1;
}

/* locate_systemd - the unit (or an init script systemd would run), and whether systemd runs. */
static int locate_systemd(struct resource *r, struct res_ctx *ctx)
{
	struct svc_state *s = S(r);
	char what[2 * SVC_UNIT_MAX + 64];
	struct svc_unit u;
	int ret;

	if (svc_unit_name(r->name, s->unit) < 0)
		return res_fail(r, "'%s' is not a valid systemd unit name", r->name);
	s->can_act = svc_systemd_live(ctx->root);
	if (!s->can_act)
		snprintf(s->why, sizeof(s->why), "systemd is not running for %s", root_name(ctx));
	ret = svc_unit_find(ctx->root, s->unit, &u);
	if (ret == 0) {
		svc_unit_free(&u);
		return 1;
	}
	if (ret != -ENOENT)
		return res_fail(r, "cannot read unit %s: %s", s->unit, strerror(-ret));
	/* no unit file: systemd runs an init script of that name through its sysv generator */
	if (!strchr(s->script, '@') && svc_sysv_read_lsb(ctx->root, s->script, &s->lsb) == 0) {
		s->links_sysv = true;
		return 1;
	}
	snprintf(what, sizeof(what), "unit %s (nor /etc/init.d/%s)", s->unit, s->script);
	return missing(r, ctx, what);
}

/* script_name - the init script of a service: NAME without ".service". */
static void script_name(const char *name, char out[SVC_UNIT_MAX])
{
	size_t n = strlen(name);

	snprintf(out, SVC_UNIT_MAX, "%.*s",
		 (int)(n > 8 && !strcmp(name + n - 8, ".service") ? n - 8 : n), name);
}

/* locate - provider, unit or script, and whether the init can act.  1: found. */
static int locate(struct resource *r, struct res_ctx *ctx)
{
	struct svc_state *s = S(r);

	s->provider = D(r)->provider >= 0	       ? D(r)->provider :
		      svc_systemd_installed(ctx->root) ? PROV_SYSTEMD :
							 PROV_SYSVINIT;
	script_name(r->name, s->script);
	return s->provider == PROV_SYSVINIT ? locate_sysv(r, ctx) : locate_systemd(r, ctx);
}

/* probe_running - s->running from the init script's status or systemctl is-active. */
static void probe_running(struct resource *r, struct res_ctx *ctx)
{
	struct svc_state *s = S(r);
	const char *args[] = { "is-active", "--quiet", s->unit, NULL };
	struct tend_err err = { "" };
	struct proc_result res;
	int ret;

	s->running = RUN_UNKNOWN;
	if (!s->can_act)
		return;
	if (s->state_sysv)
		ret = svc_sysv_run(ctx->root, s->script, "status", ctx->default_timeout, 0, &res,
				   &err);
	else
		ret = svc_systemctl(args, ctx->default_timeout, 0, &res, &err);
	if (ret < 0) {
		snprintf(s->why, sizeof(s->why), "cannot ask whether it runs: %.900s", err.msg);
		return;
	}
	if (res.timed_out || res.term_signal)
		snprintf(s->why, sizeof(s->why), "its status check %s",
			 res.timed_out ? "timed out" : "was killed by a signal");
	else if (!s->state_sysv || (res.exit_code >= 0 && res.exit_code <= 3))
		s->running = res.exit_code == 0; /* LSB: 1, 2, 3 all mean not running */
	else
		snprintf(s->why, sizeof(s->why),
			 "/etc/init.d/%s status exited %d: cannot tell whether it runs", s->script,
			 res.exit_code);
	proc_result_free(&res);
}

static int service_probe(struct resource *r, struct res_ctx *ctx)
{
	struct svc_desired *d = D(r);
	struct svc_state *s = S(r);
	struct tend_err err = { "" };
	int ret;

	memset(s, 0, sizeof(*s));
	s->enabled = -1;
	s->running = RUN_UNPROBED;
	ret = locate(r, ctx);
	if (ret <= 0)
		return ret;
	if (d->enabled >= 0) {
		if (s->links_sysv)
			ret = svc_sysv_enabled(ctx->root, s->script, &s->lsb, &s->enabled);
		else
			ret = svc_systemd_enabled(ctx->root, s->unit, &s->enabled, &err);
		if (ret < 0)
			return res_fail(r, "cannot tell whether it is enabled: %s",
					err.msg[0] ? err.msg : strerror(-ret));
	}
	if (d->state >= 0 || (r->notified && !d->refreshed))
		probe_running(r, ctx);
	return 0;
}

/* cannot - s->why becomes the whole reason why state cannot be had. */
static void cannot(struct resource *r, const char *verb)
{
	struct svc_state *s = S(r);
	struct buf m;

	buf_init(&m, 0);
	if (!s->can_act && s->state_sysv)
		buf_printf(&m, "cannot %s /etc/init.d/%s: %s", verb, s->script, s->why);
	else if (!s->can_act)
		buf_printf(&m, "%s: cannot %s a service", s->why, verb);
	else
		buf_puts(&m, s->why);
	if (D(r)->enabled >= 0)
		buf_puts(&m, "; enabled is still managed");
	snprintf(s->why, sizeof(s->why), "%.*s",
		 (int)(m.len < sizeof(s->why) ? m.len : sizeof(s->why) - 1), buf_str(&m));
	buf_free(&m);
}

static void diff_enabled(struct resource *r)
{
	struct svc_desired *d = D(r);
	struct svc_state *s = S(r);
	int want = d->enabled ? SVC_ENABLED : SVC_DISABLED;

	if (s->enabled == want)
		return;
	if (!d->enabled && (s->enabled == SVC_MASKED || s->enabled == SVC_STATIC))
		return; /* nothing enables it at boot */
	if (s->enabled == SVC_MASKED)
		res_fail(r, "%s is masked (linked to /dev/null): unmask it to enable it", s->unit);
	else if (s->enabled == SVC_STATIC && s->links_sysv)
		res_fail(r,
			 "/etc/init.d/%s has an empty Default-Start: no runlevel to enable it in",
			 s->script);
	else if (s->enabled == SVC_STATIC)
		res_fail(r,
			 "%s has no [Install] section: it cannot be enabled, only started by what "
			 "needs it",
			 s->unit);
	else
		res_change(r, "enabled", svc_enable_state_name(s->enabled),
			   d->enabled ? "true" : "false");
}

static int service_diff(struct resource *r, struct res_ctx *ctx)
{
	struct svc_desired *d = D(r);
	struct svc_state *s = S(r);
	const char *unknown_verb = NULL;

	if (d->enabled >= 0) {
		diff_enabled(r);
		if (r->status == RES_FAILED)
			return -EIO;
	}
	/*
	 * An image (a root other than "/" that systemd does not run) has no
	 * running services to manage: enabled is what takes effect when it
	 * boots.  Say so rather than fail every image build.
	 */
	if (s->provider == PROV_SYSTEMD && !s->can_act && !fsroot_is_host(ctx->root)) {
		if (d->state >= 0 || r->notified) {
			free(r->message);
			r->message = xstrdup("state not managed: systemd does not run this root "
					     "(an image); enabled takes effect when it boots");
		}
		return 0;
	}
	if (d->state >= 0 && s->running == RUN_UNKNOWN)
		unknown_verb = d->state == ST_RUNNING ? "start" : "stop";
	else if (d->state >= 0 && s->running != (d->state == ST_RUNNING))
		res_change(r, "state", s->running ? "running" : "stopped", state_choices[d->state]);
	if (r->notified && !d->refreshed && d->state != ST_STOPPED && !unknown_verb &&
	    !res_has_change(r, "state")) {
		if (s->running == 1)
			res_change(r, "state", "running",
				   d->reload_on_notify == 1 ? "reload (notified)" :
							      "restart (notified)");
		else if (s->running == RUN_UNKNOWN && s->can_act)
			unknown_verb = d->reload_on_notify == 1 ? "reload" : "restart";
	}
	if (!unknown_verb)
		return 0;
	cannot(r, unknown_verb);
	if (!ctx->plan) {
		/* apply makes enabled right, then fails with s->why */
		res_change(r, "state", "unknown", unknown_verb);
		return 0;
	}
	if (r->nchanges && !strcmp(r->changes[0].what, "enabled"))
		res_unknown(r, "%s (enabled %s -> %s)", s->why, r->changes[0].from,
			    r->changes[0].to);
	else
		res_unknown(r, "%s", s->why);
	return 0;
}

/* keep_output - a command's output, appended to what the resource shows (up to its limit). */
static void keep_output(struct resource *r, const struct buf *out)
{
	struct buf *o = res_output(r, 0);
	size_t room = o->max > o->len ? o->max - o->len : 0;

	buf_add(o, out->data ? out->data : "", out->len < room ? out->len : room);
}

/* act - start, stop, restart or reload through the init. */
static int act(struct resource *r, struct res_ctx *ctx, const char *verb)
{
	struct svc_state *s = S(r);
	const char *args[] = { verb, s->unit, NULL };
	struct tend_err err = { "" };
	struct proc_result res;
	char what[SVC_UNIT_MAX + 64];
	int ret;

	if (s->state_sysv) {
		snprintf(what, sizeof(what), "/etc/init.d/%s %s", s->script, verb);
		ret = svc_sysv_run(ctx->root, s->script, verb, ctx->default_timeout,
				   ctx->output_max, &res, &err);
	} else {
		const char *show[] = { "show", "--value", "--property=NeedDaemonReload", s->unit,
				       NULL };
		const char *reload[] = { "daemon-reload", NULL };

		/* a unit file changed in this run must be read before it is (re)started */
		snprintf(what, sizeof(what), "systemctl %s %s", verb, s->unit);
		if (strcmp(verb, "stop") &&
		    svc_systemctl(show, ctx->default_timeout, 0, &res, &err) == 0) {
			bool stale = !strcmp(buf_str(&res.output), "yes\n");

			proc_result_free(&res);
			if (stale &&
			    svc_systemctl(reload, ctx->default_timeout, 0, &res, &err) == 0)
				proc_result_free(&res);
		}
		ret = svc_systemctl(args, ctx->default_timeout, ctx->output_max, &res, &err);
	}
	if (ret < 0)
		return res_fail(r, "cannot run %s: %s", what, err.msg);
	keep_output(r, &res.output);
	if (res.timed_out)
		ret = res_fail(r, "%s timed out after %g s (process group killed)", what,
			       ctx->default_timeout);
	else if (res.term_signal)
		ret = res_fail(r, "%s was killed by signal %d", what, res.term_signal);
	else if (res.exit_code != 0)
		ret = res_fail(r, "%s exited %d", what, res.exit_code);
	proc_result_free(&res);
	return ret;
}

static int set_enabled(struct resource *r, struct res_ctx *ctx, bool on)
{
	struct svc_state *s = S(r);
	struct tend_err err = { "" };
	struct buf log;
	int ret;

	buf_init(&log, (size_t)64 << 10);
	if (s->links_sysv)
		ret = svc_sysv_set_enabled(ctx->root, s->script, &s->lsb, on, &log, &err);
	else
		ret = svc_systemd_set_enabled(ctx->root, s->unit, on, ctx->default_timeout, &log,
					      &err);
	keep_output(r, &log);
	buf_free(&log);
	if (ret < 0)
		return res_fail(r, "cannot %s it: %s", on ? "enable" : "disable", err.msg);
	return 0;
}

static int service_apply(struct resource *r, struct res_ctx *ctx)
{
	struct svc_desired *d = D(r);
	struct svc_state *s = S(r);
	int ret = 0;

	buf_free(res_output(r, 0));
	buf_init(r->output, ctx->output_max ? ctx->output_max : (size_t)64 << 10);
	if (res_has_change(r, "enabled") && (ret = set_enabled(r, ctx, d->enabled == 1)) < 0)
		return ret;
	for (size_t i = 0; i < r->nchanges && ret == 0; i++) {
		const struct change *c = &r->changes[i];
		const char *verb;

		if (strcmp(c->what, "state"))
			continue;
		if (!strcmp(c->from, "unknown"))
			return res_fail(r, "%s", s->why);
		verb = !strcmp(c->to, "running")       ? "start" :
		       !strcmp(c->to, "stopped")       ? "stop" :
		       str_has_prefix(c->to, "reload") ? "reload" :
							 "restart";
		ret = act(r, ctx, verb);
		if (ret == 0 && strcmp(verb, "stop"))
			d->refreshed = true;
	}
	return ret;
}

static void service_autorequire(struct resource *r, void (*add)(void *arg, const char *id),
				void *arg)
{
	static const char *const dirs[] = { "/etc/systemd/system",	     "/run/systemd/system",
					    "/usr/local/lib/systemd/system", "/lib/systemd/system",
					    "/usr/lib/systemd/system",	     NULL };
	char unit[SVC_UNIT_MAX], id[SVC_UNIT_MAX + 64];

	if (!svc_sysv_name_ok(r->name))
		return;
	script_name(r->name, unit);
	snprintf(id, sizeof(id), "file:/etc/init.d/%s", unit);
	add(arg, id);
	if (svc_unit_name(r->name, unit) < 0)
		return;
	for (const char *const *d = dirs; *d; d++) {
		snprintf(id, sizeof(id), "file:%s/%s", *d, unit);
		add(arg, id);
	}
}

const struct res_type res_type_service = {
	.name = "service",
	.doc = "a service: enabled at boot, running or stopped now, restarted (or reloaded) when "
	       "notified; systemd or sysvinit",
	.attrs = service_attrs,
	.desired_size = sizeof(struct svc_desired),
	.state_size = sizeof(struct svc_state),
	.name_is_path = false,
	.verify = true,
	.check = service_check,
	.probe = service_probe,
	.diff = service_diff,
	.apply = service_apply,
	.refresh = NULL,
	.autorequire = service_autorequire,
};
