/*
 * test-catalog-json.c - unit tests for catalogs compiled by tend-server
 * read back into a struct catalog (catalog_add_json, model/catalog.h):
 * resources, attributes and positions from "origin", vars, repository
 * paths of sources and templates rewritten under the agent's files
 * directory, and every malformed input refused with a message.
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

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define CATALOG_OK                                                                        \
	"{\"node\":\"web1\",\"revision\":\"abc\",\"hash\":\"sha256:00\",\"tags\":[\"base\"],"  \
	"\"vars\":{\"port\":8080,\"motd\":\"hello\"},"                                        \
	"\"resources\":["                                                                     \
	"{\"type\":\"file\",\"name\":\"/etc/motd\",\"attrs\":{\"template\":\"files/motd.tmpl\"," \
	"\"mode\":\"0644\"},\"origin\":\"tags/base.yaml:4\"},"                                \
	"{\"type\":\"file\",\"name\":\"/etc/issue\",\"attrs\":{\"source\":"                   \
	"\"https://example.com/issue\",\"sha256\":\"" HEX64 "\"},\"origin\":\"nodes/web1.yaml:9\"},"   \
	"{\"type\":\"directory\",\"name\":\"/srv\",\"attrs\":{},\"origin\":\"tags/base.yaml:2\"},"  \
	"{\"type\":\"exec\",\"name\":\"reload\",\"attrs\":{\"command\":\"/bin/true\","          \
	"\"requires\":[\"file:/etc/motd\"]},\"origin\":\"weird\"}],"                          \
	"\"files\":{\"files/motd.tmpl\":\"port {{ port }}\\n\"}}"

static int add_text(struct catalog *c, const char *text, struct tend_err *err)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	int r;

	if (!j)
		fail_msg("bad test JSON: %s at %d", je.text, je.position);
	err_clear(err);
	r = catalog_add_json(c, j, "/var/lib/tendd/files", err);
	json_decref(j);
	return r;
}

static void test_resources_and_positions(void **state)
{
	struct tend_err err;
	struct catalog c;
	struct resource *r;
	const struct raw_attr *a;

	catalog_init(&c);
	assert_int_equal(add_text(&c, CATALOG_OK, &err), 0);
	assert_int_equal(c.n, 4);
	/* declaration order is kept */
	assert_string_equal(c.res[0]->id, "file:/etc/motd");
	assert_string_equal(c.res[2]->id, "directory:/srv");
	r = catalog_find(&c, "file:/etc/motd");
	assert_non_null(r);
	assert_string_equal(r->pos.file, "tags/base.yaml");
	assert_int_equal(r->pos.line, 4);
	a = res_find_attr(r, "mode");
	assert_non_null(a);
	assert_string_equal(json_string_value(a->val), "0644");
	assert_string_equal(a->val_pos.file, "tags/base.yaml");
	/* an origin without a line is kept whole */
	r = catalog_find(&c, "exec:reload");
	assert_non_null(r);
	assert_string_equal(r->pos.file, "weird");
	assert_int_equal(r->pos.line, 0);
	/* vars keep their JSON types */
	assert_int_equal(json_integer_value(json_object_get(c.vars, "port")), 8080);
	assert_string_equal(json_string_value(json_object_get(c.var_pos, "port")), "catalog");
	catalog_free(&c);
}

static void test_file_paths_rewritten(void **state)
{
	struct tend_err err;
	struct catalog c;
	const struct raw_attr *a;

	catalog_init(&c);
	assert_int_equal(add_text(&c, CATALOG_OK, &err), 0);
	a = res_find_attr(catalog_find(&c, "file:/etc/motd"), "template");
	assert_string_equal(json_string_value(a->val), "/var/lib/tendd/files/files/motd.tmpl");
	/* URL sources are fetched by the node as they are */
	a = res_find_attr(catalog_find(&c, "file:/etc/issue"), "source");
	assert_string_equal(json_string_value(a->val), "https://example.com/issue");
	catalog_free(&c);
}

/* decoding and ordering work on the result as on a parsed manifest */
static void test_decodes_and_orders(void **state)
{
	struct tend_err err;
	struct catalog c;
	struct res_ctx ctx;
	struct resource **order = NULL;

	catalog_init(&c);
	assert_int_equal(add_text(&c, CATALOG_OK, &err), 0);
	memset(&ctx, 0, sizeof(ctx));
	ctx.cat = &c;
	ctx.tmpl = json_copy(c.vars);
	for (size_t i = 0; i < c.n; i++) {
		int r = schema_decode(c.res[i], &ctx, &err);

		if (r)
			print_error("%s\n", err.msg);
		assert_int_equal(r, 0);
	}
	assert_int_equal(graph_build(&c, &order, &err), 0);
	/* exec:reload requires file:/etc/motd */
	for (size_t i = 0, seen = 0; i < c.n; i++) {
		if (!strcmp(order[i]->id, "file:/etc/motd"))
			seen = 1;
		if (!strcmp(order[i]->id, "exec:reload"))
			assert_true(seen);
	}
	free(order);
	json_decref(ctx.tmpl);
	catalog_free(&c);
}

