/*
 * test-catalog.c - unit tests for manifests into a catalog
 * (model/catalog.h), decoding through the schema (model/schema.h) and
 * ordering by the dependency graph (engine/graph.h).
 *
 * Manifests are parsed from memory with catalog_add_buf under short names
 * (a.yaml, b.yaml), so every message can be checked with its exact
 * FILE:LINE:COL.  Decoding uses a zeroed struct res_ctx whose template
 * context is the catalog's vars, as run_prepare sets it up, without a
 * managed root (no type's check() touches one).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/graph.h"
#include "model/catalog.h"
#include "model/schema.h"

static int add(struct catalog *c, const char *name, const char *text, struct tend_err *err)
{
	err_clear(err);
	return catalog_add_buf(c, name, text, strlen(text), err);
}

static void check_adds(struct catalog *c, const char *name, const char *text, const char *file,
		       int line)
{
	struct tend_err err;
	int r = add(c, name, text, &err);

	if (r != 0)
		print_error("unexpected error %d: %s\n", r, err.msg);
	_assert_int_equal((uintmax_t)r, 0, file, line);
}

/* check_add_fails - a fresh catalog refuses text with exactly the message want. */
static void check_add_fails(const char *text, const char *want, const char *file, int line)
{
	struct catalog c;
	struct tend_err err;
	int r;

	catalog_init(&c);
	r = add(&c, "t.yaml", text, &err);
	catalog_free(&c);
	_assert_int_equal((uintmax_t)r, (uintmax_t)-EINVAL, file, line);
	_assert_string_equal(err.msg, want, file, line);
}

/* check_add_fails_prefix - the message starts with want (the rest names
 * the custom types directories searched, which depend on the environment). */
static void check_add_fails_prefix(const char *text, const char *want, const char *file, int line)
{
	struct catalog c;
	struct tend_err err;
	int r;

	catalog_init(&c);
	r = add(&c, "t.yaml", text, &err);
	catalog_free(&c);
	_assert_int_equal((uintmax_t)r, (uintmax_t)-EINVAL, file, line);
	if (strncmp(err.msg, want, strlen(want)))
		_assert_string_equal(err.msg, want, file, line);
}
#define assert_add_fails_prefix(text, msg) check_add_fails_prefix(text, msg, __FILE__, __LINE__)

#define assert_adds(c, name, text) check_adds(c, name, text, __FILE__, __LINE__)
#define assert_add_fails(text, msg) check_add_fails(text, msg, __FILE__, __LINE__)

/* decode_all - schema_decode every resource as run_prepare does. */
static int decode_all(struct catalog *c, struct tend_err *err)
{
	struct res_ctx ctx;
	int r = 0;

	memset(&ctx, 0, sizeof(ctx));
	ctx.tmpl = json_copy(c->vars);
	err_clear(err);
	for (size_t i = 0; i < c->n && r == 0; i++)
		r = schema_decode(c->res[i], &ctx, err);
	json_decref(ctx.tmpl);
	return r;
}

/* check_decode_fails - text parses but decoding fails with exactly want. */
static void check_decode_fails(const char *text, const char *want, const char *file, int line)
{
	struct catalog c;
	struct tend_err err;
	int r;

	catalog_init(&c);
	r = add(&c, "t.yaml", text, &err);
	if (r != 0)
		print_error("unexpected parse error %d: %s\n", r, err.msg);
	if (r == 0)
		r = decode_all(&c, &err);
	catalog_free(&c);
	_assert_int_equal((uintmax_t)r, (uintmax_t)-EINVAL, file, line);
	_assert_string_equal(err.msg, want, file, line);
}

#define assert_decode_fails(text, msg) check_decode_fails(text, msg, __FILE__, __LINE__)

/* order_of - decode, build the graph and list the run order as "id id ...". */
static int order_of(struct catalog *c, char *out, size_t n, struct tend_err *err)
{
	struct resource **order = NULL;
	size_t len = 0;
	int r = decode_all(c, err);

	out[0] = '\0';
	if (r == 0)
		r = graph_build(c, &order, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->n; i++)
		len += (size_t)snprintf(out + len, n - len, "%s%s", i ? " " : "", order[i]->id);
	free(order);
	return 0;
}

static void check_order(const char *text, const char *want, const char *file, int line)
{
	struct catalog c;
	struct tend_err err;
	char got[1024];
	int r;

	catalog_init(&c);
	r = add(&c, "t.yaml", text, &err);
	if (r == 0)
		r = order_of(&c, got, sizeof(got), &err);
	catalog_free(&c);
	if (r != 0)
		print_error("unexpected error %d: %s\n", r, err.msg);
	_assert_int_equal((uintmax_t)r, 0, file, line);
	_assert_string_equal(got, want, file, line);
}

