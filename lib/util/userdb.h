/*
 * userdb.h - users and groups as the managed root sees them.
 *
 * Reads ROOT/etc/passwd and ROOT/etc/group directly (never NSS, which
 * would answer for the host).  Loaded on first use and reloaded after
 * userdb_invalidate(), which resources that change accounts call.
 */
#ifndef TEND_USERDB_H
#define TEND_USERDB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/fsroot.h"

struct userdb_ent {
	char *name;
	unsigned id;       /* uid or gid */
	unsigned gid;      /* primary group (users) */
	char *home;        /* users */
	char *shell;       /* users */
	char **members;    /* groups: NULL-terminated */
};

struct userdb {
	bool loaded;
	struct userdb_ent *users;
	size_t nusers;
	struct userdb_ent *groups;
	size_t ngroups;
};

void userdb_init(struct userdb *db);
void userdb_free(struct userdb *db);
void userdb_invalidate(struct userdb *db);

/* Lookups load the database if needed.  NULL when not found. */
const struct userdb_ent *userdb_user_by_name(struct userdb *db, struct fsroot *root, const char *name);
const struct userdb_ent *userdb_user_by_id(struct userdb *db, struct fsroot *root, unsigned id);
const struct userdb_ent *userdb_group_by_name(struct userdb *db, struct fsroot *root, const char *name);
const struct userdb_ent *userdb_group_by_id(struct userdb *db, struct fsroot *root, unsigned id);

/*
 * userdb_resolve_user - NAME or a number to a uid.  A number resolves even
 * when no entry has it.  -ENOENT when the name is unknown.
 */
int userdb_resolve_user(struct userdb *db, struct fsroot *root, const char *s, uid_t *ret);
int userdb_resolve_group(struct userdb *db, struct fsroot *root, const char *s, gid_t *ret);

/*
 * userdb_groups_of - the supplementary gids of user name (groups that list
 * it as a member), for running commands as that user.  *ret is malloc'd.
 */
int userdb_groups_of(struct userdb *db, struct fsroot *root, const char *name,
		     gid_t **ret, size_t *ret_n);

#endif
