/*
 * main.c - tend-emulator: N emulated agents in one process (emulator.h).
 *
 *   tend-emulator --agents N --state DIR --nats URL [--policy DIR]
 *                 [--ca FILE] [--server URL --token TOKEN] [--tags T1,T2]
 *
 * Setup, then the agents run until SIGTERM or SIGINT:
 *   1. the open-file limit is raised to its hard limit (one socket per
 *      agent);
 *   2. identities are loaded from DIR, the missing ones enrolled;
 *   3. every agent gets its struct rpc_agent and policy, connects over
 *      TLS with its own certificate and subscribes; when all are
 *      subscribed one line says so: "9000 agents connected in 12.3 s".
 * On the signal every connection is closed and a summary of what the
 * agents saw is printed.  Exit 0, 1 on a failure, 2 for usage.
 */
#include <errno.h>
#include <dirent.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "emulator.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strutil.h"

#define EXIT_USAGE 2

static const char usage_text[] =
	"usage: tend-emulator --agents N --state DIR --nats URL [OPTIONS]\n"
	"\n"
	"Runs N tend agents in one process, each with its own key and node\n"
	"certificate, its own TLS connection to the broker, and the real request\n"
	"checks of tendd: certificate chain, signature, age, replay, filter,\n"
	"policy; replies are signed by each agent's key.  ping answers as tendd;\n"
	"every other action answers \"failed: not emulated\".  Audit records are\n"
	"built and counted, then dropped (nothing is written or forwarded).\n"
	"Runs until SIGTERM or SIGINT.\n"
	"\n"
	"  --agents N        how many agents (1..20000; one open file each)\n"
	"  --state DIR       identities: DIR/agents/PREFIX-NNNNN.{key,pem}, DIR/ca.pem\n"
	"  --nats URL        the broker (tls://HOST:PORT)\n"
	"  --policy DIR      the policy: DIR/*.yaml, read as policy/NAME.yaml;\n"
	"                    without it every request is refused (default deny)\n"
	"  --ca FILE         the tend CA (default DIR/ca.pem, saved at enrollment)\n"
	"  --server URL      tend-server, to enroll agents that have no certificate\n"
	"  --token TOKEN     the enrollment token (tend-server token create --enroll --uses N)\n"
	"  --cacert FILE     the server's CA for an https:// --server\n"
	"  --prefix NAME     agents are NAME-00001 ... (default emu)\n"
	"  --tags T1,T2      the tags every agent has, for --tag filters (the server's\n"
	"                    inventory keeps its own)\n"
	"  --threads N       threads that enroll and connect (default 4)\n"
	"  --delivery-threads N  threads that run requests (default: one per CPU)\n"
	"  -v, --verbose     say more\n"
	"  -h, --help        this text\n"
	"      --version     the version\n"
	"\n"
	"exit status: 0 stopped by a signal, 1 failure, 2 usage\n";

enum {
	OPT_AGENTS = 256,
	OPT_STATE,
	OPT_NATS,
	OPT_POLICY,
	OPT_CA,
	OPT_SERVER,
	OPT_TOKEN,
	OPT_CACERT,
	OPT_PREFIX,
	OPT_TAGS,
	OPT_THREADS,
	OPT_DELIVERY,
	OPT_VERSION
};

