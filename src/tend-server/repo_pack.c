/*
 * repo_pack.c - keep the configuration repository's object database from
 * growing without end: what `git gc` does, for a repository that
 * tend-server writes and administrators may also push to.
 *
 * Every write through the API adds loose objects (a blob, the trees on
 * its path, a commit), each its own fsynced file, and so does a refused
 * write (its candidate tree is written before it is checked).  Once more
 * than loose_max are loose, repo_pack writes one pack of everything any
 * reference reaches (libgit2's packbuilder, fsynced like every other
 * write), and only then removes:
 *   - the loose objects that pack holds;
 *   - loose objects nothing reaches, once older than grace_s (one a push
 *     in progress just wrote is younger);
 *   - the packs made before, once older than grace_s and not kept by a
 *     .keep file: what they hold that is reachable is in the new pack.
 * "Reach" counts references and their reflogs.  In a repository with a
 * work tree only the first kind goes: its index may name objects that
 * nothing else reaches.
 * A reader that opened an old pack before it went keeps reading it (the
 * file lives while open); libgit2's object database is refreshed after.
 *
 * repo_pack works on the handle it is given, and its caller serialises
 * it with that handle's other users.  The server never waits for it:
 * repo_pack_check runs it on a thread of its own, with a handle of its
 * own (libgit2 handles are not shared between threads), while requests go
 * on.  That is safe because nothing reachable leaves before it is in the
 * new pack, what requests write meanwhile is younger than the grace, and
 * libgit2 looks again for packs when an object is not where it was.
 * Packing 11,000 loose objects took 11 s here (libgit2 maps and unmaps
 * each loose object several times).
 */
#include "repo.h"
#include "repo_git.h"

#include <dirent.h>
#include <errno.h>
#include <git2.h>
#include <git2/sys/odb_backend.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/log.h"

/* objects_dir - the repository's objects directory into b. */
static int objects_dir(struct repo *r, struct buf *b)
{
	buf_reset(b);
	return buf_printf(b, "%sobjects", git_repository_path(r->git));
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

/*
 * loose_each - call fn for every loose object (its id and path) under
 * objects; stops at fn's first non-zero return.  Counts them in *count.
 */
static int loose_each(const char *objects, size_t *count,
		      int (*fn)(const git_oid *id, const char *path, void *arg), void *arg)
{
	char dir[4096], path[4200], hex[GIT_OID_HEXSZ + 1];

	*count = 0;
	for (int i = 0; i < 256; i++) {
		struct dirent *e;
		DIR *d;

		snprintf(dir, sizeof(dir), "%s/%02x", objects, i);
		if (!(d = opendir(dir)))
			continue;
		while ((e = readdir(d))) {
			git_oid id;
			int r;

			if (!is_hex(e->d_name, GIT_OID_HEXSZ - 2))
				continue;
			(*count)++;
			if (!fn)
				continue;
			/* d_name is the id's other 38 hex digits (is_hex) */
			snprintf(hex, 3, "%02x", i);
			memcpy(hex + 2, e->d_name, GIT_OID_HEXSZ - 2 + 1);
			if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >=
			    sizeof(path))
				continue;
			if (git_oid_fromstr(&id, hex) == 0 && (r = fn(&id, path, arg)) != 0) {
				closedir(d);
				return r;
			}
		}
		closedir(d);
	}
	return 0;
}

/* add_object - id and what it reaches into pb (a commit: through walk). */
static int add_object(struct repo *r, git_packbuilder *pb, git_revwalk *walk, const git_oid *id)
{
	git_object *o = NULL, *commit = NULL;
	int rc = git_object_lookup(&o, r->git, id, GIT_OBJECT_ANY);

	if (rc < 0)
		return rc;
	/* an annotated tag is an object of its own */
	if (git_object_type(o) == GIT_OBJECT_TAG)
		rc = git_packbuilder_insert(pb, id, NULL);
	if (rc == 0 && git_object_peel(&commit, o, GIT_OBJECT_COMMIT) == 0)
		rc = git_revwalk_push(walk, git_object_id(commit));
	else if (rc == 0) /* a tag of a tree or a blob */
		rc = git_packbuilder_insert_recur(pb, id, NULL);
	git_object_free(commit);
	git_object_free(o);
	return rc;
}

