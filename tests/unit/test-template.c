/*
 * test-template.c - unit tests for the template language (model/template.h).
 *
 * Each test renders a template against a context written as JSON and
 * checks the exact output, or the exact "name:line:col: message" on
 * failure.  Contexts are written with single quotes for readability
 * ({'a': 1}); ctx() turns them into double quotes before parsing, so a
 * JSON string here cannot itself hold an apostrophe.
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

#include "model/template.h"

/* ctx - parse a single-quoted JSON document (NULL: an empty map). */
static json_t *ctx(const char *relaxed)
{
	json_error_t jerr;
	json_t *j;
	char *s, *c;

	if (!relaxed)
		return json_object();
	s = strdup(relaxed);
	assert_non_null(s);
	for (c = s; *c; c++)
		if (*c == '\'')
			*c = '"';
	j = json_loads(s, 0, &jerr);
	if (!j)
		fail_msg("bad test context %s: %s", relaxed, jerr.text);
	free(s);
	return j;
}

static int render_in(const char *tmpl, size_t len, const char *json, struct buf *out,
		     struct tend_err *err)
{
	json_t *c = ctx(json);
	int r;

	err_clear(err);
	r = tmpl_render(tmpl, len, "t.tmpl", c, out, err);
	json_decref(c);
	return r;
}

static void check_renders(const char *tmpl, const char *json, const char *want, const char *file,
			  int line)
{
	struct buf out = BUF_INIT;
	struct tend_err err;
	int r = render_in(tmpl, strlen(tmpl), json, &out, &err);

	if (r != 0)
		print_error("unexpected error %d: %s\n", r, err.msg);
	_assert_int_equal((uintmax_t)r, 0, file, line);
	_assert_string_equal(buf_str(&out), want, file, line);
	buf_free(&out);
}

static void check_fails(const char *tmpl, const char *json, const char *want, const char *file,
			int line)
{
	struct buf out = BUF_INIT;
	struct tend_err err;
	int r = render_in(tmpl, strlen(tmpl), json, &out, &err);

	_assert_int_equal((uintmax_t)r, (uintmax_t)-EINVAL, file, line);
	_assert_string_equal(err.msg, want, file, line);
	buf_free(&out);
}

#define assert_renders(tmpl, json, want) check_renders(tmpl, json, want, __FILE__, __LINE__)
#define assert_fails(tmpl, json, msg) check_fails(tmpl, json, msg, __FILE__, __LINE__)

/* --- text and scalars --------------------------------------------------- */

static void text_without_tags_passes_through_unchanged(void **state)
{
	(void)state;
	assert_renders("", NULL, "");
	assert_renders("plain { text } with }} and a lone {\n", NULL,
		       "plain { text } with }} and a lone {\n");
	assert_renders("a {{ x }} b", "{'x': ''}", "a  b");
}

static void render_appends_to_what_the_buffer_already_holds(void **state)
{
	struct buf out = BUF_INIT;
	struct tend_err err;
	(void)state;

	assert_int_equal(buf_puts(&out, "head:"), 0);
	assert_int_equal(render_in("{{ x }};", 8, "{'x': 'v'}", &out, &err), 0);
	assert_int_equal(render_in("tail", 4, NULL, &out, &err), 0);
	assert_string_equal(buf_str(&out), "head:v;tail");
	buf_free(&out);
}

static void source_is_read_only_up_to_len_without_a_terminator(void **state)
{
	static const char text[] = "a {{ x }} b {{ y }}";
	struct buf out = BUF_INIT;
	struct tend_err err;
	char *exact;
	(void)state;

	/* Exactly sized heap copies: ASan reports any read past len. */
	exact = malloc(sizeof(text) - 1);
	assert_non_null(exact);
	memcpy(exact, text, sizeof(text) - 1);
	assert_int_equal(render_in(exact, sizeof(text) - 1, "{'x': 1, 'y': 2}", &out, &err), 0);
	assert_string_equal(buf_str(&out), "a 1 b 2");
	buf_reset(&out);
	/* Cut inside the last tag: the rest of the source must not be seen. */
	assert_int_equal(render_in(exact, sizeof(text) - 2, "{'x': 1, 'y': 2}", &out, &err),
			 -EINVAL);
	assert_string_equal(err.msg, "t.tmpl:1:13: unterminated tag");
	buf_reset(&out);
	assert_int_equal(render_in(exact, 4, NULL, &out, &err), -EINVAL);
	assert_string_equal(err.msg, "t.tmpl:1:3: unterminated tag");
	buf_reset(&out);
	assert_int_equal(render_in(exact, 3, NULL, &out, &err), 0);
	assert_string_equal(buf_str(&out), "a {");
	free(exact);
	buf_free(&out);
}

