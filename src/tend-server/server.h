/*
 * server.h - the running server: its configuration and the state every
 * request handler reaches through (one struct, no globals).
 */
#ifndef TEND_SERVER_SERVER_H
#define TEND_SERVER_SERVER_H

#include <stddef.h>

#include "util/err.h"

struct repo;
struct db;
struct compiler;

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
	const char *config_file; /* where it was read from, or NULL */
};

/*
 * srv_config_defaults / srv_config_load / srv_config_free - load reads a
 * YAML file with keys state, listen, repository, database, tls_cert,
 * tls_key, body_max (bytes, or "16M"), default_tags; an unknown key or a
 * bad value is -EINVAL "FILE:LINE:COL: ...".
 */
void srv_config_defaults(struct srv_config *c);
int srv_config_load(struct srv_config *c, const char *path, struct tend_err *err);
/* srv_config_finish - derive repo/db paths from state_dir when unset. */
void srv_config_finish(struct srv_config *c);
void srv_config_free(struct srv_config *c);

struct server {
	struct srv_config cfg;
	struct repo *repo;
	struct db *db;
	struct compiler *compiler;
};

/*
 * server_open - open (creating on first start) the state directory (0700),
 * the repository and the database; reconcile the audit log with commits
 * made while the server was down or killed (commits with a Tend-Caller
 * trailer that have no audit record get one).
 */
int server_open(struct server *s, struct tend_err *err);
void server_close(struct server *s);

#endif
