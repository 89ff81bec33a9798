/*
 * run.c - the engine's four phases over a catalog (see run.h).
 *
 * Each resource is analyzed (probe, diff) just before it is applied, in
 * dependency order, so what an earlier resource changed (a directory it
 * created) is seen by a later one, and no more than one resource's current
 * content is held in memory at a time.  After the last apply, everything
 * that changed is probed again: a resource that still differs did not
 * converge and the run says so.
 */
#include "engine/run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/graph.h"
#include "model/schema.h"
#include "util/atomic.h"
#include "util/strutil.h"

/* writes staged before a commit: bounded so a commit's syncfs stays short */
#define RUN_STAGE_MAX 4096

double run_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * forget_sources - drop what only decoding and ordering needed: the raw
 * attributes (kept for their positions) and the relations as written.
 * Nothing after run_prepare reports an input error, and what the apply
 * allocates (changes, staged writes) reuses the room.
 */
static void forget_sources(struct catalog *cat)
{
	for (size_t i = 0; i < cat->n; i++) {
		struct resource *res = cat->res[i];

		for (size_t k = 0; k < res->nattrs; k++)
			json_decref(res->attrs[k].val);
		free(res->attrs);
		res->attrs = NULL;
		res->nattrs = 0;
		if (res->rel) {
			strlist_free(&res->rel->requires);
			strlist_free(&res->rel->before);
			strlist_free(&res->rel->notify);
			strlist_free(&res->rel->subscribe);
			free(res->rel);
			res->rel = NULL;
		}
	}
}

int run_prepare(struct run *run, struct catalog *cat, const struct run_opts *o, json_t *facts,
		struct tend_err *err)
{
	int r;

	memset(run, 0, sizeof(*run));
	run->started_ms = run_now_ms();
	run->cat = cat;
	run->plan = o->plan;
	userdb_init(&run->users);
	r = fsroot_open(&run->root, o->root ? o->root : "/", err);
	if (r < 0)
		return r;
	run->ctx.cat = cat;
	run->ctx.root = &run->root;
	run->ctx.users = &run->users;
	run->ctx.plan = o->plan;
	run->ctx.default_timeout = o->default_timeout > 0 ? o->default_timeout : 300;
	run->ctx.output_max = o->output_max ? o->output_max : (size_t)64 << 10;
	run->ctx.tmpl = json_copy(cat->vars);
	if (facts)
		json_object_set(run->ctx.tmpl, "facts", facts);
	catalog_share_end(cat);
	for (size_t i = 0; i < cat->n; i++) {
		struct resource *res = cat->res[i];

		r = schema_decode(res, &run->ctx, err);
		if (r < 0)
			return r;
		/* decoded: the raw values are not needed again (their positions are) */
		for (size_t k = 0; k < res->nattrs; k++) {
			json_decref(res->attrs[k].val);
			res->attrs[k].val = NULL;
		}
	}
	/* prepare may look at other resources' decoded attributes (a group at
	 * the users it lists): every resource is decoded first */
	for (size_t i = 0; i < cat->n; i++) {
		struct resource *res = cat->res[i];

		if (res->type->prepare && (r = res->type->prepare(res, &run->ctx, err)) < 0)
			return r;
	}
	r = graph_build(cat, &run->order, err);
	if (r == 0)
		forget_sources(cat);
	return r;
}

/* analyze - probe and diff one resource; status ends OK, CHANGE, UNKNOWN or FAILED. */
static void analyze(struct run *run, struct resource *r)
{
	int ret;

	res_clear_changes(r);
	free(r->message);
	r->message = NULL;
	r->status = RES_PENDING;
	/* probe state lives only while the resource is being worked on */
	if (!r->state)
		r->state = xcalloc(1, r->type->state_size ? r->type->state_size : 1);
	ret = r->type->probe(r, &run->ctx);
	if (ret < 0 || r->status == RES_FAILED || r->status == RES_UNKNOWN) {
		if (r->status == RES_PENDING)
			res_fail(r, "probe failed: %s", strerror(-ret));
		return;
	}
	ret = r->type->diff(r, &run->ctx);
	if (ret < 0 && r->status == RES_PENDING)
		res_fail(r, "%s", strerror(-ret));
	if (r->status != RES_PENDING)
		return;
	r->status = r->nchanges ? RES_CHANGE : RES_OK;
}

