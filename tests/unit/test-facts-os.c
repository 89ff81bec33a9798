/*
 * test-facts-os.c - unit tests for the facts taken from the managed root
 * (facts_os.c): os-release, host/domain names, time zone, package count.
 * The fixture directory is the root; nothing of the host is read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test-facts-fixture.h"

static void os_release_quoting_and_family(void **state)
{
	struct fx *x = *state;

	fx_put(x, "etc/os-release",
	       "# a comment\n"
	       "NAME=\"Rocky Linux\"\n"
	       "VERSION='9.3 (Blue Onyx)'\n"
	       "ID=rocky\n"
	       "ID_LIKE=\"rhel centos fedora\"\n"
	       "VERSION_ID=\"9.3\"\n"
	       "PRETTY_NAME=\"Rocky \\\"Blue\\\" \\$Onyx\"\n"
	       "\n"
	       "garbage without equals\n"
	       "ANSI_COLOR=\"0;32\"\n");
	facts_os_release(&x->root, x->f);
	fx_assert_str(x->f, "os.name", "Rocky Linux");
	fx_assert_str(x->f, "os.version", "9.3 (Blue Onyx)");
	fx_assert_str(x->f, "os.id", "rocky");
	fx_assert_str(x->f, "os.id_like", "rhel centos fedora");
	fx_assert_str(x->f, "os.version_id", "9.3");
	fx_assert_str(x->f, "os.version_major", "9");
	fx_assert_str(x->f, "os.pretty_name", "Rocky \"Blue\" $Onyx");
	fx_assert_str(x->f, "os.family", "redhat");
	fx_assert_absent(x->f, "os.codename");
	fx_assert_absent(x->f, "os.ansi_color");
}

static void os_release_falls_back_to_usr_lib(void **state)
{
	struct fx *x = *state;

	fx_put(x, "usr/lib/os-release",
	       "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\nVERSION_CODENAME=jammy\n");
	facts_os_release(&x->root, x->f);
	fx_assert_str(x->f, "os.id", "ubuntu");
	fx_assert_str(x->f, "os.codename", "jammy");
	fx_assert_str(x->f, "os.version_major", "22");
	fx_assert_str(x->f, "os.family", "debian");
}

static void os_release_family_by_id_like_and_unknown(void **state)
{
	struct fx *x = *state;

	fx_put(x, "etc/os-release", "ID=opensuse-leap\nID_LIKE=\"suse opensuse\"\n");
	facts_os_release(&x->root, x->f);
	fx_assert_str(x->f, "os.family", "suse");
	json_object_clear(x->f);
	fx_put(x, "etc/os-release", "ID=nixos\n");
	facts_os_release(&x->root, x->f);
	fx_assert_str(x->f, "os.family", "unknown");
}

static void os_release_missing_gives_only_the_family(void **state)
{
	struct fx *x = *state;

	facts_os_release(&x->root, x->f);
	fx_assert_str(x->f, "os.family", "unknown");
	assert_int_equal(json_object_size(fx_get(x->f, "os")), 1);
}

static void os_release_symlink_cannot_leave_the_root(void **state)
{
	struct fx *x = *state;

	/* absolute symlink: resolved inside the root, where there is none */
	fx_symlink(x, "/etc/os-release", "etc/os-release-link");
	fx_symlink(x, "/usr/lib/os-release", "etc/os-release");
	fx_put(x, "usr/lib/os-release", "ID=inside\n");
	facts_os_release(&x->root, x->f);
	fx_assert_str(x->f, "os.id", "inside");
}

static void names_from_kernel_nodename_with_a_domain(void **state)
{
	struct fx *x = *state;

	facts_names(&x->root, "web01.example.com", x->f);
	fx_assert_str(x->f, "hostname", "web01");
	fx_assert_str(x->f, "fqdn", "web01.example.com");
	fx_assert_str(x->f, "domain", "example.com");
}

static void names_from_root_hostname_and_hosts(void **state)
{
	struct fx *x = *state;

	fx_put(x, "etc/hostname", "# set by the installer\n  db2  \n");
	fx_put(x, "etc/hosts",
	       "127.0.0.1 localhost\n"
	       "# 10.0.0.1 db2.wrong.example\n"
	       "127.0.1.1 db2.lan.example.org db2 # comment\n");
	fx_put(x, "etc/resolv.conf", "search not.used\n");
	/* a root's own name wins over the kernel's */
	facts_names(&x->root, "buildhost", x->f);
	fx_assert_str(x->f, "hostname", "db2");
	fx_assert_str(x->f, "fqdn", "db2.lan.example.org");
	fx_assert_str(x->f, "domain", "lan.example.org");
}

