/*
 * test-tend-rpc-identity.c - the admin's identity bundle the CLI reads
 * (src/tend/rpc_identity.c): what a good one gives, that every malformed
 * one is refused with FILE:LINE and what was expected there, that parts
 * that do not fit together (a key of another certificate, a node's
 * certificate, a foreign CA) are refused, and that a bundle others may
 * read is refused like ssh refuses such a key.
 *
 * The certificates are real ones of a CA in a temporary directory
 * (test-rpc-fixture.h).  Every failing call starts from a sentinel: the
 * out-parameter must be untouched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <openssl/crypto.h>

#include "test-rpc-fixture.h"

#include "rpc.h"
#include "util/strutil.h"

#define PATH "alice.pem"

/* pem_of - a key's PKCS#8 PEM (malloc'd). */
static char *pem_of(EVP_PKEY *k)
{
	struct tend_err err = { "" };
	char *pem = NULL;

	assert_int_equal(pki_key_pem(k, &pem, &err), 0);
	return pem;
}

/* bundle - head, then the three PEM blocks (any may be NULL: left out), then tail. */
static char *bundle(const char *head, const char *key, const char *cert, const char *ca,
		    const char *tail)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "%s%s%s%s%s", head ? head : "", key ? key : "", cert ? cert : "",
		   ca ? ca : "", tail ? tail : "");
	return buf_steal(&b);
}

/* alice - a good bundle of alice (role ops) with the head given. */
static char *alice(const char *head)
{
	char *key = pem_of(rfx->alice.key), *b;

	b = bundle(head, key, rfx->alice.pem, rfx->ca_pem, NULL);
	OPENSSL_cleanse(key, strlen(key));
	free(key);
	return b;
}

/* parse_fails - text is refused, with a message that says what; ret untouched. */
static void parse_fails(const char *text, const char *what)
{
	struct rpc_identity id = { .path = (char *)"sentinel" };
	struct tend_err err = { "" };

	assert_int_equal(rpc_identity_parse(PATH, text, strlen(text), &id, &err), -EINVAL);
	assert_says(err.msg, what);
	assert_string_equal(id.path, "sentinel");
	assert_null(id.key);
}

/* line_of - the 1-based line of text where needle starts. */
static int line_of(const char *text, const char *needle)
{
	const char *at = strstr(text, needle);
	int line = 1;

	assert_non_null(at);
	for (const char *p = text; p < at; p++)
		line += *p == '\n';
	return line;
}

/* nlines - how many lines s has. */
static int nlines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_good_bundle_gives_brokers_server_name_role_and_key(void **state)
{
	char *text = alice("# tend identity: alice (role ops)\n"
			   "\n"
			   "nats: tls://127.0.0.1:4222\n"
			   "nats:   tls://10.0.0.2:4222  \r\n"
			   "server: http://127.0.0.1:8440\n");
	struct rpc_identity id;
	struct tend_err err = { "" };

	assert_int_equal(rpc_identity_parse(PATH, text, strlen(text), &id, &err), 0);
	assert_string_equal(id.path, PATH);
	assert_int_equal(id.nnats, 2);
	assert_string_equal(id.nats[0], "tls://127.0.0.1:4222");
	assert_string_equal(id.nats[1], "tls://10.0.0.2:4222");
	assert_null(id.nats[2]);
	assert_string_equal(id.server, "http://127.0.0.1:8440");
	assert_string_equal(id.name, "alice");
	assert_string_equal(id.role, "ops");
	assert_non_null(id.key);
	assert_non_null(strstr(id.cert_pem, "BEGIN CERTIFICATE"));
	assert_string_equal(id.ca_pem, rfx->ca_pem);
	rpc_identity_free(&id);
	free(text);
}

static void test_bundle_without_brokers_or_server_is_fine(void **state)
{
	char *text = alice(NULL);
	struct rpc_identity id;
	struct tend_err err = { "" };

	assert_int_equal(rpc_identity_parse(PATH, text, strlen(text), &id, &err), 0);
	assert_int_equal(id.nnats, 0);
	assert_null(id.nats[0]);
	assert_null(id.server);
	rpc_identity_free(&id);
	free(text);
}