static int int_opt(const char *name, const char *s, long long min, long long max, int *ret)
{
	long long v;

	if (str_to_ll(s, 10, min, max, &v) < 0) {
		log_warnx("%s '%s': a number from %lld to %lld", name, s, min, max);
		return -EINVAL;
	}
	*ret = (int)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct emu_opts *o)
{
	static const struct option longopts[] = {
		{ "agents", required_argument, NULL, OPT_AGENTS },
		{ "state", required_argument, NULL, OPT_STATE },
		{ "nats", required_argument, NULL, OPT_NATS },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "server", required_argument, NULL, OPT_SERVER },
		{ "token", required_argument, NULL, OPT_TOKEN },
		{ "cacert", required_argument, NULL, OPT_CACERT },
		{ "prefix", required_argument, NULL, OPT_PREFIX },
		{ "tags", required_argument, NULL, OPT_TAGS },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "delivery-threads", required_argument, NULL, OPT_DELIVERY },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c, r = 0;

	*o = (struct emu_opts){ .prefix = "emu", .threads = 4 };
	while (r == 0 && (c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		/* clang-format off */
		switch (c) {
		case OPT_AGENTS: r = int_opt("--agents", optarg, 1, EMU_AGENTS_MAX, &o->agents); break;
		case OPT_STATE: o->state = optarg; break;
		case OPT_NATS: o->nats_url = optarg; break;
		case OPT_POLICY: o->policy_dir = optarg; break;
		case OPT_CA: o->ca_file = optarg; break;
		case OPT_SERVER: o->server = optarg; break;
		case OPT_TOKEN: o->token = optarg; break;
		case OPT_CACERT: o->cacert = optarg; break;
		case OPT_PREFIX: o->prefix = optarg; break;
		case OPT_TAGS: o->tags = optarg; break;
		case OPT_THREADS: r = int_opt("--threads", optarg, 1, 64, &o->threads); break;
		case OPT_DELIVERY:
			r = int_opt("--delivery-threads", optarg, 1, 256, &o->delivery_threads);
			break;
		case 'v': log_set_level(LOG_VERBOSE); break;
		case 'h': fputs(usage_text, stdout); exit(0);
		case OPT_VERSION: printf("tend-emulator %s\n", TEND_VERSION); exit(0);
		default: r = -EINVAL;
		}
		/* clang-format on */
	}
	if (r == 0 && (optind != argc || !o->agents || !o->state || !o->nats_url)) {
		log_warnx("--agents, --state and --nats are required (see --help)");
		r = -EINVAL;
	}
	if (r == 0 && (strlen(o->prefix) > EMU_PREFIX_MAX || !*o->prefix)) {
		log_warnx("--prefix: 1 to %d characters", EMU_PREFIX_MAX);
		r = -EINVAL;
	}
	return r;
}

/* tags_array - "a,b" as a JSON array of the non-empty names. */
static json_t *tags_array(const char *s)
{
	json_t *a = json_array();

	while (s && *s) {
		const char *end = strchr(s, ',');
		size_t n = end ? (size_t)(end - s) : strlen(s);

		if (n)
			json_array_append_new(a, json_stringn(s, n));
		s = end ? end + 1 : NULL;
	}
	return a;
}

/*
 * policy_files - the .yaml files of dir as {"policy/NAME.yaml": text}, as the
 * configuration repository would hand them to an agent.
 */
static int policy_files(const char *dir, json_t **ret, struct tend_err *err)
{
	json_t *files = json_object();
	struct dirent *de;
	DIR *d = opendir(dir);
	int r = 0;

	if (!d) {
		json_decref(files);
		return err_set(err, -errno, "--policy %s: %s", dir, strerror(errno));
	}
	while (r == 0 && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		struct buf path = BUF_INIT, key = BUF_INIT, text;
		FILE *f;

		if (n < 6 || strcmp(de->d_name + n - 5, ".yaml") || de->d_name[0] == '.')
			continue;
		if (json_object_size(files) == EMU_POLICY_FILES_MAX) {
			r = err_set(err, -E2BIG, "%s: more than %d policy files", dir,
				    EMU_POLICY_FILES_MAX);
			break;
		}
		buf_printf(&path, "%s/%s", dir, de->d_name);
		buf_printf(&key, "policy/%s", de->d_name);
		buf_init(&text, EMU_POLICY_FILE_MAX);
		f = fopen(buf_str(&path), "re");
		if (!f) {
			r = err_set(err, -errno, "%s: %s", buf_str(&path), strerror(errno));
		} else {
			char chunk[4096];
			size_t got;

			while (r == 0 && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
				if (buf_add(&text, chunk, got) < 0)
					r = err_set(err, -EFBIG, "%s: larger than %zu bytes",
						    buf_str(&path), EMU_POLICY_FILE_MAX);
			fclose(f);
		}
		if (r == 0)
			json_object_set_new(files, buf_str(&key), json_string(buf_str(&text)));
		buf_free(&path);
		buf_free(&key);
		buf_free(&text);
	}
	closedir(d);
	if (r < 0)
		json_decref(files);
	else
		*ret = files;
	return r;
}

/* raise_nofile - the open-file limit up to its hard limit; how many are left for agents. */
static long raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("cannot raise the open-file limit to %llu",
				 (unsigned long long)rl.rlim_max);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY ? 1L << 20 : (long)rl.rlim_cur;
}

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- connecting ---- */

