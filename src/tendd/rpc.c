/*
 * rpc.c - the agent's answer to signed RPC requests (DESIGN.md: bus):
 * the subscriptions (tend.rpc.NODE and tend.rpc.all), the path of one
 * request (checks of lib/rpc, the action, the audit line, the signed
 * reply), and the state requests are checked against: the policy and
 * tags of the catalog in use and the node's facts.
 *
 * Threads.  cnats delivers each subscription's messages on a thread of
 * its own, in order, and a request is checked there (the replay store
 * sees requests one at a time).  An allowed action that may take long
 * (run, check, service, plan, apply) then goes on a thread of its own,
 * up to WORKERS_MAX at once, so that a command running for minutes does
 * not hold back a ping behind it; past that many, it runs on the
 * delivery thread, which holds back the subject's next requests (ones
 * that wait past their TTL are refused as expired).  The loop's
 * thread changes the policy, tags and facts after each run: one mutex
 * guards them and every call into the request checker.  plan and apply
 * are not run on a cnats thread: they are queued as jobs that the loop
 * runs between its own convergences (rpc_node_jobs, woken through an
 * eventfd) while the request's thread waits, so the engine never runs
 * twice at once and the agent's state (struct agent) stays the loop's.
 *
 * When the agent stops, the commands requests are running are killed
 * (their process groups), so those requests end audited and answered
 * before the connection closes.
 *
 * Replies carry at most RPC_ENVELOPE_MAX bytes: data that would not fit
 * is cut (long strings, then long lists) and says "truncated": true.  An
 * action that failed says why in data "error", which lib/rpc makes the
 * reply's "reason".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "bus/bus.h"
#include "engine/run.h"
#include "pki/pki.h"
#include "rpc/rpc.h"
#include "tendd.h"
#include "util/atomic.h"
#include "util/log.h"
#include "util/strutil.h"

/* how long stopping waits for the requests whose commands it killed */
#define STOP_WAIT_S 3
/* actions running on threads of their own at once (then on the delivery thread) */
#define WORKERS_MAX 16

/* A plan or apply a request waits for; lives on the waiting thread's stack. */
struct job {
	bool plan;
	bool done;
	int rc;
	json_t *report;
	struct tend_err err;
	struct job *next;
};

struct rpc_node {
	struct agent *a;
	struct rpc_agent *ra;
	EVP_PKEY *key;
	char *cert_pem;
	struct audit *audit;
	char subj_node[BUS_SUBJECT_MAX];
	char subj_audit[BUS_SUBJECT_MAX];
	double started_ms;
	int job_fd;

	pthread_mutex_t mu; /* guards what follows, and every call on ra */
	pthread_cond_t cond;
	json_t *tags;			 /* the catalog's, an array */
	json_t *facts;			 /* NULL until collected */
	char hash[81];			 /* of the catalog whose policy is in use */
	char policy_error[TEND_ERR_MAX]; /* the last one logged */
	struct job *jobs, **jobs_tail;
	bool stopping;
	int busy;    /* requests being handled */
	int workers; /* of them, on threads of their own */
};

/* An allowed request handed to a thread of its own. */
struct work {
	struct rpc_node *n;
	char *reply;
	struct rpc_call call;
};

static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- jobs for the loop ------------------------------------------------------ */

/* converge - the action_ctx hook: queue a plan or apply for the loop and wait for it. */
static int converge(void *arg, bool plan, json_t **ret, struct tend_err *err)
{
	struct rpc_node *n = arg;
	struct job j = { .plan = plan };
	uint64_t one = 1;

	pthread_mutex_lock(&n->mu);
	if (n->stopping) {
		pthread_mutex_unlock(&n->mu);
		return err_set(err, -ECANCELED, "the agent is stopping");
	}
	*n->jobs_tail = &j;
	n->jobs_tail = &j.next;
	pthread_mutex_unlock(&n->mu);
	if (write(n->job_fd, &one, sizeof(one)) < 0) {
		/* the counter is full: the loop has been told already */
	}
	pthread_mutex_lock(&n->mu);
	while (!j.done)
		pthread_cond_wait(&n->cond, &n->mu);
	pthread_mutex_unlock(&n->mu);
	if (j.rc < 0) {
		err_set(err, j.rc, "%s", j.err.msg);
		return j.rc;
	}
	*ret = j.report;
	return 0;
}

