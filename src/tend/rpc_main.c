/*
 * rpc_main.c - tend-rpc's entry point: the commands of `tend` that talk
 * to nodes over NATS (ping, run, rpc, up).  `tend` execs this program
 * for them (argv[1] is the command), so that tend itself never loads
 * the NATS client and its TLS stack.
 */
#include <stdio.h>
#include <string.h>

#include "rpc.h"
#include "util/log.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "ping", rpc_cmd_ping, "ask which nodes answer, and how fast" },
	{ "run", rpc_cmd_run, "run a command on many nodes at once" },
	{ "rpc", rpc_cmd_rpc, "send an action (ping, facts, plan, apply, run, service, check)" },
	{ "up", rpc_cmd_up, "plan on every node, then apply in batches with a failure budget" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	fputs("usage: tend COMMAND [OPTIONS] [ARGS]   (tend-rpc: the commands over NATS)\n\n"
	      "commands:\n",
	      f);
	for (size_t i = 0; commands[i].name; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fputs("\n'tend COMMAND --help' shows a command's options; man tend(1) says more.\n", f);
}

int main(int argc, char **argv)
{
	char prog[32];

	log_init("tend", LOG_NORMAL);
	if (argc < 2) {
		usage(stderr);
		return RPC_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return RPC_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("tend-rpc %s\n", TEND_VERSION);
		return RPC_EXIT_OK;
	}
	for (size_t i = 0; commands[i].name; i++) {
		if (strcmp(commands[i].name, argv[1]))
			continue;
		snprintf(prog, sizeof(prog), "tend %s", commands[i].name);
		log_init(prog, LOG_NORMAL);
		argv[1] = prog; /* getopt's messages name the command as the user typed it */
		return commands[i].run(argc - 1, argv + 1);
	}
	log_warnx("unknown command '%s'", argv[1]);
	usage(stderr);
	return RPC_EXIT_USAGE;
}
