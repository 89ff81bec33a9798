/*
 * proc.h - running commands: no shell, a timeout that kills the whole
 * process group, output captured up to a limit.
 */
#ifndef TEND_PROC_H
#define TEND_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/err.h"

struct proc_spec {
	char *const *argv;        /* argv[0] without '/' is searched in PATH */
	char *const *env_extra;   /* "KEY=VALUE" added to the environment, or NULL */
	const char *cwd;          /* host path, or NULL */
	const char *chroot_dir;   /* chroot before exec, or NULL */
	bool set_user;            /* switch to uid/gid/groups before exec */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t ngroups;
	double timeout;           /* seconds; <= 0: none */
	size_t output_max;        /* bytes of stdout+stderr kept (0: 64 KiB) */
	const char *stdin_data;   /* fed to stdin, or NULL for /dev/null */
	size_t stdin_len;
	bool separate_stderr;     /* stderr into res->errout instead of output */
};

struct proc_result {
	int exit_code;            /* exit status, or -1 when killed by a signal */
	int term_signal;          /* signal that ended it, or 0 */
	bool timed_out;
	bool truncated;           /* output passed output_max */
	struct buf output;        /* stdout (and stderr unless separate_stderr) */
	struct buf errout;        /* stderr with separate_stderr (same limit) */
	double elapsed;           /* seconds */
};

/*
 * proc_run - run spec to completion.  The child leads a new process group;
 * on timeout the whole group gets SIGKILL (grandchildren that ignore
 * SIGTERM included).  Returns 0 when the command ran (whatever its exit
 * status), -errno when it could not be started (message in err; a missing
 * program is -ENOENT).  res->output must be freed with proc_result_free.
 */
int proc_run(const struct proc_spec *spec, struct proc_result *res, struct tend_err *err);
void proc_result_free(struct proc_result *res);

#endif
