/*
 * facts_hw.c - hardware facts of the running machine: CPU, memory and
 * swap, block devices, DMI, uptime.
 *
 * All of it is read from proc/ and sys/ beneath the host directory fd, so
 * unit tests feed these parsers fixture trees.  These facts describe the
 * machine tend runs on whatever --root says: a root directory has no CPU.
 */
#include "facts/facts_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/strutil.h"

/* Distinct topology ids worth counting; more are not told apart. */
#define CPU_IDS_MAX 16384

struct cpu_topo {
	long long pkg, core;
};

static int topo_cmp(const void *a, const void *b)
{
	const struct cpu_topo *x = a, *y = b;

	if (x->pkg != y->pkg)
		return x->pkg < y->pkg ? -1 : 1;
	return x->core < y->core ? -1 : x->core > y->core;
}

/* topo_count - distinct (pkg, core) pairs, and distinct pkgs; sorts t. */
static void topo_count(struct cpu_topo *t, size_t n, long long *cores, long long *sockets)
{
	long long c = 0, s = 0;

	qsort(t, n, sizeof(*t), topo_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || t[i].pkg != t[i - 1].pkg) {
			s++;
			c++;
		} else if (t[i].core != t[i - 1].core) {
			c++;
		}
	}
	*cores = c;
	*sockets = s;
}

/* cpu_sysfs_topo - topology from sys/devices/system/cpu/cpuN/topology, for
 * cpuinfo formats (arm64) that carry none. */
static size_t cpu_sysfs_topo(int host, struct cpu_topo *t, size_t max)
{
	int dfd = openat(host, "sys/devices/system/cpu", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	struct dirent *e;
	size_t n = 0;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return 0;
	}
	while (n < max && (e = readdir(d))) {
		char rel[300], v[64];
		long long pkg, core;

		if (strncmp(e->d_name, "cpu", 3) || !e->d_name[3] ||
		    strspn(e->d_name + 3, "0123456789") != strlen(e->d_name + 3))
			continue;
		snprintf(rel, sizeof(rel), "%s/topology/physical_package_id", e->d_name);
		if (facts_attr_at(dirfd(d), rel, v, sizeof(v)) <= 0 ||
		    str_to_ll(v, 10, -1, 1LL << 40, &pkg) < 0)
			continue;
		snprintf(rel, sizeof(rel), "%s/topology/core_id", e->d_name);
		if (facts_attr_at(dirfd(d), rel, v, sizeof(v)) <= 0 ||
		    str_to_ll(v, 10, -1, 1LL << 40, &core) < 0)
			continue;
		t[n].pkg = pkg;
		t[n].core = core;
		n++;
	}
	closedir(d);
	return n;
}

void facts_cpu(int host, json_t *f)
{
	static const char *const model_keys[] = { "model name", "Processor", "cpu model", "cpu",
						  "uarch" };
	struct cpu_topo *t;
	struct buf b;
	char *cur, *line, *model = NULL, *vendor = NULL;
	size_t model_rank = sizeof(model_keys) / sizeof(model_keys[0]), nt = 0;
	long long count = 0, pkg = -1, core = -1, cores, sockets;
	json_t *cpu;

	if (facts_read_at(host, "proc/cpuinfo", FACTS_BIG_FILE_MAX, &b) < 0)
		return;
	t = xcalloc(CPU_IDS_MAX, sizeof(*t));
	cur = b.data;
	while ((line = facts_next_line(&cur))) {
		char *colon = strchr(line, ':'), *key, *val;
		long long v;

		if (!colon)
			continue;
		*colon = '\0';
		key = facts_trim(line);
		val = facts_trim(colon + 1);
		if (!strcmp(key, "processor")) {
			count++;
			pkg = core = -1;
		} else if (!strcmp(key, "vendor_id") && !vendor) {
			vendor = val;
		} else if (!strcmp(key, "physical id") &&
			   str_to_ll(val, 10, 0, 1LL << 40, &v) == 0) {
			pkg = v;
		} else if (!strcmp(key, "core id") && str_to_ll(val, 10, 0, 1LL << 40, &v) == 0) {
			core = v;
		}
		for (size_t i = 0; i < model_rank; i++) {
			if (!strcmp(key, model_keys[i]) && *val) {
				model = val;
				model_rank = i;
				break;
			}
		}
		/* a processor's block lists physical id before core id */
		if (pkg >= 0 && core >= 0 && nt < CPU_IDS_MAX) {
			t[nt].pkg = pkg;
			t[nt].core = core;
			nt++;
			pkg = core = -1;
		}
	}
	cpu = facts_group(f, "cpu");
	facts_set_str(cpu, "model", model);
	facts_set_str(cpu, "vendor", vendor);
	if (count > 0)
		json_object_set_new(cpu, "count", json_integer(count));
	if (nt == 0)
		nt = cpu_sysfs_topo(host, t, CPU_IDS_MAX);
	if (nt > 0) {
		topo_count(t, nt, &cores, &sockets);
		json_object_set_new(cpu, "cores", json_integer(cores));
		json_object_set_new(cpu, "sockets", json_integer(sockets));
	}
	free(t);
	buf_free(&b);
}

