/*
 * test-atomic.c - unit tests for crash-safe file replacement
 * (util/atomic.h).
 *
 * Each test works in a fresh temporary directory and checks, besides the
 * result, that nothing else in the directory changed: no temporary file
 * is left behind, on success or on failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/atomic.h"

struct fixture {
	char dir[PATH_MAX];
	int dirfd;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/tend-test-atomic-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dirfd < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[PATH_MAX + 32];

	close(f->dirfd);
	chmod(f->dir, 0700);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		print_error("could not remove %s\n", f->dir);
	free(f);
	return 0;
}

static void put(struct fixture *f, const char *name, const char *text)
{
	int fd = openat(f->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* slurp - the content of name (at most n-1 bytes, NUL-terminated); its length. */
static ssize_t slurp(struct fixture *f, const char *name, char *out, size_t n)
{
	int fd = openat(f->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t k, total = 0;

	if (fd < 0)
		return -errno;
	while ((size_t)total < n - 1 && (k = read(fd, out + total, n - 1 - (size_t)total)) > 0)
		total += k;
	out[total] = '\0';
	close(fd);
	return total;
}

/* names - the directory's entries, sorted, joined with spaces. */
static void names(struct fixture *f, char *out, size_t n)
{
	struct dirent **list;
	int k = scandir(f->dir, &list, NULL, alphasort);
	size_t len = 0;

	assert_true(k >= 0);
	out[0] = '\0';
	for (int i = 0; i < k; i++) {
		if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, ".."))
			len += (size_t)snprintf(out + len, n - len, "%s%s", len ? " " : "",
						list[i]->d_name);
		free(list[i]);
	}
	free(list);
}

static void check_names(struct fixture *f, const char *want, const char *file, int line)
{
	char got[1024];

	names(f, got, sizeof(got));
	_assert_string_equal(got, want, file, line);
}

#define assert_names(f, want) check_names(f, want, __FILE__, __LINE__)

static mode_t mode_of(struct fixture *f, const char *name)
{
	struct stat st;

	assert_int_equal(fstatat(f->dirfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));
	return st.st_mode & 07777;
}

#define WRITE(f, name, text, mode) \
	atomic_write_at((f)->dirfd, name, text, strlen(text), mode, ATOMIC_KEEP_OWNER, (gid_t)-1)

/* --- content ------------------------------------------------------------------ */

static void write_creates_a_missing_file(void **state)
{
	struct fixture *f = *state;
	char buf[64];

	assert_int_equal(WRITE(f, "motd", "hello\n", 0644), 0);
	assert_int_equal(slurp(f, "motd", buf, sizeof(buf)), 6);
	assert_string_equal(buf, "hello\n");
	assert_names(f, "motd");
}

static void write_replaces_existing_content_entirely(void **state)
{
	struct fixture *f = *state;
	char buf[64];

	put(f, "motd", "a much longer old content\n");
	assert_int_equal(WRITE(f, "motd", "new\n", 0644), 0);
	assert_int_equal(slurp(f, "motd", buf, sizeof(buf)), 4);
	assert_string_equal(buf, "new\n");
	assert_names(f, "motd");
}

