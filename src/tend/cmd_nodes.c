/*
 * cmd_nodes.c - `tend nodes [ls]`, `tend nodes show NODE` and
 * `tend nodes tags NODE TAG,...`: the inventory as tend-server knows it,
 * the nodes that have a document in the configuration and those that
 * reported, and a node's tag list.  And enrollment: `tend nodes pending`
 * (requests waiting for approval, with their key fingerprints), `tend
 * nodes approve NODE [--fingerprint F]` and `tend nodes revoke NODE`.
 *
 * Setting tags is a commit the server makes to nodes/NODE.yaml, keeping
 * the rest of the document as it is; the server applies it to the current
 * revision unless --revision names the one the user looked at.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_client.h"
#include "cli.h"
#include "util/log.h"
#include "util/strutil.h"

#define TAGS_MAX 256 /* tags on one command line */

struct nodes_args {
	struct api_opts o;
	const char *message, *revision, *fingerprint;
	char **pos;
	int npos;
};

/* join - the strings of array a joined with sep into b ("-" when empty). */
static void join(struct buf *b, const json_t *a, const char *sep)
{
	size_t i;
	json_t *v;

	buf_reset(b);
	json_array_foreach(a, i, v) {
		char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

		buf_printf(b, "%s%s", i ? sep : "", s ? s : json_str(v, "?"));
		free(s);
	}
	if (!b->len)
		buf_puts(b, "-");
}

static int nodes_ls(struct api_client *c, const struct nodes_args *a)
{
	struct buf tags = BUF_INIT;
	struct cli_table t;
	json_t *v = NULL, *n;
	size_t i;

	if (api_get_json(c, "/v1/nodes", "nodes", &v))
		return API_EXIT_ERROR;
	if (c->json) {
		api_print_json(v);
		json_decref(v);
		return 0;
	}
	cli_table_init(&t, 5);
	cli_table_add(&t, "NODE");
	cli_table_add(&t, "TAGS");
	cli_table_add(&t, "STATUS");
	cli_table_add(&t, "LAST SEEN");
	cli_table_add(&t, "DOCUMENT");
	json_array_foreach(json_object_get(v, "nodes"), i, n) {
		join(&tags, json_object_get(n, "tags"), ",");
		cli_table_add(&t, json_str(json_object_get(n, "id"), "?"));
		cli_table_add(&t, buf_str(&tags));
		cli_table_add(&t, json_str(json_object_get(n, "status"), "-"));
		cli_table_add(&t, json_str(json_object_get(n, "last_seen"), "never"));
		cli_table_add(&t, json_is_true(json_object_get(n, "has_document")) ? "yes" : "no");
	}
	if (i > 0)
		cli_table_print(&t, stdout);
	else
		log_warnx("no nodes yet: none has a document in the configuration or has reported");
	cli_table_free(&t);
	buf_free(&tags);
	json_decref(v);
	return 0;
}

/* node_url - "/v1/nodes/NODE" + tail, the node's name escaped. */
static void node_url(struct buf *b, const char *node, const char *tail)
{
	buf_puts(b, "/v1/nodes/");
	api_escape(b, node, false);
	buf_puts(b, tail);
}

/* report_line - "#ID TIME STATUS" of the node's last report, or NULL. */
static void report_line(struct buf *b, const json_t *rep)
{
	json_t *id = json_object_get(rep, "id");

	buf_reset(b);
	if (!json_is_object(rep)) {
		buf_puts(b, "-");
		return;
	}
	if (json_is_integer(id))
		buf_printf(b, "#%lld ", (long long)json_integer_value(id));
	buf_printf(b, "%s %s", json_str(json_object_get(rep, "time"), "?"),
		   json_str(json_object_get(rep, "status"), "?"));
}

