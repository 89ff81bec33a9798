/*
 * fuzz_policy.c - a policy file (a policy/NAME.yaml of the configuration
 * repository) parsed, then asked about a few requests.  A file that does
 * not parse must give a policy that refuses everything, with the reason.
 */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "rpc/rpc.h"

static json_t *tags, *facts, *run_args, *svc_args;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	tags = json_pack("[ss]", "web", "prod");
	facts = json_pack("{s{ss}}", "os", "id", "debian");
	run_args = json_pack("{s[sss]}", "argv", "systemctl", "restart", "nginx");
	svc_args = json_pack("{ssss}", "name", "nginx", "do", "restart");
	return tags && facts && run_args && svc_args ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_self self = { "web01", tags, facts };
	struct tend_err err = { "" };
	struct rpc_policy *p = NULL;
	char why[256];
	json_t *files = json_object();
	json_t *text = json_stringn((const char *)data, size); /* NULL: not UTF-8, cannot come over the wire */
	int r;

	if (!files || !text || json_object_set_new(files, "policy/fuzz.yaml", text) < 0) {
		json_decref(files);
		return 0;
	}
	r = rpc_policy_parse(files, &p, &err);
	if (!p || (r < 0 && !err.msg[0]))
		__builtin_trap(); /* always a policy; an error says why */
	why[0] = 0;
	if (r < 0 && rpc_policy_check(p, "alice", "ops", "ping", NULL, &self, why, sizeof(why)))
		__builtin_trap(); /* a broken file denies everything */
	(void)rpc_policy_check(p, "alice", "ops", "run", run_args, &self, why, sizeof(why));
	(void)rpc_policy_check(p, "bob", "dev", "service", svc_args, &self, why, sizeof(why));
	(void)rpc_policy_check(p, "mallory", "", "facts", NULL, &self, why, sizeof(why));
	rpc_policy_free(p);
	json_decref(files);
	return 0;
}