struct conn_job {
	struct emu *e;
	int phase; /* 0: set up, connect, tend.rpc.all; 1: tend.rpc.NODE */
	atomic_int next;
	atomic_int done_agents;
	atomic_int done; /* threads finished */
	atomic_bool stop;
	pthread_mutex_t lock; /* r, err */
	int r;
	struct tend_err err;
};

/* connect_one - phase job->phase of agent i. */
static int connect_one(struct conn_job *j, int i, struct tend_err *err)
{
	struct emu *e = j->e;
	int r;

	if (j->phase == 1)
		return emu_agent_subscribe_own(&e->agents[i], err);
	r = emu_agent_init(e, &e->agents[i], &e->ids[i], err);
	if (r == 0)
		r = emu_agent_connect(&e->agents[i], e->o->nats_url, err);
	return r;
}

static void *connect_worker(void *arg)
{
	struct conn_job *j = arg;
	struct tend_err err = { "" };
	int i, r;

	while (!atomic_load(&j->stop) && (i = atomic_fetch_add(&j->next, 1)) < j->e->o->agents) {
		r = connect_one(j, i, &err);
		if (r == 0) {
			atomic_fetch_add(&j->done_agents, 1);
			continue;
		}
		pthread_mutex_lock(&j->lock);
		if (j->r == 0) {
			j->r = r;
			j->err = err;
		}
		pthread_mutex_unlock(&j->lock);
		atomic_store(&j->stop, true);
	}
	atomic_fetch_add(&j->done, 1);
	return NULL;
}

/* got_signal - wait at most ms for SIGTERM or SIGINT (blocked in every thread). */
static bool got_signal(const sigset_t *set, long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	return sigtimedwait(set, NULL, &t) > 0;
}

/*
 * connect_phase - one phase for every agent on o->threads threads.  0
 * when all are done; 1 when a signal came first; < 0 on a failure
 * (logged).
 */
static int connect_phase(struct emu *e, int phase, const sigset_t *sigs)
{
	struct conn_job j = { .e = e, .phase = phase };
	pthread_t th[64];
	int n = 0, r = 0;

	pthread_mutex_init(&j.lock, NULL);
	for (; n < e->o->threads && n < e->o->agents; n++)
		if (pthread_create(&th[n], NULL, connect_worker, &j) != 0)
			break;
	if (!n) {
		log_warnx("cannot start a thread");
		pthread_mutex_destroy(&j.lock);
		return -EAGAIN;
	}
	while (atomic_load(&j.done) < n) {
		if (got_signal(sigs, 100)) {
			atomic_store(&j.stop, true);
			r = 1;
		}
	}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	if (j.r < 0) {
		log_warnx("%s (%d of %d agents %s)", j.err.msg, atomic_load(&j.done_agents),
			  e->o->agents, phase ? "subscribed" : "connected");
		r = j.r;
	}
	pthread_mutex_destroy(&j.lock);
	return r;
}

/* connect_all - every agent set up, connected and subscribed (connect_phase). */
static int connect_all(struct emu *e, const sigset_t *sigs)
{
	int r = connect_phase(e, 0, sigs);

	return r == 0 ? connect_phase(e, 1, sigs) : r;
}

/* print_stats - what the agents saw. */
static void print_stats(const struct emu *e)
{
	const struct emu_stats *s = &e->stats;

	printf("%lu requests for these agents (%lu allowed: %lu ok, %lu failed; %lu refused), "
	       "%lu replies, %lu audit records built and dropped, %lu not for them, %lu errors\n",
	       atomic_load(&s->requests), atomic_load(&s->allowed), atomic_load(&s->ok),
	       atomic_load(&s->failed), atomic_load(&s->refused), atomic_load(&s->replies),
	       atomic_load(&s->audits), atomic_load(&s->skipped), atomic_load(&s->errors));
}

