/*
 * test-tendd.c - unit tests for the agent's state on disk (src/tendd):
 * the report spool (time-ordered IDs, oldest delivered first, stop at the
 * first failure, refused reports set aside, the cap), the signed catalog
 * cache (a good catalog kept and the previous one rotated; a bad
 * signature, a foreign signer, a truncated or edited file refused with
 * the previous good one used instead), the catalog's files written under
 * STATE/files, and agent.conf.
 *
 * Each test works in its own temp directory.  Catalogs are signed by a
 * CA made for the test (lib/pki), as tend-server signs them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pki/pki.h"
#include "tendd.h"

struct fixture {
	char dir[64];          /* the state dir */
	struct pki_ca *ca;
	struct pki_ca *other;  /* a CA that is not this one */
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test-tendd.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pki_ca_free(f->ca);
	pki_ca_free(f->other);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ca - a CA with a tend-server certificate under dir/NAME. */
static struct pki_ca *make_ca(const char *dir, const char *name)
{
	struct tend_err err;
	struct pki_ca *ca = NULL;
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (pki_ca_open(path, true, &ca, &err) < 0 || pki_ca_server_cert(ca, NULL, 30, &err) < 0)
		fail_msg("%s", err.msg);
	return ca;
}

static char *sign(struct pki_ca *ca, const char *text)
{
	struct tend_err err;
	char *sig = NULL;

	if (pki_sign(pki_ca_server_key(ca), text, strlen(text), &sig, &err) < 0)
		fail_msg("%s", err.msg);
	return sig;
}

static const char *catalog_text(int n)
{
	static char buf[512];

	snprintf(buf, sizeof(buf),
		 "{\"node\":\"n1\",\"hash\":\"sha256:%064d\",\"vars\":{},\"resources\":[],"
		 "\"files\":{\"files/a/motd\":\"hello %d\\n\",\"files/bin\":{\"base64\":\"AAEC\"}}}",
		 n, n);
	return buf;
}

/* store - catalog n signed by ca (verified against f->ca). */
static int store(struct fixture *f, struct pki_ca *ca, int n, char hash[81], struct tend_err *err)
{
	const char *text = catalog_text(n);
	char *sig = sign(ca, text);
	int r = cache_store(f->dir, pki_ca_cert_pem(f->ca), text, strlen(text), sig,
			    pki_ca_server_cert_pem(ca), hash, err);

	free(sig);
	return r;
}

static void expect_load(struct fixture *f, int n, bool want_prev)
{
	struct tend_err warn, err;
	char hash[81], want[81];
	json_t *j = NULL;
	bool prev = !want_prev;

	if (cache_load(f->dir, pki_ca_cert_pem(f->ca), &j, hash, &prev, &warn, &err) < 0)
		fail_msg("cache_load: %s", err.msg);
	snprintf(want, sizeof(want), "sha256:%064d", n);
	assert_string_equal(hash, want);
	assert_true(prev == want_prev);
	json_decref(j);
}

static void damage(struct fixture *f, const char *file, bool truncate_it)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/catalog/%s", f->dir, file);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	if (truncate_it)
		assert_int_equal(ftruncate(fd, 40), 0);
	else
		assert_int_equal(pwrite(fd, "X", 1, 10), 1);
	close(fd);
}

static void test_cache_rotates_and_verifies(void **state)
{
	struct fixture *f = *state;
	struct tend_err err, warn;
	char hash[81];
	json_t *j = NULL;
	bool prev;

	f->ca = make_ca(f->dir, "ca");
	assert_int_equal(cache_load(f->dir, pki_ca_cert_pem(f->ca), &j, hash, &prev, &warn, &err),
			 -ENOENT);
	assert_int_equal(store(f, f->ca, 1, hash, &err), 0);
	assert_string_equal(hash, "sha256:0000000000000000000000000000000000000000000000000000000000000001");
	expect_load(f, 1, false);
	assert_int_equal(store(f, f->ca, 2, hash, &err), 0);
	expect_load(f, 2, false);
	/* an edited catalog no longer matches its signature: the previous one is used */
	damage(f, "catalog.json", false);
	expect_load(f, 1, true);
	/* a good one replaces the damaged one, which never becomes "previous" */
	assert_int_equal(store(f, f->ca, 3, hash, &err), 0);
	expect_load(f, 3, false);
	damage(f, "catalog.json", true);
	expect_load(f, 1, true);
}

