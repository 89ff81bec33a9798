/*
 * proc.c - fork/exec with a process-group timeout (see proc.h).
 *
 * The child reports exec failure through a CLOEXEC pipe, so "no such
 * program" is an error of proc_run, not an exit status 127.  Exit is
 * watched through a pidfd, output through a pipe, both in one poll loop.
 */
#include "util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROC_OUTPUT_DEFAULT ((size_t)64 << 10)

extern char **environ;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void child_fail(int fd, int stage)
{
	int e[2] = { stage, errno };
	ssize_t w = write(fd, e, sizeof(e));

	(void)w;
	_exit(127);
}

/* child - runs in the forked process; never returns. */
static void child(const struct proc_spec *s, int in_fd, int out_fd, int err_fd, int errp)
{
	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		child_fail(errp, 1);
	if (s->chroot_dir && (chroot(s->chroot_dir) < 0 || chdir("/") < 0))
		child_fail(errp, 2);
	if (s->cwd && chdir(s->cwd) < 0)
		child_fail(errp, 3);
	if (s->set_user) {
		if (setgroups(s->ngroups, s->groups) < 0 || setgid(s->gid) < 0 || setuid(s->uid) < 0)
			child_fail(errp, 4);
	}
	for (char *const *e = s->env_extra; e && *e; e++)
		if (putenv(*e) < 0)
			child_fail(errp, 5);
	execvp(s->argv[0], s->argv);
	child_fail(errp, 6);
}

static const char *stage_name(int stage)
{
	static const char *const names[] = { "?", "redirect", "chroot", "chdir to cwd",
					     "switch user", "set environment", "exec" };

	return stage > 0 && stage < 7 ? names[stage] : names[0];
}

static void pump_output(int fd, struct buf *b, bool *truncated, size_t max, bool *eof)
{
	char chunk[8192];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) {
			*eof = true;
			return;
		}
		if (n < 0)
			return; /* EAGAIN */
		if (b->len + (size_t)n > max) {
			size_t room = max - b->len;

			buf_add(b, chunk, room);
			*truncated = true;
		} else {
			buf_add(b, chunk, (size_t)n);
		}
	}
}

static int wait_loop(const struct proc_spec *s, pid_t pid, int pidfd, int out_rd, int err_rd,
		     int in_wr, struct proc_result *res)
{
	size_t max = s->output_max ? s->output_max : PROC_OUTPUT_DEFAULT;
	double start = now_s(), deadline = s->timeout > 0 ? start + s->timeout : 0;
	size_t in_off = 0;
	bool eof = false, err_eof = err_rd < 0, exited = false;
	int status = 0;

	while (!exited) {
		struct pollfd p[4] = { { pidfd, POLLIN, 0 }, { eof ? -1 : out_rd, POLLIN, 0 },
				       { in_wr, POLLOUT, 0 }, { err_eof ? -1 : err_rd, POLLIN, 0 } };
		int wait_ms = -1;

		if (deadline) {
			double left = deadline - now_s();

			if (left <= 0) {
				kill(-pid, SIGKILL);
				kill(pid, SIGKILL);
				res->timed_out = true;
				deadline = 0;
				continue;
			}
			wait_ms = left > 3600 ? 3600 * 1000 : (int)(left * 1000) + 1;
		}
		if (poll(p, 4, wait_ms) < 0 && errno != EINTR)
			return -errno;
		if (p[1].revents)
			pump_output(out_rd, &res->output, &res->truncated, max, &eof);
		if (p[3].revents)
			pump_output(err_rd, &res->errout, &res->truncated, max, &err_eof);
		if (in_wr >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t n = write(in_wr, s->stdin_data + in_off, s->stdin_len - in_off);

			if (n > 0)
				in_off += (size_t)n;
			if (n < 0 || in_off >= s->stdin_len) {
				close(in_wr);
				in_wr = -1;
			}
		}
		if (p[0].revents) {
			if (waitpid(pid, &status, 0) == pid)
				exited = true;
		}
	}
	if (in_wr >= 0)
		close(in_wr);
	/* drain what is already buffered; a daemonised grandchild may keep the pipe */
	if (!eof)
		pump_output(out_rd, &res->output, &res->truncated, max, &eof);
	if (!err_eof)
		pump_output(err_rd, &res->errout, &res->truncated, max, &err_eof);
	if (res->timed_out)
		kill(-pid, SIGKILL);
	res->elapsed = now_s() - start;
	if (WIFEXITED(status)) {
		res->exit_code = WEXITSTATUS(status);
	} else {
		res->exit_code = -1;
		res->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	}
	return 0;
}

