/*
 * exec.c - the `exec` resource type: run a command when its conditions
 * say so (creates missing, unless failing, onlyif succeeding, notified
 * for refreshonly).
 *
 * Commands run without a shell unless shell: true; a command string that
 * a shell would have interpreted is an input error (exec_args.c).  Each
 * run leads its own process group and the timeout kills the whole group,
 * so a grandchild that ignores SIGTERM cannot outlive it.  unless and
 * onlyif are read-only checks by contract: they run in plan too, with the
 * same user, cwd, environment and chroot as the command, so that the plan
 * says exactly what apply will do.
 *
 * Notifications are handled in diff, not through a refresh op: a
 * refreshonly exec runs when notified and its checks pass, like any other
 * exec; an exec that is not refreshonly runs when its checks pass whether
 * notified or not.  So a notified exec never runs twice in one run, and
 * never runs against its own creates/unless/onlyif guards.
 *
 * Without chroot: true the command runs on the host with TEND_ROOT set to
 * the managed root, and cwd is resolved to its host path; with it, the
 * command runs chrooted into the root and every path is the root's own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resources/exec_args.h"
#include "resources/registry.h"
#include "util/fsroot.h"
#include "util/proc.h"
#include "util/strutil.h"
#include "util/userdb.h"

#define EXEC_TEXT_MAX ((size_t)64 << 10)

struct exec_desired {
	struct strlist command;
	int shell;
	char *creates;
	struct strlist unless;
	struct strlist onlyif;
	char *cwd;
	struct strlist env;
	char *user;
	double timeout;
	int refreshonly;
	struct strlist returns;
	int chroot;
	/* derived by check() */
	char **argv;
	char **unless_argv;
	char **onlyif_argv;
	char *text;            /* the command as typed, for plans and messages */
	int *codes;            /* success exit statuses */
	size_t ncodes;
};

struct exec_state {
	bool creates_exists;
};

#define D(r) RES_DESIRED(r, struct exec_desired)
#define S(r) RES_STATE(r, struct exec_state)

static const struct res_attr exec_attrs[] = {
	{ "command", ATTR_ARGV, offsetof(struct exec_desired, command), 0, NULL, NULL,
	  "a list (argv, no shell) or a string (split on blanks; run by /bin/sh -c with shell: true); "
	  "default: the resource name" },
	{ "shell", ATTR_BOOL, offsetof(struct exec_desired, shell), 0, "false", NULL,
	  "run command, unless and onlyif strings with /bin/sh -c" },
	{ "creates", ATTR_PATH, offsetof(struct exec_desired, creates), 0, NULL, NULL,
	  "a path in the root: run only while it does not exist" },
	{ "unless", ATTR_ARGV, offsetof(struct exec_desired, unless), 0, NULL, NULL,
	  "a command (read-only check, also run by plan): run only if it fails" },
	{ "onlyif", ATTR_ARGV, offsetof(struct exec_desired, onlyif), 0, NULL, NULL,
	  "a command (read-only check, also run by plan): run only if it succeeds" },
	{ "cwd", ATTR_PATH, offsetof(struct exec_desired, cwd), 0, NULL, NULL,
	  "working directory, a path in the root" },
	{ "env", ATTR_MAP, offsetof(struct exec_desired, env), 0, NULL, NULL,
	  "extra environment: a map or a list of KEY=VALUE" },
	{ "user", ATTR_STRING, offsetof(struct exec_desired, user), 0, NULL, NULL,
	  "run as this user of the root's /etc/passwd (name or uid), with its groups" },
	{ "timeout", ATTR_DURATION, offsetof(struct exec_desired, timeout), 0, NULL, NULL,
	  "kill the whole process group after this long (default --timeout, 300 s; 0: never)" },
	{ "refreshonly", ATTR_BOOL, offsetof(struct exec_desired, refreshonly), 0, "false", NULL,
	  "run only when notified by a resource that changed" },
	{ "returns", ATTR_LIST, offsetof(struct exec_desired, returns), 0, NULL, NULL,
	  "exit statuses that mean success (default [0])" },
	{ "chroot", ATTR_BOOL, offsetof(struct exec_desired, chroot), 0, "false", NULL,
	  "run chrooted into --root" },
	{ NULL },
};

static void exec_free_desired(struct resource *r);

/* err_name - an error positioned at the resource's name (the command when `command` is absent). */
static int err_name(const struct resource *r, struct tend_err *err, const char *msg)
{
	return err_at(err, -EINVAL, r->pos.file, r->name_pos.line, r->name_pos.col, "%s", msg);
}

