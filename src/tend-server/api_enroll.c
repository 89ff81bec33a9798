/*
 * api_enroll.c - enrollment over HTTP: nodes ask for a certificate
 * (POST /v1/enroll), with a one-time token or without one (then an
 * administrator approves: POST /v1/nodes/{node}/approve), anyone may
 * fetch the CA certificate (GET /v1/ca), and an administrator lists the
 * waiting requests (GET /v1/enrollments) and revokes a node
 * (POST /v1/nodes/{node}/revoke).
 *
 * POST /v1/enroll is public: what authorises it is the token in the body
 * or, without one, the administrator who approves later.  Its checks, in
 * order:
 *   - the CSR (pki_csr_check: for this node's name, no SAN, not a CA, no
 *     extension, signed by its key): 400 with the reason;
 *   - a key whose certificate was ever revoked is refused (403): a
 *     revoked identity does not come back by asking again;
 *   - the same node and key already hold a certificate: it is answered
 *     again (200; no token is spent) - this is how a waiting agent polls;
 *   - the node holds a certificate for another key: 409 (revoke first),
 *     so that a token cannot take over an enrolled node's name;
 *   - with a token: claimed (403 unknown, expired or spent), the node
 *     registered with the token's tags written to nodes/NODE.yaml when it
 *     has no document (a validated commit by "enroll:TOKEN"), the
 *     certificate issued: 200 {"certificate","ca","nats_urls",...};
 *   - without: the request is kept (202 {"status":"pending"}); a request
 *     with another key for the same node is refused (409) while one waits.
 * Token refusals and state changes are written to the audit log (the
 * dispatcher audits only authenticated writes).  After a certificate is
 * issued or revoked, the broker is reloaded so that it lets the node in
 * or throws it out.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "broker.h"
#include "bus_server.h"
#include "ca.h"
#include "db.h"
#include "node_doc.h"
#include "pki/pki.h"
#include "repo.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strutil.h"

#define TOKEN_FIELD_MAX 128
#define WHO_MAX 96

/* ---- helpers ---- */

/* audit_public - an audit record for a public route (the dispatcher does the others). */
static void audit_public(struct api_req *rq, struct api_resp *rs, const char *who,
			 const char *node)
{
	struct tend_err err = { "" };
	json_t *e = rs->json ? json_object_get(rs->json, "error") : NULL;
	struct db_audit a = {
		.who = who ? who : "-",
		.address = rq->address,
		.action = "POST /v1/enroll",
		.target = node,
		.status = rs->status,
		.commit = rs->audit_commit[0] ? rs->audit_commit : NULL,
		.detail = rs->audit_detail[0] ? rs->audit_detail : json_string_value(e),
	};

	if (db_audit_add(rq->srv->db, &a, &err) < 0)
		log_warnx("audit: cannot record an enrollment of %s: %s", node, err.msg);
}

/* node_name - an enrollable node name (a CN: at most 64 bytes) or NULL with a 400. */
static const char *node_name(struct api_resp *rs, const char *id)
{
	if (!db_node_id_ok(id) || strlen(id) > PKI_CN_MAX) {
		api_error(rs, 400,
			  "bad node name '%.100s': letters, digits, '.', '-', '_', 1 to %d bytes",
			  id ? id : "", PKI_CN_MAX);
		return NULL;
	}
	if (!strcmp(id, PKI_SERVER_CN)) {
		api_error(rs, 400, "'%s' is the server's own name", id);
		return NULL;
	}
	return id;
}

static int string_field(json_t *body, const char *name, size_t max, bool required,
			struct api_resp *rs, const char **ret)
{
	json_t *v = json_object_get(body, name);

	*ret = NULL;
	if ((!v || json_is_null(v)) && !required)
		return 0;
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return api_error(rs, 400, "field '%s' must be a string of at most %zu bytes", name,
				 max),
		       -EINVAL;
	*ret = json_string_value(v);
	return 0;
}

