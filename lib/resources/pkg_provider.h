/*
 * pkg_provider.h - what the `package` type (package.c) asks of a package
 * manager, and the package sets both sides exchange.
 *
 * A provider (dpkg/apt in pkg_dpkg.c, rpm/dnf in pkg_rpm.c) answers four
 * questions, each with one command or one file read per run: what is
 * installed, what the configured sources offer for a list of names, how
 * old the source lists are, and it runs one transaction for many
 * packages.  Everything about ensure semantics (present, absent, latest,
 * a version) lives in package.c, so both providers behave alike.
 */
#ifndef TEND_PKG_PROVIDER_H
#define TEND_PKG_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

#include "model/resource.h"
#include "util/proc.h"

struct fsroot;

/* Output kept from one package-manager command, and the longest line kept in a reason. */
#define PKG_WHY_MAX 1024

/*
 * One package in a set.  In an installed set, version is the installed
 * version.  In an available set, version is the candidate (what an
 * install or upgrade would pick; NULL when nothing is installable) and
 * versions lists every version a source offers.
 */
struct pkg_entry {
	char *key;        /* "name", and also "name:arch" (dpkg) or "name.arch" (rpm) */
	char *version;
	char **versions;
	size_t nversions;
	size_t idx;       /* insertion order, to keep the first of equal keys */
};

/* A set of packages, sorted by key once pkg_set_finish ran. */
struct pkg_set {
	struct pkg_entry *v;
	size_t n, cap;
};

/*
 * pkg_set_add - add an entry (key and version copied; version may be NULL)
 * and return it, to add versions to.  Call pkg_set_finish before finding.
 */
struct pkg_entry *pkg_set_add(struct pkg_set *s, const char *key, const char *version);

/* pkg_entry_add_version - append v to e's offered versions (duplicates ignored). */
void pkg_entry_add_version(struct pkg_entry *e, const char *v);

/*
 * pkg_set_finish - sort by key and merge entries with equal keys into the
 * first added: their versions are pooled; with vercmp, the highest
 * version wins (rpm: several kernels; dnf: one line per version), without
 * it the first added wins (dpkg: the native architecture).
 */
void pkg_set_finish(struct pkg_set *s, int (*vercmp)(const char *, const char *));

/* pkg_set_find - the entry for key, or NULL.  The set must be finished. */
const struct pkg_entry *pkg_set_find(const struct pkg_set *s, const char *key);

/* pkg_set_free - release the set; s is left empty.  NULL-safe. */
void pkg_set_free(struct pkg_set *s);

/* How a provider runs commands for the current run. */
struct pkg_prov_ctx {
	const char *root;     /* host path of the managed root; "" for the host's "/" */
	const struct fsroot *froot; /* the same root, to look beneath it */
	double timeout;       /* seconds a command may take */
	size_t output_max;    /* bytes of output kept */
	bool plan;            /* read-only: commands must not write (apt-cache's cache, dnf's metadata) */
};

enum pkg_op_kind {
	PKG_OP_INSTALL,       /* not installed: install (version or the candidate) */
	PKG_OP_UPGRADE,       /* installed: to version, or to the candidate */
	PKG_OP_DOWNGRADE,     /* installed: to the older version */
	PKG_OP_REMOVE,
};

struct pkg_op {
	enum pkg_op_kind kind;
	const char *name;
	const char *version;  /* exact version as the source lists it, or NULL: the candidate */
};

struct pkg_provider {
	const char *name;     /* "dpkg" */
	const char *tool;     /* what runs transactions, for messages: "apt-get" */
	const char *lists;    /* what refresh updates, for messages: "apt lists" */
	/*
	 * load_installed - every installed package of the root into ret
	 * (finished).  0, or -errno with a reason in why.
	 */
	int (*load_installed)(struct res_ctx *ctx, const struct pkg_prov_ctx *pc, struct pkg_set *ret,
			      char *why, size_t whylen);
	/*
	 * load_available - what the sources offer for names (one command for
	 * all); names no source knows are simply absent from ret.  With
	 * pc->plan nothing is written.  0, or -errno with a reason in why.
	 */
	int (*load_available)(const struct pkg_prov_ctx *pc, char *const *names, size_t n,
			      struct pkg_set *ret, char *why, size_t whylen);
	/*
	 * lists_age - seconds since the source lists were last refreshed;
	 * -ENOENT when there are none.  NULL: the tool keeps its own lists
	 * fresh (dnf's metadata_expire).
	 */
	int (*lists_age)(struct res_ctx *ctx, double *ret_seconds);
	/* refresh - update the source lists (apt-get update).  0 when it ran; res holds its output. */
	int (*refresh)(const struct pkg_prov_ctx *pc, struct proc_result *res, char *why, size_t whylen);
	/*
	 * transact - apply every op in one transaction.  0 when the command
	 * ran and succeeded; -EIO when it failed (why: the tool's last error
	 * lines); other -errno when it could not run.  res holds the output
	 * whenever the command ran (free it with proc_result_free).
	 */
	int (*transact)(const struct pkg_prov_ctx *pc, const struct pkg_op *ops, size_t n,
			struct proc_result *res, char *why, size_t whylen);
	/* vercmp - <0, 0, >0 as version a sorts before, with, after b. */
	int (*vercmp)(const char *a, const char *b);
	/* version_matches - whether version v (as installed or listed) is the pinned version pin. */
	bool (*version_matches)(const char *pin, const char *v);
};

extern const struct pkg_provider pkg_provider_dpkg;
extern const struct pkg_provider pkg_provider_rpm;

/*
 * pkg_why_from_output - the reason a command failed, from its output: the
 * lines that start with one of the prefixes ("E: ") and have more than
 * it, else its last lines; at most three, trimmed, joined by "; ", into
 * why (always NUL-terminated, cut to whylen).
 */
void pkg_why_from_output(const struct buf *out, const char *const *prefixes, char *why, size_t whylen);

#endif
