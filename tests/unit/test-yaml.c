/*
 * test-yaml.c - unit tests for the position-carrying YAML tree
 * (model/yaml.h).
 *
 * Every later error message in tend names FILE:LINE:COL from these nodes,
 * so positions are checked exactly.  The JSON conversion is checked for the
 * YAML 1.2 core schema (no YAML 1.1 "yes"/"no" booleans, no octal 0644)
 * and for its bounds: aliases can describe exponential or cyclic values in
 * a few lines, and conversion must refuse them instead of hanging.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/yaml.h"
#include "util/buf.h"

static struct ydoc *load_ok(const char *text, const char *file, int line)
{
	struct ydoc *d = NULL;
	struct tend_err err;
	int r;

	err_clear(&err);
	r = ydoc_load("t.yaml", text, strlen(text), &d, &err);
	if (r != 0)
		print_error("unexpected error %d: %s\n", r, err.msg);
	_assert_int_equal((uintmax_t)r, 0, file, line);
	_assert_true(d != NULL, "document", file, line);
	return d;
}

static void check_load_fails(const char *text, const char *want, const char *file, int line)
{
	struct ydoc *d = NULL;
	struct tend_err err;
	int r;

	err_clear(&err);
	r = ydoc_load("t.yaml", text, strlen(text), &d, &err);
	if (d) {
		ydoc_free(d);
		_fail(file, line); /* a document, or one handed out on failure */
	}
	_assert_int_equal((uintmax_t)r, (uintmax_t)-EINVAL, file, line);
	_assert_string_equal(err.msg, want, file, line);
}

#define load(text) load_ok(text, __FILE__, __LINE__)
#define assert_load_fails(text, msg) check_load_fails(text, msg, __FILE__, __LINE__)

static void check_pos(const struct ynode *n, enum ynode_kind kind, int line, int col,
		      const char *file, int fline)
{
	_assert_true(n != NULL, "node", file, fline);
	_assert_int_equal(n->kind, kind, file, fline);
	_assert_int_equal(n->line, line, file, fline);
	_assert_int_equal(n->col, col, file, fline);
}

#define assert_pos(n, kind, line, col) check_pos(n, kind, line, col, __FILE__, __LINE__)

/* json_of - convert the root of text and dump it compactly ("NULL" when refused). */
static char *json_of(const char *text, bool typed)
{
	struct ydoc *d = load(text);
	json_t *j = ynode_to_json(ydoc_root(d), typed);
	char *s =
		j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS) : strdup("NULL");

	json_decref(j);
	ydoc_free(d);
	return s;
}

static void check_json(const char *text, bool typed, const char *want, const char *file, int line)
{
	char *got = json_of(text, typed), copy[4096];

	/* freed before asserting: a failing check must not also leak */
	snprintf(copy, sizeof(copy), "%s", got);
	free(got);
	_assert_string_equal(copy, want, file, line);
}

#define assert_typed(text, want) check_json(text, true, want, __FILE__, __LINE__)
#define assert_untyped(text, want) check_json(text, false, want, __FILE__, __LINE__)

/* --- tree and positions ----------------------------------------------------- */

static void block_map_and_seq_positions_are_one_based(void **state)
{
	struct ydoc *d = load("a: 1\n"
			      "bb:\n"
			      "  - x\n"
			      "  -   'y'\n");
	struct ynode *root = ydoc_root(d), *seq;
	(void)state;

	assert_pos(root, YN_MAP, 1, 1);
	assert_int_equal(root->n, 2);
	assert_pos(root->items[0], YN_SCALAR, 1, 1);
	assert_string_equal(root->items[0]->str, "a");
	assert_pos(root->items[1], YN_SCALAR, 1, 4);
	assert_string_equal(root->items[1]->str, "1");
	assert_pos(root->items[2], YN_SCALAR, 2, 1);
	seq = root->items[3];
	assert_pos(seq, YN_SEQ, 3, 3);
	assert_int_equal(seq->n, 2);
	assert_pos(seq->items[0], YN_SCALAR, 3, 5);
	assert_pos(seq->items[1], YN_SCALAR, 4, 7);
	assert_string_equal(seq->items[1]->str, "y");
	ydoc_free(d);
}

