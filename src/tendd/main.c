/*
 * main.c - tendd, the node agent: options, then either enrollment
 * (enroll.c) or the agent's loop.
 *
 * The loop is single-threaded: signals arrive through a signalfd and the
 * bus's connection changes (cnats calls back on its own threads) through
 * an eventfd, and one poll() waits for them and for the next deadline
 * (the next run: every --interval plus a random --splay; the next alive
 * event).  SIGUSR1 runs now; SIGTERM and SIGINT end the agent after a
 * shutdown event.  Signed RPC requests (rpc.c) are answered on cnats'
 * threads; the plans and applies they ask for come to the loop through
 * a third descriptor and run here, between the loop's own runs.  Between runs nothing of a run is kept and freed memory
 * is handed back to the system, so an idle agent stays small.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "bus/bus.h"
#include "engine/run.h"
#include "tendd.h"
#include "util/log.h"
#include "util/strutil.h"

#define CONNECT_WAIT_MS 5000
#define FLUSH_RETRY_MS 10000.0

struct opts {
	const char *state, *root;
	double interval, splay, alive, timeout;
	bool once, splay_set;
	bool enroll;
	struct enroll_opts eo;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tendd [OPTIONS]\n"
		"       tendd --enroll [TOKEN] --server URL [--node ID] [--state DIR]\n"
		"                    [--cacert FILE] [--wait [--poll DUR]]\n\n"
		"The tend agent: fetches this node's signed catalog over the bus, converges on an\n"
		"interval and on SIGUSR1, keeps the last good catalog and spools reports while the\n"
		"server is away.\n\n"
		"options:\n"
		"  --state DIR         identity, cached catalog, spool (default " TENDD_STATE_DEFAULT ")\n"
		"  --root DIR          manage DIR as the root filesystem (default /)\n"
		"  --interval DUR      time between runs (default 30m)\n"
		"  --splay DUR         random delay added to each interval (default: a tenth of it, at most 5m)\n"
		"  --alive DUR         time between alive events (default 5m)\n"
		"  --timeout DUR       wait this long for the server's answers (default 10s)\n"
		"  --once              one convergence, then exit as `tend apply` does (0 / 1)\n"
		"  -v, --verbose       say more (twice: debug)\n"
		"enrollment:\n"
		"  --enroll [TOKEN]    enroll with a token from `tend-server token create --enroll`;\n"
		"                      without one, wait for `tend nodes approve NODE` (exit 3: pending)\n"
		"  --server URL        tend-server's HTTP address\n"
		"  --node ID           this node's id (default: the host name)\n"
		"  --cacert FILE       CA certificate of an https server\n"
		"  --wait              poll until approved instead of exiting 3\n"
		"  --poll DUR          time between polls with --wait (default 5s)\n"
		"  -h, --help          show this help\n"
		"  --version           show the version\n");
}

static int duration(const char *name, const char *s, double *ret)
{
	if (str_to_duration(s, ret) < 0 || *ret <= 0 || *ret > 366 * 86400.0) {
		log_warnx("--%s %s: expected a duration like 30m, 90s or 1h", name, s);
		return -EINVAL;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_STATE = 256, O_ROOT, O_INTERVAL, O_SPLAY, O_ALIVE, O_TIMEOUT, O_ONCE, O_ENROLL,
	       O_SERVER, O_NODE, O_CACERT, O_WAIT, O_POLL, O_VERSION };
	static const struct option lo[] = {
		{ "state", required_argument, NULL, O_STATE },
		{ "root", required_argument, NULL, O_ROOT },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "splay", required_argument, NULL, O_SPLAY },
		{ "alive", required_argument, NULL, O_ALIVE },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "once", no_argument, NULL, O_ONCE },
		{ "enroll", optional_argument, NULL, O_ENROLL },
		{ "server", required_argument, NULL, O_SERVER },
		{ "node", required_argument, NULL, O_NODE },
		{ "cacert", required_argument, NULL, O_CACERT },
		{ "wait", no_argument, NULL, O_WAIT },
		{ "poll", required_argument, NULL, O_POLL },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c, verbose = 0, r = 0;
	bool poll_set = false;

	while (r == 0 && (c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case O_STATE: o->state = optarg; break;
		case O_ROOT: o->root = optarg; break;
		case O_INTERVAL: r = duration("interval", optarg, &o->interval); break;
		case O_SPLAY:
			o->splay_set = true;
			if (strcmp(optarg, "0") != 0)
				r = duration("splay", optarg, &o->splay);
			break;
		case O_ALIVE: r = duration("alive", optarg, &o->alive); break;
		case O_TIMEOUT: r = duration("timeout", optarg, &o->timeout); break;
		case O_ONCE: o->once = true; break;
		case O_ENROLL:
			o->enroll = true;
			/* "--enroll TOKEN" as well as "--enroll=TOKEN"; none: approval */
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optarg = argv[optind++];
			o->eo.token = optarg && *optarg ? optarg : NULL;
			break;
		case O_SERVER: o->eo.server = optarg; break;
		case O_NODE: o->eo.node = optarg; break;
		case O_CACERT: o->eo.cacert = optarg; break;
		case O_WAIT: o->eo.wait = true; break;
		case O_POLL:
			r = duration("poll", optarg, &o->eo.poll);
			poll_set = true;
			if (r == 0 && o->eo.poll < 1) {
				log_warnx("--poll %s: at least 1s (every request costs the server)",
					  optarg);
				r = -EINVAL;
			}
			break;
		case 'v': verbose++; break;
		case 'h': usage(stdout); return 1;
		case O_VERSION: printf("tendd %s\n", TEND_VERSION); return 1;
		default: usage(stderr); return -EINVAL;
		}
	}
	if (r < 0)
		return r;
	if (optind < argc) {
		log_warnx("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (o->enroll && !o->eo.server) {
		log_warnx("--enroll needs --server URL (tend-server's HTTP address)");
		return -EINVAL;
	}
	if (!o->enroll && (o->eo.server || o->eo.node || o->eo.wait)) {
		log_warnx("--server, --node and --wait are options of --enroll");
		return -EINVAL;
	}
	if (poll_set && !o->eo.wait) {
		log_warnx("--poll is an option of --enroll --wait");
		return -EINVAL;
	}
	log_set_level(verbose >= 2 ? LOG_DEBUG : verbose ? LOG_VERBOSE : LOG_NORMAL);
	return 0;
}

