/*
 * emulator.h - tend-emulator: N tend agents in one process, each with its
 * own identity (key and certificate from tend's CA), its own TLS
 * connection to the broker and its own struct rpc_agent, all on one
 * event loop (lib/bus/bus_loop.h).  It proves the orchestration path at
 * fleet scale on one machine: every request is checked by the real
 * rpc_agent_check (certificate chain, signature, age, replay, filter,
 * policy) and answered by the real rpc_agent_reply.
 *
 * The parts: identities (identity.c: loaded from STATE, or enrolled
 * through the server's POST /v1/enroll with a token, as tendd does),
 * the agents (agent.c: the request handler and the emulated actions),
 * and the process (main.c: options, connecting, signals).
 */
#ifndef TEND_EMULATOR_H
#define TEND_EMULATOR_H

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "bus/bus_loop.h"
#include "rpc/rpc.h"
#include "util/err.h"

#define EMU_AGENTS_MAX 20000
#define EMU_NODE_MAX 64	  /* a node name (a certificate's CN) */
#define EMU_PREFIX_MAX 40 /* the agents' name prefix */
#define EMU_PEM_MAX 16384 /* the largest key or certificate file read */
#define EMU_POLICY_FILES_MAX 256
#define EMU_POLICY_FILE_MAX ((size_t)1 << 20)

struct emu_opts {
	int agents;
	const char *state;	/* identities: STATE/agents/NODE.{key,pem}, STATE/ca.pem */
	const char *nats_url;	/* the broker */
	const char *policy_dir; /* *.yaml files: policy/NAME.yaml; NULL: no policy */
	const char *ca_file;	/* the tend CA; NULL: STATE/ca.pem */
	const char *server;	/* tend-server's URL, to enroll agents without an identity */
	const char *token;	/* the enrollment token (--uses N) */
	const char *cacert;	/* the server's CA for an https:// URL */
	const char *prefix;	/* agents are PREFIX-00001 ... */
	const char *tags;	/* "web,prod": every agent's tags */
	int threads;		/* connecting and enrolling threads */
	int delivery_threads;	/* cnats' delivery pool: the threads that run requests */
};

/* One agent's identity. */
struct emu_identity {
	char node[EMU_NODE_MAX + 1];
	EVP_PKEY *key;
	char *key_pem, *cert_pem;
};

/* The counters every agent adds to (atomics: agents run on several threads). */
struct emu_stats {
	atomic_ulong requests; /* looked at (the filter matched) */
	atomic_ulong skipped;  /* the filter did not match: nothing done */
	atomic_ulong allowed, refused;
	atomic_ulong ok, failed; /* allowed and run: the action's status */
	atomic_ulong replies;	 /* replies published */
	atomic_ulong audits;	 /* audit records built (and dropped) */
	atomic_ulong errors;	 /* a reply that could not be built or sent */
};

struct emu_agent {
	struct emu *emu;
	const struct emu_identity *id;
	pthread_mutex_t lock; /* rpc: its two subscriptions may deliver at once */
	struct rpc_agent *rpc;
	json_t *facts;
	struct bus_loop_conn *conn;
};

/* The process: what the agents share (read-only once they run) and own. */
struct emu {
	const struct emu_opts *o;
	char *ca_pem;
	json_t *tags;	      /* array of strings */
	json_t *policy_files; /* {"policy/x.yaml": text}, NULL: none */
	long long started_ms;
	struct bus_loop *loop;
	struct emu_identity *ids;
	struct emu_agent *agents;
	struct emu_stats stats;
};

/* ---- identity.c ---- */

/*
 * emu_identities - the identities of o->agents agents named
 * PREFIX-00001 ... into ids (an array of o->agents), and the CA (PEM
 * text, *ret_ca).  An agent without one in STATE is enrolled with
 * o->server and o->token (POST /v1/enroll, a key made here, kept in
 * STATE 0600, the certificate checked against the CA); *ret_enrolled
 * says how many were.  Runs on o->threads threads.
 */
int emu_identities(const struct emu_opts *o, struct emu_identity *ids, char **ret_ca,
		   int *ret_enrolled, struct tend_err *err);
void emu_identity_clear(struct emu_identity *id);

/* emu_node_name - PREFIX-%05d of agent i (0-based) into out. */
void emu_node_name(const char *prefix, int i, char out[EMU_NODE_MAX + 1]);

/* ---- agent.c ---- */

/*
 * emu_agent_init - agent a for identity id: its struct rpc_agent (nonces
 * in memory), its own policy parsed from e->policy_files, its facts.
 */
int emu_agent_init(struct emu *e, struct emu_agent *a, const struct emu_identity *id,
		   struct tend_err *err);

/*
 * emu_agent_connect - a's own TLS connection to url, subscribed to
 * tend.rpc.all.
 */
int emu_agent_connect(struct emu_agent *a, const char *url, struct tend_err *err);

/*
 * emu_agent_subscribe_own - a's subscription to tend.rpc.NODE; returns
 * once the broker has both.  Made after every agent subscribed to
 * tend.rpc.all: cnats hands subscriptions to its delivery threads in
 * turn, so with two per agent made together every broadcast would land
 * on the same thread.
 */
int emu_agent_subscribe_own(struct emu_agent *a, struct tend_err *err);

/* emu_agent_clear - close a's connection and free what it owns. */
void emu_agent_clear(struct emu_agent *a);

/* emu_now_ms - the wall clock, in ms since the epoch. */
long long emu_now_ms(void);

#endif
