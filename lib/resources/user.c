/*
 * user.c - the `user` resource type: an account in the root's
 * /etc/passwd (uid, primary group, supplementary groups, home, shell,
 * comment, password hash) and the exact set of its ssh authorized keys.
 *
 * Probing reads the account files directly (userdb for passwd and group,
 * accounts.c for the comment and the shadow hash); every change runs
 * useradd, usermod, userdel or chpasswd (accounts.c).  The password hash
 * is never printed, whatever `sensitive` says: plans show "(sensitive)",
 * and it goes to chpasswd on stdin, never on a command line.
 *
 * A uid held by another account is a failure with that account's name,
 * in the plan already, rather than usermod's error at apply.  The keys
 * file is written beneath the home without following symlinks the user
 * may have planted there (.ssh and the file are the user's to change).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/catalog.h"
#include "resources/accounts.h"
#include "resources/common.h"
#include "resources/registry.h"
#include "util/fsroot.h"
#include "util/strutil.h"
#include "util/userdb.h"

struct user_desired {
	int ensure;
	long long uid;
	char *group;
	struct strlist groups;
	struct strlist groups_add;
	char *home;
	int manage_home;
	char *shell;
	char *comment;
	char *password;
	int system;
	struct strlist keys;
	/* derived by check() */
	struct acct_key *want;
	size_t nwant;
};

struct user_state {
	bool exists;
	unsigned uid, gid;
	char *home, *shell, *comment, *hash;
	char **groups; /* supplementary: groups listing the user, file order */
	size_t ngroups;
	struct acct_keys_file kf; /* when keys are managed */
};

#define D(r) RES_DESIRED(r, struct user_desired)
#define S(r) RES_STATE(r, struct user_state)

static const struct res_attr user_attrs[] = {
	{ "ensure", ATTR_ENUM, offsetof(struct user_desired, ensure), 0, "present",
	  res_ensure_choices, "present: the account exists; absent: it does not (userdel)" },
	{ "uid", ATTR_INT, offsetof(struct user_desired, uid), 0, NULL, NULL,
	  "the user id; one held by another account is an error naming it" },
	{ "group", ATTR_STRING, offsetof(struct user_desired, group), 0, NULL, NULL,
	  "primary group, name or gid (default on creation: the group named like the user)" },
	{ "groups", ATTR_LIST, offsetof(struct user_desired, groups), 0, NULL, NULL,
	  "the exact supplementary groups: the user is removed from any other" },
	{ "groups_add", ATTR_LIST, offsetof(struct user_desired, groups_add), 0, NULL, NULL,
	  "supplementary groups the user is in, leaving other memberships alone (not with groups)" },
	{ "home", ATTR_PATH, offsetof(struct user_desired, home), 0, NULL, NULL,
	  "home directory (default on creation: useradd's, /home/NAME)" },
	{ "manage_home", ATTR_BOOL, offsetof(struct user_desired, manage_home), 0, NULL, NULL,
	  "true: create the home on creation, move it when home changes, remove it with ensure: "
	  "absent; false: never create it; unset: create it for non-system users only" },
	{ "shell", ATTR_STRING, offsetof(struct user_desired, shell), 0, NULL, NULL,
	  "login shell" },
	{ "comment", ATTR_STRING, offsetof(struct user_desired, comment), 0, NULL, NULL,
	  "the GECOS field (full name)" },
	{ "password", ATTR_STRING, offsetof(struct user_desired, password), 0, NULL, NULL,
	  "a crypt(3) hash (\"$6$...\", \"$y$...\") or \"!\"/\"*\" for none; never printed" },
	{ "system", ATTR_BOOL, offsetof(struct user_desired, system), 0, "false", NULL,
	  "create a system account (uid below UID_MIN, no home unless manage_home)" },
	{ "ssh_authorized_keys", ATTR_LIST, offsetof(struct user_desired, keys), 0, NULL, NULL,
	  "the exact set of keys (\"TYPE BASE64 [COMMENT]\") in HOME/.ssh/authorized_keys, "
	  "written 0600 in a 0700 .ssh, owned by the user and its primary group" },
	{ NULL },
};

