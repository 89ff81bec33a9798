/*
 * config.c - the server's configuration: defaults, then a YAML file
 * (--config), then command-line options (main.c applies those).
 *
 * The file is a map of a few known keys; anything else is an error that
 * names FILE:LINE:COL, like every other tend configuration error:
 *
 *     state: /var/lib/tend
 *     listen: 127.0.0.1:8440
 *     repository: /srv/tend/config.git   # default: STATE/config.git
 *     database: /var/lib/tend/tend.db    # default: STATE/tend.db
 *     tls_cert: /etc/tend/server.pem
 *     tls_key: /etc/tend/server.key
 *     body_max: 16M                      # bytes, or with K, M, G
 *     default_tags: [base]               # nodes without a document
 *     nats_listen: 127.0.0.1:4222        # the nats-server tend-server runs
 *     nats_urls: [tls://nats1:4222]      # or: use these brokers, run none
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "model/yaml.h"
#include "server.h"
#include "util/buf.h"
#include "util/strutil.h"

#define CONFIG_BODY_MAX ((size_t)1 << 30)
#define CONFIG_TAGS_MAX 256

static const char *const config_keys[] = {
	"state", "listen", "repository", "database", "tls_cert", "tls_key", "body_max",
	"default_tags", "nats_urls", "nats_listen", NULL,
};

void srv_config_defaults(struct srv_config *c)
{
	memset(c, 0, sizeof(*c));
	c->state_dir = xstrdup("/var/lib/tend");
	c->listen = xstrdup("127.0.0.1:8440");
	c->body_max = (size_t)16 << 20;
	c->nats_listen = xstrdup("127.0.0.1:4222");
}

static void free_tags(char **tags)
{
	if (!tags)
		return;
	for (size_t i = 0; tags[i]; i++)
		free(tags[i]);
	free(tags);
}

void srv_config_free(struct srv_config *c)
{
	free(c->state_dir);
	free(c->listen);
	free(c->repo_path);
	free(c->db_path);
	free(c->tls_cert);
	free(c->tls_key);
	free_tags(c->default_tags);
	free_tags(c->nats_urls);
	free(c->nats_listen);
	memset(c, 0, sizeof(*c));
}

/* parse_size - "1048576", "64K", "16M", "1G" (powers of 1024) into bytes. */
static int parse_size(const char *s, size_t *ret)
{
	char num[32];
	size_t n = strlen(s), mult = 1;
	long long v;

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n + 1);
	switch (toupper((unsigned char)num[n - 1])) {
	case 'K':
		mult = (size_t)1 << 10;
		break;
	case 'M':
		mult = (size_t)1 << 20;
		break;
	case 'G':
		mult = (size_t)1 << 30;
		break;
	default:
		break;
	}
	if (mult > 1)
		num[n - 1] = '\0';
	if (str_to_ll(num, 10, 1, (long long)(CONFIG_BODY_MAX / mult), &v) < 0)
		return -EINVAL;
	*ret = (size_t)v * mult;
	return 0;
}

/* tag_name_ok - letters, digits, '.', '-', '_'; 1..253 bytes. */
static bool tag_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
			return false;
	return true;
}

static int set_tags(struct srv_config *c, const char *file, const struct ynode *v,
		    struct tend_err *err)
{
	char **tags;

	if (v->kind != YN_SEQ)
		return err_at(err, -EINVAL, file, v->line, v->col,
			      "default_tags: expected a list of tag names, got %s",
			      ynode_kind_name(v));
	if (v->n > CONFIG_TAGS_MAX)
		return err_at(err, -EINVAL, file, v->line, v->col,
			      "default_tags: more than %d tags", CONFIG_TAGS_MAX);
	tags = xcalloc(v->n + 1, sizeof(*tags));
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *t = v->items[i];

		if (t->kind != YN_SCALAR || !tag_name_ok(t->str)) {
			free_tags(tags);
			return err_at(err, -EINVAL, file, t->line, t->col,
				      "default_tags: not a tag name (letters, digits, '.', '-', '_')");
		}
		tags[i] = xstrdup(t->str);
	}
	free_tags(c->default_tags);
	c->default_tags = tags;
	return 0;
}

/* set_urls - nats_urls: one URL or a list of them (nats://, tls://). */
static int set_urls(struct srv_config *c, const char *file, const struct ynode *v,
		    struct tend_err *err)
{
	size_t n = v->kind == YN_SEQ ? v->n : 1;
	char **urls;