static void check_graph_fails(const char *text, const char *want, const char *file, int line)
{
	struct catalog c;
	struct tend_err err;
	char got[1024];
	int r;

	catalog_init(&c);
	r = add(&c, "t.yaml", text, &err);
	if (r != 0)
		print_error("unexpected parse error %d: %s\n", r, err.msg);
	if (r == 0)
		r = order_of(&c, got, sizeof(got), &err);
	catalog_free(&c);
	_assert_int_equal((uintmax_t)r, (uintmax_t)-EINVAL, file, line);
	_assert_string_equal(err.msg, want, file, line);
}

#define assert_order(text, want) check_order(text, want, __FILE__, __LINE__)
#define assert_graph_fails(text, msg) check_graph_fails(text, msg, __FILE__, __LINE__)

static const char *attr_str(const struct resource *r, const char *key)
{
	const struct raw_attr *a = res_find_attr(r, key);

	return a && json_is_string(a->val) ? json_string_value(a->val) : NULL;
}

/* field - a decoded field of r's desired struct, found through the schema. */
static void *field(const struct resource *r, const char *key)
{
	const struct res_attr *a = schema_attr(r->type, key);

	assert_non_null(a);
	return (char *)r->desired + a->offset;
}

static int cat_setup(void **state)
{
	struct catalog *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	catalog_init(c);
	*state = c;
	return 0;
}

static int cat_teardown(void **state)
{
	struct catalog *c = *state;

	catalog_free(c);
	free(c);
	return 0;
}

/* --- parsing ----------------------------------------------------------------------- */

static void resources_keep_declaration_order_identity_and_positions(void **state)
{
	struct catalog *c = *state;
	struct resource *r;

	assert_adds(c, "a.yaml",
		    "resources:\n"
		    "  - file: /etc/motd\n"
		    "    content: hi\n"
		    "  - directory:   /srv\n"
		    "  - symlink: /etc/localtime\n"
		    "    target: /usr/share/zoneinfo/UTC\n");
	assert_int_equal(c->n, 3);
	assert_string_equal(c->res[0]->id, "file:/etc/motd");
	assert_string_equal(c->res[1]->id, "directory:/srv");
	assert_string_equal(c->res[2]->id, "symlink:/etc/localtime");
	r = catalog_find(c, "directory:/srv");
	assert_ptr_equal(r, c->res[1]);
	assert_string_equal(r->name, "/srv");
	assert_string_equal(r->type->name, "directory");
	assert_string_equal(r->pos.file, "a.yaml");
	assert_int_equal(r->pos.line, 4);
	assert_int_equal(r->pos.col, 5);
	assert_int_equal(r->name_pos.line, 4);
	assert_int_equal(r->name_pos.col, 18);
	assert_null(catalog_find(c, "file:/srv"));
	assert_null(catalog_find(c, "/etc/motd"));
}

static void attributes_are_kept_raw_as_written(void **state)
{
	struct catalog *c = *state;
	const struct raw_attr *a;

	assert_adds(c, "a.yaml",
		    "resources:\n"
		    "  - file: /etc/motd\n"
		    "    mode: 0644\n"
		    "    follow: yes\n"
		    "    owner: ~\n");
	a = res_find_attr(c->res[0], "mode");
	assert_non_null(a);
	/* untyped: the text as written, not the integer 644 */
	assert_string_equal(json_string_value(a->val), "0644");
	assert_int_equal(a->key_pos.line, 3);
	assert_int_equal(a->key_pos.col, 5);
	assert_int_equal(a->val_pos.line, 3);
	assert_int_equal(a->val_pos.col, 11);
	assert_string_equal(attr_str(c->res[0], "follow"), "yes");
	assert_true(json_is_null(res_find_attr(c->res[0], "owner")->val));
}

static void vars_are_typed_and_remember_where_they_were_set(void **state)
{
	struct catalog *c = *state;

	assert_adds(c, "a.yaml",
		    "vars:\n"
		    "  port: 8080\n"
		    "  mode: \"0644\"\n"
		    "  on: yes\n"
		    "  hosts: [a, b]\n");
	assert_int_equal(json_integer_value(json_object_get(c->vars, "port")), 8080);
	assert_string_equal(json_string_value(json_object_get(c->vars, "mode")), "0644");
	assert_string_equal(json_string_value(json_object_get(c->vars, "on")), "yes");
	assert_int_equal(json_array_size(json_object_get(c->vars, "hosts")), 2);
	assert_string_equal(json_string_value(json_object_get(c->var_pos, "port")), "a.yaml:2");
	assert_string_equal(json_string_value(json_object_get(c->var_pos, "hosts")), "a.yaml:5");
}

