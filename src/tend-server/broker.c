/*
 * broker.c - the nats-server tend-server runs and supervises when no
 * NATS cluster is configured (see broker.h).
 *
 * The configuration lives in STATE/nats/nats.conf, written atomically
 * from the CA's files and the enrolled nodes: TLS is required, every
 * client must present a certificate of the tend CA, and the certificate's
 * subject ("CN=web01") is the user, whose permissions name only that
 * node's own subjects.  An unknown or revoked subject maps to no user and
 * is refused; nats-server re-checks open connections on reload (SIGHUP),
 * so a revocation closes the node's connection at once.
 *
 * One supervisor thread owns the child: it waits for it to exit (waitid
 * with WNOWAIT, so the pid is not reaped, and cannot be reused, before
 * the thread has forgotten it under the lock that kill() is sent under),
 * then starts it again after a delay that doubles from 0.25 s to 10 s
 * and starts over once a child has lived 30 s.  The child has SIGTERM as
 * its parent-death signal, so even a SIGKILLed tend-server leaves no
 * broker behind.
 */
#include "broker.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "pki/pki.h"
#include "util/atomic.h"
#include "util/log.h"
#include "util/strutil.h"

#define BROKER_BACKOFF_FIRST_MS 250
#define BROKER_BACKOFF_MAX_MS 10000
#define BROKER_STABLE_S 30
#define BROKER_READY_MS 15000
#define BROKER_STOP_WAIT_S 5
#define BROKER_CONF "nats.conf"

struct broker {
	struct server *srv;
	char *dir;	/* STATE/nats */
	char *conf;	/* STATE/nats/nats.conf */
	char *exe;	/* nats-server */
	char host[256]; /* where it listens */
	char port[16];
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock; /* pid, stopping */
	pthread_cond_t cond;
	pid_t pid;
	bool stopping;
	unsigned restarts;
};

/* ---- the configuration ---- */

/* split_listen - "ADDR:PORT" / "[V6]:PORT" into host and port; -EINVAL. */
static int split_listen(const char *listen, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon = listen ? strrchr(listen, ':') : NULL;
	const char *h = listen;
	size_t n;
	long long p;

	if (!colon || str_to_ll(colon + 1, 10, 1, 65535, &p) < 0)
		return -EINVAL;
	n = (size_t)(colon - listen);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h++;
		n -= 2;
	}
	if (n == 0 || n >= hlen || strlen(colon + 1) >= plen)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	snprintf(port, plen, "%s", colon + 1);
	for (const char *c = host; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == ':'))
			return -EINVAL;
	return 0;
}

/* conf_string_ok - text that can sit between double quotes as is. */
static bool conf_string_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || *s == '$')
			return false;
	return true;
}

/*
 * node_user - node n's user.  Node names may hold dots, which separate
 * subject tokens: its inbox token has them as '~' (bus.c does the same)
 * and its events are "tend.event.N.*", one token after the name, so
 * that node "a" can never speak for node "a.b".
 */
static void node_user(struct buf *out, const char *n)
{
	char inbox[PKI_CN_MAX + 1];

	snprintf(inbox, sizeof(inbox), "%s", n);
	for (char *p = inbox; *p; p++)
		if (*p == '.')
			*p = '~';
	buf_printf(
		out,
		"    {\n"
		"      user: \"CN=%s\"\n"
		"      permissions: {\n"
		"        publish: { allow: [\"tend.catalog.%s\", \"tend.report.%s\","
		" \"tend.facts.%s\", \"tend.event.%s.*\", \"tend.audit.%s\"] }\n"
		"        subscribe: { allow: [\"_INBOX.%s.>\", \"tend.rpc.%s\", \"tend.rpc.all\","
		" \"tend.crl\"] }\n"
		"        allow_responses: true\n"
		"      }\n"
		"    }\n",
		n, n, n, n, n, n, inbox, n);
}

/*
 * admin_user - an administrator's user: the subject of its certificate
 * (pki_ca_issue_admin: O=tend-admin, OU=role, CN=name, written the way
 * nats-server prints it), which may publish requests to nodes and read
 * its own inbox, "_INBOX.@NAME" (bus.c), a token no node name can be.
 */
