/*
 * idle-floor.c - the least an agent on tend's bus can be, for the bus
 * suite (suite_bus.py) to show beside idle tendd: one process that
 * connects to the broker as tendd does (the same cnats and OpenSSL, the
 * node's certificate from tendd's state, mutual TLS), subscribes to the
 * node's RPC subject, and does nothing else until SIGTERM.  Its RSS is
 * what the libraries and one TLS connection cost before tend does
 * anything at all.
 *
 *   idle-floor STATE      (a tendd --state directory that has enrolled)
 *
 * Prints "connected" once the broker has accepted it.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bus/bus.h"
#include "tendd.h"
#include "util/buf.h"

static void on_msg(void *arg, const char *subject, const char *reply, const void *data,
		   size_t len)
{
}

int main(int argc, char **argv)
{
	struct tend_err err = { "" };
	struct agent_conf c = { 0 };
	struct buf ca = BUF_INIT, cert = BUF_INIT, key = BUF_INIT, subj = BUF_INIT;
	struct bus *b = NULL;
	sigset_t sigs;
	int sig;

	if (argc != 2) {
		fprintf(stderr, "usage: idle-floor STATE\n");
		return 2;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (agent_conf_load(argv[1], &c, &err) < 0 || state_path(&ca, argv[1], "ca.pem") < 0 ||
	    state_path(&cert, argv[1], "node.pem") < 0 || state_path(&key, argv[1], "node.key") < 0) {
		fprintf(stderr, "idle-floor: %s\n", err.msg[0] ? err.msg : "bad state path");
		return 1;
	}
	struct bus_opts o = { .urls = (const char *const *)c.nats_urls, .ca = buf_str(&ca),
			      .cert = buf_str(&cert), .key = buf_str(&key), .name = c.node };

	if (bus_connect(&o, &b, &err) < 0 || buf_printf(&subj, "tend.rpc.%s", c.node) < 0 ||
	    bus_subscribe(b, buf_str(&subj), NULL, on_msg, NULL, &err) < 0) {
		fprintf(stderr, "idle-floor: %s\n", err.msg);
		return 1;
	}
	/* a node enrolled a moment ago may be refused until the broker reloads */
	for (int i = 0; i < 300 && !bus_connected(b); i++)
		usleep(100 * 1000);
	if (bus_flush(b, 10000) < 0) {
		fprintf(stderr, "idle-floor: %s\n", err.msg[0] ? err.msg : "no broker");
		return 1;
	}
	printf("connected\n");
	fflush(stdout);
	sigwait(&sigs, &sig);
	bus_close(b);
	agent_conf_free(&c);
	buf_free(&ca);
	buf_free(&cert);
	buf_free(&key);
	buf_free(&subj);
	return 0;
}
