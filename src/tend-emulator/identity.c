/*
 * identity.c - the emulated agents' identities: one key and one node
 * certificate of tend's CA per agent, kept in STATE so that the next
 * run connects at once:
 *
 *   STATE/ca.pem                   the tend CA (from --ca, or from the
 *                                  first enrollment answer)
 *   STATE/agents/NODE.key          the agent's key, 0600, made here
 *   STATE/agents/NODE.pem          its certificate
 *
 * An agent without a certificate enrolls exactly as tendd --enroll does
 * (src/tendd/enroll.c): a CSR whose only name is the node, POSTed to
 * /v1/enroll with the token; the server issues the certificate, records
 * it and lets the node into its broker.  So the emulated fleet is known
 * to the server like a real one (inventory, broker users), and the
 * token decides how many may enroll (`tend-server token create --enroll
 * --uses N`).  Without --ca, the CA received over http:// is trusted on
 * first use, as tendd does, and every later answer must carry the same.
 *
 * Work is spread over a few threads: key generation and certificate
 * checks are CPU, the server answers one request at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emulator.h"
#include "net/http.h"
#include "pki/pki.h"
#include "util/atomic.h"
#include "util/buf.h"
#include "util/strutil.h"

/* What the identity threads share. */
struct id_job {
	const struct emu_opts *o;
	struct emu_identity *ids;
	char *agents_dir; /* STATE/agents */
	atomic_int next;
	atomic_int enrolled;
	atomic_bool stop;
	pthread_mutex_t lock; /* ca, err */
	char *ca;	      /* the CA, PEM; NULL until known */
	struct tend_err err;  /* the first failure */
	int r;
};

void emu_node_name(const char *prefix, int i, char out[EMU_NODE_MAX + 1])
{
	snprintf(out, EMU_NODE_MAX + 1, "%s-%05d", prefix, i + 1);
}

void emu_identity_clear(struct emu_identity *id)
{
	EVP_PKEY_free(id->key);
	if (id->key_pem) {
		OPENSSL_cleanse(id->key_pem, strlen(id->key_pem));
		free(id->key_pem);
	}
	free(id->cert_pem);
	*id = (struct emu_identity){ 0 };
}

/* read_text - the whole file at path (at most max bytes), NUL-terminated. */
static int read_text(const char *path, size_t max, char **ret, struct tend_err *err)
{
	struct buf b;
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return err_set(err, -errno, "%s: %s", path, strerror(errno));
	buf_init(&b, max);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = err_set(err, -errno, "%s: %s", path, strerror(errno));
			break;
		}
		if (buf_add(&b, chunk, (size_t)n) < 0) {
			r = err_set(err, -EFBIG, "%s: larger than %zu bytes", path, max);
			break;
		}
	}
	close(fd);
	if (r == 0 && !b.len)
		r = err_set(err, -EINVAL, "%s: empty", path);
	if (r == 0)
		*ret = buf_steal(&b);
	buf_free(&b);
	return r;
}

/* save_text - dir/name := text, atomically. */
static int save_text(const char *dir, const char *name, const char *text, mode_t mode,
		     struct tend_err *err)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (dfd < 0)
		return err_set(err, -errno, "%s: %s", dir, strerror(errno));
	r = atomic_write_at(dfd, name, text, strlen(text), mode, ATOMIC_KEEP_OWNER, (gid_t)-1);
	close(dfd);
	if (r < 0)
		return err_set(err, r, "cannot write %s/%s: %s", dir, name, strerror(-r));
	return 0;
}

static void path_of(struct buf *p, const char *dir, const char *node, const char *ext)
{
	buf_reset(p);
	buf_printf(p, "%s/%s.%s", dir, node, ext);
}

/*
 * load_key - the agent's key (object and PEM text) from its file; made
 * when missing, unless may_make is false (a certificate waits for it).
 */
