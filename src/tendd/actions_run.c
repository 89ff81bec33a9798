/*
 * actions_run.c - the RPC actions that run commands: run (a command, no
 * shell unless asked), check (a Nagios plugin: its exit status is the
 * state, its first line the output) and service (start, stop, restart or
 * ask a service through the init of the managed root).
 *
 * Commands run as `exec` resources do without chroot: on the host, with
 * TEND_ROOT set to --root, here from the root as working directory, with
 * stdin from /dev/null.  Each leads its own process group and the
 * timeout kills the whole group (util/proc.c), so a grandchild that
 * ignores SIGTERM cannot outlive it.  stdout and stderr are kept apart,
 * each up to ACTION_OUTPUT_MAX; "truncated" says when more was thrown away.
 * Which command lines an administrator may run is the policy's business
 * (rpc_policy_check, "commands"), checked before anything here runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resources/svc_systemd.h"
#include "resources/svc_sysv.h"
#include "tendd.h"
#include "util/fsroot.h"
#include "util/proc.h"

#define ARGV_MAX 256
#define ARGV_TEXT_MAX ((size_t)64 << 10)
#define SERVICE_TIMEOUT_DEFAULT 90.0

/* ---- arguments ------------------------------------------------------------ */

/*
 * get_argv - args "argv": a list of 1..ARGV_MAX strings (no NUL inside,
 * the first not empty, ARGV_TEXT_MAX bytes in all) as a NULL-terminated
 * vector of borrowed strings (*ret malloc'd).  With shell, exactly one
 * string, run as /bin/sh -c STRING.
 */
static int get_argv(const json_t *args, bool shell, const char ***ret, struct action_result *res)
{
	const json_t *a = json_object_get(args, "argv"), *v;
	const char **argv;
	size_t i, n = json_array_size(a), total = 0;

	if (!json_is_array(a) || n == 0 || n > ARGV_MAX) {
		action_fail(res, "argv must be a list of 1 to %d strings", ARGV_MAX);
		return -EINVAL;
	}
	if (shell && n != 1) {
		action_fail(
			res,
			"with shell, argv must be one string (the command line for /bin/sh -c)");
		return -EINVAL;
	}
	argv = calloc(n + 3, sizeof(*argv));
	if (!argv) {
		action_fail(res, "out of memory");
		return -ENOMEM;
	}
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);

		total += json_string_length(v) + 1;
		if (!s || (i == 0 && !*s))
			action_fail(res, "argv[%zu] is not a (non-empty) string", i);
		else if (strlen(s) != json_string_length(v))
			action_fail(res, "argv[%zu] holds a NUL byte", i);
		else if (total > ARGV_TEXT_MAX)
			action_fail(res, "argv is longer than 64 KiB");
		if (res->reason[0]) {
			free(argv);
			return -EINVAL;
		}
		argv[i + (shell ? 2 : 0)] = s;
	}
	if (shell) {
		argv[0] = "/bin/sh";
		argv[1] = "-c";
	}
	*ret = argv;
	return 0;
}

