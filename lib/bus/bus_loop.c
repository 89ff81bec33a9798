/*
 * bus_loop.c - many NATS connections on one libevent loop (see
 * bus_loop.h).
 *
 * cnats does the work: natsOptions_SetEventLoop makes a connection read
 * and write only when the loop says its socket is ready (no reader
 * thread), natsOptions_SetSendAsap hands every publication to the loop
 * at once (no flusher thread), and natsOptions_UseGlobalMessageDelivery
 * queues messages to cnats' shared delivery pool (no thread per
 * subscription).  The glue between cnats and libevent is cnats' own
 * adapter (nats/adapters/libevent.h), which defines its functions in
 * the header: it is included here and nowhere else.
 *
 * The loop runs on one thread from bus_loop_new to bus_loop_free, with
 * libevent's pthread locking on, since connections attach, and cnats
 * asks for write events, from other threads.
 *
 * A connection's subscriptions are counted until cnats says each one is
 * complete (its last callback returned), so that bus_loop_close frees
 * nothing a callback may still use.
 */
#include "bus/bus_loop.h"

#include <errno.h>
#include <event2/event.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <nats/adapters/libevent.h>
#pragma GCC diagnostic pop

#include "bus/bus_int.h"
#include "util/strutil.h"

#define BUS_LOOP_IO_BUF_DEFAULT 8192
#define BUS_LOOP_TIMEOUT_DEFAULT_MS 10000
#define BUS_LOOP_PING_MS (10 * 60 * 1000)
#define BUS_LOOP_RECONNECT_WAIT_MS 2000
#define BUS_LOOP_RECONNECT_JITTER_MS 3000
#define BUS_LOOP_CLOSE_WAIT_MS 10000

struct bus_loop {
	struct event_base *base;
	pthread_t thread;
};

struct bus_loop_sub {
	struct bus_loop_conn *conn;
	bus_msg_fn *cb;
	void *arg;
	natsSubscription *sub;
};

struct bus_loop_conn {
	struct bus_loop *loop;
	natsConnection *nc;
	pthread_mutex_t lock; /* live */
	pthread_cond_t cond;  /* live went down */
	int live;	      /* subscriptions whose last callback is not done */
	size_t nsubs;
	struct bus_loop_sub subs[BUS_LOOP_SUBS_MAX];
};


/* ---- the loop ---- */

int bus_loop_pin_trust(const char *ca_file, struct tend_err *err)
{
	if (!ca_file || ca_file[0] != '/' || access(ca_file, R_OK) < 0)
		return err_set(err, -EINVAL,
			       "%s: the CA must be a readable file named by an absolute path",
			       ca_file ? ca_file : "(none)");
	if (setenv("SSL_CERT_FILE", ca_file, 1) < 0 || setenv("SSL_CERT_DIR", "/dev/null", 1) < 0)
		return err_set(err, -errno, "setenv: %s", strerror(errno));
	return 0;
}

static void *loop_main(void *arg)
{
	struct bus_loop *l = arg;

	event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int bus_loop_new(const struct bus_loop_opts *o, struct bus_loop **ret, struct tend_err *err)
{
	int threads = o && o->delivery_threads > 0 ? o->delivery_threads : 0;
	struct bus_loop *l;
	natsStatus s;
	int r;

	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 && n < 64 ? (int)n : 2;
	}
	s = nats_SetMessageDeliveryPoolSize(threads);
	if (s != NATS_OK)
		return bus_nats_err(err, s, "the message delivery pool");
	natsLibevent_Init(); /* libevent's pthread locking, before any base */
	l = xcalloc(1, sizeof(*l));
	l->base = event_base_new();
	if (!l->base) {
		free(l);
		return err_set(err, -ENOMEM, "cannot make an event loop");
	}
	r = -pthread_create(&l->thread, NULL, loop_main, l);
	if (r < 0) {
		event_base_free(l->base);
		free(l);
		return err_set(err, r, "cannot start the event loop's thread: %s", strerror(-r));
	}
	*ret = l;
	return 0;
}

void bus_loop_free(struct bus_loop *l)
{
	if (!l)
		return;
	event_base_loopbreak(l->base);
	pthread_join(l->thread, NULL);
	event_base_free(l->base);
	free(l);
}

/* ---- connections ---- */

/* conn_options - the options of one connection of l (*ret to destroy). */
static int conn_options(struct bus_loop *l, const struct bus_loop_conn_opts *o, natsOptions **ret,
			struct tend_err *err)
{
	natsOptions *no = NULL;
	natsStatus s;
	int n = 0;

