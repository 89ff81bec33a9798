/*
 * facts.h - what tend knows about the system it manages, for templates
 * ({{ facts.os.id }}) and `tend facts`.  Everything is read from /proc,
 * /sys and files (plus uname(2) and getifaddrs(3)); nothing is forked
 * except the admin's own executables in ROOT/etc/tend/facts.d.
 */
#ifndef TEND_FACTS_H
#define TEND_FACTS_H

#include <jansson.h>

#include "util/fsroot.h"

/*
 * facts_collect - a new JSON object holding every fact (the full list and
 * its sources are in docs/tend.1, FACTS).  Two kinds:
 *   - facts of the root (--root DIR): os, hostname/fqdn/domain (from
 *     ROOT/etc/hostname when root is not the host, else the kernel's),
 *     timezone, packages, custom and custom_errors;
 *   - facts of the running machine, whatever the root: arch, kernel, cpu,
 *     memory, swap, blockdevices, dmi, mounts, interfaces, default_route,
 *     virtual, uptime.
 * A fact whose source is missing or unreadable is left out; nothing here
 * fails.  A failing custom fact is left out and described in
 * custom_errors.  The caller owns the returned reference (NULL only when
 * out of memory).
 */
json_t *facts_collect(struct fsroot *root);

#endif
