/*
 * cmd_config.c - `tend config ls|cat|put|rm|log|diff|revert`: read and
 * change the configuration repository through tend-server's API.
 *
 * Every change is a commit made by the server, and the server takes it
 * only if it was based on the revision that is current (optimistic
 * concurrency).  So put and rm first read the file they change, and send
 * the revision they read (or --revision REV, the one the user edited);
 * someone else's commit in between is a clear "fetch and retry", never a
 * silent overwrite.  A change that would make any node's catalog invalid
 * is refused by the server with its errors, printed here one per line as
 * FILE:LINE:COL: message.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_client.h"
#include "cli.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/strutil.h"

enum {
	OPT_MESSAGE = 1 << 0,
	OPT_REVISION = 1 << 1,
	OPT_LIMIT = 1 << 2,
	OPT_PATH = 1 << 3,
};

struct cfg_args {
	struct api_opts o;
	unsigned given; /* OPT_* seen on the command line */
	const char *message, *revision, *path;
	long long limit;
	char **pos; /* positional arguments after the subcommand */
	int npos;
};

struct cfg_sub {
	const char *name;
	int (*run)(struct api_client *c, const struct cfg_args *a);
	int min, max;  /* positional arguments */
	unsigned opts; /* OPT_* it takes */
	const char *usage;
	const char *help;
};

/* ---- ls, cat --------------------------------------------------------------- */

static int cfg_ls(struct api_client *c, const struct cfg_args *a)
{
	struct buf path = BUF_INIT;
	struct cli_table t;
	json_t *v = NULL, *f;
	size_t i;
	int r;

	buf_puts(&path, "/v1/files");
	api_query_add(&path, "prefix", a->npos ? a->pos[0] : NULL);
	api_query_add(&path, "revision", a->revision);
	r = api_get_json(c, buf_str(&path), "ls", &v);
	buf_free(&path);
	if (r)
		return r;
	if (c->json) {
		api_print_json(v);
		json_decref(v);
		return 0;
	}
	cli_table_init(&t, 3);
	t.right = 1u << 1;
	cli_table_add(&t, "PATH");
	cli_table_add(&t, "SIZE");
	cli_table_add(&t, "BLOB");
	json_array_foreach(json_object_get(v, "files"), i, f) {
		char size[32], blob[13];

		snprintf(size, sizeof(size), "%lld",
			 (long long)json_integer_value(json_object_get(f, "size")));
		snprintf(blob, sizeof(blob), "%s", json_str(json_object_get(f, "blob"), "-"));
		cli_table_add(&t, json_str(json_object_get(f, "path"), "?"));
		cli_table_add(&t, size);
		cli_table_add(&t, blob);
	}
	if (i > 0)
		cli_table_print(&t, stdout);
	else
		log_warnx("no files%s%s", a->npos ? " under " : "", a->npos ? a->pos[0] : "");
	cli_table_free(&t);
	json_decref(v);
	return 0;
}

/* file_url - "/v1/files/PATH" with the path escaped (slashes kept). */
static void file_url(struct buf *b, const char *path)
{
	buf_puts(b, "/v1/files/");
	api_escape(b, path, true);
}

static int cfg_cat(struct api_client *c, const struct cfg_args *a)
{
	struct buf path = BUF_INIT, what = BUF_INIT;
	struct api_result res;
	struct tend_err err;
	int r = API_EXIT_ERROR;

	file_url(&path, a->pos[0]);
	if (!c->json)
		api_query_add(&path, "raw", "1");
	api_query_add(&path, "revision", a->revision);
	buf_printf(&what, "cat %s", a->pos[0]);
	if (api_call(c, "GET", buf_str(&path), NULL, &res, &err) < 0) {
		log_warnx("%s", err.msg);
		goto out;
	}
	if (res.status < 200 || res.status > 299) {
		api_report_error(c, &res, buf_str(&what));
	} else if (c->json && res.json) {
		api_print_json(res.json);
		r = 0;
	} else if (c->json) {
		log_warnx("%s: the server's answer is not JSON", buf_str(&what));
	} else if (fwrite(res.body.data ? res.body.data : "", 1, res.body.len, stdout) !=
			   res.body.len ||
		   fflush(stdout) != 0) {
		log_warn("%s: cannot write to standard output", buf_str(&what));
	} else {
		r = 0;
	}
	api_result_free(&res);
out:
	buf_free(&path);
	buf_free(&what);
	return r;
}

