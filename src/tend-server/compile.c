/*
 * compile.c - node catalogs from a repository snapshot (see compile.h).
 *
 * Every document is parsed alone into its own struct catalog (lib/model),
 * once: tag documents are kept by (tag, blob id), so ten thousand nodes
 * over fifty tag sets parse each tag document once, and a node's catalog
 * is its tags' catalogs merged in order (catalog_merge), then its own
 * document's.  Because each document stays a catalog of its own, explain
 * needs no hook in the merge: it walks the documents in order and lists
 * every value each one sets, oldest first.
 *
 * The merged catalog is validated as `tend plan` does before probing:
 * every resource decoded through its schema with the template context
 * vars + "facts": null (facts are unknown here: a value that needs one is
 * left to the node, template.h), the dependency graph built (relations,
 * cycles), custom types checked against types/NAME in the snapshot, and
 * the repository paths of file sources and templates read into "files".
 *
 * Compiled catalogs (and errors) are cached per tree, for the last
 * CACHE_TREES trees, by (tag list, node document blob or "none" when the
 * document only lists tags).  A node whose document only sets vars reuses
 * its tag list's catalog: the resources and files are the same (values
 * are sent unrendered), so only the resources whose values hold templates
 * are decoded again with its vars, and only its vars are encoded.  The
 * hash is SHA-256 over the canonical JSON (json_dumps with JSON_SORT_KEYS
 * | JSON_COMPACT) of {"files","resources","tags","vars"}, assembled from
 * the members' own canonical texts.  Node documents' tag lists are kept by
 * blob id.  Every cache is bounded; over a bound it is emptied.
 * Explain, validation and the listings are in compile_report.c.
 */
#include "compile.h"
#include "compile_int.h"

#include <errno.h>
#include <search.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/graph.h"
#include "model/catalog.h"
#include "model/schema.h"
#include "model/template.h"
#include "model/yaml.h"
#include "resources/external.h"
#include "resources/fetch.h"
#include "resources/registry.h"
#include "util/hash.h"
#include "util/strutil.h"

#define CACHE_TREES 4                        /* trees whose catalogs are kept */
#define CACHE_BYTES_MAX ((size_t)128 << 20)  /* compiled catalogs, about */
#define DOCS_MAX 4096                        /* parsed tag documents */
#define INFOS_MAX 65536                      /* node documents' tag lists */
#define FILES_BYTES_MAX ((size_t)32 << 20)   /* "files" of one catalog */

/* ---- caches: binary trees (tsearch) of items that start with their key --- */

struct item {
	char *key;
};

struct cache {
	void *root;
	size_t n;
};

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->key, ((const struct item *)b)->key);
}

static void *cache_get(struct cache *t, const char *key)
{
	struct item k = { (char *)key };
	void **p = tfind(&k, &t->root, item_cmp);

	return p ? *p : NULL;
}

/* cache_add - it (a struct starting with its key, not in t yet). */
static void cache_add(struct cache *t, void *it)
{
	if (!tsearch(it, &t->root, item_cmp))
		abort(); /* out of memory, as xcalloc */
	t->n++;
}

static void cache_clear(struct cache *t, void (*free_item)(void *))
{
	tdestroy(t->root, free_item);
	t->root = NULL;
	t->n = 0;
}

/* ---- the compiler ------------------------------------------------------- */

/* A parsed tag document. */
struct doc {
	char *key;               /* "TAG\nBLOB" */
	struct catalog cat;
};

/* A compiled catalog, or why it could not be. */
struct centry {
	char *key;               /* tag list, "\n", node document blob or "none" */
	int err;                 /* 0, or the error (msg) */
	char *msg;
	int bad_tag;             /* err is this unknown tag, named where the node's
				  * document lists it (the entry may be shared) */
	json_t *body;            /* everything but node and revision */
	char hash[80];
	size_t cost;
	/* entries of a tag list ("none"), for nodes whose documents set vars: */
	struct catalog *cat;     /* the merged catalog */
	size_t *tmpl, ntmpl;     /* its resources whose values hold templates */
	char *res_text, *files_text; /* canonical JSON of "resources" and "files" */
};

