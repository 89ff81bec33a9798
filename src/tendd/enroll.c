/*
 * enroll.c - `tendd --enroll [TOKEN] --server URL`: give this node an
 * identity from tend's CA.
 *
 * The node's key is made here and never leaves STATE (node.key, 0600);
 * the server gets a CSR whose only name is the node id.  With a valid
 * token the server answers at once with the certificate, its CA and the
 * brokers' URLs; without one the request waits for `tend nodes approve
 * NODE`, and the same request (same key, same CSR) asked again returns
 * the certificate once approved (--wait polls).  A key kept from an
 * earlier attempt is reused, so polling and re-running are the same.
 *
 * Over http:// the CA received here is trusted on first use; with
 * https:// and --cacert it is not.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net/http.h"
#include "pki/pki.h"
#include "tendd.h"
#include "util/atomic.h"
#include "util/log.h"
#include "util/strutil.h"

#include <fcntl.h>

/* node_key - STATE/node.key, made (0600) when there is none yet. */
static int node_key(const char *state, EVP_PKEY **ret, struct tend_err *err)
{
	struct buf path = BUF_INIT;
	EVP_PKEY *k = NULL;
	int r = state_path(&path, state, "node.key");

	if (r == 0 && access(buf_str(&path), F_OK) == 0) {
		r = pki_key_load(buf_str(&path), &k, err);
	} else if (r == 0) {
		r = pki_key_new(&k);
		if (r < 0)
			err_set(err, r, "cannot make a key: %s", strerror(-r));
		else if ((r = pki_key_save(k, buf_str(&path), err)) < 0)
			EVP_PKEY_free(k);
	}
	buf_free(&path);
	if (r == 0)
		*ret = k;
	return r;
}

static int save(const char *state, const char *name, const char *text, mode_t mode,
		struct tend_err *err)
{
	int dfd = open(state, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (dfd < 0)
		return err_set(err, -errno, "cannot open %s: %s", state, strerror(errno));
	r = atomic_write_at(dfd, name, text, strlen(text), mode, ATOMIC_KEEP_OWNER, (gid_t)-1);
	close(dfd);
	if (r < 0)
		return err_set(err, r, "cannot write %s/%s: %s", state, name, strerror(-r));
	return 0;
}

/* url_ok - a broker URL fit for agent.conf: one word, a known scheme. */
static bool url_ok(const char *u)
{
	if (!u || strlen(u) > 1024 ||
	    !(str_has_prefix(u, "nats://") || str_has_prefix(u, "tls://")))
		return false;
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '#')
			return false;
	return true;
}

/* accept_answer - the certificate, CA and broker URLs checked and saved. */
static int accept_answer(const struct enroll_opts *o, const char *node, const json_t *ans,
			 struct tend_err *err)
{
	const char *cert = json_string_value(json_object_get(ans, "certificate"));
	const char *ca = json_string_value(json_object_get(ans, "ca"));
	const json_t *urls = json_object_get(ans, "nats_urls"), *u;
	struct agent_conf c = { 0 };
	size_t i;
	int r;

	if (!cert || !ca || !json_is_array(urls) || !json_array_size(urls))
		return err_set(err, -EBADMSG,
			       "the server's answer lacks \"certificate\", \"ca\" or \"nats_urls\"");
	if (strlen(cert) > TENDD_PEM_MAX || strlen(ca) > TENDD_PEM_MAX)
		return err_set(err, -EBADMSG, "the server's certificates are too large");
	r = pki_verify_cert(ca, NULL, cert, node, NULL, err);
	if (r < 0) {
		err_prefix(err, "the certificate the server sent is not for %s", node);
		return r;
	}
	c.node = xstrdup(node);
	c.server = xstrdup(o->server);
	json_array_foreach(urls, i, u) {
		if (!url_ok(json_string_value(u)) || c.nurls == TENDD_URLS_MAX) {
			agent_conf_free(&c);
			return err_set(err, -EBADMSG, "the server sent a broker URL that is not nats:// or tls://");
		}
		c.nats_urls[c.nurls++] = xstrdup(json_string_value(u));
	}
	if ((r = save(o->state, "ca.pem", ca, 0644, err)) == 0 &&
	    (r = save(o->state, "node.pem", cert, 0644, err)) == 0)
		r = agent_conf_save(o->state, &c, err);
	agent_conf_free(&c);
	return r;
}

