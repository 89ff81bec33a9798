/*
 * rusage.c - run one command and report its wall time and memory, for the
 * benchmark harness (bench/run.sh).  Not part of tend.
 *
 *   rusage [-o FILE] [-i MS] [-t SECONDS] -- COMMAND [ARG...]
 *
 * Wall time is CLOCK_MONOTONIC from just before fork() to the moment the
 * command's own process exits (noticed through a pidfd, so there is no
 * polling delay).  Memory is measured two ways, both over the whole process
 * tree:
 *
 *  - ru_maxrss of getrusage(RUSAGE_CHILDREN): the kernel's exact peak RSS of
 *    the largest single process among all waited-for descendants.  This
 *    helper makes itself a child subreaper, so a grandchild orphaned by its
 *    parent is reparented here and still waited for (and so counted).
 *  - tree_rss: the largest sum, over every live descendant, of its
 *    proportional set size (PSS: a page shared by k processes counts 1/k in
 *    each, so a fork() that has not exec'd yet is not counted twice),
 *    sampled every MS milliseconds (default 20; 100 once the command has
 *    run for 2 s, so that sampling costs little) from /proc.  It sees
 *    processes that run at the same time (a controller and its workers),
 *    but it can miss a peak shorter than the interval.  No sample is taken
 *    before the first interval has passed, so a short single-process
 *    command is not slowed at all.
 *
 * The result is one JSON object written to FILE (default stderr):
 *   {"exit":N,"signal":N,"wall_s":F,"user_s":F,"sys_s":F,
 *    "ru_maxrss_kb":N,"tree_rss_kb":N,"samples":N,"leftover":N}
 * The command's stdin, stdout and stderr are inherited.  Descendants still
 * running SECONDS (default 10) after the command exits are killed and
 * counted in "leftover".  Exit status: the command's (128+signal when it was
 * killed), 125 when this helper itself failed, 127 when exec failed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 32768

struct proc_ent {
	pid_t pid;
	pid_t ppid;
	long rss_pages;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* read /proc/PID/stat: ppid is field 4, rss (pages) field 24. */
static int read_stat(pid_t pid, struct proc_ent *out)
{
	char path[64], buf[1024];
	int fd, n;
	char *p;
	long ppid, rss;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p)
		return -1;
	p++;
	ppid = -1;
	rss = 0;
	/* after ')' comes field 3 (state) */
	for (field = 3; *p && field <= 24; field++) {
		while (*p == ' ')
			p++;
		if (field == 4)
			ppid = strtol(p, NULL, 10);
		else if (field == 24)
			rss = strtol(p, NULL, 10);
		while (*p && *p != ' ')
			p++;
	}
	out->pid = pid;
	out->ppid = (pid_t)ppid;
	out->rss_pages = rss;
	return 0;
}

/* Pss of /proc/PID/smaps_rollup in KiB, or -1. */
static long pss_kb(pid_t pid)
{
	char path[64], buf[4096];
	int fd, n;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "\nPss:");
	return p ? strtol(p + 5, NULL, 10) : -1;
}

/*
 * Scan /proc once; return the summed PSS (KiB; RSS where PSS cannot be
 * read) of every descendant of
 * `self`.  When pids is not NULL, also store up to max descendant pids.
 */
static long tree_rss_kb(struct proc_ent *tab, pid_t self, pid_t *pids, int max, int *npids)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0, i, changed, found = 0;
	long kb = 0;
	char *in;

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < MAX_PROCS) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		if (read_stat((pid_t)pid, &tab[n]) == 0)
			n++;
	}
	closedir(d);
	in = calloc((size_t)n, 1);
	if (!in)
		return 0;
	/* mark descendants: repeat until no more are found (trees are shallow) */
	do {
		changed = 0;
		for (i = 0; i < n; i++) {
			int j;

			if (in[i])
				continue;
			if (tab[i].ppid == self) {
				in[i] = 1;
				changed = 1;
				continue;
			}
			for (j = 0; j < n; j++)
				if (in[j] && tab[j].pid == tab[i].ppid) {
					in[i] = 1;
					changed = 1;
					break;
				}
		}
	} while (changed);
	for (i = 0; i < n; i++) {
		long pss;

		if (!in[i])
			continue;
		pss = pss_kb(tab[i].pid);
		kb += pss >= 0 ? pss : tab[i].rss_pages * (sysconf(_SC_PAGESIZE) / 1024);
		if (pids && found < max)
			pids[found] = tab[i].pid;
		found++;
	}
	free(in);
	if (npids)
		*npids = found;
	return kb;
}

