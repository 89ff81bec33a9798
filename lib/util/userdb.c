/*
 * userdb.c - passwd/group parsing beneath a root (see userdb.h).
 */
#include "util/userdb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/strutil.h"

#define USERDB_FILE_MAX ((size_t)64 << 20)

void userdb_init(struct userdb *db)
{
	memset(db, 0, sizeof(*db));
}

static void free_ents(struct userdb_ent *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].home);
		free(e[i].shell);
		if (e[i].members)
			for (char **m = e[i].members; *m; m++)
				free(*m);
		free(e[i].members);
	}
	free(e);
}

void userdb_free(struct userdb *db)
{
	free_ents(db->users, db->nusers);
	free_ents(db->groups, db->ngroups);
	userdb_init(db);
}

void userdb_invalidate(struct userdb *db)
{
	userdb_free(db);
}

static int read_root_file(struct fsroot *root, const char *path, struct buf *out)
{
	char chunk[65536];
	int fd = fsroot_open_path(root, path, O_RDONLY, 0);

	if (fd < 0)
		return fd;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return n < 0 ? -errno : 0;
		}
		r = buf_add(out, chunk, (size_t)n);
		if (r < 0) {
			close(fd);
			return r;
		}
	}
}

/* split_fields - cut line at ':' into at most max fields; returns count. */
static size_t split_fields(char *line, char **f, size_t max)
{
	size_t n = 0;

	f[n++] = line;
	for (char *c = line; *c && n < max; c++)
		if (*c == ':') {
			*c = '\0';
			f[n++] = c + 1;
		}
	return n;
}

static char **split_members(const char *s)
{
	size_t n = 1, k = 0;
	char **v;
	const char *p;

	for (p = s; *p; p++)
		n += (*p == ',');
	v = xcalloc(n + 1, sizeof(*v));
	while (*s) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);

		if (len)
			v[k++] = strndup(s, len);
		s += len + (e ? 1 : 0);
	}
	return v;
}

static int parse_db(struct fsroot *root, const char *path, bool users,
		    struct userdb_ent **ret, size_t *ret_n)
{
	struct buf b;
	struct userdb_ent *v = NULL;
	size_t n = 0, cap = 0;
	char *line, *save = NULL;
	int r;

	buf_init(&b, USERDB_FILE_MAX);
	r = read_root_file(root, path, &b);
	if (r < 0 && r != -ENOENT) {
		buf_free(&b);
		return r;
	}
	for (line = strtok_r(b.data ? b.data : (char[]){ 0 }, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[7];
		size_t nf = split_fields(line, f, users ? 7 : 4);
		long long id, gid = 0;

		if (nf < (users ? 7u : 4u) || !f[0][0] || f[0][0] == '+' || f[0][0] == '-')
			continue;
		if (str_to_ll(f[2], 10, 0, 0xfffffffeLL, &id) < 0)
			continue;
		if (users && str_to_ll(f[3], 10, 0, 0xfffffffeLL, &gid) < 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof(*v));
		}
		memset(&v[n], 0, sizeof(v[n]));
		v[n].name = xstrdup(f[0]);
		v[n].id = (unsigned)id;
		if (users) {
			v[n].gid = (unsigned)gid;
			v[n].home = xstrdup(f[5]);
			v[n].shell = xstrdup(f[6]);
		} else {
			v[n].members = split_members(f[3]);
		}
		n++;
	}
	buf_free(&b);
	*ret = v;
	*ret_n = n;
	return 0;
}

static int load(struct userdb *db, struct fsroot *root)
{
	int r;

	if (db->loaded)
		return 0;
	r = parse_db(root, "/etc/passwd", true, &db->users, &db->nusers);
	if (r == 0)
		r = parse_db(root, "/etc/group", false, &db->groups, &db->ngroups);
	if (r == 0)
		db->loaded = true;
	return r;
}

static const struct userdb_ent *find(struct userdb_ent *v, size_t n, const char *name, long long id)
{
	for (size_t i = 0; i < n; i++)
		if ((name && !strcmp(v[i].name, name)) || (!name && v[i].id == id))
			return &v[i];
	return NULL;
}

const struct userdb_ent *userdb_user_by_name(struct userdb *db, struct fsroot *root, const char *name)
{
	return load(db, root) < 0 ? NULL : find(db->users, db->nusers, name, 0);
}

const struct userdb_ent *userdb_user_by_id(struct userdb *db, struct fsroot *root, unsigned id)
{
	return load(db, root) < 0 ? NULL : find(db->users, db->nusers, NULL, id);
}

const struct userdb_ent *userdb_group_by_name(struct userdb *db, struct fsroot *root, const char *name)
{
	return load(db, root) < 0 ? NULL : find(db->groups, db->ngroups, name, 0);
}

const struct userdb_ent *userdb_group_by_id(struct userdb *db, struct fsroot *root, unsigned id)
{
	return load(db, root) < 0 ? NULL : find(db->groups, db->ngroups, NULL, id);
}

int userdb_resolve_user(struct userdb *db, struct fsroot *root, const char *s, uid_t *ret)
{
	const struct userdb_ent *e;
	long long id;

	if (str_to_ll(s, 10, 0, 0xfffffffeLL, &id) == 0) {
		*ret = (uid_t)id;
		return 0;
	}
	e = userdb_user_by_name(db, root, s);
	if (!e)
		return -ENOENT;
	*ret = e->id;
	return 0;
}

int userdb_resolve_group(struct userdb *db, struct fsroot *root, const char *s, gid_t *ret)
{
	const struct userdb_ent *e;
	long long id;

	if (str_to_ll(s, 10, 0, 0xfffffffeLL, &id) == 0) {
		*ret = (gid_t)id;
		return 0;
	}
	e = userdb_group_by_name(db, root, s);
	if (!e)
		return -ENOENT;
	*ret = e->id;
	return 0;
}

int userdb_groups_of(struct userdb *db, struct fsroot *root, const char *name,
		     gid_t **ret, size_t *ret_n)
{
	gid_t *v;
	size_t n = 0;
	int r = load(db, root);

	if (r < 0)
		return r;
	v = xcalloc(db->ngroups + 1, sizeof(*v));
	for (size_t i = 0; i < db->ngroups; i++)
		for (char **m = db->groups[i].members; m && *m; m++)
			if (!strcmp(*m, name)) {
				v[n++] = db->groups[i].id;
				break;
			}
	*ret = v;
	*ret_n = n;
	return 0;
}
