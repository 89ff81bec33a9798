/*
 * test-rpc-policy.c - unit tests for the RPC policy (rpc/rpc.h): rules
 * from policy/NAME.yaml, default deny, a deny winning over any allow,
 * "run" allowed only for listed commands, rules limited to nodes, tags
 * and facts, and a policy that is missing or broken denying everything
 * with a reason that names the file, line and column.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rpc/rpc.h"

static json_t *tags, *facts;
static struct rpc_self web01, db01;

static int setup(void **state)
{
	tags = json_pack("[ss]", "base", "web");
	facts = json_pack("{s:{s:s}, s:{s:I}}", "os", "id", "debian", "memory", "total",
			  (json_int_t)8 << 30);
	web01 = (struct rpc_self){ "web01", tags, facts };
	db01 = (struct rpc_self){ "db01", NULL, NULL };
	return 0;
}

static int teardown(void **state)
{
	json_decref(tags);
	json_decref(facts);
	return 0;
}

/* policy - a policy of one file, policy/ops.yaml; parse errors fail the test. */
static struct rpc_policy *policy(const char *yaml)
{
	json_t *files = json_pack("{s:s}", "policy/ops.yaml", yaml);
	struct tend_err err = { "" };
	struct rpc_policy *p = NULL;
	int r = rpc_policy_parse(files, &p, &err);

	if (r < 0)
		fail_msg("policy refused: %s", err.msg);
	json_decref(files);
	return p;
}

/* decide - rpc_policy_check with the reason kept in why. */
static char why[512];

static bool decide(const struct rpc_policy *p, const char *user, const char *role,
		   const char *action, const json_t *args, const struct rpc_self *self)
{
	memset(why, 'x', sizeof(why));
	return rpc_policy_check(p, user, role, action, args, self, why, sizeof(why));
}

#define assert_why(what)                                                 \
	do {                                                             \
		if (!strstr(why, (what)))                                \
			fail_msg("'%s' does not say '%s'", why, (what)); \
	} while (0)

/* run - decide for "run" of argv (NULL-terminated). */
static bool run(const struct rpc_policy *p, const char *user, const char *role, bool shell,
		const char *const *argv)
{
	json_t *a = json_array(), *args;
	bool ok;

	for (size_t i = 0; argv[i]; i++)
		json_array_append_new(a, json_string(argv[i]));
	args = json_pack("{s:o, s:b}", "argv", a, "shell", shell);
	ok = decide(p, user, role, "run", args, &web01);
	json_decref(args);
	return ok;
}

static void a_rule_allows_by_role_or_user_and_says_which(void **state)
{
	struct rpc_policy *p = policy("rules:\n"
				      "  - allow: [ping, facts]\n"
				      "    roles: [ops]\n"
				      "  - allow: service\n"
				      "    users: [bob]\n");

	assert_true(decide(p, "alice", "ops", "ping", NULL, &web01));
	assert_string_equal(why, "allowed by policy/ops.yaml:2");
	assert_true(decide(p, "carol", "ops", "facts", NULL, &web01));
	assert_true(decide(p, "bob", "dev", "service", NULL, &web01));
	assert_string_equal(why, "allowed by policy/ops.yaml:4");
	/* bob's role is not ops; alice is not bob */
	assert_false(decide(p, "bob", "dev", "ping", NULL, &web01));
	assert_false(decide(p, "alice", "ops", "service", NULL, &web01));
	rpc_policy_free(p);
}

static void anything_no_rule_allows_is_denied_by_default(void **state)
{
	struct rpc_policy *p = policy("rules:\n"
				      "  - allow: [ping]\n"
				      "    roles: [ops]\n");

	assert_false(decide(p, "bob", "dev", "facts", NULL, &web01));
	assert_string_equal(why, "no rule allows facts for bob (role dev)");
	assert_false(decide(p, "alice", "ops", "apply", NULL, &web01));
	assert_false(decide(p, "alice", "", "ping", NULL, &web01));
	assert_why("(role none)");
	rpc_policy_free(p);
}