static void flow_collection_positions_are_their_opening_brackets(void **state)
{
	struct ydoc *d = load("top:\n"
			      "    - {k: v, n: [1,  2]}\n");
	struct ynode *m, *l;
	(void)state;

	m = ynode_map_get(ydoc_root(d), "top")->items[0];
	assert_pos(m, YN_MAP, 2, 7);
	assert_pos(m->items[0], YN_SCALAR, 2, 8);
	assert_pos(m->items[1], YN_SCALAR, 2, 11);
	l = ynode_map_get(m, "n");
	assert_pos(l, YN_SEQ, 2, 17);
	assert_pos(l->items[0], YN_SCALAR, 2, 18);
	assert_pos(l->items[1], YN_SCALAR, 2, 22);
	ydoc_free(d);
}

static void lines_are_counted_from_the_start_of_the_input(void **state)
{
	struct ydoc *d = load("# comment\n"
			      "---\n"
			      "\n"
			      "key:   x\n");
	(void)state;

	assert_pos(ydoc_root(d), YN_MAP, 4, 1);
	assert_pos(ynode_map_get(ydoc_root(d), "key"), YN_SCALAR, 4, 8);
	ydoc_free(d);
}

static void scalar_text_length_and_quoting_are_kept(void **state)
{
	struct ydoc *d = load("p: plain text\n"
			      "s: 'single'\n"
			      "d: \"a\\tb\\0c\"\n"
			      "l: |\n"
			      "  line1\n"
			      "  line2\n"
			      "f: >\n"
			      "  folded\n"
			      "  text\n");
	struct ynode *root = ydoc_root(d), *n;
	(void)state;

	n = ynode_map_get(root, "p");
	assert_string_equal(n->str, "plain text");
	assert_int_equal(n->len, 10);
	assert_false(n->quoted);
	n = ynode_map_get(root, "s");
	assert_string_equal(n->str, "single");
	assert_true(n->quoted);
	n = ynode_map_get(root, "d");
	assert_int_equal(n->len, 5);
	assert_memory_equal(n->str, "a\tb\0c", 6);
	assert_true(n->quoted);
	n = ynode_map_get(root, "l");
	assert_string_equal(n->str, "line1\nline2\n");
	assert_true(n->quoted);
	n = ynode_map_get(root, "f");
	assert_string_equal(n->str, "folded text\n");
	assert_true(n->quoted);
	ydoc_free(d);
}

static void empty_input_gives_a_null_root(void **state)
{
	struct ydoc *d;
	(void)state;

	d = load("");
	assert_null(ydoc_root(d));
	ydoc_free(d);
	d = load("# only a comment\n\n");
	assert_null(ydoc_root(d));
	ydoc_free(d);
}

static void document_name_is_kept_as_given(void **state)
{
	struct ydoc *d = NULL;
	struct tend_err err;
	(void)state;

	assert_int_equal(ydoc_load("dir/site.yaml", "a: 1", 4, &d, &err), 0);
	assert_string_equal(ydoc_name(d), "dir/site.yaml");
	ydoc_free(d);
	ydoc_free(NULL);
}

static void input_is_read_only_up_to_len(void **state)
{
	static const char text[] = "a: 1\nb: [2";
	struct ydoc *d = NULL;
	struct tend_err err;
	char *exact;
	(void)state;

	/* an exactly sized heap copy: ASan reports any read past len */
	exact = malloc(sizeof(text) - 1);
	assert_non_null(exact);
	memcpy(exact, text, sizeof(text) - 1);
	assert_int_equal(ydoc_load("t.yaml", exact, 4, &d, &err), 0);
	assert_string_equal(ynode_map_get(ydoc_root(d), "a")->str, "1");
	assert_null(ynode_map_get(ydoc_root(d), "b"));
	ydoc_free(d);
	d = NULL;
	assert_int_equal(ydoc_load("t.yaml", exact, sizeof(text) - 1, &d, &err), -EINVAL);
	assert_null(d);
	free(exact);
}

static void map_get_finds_values_by_key_and_only_in_maps(void **state)
{
	struct ydoc *d = load("a: 1\nb: [x]\n'c': 3\n");
	struct ynode *root = ydoc_root(d), *b;
	(void)state;

	assert_string_equal(ynode_map_get(root, "a")->str, "1");
	assert_string_equal(ynode_map_get(root, "c")->str, "3");
	assert_null(ynode_map_get(root, "missing"));
	assert_null(ynode_map_get(root, "1")); /* values are not keys */
	b = ynode_map_get(root, "b");
	assert_int_equal(b->kind, YN_SEQ);
	assert_null(ynode_map_get(b, "x"));
	assert_null(ynode_map_get(NULL, "a"));
	ydoc_free(d);
}