static void admin_user(struct buf *out, const char *name, const char *role)
{
	buf_printf(out,
		   "    {\n"
		   "      user: \"CN=%s,OU=%s,O=tend-admin\"\n"
		   "      permissions: {\n"
		   "        publish: { allow: [\"tend.rpc.>\"] }\n"
		   "        subscribe: { allow: [\"_INBOX.@%s.>\"] }\n"
		   "      }\n"
		   "    }\n",
		   name, role, name);
}

/* name_ok - what may be written in the configuration as a user's name or role. */
static bool name_ok(const char *n)
{
	if (!n || !*n || strlen(n) > PKI_CN_MAX)
		return false;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
		      (*n >= '0' && *n <= '9') || *n == '.' || *n == '-' || *n == '_'))
			return false;
	return true;
}

int broker_conf_text(const struct broker_conf *c, const json_t *nodes, struct buf *out,
		     struct tend_err *err)
{
	char host[256], port[16];
	const json_t *v;
	size_t i;

	if (split_listen(c->listen, host, sizeof(host), port, sizeof(port)) < 0)
		return err_set(err, -EINVAL, "nats_listen: '%s' is not ADDR:PORT",
			       c->listen ? c->listen : "");
	if (!conf_string_ok(c->cert_file) || !conf_string_ok(c->key_file) ||
	    !conf_string_ok(c->ca_file))
		return err_set(err, -EINVAL,
			       "the CA's file names cannot be written in a nats-server "
			       "configuration (quotes, backslashes, '$' or control characters)");
	buf_reset(out);
	buf_printf(out,
		   "# nats-server configuration written by tend-server: do not edit.\n"
		   "# It is rewritten, and nats-server reloaded, whenever a node is\n"
		   "# enrolled, approved or revoked.\n"
		   "listen: \"%s%s%s:%s\"\n"
		   "max_payload: %u\n"
		   "max_connections: 200000\n"
		   "write_deadline: \"10s\"\n"
		   "tls {\n"
		   "  cert_file: \"%s\"\n"
		   "  key_file: \"%s\"\n"
		   "  ca_file: \"%s\"\n"
		   "  verify_and_map: true\n"
		   "  timeout: 5\n"
		   "}\n"
		   "authorization {\n"
		   "  users = [\n"
		   "    { user: \"CN=" PKI_SERVER_CN "\" }\n",
		   strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port,
		   (unsigned)(8u << 20), c->cert_file, c->key_file, c->ca_file);
	json_array_foreach(nodes, i, v) {
		const char *n = json_string_value(v);

		/* only node names reach the file, and never the server's own */
		if (!n || !db_node_id_ok(n) || strlen(n) > PKI_CN_MAX || !strcmp(n, PKI_SERVER_CN))
			continue;
		node_user(out, n);
	}
	json_array_foreach(c->admins, i, v) {
		const char *n = json_string_value(json_object_get(v, "name"));
		const char *role = json_string_value(json_object_get(v, "role"));

		if (name_ok(n) && name_ok(role))
			admin_user(out, n, role);
	}
	buf_puts(out, "  ]\n}\n");
	return 0;
}

/*
 * enrolled_nodes - the nodes that hold a valid certificate: a JSON array
 * of ids (caller holds s->lock).
 */
static int enrolled_nodes(struct server *s, json_t **ret, struct tend_err *err)
{
	return db_cert_active_nodes(s->db, ret, err);
}

/* write_conf - regenerate b->conf (caller holds s->lock). */
static int write_conf(struct broker *b, struct tend_err *err)
{
	struct server *s = b->srv;
	struct broker_conf c = {
		.listen = s->cfg.nats_listen,
		.cert_file = pki_ca_path(s->ca, PKI_SERVER_CERT),
		.key_file = pki_ca_path(s->ca, PKI_SERVER_KEY),
		.ca_file = pki_ca_path(s->ca, PKI_CA_CERT),
	};
	struct buf text = BUF_INIT;
	json_t *nodes = NULL, *admins = NULL;
	int dfd, r;

	r = enrolled_nodes(s, &nodes, err);
	if (r == 0)
		r = db_user_list(s->db, true, &admins, err);
	c.admins = admins;
	if (r == 0)
		r = broker_conf_text(&c, nodes, &text, err);
	json_decref(nodes);
	json_decref(admins);
	if (r < 0)
		goto out;
	dfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = err_set(err, -errno, "%s: %s", b->dir, strerror(errno));
		goto out;
	}
	r = atomic_write_at(dfd, BROKER_CONF, text.data, text.len, 0600, ATOMIC_KEEP_OWNER,
			    (gid_t)-1);
	close(dfd);
	if (r < 0)
		err_set(err, r, "%s: %s", b->conf, strerror(-r));
