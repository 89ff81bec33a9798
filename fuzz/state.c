/*
 * state.c - the directory a fuzz target keeps its state in (see
 * fuzz.h): on tmpfs when there is one, so that a commit per input costs
 * no fsync, and removed with everything in it when the process exits.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"

static char state_dir[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void remove_state(void)
{
	nftw(state_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_state_dir(const char *name)
{
	if (state_dir[0])
		return state_dir;
	snprintf(state_dir, sizeof(state_dir), "%s/tend-fuzz-%s-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", name);
	if (!mkdtemp(state_dir)) {
		perror("fuzz: mkdtemp");
		state_dir[0] = '\0';
		return NULL;
	}
	atexit(remove_state);
	return state_dir;
}
