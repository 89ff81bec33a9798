/*
 * pkg_dpkg.h - the dpkg/apt package provider (Debian, Ubuntu): its parsers
 * and version comparison, exposed for unit tests; the provider itself is
 * pkg_provider_dpkg (pkg_provider.h).
 */
#ifndef TEND_PKG_DPKG_H
#define TEND_PKG_DPKG_H

#include <stdbool.h>
#include <stddef.h>

#include "resources/pkg_provider.h"
#include "util/buf.h"

/* The dpkg status database inside the root, and the largest we read. */
#define DPKG_STATUS_PATH "/var/lib/dpkg/status"
#define DPKG_STATUS_MAX ((size_t)256 << 20)

/*
 * dpkg_vercmp - compare two Debian versions ([epoch:]upstream[-revision])
 * the way dpkg does: '~' sorts before everything, even the end; digits
 * compare as numbers.  <0, 0, >0.
 */
int dpkg_vercmp(const char *a, const char *b);

/*
 * dpkg_status_parse - the installed packages of a dpkg status database
 * (data, len) into ret (finished): keys "name" and "name:arch" (and
 * "name:NATIVE" for an Architecture: all package).  A package
 * counts as installed in the states installed, triggers-pending and
 * triggers-awaited; half-installed or config-files ones do not.  Where a
 * name is installed for several architectures, "name" is the one for
 * native (e.g. "amd64"), else "all", else the first.  0 or -EINVAL when
 * a stanza has no Package field (ret is then empty).
 */
int dpkg_status_parse(const char *data, size_t len, const char *native, struct pkg_set *ret);

/*
 * apt_policy_parse - the output of `apt-cache policy NAME...` (LC_ALL=C)
 * into ret (finished): one entry per package header with the candidate
 * (NULL for "(none)") and the versions some source other than the dpkg
 * status offers.  Lines that are not part of a package's block (apt's
 * "N:"/"W:" notes) are ignored.
 */
int apt_policy_parse(const char *text, struct pkg_set *ret);

/*
 * apt_config_text - the apt configuration that points apt at root (its
 * own /etc/apt, lists, cache and dpkg database), read through APT_CONFIG
 * before any other configuration so that the root's apt.conf.d is used
 * and the host's is not.  With chroot (the root has its own dpkg), apt
 * chroots into the root to run dpkg and the root's hooks (debconf's
 * preconfiguration among them), so nothing of theirs runs on the host;
 * without (a bare root being filled), the host's dpkg runs with --root.
 * -EINVAL when root holds a character apt's syntax cannot carry.
 */
int apt_config_text(const char *root, bool chroot, struct buf *out);

/* dpkg_native_arch - Debian's name for the architecture tend runs on ("amd64"). */
const char *dpkg_native_arch(void);

#endif
