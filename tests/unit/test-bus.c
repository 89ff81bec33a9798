/*
 * test-bus.c - the server's side of the bus that can be tested without a
 * broker: the nats-server configuration tend-server generates (who may
 * publish and subscribe where; what never reaches the file), the URLs
 * clients are given, and the storage of what nodes send (reports stored
 * once per id whatever the number of deliveries, events in order, with
 * their limits), and what lib/bus says before any broker answers.  The
 * broker itself is exercised by tests/integration/t1410-broker.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "bus/bus.h"
#include "db.h"
#include "util/buf.h"

/* ---- the generated configuration ---- */

static const struct broker_conf conf = {
	.listen = "127.0.0.1:14222",
	.cert_file = "/var/lib/tend/ca/server.pem",
	.key_file = "/var/lib/tend/ca/server.key",
	.ca_file = "/var/lib/tend/ca/ca.pem",
};

static char *conf_for(const char *nodes_json)
{
	struct tend_err err = { "" };
	struct buf b = BUF_INIT;
	json_t *nodes = json_loads(nodes_json, 0, NULL);

	assert_non_null(nodes);
	if (broker_conf_text(&conf, nodes, &b, &err) < 0)
		fail_msg("broker_conf_text: %s", err.msg);
	json_decref(nodes);
	return buf_steal(&b);
}

static void conf_requires_verified_client_certificates(void **state)
{
	char *t = conf_for("[]");

	assert_non_null(strstr(t, "listen: \"127.0.0.1:14222\""));
	assert_non_null(strstr(t, "tls {"));
	assert_non_null(strstr(t, "verify_and_map: true"));
	assert_non_null(strstr(t, "ca_file: \"/var/lib/tend/ca/ca.pem\""));
	assert_non_null(strstr(t, "cert_file: \"/var/lib/tend/ca/server.pem\""));
	/* the server's identity is the only user when no node is enrolled */
	assert_non_null(strstr(t, "{ user: \"CN=tend-server\" }"));
	assert_null(strstr(t, "CN=web"));
	/* no anonymous or password user of any kind */
	assert_null(strstr(t, "no_auth_user"));
	assert_null(strstr(t, "password"));
	free(t);
}

static void conf_gives_each_node_only_its_subjects(void **state)
{
	char *t = conf_for("[\"web01\", \"db.example.com\"]");

	assert_non_null(strstr(t, "user: \"CN=web01\""));
	assert_non_null(strstr(t,
			       "publish: { allow: [\"tend.catalog.web01\", \"tend.report.web01\","
			       " \"tend.facts.web01\", \"tend.event.web01.*\", \"tend.audit.web01\"] }"));
	assert_non_null(strstr(t, "subscribe: { allow: [\"_INBOX.web01.>\", \"tend.rpc.web01\","
				  " \"tend.rpc.all\", \"tend.crl\"] }"));
	/* a dotted name: its inbox is one token, its events one token deeper */
	assert_non_null(strstr(t, "user: \"CN=db.example.com\""));
	assert_non_null(strstr(t, "\"_INBOX.db~example~com.>\""));
	assert_non_null(strstr(t, "\"tend.event.db.example.com.*\""));
	assert_null(strstr(t, "tend.event.web01.>"));
	assert_null(strstr(t, "_INBOX.>"));
	free(t);
}

