/*
 * test-tendd-rpc.c - unit tests for the agent's RPC actions and its
 * audit file (src/tendd/actions*.c, audit.c), without a broker: real
 * commands in a temp root.
 *
 * run: no shell unless asked (shell syntax reaches the program as
 * text), /bin/sh -c with "shell": true and one string only, the exit
 * status, stdout and stderr apart, each cut at 64 KiB with "truncated",
 * bytes that are not UTF-8 replaced, TEND_ROOT and the working directory,
 * and a timeout that kills the whole process group (a grandchild too).
 * check: exit 0..3 as OK/WARNING/CRITICAL/UNKNOWN, anything else and a
 * timeout UNKNOWN, the output's text, long text and perfdata.  Bad
 * arguments of every action are failures with a reason, and nothing runs.
 * service: an init script in a chrooted root started, asked, stopped, and
 * a start that fails.
 * plan/apply: a report becomes status, summary and the changes of the
 * resources that are not ok.  Audit: one JSON line a record, 0600, a
 * line a crash cut short ended before the next, a rotated file followed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rpc/rpc.h"
#include "tendd.h"
#include "util/buf.h"

struct fixture {
	char dir[64];
	struct action_ctx ctx;
	json_t *facts;
	json_t *report; /* what the converge hook hands back */
	bool plan_asked;
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static int fake_converge(void *arg, bool plan, json_t **ret, struct tend_err *err)
{
	struct fixture *f = arg;

	f->plan_asked = plan;
	if (!f->report)
		return err_set(err, -ENOENT, "no usable catalog on this node");
	*ret = json_incref(f->report);
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test-tendd-rpc.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->facts = json_pack("{s:{s:s, s:s}, s:s, s:{s:{s:i}}, s:[s, s]}", "os", "id", "debian",
			     "version_id", "12", "hostname", "web01", "mounts", "/boot", "size",
			     100, "list", "a", "b");
	f->ctx.node = "web01";
	f->ctx.root = f->dir;
	f->ctx.hash = "sha256:abc";
	f->ctx.uptime_s = 12.5;
	f->ctx.facts = f->facts;
	f->ctx.converge = fake_converge;
	f->ctx.arg = f;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	json_decref(f->facts);
	json_decref(f->report);
	free(f);
	return 0;
}

/* call - action with args given as JSON text (NULL: none). */
static void call(struct fixture *f, const char *action, const char *args, struct action_result *res)
{
	json_t *a = args ? json_loads(args, JSON_ALLOW_NUL, NULL) : NULL;

	if (args)
		assert_non_null(a);
	action_run(action, a, &f->ctx, res);
	json_decref(a);
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	assert_non_null(s);
	return s;
}

/* ---- run ---------------------------------------------------------------------- */

static void test_run_plain(void **state)
{
	struct fixture *f = *state;
	struct action_result res;

	call(f, "run", "{\"argv\": [\"sh\", \"-c\", \"echo out; echo err >&2\"]}", &res);
	assert_true(res.ok);
	assert_string_equal(res.reason, "");
	assert_int_equal(json_integer_value(json_object_get(res.data, "exit")), 0);
	assert_string_equal(str(res.data, "stdout"), "out\n");
	assert_string_equal(str(res.data, "stderr"), "err\n");
	assert_true(json_is_false(json_object_get(res.data, "truncated")));
	assert_true(json_is_false(json_object_get(res.data, "timed_out")));
	action_result_clear(&res);
}

static void test_run_no_shell_by_default(void **state)
{
	struct fixture *f = *state;
	struct action_result res;

	/* shell syntax is only text to the program */
	call(f, "run", "{\"argv\": [\"echo\", \"a;b\", \"$(id)\", \"`id`\", \"*\"]}", &res);
	assert_true(res.ok);
	assert_string_equal(str(res.data, "stdout"), "a;b $(id) `id` *\n");
	action_result_clear(&res);
	/* one string with blanks is one program name, never split or interpreted */
	call(f, "run", "{\"argv\": [\"echo hi\"]}", &res);
	assert_false(res.ok);
	assert_non_null(strstr(res.reason, "cannot run echo hi"));
	action_result_clear(&res);
	/* "shell": true runs the one string with /bin/sh -c */
	call(f, "run", "{\"argv\": [\"echo $((1+2)); exit 4\"], \"shell\": true}", &res);
	assert_false(res.ok);
	assert_string_equal(str(res.data, "stdout"), "3\n");
	assert_int_equal(json_integer_value(json_object_get(res.data, "exit")), 4);
	assert_string_equal(res.reason, "exited 4");
	action_result_clear(&res);
	call(f, "run", "{\"argv\": [\"echo\", \"x\"], \"shell\": true}", &res);
	assert_false(res.ok);
	assert_null(res.data);
	assert_non_null(strstr(res.reason, "one string"));
	action_result_clear(&res);
}