/* ---- the loop ------------------------------------------------------------- */

struct loop {
	struct agent a;
	struct opts *o;
	int sigfd, evfd;
};

static void on_state(void *arg, bool up)
{
	struct loop *l = arg;
	uint64_t one = 1;

	/* a cnats thread: only wake the loop up */
	if (write(l->evfd, &one, sizeof(one)) < 0) {
		/* the counter is full: the loop is awake already */
	}
}

static double splay_ms(const struct opts *o)
{
	uint32_t x = 0;

	if (o->splay <= 0 || getrandom(&x, sizeof(x), GRND_NONBLOCK) != sizeof(x))
		return 0;
	return o->splay * 1000.0 * ((double)x / 4294967296.0);
}

/* wait_connected - up to ms for the bus (so the first run can ask for its catalog). */
static void wait_connected(struct loop *l, int ms)
{
	double end = run_now_ms() + ms;
	struct pollfd p = { l->evfd, POLLIN, 0 };
	uint64_t v;

	while (!bus_connected(l->a.bus) && run_now_ms() < end) {
		if (poll(&p, 1, (int)(end - run_now_ms()) + 1) > 0 && read(l->evfd, &v, sizeof(v)) < 0) {
			/* nothing to read after all */
		}
	}
}

static json_t *alive_data(struct loop *l)
{
	char stale[32];

	iso_time(l->a.stale_since, stale);
	return json_pack("{s:f, s:s, s:o, s:I}", "interval", l->o->alive, "catalog", l->a.hash,
			 "stale_since", l->a.stale_since ? json_string(stale) : json_null(),
			 "spooled", (json_int_t)spool_count(l->a.state));
}

