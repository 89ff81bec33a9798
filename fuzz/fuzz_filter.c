/*
 * fuzz_filter.c - a request's filter (JSON: "nodes", "tags", "facts"), as
 * each agent reads it from a broadcast before anything is verified:
 * checked, then matched against a fixed node.
 */
#include <jansson.h>

#include "fuzz.h"
#include "rpc/rpc.h"

static json_t *tags, *facts;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	tags = json_pack("[ss]", "web", "prod");
	facts = json_loads("{\"os\": {\"id\": \"debian\", \"version\": \"12\"},"
			   " \"memory\": {\"total\": 8589934592}, \"cpus\": 4,"
			   " \"virtual\": false, \"net\": [{\"addr\": \"10.0.0.1\"}]}",
			   0, NULL);
	return tags && facts ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_self self = { "web01", tags, facts };
	struct rpc_self bare = { "db-2.example", tags, NULL };
	struct tend_err err = { "" };
	json_t *f = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);

	if (!f)
		return 0;
	if (rpc_filter_check(f, &err) < 0 && !err.msg[0])
		__builtin_trap();
	/* the agent matches before it checks anything: any JSON at all */
	(void)rpc_filter_match(f, &self);
	(void)rpc_filter_match(f, &bare);
	json_decref(f);
	return 0;
}