/* add_reflog - the commits name's reflog remembers, if it has one and they are there. */
static int add_reflog(struct repo *r, git_packbuilder *pb, git_revwalk *walk, const char *name)
{
	git_reflog *log = NULL;
	int rc = 0;

	if (git_reflog_read(&log, r->git, name) < 0)
		return 0; /* none */
	for (size_t i = 0; rc == 0 && i < git_reflog_entrycount(log); i++) {
		const git_reflog_entry *e = git_reflog_entry_byindex(log, i);
		const git_oid *ids[] = { git_reflog_entry_id_old(e), git_reflog_entry_id_new(e) };

		for (size_t j = 0; rc == 0 && j < 2; j++) {
			git_object *o = NULL;

			/* an entry whose commit is gone is git's business, not a reason to stop */
			if (!git_oid_is_zero(ids[j]) &&
			    git_object_lookup(&o, r->git, ids[j], GIT_OBJECT_ANY) == 0)
				rc = add_object(r, pb, walk, ids[j]);
			git_object_free(o);
		}
	}
	git_reflog_free(log);
	return rc;
}

/*
 * add_reachable - into pb, everything a reference or a reflog reaches.
 * Any reference whose object cannot be read stops it all: what it reaches
 * would otherwise look unreachable and, once old, be removed.
 */
static int add_reachable(struct repo *r, git_packbuilder *pb, struct tend_err *err)
{
	git_reference_iterator *it = NULL;
	git_revwalk *walk = NULL;
	git_reference *ref;
	const char *what = "cannot list what the references reach";
	int rc;

	if ((rc = git_revwalk_new(&walk, r->git)) < 0 ||
	    (rc = git_reference_iterator_new(&it, r->git)) < 0)
		goto out;
	while ((rc = git_reference_next(&ref, it)) == 0) {
		/* a symbolic reference's target is listed on its own */
		if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
		    (rc = add_object(r, pb, walk, git_reference_target(ref))) == 0)
			rc = add_reflog(r, pb, walk, git_reference_name(ref));
		if (rc < 0) {
			repo_git_fail(err, rc, git_reference_name(ref));
			git_reference_free(ref);
			what = NULL; /* said */
			goto out;
		}
		git_reference_free(ref);
	}
	if (rc == GIT_ITEROVER && (rc = add_reflog(r, pb, walk, "HEAD")) == 0)
		rc = git_packbuilder_insert_walk(pb, walk);
out:
	git_reference_iterator_free(it);
	git_revwalk_free(walk);
	if (rc >= 0)
		return 0;
	return what ? repo_git_fail(err, rc, what) : -EIO;
}

struct sweep {
	git_odb *pack; /* the new pack alone */
	time_t before; /* unreachable loose objects older than this go */
	size_t removed;
};

static int sweep_one(const git_oid *id, const char *path, void *arg)
{
	struct sweep *s = arg;
	struct stat st;

	if (git_odb_exists(s->pack, id) ||
	    (stat(path, &st) == 0 && st.st_mtime <= s->before)) {
		if (unlink(path) == 0)
			s->removed++;
	}
	return 0;
}

/* drop_old_packs - packs other than keep_name older than before, without a .keep. */
static size_t drop_old_packs(const char *objects, const char *keep_name, time_t before)
{
	static const char *const exts[] = { ".idx", ".rev", ".bitmap", ".mtimes", ".pack" };
	char dir[4096], path[4400], base[300];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/pack", objects);
	if (!(d = opendir(dir)))
		return 0;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		struct stat st;

		if (len < 10 || strncmp(e->d_name, "pack-", 5) || strcmp(e->d_name + len - 5, ".pack"))
			continue;
		if (len - 5 >= sizeof(base))
			continue;
		memcpy(base, e->d_name, len - 5);
		base[len - 5] = '\0';
		if (!strcmp(base + 5, keep_name))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s.keep", dir, base) >= sizeof(path) ||
		    access(path, F_OK) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) < 0 || st.st_mtime > before)
			continue;
		/* the index first: without it the pack is not used */
		for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s%s", dir, base, exts[i]);
			unlink(path);
		}
		n++;
	}
	closedir(d);
	return n;
}

/* one_pack_odb - an object database of the pack at idx alone. */
static int one_pack_odb(const char *idx, git_odb **ret)
{
	git_odb_backend *one = NULL;
	git_odb *odb = NULL;
	int rc = git_odb_backend_one_pack(&one, idx);

	if (rc == 0 && (rc = git_odb_new(&odb)) == 0 && (rc = git_odb_add_backend(odb, one, 1)) == 0) {
		*ret = odb;
		return 0;
	}
	if (one)
		one->free(one);
	git_odb_free(odb);
	return rc;
}