static void empty_documents_and_sections_declare_nothing(void **state)
{
	struct catalog *c = *state;

	assert_adds(c, "a.yaml", "");
	assert_adds(c, "b.yaml", "# nothing here\n");
	assert_adds(c, "c->yaml", "vars:\nresources:\n");
	assert_int_equal(c->n, 0);
	assert_int_equal(json_object_size(c->vars), 0);
}

/* --- merging ------------------------------------------------------------------------- */

static void later_document_overrides_one_attribute_and_keeps_the_others(void **state)
{
	struct catalog *c = *state;
	struct resource *r;
	const struct raw_attr *a;

	assert_adds(c, "a.yaml",
		    "resources:\n"
		    "  - file: /etc/motd\n"
		    "    content: from a\n"
		    "    mode: \"0644\"\n");
	assert_adds(c, "b.yaml",
		    "# b overrides the mode and adds an owner\n"
		    "resources:\n"
		    "  - directory: /srv\n"
		    "  - file: /etc/motd\n"
		    "    owner: root\n"
		    "    mode: \"0600\"\n");
	assert_int_equal(c->n, 2);
	r = catalog_find(c, "file:/etc/motd");
	assert_ptr_equal(r, c->res[0]); /* first declaration keeps its place */
	assert_int_equal(r->nattrs, 3);
	/* first-seen order of attributes */
	assert_string_equal(r->attrs[0].key, "content");
	assert_string_equal(r->attrs[1].key, "mode");
	assert_string_equal(r->attrs[2].key, "owner");
	/* the kept value still points into a.yaml */
	a = res_find_attr(r, "content");
	assert_string_equal(json_string_value(a->val), "from a");
	assert_string_equal(a->val_pos.file, "a.yaml");
	assert_int_equal(a->val_pos.line, 3);
	/* the overridden one into b.yaml */
	a = res_find_attr(r, "mode");
	assert_string_equal(json_string_value(a->val), "0600");
	assert_string_equal(a->key_pos.file, "b.yaml");
	assert_int_equal(a->key_pos.line, 6);
	assert_int_equal(a->key_pos.col, 5);
	assert_string_equal(a->val_pos.file, "b.yaml");
	assert_int_equal(a->val_pos.line, 6);
	assert_int_equal(a->val_pos.col, 11);
	a = res_find_attr(r, "owner");
	assert_string_equal(a->val_pos.file, "b.yaml");
	assert_int_equal(a->val_pos.line, 5);
	/* the resource itself is still where it was first declared */
	assert_string_equal(r->pos.file, "a.yaml");
	assert_int_equal(r->pos.line, 2);
}

static void merged_values_decode_from_the_winning_document(void **state)
{
	struct catalog *c = *state;
	struct tend_err err;
	struct resource *r;

	assert_adds(c, "a.yaml",
		    "resources:\n  - file: /etc/motd\n    mode: \"0644\"\n    content: x\n");
	assert_adds(c, "b.yaml", "resources:\n  - file: /etc/motd\n    mode: \"0600\"\n");
	assert_int_equal(decode_all(c, &err), 0);
	r = c->res[0];
	assert_int_equal(*(int *)field(r, "mode"), 0600);
	assert_string_equal(*(char **)field(r, "content"), "x");
}

static void vars_merge_key_by_key(void **state)
{
	struct catalog *c = *state;

	assert_adds(c, "a.yaml", "vars:\n  x: 1\n  y: 2\n");
	assert_adds(c, "b.yaml", "\nvars:\n  y: 3\n");
	assert_int_equal(json_integer_value(json_object_get(c->vars, "x")), 1);
	assert_int_equal(json_integer_value(json_object_get(c->vars, "y")), 3);
	assert_string_equal(json_string_value(json_object_get(c->var_pos, "x")), "a.yaml:2");
	assert_string_equal(json_string_value(json_object_get(c->var_pos, "y")), "b.yaml:3");
}

