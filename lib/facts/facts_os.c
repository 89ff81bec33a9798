/*
 * facts_os.c - facts about the system installed in the managed root: its
 * OS release, host and domain names, time zone and package count, plus the
 * running kernel's uname(2).
 *
 * These describe the root (--root DIR) rather than the machine tend runs
 * on, because they are what a template for that root needs: an image being
 * built for Debian 12 on an Ubuntu host must see os.id = debian.  Only the
 * kernel and arch are the running kernel's.
 */
#include "facts/facts_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "util/strutil.h"

/*
 * os_value - an os-release value: "double quoted" (with \ escapes),
 * 'single quoted' (literal) or bare, unquoted in place.  Text after the
 * closing quote is ignored.
 */
static char *os_value(char *v)
{
	char q = v[0], *w, *c;

	if (q != '"' && q != '\'')
		return facts_trim(v);
	w = v;
	for (c = v + 1; *c && *c != q; c++) {
		if (q == '"' && *c == '\\' && c[1])
			c++;
		*w++ = *c;
	}
	*w = '\0';
	return v;
}

static const char *os_family(const char *id, const char *like)
{
	static const struct {
		const char *word, *family;
	} fams[] = {
		{ "debian", "debian" }, { "ubuntu", "debian" }, { "rhel", "redhat" },
		{ "fedora", "redhat" }, { "centos", "redhat" }, { "suse", "suse" },
		{ "opensuse", "suse" }, { "sles", "suse" },	{ "alpine", "alpine" },
		{ "arch", "arch" },
	};
	char words[512];
	char *save = NULL;

	/* the ID itself first, then ID_LIKE in order (most similar first) */
	snprintf(words, sizeof(words), "%s %s", id ? id : "", like ? like : "");
	for (char *w = strtok_r(words, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++)
			if (!strcmp(w, fams[i].word))
				return fams[i].family;
	return "unknown";
}

void facts_os_release(const struct fsroot *root, json_t *f)
{
	static const struct {
		const char *key, *name;
	} map[] = {
		{ "ID", "id" },
		{ "VERSION_ID", "version_id" },
		{ "VERSION", "version" },
		{ "NAME", "name" },
		{ "VERSION_CODENAME", "codename" },
		{ "PRETTY_NAME", "pretty_name" },
		{ "ID_LIKE", "id_like" },
	};
	json_t *os = facts_group(f, "os");
	struct buf b;
	char *cur, *line;
	const char *vid;

	if (facts_read_root(root, "/etc/os-release", FACTS_FILE_MAX, &b) < 0)
		facts_read_root(root, "/usr/lib/os-release", FACTS_FILE_MAX, &b);
	cur = b.data;
	while ((line = facts_next_line(&cur))) {
		char *eq = strchr(line, '=');

		if (line[0] == '#' || !eq)
			continue;
		*eq = '\0';
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (!strcmp(facts_trim(line), map[i].key))
				facts_set_str(os, map[i].name, os_value(eq + 1));
	}
	buf_free(&b);
	/* Ubuntu before 17.10 has no VERSION_CODENAME but UBUNTU_CODENAME,
	 * and Debian testing none at all: no fact then. */
	vid = json_string_value(json_object_get(os, "version_id"));
	if (vid && isdigit((unsigned char)vid[0]))
		json_object_set_new(os, "version_major",
				    json_stringn(vid, strspn(vid, "0123456789")));
	json_object_set_new(
		os, "family",
		json_string(os_family(json_string_value(json_object_get(os, "id")),
				      json_string_value(json_object_get(os, "id_like")))));
}

void facts_kernel(json_t *f)
{
	json_t *k = facts_group(f, "kernel");
	struct utsname u;

	if (uname(&u) < 0)
		return;
	facts_set_str(f, "arch", u.machine);
	facts_set_str(k, "name", u.sysname);
	facts_set_str(k, "release", u.release);
	facts_set_str(k, "version", u.version);
}

/* name_ok - a plausible host or domain name: letters, digits, '-', '.', '_'. */
static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-._", s[i]))
			return false;
	return true;
}