static void user_free_desired(struct resource *r);

/* password_ok - a crypt hash, or a locked marker: never a clear-text password by mistake. */
static bool password_ok(const char *p)
{
	size_t n = strlen(p);

	if (!n || !acct_text_ok(p) || strpbrk(p, " \t"))
		return false;
	if (p[0] == '$' || p[0] == '!' || p[0] == '*')
		return true;
	/* traditional DES: 13 characters of [./0-9A-Za-z] */
	return n == 13 &&
	       strspn(p, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == 13;
}

static int check_groups(struct resource *r, struct tend_err *err, const char *key,
			const struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const char *g = l->v[i];
		long long id;

		if (!acct_name_ok(g) && str_to_ll(g, 10, 0, 0xfffffffeLL, &id) < 0)
			return res_err_attr(r, err, key,
					    "%s of %s: '%s' is not a group name or gid", key, r->id,
					    g);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(l->v[j], g))
				return res_err_attr(r, err, key, "%s of %s names '%s' twice", key,
						    r->id, g);
	}
	return 0;
}

static int check_keys(struct resource *r, struct tend_err *err)
{
	struct user_desired *d = D(r);
	char why[512];

	d->want = xcalloc(d->keys.n + 1, sizeof(*d->want));
	for (size_t i = 0; i < d->keys.n; i++) {
		if (acct_key_parse(d->keys.v[i], &d->want[i], why, sizeof(why)) < 0)
			return res_err_attr(r, err, "ssh_authorized_keys",
					    "ssh_authorized_keys of %s, key %zu: %s", r->id, i + 1,
					    why);
		d->nwant++;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(d->want[j].line, d->want[i].line))
				return res_err_attr(
					r, err, "ssh_authorized_keys",
					"ssh_authorized_keys of %s: key %zu repeats key %zu", r->id,
					i + 1, j + 1);
	}
	return 0;
}

static int user_check(struct resource *r, struct res_ctx *ctx, struct tend_err *err)
{
	struct user_desired *d = D(r);
	long long id;

	(void)ctx;
	user_free_desired(r);
	if (!acct_name_ok(r->name))
		return err_at(
			err, -EINVAL, r->pos.file, r->name_pos.line, r->name_pos.col,
			"'%s' is not a valid user name (1-32 characters, no ':', ',', '/' or blanks, "
			"not starting with '-', not a number)",
			r->name);
	if (d->groups.set && d->groups_add.set)
		return res_err_attr(
			r, err, "groups_add",
			"%s: give groups (the exact list) or groups_add (additions), not both",
			r->id);
	if (d->uid != ATTR_INT_UNSET && (d->uid < 0 || d->uid > 0xfffffffeLL))
		return res_err_attr(r, err, "uid", "uid of %s must be 0 to 4294967294", r->id);
	if (d->group && !acct_name_ok(d->group) &&
	    str_to_ll(d->group, 10, 0, 0xfffffffeLL, &id) < 0)
		return res_err_attr(r, err, "group", "group of %s: '%s' is not a group name or gid",
				    r->id, d->group);
	if (check_groups(r, err, "groups", &d->groups) < 0 ||
	    check_groups(r, err, "groups_add", &d->groups_add) < 0)
		return -EINVAL;
	if (d->shell && (!*d->shell || !acct_text_ok(d->shell)))
		return res_err_attr(r, err, "shell",
				    "shell of %s must be a path without ':' or newlines", r->id);
	if (d->comment && !acct_text_ok(d->comment))
		return res_err_attr(r, err, "comment",
				    "comment of %s must not contain ':' or newlines", r->id);
	if (d->password && !password_ok(d->password))
		return res_err_attr(
			r, err, "password",
			"password of %s must be a crypt hash (\"$6$...\", \"$y$...\"), '!' or '*' "
			"(never a clear-text password)",
			r->id);
	return check_keys(r, err);
}

