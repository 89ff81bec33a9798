/*
 * bus.c - the NATS connection of tend-server and tendd (see bus.h): TLS
 * with a client certificate, reconnection for ever with backoff and
 * jitter, requests, publications, subscriptions.
 *
 * cnats does the protocol and reconnects by itself.  But it gives up on
 * a connection in some cases (a peer that accepts TCP and never speaks
 * NATS at the first connect, refused authentication twice, ...) and then
 * closes it for good.  A keeper thread watches for that: a connection
 * that cnats closed while we did not ask is replaced by a new one, made
 * from the same options after the same backoff, with every subscription
 * made again.  So "never gives up" holds whatever cnats decides.
 *
 * Each cnats connection has its own small record (struct bus_conn) that
 * its callbacks receive, so that a late callback of a replaced
 * connection never touches its successor; a record is freed once cnats
 * has made its last callback (the closed callback).  Subscriptions keep
 * one record for their whole life (struct bus_sub), whatever connection
 * carries them.  b->rw guards which connection is current: every
 * operation holds it for reading, the keeper for writing while it swaps.
 *
 * cnats keeps process-wide threads and memory; they are left to the
 * process's exit (releasing them with nats_Close crashes in OpenSSL's
 * own exit handler, and they are reachable, not leaked).
 */
#include "bus/bus.h"

#include <errno.h>
#include <nats/nats.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bus/bus_int.h"
#include "util/strutil.h"

#define BUS_RECONNECT_FIRST_MS 100
#define BUS_RECONNECT_MAX_MS 10000
#define BUS_CN_MAX 64
#define BUS_CLOSE_WAIT_MS 5000
#define BUS_KEEPER_TICK_MS 500
#define BUS_ADMIN_ORG "tend-admin" /* PKI_ADMIN_ORG: lib/bus does not link lib/pki */

struct bus;

/* One cnats connection: what its callbacks get. */
struct bus_conn {
	struct bus *bus;
	natsConnection *nc;
	bool closed; /* its closed callback ran: no callback follows (under bus.lock) */
};

struct bus_sub {
	struct bus *bus;
	char *subject, *queue;
	bus_msg_fn *cb;
	void *arg;
	natsSubscription *sub; /* on the current connection */
};

struct bus {
	natsOptions *opts;
	void (*on_state)(void *arg, bool connected);
	void *arg;
	int reconnect_max_ms;
	atomic_bool up;
	atomic_bool closing; /* bus_close started: nothing new, no on_state */
	pthread_rwlock_t rw; /* conn (read: use it; write: replace it) */
	struct bus_conn *conn;
	pthread_mutex_t lock; /* subs, last_error, every bus_conn.closed, live_subs */
	pthread_cond_t cond;  /* a conn closed, a subscription done, closing */
	struct bus_sub **subs;
	size_t nsubs;
	int live_subs; /* cnats subscriptions whose last callback is not done */
	pthread_t keeper;
	bool keeper_started;
	char inbox[BUS_CN_MAX + 16]; /* "_INBOX.<CN>" */
	char last_error[512];
};

/* rand_u32 - a random number that differs between processes (jitter). */
static uint32_t rand_u32(void)
{
	uint32_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (uint32_t)time(NULL) ^ (uint32_t)getpid() ^ (uint32_t)clock();
	return v;
}


/* ---- connection callbacks (cnats threads) ---- */

/* set_up - the state of conn c changed: only the current one counts. */
static void set_up(struct bus_conn *c, bool up)
{
	struct bus *b = c->bus;
	bool current, was;

	pthread_mutex_lock(&b->lock);
	current = b->conn == c;
	pthread_mutex_unlock(&b->lock);
	if (!current)
		return;
	was = atomic_exchange(&b->up, up);
	if (was != up && b->on_state && !atomic_load(&b->closing))
		b->on_state(b->arg, up);
}

static void on_connected(natsConnection *nc, void *closure)
{
	set_up(closure, true);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
	set_up(closure, false);
}

/* on_closed - the last callback cnats makes for a connection. */
static void on_closed(natsConnection *nc, void *closure)
{
	struct bus_conn *c = closure;
	struct bus *b = c->bus;

	set_up(c, false);
	pthread_mutex_lock(&b->lock);
	c->closed = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus s, void *closure)
{
	struct bus *b = ((struct bus_conn *)closure)->bus;
	const char *text = NULL;

	if (natsConnection_GetLastError(nc, &text) == NATS_OK || !text || !*text)
		text = natsStatus_GetText(s);
	pthread_mutex_lock(&b->lock);
	snprintf(b->last_error, sizeof(b->last_error), "%s", text);
	pthread_mutex_unlock(&b->lock);
}