/* ---- put, rm ------------------------------------------------------------------ */

/* read_input - the bytes of file (or standard input for "-"), at most API_FILE_MAX. */
static int read_input(const char *file, struct buf *out)
{
	int fd = strcmp(file, "-") ? open(file, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	char chunk[65536];
	ssize_t n;
	int r = 0;

	if (fd < 0) {
		log_warn("cannot open %s", file);
		return -errno;
	}
	out->max = API_FILE_MAX;
	while (r == 0) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0) {
				r = -errno;
				log_warn("cannot read %s", file);
			}
			break;
		}
		r = buf_add(out, chunk, (size_t)n);
		if (r == -E2BIG)
			log_warnx("%s is larger than %zu MiB, the most the server takes", file,
				  API_FILE_MAX >> 20);
	}
	if (fd != STDIN_FILENO)
		close(fd);
	return r;
}


/* content_field - set "content" (text) or "content_base64" (anything else) in body. */
static int content_field(json_t *body, const struct buf *data)
{
	unsigned char *b64;
	int n;

	if (utf8_valid(buf_str(data), data->len)) {
		json_object_set_new(body, "content", json_stringn(buf_str(data), data->len));
		return 0;
	}
	b64 = xcalloc(4 * ((data->len + 2) / 3) + 1, 1);
	n = base64_encode(b64, (const unsigned char *)buf_str(data), (int)data->len);
	if (n < 0) {
		log_warnx("cannot encode a binary file: %s",
			  hash_error() ? hash_error() : "no base64");
		free(b64);
		return n;
	}
	json_object_set_new(body, "content_base64", json_stringn((char *)b64, (size_t)n));
	free(b64);
	return 0;
}

/*
 * based_on - the revision a change of path is based on: --revision, else
 * the revision the file is read at now (the head, when it does not exist
 * and may_be_new).  0, or 1 after saying why not, what ("put PATH")
 * naming the change.
 */
static int based_on(struct api_client *c, const struct cfg_args *a, const char *path,
		    const char *what, bool may_be_new, char out[41])
{
	struct buf url = BUF_INIT;
	struct api_result res;
	struct tend_err err;
	const char *rev;
	int r = API_EXIT_ERROR;

	if (a->revision) {
		snprintf(out, 41, "%s", a->revision);
		return 0;
	}
	file_url(&url, path);
	if (api_call(c, "GET", buf_str(&url), NULL, &res, &err) < 0) {
		log_warnx("%s", err.msg);
		buf_free(&url);
		return r;
	}
	rev = res.json ? json_str(json_object_get(res.json, "revision"), NULL) : NULL;
	if (res.status == 404 && may_be_new && res.json)
		r = api_head_revision(c, out);
	else if (res.status < 200 || res.status > 299)
		api_report_error(c, &res, what);
	else if (!rev || strlen(rev) > 40)
		log_warnx("%s: the server's answer names no revision", what);
	else
		r = snprintf(out, 41, "%s", rev) < 0;
	api_result_free(&res);
	buf_free(&url);
	return r;
}

/* put_outcome - what a put did: created, updated, or unchanged (the same revision). */
static const char *put_outcome(long status, const json_t *ans, const char *based_on_rev)
{
	if (status == 201)
		return "created";
	if (!strcmp(json_str(json_object_get(ans, "revision"), ""), based_on_rev))
		return "unchanged";
	return "updated";
}

