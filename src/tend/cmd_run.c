/*
 * cmd_run.c - `tend plan` and `tend apply`: load manifests, gather facts,
 * run the engine, print what happened.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "engine/report.h"
#include "engine/run.h"
#include "facts/facts.h"
#include "model/catalog.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/strutil.h"

struct run_args {
	bool plan;
	const char *root;
	bool json, verbose, quiet, no_color, no_wait, detailed;
	double timeout;
	char **vars;
	size_t nvars;
	char **files;
	size_t nfiles;
};

static void usage(FILE *f, bool plan)
{
	fprintf(f,
		"usage: tend %s [OPTIONS] FILE...\n\n"
		"%s\n\n"
		"options:\n"
		"  --root DIR             manage DIR as the root filesystem (default /)\n"
		"  --var KEY=VALUE        set a template variable (repeatable)\n"
		"  --json                 print the full report as JSON\n"
		"  -v, --verbose          more detail%s\n"
		"  -q, --quiet            only failures and the summary\n"
		"  --no-color             never colour the output\n"
		"  --timeout DURATION     default timeout of exec commands (300s; 90, 5m, 1h)\n"
		"%s"
		"  -h, --help             this help\n"
		"\nexit status: %s\n",
		plan ? "plan" : "apply",
		plan ? "Show what `tend apply` would change. Nothing is written."
		     : "Converge the system to the manifests, in dependency order.",
		plan ? " (list resources that are already right)" : " (diffs of changed files)",
		plan ? "" : "  --no-wait              fail at once if another run holds the lock\n"
			    "  --detailed-exitcodes   0 no changes, 2 changes, 4 failures, 6 both\n",
		plan ? "0 nothing to change, 2 changes pending, 1 error, bad input or bad usage"
		     : "0 success, 1 failure, bad input or bad usage");
}

static int parse_args(int argc, char **argv, struct run_args *a)
{
	enum { O_ROOT = 256, O_JSON, O_VAR, O_NOCOLOR, O_NOWAIT, O_DETAILED, O_TIMEOUT, O_HELP };
	static const struct option opts[] = {
		{ "root", required_argument, NULL, O_ROOT },
		{ "json", no_argument, NULL, O_JSON },
		{ "var", required_argument, NULL, O_VAR },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-color", no_argument, NULL, O_NOCOLOR },
		{ "no-wait", no_argument, NULL, O_NOWAIT },
		{ "detailed-exitcodes", no_argument, NULL, O_DETAILED },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "vqh", opts, NULL)) != -1) {
		switch (c) {
		case O_ROOT:
			a->root = optarg;
			break;
		case O_JSON:
			a->json = true;
			break;
		case O_VAR:
			if (!strchr(optarg, '=')) {
				log_warnx("--var %s: expected KEY=VALUE", optarg);
				return -EINVAL;
			}
			a->vars = xrealloc(a->vars, (a->nvars + 1) * sizeof(*a->vars));
			a->vars[a->nvars++] = optarg;
			break;
		case 'v':
			a->verbose = true;
			break;
		case 'q':
			a->quiet = true;
			break;
		case O_NOCOLOR:
			a->no_color = true;
			break;
		case O_NOWAIT:
			a->no_wait = true;
			break;
		case O_DETAILED:
			a->detailed = true;
			break;
		case O_TIMEOUT:
			if (str_to_duration(optarg, &a->timeout) < 0 || a->timeout <= 0) {
				log_warnx("--timeout %s: expected a duration like 300 or 5m", optarg);
				return -EINVAL;
			}
			break;
		case 'h':
		case O_HELP:
			usage(stdout, a->plan);
			return 1;
		default:
			usage(stderr, a->plan);
			return -EINVAL;
		}
	}
	if (a->plan && (a->no_wait || a->detailed)) {
		log_warnx("--no-wait and --detailed-exitcodes are options of apply");
		return -EINVAL;
	}
	a->files = argv + optind;
	a->nfiles = (size_t)(argc - optind);
	if (!a->nfiles) {
		log_warnx("%s: no manifest given", a->plan ? "plan" : "apply");
		usage(stderr, a->plan);
		return -EINVAL;
	}
	return 0;
}

static void on_wait(void *arg)
{
	log_warnx("waiting for another run on %s", (const char *)arg);
}

struct live {
	struct report_opts ro;
	bool json;
};

static void on_result(struct run *run, struct resource *r, void *arg)
{
	struct live *l = arg;

	if (!l->json)
		report_resource_text(stdout, run, r, &l->ro);
}

static int input_error(const struct run_args *a, const struct tend_err *err)
{
	if (a->json) {
		json_t *j = json_pack("{s:s}", "error", err->msg);

		json_dumpf(j, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(j);
	}
	log_warnx("%s", err->msg);
	return 1;
}

static int exit_code(const struct run_args *a, const struct run_summary *s)
{
	if (a->plan)
		return s->failed ? 1 : (s->changed || s->unknown) ? 2 : 0;
	if (a->detailed)
		return (s->changed ? 2 : 0) | (s->failed ? 4 : 0);
	return s->failed ? 1 : 0;
}

static int run_cmd(struct run_args *a)
{
	struct catalog cat;
	struct tend_err err = { "" };
	struct run run;
	struct run_opts ro = { .root = a->root, .plan = a->plan, .default_timeout = a->timeout };
	struct live live = { { false, a->verbose, a->quiet }, a->json };
	struct fsroot froot;
	json_t *facts = NULL;
	int lock_fd = -1, ret = 1;

	live.ro.color = !a->no_color && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
	catalog_init(&cat);
	memset(&run, 0, sizeof(run));
	for (size_t i = 0; i < a->nfiles; i++)
		if (catalog_add_file(&cat, a->files[i], &err) < 0)
			goto input_err;
	for (size_t i = 0; i < a->nvars; i++) {
		char *eq = strchr(a->vars[i], '=');

		*eq = '\0';
		if (catalog_set_var(&cat, a->vars[i], eq + 1, &err) < 0)
			goto input_err;
	}
	if (!a->plan) {
		lock_fd = root_lock(a->root, !a->no_wait, on_wait, (void *)a->root, &err);
		if (lock_fd < 0)
			goto input_err;
	}
	if (fsroot_open(&froot, a->root, &err) < 0)
		goto input_err;
	facts = facts_collect(&froot);
	fsroot_close(&froot);
	if (run_prepare(&run, &cat, &ro, facts, &err) < 0)
		goto input_err;
	run.on_result = on_result;
	run.forget_changes = !a->json;
	run.arg = &live;
	if (a->plan)
		run_plan(&run);
	else
		run_apply(&run);
	run_finish(&run);
	if (a->json) {
		json_t *j = report_json(&run, a->plan ? "plan" : "apply", a->root);

		json_dumpf(j, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(j);
	} else {
		report_summary_text(stdout, &run, &live.ro);
	}
	ret = exit_code(a, &run.sum);
	goto out;
input_err:
	ret = input_error(a, &err);
out:
	fflush(stdout);
	run_free(&run);
	catalog_free(&cat);
	json_decref(facts);
	if (lock_fd >= 0)
		close(lock_fd);
	return ret;
}

static int cmd_common(int argc, char **argv, bool plan)
{
	struct run_args a = { .plan = plan, .root = "/" };
	int r = parse_args(argc, argv, &a);

	if (r == 0)
		r = run_cmd(&a);
	else
		r = r > 0 ? 0 : 1;
	free(a.vars);
	return r;
}

int cmd_plan(int argc, char **argv)
{
	return cmd_common(argc, argv, true);
}

int cmd_apply(int argc, char **argv)
{
	return cmd_common(argc, argv, false);
}