/* backoff_ms - 100 ms doubling per round up to the cap, plus up to half at random. */
static int64_t backoff_ms(const struct bus *b, int attempts)
{
	int64_t d = BUS_RECONNECT_FIRST_MS;

	for (int i = 1; i < attempts && d < b->reconnect_max_ms; i++)
		d *= 2;
	if (d > b->reconnect_max_ms)
		d = b->reconnect_max_ms;
	return d + (int64_t)(rand_u32() % (uint32_t)(d / 2 + 1));
}

/* reconnect_delay - cnats' wait before the next round over the URLs. */
static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
	return backoff_ms(closure, attempts);
}

/* ---- connecting ---- */

/*
 * is_admin - whether x is an administrator's certificate (O=tend-admin,
 * as lib/pki issues them): its inbox is then "_INBOX.@NAME", a token no
 * node name can be, so that no node may read an admin's replies.
 */
static bool is_admin(X509 *x)
{
	char org[32];
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_organizationName, org,
					  (int)sizeof(org));

	return n > 0 && !strcmp(org, BUS_ADMIN_ORG);
}

/*
 * cert_cn - the common name of the certificate in file path, or in the
 * PEM text pem when path is NULL, into out: letters, digits, '.', '-',
 * '_' only (it becomes a subject token); *ret_admin whether it is an
 * administrator's.
 */
static int cert_cn(const char *path, const char *pem, char *out, size_t len, bool *ret_admin,
		   struct tend_err *err)
{
	const char *what = path ? path : "the client certificate";
	BIO *bio;
	X509 *x = NULL;
	int n, e;

	errno = 0;
	bio = path ? BIO_new_file(path, "re") : BIO_new_mem_buf(pem, -1);
	if (!bio) {
		e = errno ? errno : path ? EIO : ENOMEM;
		return err_set(err, -e, "%s: %s", what, strerror(e));
	}
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!x)
		return err_set(err, -EINVAL, "%s: not a PEM certificate", what);
	n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)len);
	*ret_admin = is_admin(x);
	X509_free(x);
	if (n <= 0 || (size_t)n >= len)
		return err_set(err, -EINVAL, "%s: the certificate has no usable common name", what);
	for (int i = 0; i < n; i++) {
		char c = out[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return err_set(err, -EINVAL,
				       "%s: common name '%s' is not a node or server name", what,
				       out);
	}
	return 0;
}

static int count_urls(const char *const *urls)
{
	int n = 0;

	while (urls && urls[n])
		n++;
	return n;
}

/*
 * set_secure - TLS, trusting nothing but what set_options adds next (the
 * tend CA).  cnats makes its TLS context in natsOptions_SetSecure and
 * calls SSL_CTX_set_default_verify_paths on it, which loads the system's
 * whole CA bundle: a broker certificate from any public CA would then be
 * accepted, and each connection would cost 76 ms and 850 kB more.  The
 * defaults are pointed at nothing for that one call; the environment is
 * put back at once, so the commands tendd runs inherit the caller's.
 */
static natsStatus set_secure(natsOptions *no)
{
	static const char *const vars[] = { "SSL_CERT_FILE", "SSL_CERT_DIR" };
	char *old[2];
	natsStatus s;

	for (int i = 0; i < 2; i++) {
		const char *v = getenv(vars[i]);

		old[i] = v ? xstrdup(v) : NULL;
		setenv(vars[i], "/nonexistent/tend-trusts-only-its-ca", 1);
	}
	s = natsOptions_SetSecure(no, true);
	for (int i = 0; i < 2; i++) {
		if (old[i])
			setenv(vars[i], old[i], 1);
		else
			unsetenv(vars[i]);
		free(old[i]);
	}
	return s;
}

/* set_options - every cnats option tend uses but the callbacks' closure. */
static int set_options(natsOptions *no, const struct bus_opts *o, struct bus *b,
		       struct tend_err *err)
{
	natsStatus s;

