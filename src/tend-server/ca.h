/*
 * ca.h - the server's certificate authority (lib/pki) in its state
 * directory, STATE/ca, and the server's own identity: opened (created on
 * first start) by server_open, used by enrollment (api_enroll.c), the
 * broker (its TLS files) and the bus (catalog signatures).
 */
#ifndef TEND_SERVER_CA_H
#define TEND_SERVER_CA_H

#include "server.h"
#include "util/err.h"

#define CA_NODE_DAYS 365   /* node certificates */
#define CA_SERVER_DAYS 730 /* the server's own certificate (renewed at start past 2/3) */

/*
 * ca_open - open STATE/ca (creating the CA on first start) into s->ca and
 * make sure the server certificate names where the server is reached:
 * localhost, this host, 127.0.0.1, ::1, the HTTP listen address and the
 * broker's (cfg.listen, cfg.nats_listen; wildcards left out).
 */
int ca_open(struct server *s, struct tend_err *err);

/* ca_close - free s->ca (NULL is fine). */
void ca_close(struct server *s);

#endif