/* set_bytes - g[key] = bytes, and g[key_h] = "1.5 GiB" when key_h. */
static void set_bytes(json_t *g, const char *key, long long bytes, const char *key_h)
{
	char h[32];

	json_object_set_new(g, key, json_integer(bytes));
	if (key_h) {
		facts_human((uint64_t)bytes, h, sizeof(h));
		json_object_set_new(g, key_h, json_string(h));
	}
}

void facts_memory(int host, json_t *f)
{
	static const struct {
		const char *key, *group, *name, *name_h;
	} map[] = {
		{ "MemTotal", "memory", "total", "total_h" },
		{ "MemAvailable", "memory", "available", "available_h" },
		{ "MemFree", "memory", "free", NULL },
		{ "SwapTotal", "swap", "total", "total_h" },
		{ "SwapFree", "swap", "free", NULL },
	};
	struct buf b;
	char *cur, *line;

	if (facts_read_at(host, "proc/meminfo", FACTS_FILE_MAX, &b) < 0)
		return;
	cur = b.data;
	while ((line = facts_next_line(&cur))) {
		char *colon = strchr(line, ':'), *val, *unit;
		long long kib;

		if (!colon)
			continue;
		*colon = '\0';
		val = facts_trim(colon + 1);
		unit = val + strspn(val, "0123456789");
		/* every line we want is "N kB"; no kernel prints another unit */
		if (strcmp(facts_trim(unit), "kB"))
			continue;
		*unit = '\0';
		if (str_to_ll(val, 10, 0, (1LL << 53), &kib) < 0)
			continue;
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (!strcmp(line, map[i].key))
				set_bytes(facts_group(f, map[i].group), map[i].name, kib * 1024,
					  map[i].name_h);
	}
	buf_free(&b);
}

/* udev_prop - KEY's value in the udev database entry of device MAJ:MIN
 * (run/udev/data/bMAJ:MIN, lines "E:KEY=value"). */
static bool udev_prop(int host, const char *dev, const char *key, char *out, size_t n)
{
	char rel[128];
	struct buf b;
	char *cur, *line;
	size_t kl = strlen(key);
	bool found = false;

	snprintf(rel, sizeof(rel), "run/udev/data/b%s", dev);
	if (!*dev || facts_read_at(host, rel, FACTS_FILE_MAX, &b) < 0)
		return false;
	cur = b.data;
	while ((line = facts_next_line(&cur))) {
		if (!strncmp(line, "E:", 2) && !strncmp(line + 2, key, kl) && line[2 + kl] == '=') {
			snprintf(out, n, "%s", facts_trim(line + 3 + kl));
			found = *out != '\0';
			break;
		}
	}
	buf_free(&b);
	return found;
}

/* sectors - a sysfs "size" attribute (512-byte sectors) in bytes, or -1. */
static long long sectors(int dfd, const char *rel)
{
	char v[64];
	long long s;

	if (facts_attr_at(dfd, rel, v, sizeof(v)) <= 0 || str_to_ll(v, 10, 0, (1LL << 54), &s) < 0)
		return -1;
	return s * 512;
}

/* block_attr - the first readable, non-empty of the attributes rels. */
static bool block_attr(int dfd, const char *name, const char *const *rels, char *out, size_t n)
{
	char rel[512];

	for (; *rels; rels++) {
		snprintf(rel, sizeof(rel), "%s/%s", name, *rels);
		if (facts_attr_at(dfd, rel, out, n) > 0)
			return true;
	}
	return false;
}

static void block_partitions(int dfd, const char *name, json_t *dev)
{
	int pfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = pfd < 0 ? NULL : fdopendir(pfd);
	json_t *parts = NULL;
	struct dirent *e;

	if (!d) {
		if (pfd >= 0)
			close(pfd);
		return;
	}
	while ((e = readdir(d))) {
		char rel[300];
		long long size;

		/* a partition is a subdirectory with a "partition" attribute */
		snprintf(rel, sizeof(rel), "%s/partition", e->d_name);
		if (e->d_name[0] == '.' || faccessat(dirfd(d), rel, F_OK, 0) < 0)
			continue;
		snprintf(rel, sizeof(rel), "%s/size", e->d_name);
		if ((size = sectors(dirfd(d), rel)) < 0)
			continue;
		if (!parts)
			parts = json_object();
		json_object_set_new(parts, e->d_name, json_pack("{sI}", "size", (json_int_t)size));
	}
	closedir(d);
	if (parts)
		json_object_set_new(dev, "partitions", parts);
}

