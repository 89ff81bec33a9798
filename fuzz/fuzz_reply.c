/*
 * fuzz_reply.c - what the CLI does with a node's reply (rpc_reply_open):
 * envelope, the node's certificate, signature, body.  See fuzz_pki.h for
 * the two ways an input is read.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "fuzz_pki.h"
#include "rpc/rpc.h"

#define EXPECT_ID "0123456789abcdef0123456789abcdef"

static struct rpc_certcache *cache;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (fx_setup() < 0)
		return -1;
	cache = rpc_certcache_new();
	return cache ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tend_err err = { "" };
	json_t *body = NULL;
	const char *env;
	char *owned;
	size_t len;
	int r;

	if (!fx_input(&fx.web01, RPC_MAGIC_REPLY, data, size, &env, &len, &owned))
		return 0;
	r = rpc_reply_open(fx.ca_pem, cache, env, len, EXPECT_ID, &body, &err);
	if (getenv("FUZZ_DEBUG")) /* to see how far a seed gets */
		fprintf(stderr, "%s\n", r == 0 ? "opened" : err.msg);
	if (r == 0) {
		if (!json_is_object(body))
			__builtin_trap();
		json_decref(body);
	} else if (!err.msg[0]) {
		__builtin_trap();
	}
	free(owned);
	return 0;
}