static void kind_names_read_well_in_messages(void **state)
{
	struct ydoc *d = load("s: x\nl: []\nm: {}\n");
	struct ynode *root = ydoc_root(d);
	(void)state;

	assert_string_equal(ynode_kind_name(ynode_map_get(root, "l")), "a list");
	assert_string_equal(ynode_kind_name(ynode_map_get(root, "m")), "a map");
	assert_string_equal(ynode_kind_name(ynode_map_get(root, "s")), "a scalar");
	assert_string_equal(ynode_kind_name(NULL), "nothing");
	ydoc_free(d);
}

/* --- errors ---------------------------------------------------------------- */

static void duplicate_key_names_both_positions(void **state)
{
	(void)state;
	assert_load_fails("a: 1\nb: 2\na: 3\n", "t.yaml:3:1: duplicate key 'a' (first at line 1)");
	assert_load_fails("{x: 1, y: 2, x: 3}", "t.yaml:1:14: duplicate key 'x' (first at line 1)");
}

static void duplicate_key_is_found_in_nested_maps(void **state)
{
	(void)state;
	assert_load_fails("outer:\n"
			  "  - inner:\n"
			  "      k: 1\n"
			  "      j: 2\n"
			  "      k: 3\n",
			  "t.yaml:5:7: duplicate key 'k' (first at line 3)");
}

static void quoting_does_not_make_a_key_different(void **state)
{
	(void)state;
	assert_load_fails("mode: 1\n'mode': 2\n",
			  "t.yaml:2:1: duplicate key 'mode' (first at line 1)");
}

static void same_key_in_different_maps_is_not_a_duplicate(void **state)
{
	struct ydoc *d = load("a: {k: 1}\nb: {k: 2}\nc: [k, k]\n");
	(void)state;

	ydoc_free(d);
}

static void second_document_is_an_error_at_its_marker(void **state)
{
	(void)state;
	assert_load_fails("a: 1\n---\nb: 2\n",
			  "t.yaml:2:1: a second YAML document in one file is not supported");
	assert_load_fails("a: 1\n...\n---\n",
			  "t.yaml:3:1: a second YAML document in one file is not supported");
}

static void document_end_marker_alone_is_fine(void **state)
{
	struct ydoc *d = load("---\na: 1\n...\n# trailing comment\n");
	(void)state;

	assert_string_equal(ynode_map_get(ydoc_root(d), "a")->str, "1");
	ydoc_free(d);
}

/* libyaml words the problem; what tend adds is the position in front */
static void check_malformed(const char *text, const char *where, const char *problem,
			    const char *file, int line)
{
	struct ydoc *d = NULL;
	struct tend_err err;
	int r;

	err_clear(&err);
	r = ydoc_load("t.yaml", text, strlen(text), &d, &err);
	ydoc_free(d);
	_assert_int_equal((uintmax_t)r, (uintmax_t)-EINVAL, file, line);
	_assert_true(d == NULL, "no document on failure", file, line);
	if (strncmp(err.msg, where, strlen(where)) || !strstr(err.msg, problem))
		print_error("message '%s' lacks '%s' ... '%s'\n", err.msg, where, problem);
	_assert_int_equal(strncmp(err.msg, where, strlen(where)), 0, file, line);
	_assert_true(strstr(err.msg, problem) != NULL, problem, file, line);
	_assert_true(!strchr(err.msg, '\n'), "one line", file, line);
}

#define assert_malformed(text, where, problem) \
	check_malformed(text, where, problem, __FILE__, __LINE__)

static void malformed_yaml_gives_name_line_col_and_the_problem(void **state)
{
	(void)state;
	assert_malformed("a: [1, 2\n", "t.yaml:2:1: ", "did not find expected ',' or ']'");
	assert_malformed("a: b: c\n", "t.yaml:1:5: ", "mapping values are not allowed");
	assert_malformed("a: 'open\n", "t.yaml:2:1: ", "end of stream");
	assert_malformed("ok: 1\nbad:\n\t- x\n", "t.yaml:3:1: ", "cannot start any token");
}

static void unknown_alias_is_an_error_at_the_alias(void **state)
{
	(void)state;
	assert_load_fails("a: 1\nb:   *nope\n", "t.yaml:2:6: unknown alias '*nope'");
	/* an alias before its anchor is unknown too */
	assert_load_fails("a: *x\nb: &x 1\n", "t.yaml:1:4: unknown alias '*x'");
}