static void conf_lets_administrators_send_requests_only(void **state)
{
	struct broker_conf c = conf;
	struct tend_err err = { "" };
	struct buf b = BUF_INIT;
	json_t *nodes = json_pack("[s]", "alice");
	json_t *admins = json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "name", "alice", "role",
				   "ops", "name", "x\\\" }", "role", "ops", "name", "bob", "role",
				   "a b");
	char *t, *a;

	c.admins = admins;
	assert_int_equal(broker_conf_text(&c, nodes, &b, &err), 0);
	t = buf_steal(&b);
	/* the administrator is its certificate's whole subject, not a node's */
	a = strstr(t, "user: \"CN=alice,OU=ops,O=tend-admin\"");
	assert_non_null(a);
	assert_non_null(strstr(a, "publish: { allow: [\"tend.rpc.>\"] }"));
	/* its inbox is "@alice", which node "alice" can never subscribe to */
	assert_non_null(strstr(a, "subscribe: { allow: [\"_INBOX.@alice.>\"] }"));
	assert_non_null(strstr(t, "\"_INBOX.alice.>\""));
	/* names that cannot be written are left out */
	assert_null(strstr(t, "CN=x"));
	assert_null(strstr(t, "CN=bob"));
	free(t);
	json_decref(nodes);
	json_decref(admins);
}

static void conf_leaves_out_what_is_not_a_node_name(void **state)
{
	char *t = conf_for("[\"ok1\", \"x\\\" }, { user: \\\"CN=evil\", \"tend-server\", \"a b\","
			   " \"\", 42, \"a>b\", \"*\"]");

	assert_non_null(strstr(t, "CN=ok1"));
	assert_null(strstr(t, "evil"));
	assert_null(strstr(t, "a b"));
	assert_null(strstr(t, "a>b"));
	assert_null(strstr(t, "CN=*"));
	/* the server's user once, without permissions, never as a node */
	assert_non_null(strstr(t, "CN=tend-server"));
	assert_null(strstr(strstr(t, "CN=tend-server") + 1, "CN=tend-server"));
	free(t);
}

static void conf_refuses_bad_listen_and_paths(void **state)
{
	static const char *const bad_listen[] = { "127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999",
						  ":4222",     "a\"b:4222",   "h:4222x",
						  NULL };
	struct broker_conf c = conf;
	struct tend_err err = { "" };
	struct buf b = BUF_INIT;
	json_t *none = json_array();

	for (size_t i = 0; bad_listen[i]; i++) {
		c.listen = bad_listen[i];
		assert_int_equal(broker_conf_text(&c, none, &b, &err), -EINVAL);
	}
	c.listen = "[::1]:4222";
	assert_int_equal(broker_conf_text(&c, none, &b, &err), 0);
	assert_non_null(strstr(buf_str(&b), "listen: \"[::1]:4222\""));
	c.cert_file = "/x\"/server.pem";
	assert_int_equal(broker_conf_text(&c, none, &b, &err), -EINVAL);
	c.cert_file = "/x/$HOME/server.pem";
	assert_int_equal(broker_conf_text(&c, none, &b, &err), -EINVAL);
	buf_free(&b);
	json_decref(none);
}

static void client_urls(void **state)
{
	char *urls[] = { (char *)"tls://a:4222", (char *)"tls://b:4222", NULL };
	struct server s = { 0 };
	json_t *u;

	s.cfg.nats_listen = (char *)"0.0.0.0:4333";
	u = broker_client_urls(&s, true);
	assert_int_equal(json_array_size(u), 1);
	assert_string_equal(json_string_value(json_array_get(u, 0)), "tls://127.0.0.1:4333");
	json_decref(u);
	u = broker_client_urls(&s, false); /* agents: this host's name */
	assert_int_equal(json_array_size(u), 1);
	assert_null(strstr(json_string_value(json_array_get(u, 0)), "0.0.0.0"));
	json_decref(u);
	s.cfg.nats_listen = (char *)"10.1.2.3:4222";
	u = broker_client_urls(&s, false);
	assert_string_equal(json_string_value(json_array_get(u, 0)), "tls://10.1.2.3:4222");
	json_decref(u);
	s.cfg.nats_urls = urls;
	u = broker_client_urls(&s, false);
	assert_int_equal(json_array_size(u), 2);
	assert_string_equal(json_string_value(json_array_get(u, 1)), "tls://b:4222");
	json_decref(u);
}

/* ---- storage ---- */

