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
 * Compiled catalogs (and errors) are cached by (tree id, tag list, node
 * document blob or "none" when the document only lists tags), for the
 * last CACHE_TREES trees.  A catalog shared by nodes is kept as JSON and
 * answered by reference; one of a node's own is kept as its canonical
 * text (smaller) and parsed again when asked for.  Node documents' tag
 * lists are kept by blob id.  Everything is bounded; over a bound a
 * cache is emptied and refilled.
 */
#include "compile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/graph.h"
#include "model/catalog.h"
#include "model/schema.h"
#include "model/yaml.h"
#include "resources/external.h"
#include "resources/fetch.h"
#include "resources/registry.h"
#include "util/hash.h"
#include "util/strutil.h"

#define NAME_MAX_LEN 253
#define TAGS_MAX 64                          /* tags of one node */
#define CACHE_TREES 4                        /* trees whose catalogs are kept */
#define CACHE_BYTES_MAX ((size_t)64 << 20)   /* compiled catalogs, about */
#define DOCS_MAX 4096                        /* parsed tag documents */
#define INFOS_MAX 65536                      /* node documents' tag lists */
#define FILES_BYTES_MAX ((size_t)32 << 20)   /* "files" of one catalog */

/* ---- a small string-keyed hash map -------------------------------------- */

struct slot {
	struct slot *next;
	size_t h;
	void *val;
	char key[];
};

struct map {
	struct slot **b;
	size_t nb, n;
	void (*free_val)(void *owner, void *val);
	void *owner;
};