static void set_var_overrides_with_a_typed_scalar(void **state)
{
	struct catalog *c = *state;
	struct tend_err err;

	assert_adds(c, "a.yaml", "vars:\n  port: 80\n");
	assert_int_equal(catalog_set_var(c, "port", "8080", &err), 0);
	assert_int_equal(json_integer_value(json_object_get(c->vars, "port")), 8080);
	assert_string_equal(json_string_value(json_object_get(c->var_pos, "port")), "--var");
	assert_int_equal(catalog_set_var(c, "name", "web 01", &err), 0);
	assert_string_equal(json_string_value(json_object_get(c->vars, "name")), "web 01");
	assert_int_equal(catalog_set_var(c, "facts", "x", &err), -EINVAL);
	assert_int_equal(catalog_set_var(c, "a.b", "x", &err), -EINVAL);
}

static void same_identity_in_two_documents_is_not_a_duplicate(void **state)
{
	struct catalog *c = *state;

	assert_adds(c, "a.yaml", "resources:\n  - file: /etc/motd\n");
	assert_adds(c, "b.yaml", "resources:\n  - file: /etc/motd\n");
	assert_adds(c, "a.yaml", "resources:\n  - file: /etc/motd\n");
	assert_int_equal(c->n, 1);
}

/* --- manifest errors -------------------------------------------------------------------- */

static void duplicate_identity_in_one_document_names_the_first_line(void **state)
{
	(void)state;
	assert_add_fails(
		"resources:\n"
		"  - file: /etc/motd\n"
		"    content: a\n"
		"  - directory: /etc/motd\n"
		"  - file: /etc/motd\n"
		"    content: b\n",
		"t.yaml:5:5: duplicate resource file:/etc/motd (first declared at line 2)");
}

static void duplicate_in_a_later_document_names_the_line_in_that_document(void **state)
{
	struct catalog *c = *state;
	struct tend_err err;

	assert_adds(c, "a.yaml", "resources:\n  - file: /etc/motd\n");
	assert_int_equal(add(c, "b.yaml",
			     "resources:\n"
			     "  - directory: /srv\n"
			     "  - file: /etc/motd\n"
			     "  - file: /etc/motd\n",
			     &err),
			 -EINVAL);
	assert_string_equal(
		err.msg,
		"b.yaml:4:5: duplicate resource file:/etc/motd (first declared at line 3)");
}

static void unknown_type_suggests_the_closest(void **state)
{
	(void)state;
	assert_add_fails_prefix("resources:\n  - fiel: /etc/motd\n",
				"t.yaml:2:5: unknown resource type 'fiel' (did you mean 'file'?");
	assert_add_fails_prefix(
		"resources:\n  - directroy: /srv\n",
		"t.yaml:2:5: unknown resource type 'directroy' (did you mean 'directory'?");
}

static void unknown_type_without_a_close_name_lists_the_types(void **state)
{
	(void)state;
	assert_add_fails_prefix("resources:\n  - frobnicator: nginx\n",
				"t.yaml:2:5: unknown resource type 'frobnicator' (a resource starts "
				"with its type, e.g. '- file: /etc/motd'; no executable 'frobnicator'");
}

static void unknown_attribute_suggests_the_closest(void **state)
{
	(void)state;
	assert_add_fails(
		"resources:\n"
		"  - file: /etc/motd\n"
		"    mdoe: \"0644\"\n",
		"t.yaml:3:5: unknown attribute 'mdoe' in file:/etc/motd (did you mean 'mode'?)");
	assert_add_fails(
		"resources:\n"
		"  - directory: /srv\n"
		"    requries: file:/x\n",
		"t.yaml:3:5: unknown attribute 'requries' in directory:/srv (did you mean 'requires'?)");
}

static void unknown_attribute_without_a_close_name_lists_what_the_type_accepts(void **state)
{
	static const char prefix[] =
		"t.yaml:3:5: unknown attribute 'colour' in symlink:/l (symlink accepts: ";
	struct catalog *c = *state;
	struct tend_err err;

	assert_int_equal(add(c, "t.yaml", "resources:\n  - symlink: /l\n    colour: red\n", &err),
			 -EINVAL);
	assert_memory_equal(err.msg, prefix, sizeof(prefix) - 1);
	assert_non_null(strstr(err.msg, "target"));
	assert_non_null(strstr(err.msg, "requires"));
	assert_int_equal(err.msg[strlen(err.msg) - 1], ')');
}

static void type_name_as_an_attribute_hints_at_a_missing_dash(void **state)
{
	(void)state;
	assert_add_fails(
		"resources:\n"
		"  - file: /a\n"
		"    directory: /b\n",
		"t.yaml:3:5: 'directory' inside file:/a: is this a new resource? start it with '- directory:'");
}