static void string_renders_raw_without_escaping(void **state)
{
	(void)state;
	assert_renders("<{{ s }}>", "{'s': 'a & <b> \\\\ \\n'}", "<a & <b> \\ \n>");
}

static void integers_render_in_decimal(void **state)
{
	(void)state;
	assert_renders("{{ a }} {{ b }} {{ c }} {{ d }}",
		       "{'a': 0, 'b': 8080, 'c': -42, 'd': 9223372036854775807}",
		       "0 8080 -42 9223372036854775807");
}

static void reals_render_with_percent_g(void **state)
{
	(void)state;
	assert_renders("{{ a }} {{ b }} {{ c }} {{ d }}",
		       "{'a': 1.5, 'b': 0.1, 'c': 1e20, 'd': -2.0}", "1.5 0.1 1e+20 -2");
}

static void booleans_render_as_true_and_false(void **state)
{
	(void)state;
	assert_renders("{{ t }}/{{ f }}", "{'t': true, 'f': false}", "true/false");
}

static void null_renders_as_empty_text(void **state)
{
	(void)state;
	assert_renders("[{{ n }}]", "{'n': null}", "[]");
}

static void blanks_inside_a_tag_are_optional(void **state)
{
	(void)state;
	assert_renders("{{x}}{{ x }}{{\tx\n}}{{ x|upper }}", "{'x': 'a'}", "aaaA");
}

static void utf8_names_and_values_pass_through(void **state)
{
	(void)state;
	assert_renders("{{ hôte }}", "{'hôte': 'café ✓'}", "café ✓");
}

/* --- names --------------------------------------------------------------- */

static void dotted_name_walks_nested_maps(void **state)
{
	(void)state;
	assert_renders("{{ facts.hostname }}.{{ facts.net.domain }}",
		       "{'facts': {'hostname': 'web01', 'net': {'domain': 'example.com'}}}",
		       "web01.example.com");
}

static void digit_segment_indexes_a_list(void **state)
{
	(void)state;
	assert_renders("{{ ips.0 }} {{ ips.1 }} {{ users.1.name }}",
		       "{'ips': ['10.0.0.1', '10.0.0.2'], 'users': [{'name': 'a'}, {'name': 'b'}]}",
		       "10.0.0.1 10.0.0.2 b");
	assert_fails("{{ ips.2 }}", "{'ips': ['10.0.0.1']}", "t.tmpl:1:1: missing variable 'ips.2'");
}

static void dot_at_top_level_is_the_whole_context(void **state)
{
	(void)state;
	assert_fails("{{ . }}", "{'a': 1}", "t.tmpl:1:1: cannot render a map as text");
}

/* --- sections ------------------------------------------------------------ */

static void section_repeats_once_per_scalar_with_dot_as_item(void **state)
{
	(void)state;
	assert_renders("{{#ports}}[{{ . }}]{{/ports}}", "{'ports': [80, 443, 'x']}",
		       "[80][443][x]");
}

static void section_over_maps_resolves_names_in_each_item(void **state)
{
	(void)state;
	assert_renders("{{#users}}{{ name }}:{{ uid }};{{/users}}",
		       "{'users': [{'name': 'alice', 'uid': 1000}, {'name': 'bob', 'uid': 1001}]}",
		       "alice:1000;bob:1001;");
}

static void section_over_a_map_renders_once_with_it_as_context(void **state)
{
	(void)state;
	assert_renders("{{#db}}{{ host }}:{{ port }}{{/db}}",
		       "{'db': {'host': 'pg', 'port': 5432}}", "pg:5432");
}