/*
 * build_argv - the argv for attribute key (command, unless, onlyif) given
 * as l, or the resource name when l is NULL.
 */
static int build_argv(struct resource *r, struct tend_err *err, const char *key,
		      const struct strlist *l, bool shell, char ***ret)
{
	const char *s = l ? (l->scalar && l->n ? l->v[0] : NULL) : r->name;
	char msg[512], **v = NULL;

	if (!s) {
		if (shell)
			return res_err_attr(r, err, key, "%s of %s must be one string with shell: true",
					    key, r->id);
		if (!l->n)
			return res_err_attr(r, err, key, "%s of %s is an empty list", key, r->id);
		*ret = exec_argv_dup(l->v, l->n);
		return 0;
	}
	if (shell) {
		char *sh[] = { "/bin/sh", "-c", (char *)s, NULL };

		*ret = exec_argv_dup(sh, 3);
		return 0;
	}
	if (exec_shell_syntax(s)) {
		snprintf(msg, sizeof(msg), "%s of %s contains shell syntax; use a list or set shell: true",
			 key, r->id);
		return l ? res_err_attr(r, err, key, "%s", msg) : err_name(r, err, msg);
	}
	if (exec_split(s, &v) < 0) {
		snprintf(msg, sizeof(msg), "%s of %s is empty", key, r->id);
		return l ? res_err_attr(r, err, key, "%s", msg) : err_name(r, err, msg);
	}
	*ret = v;
	return 0;
}

static int exec_check(struct resource *r, struct res_ctx *ctx, struct tend_err *err)
{
	struct exec_desired *d = D(r);
	bool shell = d->shell == 1;
	struct buf text;
	int ret;

	(void)ctx;
	exec_free_desired(r); /* derived fields only: a second check starts afresh */
	ret = build_argv(r, err, "command", d->command.set ? &d->command : NULL, shell, &d->argv);
	if (ret == 0 && d->unless.set)
		ret = build_argv(r, err, "unless", &d->unless, shell, &d->unless_argv);
	if (ret == 0 && d->onlyif.set)
		ret = build_argv(r, err, "onlyif", &d->onlyif, shell, &d->onlyif_argv);
	if (ret < 0)
		return ret;
	d->ncodes = d->returns.set ? d->returns.n : 1;
	d->codes = xcalloc(d->ncodes ? d->ncodes : 1, sizeof(*d->codes));
	for (size_t i = 0; i < d->returns.n; i++)
		if (exec_parse_status(d->returns.v[i], &d->codes[i]) < 0)
			return res_err_attr(r, err, "returns", "returns of %s: '%s' is not an exit status (0-255)",
					    r->id, d->returns.v[i]);
	if (!d->ncodes)
		return res_err_attr(r, err, "returns", "returns of %s is an empty list", r->id);
	if (d->user && !*d->user)
		return res_err_attr(r, err, "user", "user of %s is empty", r->id);
	buf_init(&text, EXEC_TEXT_MAX);
	if (shell && d->command.set)
		ret = buf_puts(&text, d->command.v[0]);
	else if (shell)
		ret = buf_puts(&text, r->name);
	else
		ret = exec_argv_text(d->argv, &text);
	if (ret < 0) {
		buf_free(&text);
		return res_err_attr(r, err, "command", "command of %s is longer than 64 KiB", r->id);
	}
	d->text = buf_steal(&text);
	return 0;
}

static int exec_probe(struct resource *r, struct res_ctx *ctx)
{
	struct exec_desired *d = D(r);
	struct exec_state *s = S(r);
	const char *base;
	struct stat st;
	int dirfd, ret;

	s->creates_exists = false;
	if (!d->creates)
		return 0;
	if (!strcmp(d->creates, "/")) {
		s->creates_exists = true;
		return 0;
	}
	ret = fsroot_parent(ctx->root, d->creates, &dirfd, &base);
	if (ret == -ENOENT || ret == -ENOTDIR)
		return 0;
	if (ret < 0)
		return res_fail(r, "creates: cannot open the parent of %s: %s", d->creates, strerror(-ret));
	/* a symlink counts as existing, even a dangling one: never follow out of the root */
	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
		s->creates_exists = true;
	else if (errno != ENOENT && errno != ENOTDIR)
		return res_fail(r, "creates: cannot stat %s: %s", d->creates, strerror(errno));
	return 0;
}

