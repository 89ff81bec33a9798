/*
 * test-compile.c - unit tests for node catalogs (compile.h) and for what
 * the server asks of lib/model: documents merged one by one
 * (catalog_merge), facts left unknown (template.h: "facts": null).
 *
 * Each test works on a fresh repository (repo.h) in a temporary
 * directory: the example layout of the first start, then candidate
 * snapshots (repo_snap_edit) that put the documents a test needs.  A
 * candidate is never committed, so its catalogs have revision null.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "model/catalog.h"
#include "model/template.h"
#include "repo.h"
#include "util/hash.h"

struct fixture {
	char dir[256];
	struct repo *r;
	struct repo_snap *base;       /* HEAD: the example layout */
	struct repo_snap *s;          /* the test's candidate */
	struct compiler *c;
	struct tend_err err;
};

static const char *const default_tags[] = { "base", NULL };

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[PATH_MAX];

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/tend-test-compile-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(path, sizeof(path), "%s/config.git", f->dir);
	if (repo_open(path, true, &f->r, &f->err) < 0 ||
	    repo_snap_open(f->r, NULL, &f->base, &f->err) < 0) {
		print_error("%s\n", f->err.msg);
		return -1;
	}
	f->c = compiler_new(default_tags);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[PATH_MAX + 32];

	compiler_free(f->c);
	repo_snap_free(f->s);
	repo_snap_free(f->base);
	repo_free(f->r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		print_error("could not remove %s\n", f->dir);
	free(f);
	return 0;
}

/*
 * put - f->s becomes the example layout with nodes/example.yaml removed
 * and the given files (path, content, ..., NULL) written; content NULL
 * removes the path.
 */
static void put(struct fixture *f, ...)
{
	struct repo_edit e[32];
	size_t n = 0;
	va_list ap;
	const char *p;

	e[n++] = (struct repo_edit){ "nodes/example.yaml", NULL, 0, true };
	va_start(ap, f);
	while ((p = va_arg(ap, const char *)) && n < 32) {
		const char *data = va_arg(ap, const char *);

		e[n++] = (struct repo_edit){ p, data, data ? strlen(data) : 0, !data };
	}
	va_end(ap);
	repo_snap_free(f->s);
	f->s = NULL;
	if (repo_snap_edit(f->r, f->base, e, n, &f->s, &f->err) < 0)
		fail_msg("repo_snap_edit: %s", f->err.msg);
}

/* catalog - node's catalog at f->s; fails the test on error. */
static json_t *catalog(struct fixture *f, const char *node)
{
	json_t *j = NULL;

	if (compile_node(f->c, f->s, node, &j, &f->err) < 0)
		fail_msg("compile_node %s: %s", node, f->err.msg);
	return j;
}

/* resource - the catalog's resource id, or NULL. */
static json_t *resource(json_t *cat, const char *id)
{
	json_t *r;
	size_t i;
	char buf[512];

	json_array_foreach(json_object_get(cat, "resources"), i, r) {
		snprintf(buf, sizeof(buf), "%s:%s", json_string_value(json_object_get(r, "type")),
			 json_string_value(json_object_get(r, "name")));
		if (!strcmp(buf, id))
			return r;
	}
	return NULL;
}

static const char *attr(json_t *cat, const char *id, const char *key)
{
	return json_string_value(json_object_get(json_object_get(resource(cat, id), "attrs"), key));
}

static int stat_of(struct fixture *f, const char *key)
{
	json_t *st = compiler_stats(f->c);
	int v = (int)json_integer_value(json_object_get(st, key));

	json_decref(st);
	return v;
}

/* assert_fails - node's catalog is refused with exactly want. */
#define assert_fails(f, node, want)                                              \
	do {                                                                       \
		json_t *j_ = NULL;                                                 \
		assert_int_equal(compile_node((f)->c, (f)->s, node, &j_, &(f)->err), -EINVAL); \
		assert_null(j_);                                                   \
		assert_string_equal((f)->err.msg, want);                           \
	} while (0)

static const char base_yaml[] =
	"vars:\n"
	"  greeting: hello\n"
	"  port: 80\n"
	"resources:\n"
	"  - file: /etc/motd\n"
	"    template: files/motd.tmpl\n"
	"    mode: \"0644\"\n"
	"  - package: nginx\n";

