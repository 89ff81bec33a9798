/*
 * test-svc.c - unit tests for the service type's helpers
 * (resources/svc_sysv.h, resources/svc_systemd.h): LSB headers, [Install]
 * sections, unit names and specifiers, and the links that enable a unit
 * or an init script, written and read back beneath a temporary root.
 *
 * The link tests compare against what `systemctl --root` and update-rc.d
 * make for the same input (checked by hand with systemd 252), so the
 * by-hand fallback and the probe agree with the real tools.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resources/svc_systemd.h"
#include "resources/svc_sysv.h"

static struct svc_lsb lsb_of(const char *text)
{
	struct svc_lsb l = { 0xff, 0xff };

	svc_sysv_parse_lsb(text, strlen(text), &l);
	return l;
}

#define LV(s) (lsb_of("### BEGIN INIT INFO\n# Default-Start: " s "\n### END INIT INFO\n").start)

static void lsb_without_header_gives_debian_defaults(void **state)
{
	struct svc_lsb l = lsb_of("#!/bin/sh\n# Default-Start: 1\necho hi\n");

	(void)state;
	assert_int_equal(l.start, 0x3c); /* 2 3 4 5: the field outside a header is not read */
	assert_int_equal(l.stop, 0x43);	 /* 0 1 6 */
}

static void lsb_header_fields_set_runlevels(void **state)
{
	struct svc_lsb l = lsb_of("#!/bin/sh\n### BEGIN INIT INFO\n# Provides: x\n"
				  "#  default-start:\t2 3\r\n# Default-Stop:\n"
				  "### END INIT INFO\n# Default-Stop: 6\n");

	(void)state;
	assert_int_equal(l.start, 0x0c); /* case-insensitive key, tab, CR */
	assert_int_equal(l.stop, 0);	 /* given empty: none; after END: not read */
	assert_int_equal(LV("S"), 0x80);
	assert_int_equal(LV("s 0 6"), 0xc1);
	assert_int_equal(LV("2 34 x 7 5"), 0x24); /* unknown words ignored */
	/* a header without Default-Stop keeps that default */
	assert_int_equal(lsb_of("### BEGIN INIT INFO\n# Default-Start: 3\n").stop, 0x43);
}

static void sysv_names(void **state)
{
	(void)state;
	assert_true(svc_sysv_name_ok("ssh"));
	assert_true(svc_sysv_name_ok("php8.2-fpm"));
	assert_false(svc_sysv_name_ok(""));
	assert_false(svc_sysv_name_ok(".."));
	assert_false(svc_sysv_name_ok("a/b"));
	assert_false(svc_sysv_name_ok("a b"));
}

static void install_section_lists_accumulate_and_reset(void **state)
{
	const char *unit = "[Unit]\nWantedBy=nope.target\n"
			   "[Install]\n"
			   "# WantedBy=comment.target\n"
			   "WantedBy=a.target b.target\n"
			   "RequiredBy = c.target\n"
			   "WantedBy=\n"
			   "WantedBy=d.target \\\n  e.target\n"
			   "Alias=x.service\nAlso=y.socket\nUpheldBy=u.target\n"
			   "DefaultInstance=tty1\n"
			   "[Service]\nAlias=no.service\n";
	struct svc_install in;

	(void)state;
	svc_install_parse(unit, strlen(unit), &in);
	assert_true(in.section);
	assert_int_equal(in.wanted_by.n, 2);
	assert_string_equal(in.wanted_by.v[0], "d.target");
	assert_string_equal(in.wanted_by.v[1], "e.target");
	assert_int_equal(in.required_by.n, 1);
	assert_string_equal(in.required_by.v[0], "c.target");
	assert_int_equal(in.alias.n, 1);
	assert_string_equal(in.alias.v[0], "x.service");
	assert_int_equal(in.also.n, 1);
	assert_int_equal(in.upheld_by.n, 1);
	assert_string_equal(in.default_instance, "tty1");
	svc_install_free(&in);

	svc_install_parse("[Unit]\n[Service]\n", 17, &in);
	assert_false(in.section);
	assert_int_equal(in.wanted_by.n, 0);
	svc_install_free(&in);
}

