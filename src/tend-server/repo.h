/*
 * repo.h - the configuration repository: a bare git repository (libgit2,
 * never a forked git) holding nodes/, tags/, files/, policy/, types/.
 *
 * Everything reads through a snapshot: one git tree, either a commit's
 * (repo_snap_open) or a candidate tree built from edits that is not yet
 * committed (repo_snap_edit, repo_snap_revert).  The server validates a
 * candidate snapshot (compile.h) and only then commits it with
 * repo_commit_snap, which moves the branch only if it still points at
 * the revision the caller edited (optimistic concurrency).
 *
 * Paths are repository-relative ("tags/base.yaml"): no leading '/', no
 * "." or ".." component, no empty component, no NUL, valid UTF-8 (they
 * are JSON strings in answers and history), at most 1024 bytes.
 * repo_path_ok says whether a path from the network is acceptable.
 *
 * Commits carry trailers "Tend-Caller: NAME" and "Tend-Address: ADDR" so
 * that the audit log can be rebuilt from history (repo_log reports them).
 */
#ifndef TEND_SERVER_REPO_H
#define TEND_SERVER_REPO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

#define REPO_OID_HEX 40
#define REPO_PATH_MAX 1024
#define REPO_FILE_MAX ((size_t)16 << 20) /* largest file the API reads or writes */

struct repo;
struct repo_snap;

/*
 * repo_open - open the bare repository at path.  When it does not exist
 * and create is true, create it with a first commit holding a small,
 * commented example layout (nodes/example.yaml, tags/base.yaml, ...).
 * An existing non-bare repository is accepted too (its branch is used,
 * its work tree never touched).  The branch is the one HEAD names
 * (created as "main").  Sets fsync on for git's object and ref writes.
 */
int repo_open(const char *path, bool create, struct repo **ret, struct tend_err *err);
void repo_free(struct repo *r);

/* repo_path_ok - whether p is an acceptable repository path (see above). */
bool repo_path_ok(const char *p);

/*
 * repo_head - the commit the branch points at now (40 hex + NUL).  Cheap;
 * callers use it to notice pushes made with plain git.
 */
int repo_head(struct repo *r, char out[REPO_OID_HEX + 1], struct tend_err *err);

/*
 * repo_resolve - a revision given by a user ("HEAD", "main", full or
 * abbreviated hex (>= 4), "HEAD~2") to a commit id.  -ENOENT when there
 * is no such revision, -EINVAL when the text is not a revision.
 */
int repo_resolve(struct repo *r, const char *rev, char out[REPO_OID_HEX + 1], struct tend_err *err);

/* repo_snap_open - the tree of commit rev (resolved as above; NULL: HEAD). */
int repo_snap_open(struct repo *r, const char *rev, struct repo_snap **ret, struct tend_err *err);
void repo_snap_free(struct repo_snap *s);

/* repo_snap_tree_id - the snapshot's tree id (hex); equal trees, equal ids. */
const char *repo_snap_tree_id(const struct repo_snap *s);
/* repo_snap_commit_id - the commit it was opened at, or NULL for a candidate. */
const char *repo_snap_commit_id(const struct repo_snap *s);

/*
 * repo_snap_read - the bytes of the file at path into out (out is reset
 * first; its limit applies, else REPO_FILE_MAX).  -ENOENT when no file is
 * there (a directory is -EISDIR).
 */
int repo_snap_read(struct repo_snap *s, const char *path, struct buf *out, struct tend_err *err);

/* repo_snap_blob_id - the blob id of the file at path (hex), -ENOENT when none. */
int repo_snap_blob_id(struct repo_snap *s, const char *path, char out[REPO_OID_HEX + 1]);

/*
 * repo_snap_list - files beneath directory dir ("" for all), recursively,
 * sorted by path: a JSON array of {"path","size","blob"}.  A dir that does
 * not exist gives an empty array.
 */
int repo_snap_list(struct repo_snap *s, const char *dir, json_t **ret, struct tend_err *err);

/* One edit of a candidate tree. */
struct repo_edit {
	const char *path;
	const char *data;   /* new content (NULL with remove) */
	size_t len;
	bool remove;        /* delete path; -ENOENT when it is not there */
};