/* a second catalog merges like a later manifest */
static void test_merge_rule(void **state)
{
	struct tend_err err;
	struct catalog c;
	const struct raw_attr *a;

	catalog_init(&c);
	assert_int_equal(add_text(&c, CATALOG_OK, &err), 0);
	assert_int_equal(add_text(&c, "{\"resources\":[{\"type\":\"file\",\"name\":\"/etc/motd\","
				      "\"attrs\":{\"mode\":\"0600\"},\"origin\":\"x.yaml:1\"}]}",
				  &err),
			 0);
	assert_int_equal(c.n, 4);
	a = res_find_attr(catalog_find(&c, "file:/etc/motd"), "mode");
	assert_string_equal(json_string_value(a->val), "0600");
	catalog_free(&c);
}

static void check_fails(const char *text, const char *want, const char *file, int line)
{
	struct tend_err err;
	struct catalog c;
	int r;

	catalog_init(&c);
	r = add_text(&c, text, &err);
	catalog_free(&c);
	_assert_int_equal((uintmax_t)r, (uintmax_t)-EINVAL, file, line);
	_assert_string_equal(err.msg, want, file, line);
}
#define FAILS(text, want) check_fails(text, want, __FILE__, __LINE__)

static void test_refused(void **state)
{
	FAILS("[]", "catalog: expected an object with \"vars\" {}, \"resources\" [] and \"files\" {}");
	FAILS("{\"resources\":{}}",
	      "catalog: expected an object with \"vars\" {}, \"resources\" [] and \"files\" {}");
	FAILS("{\"resources\":[1]}",
	      "catalog: resource 0 is not {\"type\", \"name\", \"attrs\", \"origin\"}");
	FAILS("{\"resources\":[{\"type\":\"file\",\"name\":\"\"}]}",
	      "catalog: resource 0 is not {\"type\", \"name\", \"attrs\", \"origin\"}");
	FAILS("{\"resources\":[{\"type\":\"file\",\"name\":\"/a\",\"attrs\":[]}]}",
	      "catalog: resource 0 is not {\"type\", \"name\", \"attrs\", \"origin\"}");
	FAILS("{\"resources\":[{\"type\":\"file\",\"name\":\"a\\nb\",\"origin\":\"t.yaml:3\"}]}",
	      "t.yaml:3: a resource name must be one line of at most 4096 bytes");
	FAILS("{\"resources\":[{\"type\":\"file\",\"name\":\"/a\",\"origin\":\"t.yaml:3\"},"
	      "{\"type\":\"file\",\"name\":\"/a\",\"origin\":\"t.yaml:5\"}]}",
	      "t.yaml:5: catalog: duplicate resource file:/a");
	FAILS("{\"resources\":[{\"type\":\"file\",\"name\":\"/a\",\"attrs\":{\"mdoe\":\"0644\"},"
	      "\"origin\":\"t.yaml:3\"}]}",
	      "t.yaml:3: unknown attribute 'mdoe' in file:/a (did you mean 'mode'?)");
	FAILS("{\"vars\":{\"facts\":1}}", "catalog: 'facts' cannot be a variable name");
	FAILS("{\"vars\":{\"a.b\":1}}", "catalog: 'a.b' cannot be a variable name");
	/* repository paths from the network never leave files_dir */
	FAILS("{\"resources\":[{\"type\":\"file\",\"name\":\"/a\",\"attrs\":{\"source\":\"../x\"},"
	      "\"origin\":\"t.yaml:3\"}],\"files\":{\"../x\":\"\"}}",
	      "t.yaml:3: 'source' of file:/a must be a repository path such as files/motd.tmpl, "
	      "found '../x'");
	FAILS("{\"resources\":[{\"type\":\"file\",\"name\":\"/a\",\"attrs\":{\"source\":\"/etc/shadow\"},"
	      "\"origin\":\"t.yaml:3\"}]}",
	      "t.yaml:3: 'source' of file:/a must be a repository path such as files/motd.tmpl, "
	      "found '/etc/shadow'");
	FAILS("{\"resources\":[{\"type\":\"file\",\"name\":\"/a\",\"attrs\":{\"template\":\"files/a/./b\"},"
	      "\"origin\":\"t.yaml:3\"}]}",
	      "t.yaml:3: 'template' of file:/a must be a repository path such as files/motd.tmpl, "
	      "found 'files/a/./b'");
	FAILS("{\"resources\":[{\"type\":\"file\",\"name\":\"/a\",\"attrs\":{\"template\":\"files/b\"},"
	      "\"origin\":\"t.yaml:3\"}],\"files\":{\"files/c\":\"\"}}",
	      "t.yaml:3: 'template' of file:/a names files/b, which the catalog does not carry");
}

static void test_unknown_type(void **state)
{
	struct tend_err err;
	struct catalog c;

	setenv("TEND_TYPES_PATH", "/nonexistent-tend-types", 1);
	catalog_init(&c);
	assert_int_equal(add_text(&c, "{\"resources\":[{\"type\":\"frobnicate\",\"name\":\"x\","
				      "\"origin\":\"tags/a.yaml:7\"}]}",
				  &err),
			 -EINVAL);
	assert_true(strncmp(err.msg, "tags/a.yaml:7: unknown resource type 'frobnicate' (", 50) == 0);
	catalog_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resources_and_positions),
		cmocka_unit_test(test_file_paths_rewritten),
		cmocka_unit_test(test_decodes_and_orders),
		cmocka_unit_test(test_merge_rule),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_unknown_type),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
