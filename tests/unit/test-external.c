/*
 * test-external.c - unit tests for custom resource types
 * (resources/external.h): picking the answer out of an executable's
 * output, checking a probe answer's shape, the lookup of types in types
 * directories (resources/registry.h), and manifests that use a custom
 * type (open schema: any attribute, YAML types kept).
 *
 * The lookup tests build a small tree in a temp dir: site/m.yaml (never
 * read: only its directory matters), site/types/ and sys/ (given as
 * TEND_TYPES_PATH).  Running an executable is covered by
 * tests/integration/t0600-custom-types.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/catalog.h"
#include "model/schema.h"
#include "resources/external.h"
#include "resources/registry.h"

/* ---- the answer -------------------------------------------------------- */

struct parsed {
	int ret;
	json_t *answer;
	struct buf diag;
	char why[512];
};

static void parse(const char *out, struct parsed *p)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->diag, 4096);
	p->ret = ext_parse_answer(out, strlen(out), &p->answer, &p->diag, p->why, sizeof(p->why));
}

static void parsed_free(struct parsed *p)
{
	json_decref(p->answer);
	buf_free(&p->diag);
}

static void whole_output_is_the_answer(void **state)
{
	struct parsed p;

	(void)state;
	parse("  {\"changes\": [], \"state\": {\"a\": 1}}\n", &p);
	assert_int_equal(p.ret, 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(p.answer, "state"), "a")), 1);
	assert_int_equal(p.diag.len, 0);
	parsed_free(&p);
}

static void last_object_at_a_line_start_is_the_answer_and_the_rest_diagnostics(void **state)
{
	struct parsed p;

	(void)state;
	/* stderr before and after, a debug dump of the request, a pretty answer */
	parse("reading {config}\n"
	      "{\"debug\": \"request\"}\n"
	      "{\n  \"changed\": true,\n  \"message\": \"done\"\n}\n"
	      "warning: at exit\n",
	      &p);
	assert_int_equal(p.ret, 0);
	assert_true(json_is_true(json_object_get(p.answer, "changed")));
	assert_null(json_object_get(p.answer, "debug"));
	assert_string_equal(buf_str(&p.diag),
			    "reading {config}\n{\"debug\": \"request\"}\n\nwarning: at exit\n");
	parsed_free(&p);
}

static void invalid_json_is_reported_with_its_line(void **state)
{
	struct parsed p;

	(void)state;
	parse("some log line\n{\"state\": {\"a\": 1}, \"changes\": [}\n", &p);
	assert_int_equal(p.ret, -EBADMSG);
	assert_non_null(strstr(p.why, "invalid JSON in its answer: "));
	assert_non_null(strstr(p.why, "(line 2, column 33)"));
	assert_string_equal(buf_str(&p.diag), "some log line\n{\"state\": {\"a\": 1}, \"changes\": [}\n");
	parsed_free(&p);
}

static void output_without_an_object_is_no_answer(void **state)
{
	struct parsed p;

	(void)state;
	parse("hello, not JSON\n", &p);
	assert_int_equal(p.ret, -ENOMSG);
	assert_string_equal(p.why, "no JSON object in its output");
	parsed_free(&p);
	parse("", &p);
	assert_int_equal(p.ret, -ENOMSG);
	parsed_free(&p);
	parse("  {indented, not at a line start}", &p);
	assert_int_equal(p.ret, -ENOMSG);
	parsed_free(&p);
}

static void answer_that_is_not_an_object_is_refused(void **state)
{
	struct parsed p;

	(void)state;
	parse("[1, 2]\n", &p);
	assert_int_equal(p.ret, -EBADMSG);
	assert_string_equal(p.why, "the answer must be a JSON object, not a list");
	parsed_free(&p);
	parse("\"ok\"", &p);
	assert_int_equal(p.ret, -EBADMSG);
	assert_string_equal(p.why, "the answer must be a JSON object, not a string");
	parsed_free(&p);
}

static void diagnostics_are_bounded(void **state)
{
	char out[300];
	struct parsed p;

	(void)state;
	memset(out, 'x', sizeof(out) - 1);
	out[sizeof(out) - 1] = '\0';
	memset(&p, 0, sizeof(p));
	buf_init(&p.diag, 100);
	p.ret = ext_parse_answer(out, strlen(out), &p.answer, &p.diag, p.why, sizeof(p.why));
	assert_int_equal(p.ret, -ENOMSG);
	assert_int_equal(p.diag.len, 100);
	parsed_free(&p);
}

/* probe_check - ext_check_probe of text; why into out. */
static int probe_check(const char *text, char *why, size_t n)
{
	json_t *j = json_loads(text, 0, NULL);
	int r;

	assert_non_null(j);
	why[0] = '\0';
	r = ext_check_probe(j, why, n);
	json_decref(j);
	return r;
}