static const char prod_yaml[] =
	"vars:\n"
	"  port: 8080\n"
	"resources:\n"
	"  - file: /etc/motd\n"
	"    mode: \"0640\"\n"
	"  - service: nginx\n"
	"    requires: package:nginx\n";

static const char web01_yaml[] =
	"tags: [base, production]\n"
	"vars:\n"
	"  greeting: hi\n"
	"resources:\n"
	"  - file: /etc/motd\n"
	"    mode: \"0600\"\n";

static void merge_order_tags_then_node(void **state)
{
	struct fixture *f = *state;
	json_t *cat, *tags;

	put(f, "tags/base.yaml", base_yaml, "tags/production.yaml", prod_yaml, "nodes/web01.yaml",
	    web01_yaml, NULL);
	cat = catalog(f, "web01");
	assert_string_equal(json_string_value(json_object_get(cat, "node")), "web01");
	assert_true(json_is_null(json_object_get(cat, "revision")));
	tags = json_object_get(cat, "tags");
	assert_int_equal(json_array_size(tags), 2);
	assert_string_equal(json_string_value(json_array_get(tags, 1)), "production");
	/* the node's document wins over production, which wins over base */
	assert_string_equal(attr(cat, "file:/etc/motd", "mode"), "0600");
	assert_string_equal(attr(cat, "file:/etc/motd", "template"), "files/motd.tmpl");
	assert_string_equal(json_string_value(json_object_get(json_object_get(cat, "vars"), "greeting")), "hi");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(cat, "vars"), "port")), 8080);
	/* declaration order, first declaration's origin */
	assert_int_equal(json_array_size(json_object_get(cat, "resources")), 3);
	assert_string_equal(json_string_value(json_object_get(resource(cat, "file:/etc/motd"), "origin")),
			    "tags/base.yaml:5");
	assert_ptr_equal(json_array_get(json_object_get(cat, "resources"), 2),
			 resource(cat, "service:nginx"));
	/* the template travels with the catalog, unrendered */
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(cat, "files"),
								  "files/motd.tmpl")),
			       "{{ facts.hostname }}"));
	assert_int_equal(strncmp(json_string_value(json_object_get(cat, "hash")), "sha256:", 7), 0);
	json_decref(cat);

	/* the other order: base's mode wins over nothing, production's over base */
	put(f, "tags/base.yaml", base_yaml, "tags/production.yaml", prod_yaml, "nodes/web02.yaml",
	    "tags: [production, base]\n", NULL);
	cat = catalog(f, "web02");
	assert_string_equal(attr(cat, "file:/etc/motd", "mode"), "0644");
	assert_string_equal(json_string_value(json_object_get(resource(cat, "file:/etc/motd"), "origin")),
			    "tags/production.yaml:4");
	json_decref(cat);
}

static void node_without_document_gets_default_tags(void **state)
{
	struct fixture *f = *state;
	json_t *cat, *tags;
	struct compiler *none = compiler_new(NULL);

	put(f, "tags/base.yaml", base_yaml, NULL);
	cat = catalog(f, "new-node.example.com");
	assert_string_equal(json_string_value(json_array_get(json_object_get(cat, "tags"), 0)), "base");
	assert_string_equal(attr(cat, "file:/etc/motd", "mode"), "0644");
	json_decref(cat);
	assert_int_equal(compile_node_tags(f->c, f->s, "new-node.example.com", &tags, &f->err), 0);
	assert_int_equal(json_array_size(tags), 1);
	json_decref(tags);
	/* a document without 'tags' gets them too; 'tags: []' gets none */
	put(f, "tags/base.yaml", base_yaml, "nodes/a.yaml", "vars:\n  x: 1\n", "nodes/b.yaml", "tags: []\n",
	    NULL);
	cat = catalog(f, "a");
	assert_non_null(resource(cat, "package:nginx"));
	json_decref(cat);
	cat = catalog(f, "b");
	assert_int_equal(json_array_size(json_object_get(cat, "resources")), 0);
	json_decref(cat);
	/* no default tags: an empty catalog */
	assert_int_equal(compile_node(none, f->s, "c", &cat, &f->err), 0);
	assert_int_equal(json_array_size(json_object_get(cat, "tags")), 0);
	assert_int_equal(json_array_size(json_object_get(cat, "resources")), 0);
	json_decref(cat);
	compiler_free(none);
	/* node names are checked */
	assert_int_equal(compile_node(f->c, f->s, "../etc", &cat, &f->err), -EINVAL);
	assert_int_equal(compile_node(f->c, f->s, "", &cat, &f->err), -EINVAL);
	assert_int_equal(compile_node(f->c, f->s, "a/b", &cat, &f->err), -EINVAL);
}