static void a_matching_deny_wins_over_any_allow(void **state)
{
	struct rpc_policy *p = policy("rules:\n"
				      "  - allow: \"*\"\n"
				      "    roles: [ops]\n"
				      "  - deny: [apply, plan]\n"
				      "    users: [mallory]\n"
				      "    tags: [web]\n");

	assert_true(decide(p, "mallory", "ops", "ping", NULL, &web01));
	assert_false(decide(p, "mallory", "ops", "apply", NULL, &web01));
	assert_string_equal(why, "denied by policy/ops.yaml:4");
	/* the deny is limited to web nodes */
	assert_true(decide(p, "mallory", "ops", "apply", NULL, &db01));
	assert_true(decide(p, "alice", "ops", "apply", NULL, &web01));
	rpc_policy_free(p);
}

static void no_policy_denies_everything(void **state)
{
	struct rpc_policy *p = NULL;
	json_t *empty = json_object();

	assert_int_equal(rpc_policy_parse(NULL, &p, NULL), 0);
	assert_false(decide(p, "alice", "ops", "ping", NULL, &web01));
	assert_string_equal(why, "no policy (everything is denied)");
	rpc_policy_free(p);
	assert_int_equal(rpc_policy_parse(empty, &p, NULL), 0);
	assert_false(decide(p, "alice", "ops", "ping", NULL, &web01));
	assert_why("no policy");
	rpc_policy_free(p);
	assert_false(decide(NULL, "alice", "ops", "ping", NULL, &web01));
	assert_why("no policy");
	json_decref(empty);
}

/* broken - a policy of two files, the second one text; it must be refused saying what. */
static void broken(const char *text, const char *what)
{
	json_t *files =
		json_pack("{s:s, s:s}", "policy/base.yaml",
			  "rules:\n  - allow: [ping]\n    roles: [ops]\n", "policy/ops.yaml", text);
	struct tend_err err = { "" };
	struct rpc_policy *p = NULL;

	assert_int_equal(rpc_policy_parse(files, &p, &err), -EINVAL);
	if (!strstr(err.msg, what))
		fail_msg("'%s' does not say '%s'", err.msg, what);
	/* the other file's rule would allow this: a broken file denies everything */
	assert_non_null(p);
	assert_false(decide(p, "alice", "ops", "ping", NULL, &web01));
	assert_why(what);
	assert_why("(everything is denied)");
	rpc_policy_free(p);
	json_decref(files);
}

static void a_broken_file_denies_everything_naming_file_line_and_column(void **state)
{
	broken("rules:\n  - alow: [ping]\n    roles: [ops]\n",
	       "policy/ops.yaml:2:5: unknown key 'alow' in a rule (expected allow, deny, users, "
	       "roles, commands, nodes, tags, facts)");
	broken("rules:\n  - allow: [ping\n    roles: [ops]\n", "policy/ops.yaml:");
	broken("rule:\n  - allow: [ping]\n", "policy/ops.yaml:1:1: unknown key 'rule' in a policy");
	broken("rules:\n  - allow: [ping]\n", "policy/ops.yaml:2:5: a rule needs users or roles");
	broken("rules:\n  - users: [alice]\n", "policy/ops.yaml:2:5: a rule needs exactly one of "
					       "allow, deny");
	broken("rules:\n  - allow: [ping]\n    deny: [run]\n    users: [alice]\n",
	       "policy/ops.yaml:3:5: a rule needs exactly one of allow, deny");
	broken("rules:\n  - allow: [ping]\n    users: {alice: 1}\n",
	       "policy/ops.yaml:3:12: users must be a string or a list");
	broken("rules:\n  - allow: []\n    users: [alice]\n",
	       "policy/ops.yaml:2:12: allow must be");
	broken("rules:\n  - allow: [ping, [run]]\n    users: [alice]\n",
	       "policy/ops.yaml:2:19: allow: expected a string");
	broken("rules:\n  - allow: [ping]\n    users: [alice]\n    facts: [\"memory.total>>8\"]\n",
	       "policy/ops.yaml:4:13: facts: 'memory.total>>8' is not PATH OP VALUE");
	broken("rules: ping\n", "policy/ops.yaml:1:8: rules must be a list");
	broken("- allow: [ping]\n", "policy/ops.yaml:1:1: a policy is a map");
	broken("rules:\n  - ping\n", "policy/ops.yaml:2:5: a rule must be a map");
}

