/*
 * group.c - the `group` resource type: a group in the root's /etc/group,
 * its gid and (optionally) its exact member list.
 *
 * Probing reads /etc/group through userdb; changes run groupadd,
 * groupmod, groupdel and gpasswd -M (which, unlike groupmod -U in
 * shadow-utils 4.13, keeps /etc/gshadow's member list in step).
 *
 * Members and users meet from both sides: a user resource can put itself
 * in groups, and a group can list its members.  The two are ordered so
 * that neither waits for the other: a group follows the users it lists,
 * unless such a user itself names the group (then the user follows the
 * group, and at creation joins every group of the run that lists it).
 * Declarations that contradict each other are input errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/catalog.h"
#include "model/schema.h"
#include "resources/accounts.h"
#include "resources/common.h"
#include "resources/registry.h"
#include "util/strutil.h"
#include "util/userdb.h"

struct group_desired {
	int ensure;
	long long gid;
	struct strlist members;
	int system;
	/* derived by prepare(): users this group follows */
	struct strlist after;
};

struct group_state {
	bool exists;
	unsigned gid;
	char **members;
	size_t nmembers;
};

#define D(r) RES_DESIRED(r, struct group_desired)
#define S(r) RES_STATE(r, struct group_state)

static const struct res_attr group_attrs[] = {
	{ "ensure", ATTR_ENUM, offsetof(struct group_desired, ensure), 0, "present",
	  res_ensure_choices, "present: the group exists; absent: it does not (groupdel)" },
	{ "gid", ATTR_INT, offsetof(struct group_desired, gid), 0, NULL, NULL,
	  "the group id; one held by another group is an error naming it" },
	{ "members", ATTR_LIST, offsetof(struct group_desired, members), 0, NULL, NULL,
	  "the exact list of member users (unset: members are left alone)" },
	{ "system", ATTR_BOOL, offsetof(struct group_desired, system), 0, "false", NULL,
	  "create a system group (gid below GID_MIN)" },
	{ NULL },
};

static void group_free_desired(struct resource *r);

static int group_check(struct resource *r, struct res_ctx *ctx, struct tend_err *err)
{
	struct group_desired *d = D(r);

	(void)ctx;
	group_free_desired(r);
	if (!acct_name_ok(r->name))
		return err_at(
			err, -EINVAL, r->pos.file, r->name_pos.line, r->name_pos.col,
			"'%s' is not a valid group name (1-32 characters, no ':', ',', '/' or blanks, "
			"not starting with '-', not a number)",
			r->name);
	if (d->gid != ATTR_INT_UNSET && (d->gid < 0 || d->gid > 0xfffffffeLL))
		return res_err_attr(r, err, "gid", "gid of %s must be 0 to 4294967294", r->id);
	for (size_t i = 0; i < d->members.n; i++) {
		if (!acct_name_ok(d->members.v[i]))
			return res_err_attr(r, err, "members",
					    "members of %s: '%s' is not a user name", r->id,
					    d->members.v[i]);
		if (acct_has(d->members.v, i, d->members.v[i]))
			return res_err_attr(r, err, "members", "members of %s names '%s' twice",
					    r->id, d->members.v[i]);
	}
	return 0;
}

bool acct_group_lists(const struct resource *g, const char *user)
{
	const struct group_desired *d = g->desired;

	return g->type == &res_type_group && d && d->ensure != ENSURE_ABSENT && d->members.set &&
	       acct_has(d->members.v, d->members.n, user);
}

/* user_res - the declared user resource named name, or NULL. */
static const struct resource *user_res(struct res_ctx *ctx, const char *name)
{
	char id[64];

	snprintf(id, sizeof(id), "user:%.58s", name);
	return ctx->cat ? catalog_find(ctx->cat, id) : NULL;
}

/*
 * group_prepare - with every resource decoded: order this group after
 * the users it lists that do not name it themselves, and reject member
 * lists that contradict a user's own groups.
 */