int rpc_node_fd(const struct rpc_node *n)
{
	return n->job_fd;
}

void rpc_node_jobs(struct rpc_node *n)
{
	uint64_t v;

	if (read(n->job_fd, &v, sizeof(v)) < 0) {
		/* nothing was signalled: look anyway */
	}
	for (;;) {
		struct tend_err err = { "" };
		json_t *rep = NULL;
		struct job *j;
		int rc;

		pthread_mutex_lock(&n->mu);
		j = n->jobs;
		if (j) {
			n->jobs = j->next;
			if (!n->jobs)
				n->jobs_tail = &n->jobs;
		}
		pthread_mutex_unlock(&n->mu);
		if (!j)
			return;
		log_info("rpc: %s requested", j->plan ? "plan" : "apply");
		if (j->plan) {
			rc = agent_plan(n->a, &rep, &err);
		} else {
			agent_converge_report(n->a, &rep);
			rc = rep ? 0 : err_set(&err, -ENOENT, "no usable catalog on this node");
		}
		pthread_mutex_lock(&n->mu);
		j->rc = rc;
		j->report = rep;
		j->err = err;
		j->done = true;
		pthread_cond_broadcast(&n->cond);
		pthread_mutex_unlock(&n->mu);
	}
}

/* ---- the state requests are checked against --------------------------------- */

void rpc_node_catalog(struct rpc_node *n, const json_t *catalog, const char *hash)
{
	const json_t *files = json_object_get(catalog, "policy");
	const json_t *tags = json_object_get(catalog, "tags");
	struct tend_err err = { "" };
	struct rpc_policy *p = NULL;
	json_t *old;

	if (!n || !strcmp(n->hash, hash ? hash : ""))
		return; /* the policy in use is this catalog's already */
	if (rpc_policy_parse(files, &p, &err) < 0) {
		if (strcmp(err.msg, n->policy_error) != 0)
			log_warnx("rpc: the policy does not parse: %s; every request is refused",
				  err.msg);
		snprintf(n->policy_error, sizeof(n->policy_error), "%s", err.msg);
	} else {
		n->policy_error[0] = '\0';
		if (!files || !json_object_size(files))
			log_info("rpc: the catalog has no policy: every request is refused");
	}
	pthread_mutex_lock(&n->mu);
	rpc_agent_set_policy(n->ra, p);
	old = n->tags;
	n->tags = json_is_array(tags) ? json_deep_copy(tags) : json_array();
	snprintf(n->hash, sizeof(n->hash), "%s", hash ? hash : "");
	pthread_mutex_unlock(&n->mu);
	json_decref(old);
}

void rpc_node_facts(struct rpc_node *n, json_t *facts)
{
	json_t *old, *copy;

	if (!n || !facts)
		return;
	/* a copy of our own: the loop's thread never touches its reference count */
	copy = json_deep_copy(facts);
	if (!copy)
		return;
	pthread_mutex_lock(&n->mu);
	old = n->facts;
	n->facts = copy;
	json_decref(old);
	pthread_mutex_unlock(&n->mu);
}

/* ---- replies ---------------------------------------------------------------- */

/* shrink - cut strings longer than str_max and lists longer than arr_max, in place. */
static bool shrink(json_t *j, size_t str_max, size_t arr_max)
{
	bool cut = false;
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		json_object_foreach(j, k, v) {
			if (json_is_string(v) && json_string_length(v) > str_max) {
				const char *s = json_string_value(v);
				size_t m = str_max;

				while (m > 0 && ((unsigned char)s[m] & 0xc0) == 0x80)
					m--; /* at a character boundary */
				json_object_set_new(j, k, json_stringn(s, m));
				cut = true;
			} else {
				cut |= shrink(v, str_max, arr_max);
			}
		}
	} else if (json_is_array(j)) {
		while (json_array_size(j) > arr_max) {
			json_array_remove(j, json_array_size(j) - 1);
			cut = true;
		}
		json_array_foreach(j, i, v) {
			if (json_is_string(v) && json_string_length(v) > str_max) {
				json_array_set_new(j, i,
						   json_string("(cut: too long for the reply)"));
				cut = true;
			} else {
				cut |= shrink(v, str_max, arr_max);
			}
		}
	}
	return cut;
}