static const char *hash_of(json_t *cat)
{
	return json_string_value(json_object_get(cat, "hash"));
}

static void identical_catalogs_share_a_hash(void **state)
{
	struct fixture *f = *state;
	json_t *a, *b, *c, *d, *e, *a2;

	put(f, "tags/base.yaml", base_yaml, "tags/production.yaml", prod_yaml,
	    "nodes/a.yaml", "tags: [base, production]\n",
	    "nodes/b.yaml", "# b\ntags:\n  - base\n  - production\n",
	    "nodes/c.yaml", "tags: [production, base]\n",
	    "nodes/d.yaml", "tags: [base, production]\nvars:\n  port: 81\n",
	    "nodes/e.yaml", "tags: [base, production]\nvars:\n  port: 8080\n", NULL);
	a = catalog(f, "a");
	b = catalog(f, "b");
	c = catalog(f, "c");
	d = catalog(f, "d");
	e = catalog(f, "e");
	assert_string_equal(hash_of(a), hash_of(b));
	assert_string_not_equal(hash_of(a), hash_of(c));  /* another order, another catalog */
	assert_string_not_equal(hash_of(a), hash_of(d));  /* an override */
	/* an override that changes nothing: the same content, the same hash */
	assert_string_equal(hash_of(a), hash_of(e));
	assert_string_equal(json_string_value(json_object_get(b, "node")), "b");
	/* a node's own catalog comes back the same from the cache */
	a2 = catalog(f, "d");
	assert_true(json_equal(a2, d));
	json_decref(a2);
	/* a change in a file the catalog carries changes the hash */
	put(f, "tags/base.yaml", base_yaml, "tags/production.yaml", prod_yaml,
	    "nodes/a.yaml", "tags: [base, production]\n", "files/motd.tmpl", "changed\n", NULL);
	a2 = catalog(f, "a");
	assert_string_not_equal(hash_of(a), hash_of(a2));
	json_decref(a2);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(d);
	json_decref(e);
}

/* check_canonical_hash - "hash" is SHA-256 over the canonical JSON of all but node, revision, hash. */
static void check_canonical_hash(json_t *cat)
{
	json_t *copy = json_copy(cat);
	char hex[SHA256_HEX_LEN + 1], want[80], *text;

	json_object_del(copy, "node");
	json_object_del(copy, "revision");
	json_object_del(copy, "hash");
	text = json_dumps(copy, JSON_SORT_KEYS | JSON_COMPACT);
	sha256_hex(text, strlen(text), hex);
	snprintf(want, sizeof(want), "sha256:%s", hex);
	assert_string_equal(hash_of(cat), want);
	free(text);
	json_decref(copy);
}

static void node_vars_reuse_the_tag_list_catalog(void **state)
{
	struct fixture *f = *state;
	json_t *shared, *fast, *full;

	put(f, "tags/base.yaml", base_yaml, "tags/production.yaml", prod_yaml,
	    "nodes/a.yaml", "tags: [base, production]\n",
	    "nodes/b.yaml", "tags: [base, production]\nvars:\n  port: 81\n",
	    /* the same catalog, compiled in full: it redeclares a resource as it is */
	    "nodes/c.yaml", "tags: [base, production]\nvars:\n  port: 81\nresources:\n  - package: nginx\n",
	    NULL);
	shared = catalog(f, "a");
	fast = catalog(f, "b");
	full = catalog(f, "c");
	check_canonical_hash(shared);
	check_canonical_hash(fast);
	check_canonical_hash(full);
	assert_string_equal(hash_of(fast), hash_of(full));
	assert_string_not_equal(hash_of(fast), hash_of(shared));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(fast, "vars"), "port")), 81);
	/* the tag list's catalog is untouched */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(shared, "vars"), "port")), 8080);
	json_decref(shared);
	json_decref(fast);
	json_decref(full);

	/* a node's vars are checked against the templates that use them ... */
	put(f, "tags/base.yaml",
	    "vars:\n  m: \"0644\"\nresources:\n  - file: /etc/x\n    mode: \"{{ m }}\"\n"
	    "  - file: /etc/y\n    content: \"{{ greeting }}\"\n",
	    "nodes/a.yaml", "tags: [base]\n",
	    "nodes/b.yaml", "tags: [base]\nvars:\n  m: rw\n  greeting: hi\n",
	    "nodes/c.yaml", "tags: [base]\nvars:\n  greeting: hi\n", NULL);
	assert_fails(f, "b", "tags/base.yaml:5:11: 'mode' of file:/etc/x must be octal permissions like \"0644\", found 'rw'");
	/* ... and may be what the tags' catalog lacks */
	assert_fails(f, "a", "tags/base.yaml:7:14: missing variable 'greeting' (in 'content')");
	full = catalog(f, "c");
	check_canonical_hash(full);
	assert_string_equal(attr(full, "file:/etc/y", "content"), "{{ greeting }}");
	json_decref(full);
}