/* answer_cert - 200 with the certificate and what the node needs to use it. */
static void answer_cert(struct api_req *rq, struct api_resp *rs, const char *node,
			const char *pem, const char *serial)
{
	json_t *urls = broker_client_urls(rq->srv, false);

	api_ok(rs, 200,
	       json_pack("{s:s, s:s, s:s, s:s, s:o}", "node", node, "certificate", pem, "serial",
			 serial, "ca", pki_ca_cert_pem(rq->srv->ca), "nats_urls",
			 urls ? urls : json_array()));
}

/*
 * issue - sign csr for node, record it (issued_by who), register the node
 * and reload the broker.  0 with *ret_pem and serial; 1 with rs answered.
 */
static int issue(struct api_req *rq, struct api_resp *rs, const char *node, X509_REQ *csr,
		 const char *fpr, const char *who, char **ret_pem, char serial[PKI_SERIAL_HEX_MAX + 1])
{
	struct tend_err err = { "" };
	struct db *db = rq->srv->db;
	struct db_cert c = { 0 };
	long long not_after = 0;
	char *pem = NULL;
	int r;

	r = pki_ca_issue_node(rq->srv->ca, csr, node, CA_NODE_DAYS, &pem, serial, &err);
	if (r == 0)
		r = pki_cert_serial(pem, serial, &not_after, &err);
	if (r == 0) {
		c = (struct db_cert){ serial, node, fpr, pem, (int64_t)not_after, who };
		r = db_cert_add(db, &c, &err);
	}
	if (r < 0) {
		free(pem);
		api_error(rs, 500, "cannot issue the certificate: %s",
			  err.msg[0] ? err.msg : strerror(-r));
		return 1;
	}
	(void)db_enroll_pending_delete(db, node, NULL); /* -ENOENT: none was waiting */
	if (db_node_seen(db, node, NULL, &err) < 0)
		log_warnx("enroll: cannot register node %s: %s", node, err.msg);
	broker_reload_soon(rq->srv);
	snprintf(rs->audit_detail, sizeof(rs->audit_detail), "certificate %s issued to %s by %s",
		 serial, node, who);
	*ret_pem = pem;
	return 0;
}

/*
 * write_tags - nodes/NODE.yaml with the token's tags when the node has no
 * document (and there are tags): a validated commit by who.  0 when done
 * or nothing to do; 1 with rs answered.
 */
static int write_tags(struct api_req *rq, struct api_resp *rs, const char *node,
		      const json_t *tags, const char *who)
{
	char path[REPO_PATH_MAX + 1], blob[REPO_OID_HEX + 1], rev[REPO_OID_HEX + 1];
	struct tend_err err = { "" };
	struct repo_snap *base = NULL, *cand = NULL;
	struct buf doc, msg = BUF_INIT;
	struct repo_edit e;
	int r, ret = 1;

	if (!json_array_size(tags))
		return 0;
	snprintf(path, sizeof(path), "nodes/%s.yaml", node);
	buf_init(&doc, REPO_FILE_MAX);
	r = repo_snap_open(rq->srv->repo, NULL, &base, &err);
	if (r < 0) {
		api_error(rs, 500, "%s", err.msg);
		goto out;
	}
	if (repo_snap_blob_id(base, path, blob) == 0) {
		ret = 0; /* the node has a document: it says what its tags are */
		goto out;
	}
	r = node_doc_set_tags(path, NULL, 0, tags, &doc, &err);
	e = (struct repo_edit){ path, buf_str(&doc), doc.len, false };
	if (r == 0)
		r = repo_snap_edit(rq->srv->repo, base, &e, 1, &cand, &err);
	if (r < 0) {
		api_error(rs, 500, "cannot write %s: %s", path, err.msg);
		goto out;
	}
	buf_printf(&msg, "enroll %s with token %s", node, who + strlen("enroll:"));
	/* the commit's author is the token, not an API caller */
	rq->caller = who;
	r = api_commit_checked(rq, rs, cand, repo_snap_commit_id(base), buf_str(&msg), rev);
	rq->caller = NULL;
	if (r == 0)
		ret = 0;
out:
	buf_free(&doc);
	buf_free(&msg);
	repo_snap_free(cand);
	repo_snap_free(base);
	return ret;
}

