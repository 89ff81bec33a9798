/*
 * test-fsroot.c - unit tests for path resolution beneath a managed root
 * (util/fsroot.h).
 *
 * Each test builds a temporary root, TOP/root, with room beside it in TOP
 * for what must be outside it:
 *
 *   ROOT/etc/marker        "inside\n"
 *   ROOT/etc/evil   ->  /etc          (absolute symlink)
 *   ROOT/evil       ->  /etc          (absolute symlink)
 *   ROOT/up         ->  ../../../..   (relative symlink climbing out)
 *   ROOT/dir/sub/
 *
 * Absolute symlinks and ".." must resolve inside ROOT.  The host's /etc has
 * a passwd and no "marker", so reaching it would be seen: a file that only
 * the host has must be ENOENT, and the file only ROOT has must be found.
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

#include "util/fsroot.h"

struct fixture {
	char top[256];
	char root[512];
	struct fsroot r;
};

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void rm_rf(const char *path)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		print_error("could not remove %s\n", path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char p[PATH_MAX + 64];
	struct tend_err err;

	if (!f)
		return -1;
	snprintf(f->top, sizeof(f->top), "/tmp/tend-test-fsroot-XXXXXX");
	if (!mkdtemp(f->top))
		return -1;
	snprintf(f->root, sizeof(f->root), "%s/root", f->top);
	if (mkdir(f->root, 0755) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/etc", f->root);
	if (mkdir(p, 0755) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/etc/marker", f->root);
	put_file(p, "inside\n");
	snprintf(p, sizeof(p), "%s/etc/evil", f->root);
	if (symlink("/etc", p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/evil", f->root);
	if (symlink("/etc", p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/up", f->root);
	if (symlink("../../../..", p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/dir", f->root);
	if (mkdir(p, 0755) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/dir/sub", f->root);
	if (mkdir(p, 0755) < 0)
		return -1;
	if (fsroot_open(&f->r, f->root, &err) < 0) {
		print_error("%s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fsroot_close(&f->r);
	rm_rf(f->top);
	free(f);
	return 0;
}

/* read_path - open p in the root and read it; "" when it cannot be read. */
static void read_path(struct fixture *f, const char *p, char *out, size_t n, int *ret)
{
	int fd = fsroot_open_path(&f->r, p, O_RDONLY, 0);
	ssize_t k;

	out[0] = '\0';
	*ret = fd;
	if (fd < 0)
		return;
	k = read(fd, out, n - 1);
	out[k > 0 ? k : 0] = '\0';
	close(fd);
}

static void same_inode(int fd, const char *host_path)
{
	struct stat a, b;

	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(stat(host_path, &b), 0);
	assert_int_equal(a.st_dev, b.st_dev);
	assert_int_equal(a.st_ino, b.st_ino);
}

/* --- fsroot_path_ok ---------------------------------------------------------- */

static void path_ok_accepts_absolute_normalised_paths(void **state)
{
	static const char *const good[] = { "/",    "/etc",   "/etc/motd", "/a/b/c",  "/.hidden",
					    "/...", "/a/..b", "/a/b.",	   "/a b/c:d" };
	(void)state;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!fsroot_path_ok(good[i]))
			fail_msg("refused \"%s\"", good[i]);
}

static void path_ok_refuses_relative_empty_dot_and_dotdot_components(void **state)
{
	static const char *const bad[] = { "",	     "etc",	"etc/motd", "./etc", "//",
					   "//etc",  "/etc//x", "/etc/",    "/.",    "/./etc",
					   "/etc/.", "/..",	"/../etc",  "/a/..", "/a/../b" };
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (fsroot_path_ok(bad[i]))
			fail_msg("accepted \"%s\"", bad[i]);
	assert_false(fsroot_path_ok(NULL));
}

/* --- opening a root ---------------------------------------------------------- */

static void open_strips_trailing_slashes_and_host_path_prefixes_it(void **state)
{
	struct fixture *f = *state;
	struct fsroot r;
	struct tend_err err;
	char dir[PATH_MAX + 8], want[PATH_MAX + 16];
	char *hp;

	snprintf(dir, sizeof(dir), "%s///", f->root);
	assert_int_equal(fsroot_open(&r, dir, &err), 0);
	assert_string_equal(r.path, f->root);
	assert_false(fsroot_is_host(&r));
	hp = fsroot_host_path(&r, "/etc/motd");
	snprintf(want, sizeof(want), "%s/etc/motd", f->root);
	assert_string_equal(hp, want);
	free(hp);
	fsroot_close(&r);
}