static void cache_hits_are_counted(void **state)
{
	struct fixture *f = *state;
	json_t *j;

	put(f, "tags/base.yaml", base_yaml, "nodes/a.yaml", "tags: [base]\n", "nodes/b.yaml",
	    "tags: [base]\n# another blob\n", "nodes/c.yaml", "tags: [base]\nvars:\n  x: 1\n", NULL);
	assert_int_equal(stat_of(f, "compiled"), 0);
	json_decref(catalog(f, "a"));
	json_decref(catalog(f, "b"));
	json_decref(catalog(f, "no-document")); /* default tags [base]: the same catalog */
	assert_int_equal(stat_of(f, "compiled"), 1);
	assert_int_equal(stat_of(f, "cache_hits"), 2);
	json_decref(catalog(f, "c"));
	json_decref(catalog(f, "c"));
	assert_int_equal(stat_of(f, "compiled"), 2);
	assert_int_equal(stat_of(f, "cache_hits"), 3);
	assert_int_equal(stat_of(f, "cached"), 2);
	/* another tree: compiled again */
	put(f, "tags/base.yaml", "resources:\n  - package: vim\n", "nodes/a.yaml", "tags: [base]\n",
	    NULL);
	j = catalog(f, "a");
	assert_non_null(resource(j, "package:vim"));
	assert_int_equal(stat_of(f, "compiled"), 3);
	json_decref(j);
	/* errors are cached too */
	put(f, "tags/base.yaml", "resources:\n  - package: vim\n    enusre: latest\n", NULL);
	assert_int_equal(compile_node(f->c, f->s, "x", &j, &f->err), -EINVAL);
	assert_int_equal(compile_node(f->c, f->s, "y", &j, &f->err), -EINVAL);
	assert_int_equal(stat_of(f, "compiled"), 4);
	assert_string_equal(f->err.msg,
			    "tags/base.yaml:3:5: unknown attribute 'enusre' in package:vim (did you mean 'ensure'?)");
}

/* origins - "VALUE@ORIGIN VALUE@ORIGIN ..." of an explain list. */
static void origins(json_t *list, char *out, size_t n)
{
	size_t i, len = 0;
	json_t *e;

	out[0] = '\0';
	json_array_foreach(list, i, e) {
		char *v = json_dumps(json_object_get(e, "value"), JSON_ENCODE_ANY);

		len += (size_t)snprintf(out + len, n - len, "%s%s@%s", i ? " " : "", v,
					json_string_value(json_object_get(e, "origin")));
		free(v);
	}
}

