/*
 * cmd_facts.c - `tend facts [--json] [--root DIR] [NAME]`: print the facts
 * templates see as {{ facts.NAME }}.
 *
 * Text output is one "dotted.name = value" line per scalar, names sorted,
 * lists as compact JSON; a NAME that is a single scalar prints just its
 * value, for $(tend facts os.id) in scripts.  Keys may themselves contain
 * dots (a mount point "/srv/a.b", an interface "eth0.100"), so NAME is
 * matched against the keys that exist, longest first, not split blindly.
 * Custom facts that failed are warned about on stderr; the run still
 * exits 0.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "facts/facts.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strutil.h"

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* sorted_keys - v's keys in byte order (a malloc'd array of borrowed keys). */
static const char **sorted_keys(json_t *v, size_t *ret_n)
{
	size_t n = 0;
	const char **keys = xcalloc(json_object_size(v) + 1, sizeof(*keys));
	const char *k;
	json_t *c;

	json_object_foreach(v, k, c)
		keys[n++] = k;
	qsort(keys, n, sizeof(*keys), key_cmp);
	*ret_n = n;
	return keys;
}

static void print_scalar(FILE *out, json_t *v)
{
	char *s;

	if (json_is_string(v)) {
		fputs(json_string_value(v), out);
		return;
	}
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	fputs(s ? s : "?", out);
	free(s);
}

/* print_flat - "os.id = debian" lines for a human, prefix being v's name. */
static void print_flat(FILE *out, const char *prefix, json_t *v)
{
	const char **keys;
	size_t n;

	if (!json_is_object(v) || (json_object_size(v) == 0 && *prefix)) {
		fprintf(out, "%s = ", prefix);
		print_scalar(out, v);
		fputc('\n', out);
		return;
	}
	keys = sorted_keys(v, &n);
	for (size_t i = 0; i < n; i++) {
		struct buf name;

		buf_init(&name, 0);
		buf_printf(&name, "%s%s%s", prefix, *prefix ? "." : "", keys[i]);
		print_flat(out, buf_str(&name), json_object_get(v, keys[i]));
		buf_free(&name);
	}
	free(keys);
}

/*
 * lookup - the value at dotted name (len bytes) beneath v: at each level
 * the longest key that matches a prefix ending at a dot (or the end)
 * wins, backtracking to shorter ones; list items by index.  near gets
 * the deepest object reached, for a suggestion.
 */
struct near {
	json_t *obj;	/* deepest object reached */
	const char *at; /* where its keys start in the name */
};

static json_t *lookup(json_t *v, const char *name, size_t len, struct near *near)
{
	if (len == 0)
		return v;
	if (json_is_object(v)) {
		near->obj = v;
		near->at = name;
	}
	for (size_t n = len; n > 0; n--) {
		char key[1024];
		json_t *c = NULL, *r;
		long long idx;

		if (n < len && name[n] != '.')
			continue;
		if (n >= sizeof(key))
			continue;
		memcpy(key, name, n);
		key[n] = '\0';
		if (json_is_object(v))
			c = json_object_get(v, key);
		else if (json_is_array(v) && str_to_ll(key, 10, 0, 1LL << 40, &idx) == 0)
			c = json_array_get(v, (size_t)idx);
		if (!c)
			continue;
		r = lookup(c, name + n + (n < len), len - n - (n < len), near);
		if (r)
			return r;
	}
	return NULL;
}

/* no_such_fact - the error, with the closest existing name at the level
 * where the lookup stopped ("os.idd" -> "os.id"). */
static void no_such_fact(const char *name, const struct near *near)
{
	const char **keys;
	const char *best = NULL;
	size_t n, seg;

	if (json_is_object(near->obj)) {
		keys = sorted_keys(near->obj, &n);
		seg = strcspn(near->at, ".");
		if (near->at[seg] == '\0')
			best = closest_name(near->at, keys);
		if (best)
			log_warnx("no fact named '%s' (did you mean '%.*s%s'?)", name,
				  (int)(near->at - name), name, best);
		free(keys);
	}
	if (!best)
		log_warnx("no fact named '%s'", name);
}

static void warn_custom_errors(json_t *facts)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(facts, "custom_errors"), i, e)
		log_warnx("custom fact %s", json_string_value(e));
}

int cmd_facts(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = "/", *name = NULL;
	bool json = false;
	struct tend_err err;
	struct fsroot fr;
	struct near near = { NULL, NULL };
	json_t *facts, *v;
	int c, ret = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'j') {
			json = true;
		} else if (c == 'r') {
			root = optarg;
		} else if (c == 'h') {
			puts("usage: tend facts [--json] [--root DIR] [NAME]\n\n"
			     "Show the facts templates see as {{ facts.NAME }}; NAME may be dotted (os.id).\n"
			     "A single value prints alone; a group prints one 'name = value' line each.\n\n"
			     "  --json      print JSON\n"
			     "  --root DIR  take the OS, host name, packages and custom facts from DIR\n"
			     "  -h, --help  this help\n\n"
			     "exit status: 0 done, 1 NAME is not a fact, the root cannot be opened, or\n"
			     "bad usage");
			return 0;
		} else {
			return 1;
		}
	}
	if (optind + 1 < argc) {
		log_warnx("facts: one NAME at most (got '%s' and '%s')", argv[optind],
			  argv[optind + 1]);
		return 1;
	}
	name = optind < argc ? argv[optind] : NULL;
	if (fsroot_open(&fr, root, &err) < 0) {
		log_warnx("%s", err.msg);
		return 1;
	}
	facts = facts_collect(&fr);
	fsroot_close(&fr);
	if (!facts) {
		log_warnx("facts: out of memory");
		return 1;
	}
	warn_custom_errors(facts);
	v = name ? lookup(facts, name, strlen(name), &near) : facts;
	if (!v) {
		no_such_fact(name, &near);
		ret = 1;
	} else if (json) {
		json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_SORT_KEYS);
		fputc('\n', stdout);
	} else if (json_is_object(v)) {
		print_flat(stdout, name ? name : "", v);
	} else {
		print_scalar(stdout, v);
		fputc('\n', stdout);
	}
	json_decref(facts);
	return ret;
}
