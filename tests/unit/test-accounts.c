/*
 * test-accounts.c - unit tests for the pure parts of the user and group
 * types (resources/accounts.h): authorized_keys lines (validation,
 * normalisation, fingerprints as ssh-keygen -l prints them), account
 * names, lists, and fields read from passwd/shadow beneath a root.
 *
 * The key blobs are built here byte by byte, so a parser that accepted a
 * blob of the wrong type, or a fingerprint computed over the wrong bytes,
 * is caught; the one fingerprint spelled out was checked with ssh-keygen.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/hash.h"
#include "resources/accounts.h"

/* key_b64 - base64 of an SSH key blob: string type, then 32 bytes (0..31 + salt). */
static char *key_b64(const char *type, unsigned char salt)
{
	unsigned char blob[256], *out;
	size_t tl = strlen(type), n = 0;

	blob[n++] = 0, blob[n++] = 0, blob[n++] = 0, blob[n++] = (unsigned char)tl;
	memcpy(blob + n, type, tl);
	n += tl;
	blob[n++] = 0, blob[n++] = 0, blob[n++] = 0, blob[n++] = 32;
	for (unsigned i = 0; i < 32; i++)
		blob[n++] = (unsigned char)(i + salt);
	out = calloc(1, n * 2 + 4);
	base64_encode(out, blob, (int)n);
	return (char *)out;
}

static char *key_line(const char *type, const char *blob_type, unsigned char salt, const char *rest)
{
	char *b = key_b64(blob_type, salt), *s;

	assert_true(asprintf(&s, "%s %s%s", type, b, rest) > 0);
	free(b);
	return s;
}

static void key_is_normalised_and_fingerprinted_like_ssh_keygen(void **state)
{
	char *s = key_line("  ssh-ed25519", "ssh-ed25519", 0, "   alice@laptop  \t");
	char *want = key_line("ssh-ed25519", "ssh-ed25519", 0, " alice@laptop");
	struct acct_key k;
	char why[256];

	(void)state;
	assert_int_equal(acct_key_parse(s, &k, why, sizeof(why)), 0);
	assert_string_equal(k.line, want);
	assert_string_equal(k.label, "alice@laptop");
	/* ssh-keygen -lf says: 256 SHA256:ZkAslGjF... alice@laptop (ED25519) */
	assert_string_equal(k.fp, "SHA256:ZkAslGjFiUHdGf/WUL8rQvkib4PTvQatUV0OUQSncCA");
	acct_key_free(&k);
	free(s);
	free(want);
}

static void key_without_comment_is_labelled_by_fingerprint(void **state)
{
	char *s = key_line("ssh-ed25519", "ssh-ed25519", 0, "");
	struct acct_key k;
	char why[256];

	(void)state;
	assert_int_equal(acct_key_parse(s, &k, why, sizeof(why)), 0);
	assert_string_equal(k.line, s);
	assert_string_equal(k.label, k.fp);
	assert_true(!strncmp(k.label, "SHA256:", 7));
	acct_key_free(&k);
	free(s);
}

static void comment_keeps_inner_spaces_and_other_keys_differ(void **state)
{
	char *s = key_line("ssh-ed25519", "ssh-ed25519", 1, " Alice  Liddell (work)");
	struct acct_key k;
	char why[256];

	(void)state;
	assert_int_equal(acct_key_parse(s, &k, why, sizeof(why)), 0);
	assert_string_equal(k.label, "Alice  Liddell (work)");
	assert_string_not_equal(k.fp, "SHA256:ZkAslGjFiUHdGf/WUL8rQvkib4PTvQatUV0OUQSncCA");
	acct_key_free(&k);
	free(s);
}

static void every_known_type_with_a_matching_blob_is_accepted(void **state)
{
	static const char *const types[] = { "ssh-rsa", "ecdsa-sha2-nistp256",
					     "sk-ssh-ed25519@openssh.com",
					     "ssh-ed25519-cert-v01@openssh.com", NULL };
	char why[256];

	(void)state;
	for (size_t i = 0; types[i]; i++) {
		char *s = key_line(types[i], types[i], 3, " x");
		struct acct_key k;

		assert_int_equal(acct_key_parse(s, &k, why, sizeof(why)), 0);
		acct_key_free(&k);
		free(s);
	}
}

