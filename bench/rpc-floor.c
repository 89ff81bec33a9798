/*
 * rpc-floor.c - the floor of the rpc benchmark (suite_rpc.py): the same
 * broadcast fan-out as `tend ping`, with nothing of tend's in it.  N
 * plain NATS subscribers on tend.rpc.all, each on its own TLS
 * connection with the certificate of one emulated agent, all on one
 * event loop as tend-emulator runs them (lib/bus/bus_loop.h), answer
 * every message with a few bytes: no parsing, no signature, no policy.
 * One client (its own connection and threads, as a CLI has) publishes
 * one request and counts the N answers.
 *
 *   rpc-floor --agents N --state DIR --nats URL --cert FILE --key FILE
 *             [--ca FILE] [--prefix emu] [--reps R] [--size BYTES]
 *             [--timeout S] [--threads T] [--delivery-threads D]
 *
 * DIR is tend-emulator's state (DIR/agents/PREFIX-NNNNN.{key,pem},
 * DIR/ca.pem); --cert/--key is the client's identity (any certificate
 * the broker lets publish on tend.rpc.all: the server's).  The request
 * and each answer carry --size bytes (default 64).  Prints one line
 * when the subscribers are ready, then one JSON object per repetition:
 *   {"agents": N, "rep": I, "replies": N, "seconds": S}
 * seconds from the publication to the N-th answer.  Exit 1 when an
 * answer is missing after --timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bus/bus.h"
#include "bus/bus_loop.h"
#include "util/buf.h"
#include "util/strutil.h"

#define FLOOR_AGENTS_MAX 20000
#define FLOOR_PEM_MAX 16384
#define FLOOR_SIZE_MAX (64 << 10)

struct opts {
	int agents, reps, size, timeout_s, threads, delivery;
	const char *state, *nats, *cert, *key, *ca, *prefix;
};

struct sub {
	struct bus_loop_conn *conn;
	char *cert, *key;
	const char *payload;
	int size;
};

/* What the client's reply callback and main share. */
struct tally {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int want, got;
	struct timespec last;
};

struct setup {
	const struct opts *o;
	struct bus_loop *loop;
	struct sub *subs;
	char *ca;
	char *payload;
	atomic_int next, failed;
};

static int read_text(const char *path, char **ret)
{
	struct buf b;
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	buf_init(&b, FLOOR_PEM_MAX);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_add(&b, chunk, (size_t)n) < 0)
			break;
	close(fd);
	if (n != 0 || !b.len) {
		buf_free(&b);
		return -EINVAL;
	}
	*ret = buf_steal(&b);
	return 0;
}