static void write_replaces_the_inode_so_open_readers_keep_the_old_bytes(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	int fd;
	ssize_t k;

	put(f, "conf", "old\n");
	fd = openat(f->dirfd, "conf", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(WRITE(f, "conf", "new\n", 0644), 0);
	k = read(fd, buf, sizeof(buf) - 1);
	assert_int_equal(k, 4);
	buf[k] = '\0';
	assert_string_equal(buf, "old\n");
	close(fd);
	assert_int_equal(slurp(f, "conf", buf, sizeof(buf)), 4);
	assert_string_equal(buf, "new\n");
}

static void empty_and_binary_content_are_written_exactly(void **state)
{
	static const char bin[] = { 'a', '\0', '\n', (char)0xff, '\0' };
	struct fixture *f = *state;
	char buf[64];

	put(f, "e", "not empty");
	assert_int_equal(atomic_write_at(f->dirfd, "e", "", 0, 0600, ATOMIC_KEEP_OWNER, (gid_t)-1),
			 0);
	assert_int_equal(slurp(f, "e", buf, sizeof(buf)), 0);
	assert_int_equal(atomic_write_at(f->dirfd, "b", bin, sizeof(bin), 0600, ATOMIC_KEEP_OWNER,
					 (gid_t)-1),
			 0);
	assert_int_equal(slurp(f, "b", buf, sizeof(buf)), (ssize_t)sizeof(bin));
	assert_memory_equal(buf, bin, sizeof(bin));
}

static void large_content_is_written_whole(void **state)
{
	struct fixture *f = *state;
	size_t n = (size_t)3 << 20;
	char *data = malloc(n), *back = malloc(n + 1);

	assert_non_null(data);
	assert_non_null(back);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 7 + i / 4096);
	assert_int_equal(
		atomic_write_at(f->dirfd, "big", data, n, 0644, ATOMIC_KEEP_OWNER, (gid_t)-1), 0);
	assert_int_equal(slurp(f, "big", back, n + 1), (ssize_t)n);
	assert_memory_equal(back, data, n);
	free(data);
	free(back);
}

/* --- mode and owner ------------------------------------------------------------- */

static void mode_is_set_exactly_whatever_the_umask(void **state)
{
	static const mode_t masks[] = { 0, 022, 077, 0777 };
	static const mode_t modes[] = { 0644, 0600, 0755, 0777, 0400, 0 };
	struct fixture *f = *state;
	mode_t old = umask(0);

	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		for (size_t j = 0; j < sizeof(modes) / sizeof(modes[0]); j++) {
			int r;
			mode_t got;

			umask(masks[i]);
			r = WRITE(f, "m", "x", modes[j]);
			umask(0);
			if (r != 0)
				fail_msg("umask %03o mode %04o: %d", masks[i], modes[j], r);
			got = mode_of(f, "m");
			if (got != modes[j])
				fail_msg("umask %03o: wanted mode %04o, got %04o", masks[i],
					 modes[j], got);
		}
	}
	umask(old);
	assert_names(f, "m");
}

static void mode_replaces_the_old_files_mode(void **state)
{
	struct fixture *f = *state;

	put(f, "m", "x");
	assert_int_equal(fchmodat(f->dirfd, "m", 0666, 0), 0);
	assert_int_equal(WRITE(f, "m", "y", 0640), 0);
	assert_int_equal(mode_of(f, "m"), 0640);
}

static void special_mode_bits_are_kept(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(WRITE(f, "s", "x", 01755), 0);
	assert_int_equal(mode_of(f, "s"), 01755);
	if (geteuid() != 0)
		return; /* setuid/setgid bits on our own file may be cleared for non-members */
	assert_int_equal(WRITE(f, "s", "x", 06750), 0);
	assert_int_equal(mode_of(f, "s"), 06750);
}