static struct resource *failed_dep(const struct resource *r)
{
	for (size_t i = 0; i < r->ndeps; i++)
		if (r->deps[i]->status == RES_FAILED || r->deps[i]->status == RES_SKIPPED)
			return r->deps[i];
	return NULL;
}

static void notify_targets(struct resource *r)
{
	for (size_t i = 0; i < r->nnotifies; i++)
		r->notifies[i]->notified = true;
}

static void done(struct run *run, struct resource *r, double t0)
{
	r->elapsed_ms = run_now_ms() - t0;
	if (run->on_result)
		run->on_result(run, r, run->arg);
	if (run->forget_changes && run->on_result)
		res_clear_changes(r);
}

/* release - drop the probe state of a resource that will not be looked at again. */
static void release(struct resource *r)
{
	if (!r->state)
		return;
	if (r->type->free_state)
		r->type->free_state(r);
	free(r->state);
	r->state = NULL;
}

void run_plan(struct run *run)
{
	for (size_t i = 0; i < run->cat->n; i++) {
		struct resource *r = run->order[i];
		double t0 = run_now_ms();

		analyze(run, r);
		if (r->status == RES_OK && r->notified && r->type->refresh) {
			res_change(r, "refresh", NULL, "notified");
			r->status = RES_CHANGE;
		}
		if (r->status == RES_CHANGE || r->status == RES_UNKNOWN)
			notify_targets(r);
		release(r);
		done(run, r, t0);
	}
}

static void apply_one(struct run *run, struct resource *r)
{
	struct resource *dep = failed_dep(r);
	int ret;

	if (dep) {
		free(r->message);
		r->message = NULL;
		res_fail(r, "dependency %s %s", dep->id, dep->status == RES_FAILED ? "failed" : "was skipped");
		r->status = RES_SKIPPED;
		return;
	}
	analyze(run, r);
	if (r->status == RES_FAILED)
		return;
	if (r->status == RES_UNKNOWN) {
		r->status = RES_FAILED;
		return;
	}
	if (r->status == RES_CHANGE) {
		ret = r->type->apply(r, &run->ctx);
		r->status = ret < 0 || r->status == RES_FAILED ? RES_FAILED : RES_CHANGED;
		if (r->status == RES_FAILED && !r->message)
			res_fail(r, "%s", strerror(-ret));
	} else if (r->notified && r->type->refresh) {
		res_change(r, "refresh", NULL, "notified");
		ret = r->type->refresh(r, &run->ctx);
		r->status = ret < 0 || r->status == RES_FAILED ? RES_FAILED : RES_CHANGED;
	}
	/* what changed may have removed or replaced directories (a directory
	 * resource, a command): drop the cached parent directory */
	if ((r->status == RES_CHANGED || r->status == RES_FAILED) && !r->type->keeps_dirs)
		fsroot_forget(&run->root);
	if (r->status == RES_CHANGED)
		notify_targets(r);
}

/* verify - probe a changed resource again; anything still different failed to converge. */
static void verify(struct run *run, struct resource *r)
{
	struct change *saved = r->changes;
	size_t nsaved = r->nchanges;
	struct buf what;

	r->changes = NULL;
	r->nchanges = 0;
	r->status = RES_PENDING;
	analyze(run, r);
	buf_init(&what, 4096);
	for (size_t i = 0; i < r->nchanges; i++)
		buf_printf(&what, "%s%s", i ? ", " : "", r->changes[i].what);
	if (r->status == RES_OK) {
		r->status = RES_CHANGED;
	} else {
		char *msg = xstrdup(r->message);

		res_fail(r, "did not converge: %s", msg ? msg : buf_str(&what));
		free(msg);
		r->converged_checked = true;
		run->sum.not_converged++;
	}
	buf_free(&what);
	res_clear_changes(r);
	r->changes = saved;
	r->nchanges = nsaved;
}

