/*
 * bus_server.c - tend-server's side of the bus (see bus_server.h): one
 * NATS connection with the server certificate, four queue subscriptions
 * (any replica of tend-server may answer), and the code that turns what
 * nodes send into database rows and catalog answers.
 *
 * Everything that arrives is untrusted and bounded: the broker lets node
 * N publish only on its own subjects, so the node named in the subject is
 * authenticated, and nothing in a payload may claim another one.
 *
 * Catalog requests are the hot path: every agent asks on every run
 * whether its catalog changed.  The answer "not modified" needs only the
 * catalog's hash, so the hashes are kept per node for the current HEAD
 * (any commit, through the API or a git push, empties the table); a
 * request costs a ref lookup and a hash-table probe.  Only a catalog
 * that must be sent is compiled (the compiler has its own cache),
 * serialized and signed.
 *
 * cnats calls each subscription's handler from a thread of its own: the
 * handlers take s->lock around every use of the repository, the database
 * and the compiler, which the HTTP dispatcher takes too.
 */
#include "bus_server.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "bus/bus.h"
#include "compile.h"
#include "db.h"
#include "pki/pki.h"
#include "repo.h"
#include "util/log.h"
#include "util/strutil.h"

#define HASH_CACHE_MAX ((size_t)1 << 20) /* nodes remembered per HEAD */
#define HASH_TEXT_MAX 80

struct hentry {
	struct hentry *next;
	char hash[HASH_TEXT_MAX];
	char node[];
};

/* node -> catalog hash at head (under s->lock). */
struct hcache {
	char head[REPO_OID_HEX + 1];
	struct repo_snap *snap;
	struct hentry **slots;
	size_t nslots, n;
};

struct bus_server {
	struct server *srv;
	struct bus *bus;
	struct hcache cache;
	atomic_ulong catalog_requests, not_modified, catalogs_sent, reports, events, errors;
};

/* ---- the hash cache ---- */

static size_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

