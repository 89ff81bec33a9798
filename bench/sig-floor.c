/*
 * sig-floor.c - the signature work `tend ping` cannot do without, timed
 * on this machine with tend's own functions (lib/pki): for each node,
 * its agent verifies the administrator's request (pki_verify_key) and
 * signs its reply (pki_sign), and the CLI verifies that reply.  The rpc
 * suite prints the figure beside the raw floor: it is CPU time that
 * tend ping spends on top of the fan-out, whatever else it does.
 *
 *   sig-floor [--reps N]     (default 2,000)
 *
 * Prints one JSON object: {"reps": N, "verify_us": V, "sign_us": S,
 * "per_node_us": 2V + S} (microseconds of one thread's CPU).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pki/pki.h"

static double cpu_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	/* about the size of a ping request's body and of its reply's */
	static const char body[] = "{\"id\":\"0123456789abcdef0123456789abcdef\",\"caller\":"
				   "\"alice\",\"action\":\"ping\",\"args\":{},\"filter\":{\"nodes\":"
				   "[\"emu-*\"]},\"created\":1800000000000,\"ttl\":60000}";
	struct option opts[] = { { "reps", required_argument, NULL, 'r' }, { 0 } };
	EVP_PKEY *admin = NULL, *node = NULL;
	char *sig = NULL, *reply_sig = NULL;
	double t, verify_us, sign_us;
	long reps = 2000;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'r' || (reps = strtol(optarg, NULL, 10)) < 1) {
			fprintf(stderr, "usage: sig-floor [--reps N]\n");
			return 2;
		}
	}
	if (pki_key_new(&admin) < 0 || pki_key_new(&node) < 0 ||
	    pki_sign(admin, body, sizeof(body) - 1, &sig, NULL) < 0) {
		fprintf(stderr, "sig-floor: cannot make keys\n");
		return 1;
	}
	t = cpu_us();
	for (long i = 0; i < reps; i++)
		if (pki_verify_key(admin, body, sizeof(body) - 1, sig, NULL) < 0) {
			fprintf(stderr, "sig-floor: a signature did not verify\n");
			return 1;
		}
	verify_us = (cpu_us() - t) / (double)reps;
	t = cpu_us();
	for (long i = 0; i < reps; i++) {
		free(reply_sig);
		reply_sig = NULL;
		if (pki_sign(node, body, sizeof(body) - 1, &reply_sig, NULL) < 0) {
			fprintf(stderr, "sig-floor: cannot sign\n");
			return 1;
		}
	}
	sign_us = (cpu_us() - t) / (double)reps;
	printf("{\"reps\": %ld, \"verify_us\": %.1f, \"sign_us\": %.1f, \"per_node_us\": %.1f}\n",
	       reps, verify_us, sign_us, 2 * verify_us + sign_us);
	free(sig);
	free(reply_sig);
	EVP_PKEY_free(admin);
	EVP_PKEY_free(node);
	return 0;
}
