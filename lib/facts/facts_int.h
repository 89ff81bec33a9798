/*
 * facts_int.h - the collectors behind facts_collect(), one per area, and the
 * bounded readers they share.  Internal to lib/facts (and its unit tests).
 *
 * Two sources, kept apart on purpose:
 *   - the running machine: a directory fd `host` standing for the host's
 *     "/" (tests pass a fixture tree holding proc/..., sys/..., run/...).
 *     Relative paths such as "proc/meminfo" are opened beneath it.
 *   - the managed root: a struct fsroot (--root DIR), read with
 *     fsroot_open_path so nothing resolves outside it.
 * Each collector adds what it found to the facts object f and never fails:
 * a missing or unreadable file leaves its fact out, a file over its size
 * limit is treated as unreadable.
 */
#ifndef TEND_FACTS_INT_H
#define TEND_FACTS_INT_H

#include <ifaddrs.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/fsroot.h"

/* The default bound of one file read from /proc, /sys or the root. */
#define FACTS_FILE_MAX ((size_t)1 << 20)
/* Files that grow with the machine (cpuinfo on 500 CPUs, mountinfo on a
 * container host) get more room. */
#define FACTS_BIG_FILE_MAX ((size_t)16 << 20)
/* A sysfs attribute or a one-line file. */
#define FACTS_ATTR_MAX 4096

/* --- facts_util.c ------------------------------------------------------ */

/*
 * facts_read_at - the whole regular file dirfd/rel into out (initialised
 * here; the caller frees it on success).  -EFBIG when it is over max bytes,
 * -EINVAL when it is not a regular file, -errno when it cannot be opened or
 * read; out is left empty on failure.
 */
int facts_read_at(int dirfd, const char *rel, size_t max, struct buf *out);

/* facts_read_fd - the same for an open fd, which it closes. */
int facts_read_fd(int fd, size_t max, struct buf *out);

/* facts_read_root - facts_read_at for path p beneath the managed root. */
int facts_read_root(const struct fsroot *root, const char *p, size_t max, struct buf *out);

/*
 * facts_attr_at - a one-line file (a sysfs attribute) into out (n bytes),
 * leading and trailing white space removed.  Returns the length (0 for an
 * empty value) or -errno.
 */
int facts_attr_at(int dirfd, const char *rel, char *out, size_t n);

/*
 * facts_next_line - split a mutable NUL-terminated text into lines: returns
 * the line at *cur (its '\n' replaced by NUL) and advances *cur, or NULL at
 * the end.  *cur may be NULL (no text).
 */
char *facts_next_line(char **cur);

/* facts_trim - strip leading and trailing white space in place. */
char *facts_trim(char *s);

/* facts_human - "23.4 GiB" (binary units, one decimal; "512 B" below 1 KiB). */
void facts_human(uint64_t bytes, char *out, size_t n);

/* facts_string - a JSON string of s; bytes that are not UTF-8 become '?'. */
json_t *facts_string(const char *s);

/* facts_set_str - f[key] = s, unless s is NULL or empty. */
void facts_set_str(json_t *f, const char *key, const char *s);

/* facts_group - f[key] as an object, created when absent. */
json_t *facts_group(json_t *f, const char *key);

/* --- facts_os.c: the managed root, and the kernel ----------------------- */

/* os {id, version_id, version_major, version, codename, name, pretty_name,
 * id_like, family} from ROOT/etc/os-release or ROOT/usr/lib/os-release;
 * family is always set (debian, redhat, suse, alpine, arch or unknown). */
void facts_os_release(const struct fsroot *root, json_t *f);

/* arch and kernel {name, release, version} from uname(2). */
void facts_kernel(json_t *f);

/*
 * hostname, fqdn, domain.  A root that is not the host's "/" names itself
 * in ROOT/etc/hostname; the host, or a root without that file, goes by
 * nodename (the kernel's host name; may be NULL).  A name without a
 * dot is completed from ROOT/etc/hosts (a name on the same line that starts
 * with "HOST."), else from the domain/search line of ROOT/etc/resolv.conf.
 */