static void host_root_has_an_empty_prefix(void **state)
{
	struct fsroot r;
	struct tend_err err;
	char *hp;
	(void)state;

	assert_int_equal(fsroot_open(&r, "/", &err), 0);
	assert_string_equal(r.path, "");
	assert_true(fsroot_is_host(&r));
	hp = fsroot_host_path(&r, "/etc/motd");
	assert_string_equal(hp, "/etc/motd");
	free(hp);
	fsroot_close(&r);
}

static void open_of_a_missing_root_fails_and_names_it(void **state)
{
	struct fixture *f = *state;
	struct fsroot r;
	struct tend_err err;
	char dir[PATH_MAX + 16], p[PATH_MAX + 64];

	memset(&r, 0x5a, sizeof(r));
	snprintf(dir, sizeof(dir), "%s/nonexistent", f->root);
	assert_int_equal(fsroot_open(&r, dir, &err), -ENOENT);
	assert_int_equal(r.fd, 0x5a5a5a5a); /* untouched */
	snprintf(p, sizeof(p), "root %s: No such file or directory", dir);
	assert_string_equal(err.msg, p);
	snprintf(dir, sizeof(dir), "%s/etc/marker", f->root);
	assert_int_equal(fsroot_open(&r, dir, &err), -ENOTDIR);
}

/* --- fsroot_open_path ------------------------------------------------------------ */

static void open_path_reads_files_inside_the_root(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	int r;

	read_path(f, "/etc/marker", buf, sizeof(buf), &r);
	assert_true(r >= 0);
	assert_string_equal(buf, "inside\n");
	read_path(f, "/etc/passwd", buf, sizeof(buf), &r); /* the host has one, ROOT not */
	assert_int_equal(r, -ENOENT);
}

static void absolute_symlink_resolves_inside_the_root(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	int r;

	/* ROOT/evil -> /etc means ROOT/etc, never the host's /etc */
	read_path(f, "/evil/marker", buf, sizeof(buf), &r);
	assert_true(r >= 0);
	assert_string_equal(buf, "inside\n");
	read_path(f, "/evil/passwd", buf, sizeof(buf), &r);
	assert_int_equal(r, -ENOENT);
	read_path(f, "/etc/evil/marker", buf, sizeof(buf), &r);
	assert_true(r >= 0);
	assert_string_equal(buf, "inside\n");
	read_path(f, "/etc/evil/evil/evil/marker", buf, sizeof(buf), &r);
	assert_true(r >= 0);
	assert_string_equal(buf, "inside\n");
	read_path(f, "/etc/evil/hostname", buf, sizeof(buf), &r);
	assert_int_equal(r, -ENOENT);
}

static void dotdot_is_clamped_at_the_root(void **state)
{
	struct fixture *f = *state;
	char buf[64], p[PATH_MAX + 16];
	int r, fd;

	read_path(f, "/../../../etc/marker", buf, sizeof(buf), &r);
	assert_true(r >= 0);
	assert_string_equal(buf, "inside\n");
	read_path(f, "/dir/sub/../../../../etc/marker", buf, sizeof(buf), &r);
	assert_true(r >= 0);
	assert_string_equal(buf, "inside\n");
	read_path(f, "/../../../etc/passwd", buf, sizeof(buf), &r);
	assert_int_equal(r, -ENOENT);
	/* a relative symlink climbing out stops at the root too */
	read_path(f, "/up/etc/marker", buf, sizeof(buf), &r);
	assert_true(r >= 0);
	assert_string_equal(buf, "inside\n");
	fd = fsroot_open_path(&f->r, "/up/up/..", O_PATH | O_DIRECTORY, 0);
	assert_true(fd >= 0);
	same_inode(fd, f->root);
	close(fd);
	snprintf(p, sizeof(p), "%s/dir", f->root);
	fd = fsroot_open_path(&f->r, "/dir/sub/..", O_PATH | O_DIRECTORY, 0);
	assert_true(fd >= 0);
	same_inode(fd, p);
	close(fd);
}