/*
 * reply_text - the signed reply, data (borrowed) cut down until the
 * envelope fits RPC_ENVELOPE_MAX.  0 with *ret, or -errno (err).
 */
static int reply_text(struct rpc_node *n, const struct rpc_call *call, const char *status,
		      json_t *data, long long ms, char **ret, size_t *ret_len, struct tend_err *err)
{
	static const size_t strs[] = { (size_t)16 << 10, (size_t)2 << 10, 256 };
	static const size_t arrs[] = { 1000, 100, 10 };
	json_t *d = data ? json_deep_copy(data) : NULL;
	int r;

	for (size_t step = 0;; step++) {
		pthread_mutex_lock(&n->mu);
		r = rpc_agent_reply(n->ra, call, status, json_incref(d), ms, ret, ret_len, err);
		pthread_mutex_unlock(&n->mu);
		if (r == 0 || !d || (r != -E2BIG && r != -EMSGSIZE))
			break;
		if (step < 3) {
			shrink(d, strs[step], arrs[step]);
			json_object_set_new(d, "truncated", json_true());
		} else if (step == 3) {
			json_decref(d);
			d = json_pack("{s:s, s:b}", "error", "the data does not fit in a reply",
				      "truncated", true);
		} else {
			json_decref(d);
			d = NULL;
		}
	}
	json_decref(d);
	return r;
}

/* ---- one request ------------------------------------------------------------ */

/* act - run the allowed call's action into res. */
static void act(struct rpc_node *n, const struct rpc_call *call, struct action_result *res)
{
	struct action_ctx c = {
		.node = n->a->conf.node, .root = n->a->root, .converge = converge, .arg = n
	};
	char hash[81];

	pthread_mutex_lock(&n->mu);
	c.facts = json_incref(n->facts);
	snprintf(hash, sizeof(hash), "%s", n->hash);
	pthread_mutex_unlock(&n->mu);
	c.hash = hash;
	c.uptime_s = (run_now_ms() - n->started_ms) / 1000.0;
	action_run(call->action, call->args, &c, res);
	pthread_mutex_lock(&n->mu); /* a reference count the loop's thread may be changing too */
	json_decref((json_t *)c.facts);
	pthread_mutex_unlock(&n->mu);
}

/* record - the audit line of call; the action's failure, if any, as "error". */
static void record(struct rpc_node *n, const struct rpc_call *call, const char *status,
		   const char *error, long long ms)
{
	json_t *rec = rpc_audit_record(n->a->conf.node, call, status, ms);
	struct tend_err err;

	if (!rec) {
		log_warnx("rpc: request %s: no audit record (out of memory)", call->id);
		return;
	}
	if (error && *error)
		json_object_set_new(rec, "error", json_string(error));
	if (audit_write(n->audit, n->a->bus, n->subj_audit, rec, &err) < 0)
		log_warnx("rpc: request %s: %s", call->id, err.msg);
	json_decref(rec);
}

static void handle(struct rpc_node *n, const char *reply, struct rpc_call *call)
{
	struct action_result res = { 0 };
	const char *status = NULL;
	struct tend_err err = { "" };
	double t0 = run_now_ms();
	long long ms = 0;
	char *text = NULL;
	size_t len = 0;

	if (call->allowed) {
		act(n, call, &res);
		ms = (long long)(run_now_ms() - t0);
		status = res.ok ? "ok" : "failed";
		log_info("rpc: %s %s by %s: %s%s%s", call->id, call->action, call->caller, status,
			 res.ok ? "" : ": ", res.reason);
	} else {
		log_info("rpc: %s %s by %s refused: %s", call->id[0] ? call->id : "(unreadable)",
			 call->action, call->caller, call->reason);
	}
	record(n, call, status, res.ok ? NULL : res.reason, ms);
	if (status && !res.ok) { /* the reply's reason (lib/rpc): why it failed */
		if (!json_is_object(res.data)) {
			json_decref(res.data);
			res.data = json_object();
		}
		json_object_set_new(res.data, "error", json_string(res.reason));
	}
	if (reply && *reply) {
		if (reply_text(n, call, status ? status : "refused", res.data, ms, &text, &len,
			       &err) < 0)
			log_warnx("rpc: request %s: no reply: %s", call->id, err.msg);
		else if (bus_respond(n->a->bus, reply, text, len) < 0)
			log_info("rpc: request %s: the reply could not be sent", call->id);
	}
	free(text);
	action_result_clear(&res);
}

