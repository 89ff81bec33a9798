/*
 * test-rpc-agent.c - unit tests for the agent's side of RPC (rpc/rpc.h):
 * the checks before anything runs, the signed reply and the audit
 * record.  Requests come from rpc_request_new with real certificates of
 * a real CA; the bad ones differ from a good one in one way each (a
 * flipped byte, no signature, another CA, a node as the caller, stale,
 * from the future, played twice - also across a restart of the agent
 * on the same nonce file), and each must be refused with its reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>

#include "rpc/rpc.h"
#include "rpc/rpc_int.h"
#include "test-rpc-fixture.h"

static const char policy_yaml[] = "rules:\n"
				  "  - allow: [ping, facts]\n"
				  "    roles: [ops]\n"
				  "  - allow: [run]\n"
				  "    roles: [ops]\n"
				  "    commands: [\"/usr/bin/uptime\"]\n";

static json_t *tags, *facts;
static struct rpc_self self;
static char nonce_path[400];

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
	static int n;

	tags = json_pack("[ss]", "base", "web");
	facts = json_pack("{s:{s:s}}", "os", "id", "debian");
	self = (struct rpc_self){ "web01", tags, facts };
	snprintf(nonce_path, sizeof(nonce_path), "%s/nonces-%d", rfx->dir, n++);
	return 0;
}

static int teardown(void **state)
{
	json_decref(tags);
	json_decref(facts);
	return 0;
}

/* agent - web01's agent on nonce_path (NULL: memory), with policy_yaml. */
static struct rpc_agent *agent(const char *path)
{
	struct rpc_agent_cfg cfg = { "web01", rfx->ca_pem, rfx->web01.key, rfx->web01.pem, path };
	json_t *files = json_pack("{s:s}", "policy/ops.yaml", policy_yaml);
	struct tend_err err = { "" };
	struct rpc_policy *p = NULL;
	struct rpc_agent *a = NULL;
	int r = rpc_agent_new(&cfg, &a, &err);

	if (r < 0)
		fail_msg("rpc_agent_new: %s", err.msg);
	assert_int_equal(rpc_policy_parse(files, &p, &err), 0);
	rpc_agent_set_policy(a, p);
	json_decref(files);
	return a;
}

/* request - a request from who made at created, ttl ms. */
static char *request(const struct ident *who, const char *action, json_t *args, json_t *filter,
		     long long created, long long ttl, char id[RPC_ID_HEX + 1])
{
	struct tend_err err = { "" };
	char *text = NULL;
	size_t len = 0;
	int r = rpc_request_new(who->key, who->pem, action, args, filter, created, ttl, id, &text,
				&len, &err);

	if (r < 0)
		fail_msg("rpc_request_new: %s", err.msg);
	json_decref(args);
	json_decref(filter);
	return text;
}

/* craft - an envelope around body text, signed by key (NULL: unsigned). */
static char *craft(const char *body, const char *cert_pem, EVP_PKEY *key)
{
	char *sig = NULL, *text;
	json_t *env = json_pack("{s:i, s:s, s:s}", "tend_rpc", 1, "body", body, "cert", cert_pem);

	if (key) {
		assert_int_equal(pki_sign(key, body, strlen(body), &sig, NULL), 0);
		json_object_set_new(env, "sig", json_string(sig));
	}
	text = json_dumps(env, JSON_COMPACT);
	json_decref(env);
	free(sig);
	return text;
}

/* check - rpc_agent_check, which must not ignore the request. */
static void check(struct rpc_agent *a, const char *text, long long now, struct rpc_call *c)
{
	assert_int_equal(rpc_agent_check(a, &self, text, strlen(text), now, c), 0);
	assert_non_null(c->args);
}

static void refused(struct rpc_agent *a, const char *text, long long now, const char *why)
{
	struct rpc_call c;

	check(a, text, now, &c);
	assert_false(c.allowed);
	assert_says(c.reason, why);
	rpc_call_clear(&c);
}

static void allowed(struct rpc_agent *a, const char *text, long long now)
{
	struct rpc_call c;

	check(a, text, now, &c);
	if (!c.allowed)
		fail_msg("refused: %s", c.reason);
	rpc_call_clear(&c);
}

