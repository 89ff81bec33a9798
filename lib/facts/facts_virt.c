/*
 * facts_virt.c - is the running machine a container, a virtual machine, or
 * bare metal?  The same evidence systemd-detect-virt weighs, read from files
 * (and the CPUID instruction) instead of forking it.
 *
 * A container is reported before the hypervisor under it (a Docker
 * container on a KVM guest is "docker"), as the thing a template most
 * likely cares about; both are kept in their own facts.  Names follow
 * systemd-detect-virt: kvm, qemu, vmware, microsoft, xen, oracle, amazon,
 * docker, podman, lxc, systemd-nspawn, wsl, openvz, ...
 */
#include "facts/facts_int.h"

#include <ctype.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/* lower - a container name as systemd writes it, lowercased and checked. */
static bool lower_name(char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (char *c = s; *c; c++) {
		if (!isalnum((unsigned char)*c) && !strchr("-_.", *c))
			return false;
		*c = (char)tolower((unsigned char)*c);
	}
	return true;
}

/* environ_container - container= in the environment of PID 1 (NUL-separated). */
static bool environ_container(int host, char *out, size_t n)
{
	struct buf b;
	bool found = false;

	if (facts_read_at(host, "proc/1/environ", 65536, &b) < 0)
		return false;
	for (size_t i = 0; i < b.len; i += strlen(b.data + i) + 1) {
		if (!strncmp(b.data + i, "container=", 10)) {
			snprintf(out, n, "%s", b.data + i + 10);
			found = lower_name(out);
			break;
		}
	}
	buf_free(&b);
	return found;
}

static bool detect_container(int host, char *out, size_t n)
{
	char v[64];

	/* systemd and most runtimes say it outright */
	if (facts_attr_at(host, "run/systemd/container", v, sizeof(v)) > 0 && lower_name(v)) {
		snprintf(out, n, "%s", v);
		return true;
	}
	if (environ_container(host, out, n))
		return true;
	if (faccessat(host, ".dockerenv", F_OK, 0) == 0) {
		snprintf(out, n, "docker");
		return true;
	}
	if (faccessat(host, "run/.containerenv", F_OK, 0) == 0) {
		snprintf(out, n, "podman");
		return true;
	}
	if (facts_attr_at(host, "proc/sys/kernel/osrelease", v, sizeof(v)) > 0 &&
	    (strstr(v, "Microsoft") || strstr(v, "microsoft"))) {
		snprintf(out, n, "wsl");
		return true;
	}
	if (faccessat(host, "proc/vz", F_OK, 0) == 0 && faccessat(host, "proc/bc", F_OK, 0) < 0) {
		snprintf(out, n, "openvz");
		return true;
	}
	return false;
}

/* cpu_hypervisor_flag - whether proc/cpuinfo's flags include "hypervisor"
 * (set by every x86 hypervisor for its guests). */
static bool cpu_hypervisor_flag(int host)
{
	struct buf b;
	char *cur, *line;
	bool found = false;

	if (facts_read_at(host, "proc/cpuinfo", FACTS_BIG_FILE_MAX, &b) < 0)
		return false;
	cur = b.data;
	while ((line = facts_next_line(&cur))) {
		char *save = NULL, *w;

		if (strncmp(line, "flags", 5))
			continue;
		/* the first CPU's flags are enough */
		for (w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
			if (!strcmp(w, "hypervisor"))
				found = true;
		break;
	}
	buf_free(&b);
	return found;
}

/*
 * dmi_vm - a hypervisor named in DMI.  strong: vendors that only ship
 * virtual hardware; the others (Microsoft, Amazon, Google) also sell
 * physical machines, so they count only with the CPU's hypervisor flag.
 */
static const char *dmi_vm(int host, bool flagged)
{
	static const struct {
		const char *text, *name;
		bool strong;
	} table[] = {
		{ "KVM", "kvm", true },
		{ "OpenStack", "kvm", true },
		{ "QEMU", "qemu", true },
		{ "VMware", "vmware", true },
		{ "VMW", "vmware", true },
		{ "innotek GmbH", "oracle", true },
		{ "VirtualBox", "oracle", true },
		{ "Xen", "xen", true },
		{ "Bochs", "bochs", true },
		{ "Parallels", "parallels", true },
		{ "BHYVE", "bhyve", true },
		{ "Hyper-V", "microsoft", true },
		{ "Microsoft Corporation", "microsoft", false },
		{ "Amazon EC2", "amazon", false },
		{ "Google", "google", false },
	};
	static const char *const attrs[] = {
		"sys/class/dmi/id/product_name",    "sys/class/dmi/id/sys_vendor",
		"sys/class/dmi/id/board_vendor",    "sys/class/dmi/id/bios_vendor",
		"sys/class/dmi/id/product_version",
	};
	char v[FACTS_ATTR_MAX];

	for (size_t a = 0; a < sizeof(attrs) / sizeof(attrs[0]); a++) {
		if (facts_attr_at(host, attrs[a], v, sizeof(v)) <= 0)
			continue;
		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
			if (!strncmp(v, table[i].text, strlen(table[i].text)) &&
			    (table[i].strong || flagged))
				return table[i].name;
	}
	return NULL;
}

/* cpuid_vm - the hypervisor's CPUID signature (leaf 0x40000000). */
static const char *cpuid_vm(void)
{
#if defined(__x86_64__) || defined(__i386__)
	static const struct {
		const char *sig, *name;
	} table[] = {
		{ "KVMKVMKVM", "kvm" },		 { "Linux KVM Hv", "kvm" },
		{ "TCGTCGTCGTCG", "qemu" },	 { "VMwareVMware", "vmware" },
		{ "Microsoft Hv", "microsoft" }, { "XenVMMXenVMM", "xen" },
		{ "bhyve bhyve ", "bhyve" },	 { "ACRNACRNACRN", "acrn" },
		{ "QNXQVMBSQG", "qnx" },	 { "VBoxVBoxVBox", "oracle" },
		{ "Apple VZ", "apple" },
	};
	unsigned a, b, c, d;
	char sig[13];

	__cpuid(1, a, b, c, d);
	if (!(c & (1u << 31)))
		return NULL;
	__cpuid(0x40000000, a, b, c, d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = '\0';
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strncmp(sig, table[i].sig, strlen(table[i].sig)))
			return table[i].name;
#endif
	return NULL;
}

static const char *detect_vm(int host, bool use_cpuid)
{
	bool flagged = cpu_hypervisor_flag(host);
	const char *vm = dmi_vm(host, flagged);
	char v[64];

	if (vm)
		return vm;
	if (facts_attr_at(host, "sys/hypervisor/type", v, sizeof(v)) > 0 && !strcmp(v, "xen"))
		return "xen";
	if (use_cpuid && (vm = cpuid_vm()))
		return vm;
	return flagged ? "unknown" : NULL;
}

void facts_virtual(int host, bool use_cpuid, json_t *f)
{
	char container[128];
	const char *vm = detect_vm(host, use_cpuid);
	bool in_container = detect_container(host, container, sizeof(container));

	if (in_container)
		json_object_set_new(f, "container", json_string(container));
	if (vm)
		json_object_set_new(f, "hypervisor", json_string(vm));
	json_object_set_new(f, "virtual", json_string(in_container ? container : vm ? vm : "none"));
	json_object_set_new(f, "is_virtual", json_boolean(in_container || vm));
}