	s = natsOptions_SetServers(no, (const char **)o->urls, count_urls(o->urls));
	if (s != NATS_OK)
		return bus_nats_err(err, s, "broker URLs");
	s = set_secure(no);
	if (s == NATS_OK)
		s = o->ca ? natsOptions_LoadCATrustedCertificates(no, o->ca) :
			    natsOptions_SetCATrustedCertificates(no, o->ca_pem);
	if (s != NATS_OK)
		return err_set(err, -EINVAL, "%s: %s", o->ca ? o->ca : "the CA certificate",
			       nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "cannot load");
	s = o->cert ? natsOptions_LoadCertificatesChain(no, o->cert, o->key) :
		      natsOptions_SetCertificatesChain(no, o->cert_pem, o->key_pem);
	if (s != NATS_OK)
		return err_set(err, -EINVAL, "%s, %s: %s", o->cert ? o->cert : "the certificate",
			       o->key ? o->key : "the key",
			       nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "cannot load");
	if (o->name)
		natsOptions_SetName(no, o->name);
	natsOptions_SetCustomInboxPrefix(no, b->inbox);
	natsOptions_SetAllowReconnect(no, true);
	natsOptions_SetMaxReconnect(no, -1);
	natsOptions_SetCustomReconnectDelay(no, reconnect_delay, b);
	natsOptions_SetFailRequestsOnDisconnect(no, true);
	natsOptions_SetTimeout(no, 5000);
	natsOptions_SetPingInterval(no, 30000);
	natsOptions_SetMaxPingsOut(no, 3);
	natsOptions_SetMaxPendingMsgs(no, 65536);
	return 0;
}

/*
 * conn_new - a new cnats connection for b (connected, or connecting in
 * the background); NULL when cnats refuses at once.
 */
static struct bus_conn *conn_new(struct bus *b, struct tend_err *err)
{
	struct bus_conn *c = xcalloc(1, sizeof(*c));
	natsStatus s;

	c->bus = b;
	natsOptions_SetRetryOnFailedConnect(b->opts, true, on_connected, c);
	natsOptions_SetReconnectedCB(b->opts, on_connected, c);
	natsOptions_SetDisconnectedCB(b->opts, on_disconnected, c);
	natsOptions_SetClosedCB(b->opts, on_closed, c);
	natsOptions_SetErrorHandler(b->opts, on_error, c);
	s = natsConnection_Connect(&c->nc, b->opts);
	if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
		bus_nats_err(err, s, "connecting to the broker");
		free(c);
		return NULL;
	}
	return c;
}

/* on_sub_done - cnats is done with one of our subscriptions. */
static void on_sub_done(void *closure)
{
	struct bus *b = closure;

	pthread_mutex_lock(&b->lock);
	b->live_subs--;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
	struct bus_sub *bs = closure;

	bs->cb(bs->arg, natsMsg_GetSubject(m), natsMsg_GetReply(m), natsMsg_GetData(m),
	       (size_t)natsMsg_GetDataLength(m));
	natsMsg_Destroy(m);
}

/* sub_on - subscribe bs on connection nc into *ret. */
static natsStatus sub_on(struct bus_sub *bs, natsConnection *nc, natsSubscription **ret)
{
	natsSubscription *sub = NULL;
	natsStatus s;

	if (bs->queue)
		s = natsConnection_QueueSubscribe(&sub, nc, bs->subject, bs->queue, on_msg, bs);
	else
		s = natsConnection_Subscribe(&sub, nc, bs->subject, on_msg, bs);
	if (s != NATS_OK)
		return s;
	pthread_mutex_lock(&bs->bus->lock);
	bs->bus->live_subs++;
	pthread_mutex_unlock(&bs->bus->lock);
	natsSubscription_SetOnCompleteCB(sub, on_sub_done, bs->bus);
	/* a catalog storm must not be dropped by cnats before we see it */
	natsSubscription_SetPendingLimits(sub, 65536, (int)(256 << 20));
	*ret = sub;
	return NATS_OK;
}

/* wait_closed - wait (at most BUS_CLOSE_WAIT_MS) until c's closed callback ran. */
static bool wait_closed(struct bus *b, struct bus_conn *c)
{
	struct timespec t;
	bool done;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += BUS_CLOSE_WAIT_MS / 1000;
	pthread_mutex_lock(&b->lock);
	while (!c->closed && pthread_cond_timedwait(&b->cond, &b->lock, &t) != ETIMEDOUT)
		;
	done = c->closed;
	pthread_mutex_unlock(&b->lock);
	return done;
}