static void owner_and_group_are_set_when_given(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	if (geteuid() != 0)
		skip();
	assert_int_equal(atomic_write_at(f->dirfd, "o", "x", 1, 04750, 1234, 5678), 0);
	assert_int_equal(fstatat(f->dirfd, "o", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	/* chown clears setuid: the mode must be applied after the owner */
	assert_int_equal(st.st_mode & 07777, 04750);
	assert_int_equal(atomic_write_at(f->dirfd, "o", "y", 1, 0644, ATOMIC_KEEP_OWNER, 99), 0);
	assert_int_equal(fstatat(f->dirfd, "o", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_gid, 99);
}

/* --- symlinks -------------------------------------------------------------------- */

static void symlink_at_the_target_is_replaced_and_its_target_untouched(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	struct stat st;

	put(f, "victim", "victim content\n");
	assert_int_equal(symlinkat("victim", f->dirfd, "link"), 0);
	assert_int_equal(WRITE(f, "link", "new\n", 0644), 0);
	assert_int_equal(fstatat(f->dirfd, "link", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(slurp(f, "link", buf, sizeof(buf)), 4);
	assert_string_equal(buf, "new\n");
	assert_int_equal(slurp(f, "victim", buf, sizeof(buf)), 15);
	assert_string_equal(buf, "victim content\n");
	assert_int_equal(mode_of(f, "victim"), 0644);
	assert_names(f, "link victim");
}

static void dangling_and_absolute_symlinks_are_replaced_too(void **state)
{
	struct fixture *f = *state;
	char buf[64];

	assert_int_equal(symlinkat("/nonexistent/target", f->dirfd, "dangling"), 0);
	assert_int_equal(symlinkat("/etc/hostname", f->dirfd, "abs"), 0);
	assert_int_equal(WRITE(f, "dangling", "d", 0600), 0);
	assert_int_equal(WRITE(f, "abs", "a", 0600), 0);
	assert_int_equal(slurp(f, "dangling", buf, sizeof(buf)), 1);
	assert_int_equal(slurp(f, "abs", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "a");
	assert_names(f, "abs dangling");
}

/* --- temporary files ------------------------------------------------------------- */

static void repeated_writes_leave_no_temporary_files(void **state)
{
	struct fixture *f = *state;
	char text[32];

	for (int i = 0; i < 50; i++) {
		snprintf(text, sizeof(text), "version %d\n", i);
		assert_int_equal(WRITE(f, "a", text, 0644), 0);
		assert_int_equal(WRITE(f, "b", text, 0600), 0);
	}
	assert_names(f, "a b");
}

static void stale_temporary_from_a_killed_run_is_removed_on_next_write(void **state)
{
	struct fixture *f = *state;

	/* a run killed between link and rename leaves ".NAME.tend-new" */
	put(f, ".motd.tend-new", "half-written");
	put(f, "motd", "old");
	assert_int_equal(WRITE(f, "motd", "new", 0644), 0);
	assert_names(f, "motd");
}

/* --- failures ---------------------------------------------------------------------- */

static void removed_directory_fails_with_a_negative_errno(void **state)
{
	struct fixture *f = *state;
	char sub[PATH_MAX + 8];
	int fd, r;

	snprintf(sub, sizeof(sub), "%s/gone", f->dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	fd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(rmdir(sub), 0);
	/* the kernel says ENOENT or EPERM (O_TMPFILE in a deleted directory) */
	r = atomic_write_at(fd, "x", "data", 4, 0644, ATOMIC_KEEP_OWNER, (gid_t)-1);
	close(fd);
	if (r >= 0 || r < -4095)
		fail_msg("write into a removed directory returned %d", r);
	assert_names(f, "");
}

/* write_as_nobody - atomic_write_at in a child that cannot write the directory. */
static int write_as_nobody(struct fixture *f, const char *name)
{
	int p[2], r = 0;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (geteuid() == 0 &&
		    (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
			r = -1000;
		else
			r = atomic_write_at(f->dirfd, name, "new", 3, 0644, ATOMIC_KEEP_OWNER,
					    (gid_t)-1);
		if (write(p[1], &r, sizeof(r)) != sizeof(r))
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &r, sizeof(r)), sizeof(r));
	close(p[0]);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return r;
}

static void read_only_directory_fails_with_eacces_and_changes_nothing(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	int r;

	put(f, "motd", "old");
	assert_int_equal(chmod(f->dir, 0555), 0);
	r = write_as_nobody(f, "motd");
	assert_int_equal(chmod(f->dir, 0700), 0);
	assert_int_equal(r, -EACCES);
	assert_int_equal(slurp(f, "motd", buf, sizeof(buf)), 3);
	assert_string_equal(buf, "old");
	assert_names(f, "motd");
}

static void directory_at_the_target_fails_and_leaves_no_temporary(void **state)
{
	struct fixture *f = *state;
	int r;

	assert_int_equal(mkdirat(f->dirfd, "d", 0755), 0);
	assert_int_equal(mkdirat(f->dirfd, "d/inside", 0755), 0);
	r = WRITE(f, "d", "data", 0644);
	assert_true(r < 0);
	assert_true(r == -EISDIR || r == -ENOTEMPTY || r == -EEXIST);
	assert_names(f, "d");
	assert_int_equal(faccessat(f->dirfd, "d/inside", F_OK, 0), 0);
}

/* --- staged writes ------------------------------------------------------------ */

static void staged_write_is_invisible_until_committed(void **state)
{
	struct fixture *f = *state;
	char buf[64];

	put(f, "motd", "old");
	assert_int_equal(atomic_stage_at(f->dirfd, "motd", "new", 3, 0640, ATOMIC_KEEP_OWNER, (gid_t)-1), 0);
	assert_int_equal(slurp(f, "motd", buf, sizeof(buf)), 3);
	assert_string_equal(buf, "old");
	assert_int_equal(atomic_commit_at(f->dirfd, "motd"), 0);
	assert_int_equal(slurp(f, "motd", buf, sizeof(buf)), 3);
	assert_string_equal(buf, "new");
	assert_int_equal(mode_of(f, "motd"), 0640);
	assert_names(f, "motd");
}

static void staging_again_replaces_a_leftover_staged_temp(void **state)
{
	struct fixture *f = *state;
	char buf[64];

	/* a run killed after staging left its temp; the next run stages anew */
	assert_int_equal(atomic_stage_at(f->dirfd, "motd", "first", 5, 0644, ATOMIC_KEEP_OWNER, (gid_t)-1), 0);
	assert_int_equal(atomic_stage_at(f->dirfd, "motd", "second", 6, 0644, ATOMIC_KEEP_OWNER, (gid_t)-1), 0);
	assert_int_equal(atomic_commit_at(f->dirfd, "motd"), 0);
	assert_int_equal(slurp(f, "motd", buf, sizeof(buf)), 6);
	assert_string_equal(buf, "second");
	assert_names(f, "motd");
}

static void aborting_a_staged_write_leaves_the_target_alone(void **state)
{
	struct fixture *f = *state;
	char buf[64];

	put(f, "motd", "old");
	assert_int_equal(atomic_stage_at(f->dirfd, "motd", "new", 3, 0644, ATOMIC_KEEP_OWNER, (gid_t)-1), 0);
	atomic_abort_at(f->dirfd, "motd");
	assert_int_equal(slurp(f, "motd", buf, sizeof(buf)), 3);
	assert_string_equal(buf, "old");
	assert_names(f, "motd");
	assert_true(atomic_commit_at(f->dirfd, "motd") < 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(staged_write_is_invisible_until_committed),
		T(staging_again_replaces_a_leftover_staged_temp),
		T(aborting_a_staged_write_leaves_the_target_alone),
		T(write_creates_a_missing_file),
		T(write_replaces_existing_content_entirely),
		T(write_replaces_the_inode_so_open_readers_keep_the_old_bytes),
		T(empty_and_binary_content_are_written_exactly),
		T(large_content_is_written_whole),
		T(mode_is_set_exactly_whatever_the_umask),
		T(mode_replaces_the_old_files_mode),
		T(special_mode_bits_are_kept),
		T(owner_and_group_are_set_when_given),
		T(symlink_at_the_target_is_replaced_and_its_target_untouched),
		T(dangling_and_absolute_symlinks_are_replaced_too),
		T(repeated_writes_leave_no_temporary_files),
		T(stale_temporary_from_a_killed_run_is_removed_on_next_write),
		T(removed_directory_fails_with_a_negative_errno),
		T(read_only_directory_fails_with_eacces_and_changes_nothing),
		T(directory_at_the_target_fails_and_leaves_no_temporary),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
