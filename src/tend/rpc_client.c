/*
 * rpc_client.c - tend-rpc's link to the bus: connect with the admin's
 * identity, send one signed request, collect the replies on one inbox
 * and verify each.
 *
 * One subscription serves the whole run: "<inbox>.*", and request number
 * N asks for replies on "<inbox>.N".  So a late reply to an earlier
 * request (tend up sends many) is recognised by its subject and dropped
 * before any work, there is no thread per node nor per request, and the
 * broker may let an admin subscribe to _INBOX.<name>.> only.
 *
 * cnats delivers on its own thread: the callback only stamps the arrival
 * time and queues the bytes; the main thread verifies (rpc_reply_open,
 * with one certificate cache for the run, so each node's chain is
 * checked once) while more arrive.  A reply that does not verify is
 * counted and reported with the reason, never shown as a result.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bus/bus.h"
#include "rpc.h"
#include "rpc/rpc.h"
#include "util/log.h"
#include "util/strutil.h"

#define QUEUE_MAX ((size_t)256 << 20) /* bytes waiting to be verified */
#define FLUSH_MS 5000

struct msg {
	struct msg *next;
	double t_ms; /* arrival */
	size_t len;  /* of data; larger than RPC_ENVELOPE_MAX: not kept */
	char data[];
};

