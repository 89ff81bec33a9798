/*
 * cli.h - the tend command line: one file per subcommand, a table in main.c.
 */
#ifndef TEND_CLI_H
#define TEND_CLI_H

struct cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

int cmd_plan(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_facts(int argc, char **argv);
/* Remote commands: they talk to tend-server's API (api_client.h). */
int cmd_config(int argc, char **argv);
int cmd_nodes(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_audit(int argc, char **argv);

#endif