static void probe_answers_are_checked_for_shape(void **state)
{
	static const struct {
		const char *answer, *why;   /* why NULL: accepted */
	} cases[] = {
		{ "{}", NULL },
		{ "{\"state\": {}, \"changes\": [], \"message\": \"m\", \"protocol\": 1, \"extra\": 1}", NULL },
		{ "{\"changes\": [{\"what\": \"x\", \"from\": 1, \"to\": [1], \"diff\": \"d\"}]}", NULL },
		{ "{\"unknown\": \"why\", \"state\": null, \"changes\": null}", NULL },
		{ "{\"protocol\": 2}", "it speaks protocol another, tend speaks 1" },
		{ "{\"state\": [1]}", "'state' must be an object, not a list" },
		{ "{\"changes\": {}}", "'changes' must be a list, not an object" },
		{ "{\"changes\": [\"x\"]}", "change 1 must be an object with a string 'what'" },
		{ "{\"changes\": [{\"what\": \"a\"}, {\"what\": \"\"}]}",
		  "change 2 must be an object with a string 'what'" },
		{ "{\"changes\": [{\"what\": \"a\", \"diff\": 3}]}", "change 1: 'diff' must be a string" },
		{ "{\"unknown\": true}", "'unknown' must be a string, not a boolean" },
		{ "{\"message\": 7}", "'message' must be a string, not a number" },
	};
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = probe_check(cases[i].answer, why, sizeof(why));

		if (!cases[i].why) {
			assert_int_equal(r, 0);
			continue;
		}
		assert_int_equal(r, -EBADMSG);
		assert_string_equal(why, cases[i].why);
	}
}

static void change_values_become_text(void **state)
{
	json_t *j = json_loads("[\"s\", 8080, 1.5, true, null, [1, \"a\"], {\"k\": 1}]", 0, NULL);
	static const char *const want[] = { "s", "8080", "1.5", "true", NULL, "[1,\"a\"]", "{\"k\":1}" };

	(void)state;
	for (size_t i = 0; i < json_array_size(j); i++) {
		char *s = ext_scalar_text(json_array_get(j, i));

		if (want[i])
			assert_string_equal(s, want[i]);
		else
			assert_null(s);
		free(s);
	}
	assert_null(ext_scalar_text(NULL));
	json_decref(j);
}

static void tail_keeps_the_last_lines_that_fit(void **state)
{
	const char *text = "first line\nsecond line\nthe last line\n\n";
	char out[64];

	(void)state;
	ext_tail(text, strlen(text), out, sizeof(out));
	assert_string_equal(out, "first line second line the last line");
	ext_tail(text, strlen(text), out, 20);
	assert_string_equal(out, "the last line");
	ext_tail("", 0, out, sizeof(out));
	assert_string_equal(out, "");
}

static void type_names_are_lowercase_words(void **state)
{
	char longname[80];

	(void)state;
	assert_true(ext_name_ok("sysctl_value"));
	assert_true(ext_name_ok("a1"));
	assert_false(ext_name_ok(""));
	assert_false(ext_name_ok("1a"));
	assert_false(ext_name_ok("_a"));
	assert_false(ext_name_ok("Json"));
	assert_false(ext_name_ok("json-setting"));
	assert_false(ext_name_ok("../x"));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(ext_name_ok(longname));
	longname[EXT_NAME_MAX] = '\0';
	assert_true(ext_name_ok(longname));
}

/* ---- lookup ------------------------------------------------------------- */

struct tree {
	char dir[64];
	char manifest[128];
	struct ext_type *types; /* custom types made by the lookups */
};

static void put_file(const char *dir, const char *sub, const char *name, mode_t mode)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("#!/bin/sh\n", f);
	fclose(f);
	assert_int_equal(chmod(p, mode), 0);
}

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	char path[256];

	snprintf(t->dir, sizeof(t->dir), "/tmp/test-external.XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(path, sizeof(path), "%s/site", t->dir);
	mkdir(path, 0755);
	snprintf(t->manifest, sizeof(t->manifest), "%s/site/m.yaml", t->dir);
	put_file(t->dir, "site/types", "local", 0755);
	put_file(t->dir, "site/types", "both", 0755);
	put_file(t->dir, "site/types", "file", 0755);
	put_file(t->dir, "site/types", "noexec", 0644);
	put_file(t->dir, "sys", "both", 0755);
	put_file(t->dir, "sys", "system", 0755);
	snprintf(path, sizeof(path), "%s/nowhere:%s/sys", t->dir, t->dir);
	setenv(RES_TYPES_PATH_ENV, path, 1);
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		return -1;
	unsetenv(RES_TYPES_PATH_ENV);
	ext_types_free(t->types);
	free(t);
	return 0;
}