struct compiler {
	json_t *defaults;        /* default tags */
	struct cache docs;       /* struct doc */
	struct cache infos;      /* struct ninfo */
	struct {
		char id[REPO_OID_HEX + 1];
		unsigned long used;
		struct cache entries; /* struct centry */
		size_t bytes;
		json_t *policy;     /* policy/NAME.yaml, path -> text (compile_policy.c) */
		char *policy_text;  /* ... its canonical JSON */
	} trees[CACHE_TREES];
	int cur;                    /* the tree being compiled (lookup) */
	unsigned long clock;
	unsigned long compiled, hits;
};

static void doc_free(void *p)
{
	struct doc *d = p;

	catalog_free(&d->cat);
	free(d->key);
	free(d);
}

static void ninfo_free(void *p)
{
	struct ninfo *i = p;

	json_decref(i->tags);
	free(i->key);
	free(i);
}

static void centry_free(void *p)
{
	struct centry *e = p;

	if (e->cat)
		catalog_free(e->cat);
	free(e->cat);
	free(e->tmpl);
	free(e->res_text);
	free(e->files_text);
	free(e->msg);
	json_decref(e->body);
	free(e->key);
	free(e);
}

/* compile_name_ok - (compile_int.h) */
bool compile_name_ok(const char *s)
{
	size_t n = strnlen(s, NAME_MAX_LEN + 1);

	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n;
}

struct compiler *compiler_new(const char *const *default_tags)
{
	struct compiler *c = xcalloc(1, sizeof(*c));

	c->defaults = json_array();
	for (size_t i = 0; default_tags && default_tags[i]; i++)
		json_array_append_new(c->defaults, json_string(default_tags[i]));
	return c;
}

void compiler_free(struct compiler *c)
{
	if (!c)
		return;
	for (int i = 0; i < CACHE_TREES; i++) {
		cache_clear(&c->trees[i].entries, centry_free);
		json_decref(c->trees[i].policy);
		free(c->trees[i].policy_text);
	}
	cache_clear(&c->docs, doc_free);
	cache_clear(&c->infos, ninfo_free);
	json_decref(c->defaults);
	free(c);
}

/* compiler_defaults - (compile_int.h) */
json_t *compiler_defaults(const struct compiler *c)
{
	return c->defaults;
}

json_t *compiler_stats(const struct compiler *c)
{
	size_t n = 0;

	for (int i = 0; i < CACHE_TREES; i++)
		n += c->trees[i].entries.n;
	return json_pack("{s:I, s:I, s:I}", "compiled", (json_int_t)c->compiled, "cache_hits",
			 (json_int_t)c->hits, "cached", (json_int_t)n);
}

/* ---- reading documents -------------------------------------------------- */

/* What the parse hooks need. */
struct hook_ctx {
	struct repo_snap *s;
	struct ninfo *info;      /* node documents: where 'tags' goes */
};

/* snap_type - a custom type is types/NAME in the snapshot (never run here). */
static int snap_type(void *arg, struct catalog *cat, const char *name, const struct res_type **ret,
		     char *why, size_t whylen)
{
	struct hook_ctx *h = arg;
	char path[REPO_PATH_MAX], blob[REPO_OID_HEX + 1];

	if (!ext_name_ok(name)) {
		snprintf(why, whylen, "custom type names are lowercase words: [a-z][a-z0-9_]*");
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "types/%s", name);
	if (repo_snap_blob_id(h->s, path, blob) < 0) {
		snprintf(why, whylen, "no custom type types/%s in the repository", name);
		return -ENOENT;
	}
	*ret = ext_type_get(&cat->ext_types, name, "types");
	return 0;
}

