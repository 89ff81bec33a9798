/*
 * main.c - tend-server's entry point: options, the configuration check,
 * token administration, and the server's life (open the state, serve the
 * API, stop cleanly on SIGTERM or SIGINT).
 *
 *   tend-server [OPTIONS]                         serve the API
 *   tend-server [OPTIONS] --check [--json]        validate and exit 0/1
 *   tend-server [OPTIONS] token create --role ro|rw [--name NAME]
 *   tend-server [OPTIONS] token create --enroll [--tags T1,T2] [--ttl 1h] [--uses 1]
 *   tend-server [OPTIONS] token ls [--json]
 *   tend-server [OPTIONS] token revoke NAME
 *   tend-server [OPTIONS] user add|ls|revoke ...  (cmd_user.c)
 *
 * Configuration: defaults, then --config FILE, then the options.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "broker.h"
#include "bus_server.h"
#include "compile.h"
#include "db.h"
#include "pki/pki.h"
#include "repo.h"
#include "server.h"
#include "util/log.h"
#include "util/strutil.h"

/* What the command line asked for; applied over the config file. */
struct opts {
	const char *config;
	const char *state;
	const char *listen;
	const char *repo;
	const char *tls_cert;
	const char *tls_key;
	const char *nats_listen;
	bool check;
	bool json;
	int verbose;
};

static void usage(FILE *f)
{
	fputs("usage: tend-server [OPTIONS]\n"
	      "       tend-server [OPTIONS] --check [--json]\n"
	      "       tend-server [OPTIONS] token create --role ro|rw [--name NAME]\n"
	      "       tend-server [OPTIONS] token create --enroll [--tags T1,T2] [--ttl 1h]\n"
	      "                                          [--uses 1] [--name NAME]\n"
	      "       tend-server [OPTIONS] token ls [--json]\n"
	      "       tend-server [OPTIONS] token revoke NAME\n"
	      "       tend-server [OPTIONS] user add NAME --role ROLE [--out FILE] [--days N]\n"
	      "       tend-server [OPTIONS] user ls [--json]\n"
	      "       tend-server [OPTIONS] user revoke NAME\n"
	      "\noptions:\n"
	      "  -s, --state DIR       state directory (default /var/lib/tend)\n"
	      "  -l, --listen ADDR:PORT  address to serve on (default 127.0.0.1:8440)\n"
	      "  -c, --config FILE     server configuration (YAML)\n"
	      "      --repo PATH       configuration repository (default STATE/config.git)\n"
	      "      --tls-cert FILE   serve HTTPS with this certificate (PEM) ...\n"
	      "      --tls-key FILE    ... and this key (PEM)\n"
	      "      --nats-listen ADDR:PORT  where the nats-server tend-server runs listens\n"
	      "                        (default 127.0.0.1:4222; none runs with nats_urls)\n"
	      "      --check           validate the configuration and the repository, exit\n"
	      "      --json            print data as JSON\n"
	      "  -v, --verbose         log every request (twice: debug)\n"
	      "  -h, --help            this help\n"
	      "      --version         the version\n"
	      "\nman tend-server(8) says more.\n",
	      f);
}

enum { OPT_REPO = 256, OPT_TLS_CERT, OPT_TLS_KEY, OPT_CHECK, OPT_JSON, OPT_VERSION,
       OPT_ROLE, OPT_NAME, OPT_NATS_LISTEN, OPT_ENROLL, OPT_TAGS, OPT_TTL, OPT_USES };

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "config", required_argument, NULL, 'c' },
		{ "repo", required_argument, NULL, OPT_REPO },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "nats-listen", required_argument, NULL, OPT_NATS_LISTEN },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "+s:l:c:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o->state = optarg; break;
		case 'l': o->listen = optarg; break;
		case 'c': o->config = optarg; break;
		case OPT_REPO: o->repo = optarg; break;
		case OPT_TLS_CERT: o->tls_cert = optarg; break;
		case OPT_TLS_KEY: o->tls_key = optarg; break;
		case OPT_NATS_LISTEN: o->nats_listen = optarg; break;
		case OPT_CHECK: o->check = true; break;
		case OPT_JSON: o->json = true; break;
		case 'v': o->verbose++; break;
		case 'h': usage(stdout); exit(0);
		case OPT_VERSION: printf("tend-server %s\n", TEND_VERSION); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	return optind;
}