static int load_key(struct id_job *j, struct emu_identity *id, bool may_make, struct tend_err *err)
{
	struct buf p = BUF_INIT;
	int r;

	path_of(&p, j->agents_dir, id->node, "key");
	if (access(buf_str(&p), F_OK) < 0 && may_make) {
		r = pki_key_new(&id->key);
		if (r < 0)
			err_set(err, r, "cannot make a key: %s", strerror(-r));
		else
			r = pki_key_save(id->key, buf_str(&p), err);
	} else {
		r = pki_key_load(buf_str(&p), &id->key, err); /* refuses a key others may read */
	}
	if (r == 0)
		r = read_text(buf_str(&p), EMU_PEM_MAX, &id->key_pem, err);
	buf_free(&p);
	return r;
}

/*
 * adopt_ca - the CA an enrollment answer carried: the first one becomes
 * ours (saved as STATE/ca.pem), any other must be the same text.
 */
static int adopt_ca(struct id_job *j, const char *ca, struct tend_err *err)
{
	int r = 0;

	pthread_mutex_lock(&j->lock);
	if (!j->ca) {
		r = save_text(j->o->state, "ca.pem", ca, 0644, err);
		if (r == 0)
			j->ca = xstrdup(ca);
	} else if (strcmp(j->ca, ca)) {
		r = err_set(err, -EBADMSG, "the server answered with another CA than before");
	}
	pthread_mutex_unlock(&j->lock);
	return r;
}

static const char *job_ca(struct id_job *j)
{
	const char *ca;

	pthread_mutex_lock(&j->lock);
	ca = j->ca; /* never changes once set */
	pthread_mutex_unlock(&j->lock);
	return ca;
}

/* enroll - POST /v1/enroll for id with the token; the certificate into id->cert_pem. */
static int enroll(struct id_job *j, struct emu_identity *id, struct tend_err *err)
{
	struct http_opts ho = { .cacert = j->o->cacert, .timeout = 120 };
	struct http_result res;
	struct buf url = BUF_INIT;
	const char *cert, *ca, *e;
	char *csr = NULL;
	json_t *body;
	int r;

	r = pki_csr_new(id->key, id->node, &csr, err);
	if (r < 0)
		return r;
	body = json_pack("{s:s, s:s, s:s}", "node", id->node, "csr", csr, "token", j->o->token);
	buf_printf(&url, "%s/v1/enroll", j->o->server);
	r = http_request("POST", buf_str(&url), body, &ho, &res, err);
	json_decref(body);
	buf_free(&url);
	free(csr);
	if (r < 0)
		return r;
	cert = json_string_value(json_object_get(res.json, "certificate"));
	ca = json_string_value(json_object_get(res.json, "ca"));
	e = json_string_value(json_object_get(res.json, "error"));
	if (res.status != 200)
		r = err_set(err, -EACCES, "%s: the server refused the enrollment (HTTP %ld): %s",
			    id->node, res.status, e ? e : "no reason given");
	else if (!cert || !ca || strlen(cert) > EMU_PEM_MAX || strlen(ca) > EMU_PEM_MAX)
		r = err_set(err, -EBADMSG, "%s: the server's answer lacks a certificate or a CA",
			    id->node);
	else if (!j->o->ca_file)
		r = adopt_ca(j, ca, err);
	if (r == 0)
		r = pki_verify_cert(job_ca(j), NULL, cert, id->node, NULL, err);
	if (r == 0) {
		struct buf p = BUF_INIT;

		buf_printf(&p, "%s.pem", id->node);
		r = save_text(j->agents_dir, buf_str(&p), cert, 0644, err);
		buf_free(&p);
	}
	if (r == 0)
		id->cert_pem = xstrdup(cert);
	http_result_free(&res);
	return r;
}

