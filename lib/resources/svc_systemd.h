/*
 * svc_systemd.h - the systemd side of the `service` type: unit names,
 * finding a unit file beneath the root, its [Install] section, the links
 * that enable it (read without forking; written by `systemctl --root` or,
 * without systemctl, by hand), and systemctl for the running system.
 */
#ifndef TEND_SVC_SYSTEMD_H
#define TEND_SVC_SYSTEMD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "model/resource.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsroot.h"
#include "util/proc.h"

#define SVC_UNIT_MAX 256

/* The [Install] section of a unit file. */
struct svc_install {
	bool section; /* the file has an [Install] section */
	struct strlist wanted_by, required_by, upheld_by, alias, also;
	char *default_instance; /* NULL when unset */
};

/*
 * svc_install_parse - the [Install] section of a unit file's text: list
 * settings accumulate over lines, an empty assignment clears the list,
 * lines ending in '\' continue, comments (# ;) are skipped.  Values are
 * kept as written (specifiers unexpanded).  Pure; free with
 * svc_install_free.
 */
void svc_install_parse(const char *text, size_t len, struct svc_install *ret);
void svc_install_free(struct svc_install *in);

/*
 * svc_unit_name - the unit a service NAME means: NAME itself when it ends
 * in a unit type suffix (.service .socket .timer .path .target .mount),
 * else NAME.service ("php8.2-fpm" is "php8.2-fpm.service").  -EINVAL for
 * what cannot be a unit name (empty, '/', blanks, too long).
 */
int svc_unit_name(const char *name, char out[SVC_UNIT_MAX]);

/*
 * svc_unit_expand - s with the specifiers systemctl expands in [Install]
 * (%n %N %p %i %j %%) replaced for unit.  -EINVAL for any other specifier,
 * -ENAMETOOLONG when out (n bytes) is too small.  Pure.
 */
int svc_unit_expand(const char *s, const char *unit, char *out, size_t n);

/* A unit file found beneath the root. */
struct svc_unit {
	char name[SVC_UNIT_MAX]; /* the unit, after following an alias; instance kept */
	char path[PATH_MAX];	 /* its file, as a path inside the root */
	bool masked;		 /* linked to /dev/null (or empty) */
	struct svc_install install;
};

/*
 * svc_unit_find - look unit up in the unit directories beneath the root
 * (/etc/systemd/system, /run/systemd/system, /usr/local/lib/systemd/system,
 * /lib/systemd/system, /usr/lib/systemd/system; an instance falls back to
 * its template) and read its [Install] section.  -ENOENT when not found.
 * Free with svc_unit_free.
 */
int svc_unit_find(const struct fsroot *root, const char *unit, struct svc_unit *ret);
void svc_unit_free(struct svc_unit *u);

/*
 * svc_systemd_enabled - whether unit is enabled, from the links its
 * [Install] section (and its Also= units) asks for in
 * ROOT/etc/systemd/system: SVC_ENABLED when all exist, SVC_DISABLED when
 * none does and no *.wants / *.requires / *.upholds directory holds a link
 * of that name, SVC_PARTIAL otherwise; SVC_MASKED, SVC_STATIC (nothing to
 * link).  Reads only.  -ENOENT when the unit does not exist; other errors
 * with a message in err.
 */
int svc_systemd_enabled(const struct fsroot *root, const char *unit, int *ret_state,
			struct tend_err *err);

/*
 * svc_systemd_links_set - enable or disable unit by making or removing
 * those links by hand, as `systemctl --root` would (absolute link targets,
 * directories created 0755, emptied .wants directories removed).  What
 * was done is described in log (may be NULL).  0 or -errno with err.
 */
int svc_systemd_links_set(const struct fsroot *root, const char *unit, bool on, struct buf *log,
			  struct tend_err *err);

/*
 * svc_systemd_set_enabled - `systemctl [--root=ROOT] enable|disable UNIT`
 * (--root unless systemd runs the root), or svc_systemd_links_set when
 * systemctl is not installed.  Output goes to log.  0 or -errno with err
 * (systemctl's exit status and last line of output).
 */
int svc_systemd_set_enabled(const struct fsroot *root, const char *unit, bool on, double timeout,
			    struct buf *log, struct tend_err *err);

/* svc_systemd_installed - whether the root has systemd (ROOT/lib/systemd/systemd or
 * ROOT/usr/lib/systemd/systemd), or is "/" with systemd running. */
bool svc_systemd_installed(const struct fsroot *root);

/* svc_systemd_live - whether systemd runs the managed system: the root is
 * "/" and /run/systemd/system exists. */
bool svc_systemd_live(const struct fsroot *root);

/*
 * svc_systemctl - run `systemctl --no-pager ARGS...` (ARGS NULL-terminated)
 * against the running systemd.  Returns proc_run's result; res must then
 * be freed with proc_result_free.
 */
int svc_systemctl(const char *const *args, double timeout, size_t output_max,
		  struct proc_result *res, struct tend_err *err);

#endif
