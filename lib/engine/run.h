/*
 * run.h - one run of the engine over a catalog: analyze (probe, nothing
 * written), plan (the changes), apply (in dependency order, dependents of
 * a failure skipped, notifications delivered once), verify (re-probe what
 * changed).
 */
#ifndef TEND_RUN_H
#define TEND_RUN_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "model/catalog.h"
#include "util/err.h"
#include "util/fsroot.h"
#include "util/userdb.h"

struct run_summary {
	size_t total, ok, changed, failed, skipped, unknown;
	size_t not_converged;
	double ms;
};

struct run {
	struct catalog *cat;
	struct res_ctx ctx;
	struct fsroot root;
	struct userdb users;
	struct resource **order;
	struct run_summary sum;
	bool plan;
	double started_ms;
	/* staged writes waiting for the batch commit */
	struct run_staged {
		struct resource *r;
		char *path;          /* NULL: r->name */
	} *staged;
	size_t nstaged, staged_cap;
	/* filesystems with staged files or changed directories, and a
	 * directory open on each (for syncfs) */
	dev_t devs[16];
	int devfds[16];
	size_t ndevs;
	struct res_stager stager;
	/* called after each resource's outcome is known (for live output) */
	void (*on_result)(struct run *run, struct resource *r, void *arg);
	void *arg;
	/* forget_changes - drop each resource's change list once on_result has
	 * shown it (text output): a large run then does not hold every diff
	 * until the end.  Leave false when a report is built afterwards. */
	bool forget_changes;
};

struct run_opts {
	const char *root;            /* "/" when NULL */
	bool plan;
	double default_timeout;      /* exec timeout; 300 s when 0 */
	size_t output_max;           /* captured output per command; 64 KiB when 0 */
};

/*
 * run_prepare - open the root, build the template context (the catalog's
 * vars plus facts under "facts"; facts is borrowed), decode and check
 * every resource, gather inputs (sources, templates) and order the graph.
 * Any error here is an input error: nothing has been written.  Once it
 * succeeds, the resources' raw attributes and relations as written are
 * gone (nattrs 0, rel NULL): the run needs only what was decoded.
 */
int run_prepare(struct run *run, struct catalog *cat, const struct run_opts *o, json_t *facts,
		struct tend_err *err);

/* run_plan - analyze and plan every resource; never writes. */
void run_plan(struct run *run);

/* run_apply - analyze, apply and verify.  Caller holds the root lock. */
void run_apply(struct run *run);

/* run_finish - count the outcomes into run->sum (after plan or apply). */
void run_finish(struct run *run);

void run_free(struct run *run);

/* run_now_ms - monotonic milliseconds. */
double run_now_ms(void);

#endif