void facts_names(const struct fsroot *root, const char *nodename, json_t *f);

/* timezone from the ROOT/etc/localtime symlink (the part after
 * "zoneinfo/"), else ROOT/etc/timezone, else ZONE= in
 * ROOT/etc/sysconfig/clock. */
void facts_timezone(const struct fsroot *root, json_t *f);

/* packages {count, format: "dpkg"}: entries of ROOT/var/lib/dpkg/status
 * with "Status: install ok installed". */
void facts_packages(const struct fsroot *root, json_t *f);

/* --- facts_hw.c: the running machine ------------------------------------ */

/* cpu {model, vendor, count, cores, sockets} from proc/cpuinfo (topology
 * from sys/devices/system/cpu when cpuinfo has none). */
void facts_cpu(int host, json_t *f);

/* memory {total, available, free, total_h, available_h} and swap {total,
 * free, total_h} in bytes, from proc/meminfo. */
void facts_memory(int host, json_t *f);

/* blockdevices {NAME: {size, model, vendor, serial, rotational, removable,
 * partitions {NAME: {size}}}} from sys/block (run/udev/data for a model or
 * serial that sysfs lacks).  Loop and ram devices of size 0 are left out. */
void facts_blockdevices(int host, json_t *f);

/* dmi {sys_vendor, product_name, ...} from sys/class/dmi/id: the readable,
 * non-empty attributes. */
void facts_dmi(int host, json_t *f);

/* uptime {seconds, hours, days} from proc/uptime. */
void facts_uptime(int host, json_t *f);

/* --- facts_virt.c ------------------------------------------------------- */

/*
 * virtual (a container or hypervisor type, or "none"), is_virtual, and
 * container / hypervisor when detected.  use_cpuid: also ask the CPU for
 * the hypervisor's signature (the real host only; tests pass false).
 */
void facts_virtual(int host, bool use_cpuid, json_t *f);

/* --- facts_fs.c --------------------------------------------------------- */

/*
 * mounts {MOUNTPOINT: {device, fstype, options, size, free, available}}
 * from proc/self/mountinfo; sizes from fstatvfs of the mount point beneath
 * host.  Pseudo file systems (proc, sysfs, cgroup, devpts, ...) and
 * anything mounted under /proc, /sys or /dev are left out; tmpfs is kept.
 * Network file systems are listed without sizes: a dead server must not
 * hang fact collection.
 */
void facts_mounts(int host, json_t *f);

/* --- facts_net.c -------------------------------------------------------- */

/*
 * interfaces {NAME: {mac, mtu, state, ipv4 [..], ipv6 [..]}}: the names,
 * MAC, MTU and operstate from sys/class/net, addresses ("addr/prefix")
 * from ifa (a getifaddrs(3) list; may be NULL).
 */
void facts_interfaces(int host, const struct ifaddrs *ifa, json_t *f);

/*
 * default_route {ipv4 {gateway, interface, address}, ipv6 {...}} from
 * proc/net/route and proc/net/ipv6_route (the lowest metric wins);
 * address is the interface's first address, taken from f.interfaces, so
 * call this after facts_interfaces.
 */
void facts_default_route(int host, json_t *f);

/* --- facts_custom.c ----------------------------------------------------- */

#define FACTS_CUSTOM_DIR "/etc/tend/facts.d"
#define FACTS_CUSTOM_MAX ((size_t)1 << 20)

/*
 * custom facts from ROOT/etc/tend/facts.d, in name order: NAME.json and
 * NAME.yaml / NAME.yml files are parsed, executables are run (timeout
 * seconds each, no shell, TEND_ROOT in their environment) and must print
 * one JSON object.  Each goes to f.custom.NAME (the file name without its
 * extension).  A file that fails is left out and described in
 * f.custom_errors ["PATH: reason", ...]; nothing here fails the caller.
 */
void facts_custom(const struct fsroot *root, double timeout, json_t *f);

#endif