static void explain_reports_every_origin_oldest_first(void **state)
{
	struct fixture *f = *state;
	json_t *x, *r;
	char got[1024];

	put(f, "tags/base.yaml", base_yaml, "tags/production.yaml", prod_yaml, "nodes/web01.yaml",
	    web01_yaml, NULL);
	assert_int_equal(compile_explain(f->c, f->s, "web01", NULL, &x, &f->err), 0);
	assert_string_equal(json_string_value(json_array_get(json_object_get(x, "documents"), 2)),
			    "nodes/web01.yaml");
	r = json_array_get(json_object_get(x, "resources"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "id")), "file:/etc/motd");
	assert_string_equal(json_string_value(json_object_get(r, "origin")), "tags/base.yaml:5");
	origins(json_object_get(json_object_get(r, "attrs"), "mode"), got, sizeof(got));
	assert_string_equal(got, "\"0644\"@tags/base.yaml:7 \"0640\"@tags/production.yaml:5 "
				 "\"0600\"@nodes/web01.yaml:6");
	origins(json_object_get(json_object_get(r, "attrs"), "template"), got, sizeof(got));
	assert_string_equal(got, "\"files/motd.tmpl\"@tags/base.yaml:6");
	origins(json_object_get(json_object_get(x, "vars"), "port"), got, sizeof(got));
	assert_string_equal(got, "80@tags/base.yaml:3 8080@tags/production.yaml:2");
	origins(json_object_get(json_object_get(x, "vars"), "greeting"), got, sizeof(got));
	assert_string_equal(got, "\"hello\"@tags/base.yaml:2 \"hi\"@nodes/web01.yaml:3");
	json_decref(x);

	/* one resource */
	assert_int_equal(compile_explain(f->c, f->s, "web01", "service:nginx", &x, &f->err), 0);
	assert_int_equal(json_array_size(json_object_get(x, "resources")), 1);
	origins(json_object_get(json_object_get(json_array_get(json_object_get(x, "resources"), 0),
						"attrs"), "requires"), got, sizeof(got));
	assert_string_equal(got, "\"package:nginx\"@tags/production.yaml:7");
	json_decref(x);
	assert_int_equal(compile_explain(f->c, f->s, "web01", "service:apache", &x, &f->err), -ENOENT);
	/* an invalid catalog is not explained */
	put(f, "tags/base.yaml", "resources:\n  - bogus: x\n", "nodes/web01.yaml", "tags: [base]\n", NULL);
	assert_int_equal(compile_explain(f->c, f->s, "web01", NULL, &x, &f->err), -EINVAL);
}

static void invalid_catalogs_name_file_and_line(void **state)
{
	struct fixture *f = *state;

	put(f, "tags/base.yaml", "resources:\n  - file: /etc/motd\n    mode: [\n", NULL);
	assert_fails(f, "n", "tags/base.yaml:4:1: did not find expected node content while parsing a flow node");
	put(f, "tags/base.yaml", base_yaml, "nodes/n.yaml",
	    "tags: [base]\nresources:\n  - file: /etc/motd\n    mdoe: \"0600\"\n", NULL);
	assert_fails(f, "n", "nodes/n.yaml:4:5: unknown attribute 'mdoe' in file:/etc/motd (did you mean 'mode'?)");
	put(f, "tags/base.yaml", base_yaml, "tags/loop.yaml",
	    "resources:\n  - package: nginx\n    requires: service:nginx\n  - service: nginx\n    requires: package:nginx\n",
	    "nodes/n.yaml", "tags: [base, loop]\n", NULL);
	assert_fails(f, "n", "tags/base.yaml:8:5: dependency cycle: service:nginx -> package:nginx -> service:nginx");
	put(f, "tags/base.yaml", base_yaml, "files/motd.tmpl", NULL, NULL);
	assert_fails(f, "n", "tags/base.yaml:6:15: 'template' of file:/etc/motd: no file files/motd.tmpl in the repository");
	put(f, "tags/base.yaml", "resources:\n  - file: /etc/x\n    source: /srv/x\n", NULL);
	assert_fails(f, "n", "tags/base.yaml:3:13: 'source' of file:/etc/x must be a repository path such as files/motd.tmpl, found '/srv/x'");
	put(f, "tags/base.yaml", base_yaml, "nodes/n.yaml", "# n\ntags: [base, nope]\n", NULL);
	assert_fails(f, "n", "nodes/n.yaml:2:14: unknown tag 'nope': no tags/nope.yaml in the repository");
	put(f, "nodes/n.yaml", "tags: [base]\n", "tags/base.yaml", NULL, NULL);
	assert_fails(f, "n", "nodes/n.yaml:1:8: unknown tag 'base': no tags/base.yaml in the repository");
	assert_fails(f, "m", "unknown tag 'base' in the server's default_tags: no tags/base.yaml in the repository");
	put(f, "tags/base.yaml", base_yaml, "nodes/n.yaml", "tags: base\n", NULL);
	assert_fails(f, "n", "nodes/n.yaml:1:7: 'tags' must be a list of tag names, e.g. [base, web], not a scalar");
	put(f, "tags/base.yaml", base_yaml, "nodes/n.yaml", "tags: [base, ../x]\n", NULL);
	assert_fails(f, "n", "nodes/n.yaml:1:14: not a tag name (letters, digits, '.', '-', '_')");
	put(f, "tags/base.yaml", base_yaml, "nodes/n.yaml", "tags: [base, base]\n", NULL);
	assert_fails(f, "n", "nodes/n.yaml:1:14: tag 'base' listed twice");
	/* a tag document may not carry tags */
	put(f, "tags/base.yaml", "tags: [x]\n", NULL);
	assert_fails(f, "n", "tags/base.yaml:1:1: 'tags' belongs in a node document on tend-server, not in a manifest applied directly");
	/* a template needs its variables (only facts are left to the node) */
	put(f, "tags/base.yaml", "resources:\n  - file: /etc/x\n    content: \"{{ nope }}\"\n", NULL);
	assert_fails(f, "n", "tags/base.yaml:3:14: missing variable 'nope' (in 'content')");
}

