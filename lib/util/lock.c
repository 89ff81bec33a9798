/*
 * lock.c - the per-root run lock (see lock.h).
 */
#include "util/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int root_lock(const char *dir, bool wait, void (*on_wait)(void *arg), void *arg,
	      struct tend_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return err_set(err, -errno, "root %s: %s", dir, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	if (errno != EWOULDBLOCK) {
		int r = -errno;

		close(fd);
		return err_set(err, r, "cannot lock %s: %s", dir, strerror(-r));
	}
	if (!wait) {
		close(fd);
		return err_set(err, -EWOULDBLOCK, "another tend run holds the lock on %s", dir);
	}
	if (on_wait)
		on_wait(arg);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int r = -errno;

			close(fd);
			return err_set(err, r, "cannot lock %s: %s", dir, strerror(-r));
		}
	}
	return fd;
}
