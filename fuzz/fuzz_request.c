/*
 * fuzz_request.c - what an agent does with a request off the bus before
 * any action runs (rpc_agent_check): envelope, filter, certificate,
 * signature, dates, replay, policy.  See fuzz_pki.h for the two ways an
 * input is read.  Whatever the input, the call ends allowed or refused
 * with a reason (or not for this node), and nothing crashes.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "fuzz_pki.h"
#include "rpc/rpc.h"

static const char policy_yaml[] = "rules:\n"
				  "  - allow: [ping, facts]\n"
				  "    roles: [ops]\n"
				  "  - allow: [run]\n"
				  "    roles: [ops]\n"
				  "    commands: [\"/usr/bin/uptime\", \"systemctl restart *\"]\n"
				  "    tags: [web]\n";

static struct rpc_agent *agent;
static json_t *tags, *facts;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rpc_policy *p = NULL;
	json_t *files;

	if (fx_setup() < 0)
		return -1;
	struct rpc_agent_cfg cfg = { "web01", fx.ca_pem, fx.web01.key, fx.web01.pem, NULL, NULL };

	if (rpc_agent_new(&cfg, &agent, NULL) < 0)
		return -1;
	files = json_pack("{s:s}", "policy/ops.yaml", policy_yaml);
	if (rpc_policy_parse(files, &p, NULL) < 0)
		return -1;
	rpc_agent_set_policy(agent, p);
	json_decref(files);
	tags = json_pack("[ss]", "web", "prod");
	facts = json_pack("{s{ss}}", "os", "id", "debian");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_self self = { "web01", tags, facts };
	struct rpc_call call;
	const char *env;
	char *owned;
	size_t len;
	int r;

	if (!fx_input(&fx.alice, RPC_MAGIC_REQUEST, data, size, &env, &len, &owned))
		return 0;
	r = rpc_agent_check(agent, &self, env, len, FUZZ_NOW_MS, &call);
	if (r == 0 && !call.allowed && !call.reason[0])
		__builtin_trap(); /* a refusal says why */
	if (getenv("FUZZ_DEBUG")) /* to see how far a seed gets */
		fprintf(stderr, "%s: %s\n", r ? "not for this node" : call.allowed ? "allowed" : "refused",
			r ? "" : call.reason);
	if (r == 0)
		rpc_call_clear(&call);
	free(owned);
	return 0;
}