/* make_env - "KEY=VALUE" strings for the child: TEND_ROOT, the user's HOME etc., then env. */
static char **make_env(const struct exec_desired *d, struct res_ctx *ctx,
		       const struct userdb_ent *u)
{
	char **v = xcalloc(d->env.n + 5, sizeof(*v));
	size_t n = 0;

	if (d->chroot != 1) {
		const char *p = ctx->root->path[0] ? ctx->root->path : "/";

		if (asprintf(&v[n], "TEND_ROOT=%s", p) >= 0)
			n++;
	}
	if (u) {
		if (u->home && asprintf(&v[n], "HOME=%s", u->home) >= 0)
			n++;
		if (asprintf(&v[n], "USER=%s", u->name) >= 0)
			n++;
		if (asprintf(&v[n], "LOGNAME=%s", u->name) >= 0)
			n++;
	}
	for (size_t i = 0; i < d->env.n; i++)
		v[n++] = xstrdup(d->env.v[i]);
	v[n] = NULL;
	return v;
}

/* timeout_of - the timeout attribute, else --timeout; 0 means none. */
static double timeout_of(const struct resource *r, const struct res_ctx *ctx)
{
	return D(r)->timeout >= 0 ? D(r)->timeout : ctx->default_timeout > 0 ? ctx->default_timeout : 300;
}

/*
 * run_cmd - run argv with the resource's user, cwd, environment, chroot
 * and timeout.  Returns proc_run's result; *why gets a message when the
 * command could not be started.
 */
static int run_cmd(struct resource *r, struct res_ctx *ctx, char **argv, struct proc_result *res,
		   char *why, size_t whylen)
{
	struct exec_desired *d = D(r);
	struct proc_spec spec = { 0 };
	const struct userdb_ent *u = NULL;
	struct tend_err err = { "" };
	gid_t *groups = NULL;
	size_t ngroups = 0;
	char **env = NULL, *cwd = NULL, *chroot_dir = NULL;
	int ret;

	if (d->user) {
		u = userdb_user_by_name(ctx->users, ctx->root, d->user);
		if (!u) {
			uid_t uid;

			if (userdb_resolve_user(ctx->users, ctx->root, d->user, &uid) == 0)
				u = userdb_user_by_id(ctx->users, ctx->root, uid);
		}
		if (!u) {
			snprintf(why, whylen, "user '%s' does not exist in %s/etc/passwd", d->user,
				 ctx->root->path);
			return -ENOENT;
		}
		if (userdb_groups_of(ctx->users, ctx->root, u->name, &groups, &ngroups) < 0) {
			snprintf(why, whylen, "cannot read the groups of user '%s'", u->name);
			return -EIO;
		}
		spec.set_user = true;
		spec.uid = u->id;
		spec.gid = u->gid;
		spec.groups = groups;
		spec.ngroups = ngroups;
	}
	if (d->chroot == 1 && !fsroot_is_host(ctx->root))
		chroot_dir = fsroot_host_path(ctx->root, "");
	if (d->cwd)
		cwd = d->chroot == 1 ? xstrdup(d->cwd) : fsroot_host_path(ctx->root, d->cwd);
	env = make_env(d, ctx, u);
	spec.argv = argv;
	spec.env_extra = env;
	spec.cwd = cwd;
	spec.chroot_dir = chroot_dir;
	spec.timeout = timeout_of(r, ctx);
	spec.output_max = ctx->output_max;
	ret = proc_run(&spec, res, &err);
	if (ret < 0) {
		/* proc's message is "ARGV0: STAGE failed: REASON" */
		const char *stage = strstr(err.msg, ": exec failed: ");

		if (stage || !err.msg[0])
			snprintf(why, whylen, "cannot run %s: %s", argv[0], strerror(-ret));
		else if (d->cwd && strstr(err.msg, ": chdir to cwd failed: "))
			snprintf(why, whylen, "cannot run %s: cwd %s: %s", argv[0], d->cwd, strerror(-ret));
		else
			snprintf(why, whylen, "cannot run %s", err.msg);
		proc_result_free(res);
	}
	exec_argv_free(env);
	free(cwd);
	free(chroot_dir);
	free(groups);
	return ret;
}

/*
 * run_check - run unless/onlyif.  1 when it exited 0, 0 when it exited
 * otherwise, -1 when it could not tell (the resource is then unknown in
 * plan, failed in apply).
 */