static void test_cache_refuses_bad_signatures(void **state)
{
	struct fixture *f = *state;
	struct tend_err err;
	char hash[81] = "untouched";
	char *text = strdup(catalog_text(7)); /* catalog_text's buffer is reused below */
	char *sig;

	f->ca = make_ca(f->dir, "ca");
	f->other = make_ca(f->dir, "other");
	assert_int_equal(store(f, f->ca, 1, hash, &err), 0);
	/* signed by a server of another CA */
	assert_int_equal(store(f, f->other, 2, hash, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "the signer is not tend's server"));
	/* signed over other bytes */
	sig = sign(f->ca, catalog_text(8));
	assert_int_equal(cache_store(f->dir, pki_ca_cert_pem(f->ca), text, strlen(text), sig,
				     pki_ca_server_cert_pem(f->ca), hash, &err),
			 -EBADMSG);
	assert_non_null(strstr(err.msg, "bad signature"));
	free(sig);
	free(text);
	/* a node's certificate from the same CA cannot sign catalogs: only tend-server's */
	{
		EVP_PKEY *k = NULL;
		X509_REQ *req = NULL;
		char *csr = NULL, *cert = NULL, serial[PKI_SERIAL_HEX_MAX + 1];

		assert_int_equal(pki_key_new(&k), 0);
		assert_int_equal(pki_csr_new(k, "n1", &csr, &err), 0);
		assert_int_equal(pki_csr_check(csr, strlen(csr), "n1", &req, &err), 0);
		assert_int_equal(pki_ca_issue_node(f->ca, req, "n1", 30, &cert, serial, &err), 0);
		text = strdup(catalog_text(9));
		assert_int_equal(pki_sign(k, text, strlen(text), &sig, &err), 0);
		assert_int_equal(cache_store(f->dir, pki_ca_cert_pem(f->ca), text, strlen(text), sig,
					     cert, hash, &err),
				 -EBADMSG);
		assert_non_null(strstr(err.msg, "the signer is not tend's server"));
		free(text);
		free(sig);
		free(cert);
		free(csr);
		X509_REQ_free(req);
		EVP_PKEY_free(k);
	}
	/* signed, but not a catalog */
	sig = sign(f->ca, "{}");
	assert_int_equal(cache_store(f->dir, pki_ca_cert_pem(f->ca), "{}", 2, sig,
				     pki_ca_server_cert_pem(f->ca), hash, &err),
			 -EBADMSG);
	assert_non_null(strstr(err.msg, "not a catalog"));
	free(sig);
	/* nothing changed on disk */
	assert_string_equal(hash, "sha256:0000000000000000000000000000000000000000000000000000000000000001");
	expect_load(f, 1, false);
	/* a signature file that lost its end is refused like the catalog */
	damage(f, "catalog.sig", true);
	{
		struct tend_err warn;
		json_t *j = NULL;
		bool prev;

		assert_int_equal(cache_load(f->dir, pki_ca_cert_pem(f->ca), &j, hash, &prev, &warn,
					    &err),
				 -EBADMSG);
	}
}