/* note_dev - remember dirfd's filesystem for the batch commit's syncfs. */
static int note_dev(struct run *run, int dirfd)
{
	struct stat st;
	size_t k;

	if (fstat(dirfd, &st) < 0)
		return -errno;
	for (k = 0; k < run->ndevs && run->devs[k] != st.st_dev; k++)
		;
	if (k < run->ndevs)
		return 0;
	if (run->ndevs == sizeof(run->devs) / sizeof(run->devs[0]))
		return -E2BIG; /* the caller makes its change durable at once */
	run->devfds[k] = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (run->devfds[k] < 0)
		return -errno;
	run->devs[run->ndevs++] = st.st_dev;
	return 0;
}

static int stage_add(void *arg, struct resource *r, const char *path, int dirfd)
{
	struct run *run = arg;
	int ret = note_dev(run, dirfd);

	if (ret < 0)
		return ret;
	if (run->nstaged == run->staged_cap) {
		run->staged_cap = run->staged_cap ? 2 * run->staged_cap : 64;
		run->staged = xrealloc(run->staged, run->staged_cap * sizeof(*run->staged));
	}
	run->staged[run->nstaged].r = r;
	/* the path is most often the resource's name: no copy then */
	run->staged[run->nstaged].path = strcmp(path, r->name) ? xstrdup(path) : NULL;
	run->nstaged++;
	r->staged = true;
	return 0;
}

static int stage_dirty(void *arg, int dirfd)
{
	return note_dev(arg, dirfd);
}

/* sync_devs - syncfs once per filesystem noted since the last commit. */
static void sync_devs(struct run *run)
{
	for (size_t d = 0; d < run->ndevs; d++)
		syncfs(run->devfds[d]);
}

static void forget_devs(struct run *run)
{
	for (size_t d = 0; d < run->ndevs; d++)
		close(run->devfds[d]);
	run->ndevs = 0;
}

/*
 * commit - make every staged write durable (one syncfs per filesystem),
 * rename each over its target, make the renames durable, and finish the
 * resources.  A rename that fails fails its resource.  Directory entries
 * changed since the last commit (res_sync_dir) become durable with the
 * same syncfs; final (the end of the run) syncs them even with nothing
 * staged.
 */
static void commit(struct run *run, bool final)
{
	if (!run->nstaged) {
		/* only directory entries changed: they are visible already and
		 * become durable with the next batch, or here at the end */
		if (final) {
			sync_devs(run);
			forget_devs(run);
		}
		return;
	}
	sync_devs(run);
	for (size_t i = 0; i < run->nstaged; i++) {
		struct run_staged *st = &run->staged[i];
		const char *path = st->path ? st->path : st->r->name, *base;
		int dirfd, ret;

		ret = fsroot_parent(&run->root, path, &dirfd, &base);
		if (ret == 0)
			ret = atomic_commit_at(dirfd, base);
		if (ret < 0) {
			res_fail(st->r, "cannot write %s: %s", path, strerror(-ret));
			st->r->status = RES_FAILED;
		}
	}
	sync_devs(run);
	for (size_t i = 0; i < run->nstaged; i++) {
		struct resource *r = run->staged[i].r;

		r->staged = false;
		release(r); /* verify probes afresh */
		done(run, r, run_now_ms());
		free(run->staged[i].path);
	}
	run->nstaged = 0;
	forget_devs(run);
}

static bool finished(const struct resource *r)
{
	return r->status == RES_OK || r->status == RES_CHANGED;
}

static bool in_batch(struct resource **b, size_t n, const struct resource *r)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] == r)
			return true;
	return false;
}

/*
 * apply_batched - r (analyzed, RES_CHANGE) has a type that applies in
 * batches: gather every later resource of that type whose dependencies
 * are all finished or in the batch, analyze it, and apply all that need a
 * change in one call.  Those that turn out fine or failed on analysis are
 * finished here too.
 */