	if (v->kind != YN_SEQ && v->kind != YN_SCALAR)
		return err_at(err, -EINVAL, file, v->line, v->col,
			      "nats_urls: expected a URL or a list of URLs, got %s",
			      ynode_kind_name(v));
	if (n == 0 || n > CONFIG_TAGS_MAX)
		return err_at(err, -EINVAL, file, v->line, v->col,
			      "nats_urls: between 1 and %d URLs", CONFIG_TAGS_MAX);
	urls = xcalloc(n + 1, sizeof(*urls));
	for (size_t i = 0; i < n; i++) {
		const struct ynode *u = v->kind == YN_SEQ ? v->items[i] : v;

		if (u->kind != YN_SCALAR || strlen(u->str) != u->len ||
		    (!str_has_prefix(u->str, "tls://") && !str_has_prefix(u->str, "nats://")) ||
		    u->len > 1024) {
			free_tags(urls);
			return err_at(err, -EINVAL, file, u->line, u->col,
				      "nats_urls: not a broker URL (tls://HOST:PORT)");
		}
		urls[i] = xstrdup(u->str);
	}
	free_tags(c->nats_urls);
	c->nats_urls = urls;
	return 0;
}

static char **string_field(struct srv_config *c, const char *key)
{
	if (!strcmp(key, "state"))
		return &c->state_dir;
	if (!strcmp(key, "listen"))
		return &c->listen;
	if (!strcmp(key, "repository"))
		return &c->repo_path;
	if (!strcmp(key, "database"))
		return &c->db_path;
	if (!strcmp(key, "tls_cert"))
		return &c->tls_cert;
	if (!strcmp(key, "tls_key"))
		return &c->tls_key;
	if (!strcmp(key, "nats_listen"))
		return &c->nats_listen;
	return NULL;
}

static int set_key(struct srv_config *c, const char *file, const struct ynode *k,
		   const struct ynode *v, struct tend_err *err)
{
	char **field;

	if (!strcmp(k->str, "default_tags"))
		return set_tags(c, file, v, err);
	if (!strcmp(k->str, "nats_urls"))
		return set_urls(c, file, v, err);
	if (v->kind != YN_SCALAR || v->len == 0)
		return err_at(err, -EINVAL, file, v->line, v->col, "%s: expected a value, got %s",
			      k->str, v->kind == YN_SCALAR ? "nothing" : ynode_kind_name(v));
	if (strlen(v->str) != v->len)
		return err_at(err, -EINVAL, file, v->line, v->col, "%s: NUL byte in value",
			      k->str);
	if (!strcmp(k->str, "body_max")) {
		if (parse_size(v->str, &c->body_max) < 0)
			return err_at(err, -EINVAL, file, v->line, v->col,
				      "body_max: '%s' is not a size between 1 and 1G (bytes, "
				      "or with K, M, G)", v->str);
		return 0;
	}
	field = string_field(c, k->str);
	free(*field);
	*field = xstrdup(v->str);
	return 0;
}

static bool key_known(const char *key)
{
	for (size_t i = 0; config_keys[i]; i++)
		if (!strcmp(config_keys[i], key))
			return true;
	return false;
}

int srv_config_load(struct srv_config *c, const char *path, struct tend_err *err)
{
	struct ydoc *d = NULL;
	const struct ynode *root;
	int r;

	r = ydoc_load_file(path, &d, err);
	if (r < 0)
		return r;
	c->config_file = path;
	root = ydoc_root(d);
	if (root && root->kind != YN_MAP) {
		r = err_at(err, -EINVAL, path, root->line, root->col,
			   "the server configuration must be a map of keys, got %s",
			   ynode_kind_name(root));
		goto out;
	}
	for (size_t i = 0; root && i < root->n; i++) {
		const struct ynode *k = root->items[2 * i], *v = root->items[2 * i + 1];
		const char *near;

		if (k->kind != YN_SCALAR || !key_known(k->str)) {
			near = k->kind == YN_SCALAR ? closest_name(k->str, config_keys) : NULL;
			r = err_at(err, -EINVAL, path, k->line, k->col, "unknown key '%s'%s%s%s",
				   k->kind == YN_SCALAR ? k->str : "?", near ? " (did you mean '" : "",
				   near ? near : "", near ? "'?)" : "");
			goto out;
		}
		r = set_key(c, path, k, v, err);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	ydoc_free(d);
	return r;
}

static char *join(const char *dir, const char *name)
{
	struct buf b = BUF_INIT;

	if (buf_printf(&b, "%s/%s", dir, name) < 0)
		abort();
	return buf_steal(&b);
}

int srv_config_finish(struct srv_config *c, struct tend_err *err)
{
	if (!c->tls_cert != !c->tls_key)
		return err_set(err, -EINVAL, "tls_cert and tls_key go together: %s is missing",
			       c->tls_cert ? "tls_key" : "tls_cert");
	if (!c->repo_path) {
		c->repo_path = join(c->state_dir, "config.git");
		c->repo_create = true;
	}
	if (!c->db_path)
		c->db_path = join(c->state_dir, "tend.db");
	return 0;
}
