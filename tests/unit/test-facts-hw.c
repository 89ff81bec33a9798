/*
 * test-facts-hw.c - unit tests for the hardware fact parsers
 * (facts_hw.c, facts_virt.c, facts_util.c): meminfo, cpuinfo and CPU
 * topology, block devices, DMI, uptime, virtualisation, and the bounded
 * readers they share.  Each test writes the /proc and /sys content it
 * feeds the parser into a fixture tree (test-facts-fixture.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "test-facts-fixture.h"

static void meminfo_is_in_bytes_with_human_sizes(void **state)
{
	struct fx *x = *state;

	fx_put(x, "proc/meminfo",
	       "MemTotal:       24536812 kB\n"
	       "MemFree:         1000000 kB\n"
	       "MemAvailable:   20000000 kB\n"
	       "Buffers:           19080 kB\n"
	       "HugePages_Total:       0\n"
	       "SwapTotal:       2097148 kB\n"
	       "SwapFree:        1048576 kB\n");
	facts_memory(x->host, x->f);
	fx_assert_int(x->f, "memory.total", 24536812LL * 1024);
	fx_assert_int(x->f, "memory.available", 20000000LL * 1024);
	fx_assert_int(x->f, "memory.free", 1000000LL * 1024);
	fx_assert_str(x->f, "memory.total_h", "23.4 GiB");
	fx_assert_str(x->f, "memory.available_h", "19.1 GiB");
	fx_assert_int(x->f, "swap.total", 2097148LL * 1024);
	fx_assert_int(x->f, "swap.free", 1048576LL * 1024);
	fx_assert_str(x->f, "swap.total_h", "2.0 GiB");
}

static void meminfo_ignores_malformed_lines(void **state)
{
	struct fx *x = *state;

	fx_put(x, "proc/meminfo",
	       "MemTotal:       12x kB\n"
	       "MemFree:        99999999999999999999999 kB\n"
	       "MemAvailable:   100 MB\n"
	       "SwapTotal 5 kB\n"
	       "SwapFree:       7 kB\n");
	facts_memory(x->host, x->f);
	fx_assert_absent(x->f, "memory.total");
	fx_assert_absent(x->f, "memory.free");
	fx_assert_absent(x->f, "memory.available");
	fx_assert_absent(x->f, "swap.total");
	fx_assert_int(x->f, "swap.free", 7 * 1024);
}

static void missing_proc_files_leave_facts_out(void **state)
{
	struct fx *x = *state;

	facts_memory(x->host, x->f);
	facts_cpu(x->host, x->f);
	facts_uptime(x->host, x->f);
	facts_blockdevices(x->host, x->f);
	facts_dmi(x->host, x->f);
	assert_int_equal(json_object_size(x->f), 0);
}

/* x86: 2 sockets x 2 cores x 2 threads; "processor" blocks as the kernel prints them. */
static void cpuinfo_x86_counts_threads_cores_and_sockets(void **state)
{
	struct fx *x = *state;
	struct buf b;

	buf_init(&b, 0);
	for (int p = 0; p < 8; p++)
		buf_printf(&b,
			   "processor\t: %d\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n"
			   "model\t\t: 85\nmodel name\t: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz\n"
			   "physical id\t: %d\nsiblings\t: 4\ncore id\t\t: %d\ncpu cores\t: 2\n"
			   "flags\t\t: fpu vme de\n\n",
			   p, p / 4, (p / 2) % 2);
	fx_put(x, "proc/cpuinfo", buf_str(&b));
	buf_free(&b);
	facts_cpu(x->host, x->f);
	fx_assert_str(x->f, "cpu.model", "Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz");
	fx_assert_str(x->f, "cpu.vendor", "GenuineIntel");
	fx_assert_int(x->f, "cpu.count", 8);
	fx_assert_int(x->f, "cpu.cores", 4);
	fx_assert_int(x->f, "cpu.sockets", 2);
}