static void request_check_reply_and_reply_open_round_trip(void **state)
{
	struct rpc_agent *a = agent(NULL);
	char id[RPC_ID_HEX + 1], *text = request(&rfx->alice, "ping", NULL, NULL, 0, 60000, id);
	struct tend_err err = { "" };
	struct rpc_call c;
	char *reply = NULL;
	size_t len = 0;
	json_t *body = NULL;

	check(a, text, 0, &c);
	assert_true(c.allowed);
	assert_string_equal(c.reason, "allowed by policy/ops.yaml:2");
	assert_string_equal(c.id, id);
	assert_string_equal(c.caller, "alice");
	assert_string_equal(c.role, "ops");
	assert_string_equal(c.action, "ping");
	assert_true(json_is_object(c.args));
	assert_true(c.received_ms > 0);
	assert_int_equal(
		rpc_agent_reply(a, &c, "ok", json_pack("{s:b}", "pong", 1), 2, &reply, &len, &err),
		0);
	assert_int_equal(strlen(reply), len);
	if (rpc_reply_open(rfx->ca_pem, NULL, reply, len, id, &body, &err) < 0)
		fail_msg("rpc_reply_open: %s", err.msg);
	assert_string_equal(json_string_value(json_object_get(body, "id")), id);
	assert_string_equal(json_string_value(json_object_get(body, "node")), "web01");
	assert_string_equal(json_string_value(json_object_get(body, "action")), "ping");
	assert_string_equal(json_string_value(json_object_get(body, "status")), "ok");
	assert_null(json_object_get(body, "reason"));
	assert_true(json_is_true(json_object_get(json_object_get(body, "data"), "pong")));
	assert_int_equal(json_integer_value(json_object_get(body, "ms")), 2);
	/* the reply is to this request only */
	json_decref(body);
	body = NULL;
	assert_int_equal(rpc_reply_open(rfx->ca_pem, NULL, reply, len,
					"00000000000000000000000000000000", &body, &err),
			 -EBADMSG);
	rpc_call_clear(&c);
	free(reply);
	free(text);
	rpc_agent_free(a);
}

static void tampered_request_is_refused(void **state)
{
	struct rpc_agent *a = agent(NULL);
	char id[RPC_ID_HEX + 1], *text = request(&rfx->alice, "ping", NULL, NULL, 0, 60000, id);
	char *p = strstr(text, "\\\"ping\\\"");

	/* one byte of the signed body: "ping" becomes "pinh" */
	assert_non_null(p);
	p[5] = 'h';
	refused(a, text, 0, "the request's signature does not verify");
	free(text);
	rpc_agent_free(a);
}

static void unsigned_request_is_refused(void **state)
{
	struct rpc_agent *a = agent(NULL);
	char id[RPC_ID_HEX + 1], *text = request(&rfx->alice, "ping", NULL, NULL, 0, 60000, id);
	json_t *env = json_loads(text, 0, NULL);
	char *no_sig, *empty_sig, *bad_sig;

	json_object_del(env, "sig");
	no_sig = json_dumps(env, JSON_COMPACT);
	json_object_set_new(env, "sig", json_string(""));
	empty_sig = json_dumps(env, JSON_COMPACT);
	json_object_set_new(env, "sig", json_integer(7));
	bad_sig = json_dumps(env, JSON_COMPACT);
	refused(a, no_sig, 0, "the request is not signed");
	refused(a, empty_sig, 0, "the request is not signed");
	refused(a, bad_sig, 0, "the signature is not a string");
	/* the signed original still runs: the refusals recorded nothing */
	allowed(a, text, 0);
	json_decref(env);
	free(no_sig);
	free(empty_sig);
	free(bad_sig);
	free(text);
	rpc_agent_free(a);
}

static void certificate_of_another_ca_is_refused(void **state)
{
	struct rpc_agent *a = agent(NULL);
	char id[RPC_ID_HEX + 1], *text = request(&rfx->forged, "ping", NULL, NULL, 0, 60000, id);

	refused(a, text, 0, "the caller's certificate is refused");
	free(text);
	rpc_agent_free(a);
}

static void node_certificate_as_the_caller_is_refused(void **state)
{
	struct rpc_agent *a = agent(NULL);
	char id[RPC_ID_HEX + 1], *text = request(&rfx->web02, "ping", NULL, NULL, 0, 60000, id);

	refused(a, text, 0, "the caller's certificate is a node's, not an administrator's");
	free(text);
	rpc_agent_free(a);
}

