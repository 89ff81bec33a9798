/*
 * converge.c - one convergence of the agent: ask the server for the
 * catalog (with the hash of the one in use, so an unchanged catalog is
 * answered "not-modified" and never re-sent), keep a new one verified on
 * disk, load the newest good one, collect facts (sent when they changed),
 * run the engine over --root as `tend apply` does (src/tend/cmd_run.c),
 * spool the report and deliver what the spool holds, and say so with a
 * `run` event.  The RPC side (rpc.c) gets each catalog loaded (its policy
 * and tags) and the facts; plan and apply requests reach agent_plan and
 * agent_converge_report through the loop.
 *
 * Nothing of a run outlives it: the catalog, its resources, the facts and
 * the report are freed before agent_converge returns, so an idle agent
 * holds only its connection.  When the server cannot be asked, the
 * cached catalog is used and the report says since when it is stale.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus/bus.h"
#include "engine/report.h"
#include "engine/run.h"
#include "facts/facts.h"
#include "model/catalog.h"
#include "tendd.h"
#include "util/hash.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/strutil.h"

#define ANSWER_MAX ((size_t)64 << 20)
/* a report larger than this loses its unchanged resources (NATS' default payload limit is 1 MiB) */
#define REPORT_SEND_MAX ((size_t)900 << 10)

static bool connected(const struct agent *a)
{
	return a->bus && bus_connected(a->bus);
}

/* ask - request on tend.WHAT.NODE; *ret the answer parsed (an object). */
static int ask(struct agent *a, const char *what, const char *text, size_t len, int timeout_ms,
	       json_t **ret, struct tend_err *err)
{
	char subject[TENDD_NODE_MAX + 32], *ans = NULL;
	size_t alen = 0;
	json_t *j;
	int r;

	if (!connected(a))
		return err_set(err, -ENOTCONN, "not connected to the broker");
	snprintf(subject, sizeof(subject), "tend.%s.%s", what, a->conf.node);
	r = bus_request(a->bus, subject, text, len, timeout_ms, &ans, &alen, err);
	if (r < 0)
		return r;
	j = alen <= ANSWER_MAX ? json_loadb(ans ? ans : "", alen, 0, NULL) : NULL;
	free(ans);
	if (!json_is_object(j)) {
		json_decref(j);
		return err_set(err, -EBADMSG, "%s: the answer is not a JSON object", subject);
	}
	*ret = j;
	return 0;
}

/* store_answer - a "status": "ok" answer's catalog, verified and kept. */
static int store_answer(struct agent *a, const json_t *ans, struct tend_err *err)
{
	const json_t *cat = json_object_get(ans, "catalog");
	const char *sig = json_string_value(json_object_get(ans, "signature"));
	const char *signer = json_string_value(json_object_get(ans, "signer"));
	char hash[81];
	int r;

	if (!json_is_string(cat) || !sig || !signer)
		return err_set(err, -EBADMSG, "the answer has no catalog, signature and signer");
	r = cache_store(a->state, a->ca_pem, json_string_value(cat), json_string_length(cat), sig,
			signer, hash, err);
	if (r == 0) {
		log_info("new catalog %s", hash);
		snprintf(a->hash, sizeof(a->hash), "%s", hash);
	}
	return r;
}

/* fetch - ask the server for the catalog: 0 when what is on disk is current. */
static int fetch(struct agent *a)
{
	struct tend_err err;
	const char *status;
	json_t *req, *ans = NULL;
	char *text;
	int r;

	req = json_pack("{s:o}", "hash", a->hash[0] ? json_string(a->hash) : json_null());
	if (a->rpc) /* the revocation list this agent has: a newer one comes with the answer */
		json_object_set_new(req, "crl", json_integer(rpc_node_crl_number(a->rpc)));
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	r = ask(a, "catalog", text, strlen(text), a->request_timeout_ms, &ans, &err);
	free(text);
	if (r < 0) {
		log_info("catalog: %s; using the cached one", err.msg);
		return r;
	}
	status = json_string_value(json_object_get(ans, "status"));
	if (a->rpc && json_is_string(json_object_get(ans, "crl")))
		rpc_node_crl(a->rpc, json_string_value(json_object_get(ans, "crl")));
	if (status && !strcmp(status, "not-modified")) {
		log_debug("catalog %s: not modified", a->hash);
	} else if (status && !strcmp(status, "ok")) {
		r = store_answer(a, ans, &err);
		if (r < 0)
			log_warnx("refused the catalog the server sent: %s; the previous one stays in use",
				  err.msg);
	} else {
		const char *e = json_string_value(json_object_get(ans, "error"));

		log_warnx("catalog: the server says: %s", e ? e : "(no status)");
		r = -EIO;
	}
	json_decref(ans);
	return r;
}

