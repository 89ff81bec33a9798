/*
 * cmd_facts.c - `tend facts [--json] [--root DIR] [NAME]`.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "facts/facts.h"
#include "util/log.h"

/* print_flat - "os.id = debian" lines for a human. */
static void print_flat(const char *prefix, json_t *v)
{
	const char *k;
	json_t *c;
	char key[512];

	if (json_is_object(v)) {
		json_object_foreach(v, k, c) {
			snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", k);
			print_flat(key, c);
		}
		return;
	}
	if (json_is_string(v))
		printf("%s = %s\n", prefix, json_string_value(v));
	else {
		char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

		printf("%s = %s\n", prefix, s ? s : "?");
		free(s);
	}
}

static json_t *lookup(json_t *facts, const char *name)
{
	char part[256];
	json_t *v = facts;

	while (v && *name) {
		size_t n = strcspn(name, ".");

		if (n >= sizeof(part))
			return NULL;
		memcpy(part, name, n);
		part[n] = '\0';
		v = json_is_object(v) ? json_object_get(v, part) : NULL;
		name += n + (name[n] == '.');
	}
	return v;
}

int cmd_facts(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = "/";
	bool json = false;
	struct tend_err err;
	struct fsroot fr;
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
			     "Show the facts templates see as {{ facts.NAME }}; NAME may be dotted (os.id).");
			return 0;
		} else {
			return 1;
		}
	}
	if (fsroot_open(&fr, root, &err) < 0) {
		log_warnx("%s", err.msg);
		return 1;
	}
	facts = facts_collect(&fr);
	fsroot_close(&fr);
	v = optind < argc ? lookup(facts, argv[optind]) : facts;
	if (!v) {
		log_warnx("no fact named '%s'", argv[optind]);
		ret = 1;
	} else if (json) {
		json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
		fputc('\n', stdout);
	} else if (json_is_object(v)) {
		print_flat(optind < argc ? argv[optind] : "", v);
	} else {
		print_flat(argv[optind], v);
	}
	json_decref(facts);
	return ret;
}