static void set_str(char **field, const char *v)
{
	if (!v)
		return;
	free(*field);
	*field = xstrdup(v);
}

/* load_config - defaults, the file, the options; 0 or prints and -EINVAL. */
static int load_config(const struct opts *o, struct srv_config *c)
{
	struct tend_err err = { "" };
	int r;

	srv_config_defaults(c);
	if (o->config) {
		r = srv_config_load(c, o->config, &err);
		if (r < 0) {
			log_warnx("%s", err.msg);
			return r;
		}
	}
	set_str(&c->state_dir, o->state);
	set_str(&c->listen, o->listen);
	set_str(&c->repo_path, o->repo);
	set_str(&c->tls_cert, o->tls_cert);
	set_str(&c->tls_key, o->tls_key);
	set_str(&c->nats_listen, o->nats_listen);
	r = srv_config_finish(c, &err);
	if (r < 0)
		log_warnx("%s", err.msg);
	return r;
}

/* ---- token subcommands ---- */

static int open_db(struct srv_config *c, struct db **ret)
{
	struct tend_err err = { "" };
	int r = server_state_dir(c, &err);

	if (r == 0)
		r = db_open(c->db_path, ret, &err);
	if (r < 0)
		log_warnx("%s", err.msg[0] ? err.msg : strerror(-r));
	return r;
}

/* enroll_tags - "a,b" as a JSON array (empty names refused). */
static json_t *enroll_tags(const char *list)
{
	json_t *tags = json_array();
	const char *p = list;

	while (p && *p) {
		size_t n = strcspn(p, ",");

		if (n == 0) {
			json_decref(tags);
			return NULL;
		}
		json_array_append_new(tags, json_stringn(p, n));
		p += n;
		if (*p)
			p++;
	}
	return tags;
}

/* enroll_token_create - `token create --enroll`: a one-time enrollment token. */
/* print_secret - a new token's secret, alone or as JSON with what it is. */
static void print_secret(bool json, const char *secret, const char *name, const char *role,
			 json_t *extra)
{
	json_t *j;

	if (!json) {
		printf("%s\n", secret);
		json_decref(extra);
		return;
	}
	j = json_pack("{s:s, s:s?, s:s}", "secret", secret, "name", name, "role", role);
	if (extra)
		json_object_update(j, extra);
	json_decref(extra);
	json_dumpf(j, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(j);
}

static int enroll_token_create(struct db *db, bool json, const char *name, const char *tags_s,
			       const char *ttl_s, const char *uses_s)
{
	struct tend_err err = { "" };
	json_t *tags = enroll_tags(tags_s);
	double ttl = 3600;
	long long uses = 1;
	char *secret = NULL;
	int r;

	if (!tags || (ttl_s && (str_to_duration(ttl_s, &ttl) < 0 || ttl < 1 || ttl > 3.2e7)) ||
	    (uses_s && str_to_ll(uses_s, 10, 1, DB_ENROLL_USES_MAX, &uses) < 0)) {
		log_warnx("usage: token create --enroll [--tags T1,T2] [--ttl 1h (at most a "
			  "year)] [--uses 1 (at most %d)] [--name NAME]",
			  DB_ENROLL_USES_MAX);
		json_decref(tags);
		return 1;
	}
	r = db_enroll_token_create(db, name, tags, (int64_t)ttl, (int)uses, &secret, &err);
	if (r < 0) {
		log_warnx("token create: %s", err.msg[0] ? err.msg : strerror(-r));
		json_decref(tags);
		return 1;
	}
	print_secret(json, secret, name, "enroll",
		     json_pack("{s:o, s:I, s:I}", "tags", tags, "ttl_seconds", (json_int_t)ttl,
			       "uses", (json_int_t)uses));
	free(secret);
	return 0;
}

static int token_create(struct db *db, bool json, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "role", required_argument, NULL, OPT_ROLE },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "enroll", no_argument, NULL, OPT_ENROLL },
		{ "tags", required_argument, NULL, OPT_TAGS },
		{ "ttl", required_argument, NULL, OPT_TTL },
		{ "uses", required_argument, NULL, OPT_USES },
		{ NULL, 0, NULL, 0 },
	};
	struct tend_err err = { "" };
	const char *role_s = NULL, *name = NULL, *tags = NULL, *ttl = NULL, *uses = NULL;
	bool enroll = false;
	enum db_role role;
	char *secret = NULL;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ROLE: role_s = optarg; break;
		case OPT_NAME: name = optarg; break;
		case OPT_ENROLL: enroll = true; break;
		case OPT_TAGS: tags = optarg; break;
		case OPT_TTL: ttl = optarg; break;
		case OPT_USES: uses = optarg; break;
		case OPT_JSON: json = true; break;
		default: return 1;
		}
	}
	if (enroll && !role_s && optind == argc)
		return enroll_token_create(db, json, name, tags, ttl, uses);
	if (enroll || tags || ttl || uses || !role_s || optind != argc ||
	    db_role_parse(role_s, &role) < 0) {
		log_warnx("usage: token create --role ro|rw [--name NAME]\n"
			  "       token create --enroll [--tags T1,T2] [--ttl 1h] [--uses 1] "
			  "[--name NAME]");
		return 1;
	}
	r = db_token_create(db, name, role, &secret, &err);
	if (r < 0) {
		log_warnx("token create: %s", err.msg[0] ? err.msg : strerror(-r));
		return 1;
	}
	print_secret(json, secret, name, role_s, NULL);
	free(secret);
	return 0;
}