out:
	buf_free(&text);
	return r;
}

/* ---- the child ---- */

/* find_exe - nats-server in PATH, else in the sbin directories. */
static char *find_exe(void)
{
	static const char *const extra[] = { "/usr/sbin", "/usr/local/sbin", "/usr/bin", NULL };
	const char *path = getenv("PATH");
	char *copy = xstrdup(path ? path : ""), *save = NULL, *found = NULL;
	struct buf b = BUF_INIT;

	for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		buf_reset(&b);
		buf_printf(&b, "%s/nats-server", *d ? d : ".");
		if (access(buf_str(&b), X_OK) == 0)
			found = buf_steal(&b);
	}
	for (size_t i = 0; extra[i] && !found; i++) {
		buf_reset(&b);
		buf_printf(&b, "%s/nats-server", extra[i]);
		if (access(buf_str(&b), X_OK) == 0)
			found = buf_steal(&b);
	}
	buf_free(&b);
	free(copy);
	return found;
}

/*
 * spawn - fork and exec nats-server -c CONF.  Between fork and exec only
 * async-signal-safe calls: the signals tend-server blocks are unblocked,
 * SIGPIPE is given back its default, and every inherited descriptor but
 * stdin/stdout/stderr is closed.
 */
static pid_t spawn(struct broker *b)
{
	char *const argv[] = { b->exe, (char *)"-c", b->conf, NULL };
	pid_t parent = getpid(), pid;

	pid = fork();
	if (pid != 0)
		return pid;
	{
		struct sigaction sa = { .sa_handler = SIG_DFL };
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		sigaction(SIGPIPE, &sa, NULL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127); /* tend-server died before prctl */
		setpgid(0, 0);	    /* a terminal's ^C goes to tend-server, which stops us */
		close_range(3, ~0U, 0);
		execv(argv[0], argv);
		_exit(127);
	}
}

/* child_exited - wait until the child exits, without reaping it. */
static void child_wait(pid_t pid)
{
	siginfo_t si;

	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
}

/* reap - forget the child and reap it; returns its wait status. */
static int reap(struct broker *b, pid_t pid)
{
	int status = 0;

	pthread_mutex_lock(&b->lock);
	b->pid = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pthread_mutex_unlock(&b->lock);
	return status;
}

static void describe_exit(int status, char *out, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(out, len, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(out, len, "exited with status %d", WEXITSTATUS(status));
}

/* pause_ms - wait ms unless stopping; true when stopping. */
static bool pause_ms(struct broker *b, long ms)
{
	struct timespec t;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&b->lock);
	while (!b->stopping && pthread_cond_timedwait(&b->cond, &b->lock, &t) != ETIMEDOUT)
		;
	stop = b->stopping;
	pthread_mutex_unlock(&b->lock);
	return stop;
}

/* start_child - spawn and record the pid (unless stopping); 0 or -errno. */
static int start_child(struct broker *b)
{
	pid_t pid;

	pthread_mutex_lock(&b->lock);
	if (b->stopping) {
		pthread_mutex_unlock(&b->lock);
		return -ECANCELED;
	}
	pid = spawn(b);
	if (pid > 0)
		b->pid = pid;
	pthread_mutex_unlock(&b->lock);
	return pid > 0 ? 0 : -errno;
}

static void *supervise(void *arg)
{
	struct broker *b = arg;
	long backoff = BROKER_BACKOFF_FIRST_MS;

	for (;;) {
		time_t started = time(NULL);
		char how[64];
		pid_t pid;
		int status;

		pthread_mutex_lock(&b->lock);
		pid = b->pid;
		pthread_mutex_unlock(&b->lock);
		if (pid > 0) {
			child_wait(pid);
			status = reap(b, pid);
			describe_exit(status, how, sizeof(how));
			pthread_mutex_lock(&b->lock);
			if (b->stopping) {
				pthread_mutex_unlock(&b->lock);
				return NULL;
			}
			pthread_mutex_unlock(&b->lock);
			if (time(NULL) - started >= BROKER_STABLE_S)
				backoff = BROKER_BACKOFF_FIRST_MS;
			log_warnx("nats-server (pid %d) %s; starting it again in %.2f s", (int)pid,
				  how, backoff / 1000.0);
		}
		if (pause_ms(b, backoff))
			return NULL;
		backoff = backoff * 2 > BROKER_BACKOFF_MAX_MS ? BROKER_BACKOFF_MAX_MS : backoff * 2;
		if (start_child(b) == -ECANCELED)
			return NULL;
		pthread_mutex_lock(&b->lock);
		if (b->pid > 0) {
			b->restarts++;
			log_info("nats-server started again (pid %d)", (int)b->pid);
		} else {
			log_warn("cannot start %s", b->exe);
		}
		pthread_mutex_unlock(&b->lock);
	}
}