enum acct_placement acct_user_placement(const struct resource *u, const char *g)
{
	const struct user_desired *d = u->desired;

	if (!d || u->type != &res_type_user)
		return ACCT_ANY;
	if (d->ensure == ENSURE_ABSENT)
		return ACCT_ABSENT;
	if (acct_has(d->groups.v, d->groups.n, g) || acct_has(d->groups_add.v, d->groups_add.n, g))
		return ACCT_IN;
	if (d->groups.set)
		return ACCT_OUT;
	if (!strcmp(d->group ? d->group : u->name, g))
		return ACCT_PRIMARY;
	return ACCT_ANY;
}

/* --- probe ---------------------------------------------------------------- */

static void reset_state(struct user_state *s)
{
	free(s->home);
	free(s->shell);
	free(s->comment);
	free(s->hash);
	for (size_t i = 0; i < s->ngroups; i++)
		free(s->groups[i]);
	free(s->groups);
	acct_keys_file_free(&s->kf);
	memset(s, 0, sizeof(*s));
}

static int user_probe(struct resource *r, struct res_ctx *ctx)
{
	struct user_desired *d = D(r);
	struct user_state *s = S(r);
	const struct userdb_ent *u;
	char why[512];
	int ret;

	reset_state(s);
	u = userdb_user_by_name(ctx->users, ctx->root, r->name);
	if (!u)
		return 0;
	s->exists = true;
	s->uid = u->id;
	s->gid = u->gid;
	s->home = xstrdup(u->home);
	s->shell = xstrdup(u->shell);
	s->groups = xcalloc(ctx->users->ngroups + 1, sizeof(*s->groups));
	for (size_t i = 0; i < ctx->users->ngroups; i++)
		if (acct_has(ctx->users->groups[i].members, SIZE_MAX, r->name))
			s->groups[s->ngroups++] = xstrdup(ctx->users->groups[i].name);
	if (d->comment) {
		ret = acct_field(ctx->root, "/etc/passwd", r->name, 4, &s->comment);
		if (ret < 0)
			return res_fail(r, "cannot read the comment of %s in /etc/passwd: %s",
					r->name, strerror(-ret));
	}
	if (d->password) {
		/* the shadow entry when there is one, else passwd's own field */
		ret = acct_field(ctx->root, "/etc/shadow", r->name, 1, &s->hash);
		if (ret == -ENOENT)
			ret = acct_field(ctx->root, "/etc/passwd", r->name, 1, &s->hash);
		if (ret < 0)
			return res_fail(r, "cannot read the password hash of %s: %s", r->name,
					strerror(-ret));
	}
	if (!d->keys.set || (!d->home && s->home[0] != '/'))
		return 0;
	/* after a change of home the keys belong at the new one, where
	 * usermod -m moves the old one's */
	ret = acct_keys_read(ctx->root, d->home ? d->home : s->home, &s->kf, why, sizeof(why));
	if (ret == 0 && !s->kf.home_exists && d->home && d->manage_home == 1 && s->home[0] == '/' &&
	    strcmp(d->home, s->home))
		ret = acct_keys_read(ctx->root, s->home, &s->kf, why, sizeof(why));
	return ret < 0 ? res_fail(r, "%s", why) : 0;
}

/* --- diff ----------------------------------------------------------------- */

/*
 * uid_free - fail (or, in a plan, say unknown) when another account holds
 * uid.  A plan is unknown when that account's own resource in this run
 * removes it or gives it another uid; apply sees the outcome by then.
 */
