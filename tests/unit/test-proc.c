/*
 * test-proc.c - unit tests for running commands (util/proc.h).
 *
 * Commands are small sh scripts.  The test process makes itself a child
 * subreaper, so a grandchild orphaned by a command becomes our child and
 * its fate (killed or still running) can be checked exactly; every test
 * that starts one makes sure it is gone before it ends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/proc.h"

static char tmpdir[256];

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tend-test-proc-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[PATH_MAX + 32];
	(void)state;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		print_error("could not remove %s\n", tmpdir);
	return 0;
}

/* run_sh - run "sh -c script" with spec fields from base; fails the test if it did not run. */
static void run_sh(const char *script, const struct proc_spec *base, struct proc_result *res)
{
	char *argv[] = { (char *)"sh", (char *)"-c", (char *)script, NULL };
	struct proc_spec s;
	struct tend_err err;
	int r;

	if (base)
		s = *base;
	else
		memset(&s, 0, sizeof(s));
	s.argv = argv;
	err_clear(&err);
	r = proc_run(&s, res, &err);
	if (r != 0) {
		proc_result_free(res);
		fail_msg("proc_run failed %d: %s", r, err.msg);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* proc_state - the state letter of pid from /proc, or 0 when there is none. */
static char proc_state(pid_t pid)
{
	char path[64], line[512], *rp;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	rp = strrchr(line, ')');
	return rp && rp[1] == ' ' ? rp[2] : 0;
}

/*
 * wait_gone - wait up to secs for pid to end; reap it if it is ours.  Returns
 * true when it ended (*sig gets the signal that killed it, when known).
 */
static bool wait_gone(pid_t pid, double secs, int *sig)
{
	double end = now_s() + secs;
	int st;

	*sig = 0;
	do {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid) {
			*sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
			return true;
		}
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return true;
		if (w < 0 && proc_state(pid) == 'Z')
			return true; /* not ours: dead, waiting for its reaper */
		sleep_ms(20);
	} while (now_s() < end);
	return false;
}

static pid_t read_pid_file(const char *path)
{
	char buf[32] = "";
	long v = 0;
	FILE *f;

	for (int i = 0; i < 250; i++) {
		f = fopen(path, "r");
		if (f) {
			if (fgets(buf, sizeof(buf), f) && sscanf(buf, "%ld", &v) == 1 && v > 1) {
				fclose(f);
				return (pid_t)v;
			}
			fclose(f);
		}
		sleep_ms(20);
	}
	return -1;
}

/* sigterm_ignored - whether pid has SIGTERM in its ignored set. */
static bool sigterm_ignored(pid_t pid)
{
	char path[64], line[256];
	unsigned long long mask = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigIgn: %llx", &mask) == 1)
			found = true;
	fclose(f);
	return found && (mask & (1ULL << (SIGTERM - 1)));
}

/* --- exit status ---------------------------------------------------------------- */

static void exit_code_is_reported(void **state)
{
	struct proc_result res;
	(void)state;

	run_sh("exit 3", NULL, &res);
	assert_int_equal(res.exit_code, 3);
	assert_int_equal(res.term_signal, 0);
	assert_false(res.timed_out);
	assert_false(res.truncated);
	assert_int_equal(res.output.len, 0);
	proc_result_free(&res);
	run_sh("true", NULL, &res);
	assert_int_equal(res.exit_code, 0);
	proc_result_free(&res);
}

static void death_by_signal_is_exit_minus_one_with_the_signal(void **state)
{
	struct proc_result res;
	(void)state;

	run_sh("kill -USR1 $$; sleep 5", NULL, &res);
	assert_int_equal(res.exit_code, -1);
	assert_int_equal(res.term_signal, SIGUSR1);
	assert_false(res.timed_out);
	proc_result_free(&res);
}

static void argv_is_passed_without_a_shell(void **state)
{
	char *argv[] = { (char *)"printf", (char *)"[%s]", (char *)"a b",
			 (char *)"$HOME",  (char *)"*",	   NULL };
	struct proc_spec s = { 0 };
	struct proc_result res;
	struct tend_err err;
	(void)state;

	s.argv = argv;
	assert_int_equal(proc_run(&s, &res, &err), 0);
	assert_int_equal(res.exit_code, 0);
	assert_string_equal(buf_str(&res.output), "[a b][$HOME][*]");
	proc_result_free(&res);
}

/* --- output ---------------------------------------------------------------------- */

static void stdout_and_stderr_are_captured_together(void **state)
{
	struct proc_result res;
	(void)state;

	run_sh("echo out; echo err >&2; echo out2", NULL, &res);
	assert_string_equal(buf_str(&res.output), "out\nerr\nout2\n");
	assert_false(res.truncated);
	proc_result_free(&res);
}

static void output_exactly_at_the_limit_is_not_truncated(void **state)
{
	struct proc_spec s = { .output_max = 10 };
	struct proc_result res;
	(void)state;

	run_sh("printf 0123456789", &s, &res);
	assert_int_equal(res.output.len, 10);
	assert_string_equal(buf_str(&res.output), "0123456789");
	assert_false(res.truncated);
	proc_result_free(&res);
}

static void output_past_the_limit_is_cut_and_flagged(void **state)
{
	struct proc_spec s = { .output_max = 10 };
	struct proc_result res;
	(void)state;

	run_sh("printf 0123456789A; printf more >&2; exit 4", &s, &res);
	assert_int_equal(res.output.len, 10);
	assert_string_equal(buf_str(&res.output), "0123456789");
	assert_true(res.truncated);
	assert_int_equal(res.exit_code, 4);
	proc_result_free(&res);
}

static void large_output_is_drained_so_the_command_finishes(void **state)
{
	struct proc_result res;
	(void)state;

	/* 1 MiB, far more than a pipe holds: the command must not block */
	run_sh("head -c 1048576 /dev/zero; echo done >&2", NULL, &res);
	assert_int_equal(res.exit_code, 0);
	assert_true(res.truncated);
	assert_int_equal(res.output.len, 64 << 10); /* output_max 0: 64 KiB */
	proc_result_free(&res);
}

/* --- starting ---------------------------------------------------------------------- */

static void missing_program_is_enoent_with_a_message(void **state)
{
	char *argv[] = { (char *)"tend-no-such-program-here", NULL };
	char *abs[] = { (char *)"/nonexistent/bin/tool", NULL };
	struct proc_spec s = { 0 };
	struct proc_result res;
	struct tend_err err;
	(void)state;

	s.argv = argv;
	err_clear(&err);
	assert_int_equal(proc_run(&s, &res, &err), -ENOENT);
	assert_string_equal(err.msg,
			    "tend-no-such-program-here: exec failed: No such file or directory");
	proc_result_free(&res);
	s.argv = abs;
	assert_int_equal(proc_run(&s, &res, &err), -ENOENT);
	assert_string_equal(err.msg,
			    "/nonexistent/bin/tool: exec failed: No such file or directory");
	proc_result_free(&res);
}

static void non_executable_program_is_eacces(void **state)
{
	char path[PATH_MAX + 16];
	char *argv[] = { path, NULL };
	struct proc_spec s = { 0 };
	struct proc_result res;
	struct tend_err err;
	FILE *f;
	(void)state;

	snprintf(path, sizeof(path), "%s/noexec", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("#!/bin/sh\necho ran\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0644), 0);
	s.argv = argv;
	assert_int_equal(proc_run(&s, &res, &err), -EACCES);
	assert_non_null(strstr(err.msg, "exec failed"));
	proc_result_free(&res);
}

static void cwd_is_honoured(void **state)
{
	struct proc_spec s = { .cwd = tmpdir };
	struct proc_result res;
	char want[PATH_MAX + 2];
	(void)state;

	run_sh("pwd -P", &s, &res);
	snprintf(want, sizeof(want), "%s\n", tmpdir);
	assert_string_equal(buf_str(&res.output), want);
	proc_result_free(&res);
}

static void missing_cwd_is_an_error_not_an_exit_status(void **state)
{
	char *argv[] = { (char *)"true", NULL };
	char dir[PATH_MAX + 16];
	struct proc_spec s = { 0 };
	struct proc_result res;
	struct tend_err err;
	(void)state;

	snprintf(dir, sizeof(dir), "%s/missing", tmpdir);
	s.argv = argv;
	s.cwd = dir;
	assert_int_equal(proc_run(&s, &res, &err), -ENOENT);
	assert_string_equal(err.msg, "true: chdir to cwd failed: No such file or directory");
	proc_result_free(&res);
}

static void env_extra_is_visible_and_the_rest_inherited(void **state)
{
	char *env[] = { (char *)"TEND_TEST_A=hello world", (char *)"TEND_TEST_B=", NULL };
	struct proc_spec s = { .env_extra = env };
	struct proc_result res;
	(void)state;

	run_sh("printf '%s|%s|%s|' \"$TEND_TEST_A\" \"${TEND_TEST_B-unset}\" \"$TEND_TEST_PARENT\"",
	       &s, &res);
	/* TEND_TEST_PARENT is set below for the second run only */
	assert_string_equal(buf_str(&res.output), "hello world|||");
	proc_result_free(&res);
	setenv("TEND_TEST_PARENT", "inherited", 1);
	run_sh("printf '%s|%s' \"$TEND_TEST_A\" \"$TEND_TEST_PARENT\"", &s, &res);
	unsetenv("TEND_TEST_PARENT");
	assert_string_equal(buf_str(&res.output), "hello world|inherited");
	proc_result_free(&res);
	/* the caller's own environment is not changed */
	assert_null(getenv("TEND_TEST_A"));
}

static void env_extra_overrides_an_inherited_variable(void **state)
{
	char *env[] = { (char *)"TEND_TEST_C=override", NULL };
	struct proc_spec s = { .env_extra = env };
	struct proc_result res;
	(void)state;

	setenv("TEND_TEST_C", "parent", 1);
	run_sh("printf %s \"$TEND_TEST_C\"", &s, &res);
	unsetenv("TEND_TEST_C");
	assert_string_equal(buf_str(&res.output), "override");
	proc_result_free(&res);
}

/* --- stdin ------------------------------------------------------------------------- */

static void stdin_data_is_delivered_and_then_closed(void **state)
{
	struct proc_spec s = { .stdin_data = "line1\nline2", .stdin_len = 11 };
	struct proc_result res;
	(void)state;

	run_sh("cat; echo '<eof>'", &s, &res);
	assert_string_equal(buf_str(&res.output), "line1\nline2<eof>\n");
	proc_result_free(&res);
}

static void stdin_data_larger_than_a_pipe_is_delivered_whole(void **state)
{
	size_t n = (size_t)1 << 20;
	char *data = malloc(n);
	struct proc_spec s = { 0 };
	struct proc_result res;
	(void)state;

	assert_non_null(data);
	memset(data, 'z', n);
	s.stdin_data = data;
	s.stdin_len = n;
	run_sh("wc -c | tr -d ' '", &s, &res);
	free(data);
	assert_string_equal(buf_str(&res.output), "1048576\n");
	proc_result_free(&res);
}

static void stdin_is_dev_null_without_stdin_data(void **state)
{
	struct proc_result res;
	(void)state;

	run_sh("cat; echo '<eof>'", NULL, &res);
	assert_string_equal(buf_str(&res.output), "<eof>\n");
	proc_result_free(&res);
}

static void command_that_ignores_its_stdin_does_not_kill_the_caller(void **state)
{
	pid_t pid;
	int st;
	(void)state;

	/* proc_run in a child of ours: if writing the unread stdin raised
	 * SIGPIPE in the caller, only that child dies and we can see it */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		size_t n = (size_t)4 << 20;
		char *data = calloc(1, n);
		char *argv[] = { (char *)"true", NULL };
		struct proc_spec s = { .argv = argv, .stdin_len = n };
		struct proc_result res;
		int r;

		s.stdin_data = data;
		r = proc_run(&s, &res, NULL);
		proc_result_free(&res);
		free(data);
		_exit(r == 0 && res.exit_code == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		fail_msg("the caller of proc_run was killed by signal %d", WTERMSIG(st));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* --- timeout ------------------------------------------------------------------------ */

static void timeout_kills_the_command(void **state)
{
	struct proc_spec s = { .timeout = 0.3 };
	struct proc_result res;
	(void)state;

	run_sh("echo before; sleep 30", &s, &res);
	assert_true(res.timed_out);
	assert_int_equal(res.exit_code, -1);
	assert_int_equal(res.term_signal, SIGKILL);
	assert_string_equal(buf_str(&res.output), "before\n");
	assert_true(res.elapsed >= 0.29);
	assert_true(res.elapsed < 10);
	proc_result_free(&res);
}

#define GRANDCHILD_SCRIPT "trap '' TERM; sleep 60 & echo $! > \"$PIDFILE\"; wait"

/* The script really leaves a grandchild that ignores SIGTERM (checked
 * outside proc_run, where it can be looked at while it runs). */
static void grandchild_script_makes_a_sigterm_ignoring_grandchild(void **state)
{
	char pidfile[PATH_MAX + 16];
	bool ignored;
	pid_t pid, gpid;
	int sig;
	(void)state;

	snprintf(pidfile, sizeof(pidfile), "%s/precondition.pid", tmpdir);
	unlink(pidfile);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		setenv("PIDFILE", pidfile, 1);
		execl("/bin/sh", "sh", "-c", GRANDCHILD_SCRIPT, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	gpid = read_pid_file(pidfile);
	ignored = gpid > 1 && sigterm_ignored(gpid);
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (gpid > 1)
		wait_gone(gpid, 5.0, &sig);
	assert_true(gpid > 1);
	assert_true(ignored);
}

static void timeout_kills_a_grandchild_that_ignores_sigterm(void **state)
{
	char pidfile[PATH_MAX + 16], env_pf[PATH_MAX + 32];
	char *env[] = { env_pf, NULL };
	struct proc_spec s = { .timeout = 1.0, .env_extra = env };
	struct proc_result res;
	pid_t gpid;
	int sig;
	(void)state;

	snprintf(pidfile, sizeof(pidfile), "%s/grandchild.pid", tmpdir);
	snprintf(env_pf, sizeof(env_pf), "PIDFILE=%s", pidfile);
	unlink(pidfile);
	run_sh(GRANDCHILD_SCRIPT, &s, &res);
	assert_true(res.timed_out);
	assert_true(res.elapsed < 30);
	proc_result_free(&res);
	gpid = read_pid_file(pidfile);
	assert_true(gpid > 1);
	if (!wait_gone(gpid, 5.0, &sig)) {
		kill(gpid, SIGKILL);
		wait_gone(gpid, 5.0, &sig);
		fail_msg("grandchild %ld still running after the timeout", (long)gpid);
	}
	assert_true(sig == 0 || sig == SIGKILL);
	assert_int_equal(kill(gpid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

static void daemonised_grandchild_holding_the_output_does_not_delay_return(void **state)
{
	struct proc_result res;
	double t0 = now_s();
	long gpid = 0;
	int sig;
	(void)state;

	/* the command exits at once; its background child keeps the pipe open */
	run_sh("sleep 30 & echo $!", NULL, &res);
	assert_true(now_s() - t0 < 10);
	assert_false(res.timed_out);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(sscanf(buf_str(&res.output), "%ld", &gpid), 1);
	proc_result_free(&res);
	assert_true(gpid > 1);
	kill((pid_t)gpid, SIGKILL);
	assert_true(wait_gone((pid_t)gpid, 5.0, &sig));
}

static void no_timeout_lets_a_slow_command_finish(void **state)
{
	struct proc_spec s = { .timeout = 0 };
	struct proc_result res;
	(void)state;

	run_sh("sleep 0.3; echo finished", &s, &res);
	assert_false(res.timed_out);
	assert_int_equal(res.exit_code, 0);
	assert_string_equal(buf_str(&res.output), "finished\n");
	assert_true(res.elapsed >= 0.29);
	proc_result_free(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exit_code_is_reported),
		cmocka_unit_test(death_by_signal_is_exit_minus_one_with_the_signal),
		cmocka_unit_test(argv_is_passed_without_a_shell),
		cmocka_unit_test(stdout_and_stderr_are_captured_together),
		cmocka_unit_test(output_exactly_at_the_limit_is_not_truncated),
		cmocka_unit_test(output_past_the_limit_is_cut_and_flagged),
		cmocka_unit_test(large_output_is_drained_so_the_command_finishes),
		cmocka_unit_test(missing_program_is_enoent_with_a_message),
		cmocka_unit_test(non_executable_program_is_eacces),
		cmocka_unit_test(cwd_is_honoured),
		cmocka_unit_test(missing_cwd_is_an_error_not_an_exit_status),
		cmocka_unit_test(env_extra_is_visible_and_the_rest_inherited),
		cmocka_unit_test(env_extra_overrides_an_inherited_variable),
		cmocka_unit_test(stdin_data_is_delivered_and_then_closed),
		cmocka_unit_test(stdin_data_larger_than_a_pipe_is_delivered_whole),
		cmocka_unit_test(stdin_is_dev_null_without_stdin_data),
		cmocka_unit_test(command_that_ignores_its_stdin_does_not_kill_the_caller),
		cmocka_unit_test(timeout_kills_the_command),
		cmocka_unit_test(grandchild_script_makes_a_sigterm_ignoring_grandchild),
		cmocka_unit_test(timeout_kills_a_grandchild_that_ignores_sigterm),
		cmocka_unit_test(daemonised_grandchild_holding_the_output_does_not_delay_return),
		cmocka_unit_test(no_timeout_lets_a_slow_command_finish),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