static const char *jtext(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "-";
}

static int token_ls(struct db *db, bool json)
{
	struct tend_err err = { "" };
	json_t *list = NULL, *t;
	size_t i;
	json_t *enroll = NULL;
	int r = db_token_list(db, &list, &err);

	if (r == 0)
		r = db_enroll_token_list(db, &enroll, &err);
	if (r < 0) {
		log_warnx("token ls: %s", err.msg[0] ? err.msg : strerror(-r));
		json_decref(list);
		return 1;
	}
	/* enrollment tokens follow, with role "enroll" */
	json_array_foreach(enroll, i, t)
		json_object_set_new(t, "role", json_string("enroll"));
	if (json) {
		json_array_extend(list, enroll);
		json_dumpf(list, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		printf("%-24s %-4s %-20s %s\n", "NAME", "ROLE", "CREATED", "LAST USED");
		json_array_foreach(list, i, t)
			printf("%-24s %-4s %-20s %s\n", jtext(t, "name"), jtext(t, "role"),
			       jtext(t, "created"), jtext(t, "last_used"));
		if (json_array_size(enroll))
			printf("\n%-24s %-20s %-9s %s\n", "ENROLLMENT TOKEN", "EXPIRES", "USES LEFT",
			       "TAGS");
		json_array_foreach(enroll, i, t) {
			char *tags = json_dumps(json_object_get(t, "tags"), JSON_COMPACT);

			printf("%-24s %-20s %-9lld %s\n", jtext(t, "name"), jtext(t, "expires"),
			       (long long)json_integer_value(json_object_get(t, "uses_left")),
			       tags ? tags : "[]");
			free(tags);
		}
	}
	json_decref(enroll);
	json_decref(list);
	return 0;
}

static int cmd_token(struct srv_config *c, bool json, int argc, char **argv)
{
	static const char usage[] =
		"usage: tend-server [OPTIONS] token create --role ro|rw [--name NAME] [--json]\n"
		"       tend-server [OPTIONS] token create --enroll [--tags T1,T2] [--ttl 1h]\n"
		"                                 [--uses 1] [--name NAME] [--json]\n"
		"       tend-server [OPTIONS] token ls [--json]\n"
		"       tend-server [OPTIONS] token revoke NAME\n"
		"API tokens (ro: reads, rw: reads and writes) and one-time enrollment tokens\n"
		"for tendd --enroll; create prints the secret once.  --ttl: at most a year;\n"
		"--uses: at most 100000.  man tend-server(8) says more.\n";
	struct tend_err err = { "" };
	struct db *db = NULL;
	int ret = 1, r;

	if (srv_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "create") && strcmp(argv[1], "ls") &&
			 strcmp(argv[1], "revoke"))) {
		if (argc >= 2)
			log_warnx("unknown token command '%s' (create, ls, revoke)", argv[1]);
		fputs(usage, stderr);
		return 1;
	}
	if ((!strcmp(argv[1], "ls") && argc > 2 && (argc > 3 || strcmp(argv[2], "--json"))) ||
	    (!strcmp(argv[1], "revoke") && (argc != 3 || argv[2][0] == '-'))) {
		fputs(usage, stderr);
		return 1;
	}
	if (open_db(c, &db) < 0)
		return 1;
	if (!strcmp(argv[1], "create")) {
		ret = token_create(db, json, argc - 1, argv + 1);
	} else if (!strcmp(argv[1], "ls")) {
		ret = token_ls(db, json || argc == 3);
	} else {
		r = db_token_revoke(db, argv[2], &err);
		if (r == -ENOENT && db_enroll_token_revoke(db, argv[2], NULL) == 0)
			r = 0; /* an enrollment token of that name */
		if (r < 0)
			log_warnx("token revoke: %s", err.msg[0] ? err.msg : strerror(-r));
		else
			ret = 0;
	}
	db_close(db);
	return ret;
}

