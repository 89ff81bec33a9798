/*
 * runfiles.c - what a running tend-server leaves in its state directory
 * for the commands an administrator runs beside it (cmd_user.c):
 *
 *   STATE/tend-server.pid    its pid, which SIGHUP tells to reload the
 *                            broker's users
 *   STATE/endpoints.json     {"server": URL, "nats": [URL, ...]}: where
 *                            clients reach it, as it is really running
 *                            (options, configuration file and a port
 *                            chosen at start all taken into account)
 *
 * Both are removed on a clean stop; a stale pid file is recognised by
 * the process it names not being tend-server.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "server.h"
#include "util/atomic.h"
#include "util/log.h"

#define ENDPOINTS_FILE "endpoints.json"
#define ENDPOINTS_MAX 65536

/* write_state_file - STATE/name with text, atomically (0644); failures are logged. */
static void write_state_file(const struct srv_config *c, const char *name, const char *text)
{
	int dfd = open(c->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	r = dfd < 0 ? -errno :
		      atomic_write_at(dfd, name, text, strlen(text), 0644, ATOMIC_KEEP_OWNER,
				      (gid_t)-1);
	if (r < 0)
		log_warnx("%s/%s: %s", c->state_dir, name, strerror(-r));
	if (dfd >= 0)
		close(dfd);
}

/* server_url - how clients reach the HTTP API on port. */
static void server_url(const struct srv_config *c, unsigned port, char *out, size_t len)
{
	const char *l = c->listen ? c->listen : "127.0.0.1:8440";
	char host[256];
	size_t n = strcspn(l, "]") < strlen(l) ? strcspn(l, "]") + 1 : strcspn(l, ":");

	snprintf(host, sizeof(host), "%.*s", (int)n, l);
	if (!strcmp(host, "0.0.0.0") || !strcmp(host, "[::]") || !host[0]) {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
	}
	snprintf(out, len, "%s://%s:%u", c->tls_cert ? "https" : "http", host, port);
}

void runfiles_write(struct server *s, unsigned port)
{
	char pid[32], url[600];
	json_t *o;
	char *text;

	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	write_state_file(&s->cfg, SERVER_PID_FILE, pid);
	server_url(&s->cfg, port, url, sizeof(url));
	o = json_pack("{s:s, s:o}", "server", url, "nats", broker_client_urls(s, false));
	text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
	if (text)
		write_state_file(&s->cfg, ENDPOINTS_FILE, text);
	free(text);
	json_decref(o);
}

void runfiles_remove(const struct srv_config *c)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/" SERVER_PID_FILE, c->state_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/" ENDPOINTS_FILE, c->state_dir);
	unlink(path);
}

json_t *runfiles_endpoints(const struct srv_config *c)
{
	char path[4096];
	json_t *o;

	snprintf(path, sizeof(path), "%s/" ENDPOINTS_FILE, c->state_dir);
	o = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o) || !json_is_string(json_object_get(o, "server")) ||
	    !json_is_array(json_object_get(o, "nats"))) {
		json_decref(o);
		return NULL;
	}
	return o;
}