static bool uid_free(struct resource *r, struct res_ctx *ctx, unsigned uid)
{
	const struct userdb_ent *o = userdb_user_by_id(ctx->users, ctx->root, uid);
	const struct resource *other;
	char id[64];

	if (!o || !strcmp(o->name, r->name))
		return true;
	snprintf(id, sizeof(id), "user:%.58s", o->name);
	other = ctx->cat ? catalog_find(ctx->cat, id) : NULL;
	if (ctx->plan && other && other->desired &&
	    (D(other)->ensure == ENSURE_ABSENT ||
	     (D(other)->uid != ATTR_INT_UNSET && D(other)->uid != uid))) {
		res_unknown(r, "uid %u is used by %s now; %s changes that in this run", uid,
			    o->name, id);
		return false;
	}
	res_fail(r, "uid %u is already used by %s", uid, o->name);
	return false;
}

/*
 * group_name - the name of group g (a name or a gid) in the root, into
 * *ret (a pointer into userdb, or g itself when it does not exist yet but
 * a resource of this run creates it).  false after failing r.
 */
static bool group_name(struct resource *r, struct res_ctx *ctx, const char *g, const char **ret)
{
	const struct userdb_ent *e = userdb_group_by_name(ctx->users, ctx->root, g);
	char id[64];
	long long n;

	if (!e && str_to_ll(g, 10, 0, 0xfffffffeLL, &n) == 0)
		e = userdb_group_by_id(ctx->users, ctx->root, (unsigned)n);
	if (e) {
		*ret = e->name;
		return true;
	}
	snprintf(id, sizeof(id), "group:%.56s", g);
	if (ctx->plan && res_dep_pending(r, id)) {
		*ret = g;
		return true;
	}
	res_fail(r, "group '%s' does not exist in %s/etc/group", g, ctx->root->path);
	return false;
}

static void change_list(struct resource *r, const char *what, char *const *a, size_t na,
			char *const *b, size_t nb)
{
	struct buf from, to;

	buf_init(&from, 0);
	buf_init(&to, 0);
	acct_list_str(&from, a, na);
	acct_list_str(&to, b, nb);
	res_change(r, what, buf_str(&from), buf_str(&to));
	buf_free(&from);
	buf_free(&to);
}

/* diff_groups - supplementary groups: the exact list, or the additions. */
static int diff_groups(struct resource *r, struct res_ctx *ctx)
{
	struct user_desired *d = D(r);
	struct user_state *s = S(r);
	const struct strlist *l = d->groups.set ? &d->groups : &d->groups_add;
	const char **want;
	size_t n = 0;
	int ret = 0;

	if (!l->set)
		return 0;
	want = xcalloc(l->n + s->ngroups + 1, sizeof(*want));
	if (!d->groups.set)
		for (size_t i = 0; i < s->ngroups; i++)
			want[n++] = s->groups[i];
	for (size_t i = 0; i < l->n; i++) {
		const char *g;

		if (!group_name(r, ctx, l->v[i], &g)) {
			ret = -EIO;
			goto out;
		}
		if (!acct_has((char *const *)want, n, g))
			want[n++] = g;
	}
	if (!acct_same_set(s->groups, s->ngroups, (char *const *)want, n))
		change_list(r, "groups", s->groups, s->ngroups, (char *const *)want, n);
out:
	free(want);
	return ret;
}

/* key_diff - "- TYPE FP COMMENT" for removed keys, "+ ..." for added ones. */
static char *key_diff(const struct acct_key *cur, size_t ncur, const struct acct_key *want,
		      size_t nwant)
{
	struct buf b;

	buf_init(&b, 0);
	for (size_t i = 0; i < ncur; i++)
		if (!acct_key_in(&cur[i], want, nwant))
			buf_printf(&b, "-%s%s%s\n", cur[i].fp ? cur[i].fp : cur[i].label,
				   cur[i].fp && strcmp(cur[i].fp, cur[i].label) ? " " : "",
				   cur[i].fp && strcmp(cur[i].fp, cur[i].label) ? cur[i].label :
										  "");
	for (size_t i = 0; i < nwant; i++)
		if (!acct_key_in(&want[i], cur, ncur))
			buf_printf(&b, "+%s%s%s\n", want[i].fp,
				   strcmp(want[i].fp, want[i].label) ? " " : "",
				   strcmp(want[i].fp, want[i].label) ? want[i].label : "");
	return buf_steal(&b);
}

