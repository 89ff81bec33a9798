/*
 * main.c - tend's entry point: find the subcommand in the table and run it.
 *
 * The commands that talk to nodes over NATS (ping, run, rpc, up) are
 * another program, tend-rpc: tend runs on every node for `tend apply`,
 * and must not load the NATS client and its TLS stack for that.  tend
 * execs tend-rpc for them, with the same arguments.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/log.h"
#include "util/strutil.h"

#ifndef TEND_LIBEXECDIR
#define TEND_LIBEXECDIR "/usr/local/libexec/tend"
#endif

static const struct cli_cmd commands[] = {
	{ "plan", cmd_plan, "show what apply would change; change nothing" },
	{ "apply", cmd_apply, "converge the system to the manifests" },
	{ "facts", cmd_facts, "show what tend knows about this system" },
	{ "config", cmd_config, "read and change the configuration on tend-server" },
	{ "nodes", cmd_nodes, "list the nodes tend-server knows, show one, set its tags" },
	{ "explain", cmd_explain, "show where each value of a node's catalog comes from" },
	{ "events", cmd_events, "show the lifecycle events nodes sent (--follow: as they come)" },
	{ "audit", cmd_audit, "show who asked nodes for what, allowed or refused (--follow)" },
	{ NULL, NULL, NULL },
};

/* The commands tend-rpc runs (rpc_main.c). */
static const struct {
	const char *name, *summary;
} rpc_commands[] = {
	{ "ping", "ask which nodes answer, and how fast" },
	{ "run", "run a command on many nodes at once" },
	{ "rpc", "send an action (ping, facts, plan, apply, run, service, check)" },
	{ "up", "plan on every node, then apply in batches with a failure budget" },
	{ NULL, NULL },
};

static void usage(FILE *f)
{
	fputs("usage: tend COMMAND [OPTIONS] [ARGS]\n\ncommands:\n", f);
	for (const struct cli_cmd *c = commands; c->name; c++)
		fprintf(f, "  %-8s %s\n", c->name, c->summary);
	fputs("\nover NATS, on many nodes at once:\n", f);
	for (size_t i = 0; rpc_commands[i].name; i++)
		fprintf(f, "  %-8s %s\n", rpc_commands[i].name, rpc_commands[i].summary);
	fputs("\n'tend COMMAND --help' shows a command's options; man tend(1) and tend.yaml(5) say more.\n", f);
}

static bool is_rpc_command(const char *name)
{
	for (size_t i = 0; rpc_commands[i].name; i++)
		if (!strcmp(rpc_commands[i].name, name))
			return true;
	return false;
}

/* self_dir - the directory of this executable (/proc/self/exe's target) into out. */
static bool self_dir(char *out, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", out, len - 1);
	char *slash;

	if (n <= 0)
		return false;
	out[n] = '\0';
	slash = strrchr(out, '/');
	if (!slash)
		return false;
	*slash = '\0';
	return true;
}

/*
 * exec_rpc - run tend-rpc with args (args[0] is "tend-rpc"): the one next
 * to this executable, else TEND_LIBEXECDIR's.  Returns only on failure.
 */
static int exec_rpc(const char *name, char **args)
{
	char dir[PATH_MAX], tried[2][PATH_MAX + 16];
	int n = 0;

	if (self_dir(dir, sizeof(dir) - 16))
		snprintf(tried[n++], sizeof(tried[0]), "%s/tend-rpc", dir);
	snprintf(tried[n++], sizeof(tried[0]), "%s/tend-rpc", TEND_LIBEXECDIR);
	for (int i = 0; i < n; i++) {
		execv(tried[i], args);
		if (errno != ENOENT && errno != ENOTDIR) {
			log_warnx("%s: cannot run %s: %s", name, tried[i], strerror(errno));
			return 1;
		}
	}
	log_warnx("%s: cannot find tend-rpc, which runs the commands over NATS (looked for "
		  "%s%s%s); is it installed?",
		  name, tried[0], n > 1 ? " and " : "", n > 1 ? tried[1] : "");
	return 1;
}

/* run_rpc - tend-rpc NAME ARGS..., from tend's argv (argv[0] is NAME). */
static int run_rpc(int argc, char **argv)
{
	char **args = xcalloc((size_t)argc + 2, sizeof(*args));
	char prog[] = "tend-rpc";
	int r;

	args[0] = prog;
	for (int i = 0; i < argc; i++)
		args[i + 1] = argv[i];
	fflush(NULL);
	r = exec_rpc(argv[0], args);
	free(args);
	return r;
}

int main(int argc, char **argv)
{
	const char *name;

	log_init("tend", LOG_NORMAL);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || (!strcmp(name, "help") && argc == 2)) {
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
		if (is_rpc_command(argv[2]))
			return run_rpc(2, args);
		name = argv[2];
	}
	if (is_rpc_command(name))
		return run_rpc(argc - 1, argv + 1);
	for (const struct cli_cmd *c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c->run(argc - 1, argv + 1);
	log_warnx("unknown command '%s'", name);
	usage(stderr);
	return 2;
}
