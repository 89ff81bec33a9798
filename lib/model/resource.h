/*
 * resource.h - resource types and resource instances.
 *
 * A resource type is a table: a schema (attributes with kinds, defaults and
 * documentation) and operations probe / diff / apply.  The schema decodes a
 * resource's attributes into the type's own "desired" struct by offset, so
 * a type's file holds only what is particular to it.
 *
 * A resource is one declaration, identified by "TYPE:NAME", after merging
 * every document that names it (later documents override per attribute).
 */
#ifndef TEND_RESOURCE_H
#define TEND_RESOURCE_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

struct catalog;
struct fsroot;
struct userdb;

/* Where something was written: file (interned, lives as long as the catalog), 1-based line/col. */
struct srcpos {
	const char *file;
	int line, col;
};

enum attr_kind {
	ATTR_STRING,     /* char *; NULL when unset */
	ATTR_PATH,       /* char *; absolute, normalised (fsroot_path_ok) */
	ATTR_BOOL,       /* int; -1 unset, 0, 1 */
	ATTR_INT,        /* long long; ATTR_INT_UNSET when unset */
	ATTR_MODE,       /* int; -1 unset, else 0..07777 */
	ATTR_ENUM,       /* int; -1 unset, else index into choices */
	ATTR_DURATION,   /* double seconds; -1 unset */
	ATTR_LIST,       /* struct strlist; a scalar is a one-item list */
	ATTR_MAP,        /* struct strlist of "KEY=VALUE"; a map or a list of KEY=VALUE */
	ATTR_ARGV,       /* struct strlist; a string (scalar=true) or a list */
};

#define ATTR_INT_UNSET LLONG_MIN

/* attribute flags */
#define ATTR_REQUIRED   0x1   /* must be set */
#define ATTR_RAW        0x2   /* never rendered as a template */

struct strlist {
	char **v;         /* NULL-terminated when set */
	size_t n;
	bool set;
	bool scalar;      /* ATTR_ARGV: given as one string */
};

struct res_attr {
	const char *name;
	enum attr_kind kind;
	size_t offset;                 /* into the type's desired struct */
	unsigned flags;
	const char *def;               /* default, as text; NULL for none */
	const char *const *choices;    /* ATTR_ENUM, NULL-terminated */
	const char *doc;
};

enum res_status {
	RES_PENDING = 0,  /* not yet looked at */
	RES_OK,           /* already right */
	RES_CHANGE,       /* plan: would change */
	RES_UNKNOWN,      /* plan: cannot predict (message says why) */
	RES_CHANGED,      /* apply: changed */
	RES_FAILED,
	RES_SKIPPED,      /* a dependency failed, or refreshonly not notified */
};

const char *res_status_name(enum res_status s);

struct change {
	char *what;       /* attribute or action: "content", "mode", "ensure", "run" */
	char *from;       /* NULL: absent / nothing */
	char *to;
	char *diff;       /* unified diff (file contents), or NULL */
};

/* a raw attribute as written (after merging), before decoding; the engine
 * drops val once the resource is decoded, and the whole list once every
 * resource is prepared and ordered (run_prepare): only input errors need
 * the positions */
struct raw_attr {
	const char *key;        /* interned: the schema's name, or the catalog's copy */
	json_t *val;
	struct srcpos key_pos, val_pos;
};

struct res_ctx;
struct resource;

/* Operations.  Each returns 0 or a negative errno; on failure the op sets
 * r->message (res_fail) so the report can say what went wrong. */
struct res_type {
	const char *name;
	const char *doc;
	const struct res_attr *attrs;   /* terminated by { NULL } */
	size_t desired_size;
	size_t state_size;
	bool name_is_path;              /* NAME must be an absolute normalised path */
	bool verify;                    /* re-probe after apply to prove convergence */

	/* check - static cross-attribute validation after decoding; no I/O on
	 * the managed root.  Errors use res_err_attr()/res_err() positions. */
	int (*check)(struct resource *r, struct res_ctx *ctx, struct tend_err *err);
	/* prepare - gather inputs that do not depend on the managed system
	 * (read a source file, render a template).  Errors are input errors. */
	int (*prepare)(struct resource *r, struct res_ctx *ctx, struct tend_err *err);
	/* probe - read the current state into r->state.  Never writes. */
	int (*probe)(struct resource *r, struct res_ctx *ctx);
	/* diff - compare state with desired: res_change() for each difference;
	 * res_unknown() when the outcome cannot be predicted. */
	int (*diff)(struct resource *r, struct res_ctx *ctx);
	/* apply - make the planned changes (r->changes). */
	int (*apply)(struct resource *r, struct res_ctx *ctx);
	/* refresh - react to a notification (exec: run).  NULL: no reaction. */
	int (*refresh)(struct resource *r, struct res_ctx *ctx);
	/* autorequire - offer ids of resources this one implicitly follows. */
	void (*autorequire)(struct resource *r, void (*add)(void *arg, const char *id), void *arg);
	/* free_state - release what probe/prepare put in r->state (not the struct). */
	void (*free_state)(struct resource *r);
	/* free_desired - release type-specific fields beyond the schema. */
	void (*free_desired)(struct resource *r);
	/*
	 * apply_batch - when set, the engine hands the type every resource of
	 * this type that is ready at the same point of the run and needs a
	 * change (analyzed, status RES_CHANGE), to apply in one transaction
	 * (one apt-get for all packages).  The type sets each resource's
	 * status to RES_CHANGED or RES_FAILED (res_fail); returns 0 or -errno.
	 */
	int (*apply_batch)(struct resource **rs, size_t n, struct res_ctx *ctx);
	/* free_cache - release the per-run cache the type kept in the ctx. */
	void (*free_cache)(void *cache);
	/* open_schema - any attribute is accepted and kept as JSON in
	 * r->attrs (custom types in other languages). */
	bool open_schema;
	/* staging_ok - apply may stage its writes (res_write_file), which the
	 * engine commits in batches, and the type does not read what other
	 * resources write: the engine commits staged writes before any
	 * resource of a type without this flag. */
	bool staging_ok;
	/* keeps_dirs - apply never removes or replaces a directory, so the
	 * engine's cached parent directory stays valid after it. */
	bool keeps_dirs;
};