static void apply_batched(struct run *run, size_t at)
{
	struct resource *r = run->order[at], **batch;
	size_t n = 0;
	int ret;

	batch = xcalloc(run->cat->n - at, sizeof(*batch));
	batch[n++] = r;
	for (size_t j = at + 1; j < run->cat->n; j++) {
		struct resource *q = run->order[j];
		bool ok = q->type == r->type && q->status == RES_PENDING;
		double t0 = run_now_ms();

		for (size_t k = 0; ok && k < q->ndeps; k++)
			ok = finished(q->deps[k]) || in_batch(batch, n, q->deps[k]);
		if (!ok)
			continue;
		analyze(run, q);
		if (q->status == RES_CHANGE) {
			batch[n++] = q;
			continue;
		}
		if (q->status == RES_UNKNOWN)
			q->status = RES_FAILED;
		release(q);
		done(run, q, t0);
	}
	ret = r->type->apply_batch(batch, n, &run->ctx);
	for (size_t i = 0; i < n; i++) {
		struct resource *q = batch[i];

		if (q->status == RES_CHANGE)
			q->status = ret < 0 ? RES_FAILED : RES_CHANGED;
		if (q->status == RES_FAILED && !q->message)
			res_fail(q, "%s", strerror(ret < 0 ? -ret : EIO));
		if (q->status == RES_CHANGED)
			notify_targets(q);
	}
	fsroot_forget(&run->root);
	for (size_t i = 1; i < n; i++) {
		release(batch[i]);
		done(run, batch[i], run_now_ms());
	}
	free(batch);
}

void run_apply(struct run *run)
{
	run->stager.add = stage_add;
	run->stager.dirty = stage_dirty;
	run->stager.arg = run;
	run->ctx.stager = &run->stager;
	for (size_t i = 0; i < run->cat->n; i++) {
		struct resource *r = run->order[i];
		double t0 = run_now_ms();

		if (r->status != RES_PENDING)
			continue; /* finished in an earlier batch */
		/* others see the filesystem only as committed */
		if (!r->type->staging_ok || run->nstaged >= RUN_STAGE_MAX)
			commit(run, false);
		if (r->type->apply_batch && !failed_dep(r)) {
			analyze(run, r);
			if (r->status == RES_CHANGE)
				apply_batched(run, i);
			else if (r->status == RES_UNKNOWN)
				r->status = RES_FAILED;
		} else {
			apply_one(run, r);
		}
		/* the probe state goes now, for every resource: verify probes afresh */
		release(r);
		if (r->staged)
			continue; /* finished by commit() */
		done(run, r, t0);
	}
	commit(run, true);
	run->ctx.stager = NULL;
	for (size_t i = 0; i < run->cat->n; i++) {
		struct resource *r = run->order[i];

		if (r->status != RES_CHANGED || !r->type->verify)
			continue;
		verify(run, r);
		release(r);
		if (r->status == RES_FAILED && run->on_result)
			run->on_result(run, r, run->arg);
	}
}

static void summarize(struct run *run)
{
	struct run_summary *s = &run->sum;

	s->total = run->cat->n;
	s->ok = s->changed = s->failed = s->skipped = s->unknown = 0;
	for (size_t i = 0; i < run->cat->n; i++) {
		switch (run->cat->res[i]->status) {
		case RES_OK:
			s->ok++;
			break;
		case RES_CHANGE:
		case RES_CHANGED:
			s->changed++;
			break;
		case RES_UNKNOWN:
			s->unknown++;
			break;
		case RES_FAILED:
			s->failed++;
			break;
		case RES_SKIPPED:
			s->skipped++;
			break;
		default:
			break;
		}
	}
	s->ms = run_now_ms() - run->started_ms;
}

void run_finish(struct run *run)
{
	summarize(run);
}

void run_free(struct run *run)
{
	for (size_t i = 0; i < run->nstaged; i++)
		free(run->staged[i].path);
	free(run->staged);
	res_cache_free_all(&run->ctx);
	json_decref(run->ctx.tmpl);
	free(run->order);
	userdb_free(&run->users);
	if (run->root.path)
		fsroot_close(&run->root);
	run->order = NULL;
}