/* bad - acct_key_parse(s) fails with -EINVAL, a reason containing want, and leaves k alone. */
static void bad(const char *s, const char *want)
{
	struct acct_key k = { (char *)"untouched", NULL, NULL };
	char why[256] = "";

	assert_int_equal(acct_key_parse(s, &k, why, sizeof(why)), -EINVAL);
	if (!strstr(why, want))
		fail_msg("'%s': reason '%s' lacks '%s'", s, why, want);
	assert_string_equal(k.line, "untouched");
}

static void malformed_keys_are_rejected_with_a_reason(void **state)
{
	char *wrong_blob = key_line("ssh-rsa", "ssh-ed25519", 0, " x");
	char *opts = key_line("from=\"10.0.0.1\" ssh-ed25519", "ssh-ed25519", 0, "");
	char *two = key_line("ssh-ed25519", "ssh-ed25519", 0, " a\nssh-ed25519 AAAA b");
	char *cut = key_b64("ssh-ed25519", 0), *s;

	(void)state;
	bad("", "not a known key type");
	bad("ssh-foo AAAAB3Nz x", "'ssh-foo' is not a known key type");
	bad("ssh-ed25519", "not base64");
	bad("ssh-ed25519 AAA x", "not base64"); /* length not a multiple of 4 */
	bad("ssh-ed25519 AA*A x", "not base64");
	bad("ssh-ed25519 AA=A x", "not base64");	    /* padding inside */
	bad("ssh-ed25519 AAAA x", "not a ssh-ed25519 key"); /* 3 zero bytes: no type */
	bad(wrong_blob, "not a ssh-rsa key");
	bad(opts, "is not a known key type");
	bad(two, "one line");
	/* a paste cut inside the blob's type string is caught (one cut
	 * after it is not: only the type is checked, lightly) */
	cut[16] = '\0';
	assert_true(asprintf(&s, "ssh-ed25519 %s", cut) > 0);
	bad(s, "not a ssh-ed25519 key");
	free(s);
	free(cut);
	free(wrong_blob);
	free(opts);
	free(two);
}

static void keys_file_skips_comments_and_keeps_unknown_lines(void **state)
{
	char *k1 = key_line("ssh-ed25519", "ssh-ed25519", 0, " one");
	char *k2 = key_line("ssh-ed25519", "ssh-ed25519", 7, "");
	char *text;
	struct acct_key *v;
	size_t n;

	(void)state;
	assert_true(asprintf(&text,
			     "# header\n\n%s\r\n   \ncommand=\"x\" %s\n\t# indented comment\n%s",
			     k1, k2, k2) > 0);
	acct_keys_parse_text(text, strlen(text), &v, &n);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].line, k1);
	assert_string_equal(v[0].label, "one");
	assert_true(!strncmp(v[1].line, "command=\"x\" ssh-ed25519 ", 24));
	assert_string_equal(v[1].label, "line 5");
	assert_null(v[1].fp);
	assert_string_equal(v[2].line, k2); /* no final newline */
	acct_keys_free(v, n);
	acct_keys_parse_text("", 0, &v, &n);
	assert_int_equal(n, 0);
	acct_keys_free(v, n);
	free(text);
	free(k1);
	free(k2);
}

static void names_that_break_the_account_files_are_refused(void **state)
{
	(void)state;
	assert_true(acct_name_ok("alice"));
	assert_true(acct_name_ok("svc-web_1.x$"));
	assert_true(acct_name_ok("a2345678901234567890123456789012"));
	assert_false(acct_name_ok("a23456789012345678901234567890123"));
	assert_false(acct_name_ok(""));
	assert_false(acct_name_ok("-rf"));
	assert_false(acct_name_ok("1234"));
	assert_false(acct_name_ok("a:b"));
	assert_false(acct_name_ok("a,b"));
	assert_false(acct_name_ok("a b"));
	assert_false(acct_name_ok("a/b"));
	assert_false(acct_name_ok("a\nb"));
	assert_true(acct_text_ok("Alice Liddell, Room 4"));
	assert_true(acct_text_ok(""));
	assert_false(acct_text_ok("a:b"));
	assert_false(acct_text_ok("a\nb"));
	assert_false(acct_text_ok("a\tb"));
}

