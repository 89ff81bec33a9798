/*
 * facts_net.c - network interfaces and default routes of the running
 * machine (its network namespace).
 *
 * Names, MAC, MTU and state come from sys/class/net; addresses from a
 * getifaddrs(3) list (a netlink dump inside libc, no fork: no /proc file
 * lists IPv4 addresses); default gateways from proc/net/route and
 * proc/net/ipv6_route.  Taking the address list as a parameter lets unit
 * tests hand in a list of their own.
 */
#include "facts/facts_int.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "util/strutil.h"

/* Bits set in a netmask, counted from the top (a prefix length). */
static int mask_prefix(const unsigned char *m, size_t n)
{
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		for (int b = 7; b >= 0; b--) {
			if (!(m[i] & (1u << b)))
				return bits;
			bits++;
		}
	}
	return bits;
}

static void iface_sysfs(int dfd, const char *name, json_t *i)
{
	char rel[300], v[FACTS_ATTR_MAX];
	long long mtu;

	snprintf(rel, sizeof(rel), "%s/address", name);
	if (facts_attr_at(dfd, rel, v, sizeof(v)) > 0)
		facts_set_str(i, "mac", v);
	snprintf(rel, sizeof(rel), "%s/mtu", name);
	if (facts_attr_at(dfd, rel, v, sizeof(v)) > 0 && str_to_ll(v, 10, 0, 1 << 30, &mtu) == 0)
		json_object_set_new(i, "mtu", json_integer(mtu));
	snprintf(rel, sizeof(rel), "%s/operstate", name);
	if (facts_attr_at(dfd, rel, v, sizeof(v)) > 0)
		facts_set_str(i, "state", v);
}

/* add_addr - append "addr/prefix" to i[key] (a list, created on demand). */
static void add_addr(json_t *i, const char *key, const char *addr, int prefix)
{
	json_t *list = json_object_get(i, key);
	char s[INET6_ADDRSTRLEN + 16];

	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(i, key, list);
	}
	snprintf(s, sizeof(s), "%s/%d", addr, prefix);
	json_array_append_new(list, json_string(s));
}

static void iface_addrs(const struct ifaddrs *ifa, json_t *all)
{
	for (; ifa; ifa = ifa->ifa_next) {
		char addr[INET6_ADDRSTRLEN];
		int family, prefix;
		json_t *i;

		if (!ifa->ifa_addr || !ifa->ifa_name)
			continue;
		family = ifa->ifa_addr->sa_family;
		if (family == AF_INET) {
			const struct sockaddr_in *a = (const void *)ifa->ifa_addr;
			const struct sockaddr_in *m = (const void *)ifa->ifa_netmask;

			inet_ntop(AF_INET, &a->sin_addr, addr, sizeof(addr));
			prefix = m ? mask_prefix((const void *)&m->sin_addr, 4) : 32;
		} else if (family == AF_INET6) {
			const struct sockaddr_in6 *a = (const void *)ifa->ifa_addr;
			const struct sockaddr_in6 *m = (const void *)ifa->ifa_netmask;

			inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof(addr));
			prefix = m ? mask_prefix((const void *)&m->sin6_addr, 16) : 128;
		} else {
			continue;
		}
		i = facts_group(all, ifa->ifa_name);
		add_addr(i, family == AF_INET ? "ipv4" : "ipv6", addr, prefix);
	}
}