/* get_timeout - args "timeout": seconds, 0 < t <= ACTION_TIMEOUT_MAX, else def. */
static int get_timeout(const json_t *args, double def, double *ret, struct action_result *res)
{
	const json_t *t = json_object_get(args, "timeout");
	double v = json_number_value(t);

	if (!t) {
		*ret = def;
		return 0;
	}
	if (!json_is_number(t) || !(v > 0) || v > ACTION_TIMEOUT_MAX) {
		action_fail(res, "timeout must be a number of seconds, more than 0 and at most %d",
			    ACTION_TIMEOUT_MAX);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* ---- running a command ---------------------------------------------------- */

int action_exec(const struct action_ctx *c, const char *const *argv, double timeout,
		struct proc_result *ret, struct action_result *res)
{
	const char *root = c->root && *c->root ? c->root : "/";
	struct proc_spec spec = { 0 };
	struct tend_err err = { "" };
	char env_root[4096 + 16], *env[] = { env_root, NULL };
	int r;

	if (snprintf(env_root, sizeof(env_root), "TEND_ROOT=%s", root) >= (int)sizeof(env_root)) {
		action_fail(res, "--root is too long");
		return -ENAMETOOLONG;
	}
	spec.argv = (char *const *)argv;
	spec.env_extra = env;
	spec.cwd = root;
	spec.timeout = timeout;
	spec.output_max = ACTION_OUTPUT_MAX;
	spec.separate_stderr = true;
	r = proc_run(&spec, ret, &err);
	if (r < 0) {
		/* proc's message is "ARGV0: STAGE failed: REASON" */
		if (strstr(err.msg, ": exec failed: "))
			action_fail(res, "cannot run %.200s: %s", argv[0], strerror(-r));
		else
			action_fail(res, "cannot run %.1000s", err.msg);
		proc_result_free(ret);
	}
	return r;
}

/* ended - why a command that ran did not succeed into res ("" when it exited 0). */
static void ended(const struct proc_result *p, double timeout, struct action_result *res)
{
	if (p->timed_out)
		action_fail(res, "timed out after %gs (process group killed)", timeout);
	else if (p->term_signal)
		action_fail(res, "killed by signal %d", p->term_signal);
	else if (p->exit_code != 0)
		action_fail(res, "exited %d", p->exit_code);
	else
		res->ok = true;
}

void action_run_cmd(const json_t *args, const struct action_ctx *c, struct action_result *res)
{
	static const char *const allowed[] = { "argv", "shell", "timeout", NULL };
	const json_t *sh = json_object_get(args, "shell");
	const char **argv = NULL;
	struct proc_result p;
	double timeout;

	if (action_args_only(args, allowed, res) < 0)
		return;
	if (sh && !json_is_boolean(sh)) {
		action_fail(res, "shell must be true or false");
		return;
	}
	if (get_timeout(args, ACTION_TIMEOUT_DEFAULT, &timeout, res) < 0 ||
	    get_argv(args, json_is_true(sh), &argv, res) < 0)
		return;
	if (action_exec(c, argv, timeout, &p, res) == 0) {
		res->data = json_pack("{s:o, s:o, s:o, s:b, s:b}", "exit",
				      p.term_signal || p.timed_out ? json_null() :
								     json_integer(p.exit_code),
				      "stdout", action_text(p.output.data, p.output.len), "stderr",
				      action_text(p.errout.data, p.errout.len), "truncated",
				      p.truncated, "timed_out", p.timed_out);
		if (p.term_signal && !p.timed_out)
			json_object_set_new(res->data, "signal", json_integer(p.term_signal));
		ended(&p, timeout, res);
		proc_result_free(&p);
	}
	free(argv);
}

/* ---- check: a Nagios plugin ------------------------------------------------ */

/* trim - s[0..*n) without leading and trailing blanks: the new start, *n adjusted. */
static const char *trim(const char *s, size_t *n)
{
	while (*n && (*s == ' ' || *s == '\t'))
		s++, (*n)--;
	while (*n && (s[*n - 1] == ' ' || s[*n - 1] == '\t' || s[*n - 1] == '\r'))
		(*n)--;
	return s;
}

/* trimmed - s[0..n) without leading and trailing blanks, as JSON text. */
static json_t *trimmed(const char *s, size_t n)
{
	s = trim(s, &n);
	return action_text(s, n);
}

/* perf_add - a piece of perfdata, trimmed, joined to b by one space. */
static void perf_add(struct buf *b, const char *s, size_t n)
{
	s = trim(s, &n);
	if (!n)
		return;
	if (b->len)
		buf_putc(b, ' ');
	buf_add(b, s, n);
}

void action_check_parse(const char *out, size_t len, json_t *data)
{
	const char *end = out + len, *nl = memchr(out, '\n', len);
	const char *line_end = nl ? nl : end, *bar = memchr(out, '|', (size_t)(line_end - out));
	const char *rest = nl ? nl + 1 : end, *rbar;
	struct buf perf;

	/* "TEXT | PERFDATA\nLONG TEXT...| MORE PERFDATA\nMORE PERFDATA..." (Nagios 3) */
	buf_init(&perf, len + 2);
	json_object_set_new(data, "output", trimmed(out, (size_t)((bar ? bar : line_end) - out)));
	if (bar)
		perf_add(&perf, bar + 1, (size_t)(line_end - bar - 1));
	rbar = memchr(rest, '|', (size_t)(end - rest));
	json_object_set_new(data, "long_output",
			    trimmed(rest, (size_t)((rbar ? rbar : end) - rest)));
	for (const char *q = rbar ? rbar + 1 : end; q < end;) {
		const char *e = memchr(q, '\n', (size_t)(end - q));

		perf_add(&perf, q, (size_t)((e ? e : end) - q));
		q = e ? e + 1 : end;
	}
	json_object_set_new(data, "perfdata", action_text(buf_str(&perf), perf.len));
	buf_free(&perf);
}

void action_check(const json_t *args, const struct action_ctx *c, struct action_result *res)
{
	static const char *const allowed[] = { "argv", "timeout", NULL };
	static const char *const states[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };
	const char **argv = NULL;
	struct proc_result p;
	double timeout;
	int st;

	if (action_args_only(args, allowed, res) < 0 ||
	    get_timeout(args, ACTION_TIMEOUT_DEFAULT, &timeout, res) < 0 ||
	    get_argv(args, false, &argv, res) < 0)
		return;
	if (action_exec(c, argv, timeout, &p, res) == 0) {
		st = !p.timed_out && !p.term_signal && p.exit_code >= 0 && p.exit_code <= 3 ?
			     p.exit_code :
			     3;
		res->data = json_pack("{s:s, s:o, s:b, s:b}", "state", states[st], "exit",
				      p.term_signal || p.timed_out ? json_null() :
								     json_integer(p.exit_code),
				      "truncated", p.truncated, "timed_out", p.timed_out);
		action_check_parse(buf_str(&p.output), p.output.len, res->data);
		if (p.timed_out || p.term_signal)
			ended(&p, timeout, res);
		else if (p.exit_code > 3)
			action_fail(res, "UNKNOWN: the plugin exited %d", p.exit_code);
		else if (st != 0 && *json_string_value(json_object_get(res->data, "output")))
			action_fail(res, "%s: %.200s", states[st],
				    json_string_value(json_object_get(res->data, "output")));
		else if (st != 0)
			action_fail(res, "%s", states[st]);
		else
			res->ok = true;
		proc_result_free(&p);
	}
	free(argv);
}

/* ---- service --------------------------------------------------------------- */

struct svc_call {
	struct fsroot root;
	const char *name, *op;
	double timeout;
	bool systemd;
	char unit[SVC_UNIT_MAX];
};

/* svc_cmd - run VERB for the service (systemctl VERB UNIT, or /etc/init.d/NAME VERB). */
static int svc_cmd(struct svc_call *s, const char *verb, bool quiet, struct proc_result *p,
		   struct action_result *res)
{
	const char *args[] = { verb, s->unit, NULL }, *qargs[] = { verb, "--quiet", s->unit, NULL };
	struct tend_err err = { "" };
	int r;

	if (s->systemd)
		r = svc_systemctl(quiet ? qargs : args, s->timeout, ACTION_OUTPUT_MAX, p, &err);
	else
		r = svc_sysv_run(&s->root, s->name, verb, s->timeout, ACTION_OUTPUT_MAX, p, &err);
	if (r < 0) {
		action_fail(res, "cannot %s %s: %.900s", verb, s->name, err.msg);
		proc_result_free(p);
	}
	return r;
}

/* svc_active - 1 running, 0 not, -1 cannot tell (why in res). */
static int svc_active(struct svc_call *s, struct action_result *res)
{
	struct proc_result p;
	int active = -1;

	if (svc_cmd(s, s->systemd ? "is-active" : "status", true, &p, res) < 0)
		return -1;
	if (p.timed_out || p.term_signal)
		action_fail(res, "the status check of %s %s", s->name,
			    p.timed_out ? "timed out" : "was killed by a signal");
	else if (s->systemd || (p.exit_code >= 0 && p.exit_code <= 3))
		active = p.exit_code == 0; /* LSB: 1, 2 and 3 all mean not running */
	else
		action_fail(res, "/etc/init.d/%s status exited %d: cannot tell whether it runs",
			    s->name, p.exit_code);
	proc_result_free(&p);
	return active;
}

/* svc_locate - the provider for the root, and whether it can act ("" why) or not. */
static int svc_locate(struct svc_call *s, struct action_result *res)
{
	struct svc_lsb lsb;
	char why[512];
	int r;

	s->systemd = svc_systemd_installed(&s->root);
	if (s->systemd) {
		if (svc_unit_name(s->name, s->unit) < 0) {
			action_fail(res, "'%.200s' is not a valid systemd unit name", s->name);
			return -EINVAL;
		}
		if (!svc_systemd_live(&s->root)) {
			action_fail(res, "systemd does not run %s: cannot %s a service",
				    s->root.path[0] ? s->root.path : "/", s->op);
			return -EOPNOTSUPP;
		}
		return 0;
	}
	r = svc_sysv_read_lsb(&s->root, s->name, &lsb);
	if (r < 0) {
		action_fail(res, "/etc/init.d/%s: %s", s->name,
			    r == -ENOENT ? "no such service" : strerror(-r));
		return r;
	}
	if (!svc_sysv_can_run(&s->root, why, sizeof(why))) {
		action_fail(res, "cannot %s /etc/init.d/%s: %s", s->op, s->name, why);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* svc_op - start, stop or restart: data gets the command's exit and output. */
static int svc_op(struct svc_call *s, struct action_result *res)
{
	struct proc_result p;

	if (svc_cmd(s, s->op, false, &p, res) < 0)
		return -EIO;
	json_object_set_new(res->data, "exit",
			    p.term_signal || p.timed_out ? json_null() : json_integer(p.exit_code));
	json_object_set_new(res->data, "output", action_text(p.output.data, p.output.len));
	json_object_set_new(res->data, "errors", action_text(p.errout.data, p.errout.len));
	ended(&p, s->timeout, res);
	proc_result_free(&p);
	if (!res->ok)
		return -EIO;
	res->ok = false; /* until the service's state is known too */
	return 0;
}

void action_service(const json_t *args, const struct action_ctx *c, struct action_result *res)
{
	static const char *const allowed[] = { "name", "op", "timeout", NULL };
	static const char *const ops[] = { "start", "stop", "restart", "status", NULL };
	struct svc_call s = { .name = json_string_value(json_object_get(args, "name")),
			      .op = json_string_value(json_object_get(args, "op")) };
	struct tend_err err = { "" };
	size_t i;
	int active, r;

	if (action_args_only(args, allowed, res) < 0 ||
	    get_timeout(args, SERVICE_TIMEOUT_DEFAULT, &s.timeout, res) < 0)
		return;
	for (i = 0; ops[i] && (!s.op || strcmp(ops[i], s.op)); i++)
		;
	if (!ops[i]) {
		action_fail(res, "op must be start, stop, restart or status");
		return;
	}
	if (!s.name || !svc_sysv_name_ok(s.name)) {
		action_fail(res, "name must be a service name like \"nginx\"");
		return;
	}
	if (fsroot_open(&s.root, c->root && *c->root ? c->root : "/", &err) < 0) {
		action_fail(res, "%.1000s", err.msg);
		return;
	}
	if (svc_locate(&s, res) == 0) {
		res->data = json_pack("{s:s, s:s, s:s}", "name", s.name, "op", s.op, "provider",
				      s.systemd ? "systemd" : "sysvinit");
		if (s.systemd)
			json_object_set_new(res->data, "unit", json_string(s.unit));
		r = strcmp(s.op, "status") ? svc_op(&s, res) : 0;
		/* after an op that failed, still say whether it runs, keeping the op's reason */
		if (r == 0 || json_object_get(res->data, "exit")) {
			struct action_result q = { 0 };

			active = svc_active(&s, &q);
			json_object_set_new(res->data, "active",
					    active < 0 ? json_null() : json_boolean(active));
			if (r == 0 && active < 0)
				action_fail(res, "%s", q.reason);
			else if (r == 0)
				res->ok = true;
		}
	}
	fsroot_close(&s.root);
}