	while (o->urls && o->urls[n])
		n++;
	if (!n || !o->ca_pem || !o->cert_pem || !o->key_pem)
		return err_set(err, -EINVAL,
			       "a connection needs URLs, a CA, a certificate and a key");
	s = natsOptions_Create(&no);
	if (s == NATS_OK)
		s = natsOptions_SetServers(no, (const char **)o->urls, n);
	if (s != NATS_OK) {
		natsOptions_Destroy(no);
		return bus_nats_err(err, s, "broker URLs");
	}
	s = natsOptions_SetSecure(no, true);
	if (s == NATS_OK)
		s = natsOptions_SetCATrustedCertificates(no, o->ca_pem);
	if (s == NATS_OK)
		s = natsOptions_SetCertificatesChain(no, o->cert_pem, o->key_pem);
	if (s == NATS_OK)
		s = natsOptions_SetEventLoop(no, l->base, natsLibevent_Attach, natsLibevent_Read,
					     natsLibevent_Write, natsLibevent_Detach);
	if (s == NATS_OK)
		s = natsOptions_SetSendAsap(no, true);
	if (s == NATS_OK)
		s = natsOptions_UseGlobalMessageDelivery(no, true);
	if (s == NATS_OK)
		s = natsOptions_SetIOBufSize(no,
					     o->io_buf > 0 ? o->io_buf : BUS_LOOP_IO_BUF_DEFAULT);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(no, o->timeout_ms > 0 ? o->timeout_ms :
								   BUS_LOOP_TIMEOUT_DEFAULT_MS);
	if (s != NATS_OK) {
		natsOptions_Destroy(no);
		return bus_nats_err(err, s, "the connection's TLS identity or options");
	}
	if (o->name)
		natsOptions_SetName(no, o->name);
	natsOptions_SetAllowReconnect(no, o->reconnect);
	if (o->reconnect) {
		natsOptions_SetMaxReconnect(no, -1);
		natsOptions_SetReconnectWait(no, BUS_LOOP_RECONNECT_WAIT_MS);
		natsOptions_SetReconnectJitter(no, BUS_LOOP_RECONNECT_JITTER_MS,
					       BUS_LOOP_RECONNECT_JITTER_MS);
	}
	/* cnats keeps every timer of the process in one sorted list and walks
	 * it whenever one fires: with N connections each pinging every I ms
	 * that is N * N / I steps a millisecond.  At 9,000 connections and a
	 * minute it took a third of a core, in bursts, beside the requests
	 * being measured; every ten minutes it is a tenth of that.  A broker
	 * that stops closes the socket, noticed at once; only a connection
	 * that goes silent is noticed later. */
	natsOptions_SetPingInterval(no, BUS_LOOP_PING_MS);
	natsOptions_SetMaxPingsOut(no, 3);
	*ret = no;
	return 0;
}

int bus_loop_connect(struct bus_loop *l, const struct bus_loop_conn_opts *o,
		     struct bus_loop_conn **ret, struct tend_err *err)
{
	struct bus_loop_conn *c;
	natsOptions *no = NULL;
	natsStatus s;
	int r;

	r = conn_options(l, o, &no, err);
	if (r < 0)
		return r;
	c = xcalloc(1, sizeof(*c));
	c->loop = l;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	s = natsConnection_Connect(&c->nc, no);
	natsOptions_Destroy(no); /* the connection keeps a copy */
	if (s != NATS_OK) {
		r = bus_nats_err(err, s, "connecting to the broker");
		natsConnection_Destroy(c->nc);
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
	struct bus_loop_sub *bs = closure;

	bs->cb(bs->arg, natsMsg_GetSubject(m), natsMsg_GetReply(m), natsMsg_GetData(m),
	       (size_t)natsMsg_GetDataLength(m));
	natsMsg_Destroy(m);
}

/* on_sub_done - cnats' last word on a subscription: its callback is over. */
static void on_sub_done(void *closure)
{
	struct bus_loop_conn *c = ((struct bus_loop_sub *)closure)->conn;

	pthread_mutex_lock(&c->lock);
	c->live--;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

int bus_loop_subscribe(struct bus_loop_conn *c, const char *subject, bus_msg_fn *cb, void *arg,
		       struct tend_err *err)
{
	struct bus_loop_sub *bs;
	natsStatus s;

	if (c->nsubs == BUS_LOOP_SUBS_MAX)
		return err_set(err, -ENOSPC, "%s: more than %d subscriptions on one connection",
			       subject, BUS_LOOP_SUBS_MAX);
	bs = &c->subs[c->nsubs];
	*bs = (struct bus_loop_sub){ .conn = c, .cb = cb, .arg = arg };
	s = natsConnection_Subscribe(&bs->sub, c->nc, subject, on_msg, bs);
	if (s != NATS_OK) {
		bs->sub = NULL;
		return bus_nats_err(err, s, subject);
	}
	pthread_mutex_lock(&c->lock);
	c->live++;
	pthread_mutex_unlock(&c->lock);
	natsSubscription_SetOnCompleteCB(bs->sub, on_sub_done, bs);
	c->nsubs++;
	return 0;
}

int bus_loop_publish(struct bus_loop_conn *c, const char *subject, const char *reply,
		     const void *data, size_t len, struct tend_err *err)
{
	natsStatus s;

	if (len > BUS_PAYLOAD_MAX)
		return err_set(err, -EMSGSIZE, "%s: %zu bytes is more than %zu", subject, len,
			       BUS_PAYLOAD_MAX);
	if (reply)
		s = natsConnection_PublishRequest(c->nc, subject, reply, data, (int)len);
	else
		s = natsConnection_Publish(c->nc, subject, data, (int)len);
	if (s != NATS_OK)
		return bus_nats_err(err, s, subject);
	return 0;
}

int bus_loop_flush(struct bus_loop_conn *c, int timeout_ms)
{
	natsStatus s = natsConnection_FlushTimeout(c->nc, timeout_ms > 0 ? timeout_ms : 1);

	return bus_status_errno(s);
}

bool bus_loop_connected(struct bus_loop_conn *c)
{
	return c && natsConnection_Status(c->nc) == NATS_CONN_STATUS_CONNECTED;
}

void bus_loop_close(struct bus_loop_conn *c)
{
	struct timespec t;
	bool stuck;

	if (!c)
		return;
	natsConnection_Close(c->nc);
	/* the subscriptions' last callbacks, then nothing refers to c */
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += BUS_LOOP_CLOSE_WAIT_MS / 1000;
	pthread_mutex_lock(&c->lock);
	while (c->live > 0 && pthread_cond_timedwait(&c->cond, &c->lock, &t) != ETIMEDOUT)
		;
	stuck = c->live > 0;
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < c->nsubs; i++)
		natsSubscription_Destroy(c->subs[i].sub);
	natsConnection_Destroy(c->nc);
	if (stuck)
		return; /* a callback never finished: leak c rather than free it under it */
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