static void test_cache_files(void **state)
{
	struct fixture *f = *state;
	struct tend_err err;
	char path[256], got[64] = "";
	json_t *j;
	int fd;

	j = json_loads(catalog_text(5), 0, NULL);
	assert_int_equal(cache_write_files(f->dir, j, "h5", &err), 0);
	snprintf(path, sizeof(path), "%s/files/files/a/motd", f->dir);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, got, sizeof(got)), 8);
	close(fd);
	assert_string_equal(got, "hello 5\n");
	snprintf(path, sizeof(path), "%s/files/files/bin", f->dir);
	fd = open(path, O_RDONLY);
	memset(got, 0, sizeof(got));
	assert_int_equal(read(fd, got, sizeof(got)), 3);
	close(fd);
	assert_memory_equal(got, "\0\1\2", 3);
	/* the same hash: nothing rewritten (a removed file stays removed) */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(cache_write_files(f->dir, j, "h5", &err), 0);
	assert_int_equal(access(path, F_OK), -1);
	/* another hash: written afresh */
	assert_int_equal(cache_write_files(f->dir, j, "h6", &err), 0);
	assert_int_equal(access(path, F_OK), 0);
	json_decref(j);
	/* paths from the network never leave STATE/files */
	j = json_loads("{\"files\":{\"../escape\":\"x\"}}", 0, NULL);
	assert_int_equal(cache_write_files(f->dir, j, "h7", &err), -EINVAL);
	assert_string_equal(err.msg, "catalog: '../escape' is not a repository path");
	json_decref(j);
	j = json_loads("{\"files\":{\"a\":1}}", 0, NULL);
	assert_int_equal(cache_write_files(f->dir, j, "h8", &err), -EINVAL);
	json_decref(j);
}

/* ---- spool ---------------------------------------------------------------- */

struct sink {
	char ids[8][UUID_LEN + 1];
	int n, fail_at, refuse_at;
};

static int sink_deliver(void *arg, const char *id, const char *payload, size_t len)
{
	struct sink *s = arg;

	if (s->n == s->fail_at)
		return -ETIMEDOUT;
	if (s->n == s->refuse_at) {
		s->refuse_at = -1;
		return 1;
	}
	assert_true(s->n < 8);
	snprintf(s->ids[s->n++], UUID_LEN + 1, "%s", id);
	assert_non_null(strstr(payload, id));
	return 0;
}

static void test_spool_ids_sort_by_time(void **state)
{
	char a[UUID_LEN + 1], b[UUID_LEN + 1];

	spool_new_id(a);
	usleep(2000);
	spool_new_id(b);
	assert_int_equal(strlen(a), UUID_LEN);
	assert_true(a[14] == '7');                       /* version 7 */
	assert_true(strchr("89ab", a[19]) != NULL);      /* RFC 4122 variant */
	assert_true(strcmp(a, b) < 0);
}

static void spool_three(struct fixture *f, char ids[3][UUID_LEN + 1])
{
	struct tend_err err;
	char payload[128];

	for (int i = 0; i < 3; i++) {
		spool_new_id(ids[i]);
		snprintf(payload, sizeof(payload), "{\"id\":\"%s\",\"n\":%d}", ids[i], i);
		assert_int_equal(spool_add(f->dir, ids[i], payload, strlen(payload), &err), 0);
		usleep(1500);
	}
}

static void test_spool_oldest_first_and_retry(void **state)
{
	struct fixture *f = *state;
	char ids[3][UUID_LEN + 1];
	struct sink s = { .fail_at = 1, .refuse_at = -1 };
	size_t left = 9;

	spool_three(f, ids);
	assert_int_equal(spool_count(f->dir), 3);
	/* the second delivery fails: the first is gone, two wait */
	assert_int_equal(spool_flush(f->dir, sink_deliver, &s, &left), -ETIMEDOUT);
	assert_int_equal(left, 2);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], ids[0]);
	assert_int_equal(spool_count(f->dir), 2);
	/* back: the rest, in order, once */
	s.fail_at = -1;
	assert_int_equal(spool_flush(f->dir, sink_deliver, &s, &left), 2);
	assert_int_equal(left, 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.ids[1], ids[1]);
	assert_string_equal(s.ids[2], ids[2]);
	assert_int_equal(spool_count(f->dir), 0);
	assert_int_equal(spool_flush(f->dir, sink_deliver, &s, &left), 0);
	assert_int_equal(s.n, 3);
}

static void test_spool_refused_set_aside(void **state)
{
	struct fixture *f = *state;
	char ids[3][UUID_LEN + 1], path[256];
	struct sink s = { .fail_at = -1, .refuse_at = 0 };

	spool_three(f, ids);
	assert_int_equal(spool_flush(f->dir, sink_deliver, &s, NULL), 2);
	assert_int_equal(spool_count(f->dir), 0);
	snprintf(path, sizeof(path), "%s/spool/%s.refused", f->dir, ids[0]);
	assert_int_equal(access(path, F_OK), 0);
}