int proc_run(const struct proc_spec *s, struct proc_result *res, struct tend_err *err)
{
	int outp[2] = { -1, -1 }, inp[2] = { -1, -1 }, errp[2] = { -1, -1 }, serr[2] = { -1, -1 };
	int in_fd = -1, pidfd = -1, r = 0, e[2];
	pid_t pid;
	ssize_t n;

	memset(res, 0, sizeof(*res));
	buf_init(&res->output, (s->output_max ? s->output_max : PROC_OUTPUT_DEFAULT) + 1);
	buf_init(&res->errout, (s->output_max ? s->output_max : PROC_OUTPUT_DEFAULT) + 1);
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    (s->separate_stderr && pipe2(serr, O_CLOEXEC) < 0)) {
		r = err_set(err, -errno, "pipe: %s", strerror(errno));
		goto out;
	}
	if (s->stdin_data) {
		if (pipe2(inp, O_CLOEXEC) < 0) {
			r = err_set(err, -errno, "pipe: %s", strerror(errno));
			goto out;
		}
		in_fd = inp[0];
	} else {
		in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	pid = fork();
	if (pid < 0) {
		r = err_set(err, -errno, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child(s, in_fd, outp[1], serr[1] >= 0 ? serr[1] : outp[1], errp[1]);
	setpgid(pid, pid); /* both sides, so kill(-pid) works at once */
	close(outp[1]);
	outp[1] = -1;
	close(errp[1]);
	errp[1] = -1;
	if (serr[1] >= 0) {
		close(serr[1]);
		serr[1] = -1;
	}
	n = read(errp[0], e, sizeof(e));
	if (n == (ssize_t)sizeof(e)) {
		waitpid(pid, NULL, 0);
		r = err_set(err, -e[1], "%s: %s failed: %s", s->argv[0], stage_name(e[0]), strerror(e[1]));
		goto out;
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		r = err_set(err, -errno, "pidfd_open: %s", strerror(errno));
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
	fcntl(outp[0], F_SETFL, O_NONBLOCK);
	if (serr[0] >= 0)
		fcntl(serr[0], F_SETFL, O_NONBLOCK);
	if (inp[1] >= 0) {
		fcntl(inp[1], F_SETFL, O_NONBLOCK);
		close(inp[0]);
		inp[0] = in_fd = -1;
	}
	{
		/* a command that does not read its stdin must not kill us with SIGPIPE */
		struct sigaction ign = { .sa_handler = SIG_IGN }, old;

		sigaction(SIGPIPE, &ign, &old);
		r = wait_loop(s, pid, pidfd, outp[0], serr[0], inp[1], res);
		sigaction(SIGPIPE, &old, NULL);
	}
	inp[1] = -1; /* closed by wait_loop */
out:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (serr[i] >= 0)
			close(serr[i]);
		if (inp[i] >= 0)
			close(inp[i]);
	}
	if (in_fd >= 0 && in_fd != inp[0])
		close(in_fd);
	if (pidfd >= 0)
		close(pidfd);
	return r;
}

void proc_result_free(struct proc_result *res)
{
	buf_free(&res->output);
	buf_free(&res->errout);
}