static void run_is_allowed_only_for_commands_a_rule_lists(void **state)
{
	struct rpc_policy *p =
		policy("rules:\n"
		       "  - allow: [run]\n"
		       "    roles: [ops]\n"
		       "    commands: [\"/usr/bin/uptime\", \"/bin/systemctl status *\"]\n"
		       "  - allow: [\"*\"]\n"
		       "    users: [bob]\n");
	const char *uptime[] = { "/usr/bin/uptime", NULL };
	const char *status[] = { "/bin/systemctl", "status", "nginx", NULL };
	const char *restart[] = { "/bin/systemctl", "restart", "nginx", NULL };
	const char *uptime_p[] = { "/usr/bin/uptime", "-p", NULL };

	assert_true(run(p, "alice", "ops", false, uptime));
	assert_string_equal(why, "allowed by policy/ops.yaml:2");
	assert_true(run(p, "alice", "ops", false, status));
	assert_false(run(p, "alice", "ops", false, restart));
	assert_string_equal(why, "no rule allows run of '/bin/systemctl restart nginx' for alice "
				 "(role ops)");
	assert_false(run(p, "alice", "ops", false, uptime_p));
	/* a rule without commands never allows run, even with "*" */
	assert_false(run(p, "bob", "dev", false, uptime));
	assert_true(decide(p, "bob", "dev", "apply", NULL, &web01));
	/* through a shell the command line is "sh -c ...": not what the rule lists */
	assert_false(run(p, "alice", "ops", true, uptime));
	assert_why("'sh -c /usr/bin/uptime'");
	/* run without argv */
	assert_false(decide(p, "alice", "ops", "run", NULL, &web01));
	assert_why("run needs args.argv");
	rpc_policy_free(p);
}

static void a_deny_without_commands_denies_every_run(void **state)
{
	struct rpc_policy *p = policy("rules:\n"
				      "  - allow: [run]\n"
				      "    roles: [ops]\n"
				      "    commands: [\"*\"]\n"
				      "  - deny: [run]\n"
				      "    users: [mallory]\n"
				      "  - deny: [run]\n"
				      "    roles: [ops]\n"
				      "    commands: [\"/bin/rm *\"]\n");
	const char *uptime[] = { "/usr/bin/uptime", NULL };
	const char *rm[] = { "/bin/rm", "-rf", "/srv", NULL };

	assert_true(run(p, "alice", "ops", false, uptime));
	assert_false(run(p, "alice", "ops", false, rm));
	assert_string_equal(why, "denied by policy/ops.yaml:7");
	assert_false(run(p, "mallory", "ops", false, uptime));
	assert_string_equal(why, "denied by policy/ops.yaml:5");
	rpc_policy_free(p);
}

static void rules_limited_to_nodes_tags_and_facts(void **state)
{
	struct rpc_policy *p = policy("rules:\n"
				      "  - allow: [apply]\n"
				      "    roles: [ops]\n"
				      "    nodes: [\"web*\"]\n"
				      "  - allow: [plan]\n"
				      "    roles: [ops]\n"
				      "    tags: [web, base]\n"
				      "  - allow: [service]\n"
				      "    roles: [ops]\n"
				      "    facts: [\"os.id=debian\", \"memory.total>=8G\"]\n"
				      "  - allow: [check]\n"
				      "    roles: [ops]\n"
				      "    facts: [\"memory.total>8G\"]\n");

	assert_true(decide(p, "alice", "ops", "apply", NULL, &web01));
	assert_false(decide(p, "alice", "ops", "apply", NULL, &db01));
	assert_true(decide(p, "alice", "ops", "plan", NULL, &web01));
	assert_false(decide(p, "alice", "ops", "plan", NULL, &db01));
	assert_true(decide(p, "alice", "ops", "service", NULL, &web01));
	assert_false(decide(p, "alice", "ops", "service", NULL, &db01));
	assert_false(decide(p, "alice", "ops", "check", NULL, &web01));
	rpc_policy_free(p);
}