static void caller_other_than_the_certificate_is_refused(void **state)
{
	struct rpc_agent *a = agent(NULL);
	char body[512], *text;

	snprintf(body, sizeof(body),
		 "{\"id\":\"%s\",\"caller\":\"bob\",\"action\":\"ping\",\"args\":{},"
		 "\"created\":%lld,\"ttl\":60000}",
		 "0123456789abcdef0123456789abcdef", now_ms());
	text = craft(body, rfx->alice.pem, rfx->alice.key);
	refused(a, text, 0, "the request's caller 'bob' is not the certificate's 'alice'");
	free(text);
	rpc_agent_free(a);
}

static void expired_request_is_refused(void **state)
{
	struct rpc_agent *a = agent(NULL);
	long long t = now_ms();
	char id[RPC_ID_HEX + 1],
		*text = request(&rfx->alice, "ping", NULL, NULL, t - 2000, 1000, id);
	char *fresh = request(&rfx->alice, "ping", NULL, NULL, t - 2000, 1000, id);

	refused(a, text, t, "the request expired 1000 ms ago");
	/* the last ms of its life it still runs */
	allowed(a, fresh, t - 1000);
	free(text);
	free(fresh);
	rpc_agent_free(a);
}

static void request_from_the_future_beyond_the_skew_is_refused(void **state)
{
	struct rpc_agent *a = agent(NULL);
	long long t = now_ms();
	char id[RPC_ID_HEX + 1];
	char *far = request(&rfx->alice, "ping", NULL, NULL, t + RPC_SKEW_MS + 1000, 60000, id);
	char *near = request(&rfx->alice, "ping", NULL, NULL, t + RPC_SKEW_MS - 1000, 60000, id);

	refused(a, far, t, "from the future");
	refused(a, far, t, "6000 ms after this node's clock");
	allowed(a, near, t);
	free(far);
	free(near);
	rpc_agent_free(a);
}

static void ttl_out_of_range_is_refused(void **state)
{
	struct rpc_agent *a = agent(NULL);
	const long long ttls[] = { 0, -5, RPC_TTL_MAX_MS + 1LL };
	char body[512], *text;

	for (size_t i = 0; i < sizeof(ttls) / sizeof(ttls[0]); i++) {
		snprintf(body, sizeof(body),
			 "{\"id\":\"%032zx\",\"caller\":\"alice\",\"action\":\"ping\","
			 "\"created\":%lld,\"ttl\":%lld}",
			 i, now_ms(), ttls[i]);
		text = craft(body, rfx->alice.pem, rfx->alice.key);
		refused(a, text, 0, "the request's ttl");
		free(text);
	}
	rpc_agent_free(a);
}

