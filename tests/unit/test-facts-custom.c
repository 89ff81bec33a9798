/*
 * test-facts-custom.c - unit tests for custom facts from
 * ROOT/etc/tend/facts.d (facts_custom.c): JSON and YAML files, executables
 * that print JSON, and every way one can be bad — each left out with an
 * entry in custom_errors, never stopping the others.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <time.h>

#include "test-facts-fixture.h"

#define D "etc/tend/facts.d/"

static void put_exec(struct fx *x, const char *name, const char *script, mode_t mode)
{
	char rel[256];

	snprintf(rel, sizeof(rel), D "%s", name);
	fx_write(x, rel, script, strlen(script), mode);
}

/* errors_mention - some custom_errors entry contains both a and b. */
static bool errors_mention(json_t *f, const char *a, const char *b)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(f, "custom_errors"), i, e) {
		const char *s = json_string_value(e);

		if (s && strstr(s, a) && strstr(s, b))
			return true;
	}
	return false;
}

static void assert_error(json_t *f, const char *a, const char *b)
{
	if (!errors_mention(f, a, b)) {
		char *dump = json_dumps(json_object_get(f, "custom_errors"), JSON_COMPACT);

		fail_msg("no custom error mentions '%s' and '%s' in %s", a, b,
			 dump ? dump : "null");
	}
}

static void json_and_yaml_files_are_typed_facts(void **state)
{
	struct fx *x = *state;

	fx_put(x, D "rack.json", "{\"row\": \"B\", \"unit\": 12, \"tags\": [\"a\", \"b\"]}\n");
	fx_put(x, D "app.yaml",
	       "port: 8080\nenabled: true\nname: shop\nversion: \"1.10\"\nnothing:\n");
	fx_put(x, D "list.yml", "- one\n- 2\n");
	facts_custom(&x->root, 5, x->f);
	fx_assert_str(x->f, "custom.rack.row", "B");
	fx_assert_int(x->f, "custom.rack.unit", 12);
	assert_int_equal(json_array_size(fx_get(x->f, "custom.rack.tags")), 2);
	fx_assert_int(x->f, "custom.app.port", 8080);
	assert_true(json_is_true(fx_get(x->f, "custom.app.enabled")));
	fx_assert_str(x->f, "custom.app.name", "shop");
	fx_assert_str(x->f, "custom.app.version", "1.10");
	assert_true(json_is_null(fx_get(x->f, "custom.app.nothing")));
	assert_int_equal(json_array_size(fx_get(x->f, "custom.list")), 2);
	fx_assert_absent(x->f, "custom_errors");
}

static void executable_prints_a_json_object(void **state)
{
	struct fx *x = *state;
	char want[PATH_MAX + 16];

	put_exec(x, "env.sh", "#!/bin/sh\nprintf '{\"root\": \"%s\", \"n\": 3}' \"$TEND_ROOT\"\n",
		 0755);
	facts_custom(&x->root, 5, x->f);
	snprintf(want, sizeof(want), "%s", x->dir);
	fx_assert_str(x->f, "custom.env.root", want);
	fx_assert_int(x->f, "custom.env.n", 3);
	fx_assert_absent(x->f, "custom_errors");
}

static void bad_files_are_skipped_with_a_reason(void **state)
{
	struct fx *x = *state;

	fx_put(x, D "good.json", "{\"ok\": true}");
	fx_put(x, D "broken.json", "{\"a\": 1,\n \"b\": }\n");
	fx_put(x, D "dupkey.json", "{\"a\": 1, \"a\": 2}");
	fx_put(x, D "broken.yaml", "a: [1, 2\n");
	fx_put(x, D "bad.name.json", "{}");
	fx_put(x, D "README", "not a fact\n");
	put_exec(x, "fails", "#!/bin/sh\necho 'no database' >&2\nexit 3\n", 0755);
	put_exec(x, "notobject", "#!/bin/sh\necho '[1, 2]'\n", 0755);
	put_exec(x, "notjson", "#!/bin/sh\necho 'key=value'\n", 0755);
	put_exec(x, "unsafe", "#!/bin/sh\necho '{}'\n", 0777);
	put_exec(x, "killed", "#!/bin/sh\nkill -9 $$\n", 0755);
	put_exec(x, "noexec", "#!/nonexistent/interpreter\n", 0755);
	facts_custom(&x->root, 5, x->f);

	assert_true(json_is_true(fx_get(x->f, "custom.good.ok")));
	assert_int_equal(json_object_size(fx_get(x->f, "custom")), 1);
	assert_error(x->f, D "broken.json", "invalid JSON at line 2");
	assert_error(x->f, D "dupkey.json", "duplicate");
	assert_error(x->f, D "broken.yaml", "broken.yaml:");
	assert_error(x->f, D "bad.name.json", "letters, digits");
	assert_error(x->f, D "README", "neither an executable nor");
	assert_error(x->f, D "fails", "exited with status 3: no database");
	assert_error(x->f, D "notobject", "not a JSON object");
	assert_error(x->f, D "notjson", "invalid JSON");
	assert_error(x->f, D "unsafe", "not run");
	assert_error(x->f, D "killed", "killed by signal 9");
	assert_error(x->f, D "noexec", "cannot run");
	assert_int_equal(json_array_size(json_object_get(x->f, "custom_errors")), 11);
}

