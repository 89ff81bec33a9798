/*
 * compile_report.c - what the compiler tells about a snapshot as a whole
 * (see compile.h): where a node's values came from (explain), every
 * error of a candidate (validate), the nodes and the tags.
 *
 * Explain walks a node's documents in merge order, each parsed alone and
 * cached by the compiler (compile.c), and lists every value each one
 * sets: oldest first, the last the one in effect.
 */
#include "compile.h"
#include "compile_int.h"
#include "rpc/rpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/catalog.h"
#include "util/strutil.h"

/* push_origin - append {"value","origin"} to list key of obj. */
static void push_origin(json_t *obj, const char *key, json_t *value, json_t *org)
{
	json_t *list = json_object_get(obj, key);

	if (!list) {
		list = json_array();
		json_object_set_new(obj, key, list);
	}
	json_array_append_new(list, json_pack("{s:O, s:o}", "value", value ? value : json_null(),
					      "origin", org));
}

/* explain_doc - what one document sets, appended to out (idx: id -> entry). */
static void explain_doc(json_t *out, json_t *idx, const struct catalog *d, const char *path,
			const char *id)
{
	json_t *v, *vars = json_object_get(out, "vars");
	const char *k;

	json_array_append_new(json_object_get(out, "documents"), json_string(path));
	if (!id)
		json_object_foreach(d->vars, k, v)
			push_origin(vars, k, v, json_incref(json_object_get(d->var_pos, k)));
	for (size_t i = 0; i < d->n; i++) {
		const struct resource *r = d->res[i];
		json_t *e;

		if (id && strcmp(id, r->id))
			continue;
		e = json_object_get(idx, r->id);
		if (!e) {
			e = json_pack("{s:s, s:o, s:{}}", "id", r->id, "origin", compile_origin(&r->pos), "attrs");
			json_array_append_new(json_object_get(out, "resources"), e);
			json_object_set(idx, r->id, e);
		}
		for (size_t a = 0; a < r->nattrs; a++)
			push_origin(json_object_get(e, "attrs"), r->attrs[a].key, r->attrs[a].val,
				    compile_origin(&r->attrs[a].key_pos));
	}
}

int compile_explain(struct compiler *c, struct repo_snap *s, const char *node, const char *id,
		    json_t **ret, struct tend_err *err)
{
	const char *rev = repo_snap_commit_id(s);
	json_t *cat = NULL, *out = NULL, *idx = json_object(), *t;
	struct node n;
	size_t i;
	int r = compile_node(c, s, node, &cat, err); /* only a valid catalog is explained */

	json_decref(cat);
	if (r == 0)
		r = compile_node_load(c, s, node, NULL, true, &n, err);
	if (r < 0) {
		json_decref(idx);
		return r;
	}
	out = json_pack("{s:s, s:o, s:O, s:[], s:{}, s:[]}", "node", node, "revision",
			rev ? json_string(rev) : json_null(), "tags", n.tags, "documents", "vars",
			"resources");
	json_array_foreach(n.tags, i, t) {
		const struct catalog *d;
		char path[REPO_PATH_MAX];

		snprintf(path, sizeof(path), "tags/%s.yaml", json_string_value(t));
		r = compile_tag_doc(c, s, json_string_value(t), &d, err);
		if (r < 0)
			break;
		explain_doc(out, idx, d, path, id);
	}
	if (r == 0 && n.cat && !n.info->only_tags)
		explain_doc(out, idx, n.cat, n.path, id);
	if (r == 0 && id && !json_object_get(idx, id))
		r = err_set(err, -ENOENT, "%s has no resource %.200s", node, id);
	compile_node_release(&n);
	json_decref(idx);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}

/* doc_name - NAME of DIR/NAME.yaml (a node or tag name) into out, else false. */
static bool doc_name(const char *path, const char *dir, char out[NAME_MAX_LEN + 1])
{
	size_t dl = strlen(dir), pl = strlen(path);

	if (strncmp(path, dir, dl) || path[dl] != '/' || pl < dl + 6 ||
	    strcmp(path + pl - 5, ".yaml") || pl - dl - 6 > NAME_MAX_LEN)
		return false;
	memcpy(out, path + dl + 1, pl - dl - 6);
	out[pl - dl - 6] = '\0';
	return compile_name_ok(out);
}

/* add_error - msg into errs once (seen: the set of messages so far). */
static void add_error(json_t *errs, json_t *seen, const char *msg)
{
	if (json_object_get(seen, msg))
		return;
	json_object_set_new(seen, msg, json_true());
	json_array_append_new(errs, json_string(msg));
}

/* validate_dir - every document under dir ("nodes" or "tags") compiled or parsed. */
static int validate_dir(struct compiler *c, struct repo_snap *s, const char *dir, json_t *errs,
			json_t *seen)
{
	struct tend_err err = { "" };
	char name[NAME_MAX_LEN + 1], msg[REPO_PATH_MAX + 128];
	json_t *list = NULL, *f;
	const struct catalog *d;
	size_t i;
	int r = repo_snap_list(s, dir, &list, &err);

	if (r < 0)
		return r;
	json_array_foreach(list, i, f) {
		const char *path = json_string_value(json_object_get(f, "path"));

		if (!doc_name(path, dir, name)) {
			snprintf(msg, sizeof(msg), "%s: not a %s document (%s/NAME.yaml, NAME: letters, digits, '.', '-', '_')",
				 path, dir[0] == 'n' ? "node" : "tag", dir);
			add_error(errs, seen, msg);
			continue;
		}
		if (dir[0] == 'n') {
			struct node n;

			r = compile_node_load(c, s, name, json_string_value(json_object_get(f, "blob")),
					 false, &n, &err);
			if (r == 0)
				r = compile_entry(c, s, &n, NULL, &err);
			compile_node_release(&n);
		} else {
			r = compile_tag_doc(c, s, name, &d, &err);
		}
		if (r < 0)
			add_error(errs, seen, err.msg);
	}
	json_decref(list);
	return 0;
}