struct rpc_client {
	struct rpc_identity id;
	struct bus *bus;
	char inbox[BUS_SUBJECT_MAX];
	char *env_urls[RPC_NATS_URLS_MAX + 1];
	struct rpc_certcache *cache;
	char *cache_path;     /* where verified node certificates are kept, or NULL */
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t cond;
	bool up;
	unsigned long seq; /* the request replies are collected for */
	struct msg *head, **tail;
	size_t queued, dropped;
};

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void on_state(void *arg, bool connected)
{
	struct rpc_client *c = arg;

	pthread_mutex_lock(&c->lock);
	c->up = connected;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* on_reply - cnats' thread: queue a reply to the current request. */
static void on_reply(void *arg, const char *subject, const char *reply, const void *data,
		     size_t len)
{
	struct rpc_client *c = arg;
	const char *dot = strrchr(subject, '.');
	size_t keep = len <= RPC_ENVELOPE_MAX ? len : 0;
	unsigned long seq = dot ? strtoul(dot + 1, NULL, 10) : 0;
	struct msg *m;

	/* the broker's "no responders" status (when nobody listens on the
	 * subject) is an empty message: not a reply */
	if (len == 0)
		return;
	pthread_mutex_lock(&c->lock);
	if (seq != c->seq || c->queued + keep > QUEUE_MAX) {
		c->dropped += seq == c->seq;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	m = malloc(sizeof(*m) + keep + 1);
	if (!m) {
		c->dropped++;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	m->next = NULL;
	m->t_ms = now_ms();
	m->len = len;
	memcpy(m->data, data, keep);
	m->data[keep] = '\0';
	*c->tail = m;
	c->tail = &m->next;
	c->queued += keep;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* drop_queue - forget what is queued (under c->lock). */
static void drop_queue(struct rpc_client *c)
{
	struct msg *m, *next;

	for (m = c->head; m; m = next) {
		next = m->next;
		free(m);
	}
	c->head = NULL;
	c->tail = &c->head;
	c->queued = 0;
}

/* broker_urls - --nats, else TEND_NATS (comma-separated), else the bundle's. */
static const char *const *broker_urls(struct rpc_client *c, const struct rpc_opts *o)
{
	const char *env = getenv("TEND_NATS");
	size_t n = 0;

	if (o->nnats)
		return o->nats;
	if (env && *env) {
		for (const char *p = env; *p && n < RPC_NATS_URLS_MAX;) {
			size_t len = strcspn(p, ", ");

			if (len) {
				c->env_urls[n] = xcalloc(1, len + 1);
				memcpy(c->env_urls[n++], p, len);
			}
			p += len;
			p += strspn(p, ", ");
		}
		return (const char *const *)c->env_urls;
	}
	return (const char *const *)c->id.nats;
}

/* wait_up - until connected or ms passed; true when connected. */
static bool wait_up(struct rpc_client *c, int ms)
{
	struct timespec t;
	bool up;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	while (!c->up && pthread_cond_timedwait(&c->cond, &c->lock, &t) != ETIMEDOUT)
		;
	up = c->up;
	pthread_mutex_unlock(&c->lock);
	return up;
}

/* connect_bus - the connection, up, and the inbox subscribed. */
static int connect_bus(struct rpc_client *c, const char *const *urls, struct tend_err *err)
{
	char name[RPC_NAME_MAX + 16], last[512], sub[BUS_SUBJECT_MAX + 8];
	struct bus_opts bo = { .urls = urls };
	int r;

	snprintf(name, sizeof(name), "tend-rpc %s", c->id.name);
	bo.ca_pem = c->id.ca_pem;
	bo.cert_pem = c->id.cert_pem;
	bo.key_pem = c->id.key_pem;
	bo.name = name;
	bo.on_state = on_state;
	bo.arg = c;
	r = bus_connect(&bo, &c->bus, err);
	if (r < 0)
		return r;
	if (!wait_up(c, RPC_CONNECT_TIMEOUT_MS)) {
		bus_last_error(c->bus, last, sizeof(last));
		return err_set(err, -ETIMEDOUT, "cannot reach the broker at %s%s within %d s: %s",
			       urls[0], urls[1] ? " (and others)" : "",
			       RPC_CONNECT_TIMEOUT_MS / 1000,
			       last[0] ? last :
					 "no connection (is it running, and does it trust the tend "
					 "CA and this identity?)");
	}
	if (bus_inbox(c->bus, c->inbox, sizeof(c->inbox) - 24) < 0)
		return err_set(err, -ENAMETOOLONG, "the inbox name is too long");
	snprintf(sub, sizeof(sub), "%s.*", c->inbox);
	r = bus_subscribe(c->bus, sub, NULL, on_reply, c, err);
	if (r == 0 && bus_flush(c->bus, FLUSH_MS) < 0)
		r = err_set(err, -ETIMEDOUT, "the broker does not answer");
	if (r < 0)
		return r;
	/* a refused subscription is only told asynchronously: no reply would ever come */
	bus_last_error(c->bus, last, sizeof(last));
	if (strstr(last, "Permission"))
		return err_set(err, -EPERM,
			       "the broker refused this identity its reply inbox (%s): %s; does it "
			       "know %s (tend-server user add)?",
			       sub, last, c->id.name);
	return 0;
}

/*
 * cache_open - the node certificates an earlier run verified, from
 * $XDG_CACHE_HOME/tend/certs (or ~/.cache/tend/certs): a fresh process
 * need not check every node's chain again (rpc_certfile.c).  Every
 * reply's signature is verified all the same.  TEND_CERT_CACHE=off
 * turns it off; a cache that cannot be read is ignored.
 */
static void cache_open(struct rpc_client *c)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	const char *off = getenv("TEND_CERT_CACHE");
	struct buf dir = BUF_INIT;
	int r;

	if ((off && !strcmp(off, "off")) || (!(xdg && *xdg) && !(home && *home)))
		return;
	if (xdg && *xdg)
		buf_printf(&dir, "%s", xdg);
	else
		buf_printf(&dir, "%s/.cache", home);
	mkdir(buf_str(&dir), 0700);
	buf_puts(&dir, "/tend");
	if (mkdir(buf_str(&dir), 0700) < 0 && errno != EEXIST) {
		buf_free(&dir);
		return;
	}
	buf_puts(&dir, "/certs");
	r = rpc_certcache_load(c->cache, c->id.ca_pem, buf_str(&dir));
	if (r < 0)
		log_warnx("%s: %s; not used", buf_str(&dir), strerror(-r));
	else
		log_debug("%s: %d verified node certificates", buf_str(&dir), r);
	c->cache_path = buf_steal(&dir);
}

int rpc_client_open(const struct rpc_opts *o, struct rpc_client **ret, struct tend_err *err)
{
	struct rpc_client *c = xcalloc(1, sizeof(*c));
	const char *const *urls;
	int r;

	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->tail = &c->head;
	r = rpc_identity_load(o->identity, &c->id, err);
	if (r < 0)
		goto fail;
	urls = broker_urls(c, o);
	if (!urls[0]) {
		r = err_set(err, -EINVAL,
			    "no broker: the identity %s has no 'nats:' line; give --nats URL or "
			    "set TEND_NATS",
			    c->id.path);
		goto fail;
	}
	c->cache = rpc_certcache_new();
	cache_open(c);
	r = connect_bus(c, urls, err);
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	rpc_client_close(c);
	return r;
}

void rpc_client_close(struct rpc_client *c)
{
	if (!c)
		return;
	bus_close(c->bus); /* no callback after this */
	drop_queue(c);
	if (c->cache_path) {
		struct tend_err err = { "" };

		if (rpc_certcache_save(c->cache, c->cache_path, &err) < 0)
			log_debug("certificate cache: %s", err.msg);
		free(c->cache_path);
	}
	for (size_t i = 0; c->env_urls[i]; i++)
		free(c->env_urls[i]);
	rpc_certcache_free(c->cache);
	rpc_identity_free(&c->id);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

const struct rpc_identity *rpc_client_identity(const struct rpc_client *c)
{
	return &c->id;
}

void rpc_outcome_free(struct rpc_outcome *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->nans; i++) {
		free(o->ans[i].node);
		free(o->ans[i].status);
		free(o->ans[i].reason);
		json_decref(o->ans[i].data);
	}
	free(o->ans);
	for (size_t i = 0; i < o->nrej; i++) {
		free(o->rej[i].from);
		free(o->rej[i].reason);
	}
	free(o->rej);
	json_decref(o->missing);
	memset(o, 0, sizeof(*o));
}

/* ---- collecting ---- */

/* What one call collects. */
struct collect {
	const char *id; /* the request's */
	double t0;
	json_t *pending; /* expected nodes not heard yet (object as a set), NULL: none */
	json_t *seen;	 /* nodes heard (object as a set) */
	struct rpc_outcome *out;
	double last_ms;
};

/* claimed - what an unverified reply says of itself: its node and request id. */
static void claimed(const char *data, size_t len, char *node, size_t nlen, char *id, size_t ilen)
{
	json_t *env = json_loadb(data, len, 0, NULL), *body;
	const char *s;

	snprintf(node, nlen, "?");
	id[0] = '\0';
	s = json_string_value(json_object_get(env, "body"));
	body = s ? json_loads(s, 0, NULL) : NULL;
	if ((s = json_string_value(json_object_get(body, "node"))))
		snprintf(node, nlen, "%s", s);
	if ((s = json_string_value(json_object_get(body, "id"))))
		snprintf(id, ilen, "%s", s);
	json_decref(body);
	json_decref(env);
}

static void reject(struct collect *k, const char *from, const char *reason)
{
	struct rpc_outcome *o = k->out;

	o->rej = xgrow(o->rej, o->nrej, &o->rej_cap, sizeof(*o->rej));
	o->rej[o->nrej].from = xstrdup(from);
	o->rej[o->nrej].reason = xstrdup(reason);
	o->nrej++;
}

/* accept - a verified reply body. */
static void accept_body(struct collect *k, json_t *body, double t_ms)
{
	struct rpc_outcome *o = k->out;
	const char *node = json_string_value(json_object_get(body, "node"));
	const char *status = json_string_value(json_object_get(body, "status"));
	struct rpc_answer *a;

	if (!node || !status) {
		reject(k, node ? node : "?", "the reply names no node or status");
		return;
	}
	if (json_object_get(k->seen, node)) {
		o->duplicates++;
		return;
	}
	json_object_set_new(k->seen, node, json_true());
	if (k->pending)
		json_object_del(k->pending, node);
	o->ans = xgrow(o->ans, o->nans, &o->ans_cap, sizeof(*o->ans));
	a = &o->ans[o->nans++];
	a->node = xstrdup(node);
	a->status = xstrdup(status);
	a->reason = xstrdup(json_string_value(json_object_get(body, "reason")));
	a->data = json_incref(json_object_get(body, "data"));
	a->ms = json_number_value(json_object_get(body, "ms"));
	a->rtt_ms = t_ms - k->t0;
	k->last_ms = t_ms - k->t0;
}

/* one_reply - verify m and file it. */
static void one_reply(struct rpc_client *c, struct collect *k, const struct msg *m)
{
	char node[RPC_NAME_MAX + 1], id[RPC_ID_HEX + 1];
	struct tend_err err = { "" };
	json_t *body = NULL;

	if (m->len > RPC_ENVELOPE_MAX) {
		reject(k, "?", "larger than the largest reply accepted");
		return;
	}
	if (rpc_reply_open(c->id.ca_pem, c->cache, m->data, m->len, k->id, &body, &err) < 0) {
		claimed(m->data, m->len, node, sizeof(node), id, sizeof(id));
		if (id[0] && strcmp(id, k->id) != 0)
			return; /* a reply to another request: not ours to judge */
		reject(k, node, err.msg[0] ? err.msg : "does not verify");
		return;
	}
	accept_body(k, body, m->t_ms);
	json_decref(body);
}

/* take_queue - the replies queued so far, or NULL after waiting until deadline. */
static struct msg *take_queue(struct rpc_client *c, double deadline)
{
	struct msg *m;

	pthread_mutex_lock(&c->lock);
	if (!c->head) {
		double left = deadline - now_ms();
		struct timespec t;

		if (left > 0) {
			clock_gettime(CLOCK_REALTIME, &t);
			t.tv_sec += (time_t)(left / 1000);
			t.tv_nsec += (long)((left - (double)(long long)(left / 1000) * 1000) * 1e6);
			if (t.tv_nsec >= 1000000000L) {
				t.tv_sec++;
				t.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&c->cond, &c->lock, &t);
		}
	}
	m = c->head;
	c->head = NULL;
	c->tail = &c->head;
	c->queued = 0;
	pthread_mutex_unlock(&c->lock);
	return m;
}

static int answer_cmp(const void *a, const void *b)
{
	return rpc_node_cmp(((const struct rpc_answer *)a)->node,
			    ((const struct rpc_answer *)b)->node);
}

static int name_cmp(const void *a, const void *b)
{
	return rpc_node_cmp(*(const char *const *)a, *(const char *const *)b);
}

/* finish - sort the answers, list the missing nodes. */
static void finish(struct collect *k, bool expected)
{
	struct rpc_outcome *o = k->out;
	const char **names;
	const char *key;
	size_t n = 0;
	json_t *v;

	if (o->nans)
		qsort(o->ans, o->nans, sizeof(*o->ans), answer_cmp);
	if (!expected)
		return;
	names = xcalloc(json_object_size(k->pending) + 1, sizeof(*names));
	json_object_foreach(k->pending, key, v)
		names[n++] = key;
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	o->missing = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(o->missing, json_string(names[i]));
	free(names);
}

/* collect - replies until the deadline, or until every expected node answered. */
static void collect(struct rpc_client *c, struct collect *k, double deadline)
{
	for (;;) {
		struct msg *m = take_queue(c, deadline), *next;

		for (; m; m = next) {
			next = m->next;
			one_reply(c, k, m);
			free(m);
		}
		if (k->pending && json_object_size(k->pending) == 0)
			break;
		if (now_ms() >= deadline)
			break;
	}
}

/* expect_set - the nodes to wait for as a set: expect, or the one node of a node's own subject. */
static json_t *expect_set(const struct rpc_query *call, const char *one)
{
	json_t *set, *v;
	size_t i;

	if (json_array_size(call->expect) == 0)
		return one ? json_pack("{s:b}", one, 1) : NULL;
	set = json_object();
	json_array_foreach(call->expect, i, v)
		if (json_is_string(v))
			json_object_set_new(set, json_string_value(v), json_true());
	return set;
}

/* send_request - sign and publish call; *ret_t0 the time it left. */
static int send_request(struct rpc_client *c, const struct rpc_query *call, const char *one,
			char id[RPC_ID_HEX + 1], double *ret_t0, struct tend_err *err)
{
	char subject[BUS_SUBJECT_MAX], reply[BUS_SUBJECT_MAX + 32], before[512], after[512];
	long long ttl =
		call->timeout_ms > RPC_TTL_DEFAULT_MS ? call->timeout_ms : RPC_TTL_DEFAULT_MS;
	unsigned long seq;
	char *text = NULL;
	size_t len = 0;
	int r;

	if (ttl > RPC_TTL_MAX_MS)
		ttl = RPC_TTL_MAX_MS;
	r = rpc_request_new(c->id.key, c->id.cert_pem, call->action, call->args, call->filter, 0,
			    ttl, id, &text, &len, err);
	if (r < 0)
		return r;
	snprintf(subject, sizeof(subject), "%s%s", one ? RPC_SUBJ_NODE : RPC_SUBJ_ALL,
		 one ? one : "");
	pthread_mutex_lock(&c->lock);
	seq = ++c->seq;
	c->dropped = 0;
	drop_queue(c); /* late replies to the request before */
	pthread_mutex_unlock(&c->lock);
	snprintf(reply, sizeof(reply), "%s.%lu", c->inbox, seq);
	bus_last_error(c->bus, before, sizeof(before));
	*ret_t0 = now_ms();
	r = bus_publish_request(c->bus, subject, reply, text, len, err);
	free(text);
	if (r < 0)
		return r;
	if (bus_flush(c->bus, FLUSH_MS) < 0)
		return err_set(err, -ETIMEDOUT, "%s: the broker does not answer", subject);
	bus_last_error(c->bus, after, sizeof(after));
	if (after[0] && strcmp(before, after) && strstr(after, "Permission"))
		return err_set(err, -EPERM, "the broker refused the request: %s", after);
	return 0;
}

int rpc_client_call(struct rpc_client *c, const struct rpc_query *call, struct rpc_outcome *ret,
		    struct tend_err *err)
{
	const char *one = rpc_filter_one_node(call->filter);
	struct rpc_outcome o = { .ans = NULL };
	char id[RPC_ID_HEX + 1];
	struct collect k = { .id = id, .out = &o };
	size_t dropped;
	char why[96];
	double end;
	int r;

	k.pending = expect_set(call, one);
	k.seen = json_object();
	r = send_request(c, call, one, id, &k.t0, err);
	if (r < 0)
		goto out;
	collect(c, &k, k.t0 + call->timeout_ms);
	end = now_ms();
	o.waited_ms = end - k.t0;
	o.elapsed_ms = o.nans ? k.last_ms : o.waited_ms;
	pthread_mutex_lock(&c->lock);
	c->seq++; /* whatever comes now is late */
	dropped = c->dropped;
	pthread_mutex_unlock(&c->lock);
	if (dropped) {
		snprintf(why, sizeof(why), "%zu replies dropped: more arrived than could be kept",
			 dropped);
		reject(&k, "?", why);
	}
	finish(&k, k.pending != NULL);
	*ret = o;
	memset(&o, 0, sizeof(o));
out:
	rpc_outcome_free(&o);
	json_decref(k.pending);
	json_decref(k.seen);
	return r;
}