static void change_keys(struct resource *r, const struct acct_key *cur, size_t ncur)
{
	struct user_desired *d = D(r);
	struct buf from, to;

	buf_init(&from, 0);
	buf_init(&to, 0);
	buf_putc(&from, '[');
	for (size_t i = 0; i < ncur; i++)
		buf_printf(&from, "%s%s", i ? "," : "", cur[i].label);
	buf_putc(&from, ']');
	buf_putc(&to, '[');
	for (size_t i = 0; i < d->nwant; i++)
		buf_printf(&to, "%s%s", i ? "," : "", d->want[i].label);
	buf_putc(&to, ']');
	res_change(r, "ssh_authorized_keys", buf_str(&from), buf_str(&to));
	res_change_diff_take(r, key_diff(cur, ncur, d->want, d->nwant));
	buf_free(&from);
	buf_free(&to);
}

/*
 * diff_meta - owner and mode of .ssh or the keys file.  What usermod
 * re-owns itself when it changes the uid or primary group (files in the
 * home owned by the old ids) is not a change of its own.
 */
static void diff_meta(struct resource *r, struct res_ctx *ctx, const char *what,
		      const struct stat *st, unsigned uid, unsigned gid, unsigned mode)
{
	const struct user_state *s = S(r);
	char a[160], b[160], ua[64], ga[64], what2[64];
	bool uid_ok = st->st_uid == uid || (st->st_uid == s->uid && res_has_change(r, "uid"));
	bool gid_ok = st->st_gid == gid || (st->st_gid == s->gid && res_has_change(r, "group"));

	if (!uid_ok || !gid_ok) {
		res_owner_str(ctx, st->st_uid, ua, sizeof(ua));
		res_group_str(ctx, st->st_gid, ga, sizeof(ga));
		snprintf(a, sizeof(a), "%s:%s", ua, ga);
		res_owner_str(ctx, uid, ua, sizeof(ua));
		res_group_str(ctx, gid, ga, sizeof(ga));
		snprintf(b, sizeof(b), "%s:%s", ua, ga);
		snprintf(what2, sizeof(what2), "%s owner", what);
		res_change(r, what2, a, b);
	}
	if ((st->st_mode & 07777) != mode) {
		snprintf(what2, sizeof(what2), "%s mode", what);
		res_change(r, what2, res_mode_str(st->st_mode, a), res_mode_str(mode, b));
	}
}

static int diff_keys(struct resource *r, struct res_ctx *ctx, unsigned uid, unsigned gid)
{
	struct user_desired *d = D(r);
	struct user_state *s = S(r);
	const char *home = d->home ? d->home : s->home;

	if (!d->keys.set)
		return 0;
	if (!s->kf.home_exists) {
		if (!d->nwant)
			return 0;
		/* only usermod -m (moving the home) makes it appear */
		if (!res_has_change(r, "home") || d->manage_home != 1)
			return res_fail(r,
					"the home %s of %s does not exist: nowhere to write "
					"ssh_authorized_keys (manage_home: true creates it)",
					home, r->name);
		change_keys(r, NULL, 0);
		return 0;
	}
	if (s->kf.ssh_kind == ACCT_OTHER)
		return res_fail(
			r,
			"%s/.ssh is not a directory (a symlink?); refusing to write keys through it",
			home);
	if (s->kf.ssh_kind == ACCT_MISSING) {
		if (d->nwant)
			change_keys(r, NULL, 0);
		return 0;
	}
	diff_meta(r, ctx, ".ssh", &s->kf.ssh_st, uid, gid, 0700);
	if (s->kf.keys_kind == ACCT_OTHER) {
		res_change(r, "ssh_authorized_keys", "not a regular file", "file");
		return 0;
	}
	if (s->kf.keys_kind == ACCT_MISSING) {
		if (d->nwant)
			change_keys(r, NULL, 0);
		return 0;
	}
	if (!acct_keys_same(s->kf.keys, s->kf.nkeys, d->want, d->nwant))
		change_keys(r, s->kf.keys, s->kf.nkeys);
	diff_meta(r, ctx, "authorized_keys", &s->kf.keys_st, uid, gid, 0600);
	return 0;
}