static void facts_are_left_to_the_node(void **state)
{
	struct fixture *f = *state;
	json_t *cat;

	put(f, "tags/base.yaml",
	    "vars:\n  who: admin\n"
	    "resources:\n"
	    "  - file: /etc/hostname\n"
	    "    content: \"{{ facts.hostname }} {{ who }}\\n\"\n"
	    "    mode: \"{{ facts.mode }}\"\n"
	    "    owner: '{{ facts.owner | default(\"root\") }}'\n"
	    "  - package: \"{{ facts.os.family }}-tools\"\n"
	    "  - exec: greet\n"
	    "    command: [/bin/echo, \"{{ facts.hostname }}\"]\n", NULL);
	/* a package name is never a template: that error stays */
	assert_fails(f, "n", "tags/base.yaml:8:14: a resource name is its identity and is never a template; put {{ }} in attributes");
	put(f, "tags/base.yaml",
	    "vars:\n  who: admin\n"
	    "resources:\n"
	    "  - file: /etc/hostname\n"
	    "    content: \"{{ facts.hostname }} {{ who }}\\n\"\n"
	    "    mode: \"{{ facts.mode }}\"\n"
	    "    owner: '{{ facts.owner | default(\"root\") }}'\n"
	    "  - exec: greet\n"
	    "    command: [/bin/echo, \"{{ facts.hostname }}\"]\n", NULL);
	cat = catalog(f, "n");
	assert_string_equal(attr(cat, "file:/etc/hostname", "mode"), "{{ facts.mode }}");
	json_decref(cat);
	/* a fact does not excuse a bad value elsewhere in the resource */
	put(f, "tags/base.yaml",
	    "resources:\n"
	    "  - file: /etc/hostname\n"
	    "    content: \"{{ facts.hostname }}\"\n"
	    "    mode: \"0999\"\n", NULL);
	assert_fails(f, "n", "tags/base.yaml:4:11: 'mode' of file:/etc/hostname must be octal permissions like \"0644\", found '0999'");
}

static void facts_unknown_only_when_the_context_says_so(void **state)
{
	struct tend_err err;
	struct buf out;
	json_t *unknown = json_pack("{s:n, s:s}", "facts", "x", "y");
	json_t *known = json_pack("{s:{s:s}}", "facts", "hostname", "web01");
	json_t *none = json_pack("{s:s}", "x", "y");

	(void)state;
	buf_init(&out, 0);
	assert_int_equal(tmpl_render("{{ facts.hostname }}", 20, "t", unknown, &out, &err), -ENODATA);
	assert_string_equal(err.msg, "t:1:1: 'facts.hostname' is a fact, known only on the node");
	/* masterless: facts known, or absent: a missing name is an error as ever */
	buf_reset(&out);
	assert_int_equal(tmpl_render("{{ facts.os }}", 14, "t", known, &out, &err), -EINVAL);
	assert_string_equal(err.msg, "t:1:1: missing variable 'facts.os'");
	buf_reset(&out);
	assert_int_equal(tmpl_render("{{ facts.os }}", 14, "t", none, &out, &err), -EINVAL);
	assert_string_equal(err.msg, "t:1:1: missing variable 'facts.os'");
	/* other names stay strict with facts unknown */
	buf_reset(&out);
	assert_int_equal(tmpl_render("{{ factsx }}", 12, "t", unknown, &out, &err), -EINVAL);
	buf_reset(&out);
	assert_int_equal(tmpl_render("{{ facts.a | default(\"z\") }}{{ x }}", 35, "t", unknown, &out, &err), 0);
	assert_string_equal(buf_str(&out), "zy");
	buf_free(&out);
	json_decref(unknown);
	json_decref(known);
	json_decref(none);
}