static void names_complete_from_resolv_conf(void **state)
{
	struct fx *x = *state;

	fx_put(x, "etc/hosts", "127.0.0.1 localhost\n127.0.0.1 db2x.other.org\n");
	fx_put(x, "etc/resolv.conf",
	       "nameserver 1.1.1.1\ndomain first.org\nsearch corp.example lab\n");
	facts_names(&x->root, "db2", x->f);
	fx_assert_str(x->f, "fqdn", "db2.corp.example");
	fx_assert_str(x->f, "domain", "corp.example");
}

static void names_without_any_domain(void **state)
{
	struct fx *x = *state;

	facts_names(&x->root, "solo", x->f);
	fx_assert_str(x->f, "hostname", "solo");
	fx_assert_str(x->f, "fqdn", "solo");
	fx_assert_str(x->f, "domain", "");
}

static void names_junk_hostname_is_empty(void **state)
{
	struct fx *x = *state;

	fx_put(x, "etc/hostname", "$(reboot)\n");
	facts_names(&x->root, NULL, x->f);
	fx_assert_str(x->f, "hostname", "");
	fx_assert_str(x->f, "fqdn", "");
}

static void timezone_from_localtime_symlink(void **state)
{
	struct fx *x = *state;

	fx_symlink(x, "../usr/share/zoneinfo/America/Argentina/Buenos_Aires", "etc/localtime");
	fx_put(x, "etc/timezone", "Etc/UTC\n");
	facts_timezone(&x->root, x->f);
	fx_assert_str(x->f, "timezone", "America/Argentina/Buenos_Aires");
}

static void timezone_posix_prefix_is_dropped(void **state)
{
	struct fx *x = *state;

	fx_symlink(x, "/usr/share/zoneinfo/posix/Europe/Paris", "etc/localtime");
	facts_timezone(&x->root, x->f);
	fx_assert_str(x->f, "timezone", "Europe/Paris");
}

static void timezone_from_etc_timezone_then_sysconfig(void **state)
{
	struct fx *x = *state;

	fx_put(x, "etc/localtime", "TZif2 copied file\n");
	fx_put(x, "etc/timezone", "Europe/Berlin\n");
	facts_timezone(&x->root, x->f);
	fx_assert_str(x->f, "timezone", "Europe/Berlin");
	json_object_clear(x->f);
	fx_put(x, "etc/timezone", "../../etc/shadow\n");
	fx_put(x, "etc/sysconfig/clock", "# RHEL 6\nZONE=\"Asia/Tokyo\"\nUTC=true\n");
	facts_timezone(&x->root, x->f);
	fx_assert_str(x->f, "timezone", "Asia/Tokyo");
}

static void packages_count_installed_dpkg_entries(void **state)
{
	struct fx *x = *state;

	/* first line without a newline before it, last without one after it */
	fx_put(x, "var/lib/dpkg/status",
	       "Status: install ok installed\nPackage: a\n\n"
	       "Package: b\nStatus: deinstall ok config-files\n\n"
	       "Package: c\nStatus: install ok installed\nDescription: Status: install ok installed\n\n"
	       "Package: d\nStatus: install ok half-configured\n\n"
	       "Package: e\nStatus: install ok installed");
	facts_packages(&x->root, x->f);
	fx_assert_int(x->f, "packages.count", 3);
	fx_assert_str(x->f, "packages.format", "dpkg");
}

static void packages_count_across_read_chunks(void **state)
{
	struct fx *x = *state;
	struct buf b;
	int n = 0;

	/* varying entry lengths put the status line across every chunk
	 * boundary offset sooner or later */
	buf_init(&b, 0);
	for (int i = 0; b.len < (3u << 20); i++) {
		buf_printf(&b, "Package: pkg%d\nX-Pad: %.*s\nStatus: install ok installed\n\n", i,
			   i % 97,
			   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		n++;
	}
	fx_put(x, "var/lib/dpkg/status", buf_str(&b));
	buf_free(&b);
	facts_packages(&x->root, x->f);
	fx_assert_int(x->f, "packages.count", n);
}

static void packages_absent_without_a_dpkg_database(void **state)
{
	struct fx *x = *state;

	facts_packages(&x->root, x->f);
	fx_assert_absent(x->f, "packages");
	fx_mkdirs(x, "var/lib/dpkg/status");
	facts_packages(&x->root, x->f);
	fx_assert_absent(x->f, "packages");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(os_release_quoting_and_family),
		T(os_release_falls_back_to_usr_lib),
		T(os_release_family_by_id_like_and_unknown),
		T(os_release_missing_gives_only_the_family),
		T(os_release_symlink_cannot_leave_the_root),
		T(names_from_kernel_nodename_with_a_domain),
		T(names_from_root_hostname_and_hosts),
		T(names_complete_from_resolv_conf),
		T(names_without_any_domain),
		T(names_junk_hostname_is_empty),
		T(timezone_from_localtime_symlink),
		T(timezone_posix_prefix_is_dropped),
		T(timezone_from_etc_timezone_then_sysconfig),
		T(packages_count_installed_dpkg_entries),
		T(packages_count_across_read_chunks),
		T(packages_absent_without_a_dpkg_database),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