static void test_unknown_setting_names_its_line(void **state)
{
	char *text = alice("nats: tls://127.0.0.1:4222\n# ok\nnast: tls://x:1\n");

	parse_fails(text, PATH ":3: unknown setting 'nast'");
	free(text);
}

static void test_bad_urls_name_their_line_and_what_was_expected(void **state)
{
	char *text = alice("nats: http://127.0.0.1:4222\n");

	parse_fails(text, PATH ":1: expected a broker URL (tls://HOST:PORT)");
	free(text);
	text = alice("\nserver: ftp://x\n");
	parse_fails(text, PATH ":2: expected tend-server's URL");
	free(text);
	text = alice("server: http://a\nserver: http://b\n");
	parse_fails(text, PATH ":2: a second server: line");
	free(text);
	text = alice("just words\n");
	parse_fails(text, PATH ":1: expected 'nats: URL', 'server: URL' or a PEM block");
	free(text);
}

static void test_blocks_out_of_order_are_refused(void **state)
{
	char *key = pem_of(rfx->alice.key);
	char *text = bundle("nats: tls://a:1\n", rfx->alice.pem, key, rfx->ca_pem, NULL);

	parse_fails(text, PATH ":2: expected the admin's private key");
	free(text);
	OPENSSL_cleanse(key, strlen(key));
	free(key);
}

static void test_missing_blocks_are_named_at_the_end_of_the_file(void **state)
{
	char *key = pem_of(rfx->alice.key);
	char *text = bundle(NULL, key, rfx->alice.pem, NULL, NULL);
	char want[64];
	int lines = 0;

	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	snprintf(want, sizeof(want), PATH ":%d: end of file: expected the tend CA's", lines + 1);
	parse_fails(text, want);
	free(text);
	parse_fails("nats: tls://a:1\n", PATH ":2: end of file: expected the admin's private key");
	parse_fails("", PATH ":1: end of file: expected the admin's private key");
	OPENSSL_cleanse(key, strlen(key));
	free(key);
}

static void test_unterminated_and_extra_blocks_are_refused(void **state)
{
	char *key = pem_of(rfx->alice.key), *cut, *text;
	char want[64];

	cut = xstrdup(rfx->ca_pem);
	*strstr(cut, "-----END") = '\0';
	text = bundle(NULL, key, rfx->alice.pem, cut, NULL);
	snprintf(want, sizeof(want), PATH ":%d: the CERTIFICATE block has no",
		 1 + nlines(key) + nlines(rfx->alice.pem));
	parse_fails(text, want);
	free(text);
	text = bundle(NULL, key, rfx->alice.pem, rfx->ca_pem, rfx->ca_pem);
	parse_fails(text, "unexpected CERTIFICATE block");
	free(text);
	text = bundle("-----BEGIN ENCRYPTED PRIVATE KEY-----\n", NULL, NULL, NULL, NULL);
	parse_fails(text, PATH ":1: the private key is encrypted");
	free(text);
	free(cut);
	OPENSSL_cleanse(key, strlen(key));
	free(key);
}

static void test_block_that_does_not_parse_names_its_begin_line(void **state)
{
	char *key = pem_of(rfx->alice.key), *bad = xstrdup(rfx->alice.pem), *text;
	char *body = strchr(bad, '\n') + 1;
	char want[64];

	memcpy(body, "!!!!", 4); /* not base64 */
	text = bundle("nats: tls://a:1\n", key, bad, rfx->ca_pem, NULL);
	snprintf(want, sizeof(want), PATH ":%d: the admin's certificate does not parse",
		 line_of(text, bad));
	parse_fails(text, want);
	free(text);
	free(bad);
	OPENSSL_cleanse(key, strlen(key));
	free(key);
}

static void test_key_of_another_certificate_is_refused(void **state)
{
	char *bobs = pem_of(rfx->bob.key);
	char *text = bundle(NULL, bobs, rfx->alice.pem, rfx->ca_pem, NULL);

	parse_fails(text, "does not belong to the private key on line 1");
	free(text);
	OPENSSL_cleanse(bobs, strlen(bobs));
	free(bobs);
}

static void test_node_certificate_is_not_an_admin(void **state)
{
	char *key = pem_of(rfx->web01.key);
	char *text = bundle(NULL, key, rfx->web01.pem, rfx->ca_pem, NULL);

	parse_fails(text, "not an administrator's");
	free(text);
	OPENSSL_cleanse(key, strlen(key));
	free(key);
}