/*
 * A resource lives as long as its catalog, so an apply of 10,000 files
 * holds 10,000 of these: the fields are ordered (pointers, then 32-bit
 * counts, then bytes) to leave no padding, and whatever only some types
 * use (captured output, relations) is a pointer made on first use.
 */
struct resource {
	const struct res_type *type;
	char *name;                     /* points into id */
	char *id;                       /* "TYPE:NAME" */
	struct srcpos pos;              /* first declaration */
	struct raw_attr *attrs;         /* merged, in first-seen order */
	void *desired;                  /* type->desired_size bytes, decoded */
	void *state;                    /* type->state_size bytes, probe result */
	/* meta attributes, common to all types; rel is NULL when none is set */
	struct res_rel {
		struct strlist requires, before, notify, subscribe;
	} *rel;

	/* graph (engine) */
	struct resource **deps;         /* runs after these (in a catalog-wide pool, see deps_pooled) */
	struct resource **notifies;     /* refreshes these when changed */

	/* outcome */
	struct change *changes;
	char *message;
	struct buf *output;             /* captured command output; NULL: none (res_output) */
	double elapsed_ms;

	/* the name's line and column; its file is pos.file (one declaration) */
	struct srcline {
		int line, col;
	} name_pos;
	uint32_t nattrs;
	uint32_t ndeps;
	uint32_t nnotifies;
	uint32_t nchanges;
	unsigned seen_doc;              /* last document (catalog counter) that declared it */
	int seen_line;                  /* ... and the line there */
	int order;                      /* graph (engine) */
	uint8_t status;                 /* enum res_status */
	bool sensitive;
	bool notified;                  /* a resource that notifies this changed */
	bool converged_checked;
	bool staged;                    /* its write waits for the batch commit (engine) */
	bool deps_pooled;               /* deps points into another resource's deps (graph.c) */
	char idbuf[];                   /* id's storage: one allocation per resource */
};

/* res_name_pos - where r's name was written. */
static inline struct srcpos res_name_pos(const struct resource *r)
{
	struct srcpos p = { r->pos.file, r->name_pos.line, r->name_pos.col };

	return p;
}

/* res_output - r's captured output, made empty (limit max; 0: the
 * default) on first use; freed with the resource. */
struct buf *res_output(struct resource *r, size_t max);

/* How the engine takes staged writes (see res_write_file in resources/common.h). */
struct res_stager {
	int (*add)(void *arg, struct resource *r, const char *path, int dirfd);
	/* dirty - an entry of directory dirfd changed (mkdir, unlink, symlink):
	 * make it durable with the batch commit instead of an fsync now.
	 * -E2BIG when the engine cannot take it (the caller fsyncs). */
	int (*dirty)(void *arg, int dirfd);
	void *arg;
};

/* The run-wide context handed to every operation. */
struct res_ctx {
	struct catalog *cat;            /* every resource of the run */
	struct fsroot *root;
	struct userdb *users;
	json_t *tmpl;                   /* template context: vars + facts */
	bool plan;                      /* plan only: never write */
	double default_timeout;         /* exec */
	size_t output_max;
	/* per-run caches of types (the dpkg status database, ...) */
	struct res_cache {
		const struct res_type *type;
		void *data;
	} caches[16];
	const struct res_stager *stager; /* NULL: every write is durable at once */
};

/*
 * res_cache_get / res_cache_set - a type's per-run cache (NULL when none);
 * freed with the type's free_cache when the run ends.  Types call
 * res_cache_set(ctx, type, NULL) to drop a stale cache after changing the
 * system (the next probe rebuilds it).
 */
void *res_cache_get(struct res_ctx *ctx, const struct res_type *t);
void res_cache_set(struct res_ctx *ctx, const struct res_type *t, void *data);
void res_cache_free_all(struct res_ctx *ctx);

/* res_change - record one difference.  from/to may be NULL; copied. */
void res_change(struct resource *r, const char *what, const char *from, const char *to);
/* res_change_diff - attach a unified diff (taken) to the last change. */
void res_change_diff_take(struct resource *r, char *diff);
/* res_unknown - the plan cannot predict this resource; why. */
void res_unknown(struct resource *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* res_fail - set status failed with a message; returns -EIO for chaining. */
int res_fail(struct resource *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* res_has_change - whether a change named what was recorded. */
bool res_has_change(const struct resource *r, const char *what);
void res_clear_changes(struct resource *r);

/* res_find_attr - the raw attribute named key, or NULL. */
const struct raw_attr *res_find_attr(const struct resource *r, const char *key);
/* res_err_attr - error positioned at attribute key's value (or the resource). */
int res_err_attr(const struct resource *r, struct tend_err *err, const char *key,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define RES_DESIRED(r, T) ((T *)(r)->desired)
#define RES_STATE(r, T) ((T *)(r)->state)

#endif