static void usage(void)
{
	fprintf(stderr, "usage: rusage [-o FILE] [-i MS] [-t SECONDS] -- COMMAND [ARG...]\n");
	exit(125);
}

int main(int argc, char **argv)
{
	const char *out_path = NULL;
	long interval_ms = 20, linger_s = 10;
	struct proc_ent *tab;
	struct rusage ru;
	double t0, t1 = 0, deadline;
	long peak_tree = 0;
	int samples = 0, leftover = 0, status = 0, opt, pidfd, code;
	pid_t pid, self = getpid();
	FILE *out;

	while ((opt = getopt(argc, argv, "+o:i:t:")) != -1) {
		switch (opt) {
		case 'o': out_path = optarg; break;
		case 'i': interval_ms = strtol(optarg, NULL, 10); break;
		case 't': linger_s = strtol(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (optind >= argc || interval_ms <= 0 || linger_s < 0)
		usage();
	tab = calloc(MAX_PROCS, sizeof(*tab));
	if (!tab || prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("rusage: setup");
		return 125;
	}

	t0 = now_s();
	pid = fork();
	if (pid < 0) {
		perror("rusage: fork");
		return 125;
	}
	if (pid == 0) {
		setpgid(0, 0);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "rusage: %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* both sides, so there is no race */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		perror("rusage: pidfd_open");
		return 125;
	}

	for (;;) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
		/* after 2 s, sample less often: long runs have long peaks */
		long ms = now_s() - t0 > 2.0 && interval_ms < 100 ? 100 : interval_ms;
		int r = poll(&pfd, 1, (int)ms);

		if (r < 0 && errno == EINTR)
			continue;
		if (r != 0)
			break;
		long kb = tree_rss_kb(tab, self, NULL, 0, NULL);

		if (kb > peak_tree)
			peak_tree = kb;
		samples++;
	}
	t1 = now_s();
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	close(pidfd);

	/* reap what the command left behind; kill it after linger_s */
	deadline = now_s() + (double)linger_s;
	for (;;) {
		int st;
		pid_t r = waitpid(-1, &st, WNOHANG);

		if (r > 0)
			continue;
		if (r < 0)
			break; /* ECHILD: the tree is gone */
		if (now_s() >= deadline) {
			pid_t pids[256];
			int n = 0, i;

			tree_rss_kb(tab, self, pids, 256, &n);
			for (i = 0; i < n && i < 256; i++)
				kill(pids[i], SIGKILL);
			leftover += n;
			kill(-pid, SIGKILL);
			deadline = now_s() + 5.0;
		}
		usleep(10000);
	}

	getrusage(RUSAGE_CHILDREN, &ru);
	out = out_path ? fopen(out_path, "w") : stderr;
	if (!out) {
		perror("rusage: output");
		return 125;
	}
	fprintf(out,
		"{\"exit\":%d,\"signal\":%d,\"wall_s\":%.6f,\"user_s\":%.6f,\"sys_s\":%.6f,"
		"\"ru_maxrss_kb\":%ld,\"tree_rss_kb\":%ld,\"samples\":%d,\"leftover\":%d}\n",
		WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		WIFSIGNALED(status) ? WTERMSIG(status) : 0, t1 - t0,
		(double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
		ru.ru_maxrss, peak_tree, samples, leftover);
	if (out != stderr)
		fclose(out);
	free(tab);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	code = WEXITSTATUS(status);
	return code;
}