static void test_run_root_and_env(void **state)
{
	struct fixture *f = *state;
	struct action_result res;
	char want[256];

	call(f, "run", "{\"argv\": [\"sh\", \"-c\", \"echo $TEND_ROOT; pwd\"]}", &res);
	assert_true(res.ok);
	snprintf(want, sizeof(want), "%s\n%s\n", f->dir, f->dir);
	assert_string_equal(str(res.data, "stdout"), want);
	action_result_clear(&res);
}

static void test_run_truncated(void **state)
{
	struct fixture *f = *state;
	struct action_result res;

	call(f, "run",
	     "{\"argv\": [\"sh\", \"-c\", \"head -c 100000 /dev/zero | tr '\\\\0' a; "
	     "head -c 70000 /dev/zero | tr '\\\\0' b >&2\"]}",
	     &res);
	assert_true(res.ok);
	assert_int_equal(json_string_length(json_object_get(res.data, "stdout")), 65536);
	assert_int_equal(json_string_length(json_object_get(res.data, "stderr")), 65536);
	assert_int_equal(str(res.data, "stdout")[65535], 'a');
	assert_int_equal(str(res.data, "stderr")[0], 'b');
	assert_true(json_is_true(json_object_get(res.data, "truncated")));
	action_result_clear(&res);
	/* under the limit: not truncated */
	call(f, "run", "{\"argv\": [\"sh\", \"-c\", \"head -c 65536 /dev/zero | tr '\\\\0' a\"]}",
	     &res);
	assert_int_equal(json_string_length(json_object_get(res.data, "stdout")), 65536);
	assert_true(json_is_false(json_object_get(res.data, "truncated")));
	action_result_clear(&res);
}

static void test_run_not_utf8(void **state)
{
	struct fixture *f = *state;
	struct action_result res;

	call(f, "run", "{\"argv\": [\"printf\", \"a\\\\377b\\\\303\"]}", &res);
	assert_true(res.ok);
	assert_string_equal(str(res.data, "stdout"), "a\xef\xbf\xbd"
						     "b\xef\xbf\xbd");
	action_result_clear(&res);
	/* a NUL byte too: readers of the reply need not allow "\u0000" */
	call(f, "run", "{\"argv\": [\"printf\", \"a\\\\000b\"]}", &res);
	assert_true(res.ok);
	assert_int_equal(json_string_length(json_object_get(res.data, "stdout")), 5);
	assert_string_equal(str(res.data, "stdout"), "a\xef\xbf\xbd"
						     "b");
	action_result_clear(&res);
}

/* gone - pid has exited (no process, or a zombie nobody reaped yet). */
static bool gone(long pid)
{
	char p[64], st[512];
	FILE *fp;
	char *rp;
	bool dead;

	snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
	fp = fopen(p, "r");
	if (!fp)
		return true;
	dead = !fgets(st, sizeof(st), fp) || !(rp = strrchr(st, ')')) || rp[2] == 'Z' ||
	       rp[2] == 'X';
	fclose(fp);
	return dead;
}