void facts_interfaces(int host, const struct ifaddrs *ifa, json_t *f)
{
	int dfd = openat(host, "sys/class/net", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	json_t *all = facts_group(f, "interfaces");
	struct dirent *e;

	if (!d && dfd >= 0)
		close(dfd);
	while (d && (e = readdir(d))) {
		/* entries are symlinks into /sys/devices; bonding_masters is a file */
		char rel[300];

		snprintf(rel, sizeof(rel), "%s/ifindex", e->d_name);
		if (e->d_name[0] == '.' || strlen(e->d_name) >= IF_NAMESIZE ||
		    faccessat(dirfd(d), rel, F_OK, 0) < 0)
			continue;
		iface_sysfs(dirfd(d), e->d_name, facts_group(all, e->d_name));
	}
	if (d)
		closedir(d);
	iface_addrs(ifa, all);
}

/* set_first_addr - route.address: the first address of interface ifname (without "/prefix"),
 * skipping IPv6 link-local ones. */
static void set_first_addr(json_t *f, const char *ifname, const char *key, json_t *route)
{
	json_t *list =
		json_object_get(json_object_get(json_object_get(f, "interfaces"), ifname), key);
	size_t i;
	json_t *a;

	json_array_foreach(list, i, a) {
		const char *s = json_string_value(a);

		if (!s || !strncasecmp(s, "fe80:", 5))
			continue;
		json_object_set_new(route, "address", json_stringn(s, strcspn(s, "/")));
		return;
	}
}

static void set_route(json_t *f, const char *family, const char *gw, const char *ifname)
{
	json_t *r = json_object();

	json_object_set_new(r, "gateway", json_string(gw));
	json_object_set_new(r, "interface", facts_string(ifname));
	set_first_addr(f, ifname, !strcmp(family, "ipv4") ? "ipv4" : "ipv6", r);
	json_object_set_new(facts_group(f, "default_route"), family, r);
}

/* hexu32 - a whole hexadecimal field (at most 8 digits). */
static bool hexu32(const char *s, unsigned long *ret)
{
	long long v;

	if (!s || strlen(s) > 8 || str_to_ll(s, 16, 0, 0xffffffffLL, &v) < 0)
		return false;
	*ret = (unsigned long)v;
	return true;
}

/*
 * route_v4 - proc/net/route: "Iface Destination Gateway Flags RefCnt Use
 * Metric Mask ...", addresses as the kernel's in-memory u32 in hex, so
 * reading them as a host integer gives back the network-order bytes.
 */
static void route_v4(int host, json_t *f)
{
	struct buf b;
	char *cur, *line, best_if[IF_NAMESIZE + 1] = "", best_gw[INET_ADDRSTRLEN] = "";
	long long best_metric = 0;

	if (facts_read_at(host, "proc/net/route", FACTS_BIG_FILE_MAX, &b) < 0)
		return;
	cur = b.data;
	facts_next_line(&cur); /* header */
	while ((line = facts_next_line(&cur))) {
		char *save = NULL, *w[8];
		unsigned long dst, gw, flags, mask;
		long long metric;
		struct in_addr a;
		int i;

		for (i = 0; i < 8; i++)
			if (!(w[i] = strtok_r(i ? NULL : line, " \t", &save)))
				break;
		if (i < 8 || !hexu32(w[1], &dst) || !hexu32(w[2], &gw) || !hexu32(w[3], &flags) ||
		    str_to_ll(w[6], 10, 0, 0xffffffffLL, &metric) < 0 || !hexu32(w[7], &mask) ||
		    strlen(w[0]) > IF_NAMESIZE)
			continue;
		/* RTF_UP | RTF_GATEWAY, 0.0.0.0/0 */
		if (dst || mask || (flags & 0x3) != 0x3)
			continue;
		if (*best_if && metric >= best_metric)
			continue;
		a.s_addr = (in_addr_t)gw;
		inet_ntop(AF_INET, &a, best_gw, sizeof(best_gw));
		snprintf(best_if, sizeof(best_if), "%s", w[0]);
		best_metric = metric;
	}
	buf_free(&b);
	if (*best_if)
		set_route(f, "ipv4", best_gw, best_if);
}

static bool hex128(const char *s, unsigned char out[16])
{
	if (!s || strlen(s) != 32 || strspn(s, "0123456789abcdefABCDEF") != 32)
		return false;
	for (int i = 0; i < 16; i++) {
		char h[3] = { s[2 * i], s[2 * i + 1], '\0' };

		out[i] = (unsigned char)strtoul(h, NULL, 16);
	}
	return true;
}

/*
 * route_v6 - proc/net/ipv6_route: "DST DSTLEN SRC SRCLEN NEXTHOP METRIC
 * REFCNT USE FLAGS IFACE", all hexadecimal.  The default route is ::/0
 * with RTF_GATEWAY; its next hop is the gateway.
 */
static void route_v6(int host, json_t *f)
{
	struct buf b;
	char *cur, *line, best_if[IF_NAMESIZE + 1] = "", best_gw[INET6_ADDRSTRLEN] = "";
	unsigned long best_metric = 0;
	static const unsigned char zero[16];

	if (facts_read_at(host, "proc/net/ipv6_route", FACTS_BIG_FILE_MAX, &b) < 0)
		return;
	cur = b.data;
	while ((line = facts_next_line(&cur))) {
		char *save = NULL, *w[10];
		unsigned char dst[16], gw[16];
		unsigned long dlen, metric, flags;
		int i;

		for (i = 0; i < 10; i++)
			if (!(w[i] = strtok_r(i ? NULL : line, " \t", &save)))
				break;
		if (i < 10 || !hex128(w[0], dst) || !hexu32(w[1], &dlen) || !hex128(w[4], gw) ||
		    !hexu32(w[5], &metric) || !hexu32(w[8], &flags) || strlen(w[9]) > IF_NAMESIZE)
			continue;
		/* RTF_UP | RTF_GATEWAY, ::/0, not the "lo" reject route */
		if (dlen || memcmp(dst, zero, 16) || (flags & 0x3) != 0x3 || !memcmp(gw, zero, 16))
			continue;
		if (*best_if && metric >= best_metric)
			continue;
		inet_ntop(AF_INET6, gw, best_gw, sizeof(best_gw));
		snprintf(best_if, sizeof(best_if), "%s", w[9]);
		best_metric = metric;
	}
	buf_free(&b);
	if (*best_if)
		set_route(f, "ipv6", best_gw, best_if);
}

void facts_default_route(int host, json_t *f)
{
	route_v4(host, f);
	route_v6(host, f);
}