static void lookup_finds_types_beside_the_manifest_first_then_the_types_path(void **state)
{
	struct tree *t = *state;
	const struct res_type *a = NULL, *b = NULL, *c = NULL;
	char why[512], want[256];

	assert_int_equal(res_type_lookup("local", t->manifest, &t->types, &a, why, sizeof(why)), 0);
	snprintf(want, sizeof(want), "%s/site/types/local", t->dir);
	assert_string_equal(ext_type_path(a), want);
	assert_string_equal(a->name, "local");
	assert_true(a->open_schema);
	assert_true(a->verify);
	assert_false(a->name_is_path);
	assert_non_null(a->refresh);

	assert_int_equal(res_type_lookup("both", t->manifest, &t->types, &b, why, sizeof(why)), 0);
	snprintf(want, sizeof(want), "%s/site/types/both", t->dir);
	assert_string_equal(ext_type_path(b), want);

	assert_int_equal(res_type_lookup("system", t->manifest, &t->types, &c, why, sizeof(why)), 0);
	snprintf(want, sizeof(want), "%s/sys/system", t->dir);
	assert_string_equal(ext_type_path(c), want);
}

static void lookup_makes_one_type_per_executable(void **state)
{
	struct tree *t = *state;
	const struct res_type *a = NULL, *b = NULL, *c = NULL;
	char why[512], other[160];

	assert_int_equal(res_type_lookup("local", t->manifest, &t->types, &a, why, sizeof(why)), 0);
	assert_int_equal(res_type_lookup("local", t->manifest, &t->types, &b, why, sizeof(why)), 0);
	assert_ptr_equal(a, b);
	/* another manifest without types/ beside it finds sys/both, another type */
	snprintf(other, sizeof(other), "%s/other.yaml", t->dir);
	assert_int_equal(res_type_lookup("both", t->manifest, &t->types, &a, why, sizeof(why)), 0);
	assert_int_equal(res_type_lookup("both", other, &t->types, &c, why, sizeof(why)), 0);
	assert_ptr_not_equal(a, c);
	assert_string_equal(a->name, c->name);
}

static void builtin_types_win_over_executables(void **state)
{
	struct tree *t = *state;
	const struct res_type *a = NULL;
	char why[512];

	assert_int_equal(res_type_lookup("file", t->manifest, &t->types, &a, why, sizeof(why)), 0);
	assert_ptr_equal(a, &res_type_file);
	assert_null(ext_type_path(a));
}

static void lookup_failures_say_why(void **state)
{
	struct tree *t = *state;
	const struct res_type *a = NULL;
	char why[512], want[512];

	assert_int_equal(res_type_lookup("missing", t->manifest, &t->types, &a, why, sizeof(why)), -ENOENT);
	snprintf(want, sizeof(want),
		 "no executable 'missing' in the custom types directories %s/site/types, %s/nowhere, %s/sys",
		 t->dir, t->dir, t->dir);
	assert_string_equal(why, want);

	assert_int_equal(res_type_lookup("noexec", t->manifest, &t->types, &a, why, sizeof(why)), -EACCES);
	snprintf(want, sizeof(want), "custom type 'noexec': %s/site/types/noexec is not executable (chmod +x it)",
		 t->dir);
	assert_string_equal(why, want);

	assert_int_equal(res_type_lookup("Bad-Name", t->manifest, &t->types, &a, why, sizeof(why)), -ENOENT);
	assert_string_equal(why, "custom type names are lowercase words: [a-z][a-z0-9_]*");
	assert_null(a);

	setenv(RES_TYPES_PATH_ENV, "", 1);
	assert_int_equal(res_type_lookup("system", t->manifest, &t->types, &a, why, sizeof(why)), -ENOENT);
	snprintf(want, sizeof(want), "no executable 'system' in the custom types directories %s/site/types",
		 t->dir);
	assert_string_equal(why, want);
	assert_int_equal(res_type_lookup("x", "m.yaml", &t->types, &a, why, sizeof(why)), -ENOENT);
	assert_string_equal(why, "no executable 'x' in the custom types directories ./types");
}

/* ---- manifests ---------------------------------------------------------- */

