/*
 * pkg_rpm.h - the rpm/dnf package provider (RHEL and clones, Fedora): its
 * parser and version comparison, exposed for unit tests; the provider
 * itself is pkg_provider_rpm (pkg_provider.h).
 */
#ifndef TEND_PKG_RPM_H
#define TEND_PKG_RPM_H

#include <stdbool.h>

#include "resources/pkg_provider.h"

/* rpm_vercmp - rpm's comparison of one version or release string (rpmvercmp). */
int rpm_vercmp(const char *a, const char *b);

/*
 * rpm_evr_cmp - compare "[EPOCH:]VERSION[-RELEASE]" strings: epochs as
 * numbers (none is 0), then versions, then releases with rpm_vercmp.
 */
int rpm_evr_cmp(const char *a, const char *b);

/*
 * rpm_evr_matches - whether the pinned version pin ("1.2", "1.2-3" or
 * "1:1.2-3") names evr: parts pin leaves out match anything.
 */
bool rpm_evr_matches(const char *pin, const char *evr);

/*
 * rpm_nevra_parse - lines "NAME EPOCH:VERSION-RELEASE ARCH" (rpm -qa and
 * dnf repoquery with tend's query format; EPOCH "(none)" or 0 is left
 * out of the stored version) into ret (finished): keys "name" and
 * "name.arch"; the highest version of a name is its version, all are
 * listed in versions.  Lines that do not have three fields are skipped.
 */
int rpm_nevra_parse(const char *text, struct pkg_set *ret);

#endif