/* load - the newest good catalog on disk; a->hash follows it. */
static int load(struct agent *a, json_t **ret, bool *ret_prev)
{
	struct tend_err warn, err;
	int r = cache_load(a->state, a->ca_pem, ret, a->hash, ret_prev, &warn, &err);

	if (r == 0 && *ret_prev)
		log_warnx("refused the cached catalog (%s); using the previous one", warn.msg);
	else if (r < 0)
		log_warnx("no usable catalog: %s", err.msg);
	if (r < 0)
		a->hash[0] = '\0';
	return r;
}

/* facts_digest - hash of the facts that describe the machine (not the ones that tick). */
static void facts_digest(const json_t *facts, char out[SHA256_HEX_LEN + 1])
{
	json_t *f = json_deep_copy(facts), *m;
	const char *k;
	char *text;

	json_object_del(f, "uptime");
	json_object_del(json_object_get(f, "memory"), "available");
	json_object_del(json_object_get(f, "memory"), "available_h");
	json_object_del(json_object_get(f, "memory"), "free");
	json_object_del(json_object_get(f, "swap"), "free");
	json_object_foreach(json_object_get(f, "mounts"), k, m) {
		json_object_del(m, "available");
		json_object_del(m, "free");
	}
	text = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
	sha256_hex(text ? text : "", text ? strlen(text) : 0, out);
	free(text);
	json_decref(f);
}

/* addresses - the node's addresses (no prefix length) and MACs from facts.interfaces, for the inventory. */
static void addresses(const json_t *facts, json_t *req)
{
	json_t *addrs = json_array(), *macs = json_array(), *ifc, *a;
	const char *name, *fam[] = { "ipv4", "ipv6" };
	size_t i;

	json_object_foreach(json_object_get(facts, "interfaces"), name, ifc) {
		const char *mac = json_string_value(json_object_get(ifc, "mac"));

		if (!strcmp(name, "lo"))
			continue;
		if (mac && strcmp(mac, "00:00:00:00:00:00") != 0 && json_array_size(macs) < 64)
			json_array_append_new(macs, json_string(mac));
		for (int f = 0; f < 2; f++)
			json_array_foreach(json_object_get(ifc, fam[f]), i, a) {
				const char *s = json_string_value(a);
				size_t n = s ? strcspn(s, "/") : 0;

				if (n && json_array_size(addrs) < 256)
					json_array_append_new(addrs, json_stringn(s, n));
			}
	}
	json_object_set_new(req, "addresses", addrs);
	json_object_set_new(req, "macs", macs);
}

/* send_facts - publish the facts when they changed since last acknowledged. */
static void send_facts(struct agent *a, const json_t *facts)
{
	char digest[SHA256_HEX_LEN + 1], *text;
	struct tend_err err;
	json_t *req, *ans = NULL;
	int r;

	facts_digest(facts, digest);
	if (!strcmp(digest, a->facts_hash) || !connected(a))
		return;
	req = json_pack("{s:O}", "facts", facts);
	addresses(facts, req);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	r = ask(a, "facts", text, strlen(text), a->request_timeout_ms, &ans, &err);
	free(text);
	if (r == 0 && json_is_true(json_object_get(ans, "ok"))) {
		memcpy(a->facts_hash, digest, sizeof(digest));
		log_debug("facts sent");
	} else {
		log_info("facts not delivered: %s", r < 0 ? err.msg : "the server did not say ok");
	}
	json_decref(ans);
}

static void on_wait(void *arg)
{
	log_warnx("waiting for another run on %s", (const char *)arg);
}

static void on_result(struct run *run, struct resource *r, void *arg)
{
	static const struct report_opts ro = { false, false, false };

	report_resource_text(stderr, run, r, &ro);
}

