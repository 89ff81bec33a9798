/*
 * actions.c - the agent's built-in RPC actions: what runs once a signed
 * request passed rpc_agent_check (rpc.c).  This file holds the table,
 * the argument checks every action shares, and the actions that read
 * the agent's state: ping, facts, plan and apply.  The actions that run
 * commands (run, check, service) are in actions_run.c.
 *
 * Arguments come from the network (signed by an administrator, but
 * still input): every action accepts only the members it documents, and
 * anything else is a "failed" result with the reason, never a guess.
 * Data that leaves in a reply is valid UTF-8 JSON; its size is bounded
 * here (a report's diffs) and again by rpc.c when the signed reply is
 * built (RPC_ENVELOPE_MAX).
 *
 * Actions run on the cnats thread that delivered the request.  plan and
 * apply do not touch the engine from there: they go through ctx->converge,
 * which hands the work to the agent's loop (rpc.c), so that a convergence
 * never runs twice at once and the agent's state stays the loop's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tendd.h"
#include "util/buf.h"
#include "util/strutil.h"

/* a report's changes in a reply: at most this many resources, this much diff each */
#define CHANGES_MAX 1000
#define DIFF_MAX ((size_t)16 << 10)
#define FACT_PATHS_MAX 256

void action_fail(struct action_result *res, const char *fmt, ...)
{
	va_list ap;

	res->ok = false;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
}

int action_args_only(const json_t *args, const char *const *allowed, struct action_result *res)
{
	const char *k;
	json_t *v;

	if (args && !json_is_object(args)) {
		action_fail(res, "args must be a JSON object");
		return -EINVAL;
	}
	json_object_foreach((json_t *)args, k, v) {
		size_t i;

		for (i = 0; allowed[i] && strcmp(allowed[i], k); i++)
			;
		if (!allowed[i]) {
			action_fail(res, "unknown argument '%.64s'", k);
			return -EINVAL;
		}
	}
	return 0;
}

json_t *action_text(const char *s, size_t n)
{
	json_t *j = NULL;
	struct buf b;
	size_t i = 0;

	/* jansson takes NUL bytes, but a reader without JSON_ALLOW_NUL refuses "\u0000" */
	if (!s || !memchr(s, '\0', n))
		j = json_stringn(s ? s : "", s ? n : 0);
	if (j)
		return j;
	/* not UTF-8 (a binary, another charset): each bad byte (and NUL) becomes U+FFFD */
	buf_init(&b, n * 3 + 1);
	while (i < n) {
		size_t l = s[i] ? utf8_seq_len((const unsigned char *)s + i, n - i) : 0;

		if (l) {
			buf_add(&b, s + i, l);
			i += l;
		} else {
			buf_add(&b, "\xef\xbf\xbd", 3);
			i++;
		}
	}
	j = json_stringn(buf_str(&b), b.len);
	buf_free(&b);
	return j ? j : json_string("");
}

/* ---- ping, facts ------------------------------------------------------------ */

static void act_ping(const json_t *args, const struct action_ctx *c, struct action_result *res)
{
	static const char *const allowed[] = { NULL };

	if (action_args_only(args, allowed, res) < 0)
		return;
	res->data = json_pack("{s:s, s:I, s:o}", "version", TEND_VERSION, "uptime_s",
			      (json_int_t)c->uptime_s, "catalog",
			      c->hash && *c->hash ? json_string(c->hash) : json_null());
	res->ok = true;
}

/* child - member key (n bytes) of an object, or element key of an array; NULL when none. */
static json_t *child(const json_t *cur, const char *key, size_t n)
{
	char k[256], *end;
	long i;

	if (n >= sizeof(k))
		return NULL;
	memcpy(k, key, n);
	k[n] = '\0';
	if (!json_is_array(cur))
		return json_object_get(cur, k);
	i = strtol(k, &end, 10);
	return *k && !*end && i >= 0 ? json_array_get(cur, (size_t)i) : NULL;
}

/*
 * fact_at - the fact at a dotted path ("os.id", "mounts./boot.size"), or
 * NULL.  A member whose own name holds dots (mount points, interface
 * addresses) matches whole before the path is split further.
 */
static json_t *fact_at(const json_t *facts, const char *path)
{
	const json_t *cur = facts;
	const char *p = path;

	while (cur) {
		const char *dot = strchr(p, '.');
		json_t *whole = child(cur, p, strlen(p));

		if (whole || !dot)
			return whole;
		cur = child(cur, p, (size_t)(dot - p));
		p = dot + 1;
	}
	return NULL;
}

static void act_facts(const json_t *args, const struct action_ctx *c, struct action_result *res)
{
	static const char *const allowed[] = { "paths", NULL };
	const json_t *paths = json_object_get(args, "paths"), *p;
	size_t i;

	if (action_args_only(args, allowed, res) < 0)
		return;
	if (!c->facts) {
		action_fail(res, "the facts have not been collected yet");
		return;
	}
	if (!paths) {
		res->data = json_deep_copy(c->facts);
		res->ok = res->data != NULL;
		return;
	}
	if (!json_is_array(paths) || json_array_size(paths) > FACT_PATHS_MAX) {
		action_fail(res, "paths must be a list of at most %d fact paths like \"os.id\"",
			    FACT_PATHS_MAX);
		return;
	}
	res->data = json_object();
	json_array_foreach(paths, i, p) {
		const char *s = json_string_value(p);
		json_t *v;

		if (!s || !*s || strlen(s) > 255) {
			action_fail(res, "paths[%zu] is not a fact path like \"os.id\"", i);
			return;
		}
		v = fact_at(c->facts, s);
		json_object_set_new(res->data, s, v ? json_deep_copy(v) : json_null());
	}
	res->ok = true;
}