static void test_run_timeout_kills_group(void **state)
{
	struct fixture *f = *state;
	struct action_result res;
	char args[512], pidfile[128];
	struct timespec a, b;
	long pid = 0;
	FILE *fp;

	snprintf(pidfile, sizeof(pidfile), "%s/grandchild.pid", f->dir);
	/* a grandchild that ignores SIGTERM and outlives its parent's wait */
	snprintf(args, sizeof(args),
		 "{\"argv\": [\"sh\", \"-c\", \"trap '' TERM; sleep 30 & echo $! > %s; "
		 "echo started; wait\"], \"timeout\": 0.5}",
		 pidfile);
	clock_gettime(CLOCK_MONOTONIC, &a);
	call(f, "run", args, &res);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_false(res.ok);
	assert_true(b.tv_sec - a.tv_sec < 10);
	assert_string_equal(res.reason, "timed out after 0.5s (process group killed)");
	assert_true(json_is_true(json_object_get(res.data, "timed_out")));
	assert_true(json_is_null(json_object_get(res.data, "exit")));
	assert_string_equal(str(res.data, "stdout"), "started\n");
	action_result_clear(&res);
	fp = fopen(pidfile, "r");
	assert_non_null(fp);
	assert_int_equal(fscanf(fp, "%ld", &pid), 1);
	fclose(fp);
	for (int i = 0; i < 100 && !gone(pid); i++)
		usleep(20000);
	assert_true(gone(pid));
}

static void test_run_bad_args(void **state)
{
	static const char *const bad[][2] = {
		{ NULL, "argv must be a list" },
		{ "{}", "argv must be a list" },
		{ "[\"ls\"]", "args must be a JSON object" },
		{ "{\"argv\": \"ls\"}", "argv must be a list" },
		{ "{\"argv\": []}", "argv must be a list" },
		{ "{\"argv\": [\"\"]}", "argv[0] is not" },
		{ "{\"argv\": [\"ls\", 3]}", "argv[1] is not" },
		{ "{\"argv\": [\"ls\", \"a\\u0000b\"]}", "argv[1] holds a NUL byte" },
		{ "{\"argv\": [\"ls\"], \"timeout\": 0}", "timeout must be" },
		{ "{\"argv\": [\"ls\"], \"timeout\": -1}", "timeout must be" },
		{ "{\"argv\": [\"ls\"], \"timeout\": 3601}", "timeout must be" },
		{ "{\"argv\": [\"ls\"], \"timeout\": \"10\"}", "timeout must be" },
		{ "{\"argv\": [\"ls\"], \"shell\": \"yes\"}", "shell must be true or false" },
		{ "{\"argv\": [\"ls\"], \"env\": {}}", "unknown argument 'env'" },
	};
	struct fixture *f = *state;
	struct action_result res;
	char marker[128], args[256];
	struct stat st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		call(f, "run", bad[i][0], &res);
		assert_false(res.ok);
		if (!strstr(res.reason, bad[i][1]))
			fail_msg("%s: '%s' does not say '%s'", bad[i][0] ? bad[i][0] : "(none)",
				 res.reason, bad[i][1]);
		action_result_clear(&res);
	}
	/* nothing ran: a command that would leave a file, with one bad argument */
	snprintf(marker, sizeof(marker), "%s/ran", f->dir);
	snprintf(args, sizeof(args), "{\"argv\": [\"touch\", \"%s\"], \"timeout\": 99999}", marker);
	call(f, "run", args, &res);
	assert_false(res.ok);
	action_result_clear(&res);
	assert_int_equal(stat(marker, &st), -1);
}

/* ---- check ------------------------------------------------------------------- */