int repo_pack(struct repo *r, size_t loose_max, long grace_s, struct repo_pack_stats *ret,
	      struct tend_err *err)
{
	struct repo_pack_stats st = { 0 };
	struct buf objects = BUF_INIT, idx = BUF_INIT;
	git_packbuilder *pb = NULL;
	git_odb *odb = NULL, *mine = NULL;
	struct sweep sw = { 0 };
	size_t seen = 0;
	bool bare;
	int rc = 0;

	if (objects_dir(r, &objects) < 0)
		return err_set(err, -ENOMEM, "out of memory");
	loose_each(buf_str(&objects), &st.loose_before, NULL, NULL);
	st.loose_after = st.loose_before;
	if (st.loose_before <= loose_max)
		goto out;
	if ((rc = git_packbuilder_new(&pb, r->git)) < 0) {
		rc = repo_git_fail(err, rc, "cannot pack the repository");
		goto out;
	}
	git_packbuilder_set_threads(pb, 1);
	if ((rc = add_reachable(r, pb, err)) < 0)
		goto out;
	if ((rc = git_packbuilder_write(pb, NULL, 0, NULL, NULL)) < 0) {
		rc = repo_git_fail(err, rc, "cannot write the pack");
		goto out;
	}
	st.packed = git_packbuilder_object_count(pb);
	if (buf_printf(&idx, "%s/pack/pack-%s.idx", buf_str(&objects),
		       git_packbuilder_name(pb)) < 0) {
		rc = err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = one_pack_odb(buf_str(&idx), &mine)) < 0) {
		rc = repo_git_fail(err, rc, "cannot read the new pack");
		goto out;
	}
	/* a work tree's index may name objects no reference reaches: there,
	 * only what the new pack holds goes */
	bare = git_repository_is_bare(r->git);
	sw = (struct sweep){ mine, bare ? time(NULL) - grace_s : 0, 0 };
	loose_each(buf_str(&objects), &seen, sweep_one, &sw);
	st.loose_after = seen - sw.removed;
	if (bare)
		st.packs_dropped = drop_old_packs(buf_str(&objects), git_packbuilder_name(pb),
						  time(NULL) - grace_s);
	if (git_repository_odb(&odb, r->git) == 0)
		git_odb_refresh(odb);
	log_info("repository packed: %zu objects in one pack, %zu loose objects removed "
		 "(%zu left), %zu older packs removed",
		 st.packed, sw.removed, st.loose_after, st.packs_dropped);
out:
	if (ret)
		*ret = st;
	git_odb_free(odb);
	git_odb_free(mine);
	git_packbuilder_free(pb);
	buf_free(&objects);
	buf_free(&idx);
	return rc;
}

void repo_pack_limits(struct repo *r, size_t loose_max, long grace_s)
{
	r->loose_max = loose_max;
	r->grace_s = grace_s;
}

/* packer - the packing thread: its own handle on the repository, never r's. */
static void *packer(void *arg)
{
	struct repo *r = arg, own = { 0 };
	struct tend_err err = { "" };
	int rc = git_repository_open_ext(&own.git, git_repository_path(r->git),
					 GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);

	if (rc < 0)
		repo_git_fail(&err, rc, git_repository_path(r->git));
	if (rc < 0 || repo_pack(&own, r->loose_max, r->grace_s, NULL, &err) < 0)
		log_warnx("packing the repository: %s (it stays as it is)", err.msg);
	git_repository_free(own.git);
	atomic_store(&r->packing, false);
	return NULL;
}

void repo_pack_wait(struct repo *r)
{
	if (r->packer_started)
		pthread_join(r->packer, NULL);
	r->packer_started = false;
}

void repo_pack_check(struct repo *r)
{
	r->checked = r->writes;
	if (atomic_load(&r->packing))
		return; /* one at a time */
	repo_pack_wait(r);
	atomic_store(&r->packing, true);
	if (pthread_create(&r->packer, NULL, packer, r) != 0) {
		atomic_store(&r->packing, false);
		log_warnx("cannot start a thread to pack the repository");
		return;
	}
	r->packer_started = true;
}

void repo_pack_soon(struct repo *r)
{
	if (r->writes - r->checked >= REPO_PACK_CHECK_EVERY)
		repo_pack_check(r);
}
