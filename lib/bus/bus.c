/*
 * bus.c - the NATS connection of tend-server and tendd (see bus.h): TLS
 * with a client certificate, reconnection for ever with backoff and
 * jitter, requests, publications, subscriptions.
 *
 * cnats does the protocol; this file chooses its options once so that
 * both binaries behave the same, turns natsStatus into -errno with a
 * message, and keeps the connection's state (up or down) where
 * bus_connected can read it without asking cnats.
 *
 * cnats keeps process-wide threads and memory (its timer and delivery
 * threads, its SSL initialisation).  They are released when the last
 * connection of the process is closed, so that sanitizer builds report
 * no leak and a daemon that closes its bus holds nothing of cnats.
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

#include "util/strutil.h"

#define BUS_RECONNECT_FIRST_MS 100
#define BUS_RECONNECT_MAX_MS 10000
#define BUS_CN_MAX 64
#define BUS_CLOSE_WAIT_MS 5000

struct bus_sub {
	struct bus *bus;
	natsSubscription *sub;
	bus_msg_fn *cb;
	void *arg;
	bool done; /* its last callback has returned (under bus.lock) */
};

struct bus {
	natsConnection *nc;
	void (*on_state)(void *arg, bool connected);
	void *arg;
	int reconnect_max_ms;
	atomic_bool up;
	atomic_bool closing;   /* bus_close started: on_state is not called */
	pthread_mutex_t lock;  /* subs, last_error, closed */
	pthread_cond_t cond;   /* closed or a subscription done */
	bool closed;           /* cnats' closed callback ran: no callback follows */
	struct bus_sub **subs;
	size_t nsubs;
	char inbox[BUS_CN_MAX + 16]; /* "_INBOX.<CN>" */
	char last_error[512];
};

/* Open connections in this process: the last one closed closes cnats. */
static atomic_int bus_open_count;