static int cfg_put(struct api_client *c, const struct cfg_args *a)
{
	const char *path = a->pos[0];
	struct buf data = BUF_INIT, url = BUF_INIT, what = BUF_INIT;
	json_t *body = json_object(), *ans = NULL;
	char rev[41];
	long status = 0;
	int r = API_EXIT_ERROR;

	if (read_input(a->pos[1], &data) < 0 || content_field(body, &data) < 0)
		goto out;
	buf_printf(&what, "put %s", path);
	if (based_on(c, a, path, buf_str(&what), true, rev))
		goto out;
	json_object_set_new(body, "revision", json_string(rev));
	if (a->message)
		json_object_set_new(body, "message", json_string(a->message));
	file_url(&url, path);
	r = api_change(c, "PUT", buf_str(&url), body, buf_str(&what), rev, &ans, &status);
	if (r)
		goto out;
	if (c->json)
		api_print_json(ans);
	else
		printf("%s %s: revision %s\n", put_outcome(status, ans, rev), path,
		       json_str(json_object_get(ans, "revision"), "?"));
out:
	json_decref(ans);
	json_decref(body);
	buf_free(&data);
	buf_free(&url);
	buf_free(&what);
	return r;
}

static int cfg_rm(struct api_client *c, const struct cfg_args *a)
{
	const char *path = a->pos[0];
	struct buf url = BUF_INIT, what = BUF_INIT;
	json_t *body = json_object(), *ans = NULL;
	char rev[41];
	long status;
	int r = API_EXIT_ERROR;

	buf_printf(&what, "rm %s", path);
	if (based_on(c, a, path, buf_str(&what), false, rev))
		goto out;
	json_object_set_new(body, "revision", json_string(rev));
	if (a->message)
		json_object_set_new(body, "message", json_string(a->message));
	file_url(&url, path);
	r = api_change(c, "DELETE", buf_str(&url), body, buf_str(&what), rev, &ans, &status);
	if (r)
		goto out;
	if (c->json)
		api_print_json(ans);
	else
		printf("removed %s: revision %s\n", path,
		       json_str(json_object_get(ans, "revision"), "?"));
out:
	json_decref(ans);
	json_decref(body);
	buf_free(&url);
	buf_free(&what);
	return r;
}

/* ---- log, diff, revert ----------------------------------------------------------- */

/* print_commit - "ID TIME AUTHOR  SUBJECT" then one "  M path" line per file. */
static void print_commit(const json_t *cm)
{
	const char *msg = json_str(json_object_get(cm, "message"), "");
	size_t i, sub = strcspn(msg, "\n");
	json_t *f;

	printf("%.12s %s %s  %.*s\n", json_str(json_object_get(cm, "id"), "?"),
	       json_str(json_object_get(cm, "time"), "?"),
	       json_str(json_object_get(cm, "author"), "?"), (int)sub, msg);
	json_array_foreach(json_object_get(cm, "files"), i, f) {
		const char *st = json_str(json_object_get(f, "status"), "?");

		printf("    %c %s\n",
		       !strcmp(st, "added")   ? 'A' :
		       !strcmp(st, "deleted") ? 'D' :
						'M',
		       json_str(json_object_get(f, "path"), "?"));
	}
}

static int cfg_log(struct api_client *c, const struct cfg_args *a)
{
	struct buf url = BUF_INIT;
	char limit[32];
	json_t *v = NULL, *cm;
	size_t i;
	int r;

	snprintf(limit, sizeof(limit), "%lld", a->limit);
	buf_puts(&url, "/v1/history");
	api_query_add(&url, "path", a->npos ? a->pos[0] : NULL);
	api_query_add(&url, "limit", a->given & OPT_LIMIT ? limit : NULL);
	api_query_add(&url, "revision", a->revision);
	r = api_get_json(c, buf_str(&url), "log", &v);
	buf_free(&url);
	if (r)
		return r;
	if (c->json)
		api_print_json(v);
	else
		json_array_foreach(json_object_get(v, "commits"), i, cm)
			print_commit(cm);
	json_decref(v);
	return 0;
}

