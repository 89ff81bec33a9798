/*
 * test-node-doc.c - editing a node document's `tags:` in place
 * (src/tend-server/node_doc.c).
 *
 * The promise is that only the tags value changes: every expected output
 * here is written out byte for byte, comments and odd spacing included.
 * The refusals matter as much: a document whose tags value is an anchor,
 * an alias or a block scalar cannot be rewritten provably right, and must
 * be refused with the output left empty rather than edited by a guess.
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

#include "node_doc.h"

/* run - node_doc_set_tags(doc, tags as JSON text); the output (malloc'd)
 * or NULL on failure, with the code in *ret_r and the message in err. */
static char *run(const char *doc, const char *tags_json, int *ret_r, struct tend_err *err)
{
	struct buf out = BUF_INIT;
	json_t *tags = json_loads(tags_json, JSON_DECODE_ANY, NULL);
	int r;

	assert_non_null(tags);
	buf_puts(&out, "left over from before");
	err_clear(err);
	r = node_doc_set_tags("nodes/n1.yaml", doc, doc ? strlen(doc) : 0, tags, &out, err);
	json_decref(tags);
	*ret_r = r;
	if (r < 0) {
		assert_int_equal(out.len, 0); /* nothing half-edited is handed back */
		buf_free(&out);
		return NULL;
	}
	assert_int_equal(r, 0);
	return buf_steal(&out);
}

/* edits_to - doc with tags set must be exactly want. */
static void edits_to(const char *doc, const char *tags_json, const char *want)
{
	struct tend_err err;
	int r;
	char *got = run(doc, tags_json, &r, &err);

	if (!got)
		fail_msg("refused (%d): %s\n--- doc:\n%s", r, err.msg, doc ? doc : "(none)");
	if (strcmp(got, want))
		fail_msg("--- got:\n%s--- want:\n%s", got, want);
	free(got);
}

/* refused - doc with tags set must fail -EINVAL with msg in the message. */
static void refused(const char *doc, const char *tags_json, const char *msg)
{
	struct tend_err err;
	int r;
	char *got = run(doc, tags_json, &r, &err);

	if (got)
		fail_msg("accepted:\n%s", got);
	assert_int_equal(r, -EINVAL);
	if (!strstr(err.msg, msg))
		fail_msg("message '%s' does not say '%s'", err.msg, msg);
}

static void flow_list_is_replaced_in_place(void **state)
{
	(void)state;
	edits_to("tags: [base, web]\n", "[\"db\"]", "tags: [db]\n");
	edits_to("tags: [base, web]  # roles\nvars:\n  x: 1\n", "[\"db\", \"web\"]",
		 "tags: [db, web]  # roles\nvars:\n  x: 1\n");
	/* a flow list over several lines, with a comment and a ']' in quotes */
	edits_to("tags: [a,  # first\n  \"b]\",\n  c]\nvars: {}\n", "[\"x\"]",
		 "tags: [x]\nvars: {}\n");
	/* a scalar value becomes a flow list */
	edits_to("tags: base\n", "[\"base\", \"web\"]", "tags: [base, web]\n");
	edits_to("tags: ~\nvars: {}\n", "[\"a\"]", "tags: [a]\nvars: {}\n");
}

static void block_list_is_replaced_keeping_its_indentation(void **state)
{
	(void)state;
	edits_to("tags:\n    - a\n    - b\nvars:\n  k: v\n", "[\"x\", \"w\", \"z\"]",
		 "tags:\n    - x\n    - w\n    - z\nvars:\n  k: v\n");
	edits_to("tags:\n- a\n- b\nvars: {}\n", "[\"c\"]", "tags:\n- c\nvars: {}\n");
	edits_to("vars: {}\ntags:\n  - a\n  - b\n", "[\"c\", \"d\"]",
		 "vars: {}\ntags:\n  - c\n  - d\n");
	/* the document ended without a newline: it still does */
	edits_to("tags:\n  - a", "[\"b\", \"c\"]", "tags:\n  - b\n  - c");
}