/* request_done - one request less being handled (and one worker less). */
static void request_done(struct rpc_node *n, bool worker)
{
	pthread_mutex_lock(&n->mu);
	n->busy--;
	if (worker)
		n->workers--;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->mu);
}

/* may_take_long - whether an allowed call's action may run for long (a command, the engine). */
static bool may_take_long(const struct rpc_call *call)
{
	static const char *const slow[] = { "run", "check", "service", "plan", "apply" };

	if (!call->allowed)
		return false;
	for (size_t i = 0; i < sizeof(slow) / sizeof(slow[0]); i++)
		if (!strcmp(call->action, slow[i]))
			return true;
	return false;
}

static void *work_main(void *arg)
{
	struct work *w = arg;
	struct rpc_node *n = w->n;

	handle(n, w->reply, &w->call);
	rpc_call_clear(&w->call);
	free(w->reply);
	free(w);
	request_done(n, true);
	return NULL;
}

/*
 * hand_off - run call on a thread of its own (it takes call's contents
 * and ends the request); -EAGAIN when WORKERS_MAX run already or no
 * thread can be made: the caller handles it then.
 */
static int hand_off(struct rpc_node *n, const char *reply, struct rpc_call *call)
{
	struct work *w;
	pthread_attr_t attr;
	pthread_t t;
	int r;

	pthread_mutex_lock(&n->mu);
	r = n->workers < WORKERS_MAX ? 0 : -EAGAIN;
	if (r == 0)
		n->workers++;
	pthread_mutex_unlock(&n->mu);
	if (r < 0)
		return r;
	w = xcalloc(1, sizeof(*w));
	w->n = n;
	w->reply = reply ? xstrdup(reply) : NULL;
	w->call = *call;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = -pthread_create(&t, &attr, work_main, w);
	pthread_attr_destroy(&attr);
	if (r == 0) {
		memset(call, 0, sizeof(*call)); /* the worker's now */
		return 0;
	}
	free(w->reply);
	free(w);
	pthread_mutex_lock(&n->mu);
	n->workers--;
	pthread_mutex_unlock(&n->mu);
	return r;
}

static void on_request(void *arg, const char *subject, const char *reply, const void *data,
		       size_t len)
{
	struct rpc_node *n = arg;
	struct rpc_self self;
	struct rpc_call call;
	int r;

	(void)subject;
	memset(&call, 0, sizeof(call));
	pthread_mutex_lock(&n->mu);
	if (n->stopping) {
		pthread_mutex_unlock(&n->mu);
		return;
	}
	n->busy++;
	self.node = n->a->conf.node;
	self.tags = n->tags;
	self.facts = n->facts;
	r = rpc_agent_check(n->ra, &self, data, len, wall_ms(), &call);
	pthread_mutex_unlock(&n->mu);
	if (r == 0 && may_take_long(&call) && hand_off(n, reply, &call) == 0)
		return; /* the worker ends the request */
	if (r == 0)
		handle(n, reply, &call);
	rpc_call_clear(&call);
	request_done(n, false);
}

/* ---- the revocation list -------------------------------------------------------- */