static void replayed_request_is_refused_also_after_a_restart(void **state)
{
	struct rpc_agent *a = agent(nonce_path);
	char id[RPC_ID_HEX + 1], *text = request(&rfx->alice, "ping", NULL, NULL, 0, 60000, id);
	char other_id[RPC_ID_HEX + 1], *other;
	char why[128];

	allowed(a, text, 0);
	snprintf(why, sizeof(why), "replayed request id %s", id);
	refused(a, text, 0, why);
	rpc_agent_free(a);
	/* a new agent on the same file: as after a crash or a restart */
	a = agent(nonce_path);
	refused(a, text, 0, why);
	other = request(&rfx->alice, "ping", NULL, NULL, 0, 60000, other_id);
	allowed(a, other, 0);
	rpc_agent_free(a);
	a = agent(nonce_path);
	refused(a, other, 0, "replayed request id");
	refused(a, text, 0, "replayed request id");
	free(other);
	free(text);
	rpc_agent_free(a);
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *s = calloc(1, 1 << 18);
	size_t n;

	assert_non_null(fp);
	n = fread(s, 1, (1 << 18) - 1, fp);
	s[n] = '\0';
	fclose(fp);
	return s;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void nonce_file_drops_expired_and_malformed_lines_on_restart(void **state)
{
	struct rpc_agent *a = agent(nonce_path);
	char id[RPC_ID_HEX + 1], *text = request(&rfx->alice, "ping", NULL, NULL, 0, 60000, id);
	char *content;
	FILE *fp;

	allowed(a, text, 0);
	rpc_agent_free(a);
	content = slurp(nonce_path);
	assert_int_equal(count_lines(content), 1);
	assert_non_null(strstr(content, id));
	free(content);
	/* an expired id, garbage, an over-long line and a line torn by a crash */
	fp = fopen(nonce_path, "a");
	assert_non_null(fp);
	fprintf(fp, "ffffffffffffffffffffffffffffffff 1000\n");
	fprintf(fp, "not an id at all\n");
	fprintf(fp, "%0200d\n", 7);
	fprintf(fp, "0123456789abcdef0123456789ABCDEF 99999999999999\n");
	fprintf(fp, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 9999999999");
	fclose(fp);
	a = agent(nonce_path);
	content = slurp(nonce_path);
	assert_int_equal(count_lines(content), 1);
	assert_non_null(strstr(content, id));
	free(content);
	refused(a, text, 0, "replayed request id");
	rpc_agent_free(a);
	free(text);
}

static void id_of(unsigned i, char out[RPC_ID_HEX + 1])
{
	snprintf(out, RPC_ID_HEX + 1, "%08x%024x", i * 2654435761u, i);
}

static void nonce_store_holds_100k_ids_and_drops_expired_ones(void **state)
{
	struct rpc_nonce *n = NULL;
	char id[RPC_ID_HEX + 1];
	const unsigned count = 100000;

	assert_int_equal(rpc_nonce_open(NULL, 1000, &n, NULL), 0);
	for (unsigned i = 0; i < count; i++) {
		id_of(i, id);
		assert_int_equal(rpc_nonce_add(n, id, 2000 + i, 1000, NULL), 0);
	}
	assert_int_equal(rpc_nonce_count(n), count);
	for (unsigned i = 0; i < count; i += 997) {
		id_of(i, id);
		assert_int_equal(rpc_nonce_add(n, id, 9999999, 1000, NULL), -EEXIST);
	}
	/* later, every one of them has expired: new ids push the old ones out */
	for (unsigned i = count; i < count + 2 * count; i++) {
		id_of(i, id);
		assert_int_equal(rpc_nonce_add(n, id, 10000000, 200000, NULL), 0);
	}
	assert_true(rpc_nonce_count(n) < 2 * count + 2 * count / 2);
	assert_true(rpc_nonce_count(n) >= 2 * count);
	rpc_nonce_free(n);
}

static void nonce_file_is_compacted_when_most_of_it_expired(void **state)
{
	struct rpc_nonce *n = NULL;
	char id[RPC_ID_HEX + 1], *content;
	struct tend_err err = { "" };
	size_t lines;

	if (rpc_nonce_open(nonce_path, 1000, &n, &err) < 0)
		fail_msg("%s", err.msg);
	for (unsigned i = 0; i < 3000; i++) {
		id_of(i, id);
		assert_int_equal(rpc_nonce_add(n, id, 5000, 1000, &err), 0);
	}
	content = slurp(nonce_path);
	assert_int_equal(count_lines(content), 3000);
	free(content);
	/* all 3000 expired: as new ids come, the file is rewritten with the live ones only */
	for (unsigned i = 5000; i < 5100; i++) {
		id_of(i, id);
		assert_int_equal(rpc_nonce_add(n, id, 90000, 6000, &err), 0);
	}
	content = slurp(nonce_path);
	lines = count_lines(content);
	assert_int_equal(lines, 100);
	assert_non_null(strstr(content, id));
	id_of(0, id);
	assert_null(strstr(content, id));
	free(content);
	/* and appends go on in the new file, which a restart reads */
	id_of(6000, id);
	assert_int_equal(rpc_nonce_add(n, id, 90000, 6000, &err), 0);
	rpc_nonce_free(n);
	assert_int_equal(rpc_nonce_open(nonce_path, 6000, &n, &err), 0);
	assert_int_equal(rpc_nonce_count(n), 101);
	assert_int_equal(rpc_nonce_add(n, id, 90000, 6000, &err), -EEXIST);
	id_of(5000, id);
	assert_int_equal(rpc_nonce_add(n, id, 90000, 6000, &err), -EEXIST);
	id_of(1, id);
	assert_int_equal(rpc_nonce_add(n, id, 90000, 6000, &err), 0);
	rpc_nonce_free(n);
}

static void request_not_for_this_node_is_ignored_before_any_check(void **state)
{
	struct rpc_agent *a = agent(nonce_path);
	char id[RPC_ID_HEX + 1];
	char *other_node = request(&rfx->alice, "ping", NULL, json_pack("{s:[s]}", "nodes", "db*"),
				   0, 60000, id);
	char *other_tag = request(&rfx->alice, "ping", NULL, json_pack("{s:[s]}", "tags", "db"), 0,
				  60000, id);
	char *mine = request(&rfx->alice, "ping", NULL,
			     json_pack("{s:[s], s:[s]}", "nodes", "web*", "facts", "os.id=debian"),
			     0, 60000, id);
	char *forged = request(&rfx->forged, "ping", NULL, json_pack("{s:[s]}", "tags", "db"), 0,
			       60000, id);
	struct rpc_call c;
	struct stat st;
	char body[512], *bad;

	assert_int_equal(stat(nonce_path, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(rpc_agent_check(a, &self, other_node, strlen(other_node), 0, &c), 1);
	rpc_call_clear(&c);
	assert_int_equal(rpc_agent_check(a, &self, other_tag, strlen(other_tag), 0, &c), 1);
	rpc_call_clear(&c);
	/* not verified at all: a bad certificate is not even looked at */
	assert_int_equal(rpc_agent_check(a, &self, forged, strlen(forged), 0, &c), 1);
	rpc_call_clear(&c);
	/* nor is a body that is wrong in another way */
	snprintf(body, sizeof(body),
		 "{\"id\":\"x\",\"caller\":\"alice\",\"action\":\"ping\","
		 "\"filter\":{\"nodes\":[\"db*\"]},\"created\":1,\"ttl\":1}");
	bad = craft(body, rfx->alice.pem, NULL);
	assert_int_equal(rpc_agent_check(a, &self, bad, strlen(bad), 0, &c), 1);
	rpc_call_clear(&c);
	free(bad);
	/* nothing was recorded for the ignored ones */
	assert_int_equal(stat(nonce_path, &st), 0);
	assert_int_equal(st.st_size, 0);
	allowed(a, mine, 0);
	assert_int_equal(stat(nonce_path, &st), 0);
	assert_true(st.st_size > RPC_ID_HEX);
	free(other_node);
	free(other_tag);
	free(mine);
	free(forged);
	rpc_agent_free(a);
}

static void policy_decides_and_a_refusal_is_replied_and_audited(void **state)
{
	struct rpc_agent *a = agent(NULL);
	char id[RPC_ID_HEX + 1], *text = request(&rfx->bob, "facts", NULL, NULL, 0, 60000, id);
	struct tend_err err = { "" };
	char *reply = NULL;
	size_t len = 0;
	json_t *body = NULL, *rec;
	struct rpc_call c;

	check(a, text, 0, &c);
	assert_false(c.allowed);
	assert_string_equal(c.reason, "no rule allows facts for bob (role dev)");
	/* a refused call is replied "refused" and nothing else */
	assert_int_equal(rpc_agent_reply(a, &c, "ok", NULL, 0, &reply, &len, &err), -EINVAL);
	assert_int_equal(rpc_agent_reply(a, &c, "refused", NULL, 0, &reply, &len, &err), 0);
	assert_int_equal(rpc_reply_open(rfx->ca_pem, NULL, reply, len, id, &body, &err), 0);
	assert_string_equal(json_string_value(json_object_get(body, "status")), "refused");
	assert_string_equal(json_string_value(json_object_get(body, "reason")), c.reason);
	rec = rpc_audit_record("web01", &c, NULL, 0);
	assert_string_equal(json_string_value(json_object_get(rec, "decision")), "refused");
	assert_string_equal(json_string_value(json_object_get(rec, "reason")), c.reason);
	assert_string_equal(json_string_value(json_object_get(rec, "caller")), "bob");
	assert_string_equal(json_string_value(json_object_get(rec, "role")), "dev");
	assert_string_equal(json_string_value(json_object_get(rec, "id")), id);
	assert_string_equal(json_string_value(json_object_get(rec, "node")), "web01");
	assert_true(json_is_null(json_object_get(rec, "status")));
	json_decref(rec);
	json_decref(body);
	free(reply);
	rpc_call_clear(&c);
	/* without a policy, everything is refused */
	rpc_agent_set_policy(a, NULL);
	free(text);
	text = request(&rfx->alice, "ping", NULL, NULL, 0, 60000, id);
	refused(a, text, 0, "no policy (everything is denied)");
	free(text);
	rpc_agent_free(a);
}

static void run_is_checked_against_the_commands_of_the_policy(void **state)
{
	struct rpc_agent *a = agent(NULL);
	char id[RPC_ID_HEX + 1];
	char *ok = request(&rfx->alice, "run", json_pack("{s:[s]}", "argv", "/usr/bin/uptime"),
			   NULL, 0, 60000, id);
	char *bad = request(&rfx->alice, "run", json_pack("{s:[ss]}", "argv", "/bin/rm", "-rf"),
			    NULL, 0, 60000, id);

	allowed(a, ok, 0);
	refused(a, bad, 0, "no rule allows run of '/bin/rm -rf' for alice (role ops)");
	free(ok);
	free(bad);
	rpc_agent_free(a);
}

static void a_reason_cut_inside_a_character_is_still_text(void **state)
{
	struct rpc_agent *a = agent(NULL);
	char id[RPC_ID_HEX + 1], arg[128], *text, *reply = NULL;
	struct tend_err err = { "" };
	struct rpc_call c;
	size_t len = 0;
	json_t *body = NULL, *rec;

	/* "/bin/echo aaa...é": the reason quotes 120 bytes, the cut falls inside "é" */
	memset(arg, 'a', 109);
	memcpy(arg + 109, "\xc3\xa9", 3);
	text = request(&rfx->alice, "run", json_pack("{s:[ss]}", "argv", "/bin/echo", arg), NULL, 0,
		       60000, id);
	check(a, text, 0, &c);
	assert_false(c.allowed);
	assert_says(c.reason, "no rule allows run of '/bin/echo aaa");
	assert_int_equal(rpc_agent_reply(a, &c, "refused", NULL, 0, &reply, &len, &err), 0);
	assert_int_equal(rpc_reply_open(rfx->ca_pem, NULL, reply, len, id, &body, &err), 0);
	assert_string_equal(json_string_value(json_object_get(body, "reason")), c.reason);
	rec = rpc_audit_record("web01", &c, NULL, 0);
	assert_string_equal(json_string_value(json_object_get(rec, "reason")), c.reason);
	json_decref(rec);
	json_decref(body);
	free(reply);
	rpc_call_clear(&c);
	free(text);
	rpc_agent_free(a);
}

static void allowed_call_has_an_audit_record_with_its_status(void **state)
{
	struct rpc_agent *a = agent(NULL);
	char id[RPC_ID_HEX + 1];
	char *text = request(&rfx->alice, "run", json_pack("{s:[s]}", "argv", "/usr/bin/uptime"),
			     NULL, 1700000000123LL, 60000, id);
	struct rpc_call c;
	json_t *rec;

	check(a, text, 1700000000456LL, &c);
	assert_true(c.allowed);
	rec = rpc_audit_record("web01", &c, "failed", 42);
	assert_string_equal(json_string_value(json_object_get(rec, "time")),
			    "2023-11-14T22:13:20.456Z");
	assert_string_equal(json_string_value(json_object_get(rec, "decision")), "allowed");
	assert_string_equal(json_string_value(json_object_get(rec, "status")), "failed");
	assert_string_equal(json_string_value(json_object_get(rec, "action")), "run");
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(json_object_get(rec, "args"), "argv"), 0)),
			    "/usr/bin/uptime");
	assert_int_equal(json_integer_value(json_object_get(rec, "ms")), 42);
	assert_string_equal(json_string_value(json_object_get(rec, "reason")),
			    "allowed by policy/ops.yaml:4");
	json_decref(rec);
	rpc_call_clear(&c);
	free(text);
	rpc_agent_free(a);
}

static void unreadable_requests_are_refused_with_the_reason(void **state)
{
	struct rpc_agent *a = agent(NULL);
	char body[512], *text;
	struct rpc_call c;
	char *big = calloc(1, RPC_ENVELOPE_MAX + 2);

	refused(a, "garbage", 0, "the envelope is not a JSON object");
	refused(a, "{\"tend_rpc\":2,\"body\":\"{}\"}", 0, "not a tend envelope");
	refused(a, "{\"tend_rpc\":1,\"cert\":\"x\"}", 0, "the envelope has no body");
	refused(a, "{\"tend_rpc\":1,\"body\":\"[1]\",\"cert\":\"x\",\"sig\":\"x\"}", 0,
		"the request's body is not a JSON object");
	memset(big, ' ', RPC_ENVELOPE_MAX + 1);
	refused(a, big, 0, "larger than");
	check(a, "garbage", 0, &c);
	assert_string_equal(c.id, "");
	rpc_call_clear(&c);
	/* members of the wrong type or size */
	snprintf(body, sizeof(body),
		 "{\"id\":\"%s\",\"caller\":\"alice\",\"action\":%s,"
		 "\"created\":%lld,\"ttl\":60000}",
		 "0123456789abcdef0123456789abcdef", "7", now_ms());
	text = craft(body, rfx->alice.pem, rfx->alice.key);
	refused(a, text, 0, "the action is not a name");
	free(text);
	snprintf(body, sizeof(body),
		 "{\"id\":\"%s\",\"caller\":\"alice\",\"action\":\"%s\","
		 "\"created\":%lld,\"ttl\":60000}",
		 "0123456789abcdef0123456789abcdef", "a23456789012345678901234567890123", now_ms());
	text = craft(body, rfx->alice.pem, rfx->alice.key);
	refused(a, text, 0, "the action is not a name");
	free(text);
	snprintf(body, sizeof(body),
		 "{\"id\":\"%s\",\"caller\":\"alice\",\"action\":\"ping\","
		 "\"created\":%lld,\"ttl\":60000}",
		 "0123456789ABCDEF0123456789abcdef", now_ms());
	text = craft(body, rfx->alice.pem, rfx->alice.key);
	refused(a, text, 0, "the request id is not 32 lowercase hex digits");
	free(text);
	snprintf(body, sizeof(body),
		 "{\"id\":\"%s\",\"caller\":\"alice\",\"action\":\"ping\","
		 "\"args\":[1],\"created\":%lld,\"ttl\":60000}",
		 "0123456789abcdef0123456789abcdef", now_ms());
	text = craft(body, rfx->alice.pem, rfx->alice.key);
	refused(a, text, 0, "args is not an object");
	free(text);
	snprintf(body, sizeof(body),
		 "{\"id\":\"%s\",\"caller\":\"alice\",\"action\":\"ping\","
		 "\"created\":\"%lld\",\"ttl\":60000}",
		 "0123456789abcdef0123456789abcdef", now_ms());
	text = craft(body, rfx->alice.pem, rfx->alice.key);
	refused(a, text, 0, "created is not a time");
	free(text);
	free(big);
	rpc_agent_free(a);
}

static void agents_may_share_one_certificate_cache(void **state)
{
	struct rpc_certcache *certs = rpc_certcache_new();
	struct rpc_agent_cfg cfg1 = { "web01",	      rfx->ca_pem, rfx->web01.key,
				      rfx->web01.pem, NULL,	   certs };
	struct rpc_agent_cfg cfg2 = { "web02",	      rfx->ca_pem, rfx->web02.key,
				      rfx->web02.pem, NULL,	   certs };
	json_t *files = json_pack("{s:s}", "policy/ops.yaml", policy_yaml);
	struct rpc_agent *a1 = NULL, *a2 = NULL;
	struct rpc_policy *p = NULL;
	char id[RPC_ID_HEX + 1];
	char *text = request(&rfx->alice, "ping", NULL, NULL, 0, 60000, id);
	char *forged = request(&rfx->forged, "ping", NULL, NULL, 0, 60000, id);
	struct rpc_self self2 = { "web02", tags, facts };
	struct rpc_call c;

	assert_int_equal(rpc_agent_new(&cfg1, &a1, NULL), 0);
	assert_int_equal(rpc_agent_new(&cfg2, &a2, NULL), 0);
	assert_int_equal(rpc_policy_parse(files, &p, NULL), 0);
	rpc_agent_set_policy(a1, p);
	assert_int_equal(rpc_policy_parse(files, &p, NULL), 0);
	rpc_agent_set_policy(a2, p);
	allowed(a1, text, 0);
	assert_int_equal(rpc_agent_check(a2, &self2, text, strlen(text), 0, &c), 0);
	assert_true(c.allowed);
	rpc_call_clear(&c);
	/* each agent keeps its own replay memory */
	refused(a1, text, 0, "replayed request id");
	refused(a1, forged, 0, "the caller's certificate is refused");
	assert_int_equal(rpc_agent_check(a2, &self2, forged, strlen(forged), 0, &c), 0);
	assert_false(c.allowed);
	rpc_call_clear(&c);
	rpc_agent_free(a1);
	rpc_agent_free(a2);
	rpc_certcache_free(certs);
	json_decref(files);
	free(text);
	free(forged);
}

static void agent_refuses_a_certificate_not_its_own_node(void **state)
{
	struct rpc_agent_cfg cfg = { "web01", rfx->ca_pem, rfx->alice.key, rfx->alice.pem, NULL };
	struct tend_err err = { "" };
	struct rpc_agent *a = NULL;

	assert_int_equal(rpc_agent_new(&cfg, &a, &err), -EINVAL);
	cfg = (struct rpc_agent_cfg){ "web01", rfx->ca_pem, rfx->web02.key, rfx->web02.pem, NULL };
	assert_int_equal(rpc_agent_new(&cfg, &a, &err), -EINVAL);
	assert_says(err.msg, "'web02', not node 'web01'");
	assert_null(a);
}

/* a revocation list from the CA: a caller it revokes is refused even
 * when its certificate was verified (and cached) before; an older list,
 * or one the CA did not sign, is not taken */
static void revoked_caller_is_refused_once_the_agent_has_the_list(void **state)
{
	struct rpc_agent *a = agent(NULL);
	struct tend_err err = { "" };
	char serial[PKI_SERIAL_HEX_MAX + 1], id[RPC_ID_HEX + 1], *t1, *t2, *t3, *old_crl;
	struct ident carol = { rfx_key(), NULL };
	long long n0;

	(void)state;
	assert_int_equal(pki_ca_issue_admin(rfx->ca, carol.key, "carol", "ops", 30, &carol.pem,
					    serial, &err),
			 0);
	old_crl = strdup(pki_ca_crl_pem(rfx->ca));
	n0 = pki_ca_crl_number(rfx->ca);
	assert_int_equal(rpc_agent_crl_number(a), 0);
	assert_int_equal(rpc_agent_set_crl(a, old_crl, &err), 1);
	assert_int_equal(rpc_agent_crl_number(a), n0);
	t1 = request(&carol, "ping", NULL, NULL, 0, 60000, id);
	allowed(a, t1, 0);
	assert_int_equal(pki_ca_revoke(rfx->ca, serial, &err), 0);
	/* the agent has not been told yet: carol's certificate is in its cache */
	t2 = request(&carol, "ping", NULL, NULL, 0, 60000, id);
	allowed(a, t2, 0);
	assert_int_equal(rpc_agent_set_crl(a, pki_ca_crl_pem(rfx->ca), &err), 1);
	assert_int_equal(rpc_agent_crl_number(a), n0 + 1);
	t3 = request(&carol, "ping", NULL, NULL, 0, 60000, id);
	refused(a, t3, 0, "certificate revoked");
	/* the same list again, or the older one: nothing changes */
	assert_int_equal(rpc_agent_set_crl(a, pki_ca_crl_pem(rfx->ca), &err), 0);
	assert_int_equal(rpc_agent_set_crl(a, old_crl, &err), 0);
	assert_int_equal(rpc_agent_crl_number(a), n0 + 1);
	/* another CA's list, or no list at all */
	assert_int_equal(rpc_agent_set_crl(a, pki_ca_crl_pem(rfx->other), &err), -EKEYREJECTED);
	assert_int_equal(rpc_agent_set_crl(a, "garbage", &err), -EINVAL);
	/* alice is not revoked */
	free(t1);
	t1 = request(&rfx->alice, "ping", NULL, NULL, 0, 60000, id);
	allowed(a, t1, 0);
	free(t1);
	free(t2);
	free(t3);
	free(old_crl);
	ident_free(&carol);
	rpc_agent_free(a);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(request_check_reply_and_reply_open_round_trip),
		T(tampered_request_is_refused),
		T(unsigned_request_is_refused),
		T(certificate_of_another_ca_is_refused),
		T(node_certificate_as_the_caller_is_refused),
		T(caller_other_than_the_certificate_is_refused),
		T(expired_request_is_refused),
		T(request_from_the_future_beyond_the_skew_is_refused),
		T(ttl_out_of_range_is_refused),
		T(replayed_request_is_refused_also_after_a_restart),
		T(nonce_file_drops_expired_and_malformed_lines_on_restart),
		T(nonce_store_holds_100k_ids_and_drops_expired_ones),
		T(nonce_file_is_compacted_when_most_of_it_expired),
		T(request_not_for_this_node_is_ignored_before_any_check),
		T(policy_decides_and_a_refusal_is_replied_and_audited),
		T(run_is_checked_against_the_commands_of_the_policy),
		T(a_reason_cut_inside_a_character_is_still_text),
		T(allowed_call_has_an_audit_record_with_its_status),
		T(unreadable_requests_are_refused_with_the_reason),
		T(agents_may_share_one_certificate_cache),
		T(agent_refuses_a_certificate_not_its_own_node),
		T(revoked_caller_is_refused_once_the_agent_has_the_list),
	};
#undef T

	return cmocka_run_group_tests(tests, rfx_setup, rfx_teardown);
}