static void lists_compare_as_sets_and_print_in_order(void **state)
{
	char *a[] = { "sudo", "devs", NULL }, *b[] = { "devs", "sudo", "devs", NULL },
	     *c[] = { "devs", NULL };
	struct buf s;

	(void)state;
	assert_true(acct_same_set(a, 2, b, 3));
	assert_false(acct_same_set(a, 2, c, 1));
	assert_false(acct_same_set(c, 1, a, 2));
	assert_true(acct_same_set(NULL, 0, NULL, 0));
	assert_true(acct_has(a, SIZE_MAX, "devs"));
	assert_false(acct_has(a, 1, "devs"));
	buf_init(&s, 0);
	acct_list_str(&s, a, 2);
	acct_list_str(&s, NULL, 0);
	assert_string_equal(buf_str(&s), "[sudo,devs][]");
	buf_free(&s);
}

struct fixture {
	char root[256];
	struct fsroot r;
};

static void put(const char *root, const char *rel, const char *data)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(data, f);
	fclose(f);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char p[300];

	snprintf(fx->root, sizeof(fx->root), "%s/test-accounts.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(fx->root));
	snprintf(p, sizeof(p), "%s/etc", fx->root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/home", fx->root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/home/u", fx->root);
	assert_int_equal(mkdir(p, 0755), 0);
	put(fx->root, "/etc/passwd",
	    "root:x:0:0:root:/root:/bin/bash\n"
	    "al:x:999:999:not alice:/home/al:/bin/sh\n"
	    "alice:x:1000:1000:Alice Liddell,,,:/home/alice:/bin/sh\n"
	    "short:x:1001\n"
	    "alice:x:2000:2000:second alice:/elsewhere:/bin/false\n"
	    "last:x:1010:1010:Last:/home/last:/bin/sh");
	put(fx->root, "/etc/shadow",
	    "root:*:19000:0:99999:7:::\nalice:$6$s$h:19675:0:99999:7:::\n");
	assert_int_equal(fsroot_open(&fx->r, fx->root, NULL), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[600];

	fsroot_close(&fx->r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->root);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

static void fields_come_from_the_named_line_of_the_root_file(void **state)
{
	struct fixture *fx = *state;
	char *v = NULL;

	assert_int_equal(acct_field(&fx->r, "/etc/passwd", "alice", 4, &v), 0);
	assert_string_equal(v, "Alice Liddell,,,"); /* the first alice, not "al" */
	free(v);
	assert_int_equal(acct_field(&fx->r, "/etc/shadow", "alice", 1, &v), 0);
	assert_string_equal(v, "$6$s$h");
	free(v);
	assert_int_equal(acct_field(&fx->r, "/etc/passwd", "last", 6, &v), 0);
	assert_string_equal(v, "/bin/sh");
	free(v);
	assert_int_equal(acct_field(&fx->r, "/etc/passwd", "root", 0, &v), 0);
	assert_string_equal(v, "root");
	free(v);
	v = (char *)"untouched";
	assert_int_equal(acct_field(&fx->r, "/etc/passwd", "short", 4, &v), -ENOENT);
	assert_int_equal(acct_field(&fx->r, "/etc/passwd", "nobody", 1, &v), -ENOENT);
	assert_int_equal(acct_field(&fx->r, "/etc/passwd", "ali", 1, &v), -ENOENT);
	assert_int_equal(acct_field(&fx->r, "/etc/gshadow", "alice", 1, &v), -ENOENT);
	assert_string_equal(v, "untouched");
}

/* path_in - ROOT + rel into a static-sized buffer. */
static const char *path_in(const struct fixture *fx, const char *rel, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s", fx->root, rel);
	return buf;
}

static char *slurp(const char *p)
{
	static char data[4096];
	FILE *f = fopen(p, "r");
	size_t n;

	assert_non_null(f);
	n = fread(data, 1, sizeof(data) - 1, f);
	data[n] = '\0';
	fclose(f);
	return data;
}

static void two_keys(struct acct_key k[2])
{
	char *a = key_line("ssh-ed25519", "ssh-ed25519", 0, " one"),
	     *b = key_line("ssh-rsa", "ssh-rsa", 9, "");
	char why[256];

	assert_int_equal(acct_key_parse(a, &k[0], why, sizeof(why)), 0);
	assert_int_equal(acct_key_parse(b, &k[1], why, sizeof(why)), 0);
	free(a);
	free(b);
}

static void keys_file_is_written_exactly_with_its_modes_and_owner(void **state)
{
	struct fixture *fx = *state;
	struct acct_key k[2];
	struct acct_keys_file f = { 0 };
	char p[512], want[4096], why[256];
	struct stat st;
	uid_t uid = getuid() == 0 ? 4321 : getuid();
	gid_t gid = getuid() == 0 ? 4322 : getgid();

	two_keys(k);
	assert_int_equal(acct_keys_read(&fx->r, "/home/u", &f, why, sizeof(why)), 0);
	assert_true(f.home_exists);
	assert_int_equal(f.ssh_kind, ACCT_MISSING);
	assert_int_equal(acct_keys_write(&fx->r, "/home/u", uid, gid, k, 2, why, sizeof(why)), 0);
	snprintf(want, sizeof(want), "%s\n%s\n", k[0].line, k[1].line);
	assert_string_equal(slurp(path_in(fx, "/home/u/.ssh/authorized_keys", p, sizeof(p))), want);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);
	assert_int_equal(lstat(path_in(fx, "/home/u/.ssh", p, sizeof(p)), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(acct_keys_read(&fx->r, "/home/u", &f, why, sizeof(why)), 0);
	assert_int_equal(f.keys_kind, ACCT_FOUND);
	assert_true(acct_keys_same(f.keys, f.nkeys, k, 2));
	assert_false(acct_keys_same(f.keys, f.nkeys, k, 1));
	acct_keys_file_free(&f);
	acct_key_free(&k[0]);
	acct_key_free(&k[1]);
}

static void same_keys_in_another_order_are_kept_and_only_modes_fixed(void **state)
{
	struct fixture *fx = *state;
	struct acct_key k[2];
	char p[512], text[4096], why[256];
	struct stat st;

	two_keys(k);
	assert_int_equal(
		acct_keys_write(&fx->r, "/home/u", getuid(), getgid(), k, 2, why, sizeof(why)), 0);
	snprintf(text, sizeof(text), "# mine\n%s\n%s\n", k[1].line, k[0].line);
	put(fx->root, "/home/u/.ssh/authorized_keys", text);
	assert_int_equal(chmod(path_in(fx, "/home/u/.ssh/authorized_keys", p, sizeof(p)), 0644), 0);
	assert_int_equal(chmod(path_in(fx, "/home/u/.ssh", p, sizeof(p)), 0755), 0);
	assert_int_equal(
		acct_keys_write(&fx->r, "/home/u", getuid(), getgid(), k, 2, why, sizeof(why)), 0);
	assert_string_equal(slurp(path_in(fx, "/home/u/.ssh/authorized_keys", p, sizeof(p))), text);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(lstat(path_in(fx, "/home/u/.ssh", p, sizeof(p)), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* one key fewer: rewritten to exactly the one */
	assert_int_equal(
		acct_keys_write(&fx->r, "/home/u", getuid(), getgid(), k, 1, why, sizeof(why)), 0);
	snprintf(text, sizeof(text), "%s\n", k[0].line);
	assert_string_equal(slurp(path_in(fx, "/home/u/.ssh/authorized_keys", p, sizeof(p))), text);
	acct_key_free(&k[0]);
	acct_key_free(&k[1]);
}

static void planted_symlinks_are_never_followed(void **state)
{
	struct fixture *fx = *state;
	struct acct_keys_file f = { 0 };
	struct acct_key k[2];
	char p[512], q[512], why[256] = "";
	struct stat st;

	two_keys(k);
	/* links are relative, so that even a broken implementation that
	 * followed them would stay in the temp root */
	/* authorized_keys -> the root's etc/shadow: read as "other", replaced by a file */
	assert_int_equal(mkdir(path_in(fx, "/home/u/.ssh", p, sizeof(p)), 0700), 0);
	assert_int_equal(symlink("../../../etc/shadow",
				 path_in(fx, "/home/u/.ssh/authorized_keys", p, sizeof(p))),
			 0);
	assert_int_equal(acct_keys_read(&fx->r, "/home/u", &f, why, sizeof(why)), 0);
	assert_int_equal(f.keys_kind, ACCT_OTHER);
	assert_int_equal(
		acct_keys_write(&fx->r, "/home/u", getuid(), getgid(), k, 1, why, sizeof(why)), 0);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_string_equal(slurp(path_in(fx, "/etc/shadow", q, sizeof(q))),
			    "root:*:19000:0:99999:7:::\nalice:$6$s$h:19675:0:99999:7:::\n");
	/* .ssh -> the root's etc: refused, nothing written there */
	snprintf(q, sizeof(q), "rm -rf '%s/home/u/.ssh'", fx->root);
	assert_int_equal(system(q), 0);
	assert_int_equal(symlink("../../etc", path_in(fx, "/home/u/.ssh", p, sizeof(p))), 0);
	assert_int_equal(acct_keys_read(&fx->r, "/home/u", &f, why, sizeof(why)), 0);
	assert_int_equal(f.ssh_kind, ACCT_OTHER);
	assert_true(acct_keys_write(&fx->r, "/home/u", getuid(), getgid(), k, 1, why, sizeof(why)) <
		    0);
	assert_non_null(strstr(why, "/home/u/.ssh: not a directory (a symlink?)"));
	assert_int_equal(lstat(path_in(fx, "/etc/authorized_keys", p, sizeof(p)), &st), -1);
	acct_keys_file_free(&f);
	acct_key_free(&k[0]);
	acct_key_free(&k[1]);
}

static void a_missing_home_needs_no_keys(void **state)
{
	struct fixture *fx = *state;
	struct acct_keys_file f = { 0 };
	struct acct_key k[2];
	char why[256] = "";

	two_keys(k);
	assert_int_equal(acct_keys_read(&fx->r, "/home/nobody", &f, why, sizeof(why)), 0);
	assert_false(f.home_exists);
	assert_int_equal(
		acct_keys_write(&fx->r, "/home/nobody", getuid(), getgid(), k, 0, why, sizeof(why)),
		0);
	assert_int_equal(
		acct_keys_write(&fx->r, "/home/nobody", getuid(), getgid(), k, 1, why, sizeof(why)),
		-ENOENT);
	assert_non_null(strstr(why, "cannot open the home /home/nobody"));
	acct_key_free(&k[0]);
	acct_key_free(&k[1]);
}

int main(void)
{
#define T(f) cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T(key_is_normalised_and_fingerprinted_like_ssh_keygen),
		T(key_without_comment_is_labelled_by_fingerprint),
		T(comment_keeps_inner_spaces_and_other_keys_differ),
		T(every_known_type_with_a_matching_blob_is_accepted),
		T(malformed_keys_are_rejected_with_a_reason),
		T(keys_file_skips_comments_and_keeps_unknown_lines),
		T(names_that_break_the_account_files_are_refused),
		T(lists_compare_as_sets_and_print_in_order),
		cmocka_unit_test_setup_teardown(fields_come_from_the_named_line_of_the_root_file,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			keys_file_is_written_exactly_with_its_modes_and_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(
			same_keys_in_another_order_are_kept_and_only_modes_fixed, setup, teardown),
		cmocka_unit_test_setup_teardown(planted_symlinks_are_never_followed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_missing_home_needs_no_keys, setup, teardown),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