/* ---- --check ---- */

static void check_print(const struct srv_config *c, bool json, json_t *errors, long nodes)
{
	json_t *e;
	size_t i;

	if (json) {
		json_t *o = json_pack("{s:b, s:s?, s:O, s:I}", "ok", json_array_size(errors) == 0,
				      "config", c->config_file, "errors", errors, "nodes",
				      (json_int_t)nodes);

		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
		return;
	}
	json_array_foreach(errors, i, e)
		fprintf(stderr, "tend-server: %s\n", json_string_value(e));
	if (!json_array_size(errors))
		printf("tend-server: configuration ok%s%s (%ld nodes)\n",
		       c->config_file ? ": " : "", c->config_file ? c->config_file : "", nodes);
}

/* check_state - open repository and database, validate every document. */
static int check_state(struct srv_config *c, json_t *errors, long *ret_nodes)
{
	struct tend_err err = { "" };
	struct repo *repo = NULL;
	struct db *db = NULL;
	struct compiler *comp = NULL;
	struct repo_snap *snap = NULL;
	json_t *verr = NULL, *nodes = NULL;
	int r;

	r = repo_open(c->repo_path, false, &repo, &err);
	if (r == 0)
		r = db_open(c->db_path, &db, &err);
	if (r == 0) {
		comp = compiler_new((const char *const *)c->default_tags);
		r = comp ? repo_snap_open(repo, NULL, &snap, &err) : -ENOMEM;
	}
	if (r == 0)
		r = compile_nodes(snap, &nodes, &err);
	if (r == 0) {
		*ret_nodes = (long)json_array_size(nodes);
		r = compile_validate(comp, snap, &verr);
		if (r >= 0) {
			json_array_extend(errors, verr);
			r = 0;
		}
	}
	if (r < 0)
		json_array_append_new(errors, json_string(err.msg[0] ? err.msg : strerror(-r)));
	json_decref(verr);
	json_decref(nodes);
	repo_snap_free(snap);
	compiler_free(comp);
	db_close(db);
	repo_free(repo);
	return r;
}

static int cmd_check(struct srv_config *c, bool json)
{
	json_t *errors = json_array();
	struct stat st;
	long nodes = 0;
	int ret;

	if (c->repo_create && stat(c->repo_path, &st) < 0 && errno == ENOENT) {
		/* nothing to open yet: the first start creates it (and the database) */
		if (!json)
			printf("tend-server: %s does not exist yet; the first start creates it\n",
			       c->repo_path);
	} else {
		check_state(c, errors, &nodes);
	}
	check_print(c, json, errors, nodes);
	ret = json_array_size(errors) ? 1 : 0;
	json_decref(errors);
	return ret;
}

/* ---- serving ---- */