static void custom_types_come_from_types_dir(void **state)
{
	struct fixture *f = *state;
	json_t *cat;
	static const char doc[] = "resources:\n  - pkgcache: apt\n    size: 12\n    path: /var/cache/x\n";

	put(f, "tags/base.yaml", doc, NULL);
	assert_fails(f, "n", "tags/base.yaml:2:5: unknown resource type 'pkgcache' (a resource starts with its type, e.g. '- file: /etc/motd'; no custom type types/pkgcache in the repository)");
	put(f, "tags/base.yaml", doc, "types/pkgcache", "#!/bin/sh\nexit 0\n", NULL);
	cat = catalog(f, "n");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(resource(cat, "pkgcache:apt"),
									    "attrs"), "size")), 12);
	json_decref(cat);
	/* the same document, parsed once with its type present, is checked again */
	put(f, "tags/base.yaml", doc, "nodes/n.yaml", "tags: [base]\n", NULL);
	assert_fails(f, "n", "tags/base.yaml:2:5: unknown resource type 'pkgcache' (no custom type types/pkgcache in the repository)");
}

static void merge_equals_adding_in_order(void **state)
{
	static const char a[] = "vars:\n  v: 1\nresources:\n  - file: /a\n    mode: \"0600\"\n  - package: p\n";
	static const char b[] = "vars:\n  v: 2\n  w: 3\nresources:\n  - package: q\n  - file: /a\n    owner: root\n    mode: \"0644\"\n";
	struct catalog one, da, db, merged;
	struct tend_err err;
	char *x, *y;

	(void)state;
	catalog_init(&one);
	catalog_init(&da);
	catalog_init(&db);
	catalog_init(&merged);
	assert_int_equal(catalog_add_buf(&one, "a.yaml", a, strlen(a), &err), 0);
	assert_int_equal(catalog_add_buf(&one, "b.yaml", b, strlen(b), &err), 0);
	assert_int_equal(catalog_add_buf(&da, "a.yaml", a, strlen(a), &err), 0);
	assert_int_equal(catalog_add_buf(&db, "b.yaml", b, strlen(b), &err), 0);
	assert_int_equal(catalog_merge(&merged, &da, &err), 0);
	assert_int_equal(catalog_merge(&merged, &db, &err), 0);
	catalog_free(&da); /* values are shared, positions re-interned */
	assert_int_equal(merged.n, one.n);
	for (size_t i = 0; i < one.n; i++) {
		assert_string_equal(merged.res[i]->id, one.res[i]->id);
		assert_string_equal(merged.res[i]->pos.file, one.res[i]->pos.file);
		assert_int_equal(merged.res[i]->nattrs, one.res[i]->nattrs);
		for (size_t k = 0; k < one.res[i]->nattrs; k++) {
			assert_string_equal(merged.res[i]->attrs[k].key, one.res[i]->attrs[k].key);
			assert_true(json_equal(merged.res[i]->attrs[k].val, one.res[i]->attrs[k].val));
			assert_string_equal(merged.res[i]->attrs[k].val_pos.file,
					    one.res[i]->attrs[k].val_pos.file);
			assert_int_equal(merged.res[i]->attrs[k].val_pos.line,
					 one.res[i]->attrs[k].val_pos.line);
		}
	}
	x = json_dumps(merged.vars, JSON_SORT_KEYS);
	y = json_dumps(one.vars, JSON_SORT_KEYS);
	assert_string_equal(x, y);
	free(x);
	free(y);
	x = json_dumps(merged.var_pos, JSON_SORT_KEYS);
	assert_string_equal(x, "{\"v\": \"b.yaml:2\", \"w\": \"b.yaml:3\"}");
	free(x);
	catalog_free(&db);
	catalog_free(&merged);
	catalog_free(&one);
}