static void block_device(int dfd, int host, const char *name, json_t *all)
{
	static const char *const model_rels[] = { "device/model", "device/name", NULL };
	static const char *const vendor_rels[] = { "device/vendor", NULL };
	static const char *const serial_rels[] = { "device/serial", "serial", "device/wwid", NULL };
	char rel[300], v[FACTS_ATTR_MAX], dev[64] = "";
	long long size;
	json_t *d;

	snprintf(rel, sizeof(rel), "%s/size", name);
	size = sectors(dfd, rel);
	if (size < 0)
		return;
	if (size == 0 &&
	    (!strncmp(name, "loop", 4) || !strncmp(name, "ram", 3) || !strncmp(name, "zram", 4)))
		return;
	d = json_object();
	json_object_set_new(d, "size", json_integer(size));
	snprintf(rel, sizeof(rel), "%s/dev", name);
	if (facts_attr_at(dfd, rel, dev, sizeof(dev)) <= 0 ||
	    strspn(dev, "0123456789:") != strlen(dev))
		dev[0] = '\0';
	if (block_attr(dfd, name, model_rels, v, sizeof(v)) ||
	    udev_prop(host, dev, "ID_MODEL", v, sizeof(v)))
		facts_set_str(d, "model", v);
	if (block_attr(dfd, name, vendor_rels, v, sizeof(v)) ||
	    udev_prop(host, dev, "ID_VENDOR", v, sizeof(v)))
		facts_set_str(d, "vendor", v);
	if (block_attr(dfd, name, serial_rels, v, sizeof(v)) ||
	    udev_prop(host, dev, "ID_SERIAL_SHORT", v, sizeof(v)))
		facts_set_str(d, "serial", v);
	snprintf(rel, sizeof(rel), "%s/queue/rotational", name);
	if (facts_attr_at(dfd, rel, v, sizeof(v)) > 0)
		json_object_set_new(d, "rotational", json_boolean(!strcmp(v, "1")));
	snprintf(rel, sizeof(rel), "%s/removable", name);
	if (facts_attr_at(dfd, rel, v, sizeof(v)) > 0)
		json_object_set_new(d, "removable", json_boolean(!strcmp(v, "1")));
	block_partitions(dfd, name, d);
	json_object_set_new(all, name, d);
}

void facts_blockdevices(int host, json_t *f)
{
	int dfd = openat(host, "sys/block", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	json_t *all;
	struct dirent *e;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	all = facts_group(f, "blockdevices");
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			block_device(dirfd(d), host, e->d_name, all);
	closedir(d);
}

void facts_dmi(int host, json_t *f)
{
	static const char *const attrs[] = {
		"sys_vendor",	  "product_name", "product_version", "product_family",
		"product_serial", "product_uuid", "product_sku",     "board_vendor",
		"board_name",	  "board_serial", "chassis_vendor",  "chassis_type",
		"chassis_serial", "bios_vendor",  "bios_version",    "bios_date",
	};
	int dfd = openat(host, "sys/class/dmi/id", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	json_t *dmi = NULL;
	char v[FACTS_ATTR_MAX];

	if (dfd < 0)
		return;
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		/* serials and the UUID are 0400 root: readable or left out */
		if (facts_attr_at(dfd, attrs[i], v, sizeof(v)) <= 0)
			continue;
		if (!dmi)
			dmi = facts_group(f, "dmi");
		facts_set_str(dmi, attrs[i], v);
	}
	close(dfd);
}

void facts_uptime(int host, json_t *f)
{
	char v[256], *end;
	double s;
	long long secs;
	json_t *u;

	if (facts_attr_at(host, "proc/uptime", v, sizeof(v)) <= 0)
		return;
	errno = 0;
	s = strtod(v, &end);
	if (errno || end == v || !(s >= 0 && s < 1e15))
		return;
	secs = (long long)s;
	u = facts_group(f, "uptime");
	json_object_set_new(u, "seconds", json_integer(secs));
	json_object_set_new(u, "hours", json_integer(secs / 3600));
	json_object_set_new(u, "days", json_integer(secs / 86400));
}