/* one - agent i's identity: loaded, or enrolled when its certificate is missing. */
static int one(struct id_job *j, int i, struct tend_err *err)
{
	struct emu_identity *id = &j->ids[i];
	struct buf p = BUF_INIT;
	bool have;
	int r;

	emu_node_name(j->o->prefix, i, id->node);
	path_of(&p, j->agents_dir, id->node, "pem");
	have = access(buf_str(&p), F_OK) == 0;
	if (!have && (!j->o->server || !j->o->token)) {
		buf_free(&p);
		return err_set(err, -ENOENT,
			       "%s has no certificate in %s: give --server URL --token TOKEN to "
			       "enroll it",
			       id->node, j->agents_dir);
	}
	r = load_key(j, id, !have, err);
	if (r == 0 && have) {
		r = read_text(buf_str(&p), EMU_PEM_MAX, &id->cert_pem, err);
		if (r == 0 && job_ca(j))
			r = pki_verify_cert(job_ca(j), NULL, id->cert_pem, id->node, NULL, err);
		if (r < 0)
			err_prefix(err, "%s", buf_str(&p));
	} else if (r == 0) {
		r = enroll(j, id, err);
		if (r == 0)
			atomic_fetch_add(&j->enrolled, 1);
	}
	buf_free(&p);
	return r;
}

static void *worker(void *arg)
{
	struct id_job *j = arg;
	struct tend_err err = { "" };
	int i, r;

	while (!atomic_load(&j->stop) && (i = atomic_fetch_add(&j->next, 1)) < j->o->agents) {
		r = one(j, i, &err);
		if (r < 0) {
			pthread_mutex_lock(&j->lock);
			if (j->r == 0) {
				j->r = r;
				j->err = err;
			}
			pthread_mutex_unlock(&j->lock);
			atomic_store(&j->stop, true);
		}
	}
	return NULL;
}

static int mkdir_private(const char *dir, struct tend_err *err)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_set(err, -errno, "cannot create %s: %s", dir, strerror(errno));
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set(err, -ENOTDIR, "%s is not a directory", dir);
	return 0;
}

/* known_ca - --ca FILE, else STATE/ca.pem when there is one; NULL when neither. */
static int known_ca(const struct emu_opts *o, char **ret, struct tend_err *err)
{
	struct buf p = BUF_INIT;
	int r = 0;

	*ret = NULL;
	if (o->ca_file)
		return read_text(o->ca_file, EMU_PEM_MAX, ret, err);
	buf_printf(&p, "%s/ca.pem", o->state);
	if (access(buf_str(&p), F_OK) == 0)
		r = read_text(buf_str(&p), EMU_PEM_MAX, ret, err);
	buf_free(&p);
	return r;
}

int emu_identities(const struct emu_opts *o, struct emu_identity *ids, char **ret_ca,
		   int *ret_enrolled, struct tend_err *err)
{
	struct id_job j = { .o = o, .ids = ids };
	pthread_t th[64];
	struct buf d = BUF_INIT;
	int n = o->threads > 0 && o->threads <= 64 ? o->threads : 4, started = 0, r;

	pthread_mutex_init(&j.lock, NULL);
	buf_printf(&d, "%s/agents", o->state);
	j.agents_dir = buf_steal(&d);
	if ((r = mkdir_private(o->state, err)) < 0 || (r = mkdir_private(j.agents_dir, err)) < 0 ||
	    (r = known_ca(o, &j.ca, err)) < 0)
		goto out;
	for (; started < n && started < o->agents; started++)
		if (pthread_create(&th[started], NULL, worker, &j) != 0)
			break;
	if (!started) {
		r = err_set(err, -EAGAIN, "cannot start a thread");
		goto out;
	}
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	r = j.r;
	if (r < 0)
		*err = j.err;
	else if (!j.ca)
		r = err_set(err, -ENOENT,
			    "no CA: give --ca FILE (the tend CA, STATE/ca/ca.pem "
			    "of the server)");
out:
	if (r == 0) {
		*ret_ca = j.ca;
		*ret_enrolled = atomic_load(&j.enrolled);
	} else {
		free(j.ca);
	}
	free(j.agents_dir);
	pthread_mutex_destroy(&j.lock);
	return r;
}