/*
 * trust - the tend CA alone is trusted for the broker's certificate
 * (bus_loop_pin_trust): not the system's CAs, which cnats would load
 * again for each of thousands of connections.  No other thread runs yet.
 */
static int trust(const struct emu_opts *o, struct tend_err *err)
{
	char *abs = realpath(o->ca_file ? o->ca_file : "", NULL);
	struct buf p = BUF_INIT;
	int r;

	if (!abs) {
		buf_printf(&p, "%s/ca.pem", o->state);
		abs = realpath(buf_str(&p), NULL);
	}
	r = bus_loop_pin_trust(abs ? abs : buf_str(&p), err);
	free(abs);
	buf_free(&p);
	return r;
}

/* setup - everything before the agents connect; 0 or 1 (failed, logged). */
static int setup(struct emu *e, const struct emu_opts *o)
{
	struct bus_loop_opts lo = { .delivery_threads = o->delivery_threads };
	struct tend_err err = { "" };
	struct rpc_policy *p = NULL;
	struct timespec t0;
	int enrolled = 0;

	e->o = o;
	e->started_ms = emu_now_ms();
	e->tags = tags_array(o->tags);
	if (o->policy_dir && policy_files(o->policy_dir, &e->policy_files, &err) < 0) {
		log_warnx("%s", err.msg);
		return 1;
	}
	if (rpc_policy_parse(e->policy_files, &p, &err) < 0)
		log_warnx("%s: every request will be refused", err.msg);
	rpc_policy_free(p);
	e->ids = xcalloc((size_t)o->agents, sizeof(*e->ids));
	e->agents = xcalloc((size_t)o->agents, sizeof(*e->agents));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (emu_identities(o, e->ids, &e->ca_pem, &enrolled, &err) < 0) {
		log_warnx("%s", err.msg);
		return 1;
	}
	printf("identities of %d agents ready in %.1f s (%d enrolled now)\n", o->agents, since(&t0),
	       enrolled);
	fflush(stdout);
	if (trust(o, &err) < 0 || bus_loop_new(&lo, &e->loop, &err) < 0) {
		log_warnx("%s", err.msg);
		return 1;
	}
	return 0;
}

static void teardown(struct emu *e)
{
	for (int i = 0; e->agents && i < e->o->agents; i++)
		emu_agent_clear(&e->agents[i]);
	bus_loop_free(e->loop);
	for (int i = 0; e->ids && i < e->o->agents; i++)
		emu_identity_clear(&e->ids[i]);
	free(e->agents);
	free(e->ids);
	free(e->ca_pem);
	json_decref(e->tags);
	json_decref(e->policy_files);
}

int main(int argc, char **argv)
{
	struct emu_opts o;
	struct emu e = { 0 };
	struct timespec t0;
	sigset_t sigs;
	bool ran = false;
	long files;
	int r;

	log_init("tend-emulator", LOG_NORMAL);
	if (parse_args(argc, argv, &o) < 0)
		return EXIT_USAGE;
	files = raise_nofile();
	if (files >= 0 && o.agents > files - 64) {
		log_warnx("--agents %d needs more open files than the limit allows (%ld, hard "
			  "limit included): at most %ld agents",
			  o.agents, files, files - 64);
		return EXIT_USAGE;
	}
	/* the signals are taken with sigtimedwait: blocked in every thread started after */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = setup(&e, &o);
	if (r == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = connect_all(&e, &sigs);
		if (r == 0) {
			printf("%d agents connected in %.1f s\n", o.agents, since(&t0));
			fflush(stdout);
			ran = true;
			while (!got_signal(&sigs, 1000))
				;
		}
		r = r < 0 ? 1 : 0;
	}
	teardown(&e);
	if (ran)
		print_stats(&e);
	return r;
}