static size_t str_hash(const char *s)
{
	size_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void *map_get(const struct map *m, const char *key)
{
	size_t h = str_hash(key);

	if (!m->nb)
		return NULL;
	for (struct slot *e = m->b[h & (m->nb - 1)]; e; e = e->next)
		if (e->h == h && !strcmp(e->key, key))
			return e->val;
	return NULL;
}

/* map_put - add key (not in m yet) with val. */
static void map_put(struct map *m, const char *key, void *val)
{
	size_t kl = strlen(key), h = str_hash(key);
	struct slot *e;

	if (m->n + 1 > m->nb) {
		size_t nb = m->nb ? m->nb * 2 : 64;
		struct slot **b = xcalloc(nb, sizeof(*b));

		for (size_t i = 0; i < m->nb; i++)
			while ((e = m->b[i])) {
				m->b[i] = e->next;
				e->next = b[e->h & (nb - 1)];
				b[e->h & (nb - 1)] = e;
			}
		free(m->b);
		m->b = b;
		m->nb = nb;
	}
	e = xcalloc(1, sizeof(*e) + kl + 1);
	memcpy(e->key, key, kl);
	e->h = h;
	e->val = val;
	e->next = m->b[h & (m->nb - 1)];
	m->b[h & (m->nb - 1)] = e;
	m->n++;
}

/* map_remove_if - drop every entry whose value pred accepts (pred NULL: all). */
static void map_remove_if(struct map *m, bool (*pred)(void *val, void *arg), void *arg)
{
	for (size_t i = 0; i < m->nb; i++) {
		struct slot **pp = &m->b[i], *e;

		while ((e = *pp)) {
			if (pred && !pred(e->val, arg)) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			m->free_val(m->owner, e->val);
			free(e);
			m->n--;
		}
	}
}

static void map_free(struct map *m)
{
	map_remove_if(m, NULL, NULL);
	free(m->b);
	m->b = NULL;
	m->nb = 0;
}

/* ---- the compiler ------------------------------------------------------- */

/* A node document's tag list (kept by blob id). */
struct ninfo {
	json_t *tags;            /* array of names; NULL: no 'tags' key */
	int line[TAGS_MAX], col[TAGS_MAX];
	bool only_tags;          /* declares nothing else */
};

/* A compiled catalog, or why it could not be. */
struct centry {
	int tree;                /* slot in compiler.trees */
	int err;                 /* 0, or the error (msg) */
	char *msg;
	int bad_tag;             /* err is this unknown tag, named where the node's
				  * document lists it (the entry may be shared) */
	json_t *body;            /* shared catalogs: everything but node/revision */
	char *text;              /* a node's own: the body as canonical JSON */
	char hash[80];
	size_t cost;
};

struct compiler {
	json_t *defaults;        /* default tags */
	struct map docs;         /* "TAG\nBLOB" -> struct catalog (one tag document) */
	struct map infos;        /* node document blob -> struct ninfo */
	struct map entries;      /* compile key -> struct centry */
	struct {
		char id[REPO_OID_HEX + 1];
		unsigned long used;
	} trees[CACHE_TREES];
	unsigned long clock;
	size_t bytes;
	unsigned long compiled, hits;
};

static void doc_free(void *owner, void *val)
{
	(void)owner;
	catalog_free(val);
	free(val);
}

static void ninfo_free(void *owner, void *val)
{
	struct ninfo *i = val;

	(void)owner;
	json_decref(i->tags);
	free(i);
}

static void centry_free(void *owner, void *val)
{
	struct compiler *c = owner;
	struct centry *e = val;

	c->bytes -= e->cost;
	free(e->msg);
	free(e->text);
	json_decref(e->body);
	free(e);
}

/* name_ok - node and tag names: letters, digits, '.', '-', '_'; 1..253 bytes. */
static bool name_ok(const char *s)
{
	size_t n = strnlen(s, NAME_MAX_LEN + 1);

	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

struct compiler *compiler_new(const char *const *default_tags)
{
	struct compiler *c = xcalloc(1, sizeof(*c));

	c->defaults = json_array();
	for (size_t i = 0; default_tags && default_tags[i]; i++)
		json_array_append_new(c->defaults, json_string(default_tags[i]));
	c->docs.free_val = doc_free;
	c->infos.free_val = ninfo_free;
	c->entries.free_val = centry_free;
	c->entries.owner = c;
	return c;
}

void compiler_free(struct compiler *c)
{
	if (!c)
		return;
	map_free(&c->entries);
	map_free(&c->docs);
	map_free(&c->infos);
	json_decref(c->defaults);
	free(c);
}

json_t *compiler_stats(const struct compiler *c)
{
	return json_pack("{s:I, s:I, s:I}", "compiled", (json_int_t)c->compiled, "cache_hits",
			 (json_int_t)c->hits, "cached", (json_int_t)c->entries.n);
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
		if (t->kind != YN_SCALAR || !name_ok(t->str)) {
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

/* tag_doc - tag's document at s, parsed once per blob; -ENOENT when none. */
static int tag_doc(struct compiler *c, struct repo_snap *s, const char *tag,
		   const struct catalog **ret, struct tend_err *err)
{
	char path[REPO_PATH_MAX], blob[REPO_OID_HEX + 1], key[REPO_PATH_MAX + 64];
	struct catalog *cat;
	int r;

	snprintf(path, sizeof(path), "tags/%s.yaml", tag);
	r = repo_snap_blob_id(s, path, blob);
	if (r < 0)
		return err_set(err, r == -EISDIR ? -EINVAL : -ENOENT, "no %s in the repository", path);
	snprintf(key, sizeof(key), "%s\n%s", tag, blob);
	cat = map_get(&c->docs, key);
	if (!cat) {
		cat = xcalloc(1, sizeof(*cat));
		r = parse_doc(s, path, cat, NULL, err);
		if (r < 0) {
			free(cat);
			return r == -ENOENT ? -EINVAL : r;
		}
		if (c->docs.n >= DOCS_MAX)
			map_remove_if(&c->docs, NULL, NULL);
		map_put(&c->docs, key, cat);
	}
	*ret = cat;
	return 0;
}

/* One node as compile_* sees it. */
struct node {
	char path[REPO_PATH_MAX];
	char blob[REPO_OID_HEX + 1];
	bool has_doc;
	const struct ninfo *info;    /* its tag list (cached), or NULL without a document */
	json_t *tags;                /* borrowed: info's or the defaults */
	struct catalog *cat;         /* its document, when parsed (owned) */
};

static void node_release(struct node *n)
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
 * node_load - node's document at s: its tags (from the cache by blob when
 * it is there) and, when want_cat and it declares more than its tags, its
 * catalog (parsed anyway when the tags were not cached).
 */
static int node_load(struct compiler *c, struct repo_snap *s, const char *node, bool want_cat,
		     struct node *n, struct tend_err *err)
{
	struct ninfo *info;
	int r;

	memset(n, 0, sizeof(*n));
	if (!name_ok(node))
		return err_set(err, -EINVAL, "'%.64s': not a node name (letters, digits, '.', '-', '_')",
			       node);
	snprintf(n->path, sizeof(n->path), "nodes/%s.yaml", node);
	r = repo_snap_blob_id(s, n->path, n->blob);
	if (r == -ENOENT) {
		n->tags = c->defaults;
		return 0;
	}
	if (r < 0)
		return err_set(err, -EINVAL, "%s is not a file", n->path);
	n->has_doc = true;
	info = map_get(&c->infos, n->blob);
	if (!info) {
		info = xcalloc(1, sizeof(*info));
		r = node_parse(s, n, info, err);
		if (r < 0) {
			free(info);
			return r;
		}
		if (c->infos.n >= INFOS_MAX)
			map_remove_if(&c->infos, NULL, NULL);
		map_put(&c->infos, n->blob, info);
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
		int r = tag_doc(c, s, json_string_value(t), &d, err);

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

static json_t *origin(const struct srcpos *p)
{
	char buf[REPO_PATH_MAX + 32];

	snprintf(buf, sizeof(buf), "%s:%d", p->file ? p->file : "?", p->line);
	return json_string(buf);
}

/* catalog_body - everything but node, revision and hash. */
static json_t *catalog_body(const struct catalog *cat, json_t *tags, json_t *files)
{
	json_t *res = json_array();

	for (size_t i = 0; i < cat->n; i++) {
		const struct resource *r = cat->res[i];
		json_t *attrs = json_object();

		for (size_t k = 0; k < r->nattrs; k++)
			json_object_set(attrs, r->attrs[k].key, r->attrs[k].val);
		json_array_append_new(res, json_pack("{s:s, s:s, s:o, s:o}", "type", r->type->name,
						     "name", r->name, "attrs", attrs, "origin",
						     origin(&r->pos)));
	}
	return json_pack("{s:O, s:O, s:o, s:O}", "tags", tags, "vars", cat->vars, "resources", res,
			 "files", files);
}

/* build - compile n at s into e (body, text, hash), or e->err/msg. */
static void build(struct compiler *c, struct repo_snap *s, const struct node *n, bool shared,
		  struct centry *e)
{
	struct tend_err err = { "" };
	struct catalog cat;
	json_t *files = json_object();
	char hex[SHA256_HEX_LEN + 1];
	int r;

	c->compiled++;
	catalog_init(&cat);
	e->bad_tag = -1;
	r = merge_tags(c, s, n, &cat, &e->bad_tag, &err);
	if (r == 0 && !shared && n->cat)
		r = catalog_merge(&cat, n->cat, &err);
	if (r == 0)
		r = check_types(s, &cat, &err);
	if (r == 0)
		r = decode(&cat, &err);
	if (r == 0)
		r = add_files(s, &cat, files, &err);
	if (r == 0) {
		e->body = catalog_body(&cat, n->tags, files);
		e->text = e->body ? json_dumps(e->body, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
		if (!e->text)
			r = err_set(&err, -ENOMEM, "cannot encode the catalog");
	}
	catalog_free(&cat);
	json_decref(files);
	if (r < 0) {
		e->err = r;
		e->msg = xstrdup(err.msg);
		json_decref(e->body);
		e->body = NULL;
		free(e->text);
		e->text = NULL;
		return;
	}
	sha256_hex(e->text, strlen(e->text), hex);
	snprintf(e->hash, sizeof(e->hash), "sha256:%s", hex);
	json_object_set_new(e->body, "hash", json_string(e->hash));
}

/* ---- the cache ---------------------------------------------------------- */

static bool in_tree(void *val, void *arg)
{
	return ((struct centry *)val)->tree == *(int *)arg;
}

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
	map_remove_if(&c->entries, in_tree, &lru);
	snprintf(c->trees[lru].id, sizeof(c->trees[lru].id), "%s", id);
	c->trees[lru].used = ++c->clock;
	return lru;
}

/* cache_key - tree, tag list, and the node document's blob or "none". */
static int cache_key(struct repo_snap *s, const struct node *n, bool shared, struct buf *key)
{
	size_t i;
	json_t *t;
	int r = buf_printf(key, "%s\n", repo_snap_tree_id(s));

	json_array_foreach(n->tags, i, t)
		if (r == 0)
			r = buf_printf(key, "%s%s", i ? "," : "", json_string_value(t));
	if (r == 0)
		r = buf_printf(key, "\n%s", shared ? "none" : n->blob);
	return r;
}

/* cache_put - keep e; a node's own catalog as text only (it is rarely shared). */
static void cache_put(struct compiler *c, const char *key, struct centry *e, bool shared)
{
	if (!e->err && !shared) {
		json_decref(e->body);
		e->body = NULL;
		e->cost = strlen(e->text) + 64;
	} else {
		/* JSON in memory takes a few times its text */
		e->cost = e->err ? strlen(e->msg) + 64 : strlen(e->text) * 4 + 64;
		free(e->text);
		e->text = NULL;
	}
	if (c->bytes + e->cost > CACHE_BYTES_MAX)
		map_remove_if(&c->entries, NULL, NULL);
	map_put(&c->entries, key, e);
	c->bytes += e->cost;
}

/* entry - n's compiled catalog at s, from the cache or compiled now. */
static int entry(struct compiler *c, struct repo_snap *s, struct node *n,
		 const struct centry **ret, struct tend_err *err)
{
	bool shared = !n->has_doc || n->info->only_tags;
	struct buf key;
	struct centry *e;
	int r, tree = tree_slot(c, repo_snap_tree_id(s));

	buf_init(&key, 0);
	r = cache_key(s, n, shared, &key);
	if (r < 0) {
		buf_free(&key);
		return err_set(err, r, "cache key too long");
	}
	e = map_get(&c->entries, buf_str(&key));
	if (e) {
		c->hits++;
	} else {
		if (!shared && !n->cat) {
			struct ninfo tmp = { 0 };

			r = node_parse(s, n, &tmp, err);
			json_decref(tmp.tags);
		}
		if (r < 0) {
			buf_free(&key);
			return r;
		}
		e = xcalloc(1, sizeof(*e));
		e->tree = tree;
		build(c, s, n, shared, e);
		cache_put(c, buf_str(&key), e, shared);
	}
	buf_free(&key);
	if (e->err && e->bad_tag >= 0)
		return unknown_tag(n, (size_t)e->bad_tag,
				   json_string_value(json_array_get(n->tags, (size_t)e->bad_tag)), err);
	if (e->err)
		return err_set(err, e->err, "%s", e->msg);
	*ret = e;
	return 0;
}

/* result - the catalog of node from entry e. */
static int result(const struct centry *e, struct repo_snap *s, const char *node, json_t **ret,
		  struct tend_err *err)
{
	const char *rev = repo_snap_commit_id(s);
	json_t *body = e->body ? json_incref(e->body) : json_loads(e->text, 0, NULL), *out;

	if (!body)
		return err_set(err, -ENOMEM, "cannot decode a cached catalog");
	out = json_pack("{s:s, s:o}", "node", node, "revision", rev ? json_string(rev) : json_null());
	if (out && !e->body)
		json_object_set_new(out, "hash", json_string(e->hash));
	if (!out || json_object_update(out, body) < 0) {
		json_decref(out);
		json_decref(body);
		return err_set(err, -ENOMEM, "out of memory");
	}
	json_decref(body);
	*ret = out;
	return 0;
}

/* ---- the interface ------------------------------------------------------ */

int compile_node(struct compiler *c, struct repo_snap *s, const char *node, json_t **ret,
		 struct tend_err *err)
{
	const struct centry *e;
	struct node n;
	int r = node_load(c, s, node, false, &n, err);

	if (r == 0)
		r = entry(c, s, &n, &e, err);
	if (r == 0)
		r = result(e, s, node, ret, err);
	node_release(&n);
	return r;
}

int compile_node_tags(struct compiler *c, struct repo_snap *s, const char *node, json_t **ret,
		      struct tend_err *err)
{
	struct node n;
	int r = node_load(c, s, node, false, &n, err);

	if (r == 0)
		*ret = json_deep_copy(n.tags);
	node_release(&n);
	return r;
}

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
			e = json_pack("{s:s, s:o, s:{}}", "id", r->id, "origin", origin(&r->pos), "attrs");
			json_array_append_new(json_object_get(out, "resources"), e);
			json_object_set(idx, r->id, e);
		}
		for (size_t a = 0; a < r->nattrs; a++)
			push_origin(json_object_get(e, "attrs"), r->attrs[a].key, r->attrs[a].val,
				    origin(&r->attrs[a].key_pos));
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
		r = node_load(c, s, node, true, &n, err);
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
		r = tag_doc(c, s, json_string_value(t), &d, err);
		if (r < 0)
			break;
		explain_doc(out, idx, d, path, id);
	}
	if (r == 0 && n.cat && !n.info->only_tags)
		explain_doc(out, idx, n.cat, n.path, id);
	if (r == 0 && id && !json_object_get(idx, id))
		r = err_set(err, -ENOENT, "%s has no resource %.200s", node, id);
	node_release(&n);
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
	return name_ok(out);
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
	json_t *list = NULL, *f, *cat;
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
		cat = NULL;
		r = dir[0] == 'n' ? compile_node(c, s, name, &cat, &err) : tag_doc(c, s, name, &d, &err);
		json_decref(cat);
		if (r < 0)
			add_error(errs, seen, err.msg);
	}
	json_decref(list);
	return 0;
}

int compile_validate(struct compiler *c, struct repo_snap *s, json_t **ret_errors)
{
	json_t *errs = json_array(), *seen = json_object();
	struct tend_err err = { "" };
	const struct centry *e;
	int r = validate_dir(c, s, "nodes", errs, seen);

	if (r == 0)
		r = validate_dir(c, s, "tags", errs, seen);
	if (r == 0 && json_array_size(c->defaults)) {
		struct node n = { .tags = c->defaults };

		if (entry(c, s, &n, &e, &err) < 0)
			add_error(errs, seen, err.msg);
	}
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

		if (node_load(c, s, nv[i], false, &n, NULL) == 0 && n.has_doc)
			json_array_foreach(n.tags, k, t)
				json_array_append_new(json_object_get(tag_entry(by, json_string_value(t)),
								      "nodes"), json_string(nv[i]));
		node_release(&n);
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
