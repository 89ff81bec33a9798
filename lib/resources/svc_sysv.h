/*
 * svc_sysv.h - the sysvinit side of the `service` type: /etc/init.d
 * scripts, their LSB headers, the rc.d links that enable them, and running
 * a script (chrooted into the managed root when it is not "/").
 *
 * Also the vocabulary both service providers share (svc_enable_state).
 */
#ifndef TEND_SVC_SYSV_H
#define TEND_SVC_SYSV_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/fsroot.h"
#include "util/proc.h"

/* How a service is enabled now, as a probe sees it (both providers). */
enum svc_enable_state {
	SVC_DISABLED = 0, /* nothing starts it at boot */
	SVC_ENABLED,	  /* every link its install information asks for exists */
	SVC_PARTIAL,	  /* some of them */
	SVC_MASKED,	  /* systemd: linked to /dev/null */
	SVC_STATIC,	  /* systemd: no [Install] section; sysv: empty Default-Start */
};

/* svc_enable_state_name - "false", "true", "partial", "masked", "static". */
const char *svc_enable_state_name(int st);

/* Runlevels as a bit mask: bit i for SVC_RUNLEVELS[i] ('0'..'6', then 'S'). */
#define SVC_RUNLEVELS "0123456S"

struct svc_lsb {
	unsigned start; /* Default-Start: levels that get S links */
	unsigned stop;	/* Default-Stop: levels that get K links */
};

/*
 * svc_sysv_parse_lsb - the Default-Start and Default-Stop runlevels from the
 * LSB header ("### BEGIN INIT INFO" .. "### END INIT INFO") in the first
 * len bytes of an init script.  A missing header or field gives Debian's
 * defaults: start 2 3 4 5, stop 0 1 6; a field given empty means no
 * runlevel.  Unknown runlevel words are ignored, as insserv does.  Pure.
 */
void svc_sysv_parse_lsb(const char *text, size_t len, struct svc_lsb *ret);

/*
 * svc_sysv_name_ok - whether name can be an init script's name: a plain
 * file name (no '/', not "." or ".."), 1..200 printable bytes, no blanks.
 */
bool svc_sysv_name_ok(const char *name);

/*
 * svc_sysv_read_lsb - read ROOT/etc/init.d/NAME's LSB header.  -ENOENT
 * when there is no such script (a directory or non-regular file: -EINVAL).
 */
int svc_sysv_read_lsb(const struct fsroot *root, const char *name, struct svc_lsb *ret);

/*
 * svc_sysv_enabled - from the links S??NAME and K??NAME in ROOT/etc/rc?.d:
 * SVC_ENABLED when every Default-Start level has an S link and none of
 * them a K link, SVC_DISABLED when no level has an S link, else
 * SVC_PARTIAL; SVC_STATIC when Default-Start is empty.  Reads
 * directories only.  0 or -errno.
 */
int svc_sysv_enabled(const struct fsroot *root, const char *name, const struct svc_lsb *lsb,
		     int *ret_state);

/*
 * svc_sysv_set_enabled - write the links as update-rc.d would (without
 * needing it in the root).  Enable: in each Default-Start level remove K
 * links and add S01NAME unless an S link exists; in each Default-Stop
 * level add K01NAME unless a link exists.  Disable: every S link becomes
 * K01NAME (a K link, unlike no link, keeps a package's postinst from
 * enabling the service again).  Links point to ../init.d/NAME; missing
 * rc?.d directories are created 0755.  Each link made or removed is
 * described in log (may be NULL).  0 or -errno with a message in err.
 */
int svc_sysv_set_enabled(const struct fsroot *root, const char *name, const struct svc_lsb *lsb,
			 bool on, struct buf *log, struct tend_err *err);

/*
 * svc_sysv_can_run - whether init scripts can run for this root: always
 * for "/", else when ROOT/bin/sh exists (the script runs chrooted).  When
 * not, why (of whylen bytes) says so.
 */
bool svc_sysv_can_run(const struct fsroot *root, char *why, size_t whylen);

/*
 * svc_sysv_run - run "/etc/init.d/NAME VERB" with a standard PATH,
 * chrooted into the root unless it is "/", with the timeout killing the
 * whole process group.  Returns proc_run's result (0: it ran, see res;
 * -errno: it could not start, message in err).  res must then be freed
 * with proc_result_free.
 */
int svc_sysv_run(const struct fsroot *root, const char *name, const char *verb, double timeout,
		 size_t output_max, struct proc_result *res, struct tend_err *err);

#endif