/* pause_ms - sleep ms unless closing; true when closing. */
static bool pause_ms(struct bus *b, int64_t ms)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&b->lock);
	while (!atomic_load(&b->closing) &&
	       pthread_cond_timedwait(&b->cond, &b->lock, &t) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&b->lock);
	return atomic_load(&b->closing);
}

/*
 * replace - a new connection instead of the closed current one, every
 * subscription moved to it; the old one is freed once cnats is done.
 */
static void replace(struct bus *b)
{
	natsSubscription **old_subs;
	struct bus_conn *c = conn_new(b, NULL), *old;
	size_t n;

	if (!c)
		return;
	pthread_rwlock_wrlock(&b->rw);
	pthread_mutex_lock(&b->lock);
	old = b->conn;
	b->conn = c;
	n = b->nsubs;
	old_subs = xcalloc(n + 1, sizeof(*old_subs));
	pthread_mutex_unlock(&b->lock);
	for (size_t i = 0; i < n; i++) {
		old_subs[i] = b->subs[i]->sub;
		b->subs[i]->sub = NULL;
		sub_on(b->subs[i], c->nc, &b->subs[i]->sub);
	}
	pthread_rwlock_unlock(&b->rw);
	if (natsConnection_Status(c->nc) == NATS_CONN_STATUS_CONNECTED)
		set_up(c, true);
	for (size_t i = 0; i < n; i++)
		natsSubscription_Destroy(old_subs[i]);
	free(old_subs);
	if (wait_closed(b, old)) {
		natsConnection_Destroy(old->nc);
		free(old);
	} /* else cnats may still call it: better kept than freed */
}

/* keeper - replace the connection whenever cnats closed it behind our back. */
static void *keeper(void *arg)
{
	struct bus *b = arg;
	int rounds = 0;

	while (!pause_ms(b, BUS_KEEPER_TICK_MS)) {
		bool closed;

		pthread_rwlock_rdlock(&b->rw);
		closed = natsConnection_IsClosed(b->conn->nc);
		pthread_rwlock_unlock(&b->rw);
		if (!closed) {
			rounds = 0;
			continue;
		}
		if (pause_ms(b, backoff_ms(b, ++rounds)))
			break;
		replace(b);
	}
	return NULL;
}

static void bus_free(struct bus *b)
{
	for (size_t i = 0; i < b->nsubs; i++) {
		free(b->subs[i]->subject);
		free(b->subs[i]->queue);
		free(b->subs[i]);
	}
	free(b->subs);
	natsOptions_Destroy(b->opts);
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
	pthread_rwlock_destroy(&b->rw);
	free(b);
}