/* status_errno - a natsStatus as -errno. */
static int status_errno(natsStatus s)
{
	switch (s) {
	case NATS_OK:
		return 0;
	case NATS_TIMEOUT:
		return -ETIMEDOUT;
	case NATS_NO_RESPONDERS:
		return -EHOSTUNREACH;
	case NATS_CONNECTION_CLOSED:
	case NATS_CONNECTION_DISCONNECTED:
	case NATS_NOT_YET_CONNECTED:
	case NATS_STALE_CONNECTION:
		return -ENOTCONN;
	case NATS_MAX_PAYLOAD:
		return -EMSGSIZE;
	case NATS_NOT_PERMITTED:
		return -EPERM;
	case NATS_INVALID_SUBJECT:
	case NATS_INVALID_ARG:
		return -EINVAL;
	case NATS_NO_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* nats_err - -errno of s, with "WHAT: cnats' text" in err. */
static int nats_err(struct tend_err *err, natsStatus s, const char *what)
{
	const char *text = nats_GetLastError(NULL);

	return err_set(err, status_errno(s) ? status_errno(s) : -EIO, "%s: %s", what,
		       text && *text ? text : natsStatus_GetText(s));
}

/* rand_u32 - a random number that differs between processes (jitter). */
static uint32_t rand_u32(void)
{
	uint32_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (uint32_t)time(NULL) ^ (uint32_t)getpid() ^ (uint32_t)clock();
	return v;
}

/* ---- connection state callbacks (cnats threads) ---- */

static void set_up(struct bus *b, bool up)
{
	bool was = atomic_exchange(&b->up, up);

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
	struct bus *b = closure;

	set_up(b, false);
	pthread_mutex_lock(&b->lock);
	b->closed = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus s, void *closure)
{
	struct bus *b = closure;
	const char *text = NULL;

	if (natsConnection_GetLastError(nc, &text) == NATS_OK || !text || !*text)
		text = natsStatus_GetText(s);
	pthread_mutex_lock(&b->lock);
	snprintf(b->last_error, sizeof(b->last_error), "%s", text);
	pthread_mutex_unlock(&b->lock);
}

/*
 * reconnect_delay - the wait before the next round over the URLs: 100 ms
 * doubling each round up to the cap, plus up to half of it at random
 * (attempts counts the rounds since the connection was lost).
 */
static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
	const struct bus *b = closure;
	int64_t d = BUS_RECONNECT_FIRST_MS;

	for (int i = 1; i < attempts && d < b->reconnect_max_ms; i++)
		d *= 2;
	if (d > b->reconnect_max_ms)
		d = b->reconnect_max_ms;
	return d + (int64_t)(rand_u32() % (uint32_t)(d / 2 + 1));
}

/* ---- connecting ---- */

/*
 * cert_cn - the common name of the certificate in file path into out:
 * letters, digits, '.', '-', '_' only (it becomes a subject token).
 */
static int cert_cn(const char *path, char *out, size_t len, struct tend_err *err)
{
	FILE *f = fopen(path, "re");
	X509 *x = NULL;
	int n;

	if (!f)
		return err_set(err, -errno, "%s: %s", path, strerror(errno));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		return err_set(err, -EINVAL, "%s: not a PEM certificate", path);
	n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)len);
	X509_free(x);
	if (n <= 0 || (size_t)n >= len)
		return err_set(err, -EINVAL, "%s: the certificate has no usable common name", path);
	for (int i = 0; i < n; i++) {
		char c = out[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return err_set(err, -EINVAL,
				       "%s: common name '%s' is not a node or server name", path,
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

/* set_options - every cnats option tend uses; 0 or -errno with err. */
static int set_options(natsOptions *no, const struct bus_opts *o, struct bus *b,
		       struct tend_err *err)
{
	natsStatus s;

	s = natsOptions_SetServers(no, (const char **)o->urls, count_urls(o->urls));
	if (s != NATS_OK)
		return nats_err(err, s, "broker URLs");
	s = natsOptions_SetSecure(no, true);
	if (s == NATS_OK)
		s = natsOptions_LoadCATrustedCertificates(no, o->ca);
	if (s != NATS_OK)
		return err_set(err, -EINVAL, "%s: %s", o->ca,
			       nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "cannot load");
	s = natsOptions_LoadCertificatesChain(no, o->cert, o->key);
	if (s != NATS_OK)
		return err_set(err, -EINVAL, "%s, %s: %s", o->cert, o->key,
			       nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "cannot load");
	if (o->name)
		natsOptions_SetName(no, o->name);
	natsOptions_SetCustomInboxPrefix(no, b->inbox);
	natsOptions_SetAllowReconnect(no, true);
	natsOptions_SetMaxReconnect(no, -1);
	natsOptions_SetReconnectJitter(no, 100, 1000);
	natsOptions_SetCustomReconnectDelay(no, reconnect_delay, b);
	natsOptions_SetRetryOnFailedConnect(no, true, on_connected, b);
	natsOptions_SetReconnectedCB(no, on_connected, b);
	natsOptions_SetDisconnectedCB(no, on_disconnected, b);
	natsOptions_SetClosedCB(no, on_closed, b);
	natsOptions_SetErrorHandler(no, on_error, b);
	natsOptions_SetFailRequestsOnDisconnect(no, true);
	natsOptions_SetTimeout(no, 5000);
	natsOptions_SetPingInterval(no, 30000);
	natsOptions_SetMaxPingsOut(no, 3);
	natsOptions_SetMaxPendingMsgs(no, 65536);
	return 0;
}

static void bus_free(struct bus *b)
{
	for (size_t i = 0; i < b->nsubs; i++)
		free(b->subs[i]);
	free(b->subs);
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* lib_release - close cnats when no connection of ours is open any more. */
static void lib_release(void)
{
	if (atomic_fetch_sub(&bus_open_count, 1) == 1)
		nats_ReleaseThreadMemory();
}

int bus_connect(const struct bus_opts *o, struct bus **ret, struct tend_err *err)
{
	char cn[BUS_CN_MAX];
	natsOptions *no = NULL;
	struct bus *b;
	natsStatus s;
	int r;

	if (!o || !count_urls(o->urls) || !o->ca || !o->cert || !o->key)
		return err_set(err, -EINVAL, "the bus needs broker URLs, a CA, a certificate and a key");
	r = cert_cn(o->cert, cn, sizeof(cn), err);
	if (r < 0)
		return r;
	b = xcalloc(1, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	b->on_state = o->on_state;
	b->arg = o->arg;
	b->reconnect_max_ms = o->reconnect_max_ms > 0 ? o->reconnect_max_ms : BUS_RECONNECT_MAX_MS;
	snprintf(b->inbox, sizeof(b->inbox), "_INBOX.%s", cn);
	/* one subject token: "web01.example.com" must not nest under "web01" */
	for (char *p = b->inbox + 7; *p; p++)
		if (*p == '.')
			*p = '~';
	atomic_fetch_add(&bus_open_count, 1);
	s = natsOptions_Create(&no);
	if (s != NATS_OK) {
		r = nats_err(err, s, "cnats");
		goto fail;
	}
	r = set_options(no, o, b, err);
	if (r < 0)
		goto fail;
	s = natsConnection_Connect(&b->nc, no);
	if (s == NATS_OK) {
		atomic_store(&b->up, true);
		if (b->on_state)
			b->on_state(b->arg, true);
	} else if (s != NATS_NOT_YET_CONNECTED) {
		r = nats_err(err, s, "connecting to the broker");
		goto fail;
	}
	natsOptions_Destroy(no);
	*ret = b;
	return 0;
fail:
	natsOptions_Destroy(no);
	bus_free(b);
	lib_release();
	return r;
}

/* ---- messages ---- */

/* check_send - -ENOTCONN / -EMSGSIZE / -EINVAL before anything is sent. */
static int check_send(struct bus *b, const char *subject, size_t len, struct tend_err *err)
{
	if (!b || !b->nc)
		return err_set(err, -ENOTCONN, "no bus");
	if (!subject || !*subject || strlen(subject) >= BUS_SUBJECT_MAX)
		return err_set(err, -EINVAL, "bad subject");
	if (len > BUS_PAYLOAD_MAX)
		return err_set(err, -EMSGSIZE, "%s: %zu bytes is more than the bus carries (%zu)",
			       subject, len, BUS_PAYLOAD_MAX);
	if (!atomic_load(&b->up) || natsConnection_Status(b->nc) != NATS_CONN_STATUS_CONNECTED)
		return err_set(err, -ENOTCONN, "%s: not connected to the broker", subject);
	return 0;
}

int bus_request(struct bus *b, const char *subject, const void *data, size_t len, int timeout_ms,
		char **ret, size_t *ret_len, struct tend_err *err)
{
	natsMsg *m = NULL;
	natsStatus s;
	size_t n;
	char *out;
	int r = check_send(b, subject, len, err);

	if (r < 0)
		return r;
	s = natsConnection_Request(&m, b->nc, subject, data, (int)len,
				   timeout_ms > 0 ? timeout_ms : 1);
	if (s == NATS_TIMEOUT)
		return err_set(err, -ETIMEDOUT, "%s: no answer within %d ms", subject, timeout_ms);
	if (s == NATS_NO_RESPONDERS)
		return err_set(err, -EHOSTUNREACH, "%s: nobody answers that subject", subject);
	if (s != NATS_OK)
		return nats_err(err, s, subject);
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
	int r = check_send(b, subject, len, err);

	if (r < 0)
		return r;
	if (reply)
		s = natsConnection_PublishRequest(b->nc, subject, reply, data, (int)len);
	else
		s = natsConnection_Publish(b->nc, subject, data, (int)len);
	return s == NATS_OK ? 0 : nats_err(err, s, subject);
}

int bus_publish(struct bus *b, const char *subject, const void *data, size_t len,
		struct tend_err *err)
{
	return bus_publish_request(b, subject, NULL, data, len, err);
}

int bus_respond(struct bus *b, const char *reply, const void *data, size_t len)
{
	natsStatus s;

	if (!b || !b->nc || !reply || !*reply)
		return -EINVAL;
	if (len > BUS_PAYLOAD_MAX)
		return -EMSGSIZE;
	s = natsConnection_Publish(b->nc, reply, data, (int)len);
	return status_errno(s);
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

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
	struct bus_sub *bs = closure;

	bs->cb(bs->arg, natsMsg_GetSubject(m), natsMsg_GetReply(m), natsMsg_GetData(m),
	       (size_t)natsMsg_GetDataLength(m));
	natsMsg_Destroy(m);
}

/* on_sub_done - cnats is done with bs: its last message callback returned. */
static void on_sub_done(void *closure)
{
	struct bus_sub *bs = closure;

	pthread_mutex_lock(&bs->bus->lock);
	bs->done = true;
	pthread_cond_broadcast(&bs->bus->cond);
	pthread_mutex_unlock(&bs->bus->lock);
}

int bus_subscribe(struct bus *b, const char *subject, const char *queue, bus_msg_fn *cb, void *arg,
		  struct tend_err *err)
{
	struct bus_sub *bs;
	natsStatus s;

	if (!b || !b->nc || !cb)
		return err_set(err, -EINVAL, "no bus or no callback");
	if (!subject || !*subject || strlen(subject) >= BUS_SUBJECT_MAX)
		return err_set(err, -EINVAL, "bad subject");
	bs = xcalloc(1, sizeof(*bs));
	bs->bus = b;
	bs->cb = cb;
	bs->arg = arg;
	if (queue)
		s = natsConnection_QueueSubscribe(&bs->sub, b->nc, subject, queue, on_msg, bs);
	else
		s = natsConnection_Subscribe(&bs->sub, b->nc, subject, on_msg, bs);
	if (s != NATS_OK) {
		free(bs);
		return nats_err(err, s, subject);
	}
	natsSubscription_SetOnCompleteCB(bs->sub, on_sub_done, bs);
	/* a catalog storm must not be dropped by cnats before we see it */
	natsSubscription_SetPendingLimits(bs->sub, 65536, (int)(256 << 20));
	pthread_mutex_lock(&b->lock);
	b->subs = xrealloc(b->subs, (b->nsubs + 1) * sizeof(*b->subs));
	b->subs[b->nsubs++] = bs;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

int bus_flush(struct bus *b, int timeout_ms)
{
	if (!b || !b->nc)
		return -ENOTCONN;
	return status_errno(natsConnection_FlushTimeout(b->nc, timeout_ms > 0 ? timeout_ms : 1));
}

bool bus_connected(struct bus *b)
{
	return b && b->nc && atomic_load(&b->up) &&
	       natsConnection_Status(b->nc) == NATS_CONN_STATUS_CONNECTED;
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
	if (!b->closed)
		return false;
	for (size_t i = 0; i < b->nsubs; i++)
		if (!b->subs[i]->done)
			return false;
	return true;
}

void bus_close(struct bus *b)
{
	struct timespec deadline;
	bool done;

	if (!b)
		return;
	atomic_store(&b->closing, true);
	for (size_t i = 0; i < b->nsubs; i++)
		natsSubscription_Unsubscribe(b->subs[i]->sub);
	natsConnection_Close(b->nc);
	/* cnats calls back from its own threads after Close returns: wait for
	 * the last of those calls before b goes away */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += BUS_CLOSE_WAIT_MS / 1000;
	pthread_mutex_lock(&b->lock);
	while (!(done = all_done(b)))
		if (pthread_cond_timedwait(&b->cond, &b->lock, &deadline) == ETIMEDOUT)
			break;
	done = all_done(b);
	pthread_mutex_unlock(&b->lock);
	for (size_t i = 0; i < b->nsubs; i++)
		natsSubscription_Destroy(b->subs[i]->sub);
	natsConnection_Destroy(b->nc);
	if (!done)
		return; /* a callback may still come: keeping b is better than a crash */
	bus_free(b);
	lib_release();
}
