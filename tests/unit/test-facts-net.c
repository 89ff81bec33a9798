/*
 * test-facts-net.c - unit tests for the network and mount fact parsers
 * (facts_net.c, facts_fs.c): interfaces from a sysfs fixture and a
 * hand-built getifaddrs list, default routes from proc/net/route and
 * proc/net/ipv6_route, mounts from proc/self/mountinfo.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "test-facts-fixture.h"

/* A getifaddrs(3)-shaped list built by hand. */
struct fake_ifa {
	struct ifaddrs ifa;
	struct sockaddr_storage addr, mask;
};

static void fake_add(struct fake_ifa *arr, size_t *n, const char *name, const char *addr,
		     int prefix)
{
	struct fake_ifa *e = &arr[*n];

	memset(e, 0, sizeof(*e));
	e->ifa.ifa_name = (char *)name;
	e->ifa.ifa_addr = (struct sockaddr *)&e->addr;
	e->ifa.ifa_netmask = (struct sockaddr *)&e->mask;
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *a = (void *)&e->addr, *m = (void *)&e->mask;

		a->sin6_family = m->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, &a->sin6_addr), 1);
		for (int i = 0; i < prefix; i++)
			m->sin6_addr.s6_addr[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	} else if (*addr) {
		struct sockaddr_in *a = (void *)&e->addr, *m = (void *)&e->mask;

		a->sin_family = m->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &a->sin_addr), 1);
		m->sin_addr.s_addr = prefix ? htonl(0xffffffffu << (32 - prefix)) : 0;
	} else {
		/* an AF_PACKET-like entry: not an address */
		e->addr.ss_family = AF_PACKET;
		e->ifa.ifa_netmask = NULL;
	}
	if (*n > 0)
		arr[*n - 1].ifa.ifa_next = &e->ifa;
	(*n)++;
}

static void iface(struct fx *x, const char *name, const char *mac, const char *mtu,
		  const char *state)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "sys/class/net/%s/ifindex", name);
	fx_put(x, rel, "1\n");
	snprintf(rel, sizeof(rel), "sys/class/net/%s/address", name);
	fx_put(x, rel, mac);
	snprintf(rel, sizeof(rel), "sys/class/net/%s/mtu", name);
	fx_put(x, rel, mtu);
	snprintf(rel, sizeof(rel), "sys/class/net/%s/operstate", name);
	fx_put(x, rel, state);
}

static void interfaces_from_sysfs_and_addresses(void **state)
{
	struct fx *x = *state;
	struct fake_ifa arr[8];
	size_t n = 0;
	json_t *v4, *v6;

	iface(x, "lo", "00:00:00:00:00:00\n", "65536\n", "unknown\n");
	iface(x, "eth0", "52:54:00:12:34:56\n", "1500\n", "up\n");
	iface(x, "wg0", "\n", "1420\n", "unknown\n");
	fx_put(x, "sys/class/net/bonding_masters", "\n");
	fake_add(arr, &n, "lo", "", 0);
	fake_add(arr, &n, "lo", "127.0.0.1", 8);
	fake_add(arr, &n, "eth0", "192.0.2.10", 24);
	fake_add(arr, &n, "eth0", "198.51.100.7", 32);
	fake_add(arr, &n, "eth0", "2001:db8::5", 64);
	fake_add(arr, &n, "eth0", "fe80::5054:ff:fe12:3456", 64);
	fake_add(arr, &n, "lo", "::1", 128);
	facts_interfaces(x->host, &arr[0].ifa, x->f);

	fx_assert_str(x->f, "interfaces.eth0.mac", "52:54:00:12:34:56");
	fx_assert_int(x->f, "interfaces.eth0.mtu", 1500);
	fx_assert_str(x->f, "interfaces.eth0.state", "up");
	v4 = fx_get(x->f, "interfaces.eth0.ipv4");
	assert_int_equal(json_array_size(v4), 2);
	assert_string_equal(json_string_value(json_array_get(v4, 0)), "192.0.2.10/24");
	assert_string_equal(json_string_value(json_array_get(v4, 1)), "198.51.100.7/32");
	v6 = fx_get(x->f, "interfaces.eth0.ipv6");
	assert_int_equal(json_array_size(v6), 2);
	assert_string_equal(json_string_value(json_array_get(v6, 0)), "2001:db8::5/64");
	assert_string_equal(json_string_value(json_array_get(v6, 1)), "fe80::5054:ff:fe12:3456/64");
	assert_string_equal(
		json_string_value(json_array_get(fx_get(x->f, "interfaces.lo.ipv4"), 0)),
		"127.0.0.1/8");
	assert_string_equal(
		json_string_value(json_array_get(fx_get(x->f, "interfaces.lo.ipv6"), 0)),
		"::1/128");
	/* no MAC (a tunnel) and no address: still listed, without them */
	fx_assert_absent(x->f, "interfaces.wg0.mac");
	fx_assert_absent(x->f, "interfaces.wg0.ipv4");
	fx_assert_int(x->f, "interfaces.wg0.mtu", 1420);
	fx_assert_absent(x->f, "interfaces.bonding_masters");
	assert_int_equal(json_object_size(fx_get(x->f, "interfaces")), 3);
}