int bus_connect(const struct bus_opts *o, struct bus **ret, struct tend_err *err)
{
	char cn[BUS_CN_MAX];
	bool admin = false;
	struct bus *b;
	natsStatus s;
	int r;

	if (!o || !count_urls(o->urls) || !(o->ca || o->ca_pem) || !(o->cert || o->cert_pem) ||
	    !(o->key || o->key_pem))
		return err_set(err, -EINVAL,
			       "the bus needs broker URLs, a CA, a certificate and a key");
	if (!o->cert != !o->key) /* cnats loads both from files or both from memory */
		return err_set(err, -EINVAL,
			       "the bus takes the certificate and the key both as files or both "
			       "as PEM text");
	r = cert_cn(o->cert, o->cert_pem, cn, sizeof(cn), &admin, err);
	if (r < 0)
		return r;
	b = xcalloc(1, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	pthread_rwlock_init(&b->rw, NULL);
	b->on_state = o->on_state;
	b->arg = o->arg;
	b->reconnect_max_ms = o->reconnect_max_ms > 0 ? o->reconnect_max_ms : BUS_RECONNECT_MAX_MS;
	snprintf(b->inbox, sizeof(b->inbox), "_INBOX.%s%s", admin ? "@" : "", cn);
	/* one subject token: "web01.example.com" must not nest under "web01" */
	for (char *p = b->inbox + 7; *p; p++)
		if (*p == '.')
			*p = '~';
	s = natsOptions_Create(&b->opts);
	if (s != NATS_OK) {
		r = bus_nats_err(err, s, "cnats");
		goto fail;
	}
	r = set_options(b->opts, o, b, err);
	if (r < 0)
		goto fail;
	b->conn = conn_new(b, err);
	if (!b->conn) {
		r = -EIO;
		goto fail;
	}
	if (natsConnection_Status(b->conn->nc) == NATS_CONN_STATUS_CONNECTED)
		set_up(b->conn, true);
	r = -pthread_create(&b->keeper, NULL, keeper, b);
	if (r < 0) {
		err_set(err, r, "cannot start a thread: %s", strerror(-r));
		b->keeper_started = false;
		bus_close(b);
		return r;
	}
	b->keeper_started = true;
	*ret = b;
	return 0;
fail:
	bus_free(b);
	return r;
}

/* ---- messages ---- */

/*
 * send_begin - -EINVAL / -EMSGSIZE / -ENOTCONN before anything is sent;
 * on 0 the caller holds b->rw for reading (send_end releases it).
 */
static int send_begin(struct bus *b, const char *subject, size_t len, struct tend_err *err)
{
	if (!b)
		return err_set(err, -ENOTCONN, "no bus");
	if (!subject || !*subject || strlen(subject) >= BUS_SUBJECT_MAX)
		return err_set(err, -EINVAL, "bad subject");
	if (len > BUS_PAYLOAD_MAX)
		return err_set(err, -EMSGSIZE, "%s: %zu bytes is more than the bus carries (%zu)",
			       subject, len, BUS_PAYLOAD_MAX);
	pthread_rwlock_rdlock(&b->rw);
	if (!atomic_load(&b->up) ||
	    natsConnection_Status(b->conn->nc) != NATS_CONN_STATUS_CONNECTED) {
		pthread_rwlock_unlock(&b->rw);
		return err_set(err, -ENOTCONN, "%s: not connected to the broker", subject);
	}
	return 0;
}

static void send_end(struct bus *b)
{
	pthread_rwlock_unlock(&b->rw);
}

int bus_request(struct bus *b, const char *subject, const void *data, size_t len, int timeout_ms,
		char **ret, size_t *ret_len, struct tend_err *err)
{
	natsMsg *m = NULL;
	natsStatus s;
	size_t n;
	char *out;
	int r = send_begin(b, subject, len, err);

	if (r < 0)
		return r;
	s = natsConnection_Request(&m, b->conn->nc, subject, data, (int)len,
				   timeout_ms > 0 ? timeout_ms : 1);
	send_end(b);
	if (s == NATS_TIMEOUT)
		return err_set(err, -ETIMEDOUT, "%s: no answer within %d ms", subject, timeout_ms);
	if (s == NATS_NO_RESPONDERS)
		return err_set(err, -EHOSTUNREACH, "%s: nobody answers that subject", subject);
	if (s != NATS_OK)
		return bus_nats_err(err, s, subject);
	n = (size_t)natsMsg_GetDataLength(m);
	out = malloc(n + 1);
	if (!out) {
		natsMsg_Destroy(m);
		return err_set(err, -ENOMEM, "out of memory");
	}
	memcpy(out, natsMsg_GetData(m), n);
	out[n] = '\0';
	natsMsg_Destroy(m);
	*ret = out;
	*ret_len = n;
	return 0;
}

int bus_publish_request(struct bus *b, const char *subject, const char *reply, const void *data,
			size_t len, struct tend_err *err)
{
	natsStatus s;
	int r = send_begin(b, subject, len, err);

	if (r < 0)
		return r;
	if (reply)
		s = natsConnection_PublishRequest(b->conn->nc, subject, reply, data, (int)len);
	else
		s = natsConnection_Publish(b->conn->nc, subject, data, (int)len);
	send_end(b);
	return s == NATS_OK ? 0 : bus_nats_err(err, s, subject);
}

int bus_publish(struct bus *b, const char *subject, const void *data, size_t len,
		struct tend_err *err)
{
	return bus_publish_request(b, subject, NULL, data, len, err);
}

int bus_respond(struct bus *b, const char *reply, const void *data, size_t len)
{
	natsStatus s;

	if (!b || !reply || !*reply)
		return -EINVAL;
	if (len > BUS_PAYLOAD_MAX)
		return -EMSGSIZE;
	pthread_rwlock_rdlock(&b->rw);
	s = natsConnection_Publish(b->conn->nc, reply, data, (int)len);
	pthread_rwlock_unlock(&b->rw);
	return bus_status_errno(s);
}

int bus_inbox(struct bus *b, char *out, size_t len)
{
	unsigned char rnd[12];
	int w;

	for (size_t i = 0; i < sizeof(rnd); i += 4) {
		uint32_t v = rand_u32();

		memcpy(rnd + i, &v, 4);
	}
	w = snprintf(out, len, "%s.%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x", b->inbox,
		     rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], rnd[8], rnd[9],
		     rnd[10], rnd[11]);
	return w > 0 && (size_t)w < len ? 0 : -ENAMETOOLONG;
}