/* ---- POST /v1/enroll ---- */

/* enroll_token - the token path: claim, tags, certificate. */
static void enroll_token(struct api_req *rq, struct api_resp *rs, const char *node,
			 const char *token, X509_REQ *csr, const char *fpr)
{
	char serial[PKI_SERIAL_HEX_MAX + 1], who[WHO_MAX];
	struct tend_err err = { "" };
	json_t *tags = NULL;
	char *name = NULL, *pem = NULL;
	int r;

	r = db_enroll_token_claim(rq->srv->db, token, &name, &tags, &err);
	if (r == -EACCES || r == -EKEYEXPIRED || r == -EKEYREVOKED) {
		api_error(rs, 403, "enrollment refused: %s", err.msg);
		audit_public(rq, rs, NULL, node);
		return;
	}
	if (r < 0) {
		api_error(rs, 500, "cannot check the token: %s", err.msg);
		return;
	}
	snprintf(who, sizeof(who), "enroll:%s", name);
	if (write_tags(rq, rs, node, tags, who) != 0 ||
	    issue(rq, rs, node, csr, fpr, who, &pem, serial) != 0) {
		db_enroll_token_refund(rq->srv->db, name);
		audit_public(rq, rs, who, node);
		goto out;
	}
	answer_cert(rq, rs, node, pem, serial);
	json_object_set(rs->json, "tags", tags);
	audit_public(rq, rs, who, node);
out:
	free(pem);
	free(name);
	json_decref(tags);
}

/* enroll_pending - the path without a token: keep the request. */
static void enroll_pending(struct api_req *rq, struct api_resp *rs, const char *node,
			   const char *csr, const char *fpr)
{
	struct tend_err err = { "" };
	int r = db_enroll_pending_put(rq->srv->db, node, csr, fpr, rq->address, &err);

	if (r == -EEXIST) {
		api_error(rs, 409, "%s", err.msg);
		return;
	}
	if (r == -ENOSPC) {
		api_error(rs, 503, "%s: try later", err.msg);
		return;
	}
	if (r < 0) {
		api_error(rs, 500, "cannot keep the request: %s", err.msg);
		return;
	}
	api_ok(rs, 202,
	       json_pack("{s:s, s:s, s:s}", "status", "pending", "node", node, "fingerprint", fpr));
	if (r == 1) {
		snprintf(rs->audit_detail, sizeof(rs->audit_detail),
			 "request kept for approval (key %.16s...)", fpr);
		audit_public(rq, rs, NULL, node);
	}
}

/* known_identity - answer when node+key already has a certificate or another
 * key does: 1 when rs holds the answer. */
static int known_identity(struct api_req *rq, struct api_resp *rs, const char *node,
			  const char *fpr)
{
	struct tend_err err = { "" };
	json_t *cert = NULL, *active = NULL;
	int r;

	if (db_cert_key_revoked(rq->srv->db, fpr)) {
		api_error(rs, 403, "a certificate for this key was revoked: make a new key");
		audit_public(rq, rs, NULL, node);
		return 1;
	}
	r = db_cert_find(rq->srv->db, node, fpr, &cert, &err);
	if (r == 0) {
		/* the node asks again (polling, or a lost answer): the same certificate */
		answer_cert(rq, rs, node, json_string_value(json_object_get(cert, "pem")),
			    json_string_value(json_object_get(cert, "serial")));
		json_decref(cert);
		return 1;
	}
	r = db_cert_active(rq->srv->db, node, &active, &err);
	if (r == 0 && json_array_size(active) > 0)
		api_error(rs, 409,
			  "node '%s' is enrolled already with another key: revoke it first "
			  "(tend nodes revoke %s)",
			  node, node);
	else if (r < 0)
		api_error(rs, 500, "%s", err.msg);
	json_decref(active);
	return rs->status ? 1 : 0;
}