/* fqdn_from_hosts - the first name in ROOT/etc/hosts that is "HOST.domain"
 * on a line that names HOST or HOST.something. */
static bool fqdn_from_hosts(const struct fsroot *root, const char *host, char *out, size_t n)
{
	size_t hl = strlen(host);
	struct buf b;
	char *cur, *line;
	bool found = false;

	if (facts_read_root(root, "/etc/hosts", FACTS_FILE_MAX, &b) < 0)
		return false;
	cur = b.data;
	while (!found && (line = facts_next_line(&cur))) {
		char *save = NULL, *w;

		line[strcspn(line, "#")] = '\0';
		w = strtok_r(line, " \t", &save); /* the address */
		while (w && (w = strtok_r(NULL, " \t", &save))) {
			if (!strncasecmp(w, host, hl) && w[hl] == '.' && name_ok(w, strlen(w))) {
				snprintf(out, n, "%s", w);
				found = strlen(w) < n;
				break;
			}
		}
	}
	buf_free(&b);
	return found;
}

/* domain_from_resolv - glibc's rule: the last domain or search line wins;
 * a search line's first entry is the domain. */
static bool domain_from_resolv(const struct fsroot *root, char *out, size_t n)
{
	struct buf b;
	char *cur, *line;
	bool found = false;

	if (facts_read_root(root, "/etc/resolv.conf", FACTS_FILE_MAX, &b) < 0)
		return false;
	cur = b.data;
	while ((line = facts_next_line(&cur))) {
		char *save = NULL, *kw = strtok_r(line, " \t", &save), *v;

		if (!kw || (strcmp(kw, "domain") && strcmp(kw, "search")))
			continue;
		v = strtok_r(NULL, " \t", &save);
		if (v && strcmp(v, ".") && name_ok(v, strlen(v)) && strlen(v) < n) {
			snprintf(out, n, "%s", v);
			found = true;
		}
	}
	buf_free(&b);
	return found;
}

/* hostname_file - the first word of the first non-comment line of
 * ROOT/etc/hostname, or "" . */
static void hostname_file(const struct fsroot *root, char *out, size_t n)
{
	struct buf b;
	char *cur, *line;

	if (facts_read_root(root, "/etc/hostname", FACTS_ATTR_MAX, &b) < 0)
		return;
	cur = b.data;
	while ((line = facts_next_line(&cur))) {
		line = facts_trim(line);
		if (*line && *line != '#') {
			snprintf(out, n, "%.*s", (int)strcspn(line, " \t"), line);
			break;
		}
	}
	buf_free(&b);
}

void facts_names(const struct fsroot *root, const char *nodename, json_t *f)
{
	char host[256] = "", fqdn[512], domain[256];
	const char *dot;

	if (!fsroot_is_host(root))
		hostname_file(root, host, sizeof(host));
	if (!*host && nodename)
		snprintf(host, sizeof(host), "%s", nodename);
	if (!name_ok(host, strlen(host)))
		host[0] = '\0';
	dot = strchr(host, '.');
	if (dot) {
		snprintf(fqdn, sizeof(fqdn), "%s", host);
		host[dot - host] = '\0';
	} else if (*host && fqdn_from_hosts(root, host, fqdn, sizeof(fqdn))) {
		;
	} else if (*host && domain_from_resolv(root, domain, sizeof(domain))) {
		snprintf(fqdn, sizeof(fqdn), "%s.%s", host, domain);
	} else {
		snprintf(fqdn, sizeof(fqdn), "%s", host);
	}
	dot = strchr(fqdn, '.');
	json_object_set_new(f, "hostname", json_string(host));
	json_object_set_new(f, "fqdn", json_string(fqdn));
	json_object_set_new(f, "domain", json_string(dot ? dot + 1 : ""));
}

/* zone_name - the zone in a zoneinfo path: after the last "zoneinfo/",
 * without a "posix/" or "right/" prefix. */
