/*
 * cmd_user.c - `tend-server user add|ls|revoke`: administrators'
 * identities for the bus.
 *
 * An identity is a key made here and a certificate of tend's CA with
 * O=tend-admin, OU=ROLE, CN=NAME, written with the CA certificate and
 * the brokers' addresses into one bundle file (0600) that the CLI reads
 * (tend ping, run, rpc, up).  The broker lets it publish requests; each
 * node decides what it may do from the policy (policy/NAME.yaml).
 *
 * These commands work on the state directory directly, so they work
 * whether tend-server runs or not; a running server is told through
 * SIGHUP (its pid is in STATE/tend-server.pid) to rewrite the broker's
 * users and reload it, which also closes a revoked identity's
 * connections.  The bundle names the addresses the running server
 * recorded (runfiles.c), or else those of the configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "broker.h"
#include "ca.h"
#include "db.h"
#include "pki/pki.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strutil.h"

#define USER_DAYS_DEFAULT 365
#define USER_DAYS_MAX 3650

/* notify_server - SIGHUP the tend-server that runs on this state, if one does. */
static void notify_server(const struct srv_config *c)
{
	char path[4096], buf[32], comm[64] = "";
	long long pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/" SERVER_PID_FILE, c->state_dir);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, sizeof(buf), f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
	if (str_to_ll(buf, 10, 2, 1 << 30, &pid) < 0)
		return;
	snprintf(path, sizeof(path), "/proc/%lld/comm", pid);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
	}
	if (strncmp(comm, "tend-server", 11) != 0)
		return; /* a stale pid file */
	if (kill((pid_t)pid, SIGHUP) == 0)
		log_info("told tend-server (pid %lld) to reload the broker's users", pid);
}

/* write_all - all of len bytes of data to fd. */
static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* write_bundle - key, certificate, CA and broker URLs into path (new file, 0600). */
static int write_bundle(const char *path, const char *name, const char *role, EVP_PKEY *key,
			const char *cert_pem, const char *ca_pem, const json_t *urls,
			const char *server_url)
{
	struct buf b = BUF_INIT;
	char *key_pem = NULL;
	const json_t *u;
	size_t i;
	int fd, r;

	r = pki_key_pem(key, &key_pem, NULL);
	if (r < 0)
		return r;
	buf_printf(&b, "# tend identity: %s (role %s)\n", name, role);
	json_array_foreach(urls, i, u)
		buf_printf(&b, "nats: %s\n", json_string_value(u));
	if (server_url)
		buf_printf(&b, "server: %s\n", server_url);
	buf_printf(&b, "%s%s%s", key_pem, cert_pem, ca_pem);
	OPENSSL_cleanse(key_pem, strlen(key_pem));
	free(key_pem);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
	} else {
		r = write_all(fd, b.data, b.len);
		if (r == 0 && fsync(fd) < 0)
			r = -errno;
		if (close(fd) < 0 && r == 0)
			r = -errno;
		if (r < 0)
			unlink(path);
	}
	OPENSSL_cleanse(b.data, b.len);
	buf_free(&b);
	return r;
}

struct add_opts {
	const char *name, *role, *out;
	long long days;
	bool json;
};

static int user_issue(struct server *s, const struct add_opts *o)
{
	struct tend_err err = { "" };
	char serial[PKI_SERIAL_HEX_MAX + 1], url[600];
	EVP_PKEY *key = NULL;
	char *pem = NULL;
	long long not_after = 0;
	json_t *urls = NULL, *ends = NULL;
	int r;

	r = pki_key_new(&key);
	if (r == 0)
		r = pki_ca_issue_admin(s->ca, key, o->name, o->role, (int)o->days, &pem, serial,
				       &err);
	if (r == 0)
		r = pki_cert_serial(pem, serial, &not_after, &err);
	if (r == 0) {
		struct db_user u = { o->name, o->role, serial, pem, not_after };

		r = db_user_add(s->db, &u, &err);
	}
	if (r < 0) {
		log_warnx("user add: %s", err.msg[0] ? err.msg : strerror(-r));
		goto out;
	}
	/* the addresses the running server recorded, else what the configuration says */
	ends = runfiles_endpoints(&s->cfg);
	urls = ends ? json_incref(json_object_get(ends, "nats")) : broker_client_urls(s, false);
	snprintf(url, sizeof(url), "%s",
		 ends ? json_string_value(json_object_get(ends, "server")) :
			s->cfg.tls_cert ? "https://127.0.0.1:8440" : "http://127.0.0.1:8440");
	if (!ends && s->cfg.listen && strncmp(s->cfg.listen, "0.0.0.0:", 8))
		snprintf(url, sizeof(url), "%s://%s", s->cfg.tls_cert ? "https" : "http",
			 s->cfg.listen);
	r = write_bundle(o->out, o->name, o->role, key, pem, pki_ca_cert_pem(s->ca), urls, url);
	if (r < 0) {
		char unused[DB_SERIAL_MAX + 1];

		log_warnx("user add: %s: %s%s", o->out, strerror(-r),
			  r == -EEXIST ? " (remove it or choose another --out)" : "");
		/* nobody holds the key: the certificate goes */
		db_user_revoke(s->db, o->name, unused, NULL);
		pki_ca_revoke(s->ca, serial, NULL);
		goto out;
	}
	if (o->json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I}", "file", o->out, "name", o->name,
				      "role", o->role, "serial", serial, "days", (json_int_t)o->days);

		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	} else {
		printf("%s: identity '%s' (role %s), certificate %s, valid %lld days\n", o->out,
		       o->name, o->role, serial, o->days);
	}