/*
 * listen_inode - the inode of a socket listening on TCP port (any
 * address), from /proc/net/tcp and tcp6; 0 when none.  (Connecting to
 * find out would make nats-server log a failed TLS handshake.)
 */
static unsigned long listen_inode(unsigned port)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6", NULL };
	unsigned long inode = 0;

	for (size_t i = 0; files[i] && !inode; i++) {
		FILE *f = fopen(files[i], "re");
		char line[512];

		if (!f)
			continue;
		while (!inode && fgets(line, sizeof(line), f)) {
			unsigned lport, state;
			unsigned long ino;
			char *colon = strchr(line, ':');

			/* "0: 0100007F:10EE 00000000:0000 0A 0:0 0:0 0 0 0 INODE ..." */
			colon = colon ? strchr(colon + 1, ':') : NULL;
			if (colon &&
			    sscanf(colon + 1, "%x %*s %x %*s %*s %*s %*s %*s %lu", &lport, &state,
				   &ino) == 3 &&
			    lport == port && state == 0x0A)
				inode = ino;
		}
		fclose(f);
	}
	return inode;
}

/* child_listens - whether process pid holds the socket listening on port. */
static bool child_listens(pid_t pid, const char *port)
{
	char dir[64], link[PATH_MAX], want[64];
	unsigned long inode;
	long long p;
	struct dirent *e;
	DIR *d;
	bool found = false;

	if (str_to_ll(port, 10, 1, 65535, &p) < 0 || !(inode = listen_inode((unsigned)p)))
		return false;
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	while (d && !found && (e = readdir(d))) {
		char path[PATH_MAX];
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			found = !strcmp(link, want);
		}
	}
	if (d)
		closedir(d);
	return found;
}

/* wait_ready - poll until nats-server listens; -EIO when it exits first or never does. */
static int wait_ready(struct broker *b, pid_t pid, struct tend_err *err)
{
	for (int waited = 0; waited < BROKER_READY_MS; waited += 50) {
		siginfo_t si = { 0 };

		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == pid) {
			char how[64];

			describe_exit(reap(b, pid), how, sizeof(how));
			return err_set(err, -EIO,
				       "nats-server %s at start (%s; its messages are above)", how,
				       b->conf);
		}
		if (child_listens(pid, b->port))
			return 0;
		usleep(50 * 1000);
	}
	return err_set(err, -EIO, "nats-server does not listen on %s:%s after %d s", b->host,
		       b->port, BROKER_READY_MS / 1000);
}

static void broker_free(struct broker *b)
{
	if (!b)
		return;
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
	free(b->dir);
	free(b->conf);
	free(b->exe);
	free(b);
}

/* broker_new - paths, the directory (0700), the executable. */
static int broker_new(struct server *s, struct broker **ret, struct tend_err *err)
{
	struct broker *b = xcalloc(1, sizeof(*b));
	struct buf p = BUF_INIT;

	b->srv = s;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	buf_printf(&p, "%s/nats", s->cfg.state_dir);
	b->dir = buf_steal(&p);
	buf_printf(&p, "%s/" BROKER_CONF, b->dir);
	b->conf = buf_steal(&p);
	if (split_listen(s->cfg.nats_listen, b->host, sizeof(b->host), b->port, sizeof(b->port)) <
	    0) {
		broker_free(b);
		return err_set(err, -EINVAL, "nats_listen: '%s' is not ADDR:PORT",
			       s->cfg.nats_listen ? s->cfg.nats_listen : "");
	}
	if (mkdir(b->dir, 0700) < 0 && errno != EEXIST) {
		int r = err_set(err, -errno, "%s: %s", b->dir, strerror(errno));

		broker_free(b);
		return r;
	}
	b->exe = find_exe();
	if (!b->exe) {
		broker_free(b);
		return err_set(err, -ENOENT,
			       "nats-server is not installed (apt install nats-server), and no "
			       "nats_urls are configured");
	}
	*ret = b;
	return 0;
}