/*
 * validate_policy - policy/NAME.yaml parsed as the nodes will parse them: a
 * policy that does not parse would make every node refuse everything.
 */
static void validate_policy(struct repo_snap *s, json_t *errs, json_t *seen)
{
	struct tend_err err = { "" };
	struct rpc_policy *p = NULL;
	json_t *files = NULL;

	if (compile_policy(s, &files, &err) < 0 ||
	    (json_object_size(files) && rpc_policy_parse(files, &p, &err) < 0))
		add_error(errs, seen, err.msg);
	rpc_policy_free(p);
	json_decref(files);
}

int compile_validate(struct compiler *c, struct repo_snap *s, json_t **ret_errors)
{
	json_t *errs = json_array(), *seen = json_object();
	struct tend_err err = { "" };
	int r = validate_dir(c, s, "nodes", errs, seen);

	if (r == 0)
		r = validate_dir(c, s, "tags", errs, seen);
	if (r == 0 && json_array_size(compiler_defaults(c))) {
		struct node n = { .tags = compiler_defaults(c) };

		if (compile_entry(c, s, &n, NULL, &err) < 0)
			add_error(errs, seen, err.msg);
	}
	if (r == 0)
		validate_policy(s, errs, seen);
	json_decref(seen);
	if (r < 0) {
		json_decref(errs);
		return r;
	}
	*ret_errors = errs;
	return (int)json_array_size(errs);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* names - the names of the documents DIR/NAME.yaml at s, sorted (strings point into *list). */
static int names(struct repo_snap *s, const char *dir, json_t **list, const char ***ret,
		 size_t *ret_n, struct tend_err *err)
{
	char name[NAME_MAX_LEN + 1];
	const char **v;
	size_t i, n = 0;
	json_t *f;
	int r = repo_snap_list(s, dir, list, err);

	if (r < 0)
		return r;
	v = xcalloc(json_array_size(*list) + 1, sizeof(*v));
	json_array_foreach(*list, i, f) {
		json_t *p = json_object_get(f, "path");

		if (!doc_name(json_string_value(p), dir, name))
			continue;
		/* keep the name in the list entry: it lives as long as *list */
		json_object_set_new(f, "name", json_string(name));
		v[n++] = json_string_value(json_object_get(f, "name"));
	}
	qsort(v, n, sizeof(*v), cmp_str);
	*ret = v;
	*ret_n = n;
	return 0;
}

int compile_nodes(struct repo_snap *s, json_t **ret, struct tend_err *err)
{
	const char **v = NULL;
	json_t *list = NULL, *out;
	size_t n = 0;
	int r = names(s, "nodes", &list, &v, &n, err);

	if (r < 0)
		return r;
	out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(out, json_string(v[i]));
	free(v);
	json_decref(list);
	*ret = out;
	return 0;
}

/* tag_entry - the entry of tag in by (created with file null). */
static json_t *tag_entry(json_t *by, const char *tag)
{
	json_t *e = json_object_get(by, tag);

	if (!e) {
		e = json_pack("{s:s, s:n, s:[]}", "name", tag, "file", "nodes");
		json_object_set_new(by, tag, e);
	}
	return e;
}

int compile_tags(struct compiler *c, struct repo_snap *s, json_t **ret, struct tend_err *err)
{
	const char **tv = NULL, **nv = NULL, **all;
	json_t *tl = NULL, *nl = NULL, *by = json_object(), *out, *t;
	size_t tn = 0, nn = 0, i, k;
	const char *key;
	int r = names(s, "tags", &tl, &tv, &tn, err);

	if (r == 0)
		r = names(s, "nodes", &nl, &nv, &nn, err);
	for (i = 0; r == 0 && i < tn; i++) {
		char path[REPO_PATH_MAX];

		snprintf(path, sizeof(path), "tags/%s.yaml", tv[i]);
		json_object_set_new(tag_entry(by, tv[i]), "file", json_string(path));
	}
	for (i = 0; r == 0 && i < nn; i++) {
		struct node n;

		if (compile_node_load(c, s, nv[i], NULL, false, &n, NULL) == 0 && n.has_doc)
			json_array_foreach(n.tags, k, t)
				json_array_append_new(json_object_get(tag_entry(by, json_string_value(t)),
								      "nodes"), json_string(nv[i]));
		compile_node_release(&n);
	}
	all = xcalloc(json_object_size(by) + 1, sizeof(*all));
	k = 0;
	json_object_foreach(by, key, t)
		all[k++] = key;
	qsort(all, k, sizeof(*all), cmp_str);
	out = json_array();
	for (i = 0; r == 0 && i < k; i++)
		json_array_append(out, json_object_get(by, all[i]));
	free(all);
	free(tv);
	free(nv);
	json_decref(tl);
	json_decref(nl);
	json_decref(by);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}