static const char *zone_name(const char *target)
{
	const char *z = NULL;

	for (const char *p = strstr(target, "zoneinfo/"); p; p = strstr(p + 1, "zoneinfo/"))
		z = p + strlen("zoneinfo/");
	if (!z)
		return NULL;
	if (!strncmp(z, "posix/", 6))
		z += 6;
	else if (!strncmp(z, "right/", 6))
		z += 6;
	return *z ? z : NULL;
}

/* zone_ok - a plausible zone name ("Europe/Paris", "Etc/GMT+1", "UTC"). */
static bool zone_ok(const char *z)
{
	size_t n = strlen(z);

	if (n == 0 || n > 255 || z[0] == '/' || strstr(z, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)z[i]) && !strchr("/-_+.", z[i]))
			return false;
	return true;
}

void facts_timezone(const struct fsroot *root, json_t *f)
{
	char target[1024], line[FACTS_ATTR_MAX];
	int fd = fsroot_open_path(root, "/etc/localtime", O_PATH | O_NOFOLLOW, 0);
	struct buf b;

	if (fd >= 0) {
		ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);

		close(fd);
		if (n > 0) {
			const char *z;

			target[n] = '\0';
			z = zone_name(target);
			if (z && zone_ok(z)) {
				facts_set_str(f, "timezone", z);
				return;
			}
		}
	}
	fd = fsroot_open_path(root, "/etc", O_DIRECTORY | O_RDONLY, 0);
	if (fd >= 0) {
		int n = facts_attr_at(fd, "timezone", line, sizeof(line));

		close(fd);
		if (n > 0 && zone_ok(line)) {
			facts_set_str(f, "timezone", line);
			return;
		}
	}
	if (facts_read_root(root, "/etc/sysconfig/clock", FACTS_FILE_MAX, &b) == 0) {
		char *cur = b.data, *l;

		while ((l = facts_next_line(&cur))) {
			l = facts_trim(l);
			if (!strncmp(l, "ZONE=", 5)) {
				const char *z = os_value(l + 5);

				if (zone_ok(z))
					facts_set_str(f, "timezone", z);
				break;
			}
		}
		buf_free(&b);
	}
}

/*
 * count_installed - occurrences of "\nStatus: install ok installed\n" in a
 * stream read in chunks: the file is read as if it began and ended with a
 * newline, and the last len-1 bytes of each chunk that no match consumed
 * carry over, so no match is missed at a boundary or counted twice.
 */
static long long count_installed(int fd)
{
	static const char pat[] = "\nStatus: install ok installed\n";
	const size_t plen = sizeof(pat) - 1, chunk = 256 << 10;
	size_t have = 1, limit = (size_t)1 << 30, total = 0;
	char *buf = xcalloc(1, chunk + plen + 1);
	long long count = 0;
	bool eof = false;
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		free(buf);
		return -1;
	}
	buf[0] = '\n';
	while (!eof) {
		ssize_t n = read(fd, buf + have, chunk);
		size_t start = 0, keep;
		char *m;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			count = -1;
			break;
		}
		total += (size_t)n;
		if (total > limit) {
			count = -1;
			break;
		}
		have += (size_t)n;
		if (n == 0) {
			buf[have++] = '\n';
			eof = true;
		}
		while ((m = memmem(buf + start, have - start, pat, plen))) {
			count++;
			start = (size_t)(m - buf) + plen - 1;
		}
		keep = have - start < plen - 1 ? have - start : plen - 1;
		memmove(buf, buf + have - keep, keep);
		have = keep;
	}
	free(buf);
	return count;
}

void facts_packages(const struct fsroot *root, json_t *f)
{
	int fd =
		fsroot_open_path(root, "/var/lib/dpkg/status", O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
	long long n;
	json_t *p;

	if (fd < 0)
		return;
	n = count_installed(fd);
	close(fd);
	if (n < 0)
		return;
	p = facts_group(f, "packages");
	json_object_set_new(p, "count", json_integer(n));
	json_object_set_new(p, "format", json_string("dpkg"));
}