static void test_spool_cap(void **state)
{
	struct fixture *f = *state;
	struct tend_err err;
	char id[UUID_LEN + 1], first[UUID_LEN + 1] = "", path[256];

	for (int i = 0; i < SPOOL_MAX + 2; i++) {
		spool_new_id(id);
		if (!first[0])
			snprintf(first, sizeof(first), "%s", id);
		assert_int_equal(spool_add(f->dir, id, "{}", 2, &err), 0);
	}
	assert_int_equal(spool_count(f->dir), SPOOL_MAX);
	snprintf(path, sizeof(path), "%s/spool/%s.json", f->dir, first);
	assert_int_equal(access(path, F_OK), -1);
}

/* ---- agent.conf ------------------------------------------------------------- */

static void test_conf_round_trip(void **state)
{
	struct fixture *f = *state;
	struct agent_conf c = { 0 }, d;
	struct tend_err err;
	char path[256];
	FILE *fp;

	c.node = "web-1.example";
	c.server = "http://127.0.0.1:8440";
	c.nats_urls[0] = "tls://127.0.0.1:4222";
	c.nats_urls[1] = "tls://10.0.0.2:4222";
	c.nurls = 2;
	assert_int_equal(agent_conf_save(f->dir, &c, &err), 0);
	assert_int_equal(agent_conf_load(f->dir, &d, &err), 0);
	assert_string_equal(d.node, "web-1.example");
	assert_string_equal(d.server, "http://127.0.0.1:8440");
	assert_int_equal(d.nurls, 2);
	assert_string_equal(d.nats_urls[1], "tls://10.0.0.2:4222");
	assert_null(d.nats_urls[2]);
	agent_conf_free(&d);

	snprintf(path, sizeof(path), "%s/agent.conf", f->dir);
	fp = fopen(path, "w");
	fputs("node = n1\nnats_url = tls://x:1\nbroker = y\n", fp);
	fclose(fp);
	assert_int_equal(agent_conf_load(f->dir, &d, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "agent.conf:3: unknown setting 'broker'"));
	fp = fopen(path, "w");
	fputs("node = ../x\nnats_url = tls://x:1\n", fp);
	fclose(fp);
	assert_int_equal(agent_conf_load(f->dir, &d, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'../x' is not a node name"));
	fp = fopen(path, "w");
	fputs("node = n1\n", fp);
	fclose(fp);
	assert_int_equal(agent_conf_load(f->dir, &d, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "names no node or no nats_url"));
}

static void test_node_ids(void **state)
{
	assert_true(node_id_ok("web01.example.com"));
	assert_true(node_id_ok("a_b-c"));
	assert_false(node_id_ok(""));
	assert_false(node_id_ok("a/b"));
	assert_false(node_id_ok(".."));
	assert_false(node_id_ok("-x"));
	assert_false(node_id_ok("a b"));
}

/* ---- events that wait for the broker ---- */

static void test_events_wait_for_the_broker(void **state)
{
	/* no bus: every event but alive waits, oldest first, at most 1,000 */
	assert_int_equal(events_waiting(), 0);
	assert_int_equal(event_publish(NULL, "web01", "startup", NULL), 0);
	assert_int_equal(event_publish(NULL, "web01", "alive", NULL), -ENOTCONN);
	assert_int_equal(event_publish(NULL, "web01", "run", json_pack("{s:s}", "status", "ok")), 0);
	assert_int_equal(events_waiting(), 2);
	for (int i = 0; i < 1200; i++)
		assert_int_equal(event_publish(NULL, "web01", "run", NULL), 0);
	assert_int_equal(events_waiting(), 1000);
	/* still no bus: nothing goes, nothing is lost */
	assert_int_equal(events_flush(NULL, 100), 0);
	assert_int_equal(events_waiting(), 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cache_rotates_and_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_refuses_bad_signatures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_files, setup, teardown),
		cmocka_unit_test(test_spool_ids_sort_by_time),
		cmocka_unit_test_setup_teardown(test_spool_oldest_first_and_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spool_refused_set_aside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spool_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_round_trip, setup, teardown),
		cmocka_unit_test(test_node_ids),
		cmocka_unit_test(test_events_wait_for_the_broker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
