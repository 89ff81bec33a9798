/*
 * catalog_json.c - a catalog compiled by tend-server, as JSON, into a
 * struct catalog (see catalog.h, catalog_add_json).
 *
 * The server sends {"vars", "resources":[{"type","name","attrs","origin"}],
 * "files":{PATH: content}} with attribute values as they were written
 * (templates unrendered).  The agent writes the files somewhere of its
 * own and has file sources and templates, which name repository paths,
 * point there.  Everything is checked again as a manifest would be:
 * the catalog is signed, but the agent's schema may be older than the
 * server's, and a message naming the origin beats a crash later.
 */
#include "model/catalog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/catalog_int.h"
#include "model/schema.h"
#include "resources/fetch.h"
#include "resources/registry.h"
#include "util/strutil.h"

#define ORIGIN_MAX 4096
#define NAME_MAX_LEN 4096
#define REPO_PATH_LEN_MAX 1024

/* origin_pos - "FILE:LINE" as a position (file interned); "?" when malformed. */
static struct srcpos origin_pos(struct catalog *c, const json_t *origin)
{
	const char *s = json_string_value(origin), *colon;
	struct srcpos p = { NULL, 0, 0 };
	char file[ORIGIN_MAX];
	long long line;

	if (!s || strlen(s) >= sizeof(file)) {
		p.file = catalog_intern(c, "?");
		return p;
	}
	colon = strrchr(s, ':');
	if (colon && str_to_ll(colon + 1, 10, 1, 1 << 30, &line) == 0) {
		memcpy(file, s, (size_t)(colon - s));
		file[colon - s] = '\0';
		p.line = (int)line;
	} else {
		snprintf(file, sizeof(file), "%s", s);
	}
	p.file = catalog_intern(c, file[0] ? file : "?");
	return p;
}