static int group_prepare(struct resource *r, struct res_ctx *ctx, struct tend_err *err)
{
	struct group_desired *d = D(r);

	strlist_free(&d->after);
	if (d->ensure == ENSURE_ABSENT || !d->members.set)
		return 0;
	for (size_t i = 0; i < d->members.n; i++) {
		const struct resource *u = user_res(ctx, d->members.v[i]);

		switch (u ? acct_user_placement(u, r->name) : ACCT_ANY) {
		case ACCT_OUT:
			return res_err_attr(
				r, err, "members",
				"%s lists '%s' in members, but the groups of %s (%s:%d) leave %s out",
				r->id, u->name, u->id, u->pos.file, u->pos.line, r->name);
		case ACCT_ABSENT:
			return res_err_attr(r, err, "members",
					    "%s lists '%s' in members, but %s is ensure: absent",
					    r->id, u->name, u->id);
		case ACCT_ANY:
			if (u)
				strlist_push(&d->after, u->id);
			break;
		default:
			break;
		}
	}
	for (size_t i = 0; ctx->cat && i < ctx->cat->n; i++) {
		const struct resource *u = ctx->cat->res[i];

		if (u->type == &res_type_user && acct_user_placement(u, r->name) == ACCT_IN &&
		    !acct_has(d->members.v, d->members.n, u->name))
			return res_err_attr(
				r, err, "members",
				"the members of %s leave out '%s', but %s (%s:%d) puts itself in %s",
				r->id, u->name, u->id, u->pos.file, u->pos.line, r->name);
	}
	return 0;
}

static void reset_state(struct group_state *s)
{
	for (size_t i = 0; i < s->nmembers; i++)
		free(s->members[i]);
	free(s->members);
	memset(s, 0, sizeof(*s));
}

static int group_probe(struct resource *r, struct res_ctx *ctx)
{
	struct group_state *s = S(r);
	const struct userdb_ent *g;
	size_t n = 0;

	reset_state(s);
	g = userdb_group_by_name(ctx->users, ctx->root, r->name);
	if (!g)
		return 0;
	s->exists = true;
	s->gid = g->id;
	while (g->members && g->members[n])
		n++;
	s->members = xcalloc(n + 1, sizeof(*s->members));
	for (size_t i = 0; i < n; i++)
		if (!acct_has(s->members, s->nmembers, g->members[i]))
			s->members[s->nmembers++] = xstrdup(g->members[i]);
	return 0;
}

/* gid_free - like user.c's uid_free: another group holding gid is a failure naming it. */
static bool gid_free(struct resource *r, struct res_ctx *ctx, unsigned gid)
{
	const struct userdb_ent *o = userdb_group_by_id(ctx->users, ctx->root, gid);
	const struct resource *other;
	char id[64];

	if (!o || !strcmp(o->name, r->name))
		return true;
	snprintf(id, sizeof(id), "group:%.57s", o->name);
	other = ctx->cat ? catalog_find(ctx->cat, id) : NULL;
	if (ctx->plan && other && other->desired &&
	    (D(other)->ensure == ENSURE_ABSENT ||
	     (D(other)->gid != ATTR_INT_UNSET && D(other)->gid != gid))) {
		res_unknown(r, "gid %u is used by %s now; %s changes that in this run", gid,
			    o->name, id);
		return false;
	}
	res_fail(r, "gid %u is already used by %s", gid, o->name);
	return false;
}

/*
 * pending_user - member name is not an account yet but a user resource of
 * this run creates it.
 */
static bool pending_user(struct res_ctx *ctx, const char *name)
{
	const struct resource *u = user_res(ctx, name);

	return u && acct_user_placement(u, "") != ACCT_ABSENT;
}

/* members_exist - every wanted member is an account, or one this run creates. */
static bool members_exist(struct resource *r, struct res_ctx *ctx)
{
	struct group_desired *d = D(r);

	for (size_t i = 0; i < d->members.n; i++) {
		const char *m = d->members.v[i];

		if (!userdb_user_by_name(ctx->users, ctx->root, m) && !pending_user(ctx, m)) {
			res_fail(r, "member '%s' is not a user in %s/etc/passwd", m,
				 ctx->root->path);
			return false;
		}
	}
	return true;
}

static void change_members(struct resource *r, char *const *a, size_t na)
{
	struct group_desired *d = D(r);
	struct buf from, to;

	buf_init(&from, 0);
	buf_init(&to, 0);
	acct_list_str(&from, a, na);
	acct_list_str(&to, d->members.v, d->members.n);
	res_change(r, "members", buf_str(&from), buf_str(&to));
	buf_free(&from);
	buf_free(&to);
}