static void default_routes_lowest_metric_with_the_interface_address(void **state)
{
	struct fx *x = *state;
	struct fake_ifa arr[4];
	size_t n = 0;

	iface(x, "eth0", "52:54:00:12:34:56\n", "1500\n", "up\n");
	iface(x, "wlan0", "52:54:00:12:34:57\n", "1500\n", "up\n");
	fake_add(arr, &n, "wlan0", "10.1.2.3", 16);
	fake_add(arr, &n, "eth0", "192.0.2.10", 24);
	fake_add(arr, &n, "eth0", "fe80::1:2", 64);
	fake_add(arr, &n, "eth0", "2001:db8::10", 64);
	facts_interfaces(x->host, &arr[0].ifa, x->f);
	/* gateways are the kernel's in-memory u32, printed %08X: 192.0.2.1 = 010200C0 */
	fx_put(x, "proc/net/route",
	       "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	       "eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
	       "eth0\t000200C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
	       "wlan0\t00000000\t0101010A\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
	       "eth1\t00000000\t020200C0\t0001\t0\t0\t1\t00000000\t0\t0\t0\n"
	       "junk\tzz\n");
	fx_put(x, "proc/net/ipv6_route",
	       "20010db8000000000000000000000000 40 00000000000000000000000000000000 00 "
	       "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"
	       "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
	       "fe800000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n"
	       "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
	       "fe800000000000000000000000000009 00000800 00000002 00000000 00000003    wlan0\n"
	       "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
	       "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n");
	facts_default_route(x->host, x->f);
	fx_assert_str(x->f, "default_route.ipv4.gateway", "192.0.2.1");
	fx_assert_str(x->f, "default_route.ipv4.interface", "eth0");
	fx_assert_str(x->f, "default_route.ipv4.address", "192.0.2.10");
	fx_assert_str(x->f, "default_route.ipv6.gateway", "fe80::1");
	fx_assert_str(x->f, "default_route.ipv6.interface", "eth0");
	/* the link-local address is skipped */
	fx_assert_str(x->f, "default_route.ipv6.address", "2001:db8::10");
}

static void no_default_route_no_fact(void **state)
{
	struct fx *x = *state;

	fx_put(x, "proc/net/route",
	       "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	       "eth0\t000200C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n");
	fx_put(x, "proc/net/ipv6_route", "");
	facts_default_route(x->host, x->f);
	fx_assert_absent(x->f, "default_route");
}

static void mountinfo_keeps_real_file_systems_with_sizes(void **state)
{
	struct fx *x = *state;
	json_t *root;

	fx_mkdirs(x, "tmp");
	fx_mkdirs(x, "mnt/my disk");
	fx_mkdirs(x, "data");
	fx_put(x, "proc/self/mountinfo",
	       "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
	       "23 27 0:22 / /sys rw,relatime - sysfs sysfs rw\n"
	       "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,discard\n"
	       "25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw\n"
	       "31 23 0:28 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n"
	       "40 27 0:40 / /tmp rw,nosuid shared:5 master:2 - tmpfs tmpfs rw,size=1024k\n"
	       "41 27 8:17 / /mnt/my\\040disk ro,relatime - vfat /dev/sdb1 ro\n"
	       "42 27 0:50 / /srv/nfs rw,relatime - nfs4 server:/export rw,vers=4.2\n"
	       "43 27 8:2 / /data rw - ext4 /dev/sda2 rw\n"
	       "44 43 8:3 / /data rw - xfs /dev/sda3 rw\n"
	       "45 27 0:51 / /proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw\n"
	       "46 27 0:52 / /run/user/1000/doc rw - fuse.portal portal rw\n"
	       "garbage line\n"
	       "47 27 0:53 / relative rw - ext4 /dev/x rw\n");
	facts_mounts(x->host, x->f);
	root = fx_get(x->f, "mounts");
	assert_non_null(root);
	root = json_object_get(root, "/");
	fx_assert_str(root, "device", "/dev/vda1");
	fx_assert_str(root, "fstype", "ext4");
	fx_assert_str(root, "options", "rw,relatime");
	/* sizes come from statvfs of the fixture's own file system */
	assert_true(json_integer_value(json_object_get(root, "size")) > 0);
	assert_true(json_integer_value(json_object_get(root, "free")) >=
		    json_integer_value(json_object_get(root, "available")));
	root = json_object_get(fx_get(x->f, "mounts"), "/mnt/my disk");
	fx_assert_str(root, "device", "/dev/sdb1");
	fx_assert_str(root, "fstype", "vfat");
	assert_true(json_is_integer(json_object_get(root, "size")));
	root = json_object_get(fx_get(x->f, "mounts"), "/srv/nfs");
	fx_assert_str(root, "device", "server:/export");
	assert_true(json_is_true(json_object_get(root, "network")));
	assert_null(json_object_get(root, "size"));
	root = json_object_get(fx_get(x->f, "mounts"), "/data");
	fx_assert_str(root, "fstype", "xfs");
	fx_assert_str(root, "device", "/dev/sda3");
	assert_non_null(json_object_get(fx_get(x->f, "mounts"), "/tmp"));
	/* left out: pseudo file systems, and everything under /proc, /sys, /dev */
	assert_int_equal(json_object_size(fx_get(x->f, "mounts")), 5);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(interfaces_from_sysfs_and_addresses),
		T(default_routes_lowest_metric_with_the_interface_address),
		T(no_default_route_no_fact),
		T(mountinfo_keeps_real_file_systems_with_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