static void nesting_of_64_levels_loads_and_65_is_an_error(void **state)
{
	char text[200];
	struct ydoc *d;
	json_t *j;
	int k;
	(void)state;

	for (k = 0; k < 64; k++)
		text[k] = '[';
	text[k] = '1';
	for (k = 0; k < 64; k++)
		text[65 + k] = ']';
	text[65 + 64] = '\0';
	d = load(text);
	j = ynode_to_json(ydoc_root(d), true);
	assert_non_null(j);
	json_decref(j);
	ydoc_free(d);

	for (k = 0; k < 65; k++)
		text[k] = '[';
	text[k] = '1';
	for (k = 0; k < 65; k++)
		text[66 + k] = ']';
	text[66 + 65] = '\0';
	assert_load_fails(text, "t.yaml:1:65: nesting deeper than 64 levels");
}

/* the file is fed to the parser in pieces: positions and values past the
 * first pieces are right, and an error far into the file names its line */
static void load_file_streams_large_files(void **state)
{
	char dir[] = "/tmp/tend-test-yaml-XXXXXX", path[128];
	struct ydoc *d = NULL;
	struct tend_err err;
	const struct ynode *items;
	FILE *f;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("items:\n", f);
	for (int i = 0; i < 20000; i++)
		fprintf(f, "  - value number %d of a long list\n", i);
	fclose(f);
	assert_int_equal(ydoc_load_file(path, &d, &err), 0);
	items = ynode_map_get(ydoc_root(d), "items");
	assert_non_null(items);
	assert_int_equal(items->n, 20000);
	assert_string_equal(items->items[19999]->str, "value number 19999 of a long list");
	assert_int_equal(items->items[19999]->line, 20001);
	ydoc_free(d);

	f = fopen(path, "a");
	assert_non_null(f);
	fputs("  - [unclosed\n", f);
	fclose(f);
	d = NULL;
	assert_int_equal(ydoc_load_file(path, &d, &err), -EINVAL);
	assert_null(d);
	assert_non_null(strstr(err.msg, "big.yaml:20003:"));
	unlink(path);
	rmdir(dir);
}

static void load_file_reads_and_names_the_path(void **state)
{
	char dir[] = "/tmp/tend-test-yaml-XXXXXX", path[128];
	struct ydoc *d = NULL;
	struct tend_err err;
	FILE *f;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m.yaml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("a: 1\na: 2\n", f);
	fclose(f);
	assert_int_equal(ydoc_load_file(path, &d, &err), -EINVAL);
	assert_null(d);
	assert_true(strncmp(err.msg, path, strlen(path)) == 0);
	assert_string_equal(err.msg + strlen(path), ":2:1: duplicate key 'a' (first at line 1)");

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("a: 1\n", f);
	fclose(f);
	assert_int_equal(ydoc_load_file(path, &d, &err), 0);
	assert_string_equal(ydoc_name(d), path);
	assert_string_equal(ynode_map_get(ydoc_root(d), "a")->str, "1");
	ydoc_free(d);
	unlink(path);

	d = NULL;
	assert_int_equal(ydoc_load_file(path, &d, &err), -ENOENT);
	assert_null(d);
	assert_true(strncmp(err.msg, path, strlen(path)) == 0);
	assert_non_null(strstr(err.msg, "No such file"));
	rmdir(dir);
}

/* --- aliases ------------------------------------------------------------------- */

static void alias_shares_the_anchored_node(void **state)
{
	struct ydoc *d = load("base: &b {x: 1, y: [a]}\n"
			      "copy: *b\n"
			      "s: &s text\n"
			      "t: *s\n");
	struct ynode *root = ydoc_root(d);
	char *j;
	(void)state;

	assert_ptr_equal(ynode_map_get(root, "copy"), ynode_map_get(root, "base"));
	assert_ptr_equal(ynode_map_get(root, "t"), ynode_map_get(root, "s"));
	ydoc_free(d);
	j = json_of("base: &b {x: 1, y: [a]}\ncopy: *b\n", true);
	assert_string_equal(j,
			    "{\"base\":{\"x\":1,\"y\":[\"a\"]},\"copy\":{\"x\":1,\"y\":[\"a\"]}}");
	free(j);
}

static void redefined_anchor_refers_to_the_latest_definition(void **state)
{
	(void)state;
	assert_typed("a: &x 1\nb: *x\nc: &x 2\nd: *x\n", "{\"a\":1,\"b\":1,\"c\":2,\"d\":2}");
}

