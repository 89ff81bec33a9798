/*
 * server.h - the running server: its configuration and the state every
 * request handler reaches through (one struct, no globals).
 */
#ifndef TEND_SERVER_SERVER_H
#define TEND_SERVER_SERVER_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

struct repo;
struct db;
struct compiler;
struct broker;
struct pki_ca;
struct bus_server;

/* Server configuration: defaults, then --config FILE, then options. */
struct srv_config {
	char *state_dir;       /* --state; default /var/lib/tend */
	char *listen;          /* --listen ADDR:PORT; default 127.0.0.1:8440 */
	char *repo_path;       /* default STATE/config.git */
	char *db_path;         /* default STATE/tend.db */
	char *tls_cert;        /* PEM files; both or neither */
	char *tls_key;
	size_t body_max;       /* largest request body; default 16 MiB */
	char **default_tags;   /* NULL-terminated; tags of nodes without a document */
	char **nats_urls;      /* NULL-terminated broker URLs (a cluster run by
				* others); NULL: tend-server runs nats-server */
	char *nats_listen;     /* where that nats-server listens; default 127.0.0.1:4222 */
	const char *config_file; /* where it was read from, or NULL */
	bool repo_create;      /* set by srv_config_finish: the default repository
				* (in the state dir) is created on first start;
				* one given by path must exist */
};

/*
 * srv_config_defaults / srv_config_load / srv_config_free - load reads a
 * YAML file with keys state, listen, repository, database, tls_cert,
 * tls_key, body_max (bytes, or "16M"), default_tags, nats_urls (a list,
 * or one URL), nats_listen; an unknown key or a bad value is -EINVAL
 * "FILE:LINE:COL: ...".
 */
void srv_config_defaults(struct srv_config *c);
int srv_config_load(struct srv_config *c, const char *path, struct tend_err *err);
/* srv_config_finish - derive repo/db paths from state_dir when unset;
 * -EINVAL when only one of tls_cert / tls_key is set. */
int srv_config_finish(struct srv_config *c, struct tend_err *err);
void srv_config_free(struct srv_config *c);

struct server {
	struct srv_config cfg;
	struct repo *repo;
	struct db *db;
	struct compiler *compiler;
	/* lock: held by whoever uses repo, db or compiler (not thread-safe):
	 * the HTTP dispatcher around each request, the bus callbacks around
	 * each message (bus_server.c) */
	pthread_mutex_t lock;
	struct broker *broker;     /* the nats-server we run, or NULL (broker.c) */
	struct bus_server *bus;    /* our NATS client (bus_server.c), or NULL */
	struct pki_ca *ca;         /* the CA in STATE/ca and the server's identity (ca.c) */
	atomic_bool reload_due;    /* broker_reload_soon was called (broker.c) */
};

/*
 * server_open - open (creating on first start) the state directory (0700),
 * the repository and the database; reconcile the audit log with commits
 * made while the server was down or killed (commits with a Tend-Caller
 * trailer that have no audit record get one).
 */
int server_open(struct server *s, struct tend_err *err);
/* server_close - close what server_open opened (not s->cfg: srv_config_free). */
void server_close(struct server *s);

/*
 * server_state_dir - create the state directory (mode 0700) when missing;
 * -ENOTDIR when something else is there.  Token commands use it alone.
 */
int server_state_dir(const struct srv_config *c, struct tend_err *err);

/*
 * http_start / http_stop (http.c) - serve the API on cfg.listen with one
 * internal polling thread (requests are handled one at a time, in that
 * thread), with TLS when cfg.tls_cert/tls_key are set.  http_stop waits
 * for the request in progress and closes every connection.
 */
struct http;
int http_start(struct server *s, struct http **ret, struct tend_err *err);
void http_stop(struct http *h);
/* http_port - the port listened on (useful with port 0). */
unsigned http_port(const struct http *h);

/* STATE/tend-server.pid: the running server, which SIGHUP tells to reload identities. */
#define SERVER_PID_FILE "tend-server.pid"

/*
 * runfiles_write - STATE/tend-server.pid and STATE/endpoints.json for a
 * server serving HTTP on port (runfiles.c); runfiles_remove on a clean
 * stop.  runfiles_endpoints - the running server's {"server": URL,
 * "nats": [URL...]} (a new reference), NULL when none is recorded.
 */
void runfiles_write(struct server *s, unsigned port);
void runfiles_remove(const struct srv_config *c);
json_t *runfiles_endpoints(const struct srv_config *c);

/*
 * cmd_user - `tend-server user add|ls|revoke` (cmd_user.c): administrators'
 * identities; argv[0] is "user".  Returns the exit status.
 */
int cmd_user(const struct srv_config *c, bool json, int argc, char **argv);

/* srv_wants_help - whether argv[1..] holds -h or --help (a subcommand's help). */
bool srv_wants_help(int argc, char **argv);

#endif