static void unit_names_get_service_suffix_unless_typed(void **state)
{
	char u[SVC_UNIT_MAX];

	(void)state;
	assert_int_equal(svc_unit_name("ssh", u), 0);
	assert_string_equal(u, "ssh.service");
	assert_int_equal(svc_unit_name("ssh.service", u), 0);
	assert_string_equal(u, "ssh.service");
	assert_int_equal(svc_unit_name("php8.2-fpm", u), 0);
	assert_string_equal(u, "php8.2-fpm.service");
	assert_int_equal(svc_unit_name("ssh.socket", u), 0);
	assert_string_equal(u, "ssh.socket");
	assert_int_equal(svc_unit_name("getty@tty1", u), 0);
	assert_string_equal(u, "getty@tty1.service");
	assert_int_equal(svc_unit_name("", u), -EINVAL);
	assert_int_equal(svc_unit_name("a/b", u), -EINVAL);
	assert_int_equal(svc_unit_name("a b", u), -EINVAL);
	assert_int_equal(svc_unit_name("@x", u), -EINVAL);
	assert_int_equal(svc_unit_name("a@b@c", u), -EINVAL);
}

static void specifiers_expand_like_systemctl(void **state)
{
	char o[64];

	(void)state;
	assert_int_equal(svc_unit_expand("%n|%N|%p|%i|%j|%%", "web-app@blue.service", o, sizeof(o)),
			 0);
	assert_string_equal(o, "web-app@blue.service|web-app@blue|web-app|blue|app|%");
	assert_int_equal(svc_unit_expand("x-%i.target", "foo.service", o, sizeof(o)), 0);
	assert_string_equal(o, "x-.target");
	assert_int_equal(svc_unit_expand("%p.target", "foo.service", o, sizeof(o)), 0);
	assert_string_equal(o, "foo.target");
	assert_int_equal(svc_unit_expand("%H", "foo.service", o, sizeof(o)), -EINVAL);
	assert_int_equal(svc_unit_expand("%n%n%n", "foo.service", o, 20), -ENAMETOOLONG);
}

/* --- links beneath a temporary root ------------------------------------------ */

struct fx {
	char root[256];
	struct fsroot r;
};