static void hanging_executable_is_killed_at_its_timeout(void **state)
{
	struct fx *x = *state;
	struct timespec a, b;
	double took;

	put_exec(x, "hang", "#!/bin/sh\nsleep 30\n", 0755);
	put_exec(x, "later", "#!/bin/sh\necho '{\"ran\": 1}'\n", 0755);
	clock_gettime(CLOCK_MONOTONIC, &a);
	facts_custom(&x->root, 0.3, x->f);
	clock_gettime(CLOCK_MONOTONIC, &b);
	took = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	assert_true(took < 5);
	assert_error(x->f, D "hang", "timeout of 0.3 s");
	fx_assert_int(x->f, "custom.later.ran", 1);
}

static void oversized_input_is_refused(void **state)
{
	struct fx *x = *state;
	size_t n = FACTS_CUSTOM_MAX + 10;
	char *big = malloc(n + 1);

	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = '\0';
	fx_put(x, D "big.json", big);
	free(big);
	/* 2 MiB of output */
	put_exec(x, "flood", "#!/bin/sh\nhead -c 2097152 /dev/zero | tr '\\0' ' '\n", 0755);
	facts_custom(&x->root, 10, x->f);
	assert_error(x->f, D "big.json", "larger than 1048576 bytes");
	assert_error(x->f, D "flood", "output is over 1048576 bytes");
	fx_assert_absent(x->f, "custom.big");
	fx_assert_absent(x->f, "custom.flood");
}

static void duplicates_hidden_and_backup_files(void **state)
{
	struct fx *x = *state;

	fx_put(x, D "site.json", "{\"from\": \"json\"}");
	fx_put(x, D "site.yaml", "from: yaml\n");
	fx_put(x, D ".hidden.json", "{");
	fx_put(x, D "old.json.dpkg-old", "{");
	fx_put(x, D "edit.json~", "{");
	fx_mkdirs(x, D "subdir");
	facts_custom(&x->root, 5, x->f);
	/* name order: site.json before site.yaml */
	fx_assert_str(x->f, "custom.site.from", "json");
	assert_error(x->f, D "site.yaml", "already comes from another file");
	assert_int_equal(json_array_size(json_object_get(x->f, "custom_errors")), 1);
}

static void symlinks_resolve_inside_the_root(void **state)
{
	struct fx *x = *state;

	/* an absolute link means ROOT/srv/facts.json, not the host's file */
	fx_put(x, "srv/facts.json", "{\"inside\": true}");
	fx_symlink(x, "/srv/facts.json", D "linked.json");
	fx_symlink(x, "/etc/hostname", D "hostfile.json");
	facts_custom(&x->root, 5, x->f);
	assert_true(json_is_true(fx_get(x->f, "custom.linked.inside")));
	assert_error(x->f, D "hostfile.json", "cannot open");
}

static void no_directory_no_custom_facts(void **state)
{
	struct fx *x = *state;

	facts_custom(&x->root, 5, x->f);
	fx_assert_absent(x->f, "custom");
	fx_assert_absent(x->f, "custom_errors");
	/* an empty directory gives an empty group */
	fx_mkdirs(x, D);
	facts_custom(&x->root, 5, x->f);
	assert_int_equal(json_object_size(fx_get(x->f, "custom")), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(json_and_yaml_files_are_typed_facts),
		T(executable_prints_a_json_object),
		T(bad_files_are_skipped_with_a_reason),
		T(hanging_executable_is_killed_at_its_timeout),
		T(oversized_input_is_refused),
		T(duplicates_hidden_and_backup_files),
		T(symlinks_resolve_inside_the_root),
		T(no_directory_no_custom_facts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