int broker_start(struct server *s, struct tend_err *err)
{
	struct tend_err why = { "" };
	struct broker *b = NULL;
	int r;

	s->broker = NULL;
	if (s->cfg.nats_urls)
		return 0;
	r = broker_new(s, &b, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	r = write_conf(b, err);
	pthread_mutex_unlock(&s->lock);
	if (r < 0) {
		broker_free(b);
		return r;
	}
	/* a broker that cannot start now (its port taken, ...) is not fatal:
	 * the API serves without it and the supervisor keeps trying */
	r = start_child(b);
	if (r < 0)
		err_set(&why, r, "cannot start %s: %s", b->exe, strerror(-r));
	else
		r = wait_ready(b, b->pid, &why);
	if (r < 0)
		log_warnx("broker: %s; trying again", why.msg);
	else
		log_info("nats-server (pid %d) listens on %s, configuration %s", (int)b->pid,
			 s->cfg.nats_listen, b->conf);
	r = -pthread_create(&b->thread, NULL, supervise, b);
	b->thread_started = r == 0;
	s->broker = b;
	if (r < 0) {
		err_set(err, r, "cannot start the broker's supervisor: %s", strerror(-r));
		broker_stop(s);
		return r;
	}
	return 0;
}

void broker_reload(struct server *s)
{
	struct broker *b = s ? s->broker : NULL;
	struct tend_err err = { "" };

	if (!b)
		return;
	if (write_conf(b, &err) < 0) {
		log_warnx("broker: cannot rewrite its configuration: %s", err.msg);
		return;
	}
	pthread_mutex_lock(&b->lock);
	if (b->pid > 0 && kill(b->pid, SIGHUP) < 0)
		log_warn("broker: cannot signal nats-server (pid %d)", (int)b->pid);
	pthread_mutex_unlock(&b->lock);
}

void broker_reload_soon(struct server *s)
{
	if (s && s->broker)
		atomic_store(&s->reload_due, true);
}

bool broker_reload_due(struct server *s)
{
	return atomic_exchange(&s->reload_due, false);
}

int broker_pid(struct server *s)
{
	struct broker *b = s ? s->broker : NULL;
	int pid;

	if (!b)
		return 0;
	pthread_mutex_lock(&b->lock);
	pid = (int)b->pid;
	pthread_mutex_unlock(&b->lock);
	return pid;
}

void broker_stop(struct server *s)
{
	struct broker *b = s ? s->broker : NULL;
	struct timespec t;
	pid_t pid;

	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	b->stopping = true;
	pid = b->pid;
	if (pid > 0)
		kill(pid, SIGTERM);
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	if (b->thread_started) {
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec += BROKER_STOP_WAIT_S;
		if (pthread_timedjoin_np(b->thread, NULL, &t) != 0) {
			pthread_mutex_lock(&b->lock);
			if (b->pid > 0) {
				log_warnx("nats-server (pid %d) ignores SIGTERM: killing it",
					  (int)b->pid);
				kill(b->pid, SIGKILL);
			}
			pthread_mutex_unlock(&b->lock);
			pthread_join(b->thread, NULL);
		}
	} else if (pid > 0) {
		child_wait(pid);
		reap(b, pid);
	}
	s->broker = NULL;
	broker_free(b);
}

json_t *broker_client_urls(const struct server *s, bool local)
{
	char host[256], port[16], name[256], url[600];
	const char *h;
	json_t *a = json_array();

	if (s->cfg.nats_urls) {
		for (size_t i = 0; s->cfg.nats_urls[i]; i++)
			json_array_append_new(a, json_string(s->cfg.nats_urls[i]));
		return a;
	}
	if (split_listen(s->cfg.nats_listen, host, sizeof(host), port, sizeof(port)) < 0)
		return a;
	h = host;
	if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::")) {
		if (local || gethostname(name, sizeof(name)) < 0)
			snprintf(name, sizeof(name), "%s", strchr(host, ':') ? "::1" : "127.0.0.1");
		name[sizeof(name) - 1] = '\0';
		h = name;
	}
	snprintf(url, sizeof(url), strchr(h, ':') ? "tls://[%s]:%s" : "tls://%s:%s", h, port);
	json_array_append_new(a, json_string(url));
	return a;
}