/* makes_home - whether useradd is to create the home (-m) or not (-M). */
static bool makes_home(const struct user_desired *d)
{
	return d->manage_home == 1 || (d->manage_home == -1 && d->system != 1);
}

static int diff_create(struct resource *r, struct res_ctx *ctx)
{
	struct user_desired *d = D(r);
	const char *g;
	int fd;

	if (d->uid != ATTR_INT_UNSET && !uid_free(r, ctx, (unsigned)d->uid))
		return 0;
	if (d->group && !group_name(r, ctx, d->group, &g))
		return 0;
	for (size_t i = 0; i < d->groups.n; i++)
		if (!group_name(r, ctx, d->groups.v[i], &g))
			return 0;
	for (size_t i = 0; i < d->groups_add.n; i++)
		if (!group_name(r, ctx, d->groups_add.v[i], &g))
			return 0;
	if (d->nwant && d->home && !makes_home(d)) {
		fd = fsroot_open_path(ctx->root, d->home, O_PATH | O_DIRECTORY, 0);
		if (fd < 0)
			return res_fail(r,
					"the home %s of %s does not exist and is not created "
					"(manage_home: true creates it): nowhere to write "
					"ssh_authorized_keys",
					d->home, r->name);
		close(fd);
	}
	res_change(r, "ensure", "absent", "present");
	if (d->password)
		res_change(r, "password", "(sensitive)", "(sensitive)");
	if (d->nwant)
		change_keys(r, NULL, 0);
	return 0;
}

static void diff_str(struct resource *r, const char *what, const char *cur, const char *want)
{
	if (want && strcmp(cur ? cur : "", want))
		res_change(r, what, cur, want);
}

static int user_diff(struct resource *r, struct res_ctx *ctx)
{
	struct user_desired *d = D(r);
	struct user_state *s = S(r);
	unsigned uid, gid;
	char a[64], b[64];

	if (d->ensure == ENSURE_ABSENT) {
		if (s->exists)
			res_change(r, "ensure", "present", "absent");
		return 0;
	}
	if (!s->exists)
		return diff_create(r, ctx);
	uid = s->uid;
	gid = s->gid;
	if (d->uid != ATTR_INT_UNSET && (unsigned)d->uid != s->uid) {
		if (!uid_free(r, ctx, (unsigned)d->uid))
			return 0;
		uid = (unsigned)d->uid;
		snprintf(a, sizeof(a), "%u", s->uid);
		snprintf(b, sizeof(b), "%u", uid);
		res_change(r, "uid", a, b);
	}
	if (d->group) {
		const char *g;
		const struct userdb_ent *e;

		if (!group_name(r, ctx, d->group, &g))
			return 0;
		e = userdb_group_by_name(ctx->users, ctx->root, g);
		if (!e || e->id != s->gid) {
			res_group_str(ctx, s->gid, a, sizeof(a));
			res_change(r, "group", a, g);
			gid = e ? e->id : gid;
		}
	}
	if (diff_groups(r, ctx) < 0)
		return 0;
	diff_str(r, "home", s->home, d->home);
	diff_str(r, "shell", s->shell, d->shell);
	diff_str(r, "comment", s->comment, d->comment);
	if (d->password && strcmp(s->hash ? s->hash : "", d->password))
		res_change(r, "password", "(sensitive)", "(sensitive)");
	return diff_keys(r, ctx, uid, gid);
}

/* --- apply ---------------------------------------------------------------- */