/* ---- plan, apply ------------------------------------------------------------ */

/* change_copy - one change of a report, its diff cut to DIFF_MAX. */
static json_t *change_copy(const json_t *ch)
{
	json_t *c = json_deep_copy(ch);
	const json_t *d = json_object_get(c, "diff");
	size_t n = json_string_length(d);

	if (json_is_string(d) && n > DIFF_MAX) {
		const char *s = json_string_value(d);

		while (n > DIFF_MAX || (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80))
			n--; /* cut at a character boundary */
		json_object_set_new(c, "diff", json_stringn(s, n));
		json_object_set_new(c, "diff_truncated", json_true());
	}
	return c;
}

/* resource_changes - a report's resource as {"resource","status","changes","message"}. */
static json_t *resource_changes(const json_t *r)
{
	json_t *out = json_object(), *chs = json_array(), *ch;
	const json_t *msg = json_object_get(r, "message");
	size_t i;

	json_object_set(out, "resource", json_object_get(r, "id"));
	json_object_set(out, "status", json_object_get(r, "status"));
	json_array_foreach(json_object_get(r, "changes"), i, ch)
		json_array_append_new(chs, change_copy(ch));
	json_object_set_new(out, "changes", chs);
	if (json_is_string(msg))
		json_object_set(out, "message", (json_t *)msg);
	return out;
}

static json_int_t count(const json_t *sum, const char *k)
{
	return json_integer_value(json_object_get(sum, k));
}

void action_report_data(const json_t *report, bool plan, struct action_result *res)
{
	const json_t *sum = json_object_get(report, "summary"), *r;
	const char *error = json_string_value(json_object_get(report, "error"));
	const char *status;
	json_t *changes = json_array();
	bool failed;
	size_t i;

	json_array_foreach(json_object_get(report, "resources"), i, r) {
		const char *st = json_string_value(json_object_get(r, "status"));

		if (st && strcmp(st, "ok") != 0 && json_array_size(changes) < CHANGES_MAX)
			json_array_append_new(changes, resource_changes(r));
	}
	failed = error || count(sum, "failed") || count(sum, "not_converged");
	status = failed			? "failed" :
		 !count(sum, "changed") ? "converged" :
		 plan			? "drifted" :
					  "changed";
	res->data = json_pack("{s:s, s:O, s:o}", "status", status, "summary",
			      sum ? (json_t *)sum : json_null(), "changes", changes);
	if (json_array_size(json_object_get(report, "resources")) > CHANGES_MAX)
		json_object_set_new(res->data, "truncated", json_true());
	if (json_is_object(json_object_get(report, "catalog")))
		json_object_set(res->data, "catalog", json_object_get(report, "catalog"));
	if (error)
		json_object_set_new(res->data, "error", json_string(error));
	res->ok = !failed;
	if (error)
		action_fail(res, "%s", error);
	else if (failed)
		action_fail(res, "%lld resources failed, %lld did not converge",
			    (long long)count(sum, "failed"),
			    (long long)count(sum, "not_converged"));
}

static void act_converge(const json_t *args, const struct action_ctx *c, bool plan,
			 struct action_result *res)
{
	static const char *const allowed[] = { NULL };
	struct tend_err err = { "" };
	json_t *rep = NULL;

	if (action_args_only(args, allowed, res) < 0)
		return;
	if (!c->converge || c->converge(c->arg, plan, &rep, &err) < 0) {
		action_fail(res, "%s", c->converge ? err.msg : "no engine in this agent");
		return;
	}
	action_report_data(rep, plan, res);
	json_decref(rep);
}

static void act_plan(const json_t *args, const struct action_ctx *c, struct action_result *res)
{
	act_converge(args, c, true, res);
}

static void act_apply(const json_t *args, const struct action_ctx *c, struct action_result *res)
{
	act_converge(args, c, false, res);
}

/* ---- the table ------------------------------------------------------------- */

static const struct {
	const char *name;
	void (*fn)(const json_t *args, const struct action_ctx *c, struct action_result *res);
} actions[] = {
	{ "ping", act_ping },	       { "facts", act_facts },	  { "plan", act_plan },
	{ "apply", act_apply },	       { "run", action_run_cmd }, { "check", action_check },
	{ "service", action_service },
};

void action_run(const char *action, const json_t *args, const struct action_ctx *c,
		struct action_result *res)
{
	memset(res, 0, sizeof(*res));
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (strcmp(actions[i].name, action) != 0)
			continue;
		actions[i].fn(args, c, res);
		if (!res->ok && !res->reason[0])
			action_fail(res, "%s failed", action);
		if (res->ok)
			res->reason[0] = '\0';
		return;
	}
	action_fail(res, "unknown action '%.32s' (ping, facts, plan, apply, run, service, check)",
		    action);
}

void action_result_clear(struct action_result *res)
{
	json_decref(res->data);
	res->data = NULL;
}
