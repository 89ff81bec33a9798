/*
 * agent.c - one emulated agent: what tendd does with a request, minus
 * the actions that would touch the machine.
 *
 * A request on tend.rpc.all or tend.rpc.NODE goes through the real
 * rpc_agent_check with the agent's own struct rpc_agent (its key, its
 * nonces, kept in memory) and its own policy, then the action runs and
 * rpc_agent_reply signs the answer with the agent's key.  ping answers
 * as tendd's does (version, uptime, no catalog); every other action
 * answers "failed": "not emulated".  The audit record is built with
 * rpc_audit_record, counted and dropped: the emulator has no disk
 * journal per agent and forwards nothing to the server.
 *
 * Requests arrive on cnats' delivery threads; an agent's two
 * subscriptions may deliver at once, so each agent has a lock around
 * its struct rpc_agent.  The reply is published outside it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "emulator.h"
#include "util/strutil.h"

#define EMU_MEMORY_TOTAL 8589934592LL /* 8 GiB: every emulated node's memory fact */
#define EMU_AUTH_RETRIES 20
#define EMU_AUTH_RETRY_MS 250

long long emu_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static long long mono_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* facts - a small fixed set, the shape tendd reports (lib/facts). */
static json_t *facts(const char *node)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s}, s:{s:I}, s:{s:i}, s:b}",
			 "hostname", node, "fqdn", node, "os", "id", "debian", "family", "debian",
			 "version_id", "12", "kernel", "release", "emulated", "memory", "total",
			 (json_int_t)EMU_MEMORY_TOTAL, "processors", "count", 2, "emulated", 1);
}

/* act - the emulated action of an allowed call: its status, data into *data. */
static const char *act(struct emu_agent *a, const struct rpc_call *call, json_t **data)
{
	if (strcmp(call->action, "ping")) {
		*data = json_pack("{s:s}", "error", "not emulated");
		return "failed";
	}
	if (json_object_size(call->args)) {
		*data = json_pack("{s:s}", "error", "ping takes no arguments");
		return "failed";
	}
	*data = json_pack("{s:s, s:f, s:n}", "version", TEND_VERSION, "uptime_s",
			  (double)(emu_now_ms() - a->emu->started_ms) / 1000.0, "catalog");
	return "ok";
}

/* count - the statistics of one call looked at. */
static void count(struct emu_stats *st, const struct rpc_call *call, const char *status)
{
	atomic_fetch_add(&st->requests, 1);
	if (!call->allowed) {
		atomic_fetch_add(&st->refused, 1);
		return;
	}
	atomic_fetch_add(&st->allowed, 1);
	atomic_fetch_add(strcmp(status, "ok") ? &st->failed : &st->ok, 1);
}

static void on_request(void *arg, const char *subject, const char *reply, const void *data,
		       size_t len)
{
	struct emu_agent *a = arg;
	struct emu_stats *st = &a->emu->stats;
	struct rpc_self self = { a->id->node, a->emu->tags, a->facts };
	struct tend_err err = { "" };
	struct rpc_call call;
	const char *status = "refused";
	json_t *out = NULL, *audit;
	char *text = NULL;
	size_t text_len = 0;
	long long t0;
	int r;

	pthread_mutex_lock(&a->lock);
	if (rpc_agent_check(a->rpc, &self, data, len, emu_now_ms(), &call) == 1) {
		pthread_mutex_unlock(&a->lock);
		atomic_fetch_add(&st->skipped, 1);
		return;
	}
	t0 = mono_us();
	if (call.allowed)
		status = act(a, &call, &out);
	r = rpc_agent_reply(a->rpc, &call, status, out, (mono_us() - t0) / 1000, &text, &text_len,
			    &err);
	pthread_mutex_unlock(&a->lock);
	count(st, &call, status);
	audit = rpc_audit_record(a->id->node, &call, call.allowed ? status : NULL,
				 (mono_us() - t0) / 1000);
	if (audit)
		atomic_fetch_add(&st->audits, 1);
	json_decref(audit);
	if (r == 0 && reply && *reply)
		r = bus_loop_publish(a->conn, reply, NULL, text, text_len, &err);
	if (r < 0)
		atomic_fetch_add(&st->errors, 1);
	else if (reply && *reply)
		atomic_fetch_add(&st->replies, 1);
	free(text);
	rpc_call_clear(&call);
}

int emu_agent_init(struct emu *e, struct emu_agent *a, const struct emu_identity *id,
		   struct tend_err *err)
{
	struct rpc_agent_cfg cfg = {
		.node = id->node,
		.ca_pem = e->ca_pem,
		.key = id->key,
		.cert_pem = id->cert_pem,
		.nonce_path = NULL,
	};
	struct rpc_policy *p = NULL;
	int r;

	*a = (struct emu_agent){ .emu = e, .id = id };
	r = rpc_agent_new(&cfg, &a->rpc, err);
	if (r < 0) {
		err_prefix(err, "%s", id->node);
		return r;
	}
	pthread_mutex_init(&a->lock, NULL);
	/* the policy was checked once in main(): a broken one refuses everything, as tendd's */
	rpc_policy_parse(e->policy_files, &p, NULL);
	rpc_agent_set_policy(a->rpc, p);
	a->facts = facts(id->node);
	return 0;
}

int emu_agent_connect(struct emu_agent *a, const char *url, struct tend_err *err)
{
	const char *urls[] = { url, NULL };
	struct bus_loop_conn_opts co = {
		.urls = urls,
		.ca_pem = a->emu->ca_pem,
		.cert_pem = a->id->cert_pem,
		.key_pem = a->id->key_pem,
		.name = a->id->node,
		.reconnect = true,
	};
	int r;

	/* a node enrolled a moment ago is let in once tend-server has reloaded
	 * its broker: a refusal is tried again for a few seconds */
	for (int tries = 0;; tries++) {
		r = bus_loop_connect(a->emu->loop, &co, &a->conn, err);
		if ((r != -EACCES && r != -EPERM) || tries == EMU_AUTH_RETRIES)
			break;
		usleep(EMU_AUTH_RETRY_MS * 1000);
	}
	if (r == 0)
		r = bus_loop_subscribe(a->conn, RPC_SUBJ_ALL, on_request, a, err);
	if (r < 0)
		err_prefix(err, "%s", a->id->node);
	return r;
}

int emu_agent_subscribe_own(struct emu_agent *a, struct tend_err *err)
{
	char subject[EMU_NODE_MAX + 16];
	int r;

	snprintf(subject, sizeof(subject), "%s%s", RPC_SUBJ_NODE, a->id->node);
	r = bus_loop_subscribe(a->conn, subject, on_request, a, err);
	if (r == 0 && (r = bus_loop_flush(a->conn, 30000)) < 0)
		err_set(err, r, "the broker did not confirm the subscriptions: %s", strerror(-r));
	if (r < 0)
		err_prefix(err, "%s", a->id->node);
	return r;
}

void emu_agent_clear(struct emu_agent *a)
{
	if (!a->emu)
		return;
	bus_loop_close(a->conn);
	rpc_agent_free(a->rpc);
	pthread_mutex_destroy(&a->lock);
	json_decref(a->facts);
	*a = (struct emu_agent){ 0 };
}