static void alias_bomb_conversion_is_refused_quickly(void **state)
{
	/* "billion laughs": 10^9 leaves described in ten lines */
	static const char bomb[] = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
				   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
				   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
				   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
				   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
				   "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
				   "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
				   "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
				   "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	struct ydoc *d = load(bomb);
	struct timespec t0, t1;
	json_t *j;
	double secs;
	(void)state;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	j = ynode_to_json(ydoc_root(d), true);
	assert_null(j);
	j = ynode_to_json(ydoc_root(d), false);
	assert_null(j);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (secs > 30)
		fail_msg("refusing the alias bomb took %.1f s", secs);
	/* a part of it that is small enough still converts */
	j = ynode_to_json(ynode_map_get(ydoc_root(d), "c"), true);
	assert_non_null(j);
	assert_int_equal(json_array_size(j), 10);
	assert_int_equal(json_array_size(json_array_get(json_array_get(j, 9), 9)), 10);
	json_decref(j);
	ydoc_free(d);
}

static void cyclic_alias_in_a_list_converts_to_null_instead_of_hanging(void **state)
{
	struct ydoc *d = load("loop: &x [1, *x]\n");
	struct ynode *loop = ynode_map_get(ydoc_root(d), "loop");
	(void)state;

	/* the tree really is cyclic: the list contains itself */
	assert_int_equal(loop->n, 2);
	assert_ptr_equal(loop->items[1], loop);
	assert_null(ynode_to_json(ydoc_root(d), true));
	assert_null(ynode_to_json(loop, false));
	ydoc_free(d);
}

static void cyclic_alias_in_a_map_converts_to_null_instead_of_hanging(void **state)
{
	struct ydoc *d = load("&m {a: 1, self: *m}\n");
	(void)state;

	assert_ptr_equal(ynode_map_get(ydoc_root(d), "self"), ydoc_root(d));
	assert_null(ynode_to_json(ydoc_root(d), true));
	assert_null(ynode_to_json(ydoc_root(d), false));
	ydoc_free(d);
}

/* --- JSON conversion ----------------------------------------------------------- */

static void typed_plain_0644_is_decimal_644_not_octal(void **state)
{
	(void)state;
	assert_typed("m: 0644", "{\"m\":644}");
	assert_typed("m: 007", "{\"m\":7}");
}

static void typed_quoted_numbers_stay_strings(void **state)
{
	(void)state;
	assert_typed("m: \"0644\"\nn: '42'\nb: 'true'\nz: \"~\"\nnl: 'null'\n",
		     "{\"b\":\"true\",\"m\":\"0644\",\"n\":\"42\",\"nl\":\"null\",\"z\":\"~\"}");
}

static void typed_yes_no_on_off_are_strings_in_yaml_1_2(void **state)
{
	(void)state;
	assert_typed("[yes, no, on, off, y, n, Yes, NO]",
		     "[\"yes\",\"no\",\"on\",\"off\",\"y\",\"n\",\"Yes\",\"NO\"]");
}

static void typed_core_schema_booleans(void **state)
{
	(void)state;
	assert_typed("[true, True, TRUE, false, False, FALSE, tRUE]",
		     "[true,true,true,false,false,false,\"tRUE\"]");
}

static void typed_tilde_null_and_empty_are_json_null(void **state)
{
	(void)state;
	assert_typed(
		"a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: nULL\ng: ''\n",
		"{\"a\":null,\"b\":null,\"c\":null,\"d\":null,\"e\":null,\"f\":\"nULL\",\"g\":\"\"}");
}

static void typed_integers_in_decimal_octal_and_hex(void **state)
{
	(void)state;
	assert_typed("[0, -17, 9223372036854775807, 0o755, 0x1F, 0o8, 0x, 1_000]",
		     "[0,-17,9223372036854775807,493,31,\"0o8\",\"0x\",\"1_000\"]");
}

static void typed_plus_sign_integer_is_an_integer(void **state)
{
	(void)state;
	/* YAML 1.2 core schema: int is [-+]?[0-9]+, so "+5" is the integer 5
	 * (a real would render as "5.0" in JSON and "1.23457e+06" for big
	 * values in templates) */
	assert_typed("[+5, +1234567, -5]", "[5,1234567,-5]");
}

static void typed_floats_and_what_only_looks_like_one(void **state)
{
	(void)state;
	assert_typed("[1.5, -0.25, 1e3, .5, 2.]", "[1.5,-0.25,1000.0,0.5,2.0]");
	assert_typed("[1.2.3, 1e, ., -, 1-2, 10.0.0.1, .inf, .nan]",
		     "[\"1.2.3\",\"1e\",\".\",\"-\",\"1-2\",\"10.0.0.1\",\".inf\",\".nan\"]");
}