/* arm64: no model name and no topology in cpuinfo; sysfs has it. */
static void cpuinfo_without_topology_uses_sysfs(void **state)
{
	struct fx *x = *state;
	char rel[128];

	fx_put(x, "proc/cpuinfo",
	       "processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n\n"
	       "processor\t: 1\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n\n"
	       "processor\t: 2\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n\n");
	for (int c = 0; c < 3; c++) {
		snprintf(rel, sizeof(rel),
			 "sys/devices/system/cpu/cpu%d/topology/physical_package_id", c);
		fx_put(x, rel, "0\n");
		snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/topology/core_id", c);
		fx_put(x, rel, c == 2 ? "1\n" : "0\n");
	}
	/* not a CPU directory */
	fx_put(x, "sys/devices/system/cpu/cpufreq/topology/core_id", "7\n");
	facts_cpu(x->host, x->f);
	fx_assert_absent(x->f, "cpu.model");
	fx_assert_int(x->f, "cpu.count", 3);
	fx_assert_int(x->f, "cpu.cores", 2);
	fx_assert_int(x->f, "cpu.sockets", 1);
}

static void cpuinfo_old_arm_processor_line_is_the_model(void **state)
{
	struct fx *x = *state;

	fx_put(x, "proc/cpuinfo",
	       "Processor\t: ARMv7 Processor rev 10 (v7l)\nprocessor\t: 0\nBogoMIPS\t: 1.0\n");
	facts_cpu(x->host, x->f);
	fx_assert_str(x->f, "cpu.model", "ARMv7 Processor rev 10 (v7l)");
	fx_assert_int(x->f, "cpu.count", 1);
}

static void block_device(struct fx *x, const char *name, const char *size)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "sys/block/%s/size", name);
	fx_put(x, rel, size);
}

static void blockdevices_from_sysfs_and_udev(void **state)
{
	struct fx *x = *state;

	/* SATA disk: model/vendor padded by the kernel, serial only in udev */
	block_device(x, "sda", "976773168\n");
	fx_put(x, "sys/block/sda/dev", "8:0\n");
	fx_put(x, "sys/block/sda/device/model", "Samsung SSD 860 \n");
	fx_put(x, "sys/block/sda/device/vendor", "ATA     \n");
	fx_put(x, "sys/block/sda/queue/rotational", "0\n");
	fx_put(x, "sys/block/sda/removable", "0\n");
	fx_put(x, "run/udev/data/b8:0",
	       "S:disk/by-id/x\nE:ID_MODEL=ignored\nE:ID_SERIAL_SHORT=S3Z9NB0K123456X\n");
	fx_put(x, "sys/block/sda/sda1/partition", "1\n");
	fx_put(x, "sys/block/sda/sda1/size", "2048\n");
	fx_put(x, "sys/block/sda/sda2/partition", "2\n");
	fx_put(x, "sys/block/sda/sda2/size", "974673920\n");
	fx_mkdirs(x, "sys/block/sda/holders");
	/* NVMe: serial in device/serial */
	block_device(x, "nvme0n1", "1000215216\n");
	fx_put(x, "sys/block/nvme0n1/device/model", "WDC WDS100T2B0C\n");
	fx_put(x, "sys/block/nvme0n1/device/serial", "  20042Y800123  \n");
	fx_put(x, "sys/block/nvme0n1/queue/rotational", "0\n");
	/* virtio: serial next to size; rotational spinning HDD flag */
	block_device(x, "vda", "41943040\n");
	fx_put(x, "sys/block/vda/serial", "disk-1\n");
	fx_put(x, "sys/block/vda/queue/rotational", "1\n");
	fx_put(x, "sys/block/vda/removable", "1\n");
	/* skipped: empty loop and ram devices; kept: a used loop device, an empty CD drive */
	block_device(x, "loop0", "0\n");
	block_device(x, "ram0", "0\n");
	block_device(x, "loop1", "2048\n");
	block_device(x, "sr0", "0\n");
	/* no size: not a device we can describe */
	fx_mkdirs(x, "sys/block/weird");

	facts_blockdevices(x->host, x->f);
	fx_assert_int(x->f, "blockdevices.sda.size", 976773168LL * 512);
	fx_assert_str(x->f, "blockdevices.sda.model", "Samsung SSD 860");
	fx_assert_str(x->f, "blockdevices.sda.vendor", "ATA");
	fx_assert_str(x->f, "blockdevices.sda.serial", "S3Z9NB0K123456X");
	assert_true(json_is_false(fx_get(x->f, "blockdevices.sda.rotational")));
	assert_true(json_is_false(fx_get(x->f, "blockdevices.sda.removable")));
	fx_assert_int(x->f, "blockdevices.sda.partitions.sda1.size", 2048 * 512);
	fx_assert_int(x->f, "blockdevices.sda.partitions.sda2.size", 974673920LL * 512);
	assert_int_equal(json_object_size(fx_get(x->f, "blockdevices.sda.partitions")), 2);
	fx_assert_str(x->f, "blockdevices.nvme0n1.serial", "20042Y800123");
	fx_assert_str(x->f, "blockdevices.nvme0n1.model", "WDC WDS100T2B0C");
	fx_assert_absent(x->f, "blockdevices.nvme0n1.partitions");
	fx_assert_str(x->f, "blockdevices.vda.serial", "disk-1");
	assert_true(json_is_true(fx_get(x->f, "blockdevices.vda.rotational")));
	assert_true(json_is_true(fx_get(x->f, "blockdevices.vda.removable")));
	fx_assert_absent(x->f, "blockdevices.loop0");
	fx_assert_absent(x->f, "blockdevices.ram0");
	fx_assert_int(x->f, "blockdevices.loop1.size", 2048 * 512);
	fx_assert_int(x->f, "blockdevices.sr0.size", 0);
	fx_assert_absent(x->f, "blockdevices.weird");
	assert_int_equal(json_object_size(fx_get(x->f, "blockdevices")), 5);
}