static int nodes_show(struct api_client *c, const struct nodes_args *a)
{
	struct buf url = BUF_INIT, s = BUF_INIT, what = BUF_INIT;
	json_t *v = NULL, *facts;
	int r;

	node_url(&url, a->pos[0], "");
	buf_printf(&what, "node %s", a->pos[0]);
	r = api_get_json(c, buf_str(&url), buf_str(&what), &v);
	if (r)
		goto out;
	if (c->json) {
		api_print_json(v);
		goto out;
	}
	printf("node:        %s\n", json_str(json_object_get(v, "id"), a->pos[0]));
	join(&s, json_object_get(v, "tags"), ", ");
	printf("tags:        %s\n", buf_str(&s));
	printf("document:    %s\n",
	       json_str(json_object_get(v, "document"), "none (default tags)"));
	printf("status:      %s\n", json_str(json_object_get(v, "status"), "-"));
	printf("first seen:  %s\n", json_str(json_object_get(v, "first_seen"), "never"));
	printf("last seen:   %s\n", json_str(json_object_get(v, "last_seen"), "never"));
	join(&s, json_object_get(v, "addresses"), ", ");
	printf("addresses:   %s\n", buf_str(&s));
	join(&s, json_object_get(v, "macs"), ", ");
	printf("macs:        %s\n", buf_str(&s));
	report_line(&s, json_object_get(v, "last_report"));
	printf("last report: %s\n", buf_str(&s));
	facts = json_object_get(v, "facts");
	if (json_is_object(facts))
		printf("facts:       %zu groups (--json shows them)\n", json_object_size(facts));
	else
		printf("facts:       none reported\n");
out:
	json_decref(v);
	buf_free(&url);
	buf_free(&s);
	buf_free(&what);
	return r;
}

/* tag_list - the tags of args "a,b" "c" as a JSON array; NULL (said) when one is empty. */
static json_t *tag_list(char **args, int n)
{
	json_t *tags = json_array();

	for (int i = 0; i < n; i++) {
		const char *p = args[i];

		if (!*p && n == 1)
			break; /* `tend nodes tags NODE ""`: no tags */
		for (;;) {
			size_t len = strcspn(p, ",");

			while (len && (*p == ' ' || *p == '\t'))
				p++, len--;
			while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
				len--;
			if (len == 0 || json_array_size(tags) >= TAGS_MAX) {
				log_warnx("nodes tags: %s in '%s'",
					  len ? "too many tags" : "an empty tag name", args[i]);
				json_decref(tags);
				return NULL;
			}
			json_array_append_new(tags, json_stringn(p, len));
			p += strcspn(p, ",");
			if (!*p)
				break;
			p++;
		}
	}
	return tags;
}

static int nodes_tags(struct api_client *c, const struct nodes_args *a)
{
	struct buf url = BUF_INIT, what = BUF_INIT, s = BUF_INIT;
	json_t *body = json_object(), *tags, *ans = NULL;
	long status;
	int r = API_EXIT_USAGE;

	tags = tag_list(a->pos + 1, a->npos - 1);
	if (!tags)
		goto out;
	json_object_set_new(body, "tags", tags);
	if (a->revision)
		json_object_set_new(body, "revision", json_string(a->revision));
	if (a->message)
		json_object_set_new(body, "message", json_string(a->message));
	node_url(&url, a->pos[0], "/tags");
	buf_printf(&what, "tags of %s", a->pos[0]);
	r = api_change(c, "PUT", buf_str(&url), body, buf_str(&what),
		       a->revision ? a->revision : "(current)", &ans, &status);
	if (r)
		goto out;
	if (c->json) {
		api_print_json(ans);
	} else {
		join(&s, json_object_get(ans, "tags"), ", ");
		printf("%s: tags %s: revision %s\n", a->pos[0], buf_str(&s),
		       json_str(json_object_get(ans, "revision"), "?"));
	}
out:
	json_decref(ans);
	json_decref(body);
	buf_free(&url);
	buf_free(&what);
	buf_free(&s);
	return r;
}

/* ---- enrollment ---- */