static const char *const enroll_fields[] = { "node", "csr", "token", NULL };

int api_enroll(struct api_req *rq, struct api_resp *rs)
{
	char fpr[PKI_FPR_HEX + 1];
	struct tend_err err = { "" };
	const char *node = NULL, *csr = NULL, *token = NULL;
	X509_REQ *req = NULL;
	json_t *body = NULL;

	if (api_body_json(rq, rs, enroll_fields, &body) < 0)
		return 0;
	if (string_field(body, "node", DB_NODE_ID_MAX, true, rs, &node) < 0 ||
	    string_field(body, "csr", PKI_PEM_MAX, true, rs, &csr) < 0 ||
	    string_field(body, "token", TOKEN_FIELD_MAX, false, rs, &token) < 0 ||
	    !node_name(rs, node))
		goto out;
	snprintf(rs->audit_target, sizeof(rs->audit_target), "%s", node);
	if (pki_csr_check(csr, strlen(csr), node, &req, &err) < 0) {
		api_error(rs, 400, "bad certificate request: %s", err.msg);
		goto out;
	}
	if (pki_csr_fingerprint(req, fpr) < 0) {
		api_error(rs, 400, "bad certificate request: its key cannot be read");
		goto out;
	}
	if (known_identity(rq, rs, node, fpr))
		goto out;
	if (token && *token)
		enroll_token(rq, rs, node, token, req, fpr);
	else
		enroll_pending(rq, rs, node, csr, fpr);
out:
	X509_REQ_free(req);
	json_decref(body);
	return 0;
}

/* ---- GET /v1/ca, GET /v1/enrollments ---- */

int api_ca(struct api_req *rq, struct api_resp *rs)
{
	if (!rq->srv->ca)
		return api_error(rs, 500, "the CA is not open");
	return api_ok(rs, 200,
		      json_pack("{s:s, s:s}", "ca", pki_ca_cert_pem(rq->srv->ca), "crl",
				pki_ca_crl_pem(rq->srv->ca)));
}

int api_enrollments(struct api_req *rq, struct api_resp *rs)
{
	struct tend_err err = { "" };
	json_t *list = NULL;
	int r = db_enroll_pending_list(rq->srv->db, &list, &err);

	if (r < 0)
		return api_error(rs, 500, "%s", err.msg);
	return api_ok(rs, 200, json_pack("{s:o}", "pending", list));
}

/* ---- POST /v1/nodes/{node}/approve ---- */

static const char *const approve_fields[] = { "fingerprint", NULL };

/* approve - issue the certificate of request p (checked again). */
static void approve(struct api_req *rq, struct api_resp *rs, const char *node, json_t *p,
		    const char *want_fpr)
{
	const char *csr = json_string_value(json_object_get(p, "csr"));
	const char *fpr = json_string_value(json_object_get(p, "fingerprint"));
	char serial[PKI_SERIAL_HEX_MAX + 1], who[WHO_MAX], got[PKI_FPR_HEX + 1];
	struct tend_err err = { "" };
	X509_REQ *req = NULL;
	char *pem = NULL;

	if (want_fpr && (!fpr || strcmp(want_fpr, fpr))) {
		api_error(rs, 409,
			  "the waiting request of '%s' is for key %s, not %s: nothing approved",
			  node, fpr ? fpr : "?", want_fpr);
		return;
	}
	if (!csr || pki_csr_check(csr, strlen(csr), node, &req, &err) < 0 ||
	    pki_csr_fingerprint(req, got) < 0 || strcmp(got, fpr)) {
		api_error(rs, 500, "the waiting request of '%s' is unusable: %s", node,
			  err.msg[0] ? err.msg : "its key changed");
		goto out;
	}
	if (known_identity(rq, rs, node, fpr))
		goto out;
	snprintf(who, sizeof(who), "approve:%s", rq->caller ? rq->caller : "-");
	if (issue(rq, rs, node, req, fpr, who, &pem, serial) == 0)
		api_ok(rs, 200,
		       json_pack("{s:s, s:s, s:s, s:s}", "node", node, "status", "approved", "serial",
				 serial, "fingerprint", fpr));
out:
	free(pem);
	X509_REQ_free(req);
}