static void dmi_keeps_readable_non_empty_attributes(void **state)
{
	struct fx *x = *state;
	char p[PATH_MAX * 2];

	fx_put(x, "sys/class/dmi/id/sys_vendor", "Dell Inc.\n");
	fx_put(x, "sys/class/dmi/id/product_name", "PowerEdge R640\n");
	fx_put(x, "sys/class/dmi/id/product_serial", "ABC1234\n");
	fx_put(x, "sys/class/dmi/id/product_uuid", "4c4c4544-0042-3010-8035-b3c04f4b3232\n");
	fx_put(x, "sys/class/dmi/id/bios_vendor", "Dell Inc.\n");
	fx_put(x, "sys/class/dmi/id/bios_version", "2.11.2\n");
	fx_put(x, "sys/class/dmi/id/bios_date", "03/29/2021\n");
	fx_put(x, "sys/class/dmi/id/board_name", "   \n");
	/* a Latin-1 byte is not valid JSON text: replaced, not dropped */
	fx_put(x, "sys/class/dmi/id/chassis_vendor", "Caf\xe9 Ltd\n");
	/* not a regular file: never read (a FIFO would block) */
	snprintf(p, sizeof(p), "%s/sys/class/dmi/id/product_version", x->dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	facts_dmi(x->host, x->f);
	fx_assert_str(x->f, "dmi.sys_vendor", "Dell Inc.");
	fx_assert_str(x->f, "dmi.product_name", "PowerEdge R640");
	fx_assert_str(x->f, "dmi.product_serial", "ABC1234");
	fx_assert_str(x->f, "dmi.product_uuid", "4c4c4544-0042-3010-8035-b3c04f4b3232");
	fx_assert_str(x->f, "dmi.bios_vendor", "Dell Inc.");
	fx_assert_str(x->f, "dmi.bios_version", "2.11.2");
	fx_assert_str(x->f, "dmi.bios_date", "03/29/2021");
	fx_assert_str(x->f, "dmi.chassis_vendor", "Caf? Ltd");
	fx_assert_absent(x->f, "dmi.board_name");
	fx_assert_absent(x->f, "dmi.product_version");
}

static void uptime_in_whole_seconds(void **state)
{
	struct fx *x = *state;

	fx_put(x, "proc/uptime", "273601.97 540000.12\n");
	facts_uptime(x->host, x->f);
	fx_assert_int(x->f, "uptime.seconds", 273601);
	fx_assert_int(x->f, "uptime.hours", 76);
	fx_assert_int(x->f, "uptime.days", 3);
}

static void uptime_garbage_is_left_out(void **state)
{
	struct fx *x = *state;

	fx_put(x, "proc/uptime", "-5 1\n");
	facts_uptime(x->host, x->f);
	fx_put(x, "proc/uptime", "nan 1\n");
	facts_uptime(x->host, x->f);
	fx_assert_absent(x->f, "uptime");
}

#define HV_CPUINFO \
	"processor\t: 0\nflags\t\t: fpu vme hypervisor lahf_lm\n\nprocessor\t: 1\nflags\t\t: fpu\n"
#define METAL_CPUINFO "processor\t: 0\nflags\t\t: fpu vme lahf_lm\n"

static void virtual_bare_metal_is_none(void **state)
{
	struct fx *x = *state;

	fx_put(x, "proc/cpuinfo", METAL_CPUINFO);
	fx_put(x, "sys/class/dmi/id/sys_vendor", "Microsoft Corporation\n");
	fx_put(x, "sys/class/dmi/id/product_name", "Surface Laptop 4\n");
	facts_virtual(x->host, false, x->f);
	fx_assert_str(x->f, "virtual", "none");
	assert_true(json_is_false(json_object_get(x->f, "is_virtual")));
	fx_assert_absent(x->f, "hypervisor");
	fx_assert_absent(x->f, "container");
}

static void virtual_qemu_from_dmi(void **state)
{
	struct fx *x = *state;

	fx_put(x, "proc/cpuinfo", HV_CPUINFO);
	fx_put(x, "sys/class/dmi/id/sys_vendor", "QEMU\n");
	fx_put(x, "sys/class/dmi/id/product_name", "Standard PC (Q35 + ICH9, 2009)\n");
	facts_virtual(x->host, false, x->f);
	fx_assert_str(x->f, "virtual", "qemu");
	fx_assert_str(x->f, "hypervisor", "qemu");
	assert_true(json_is_true(json_object_get(x->f, "is_virtual")));
}

static void virtual_weak_vendor_needs_the_hypervisor_flag(void **state)
{
	struct fx *x = *state;

	fx_put(x, "proc/cpuinfo", HV_CPUINFO);
	fx_put(x, "sys/class/dmi/id/sys_vendor", "Microsoft Corporation\n");
	fx_put(x, "sys/class/dmi/id/product_name", "Virtual Machine\n");
	facts_virtual(x->host, false, x->f);
	fx_assert_str(x->f, "virtual", "microsoft");
}

static void virtual_kvm_product_name_wins_over_vendor(void **state)
{
	struct fx *x = *state;

	/* Proxmox/libvirt: sys_vendor QEMU, product_name may say KVM */
	fx_put(x, "sys/class/dmi/id/product_name", "KVM\n");
	fx_put(x, "sys/class/dmi/id/sys_vendor", "QEMU\n");
	facts_virtual(x->host, false, x->f);
	fx_assert_str(x->f, "virtual", "kvm");
}

static void virtual_flag_without_known_vendor_is_unknown(void **state)
{
	struct fx *x = *state;

	fx_put(x, "proc/cpuinfo", HV_CPUINFO);
	facts_virtual(x->host, false, x->f);
	fx_assert_str(x->f, "virtual", "unknown");
	assert_true(json_is_true(json_object_get(x->f, "is_virtual")));
}

static void virtual_docker_container_on_kvm(void **state)
{
	struct fx *x = *state;

	fx_put(x, "proc/cpuinfo", HV_CPUINFO);
	fx_put(x, "sys/class/dmi/id/sys_vendor", "KVM\n");
	fx_put(x, ".dockerenv", "");
	facts_virtual(x->host, false, x->f);
	fx_assert_str(x->f, "virtual", "docker");
	fx_assert_str(x->f, "container", "docker");
	fx_assert_str(x->f, "hypervisor", "kvm");
}

static void virtual_systemd_container_file_and_pid1_environ(void **state)
{
	struct fx *x = *state;
	static const char env[] = "PATH=/bin\0container=podman\0HOME=/\0";

	fx_write(x, "proc/1/environ", env, sizeof(env) - 1, 0600);
	facts_virtual(x->host, false, x->f);
	fx_assert_str(x->f, "virtual", "podman");
	/* run/systemd/container is asked first */
	fx_put(x, "run/systemd/container", "LXC\n");
	facts_virtual(x->host, false, x->f);
	fx_assert_str(x->f, "virtual", "lxc");
	/* junk is not a name */
	fx_put(x, "run/systemd/container", "a b\n");
	fx_write(x, "proc/1/environ", "container=", 10, 0600);
	facts_virtual(x->host, false, x->f);
	fx_assert_str(x->f, "virtual", "none");
}

static void human_sizes(void **state)
{
	char s[32];

	(void)state;
	facts_human(0, s, sizeof(s));
	assert_string_equal(s, "0 B");
	facts_human(1023, s, sizeof(s));
	assert_string_equal(s, "1023 B");
	facts_human(1024, s, sizeof(s));
	assert_string_equal(s, "1.0 KiB");
	facts_human(1536ULL << 20, s, sizeof(s));
	assert_string_equal(s, "1.5 GiB");
	/* 1023.99 MiB must not print as "1024.0 MiB" */
	facts_human((1ULL << 30) - 1, s, sizeof(s));
	assert_string_equal(s, "1.0 GiB");
	facts_human(UINT64_MAX, s, sizeof(s));
	assert_string_equal(s, "16.0 EiB");
}

static void reads_are_bounded_and_of_regular_files_only(void **state)
{
	struct fx *x = *state;
	char p[PATH_MAX * 2], v[8];
	struct buf b;

	fx_put(x, "big", "0123456789");
	assert_int_equal(facts_read_at(x->host, "big", 10, &b), 0);
	assert_int_equal(b.len, 10);
	buf_free(&b);
	assert_int_equal(facts_read_at(x->host, "big", 9, &b), -EFBIG);
	assert_null(b.data);
	assert_int_equal(facts_read_at(x->host, "missing", 9, &b), -ENOENT);
	snprintf(p, sizeof(p), "%s/fifo", x->dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	/* would block forever if opened for a blocking read */
	assert_int_equal(facts_read_at(x->host, "fifo", 100, &b), -EINVAL);
	assert_int_equal(facts_attr_at(x->host, "fifo", v, sizeof(v)), -EINVAL);
	/* an attribute longer than the buffer is cut, not overrun */
	assert_int_equal(facts_attr_at(x->host, "big", v, sizeof(v)), 7);
	assert_string_equal(v, "0123456");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(meminfo_is_in_bytes_with_human_sizes),
		T(meminfo_ignores_malformed_lines),
		T(missing_proc_files_leave_facts_out),
		T(cpuinfo_x86_counts_threads_cores_and_sockets),
		T(cpuinfo_without_topology_uses_sysfs),
		T(cpuinfo_old_arm_processor_line_is_the_model),
		T(blockdevices_from_sysfs_and_udev),
		T(dmi_keeps_readable_non_empty_attributes),
		T(uptime_in_whole_seconds),
		T(uptime_garbage_is_left_out),
		T(virtual_bare_metal_is_none),
		T(virtual_qemu_from_dmi),
		T(virtual_weak_vendor_needs_the_hypervisor_flag),
		T(virtual_kvm_product_name_wins_over_vendor),
		T(virtual_flag_without_known_vendor_is_unknown),
		T(virtual_docker_container_on_kvm),
		T(virtual_systemd_container_file_and_pid1_environ),
		T(human_sizes),
		T(reads_are_bounded_and_of_regular_files_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