/* repo_rel_ok - p is a plain relative path: no '/' at either end, no empty, "." or ".." part. */
static bool repo_rel_ok(const char *p)
{
	size_t n = strlen(p);

	if (!n || n > REPO_PATH_LEN_MAX || p[0] == '/' || p[n - 1] == '/')
		return false;
	for (const char *s = p; *s;) {
		size_t l = strcspn(s, "/");

		if (l == 0 || (l == 1 && s[0] == '.') || (l == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += l;
		if (*s == '/')
			s++;
	}
	for (const char *s = p; *s; s++)
		if ((unsigned char)*s < ' ')
			return false;
	return true;
}

/*
 * file_path - the value of source/template (a repository path) as a path
 * under files_dir; URLs and absolute paths are kept.  NULL with err set
 * when the catalog does not carry the file.
 */
static json_t *file_path(const json_t *val, const json_t *files, const char *files_dir,
			 const char *id, const char *key, const struct srcpos *pos,
			 struct tend_err *err)
{
	const char *p = json_string_value(val);
	struct buf b = BUF_INIT;
	json_t *v;

	if (!p || fetch_is_url(p))
		return json_incref((json_t *)val);
	if (!repo_rel_ok(p)) {
		err_at(err, -EINVAL, pos->file, pos->line, 0,
		       "'%s' of %s must be a repository path such as files/motd.tmpl, found '%s'", key,
		       id, p);
		return NULL;
	}
	if (!json_object_get(files, p)) {
		err_at(err, -EINVAL, pos->file, pos->line, 0,
		       "'%s' of %s names %s, which the catalog does not carry", key, id, p);
		return NULL;
	}
	if (buf_printf(&b, "%s/%s", files_dir, p) < 0) {
		err_set(err, -ENAMETOOLONG, "%s/%s: path too long", files_dir, p);
		return NULL;
	}
	v = json_string(buf_str(&b));
	buf_free(&b);
	return v;
}

/* type_of - built in, the catalog's hook, else a custom type beside files_dir or in the types path. */
static int type_of(struct catalog *c, const char *name, const char *manifest,
		   const struct srcpos *pos, const struct res_type **ret, struct tend_err *err)
{
	char why[1024];
	int r;

	if (c->type_lookup && !res_type_find(name))
		r = c->type_lookup(c->hook_arg, c, name, ret, why, sizeof(why));
	else
		r = res_type_lookup(name, manifest, &c->ext_types, ret, why, sizeof(why));
	if (r == -ENOENT)
		return err_at(err, -EINVAL, pos->file, pos->line, 0, "unknown resource type '%s' (%s)",
			      name, why);
	if (r < 0)
		return err_at(err, -EINVAL, pos->file, pos->line, 0, "%s", why);
	return 0;
}

static int add_attrs(struct catalog *c, struct resource *r, const json_t *attrs,
		     const json_t *files, const char *files_dir, const struct srcpos *pos,
		     struct tend_err *err)
{
	const char *k;
	json_t *v;
	int ret;

	json_object_foreach((json_t *)attrs, k, v) {
		json_t *val;

		ret = schema_check_key(r->type, r->id, k, pos, err);
		if (ret < 0)
			return ret;
		if (r->type == &res_type_file && (!strcmp(k, "source") || !strcmp(k, "template")))
			val = file_path(v, files, files_dir, r->id, k, pos, err);
		else
			val = json_incref(v);
		if (!val)
			return -EINVAL;
		catalog_set_attr_take(c, r, k, val, pos, pos);
	}
	return 0;
}

static int add_resource(struct catalog *c, const json_t *o, const json_t *files,
			const char *files_dir, const char *manifest, size_t i,
			struct tend_err *err)
{
	const char *type = json_string_value(json_object_get(o, "type"));
	const char *name = json_string_value(json_object_get(o, "name"));
	const json_t *attrs = json_object_get(o, "attrs");
	const struct res_type *t;
	struct resource *r;
	struct srcpos pos;
	char id[NAME_MAX_LEN + 128];
	int ret;

	if (!json_is_object(o) || !type || !name || !*name || (attrs && !json_is_object(attrs)))
		return err_set(err, -EINVAL,
			       "catalog: resource %zu is not {\"type\", \"name\", \"attrs\", \"origin\"}", i);
	pos = origin_pos(c, json_object_get(o, "origin"));
	if (strlen(name) > NAME_MAX_LEN || strchr(name, '\n'))
		return err_at(err, -EINVAL, pos.file, pos.line, 0,
			      "a resource name must be one line of at most %d bytes", NAME_MAX_LEN);
	ret = type_of(c, type, manifest, &pos, &t, err);
	if (ret < 0)
		return ret;
	snprintf(id, sizeof(id), "%s:%s", t->name, name);
	r = catalog_find(c, id);
	if (r && r->seen_doc == c->docs)
		return err_at(err, -EINVAL, pos.file, pos.line, 0, "catalog: duplicate resource %s", id);
	if (!r) /* else declared by an earlier document: the merge rule */
		r = catalog_new_resource(c, t, name, &pos, &pos);
	r->seen_doc = c->docs;
	r->seen_line = pos.line;
	return attrs ? add_attrs(c, r, attrs, files, files_dir, &pos, err) : 0;
}

int catalog_add_json(struct catalog *c, const json_t *catalog, const char *files_dir,
		     struct tend_err *err)
{
	const json_t *vars = json_object_get(catalog, "vars");
	const json_t *res = json_object_get(catalog, "resources");
	const json_t *files = json_object_get(catalog, "files");
	struct buf manifest = BUF_INIT;
	const char *k;
	json_t *v;
	size_t i;
	int r = 0;

	if (!json_is_object(catalog) || (vars && !json_is_object(vars)) ||
	    (res && !json_is_array(res)) || (files && !json_is_object(files)))
		return err_set(err, -EINVAL,
			       "catalog: expected an object with \"vars\" {}, \"resources\" [] and \"files\" {}");
	/* custom types are found in types/ beside "the manifest": files_dir's */
	if (buf_printf(&manifest, "%s/catalog", files_dir) < 0)
		return err_set(err, -ENAMETOOLONG, "%s: path too long", files_dir);
	c->docs++;
	json_object_foreach((json_t *)vars, k, v) {
		if (!*k || strchr(k, '.') || !strcmp(k, "facts")) {
			r = err_set(err, -EINVAL, "catalog: '%s' cannot be a variable name", k);
			goto out;
		}
		json_object_set(c->vars, k, v);
		json_object_set_new(c->var_pos, k, json_string("catalog"));
	}
	json_array_foreach(res, i, v) {
		r = add_resource(c, v, files, files_dir, buf_str(&manifest), i, err);
		if (r < 0)
			goto out;
	}
out:
	buf_free(&manifest);
	return r;
}
