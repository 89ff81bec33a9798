/*
 * fuzz_ingest.c - what tend-server stores of what a node sends over the
 * bus (src/tend-server/bus_server.c: reports, facts, events, audit
 * records; DESIGN.md: data reported by nodes is untrusted), in a real
 * SQLite database, then reads back as the API does.
 *
 * The input's first byte picks what it is (report, facts, event, audit
 * record); the rest is the message's JSON.  A message is stored or
 * refused with a reason, and whatever was stored reads back.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "fuzz.h"

#define NODE "web01"

static struct db *db;

static void cleanup(void)
{
	db_close(db);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct tend_err err = { "" };
	const char *dir = fuzz_state_dir("ingest");
	char path[128];

	if (!dir)
		return -1;
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/state.db", dir);
	if (db_open(path, &db, &err) < 0) {
		fprintf(stderr, "fuzz: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static void store(int kind, json_t *msg, struct tend_err *err)
{
	static const char *const keys[] = { "facts", "addresses", "macs", NULL };
	const char *type = json_string_value(json_object_get(msg, "type"));
	json_t *fields, *data;
	int64_t id = 0;
	bool fresh = false;

	switch (kind) {
	case 0: /* tend.report.NODE: {"id", "report": {...}} */
		if (json_is_string(json_object_get(msg, "id")) &&
		    json_is_object(json_object_get(msg, "report")))
			db_report_add_once(db, NODE, json_string_value(json_object_get(msg, "id")),
					   json_object_get(msg, "report"), &id, &fresh, err);
		break;
	case 1: /* tend.facts.NODE: {"facts": {...}, "addresses", "macs"} */
		fields = json_object();
		for (size_t i = 0; keys[i]; i++)
			if (json_object_get(msg, keys[i]))
				json_object_set(fields, keys[i], json_object_get(msg, keys[i]));
		if (json_is_object(json_object_get(msg, "facts")))
			db_node_seen(db, NODE, fields, err);
		json_decref(fields);
		break;
	case 2: /* tend.event.NODE.TYPE: the subject's type, here the body's */
		data = json_object_get(msg, "data");
		db_event_add(db, NODE, type && strlen(type) < 64 ? type : "alive", 1800000000,
			     json_is_object(data) ? data : NULL, NULL, err);
		break;
	default: /* tend.audit.NODE */
		db_rpc_audit_add(db, NODE, msg, err);
		break;
	}
}

static void read_back(void)
{
	struct db_rpc_audit_query q = { .limit = 5 };
	struct tend_err err = { "" };
	json_t *j = NULL, *list = NULL;
	size_t i;
	json_t *r;

	if (db_node_get(db, NODE, &j, &err) == 0)
		json_decref(j);
	if (db_node_list(db, &j, &err) == 0)
		json_decref(j);
	if (db_report_list(db, NODE, 3, &list, &err) == 0) {
		json_array_foreach(list, i, r) {
			json_t *whole = NULL;

			if (db_report_get(db, json_integer_value(json_object_get(r, "id")), &whole,
					  &err) == 0)
				json_decref(whole);
		}
		json_decref(list);
	}
	if (db_event_list(db, NODE, 0, 5, &j, &err) == 0)
		json_decref(j);
	if (db_rpc_audit_list(&q, db, &j, &err) == 0)
		json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tend_err err = { "" };
	json_t *msg;

	if (size < 1 || size > DB_FACTS_MAX + 65536)
		return 0;
	msg = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(msg)) {
		json_decref(msg);
		return 0;
	}
	store(data[0] & 3, msg, &err);
	if (getenv("FUZZ_DEBUG")) /* to see whether a seed is stored */
		fprintf(stderr, "%s\n", err.msg[0] ? err.msg : "stored");
	read_back();
	json_decref(msg);
	return 0;
}
