/*
 * bus-load.c - load generator for the bus benchmark (suite_bus.py):
 * catalog requests through the broker, answered "not modified" by
 * tend-server, as fast as they come back.
 *
 *   bus-load --url URL --ca CA --cert CERT --key KEY
 *            [--nodes N] [--conns C] [--window W] [--seconds S]
 *
 * First it asks for the catalog of each of N node names
 * (bench-node-0 ... N-1) with no hash, to learn each one's hash.  Then
 * C connections each keep W requests in flight for S seconds: every
 * request names a node and the hash it has, every answer (counted when
 * it is "not-modified") sends the next request.  The requests carry the
 * connection's own inbox as their reply subject, so no thread waits on
 * any single one.  Prints one JSON object:
 *   {"requests","answers","not_modified","other","seconds","per_second"}
 * per_second counts not-modified answers.
 *
 * The certificate must be allowed to publish on every tend.catalog.NODE
 * subject: the server's (CN tend-server) is.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus/bus.h"
#include "util/strutil.h"

#define CONNS_MAX 64
#define HASH_MAX 80

struct load {
	long nodes;
	char (*hashes)[HASH_MAX];
	atomic_bool running;
	atomic_long requests, answers, not_modified, other;
};

struct conn {
	struct load *load;
	struct bus *bus;
	char inbox[128];
	atomic_ulong next; /* node of the next request */
};

static int send_one(struct conn *c)
{
	struct load *l = c->load;
	char subject[128], body[160];
	long node = (long)(atomic_fetch_add(&c->next, 1) % (unsigned long)l->nodes);
	int n;

	snprintf(subject, sizeof(subject), "tend.catalog.bench-node-%ld", node);
	n = snprintf(body, sizeof(body), "{\"hash\":\"%s\"}", l->hashes[node]);
	atomic_fetch_add(&l->requests, 1);
	return bus_publish_request(c->bus, subject, c->inbox, body, (size_t)n, NULL);
}

static void on_answer(void *arg, const char *subject, const char *reply, const void *data,
		      size_t len)
{
	struct conn *c = arg;
	struct load *l = c->load;

	atomic_fetch_add(&l->answers, 1);
	if (memmem(data, len, "\"not-modified\"", 14))
		atomic_fetch_add(&l->not_modified, 1);
	else
		atomic_fetch_add(&l->other, 1);
	if (atomic_load(&l->running))
		send_one(c);
}

/* prime - learn each node's catalog hash (a request with none). */
static int prime(struct bus *b, struct load *l)
{
	for (long i = 0; i < l->nodes; i++) {
		struct tend_err err = { "" };
		char subject[128], *reply = NULL;
		size_t len = 0;
		json_t *ans, *cat;
		const char *hash;
		int r;

		snprintf(subject, sizeof(subject), "tend.catalog.bench-node-%ld", i);
		r = bus_request(b, subject, "{\"hash\":null}", 13, 10000, &reply, &len, &err);
		if (r < 0) {
			fprintf(stderr, "bus-load: %s\n", err.msg);
			return r;
		}
		ans = json_loadb(reply, len, 0, NULL);
		cat = json_loads(json_string_value(json_object_get(ans, "catalog")), 0, NULL);
		hash = json_string_value(json_object_get(cat, "hash"));
		if (!hash || strlen(hash) >= HASH_MAX) {
			fprintf(stderr, "bus-load: %s: no catalog in the answer: %.200s\n", subject,
				reply);
			json_decref(cat);
			json_decref(ans);
			free(reply);
			return -EINVAL;
		}
		snprintf(l->hashes[i], HASH_MAX, "%s", hash);
		json_decref(cat);
		json_decref(ans);
		free(reply);
	}
	return 0;
}

static bool wait_up(struct bus *b)
{
	for (int i = 0; i < 500; i++) {
		if (bus_connected(b))
			return true;
		usleep(20 * 1000);
	}
	return false;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int parse_args(int argc, char **argv, struct bus_opts *o, const char **urls, long long v[4])
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "nodes", required_argument, NULL, 'n' },
		{ "conns", required_argument, NULL, 'C' },
		{ "window", required_argument, NULL, 'w' },
		{ "seconds", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			urls[0] = optarg;
			break;
		case 'a':
			o->ca = optarg;
			break;
		case 'c':
			o->cert = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case 'n':
			if (str_to_ll(optarg, 10, 1, 1000000, &v[0]) < 0)
				return -1;
			break;
		case 'C':
			if (str_to_ll(optarg, 10, 1, CONNS_MAX, &v[1]) < 0)
				return -1;
			break;
		case 'w':
			if (str_to_ll(optarg, 10, 1, 100000, &v[2]) < 0)
				return -1;
			break;
		case 's':
			if (str_to_ll(optarg, 10, 1, 3600, &v[3]) < 0)
				return -1;
			break;
		default:
			return -1;
		}
	}
	return urls[0] && o->ca && o->cert && o->key ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *urls[2] = { NULL, NULL };
	struct bus_opts o = { .urls = urls, .name = "bus-load" };
	long long v[4] = { 1000, 4, 256, 10 }; /* nodes, conns, window, seconds */
	struct conn conns[CONNS_MAX] = { 0 };
	struct load l = { 0 };
	struct tend_err err = { "" };
	double t0, t1;
	int ret = 1;

	if (parse_args(argc, argv, &o, urls, v) < 0) {
		fputs("usage: bus-load --url URL --ca CA --cert CERT --key KEY [--nodes N]"
		      " [--conns C] [--window W] [--seconds S]\n",
		      stderr);
		return 1;
	}
	l.nodes = (long)v[0];
	l.hashes = xcalloc((size_t)l.nodes, sizeof(*l.hashes));
	for (long long i = 0; i < v[1]; i++) {
		conns[i].load = &l;
		atomic_store(&conns[i].next, (unsigned long)i * 7919u);
		if (bus_connect(&o, &conns[i].bus, &err) < 0 || !wait_up(conns[i].bus)) {
			fprintf(stderr, "bus-load: cannot connect: %s\n", err.msg);
			goto out;
		}
		bus_inbox(conns[i].bus, conns[i].inbox, sizeof(conns[i].inbox));
		if (bus_subscribe(conns[i].bus, conns[i].inbox, NULL, on_answer, &conns[i], &err) <
		    0) {
			fprintf(stderr, "bus-load: %s\n", err.msg);
			goto out;
		}
		bus_flush(conns[i].bus, 5000);
	}
	if (prime(conns[0].bus, &l) < 0)
		goto out;
	atomic_store(&l.running, true);
	t0 = now();
	for (long long i = 0; i < v[1]; i++)
		for (long long w = 0; w < v[2]; w++)
			send_one(&conns[i]);
	usleep((useconds_t)(v[3] * 1000000));
	atomic_store(&l.running, false);
	t1 = now();
	printf("{\"requests\": %ld, \"answers\": %ld, \"not_modified\": %ld, \"other\": %ld,"
	       " \"seconds\": %.3f, \"per_second\": %.0f, \"nodes\": %ld, \"conns\": %lld,"
	       " \"window\": %lld}\n",
	       atomic_load(&l.requests), atomic_load(&l.answers), atomic_load(&l.not_modified),
	       atomic_load(&l.other), t1 - t0, (double)atomic_load(&l.not_modified) / (t1 - t0),
	       l.nodes, v[1], v[2]);
	ret = atomic_load(&l.other) ? 2 : 0;
out:
	for (long long i = 0; i < v[1]; i++)
		bus_close(conns[i].bus);
	free(l.hashes);
	return ret;
}