out:
	json_decref(urls);
	json_decref(ends);
	free(pem);
	EVP_PKEY_free(key);
	return r < 0 ? 1 : 0;
}

/* with_state - run fn with the database and the CA of c's state directory open. */
static int with_state(const struct srv_config *c, int (*fn)(struct server *, const void *),
		      const void *arg)
{
	struct tend_err err = { "" };
	struct server s = { .cfg = *c };
	int r, ret = 1;

	r = server_state_dir(c, &err);
	if (r == 0)
		r = db_open(c->db_path, &s.db, &err);
	if (r == 0)
		r = ca_open(&s, &err);
	if (r < 0) {
		log_warnx("%s", err.msg[0] ? err.msg : strerror(-r));
	} else {
		ret = fn(&s, arg);
		if (ret == 0)
			notify_server(c);
	}
	if (s.ca)
		ca_close(&s);
	db_close(s.db);
	return ret;
}

static int do_add(struct server *s, const void *arg)
{
	return user_issue(s, arg);
}

static int do_revoke(struct server *s, const void *arg)
{
	struct tend_err err = { "" };
	char serial[DB_SERIAL_MAX + 1];
	int r = db_user_revoke(s->db, arg, serial, &err);

	if (r == 0)
		r = pki_ca_revoke(s->ca, serial, &err);
	if (r < 0) {
		log_warnx("user revoke: %s", err.msg[0] ? err.msg : strerror(-r));
		return 1;
	}
	printf("revoked '%s' (certificate %s)\n", (const char *)arg, serial);
	return 0;
}

static int user_add(const struct srv_config *c, bool json, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "role", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "days", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct add_opts o = { .days = USER_DAYS_DEFAULT, .json = json };
	char out[300];
	int ch;

	optind = 0; /* a new scan, in GNU order: NAME may come before the options */
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'r': o.role = optarg; break;
		case 'o': o.out = optarg; break;
		case 'j': o.json = true; break;
		case 'd':
			if (str_to_ll(optarg, 10, 1, USER_DAYS_MAX, &o.days) < 0) {
				log_warnx("user add: --days %s: expected 1 to %d", optarg,
					  USER_DAYS_MAX);
				return 1;
			}
			break;
		default: return 1;
		}
	}
	if (optind != argc - 1 || !o.role || argv[optind][0] == '-') {
		log_warnx("usage: user add NAME --role ROLE [--out FILE] [--days N] [--json]");
		return 1;
	}
	o.name = argv[optind];
	if (!o.out) {
		snprintf(out, sizeof(out), "%.200s.pem", o.name);
		o.out = out;
	}
	return with_state(c, do_add, &o);
}

static void user_print(const json_t *list)
{
	const json_t *u;
	size_t i;

	printf("%-20s %-12s %-20s %-20s %s\n", "NAME", "ROLE", "CREATED", "EXPIRES", "REVOKED");
	json_array_foreach(list, i, u) {
		const char *rev = json_string_value(json_object_get(u, "revoked"));

		printf("%-20s %-12s %-20s %-20s %s\n", json_string_value(json_object_get(u, "name")),
		       json_string_value(json_object_get(u, "role")),
		       json_string_value(json_object_get(u, "created")),
		       json_string_value(json_object_get(u, "expires")), rev ? rev : "-");
	}
}

static int user_ls(const struct srv_config *c, bool json)
{
	struct tend_err err = { "" };
	struct db *db = NULL;
	json_t *list = NULL;
	int r = server_state_dir(c, &err);

	if (r == 0)
		r = db_open(c->db_path, &db, &err);
	if (r == 0)
		r = db_user_list(db, false, &list, &err);
	db_close(db);
	if (r < 0) {
		log_warnx("user ls: %s", err.msg[0] ? err.msg : strerror(-r));
		return 1;
	}
	if (json) {
		json_dumpf(list, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		user_print(list);
	}
	json_decref(list);
	return 0;
}

bool srv_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

int cmd_user(const struct srv_config *c, bool json, int argc, char **argv)
{
	static const char usage[] =
		"usage: tend-server [OPTIONS] user add NAME --role ROLE [--out FILE] [--days N] "
		"[--json]\n"
		"       tend-server [OPTIONS] user ls [--json]\n"
		"       tend-server [OPTIONS] user revoke NAME\n"
		"administrators' identities: a key and a certificate of tend's CA in one\n"
		"bundle file (--out, default NAME.pem, 0600) for tend's remote commands;\n"
		"--days: 1 to 3650 (default 365).  man tend-server(8) says more.\n";

	if (srv_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "add"))
		return user_add(c, json, argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "ls") &&
	    (argc == 2 || (argc == 3 && !strcmp(argv[2], "--json"))))
		return user_ls(c, json || argc == 3);
	if (argc == 3 && !strcmp(argv[1], "revoke") && argv[2][0] != '-')
		return with_state(c, do_revoke, argv[2]);
	fputs(usage, stderr);
	return 1;
}
