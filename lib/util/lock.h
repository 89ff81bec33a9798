/*
 * lock.h - one run at a time per managed root.
 *
 * The lock is an exclusive flock(2) on the root directory itself: nothing
 * is created inside the root (so `tend plan` leaves it byte-identical) and
 * "/x" and "/x/" are one lock because they are one inode.
 */
#ifndef TEND_LOCK_H
#define TEND_LOCK_H

#include <stdbool.h>

#include "util/err.h"

/*
 * root_lock - take the lock on dir.  When another run holds it: with wait,
 * call on_wait(arg) once and block; without, fail with -EWOULDBLOCK.
 * Returns the fd holding the lock (close it to release) or -errno.
 */
int root_lock(const char *dir, bool wait, void (*on_wait)(void *arg), void *arg,
	      struct tend_err *err);

#endif
