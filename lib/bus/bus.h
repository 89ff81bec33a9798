/*
 * bus.h - tend's message bus: a thin wrapper over cnats (the NATS C
 * client) that tend-server, tendd and the CLI's tend-rpc share.  One struct
 * bus is one NATS connection over TLS with a client certificate from the
 * tend CA.
 *
 * The connection never gives up: bus_connect returns at once even when no
 * broker answers yet, and from then on cnats reconnects in the background
 * for ever, waiting between rounds with an exponential backoff (capped)
 * plus random jitter so that thousands of agents do not come back at the
 * same instant.  on_state tells the owner when the connection comes and
 * goes; requests and publications made while it is down fail at once
 * with -ENOTCONN instead of waiting in cnats' reconnect buffer (a report
 * is spooled by its sender, an event is simply dropped).
 *
 * Callbacks (subscriptions, on_state) run on cnats' threads, one thread
 * per subscription, messages of one subscription in order.  A callback
 * must not call bus_close.  The wrapper itself does not log: it returns
 * errors with a message.
 *
 * Reply inboxes are "_INBOX.<CN>.…" where CN is the common name of the
 * client certificate with its dots written '~' (one subject token, so
 * that "web01.example.com" does not nest under "web01"), so that the
 * broker can let node N subscribe only to its own replies (_INBOX.N.>),
 * never to another node's catalog.  An administrator's certificate
 * (O=tend-admin) has "_INBOX.@<CN>.…": no node name holds '@', so no
 * node may read an admin's replies, whatever it is called.
 */
#ifndef TEND_BUS_H
#define TEND_BUS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/* The largest payload sent or accepted (the broker's max_payload). */
#define BUS_PAYLOAD_MAX ((size_t)8 << 20)
/* The longest subject this wrapper handles. */
#define BUS_SUBJECT_MAX 512

struct bus;

struct bus_opts {
	const char *const *urls; /* NULL-terminated: "tls://127.0.0.1:4222", ... */
	const char *ca;		 /* PEM file: the CA that signed the broker's cert */
	const char *cert, *key;	 /* PEM files: this client's certificate and key */
	/* the same as PEM text, each used when its file above is NULL (an
	 * admin's identity bundle holds all three in one file) */
	const char *ca_pem, *cert_pem, *key_pem;
	const char *name;	 /* connection name the broker shows (may be NULL) */
	void (*on_state)(void *arg, bool connected); /* may be NULL */
	void *arg;
	int reconnect_max_ms; /* longest wait between rounds; 0: 10 s */
};

/* A message handler: reply is NULL when the sender expects none. */
typedef void bus_msg_fn(void *arg, const char *subject, const char *reply, const void *data,
			size_t len);

/*
 * bus_connect - start a connection with o (everything is copied).  Returns
 * 0 with *ret whether or not a broker answered yet (bus_connected tells);
 * -EINVAL when an option is wrong (no URL, a certificate or key that
 * cannot be read, neither a file nor PEM text for one of them, ...), with
 * the reason in err.
 */
int bus_connect(const struct bus_opts *o, struct bus **ret, struct tend_err *err);

/*
 * bus_request - send data to subject and wait at most timeout_ms for one
 * reply: *ret (malloc'd, NUL-terminated after ret_len bytes).  -ENOTCONN
 * when not connected, -ETIMEDOUT when nobody answered in time,
 * -EHOSTUNREACH when nobody listens on subject (the broker says so at
 * once), -EMSGSIZE when data is larger than BUS_PAYLOAD_MAX, -EIO else.
 */
int bus_request(struct bus *b, const char *subject, const void *data, size_t len, int timeout_ms,
		char **ret, size_t *ret_len, struct tend_err *err);

/* bus_publish - send data to subject, no reply expected; errors as bus_request. */
int bus_publish(struct bus *b, const char *subject, const void *data, size_t len,
		struct tend_err *err);

/*
 * bus_publish_request - send data to subject asking for replies on reply
 * (an inbox the caller subscribed to: bus_inbox): many requests in flight
 * at once without a thread each.  Errors as bus_publish.
 */
int bus_publish_request(struct bus *b, const char *subject, const char *reply, const void *data,
			size_t len, struct tend_err *err);

/*
 * bus_inbox - a new unique inbox subject ("_INBOX.<CN>.<random>") into
 * out; -ENAMETOOLONG when it does not fit.
 */
int bus_inbox(struct bus *b, char *out, size_t len);

/*
 * bus_subscribe - call cb for every message on subject (wildcards "*" and
 * ">" allowed); with queue, the broker hands each message to one member
 * of the queue group only.  Subscriptions survive reconnections and live
 * until bus_close.  -EINVAL for a bad subject.
 */
int bus_subscribe(struct bus *b, const char *subject, const char *queue, bus_msg_fn *cb, void *arg,
		  struct tend_err *err);

/* bus_respond - answer a request whose reply subject is reply; 0 or -errno. */
int bus_respond(struct bus *b, const char *reply, const void *data, size_t len);

/* bus_flush - wait until the broker has everything sent so far; -ETIMEDOUT. */
int bus_flush(struct bus *b, int timeout_ms);

/* bus_connected - whether the connection is up right now. */
bool bus_connected(struct bus *b);

/*
 * bus_last_error - the broker's last asynchronous complaint about this
 * connection (e.g. "Permissions Violation for Publish to ..."), copied
 * into out ("" when none); a refused publication is only known this way.
 */
void bus_last_error(struct bus *b, char *out, size_t len);

/*
 * bus_close - close the connection and free b (NULL is fine): no callback
 * runs once it returns.  The last bus_close of the process also releases
 * cnats' own threads and memory.
 */
void bus_close(struct bus *b);

#endif