static void custom_type_takes_any_attribute_with_yaml_types(void **state)
{
	struct tree *t = *state;
	const char *text = "resources:\n"
			   "  - local: one\n"
			   "    file: /etc/x.json\n"   /* a built-in type's name, as an attribute */
			   "    port: 8080\n"
			   "    quoted: \"8080\"\n"
			   "    flag: yes\n"
			   "    list: [a, 1]\n"
			   "    timeout: 5\n"
			   "    requires: file:/etc/y\n";
	struct catalog c;
	struct tend_err err = { "" };
	struct resource *r;

	catalog_init(&c);
	assert_int_equal(catalog_add_buf(&c, t->manifest, text, strlen(text), &err), 0);
	r = catalog_find(&c, "local:one");
	assert_non_null(r);
	assert_string_equal(json_string_value(res_find_attr(r, "file")->val), "/etc/x.json");
	assert_int_equal(json_integer_value(res_find_attr(r, "port")->val), 8080);
	assert_string_equal(json_string_value(res_find_attr(r, "quoted")->val), "8080");
	/* YAML 1.2: only true/false are booleans */
	assert_string_equal(json_string_value(res_find_attr(r, "flag")->val), "yes");
	assert_int_equal(json_integer_value(json_array_get(res_find_attr(r, "list")->val, 1)), 1);
	/* tend's own attributes stay text, decoded by the schema */
	assert_string_equal(json_string_value(res_find_attr(r, "timeout")->val), "5");
	assert_string_equal(json_string_value(res_find_attr(r, "requires")->val), "file:/etc/y");
	catalog_free(&c);
}

static void custom_type_attributes_decode_with_templates_and_positions(void **state)
{
	struct tree *t = *state;
	const char *good = "vars:\n  who: w\nresources:\n"
			   "  - local: one\n    text: \"{{ who }}\"\n    notify: local:two\n"
			   "  - local: two\n";
	const char *bad = "resources:\n  - local: one\n    deep: [a, {b: \"{{ nope }}\"}]\n";
	const char *zero = "resources:\n  - local: one\n    timeout: 0\n";
	struct catalog c;
	struct res_ctx ctx;
	struct tend_err err = { "" };
	char want[256];

	catalog_init(&c);
	assert_int_equal(catalog_add_buf(&c, t->manifest, good, strlen(good), &err), 0);
	memset(&ctx, 0, sizeof(ctx));
	ctx.tmpl = json_copy(c.vars);
	assert_int_equal(schema_decode(c.res[0], &ctx, &err), 0);
	assert_int_equal(c.res[0]->rel->notify.n, 1);
	assert_string_equal(c.res[0]->rel->notify.v[0], "local:two");
	json_decref(ctx.tmpl);
	catalog_free(&c);

	catalog_init(&c);
	assert_int_equal(catalog_add_buf(&c, t->manifest, bad, strlen(bad), &err), 0);
	ctx.tmpl = json_copy(c.vars);
	assert_int_equal(schema_decode(c.res[0], &ctx, &err), -EINVAL);
	snprintf(want, sizeof(want), "%s:3:11: ", t->manifest);
	assert_true(strncmp(err.msg, want, strlen(want)) == 0);
	assert_non_null(strstr(err.msg, "nope"));
	json_decref(ctx.tmpl);
	catalog_free(&c);

	catalog_init(&c);
	assert_int_equal(catalog_add_buf(&c, t->manifest, zero, strlen(zero), &err), 0);
	ctx.tmpl = NULL;
	assert_int_equal(schema_decode(c.res[0], &ctx, &err), -EINVAL);
	snprintf(want, sizeof(want), "%s:3:14: timeout of local:one must be more than 0", t->manifest);
	assert_string_equal(err.msg, want);
	catalog_free(&c);
}

static void unknown_type_in_a_manifest_names_the_types_directories(void **state)
{
	struct tree *t = *state;
	const char *text = "resources:\n  - fiel: /etc/motd\n";
	struct catalog c;
	struct tend_err err = { "" };
	char want[512];

	catalog_init(&c);
	assert_int_equal(catalog_add_buf(&c, t->manifest, text, strlen(text), &err), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:2:5: unknown resource type 'fiel' (did you mean 'file'? no executable 'fiel' in the "
		 "custom types directories %s/site/types, %s/nowhere, %s/sys)",
		 t->manifest, t->dir, t->dir, t->dir);
	assert_string_equal(err.msg, want);
	catalog_free(&c);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tree_setup, tree_teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole_output_is_the_answer),
		cmocka_unit_test(last_object_at_a_line_start_is_the_answer_and_the_rest_diagnostics),
		cmocka_unit_test(invalid_json_is_reported_with_its_line),
		cmocka_unit_test(output_without_an_object_is_no_answer),
		cmocka_unit_test(answer_that_is_not_an_object_is_refused),
		cmocka_unit_test(diagnostics_are_bounded),
		cmocka_unit_test(probe_answers_are_checked_for_shape),
		cmocka_unit_test(change_values_become_text),
		cmocka_unit_test(tail_keeps_the_last_lines_that_fit),
		cmocka_unit_test(type_names_are_lowercase_words),
		T(lookup_finds_types_beside_the_manifest_first_then_the_types_path),
		T(lookup_makes_one_type_per_executable),
		T(builtin_types_win_over_executables),
		T(lookup_failures_say_why),
		T(custom_type_takes_any_attribute_with_yaml_types),
		T(custom_type_attributes_decode_with_templates_and_positions),
		T(unknown_type_in_a_manifest_names_the_types_directories),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