/* write_keys - the keys of the account as it is now (after useradd/usermod). */
static int write_keys(struct resource *r, struct res_ctx *ctx)
{
	const struct userdb_ent *u = userdb_user_by_name(ctx->users, ctx->root, r->name);
	char why[512];

	if (!u)
		return res_fail(r, "%s is not in %s/etc/passwd after creating it", r->name,
				ctx->root->path);
	if (u->home[0] != '/')
		return res_fail(r, "the home of %s is not an absolute path: '%s'", r->name,
				u->home);
	if (acct_keys_write(ctx->root, u->home, u->id, u->gid, D(r)->want, D(r)->nwant, why,
			    sizeof(why)) < 0)
		return res_fail(r, "%s", why);
	return 0;
}

/* args - a growing NULL-terminated argv for a shadow-utils run. */
struct args {
	const char *v[40];
	size_t n;
};

static void arg(struct args *a, const char *s)
{
	if (a->n + 1 < sizeof(a->v) / sizeof(a->v[0]))
		a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

/*
 * groups_arg - the -G list for useradd: the declared groups, plus groups
 * of this run that list the user in members but could not add it before
 * it existed (only those that exist by now).
 */
static void groups_arg(struct resource *r, struct res_ctx *ctx, struct buf *b)
{
	struct user_desired *d = D(r);
	const struct strlist *l = d->groups.set ? &d->groups : &d->groups_add;
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		buf_printf(b, "%s%s", n++ ? "," : "", l->v[i]);
	for (size_t i = 0; ctx->cat && i < ctx->cat->n; i++) {
		const struct resource *g = ctx->cat->res[i];

		if (g->type == &res_type_group && acct_group_lists(g, r->name) &&
		    !acct_has(l->v, l->n, g->name) &&
		    userdb_group_by_name(ctx->users, ctx->root, g->name))
			buf_printf(b, "%s%s", n++ ? "," : "", g->name);
	}
}

static int create(struct resource *r, struct res_ctx *ctx)
{
	struct user_desired *d = D(r);
	struct args a = { .n = 0 };
	char uid[32];
	struct buf groups;
	bool mkhome = makes_home(d);
	int ret;

	buf_init(&groups, 0);
	groups_arg(r, ctx, &groups);
	if (d->uid != ATTR_INT_UNSET) {
		snprintf(uid, sizeof(uid), "%lld", d->uid);
		arg(&a, "-u");
		arg(&a, uid);
	}
	if (d->group || userdb_group_by_name(ctx->users, ctx->root, r->name)) {
		/* a group named like the user joins it; useradd would refuse otherwise */
		arg(&a, "-g");
		arg(&a, d->group ? d->group : r->name);
	}
	if (groups.len) {
		arg(&a, "-G");
		arg(&a, buf_str(&groups));
	}
	if (d->home) {
		arg(&a, "-d");
		arg(&a, d->home);
	}
	arg(&a, mkhome ? "-m" : "-M");
	if (d->shell) {
		arg(&a, "-s");
		arg(&a, d->shell);
	}
	if (d->comment) {
		arg(&a, "-c");
		arg(&a, d->comment);
	}
	if (d->system == 1)
		arg(&a, "-r");
	arg(&a, r->name);
	ret = acct_run(r, ctx, "useradd", a.v, NULL);
	buf_free(&groups);
	return ret;
}

static int modify(struct resource *r, struct res_ctx *ctx)
{
	struct user_desired *d = D(r);
	struct args a = { .n = 0 };
	char uid[32];
	struct buf groups;
	int ret = 0;

	buf_init(&groups, 0);
	if (res_has_change(r, "uid")) {
		snprintf(uid, sizeof(uid), "%lld", d->uid);
		arg(&a, "-u");
		arg(&a, uid);
	}
	if (res_has_change(r, "group")) {
		arg(&a, "-g");
		arg(&a, d->group);
	}
	if (res_has_change(r, "groups")) {
		const struct strlist *l = d->groups.set ? &d->groups : &d->groups_add;

		for (size_t i = 0; i < l->n; i++)
			buf_printf(&groups, "%s%s", i ? "," : "", l->v[i]);
		if (!d->groups.set)
			arg(&a, "-a");
		arg(&a, "-G");
		arg(&a, buf_str(&groups));
	}
	if (res_has_change(r, "home")) {
		arg(&a, "-d");
		arg(&a, d->home);
		if (d->manage_home == 1)
			arg(&a, "-m");
	}
	if (res_has_change(r, "shell")) {
		arg(&a, "-s");
		arg(&a, d->shell);
	}
	if (res_has_change(r, "comment")) {
		arg(&a, "-c");
		arg(&a, d->comment);
	}
	if (a.n) {
		arg(&a, r->name);
		ret = acct_run(r, ctx, "usermod", a.v, NULL);
	}
	buf_free(&groups);
	return ret;
}

static int set_password(struct resource *r, struct res_ctx *ctx)
{
	static const char *const args[] = { "-e", NULL };
	char *line;
	int ret;

	if (asprintf(&line, "%s:%s\n", r->name, D(r)->password) < 0)
		return res_fail(r, "out of memory");
	ret = acct_run(r, ctx, "chpasswd", args, line);
	explicit_bzero(line, strlen(line));
	free(line);
	return ret;
}

static int user_apply(struct resource *r, struct res_ctx *ctx)
{
	struct user_desired *d = D(r);
	bool creating = res_has_change(r, "ensure");
	int ret;

	if (d->ensure == ENSURE_ABSENT) {
		struct args a = { .n = 0 };

		if (d->manage_home == 1)
			arg(&a, "-r");
		arg(&a, r->name);
		ret = acct_run(r, ctx, "userdel", a.v, NULL);
		userdb_invalidate(ctx->users);
		return ret;
	}
	ret = creating ? create(r, ctx) : modify(r, ctx);
	userdb_invalidate(ctx->users);
	if (ret == 0 && res_has_change(r, "password")) {
		ret = set_password(r, ctx);
		userdb_invalidate(ctx->users);
	}
	if (ret == 0 && d->keys.set)
		ret = write_keys(r, ctx);
	return ret;
}

/* --- the rest ------------------------------------------------------------- */

static void user_autorequire(struct resource *r, void (*add)(void *arg, const char *id), void *arg)
{
	struct user_desired *d = D(r);
	char id[64];

	if (d->ensure == ENSURE_ABSENT)
		return;
	/* without group, useradd puts the user in the group named like it */
	snprintf(id, sizeof(id), "group:%.56s", d->group ? d->group : r->name);
	add(arg, id);
	for (size_t i = 0; i < d->groups.n; i++) {
		snprintf(id, sizeof(id), "group:%.56s", d->groups.v[i]);
		add(arg, id);
	}
	for (size_t i = 0; i < d->groups_add.n; i++) {
		snprintf(id, sizeof(id), "group:%.56s", d->groups_add.v[i]);
		add(arg, id);
	}
}

static void user_free_state(struct resource *r)
{
	reset_state(S(r));
}

static void user_free_desired(struct resource *r)
{
	struct user_desired *d = D(r);

	acct_keys_free(d->want, d->nwant);
	d->want = NULL;
	d->nwant = 0;
}

const struct res_type res_type_user = {
	.name = "user",
	.doc = "an account in the root's /etc/passwd, changed with useradd/usermod/userdel, and its "
	       "ssh authorized keys",
	.attrs = user_attrs,
	.desired_size = sizeof(struct user_desired),
	.state_size = sizeof(struct user_state),
	.verify = true,
	.check = user_check,
	.probe = user_probe,
	.diff = user_diff,
	.apply = user_apply,
	.autorequire = user_autorequire,
	.free_state = user_free_state,
	.free_desired = user_free_desired,
};