static int group_diff(struct resource *r, struct res_ctx *ctx)
{
	struct group_desired *d = D(r);
	struct group_state *s = S(r);
	char a[32], b[32];

	if (d->ensure == ENSURE_ABSENT) {
		if (s->exists)
			res_change(r, "ensure", "present", "absent");
		return 0;
	}
	if (d->gid != ATTR_INT_UNSET && (!s->exists || (unsigned)d->gid != s->gid) &&
	    !gid_free(r, ctx, (unsigned)d->gid))
		return 0;
	if (d->members.set && !members_exist(r, ctx))
		return 0;
	if (!s->exists) {
		res_change(r, "ensure", "absent", "present");
		if (d->members.n)
			change_members(r, NULL, 0);
		return 0;
	}
	if (d->gid != ATTR_INT_UNSET && (unsigned)d->gid != s->gid) {
		snprintf(a, sizeof(a), "%u", s->gid);
		snprintf(b, sizeof(b), "%lld", d->gid);
		res_change(r, "gid", a, b);
	}
	if (d->members.set && !acct_same_set(s->members, s->nmembers, d->members.v, d->members.n))
		change_members(r, s->members, s->nmembers);
	return 0;
}

/*
 * set_members - gpasswd -M with the wanted members that exist.  One that
 * does not exist yet is created later in this run by a user resource that
 * follows this group and joins it then (see groups_arg in user.c).
 */
static int set_members(struct resource *r, struct res_ctx *ctx)
{
	struct group_desired *d = D(r);
	const char *args[] = { "-M", NULL, r->name, NULL };
	struct buf list;
	size_t n = 0;
	int ret;

	buf_init(&list, 0);
	for (size_t i = 0; i < d->members.n; i++) {
		const char *m = d->members.v[i];

		if (!userdb_user_by_name(ctx->users, ctx->root, m) && pending_user(ctx, m))
			continue;
		buf_printf(&list, "%s%s", n++ ? "," : "", m);
	}
	args[1] = buf_str(&list);
	ret = acct_run(r, ctx, "gpasswd", args, NULL);
	buf_free(&list);
	return ret;
}

static int group_apply(struct resource *r, struct res_ctx *ctx)
{
	struct group_desired *d = D(r);
	const char *args[8];
	char gid[32];
	size_t n = 0;
	int ret = 0;

	snprintf(gid, sizeof(gid), "%lld", d->gid);
	if (d->ensure == ENSURE_ABSENT) {
		args[n++] = r->name;
		args[n] = NULL;
		ret = acct_run(r, ctx, "groupdel", args, NULL);
		userdb_invalidate(ctx->users);
		return ret;
	}
	if (res_has_change(r, "ensure") || res_has_change(r, "gid")) {
		if (d->gid != ATTR_INT_UNSET) {
			args[n++] = "-g";
			args[n++] = gid;
		}
		if (d->system == 1 && res_has_change(r, "ensure"))
			args[n++] = "-r";
		args[n++] = r->name;
		args[n] = NULL;
		ret = acct_run(r, ctx, res_has_change(r, "ensure") ? "groupadd" : "groupmod", args,
			       NULL);
		userdb_invalidate(ctx->users);
	}
	if (ret == 0 && res_has_change(r, "members")) {
		ret = set_members(r, ctx);
		userdb_invalidate(ctx->users);
	}
	return ret;
}

static void group_autorequire(struct resource *r, void (*add)(void *arg, const char *id), void *arg)
{
	struct group_desired *d = D(r);

	for (size_t i = 0; i < d->after.n; i++)
		add(arg, d->after.v[i]);
}

static void group_free_state(struct resource *r)
{
	reset_state(S(r));
}

static void group_free_desired(struct resource *r)
{
	strlist_free(&D(r)->after);
}

const struct res_type res_type_group = {
	.name = "group",
	.doc = "a group in the root's /etc/group, changed with groupadd/groupmod/groupdel/gpasswd",
	.attrs = group_attrs,
	.desired_size = sizeof(struct group_desired),
	.state_size = sizeof(struct group_state),
	.verify = true,
	.check = group_check,
	.prepare = group_prepare,
	.probe = group_probe,
	.diff = group_diff,
	.apply = group_apply,
	.autorequire = group_autorequire,
	.free_state = group_free_state,
	.free_desired = group_free_desired,
};