static void put(struct fx *f, const char *path, const char *text)
{
	char p[PATH_MAX], cmd[PATH_MAX + 64];
	FILE *fp;

	snprintf(p, sizeof(p), "%s%s", f->root, path);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", p);
	assert_int_equal(system(cmd), 0);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

/* rp - ROOT/path (two alternating buffers, so two may be used in one call). */
static const char *rp(struct fx *f, const char *path)
{
	static char b[2][PATH_MAX];
	static int i;

	i ^= 1;
	snprintf(b[i], sizeof(b[i]), "%s%s", f->root, path);
	return b[i];
}

/* mklink - ROOT/path -> target, making ROOT/path's directory. */
static void mklink(struct fx *f, const char *target, const char *path)
{
	char cmd[PATH_MAX + 64];

	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", rp(f, path));
	assert_int_equal(system(cmd), 0);
	assert_int_equal(symlink(target, rp(f, path)), 0);
}

/* link_text - readlink of ROOT/path, "" when it is no symlink. */
static const char *link_text(struct fx *f, const char *path)
{
	static char t[PATH_MAX];
	char p[PATH_MAX];
	ssize_t n;

	snprintf(p, sizeof(p), "%s%s", f->root, path);
	n = readlink(p, t, sizeof(t) - 1);
	t[n > 0 ? n : 0] = '\0';
	return t;
}

static bool exists(struct fx *f, const char *path)
{
	struct stat st;

	return lstat(rp(f, path), &st) == 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct tend_err err;

	snprintf(f->root, sizeof(f->root), "%s/test-svc.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!f || !mkdtemp(f->root) || fsroot_open(&f->r, f->root, &err) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[512];

	fsroot_close(&f->r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	if (system(cmd) != 0)
		print_error("could not remove %s\n", f->root);
	free(f);
	return 0;
}

static int enabled(struct fx *f, const char *unit)
{
	struct tend_err err = { "" };
	int st = -1;

	assert_int_equal(svc_systemd_enabled(&f->r, unit, &st, &err), 0);
	return st;
}

static void systemd_links_follow_install_and_also(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { "" };

	put(f, "/lib/systemd/system/foo.service",
	    "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"
	    "RequiredBy=%p-extra.target\nAlias=bar.service\nAlso=foo.socket\n");
	put(f, "/lib/systemd/system/foo.socket", "[Socket]\n[Install]\nWantedBy=sockets.target\n");
	assert_int_equal(enabled(f, "foo.service"), SVC_DISABLED);

	assert_int_equal(svc_systemd_links_set(&f->r, "foo.service", true, NULL, &err), 0);
	assert_string_equal(link_text(f, "/etc/systemd/system/multi-user.target.wants/foo.service"),
			    "/lib/systemd/system/foo.service");
	assert_string_equal(
		link_text(f, "/etc/systemd/system/foo-extra.target.requires/foo.service"),
		"/lib/systemd/system/foo.service");
	assert_string_equal(link_text(f, "/etc/systemd/system/bar.service"),
			    "/lib/systemd/system/foo.service");
	assert_string_equal(link_text(f, "/etc/systemd/system/sockets.target.wants/foo.socket"),
			    "/lib/systemd/system/foo.socket");
	assert_int_equal(enabled(f, "foo.service"), SVC_ENABLED);
	/* the alias names the same unit */
	assert_int_equal(enabled(f, "bar.service"), SVC_ENABLED);

	/* one link gone: partial */
	assert_int_equal(unlink(rp(f, "/etc/systemd/system/sockets.target.wants/foo.socket")), 0);
	assert_int_equal(enabled(f, "foo.service"), SVC_PARTIAL);

	/* a link left in a directory [Install] no longer names keeps it from being disabled */
	assert_int_equal(svc_systemd_links_set(&f->r, "foo.service", false, NULL, &err), 0);
	assert_false(exists(f, "/etc/systemd/system/multi-user.target.wants"));
	assert_false(exists(f, "/etc/systemd/system/bar.service"));
	assert_int_equal(enabled(f, "foo.service"), SVC_DISABLED);
	mklink(f, "/lib/systemd/system/foo.service",
	       "/etc/systemd/system/foo-old.target.wants/foo.service");
	assert_int_equal(enabled(f, "foo.service"), SVC_PARTIAL);
	assert_int_equal(svc_systemd_links_set(&f->r, "foo.service", false, NULL, &err), 0);
	assert_false(exists(f, "/etc/systemd/system/foo-old.target.wants/foo.service"));
	assert_int_equal(enabled(f, "foo.service"), SVC_DISABLED);
}

static void systemd_static_masked_templates_and_missing(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { "" };
	int st;

	put(f, "/usr/lib/systemd/system/static.service", "[Service]\nExecStart=/bin/true\n");
	assert_int_equal(enabled(f, "static.service"), SVC_STATIC);
	assert_int_equal(svc_systemd_links_set(&f->r, "static.service", true, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "no [Install] section"));

	put(f, "/lib/systemd/system/m.service", "[Install]\nWantedBy=multi-user.target\n");
	mklink(f, "/dev/null", "/etc/systemd/system/m.service");
	assert_int_equal(enabled(f, "m.service"), SVC_MASKED);
	assert_int_equal(svc_systemd_links_set(&f->r, "m.service", true, NULL, &err), -EPERM);

	put(f, "/lib/systemd/system/getty@.service",
	    "[Install]\nWantedBy=getty.target\nDefaultInstance=tty1\n");
	assert_int_equal(svc_systemd_links_set(&f->r, "getty@tty2.service", true, NULL, &err), 0);
	assert_string_equal(
		link_text(f, "/etc/systemd/system/getty.target.wants/getty@tty2.service"),
		"/lib/systemd/system/getty@.service");
	assert_int_equal(enabled(f, "getty@tty2.service"), SVC_ENABLED);
	assert_int_equal(enabled(f, "getty@.service"), SVC_DISABLED); /* tty1 is not linked */
	assert_int_equal(svc_systemd_links_set(&f->r, "getty@.service", true, NULL, &err), 0);
	assert_true(exists(f, "/etc/systemd/system/getty.target.wants/getty@tty1.service"));

	assert_int_equal(svc_systemd_enabled(&f->r, "nope.service", &st, &err), -ENOENT);
	put(f, "/lib/systemd/system/a.service", "[Install]\nAlso=gone.service\n");
	assert_int_equal(svc_systemd_enabled(&f->r, "a.service", &st, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "gone.service (Also= of a.service) does not exist"));
}

static int sysv_state(struct fx *f, const struct svc_lsb *l)
{
	int st = -1;

	assert_int_equal(svc_sysv_enabled(&f->r, "testd", l, &st), 0);
	return st;
}

static void sysv_links_like_update_rc_d(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { "" };
	struct svc_lsb l = { 0x3c, 0x43 }, none = { 0, 0x43 };

	put(f, "/etc/init.d/testd", "#!/bin/sh\n");
	assert_int_equal(sysv_state(f, &l), SVC_DISABLED);
	assert_int_equal(sysv_state(f, &none), SVC_STATIC);
	assert_int_equal(svc_sysv_set_enabled(&f->r, "testd", &l, true, NULL, &err), 0);
	for (const char *p = "2345"; *p; p++) {
		char path[64];

		snprintf(path, sizeof(path), "/etc/rc%c.d/S01testd", *p);
		assert_string_equal(link_text(f, path), "../init.d/testd");
	}
	for (const char *p = "016"; *p; p++) {
		char path[64];

		snprintf(path, sizeof(path), "/etc/rc%c.d/K01testd", *p);
		assert_string_equal(link_text(f, path), "../init.d/testd");
	}
	assert_false(exists(f, "/etc/rcS.d"));
	assert_int_equal(sysv_state(f, &l), SVC_ENABLED);

	/* disable turns S links into K links, so a postinst's "defaults" leaves it off */
	assert_int_equal(svc_sysv_set_enabled(&f->r, "testd", &l, false, NULL, &err), 0);
	assert_false(exists(f, "/etc/rc2.d/S01testd"));
	assert_string_equal(link_text(f, "/etc/rc2.d/K01testd"), "../init.d/testd");
	assert_string_equal(link_text(f, "/etc/rc0.d/K01testd"), "../init.d/testd");
	assert_int_equal(sysv_state(f, &l), SVC_DISABLED);

	/* an S link with another number counts and is kept; a stray K link in a start level is not enabled */
	assert_int_equal(svc_sysv_set_enabled(&f->r, "testd", &l, true, NULL, &err), 0);
	assert_int_equal(rename(rp(f, "/etc/rc3.d/S01testd"), rp(f, "/etc/rc3.d/S20testd")), 0);
	assert_int_equal(sysv_state(f, &l), SVC_ENABLED);
	mklink(f, "../init.d/testd", "/etc/rc4.d/K20testd");
	assert_int_equal(sysv_state(f, &l), SVC_PARTIAL);
	assert_int_equal(svc_sysv_set_enabled(&f->r, "testd", &l, true, NULL, &err), 0);
	assert_false(exists(f, "/etc/rc4.d/K20testd"));
	assert_true(exists(f, "/etc/rc3.d/S20testd"));
	assert_false(exists(f, "/etc/rc3.d/S01testd"));
	assert_int_equal(sysv_state(f, &l), SVC_ENABLED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lsb_without_header_gives_debian_defaults),
		cmocka_unit_test(lsb_header_fields_set_runlevels),
		cmocka_unit_test(sysv_names),
		cmocka_unit_test(install_section_lists_accumulate_and_reset),
		cmocka_unit_test(unit_names_get_service_suffix_unless_typed),
		cmocka_unit_test(specifiers_expand_like_systemctl),
		cmocka_unit_test_setup_teardown(systemd_links_follow_install_and_also, setup,
						teardown),
		cmocka_unit_test_setup_teardown(systemd_static_masked_templates_and_missing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(sysv_links_like_update_rc_d, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
