/*
 * cmd_explain.c - `tend explain NODE [TYPE:NAME]`: where each value of a
 * node's catalog comes from, as compiled by tend-server.
 *
 * A node's catalog is its tags' documents merged in order, then its own
 * document; a later document overrides the values it sets.  For every
 * variable and every resource attribute this prints the value in effect
 * and the chain of FILE:LINE that set it, oldest first, the last one the
 * one that won:
 *
 *     mode = "0640"    tags/base.yaml:4 -> tags/production.yaml:7 -> nodes/web01.yaml:3
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_client.h"
#include "cli.h"
#include "util/log.h"

#define VALUE_SHOWN 60	 /* bytes of a value shown before "..." */
#define VALUE_ALIGNED 24 /* values up to this long line up their origins */

/* value_text - v as compact JSON, cut after VALUE_SHOWN bytes (at a character). */
static void value_text(struct buf *b, const json_t *v)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	size_t n = s ? strlen(s) : 0;

	buf_reset(b);
	if (!s) {
		buf_puts(b, "?");
		return;
	}
	if (n > VALUE_SHOWN) {
		n = VALUE_SHOWN;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		buf_add(b, s, n);
		buf_puts(b, "...");
	} else {
		buf_add(b, s, n);
	}
	free(s);
}

/* chain - the origins of a [{"value","origin"},...] list: "a:1 -> b:2". */
static void chain(struct buf *b, const json_t *list)
{
	size_t i;
	json_t *e;

	buf_reset(b);
	json_array_foreach(list, i, e)
		buf_printf(b, "%s%s", i ? " -> " : "", json_str(json_object_get(e, "origin"), "?"));
}

/*
 * print_values - "KEY = VALUE  CHAIN" for each KEY of obj (a map of
 * origin lists), keys aligned, and the chains of short values too,
 * indented by indent spaces.
 */
static void print_values(const json_t *obj, int indent)
{
	struct buf val = BUF_INIT, ch = BUF_INIT;
	const char *k;
	json_t *list;
	int kw = 0, vw = 0;

	json_object_foreach((json_t *)obj, k, list) {
		value_text(&val, json_object_get(json_array_get(list, json_array_size(list) - 1),
						 "value"));
		if ((int)strlen(k) > kw)
			kw = (int)strlen(k);
		if ((int)val.len > vw && val.len <= VALUE_ALIGNED)
			vw = (int)val.len;
	}
	json_object_foreach((json_t *)obj, k, list) {
		value_text(&val, json_object_get(json_array_get(list, json_array_size(list) - 1),
						 "value"));
		chain(&ch, list);
		printf("%*s%-*s = %-*s  %s\n", indent, "", kw, k, vw, buf_str(&val), buf_str(&ch));
	}
	buf_free(&val);
	buf_free(&ch);
}

/* join - array of strings as "a, b" ("-" when empty). */
static void join(struct buf *b, const json_t *a)
{
	size_t i;
	json_t *v;

	buf_reset(b);
	json_array_foreach(a, i, v)
		buf_printf(b, "%s%s", i ? ", " : "", json_str(v, "?"));
	if (!b->len)
		buf_puts(b, "-");
}

static void print_explain(const json_t *v)
{
	const json_t *vars = json_object_get(v, "vars"), *res = json_object_get(v, "resources");
	struct buf s = BUF_INIT;
	size_t i;
	json_t *r;

	join(&s, json_object_get(v, "tags"));
	printf("node %s at revision %.12s, tags: %s\n", json_str(json_object_get(v, "node"), "?"),
	       json_str(json_object_get(v, "revision"), "?"), buf_str(&s));
	join(&s, json_object_get(v, "documents"));
	printf("documents: %s\n", buf_str(&s));
	if (json_object_size(vars)) {
		printf("\nvars:\n");
		print_values(vars, 2);
	}
	json_array_foreach(res, i, r) {
		const json_t *o = json_object_get(r, "origin");

		if (json_is_array(o)) {
			join(&s, o);
			printf("\n%s  (%s)\n", json_str(json_object_get(r, "id"), "?"),
			       buf_str(&s));
		} else {
			printf("\n%s  (%s)\n", json_str(json_object_get(r, "id"), "?"),
			       json_str(o, "?"));
		}
		print_values(json_object_get(r, "attrs"), 2);
	}
	buf_free(&s);
}

static void usage(FILE *f)
{
	fputs("usage: tend explain [--revision REV] [OPTIONS] NODE [TYPE:NAME]\n\n"
	      "Show where each value of NODE's catalog comes from, as tend-server compiles it:\n"
	      "every variable and resource attribute (of the one resource TYPE:NAME) with the\n"
	      "value in effect and the FILE:LINE of each document that set it, oldest first:\n"
	      "  mode = \"0640\"  tags/base.yaml:4 -> tags/production.yaml:7 -> nodes/web01.yaml:3\n\n"
	      "options:\n"
	      "  -r, --revision REV  explain the configuration at REV (default: the current one)\n",
	      f);
	fputs(API_COMMON_HELP "\nexit status: 0 done, 1 error or refused, 2 usage\n", f);
}

int cmd_explain(int argc, char **argv)
{
	static const struct option opts[] = {
		API_COMMON_OPTIONS,
		{ "revision", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct api_opts o = { .json = false };
	const char *revision = NULL;
	struct buf url = BUF_INIT, what = BUF_INIT;
	struct api_client c;
	struct tend_err err;
	json_t *v = NULL;
	int ch, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "hr:", opts, NULL)) != -1) {
		if (api_opts_take(&o, ch, optarg))
			continue;
		if (ch != 'r') {
			usage(stderr);
			return API_EXIT_USAGE;
		}
		revision = optarg;
	}
	if (o.help) {
		usage(stdout);
		return API_EXIT_OK;
	}
	if (argc - optind < 1 || argc - optind > 2) {
		log_warnx("explain: %s", argc - optind < 1 ? "which node?" : "too many arguments");
		usage(stderr);
		return API_EXIT_USAGE;
	}
	if (api_client_init(&c, &o, &err) < 0) {
		log_warnx("%s", err.msg);
		return API_EXIT_ERROR;
	}
	buf_puts(&url, "/v1/nodes/");
	api_escape(&url, argv[optind], false);
	buf_puts(&url, "/explain");
	api_query_add(&url, "id", argc - optind > 1 ? argv[optind + 1] : NULL);
	api_query_add(&url, "revision", revision);
	buf_printf(&what, "explain %s%s%s", argv[optind], argc - optind > 1 ? " " : "",
		   argc - optind > 1 ? argv[optind + 1] : "");
	r = api_get_json(&c, buf_str(&url), buf_str(&what), &v);
	if (r == 0) {
		if (c.json)
			api_print_json(v);
		else
			print_explain(v);
	}
	json_decref(v);
	buf_free(&url);
	buf_free(&what);
	api_client_free(&c);
	return r;
}