static void section_over_truthy_scalar_renders_once_with_dot_as_value(void **state)
{
	(void)state;
	assert_renders("{{#t}}yes{{/t}}|{{#s}}<{{ . }}>{{/s}}|{{#n}}{{ . }}{{/n}}|{{#r}}r{{/r}}",
		       "{'t': true, 's': 'on', 'n': 3, 'r': 0.5}", "yes|<on>|3|r");
}

static void section_is_skipped_for_every_falsy_value(void **state)
{
	(void)state;
	assert_renders("{{#a}}A{{/a}}{{#b}}B{{/b}}{{#c}}C{{/c}}{{#d}}D{{/d}}"
		       "{{#e}}E{{/e}}{{#f}}F{{/f}}{{#g}}G{{/g}}.",
		       "{'a': false, 'b': null, 'c': '', 'd': 0, 'e': 0.0, 'f': [], 'g': {}}", ".");
}

static void skipped_section_does_not_look_up_its_names(void **state)
{
	(void)state;
	assert_renders("{{#off}}{{ nowhere }}{{/off}}ok", "{'off': false}", "ok");
	assert_renders("{{#none}}{{ nowhere }}{{/none}}ok", "{'none': []}", "ok");
}

static void inverted_section_renders_only_when_falsy(void **state)
{
	(void)state;
	assert_renders("{{^a}}A{{/a}}{{^b}}B{{/b}}{{^c}}C{{/c}}{{^d}}D{{/d}}{{^e}}E{{/e}}",
		       "{'a': [], 'b': [1], 'c': false, 'd': 'x', 'e': {}}", "ACE");
}

static void inverted_section_pushes_no_context(void **state)
{
	(void)state;
	assert_renders("{{^list}}{{ name }}{{/list}}", "{'list': [], 'name': 'root'}", "root");
}

static void nested_sections_resolve_names_outward(void **state)
{
	(void)state;
	assert_renders("{{#vhosts}}{{#aliases}}{{ . }}.{{ name }}.{{ domain }} {{/aliases}}{{/vhosts}}",
		       "{'domain': 'org', 'vhosts': [{'name': 'a', 'aliases': ['w', 'x']},"
		       " {'name': 'b', 'aliases': ['y']}]}",
		       "w.a.org x.a.org y.b.org ");
}

static void inner_context_shadows_outer_names(void **state)
{
	(void)state;
	assert_renders("{{ name }}{{#item}}{{ name }}{{/item}}{{ name }}",
		       "{'name': 'outer', 'item': {'name': 'inner'}}", "outerinnerouter");
}

static void null_in_inner_context_shadows_outer_value(void **state)
{
	(void)state;
	assert_renders("[{{#item}}{{ name }}{{/item}}]",
		       "{'name': 'outer', 'item': {'name': null}}", "[]");
}

static void dotted_name_does_not_fall_back_outward_after_first_segment(void **state)
{
	(void)state;
	/* "b" is found in the item, so "b.c" is not looked for in the root. */
	assert_fails("{{#a}}{{ b.c }}{{/a}}", "{'a': {'b': {}}, 'b': {'c': 1}}",
		     "t.tmpl:1:7: missing variable 'b.c'");
}

static void same_name_can_nest_inside_itself(void **state)
{
	(void)state;
	assert_renders("{{#x}}{{#x}}{{ y }}{{/x}}{{/x}}", "{'x': {'x': {'y': 'deep'}}}", "deep");
}

static void sixty_four_nested_sections_render(void **state)
{
	char tmpl[64 * 12 + 16], *p = tmpl;
	int k;
	(void)state;

	for (k = 0; k < 64; k++)
		p += snprintf(p, (size_t)(tmpl + sizeof(tmpl) - p), "{{#t}}");
	p += snprintf(p, (size_t)(tmpl + sizeof(tmpl) - p), "deep");
	for (k = 0; k < 64; k++)
		p += snprintf(p, (size_t)(tmpl + sizeof(tmpl) - p), "{{/t}}");
	assert_renders(tmpl, "{'t': true}", "deep");
}