static void resource_without_a_name_is_an_error(void **state)
{
	(void)state;
	assert_add_fails("resources:\n  - file:\n    mode: \"0644\"\n",
			 "t.yaml:2:10: file needs a name: '- file: NAME', found nothing");
	assert_add_fails("resources:\n  - file: [a, b]\n",
			 "t.yaml:2:11: file needs a name: '- file: NAME', found a list");
}

static void unknown_top_level_key_suggests_the_closest(void **state)
{
	(void)state;
	assert_add_fails(
		"resourcse:\n  - file: /a\n",
		"t.yaml:1:1: unknown top-level key 'resourcse' (did you mean 'resources'?) "
		"(expected 'vars' or 'resources')");
	assert_add_fails(
		"packages: []\n",
		"t.yaml:1:1: unknown top-level key 'packages' (expected 'vars' or 'resources')");
}

static void wrong_shapes_are_errors_with_positions(void **state)
{
	(void)state;
	assert_add_fails("- file: /a\n",
			 "t.yaml:1:1: expected a map with 'vars' and 'resources', found a list");
	assert_add_fails(
		"resources:\n  file: /a\n",
		"t.yaml:2:3: 'resources' must be a list (each item '- TYPE: NAME'), not a map");
	assert_add_fails(
		"resources:\n  - /etc/motd\n",
		"t.yaml:2:5: expected a resource (a map starting with TYPE: NAME), found a scalar");
	assert_add_fails("vars: [1]\n",
			 "t.yaml:1:7: 'vars' must be a map of names to values, not a list");
	assert_add_fails("vars:\n  facts: 1\n",
			 "t.yaml:2:3: 'facts' is reserved for facts and cannot be a variable");
}

static void yaml_errors_come_through_with_the_document_name(void **state)
{
	(void)state;
	assert_add_fails("resources:\n  - file: /a\n  - file: /b\n    mode: 1\n    mode: 2\n",
			 "t.yaml:5:5: duplicate key 'mode' (first at line 4)");
}

/* --- decoding ---------------------------------------------------------------------------- */

static void decode_converts_by_kind_and_applies_defaults(void **state)
{
	struct catalog *c = *state;
	struct tend_err err;
	struct resource *r;

	assert_adds(c, "a.yaml",
		    "vars:\n"
		    "  who: world\n"
		    "resources:\n"
		    "  - file: /etc/motd\n"
		    "    content: \"hello {{ who }}\\n\"\n"
		    "    mode: 0640\n"
		    "    force: yes\n"
		    "    requires: [directory:/etc]\n"
		    "  - directory: /etc\n");
	assert_int_equal(decode_all(c, &err), 0);
	r = c->res[0];
	assert_string_equal(*(char **)field(r, "content"), "hello world\n");
	assert_int_equal(*(int *)field(r, "mode"), 0640);
	assert_int_equal(*(int *)field(r, "force"), 1);
	assert_int_equal(*(int *)field(r, "follow"), 0); /* default "false" */
	assert_int_equal(*(int *)field(r, "ensure"), 0); /* default "present" */
	assert_null(*(char **)field(r, "owner"));	 /* no default */
	assert_int_equal(r->rel->requires.n, 1);
	assert_string_equal(r->rel->requires.v[0], "directory:/etc");
}

static void decode_errors_point_at_the_value(void **state)
{
	(void)state;
	assert_decode_fails(
		"resources:\n  - file: /etc/motd\n    mode: rwx\n",
		"t.yaml:3:11: 'mode' of file:/etc/motd must be octal permissions like \"0644\", found 'rwx'");
	assert_decode_fails(
		"resources:\n  - file: /etc/motd\n    mode: \"0888\"\n",
		"t.yaml:3:11: 'mode' of file:/etc/motd must be octal permissions like \"0644\", found '0888'");
	assert_decode_fails(
		"resources:\n  - file: /etc/motd\n    ensure: gone\n",
		"t.yaml:3:13: 'ensure' of file:/etc/motd must be one of present, absent, found 'gone'");
	assert_decode_fails(
		"resources:\n  - file: /etc/motd\n    follow: maybe\n",
		"t.yaml:3:13: 'follow' of file:/etc/motd must be true or false, found 'maybe'");
	assert_decode_fails(
		"resources:\n  - file: /etc/motd\n    mode: [1]\n",
		"t.yaml:3:11: 'mode' of file:/etc/motd must be a single value, not a list");
}

