/*
 * main.c - tend's entry point: find the subcommand in the table and run it.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util/log.h"

static const struct cli_cmd commands[] = {
	{ "plan", cmd_plan, "show what apply would change; change nothing" },
	{ "apply", cmd_apply, "converge the system to the manifests" },
	{ "facts", cmd_facts, "show what tend knows about this system" },
	{ "config", cmd_config, "read and change the configuration on tend-server" },
	{ "nodes", cmd_nodes, "list the nodes tend-server knows, show one, set its tags" },
	{ "explain", cmd_explain, "show where each value of a node's catalog comes from" },
	{ "events", cmd_events, "show the lifecycle events nodes sent (--follow: as they come)" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	fputs("usage: tend COMMAND [OPTIONS] [ARGS]\n\ncommands:\n", f);
	for (const struct cli_cmd *c = commands; c->name; c++)
		fprintf(f, "  %-8s %s\n", c->name, c->summary);
	fputs("\n'tend COMMAND --help' shows a command's options; man tend(1) and tend.yaml(5) say more.\n", f);
}

int main(int argc, char **argv)
{
	const char *name;

	log_init("tend", LOG_NORMAL);
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(name, "--version") || !strcmp(name, "version")) {
		printf("tend %s\n", TEND_VERSION);
		return 0;
	}
	if (!strcmp(name, "help") && argc > 2) {
		char help[] = "--help";
		char *args[] = { argv[2], help, NULL };

		for (const struct cli_cmd *c = commands; c->name; c++)
			if (!strcmp(c->name, argv[2]))
				return c->run(2, args);
		name = argv[2];
	}
	for (const struct cli_cmd *c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c->run(argc - 1, argv + 1);
	log_warnx("unknown command '%s'", name);
	usage(stderr);
	return 1;
}