static int nodes_pending(struct api_client *c, const struct nodes_args *a)
{
	struct cli_table t;
	json_t *v = NULL, *p;
	size_t i;

	if (api_get_json(c, "/v1/enrollments", "enrollment requests", &v))
		return API_EXIT_ERROR;
	if (c->json) {
		api_print_json(v);
		json_decref(v);
		return 0;
	}
	cli_table_init(&t, 4);
	cli_table_add(&t, "NODE");
	cli_table_add(&t, "REQUESTED");
	cli_table_add(&t, "FROM");
	cli_table_add(&t, "KEY FINGERPRINT (SHA-256)");
	json_array_foreach(json_object_get(v, "pending"), i, p) {
		cli_table_add(&t, json_str(json_object_get(p, "node"), "?"));
		cli_table_add(&t, json_str(json_object_get(p, "requested"), "?"));
		cli_table_add(&t, json_str(json_object_get(p, "address"), "-"));
		cli_table_add(&t, json_str(json_object_get(p, "fingerprint"), "?"));
	}
	if (i > 0)
		cli_table_print(&t, stdout);
	else
		log_warnx("no enrollment request is waiting");
	cli_table_free(&t);
	json_decref(v);
	return 0;
}

/* nodes_post - POST /v1/nodes/NODE/TAIL with body; prints the answer with print. */
static int nodes_post(struct api_client *c, const char *node, const char *tail, json_t *body,
		      const char *what, void (*print)(const char *node, const json_t *ans))
{
	struct buf url = BUF_INIT, w = BUF_INIT;
	json_t *ans = NULL;
	long status;
	int r;

	node_url(&url, node, tail);
	buf_printf(&w, "%s %s", what, node);
	r = api_change(c, "POST", buf_str(&url), body, buf_str(&w), "(none)", &ans, &status);
	if (r == 0) {
		if (c->json)
			api_print_json(ans);
		else
			print(node, ans);
	}
	json_decref(ans);
	buf_free(&url);
	buf_free(&w);
	return r;
}

static void print_approved(const char *node, const json_t *ans)
{
	printf("%s: approved: certificate %s issued (the agent gets it when it asks again)\n",
	       node, json_str(json_object_get(ans, "serial"), "?"));
}

static void print_revoked(const char *node, const json_t *ans)
{
	struct buf s = BUF_INIT;
	json_t *serials = json_object_get(ans, "revoked");

	join(&s, serials, ", ");
	if (json_array_size(serials))
		printf("%s: revoked certificate%s %s\n", node, json_array_size(serials) > 1 ? "s" : "",
		       buf_str(&s));
	if (json_is_true(json_object_get(ans, "request_dropped")))
		printf("%s: the waiting enrollment request was dropped\n", node);
	buf_free(&s);
}

static int nodes_approve(struct api_client *c, const struct nodes_args *a)
{
	json_t *body = json_object();
	int r;

	if (a->fingerprint)
		json_object_set_new(body, "fingerprint", json_string(a->fingerprint));
	r = nodes_post(c, a->pos[0], "/approve", body, "approve", print_approved);
	json_decref(body);
	return r;
}

static int nodes_revoke(struct api_client *c, const struct nodes_args *a)
{
	return nodes_post(c, a->pos[0], "/revoke", NULL, "revoke", print_revoked);
}