int api_node_approve(struct api_req *rq, struct api_resp *rs)
{
	struct tend_err err = { "" };
	const char *node, *want = NULL;
	json_t *body = NULL, *p = NULL;
	int r;

	node = node_name(rs, rq->params[0]);
	if (!node)
		return 0;
	snprintf(rs->audit_target, sizeof(rs->audit_target), "%s", node);
	if (api_body_json(rq, rs, approve_fields, &body) < 0)
		return 0;
	if (string_field(body, "fingerprint", PKI_FPR_HEX, false, rs, &want) < 0)
		goto out;
	r = db_enroll_pending_get(rq->srv->db, node, &p, &err);
	if (r == -ENOENT)
		api_error(rs, 404, "no enrollment request of node '%s' is waiting", node);
	else if (r < 0)
		api_error(rs, 500, "%s", err.msg);
	else
		approve(rq, rs, node, p, want);
out:
	json_decref(p);
	json_decref(body);
	return 0;
}

/* ---- POST /v1/nodes/{node}/revoke ---- */

/* revoke_all - revoke every serial in list (CRL first, then the database). */
static int revoke_all(struct api_req *rq, struct api_resp *rs, const json_t *list)
{
	struct tend_err err = { "" };
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v) {
		const char *serial = json_string_value(v);
		int r = pki_ca_revoke(rq->srv->ca, serial, &err);

		/* a crash between the two leaves the CRL ahead: revoking again fixes it */
		if (r == 0)
			r = db_cert_revoke(rq->srv->db, serial, &err);
		if (r < 0)
			return api_error(rs, 500, "cannot revoke %s: %s", serial, err.msg), r;
	}
	return 0;
}

int api_node_revoke(struct api_req *rq, struct api_resp *rs)
{
	struct tend_err err = { "" };
	json_t *active = NULL;
	const char *node;
	bool dropped;
	int r;

	node = rq->params[0];
	if (!db_node_id_ok(node))
		return api_error(rs, 400, "bad node name '%.100s'", node ? node : "");
	snprintf(rs->audit_target, sizeof(rs->audit_target), "%s", node);
	r = db_cert_active(rq->srv->db, node, &active, &err);
	if (r < 0)
		return api_error(rs, 500, "%s", err.msg);
	/* a waiting request is dropped too: revoke is also how one is rejected */
	dropped = db_enroll_pending_delete(rq->srv->db, node, NULL) == 0;
	if (!json_array_size(active) && !dropped) {
		json_decref(active);
		return api_error(rs, 404, "node '%s' holds no valid certificate and no request waits",
				 node);
	}
	if (revoke_all(rq, rs, active) == 0) {
		if (json_array_size(active)) {
			broker_reload(rq->srv);
			bus_server_publish_crl(rq->srv);
		}
		snprintf(rs->audit_detail, sizeof(rs->audit_detail),
			 "%zu certificate(s) revoked%s", json_array_size(active),
			 dropped ? ", waiting request dropped" : "");
		api_ok(rs, 200,
		       json_pack("{s:s, s:O, s:b}", "node", node, "revoked", active,
				 "request_dropped", dropped));
	}
	json_decref(active);
	return 0;
}