/* node_tags - a node document's 'tags': a list of distinct tag names. */
static int node_tags(void *arg, const char *file, const struct ynode *v, struct tend_err *err)
{
	struct hook_ctx *h = arg;
	json_t *tags = json_array();

	if (v->kind == YN_SCALAR && !v->quoted && v->len == 0) {
		h->info->tags = tags; /* "tags:" alone: none */
		return 0;
	}
	if (v->kind != YN_SEQ) {
		json_decref(tags);
		return err_at(err, -EINVAL, file, v->line, v->col,
			      "'tags' must be a list of tag names, e.g. [base, web], not %s",
			      ynode_kind_name(v));
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *t = v->items[i];
		size_t k;
		json_t *x;

		if (i == TAGS_MAX) {
			json_decref(tags);
			return err_at(err, -EINVAL, file, t->line, t->col, "more than %d tags", TAGS_MAX);
		}
		if (t->kind != YN_SCALAR || !compile_name_ok(t->str)) {
			json_decref(tags);
			return err_at(err, -EINVAL, file, t->line, t->col,
				      "not a tag name (letters, digits, '.', '-', '_')");
		}
		json_array_foreach(tags, k, x)
			if (!strcmp(json_string_value(x), t->str)) {
				json_decref(tags);
				return err_at(err, -EINVAL, file, t->line, t->col, "tag '%s' listed twice", t->str);
			}
		json_array_append_new(tags, json_string(t->str));
		h->info->line[i] = t->line;
		h->info->col[i] = t->col;
	}
	h->info->tags = tags;
	return 0;
}

/* parse_doc - the document at path (s) alone into cat; info set for node documents. */
static int parse_doc(struct repo_snap *s, const char *path, struct catalog *cat, struct ninfo *info,
		     struct tend_err *err)
{
	struct hook_ctx h = { s, info };
	struct buf b;
	int r;

	buf_init(&b, REPO_FILE_MAX);
	catalog_init(cat);
	cat->type_lookup = snap_type;
	cat->on_tags = info ? node_tags : NULL;
	cat->hook_arg = &h;
	r = repo_snap_read(s, path, &b, err);
	if (r == 0)
		r = catalog_add_buf(cat, path, buf_str(&b), b.len, err);
	buf_free(&b);
	cat->type_lookup = NULL;
	cat->on_tags = NULL;
	cat->hook_arg = NULL;
	if (r < 0)
		catalog_free(cat);
	return r;
}

/* compile_tag_doc - tag's document at s, parsed once per blob; -ENOENT when none. */
int compile_tag_doc(struct compiler *c, struct repo_snap *s, const char *tag,
		   const struct catalog **ret, struct tend_err *err)
{
	char path[REPO_PATH_MAX], blob[REPO_OID_HEX + 1], key[REPO_PATH_MAX + 64];
	struct doc *d;
	int r;

	snprintf(path, sizeof(path), "tags/%s.yaml", tag);
	r = repo_snap_blob_id(s, path, blob);
	if (r < 0)
		return err_set(err, r == -EISDIR ? -EINVAL : -ENOENT, "no %s in the repository", path);
	snprintf(key, sizeof(key), "%s\n%s", tag, blob);
	d = cache_get(&c->docs, key);
	if (!d) {
		d = xcalloc(1, sizeof(*d));
		r = parse_doc(s, path, &d->cat, NULL, err);
		if (r < 0) {
			free(d);
			return r == -ENOENT ? -EINVAL : r;
		}
		if (c->docs.n >= DOCS_MAX)
			cache_clear(&c->docs, doc_free);
		d->key = xstrdup(key);
		cache_add(&c->docs, d);
	}
	*ret = &d->cat;
	return 0;
}

/* compile_node_release - (compile_int.h) */
void compile_node_release(struct node *n)
{
	if (n->cat) {
		catalog_free(n->cat);
		free(n->cat);
	}
	n->cat = NULL;
}

/* node_parse - parse n's document into n->cat; its tag list into *info. */
static int node_parse(struct repo_snap *s, struct node *n, struct ninfo *info, struct tend_err *err)
{
	struct catalog *cat = xcalloc(1, sizeof(*cat));
	int r = parse_doc(s, n->path, cat, info, err);

	if (r < 0) {
		free(cat);
		json_decref(info->tags);
		info->tags = NULL;
		return r == -ENOENT ? -EINVAL : r;
	}
	info->only_tags = cat->n == 0 && json_object_size(cat->vars) == 0;
	n->cat = cat;
	return 0;
}

/*
 * compile_node_load - node's document at s (its blob id when the caller knows
 * it, else NULL): its tags (from the cache by blob when
 * it is there) and, when want_cat and it declares more than its tags, its
 * catalog (parsed anyway when the tags were not cached).
 */