/* reload_crl - the CRL another process may have rewritten; agents get it with their next catalog. */
static void reload_crl(struct server *s)
{
	struct tend_err err = { "" };

	if (s->ca && pki_ca_crl_reload(s->ca, &err) < 0)
		log_warnx("revocation list: %s; the one read before stays in use", err.msg);
}

static int serve(struct srv_config *c)
{
	struct server s = { 0 };
	struct tend_err err = { "" };
	struct http *h = NULL;
	sigset_t set;
	int sig = 0, r;

	r = api_routes_check(&err);
	if (r < 0) {
		log_warnx("route table: %s", err.msg);
		return 1;
	}
	s.cfg = *c;
	/* block the signals before any thread starts: only sigwait sees them */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = server_open(&s, &err);
	if (r < 0) {
		log_warnx("%s", err.msg[0] ? err.msg : strerror(-r));
		return 1;
	}
	r = broker_start(&s, &err);
	if (r == 0)
		r = bus_server_start(&s, &err);
	if (r == 0)
		r = http_start(&s, &h, &err);
	if (r < 0) {
		log_warnx("%s", err.msg);
		bus_server_stop(&s);
		broker_stop(&s);
		server_close(&s);
		return 1;
	}
	log_info("serving %s on %s (port %u), repository %s", c->tls_cert ? "https" : "http",
		 c->listen, http_port(h), c->repo_path);
	runfiles_write(&s, http_port(h));
	for (;;) {
		struct timespec tick = { 0, BROKER_RELOAD_DELAY_MS * 1000000L };
		long long crl;

		sig = sigtimedwait(&set, NULL, &tick);
		if (sig < 0) {
			if (errno == EAGAIN && broker_reload_due(&s)) {
				pthread_mutex_lock(&s.lock); /* nodes enrolled: let them in */
				broker_reload(&s);
				pthread_mutex_unlock(&s.lock);
			}
			continue;
		}
		if (sig != SIGHUP)
			break;
		(void)broker_reload_due(&s); /* done now */
		/* `tend-server user add|revoke` changed the identities */
		log_info("SIGHUP: reloading the broker's users and the revocation list");
		pthread_mutex_lock(&s.lock);
		broker_reload(&s);
		crl = s.ca ? pki_ca_crl_number(s.ca) : 0;
		reload_crl(&s);
		if (s.ca && pki_ca_crl_number(s.ca) != crl)
			bus_server_publish_crl(&s); /* the agents refuse the revoked from now on */
		pthread_mutex_unlock(&s.lock);
	}
	log_info("signal %d: stopping", sig);
	runfiles_remove(c);
	http_stop(h);
	bus_server_stop(&s);
	broker_stop(&s);
	server_close(&s);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct srv_config c;
	int first, ret;

	log_init("tend-server", LOG_NORMAL);
	first = parse_opts(argc, argv, &o);
	if (first < 0)
		return 1;
	log_set_level(o.verbose >= 2 ? LOG_DEBUG : o.verbose ? LOG_VERBOSE : LOG_NORMAL);
	/* a subcommand's help needs no configuration: print it even when that is wrong */
	if (first < argc && srv_wants_help(argc - first, argv + first) &&
	    (!strcmp(argv[first], "token") || !strcmp(argv[first], "user"))) {
		srv_config_defaults(&c);
		ret = !strcmp(argv[first], "token") ? cmd_token(&c, o.json, argc - first, argv + first)
						    : cmd_user(&c, o.json, argc - first, argv + first);
		srv_config_free(&c);
		return ret;
	}
	if (load_config(&o, &c) < 0) {
		srv_config_free(&c);
		return 1;
	}
	if (first < argc && !strcmp(argv[first], "token"))
		ret = cmd_token(&c, o.json, argc - first, argv + first);
	else if (first < argc && !strcmp(argv[first], "user"))
		ret = cmd_user(&c, o.json, argc - first, argv + first);
	else if (first < argc) {
		log_warnx("unknown command '%s'", argv[first]);
		usage(stderr);
		ret = 1;
	} else if (o.check)
		ret = cmd_check(&c, o.json);
	else
		ret = serve(&c);
	srv_config_free(&c);
	return ret;
}