static int run_check(struct resource *r, struct res_ctx *ctx, const char *key, char **argv)
{
	struct proc_result res;
	char why[1024];
	int ret;

	ret = run_cmd(r, ctx, argv, &res, why, sizeof(why));
	if (ret == 0 && res.timed_out)
		snprintf(why, sizeof(why), "timed out after %g s (process group killed)", timeout_of(r, ctx));
	else if (ret == 0 && res.term_signal)
		snprintf(why, sizeof(why), "killed by signal %d", res.term_signal);
	else if (ret == 0) {
		ret = res.exit_code == 0;
		proc_result_free(&res);
		return ret;
	}
	if (ret == 0)
		proc_result_free(&res);
	if (ctx->plan)
		res_unknown(r, "%s check: %s", key, why);
	else
		res_fail(r, "%s check: %s", key, why);
	return -1;
}

static int exec_diff(struct resource *r, struct res_ctx *ctx)
{
	struct exec_desired *d = D(r);
	int ret;

	if (d->refreshonly == 1 && !r->notified)
		return 0;
	if (S(r)->creates_exists)
		return 0;
	if (d->onlyif_argv) {
		ret = run_check(r, ctx, "onlyif", d->onlyif_argv);
		if (ret <= 0)
			return 0;
	}
	if (d->unless_argv) {
		ret = run_check(r, ctx, "unless", d->unless_argv);
		if (ret != 0)
			return 0;
	}
	res_change(r, "run", NULL, r->sensitive ? "(sensitive)" : d->text);
	return 0;
}

/* keep_output - the command's output into r->output, noting truncation. */
static void keep_output(struct resource *r, struct res_ctx *ctx, const struct proc_result *res)
{
	size_t max = ctx->output_max ? ctx->output_max : (size_t)64 << 10;
	struct buf *o = res_output(r, 0);

	buf_free(o);
	buf_init(o, max + 128);
	if (r->sensitive) {
		if (res->output.len)
			buf_puts(o, "(output hidden: sensitive)\n");
		return;
	}
	buf_add(o, res->output.data ? res->output.data : "", res->output.len < max ? res->output.len : max);
	if (res->truncated || res->output.len > max)
		buf_printf(o, "%s[output truncated at %zu bytes]\n",
			   o->len && o->data[o->len - 1] != '\n' ? "\n" : "", max);
}

static int exec_apply(struct resource *r, struct res_ctx *ctx)
{
	struct exec_desired *d = D(r);
	struct proc_result res;
	char why[1024];
	bool ok = false;
	int ret;

	ret = run_cmd(r, ctx, d->argv, &res, why, sizeof(why));
	if (ret < 0)
		return res_fail(r, "%s", why);
	keep_output(r, ctx, &res);
	if (res.timed_out) {
		ret = res_fail(r, "timed out after %g s (process group killed)", timeout_of(r, ctx));
	} else if (res.term_signal) {
		ret = res_fail(r, "killed by signal %d", res.term_signal);
	} else {
		for (size_t i = 0; i < d->ncodes; i++)
			ok |= d->codes[i] == res.exit_code;
		ret = ok ? 0 : res_fail(r, "exited with status %d", res.exit_code);
	}
	proc_result_free(&res);
	return ret;
}

static void exec_autorequire(struct resource *r, void (*add)(void *arg, const char *id), void *arg)
{
	struct exec_desired *d = D(r);
	char id[4096 + 16];

	if (d->cwd && strlen(d->cwd) <= 4096) {
		snprintf(id, sizeof(id), "directory:%s", d->cwd);
		add(arg, id);
	}
	if (d->user && strlen(d->user) <= 4096) {
		snprintf(id, sizeof(id), "user:%s", d->user);
		add(arg, id);
	}
}

static void exec_free_desired(struct resource *r)
{
	struct exec_desired *d = D(r);

	exec_argv_free(d->argv);
	exec_argv_free(d->unless_argv);
	exec_argv_free(d->onlyif_argv);
	free(d->text);
	free(d->codes);
	d->argv = d->unless_argv = d->onlyif_argv = NULL;
	d->text = NULL;
	d->codes = NULL;
}

const struct res_type res_type_exec = {
	.name = "exec",
	.doc = "a command run when creates is missing, unless fails, onlyif succeeds, or when notified "
	       "(refreshonly)",
	.attrs = exec_attrs,
	.desired_size = sizeof(struct exec_desired),
	.state_size = sizeof(struct exec_state),
	.name_is_path = false,
	.verify = false,
	.check = exec_check,
	.probe = exec_probe,
	.diff = exec_diff,
	.apply = exec_apply,
	.refresh = NULL,
	.autorequire = exec_autorequire,
	.free_desired = exec_free_desired,
};