static int cfg_diff(struct api_client *c, const struct cfg_args *a)
{
	struct buf url = BUF_INIT;
	const char *patch;
	json_t *v = NULL;
	int r;

	buf_puts(&url, "/v1/diff");
	api_query_add(&url, "from", a->pos[0]);
	api_query_add(&url, "to", a->npos > 1 ? a->pos[1] : NULL);
	api_query_add(&url, "path", a->path);
	r = api_get_json(c, buf_str(&url), "diff", &v);
	buf_free(&url);
	if (r)
		return r;
	patch = json_str(json_object_get(v, "patch"), "");
	if (c->json)
		api_print_json(v);
	else
		fputs(patch, stdout);
	json_decref(v);
	return 0;
}

static int cfg_revert(struct api_client *c, const struct cfg_args *a)
{
	struct buf what = BUF_INIT;
	json_t *body = json_object(), *ans = NULL;
	char rev[41];
	long status;
	int r = API_EXIT_ERROR;

	if (a->revision)
		snprintf(rev, sizeof(rev), "%s", a->revision);
	else if (api_head_revision(c, rev))
		goto out;
	json_object_set_new(body, "commit", json_string(a->pos[0]));
	json_object_set_new(body, "revision", json_string(rev));
	if (a->message)
		json_object_set_new(body, "message", json_string(a->message));
	buf_printf(&what, "revert %s", a->pos[0]);
	r = api_change(c, "POST", "/v1/revert", body, buf_str(&what), rev, &ans, &status);
	if (r)
		goto out;
	if (c->json)
		api_print_json(ans);
	else
		printf("reverted %s: revision %s\n", a->pos[0],
		       json_str(json_object_get(ans, "revision"), "?"));
out:
	json_decref(ans);
	json_decref(body);
	buf_free(&what);
	return r;
}

/* ---- the command ------------------------------------------------------------------ */

static const struct cfg_sub subs[] = {
	{ "ls", cfg_ls, 0, 1, OPT_REVISION, "ls [--revision REV] [DIR]",
	  "List the files of the configuration (beneath DIR): path, size, blob id." },
	{ "cat", cfg_cat, 1, 1, OPT_REVISION, "cat [--revision REV] PATH",
	  "Print a file's bytes as they are (at REV; default the current revision).\n"
	  "--json prints the API's object, with the content and the revision." },
	{ "put", cfg_put, 2, 2, OPT_MESSAGE | OPT_REVISION,
	  "put [-m MESSAGE] [--revision REV] PATH FILE|-",
	  "Store FILE (or standard input) as PATH: one commit, by the token's name.\n"
	  "The change is based on the revision PATH is read at first (the current one\n"
	  "for a new file), or on --revision REV, the one you edited: if someone else\n"
	  "committed since, nothing is stored and you are told to fetch and retry.\n"
	  "A change that would make the configuration invalid is refused with its errors." },
	{ "rm", cfg_rm, 1, 1, OPT_MESSAGE | OPT_REVISION, "rm [-m MESSAGE] [--revision REV] PATH",
	  "Remove PATH: one commit.  Based on a revision as put is." },
	{ "log", cfg_log, 0, 1, OPT_LIMIT | OPT_REVISION, "log [-n N] [--revision REV] [PATH]",
	  "The history, newest first (of PATH only): commit, time, author, message,\n"
	  "and the files each changed (A added, M modified, D deleted)." },
	{ "diff", cfg_diff, 1, 2, OPT_PATH, "diff [--path PATH] FROM [TO]",
	  "The changes from revision FROM to TO (default: the current one), as a patch." },
	{ "revert", cfg_revert, 1, 1, OPT_MESSAGE | OPT_REVISION,
	  "revert [-m MESSAGE] [--revision REV] COMMIT",
	  "Undo COMMIT with a new commit (based on the current revision, or REV).\n"
	  "Refused when later changes conflict with it." },
	{ NULL, NULL, 0, 0, 0, NULL, NULL },
};

