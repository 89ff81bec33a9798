/*
 * bus_server.h - tend-server on the bus: its own NATS client (the server
 * certificate) answering catalog requests and storing what nodes send.
 */
#ifndef TEND_SERVER_BUS_SERVER_H
#define TEND_SERVER_BUS_SERVER_H

#include <jansson.h>
#include <stdbool.h>

#include "server.h"
#include "util/err.h"

/* Subject prefixes (a node id follows; events end with ".TYPE"). */
#define BUS_SUBJ_CATALOG "tend.catalog."
#define BUS_SUBJ_REPORT "tend.report."
#define BUS_SUBJ_FACTS "tend.facts."
#define BUS_SUBJ_EVENT "tend.event."
#define BUS_SUBJ_AUDIT "tend.audit." /* + node: records of requests (RPC_SUBJ_AUDIT) */
#define BUS_SUBJ_CRL "tend.crl"       /* the revocation list, to every agent (RPC_SUBJ_CRL) */
/* The queue group every replica of tend-server joins. */
#define BUS_QUEUE "tend-server"
/* The largest request accepted on tend.catalog.N. */
#define BUS_CATALOG_REQ_MAX 1024

/*
 * bus_server_start - connect to the broker (broker_client_urls) with the
 * server's certificate and serve, in queue group "tend-server":
 *   tend.catalog.N  {"hash": H|null} -> {"status":"not-modified"} when N's
 *                   catalog at HEAD has hash H, else {"status":"ok",
 *                   "catalog": TEXT, "signature": B64, "signer": PEM}
 *                   (TEXT the compact JSON, signed with the server key),
 *                   or {"status":"error","error"}
 *   tend.report.N   {"id","time","report"} -> {"ok":true} (stored once
 *                   per id), or {"ok":false,"error","retry":bool}
 *   tend.facts.N    {"facts"} -> {"ok":true} | {"ok":false,...}
 *   tend.event.N.T  {"type","node","time","data"}, no answer
 * Returns once subscribed, connected or not (the client reconnects by
 * itself).  Callbacks take s->lock.  s->bus is set.
 */
int bus_server_start(struct server *s, struct tend_err *err);

/* bus_server_stop - disconnect (and log what was served); no callback runs once it returns. */
void bus_server_stop(struct server *s);

/*
 * bus_server_publish_crl - the CA's revocation list to every agent, after
 * a revocation (s->lock held).  Best effort: an agent that misses it
 * gets the list with its next catalog answer.
 */
void bus_server_publish_crl(struct server *s);

#endif
