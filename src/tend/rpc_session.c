/*
 * rpc_session.c - what every tend-rpc command does before it sends
 * anything: check the filter (a bad one is a usage error, found before
 * the broker is even reached), connect with the admin's identity, and
 * ask the inventory which nodes the filter should reach.
 */
#include "rpc.h"
#include "util/log.h"

int rpc_usage_error(const struct tend_err *err)
{
	if (err && err->msg[0])
		log_warnx("%s", err->msg);
	log_warnx("--help shows the options");
	return RPC_EXIT_USAGE;
}

int rpc_session_open(const struct rpc_opts *o, struct rpc_session *s)
{
	struct tend_err err = { "" };

	s->client = NULL;
	s->filter = s->expect = NULL;
	if (o->verbose)
		log_set_level(LOG_VERBOSE);
	if (rpc_opts_filter(o, &s->filter, &err) < 0) {
		log_warnx("%s", err.msg);
		return RPC_EXIT_USAGE;
	}
	if (rpc_client_open(o, &s->client, &err) < 0) {
		log_warnx("%s", err.msg);
		rpc_session_close(s);
		return RPC_EXIT_FAIL;
	}
	s->expect = rpc_expected(o, rpc_client_identity(s->client), s->filter);
	return RPC_EXIT_OK;
}

void rpc_session_close(struct rpc_session *s)
{
	rpc_client_close(s->client);
	json_decref(s->filter);
	json_decref(s->expect);
	s->client = NULL;
	s->filter = s->expect = NULL;
}