/*
 * repo_snap_edit - a candidate snapshot: base with the edits applied.
 * Nothing is committed; the tree's objects are written to the object
 * database (unreferenced until committed).
 */
int repo_snap_edit(struct repo *r, struct repo_snap *base, const struct repo_edit *e, size_t n,
		   struct repo_snap **ret, struct tend_err *err);

/*
 * repo_snap_revert - a candidate snapshot: the tree of commit head with the
 * changes of commit rev undone (git revert).  -EEXIST when that conflicts
 * with later changes (the message names the files), -ENOENT for no such
 * commit, -EINVAL for a merge commit or the root commit.
 */
int repo_snap_revert(struct repo *r, const char *rev, const char *head, struct repo_snap **ret,
		     struct tend_err *err);

/* Who made a change. */
struct repo_author {
	const char *name;     /* token or identity name */
	const char *email;    /* NULL: NAME@tend */
	const char *address;  /* client address, for the trailer; may be NULL */
};

/*
 * repo_commit_snap - commit candidate s on the branch, with message (a
 * trailer block is appended), parent expect.  The branch is moved only
 * if it still points at expect: otherwise -ESTALE (the caller answers
 * 409) and nothing changes.  A snapshot whose tree equals expect's tree
 * is -EALREADY (nothing to commit).  out gets the new commit id.
 */
int repo_commit_snap(struct repo *r, struct repo_snap *s, const char *expect,
		     const struct repo_author *who, const char *message, char out[REPO_OID_HEX + 1],
		     struct tend_err *err);

/*
 * repo_log - commits reachable from rev (NULL: HEAD), newest first, that
 * touch path (NULL: all), at most limit, skipping skip: a JSON array of
 * {"id","author","email","time" (ISO 8601 UTC),"message","caller","address",
 * "files":[{"path","status":"added|modified|deleted"}]}.
 */
int repo_log(struct repo *r, const char *rev, const char *path, size_t skip, size_t limit,
	     json_t **ret, struct tend_err *err);

/* repo_commit_info - one commit, in repo_log's form. */
int repo_commit_info(struct repo *r, const char *rev, json_t **ret, struct tend_err *err);

/*
 * repo_diff - what changed from revision from to revision to, limited to
 * path (NULL: everything): *ret_files is a JSON array of {"path","status"}
 * and *ret_patch the unified diff (git format), malloc'd.
 */
int repo_diff(struct repo *r, const char *from, const char *to, const char *path,
	      json_t **ret_files, char **ret_patch, struct tend_err *err);

/* ---- packing (repo_pack.c) ---- */

#define REPO_LOOSE_MAX 4000        /* loose objects tolerated before packing */
#define REPO_PACK_CHECK_EVERY 100  /* writes between two counts of them */
#define REPO_PACK_GRACE_S (24 * 3600) /* unreachable objects and old packs kept so long */

struct repo_pack_stats {
	size_t loose_before, loose_after; /* loose objects */
	size_t packed;                    /* objects in the new pack (0: none written) */
	size_t packs_dropped;             /* older packs removed */
};

/*
 * repo_pack - when more than loose_max objects are loose, pack everything
 * the references reach into one pack, then remove the loose objects it
 * holds, and unreachable loose objects and older packs (but those a .keep
 * file keeps) once older than grace_s.  Nothing reachable is ever
 * removed before it is in the new pack.  *ret (may be NULL) says what was
 * done.  0, or -errno with the reason (the repository is left as it was
 * or with one more pack).
 */
int repo_pack(struct repo *r, size_t loose_max, long grace_s, struct repo_pack_stats *ret,
	      struct tend_err *err);

/*
 * repo_pack_check - repo_pack on a thread of its own with its own handle
 * (the defaults above, or repo_pack_limits'), unless one still runs;
 * returns at once.  A failure is logged, nothing more.
 */
void repo_pack_check(struct repo *r);

/*
 * repo_pack_soon - after a commit: repo_pack_check once REPO_PACK_CHECK_EVERY
 * trees and commits were written since the last one.
 */
void repo_pack_soon(struct repo *r);

/* repo_pack_wait - wait for the packing thread, if any (repo_free does). */
void repo_pack_wait(struct repo *r);

/* repo_pack_limits - other thresholds than the defaults for repo_pack_check. */
void repo_pack_limits(struct repo *r, size_t loose_max, long grace_s);

#endif