/* handle_signals - 1 to stop, 2 to run now, 0 otherwise. */
static int handle_signals(struct loop *l)
{
	struct signalfd_siginfo si;
	int what = 0;

	while (read(l->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			log_info("signal %u: stopping", si.ssi_signo);
			return 1;
		}
		if (si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGHUP)
			what = 2;
	}
	return what;
}

static void converge_now(struct loop *l)
{
	agent_converge(&l->a);
	malloc_trim(0); /* a run's memory goes back to the system, not to an idle heap */
}

static int loop_run(struct loop *l)
{
	double now = run_now_ms(), next_run = now, next_alive = now + l->o->alive * 1000.0;
	double next_flush = now + FLUSH_RETRY_MS;
	struct pollfd p[3] = { { l->sigfd, POLLIN, 0 },
			       { l->evfd, POLLIN, 0 },
			       { l->a.rpc ? rpc_node_fd(l->a.rpc) : -1, POLLIN, 0 } };
	uint64_t v;

	for (;;) {
		double wake;

		now = run_now_ms();
		if (now >= next_run) {
			converge_now(l);
			now = run_now_ms();
			next_run = now + l->o->interval * 1000.0 + splay_ms(l->o);
			next_flush = now + FLUSH_RETRY_MS;
		}
		if (now >= next_alive) {
			event_publish(l->a.bus, l->a.conf.node, "alive", alive_data(l));
			next_alive = now + l->o->alive * 1000.0;
		}
		if (now >= next_flush) { /* reports a timeout left behind */
			agent_flush(&l->a);
			next_flush = now + FLUSH_RETRY_MS;
		}
		wake = next_run < next_alive ? next_run : next_alive;
		wake = wake < next_flush ? wake : next_flush;
		if (poll(p, 3, wake > now ? (int)(wake - now) + 1 : 0) < 0 && errno != EINTR) {
			log_warn("poll");
			return 1;
		}
		if (p[0].revents) {
			int s = handle_signals(l);

			if (s == 1)
				return 0;
			if (s == 2)
				next_run = run_now_ms();
		}
		if (p[1].revents && read(l->evfd, &v, sizeof(v)) == sizeof(v) &&
		    bus_connected(l->a.bus)) {
			log_info("connected to the broker");
			agent_flush(&l->a);
			rpc_node_connected(l->a.rpc);
		}
		if (p[2].revents) { /* plans and applies RPC requests wait for */
			rpc_node_jobs(l->a.rpc);
			malloc_trim(0);
		}
	}
}

/* agent_open - agent.conf, the CA, signals, the bus. */
static int agent_open(struct loop *l, sigset_t *mask)
{
	struct buf p = BUF_INIT, ca = BUF_INIT, cert = BUF_INIT, key = BUF_INIT;
	struct tend_err err;
	struct bus_opts bo = { 0 };
	int r;

	l->a.state = l->o->state;
	l->a.root = l->o->root;
	l->a.request_timeout_ms = (int)(l->o->timeout * 1000.0);
	if ((r = agent_conf_load(l->a.state, &l->a.conf, &err)) < 0)
		goto fail;
	state_path(&p, l->a.state, "ca.pem");
	if ((r = read_file_max(buf_str(&p), TENDD_PEM_MAX, &ca)) < 0) {
		err_set(&err, r, "cannot read %s: %s", buf_str(&p), strerror(-r));
		goto fail;
	}
	l->a.ca_pem = buf_steal(&ca);
	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGUSR1);
	sigaddset(mask, SIGHUP);
	/* blocked before cnats starts its threads, which inherit the mask */
	pthread_sigmask(SIG_BLOCK, mask, NULL);
	l->sigfd = signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);
	l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->sigfd < 0 || l->evfd < 0) {
		r = err_set(&err, -errno, "signalfd/eventfd: %s", strerror(errno));
		goto fail;
	}
	state_path(&cert, l->a.state, "node.pem");
	state_path(&key, l->a.state, "node.key");
	bo.urls = (const char *const *)l->a.conf.nats_urls;
	bo.ca = buf_str(&p);
	bo.cert = buf_str(&cert);
	bo.key = buf_str(&key);
	bo.name = l->a.conf.node;
	bo.on_state = on_state;
	bo.arg = l;
	r = bus_connect(&bo, &l->a.bus, &err);