static void long_list_renders_every_item(void **state)
{
	json_t *c = json_object(), *list = json_array();
	struct buf out = BUF_INIT;
	struct tend_err err;
	const char *tmpl = "{{#l}}{{ . }},{{/l}}";
	int k;
	(void)state;

	for (k = 0; k < 10000; k++)
		json_array_append_new(list, json_integer(k));
	json_object_set_new(c, "l", list);
	assert_int_equal(tmpl_render(tmpl, strlen(tmpl), "t.tmpl", c, &out, &err), 0);
	assert_int_equal(out.len, 48890);
	assert_memory_equal(out.data, "0,1,2,", 6);
	assert_string_equal(out.data + out.len - 5, "9999,");
	json_decref(c);
	buf_free(&out);
}

/* --- filters and literals ------------------------------------------------ */

static void default_filter_replaces_missing_or_null(void **state)
{
	(void)state;
	assert_renders("{{ gone | default(\"80\") }} {{ n | default(\"none\") }}", "{'n': null}",
		       "80 none");
}

static void default_filter_keeps_present_values_even_falsy_ones(void **state)
{
	(void)state;
	assert_renders("[{{ e | default(\"x\") }}][{{ f | default(\"x\") }}][{{ z | default(\"x\") }}]",
		       "{'e': '', 'f': false, 'z': 0}", "[][false][0]");
}

static void default_later_in_chain_still_rescues_missing(void **state)
{
	(void)state;
	assert_renders("{{ gone | upper | trim | default(\"n/a\") }}", NULL, "n/a");
}

static void upper_and_lower_change_ascii_case_only(void **state)
{
	(void)state;
	assert_renders("{{ s | upper }} {{ s | lower }} {{ b | upper }}",
		       "{'s': 'MiXed-ÉtÉ', 'b': true}", "MIXED-ÉTÉ mixed-ÉtÉ TRUE");
}

static void trim_strips_surrounding_whitespace(void **state)
{
	(void)state;
	assert_renders("[{{ s | trim }}][{{ blank | trim }}][{{ n | trim }}]",
		       "{'s': ' \\t in  side \\r\\n', 'blank': '   ', 'n': 7}", "[in  side][][7]");
}

static void join_turns_a_list_of_scalars_into_text(void **state)
{
	(void)state;
	assert_renders("{{ l | join(\", \") }}|{{ e | join(\",\") }}|{{ one | join(\"-\") }}",
		       "{'l': ['a', 1, 2.5, true, null], 'e': [], 'one': ['x']}",
		       "a, 1, 2.5, true, ||x");
}

static void filters_apply_left_to_right(void **state)
{
	(void)state;
	assert_renders("{{ l | join(\" \") | upper }}", "{'l': ['a', 'b']}", "A B");
	assert_renders("[{{ s | upper | trim }}]", "{'s': '  x  '}", "[X]");
	assert_renders("{{ gone | default(\"  dflt \") | trim | upper }}", NULL, "DFLT");
	assert_renders("{{ s | lower | upper }}{{ s | upper | lower }}", "{'s': 'Ab'}", "ABab");
}

static void filter_argument_accepts_escaped_quote_and_backslash(void **state)
{
	(void)state;
	assert_renders("{{ l | join(\" \\\" \\\\ \") }}", "{'l': [1, 2]}", "1 \" \\ 2");
	assert_renders("{{ l | join( \"}}\" ) }}", "{'l': [1, 2]}", "1}}2");
}

static void string_literal_renders_its_text(void **state)
{
	(void)state;
	assert_renders("{{ \"{{\" }} x {{ \"}}\" }}", NULL, "{{ x }}");
	assert_renders("{{ \"say \\\"hi\\\" \\\\o/\" }}", NULL, "say \"hi\" \\o/");
	assert_renders("[{{ \"\" }}]", NULL, "[]");
}

static void string_literal_goes_through_filters(void **state)
{
	(void)state;
	assert_renders("{{ \" Lit \" | trim | upper }}", NULL, "LIT");
}

static void section_tag_takes_filters_so_default_can_make_a_name_optional(void **state)
{
	(void)state;
	assert_renders("{{#ipv6 | default(\"\")}}v6{{/ipv6}}{{^ipv6 | default(\"\")}}v4{{/ipv6}}",
		       NULL, "v4");
	assert_renders("{{#mode | default(\"auto\")}}[{{ . }}]{{/mode}}", NULL, "[auto]");
	assert_renders("{{#mode | default(\"auto\")}}[{{ . }}]{{/mode}}", "{'mode': 'manual'}",
		       "[manual]");
}