int compile_node_load(struct compiler *c, struct repo_snap *s, const char *node,
			const char *blob, bool want_cat, struct node *n, struct tend_err *err)
{
	struct ninfo *info;
	int r;

	memset(n, 0, sizeof(*n));
	if (!compile_name_ok(node))
		return err_set(err, -EINVAL, "'%.64s': not a node name (letters, digits, '.', '-', '_')",
			       node);
	snprintf(n->path, sizeof(n->path), "nodes/%s.yaml", node);
	if (blob && strlen(blob) == REPO_OID_HEX) {
		memcpy(n->blob, blob, REPO_OID_HEX + 1);
		r = 0;
	} else {
		r = repo_snap_blob_id(s, n->path, n->blob);
	}
	if (r == -ENOENT) {
		n->tags = c->defaults;
		return 0;
	}
	if (r < 0)
		return err_set(err, -EINVAL, "%s is not a file", n->path);
	n->has_doc = true;
	info = cache_get(&c->infos, n->blob);
	if (!info) {
		info = xcalloc(1, sizeof(*info));
		r = node_parse(s, n, info, err);
		if (r < 0) {
			free(info);
			return r;
		}
		if (c->infos.n >= INFOS_MAX)
			cache_clear(&c->infos, ninfo_free);
		info->key = xstrdup(n->blob);
		cache_add(&c->infos, info);
	}
	n->info = info;
	n->tags = info->tags ? info->tags : c->defaults;
	if (want_cat && !info->only_tags && !n->cat) {
		struct ninfo tmp = { 0 };

		r = node_parse(s, n, &tmp, err);
		json_decref(tmp.tags);
		return r;
	}
	return 0;
}

/* ---- compiling ---------------------------------------------------------- */

static int unknown_tag(const struct node *n, size_t i, const char *tag, struct tend_err *err)
{
	if (n->info && n->info->tags)
		return err_at(err, -EINVAL, n->path, n->info->line[i], n->info->col[i],
			      "unknown tag '%s': no tags/%s.yaml in the repository", tag, tag);
	return err_set(err, -EINVAL,
		       "unknown tag '%s' in the server's default_tags: no tags/%s.yaml in the repository",
		       tag, tag);
}

/* merge_tags - n's tags' documents into cat, in order (*bad: the unknown tag). */
static int merge_tags(struct compiler *c, struct repo_snap *s, const struct node *n,
		      struct catalog *cat, int *bad, struct tend_err *err)
{
	size_t i;
	json_t *t;

