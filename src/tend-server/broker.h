/*
 * broker.h - the NATS broker tend-server runs when no cluster is
 * configured: a nats-server child with a configuration generated from the
 * CA and the enrolled nodes, supervised (restarted when it dies, reloaded
 * when identities change, stopped with the server).
 */
#ifndef TEND_SERVER_BROKER_H
#define TEND_SERVER_BROKER_H

#include <jansson.h>

#include "server.h"
#include "util/buf.h"
#include "util/err.h"

/* What the generated nats-server configuration is made of. */
struct broker_conf {
	const char *listen;    /* "ADDR:PORT" */
	const char *cert_file; /* the server certificate (CN tend-server) */
	const char *key_file;
	const char *ca_file; /* client certificates must chain to it */
	const json_t *admins; /* [{"name","role"}]: administrators (may be NULL) */
};

/*
 * broker_conf_text - the nats-server configuration for c and nodes (a
 * JSON array of node ids: the enrolled, non-revoked nodes) into out:
 * TLS required with a verified client certificate mapped to a user by
 * its subject (verify_and_map); "CN=tend-server" may do everything; node
 * N may publish only tend.catalog.N, tend.report.N, tend.facts.N and
 * tend.event.N.* (one token: node "a" cannot pose as node "a.b"),
 * subscribe only _INBOX.N.> (N's dots written '~', see bus.h),
 * tend.rpc.N and tend.rpc.all,
 * and answer requests it received; it publishes its audit records on
 * tend.audit.N.  An administrator (c->admins) may publish requests on
 * tend.rpc.> and read its own inbox, _INBOX.@NAME.>.  Anyone else is refused.  -EINVAL for
 * a listen address that is not ADDR:PORT or a path the format cannot
 * hold; ids that are not node names are left out.
 */
int broker_conf_text(const struct broker_conf *c, const json_t *nodes, struct buf *out,
		     struct tend_err *err);

/*
 * broker_start - with cfg.nats_urls unset: write STATE/nats/nats.conf
 * and start nats-server with it, listening on cfg.nats_listen; returns
 * once it listens, and keeps it running from a thread of its own:
 * restarted with a growing delay (0.25 s to 10 s) whenever it dies.
 * One that cannot start (its port is taken, it stays silent for 15 s)
 * is logged and retried the same way: the API does not depend on it.
 * Errors: a bad nats_listen, no nats-server installed, a configuration
 * that cannot be written.  With cfg.nats_urls set: nothing runs,
 * s->broker stays NULL.  Takes s->lock to read the enrolled nodes.
 */
int broker_start(struct server *s, struct tend_err *err);

/*
 * broker_reload - rewrite the configuration from the database (call it
 * after a node was enrolled, approved or revoked, with s->lock held) and
 * make nats-server reload it (SIGHUP): a revoked node's connection is
 * closed.  Does nothing when we run no broker.  Failures are logged.
 */
void broker_reload(struct server *s);

/*
 * broker_reload_soon - broker_reload within BROKER_RELOAD_DELAY_MS, once
 * for every call made meanwhile (the serving loop does it: see
 * broker_reload_due).  For enrollments: the configuration names every
 * node, so rewriting it for each of thousands of nodes enrolling at once
 * cost O(n) each, O(n^2) in all.  A node enrolled a moment ago retries
 * its first connection until it is let in.  Revocations reload at once.
 */
#define BROKER_RELOAD_DELAY_MS 200
void broker_reload_soon(struct server *s);

/* broker_reload_due - whether broker_reload_soon was called since the last reload (and clears it). */
bool broker_reload_due(struct server *s);

/* broker_stop - stop nats-server (SIGTERM, SIGKILL after 5 s) and its supervisor. */
void broker_stop(struct server *s);

/* broker_pid - the running nats-server's pid, 0 when none. */
int broker_pid(struct server *s);

/*
 * broker_client_urls - the URLs agents and our own client connect to: a
 * new JSON array of cfg.nats_urls, or "tls://" + nats_listen (a wildcard
 * address replaced by this host's name for agents, by 127.0.0.1 when
 * local is true).
 */
json_t *broker_client_urls(const struct server *s, bool local);

#endif
