/*
 * facts.h - what tend knows about the system it manages, for templates
 * ({{ facts.os.id }}) and `tend facts`.  Read from files under the root
 * and from the running kernel; nothing is forked.
 */
#ifndef TEND_FACTS_H
#define TEND_FACTS_H

#include <jansson.h>

#include "util/fsroot.h"

/*
 * facts_collect - a new JSON object: hostname, fqdn, domain, arch,
 * kernel {name, release, version}, os {id, version_id, version, name,
 * codename, family, pretty_name}.  OS facts come from ROOT/etc/os-release
 * (or ROOT/usr/lib/os-release); the hostname from ROOT/etc/hostname when
 * root is not the host, else from the kernel.
 */
json_t *facts_collect(struct fsroot *root);

#endif