static void comments_and_other_keys_are_kept_byte_for_byte(void **state)
{
	static const char before[] = "# web server in rack 4\n"
				     "%YAML 1.2\n"
				     "---\n"
				     "vars:   # hand aligned\n"
				     "  port:    8080\n"
				     "  name: 'quoted ''value'''\n"
				     "  motd: \"tags: [not, these]\"\n"
				     "\n"
				     "tags:    [old]   # keep me\n"
				     "# tags: [commented, out]\n"
				     "resources:\n"
				     "  - file: /etc/motd\n"
				     "    content: \"hello\\n\"\n"
				     "...\n";
	static const char after[] = "# web server in rack 4\n"
				    "%YAML 1.2\n"
				    "---\n"
				    "vars:   # hand aligned\n"
				    "  port:    8080\n"
				    "  name: 'quoted ''value'''\n"
				    "  motd: \"tags: [not, these]\"\n"
				    "\n"
				    "tags:    [new, web]   # keep me\n"
				    "# tags: [commented, out]\n"
				    "resources:\n"
				    "  - file: /etc/motd\n"
				    "    content: \"hello\\n\"\n"
				    "...\n";

	(void)state;
	edits_to(before, "[\"new\", \"web\"]", after);
	/* anchors and aliases elsewhere in the document are no obstacle */
	edits_to("common: &c {a: 1}\nvars: *c\ntags: [x]\n", "[\"w\"]",
		 "common: &c {a: 1}\nvars: *c\ntags: [w]\n");
	/* a nested 'tags' is not the node's */
	edits_to("vars:\n  tags: [inner]\ntags: [outer]\n", "[\"t\"]",
		 "vars:\n  tags: [inner]\ntags: [t]\n");
}

static void empty_list_is_written_as_an_empty_flow_list(void **state)
{
	(void)state;
	edits_to("tags: [a, b]\n", "[]", "tags: []\n");
	edits_to("tags:\n  - a\n  - b\nvars: {}\n", "[]", "tags: []\nvars: {}\n");
	edits_to("tags:  # roles\n  - a\nvars: {}\n", "[]", "tags: []  # roles\nvars: {}\n");
	edits_to(NULL, "[]", "tags: []\n");
}

static void missing_tags_key_is_added_as_the_last_line(void **state)
{
	(void)state;
	edits_to("vars:\n  x: 1\n", "[\"a\"]", "vars:\n  x: 1\ntags: [a]\n");
	edits_to("vars: {}", "[\"a\", \"b\"]", "vars: {}\ntags: [a, b]\n");
	edits_to("vars: {}\n# the end\n", "[\"a\"]", "vars: {}\n# the end\ntags: [a]\n");
	/* `tags:` with nothing after it: the list goes after the colon */
	edits_to("tags:\nvars: {}\n", "[\"a\"]", "tags: [a]\nvars: {}\n");
	edits_to("tags:   # none yet\nvars: {}\n", "[\"a\"]", "tags: [a]   # none yet\nvars: {}\n");
}

static void absent_document_is_created(void **state)
{
	(void)state;
	edits_to(NULL, "[\"base\", \"web\"]", "tags: [base, web]\n");
	edits_to("", "[\"base\"]", "tags: [base]\n");
	edits_to("# only a comment\n", "[\"base\"]", "# only a comment\ntags: [base]\n");
}

static void names_yaml_would_misread_are_quoted(void **state)
{
	(void)state;
	edits_to(NULL,
		 "[\"yes\", \"NO\", \"null\", \"1x\", \"0644\", \".hidden\", \"-x\", \"web\"]",
		 "tags: [\"yes\", \"NO\", \"null\", \"1x\", \"0644\", \".hidden\", \"-x\", web]\n");
	edits_to("tags:\n  - a\n", "[\"on\", \"y\", \"b\"]",
		 "tags:\n  - \"on\"\n  - \"y\"\n  - b\n");
}

