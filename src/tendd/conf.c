/*
 * conf.c - agent.conf and the small files of the state directory.
 *
 * agent.conf is written by `tendd --enroll` and may be edited by an admin
 * (another broker, a new server address): "key = value" lines, '#'
 * comments; keys node, server and nats_url (one line per URL).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tendd.h"
#include "util/atomic.h"
#include "util/strutil.h"

#define CONF_MAX ((size_t)64 << 10)

int state_path(struct buf *b, const char *state, const char *name)
{
	buf_reset(b);
	b->max = 4096;
	return buf_printf(b, "%s/%s", state, name) < 0 ? -ENAMETOOLONG : 0;
}

int read_file_max(const char *path, size_t max, struct buf *out)
{
	struct stat st;
	char chunk[16384];
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	buf_reset(out);
	out->max = max;
	while (r == 0) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 1;
			break;
		}
		r = buf_add(out, chunk, (size_t)n);
	}
	close(fd);
	return r < 0 ? r : 0;
}

bool node_id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > TENDD_NODE_MAX || id[0] == '.' || id[0] == '-')
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '-' || *p == '_'))
			return false;
	return true;
}

void agent_conf_free(struct agent_conf *c)
{
	free(c->node);
	free(c->server);
	for (size_t i = 0; i < c->nurls; i++)
		free(c->nats_urls[i]);
	memset(c, 0, sizeof(*c));
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int conf_line(struct agent_conf *c, const char *path, int lineno, char *line,
		     struct tend_err *err)
{
	char *eq, *key, *val;

	line = trim(line);
	if (!*line || *line == '#')
		return 0;
	eq = strchr(line, '=');
	if (!eq)
		return err_at(err, -EINVAL, path, lineno, 0, "expected 'KEY = VALUE'");
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	if (!*val)
		return err_at(err, -EINVAL, path, lineno, 0, "'%s' has no value", key);
	if (!strcmp(key, "node")) {
		if (!node_id_ok(val))
			return err_at(err, -EINVAL, path, lineno, 0, "'%s' is not a node name", val);
		free(c->node);
		c->node = xstrdup(val);
	} else if (!strcmp(key, "server")) {
		free(c->server);
		c->server = xstrdup(val);
	} else if (!strcmp(key, "nats_url")) {
		if (c->nurls == TENDD_URLS_MAX)
			return err_at(err, -EINVAL, path, lineno, 0, "more than %d nats_url lines",
				      TENDD_URLS_MAX);
		c->nats_urls[c->nurls++] = xstrdup(val);
	} else {
		return err_at(err, -EINVAL, path, lineno, 0,
			      "unknown setting '%s' (known: node, server, nats_url)", key);
	}
	return 0;
}

int agent_conf_load(const char *state, struct agent_conf *c, struct tend_err *err)
{
	struct buf path = BUF_INIT, text = BUF_INIT;
	char *line, *nl;
	int r, lineno = 0;

	memset(c, 0, sizeof(*c));
	r = state_path(&path, state, "agent.conf");
	if (r == 0 && (r = read_file_max(buf_str(&path), CONF_MAX, &text)) < 0)
		err_set(err, r, "cannot read %s: %s%s", buf_str(&path), strerror(-r),
			r == -ENOENT ? " (enroll this node first: tendd --enroll TOKEN --server URL)" : "");
	for (line = text.data; r == 0 && line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		r = conf_line(c, buf_str(&path), ++lineno, line, err);
	}
	if (r == 0 && (!c->node || !c->nurls))
		r = err_set(err, -EINVAL, "%s names no node or no nats_url", buf_str(&path));
	if (r < 0)
		agent_conf_free(c);
	buf_free(&path);
	buf_free(&text);
	return r;
}

int agent_conf_save(const char *state, const struct agent_conf *c, struct tend_err *err)
{
	struct buf text = BUF_INIT;
	int dfd, r;

	buf_printf(&text, "# written by tendd --enroll\nnode = %s\n", c->node);
	if (c->server)
		buf_printf(&text, "server = %s\n", c->server);
	for (size_t i = 0; i < c->nurls; i++)
		buf_printf(&text, "nats_url = %s\n", c->nats_urls[i]);
	dfd = open(state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = err_set(err, -errno, "cannot open %s: %s", state, strerror(errno));
	} else {
		r = atomic_write_at(dfd, "agent.conf", text.data, text.len, 0600, ATOMIC_KEEP_OWNER,
				    (gid_t)-1);
		if (r < 0)
			err_set(err, r, "cannot write %s/agent.conf: %s", state, strerror(-r));
		close(dfd);
	}
	buf_free(&text);
	return r;
}