static void hcache_clear(struct hcache *c)
{
	for (size_t i = 0; i < c->nslots; i++)
		for (struct hentry *e = c->slots[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(c->slots);
	c->slots = NULL;
	c->nslots = c->n = 0;
}

static const char *hcache_get(const struct hcache *c, const char *node)
{
	if (!c->nslots)
		return NULL;
	for (struct hentry *e = c->slots[fnv1a(node) & (c->nslots - 1)]; e; e = e->next)
		if (!strcmp(e->node, node))
			return e->hash;
	return NULL;
}

static void hcache_grow(struct hcache *c)
{
	size_t n = c->nslots ? c->nslots * 2 : 1024;
	struct hentry **slots = xcalloc(n, sizeof(*slots));

	for (size_t i = 0; i < c->nslots; i++)
		for (struct hentry *e = c->slots[i], *next; e; e = next) {
			size_t j = fnv1a(e->node) & (n - 1);

			next = e->next;
			e->next = slots[j];
			slots[j] = e;
		}
	free(c->slots);
	c->slots = slots;
	c->nslots = n;
}

static void hcache_put(struct hcache *c, const char *node, const char *hash)
{
	size_t len = strlen(node);
	struct hentry *e;

	if (strlen(hash) >= HASH_TEXT_MAX || hcache_get(c, node))
		return;
	if (c->n >= HASH_CACHE_MAX) {
		struct repo_snap *keep = c->snap;

		hcache_clear(c);
		c->snap = keep;
	}
	if (c->n >= c->nslots)
		hcache_grow(c);
	e = xcalloc(1, sizeof(*e) + len + 1);
	memcpy(e->node, node, len + 1);
	snprintf(e->hash, sizeof(e->hash), "%s", hash);
	e->next = c->slots[fnv1a(node) & (c->nslots - 1)];
	c->slots[fnv1a(node) & (c->nslots - 1)] = e;
	c->n++;
}

/* hcache_sync - follow HEAD: a new commit empties the table (under s->lock). */
static int hcache_sync(struct bus_server *bs, struct tend_err *err)
{
	struct hcache *c = &bs->cache;
	char head[REPO_OID_HEX + 1];
	struct repo_snap *snap = NULL;
	int r = repo_head(bs->srv->repo, head, err);

	if (r < 0)
		return r;
	if (c->snap && !strcmp(head, c->head))
		return 0;
	r = repo_snap_open(bs->srv->repo, head, &snap, err);
	if (r < 0)
		return r;
	hcache_clear(c);
	repo_snap_free(c->snap);
	c->snap = snap;
	memcpy(c->head, head, sizeof(head));
	return 0;
}

/* ---- answers ---- */

static void respond_json(struct bus_server *bs, const char *reply, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int r = text ? bus_respond(bs->bus, reply, text, strlen(text)) : -ENOMEM;

	if (r < 0) {
		atomic_fetch_add(&bs->errors, 1);
		log_debug("bus: cannot answer on %s: %s", reply, strerror(-r));
	}
	free(text);
	json_decref(j);
}

static json_t *error_answer(const char *msg)
{
	return json_pack("{s:s, s:s}", "status", "error", "error", msg);
}

/* sign_catalog - the "ok" answer for catalog cat (under s->lock). */
static json_t *sign_catalog(struct bus_server *bs, const json_t *cat, struct tend_err *err)
{
	struct pki_ca *ca = bs->srv->ca;
	char *text = json_dumps(cat, JSON_COMPACT | JSON_SORT_KEYS), *sig = NULL;
	EVP_PKEY *key = pki_ca_server_key(ca);
	const char *pem = pki_ca_server_cert_pem(ca);
	json_t *answer = NULL;

	if (!text) {
		err_set(err, -ENOMEM, "cannot serialize the catalog");
	} else if (strlen(text) > BUS_PAYLOAD_MAX - 64 * 1024) {
		err_set(err, -EMSGSIZE, "the catalog (%zu bytes) is larger than the bus carries",
			strlen(text));
	} else if (!key || !pem) {
		err_set(err, -ENOKEY, "the server has no signing key");
	} else if (pki_sign(key, text, strlen(text), &sig, err) == 0) {
		answer = json_pack("{s:s, s:s, s:s, s:s}", "status", "ok", "catalog", text,
				   "signature", sig, "signer", pem);
	}
	free(text);
	free(sig);
	return answer;
}

/*
 * catalog_answer - what to answer node that has the catalog of hash want
 * (NULL: none): "not-modified", the signed catalog, or an error (under
 * s->lock).
 */
static json_t *catalog_answer(struct bus_server *bs, const char *node, const char *want)
{
	struct tend_err err = { "" };
	const char *hash;
	json_t *cat = NULL, *answer = NULL;

	if (hcache_sync(bs, &err) < 0)
		return error_answer(err.msg);
	hash = hcache_get(&bs->cache, node);
	if (hash && want && !strcmp(hash, want)) {
		atomic_fetch_add(&bs->not_modified, 1);
		return json_pack("{s:s}", "status", "not-modified");
	}
	if (compile_node(bs->srv->compiler, bs->cache.snap, node, &cat, &err) < 0)
		return error_answer(err.msg);
	hash = json_string_value(json_object_get(cat, "hash"));
	if (hash)
		hcache_put(&bs->cache, node, hash);
	if (hash && want && !strcmp(hash, want)) {
		atomic_fetch_add(&bs->not_modified, 1);
		answer = json_pack("{s:s}", "status", "not-modified");
	} else {
		answer = sign_catalog(bs, cat, &err);
		if (answer)
			atomic_fetch_add(&bs->catalogs_sent, 1);
		else
			answer = error_answer(err.msg);
	}
	json_decref(cat);
	return answer;
}

/*
 * add_crl - the CA's revocation list into answer when it is newer than
 * the one the agent has (the request's "crl": its number, 0 for none;
 * a request without it asks for no list), so that
 * an agent refuses revoked administrators even where a broker was not
 * told.  The list is signed by the CA: it needs no other signature.
 * Under s->lock (a revoke or SIGHUP replaces the list).
 */
static void add_crl(struct bus_server *bs, json_t *answer, json_int_t have)
{
	const char *pem = bs->srv->ca ? pki_ca_crl_pem(bs->srv->ca) : NULL;
	const char *status = json_string_value(json_object_get(answer, "status"));

	if (pem && status && strcmp(status, "error") &&
	    pki_ca_crl_number(bs->srv->ca) > (long long)have)
		json_object_set_new(answer, "crl", json_string(pem));
}

void bus_server_publish_crl(struct server *s)
{
	const char *pem = s->ca ? pki_ca_crl_pem(s->ca) : NULL;
	struct tend_err err = { "" };

	if (!s->bus || !s->bus->bus || !pem)
		return;
	if (bus_publish(s->bus->bus, BUS_SUBJ_CRL, pem, strlen(pem), &err) < 0)
		log_info("revocation list not published (agents get it with their next catalog): %s",
			 err.msg);
}

/* parse_object - data as a JSON object of at most max bytes, or NULL with why. */
static json_t *parse_object(const void *data, size_t len, size_t max, struct tend_err *err)
{
	json_error_t je;
	json_t *j;

	if (len > max) {
		err_set(err, -EMSGSIZE, "request larger than %zu bytes", max);
		return NULL;
	}
	j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		err_set(err, -EINVAL, "the request is not a JSON object%s%s", j ? "" : ": ",
			j ? "" : je.text);
		json_decref(j);
		return NULL;
	}
	return j;
}

static void on_catalog(void *arg, const char *subject, const char *reply, const void *data,
		       size_t len)
{
	struct bus_server *bs = arg;
	const char *node = subject + strlen(BUS_SUBJ_CATALOG);
	struct tend_err err = { "" };
	json_t *req, *h, *answer;

	if (!reply)
		return;
	atomic_fetch_add(&bs->catalog_requests, 1);
	req = parse_object(data, len, BUS_CATALOG_REQ_MAX, &err);
	h = json_object_get(req, "hash");
	if (!req || !db_node_id_ok(node) || (h && !json_is_null(h) && !json_is_string(h))) {
		atomic_fetch_add(&bs->errors, 1);
		respond_json(bs, reply,
			     error_answer(req ? "bad request: {\"hash\": \"sha256:...\" or null}" :
						err.msg));
		json_decref(req);
		return;
	}
	pthread_mutex_lock(&bs->srv->lock);
	answer = catalog_answer(bs, node, json_string_value(h));
	if (json_is_integer(json_object_get(req, "crl")))
		add_crl(bs, answer, json_integer_value(json_object_get(req, "crl")));
	pthread_mutex_unlock(&bs->srv->lock);
	json_decref(req);
	respond_json(bs, reply, answer);
}

/* ok_answer - {"ok":true}, or {"ok":false,"error","retry"} for -errno r. */
static json_t *ok_answer(int r, const char *msg)
{
	bool retry = r == -EBUSY || r == -EIO || r == -ENOSPC || r == -ENOMEM || r == -EAGAIN;

	if (r >= 0)
		return json_pack("{s:b}", "ok", 1);
	return json_pack("{s:b, s:s, s:b}", "ok", 0, "error", msg && *msg ? msg : strerror(-r),
			 "retry", retry);
}

static void on_report(void *arg, const char *subject, const char *reply, const void *data,
		      size_t len)
{
	struct bus_server *bs = arg;
	const char *node = subject + strlen(BUS_SUBJ_REPORT);
	struct tend_err err = { "" };
	json_t *req = parse_object(data, len, BUS_PAYLOAD_MAX, &err);
	const char *id = json_string_value(json_object_get(req, "id"));
	json_t *report = json_object_get(req, "report");
	int64_t rid = 0;
	bool stored = false;
	int r = req ? 0 : -EINVAL;

	if (r == 0 && (!id || !json_is_object(report)))
		r = err_set(&err, -EINVAL,
			    "a report is {\"id\": UUID, \"time\", \"report\": {...}}");
	if (r == 0) {
		pthread_mutex_lock(&bs->srv->lock);
		r = db_report_add_once(bs->srv->db, node, id, report, &rid, &stored, &err);
		pthread_mutex_unlock(&bs->srv->lock);
	}
	if (r < 0) {
		atomic_fetch_add(&bs->errors, 1);
		log_warnx("bus: report from %s refused: %s", node, err.msg);
	} else if (stored) {
		atomic_fetch_add(&bs->reports, 1);
		log_debug("bus: report %s of %s stored as %lld", id, node, (long long)rid);
	}
	if (reply)
		respond_json(bs, reply, ok_answer(r, err.msg));
	json_decref(req);
}

static void on_facts(void *arg, const char *subject, const char *reply, const void *data,
		     size_t len)
{
	static const char *const keys[] = { "facts", "addresses", "macs", NULL };
	struct bus_server *bs = arg;
	const char *node = subject + strlen(BUS_SUBJ_FACTS);
	struct tend_err err = { "" };
	json_t *req = parse_object(data, len, DB_FACTS_MAX + 65536, &err), *fields = json_object();
	int r = req ? 0 : -EINVAL;

	for (size_t i = 0; r == 0 && keys[i]; i++) {
		json_t *v = json_object_get(req, keys[i]);

		if (v)
			json_object_set(fields, keys[i], v);
	}
	if (r == 0 && !json_is_object(json_object_get(req, "facts")))
		r = err_set(&err, -EINVAL, "facts are {\"facts\": {...}}");
	if (r == 0) {
		pthread_mutex_lock(&bs->srv->lock);
		r = db_node_seen(bs->srv->db, node, fields, &err);
		pthread_mutex_unlock(&bs->srv->lock);
	}
	if (r < 0) {
		atomic_fetch_add(&bs->errors, 1);
		log_warnx("bus: facts from %s refused: %s", node, err.msg);
	}
	if (reply)
		respond_json(bs, reply, ok_answer(r, err.msg));
	json_decref(fields);
	json_decref(req);
}

/* iso_seconds - "2026-11-22T06:09:23Z" (fraction allowed) to Unix seconds; 0 if not. */
static int64_t iso_seconds(const char *s)
{
	struct tm tm = { 0 };
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;

	if (!end)
		return 0;
	if (*end == '.')
		for (end++; *end >= '0' && *end <= '9'; end++)
			;
	if (strcmp(end, "Z"))
		return 0;
	return (int64_t)timegm(&tm);
}

static void on_event(void *arg, const char *subject, const char *reply, const void *data,
		     size_t len)
{
	struct bus_server *bs = arg;
	const char *rest = subject + strlen(BUS_SUBJ_EVENT), *dot = strrchr(rest, '.');
	struct tend_err err = { "" };
	char node[DB_NODE_ID_MAX + 1];
	json_t *ev = parse_object(data, len, DB_EVENT_DATA_MAX + 4096, &err), *d = NULL;
	const char *type = dot ? dot + 1 : NULL, *t = NULL, *n = NULL;
	int r = ev ? 0 : -EINVAL;

	if (r == 0 && (!dot || (size_t)(dot - rest) > DB_NODE_ID_MAX))
		r = err_set(&err, -EINVAL, "bad event subject %s", subject);
	if (r == 0) {
		memcpy(node, rest, (size_t)(dot - rest));
		node[dot - rest] = '\0';
		t = json_string_value(json_object_get(ev, "type"));
		n = json_string_value(json_object_get(ev, "node"));
		d = json_object_get(ev, "data");
		/* the subject is what the broker vouches for: the body must agree */
		if ((t && strcmp(t, type)) || (n && strcmp(n, node)))
			r = err_set(&err, -EINVAL, "event names another node or type than %s",
				    subject);
	}
	if (r == 0) {
		pthread_mutex_lock(&bs->srv->lock);
		r = db_event_add(bs->srv->db, node, type,
				 iso_seconds(json_string_value(json_object_get(ev, "time"))),
				 json_is_object(d) ? d : NULL, NULL, &err);
		pthread_mutex_unlock(&bs->srv->lock);
	}
	if (r < 0) {
		atomic_fetch_add(&bs->errors, 1);
		log_warnx("bus: event %s refused: %s", subject, err.msg);
	} else {
		atomic_fetch_add(&bs->events, 1);
	}
	if (reply)
		respond_json(bs, reply, ok_answer(r, err.msg));
	json_decref(ev);
}

/*
 * on_audit - a node's audit record of a request it was sent (tend.audit.N).
 * The record is the node's word and stored as such; the node it is
 * filed under is the subject's, which the broker vouches for.
 */
static void on_audit(void *arg, const char *subject, const char *reply, const void *data,
		     size_t len)
{
	struct bus_server *bs = arg;
	const char *node = subject + strlen(BUS_SUBJ_AUDIT);
	struct tend_err err = { "" };
	json_t *rec = parse_object(data, len, DB_RPC_AUDIT_MAX, &err);
	const char *n = json_string_value(json_object_get(rec, "node"));
	int r = rec ? 0 : -EINVAL;

	if (r == 0 && n && strcmp(n, node))
		r = err_set(&err, -EINVAL, "audit record names another node than %s", subject);
	if (r == 0) {
		pthread_mutex_lock(&bs->srv->lock);
		r = db_rpc_audit_add(bs->srv->db, node, rec, &err);
		pthread_mutex_unlock(&bs->srv->lock);
	}
	if (r < 0) {
		atomic_fetch_add(&bs->errors, 1);
		log_warnx("bus: audit record on %s refused: %s", subject, err.msg);
	}
	if (reply)
		respond_json(bs, reply, ok_answer(r, err.msg));
	json_decref(rec);
}

/* ---- life ---- */

static void on_state(void *arg, bool connected)
{
	if (connected)
		log_info("bus: connected to the broker");
	else
		log_warnx("bus: disconnected from the broker; reconnecting");
}

static void bs_free(struct bus_server *bs)
{
	hcache_clear(&bs->cache);
	repo_snap_free(bs->cache.snap);
	free(bs);
}

int bus_server_start(struct server *s, struct tend_err *err)
{
	static const struct {
		const char *subject;
		bus_msg_fn *fn;
	} subs[] = {
		{ BUS_SUBJ_CATALOG ">", on_catalog },
		{ BUS_SUBJ_REPORT ">", on_report },
		{ BUS_SUBJ_FACTS ">", on_facts },
		{ BUS_SUBJ_EVENT ">", on_event },
		{ BUS_SUBJ_AUDIT ">", on_audit },
	};
	struct bus_server *bs = xcalloc(1, sizeof(*bs));
	json_t *urls = broker_client_urls(s, true);
	const char **u = xcalloc(json_array_size(urls) + 1, sizeof(*u));
	struct bus_opts o = {
		.urls = u,
		.ca = pki_ca_path(s->ca, PKI_CA_CERT),
		.cert = pki_ca_path(s->ca, PKI_SERVER_CERT),
		.key = pki_ca_path(s->ca, PKI_SERVER_KEY),
		.name = PKI_SERVER_CN,
		.on_state = on_state,
		.arg = bs,
		.reconnect_max_ms = 2000,
	};
	int r;

	for (size_t i = 0; i < json_array_size(urls); i++)
		u[i] = json_string_value(json_array_get(urls, i));
	bs->srv = s;
	r = bus_connect(&o, &bs->bus, err);
	for (size_t i = 0; r == 0 && i < sizeof(subs) / sizeof(subs[0]); i++)
		r = bus_subscribe(bs->bus, subs[i].subject, BUS_QUEUE, subs[i].fn, bs, err);
	free(u);
	json_decref(urls);
	if (r < 0) {
		bus_close(bs->bus);
		bs_free(bs);
		return r;
	}
	s->bus = bs;
	return 0;
}

void bus_server_stop(struct server *s)
{
	struct bus_server *bs = s ? s->bus : NULL;

	if (!bs)
		return;
	bus_close(bs->bus);
	log_info("bus: %lu catalog requests (%lu not modified, %lu catalogs sent), %lu reports "
		 "stored, %lu events, %lu refused or failed",
		 atomic_load(&bs->catalog_requests), atomic_load(&bs->not_modified),
		 atomic_load(&bs->catalogs_sent), atomic_load(&bs->reports),
		 atomic_load(&bs->events), atomic_load(&bs->errors));
	s->bus = NULL;
	bs_free(bs);
}