/* crl_save - pem as STATE/crl.pem, atomically. */
static void crl_save(struct rpc_node *n, const char *pem)
{
	int dfd = open(n->a->state, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = -errno;

	if (dfd >= 0) {
		r = atomic_write_at(dfd, TENDD_CRL_FILE, pem, strlen(pem), 0644, ATOMIC_KEEP_OWNER,
				    (gid_t)-1);
		close(dfd);
	}
	if (r < 0)
		log_warnx("rpc: cannot keep the revocation list in %s/%s: %s", n->a->state,
			  TENDD_CRL_FILE, strerror(-r));
}

int rpc_node_crl(struct rpc_node *n, const char *pem)
{
	struct tend_err err = { "" };
	long long number;
	int r;

	pthread_mutex_lock(&n->mu);
	r = rpc_agent_set_crl(n->ra, pem, &err);
	number = rpc_agent_crl_number(n->ra);
	pthread_mutex_unlock(&n->mu);
	if (r < 0) {
		log_warnx("rpc: refused a revocation list: %s", err.msg);
		return r;
	}
	if (r > 0) {
		log_info("rpc: revocation list %lld in use", number);
		crl_save(n, pem);
	}
	return r;
}

long long rpc_node_crl_number(struct rpc_node *n)
{
	long long v;

	pthread_mutex_lock(&n->mu);
	v = rpc_agent_crl_number(n->ra);
	pthread_mutex_unlock(&n->mu);
	return v;
}

/* crl_load - the list kept from an earlier run, if any. */
static void crl_load(struct rpc_node *n)
{
	struct buf p = BUF_INIT, pem = BUF_INIT;
	struct tend_err err = { "" };
	int r;

	state_path(&p, n->a->state, TENDD_CRL_FILE);
	r = read_file_max(buf_str(&p), TENDD_CRL_MAX, &pem);
	if (r < 0 && r != -ENOENT)
		log_warnx("rpc: cannot read %s: %s", buf_str(&p), strerror(-r));
	else if (r == 0 && rpc_agent_set_crl(n->ra, buf_str(&pem), &err) < 0)
		log_warnx("rpc: %s: %s; not used", buf_str(&p), err.msg);
	buf_free(&p);
	buf_free(&pem);
}

/* ---- life ------------------------------------------------------------------- */

/* load_identity - the node's key and certificate, for its replies. */
static int load_identity(struct rpc_node *n, struct tend_err *err)
{
	struct buf p = BUF_INIT, pem = BUF_INIT;
	int r;

	state_path(&p, n->a->state, "node.key");
	r = pki_key_load(buf_str(&p), &n->key, err);
	if (r == 0) {
		state_path(&p, n->a->state, "node.pem");
		r = read_file_max(buf_str(&p), TENDD_PEM_MAX, &pem);
		if (r < 0)
			err_set(err, r, "cannot read %s: %s", buf_str(&p), strerror(-r));
		else
			n->cert_pem = buf_steal(&pem);
	}
	buf_free(&p);
	buf_free(&pem);
	return r;
}

int rpc_node_new(struct agent *a, const json_t *catalog, struct rpc_node **ret,
		 struct tend_err *err)
{
	struct rpc_node *n = xcalloc(1, sizeof(*n));
	struct rpc_agent_cfg cfg = { 0 };
	struct buf nonces = BUF_INIT;
	json_t *facts;
	int r;

	n->a = a;
	n->job_fd = -1;
	n->started_ms = run_now_ms();
	n->jobs_tail = &n->jobs;
	n->tags = json_array();
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->cond, NULL);
	if (snprintf(n->subj_node, sizeof(n->subj_node), "%s%s", RPC_SUBJ_NODE, a->conf.node) >=
		    (int)sizeof(n->subj_node) ||
	    snprintf(n->subj_audit, sizeof(n->subj_audit), "%s%s", RPC_SUBJ_AUDIT, a->conf.node) >=
		    (int)sizeof(n->subj_audit)) {
		r = err_set(err, -ENAMETOOLONG, "the node id is too long for a subject");
		goto fail;
	}
	if ((r = load_identity(n, err)) < 0 || (r = audit_open(a->state, &n->audit, err)) < 0)
		goto fail;
	state_path(&nonces, a->state, "rpc-nonces");
	cfg.node = a->conf.node;
	cfg.ca_pem = a->ca_pem;
	cfg.key = n->key;
	cfg.cert_pem = n->cert_pem;
	cfg.nonce_path = buf_str(&nonces);
	r = rpc_agent_new(&cfg, &n->ra, err);
	buf_free(&nonces);
	if (r < 0)
		goto fail;
	n->job_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (n->job_fd < 0) {
		r = err_set(err, -errno, "eventfd: %s", strerror(errno));
		goto fail;
	}
	crl_load(n);
	if (catalog)
		rpc_node_catalog(n, catalog, json_string_value(json_object_get(catalog, "hash")));
	facts = agent_facts(a);
	rpc_node_facts(n, facts);
	json_decref(facts);
	*ret = n;
	return 0;
fail:
	rpc_node_free(n);
	return r;
}