static void test_check_states(void **state)
{
	static const char *const want[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN", "UNKNOWN" };
	struct fixture *f = *state;
	struct action_result res;
	char args[256];

	for (int code = 0; code <= 4; code++) {
		snprintf(args, sizeof(args),
			 "{\"argv\": [\"sh\", \"-c\", \"echo 'DISK %d - free 50%% | /=50%%;80;90'; "
			 "exit %d\"]}",
			 code, code);
		call(f, "check", args, &res);
		assert_string_equal(str(res.data, "state"), want[code]);
		assert_int_equal(json_integer_value(json_object_get(res.data, "exit")), code);
		assert_int_equal(res.ok, code == 0);
		if (code)
			assert_non_null(strstr(res.reason, want[code]));
		snprintf(args, sizeof(args), "DISK %d - free 50%%", code);
		assert_string_equal(str(res.data, "output"), args);
		assert_string_equal(str(res.data, "perfdata"), "/=50%;80;90");
		action_result_clear(&res);
	}
}

static void test_check_timeout_and_missing(void **state)
{
	struct fixture *f = *state;
	struct action_result res;

	call(f, "check", "{\"argv\": [\"sleep\", \"20\"], \"timeout\": 0.3}", &res);
	assert_false(res.ok);
	assert_string_equal(str(res.data, "state"), "UNKNOWN");
	assert_non_null(strstr(res.reason, "timed out after 0.3s"));
	action_result_clear(&res);
	call(f, "check", "{\"argv\": [\"/nonexistent/check_foo\"]}", &res);
	assert_false(res.ok);
	assert_non_null(strstr(res.reason, "cannot run /nonexistent/check_foo"));
	action_result_clear(&res);
	/* a check takes no shell */
	call(f, "check", "{\"argv\": [\"true\"], \"shell\": true}", &res);
	assert_false(res.ok);
	assert_string_equal(res.reason, "unknown argument 'shell'");
	action_result_clear(&res);
}

static void test_check_parse(void **state)
{
	static const char out[] = "HTTP OK: 200 | time=0.1s;1;2\nline one\nline two | size=5B\n"
				  "load=3\n";
	json_t *d = json_object();

	(void)state;
	action_check_parse(out, strlen(out), d);
	assert_string_equal(str(d, "output"), "HTTP OK: 200");
	assert_string_equal(str(d, "long_output"), "line one\nline two");
	assert_string_equal(str(d, "perfdata"), "time=0.1s;1;2 size=5B load=3");
	json_decref(d);
	d = json_object();
	action_check_parse("no perfdata here", 16, d);
	assert_string_equal(str(d, "output"), "no perfdata here");
	assert_string_equal(str(d, "perfdata"), "");
	assert_string_equal(str(d, "long_output"), "");
	json_decref(d);
}

/* ---- ping, facts, service, unknown -------------------------------------------- */

static void test_ping_facts(void **state)
{
	struct fixture *f = *state;
	struct action_result res;

	call(f, "ping", NULL, &res);
	assert_true(res.ok);
	assert_string_equal(str(res.data, "version"), TEND_VERSION);
	assert_string_equal(str(res.data, "catalog"), "sha256:abc");
	assert_int_equal(json_integer_value(json_object_get(res.data, "uptime_s")), 12);
	action_result_clear(&res);
	call(f, "ping", "{\"x\": 1}", &res);
	assert_false(res.ok);
	action_result_clear(&res);

	call(f, "facts", NULL, &res);
	assert_true(res.ok);
	assert_true(json_equal(res.data, f->facts));
	assert_true(res.data != f->facts);
	action_result_clear(&res);
	call(f, "facts", "{\"paths\": [\"os.id\", \"mounts./boot.size\", \"list.1\", \"no.such\"]}",
	     &res);
	assert_true(res.ok);
	assert_string_equal(str(res.data, "os.id"), "debian");
	assert_int_equal(json_integer_value(json_object_get(res.data, "mounts./boot.size")), 100);
	assert_string_equal(str(res.data, "list.1"), "b");
	assert_true(json_is_null(json_object_get(res.data, "no.such")));
	assert_int_equal(json_object_size(res.data), 4);
	action_result_clear(&res);
	call(f, "facts", "{\"paths\": \"os.id\"}", &res);
	assert_false(res.ok);
	action_result_clear(&res);
	call(f, "facts", "{\"paths\": [\"\"]}", &res);
	assert_false(res.ok);
	action_result_clear(&res);
}

static void test_service_bad_args_and_unknown(void **state)
{
	static const char *const bad[][2] = {
		{ "{\"name\": \"nginx\"}", "op must be" },
		{ "{\"name\": \"nginx\", \"op\": \"reload\"}", "op must be" },
		{ "{\"op\": \"status\"}", "name must be" },
		{ "{\"name\": \"../../bin/x\", \"op\": \"status\"}", "name must be" },
		{ "{\"name\": \"a b\", \"op\": \"start\"}", "name must be" },
		{ "{\"name\": \"nginx\", \"op\": \"start\", \"now\": true}", "unknown argument" },
		/* an empty root: no systemd, no init script of that name */
		{ "{\"name\": \"nginx\", \"op\": \"status\"}",
		  "/etc/init.d/nginx: no such service" },
	};
	struct fixture *f = *state;
	struct action_result res;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		call(f, "service", bad[i][0], &res);
		assert_false(res.ok);
		if (!strstr(res.reason, bad[i][1]))
			fail_msg("%s: '%s' does not say '%s'", bad[i][0], res.reason, bad[i][1]);
		action_result_clear(&res);
	}
	call(f, "reboot", NULL, &res);
	assert_false(res.ok);
	assert_non_null(strstr(res.reason, "unknown action 'reboot'"));
	assert_null(res.data);
	action_result_clear(&res);
}

