/*
 * facts.c - minimal system facts (see facts.h).
 */
#include "facts/facts.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "util/buf.h"

static int read_small(struct fsroot *root, const char *path, struct buf *out)
{
	char chunk[4096];
	int fd = fsroot_open_path(root, path, O_RDONLY | O_NONBLOCK, 0);

	if (fd < 0)
		return fd;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n <= 0 || buf_add(out, chunk, (size_t)n) < 0)
			break;
	}
	close(fd);
	return 0;
}

/* unquote - os-release values may be "quoted" or 'quoted' with \ escapes. */
static void unquote(char *v)
{
	size_t n = strlen(v);
	char q = v[0], *w = v;

	if (n < 2 || (q != '"' && q != '\'') || v[n - 1] != q)
		return;
	v[n - 1] = '\0';
	for (char *c = v + 1; *c; c++) {
		if (*c == '\\' && c[1])
			c++;
		*w++ = *c;
	}
	*w = '\0';
}

static void os_release(struct fsroot *root, json_t *os)
{
	static const struct {
		const char *key, *name;
	} map[] = {
		{ "ID", "id" }, { "VERSION_ID", "version_id" }, { "VERSION", "version" },
		{ "NAME", "name" }, { "VERSION_CODENAME", "codename" }, { "PRETTY_NAME", "pretty_name" },
		{ "ID_LIKE", "id_like" },
	};
	struct buf b;
	char *line, *save = NULL;
	const char *id, *like, *family = "unknown";

	buf_init(&b, 65536);
	if (read_small(root, "/etc/os-release", &b) < 0)
		read_small(root, "/usr/lib/os-release", &b);
	for (line = strtok_r(b.data ? b.data : (char[]){ 0 }, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (!eq)
			continue;
		*eq = '\0';
		unquote(eq + 1);
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (!strcmp(line, map[i].key))
				json_object_set_new(os, map[i].name, json_string(eq + 1));
	}
	buf_free(&b);
	id = json_string_value(json_object_get(os, "id"));
	like = json_string_value(json_object_get(os, "id_like"));
	if ((id && (!strcmp(id, "debian") || !strcmp(id, "ubuntu"))) || (like && strstr(like, "debian")))
		family = "debian";
	else if ((id && (!strcmp(id, "rhel") || !strcmp(id, "fedora") || !strcmp(id, "centos"))) ||
		 (like && (strstr(like, "rhel") || strstr(like, "fedora"))))
		family = "redhat";
	else if (id && !strcmp(id, "alpine"))
		family = "alpine";
	json_object_set_new(os, "family", json_string(family));
}

json_t *facts_collect(struct fsroot *root)
{
	json_t *f = json_object(), *os = json_object(), *kernel = json_object();
	struct utsname u;
	char host[256] = "";
	const char *dot;

	if (uname(&u) == 0) {
		json_object_set_new(f, "arch", json_string(u.machine));
		json_object_set_new(kernel, "name", json_string(u.sysname));
		json_object_set_new(kernel, "release", json_string(u.release));
		json_object_set_new(kernel, "version", json_string(u.version));
		snprintf(host, sizeof(host), "%s", u.nodename);
	}
	if (!fsroot_is_host(root)) {
		struct buf b;

		buf_init(&b, 4096);
		if (read_small(root, "/etc/hostname", &b) == 0 && b.len) {
			size_t n = strcspn(buf_str(&b), " \t\r\n");

			if (n > 0 && n < sizeof(host))
				snprintf(host, sizeof(host), "%.*s", (int)n, buf_str(&b));
		}
		buf_free(&b);
	}
	dot = strchr(host, '.');
	json_object_set_new(f, "fqdn", json_string(host));
	json_object_set_new(f, "hostname", json_stringn(host, dot ? (size_t)(dot - host) : strlen(host)));
	json_object_set_new(f, "domain", json_string(dot ? dot + 1 : ""));
	os_release(root, os);
	json_object_set_new(f, "os", os);
	json_object_set_new(f, "kernel", kernel);
	return f;
}