static void test_certificate_of_another_ca_is_refused(void **state)
{
	char *key = pem_of(rfx->forged.key);
	char *text = bundle(NULL, key, rfx->forged.pem, rfx->ca_pem, NULL);

	parse_fails(text, "checked against the CA's");
	free(text);
	OPENSSL_cleanse(key, strlen(key));
	free(key);
}

static void test_binary_and_oversized_input_is_refused(void **state)
{
	struct rpc_identity id = { .path = (char *)"sentinel" };
	struct tend_err err = { "" };
	char *big = xcalloc(1, RPC_IDENTITY_MAX + 2);

	assert_int_equal(rpc_identity_parse(PATH, "a\0b", 3, &id, &err), -EINVAL);
	assert_says(err.msg, "not a text file");
	memset(big, '#', RPC_IDENTITY_MAX + 1);
	assert_int_equal(rpc_identity_parse(PATH, big, RPC_IDENTITY_MAX + 1, &id, &err), -E2BIG);
	assert_string_equal(id.path, "sentinel");
	free(big);
}

/* write_file - text at dir/name with mode; the path in out. */
static void write_file(const char *name, const char *text, mode_t mode, char *out, size_t len)
{
	int fd;

	snprintf(out, len, "%s/%s", rfx->dir, name);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_load_refuses_a_bundle_others_may_read(void **state)
{
	char *text = alice("nats: tls://127.0.0.1:4222\n"), path[512];
	struct rpc_identity id = { .path = (char *)"sentinel" };
	struct tend_err err = { "" };

	write_file("open.pem", text, 0640, path, sizeof(path));
	assert_int_equal(rpc_identity_load(path, &id, &err), -EPERM);
	assert_says(err.msg, "chmod 600");
	assert_string_equal(id.path, "sentinel");
	write_file("closed.pem", text, 0600, path, sizeof(path));
	assert_int_equal(rpc_identity_load(path, &id, &err), 0);
	assert_string_equal(id.name, "alice");
	assert_string_equal(id.path, path);
	rpc_identity_free(&id);
	free(text);
}

static void test_load_finds_the_bundle_in_the_environment_and_says_where_it_looked(void **state)
{
	char *text = alice(NULL), path[512], home[512];
	struct rpc_identity id;
	struct tend_err err = { "" };

	write_file("env.pem", text, 0600, path, sizeof(path));
	setenv("TEND_IDENTITY", path, 1);
	assert_int_equal(rpc_identity_load(NULL, &id, &err), 0);
	assert_string_equal(id.path, path);
	rpc_identity_free(&id);
	unsetenv("TEND_IDENTITY");
	unsetenv("XDG_CONFIG_HOME");
	snprintf(home, sizeof(home), "%s/nohome", rfx->dir);
	setenv("HOME", home, 1);
	assert_int_equal(rpc_identity_load(NULL, &id, &err), -ENOENT);
	assert_says(err.msg, "nohome/.config/tend/identity.pem does not exist");
	assert_says(err.msg, "--identity");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_bundle_gives_brokers_server_name_role_and_key),
		cmocka_unit_test(test_bundle_without_brokers_or_server_is_fine),
		cmocka_unit_test(test_unknown_setting_names_its_line),
		cmocka_unit_test(test_bad_urls_name_their_line_and_what_was_expected),
		cmocka_unit_test(test_blocks_out_of_order_are_refused),
		cmocka_unit_test(test_missing_blocks_are_named_at_the_end_of_the_file),
		cmocka_unit_test(test_unterminated_and_extra_blocks_are_refused),
		cmocka_unit_test(test_block_that_does_not_parse_names_its_begin_line),
		cmocka_unit_test(test_key_of_another_certificate_is_refused),
		cmocka_unit_test(test_node_certificate_is_not_an_admin),
		cmocka_unit_test(test_certificate_of_another_ca_is_refused),
		cmocka_unit_test(test_binary_and_oversized_input_is_refused),
		cmocka_unit_test(test_load_refuses_a_bundle_others_may_read),
		cmocka_unit_test(
			test_load_finds_the_bundle_in_the_environment_and_says_where_it_looked),
	};

	return cmocka_run_group_tests(tests, rfx_setup, rfx_teardown);
}