static void usage(FILE *f, const struct cfg_sub *sub)
{
	if (sub) {
		fprintf(f, "usage: tend config %s\n\n%s\n\noptions:\n", sub->usage, sub->help);
		if (sub->opts & OPT_MESSAGE)
			fputs("  -m, --message TEXT  the commit message\n", f);
		if (sub->opts & OPT_REVISION)
			fputs(sub->run == cfg_ls || sub->run == cfg_cat || sub->run == cfg_log ?
				      "  -r, --revision REV  read at this revision (default: the current one)\n" :
				      "  -r, --revision REV  the revision the change is based on\n",
			      f);
		if (sub->opts & OPT_LIMIT)
			fputs("  -n, --limit N       at most N commits (default 50)\n", f);
		if (sub->opts & OPT_PATH)
			fputs("  --path PATH         only the changes of PATH (a file or directory)\n",
			      f);
		fputs(API_COMMON_HELP "\nexit status: 0 done, 1 error or refused, 2 usage\n", f);
		return;
	}
	fputs("usage: tend config COMMAND [OPTIONS] [ARGS]\n\n"
	      "Read and change the configuration repository on tend-server.\n\ncommands:\n",
	      f);
	for (const struct cfg_sub *s = subs; s->name; s++)
		fprintf(f, "  tend config %s\n", s->usage);
	fputs("\ncommon options:\n" API_COMMON_HELP
	      "\n'tend config COMMAND --help' says more about each.\n",
	      f);
}

static int parse(int argc, char **argv, struct cfg_args *a)
{
	enum { X_PATH = 1 };
	static const struct option opts[] = {
		API_COMMON_OPTIONS,
		{ "message", required_argument, NULL, 'm' },
		{ "revision", required_argument, NULL, 'r' },
		{ "limit", required_argument, NULL, 'n' },
		{ "path", required_argument, NULL, X_PATH },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hm:r:n:", opts, NULL)) != -1) {
		if (api_opts_take(&a->o, c, optarg))
			continue;
		switch (c) {
		case 'm':
			a->message = optarg;
			a->given |= OPT_MESSAGE;
			break;
		case 'r':
			a->revision = optarg;
			a->given |= OPT_REVISION;
			break;
		case 'n':
			if (str_to_ll(optarg, 10, 1, 1000, &a->limit) < 0) {
				log_warnx("config: --limit wants a number from 1 to 1000, not '%s'",
					  optarg);
				return -EINVAL;
			}
			a->given |= OPT_LIMIT;
			break;
		case X_PATH:
			a->path = optarg;
			a->given |= OPT_PATH;
			break;
		default:
			return -EINVAL;
		}
	}
	a->pos = argv + optind;
	a->npos = argc - optind;
	return 0;
}

int cmd_config(int argc, char **argv)
{
	struct cfg_args a = { .limit = 50 };
	const struct cfg_sub *sub = NULL;
	struct api_client c;
	struct tend_err err;
	int r;

	if (parse(argc, argv, &a) < 0) {
		usage(stderr, NULL);
		return API_EXIT_USAGE;
	}
	if (a.npos > 0) {
		for (sub = subs; sub->name && strcmp(sub->name, a.pos[0]); sub++)
			;
		if (!sub->name) {
			log_warnx("config: unknown command '%s'", a.pos[0]);
			usage(stderr, NULL);
			return API_EXIT_USAGE;
		}
		a.pos++;
		a.npos--;
	}
	if (a.o.help) {
		usage(stdout, sub);
		return API_EXIT_OK;
	}
	if (!sub) {
		usage(stderr, NULL);
		return API_EXIT_USAGE;
	}
	if (a.given & ~sub->opts) {
		unsigned bad = a.given & ~sub->opts;

		log_warnx("config %s does not take %s", sub->name,
			  bad & OPT_MESSAGE  ? "--message" :
			  bad & OPT_REVISION ? "--revision" :
			  bad & OPT_LIMIT    ? "--limit" :
					       "--path");
		usage(stderr, sub);
		return API_EXIT_USAGE;
	}
	if (a.npos < sub->min || a.npos > sub->max) {
		log_warnx("config %s: %s arguments", sub->name,
			  a.npos < sub->min ? "missing" : "too many");
		usage(stderr, sub);
		return API_EXIT_USAGE;
	}
	if (api_client_init(&c, &a.o, &err) < 0) {
		log_warnx("%s", err.msg);
		return API_EXIT_ERROR;
	}
	r = sub->run(&c, &a);
	api_client_free(&c);
	return r;
}