static void usage(FILE *f)
{
	fputs("usage: tend nodes [ls] [OPTIONS]\n"
	      "       tend nodes show [OPTIONS] NODE\n"
	      "       tend nodes tags [-m MESSAGE] [--revision REV] [OPTIONS] NODE TAG[,TAG...]\n"
	      "       tend nodes pending [OPTIONS]\n"
	      "       tend nodes approve [--fingerprint SHA256] [OPTIONS] NODE\n"
	      "       tend nodes revoke [OPTIONS] NODE\n\n"
	      "The nodes tend-server knows: those with a document nodes/NODE.yaml in the\n"
	      "configuration and those that reported.  'ls' is a table of them; 'show' is\n"
	      "one node (tags, document, status, addresses, last report; facts with --json);\n"
	      "'tags' sets a node's tag list (a commit to nodes/NODE.yaml that keeps the rest\n"
	      "of the document; \"\" for no tags).\n\n"
	      "Enrollment: 'pending' lists the nodes that asked for a certificate without a\n"
	      "token, with their key's fingerprint (compare it with the one tendd printed);\n"
	      "'approve' issues that certificate; 'revoke' revokes a node's certificates (the\n"
	      "CRL and the broker refuse it from then on) or drops its waiting request.\n"
	      "\noptions:\n"
	      "  -m, --message TEXT  (tags) the commit message\n"
	      "  -r, --revision REV  (tags) the revision the change is based on; a newer\n"
	      "                      one on the server refuses it (default: the current one)\n"
	      "  -f, --fingerprint F (approve) approve only a request for this key\n",
	      f);
	fputs(API_COMMON_HELP "\nexit status: 0 done, 1 error or refused, 2 usage\n", f);
}

/* The subcommands: how many arguments (at least, with more), whether -m/-r apply. */
static const struct {
	const char *name;
	int args;
	bool more;
	bool edits;
	int (*fn)(struct api_client *c, const struct nodes_args *a);
} subs[] = {
	{ "ls", 0, false, false, nodes_ls },	      { "show", 1, false, false, nodes_show },
	{ "tags", 2, true, true, nodes_tags },	      { "pending", 0, false, false, nodes_pending },
	{ "approve", 1, false, false, nodes_approve }, { "revoke", 1, false, false, nodes_revoke },
	{ NULL, 0, false, false, NULL },
};

int cmd_nodes(int argc, char **argv)
{
	static const struct option opts[] = {
		API_COMMON_OPTIONS,
		{ "message", required_argument, NULL, 'm' },
		{ "revision", required_argument, NULL, 'r' },
		{ "fingerprint", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct nodes_args a = { .message = NULL };
	const char *sub = "ls";
	struct api_client c;
	struct tend_err err;
	int ch, r, want;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "hm:r:f:", opts, NULL)) != -1) {
		if (api_opts_take(&a.o, ch, optarg))
			continue;
		if (ch == 'm') {
			a.message = optarg;
		} else if (ch == 'r') {
			a.revision = optarg;
		} else if (ch == 'f') {
			a.fingerprint = optarg;
		} else {
			usage(stderr);
			return API_EXIT_USAGE;
		}
	}
	a.pos = argv + optind;
	a.npos = argc - optind;
	if (a.npos > 0) {
		sub = a.pos[0];
		a.pos++;
		a.npos--;
	}
	for (want = 0; subs[want].name && strcmp(subs[want].name, sub); want++)
		;
	if (!subs[want].name) {
		log_warnx("nodes: unknown command '%s' (ls, show, tags, pending, approve or revoke)",
			  sub);
		usage(stderr);
		return API_EXIT_USAGE;
	}
	if (a.o.help) {
		usage(stdout);
		return API_EXIT_OK;
	}
	if (a.npos < subs[want].args || (!subs[want].more && a.npos > subs[want].args)) {
		log_warnx("nodes %s: %s arguments", sub,
			  a.npos < subs[want].args ? "missing" : "too many");
		usage(stderr);
		return API_EXIT_USAGE;
	}
	if ((!subs[want].edits && (a.message || a.revision)) ||
	    (a.fingerprint && strcmp(sub, "approve"))) {
		log_warnx("nodes %s does not take --%s", sub,
			  a.fingerprint && strcmp(sub, "approve") ? "fingerprint"
								  : "message or --revision");
		usage(stderr);
		return API_EXIT_USAGE;
	}
	if (api_client_init(&c, &a.o, &err) < 0) {
		log_warnx("%s", err.msg);
		return API_EXIT_ERROR;
	}
	r = subs[want].fn(&c, &a);
	api_client_free(&c);
	return r;
}