/* --- comments and standalone lines --------------------------------------- */

static void comment_is_dropped(void **state)
{
	(void)state;
	assert_renders("a{{! a comment with \"quotes\" and { braces } }}b", NULL, "ab");
	assert_renders("a{{!\n multi\n line\n}}b", NULL, "ab");
}

static void standalone_section_lines_are_removed_with_their_newline(void **state)
{
	(void)state;
	assert_renders("servers:\n"
		       "{{#servers}}\n"
		       "  - {{ . }}\n"
		       "{{/servers}}\n"
		       "end\n",
		       "{'servers': ['a', 'b']}", "servers:\n  - a\n  - b\nend\n");
}

static void indented_standalone_tags_take_their_indent_too(void **state)
{
	(void)state;
	assert_renders("begin\n"
		       "  {{#on}}\t\n"
		       "    x\n"
		       "\t{{/on}}  \n"
		       "  {{^on}}\n"
		       "    y\n"
		       "  {{/on}}\n"
		       "  {{! note }}\n"
		       "end\n",
		       "{'on': true}", "begin\n    x\nend\n");
}

static void standalone_tag_eats_crlf_line_ending(void **state)
{
	(void)state;
	assert_renders("a\r\n{{#t}}\r\nb\r\n{{/t}}\r\nc\r\n", "{'t': true}", "a\r\nb\r\nc\r\n");
}

static void standalone_tag_on_last_line_without_newline_is_removed(void **state)
{
	(void)state;
	assert_renders("{{#t}}\nx\n  {{/t}}", "{'t': true}", "x\n");
	assert_renders("x\n{{! end }}", NULL, "x\n");
}

static void standalone_multiline_comment_is_removed(void **state)
{
	(void)state;
	assert_renders("a\n  {{! one\n two }}\nb\n", NULL, "a\nb\n");
}

static void variable_alone_on_its_line_keeps_the_line(void **state)
{
	(void)state;
	assert_renders("a\n  {{ v }}\nb\n", "{'v': ''}", "a\n  \nb\n");
}

static void tag_sharing_its_line_with_text_or_tags_is_not_standalone(void **state)
{
	(void)state;
	assert_renders("x {{#t}}\ny\n{{/t}} z\n", "{'t': true}", "x \ny\n z\n");
	assert_renders("{{#t}}{{/t}}\n", "{'t': true}", "\n");
	assert_renders("{{#t}}y{{/t}}\n", "{'t': true}", "y\n");
	assert_renders("{{ v }}{{! c }}\nz", "{'v': 1}", "1\nz");
}

/* --- errors -------------------------------------------------------------- */

static void missing_variable_names_file_line_and_column(void **state)
{
	(void)state;
	assert_fails("server {\n"
		     "  name web;\n"
		     "  listen {{ http_port }};\n"
		     "}\n",
		     "{'other': 1}", "t.tmpl:3:10: missing variable 'http_port'");
}

static void missing_dotted_variable_names_the_whole_path(void **state)
{
	(void)state;
	assert_fails("{{ facts.hostnme }}", "{'facts': {'hostname': 'x'}}",
		     "t.tmpl:1:1: missing variable 'facts.hostnme'");
	assert_fails("{{ facts.hostname.x }}", "{'facts': {'hostname': 'x'}}",
		     "t.tmpl:1:1: missing variable 'facts.hostname.x'");
}

static void missing_variable_inside_a_list_section_is_reported_at_its_tag(void **state)
{
	(void)state;
	assert_fails("{{#users}}\n  {{ name }} {{ shell }}\n{{/users}}\n",
		     "{'users': [{'name': 'a', 'shell': 'sh'}, {'name': 'b'}]}",
		     "t.tmpl:2:14: missing variable 'shell'");
}

static void missing_section_name_is_an_error(void **state)
{
	(void)state;
	assert_fails("x\n{{#usres}}{{/usres}}", "{'users': []}", "t.tmpl:2:1: missing variable 'usres'");
	assert_fails("{{^nope}}{{/nope}}", NULL, "t.tmpl:1:1: missing variable 'nope'");
}