struct fx {
	char dir[64];
	char path[128];
	struct db *db;
};

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct tend_err err = { "" };

	snprintf(f->dir, sizeof(f->dir), "/tmp/test-bus.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/tend.db", f->dir);
	if (db_open(f->path, &f->db, &err) < 0)
		fail_msg("db_open: %s", err.msg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	db_close(f->db);
	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static json_t *report(int changed, int failed, const char *stale_since)
{
	json_t *r = json_pack("{s:s, s:{s:i, s:i, s:i}}", "command", "apply", "summary", "ok", 3,
			      "changed", changed, "failed", failed);

	if (stale_since)
		json_object_set_new(
			r, "catalog",
			json_pack("{s:s, s:s}", "hash", "sha256:00", "stale_since", stale_since));
	return r;
}

static const char *node_status(struct db *db, const char *node, json_t **keep)
{
	struct tend_err err = { "" };

	assert_int_equal(db_node_get(db, node, keep, &err), 0);
	return json_string_value(json_object_get(*keep, "status"));
}

static void report_stored_once_per_id(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { "" };
	json_t *r = report(1, 0, NULL), *list = NULL, *n = NULL;
	int64_t id1 = 0, id2 = 0, id3 = 0;
	bool fresh = false;

	assert_int_equal(db_report_add_once(f->db, "web01", "6f1c-aa", r, &id1, &fresh, &err), 0);
	assert_true(fresh);
	/* delivered again (the answer was lost): the same report, not a new one */
	assert_int_equal(db_report_add_once(f->db, "web01", "6f1c-aa", r, &id2, &fresh, &err), 0);
	assert_false(fresh);
	assert_int_equal(id1, id2);
	assert_int_equal(db_report_add_once(f->db, "web01", "6f1c-ab", r, &id3, &fresh, &err), 0);
	assert_true(fresh);
	assert_true(id3 > id1);
	assert_int_equal(db_report_list(f->db, "web01", 100, &list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(node_status(f->db, "web01", &n), "changed");
	json_decref(n);
	json_decref(list);
	json_decref(r);
}

static void report_status_stale_unless_failed(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { "" };
	json_t *r, *n = NULL;
	int64_t id;
	bool fresh;

	r = report(0, 0, "2026-11-22T06:00:00Z");
	assert_int_equal(db_report_add_once(f->db, "n1", "01", r, &id, &fresh, &err), 0);
	assert_string_equal(node_status(f->db, "n1", &n), "stale");
	json_decref(n);
	json_decref(r);
	r = report(0, 1, "2026-11-22T06:00:00Z");
	assert_int_equal(db_report_add_once(f->db, "n1", "02", r, &id, &fresh, &err), 0);
	assert_string_equal(node_status(f->db, "n1", &n), "failed");
	json_decref(n);
	json_decref(r);
	r = report(0, 0, NULL);
	assert_int_equal(db_report_add_once(f->db, "n1", "03", r, &id, &fresh, &err), 0);
	assert_string_equal(node_status(f->db, "n1", &n), "converged");
	json_decref(n);
	json_decref(r);
}

static void report_bad_input(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { "" };
	json_t *r = report(0, 0, NULL), *bad = json_pack("{s:i}", "x", 1), *list = NULL;
	int64_t id;
	bool fresh;

	assert_int_equal(db_report_add_once(f->db, "n1", NULL, r, &id, &fresh, &err), -EINVAL);
	assert_int_equal(db_report_add_once(f->db, "n1", "", r, &id, &fresh, &err), -EINVAL);
	assert_int_equal(db_report_add_once(f->db, "n1", "xyz'; --", r, &id, &fresh, &err),
			 -EINVAL);
	assert_int_equal(db_report_add_once(f->db, "../n", "01", r, &id, &fresh, &err), -EINVAL);
	assert_int_equal(db_report_add_once(f->db, "n1", "01", bad, &id, &fresh, &err), -EINVAL);
	assert_int_equal(db_report_list(f->db, NULL, 100, &list, &err), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	json_decref(bad);
	json_decref(r);
}

static void events_in_order_and_followed(void **state)
{
	static const char *const types[] = { "startup", "alive", "run", "alive", "shutdown" };
	struct fx *f = *state;
	struct tend_err err = { "" };
	json_t *list = NULL, *data = json_pack("{s:i}", "changed", 2), *n = NULL;
	int64_t ids[5];

	for (int i = 0; i < 5; i++)
		assert_int_equal(db_event_add(f->db, i % 2 ? "web02" : "web01", types[i],
					      1795000000 + i, i == 2 ? data : NULL, &ids[i], &err),
				 0);
	/* the newest 3, oldest first */
	assert_int_equal(db_event_list(f->db, NULL, 0, 3, &list, &err), 0);
	assert_int_equal(json_array_size(list), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "id")),
			 ids[2]);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "type")),
			    "shutdown");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_array_get(list, 0), "data"), "changed")),
			 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "time")),
			    "2026-11-18T11:06:42Z");
	json_decref(list);
	/* following: what came after an id, for one node */
	assert_int_equal(db_event_list(f->db, "web02", ids[1], 50, &list, &err), 0);
	assert_int_equal(json_array_size(list), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "id")),
			 ids[3]);
	json_decref(list);
	assert_int_equal(db_event_list(f->db, NULL, ids[4], 50, &list, &err), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	/* an event is a sign of life */
	node_status(f->db, "web02", &n);
	assert_true(json_is_string(json_object_get(n, "last_seen")));
	json_decref(n);
	assert_int_equal(db_event_last(f->db, "web02", "alive"), 1795000003);
	assert_int_equal(db_event_last(f->db, "web02", "run"), 0);
	json_decref(data);
}