static void decode_refuses_a_relative_or_unnormalised_path_name(void **state)
{
	(void)state;
	assert_decode_fails(
		"resources:\n  - file: etc/motd\n",
		"t.yaml:2:11: file needs an absolute path without '.', '..' or '//', found 'etc/motd'");
	assert_decode_fails(
		"resources:\n  - directory: /srv/../etc\n",
		"t.yaml:2:16: directory needs an absolute path without '.', '..' or '//', found '/srv/../etc'");
}

static void decode_template_error_is_positioned_at_the_attribute(void **state)
{
	(void)state;
	assert_decode_fails("resources:\n  - file: /etc/motd\n    content: \"x {{ nope }}\"\n",
			    "t.yaml:3:14: missing variable 'nope' (in 'content')");
}

static void relation_must_name_a_type_and_a_name(void **state)
{
	(void)state;
	assert_decode_fails(
		"resources:\n  - file: /a\n    requires: nginx\n",
		"t.yaml:3:15: 'requires' of file:/a: 'nginx' is not a resource identity "
		"(expected TYPE:NAME, e.g. file:/etc/motd)");
}

/* --- graph --------------------------------------------------------------------------------- */

static void unrelated_resources_run_in_declaration_order(void **state)
{
	(void)state;
	assert_order("resources:\n"
		     "  - file: /b\n"
		     "  - file: /a\n"
		     "  - symlink: /c\n"
		     "    target: /b\n",
		     "file:/b file:/a symlink:/c");
}

static void requires_runs_the_required_resource_first(void **state)
{
	(void)state;
	assert_order("resources:\n"
		     "  - file: /a\n"
		     "    requires: file:/b\n"
		     "  - file: /b\n"
		     "  - file: /c\n",
		     "file:/b file:/a file:/c");
}

static void before_runs_this_resource_first(void **state)
{
	(void)state;
	assert_order("resources:\n"
		     "  - file: /b\n"
		     "  - file: /c\n"
		     "  - file: /a\n"
		     "    before: [file:/b]\n",
		     "file:/c file:/a file:/b");
}

static void notify_orders_and_records_the_notification(void **state)
{
	struct catalog *c = *state;
	struct tend_err err;
	struct resource *a, *b;
	char got[256];

	assert_adds(c, "t.yaml",
		    "resources:\n"
		    "  - file: /b\n"
		    "  - file: /a\n"
		    "    notify: file:/b\n");
	assert_int_equal(order_of(c, got, sizeof(got), &err), 0);
	assert_string_equal(got, "file:/a file:/b");
	a = catalog_find(c, "file:/a");
	b = catalog_find(c, "file:/b");
	assert_int_equal(a->nnotifies, 1);
	assert_ptr_equal(a->notifies[0], b);
	assert_int_equal(b->nnotifies, 0);
	assert_int_equal(b->ndeps, 1);
	assert_ptr_equal(b->deps[0], a);
}

static void subscribe_is_notify_seen_from_the_other_side(void **state)
{
	struct catalog *c = *state;
	struct tend_err err;
	struct resource *a, *b;
	char got[256];

	assert_adds(c, "t.yaml",
		    "resources:\n"
		    "  - file: /b\n"
		    "    subscribe: file:/a\n"
		    "  - file: /a\n");
	assert_int_equal(order_of(c, got, sizeof(got), &err), 0);
	assert_string_equal(got, "file:/a file:/b");
	a = catalog_find(c, "file:/a");
	b = catalog_find(c, "file:/b");
	assert_int_equal(a->nnotifies, 1);
	assert_ptr_equal(a->notifies[0], b);
}

static void parent_directories_run_before_what_they_contain(void **state)
{
	(void)state;
	assert_order(
		"resources:\n"
		"  - file: /srv/app/conf/app.ini\n"
		"  - symlink: /srv/app/current\n"
		"    target: /srv/app/v1\n"
		"  - directory: /srv/app/conf\n"
		"  - directory: /srv\n"
		"  - directory: /srv/app\n"
		"  - file: /etc/motd\n",
		/* each runs as soon as its directories have: the symlink,
		      * declared before conf, does not wait for it */
		"directory:/srv directory:/srv/app symlink:/srv/app/current directory:/srv/app/conf "
		"file:/srv/app/conf/app.ini file:/etc/motd");
}

static void undeclared_parent_directory_is_not_required(void **state)
{
	(void)state;
	assert_order("resources:\n"
		     "  - file: /srv/app/conf/app.ini\n"
		     "  - directory: /srv\n",
		     "directory:/srv file:/srv/app/conf/app.ini");
}