static void creating_through_an_absolute_symlink_creates_inside_the_root(void **state)
{
	struct fixture *f = *state;
	char name[64], inside[PATH_MAX + 80], host[128];
	struct stat st;
	int fd;

	snprintf(name, sizeof(name), "tend-fsroot-test-%ld", (long)getpid());
	snprintf(host, sizeof(host), "/etc/%s", name);
	snprintf(inside, sizeof(inside), "%s/etc/%s", f->root, name);
	assert_int_equal(lstat(host, &st), -1);
	{
		char p[128];

		snprintf(p, sizeof(p), "/evil/%s", name);
		fd = fsroot_open_path(&f->r, p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	}
	if (lstat(host, &st) == 0) {
		unlink(host); /* clean up the host before failing */
		fail_msg("created %s on the host", host);
	}
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(lstat(inside, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void root_itself_opens_for_slash_and_empty_path(void **state)
{
	struct fixture *f = *state;
	int fd;

	fd = fsroot_open_path(&f->r, "/", O_PATH | O_DIRECTORY, 0);
	assert_true(fd >= 0);
	same_inode(fd, f->root);
	close(fd);
	fd = fsroot_open_path(&f->r, "//", O_PATH | O_DIRECTORY, 0);
	assert_true(fd >= 0);
	same_inode(fd, f->root);
	close(fd);
}

static void nofollow_opens_the_link_itself(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	int fd;

	fd = fsroot_open_path(&f->r, "/evil", O_PATH | O_NOFOLLOW, 0);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	close(fd);
	assert_int_equal(fsroot_open_path(&f->r, "/evil", O_RDONLY | O_NOFOLLOW, 0), -ELOOP);
}

static void open_path_fds_are_close_on_exec(void **state)
{
	struct fixture *f = *state;
	int fd = fsroot_open_path(&f->r, "/etc/marker", O_RDONLY, 0);

	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

/* --- fsroot_parent --------------------------------------------------------------- */

static void parent_gives_the_directory_fd_and_last_component(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX + 16];
	const char *base;
	int dfd = -1;

	snprintf(p, sizeof(p), "%s/dir/sub", f->root);
	assert_int_equal(fsroot_parent(&f->r, "/dir/sub/file.conf", &dfd, &base), 0);
	assert_string_equal(base, "file.conf");
	same_inode(dfd, p);
	assert_int_equal(fsroot_parent(&f->r, "/top", &dfd, &base), 0);
	assert_string_equal(base, "top");
	same_inode(dfd, f->root);
}

static void parent_through_an_absolute_symlink_stays_inside(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX + 16];
	const char *base;
	int dfd = -1;
	struct stat st;

	snprintf(p, sizeof(p), "%s/etc", f->root);
	assert_int_equal(fsroot_parent(&f->r, "/etc/evil/marker", &dfd, &base), 0);
	assert_string_equal(base, "marker");
	same_inode(dfd, p);
	assert_int_equal(fstatat(dfd, "marker", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(fstatat(dfd, "passwd", &st, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(fsroot_parent(&f->r, "/evil/x", &dfd, &base), 0);
	same_inode(dfd, p);
	assert_int_equal(fsroot_parent(&f->r, "/up/up/etc/x", &dfd, &base), 0);
	same_inode(dfd, p);
}

static void parent_fails_for_missing_or_non_directory_parents(void **state)
{
	struct fixture *f = *state;
	const char *base = "untouched";
	int dfd = -7;

	assert_int_equal(fsroot_parent(&f->r, "/missing/x", &dfd, &base), -ENOENT);
	assert_int_equal(fsroot_parent(&f->r, "/etc/marker/x", &dfd, &base), -ENOTDIR);
	assert_int_equal(fsroot_parent(&f->r, "/etc/", &dfd, &base), -EINVAL);
	assert_int_equal(fsroot_parent(&f->r, "relative", &dfd, &base), -EINVAL);
	assert_int_equal(dfd, -7);
	assert_string_equal(base, "untouched");
}

static void parent_cache_reuses_the_fd_until_forget(void **state)
{
	struct fixture *f = *state;
	char old[PATH_MAX + 16], moved[PATH_MAX + 16];
	const char *base;
	int a = -1, b = -1, c = -1;
	struct stat st;

	assert_int_equal(fsroot_parent(&f->r, "/dir/sub/a", &a, &base), 0);
	assert_int_equal(fsroot_parent(&f->r, "/dir/sub/b", &b, &base), 0);
	assert_int_equal(a, b);
	assert_string_equal(base, "b");
	/* "/dir/subx" is not "/dir/sub": a prefix must not hit the cache */
	snprintf(old, sizeof(old), "%s/dir/subx", f->root);
	assert_int_equal(mkdir(old, 0755), 0);
	assert_int_equal(fsroot_parent(&f->r, "/dir/subx/c", &c, &base), 0);
	same_inode(c, old);
	/* after a rename, forget makes the next lookup see the new tree */
	assert_int_equal(fsroot_parent(&f->r, "/dir/sub/a", &a, &base), 0);
	snprintf(old, sizeof(old), "%s/dir/sub", f->root);
	snprintf(moved, sizeof(moved), "%s/dir/moved", f->root);
	assert_int_equal(rename(old, moved), 0);
	fsroot_forget(&f->r);
	assert_int_equal(fsroot_parent(&f->r, "/dir/sub/a", &a, &base), -ENOENT);
	assert_int_equal(mkdir(old, 0700), 0);
	assert_int_equal(fsroot_parent(&f->r, "/dir/sub/a", &a, &base), 0);
	assert_int_equal(fstat(a, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
}

/* --- fsroot_fd_path -------------------------------------------------------------- */

static void fd_path_is_the_path_inside_the_root(void **state)
{
	struct fixture *f = *state;
	char *p = NULL;
	int fd;

	fd = fsroot_open_path(&f->r, "/evil/marker", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(fsroot_fd_path(&f->r, fd, &p), 0);
	assert_string_equal(p, "/etc/marker");
	free(p);
	close(fd);
	fd = fsroot_open_path(&f->r, "/", O_PATH, 0);
	assert_int_equal(fsroot_fd_path(&f->r, fd, &p), 0);
	assert_string_equal(p, "/");
	free(p);
	close(fd);
}

static void fd_path_outside_the_root_is_exdev(void **state)
{
	struct fixture *f = *state;
	char sibling[PATH_MAX + 16];
	char *p = (char *)"untouched";
	int fd;

	fd = open("/tmp", O_PATH | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(fsroot_fd_path(&f->r, fd, &p), -EXDEV);
	close(fd);
	/* ROOTx shares ROOT's text as a prefix but is not beneath it */
	snprintf(sibling, sizeof(sibling), "%sx", f->root);
	assert_int_equal(mkdir(sibling, 0755), 0);
	fd = open(sibling, O_PATH | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(fsroot_fd_path(&f->r, fd, &p), -EXDEV);
	close(fd);
	assert_string_equal(p, "untouched");
}

static void fd_path_works_for_a_root_given_through_a_symlink(void **state)
{
	struct fixture *f = *state;
	char link[PATH_MAX + 16];
	struct fsroot r;
	struct tend_err err;
	char *p = NULL;
	int fd;

	snprintf(link, sizeof(link), "%s/link", f->top);
	assert_int_equal(symlink(f->root, link), 0);
	assert_int_equal(fsroot_open(&r, link, &err), 0);
	fd = fsroot_open_path(&r, "/etc/evil/marker", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(fsroot_fd_path(&r, fd, &p), 0);
	assert_string_equal(p, "/etc/marker");
	free(p);
	close(fd);
	fsroot_close(&r);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(path_ok_accepts_absolute_normalised_paths),
		cmocka_unit_test(path_ok_refuses_relative_empty_dot_and_dotdot_components),
		T(open_strips_trailing_slashes_and_host_path_prefixes_it),
		cmocka_unit_test(host_root_has_an_empty_prefix),
		T(open_of_a_missing_root_fails_and_names_it),
		T(open_path_reads_files_inside_the_root),
		T(absolute_symlink_resolves_inside_the_root),
		T(dotdot_is_clamped_at_the_root),
		T(creating_through_an_absolute_symlink_creates_inside_the_root),
		T(root_itself_opens_for_slash_and_empty_path),
		T(nofollow_opens_the_link_itself),
		T(open_path_fds_are_close_on_exec),
		T(parent_gives_the_directory_fd_and_last_component),
		T(parent_through_an_absolute_symlink_stays_inside),
		T(parent_fails_for_missing_or_non_directory_parents),
		T(parent_cache_reuses_the_fd_until_forget),
		T(fd_path_is_the_path_inside_the_root),
		T(fd_path_outside_the_root_is_exdev),
		T(fd_path_works_for_a_root_given_through_a_symlink),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