/*
 * sysv_root - f->dir as a root an init script can run in (chrooted): the
 * host's /bin/sh, touch and rm with their libraries, and /etc/init.d/testd.
 * false when it cannot be built here (not root).
 */
static bool sysv_root(struct fixture *f)
{
	static const char script[] =
		"#!/bin/sh\n"
		"case \"$1\" in\n"
		"start) [ -e /etc/fail ] && { echo nope >&2; exit 1; }; touch /run/testd; echo started;;\n"
		"stop) rm -f /run/testd; echo stopped;;\n"
		"restart) touch /run/testd; echo restarted;;\n"
		"status) [ -e /run/testd ] && exit 0; exit 3;;\n"
		"esac\n";
	char cmd[2048], path[128];
	FILE *fp;

	if (geteuid() != 0)
		return false;
	snprintf(
		cmd, sizeof(cmd),
		"set -e; R='%s'; copy() { mkdir -p \"$R$(dirname $2)\"; cp -L \"$1\" \"$R$2\"; "
		"for l in $(ldd \"$1\" | grep -o '/[^ ]*'); do mkdir -p \"$R$(dirname $l)\"; "
		"[ -e \"$R$l\" ] || cp -L \"$l\" \"$R$l\"; done; }; "
		"copy \"$(readlink -f /bin/sh)\" /bin/sh; copy \"$(command -v touch)\" /bin/touch; "
		"copy \"$(command -v rm)\" /bin/rm; mkdir -p \"$R/etc/init.d\" \"$R/run\"",
		f->dir);
	if (system(cmd) != 0)
		return false;
	snprintf(path, sizeof(path), "%s/etc/init.d/testd", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(script, fp);
	fclose(fp);
	assert_int_equal(chmod(path, 0755), 0);
	return true;
}

static void service(struct fixture *f, const char *op, struct action_result *res)
{
	char args[128];

	snprintf(args, sizeof(args), "{\"name\": \"testd\", \"op\": \"%s\"}", op);
	call(f, "service", args, res);
}

static void test_service_sysv(void **state)
{
	struct fixture *f = *state;
	struct action_result res;
	char path[128];
	FILE *fp;

	if (!sysv_root(f))
		skip();
	service(f, "status", &res);
	assert_true(res.ok);
	assert_string_equal(str(res.data, "provider"), "sysvinit");
	assert_true(json_is_false(json_object_get(res.data, "active")));
	assert_null(json_object_get(res.data, "exit"));
	action_result_clear(&res);
	service(f, "start", &res);
	assert_true(res.ok);
	assert_string_equal(str(res.data, "output"), "started\n");
	assert_int_equal(json_integer_value(json_object_get(res.data, "exit")), 0);
	assert_true(json_is_true(json_object_get(res.data, "active")));
	action_result_clear(&res);
	/* it ran chrooted: the file is the root's, not the host's */
	snprintf(path, sizeof(path), "%s/run/testd", f->dir);
	assert_int_equal(access(path, F_OK), 0);
	service(f, "status", &res);
	assert_true(json_is_true(json_object_get(res.data, "active")));
	action_result_clear(&res);
	service(f, "stop", &res);
	assert_true(res.ok);
	assert_true(json_is_false(json_object_get(res.data, "active")));
	action_result_clear(&res);
	/* a start that fails: failed, with the exit status, and still says whether it runs */
	snprintf(path, sizeof(path), "%s/etc/fail", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	service(f, "start", &res);
	assert_false(res.ok);
	assert_non_null(strstr(res.reason, "exited 1"));
	assert_int_equal(json_integer_value(json_object_get(res.data, "exit")), 1);
	assert_true(json_is_false(json_object_get(res.data, "active")));
	action_result_clear(&res);
}

/* ---- plan, apply -------------------------------------------------------------- */

static void test_plan_apply_data(void **state)
{
	struct fixture *f = *state;
	struct action_result res;
	const json_t *ch;
	char *big = malloc(40000);

	memset(big, '+', 39999);
	big[39999] = '\0';
	f->report = json_pack("{s:s, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i}, s:[{s:s, s:s, s:[]},"
			      " {s:s, s:s, s:[{s:s, s:s, s:s, s:s}]}]}",
			      "command", "plan", "summary", "total", 2, "ok", 1, "changed", 1,
			      "failed", 0, "skipped", 0, "unknown", 0, "not_converged", 0,
			      "resources", "id", "file:/a", "status", "ok", "changes", "id",
			      "file:/etc/motd", "status", "change", "changes", "what", "content",
			      "from", "x", "to", "y", "diff", big);
	free(big);
	json_object_set_new(f->report, "catalog",
			    json_pack("{s:s, s:b}", "hash", "sha256:x", "stale", 0));
	call(f, "plan", NULL, &res);
	assert_true(f->plan_asked);
	assert_true(res.ok);
	assert_string_equal(str(res.data, "status"), "drifted");
	assert_string_equal(str(json_object_get(res.data, "catalog"), "hash"), "sha256:x");
	assert_int_equal(json_integer_value(
				 json_object_get(json_object_get(res.data, "summary"), "changed")),
			 1);
	assert_int_equal(json_array_size(json_object_get(res.data, "changes")), 1);
	ch = json_array_get(json_object_get(res.data, "changes"), 0);
	assert_string_equal(str(ch, "resource"), "file:/etc/motd");
	ch = json_array_get(json_object_get(ch, "changes"), 0);
	assert_string_equal(str(ch, "what"), "content");
	assert_int_equal(json_string_length(json_object_get(ch, "diff")), 16384);
	assert_true(json_is_true(json_object_get(ch, "diff_truncated")));
	action_result_clear(&res);

	call(f, "apply", NULL, &res);
	assert_false(f->plan_asked);
	assert_true(res.ok);
	assert_string_equal(str(res.data, "status"), "changed");
	action_result_clear(&res);

	json_object_set_new(json_object_get(f->report, "summary"), "failed", json_integer(1));
	call(f, "apply", NULL, &res);
	assert_false(res.ok);
	assert_string_equal(str(res.data, "status"), "failed");
	action_result_clear(&res);

	json_object_set_new(f->report, "error", json_string("site.yaml:3:1: bad"));
	call(f, "plan", NULL, &res);
	assert_false(res.ok);
	assert_string_equal(res.reason, "site.yaml:3:1: bad");
	action_result_clear(&res);

	json_decref(f->report);
	f->report = NULL;
	call(f, "apply", NULL, &res);
	assert_false(res.ok);
	assert_string_equal(res.reason, "no usable catalog on this node");
	action_result_clear(&res);
	call(f, "plan", "{\"dry\": true}", &res);
	assert_false(res.ok);
	assert_string_equal(res.reason, "unknown argument 'dry'");
	action_result_clear(&res);
}

/* ---- audit -------------------------------------------------------------------- */

/* lines - the audit file's lines (each must be a JSON object) into an array. */
static json_t *lines(struct fixture *f)
{
	char path[128], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	json_t *all = json_array();
	FILE *fp;

	snprintf(path, sizeof(path), "%s/audit.jsonl", f->dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	while ((n = getline(&line, &cap, fp)) > 0) {
		json_t *j;

		assert_int_equal(line[n - 1], '\n');
		if (n == 1)
			continue;
		j = json_loadb(line, (size_t)n - 1, 0, NULL);
		if (!j)
			json_array_append_new(all, json_string("(not JSON)"));
		else
			json_array_append_new(all, j);
	}
	free(line);
	fclose(fp);
	return all;
}

static struct rpc_call sample_call(bool allowed)
{
	struct rpc_call c;

	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "0123456789abcdef0123456789abcdef");
	snprintf(c.caller, sizeof(c.caller), "alice");
	snprintf(c.role, sizeof(c.role), "ops");
	snprintf(c.action, sizeof(c.action), "run");
	c.args = json_pack("{s:[s, s]}", "argv", "echo", "two\nlines");
	c.allowed = allowed;
	snprintf(c.reason, sizeof(c.reason),
		 allowed ? "allowed by policy/ops.yaml:3" :
			   "no rule allows run for alice (role ops)");
	c.received_ms = 1764000000123LL;
	return c;
}

static void test_audit_lines(void **state)
{
	struct fixture *f = *state;
	struct tend_err err;
	struct audit *au;
	struct rpc_call c1 = sample_call(true), c2 = sample_call(false);
	json_t *r1 = rpc_audit_record("web01", &c1, "ok", 12);
	json_t *r2 = rpc_audit_record("web01", &c2, NULL, 0);
	json_t *all, *l;
	char path[128];
	struct stat st;

	assert_int_equal(audit_open(f->dir, &au, &err), 0);
	assert_int_equal(audit_write(au, NULL, "tend.audit.web01", r1, &err), 0);
	assert_int_equal(audit_write(au, NULL, "tend.audit.web01", r2, &err), 0);
	snprintf(path, sizeof(path), "%s/audit.jsonl", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	all = lines(f);
	assert_int_equal(json_array_size(all), 2);
	assert_true(json_equal(json_array_get(all, 0), r1));
	assert_true(json_equal(json_array_get(all, 1), r2));
	l = json_array_get(all, 0);
	assert_string_equal(str(l, "time"), "2025-11-24T16:00:00.123Z");
	assert_string_equal(str(l, "node"), "web01");
	assert_string_equal(str(l, "id"), c1.id);
	assert_string_equal(str(l, "caller"), "alice");
	assert_string_equal(str(l, "role"), "ops");
	assert_string_equal(str(l, "action"), "run");
	assert_string_equal(str(l, "decision"), "allowed");
	assert_string_equal(str(l, "reason"), "allowed by policy/ops.yaml:3");
	assert_string_equal(str(l, "status"), "ok");
	assert_int_equal(json_integer_value(json_object_get(l, "ms")), 12);
	assert_true(json_equal(json_object_get(l, "args"), c1.args));
	l = json_array_get(all, 1);
	assert_string_equal(str(l, "decision"), "refused");
	assert_true(json_is_null(json_object_get(l, "status")));
	json_decref(all);
	/* nothing was forwarded (no bus): the mark is still at 0 */
	snprintf(path, sizeof(path), "%s/audit.sent", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(st.st_size == 0 || st.st_size == 21);
	audit_free(au);

	/* a line a crash cut short is ended before the next one */
	snprintf(path, sizeof(path), "%s/audit.jsonl", f->dir);
	{
		FILE *fp = fopen(path, "a");

		assert_non_null(fp);
		fputs("{\"time\": \"cut", fp);
		fclose(fp);
	}
	assert_int_equal(audit_open(f->dir, &au, &err), 0);
	assert_int_equal(audit_write(au, NULL, "tend.audit.web01", r1, &err), 0);
	all = lines(f);
	assert_int_equal(json_array_size(all), 4);
	assert_string_equal(json_string_value(json_array_get(all, 2)), "(not JSON)");
	assert_true(json_equal(json_array_get(all, 3), r1));
	json_decref(all);

	/* rotated away: the next line starts a new file */
	{
		char moved[160];

		snprintf(moved, sizeof(moved), "%s/audit.jsonl.1", f->dir);
		assert_int_equal(rename(path, moved), 0);
	}
	assert_int_equal(audit_write(au, NULL, "tend.audit.web01", r2, &err), 0);
	all = lines(f);
	assert_int_equal(json_array_size(all), 1);
	assert_true(json_equal(json_array_get(all, 0), r2));
	json_decref(all);
	audit_free(au);
	json_decref(r1);
	json_decref(r2);
	rpc_call_clear(&c1);
	rpc_call_clear(&c2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_run_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_no_shell_by_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_root_and_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_not_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_timeout_kills_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_states, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_timeout_and_missing, setup, teardown),
		cmocka_unit_test(test_check_parse),
		cmocka_unit_test_setup_teardown(test_ping_facts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_bad_args_and_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_sysv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_apply_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_lines, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