static double seconds(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* answer - a subscriber's whole job: a few bytes back to whoever asked. */
static void answer(void *arg, const char *subject, const char *reply, const void *data, size_t len)
{
	struct sub *s = arg;

	if (reply && *reply)
		bus_loop_publish(s->conn, reply, NULL, s->payload, (size_t)s->size, NULL);
}

/* connect_one - subscriber i: its identity read, connected, subscribed. */
static int connect_one(struct setup *st, int i)
{
	const struct opts *o = st->o;
	struct sub *s = &st->subs[i];
	struct tend_err err = { "" };
	struct buf p = BUF_INIT;
	const char *urls[] = { o->nats, NULL };
	struct bus_loop_conn_opts co = { .urls = urls, .ca_pem = st->ca };
	int r;

	buf_printf(&p, "%s/agents/%s-%05d.pem", o->state, o->prefix, i + 1);
	r = read_text(buf_str(&p), &s->cert);
	buf_reset(&p);
	buf_printf(&p, "%s/agents/%s-%05d.key", o->state, o->prefix, i + 1);
	if (r == 0)
		r = read_text(buf_str(&p), &s->key);
	if (r < 0) {
		fprintf(stderr, "rpc-floor: %s: %s\n", buf_str(&p), strerror(-r));
		buf_free(&p);
		return r;
	}
	buf_free(&p);
	s->payload = st->payload;
	s->size = o->size;
	co.cert_pem = s->cert;
	co.key_pem = s->key;
	r = bus_loop_connect(st->loop, &co, &s->conn, &err);
	if (r == 0)
		r = bus_loop_subscribe(s->conn, "tend.rpc.all", answer, s, &err);
	if (r == 0 && (r = bus_loop_flush(s->conn, 30000)) < 0)
		err_set(&err, r, "no answer to a flush");
	if (r < 0)
		fprintf(stderr, "rpc-floor: subscriber %d: %s\n", i + 1, err.msg);
	return r;
}

static void *connect_worker(void *arg)
{
	struct setup *st = arg;
	int i;

	while (!atomic_load(&st->failed) && (i = atomic_fetch_add(&st->next, 1)) < st->o->agents)
		if (connect_one(st, i) < 0)
			atomic_store(&st->failed, 1);
	return NULL;
}

static void on_reply(void *arg, const char *subject, const char *reply, const void *data,
		     size_t len)
{
	struct tally *t = arg;

	pthread_mutex_lock(&t->lock);
	if (++t->got == t->want) {
		clock_gettime(CLOCK_MONOTONIC, &t->last);
		pthread_cond_broadcast(&t->cond);
	}
	pthread_mutex_unlock(&t->lock);
}

/* one_rep - publish once, wait for the N answers; seconds, or < 0 on a timeout. */
static double one_rep(struct bus *b, const char *inbox, struct tally *t, const struct opts *o,
		      const char *payload, int *ret_got)
{
	struct timespec t0, dl;
	struct tend_err err = { "" };
	double s = -1;

	pthread_mutex_lock(&t->lock);
	t->got = 0;
	t->want = o->agents;
	pthread_mutex_unlock(&t->lock);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (bus_publish_request(b, "tend.rpc.all", inbox, payload, (size_t)o->size, &err) < 0) {
		fprintf(stderr, "rpc-floor: publish: %s\n", err.msg);
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += o->timeout_s;
	pthread_mutex_lock(&t->lock);
	while (t->got < t->want && pthread_cond_timedwait(&t->cond, &t->lock, &dl) != ETIMEDOUT)
		;
	if (t->got >= t->want)
		s = seconds(&t0, &t->last);
	*ret_got = t->got;
	t->want = -1; /* late answers of this round are not the next round's */
	pthread_mutex_unlock(&t->lock);
	return s;
}

static int parse(int argc, char **argv, struct opts *o)
{
	/* clang-format off */
	static const struct option lo[] = {
		{ "agents", required_argument, NULL, 'n' }, { "state", required_argument, NULL, 's' },
		{ "nats", required_argument, NULL, 'u' },   { "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },    { "ca", required_argument, NULL, 'a' },
		{ "prefix", required_argument, NULL, 'p' }, { "reps", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 'z' },   { "timeout", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'T' },
		{ "delivery-threads", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	/* clang-format on */
	long long v;
	int ch;

	*o = (struct opts){ .reps = 5, .size = 64, .timeout_s = 60, .threads = 4, .prefix = "emu" };
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		int *n = NULL;
		long long max = 1000000;

		/* clang-format off */
		switch (ch) {
		case 'n': n = &o->agents; max = FLOOR_AGENTS_MAX; break;
		case 'r': n = &o->reps; break;
		case 'z': n = &o->size; max = FLOOR_SIZE_MAX; break;
		case 't': n = &o->timeout_s; break;
		case 'T': n = &o->threads; max = 64; break;
		case 'D': n = &o->delivery; max = 256; break;
		case 's': o->state = optarg; break;
		case 'u': o->nats = optarg; break;
		case 'c': o->cert = optarg; break;
		case 'k': o->key = optarg; break;
		case 'a': o->ca = optarg; break;
		case 'p': o->prefix = optarg; break;
		default: return -EINVAL;
		}
		/* clang-format on */
		if (n && str_to_ll(optarg, 10, 1, max, &v) < 0)
			return -EINVAL;
		if (n)
			*n = (int)v;
	}
	if (optind != argc || !o->agents || !o->state || !o->nats || !o->cert || !o->key)
		return -EINVAL;
	return 0;
}

/* subscribers - the N subscribers connected on o->threads threads. */
static int subscribers(struct setup *st)
{
	pthread_t th[64];
	int n;

	for (n = 0; n < st->o->threads; n++)
		if (pthread_create(&th[n], NULL, connect_worker, st) != 0)
			break;
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	return n && !atomic_load(&st->failed) ? 0 : -EIO;
}

/* client - the asking side: its own connection and reply inbox; reps rounds. */
static int client(const struct opts *o, const char *ca_file, const char *payload)
{
	const char *urls[] = { o->nats, NULL };
	struct bus_opts bo = {
		.urls = urls, .ca = ca_file, .cert = o->cert, .key = o->key, .name = "rpc-floor"
	};
	struct tally t = { .want = -1 };
	struct tend_err err = { "" };
	struct bus *b = NULL;
	char inbox[BUS_SUBJECT_MAX];
	int r, got = 0;

	pthread_mutex_init(&t.lock, NULL);
	pthread_cond_init(&t.cond, NULL);
	r = bus_connect(&bo, &b, &err);
	for (int i = 0; r == 0 && i < 100 && !bus_connected(b); i++)
		usleep(100000);
	if (r == 0 && (r = bus_inbox(b, inbox, sizeof(inbox))) == 0)
		r = bus_subscribe(b, inbox, NULL, on_reply, &t, &err);
	if (r == 0)
		r = bus_flush(b, 10000);
	if (r < 0)
		fprintf(stderr, "rpc-floor: client: %s\n", err.msg[0] ? err.msg : strerror(-r));
	for (int i = 0; r == 0 && i < o->reps; i++) {
		double s = one_rep(b, inbox, &t, o, payload, &got);

		printf("{\"agents\": %d, \"rep\": %d, \"replies\": %d, \"seconds\": %.6f}\n",
		       o->agents, i, got, s < 0 ? -1.0 : s);
		fflush(stdout);
		if (s < 0)
			r = -ETIMEDOUT;
		usleep(200000); /* the previous round's stragglers, if any, are gone */
	}
	bus_close(b);
	pthread_cond_destroy(&t.cond);
	pthread_mutex_destroy(&t.lock);
	return r;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct setup st = { .o = &o };
	struct bus_loop_opts lo;
	struct tend_err err = { "" };
	struct timespec t0, t1;
	struct rlimit rl;
	struct buf ca = BUF_INIT;
	int r;

	if (parse(argc, argv, &o) < 0) {
		fprintf(stderr, "usage: rpc-floor --agents N --state DIR --nats URL --cert FILE "
				"--key FILE [--ca FILE] [--prefix emu] [--reps R] [--size BYTES] "
				"[--timeout S] [--threads T] [--delivery-threads D]\n");
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (o.ca)
		buf_puts(&ca, o.ca);
	else
		buf_printf(&ca, "%s/ca.pem", o.state);
	if ((r = read_text(buf_str(&ca), &st.ca)) < 0) {
		fprintf(stderr, "rpc-floor: %s: %s\n", buf_str(&ca), strerror(-r));
		buf_free(&ca);
		return 1;
	}
	{
		char *abs = realpath(buf_str(&ca), NULL); /* as tend-emulator: the tend CA alone */

		r = bus_loop_pin_trust(abs ? abs : buf_str(&ca), &err);
		free(abs);
		if (r < 0) {
			fprintf(stderr, "rpc-floor: %s\n", err.msg);
			buf_free(&ca);
			return 1;
		}
	}
	st.payload = xcalloc(1, (size_t)o.size + 1);
	memset(st.payload, 'x', (size_t)o.size);
	st.subs = xcalloc((size_t)o.agents, sizeof(*st.subs));
	lo = (struct bus_loop_opts){ .delivery_threads = o.delivery };
	r = bus_loop_new(&lo, &st.loop, &err);
	if (r < 0)
		fprintf(stderr, "rpc-floor: %s\n", err.msg);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (r == 0 && (r = subscribers(&st)) == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		fprintf(stderr, "rpc-floor: %d subscribers connected in %.1f s\n", o.agents,
			seconds(&t0, &t1));
		r = client(&o, buf_str(&ca), st.payload);
	}
	for (int i = 0; i < o.agents; i++) {
		bus_loop_close(st.subs[i].conn);
		free(st.subs[i].cert);
		free(st.subs[i].key);
	}
	bus_loop_free(st.loop);
	free(st.subs);
	free(st.payload);
	free(st.ca);
	buf_free(&ca);
	return r < 0 ? 1 : 0;
}