static void unclosed_section_is_reported_at_its_opening_tag(void **state)
{
	(void)state;
	assert_fails("a\n  {{#users}}\n{{ x }}\n", "{'users': [], 'x': 1}",
		     "t.tmpl:2:3: unclosed section 'users'");
}

static void closing_tag_must_match_the_open_section(void **state)
{
	(void)state;
	assert_fails("{{#y}}\n{{#x}}{{/y}}", "{'x': 1, 'y': 1}",
		     "t.tmpl:2:7: unexpected closing tag 'y' (open section is 'x')");
}

static void closing_tag_without_open_section_is_an_error(void **state)
{
	(void)state;
	assert_fails("a {{/x}}", NULL, "t.tmpl:1:3: unexpected closing tag 'x' (no section is open)");
}

static void unknown_filter_lists_the_known_ones(void **state)
{
	(void)state;
	assert_fails("{{ x | uper }}", "{'x': 'a'}",
		     "t.tmpl:1:1: unknown filter 'uper' (known: default, upper, lower, join, trim)");
}

static void list_or_map_rendered_as_text_is_an_error(void **state)
{
	(void)state;
	assert_fails("{{ l }}", "{'l': [1]}", "t.tmpl:1:1: cannot render a list as text (use join)");
	assert_fails("{{ l | upper }}", "{'l': []}",
		     "t.tmpl:1:1: cannot render a list as text (use join)");
	assert_fails("{{ m }}", "{'m': {'a': 1}}", "t.tmpl:1:1: cannot render a map as text");
}

static void join_needs_a_list_of_scalars(void **state)
{
	(void)state;
	assert_fails("{{ s | join(\",\") }}", "{'s': 'x'}",
		     "t.tmpl:1:1: filter 'join' needs a list, not a string");
	assert_fails("{{ m | join(\",\") }}", "{'m': {}}",
		     "t.tmpl:1:1: filter 'join' needs a list, not a map");
	assert_fails("{{ l | join(\",\") }}", "{'l': [1, [2]]}",
		     "t.tmpl:1:1: cannot join a list that holds a list");
	assert_fails("{{ l | join(\",\") }}", "{'l': [{}]}",
		     "t.tmpl:1:1: cannot join a list that holds a map");
}

static void unterminated_tag_is_an_error(void **state)
{
	(void)state;
	assert_fails("ok\nno {{ x", "{'x': 1}", "t.tmpl:2:4: unterminated tag");
	assert_fails("{{! never closed }", NULL, "t.tmpl:1:1: unterminated tag");
	assert_fails("{{", NULL, "t.tmpl:1:1: unterminated tag");
}

static void unterminated_string_literal_is_an_error(void **state)
{
	(void)state;
	assert_fails("{{ \"abc }}", NULL, "t.tmpl:1:1: unterminated string literal");
	assert_fails("{{ x | default(\"abc) }}", NULL, "t.tmpl:1:1: unterminated string literal");
}

static void unknown_escape_in_string_literal_is_an_error(void **state)
{
	(void)state;
	assert_fails("{{ \"a\\nb\" }}", NULL,
		     "t.tmpl:1:1: bad escape '\\n' in string literal (only \\\" and \\\\ are allowed)");
}

static void malformed_tags_are_errors(void **state)
{
	(void)state;
	assert_fails("{{ }}", NULL, "t.tmpl:1:1: empty tag");
	assert_fails("{{#}}", NULL, "t.tmpl:1:1: expected a name after '#'");
	assert_fails("{{/ }}", NULL, "t.tmpl:1:1: expected a name after '/'");
	assert_fails("{{{x}}}", NULL, "t.tmpl:1:1: expected a name or a string literal, found '{'");
	assert_fails("{{ a..b }}", NULL, "t.tmpl:1:1: bad name 'a..b'");
	assert_fails("{{ a. }}", NULL, "t.tmpl:1:1: bad name 'a.'");
	assert_fails("{{ x y }}", "{'x': 1}",
		     "t.tmpl:1:1: unexpected 'y' in tag (expected '|' or '}}')");
	assert_fails("{{#x}}{{/x | upper}}", "{'x': 1}",
		     "t.tmpl:1:7: unexpected '|' in tag (expected '}}')");
	assert_fails("{{ x | }}", "{'x': 1}", "t.tmpl:1:1: expected a filter name after '|'");
}