/* post - one POST /v1/enroll: 0 enrolled, 1 pending, < 0 refused or failed (err). */
static int post(const struct enroll_opts *o, const char *node, const char *csr,
		struct tend_err *err)
{
	struct http_opts ho = { .cacert = o->cacert, .timeout = 60 };
	struct http_result res;
	struct buf url = BUF_INIT;
	const char *e;
	json_t *body;
	int r;

	body = json_pack("{s:s, s:s}", "node", node, "csr", csr);
	if (o->token)
		json_object_set_new(body, "token", json_string(o->token));
	buf_printf(&url, "%s/v1/enroll", o->server);
	r = http_request("POST", buf_str(&url), body, &ho, &res, err);
	json_decref(body);
	buf_free(&url);
	if (r < 0)
		return r;
	e = json_string_value(json_object_get(res.json, "error"));
	if (res.status == 200)
		r = accept_answer(o, node, res.json, err);
	else if (res.status == 202)
		r = 1;
	else
		r = err_set(err, -EACCES, "the server refused the enrollment (HTTP %ld): %s",
			    res.status, e ? e : "no reason given");
	http_result_free(&res);
	return r;
}

static int prepare_state(const char *state, struct tend_err *err)
{
	struct stat st;

	if (mkdir(state, 0700) < 0 && errno != EEXIST)
		return err_set(err, -errno, "cannot create %s: %s", state, strerror(errno));
	if (stat(state, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set(err, -ENOTDIR, "%s is not a directory", state);
	if (st.st_mode & 077)
		chmod(state, 0700); /* keys and spooled reports are the node's own */
	return 0;
}

int enroll(const struct enroll_opts *o)
{
	char host[TENDD_NODE_MAX + 2] = "";
	const char *node = o->node;
	struct tend_err err;
	EVP_PKEY *k = NULL;
	char *csr = NULL;
	int r;

	if (!node) {
		if (gethostname(host, sizeof(host) - 1) < 0 || !host[0]) {
			log_warnx("cannot tell this machine's name; give --node ID");
			return TENDD_EXIT_USAGE;
		}
		node = host;
	}
	if (!node_id_ok(node)) {
		log_warnx("'%s' cannot name a node (letters, digits, '.', '-', '_'); give --node ID", node);
		return TENDD_EXIT_USAGE;
	}
	if (!http_url_ok(o->server)) {
		log_warnx("--server '%s' is not an http:// or https:// URL", o->server);
		return TENDD_EXIT_USAGE;
	}
	if ((r = prepare_state(o->state, &err)) < 0 || (r = node_key(o->state, &k, &err)) < 0 ||
	    (r = pki_csr_new(k, node, &csr, &err)) < 0)
		goto out;
	for (;;) {
		r = post(o, node, csr, &err);
		if (r != 1 || !o->wait)
			break;
		log_info("%s waits for approval (tend nodes approve %s); asking again in %g s", node,
			 node, o->poll);
		struct timespec pause = { (time_t)o->poll,
					  (long)((o->poll - (double)(time_t)o->poll) * 1e9) };

		nanosleep(&pause, NULL);
	}
out:
	free(csr);
	EVP_PKEY_free(k);
	if (r < 0) {
		log_warnx("%s", err.msg);
		return 1;
	}
	if (r == 1) {
		log_warnx("%s is pending: approve it on the server (tend nodes approve %s), then run "
			  "this command again (or use --wait)",
			  node, node);
		return TENDD_EXIT_PENDING;
	}
	log_info("enrolled as %s; identity in %s", node, o->state);
	fprintf(stdout, "enrolled %s\n", node);
	return 0;
}