/* a node is unreachable once its newest alive event is older than three
 * of the intervals it announced; never before, and never without one */
static void unreachable_after_three_missed_alives(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { "" };
	json_t *fast = json_pack("{s:f}", "interval", 0.5), *slow = json_pack("{s:f}", "interval", 60.0);

	assert_false(db_node_unreachable(f->db, "quiet"));
	assert_int_equal(db_event_add(f->db, "fast", "alive", 0, fast, NULL, &err), 0);
	assert_int_equal(db_event_add(f->db, "slow", "alive", 0, slow, NULL, &err), 0);
	assert_false(db_node_unreachable(f->db, "fast"));
	sleep(2); /* whole seconds: at most 1 before, at least 2 after; 3 x 0.5 between */
	assert_true(db_node_unreachable(f->db, "fast"));
	assert_false(db_node_unreachable(f->db, "slow"));
	/* it speaks again: reachable */
	assert_int_equal(db_event_add(f->db, "fast", "alive", 0, fast, NULL, &err), 0);
	assert_false(db_node_unreachable(f->db, "fast"));
	json_decref(fast);
	json_decref(slow);
}

static void events_bad_input(void **state)
{
	struct fx *f = *state;
	struct tend_err err = { "" };
	json_t *arr = json_array(), *big = json_object(), *list = NULL;
	char *pad = malloc(DB_EVENT_DATA_MAX + 1);

	memset(pad, 'x', DB_EVENT_DATA_MAX);
	pad[DB_EVENT_DATA_MAX] = '\0';
	json_object_set_new(big, "pad", json_string(pad));
	assert_int_equal(db_event_add(f->db, "n1", "Alive", 0, NULL, NULL, &err), -EINVAL);
	assert_int_equal(db_event_add(f->db, "n1", "", 0, NULL, NULL, &err), -EINVAL);
	assert_int_equal(db_event_add(f->db, "n1", "a.b", 0, NULL, NULL, &err), -EINVAL);
	assert_int_equal(db_event_add(f->db, "n 1", "alive", 0, NULL, NULL, &err), -EINVAL);
	assert_int_equal(db_event_add(f->db, "n1", "alive", 0, arr, NULL, &err), -EINVAL);
	assert_int_equal(db_event_add(f->db, "n1", "alive", 0, big, NULL, &err), -EFBIG);
	assert_int_equal(db_event_list(f->db, NULL, 0, 0, &list, &err), -EINVAL);
	assert_int_equal(db_event_list(f->db, NULL, 0, 10, &list, &err), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	json_decref(arr);
	json_decref(big);
	free(pad);
}

/* ---- lib/bus without a broker ---- */

static void bus_refuses_bad_options(void **state)
{
	const char *urls[] = { "tls://127.0.0.1:1", NULL }, *none[] = { NULL };
	struct bus_opts o = { .urls = urls,
			      .ca = "/nonexistent/ca.pem",
			      .cert = "/nonexistent/c.pem",
			      .key = "/nonexistent/c.key" };
	struct tend_err err = { "" };
	struct bus *b = NULL;

	assert_int_equal(bus_connect(&o, &b, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/c.pem"));
	o.urls = none;
	assert_int_equal(bus_connect(&o, &b, &err), -EINVAL);
	assert_int_equal(bus_connect(NULL, &b, &err), -EINVAL);
	assert_null(b);
}

/* a self-signed certificate named cn in dir (openssl, as the tests' CA) */
static void make_cert(const char *dir, const char *cn)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1"
		 " -subj /CN=%s -keyout %s/k.pem -out %s/c.pem 2>/dev/null",
		 cn, dir, dir);
	if (system(cmd) != 0)
		skip();
}

static void bus_without_broker_says_not_connected(void **state)
{
	struct fx *f = *state;
	char ca[128], cert[128], key[128], inbox[128], *ans = NULL;
	const char *urls[] = { "tls://127.0.0.1:1", NULL };
	struct bus_opts o = { .urls = urls, .ca = ca, .cert = cert, .key = key };
	struct tend_err err = { "" };
	struct bus *b = NULL;
	size_t len = 0;

	make_cert(f->dir, "web01.example.com");
	snprintf(cert, sizeof(cert), "%s/c.pem", f->dir);
	snprintf(key, sizeof(key), "%s/k.pem", f->dir);
	snprintf(ca, sizeof(ca), "%s/c.pem", f->dir);
	/* nothing listens: bus_connect returns at once and keeps trying */
	if (bus_connect(&o, &b, &err) < 0)
		fail_msg("bus_connect: %s", err.msg);
	assert_false(bus_connected(b));
	assert_int_equal(bus_request(b, "tend.catalog.web01", "{}", 2, 1000, &ans, &len, &err),
			 -ENOTCONN);
	assert_int_equal(bus_publish(b, "tend.event.web01.alive", "{}", 2, &err), -ENOTCONN);
	assert_int_equal(bus_publish(b, "", "{}", 2, &err), -EINVAL);
	assert_int_equal(bus_publish(b, "x", "{}", BUS_PAYLOAD_MAX + 1, &err), -EMSGSIZE);
	/* the inbox is the certificate's name as one token */
	assert_int_equal(bus_inbox(b, inbox, sizeof(inbox)), 0);
	assert_true(!strncmp(inbox, "_INBOX.web01~example~com.", 25));
	assert_int_equal(bus_inbox(b, inbox, 20), -ENAMETOOLONG);
	bus_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(conf_requires_verified_client_certificates),
		cmocka_unit_test(conf_gives_each_node_only_its_subjects),
		cmocka_unit_test(conf_lets_administrators_send_requests_only),
		cmocka_unit_test(conf_leaves_out_what_is_not_a_node_name),
		cmocka_unit_test(conf_refuses_bad_listen_and_paths),
		cmocka_unit_test(client_urls),
		cmocka_unit_test_setup_teardown(report_stored_once_per_id, setup, teardown),
		cmocka_unit_test_setup_teardown(report_status_stale_unless_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(report_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(events_in_order_and_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(events_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(unreachable_after_three_missed_alives, setup, teardown),
		cmocka_unit_test(bus_refuses_bad_options),
		cmocka_unit_test_setup_teardown(bus_without_broker_says_not_connected, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