static void filter_arguments_are_checked(void **state)
{
	(void)state;
	assert_fails("{{ l | join }}", "{'l': []}", "t.tmpl:1:1: filter 'join' needs one string argument");
	assert_fails("{{ l | join() }}", "{'l': []}",
		     "t.tmpl:1:1: filter 'join' needs one string argument");
	assert_fails("{{ l | join(x) }}", "{'l': []}",
		     "t.tmpl:1:1: filter 'join' needs one string argument");
	assert_fails("{{ s | upper(\"x\") }}", "{'s': ''}", "t.tmpl:1:1: filter 'upper' takes no argument");
	assert_fails("{{ s | default(\"a\", \"b\") }}", "{'s': ''}",
		     "t.tmpl:1:1: expected ')' after the argument of 'default'");
}

static void nesting_deeper_than_sixty_four_is_an_error(void **state)
{
	char tmpl[65 * 12 + 16], *p = tmpl;
	int k;
	(void)state;

	for (k = 0; k < 65; k++)
		p += snprintf(p, (size_t)(tmpl + sizeof(tmpl) - p), "{{#t}}");
	for (k = 0; k < 65; k++)
		p += snprintf(p, (size_t)(tmpl + sizeof(tmpl) - p), "{{/t}}");
	assert_fails(tmpl, "{'t': true}", "t.tmpl:1:385: sections nested deeper than 64");
}

static void syntax_error_in_a_skipped_section_is_still_reported(void **state)
{
	(void)state;
	assert_fails("{{#off}}\n{{ x | nope }}\n{{/off}}", "{'off': false}",
		     "t.tmpl:2:1: unknown filter 'nope' (known: default, upper, lower, join, trim)");
}

static void positions_count_lines_inside_tags_and_bytes_in_columns(void **state)
{
	(void)state;
	assert_fails("{{!\n\n}}\tab{{ gone }}", NULL, "t.tmpl:3:6: missing variable 'gone'");
	assert_fails("é {{ gone }}", NULL, "t.tmpl:1:4: missing variable 'gone'");
}

static void output_past_the_buffer_limit_fails_with_e2big(void **state)
{
	struct buf out;
	struct tend_err err;
	(void)state;

	buf_init(&out, 8);
	assert_int_equal(render_in("{{ s }}", 7, "{'s': '123456789'}", &out, &err), -E2BIG);
	assert_string_equal(err.msg, "t.tmpl: rendered output would exceed 8 bytes");
	buf_free(&out);
	buf_init(&out, 8);
	assert_int_equal(render_in("{{ s | upper }}", 15, "{'s': '123456789'}", &out, &err), -E2BIG);
	buf_free(&out);
}

/* --- tmpl_has_tags ------------------------------------------------------- */