int bus_subscribe(struct bus *b, const char *subject, const char *queue, bus_msg_fn *cb, void *arg,
		  struct tend_err *err)
{
	struct bus_sub *bs;
	natsStatus s;

	if (!b || !cb)
		return err_set(err, -EINVAL, "no bus or no callback");
	if (!subject || !*subject || strlen(subject) >= BUS_SUBJECT_MAX)
		return err_set(err, -EINVAL, "bad subject");
	bs = xcalloc(1, sizeof(*bs));
	bs->bus = b;
	bs->subject = xstrdup(subject);
	bs->queue = queue ? xstrdup(queue) : NULL;
	bs->cb = cb;
	bs->arg = arg;
	/* under the write lock: the keeper cannot move subscriptions meanwhile */
	pthread_rwlock_wrlock(&b->rw);
	s = sub_on(bs, b->conn->nc, &bs->sub);
	if (s == NATS_CONNECTION_CLOSED)
		s = NATS_OK; /* cnats gave this connection up: the keeper's next one has it */
	if (s == NATS_OK) {
		pthread_mutex_lock(&b->lock);
		b->subs = xrealloc(b->subs, (b->nsubs + 1) * sizeof(*b->subs));
		b->subs[b->nsubs++] = bs;
		pthread_mutex_unlock(&b->lock);
	}
	pthread_rwlock_unlock(&b->rw);
	if (s != NATS_OK) {
		free(bs->subject);
		free(bs->queue);
		free(bs);
		return bus_nats_err(err, s, subject);
	}
	return 0;
}

int bus_flush(struct bus *b, int timeout_ms)
{
	natsStatus s;

	if (!b)
		return -ENOTCONN;
	pthread_rwlock_rdlock(&b->rw);
	s = natsConnection_FlushTimeout(b->conn->nc, timeout_ms > 0 ? timeout_ms : 1);
	pthread_rwlock_unlock(&b->rw);
	return bus_status_errno(s);
}

bool bus_connected(struct bus *b)
{
	bool up;

	if (!b || !atomic_load(&b->up))
		return false;
	pthread_rwlock_rdlock(&b->rw);
	up = natsConnection_Status(b->conn->nc) == NATS_CONN_STATUS_CONNECTED;
	pthread_rwlock_unlock(&b->rw);
	return up;
}

void bus_last_error(struct bus *b, char *out, size_t len)
{
	if (!len)
		return;
	out[0] = '\0';
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	snprintf(out, len, "%s", b->last_error);
	pthread_mutex_unlock(&b->lock);
}

/* all_done - whether cnats will call nothing of b any more (under b->lock). */
static bool all_done(const struct bus *b)
{
	return b->conn->closed && b->live_subs <= 0;
}

void bus_close(struct bus *b)
{
	struct timespec deadline;
	bool done;

	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	atomic_store(&b->closing, true);
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	if (b->keeper_started)
		pthread_join(b->keeper, NULL);
	for (size_t i = 0; i < b->nsubs; i++)
		natsSubscription_Unsubscribe(b->subs[i]->sub);
	natsConnection_Close(b->conn->nc);
	/* cnats calls back from its own threads after Close returns: wait for
	 * the last of those calls before b goes away */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += BUS_CLOSE_WAIT_MS / 1000;
	pthread_mutex_lock(&b->lock);
	while (!all_done(b))
		if (pthread_cond_timedwait(&b->cond, &b->lock, &deadline) == ETIMEDOUT)
			break;
	done = all_done(b);
	pthread_mutex_unlock(&b->lock);
	for (size_t i = 0; i < b->nsubs; i++)
		natsSubscription_Destroy(b->subs[i]->sub);
	natsConnection_Destroy(b->conn->nc);
	if (!done)
		return; /* a callback may still come: keeping b is better than a crash */
	free(b->conn);
	bus_free(b);
	nats_ReleaseThreadMemory();
}