static void chains_resolve_transitively(void **state)
{
	(void)state;
	assert_order("resources:\n"
		     "  - file: /d\n"
		     "    requires: file:/c\n"
		     "  - file: /c\n"
		     "    requires: file:/b\n"
		     "  - file: /b\n"
		     "    requires: file:/a\n"
		     "  - file: /a\n",
		     "file:/a file:/b file:/c file:/d");
}

static void cycle_is_an_error_naming_the_cycle(void **state)
{
	/* "X -> Y" reads "X runs before Y": the edges of the cycle below */
	static const char *const edges[] = { "file:/c -> file:/b", "file:/d -> file:/c",
					     "file:/b -> file:/d" };
	struct catalog *c = *state;
	struct tend_err err;
	char got[256], chain[256], *save = NULL, *tok, *prev = NULL, *first = NULL;
	const char *p;
	int n = 0, line;
	bool seen_b = false, seen_c = false, seen_d = false;

	assert_adds(c, "t.yaml",
		    "resources:\n"
		    "  - file: /free\n"
		    "  - file: /a\n"
		    "    requires: file:/b\n"
		    "  - file: /b\n"
		    "    requires: file:/c\n"
		    "    before: file:/d\n"
		    "  - file: /c\n"
		    "    requires: file:/d\n"
		    "  - file: /d\n");
	assert_int_equal(order_of(c, got, sizeof(got), &err), -EINVAL);
	/* positioned in the file, at a resource of the cycle (lines 5, 8, 10) */
	assert_int_equal(sscanf(err.msg, "t.yaml:%d:5: ", &line), 1);
	assert_true(line == 5 || line == 8 || line == 10);
	p = strstr(err.msg, ": dependency cycle: ");
	assert_non_null(p);
	snprintf(chain, sizeof(chain), "%s", p + strlen(": dependency cycle: "));
	/* a closed walk over b, c and d only, along real edges */
	for (tok = strtok_r(chain, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char edge[128];
		bool ok = false;

		if (!strcmp(tok, "->"))
			continue;
		seen_b |= !strcmp(tok, "file:/b");
		seen_c |= !strcmp(tok, "file:/c");
		seen_d |= !strcmp(tok, "file:/d");
		if (strcmp(tok, "file:/b") && strcmp(tok, "file:/c") && strcmp(tok, "file:/d"))
			fail_msg("'%s' is not in the cycle: %s", tok, err.msg);
		if (prev) {
			snprintf(edge, sizeof(edge), "%s -> %s", prev, tok);
			for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
				ok |= !strcmp(edge, edges[i]);
			if (!ok)
				fail_msg("'%s' is not an edge: %s", edge, err.msg);
		} else {
			first = tok;
		}
		prev = tok;
		n++;
	}
	assert_int_equal(n, 4);
	assert_string_equal(prev, first);
	assert_true(seen_b && seen_c && seen_d);
}

static void cycle_through_notify_and_implicit_parent_is_found(void **state)
{
	struct catalog *c = *state;
	struct tend_err err;
	char got[256];

	/* the directory must come before its file, and the file notifies it */
	assert_adds(c, "t.yaml",
		    "resources:\n"
		    "  - directory: /srv\n"
		    "  - file: /srv/x\n"
		    "    notify: directory:/srv\n");
	assert_int_equal(order_of(c, got, sizeof(got), &err), -EINVAL);
	assert_non_null(strstr(err.msg, "dependency cycle: "));
	assert_non_null(strstr(err.msg, "directory:/srv"));
	assert_non_null(strstr(err.msg, "file:/srv/x"));
}

static void relation_to_an_undeclared_resource_is_an_error(void **state)
{
	(void)state;
	assert_graph_fails(
		"resources:\n"
		"  - file: /a\n"
		"    requires: file:/nope\n",
		"t.yaml:3:15: requires 'file:/nope' of file:/a: no such resource is declared");
	assert_graph_fails(
		"resources:\n"
		"  - file: /a\n"
		"    notify: [file:/b, exec:restart]\n"
		"  - file: /b\n",
		"t.yaml:3:13: notify 'exec:restart' of file:/a: no such resource is declared");
	assert_graph_fails(
		"resources:\n"
		"  - file: /a\n"
		"    before: directory:/a\n",
		"t.yaml:3:13: before 'directory:/a' of file:/a: no such resource is declared");
}

/* repeated short values are one JSON value shared by the resources that
 * set it; a later override replaces only its own resource's value; once
 * sharing ends the catalog holds no extra reference */
static void repeated_values_are_shared_until_parsing_ends(void **state)
{
	struct catalog c;
	const struct raw_attr *a, *b, *x;
	(void)state;

	catalog_init(&c);
	check_adds(&c, "a.yaml",
		   "resources:\n"
		   "  - file: /a\n    mode: \"0644\"\n    content: one\n"
		   "  - file: /b\n    mode: \"0644\"\n    content: two\n"
		   "  - file: /c\n    mode: \"0600\"\n", __FILE__, __LINE__);
	a = res_find_attr(catalog_find(&c, "file:/a"), "mode");
	b = res_find_attr(catalog_find(&c, "file:/b"), "mode");
	x = res_find_attr(catalog_find(&c, "file:/c"), "mode");
	assert_ptr_equal(a->val, b->val);
	assert_ptr_not_equal(a->val, x->val);
	assert_string_equal(json_string_value(x->val), "0600");
	assert_ptr_not_equal(res_find_attr(catalog_find(&c, "file:/a"), "content")->val,
			     res_find_attr(catalog_find(&c, "file:/b"), "content")->val);
	/* each resource, plus the sharing table */
	assert_int_equal(a->val->refcount, 3);
	check_adds(&c, "b.yaml", "resources:\n  - file: /b\n    mode: \"0640\"\n", __FILE__, __LINE__);
	b = res_find_attr(catalog_find(&c, "file:/b"), "mode");
	assert_string_equal(json_string_value(b->val), "0640");
	assert_string_equal(json_string_value(a->val), "0644");
	assert_int_equal(a->val->refcount, 2);
	catalog_share_end(&c);
	assert_int_equal(a->val->refcount, 1);
	catalog_free(&c);
}


int main(void)
{

#define T(name) cmocka_unit_test_setup_teardown(name, cat_setup, cat_teardown)
	const struct CMUnitTest tests[] = {
		T(resources_keep_declaration_order_identity_and_positions),
		T(attributes_are_kept_raw_as_written),
		T(vars_are_typed_and_remember_where_they_were_set),
		T(empty_documents_and_sections_declare_nothing),
		T(later_document_overrides_one_attribute_and_keeps_the_others),
		T(merged_values_decode_from_the_winning_document),
		T(vars_merge_key_by_key),
		T(set_var_overrides_with_a_typed_scalar),
		T(same_identity_in_two_documents_is_not_a_duplicate),
		cmocka_unit_test(duplicate_identity_in_one_document_names_the_first_line),
		T(duplicate_in_a_later_document_names_the_line_in_that_document),
		cmocka_unit_test(unknown_type_suggests_the_closest),
		cmocka_unit_test(repeated_values_are_shared_until_parsing_ends),
		cmocka_unit_test(unknown_type_without_a_close_name_lists_the_types),
		cmocka_unit_test(unknown_attribute_suggests_the_closest),
		T(unknown_attribute_without_a_close_name_lists_what_the_type_accepts),
		cmocka_unit_test(type_name_as_an_attribute_hints_at_a_missing_dash),
		cmocka_unit_test(resource_without_a_name_is_an_error),
		cmocka_unit_test(unknown_top_level_key_suggests_the_closest),
		cmocka_unit_test(wrong_shapes_are_errors_with_positions),
		cmocka_unit_test(yaml_errors_come_through_with_the_document_name),
		T(decode_converts_by_kind_and_applies_defaults),
		cmocka_unit_test(decode_errors_point_at_the_value),
		cmocka_unit_test(decode_refuses_a_relative_or_unnormalised_path_name),
		cmocka_unit_test(decode_template_error_is_positioned_at_the_attribute),
		cmocka_unit_test(relation_must_name_a_type_and_a_name),
		cmocka_unit_test(unrelated_resources_run_in_declaration_order),
		cmocka_unit_test(requires_runs_the_required_resource_first),
		cmocka_unit_test(before_runs_this_resource_first),
		T(notify_orders_and_records_the_notification),
		T(subscribe_is_notify_seen_from_the_other_side),
		cmocka_unit_test(parent_directories_run_before_what_they_contain),
		cmocka_unit_test(undeclared_parent_directory_is_not_required),
		cmocka_unit_test(chains_resolve_transitively),
		T(cycle_is_an_error_naming_the_cycle),
		T(cycle_through_notify_and_implicit_parent_is_found),
		cmocka_unit_test(relation_to_an_undeclared_resource_is_an_error),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