/* engine - apply (or plan) cat on the root with facts: the report, or an error report. */
static json_t *engine(struct agent *a, const json_t *cj, json_t *facts, bool plan, int *ret_exit)
{
	struct run_opts ro = { .root = a->root, .plan = plan };
	struct tend_err err = { "" };
	struct buf files = BUF_INIT;
	struct catalog cat;
	struct run run;
	json_t *rep = NULL;
	int lock_fd = -1;

	catalog_init(&cat);
	memset(&run, 0, sizeof(run));
	*ret_exit = 1;
	if (state_path(&files, a->state, "files") < 0 ||
	    cache_write_files(a->state, cj, a->hash, &err) < 0 ||
	    catalog_add_json(&cat, cj, buf_str(&files), &err) < 0)
		goto input_err;
	/* a plan writes nothing: like `tend plan`, it takes no lock */
	if (!plan)
		lock_fd = root_lock(a->root, true, on_wait, (void *)a->root, &err);
	if ((!plan && lock_fd < 0) || run_prepare(&run, &cat, &ro, facts, &err) < 0)
		goto input_err;
	if (plan) {
		run_plan(&run);
	} else {
		run.on_result = on_result;
		run_apply(&run);
	}
	run_finish(&run);
	rep = report_json(&run, plan ? "plan" : "apply", a->root);
	*ret_exit = run.sum.failed ? 1 : 0;
	log_info("%s: %zu resources: %zu %s, %zu failed, %zu skipped in %.0f ms",
		 plan ? "plan" : "apply", run.sum.total, run.sum.changed,
		 plan ? "to change" : "changed", run.sum.failed, run.sum.skipped, run.sum.ms);
	goto out;
input_err:
	log_warnx("%s", err.msg);
	rep = json_pack("{s:i, s:s, s:s, s:s, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i}, s:[]}",
			"version", 1, "command", plan ? "plan" : "apply", "root", a->root, "error",
			err.msg, "summary", "total", 0, "ok", 0, "changed", 0, "failed", 0,
			"skipped", 0, "unknown", 0, "not_converged", 0, "resources");
out:
	run_free(&run);
	catalog_free(&cat);
	buf_free(&files);
	if (lock_fd >= 0)
		close(lock_fd);
	return rep;
}

/* shrink - a report too large to send keeps its resources that did something. */
static char *payload_text(json_t *payload, json_t *rep)
{
	char *text = json_dumps(payload, JSON_COMPACT);
	json_t *res = json_object_get(rep, "resources"), *keep;
	size_t i;
	json_t *x;

	if (!text || strlen(text) <= REPORT_SEND_MAX)
		return text;
	free(text);
	keep = json_array();
	json_array_foreach(res, i, x) {
		const char *st = json_string_value(json_object_get(x, "status"));

		if (st && strcmp(st, "ok") != 0 && json_array_size(keep) < 1000) {
			json_object_del(x, "output");
			json_array_append(keep, x);
		}
	}
	json_object_set_new(rep, "resources", keep);
	json_object_set_new(rep, "truncated", json_true());
	text = json_dumps(payload, JSON_COMPACT);
	if (text && strlen(text) > REPORT_SEND_MAX) {
		free(text);
		json_object_set_new(rep, "resources", json_array());
		text = json_dumps(payload, JSON_COMPACT);
	}
	return text;
}

/* spool_report - the run's report as {"id","time","report"} into the spool; id out. */
static int spool_report(struct agent *a, json_t *rep, time_t started, char id[UUID_LEN + 1])
{
	char when[32], stale[32];
	struct tend_err err;
	json_t *payload, *cat;
	char *text;
	int r;

	iso_time(started, when);
	iso_time(a->stale_since, stale);
	cat = json_pack("{s:o, s:o}", "hash", a->hash[0] ? json_string(a->hash) : json_null(),
			"stale_since", a->stale_since ? json_string(stale) : json_null());
	json_object_set_new(rep, "catalog", cat);
	json_object_set_new(rep, "agent", json_pack("{s:s}", "version", TEND_VERSION));
	spool_new_id(id);
	/* the stored report names itself: delivered twice, it is still one report */
	json_object_set_new(rep, "uuid", json_string(id));
	payload = json_pack("{s:s, s:s, s:O}", "id", id, "time", when, "report", rep);
	text = payload_text(payload, rep);
	json_decref(payload);
	if (!text)
		return -ENOMEM;
	r = spool_add(a->state, id, text, strlen(text), &err);
	if (r < 0)
		log_warnx("the report is lost: %s", err.msg);
	free(text);
	return r;
}