static void check_runs_only_the_commands_a_rule_lists(void **state)
{
	struct rpc_policy *p = policy("rules:\n"
				      "  - allow: [check]\n"
				      "    roles: [ops]\n"
				      "  - allow: [check]\n"
				      "    roles: [mon]\n"
				      "    commands: [\"/usr/lib/nagios/plugins/check_* *\"]\n");
	json_t *plugin = json_pack("{s:[s, s]}", "argv", "/usr/lib/nagios/plugins/check_disk", "-w");
	json_t *shell = json_pack("{s:[s, s]}", "argv", "/bin/sh", "-c");

	/* a rule without commands runs nothing: check runs a program as run does */
	assert_false(decide(p, "alice", "ops", "check", plugin, &web01));
	assert_true(decide(p, "nagios", "mon", "check", plugin, &web01));
	assert_false(decide(p, "nagios", "mon", "check", shell, &web01));
	assert_false(decide(p, "nagios", "mon", "check", NULL, &web01));
	json_decref(plugin);
	json_decref(shell);
	rpc_policy_free(p);
}

static void users_and_roles_may_be_globs_and_either_one_matches(void **state)
{
	struct rpc_policy *p = policy("rules:\n"
				      "  - allow: [ping]\n"
				      "    users: [\"ops-*\"]\n"
				      "    roles: [sre]\n"
				      "  - allow: [\"fact*\"]\n"
				      "    users: [\"*\"]\n");

	assert_true(decide(p, "ops-jane", "dev", "ping", NULL, &web01));
	assert_true(decide(p, "kim", "sre", "ping", NULL, &web01));
	assert_false(decide(p, "kim", "dev", "ping", NULL, &web01));
	assert_true(decide(p, "kim", "dev", "facts", NULL, &web01));
	rpc_policy_free(p);
}

static void files_are_read_in_name_order_and_rules_name_their_file(void **state)
{
	json_t *files = json_pack("{s:s, s:s, s:s}", "policy/z.yaml",
				  "rules:\n  - allow: [ping]\n    roles: [ops]\n", "policy/a.yaml",
				  "# nothing yet\n", "policy/m.yaml",
				  "rules:\n\n  - deny: [ping]\n    users: [eve]\n");
	struct rpc_policy *p = NULL;

	assert_int_equal(rpc_policy_parse(files, &p, NULL), 0);
	json_decref(files); /* the policy keeps what it needs */
	assert_true(decide(p, "alice", "ops", "ping", NULL, &web01));
	assert_string_equal(why, "allowed by policy/z.yaml:2");
	assert_false(decide(p, "eve", "ops", "ping", NULL, &web01));
	assert_string_equal(why, "denied by policy/m.yaml:3");
	rpc_policy_free(p);
}

static void a_long_reason_is_cut_to_the_buffer(void **state)
{
	struct rpc_policy *p = policy("rules:\n  - allow: [ping]\n    roles: [ops]\n");
	char small[16];

	memset(small, 'x', sizeof(small));
	assert_false(
		rpc_policy_check(p, "alice", "dev", "ping", NULL, &web01, small, sizeof(small)));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	rpc_policy_free(p);
}

int main(void)
{
#define T(name) cmocka_unit_test(name)
	const struct CMUnitTest tests[] = {
		T(a_rule_allows_by_role_or_user_and_says_which),
		T(anything_no_rule_allows_is_denied_by_default),
		T(a_matching_deny_wins_over_any_allow),
		T(no_policy_denies_everything),
		T(a_broken_file_denies_everything_naming_file_line_and_column),
		T(run_is_allowed_only_for_commands_a_rule_lists),
		T(a_deny_without_commands_denies_every_run),
		T(rules_limited_to_nodes_tags_and_facts),
		T(check_runs_only_the_commands_a_rule_lists),
		T(users_and_roles_may_be_globs_and_either_one_matches),
		T(files_are_read_in_name_order_and_rules_name_their_file),
		T(a_long_reason_is_cut_to_the_buffer),
	};
#undef T

	return cmocka_run_group_tests(tests, setup, teardown);
}