	json_array_foreach(n->tags, i, t) {
		const struct catalog *d;
		int r = compile_tag_doc(c, s, json_string_value(t), &d, err);

		if (r == -ENOENT) {
			*bad = (int)i;
			return unknown_tag(n, i, json_string_value(t), err);
		}
		if (r < 0)
			return r;
		r = catalog_merge(cat, d, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* check_types - every custom type still has its types/NAME (documents are cached by blob). */
static int check_types(struct repo_snap *s, const struct catalog *cat, struct tend_err *err)
{
	char path[REPO_PATH_MAX], blob[REPO_OID_HEX + 1];

	for (size_t i = 0; i < cat->n; i++) {
		const struct resource *r = cat->res[i];

		if (!ext_type_path(r->type))
			continue;
		snprintf(path, sizeof(path), "types/%s", r->type->name);
		if (repo_snap_blob_id(s, path, blob) < 0)
			return err_at(err, -EINVAL, r->pos.file, r->pos.line, r->pos.col,
				      "unknown resource type '%s' (no custom type %s in the repository)",
				      r->type->name, path);
	}
	return 0;
}

/* decode - as `tend plan` before probing: schema (facts unknown), then relations and cycles. */
static int decode(struct catalog *cat, struct tend_err *err)
{
	struct res_ctx ctx;
	struct resource **order = NULL;
	int r = 0;

	memset(&ctx, 0, sizeof(ctx));
	ctx.cat = cat;
	ctx.plan = true;
	ctx.tmpl = json_copy(cat->vars);
	json_object_set_new(ctx.tmpl, "facts", json_null());
	for (size_t i = 0; i < cat->n && r == 0; i++)
		r = schema_decode(cat->res[i], &ctx, err);
	json_decref(ctx.tmpl);
	if (r == 0)
		r = graph_build(cat, &order, err);
	free(order);
	return r < 0 ? r : 0;
}

/* file_json - a file's content: a string, or {"base64"} when it is not UTF-8. */
static json_t *file_json(const struct buf *b)
{
	json_t *v = json_stringn(buf_str(b), b->len);
	unsigned char *enc;
	int n;

	if (v)
		return v;
	enc = xcalloc(1, 4 * (b->len / 3 + 1) + 1);
	n = base64_encode(enc, (const unsigned char *)buf_str(b), (int)b->len);
	v = n < 0 ? NULL : json_pack("{s:s}", "base64", (const char *)enc);
	free(enc);
	return v;
}

/* add_file - the repository file that attribute a of r names, into files. */
static int add_file(struct repo_snap *s, const struct resource *r, const struct raw_attr *a,
		    json_t *files, size_t *total, struct tend_err *err)
{
	const char *p = json_string_value(a->val);
	const struct srcpos *at = &a->val_pos;
	struct tend_err e2;
	struct buf b;
	json_t *v;
	int rc;

	if (!p || fetch_is_url(p) || json_object_get(files, p))
		return 0;
	if (!repo_path_ok(p))
		return err_at(err, -EINVAL, at->file, at->line, at->col,
			      "'%s' of %s must be a repository path such as files/motd.tmpl, found '%s'",
			      a->key, r->id, p);
	buf_init(&b, REPO_FILE_MAX);
	rc = repo_snap_read(s, p, &b, &e2);
	if (rc == -ENOENT || rc == -EISDIR)
		rc = err_at(err, -EINVAL, at->file, at->line, at->col,
			    "'%s' of %s: no file %s in the repository", a->key, r->id, p);
	else if (rc < 0)
		rc = err_at(err, rc, at->file, at->line, at->col, "'%s' of %s: %s", a->key, r->id, e2.msg);
	else if ((*total += b.len) > FILES_BYTES_MAX)
		rc = err_at(err, -EFBIG, at->file, at->line, at->col,
			    "the files of this catalog exceed %zu MiB", FILES_BYTES_MAX >> 20);
	else if (!(v = file_json(&b)))
		rc = err_at(err, -ENOMEM, at->file, at->line, at->col, "%s: cannot encode", p);
	else
		json_object_set_new(files, p, v);
	buf_free(&b);
	return rc;
}

/* add_files - sources and templates of file resources (repository paths). */
static int add_files(struct repo_snap *s, const struct catalog *cat, json_t *files,
		     struct tend_err *err)
{
	static const char *const keys[] = { "source", "template" };
	size_t total = 0;

	for (size_t i = 0; i < cat->n; i++) {
		const struct resource *r = cat->res[i];

		if (r->type != &res_type_file)
			continue;
		for (size_t k = 0; k < 2; k++) {
			const struct raw_attr *a = res_find_attr(r, keys[k]);
			int rc = a ? add_file(s, r, a, files, &total, err) : 0;

			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* compile_origin - (compile_int.h) */
json_t *compile_origin(const struct srcpos *p)
{
	char buf[REPO_PATH_MAX + 32];

	snprintf(buf, sizeof(buf), "%s:%d", p->file ? p->file : "?", p->line);
	return json_string(buf);
}

/* resources_json - the catalog's resources as sent: raw values, unrendered. */
static json_t *resources_json(const struct catalog *cat)
{
	json_t *res = json_array();

	for (size_t i = 0; i < cat->n; i++) {
		const struct resource *r = cat->res[i];
		json_t *o = json_object(), *attrs = json_object();

		for (size_t k = 0; k < r->nattrs; k++)
			json_object_set(attrs, r->attrs[k].key, r->attrs[k].val);
		json_object_set_new(o, "type", json_string(r->type->name));
		json_object_set_new(o, "name", json_string(r->name));
		json_object_set_new(o, "attrs", attrs);
		json_object_set_new(o, "origin", compile_origin(&r->pos));
		json_array_append_new(res, o);
	}
	return res;
}

static char *canon(const json_t *v)
{
	return json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
}

/*
 * finish - e's body and hash from its members (references taken); the
 * canonical texts of res and files are computed unless given.
 */
static int finish(struct compiler *c, struct centry *e, json_t *tags, json_t *vars, json_t *res,
		  json_t *files, const char *res_text, const char *files_text)
{
	json_t *policy = c->trees[c->cur].policy;
	const char *pt = c->trees[c->cur].policy_text;
	char *rt = res_text ? NULL : canon(res), *ft = files_text ? NULL : canon(files);
	char *tt = canon(tags), *vt = canon(vars), hex[SHA256_HEX_LEN + 1];
	struct buf b;
	int r = -ENOMEM;

	buf_init(&b, 0);
	if ((rt || res_text) && (ft || files_text) && tt && vt &&
	    buf_printf(&b,
		       "{\"files\":%s,\"policy\":%s,\"resources\":%s,\"tags\":%s,\"vars\":%s}",
		       files_text ? files_text : ft, pt ? pt : "{}", res_text ? res_text : rt, tt,
		       vt) == 0) {
		sha256_hex(b.data, b.len, hex);
		snprintf(e->hash, sizeof(e->hash), "sha256:%s", hex);
		e->body = json_pack("{s:o, s:o, s:o, s:o, s:O?, s:s}", "tags", tags, "vars", vars,
				    "resources", res, "files", files, "policy", policy, "hash",
				    e->hash);
		e->cost = b.len;
		r = e->body ? 0 : -ENOMEM;
		tags = vars = res = files = NULL;
	}
	if (r == 0 && !res_text && !files_text) { /* a tag list's catalog: kept for others */
		e->res_text = rt;
		e->files_text = ft;
		rt = ft = NULL;
	}
	json_decref(tags);
	json_decref(vars);
	json_decref(res);
	json_decref(files);
	free(rt);
	free(ft);
	free(tt);
	free(vt);
	buf_free(&b);
	return r;
}

/* has_template - whether a value holds a string with "{{". */
static bool has_template(const json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_string(v))
		return tmpl_has_tags(json_string_value(v), json_string_length(v));
	if (json_is_array(v))
		json_array_foreach(v, i, x)
			if (has_template(x))
				return true;
	if (json_is_object(v))
		json_object_foreach((json_t *)v, k, x)
			if (has_template(x))
				return true;
	return false;
}

/* keep_cat - a tag list's merged catalog, for nodes that set vars of their own. */
static void keep_cat(struct centry *e, struct catalog *cat)
{
	e->cat = xcalloc(1, sizeof(*e->cat));
	*e->cat = *cat;
	catalog_init(cat);
	e->tmpl = xcalloc(e->cat->n + 1, sizeof(*e->tmpl));
	for (size_t i = 0; i < e->cat->n; i++)
		for (size_t k = 0; k < e->cat->res[i]->nattrs; k++)
			if (has_template(e->cat->res[i]->attrs[k].val)) {
				e->tmpl[e->ntmpl++] = i;
				break;
			}
	e->cost += e->cat->n * 512;
}

/* build_full - compile n at s into e, every step. */
static int build_full(struct compiler *c, struct repo_snap *s, const struct node *n, bool shared,
		      struct centry *e, struct tend_err *err)
{
	struct catalog cat;
	json_t *files = json_object();
	int r;

	catalog_init(&cat);
	r = merge_tags(c, s, n, &cat, &e->bad_tag, err);
	if (r == 0 && !shared && n->cat)
		r = catalog_merge(&cat, n->cat, err);
	if (r == 0)
		r = check_types(s, &cat, err);
	if (r == 0)
		r = decode(&cat, err);
	if (r == 0)
		r = add_files(s, &cat, files, err);
	if (r == 0) {
		r = finish(c, e, json_incref(n->tags), json_incref(cat.vars), resources_json(&cat),
			   files, NULL, NULL);
		files = NULL;
		if (r < 0)
			err_set(err, r, "cannot encode the catalog");
	}
	if (r == 0 && shared)
		keep_cat(e, &cat);
	if (r == 0 && !shared) { /* only the tag lists' texts are reused */
		free(e->res_text);
		free(e->files_text);
		e->res_text = e->files_text = NULL;
	}
	json_decref(files);
	catalog_free(&cat);
	return r;
}

/* decode_copy - decode a copy of r (sharing its raw values), then free the copy. */
static int decode_copy(const struct resource *r, struct res_ctx *ctx, struct tend_err *err)
{
	struct resource t = { .type = r->type, .name = r->name, .id = r->id, .pos = r->pos,
			      .name_pos = r->name_pos, .attrs = r->attrs, .nattrs = r->nattrs };
	int ret = schema_decode(&t, ctx, err);

	if (t.desired) {
		if (t.type->free_desired)
			t.type->free_desired(&t);
		schema_free_desired(&t);
		free(t.desired);
	}
	if (t.rel) {
		strlist_free(&t.rel->requires);
		strlist_free(&t.rel->before);
		strlist_free(&t.rel->notify);
		strlist_free(&t.rel->subscribe);
		free(t.rel);
	}
	return ret;
}

static struct centry *lookup(struct compiler *c, struct repo_snap *s, const struct node *n,
			     bool shared, bool count);

/*
 * build_vars - n's document sets only vars: its tag list's catalog with
 * them.  1 when that catalog is invalid (the caller compiles all: the
 * node's vars may be what it lacks).
 */
static int build_vars(struct compiler *c, struct repo_snap *s, const struct node *n,
		      struct centry *e, struct tend_err *err)
{
	struct node b = *n;
	const struct centry *base;
	struct res_ctx ctx;
	json_t *vars;
	int r = 0;

	b.cat = NULL;
	base = lookup(c, s, &b, true, false);
	if (base->err || !base->cat)
		return 1;
	vars = json_copy(json_object_get(base->body, "vars"));
	json_object_update(vars, n->cat->vars);
	memset(&ctx, 0, sizeof(ctx));
	ctx.cat = base->cat;
	ctx.plan = true;
	ctx.tmpl = json_copy(vars);
	json_object_set_new(ctx.tmpl, "facts", json_null());
	for (size_t i = 0; i < base->ntmpl && r == 0; i++)
		r = decode_copy(base->cat->res[base->tmpl[i]], &ctx, err);
	json_decref(ctx.tmpl);
	if (r < 0) {
		json_decref(vars);
		return r;
	}
	r = finish(c, e, json_incref(n->tags), vars,
		   json_incref(json_object_get(base->body, "resources")),
		   json_incref(json_object_get(base->body, "files")), base->res_text,
		   base->files_text);
	return r < 0 ? err_set(err, r, "cannot encode the catalog") : 0;
}

/* build - compile n at s into e (body, hash), or e->err and e->msg. */
static void build(struct compiler *c, struct repo_snap *s, const struct node *n, bool shared,
		  struct centry *e)
{
	struct tend_err err = { "" };
	int r = 1;

	c->compiled++;
	e->bad_tag = -1;
	if (!shared && n->cat && n->cat->n == 0)
		r = build_vars(c, s, n, e, &err);
	if (r == 1)
		r = build_full(c, s, n, shared, e, &err);
	if (r < 0) {
		e->err = r;
		e->msg = xstrdup(err.msg);
		e->cost = strlen(e->msg);
		json_decref(e->body);
		e->body = NULL;
	}
}

/* ---- the cache ---------------------------------------------------------- */

/* tree_slot - id's slot, taking the least recently used one (and dropping its catalogs). */
static int tree_slot(struct compiler *c, const char *id)
{
	int lru = 0;

	for (int i = 0; i < CACHE_TREES; i++) {
		if (!strcmp(c->trees[i].id, id)) {
			c->trees[i].used = ++c->clock;
			return i;
		}
		if (c->trees[i].used < c->trees[lru].used)
			lru = i;
	}
	cache_clear(&c->trees[lru].entries, centry_free);
	c->trees[lru].bytes = 0;
	json_decref(c->trees[lru].policy);
	free(c->trees[lru].policy_text);
	c->trees[lru].policy = NULL;
	c->trees[lru].policy_text = NULL;
	snprintf(c->trees[lru].id, sizeof(c->trees[lru].id), "%s", id);
	c->trees[lru].used = ++c->clock;
	return lru;
}

/*
 * lookup - n's compiled catalog (or error) at s, from the cache or
 * compiled now; count: a hit counts in the stats.
 */
static struct centry *lookup(struct compiler *c, struct repo_snap *s, const struct node *n,
			     bool shared, bool count)
{
	int t = tree_slot(c, repo_snap_tree_id(s));
	struct buf key;
	struct centry *e;
	size_t i, total = 0;
	json_t *x;

	c->cur = t;
	if (!c->trees[t].policy) {
		struct tend_err perr;

		/* unreadable policy files: no policy, so the nodes refuse everything */
		if (compile_policy(s, &c->trees[t].policy, &perr) < 0)
			c->trees[t].policy = json_object();
		c->trees[t].policy_text = canon(c->trees[t].policy);
	}
	buf_init(&key, 0);
	json_array_foreach(n->tags, i, x)
		buf_printf(&key, "%s%s", i ? "," : "", json_string_value(x));
	buf_printf(&key, "\n%s", shared ? "none" : n->blob);
	e = cache_get(&c->trees[t].entries, buf_str(&key));
	if (e) {
		c->hits += count;
		buf_free(&key);
		return e;
	}
	e = xcalloc(1, sizeof(*e));
	build(c, s, n, shared, e);
	e->key = buf_steal(&key);
	e->cost += strlen(e->key) + 256;
	for (i = 0; i < CACHE_TREES; i++)
		total += c->trees[i].bytes;
	if (total + e->cost > CACHE_BYTES_MAX)
		for (i = 0; i < CACHE_TREES; i++) {
			cache_clear(&c->trees[i].entries, centry_free);
			c->trees[i].bytes = 0;
		}
	cache_add(&c->trees[t].entries, e);
	c->trees[t].bytes += e->cost;
	return e;
}

/*
 * compile_entry - n's compiled catalog at s: 0 when valid (*ret_body, when not
 * NULL: a new reference to everything but node and revision), else the
 * error.
 */
int compile_entry(struct compiler *c, struct repo_snap *s, struct node *n, json_t **ret_body,
		  struct tend_err *err)
{
	bool shared = !n->has_doc || n->info->only_tags;
	const struct centry *e;
	int r = 0;

	if (!shared && !n->cat) { /* not cached yet: its document is needed */
		struct ninfo tmp = { 0 };

		r = node_parse(s, n, &tmp, err);
		json_decref(tmp.tags);
	}
	if (r < 0)
		return r;
	e = lookup(c, s, n, shared, true);
	if (e->err && e->bad_tag >= 0)
		return unknown_tag(n, (size_t)e->bad_tag,
				   json_string_value(json_array_get(n->tags, (size_t)e->bad_tag)), err);
	if (e->err)
		return err_set(err, e->err, "%s", e->msg);
	if (ret_body)
		*ret_body = json_incref(e->body);
	return 0;
}

/* ---- the interface ------------------------------------------------------ */

int compile_node(struct compiler *c, struct repo_snap *s, const char *node, json_t **ret,
		 struct tend_err *err)
{
	const char *rev = repo_snap_commit_id(s);
	json_t *body = NULL, *out = NULL;
	struct node n;
	int r = compile_node_load(c, s, node, NULL, false, &n, err);

	if (r == 0)
		r = compile_entry(c, s, &n, &body, err);
	compile_node_release(&n);
	if (r < 0)
		return r;
	out = json_pack("{s:s, s:o}", "node", node, "revision", rev ? json_string(rev) : json_null());
	if (!out || json_object_update(out, body) < 0) {
		json_decref(out);
		json_decref(body);
		return err_set(err, -ENOMEM, "out of memory");
	}
	json_decref(body);
	*ret = out;
	return 0;
}

int compile_node_tags(struct compiler *c, struct repo_snap *s, const char *node, json_t **ret,
		      struct tend_err *err)
{
	struct node n;
	int r = compile_node_load(c, s, node, NULL, false, &n, err);

	if (r == 0)
		*ret = json_deep_copy(n.tags);
	compile_node_release(&n);
	return r;
}