static void validate_lists_every_error_once(void **state)
{
	struct fixture *f = *state;
	json_t *errs = NULL;
	int n;

	put(f, "tags/base.yaml", base_yaml, "tags/unused.yaml", "resources:\n  - packge: x\n",
	    "nodes/a.yaml", "tags: [base, nope]\n", "nodes/b.yaml", "tags: [base, nope]\n",
	    "nodes/c.yaml", "tags: [base]\n", "nodes/d.yml", "tags: [base]\n", NULL);
	n = compile_validate(f->c, f->s, &errs);
	if (n != 4) {
		char *d = json_dumps(errs, JSON_INDENT(1));

		print_error("%s\n", d);
		free(d);
	}
	assert_int_equal(n, 4);
	assert_string_equal(json_string_value(json_array_get(errs, 0)),
			    "nodes/a.yaml:1:14: unknown tag 'nope': no tags/nope.yaml in the repository");
	assert_string_equal(json_string_value(json_array_get(errs, 1)),
			    "nodes/b.yaml:1:14: unknown tag 'nope': no tags/nope.yaml in the repository");
	assert_string_equal(json_string_value(json_array_get(errs, 2)),
			    "nodes/d.yml: not a node document (nodes/NAME.yaml, NAME: letters, digits, '.', '-', '_')");
	assert_string_equal(json_string_value(json_array_get(errs, 3)),
			    "tags/unused.yaml:2:5: unknown resource type 'packge' (did you mean 'package'? no custom type types/packge in the repository)");
	json_decref(errs);
	put(f, "tags/base.yaml", base_yaml, "nodes/c.yaml", "tags: [base]\n", NULL);
	assert_int_equal(compile_validate(f->c, f->s, &errs), 0);
	assert_int_equal(json_array_size(errs), 0);
	json_decref(errs);
}

static void nodes_and_tags_are_listed(void **state)
{
	struct fixture *f = *state;
	json_t *j;
	char *s;

	put(f, "tags/base.yaml", base_yaml, "tags/web.yaml", "", "nodes/a-b.yaml", "tags: [base, ghost]\n",
	    "nodes/a.yaml", "tags: [web, base]\n", "nodes/README", "x", NULL);
	assert_int_equal(compile_nodes(f->s, &j, &f->err), 0);
	s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "[\"a\",\"a-b\"]");
	free(s);
	json_decref(j);
	assert_int_equal(compile_tags(f->c, f->s, &j, &f->err), 0);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "[{\"file\":\"tags/base.yaml\",\"name\":\"base\",\"nodes\":[\"a\",\"a-b\"]},"
			       "{\"file\":null,\"name\":\"ghost\",\"nodes\":[\"a-b\"]},"
			       "{\"file\":\"tags/web.yaml\",\"name\":\"web\",\"nodes\":[\"a\"]}]");
	free(s);
	json_decref(j);
}

static void committed_catalogs_carry_the_revision(void **state)
{
	struct fixture *f = *state;
	struct repo_snap *s = NULL;
	struct repo_author who = { "ada", NULL, NULL };
	char rev[REPO_OID_HEX + 1];
	json_t *cat;

	put(f, "tags/base.yaml", base_yaml, NULL);
	assert_int_equal(repo_commit_snap(f->r, f->s, repo_snap_commit_id(f->base), &who, "test", rev,
					  &f->err), 0);
	assert_int_equal(repo_snap_open(f->r, rev, &s, &f->err), 0);
	assert_int_equal(compile_node(f->c, s, "n", &cat, &f->err), 0);
	assert_string_equal(json_string_value(json_object_get(cat, "revision")), rev);
	json_decref(cat);
	repo_snap_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(merge_order_tags_then_node, setup, teardown),
		cmocka_unit_test_setup_teardown(node_without_document_gets_default_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(identical_catalogs_share_a_hash, setup, teardown),
		cmocka_unit_test_setup_teardown(node_vars_reuse_the_tag_list_catalog, setup, teardown),
		cmocka_unit_test_setup_teardown(cache_hits_are_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(explain_reports_every_origin_oldest_first, setup, teardown),
		cmocka_unit_test_setup_teardown(invalid_catalogs_name_file_and_line, setup, teardown),
		cmocka_unit_test_setup_teardown(facts_are_left_to_the_node, setup, teardown),
		cmocka_unit_test(facts_unknown_only_when_the_context_says_so),
		cmocka_unit_test_setup_teardown(custom_types_come_from_types_dir, setup, teardown),
		cmocka_unit_test(merge_equals_adding_in_order),
		cmocka_unit_test_setup_teardown(validate_lists_every_error_once, setup, teardown),
		cmocka_unit_test_setup_teardown(nodes_and_tags_are_listed, setup, teardown),
		cmocka_unit_test_setup_teardown(committed_catalogs_carry_the_revision, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