fail:
	if (r < 0)
		log_warnx("%s", err.msg);
	buf_free(&p);
	buf_free(&ca);
	buf_free(&cert);
	buf_free(&key);
	return r;
}

static void agent_close(struct loop *l)
{
	rpc_node_stop(l->a.rpc); /* before the bus: no request waits for a loop that is gone */
	if (l->a.bus)
		bus_close(l->a.bus);
	rpc_node_free(l->a.rpc);
	if (l->sigfd >= 0)
		close(l->sigfd);
	if (l->evfd >= 0)
		close(l->evfd);
	free(l->a.ca_pem);
	agent_conf_free(&l->a.conf);
}

/* rpc_start - answer RPC requests, checked against the cached catalog's policy until the first run. */
static void rpc_start(struct loop *l, const json_t *catalog)
{
	struct tend_err err;

	if (rpc_node_new(&l->a, catalog, &l->a.rpc, &err) < 0) {
		log_warnx("rpc: %s; this node answers no RPC requests", err.msg);
		l->a.rpc = NULL;
	} else if (rpc_node_subscribe(l->a.rpc, &err) < 0) {
		log_warnx("rpc: %s; this node answers no RPC requests", err.msg);
		/* a subscription made may still deliver to it: stopped, not freed */
		rpc_node_stop(l->a.rpc);
		l->a.rpc = NULL;
	}
}

static int agent_main(struct opts *o)
{
	struct loop l = { .o = o, .sigfd = -1, .evfd = -1 };
	struct tend_err warn, err;
	sigset_t mask;
	json_t *cj = NULL;
	bool prev;
	int ex = 1;

	if (agent_open(&l, &mask) < 0)
		goto out;
	/* the hash of the cached catalog, so the first request can be answered "not-modified" */
	if (cache_load(o->state, l.a.ca_pem, &cj, l.a.hash, &prev, &warn, &err) < 0)
		cj = NULL;
	if (!o->once)
		rpc_start(&l, cj);
	json_decref(cj);
	wait_connected(&l, CONNECT_WAIT_MS);
	if (!bus_connected(l.a.bus))
		log_warnx("the broker does not answer yet; converging with the cached catalog");
	else
		rpc_node_connected(l.a.rpc);
	if (o->once) {
		ex = agent_converge(&l.a);
		goto out;
	}
	event_publish(l.a.bus, l.a.conf.node, "startup",
		      json_pack("{s:s, s:f, s:s}", "version", TEND_VERSION, "interval", o->interval,
				"root", o->root));
	ex = loop_run(&l);
	event_publish(l.a.bus, l.a.conf.node, "shutdown", json_pack("{s:s}", "reason", "signal"));
	bus_flush(l.a.bus, 2000); /* the shutdown event leaves before the connection closes */
out:
	agent_close(&l);
	return ex;
}

int main(int argc, char **argv)
{
	struct opts o = { .state = TENDD_STATE_DEFAULT, .root = "/", .interval = 1800,
			  .alive = 300, .timeout = 10, .eo.poll = 5 };
	int r;

	log_init("tendd", LOG_NORMAL);
	/* one malloc arena: cnats' threads need little, and each arena costs resident memory */
	mallopt(M_ARENA_MAX, 1);
	r = parse_args(argc, argv, &o);
	if (r)
		return r > 0 ? 0 : TENDD_EXIT_USAGE;
	if (o.enroll) {
		size_t n = strlen(o.eo.server);
		char *server = xstrdup(o.eo.server);

		while (n > 0 && server[n - 1] == '/')
			server[--n] = '\0';
		o.eo.server = server;
		o.eo.state = o.state;
		r = enroll(&o.eo);
		free(server);
		return r;
	}
	if (!o.splay_set)
		o.splay = o.interval / 10 < 300 ? o.interval / 10 : 300;
	return agent_main(&o);
}