static void anchors_aliases_and_block_scalars_are_refused(void **state)
{
	(void)state;
	refused("tags: &t [a]\nother: *t\n", "[\"b\"]", "cannot rewrite");
	refused("tags: &t\n  - a\n", "[\"b\"]", "cannot rewrite");
	refused("base: &b [a]\ntags: *b\n", "[\"c\"]", "cannot rewrite");
	refused("tags: |\n  a\n", "[\"b\"]", "cannot rewrite");
	refused("tags: >-\n  a\n", "[\"b\"]", "cannot rewrite");
	refused("tags: !!seq [a]\n", "[\"b\"]", "cannot rewrite");
	/* the message points at the key */
	refused("vars: {}\ntags: &t [a]\n", "[\"b\"]", "nodes/n1.yaml:2:1:");
}

static void broken_or_foreign_documents_are_refused(void **state)
{
	(void)state;
	refused("tags: [a\n", "[\"b\"]", "broken already");
	refused("- a\n- b\n", "[\"b\"]", "not a map");
	refused("just text\n", "[\"b\"]", "not a map");
}

static void tag_names_are_validated(void **state)
{
	char long_name[NODE_DOC_TAG_MAX + 2], json[NODE_DOC_TAG_MAX + 16],
		want[NODE_DOC_TAG_MAX + 16];

	(void)state;
	assert_true(node_doc_tag_ok("web"));
	assert_true(node_doc_tag_ok("a.b-c_D9"));
	assert_false(node_doc_tag_ok(NULL));
	assert_false(node_doc_tag_ok(""));
	assert_false(node_doc_tag_ok("a b"));
	assert_false(node_doc_tag_ok("a/b"));
	assert_false(node_doc_tag_ok("caf\xc3\xa9"));

	refused(NULL, "[\"ok\", \"not ok\"]", "tags[1]");
	refused("tags: [a]\n", "[\"x\\\"y\"]", "tags[0]");
	refused("tags: [a]\n", "[\"a: b\"]", "tags[0]");
	refused("tags: [a]\n", "[\"\"]", "tags[0]");
	refused("tags: [a]\n", "[1]", "tags[0]");
	refused("tags: [a]\n", "[null]", "tags[0]");
	refused("tags: [a]\n", "\"web\"", "list");

	/* NODE_DOC_TAG_MAX bytes is a name; one more is not */
	memset(long_name, 'a', NODE_DOC_TAG_MAX);
	long_name[NODE_DOC_TAG_MAX] = '\0';
	assert_true(node_doc_tag_ok(long_name));
	snprintf(json, sizeof(json), "[\"%s\"]", long_name);
	snprintf(want, sizeof(want), "tags: [%s]\n", long_name);
	edits_to(NULL, json, want);
	long_name[NODE_DOC_TAG_MAX] = 'a';
	long_name[NODE_DOC_TAG_MAX + 1] = '\0';
	assert_false(node_doc_tag_ok(long_name));
	snprintf(json, sizeof(json), "[\"%s\"]", long_name);
	refused(NULL, json, "tags[0]");
}

static void output_limit_is_efbig_and_leaves_output_empty(void **state)
{
	struct buf out;
	struct tend_err err;
	json_t *tags = json_pack("[s]", "web");
	const char *doc = "vars:\n  a: 1\n  b: 2\ntags: [x]\n";
	int r;

	(void)state;
	buf_init(&out, 16);
	r = node_doc_set_tags("n.yaml", doc, strlen(doc), tags, &out, &err);
	assert_int_equal(r, -EFBIG);
	assert_int_equal(out.len, 0);
	buf_free(&out);
	json_decref(tags);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(flow_list_is_replaced_in_place),
		cmocka_unit_test(block_list_is_replaced_keeping_its_indentation),
		cmocka_unit_test(comments_and_other_keys_are_kept_byte_for_byte),
		cmocka_unit_test(empty_list_is_written_as_an_empty_flow_list),
		cmocka_unit_test(missing_tags_key_is_added_as_the_last_line),
		cmocka_unit_test(absent_document_is_created),
		cmocka_unit_test(names_yaml_would_misread_are_quoted),
		cmocka_unit_test(anchors_aliases_and_block_scalars_are_refused),
		cmocka_unit_test(broken_or_foreign_documents_are_refused),
		cmocka_unit_test(tag_names_are_validated),
		cmocka_unit_test(output_limit_is_efbig_and_leaves_output_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