static int deliver(void *arg, const char *id, const char *payload, size_t len)
{
	struct agent *a = arg;
	struct tend_err err;
	json_t *ans = NULL;
	int r;

	r = ask(a, "report", payload, len, a->request_timeout_ms, &ans, &err);
	if (r == 0 && !json_is_true(json_object_get(ans, "ok"))) {
		const char *e = json_string_value(json_object_get(ans, "error"));

		log_warnx("report %s: the server says: %s", id, e ? e : "not ok");
		/* "retry": false is for good (a malformed report): set it aside */
		r = json_is_false(json_object_get(ans, "retry")) ? 1 : -EIO;
		json_decref(ans);
		return r;
	}
	if (r < 0)
		log_info("report %s not delivered yet: %s", id, err.msg);
	else
		log_debug("report %s delivered", id);
	json_decref(ans);
	return r;
}

void agent_flush(struct agent *a)
{
	size_t left = 0;
	int n;

	if (!connected(a))
		return;
	events_flush(a->bus, a->request_timeout_ms);
	n = spool_flush(a->state, deliver, a, &left);
	if (n > 0)
		log_info("delivered %d spooled report%s%s", n, n == 1 ? "" : "s",
			 left ? "; more wait" : "");
}

json_t *agent_facts(struct agent *a)
{
	struct fsroot froot;
	struct tend_err err;
	json_t *facts;

	if (fsroot_open(&froot, a->root, &err) < 0) {
		log_warnx("%s", err.msg);
		return NULL;
	}
	facts = facts_collect(&froot);
	fsroot_close(&froot);
	return facts;
}

int agent_plan(struct agent *a, json_t **ret, struct tend_err *err)
{
	json_t *cj = NULL, *facts, *rep;
	bool prev = false, fresh;
	int ex;

	/* a plan is of the configuration as it is now: ask the server first,
	 * as a run does; the cached catalog answers when it is away */
	fresh = fetch(a) == 0;
	if (load(a, &cj, &prev) < 0)
		return err_set(err, -ENOENT, "no usable catalog on this node");
	if (a->rpc)
		rpc_node_catalog(a->rpc, cj, a->hash);
	facts = agent_facts(a);
	rep = engine(a, cj, facts, true, &ex);
	json_object_set_new(rep, "catalog",
			    json_pack("{s:s, s:b}", "hash", a->hash, "stale", !fresh || prev));
	json_decref(cj);
	json_decref(facts);
	*ret = rep;
	return 0;
}

int agent_converge(struct agent *a)
{
	return agent_converge_report(a, NULL);
}

int agent_converge_report(struct agent *a, json_t **ret_report)
{
	time_t started = time(NULL);
	char id[UUID_LEN + 1] = "";
	json_t *cj = NULL, *facts = NULL, *rep = NULL, *sum;
	bool prev = false;
	int ex = 1, f, r;

	f = fetch(a);
	r = load(a, &cj, &prev);
	if (f == 0 && (r < 0 || prev)) {
		/* the server confirmed a catalog that is damaged on disk: ask again
		 * with the hash of what could be loaded, and it sends the current one */
		json_decref(cj);
		cj = NULL;
		f = fetch(a);
		r = load(a, &cj, &prev);
	}
	if (f == 0 && r == 0 && !prev)
		a->stale_since = 0;
	else if (!a->stale_since)
		a->stale_since = started;
	if (!cj) {
		event_publish(a->bus, a->conf.node, "run",
			      json_pack("{s:s}", "error", "no usable catalog"));
		if (ret_report)
			*ret_report = NULL;
		return 1;
	}
	if (a->rpc) /* its policy and tags: requests are checked against the catalog in use */
		rpc_node_catalog(a->rpc, cj, a->hash);
	facts = agent_facts(a);
	if (facts)
		send_facts(a, facts);
	rep = engine(a, cj, facts, false, &ex);
	json_decref(cj);
	if (a->rpc && rep) {
		const json_t *sum_run = json_object_get(rep, "summary");

		/* what RPC filters see: the facts as this run left them */
		if (json_integer_value(json_object_get(sum_run, "changed"))) {
			json_decref(facts);
			facts = agent_facts(a);
		}
		if (facts)
			rpc_node_facts(a->rpc, facts);
	}
	json_decref(facts);
	if (rep && spool_report(a, rep, started, id) == 0)
		agent_flush(a);
	sum = rep ? json_deep_copy(json_object_get(rep, "summary")) : NULL;
	if (ret_report)
		*ret_report = rep;
	else
		json_decref(rep);
	event_publish(a->bus, a->conf.node, "run",
		      json_pack("{s:s, s:o, s:i, s:s, s:b}", "report", id, "summary",
				sum ? sum : json_object(), "exit", ex, "catalog", a->hash, "stale",
				a->stale_since != 0));
	return ex;
}