/* on_crl - the server published a new revocation list (rpc_node_crl checks it). */
static void on_crl(void *arg, const char *subject, const char *reply, const void *data, size_t len)
{
	struct rpc_node *n = arg;
	char *pem;

	(void)subject;
	(void)reply;
	if (len == 0 || len > TENDD_CRL_MAX)
		return;
	pem = xcalloc(1, len + 1);
	memcpy(pem, data, len);
	if (strlen(pem) == len)
		rpc_node_crl(n, pem);
	free(pem);
}

int rpc_node_subscribe(struct rpc_node *n, struct tend_err *err)
{
	int r = bus_subscribe(n->a->bus, n->subj_node, NULL, on_request, n, err);

	if (r == 0)
		r = bus_subscribe(n->a->bus, RPC_SUBJ_ALL, NULL, on_request, n, err);
	/* a broker configured before this subject existed refuses it: the
	 * list still comes with the catalog answers */
	if (r == 0 && bus_subscribe(n->a->bus, RPC_SUBJ_CRL, NULL, on_crl, n, err) < 0)
		log_info("rpc: no subscription to %s: %s", RPC_SUBJ_CRL, err->msg);
	return r;
}

void rpc_node_connected(struct rpc_node *n)
{
	int sent = n ? audit_forward(n->audit, n->a->bus, n->subj_audit) : 0;

	if (sent > 0)
		log_info("rpc: forwarded %d audit record%s kept while offline", sent,
			 sent == 1 ? "" : "s");
}

/*
 * kill_commands - SIGKILL the process groups of this process's children
 * that lead their own (the commands util/proc.c runs for actions): their
 * requests then end at once, audited and answered.
 */
static void kill_commands(void)
{
	DIR *d = opendir("/proc");
	pid_t me = getpid();
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		char path[64], st[512], *p;
		long pid, ppid, pgrp;
		ssize_t len;
		int fd;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/stat", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		len = fd >= 0 ? read(fd, st, sizeof(st) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (len <= 0)
			continue;
		st[len] = '\0';
		/* "PID (COMM) STATE PPID PGRP ...": COMM may hold anything, so from the last ')' */
		p = strrchr(st, ')');
		pid = strtol(e->d_name, NULL, 10);
		if (p && sscanf(p + 1, " %*c %ld %ld", &ppid, &pgrp) == 2 && ppid == me &&
		    pgrp == pid)
			kill(-(pid_t)pid, SIGKILL);
	}
	if (d)
		closedir(d);
}

void rpc_node_stop(struct rpc_node *n)
{
	struct timespec until;

	if (!n)
		return;
	pthread_mutex_lock(&n->mu);
	n->stopping = true;
	for (struct job *j = n->jobs; j; j = j->next) {
		j->rc = err_set(&j->err, -ECANCELED, "the agent is stopping");
		j->done = true;
	}
	n->jobs = NULL;
	n->jobs_tail = &n->jobs;
	pthread_cond_broadcast(&n->cond);
	if (n->busy) {
		int busy = n->busy;

		/* commands still running for requests: end them, and let their
		 * requests be audited and answered while the bus is still there */
		pthread_mutex_unlock(&n->mu);
		log_info("rpc: stopping the commands of %d request%s", busy, busy == 1 ? "" : "s");
		kill_commands();
		pthread_mutex_lock(&n->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += STOP_WAIT_S;
		while (n->busy && pthread_cond_timedwait(&n->cond, &n->mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&n->mu);
}

void rpc_node_free(struct rpc_node *n)
{
	bool busy;

	if (!n)
		return;
	pthread_mutex_lock(&n->mu);
	busy = n->busy > 0;
	pthread_mutex_unlock(&n->mu);
	if (busy)
		return; /* a request outlived bus_close: keep what it uses; the process ends */
	rpc_agent_free(n->ra);
	audit_free(n->audit);
	EVP_PKEY_free(n->key);
	free(n->cert_pem);
	json_decref(n->tags);
	json_decref(n->facts);
	if (n->job_fd >= 0)
		close(n->job_fd);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->mu);
	free(n);
}