static void has_tags_finds_double_braces_within_len_only(void **state)
{
	(void)state;
	assert_true(tmpl_has_tags("a {{ b }}", 9));
	assert_true(tmpl_has_tags("{{", 2));
	assert_false(tmpl_has_tags("a { b } }}", 10));
	assert_false(tmpl_has_tags("a{{", 2));
	assert_false(tmpl_has_tags("", 0));
	assert_false(tmpl_has_tags(NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_without_tags_passes_through_unchanged),
		cmocka_unit_test(render_appends_to_what_the_buffer_already_holds),
		cmocka_unit_test(source_is_read_only_up_to_len_without_a_terminator),
		cmocka_unit_test(string_renders_raw_without_escaping),
		cmocka_unit_test(integers_render_in_decimal),
		cmocka_unit_test(reals_render_with_percent_g),
		cmocka_unit_test(booleans_render_as_true_and_false),
		cmocka_unit_test(null_renders_as_empty_text),
		cmocka_unit_test(blanks_inside_a_tag_are_optional),
		cmocka_unit_test(utf8_names_and_values_pass_through),
		cmocka_unit_test(dotted_name_walks_nested_maps),
		cmocka_unit_test(digit_segment_indexes_a_list),
		cmocka_unit_test(dot_at_top_level_is_the_whole_context),
		cmocka_unit_test(section_repeats_once_per_scalar_with_dot_as_item),
		cmocka_unit_test(section_over_maps_resolves_names_in_each_item),
		cmocka_unit_test(section_over_a_map_renders_once_with_it_as_context),
		cmocka_unit_test(section_over_truthy_scalar_renders_once_with_dot_as_value),
		cmocka_unit_test(section_is_skipped_for_every_falsy_value),
		cmocka_unit_test(skipped_section_does_not_look_up_its_names),
		cmocka_unit_test(inverted_section_renders_only_when_falsy),
		cmocka_unit_test(inverted_section_pushes_no_context),
		cmocka_unit_test(nested_sections_resolve_names_outward),
		cmocka_unit_test(inner_context_shadows_outer_names),
		cmocka_unit_test(null_in_inner_context_shadows_outer_value),
		cmocka_unit_test(dotted_name_does_not_fall_back_outward_after_first_segment),
		cmocka_unit_test(same_name_can_nest_inside_itself),
		cmocka_unit_test(sixty_four_nested_sections_render),
		cmocka_unit_test(long_list_renders_every_item),
		cmocka_unit_test(default_filter_replaces_missing_or_null),
		cmocka_unit_test(default_filter_keeps_present_values_even_falsy_ones),
		cmocka_unit_test(default_later_in_chain_still_rescues_missing),
		cmocka_unit_test(upper_and_lower_change_ascii_case_only),
		cmocka_unit_test(trim_strips_surrounding_whitespace),
		cmocka_unit_test(join_turns_a_list_of_scalars_into_text),
		cmocka_unit_test(filters_apply_left_to_right),
		cmocka_unit_test(filter_argument_accepts_escaped_quote_and_backslash),
		cmocka_unit_test(string_literal_renders_its_text),
		cmocka_unit_test(string_literal_goes_through_filters),
		cmocka_unit_test(section_tag_takes_filters_so_default_can_make_a_name_optional),
		cmocka_unit_test(comment_is_dropped),
		cmocka_unit_test(standalone_section_lines_are_removed_with_their_newline),
		cmocka_unit_test(indented_standalone_tags_take_their_indent_too),
		cmocka_unit_test(standalone_tag_eats_crlf_line_ending),
		cmocka_unit_test(standalone_tag_on_last_line_without_newline_is_removed),
		cmocka_unit_test(standalone_multiline_comment_is_removed),
		cmocka_unit_test(variable_alone_on_its_line_keeps_the_line),
		cmocka_unit_test(tag_sharing_its_line_with_text_or_tags_is_not_standalone),
		cmocka_unit_test(missing_variable_names_file_line_and_column),
		cmocka_unit_test(missing_dotted_variable_names_the_whole_path),
		cmocka_unit_test(missing_variable_inside_a_list_section_is_reported_at_its_tag),
		cmocka_unit_test(missing_section_name_is_an_error),
		cmocka_unit_test(unclosed_section_is_reported_at_its_opening_tag),
		cmocka_unit_test(closing_tag_must_match_the_open_section),
		cmocka_unit_test(closing_tag_without_open_section_is_an_error),
		cmocka_unit_test(unknown_filter_lists_the_known_ones),
		cmocka_unit_test(list_or_map_rendered_as_text_is_an_error),
		cmocka_unit_test(join_needs_a_list_of_scalars),
		cmocka_unit_test(unterminated_tag_is_an_error),
		cmocka_unit_test(unterminated_string_literal_is_an_error),
		cmocka_unit_test(unknown_escape_in_string_literal_is_an_error),
		cmocka_unit_test(malformed_tags_are_errors),
		cmocka_unit_test(filter_arguments_are_checked),
		cmocka_unit_test(nesting_deeper_than_sixty_four_is_an_error),
		cmocka_unit_test(syntax_error_in_a_skipped_section_is_still_reported),
		cmocka_unit_test(positions_count_lines_inside_tags_and_bytes_in_columns),
		cmocka_unit_test(output_past_the_buffer_limit_fails_with_e2big),
		cmocka_unit_test(has_tags_finds_double_braces_within_len_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