static void typed_other_plain_text_is_a_string(void **state)
{
	(void)state;
	assert_typed("[hello world, /etc/motd, 12abc, 0644x]",
		     "[\"hello world\",\"/etc/motd\",\"12abc\",\"0644x\"]");
}

static void untyped_keeps_every_scalar_as_text_except_null(void **state)
{
	(void)state;
	assert_untyped("a: 0644\nb: true\nc: 1.5\nd: yes\ne: ~\nf:\ng: null\nh: '~'\n",
		       "{\"a\":\"0644\",\"b\":\"true\",\"c\":\"1.5\",\"d\":\"yes\",\"e\":null,"
		       "\"f\":null,\"g\":null,\"h\":\"~\"}");
}

static void conversion_keeps_nested_structure(void **state)
{
	(void)state;
	assert_typed("a: {b: [1, {c: x}], d: {}}\ne: []\n",
		     "{\"a\":{\"b\":[1,{\"c\":\"x\"}],\"d\":{}},\"e\":[]}");
}

static void scalar_with_embedded_nul_converts_whole(void **state)
{
	struct ydoc *d = load("\"a\\0b\"");
	json_t *j;
	(void)state;

	j = ynode_to_json(ydoc_root(d), true);
	assert_true(json_is_string(j));
	assert_int_equal(json_string_length(j), 3);
	assert_memory_equal(json_string_value(j), "a\0b", 3);
	json_decref(j);
	ydoc_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(block_map_and_seq_positions_are_one_based),
		cmocka_unit_test(flow_collection_positions_are_their_opening_brackets),
		cmocka_unit_test(lines_are_counted_from_the_start_of_the_input),
		cmocka_unit_test(scalar_text_length_and_quoting_are_kept),
		cmocka_unit_test(empty_input_gives_a_null_root),
		cmocka_unit_test(document_name_is_kept_as_given),
		cmocka_unit_test(input_is_read_only_up_to_len),
		cmocka_unit_test(map_get_finds_values_by_key_and_only_in_maps),
		cmocka_unit_test(kind_names_read_well_in_messages),
		cmocka_unit_test(duplicate_key_names_both_positions),
		cmocka_unit_test(duplicate_key_is_found_in_nested_maps),
		cmocka_unit_test(quoting_does_not_make_a_key_different),
		cmocka_unit_test(same_key_in_different_maps_is_not_a_duplicate),
		cmocka_unit_test(second_document_is_an_error_at_its_marker),
		cmocka_unit_test(document_end_marker_alone_is_fine),
		cmocka_unit_test(malformed_yaml_gives_name_line_col_and_the_problem),
		cmocka_unit_test(unknown_alias_is_an_error_at_the_alias),
		cmocka_unit_test(nesting_of_64_levels_loads_and_65_is_an_error),
		cmocka_unit_test(load_file_reads_and_names_the_path),
		cmocka_unit_test(load_file_streams_large_files),
		cmocka_unit_test(alias_shares_the_anchored_node),
		cmocka_unit_test(redefined_anchor_refers_to_the_latest_definition),
		cmocka_unit_test(alias_bomb_conversion_is_refused_quickly),
		cmocka_unit_test(cyclic_alias_in_a_list_converts_to_null_instead_of_hanging),
		cmocka_unit_test(cyclic_alias_in_a_map_converts_to_null_instead_of_hanging),
		cmocka_unit_test(typed_plain_0644_is_decimal_644_not_octal),
		cmocka_unit_test(typed_quoted_numbers_stay_strings),
		cmocka_unit_test(typed_yes_no_on_off_are_strings_in_yaml_1_2),
		cmocka_unit_test(typed_core_schema_booleans),
		cmocka_unit_test(typed_tilde_null_and_empty_are_json_null),
		cmocka_unit_test(typed_integers_in_decimal_octal_and_hex),
		cmocka_unit_test(typed_plus_sign_integer_is_an_integer),
		cmocka_unit_test(typed_floats_and_what_only_looks_like_one),
		cmocka_unit_test(typed_other_plain_text_is_a_string),
		cmocka_unit_test(untyped_keeps_every_scalar_as_text_except_null),
		cmocka_unit_test(conversion_keeps_nested_structure),
		cmocka_unit_test(scalar_with_embedded_nul_converts_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
