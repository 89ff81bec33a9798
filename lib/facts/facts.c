/*
 * facts.c - facts_collect(): run every collector (see facts_int.h) against
 * the host's "/" and the managed root.
 *
 * Collection is a few dozen small reads of /proc and /sys and one netlink
 * dump, a few milliseconds in all; only custom executables can take longer,
 * and each is bounded by CUSTOM_TIMEOUT.
 */
#include "facts/facts.h"

#include <fcntl.h>
#include <ifaddrs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "facts/facts_int.h"

/* Seconds a custom fact executable may run. */
#define CUSTOM_TIMEOUT 10.0

json_t *facts_collect(struct fsroot *root)
{
	json_t *f = json_object();
	struct ifaddrs *ifa = NULL;
	struct utsname u;
	int host;

	if (!f)
		return NULL;
	/* the running machine */
	host = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	facts_kernel(f);
	if (host >= 0) {
		facts_cpu(host, f);
		facts_memory(host, f);
		facts_blockdevices(host, f);
		facts_dmi(host, f);
		facts_mounts(host, f);
		if (getifaddrs(&ifa) < 0)
			ifa = NULL;
		facts_interfaces(host, ifa, f);
		if (ifa)
			freeifaddrs(ifa);
		facts_default_route(host, f);
		facts_virtual(host, true, f);
		facts_uptime(host, f);
		close(host);
	}
	/* the root */
	facts_names(root, uname(&u) == 0 ? u.nodename : NULL, f);
	facts_os_release(root, f);
	facts_timezone(root, f);
	facts_packages(root, f);
	facts_custom(root, CUSTOM_TIMEOUT, f);
	return f;
}
