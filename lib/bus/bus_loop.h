/*
 * bus_loop.h - many NATS connections in one process without a thread per
 * connection: what tend-emulator (thousands of agents, each with its own
 * TLS connection and identity) and the benchmark's raw floor need.
 *
 * struct bus (bus.h) is one connection with cnats' usual threads: a
 * reader, a flusher and one delivery thread per subscription.  Times
 * 9,000 that is 36,000 threads.  Here every connection of a struct
 * bus_loop is read and written by ONE libevent loop thread (cnats'
 * external event loop support), publications are written as soon as
 * they are made (no flusher thread), and messages are handed to cnats'
 * process-wide pool of delivery threads (a few, shared by every
 * subscription of every connection that asked for it) instead of a
 * thread per subscription.  cnats keeps its own few process-wide
 * threads (timers, asynchronous callbacks).  While a connection
 * reconnects cnats runs a thread for it; a connection whose broker
 * stays up needs none.
 *
 * Callbacks: a message callback runs on a delivery-pool thread; the
 * messages of one subscription are delivered in order, one at a time,
 * but two subscriptions (even of one connection) may be delivered at
 * the same moment on two threads.  A callback may publish (bus_loop_publish)
 * but must not close its connection.
 *
 * Certificates come as PEM text, not files: thousands of identities are
 * held in memory by their owner, and the CA is read once.
 *
 * Library code: nothing here logs; errors come back in struct tend_err.
 */
#ifndef TEND_BUS_LOOP_H
#define TEND_BUS_LOOP_H

#include <stdbool.h>
#include <stddef.h>

#include "bus/bus.h"
#include "util/err.h"

#define BUS_LOOP_SUBS_MAX 8 /* subscriptions per connection */

struct bus_loop;
struct bus_loop_conn;

struct bus_loop_opts {
	int delivery_threads; /* cnats' process-wide delivery pool; 0: one per CPU */
};

/*
 * bus_loop_pin_trust - make ca_file the only CA of OpenSSL's default
 * trust store in this process: SSL_CERT_FILE=ca_file, SSL_CERT_DIR
 * pointing nowhere.  cnats loads the default store into every TLS
 * context it makes (SSL_CTX_set_default_verify_paths): with Debian's
 * 140 system CAs that costs 76 ms and 850 kB per connection here, and
 * it lets every public CA vouch for the broker.  Process-wide (setenv):
 * call it before any thread that may read the environment runs, and
 * before the first connection.  -EINVAL for a relative or missing path.
 */
int bus_loop_pin_trust(const char *ca_file, struct tend_err *err);

/*
 * bus_loop_new - an event loop running on a thread of its own.  The
 * delivery pool is process-wide: its size is set here, before any
 * connection (cnats never shrinks it).  -ENOMEM, -EAGAIN (no thread).
 */
int bus_loop_new(const struct bus_loop_opts *o, struct bus_loop **ret, struct tend_err *err);

/*
 * bus_loop_free - stop the loop and free l (NULL is fine).  Every
 * connection must have been closed first (bus_loop_close).
 */
void bus_loop_free(struct bus_loop *l);

struct bus_loop_conn_opts {
	const char *const *urls; /* NULL-terminated: "tls://127.0.0.1:4222", ... */
	const char *ca_pem;	 /* the CA that signed the broker's certificate, PEM text */
	const char *cert_pem;	 /* this connection's client certificate, PEM text */
	const char *key_pem;	 /* ... and its private key, PEM text */
	const char *name;	 /* connection name the broker shows (may be NULL) */
	int io_buf;		 /* cnats' read and write buffers, bytes; 0: 8 KiB */
	int timeout_ms;		 /* connecting (TCP, TLS, first PING); 0: 10 s */
	bool reconnect;		 /* reconnect for ever (with jitter) after a loss */
};

/*
 * bus_loop_connect - connect to the broker (blocking: TCP, TLS and the
 * NATS handshake happen in the calling thread, so that callers may
 * connect from a few threads at once) and attach the connection to l's
 * loop.  Safe to call from several threads.  -ECONNREFUSED,
 * -ETIMEDOUT, -EACCES (the broker refused the identity), -EINVAL (a
 * certificate or key that does not load), -EIO else; the reason in err.
 */
int bus_loop_connect(struct bus_loop *l, const struct bus_loop_conn_opts *o,
		     struct bus_loop_conn **ret, struct tend_err *err);

/*
 * bus_loop_subscribe - call cb for every message on subject (wildcards
 * allowed), on a delivery-pool thread.  At most BUS_LOOP_SUBS_MAX per
 * connection (-ENOSPC).  Lives until bus_loop_close.  Not safe against
 * a concurrent bus_loop_close of the same connection.
 */
int bus_loop_subscribe(struct bus_loop_conn *c, const char *subject, bus_msg_fn *cb, void *arg,
		       struct tend_err *err);

/*
 * bus_loop_publish - send data (at most BUS_PAYLOAD_MAX) to subject,
 * with reply as its reply subject (NULL: none); queued and written by
 * the loop at once.  Thread-safe.  -ENOTCONN, -EMSGSIZE, -EIO.
 */
int bus_loop_publish(struct bus_loop_conn *c, const char *subject, const char *reply,
		     const void *data, size_t len, struct tend_err *err);

/*
 * bus_loop_flush - wait (at most timeout_ms) until the broker has
 * processed everything sent so far, subscriptions included.  0,
 * -ETIMEDOUT, -ENOTCONN.
 */
int bus_loop_flush(struct bus_loop_conn *c, int timeout_ms);

/* bus_loop_connected - whether c is connected right now. */
bool bus_loop_connected(struct bus_loop_conn *c);

/*
 * bus_loop_close - close c and free it (NULL is fine): no callback of
 * its subscriptions runs once this returns.
 */
void bus_loop_close(struct bus_loop_conn *c);

#endif
