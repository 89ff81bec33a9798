/*
 * repo_git.h - what repo.c and repo_history.c share: the repository
 * handle's insides and a few libgit2 helpers.  Private to the repository
 * module; everyone else uses repo.h.
 */
#ifndef TEND_SERVER_REPO_GIT_H
#define TEND_SERVER_REPO_GIT_H

#include <git2.h>
#include <pthread.h>
#include <stdatomic.h>

#include "repo.h"

struct repo {
	git_repository *git;
	char *branch; /* full reference name, "refs/heads/main" */
	/* packing (repo_pack.c) */
	unsigned long writes;  /* trees and commits written */
	unsigned long checked; /* writes when the last packing started */
	size_t loose_max;      /* REPO_LOOSE_MAX, or what repo_pack_limits set */
	long grace_s;          /* REPO_PACK_GRACE_S, ditto */
	pthread_t packer;      /* the packing thread, when packer_started */
	bool packer_started;
	atomic_bool packing;   /* the packing thread has not finished */
};

/* repo_git_fail - a libgit2 error gerr as -errno, with "WHAT: git's message" in err. */
int repo_git_fail(struct tend_err *err, int gerr, const char *what);

/* repo_oid_hex - id as 40 hex digits + NUL. */
void repo_oid_hex(const git_oid *id, char out[REPO_OID_HEX + 1]);

/*
 * repo_lookup_commit - revision text rev (NULL: the branch) to a commit
 * object: -EINVAL for text that is not a revision, -ENOENT for no such
 * commit.
 */
int repo_lookup_commit(struct repo *r, const char *rev, git_commit **ret, struct tend_err *err);

#endif
