/*
 * bus-client.c - a tiny NATS client over lib/bus for the integration
 * tests: it speaks to the broker as a node (or as the server) would,
 * with a certificate of the tend CA, and reports what the broker did.
 *
 *   bus-client OPTIONS request SUBJECT DATA   the reply on stdout
 *   bus-client OPTIONS publish SUBJECT DATA   publish, flush, then say
 *                                             whether the broker refused
 *   bus-client OPTIONS listen SUBJECT N       print N messages (one a line)
 *
 * options: --url URL (repeatable) --ca FILE --cert FILE --key FILE
 *          --timeout MS (default 5000; also how long to wait for the
 *          connection)
 *
 * Exit status: 0 done; 1 usage or setup; 2 not connected in time;
 * 3 no answer in time; 4 nobody listens on the subject; 5 the broker
 * refused (its complaint on stderr); 6 another error.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus/bus.h"
#include "util/strutil.h"

#define URLS_MAX 8

struct listen_state {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	long want, got;
};

static void on_msg(void *arg, const char *subject, const char *reply, const void *data, size_t len)
{
	struct listen_state *ls = arg;

	pthread_mutex_lock(&ls->lock);
	if (ls->got < ls->want) {
		printf("%s %.*s\n", subject, (int)len, (const char *)data);
		fflush(stdout);
		ls->got++;
		pthread_cond_broadcast(&ls->cond);
	}
	pthread_mutex_unlock(&ls->lock);
}

/* wait_connected - poll bus_connected for at most ms. */
static bool wait_connected(struct bus *b, long ms)
{
	for (long waited = 0; waited <= ms; waited += 20) {
		if (bus_connected(b))
			return true;
		usleep(20 * 1000);
	}
	return false;
}

static int exit_code(int r)
{
	switch (r) {
	case 0:
		return 0;
	case -ENOTCONN:
		return 2;
	case -ETIMEDOUT:
		return 3;
	case -EHOSTUNREACH:
		return 4;
	case -EPERM:
		return 5;
	default:
		return 6;
	}
}

/* refused - the broker's complaint about this connection, if any (printed). */
static bool refused(struct bus *b)
{
	char e[512];

	bus_last_error(b, e, sizeof(e));
	if (!e[0])
		return false;
	fprintf(stderr, "bus-client: broker: %s\n", e);
	return true;
}

static int do_listen(struct bus *b, const char *subject, long n, long timeout)
{
	struct listen_state ls = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, n, 0 };
	struct tend_err err = { "" };
	struct timespec t;
	int r = bus_subscribe(b, subject, NULL, on_msg, &ls, &err);

	if (r < 0) {
		fprintf(stderr, "bus-client: %s\n", err.msg);
		return exit_code(r);
	}
	bus_flush(b, (int)timeout);
	printf("listening\n");
	fflush(stdout);
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += timeout / 1000;
	pthread_mutex_lock(&ls.lock);
	while (ls.got < ls.want && pthread_cond_timedwait(&ls.cond, &ls.lock, &t) == 0)
		;
	r = ls.got < ls.want ? -ETIMEDOUT : 0;
	pthread_mutex_unlock(&ls.lock);
	if (refused(b))
		r = -EPERM;
	return exit_code(r);
}

static int run(struct bus *b, char **argv, int argc, long timeout)
{
	struct tend_err err = { "" };
	const char *cmd = argv[0];
	char *reply = NULL;
	size_t len = 0;
	int r;

	if (!strcmp(cmd, "listen") && argc == 3) {
		long long n;

		if (str_to_ll(argv[2], 10, 1, 1000000, &n) < 0)
			return 1;
		return do_listen(b, argv[1], (long)n, timeout);
	}
	if (argc != 3 || (strcmp(cmd, "request") && strcmp(cmd, "publish")))
		return 1;
	if (!strcmp(cmd, "request")) {
		r = bus_request(b, argv[1], argv[2], strlen(argv[2]), (int)timeout, &reply, &len,
				&err);
		if (r == 0)
			printf("%.*s\n", (int)len, reply);
		free(reply);
	} else {
		r = bus_publish(b, argv[1], argv[2], strlen(argv[2]), &err);
		/* a refusal comes back asynchronously: flush, then give it a moment */
		if (r == 0)
			r = bus_flush(b, (int)timeout);
		usleep(300 * 1000);
	}
	if (r < 0)
		fprintf(stderr, "bus-client: %s\n", err.msg[0] ? err.msg : strerror(-r));
	if (refused(b) && (r == 0 || r == -ETIMEDOUT))
		r = -EPERM;
	return exit_code(r);
}

static void usage(void)
{
	fputs("usage: bus-client --url URL --ca FILE --cert FILE --key FILE [--timeout MS]\n"
	      "                  request|publish SUBJECT DATA | listen SUBJECT N\n",
	      stderr);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *urls[URLS_MAX + 1] = { NULL };
	struct bus_opts o = { .urls = urls, .name = "bus-client", .reconnect_max_ms = 500 };
	struct tend_err err = { "" };
	struct bus *b = NULL;
	long long timeout = 5000;
	int nurls = 0, ch, ret;

	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			if (nurls < URLS_MAX)
				urls[nurls++] = optarg;
			break;
		case 'a':
			o.ca = optarg;
			break;
		case 'c':
			o.cert = optarg;
			break;
		case 'k':
			o.key = optarg;
			break;
		case 't':
			if (str_to_ll(optarg, 10, 1, 600000, &timeout) < 0) {
				usage();
				return 1;
			}
			break;
		default:
			usage();
			return 1;
		}
	}
	if (optind >= argc) {
		usage();
		return 1;
	}
	if (bus_connect(&o, &b, &err) < 0) {
		fprintf(stderr, "bus-client: %s\n", err.msg);
		return 1;
	}
	if (!wait_connected(b, (long)timeout)) {
		refused(b);
		fprintf(stderr, "bus-client: not connected within %lld ms\n", timeout);
		ret = 2;
	} else {
		ret = run(b, argv + optind, argc - optind, (long)timeout);
		if (ret == 1)
			usage();
	}
	bus_close(b);
	return ret;
}
