/*
 * facts_custom.c - the admin's own facts, from ROOT/etc/tend/facts.d.
 *
 * NAME.json and NAME.yaml (or .yml) files are data; any other executable
 * file is run and must print one JSON object.  Each becomes
 * facts.custom.NAME, NAME being the file name without its extension (so
 * "rack.sh" gives facts.custom.rack).  Files are taken in name order.
 *
 * A custom fact is outside input that can be wrong in every way: broken
 * JSON, a script that hangs or floods its output.  So each file is bounded
 * (1 MiB of data or output, a timeout per executable), and a bad one is
 * left out and described in facts.custom_errors ["PATH: reason"] — it
 * never fails a run.  Executables run on the host, not chrooted, with
 * TEND_ROOT set to the root, like exec resources; one that anybody but its
 * owner (root or the user running tend) could have changed is not run.
 * Hidden files and package-manager or editor leftovers (~, .dpkg-old,
 * .rpmsave, .bak, .swp, ...) are ignored.
 */
#include "facts/facts_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/yaml.h"
#include "util/proc.h"
#include "util/strutil.h"

/* Files beyond this many in facts.d are reported, not read. */
#define CUSTOM_FILES_MAX 512

enum custom_kind { CUSTOM_JSON, CUSTOM_YAML, CUSTOM_EXEC };

struct custom_ctx {
	const struct fsroot *root;
	double timeout;
	json_t *custom; /* facts.custom */
	json_t *errors; /* facts.custom_errors */
};

static void custom_error(struct custom_ctx *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void custom_error(struct custom_ctx *c, const char *path, const char *fmt, ...)
{
	char msg[1024];
	char *host = fsroot_host_path(c->root, path);
	struct buf b;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_init(&b, 4096);
	buf_printf(&b, "%s: %s", host, msg);
	json_array_append_new(c->errors, facts_string(buf_str(&b)));
	buf_free(&b);
	free(host);
}

static bool ignored_name(const char *name)
{
	static const char *const junk[] = { "~",	 ".dpkg-old", ".dpkg-new", ".dpkg-dist",
					    ".dpkg-tmp", ".rpmnew",   ".rpmsave",  ".rpmorig",
					    ".bak",	 ".swp",      ".tmp",	   NULL };
	size_t n = strlen(name);

	if (name[0] == '.')
		return true;
	for (const char *const *j = junk; *j; j++) {
		size_t k = strlen(*j);

		if (n > k && !strcmp(name + n - k, *j))
			return true;
	}
	return false;
}

/* fact_name - the file name without its extension, if usable as a
 * template name segment (letters, digits, '_', '-'). */
static bool fact_name(const char *file, char *out, size_t n)
{
	const char *dot = strrchr(file, '.');
	size_t len = dot && dot != file ? (size_t)(dot - file) : strlen(file);

	if (len == 0 || len >= n)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((file[i] >= 'a' && file[i] <= 'z') || (file[i] >= 'A' && file[i] <= 'Z') ||
		      (file[i] >= '0' && file[i] <= '9') || file[i] == '_' || file[i] == '-'))
			return false;
	memcpy(out, file, len);
	out[len] = '\0';
	return true;
}

static int parse_json(struct custom_ctx *c, const char *path, const struct buf *b, json_t **ret)
{
	json_error_t je;
	json_t *j = json_loadb(b->data ? b->data : "", b->len,
			       JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);

	if (!j) {
		custom_error(c, path, "invalid JSON at line %d, column %d: %s", je.line, je.column,
			     je.text);
		return -EINVAL;
	}
	*ret = j;
	return 0;
}

static int parse_yaml(struct custom_ctx *c, const char *path, const struct buf *b, json_t **ret)
{
	struct tend_err err;
	struct ydoc *doc = NULL;
	char *host = fsroot_host_path(c->root, path);
	json_t *j;
	int r;

	r = ydoc_load(host, b->data ? b->data : "", b->len, &doc, &err);
	free(host);
	if (r < 0) {
		/* the message already starts with the path */
		json_array_append_new(c->errors, facts_string(err.msg));
		return r;
	}
	j = ydoc_root(doc) ? ynode_to_json(ydoc_root(doc), true) : json_null();
	ydoc_free(doc);
	if (!j) {
		custom_error(c, path, "too deep or too large to convert");
		return -EINVAL;
	}
	*ret = j;
	return 0;
}

/* first_line - the start of a command's output, for a message. */
static void first_line(const struct buf *out, char *s, size_t n)
{
	const char *o = buf_str(out);
	size_t len = strcspn(o, "\n");

	snprintf(s, n, "%.*s", (int)(len > 200 ? 200 : len), o);
}

static int run_exec(struct custom_ctx *c, const char *path, int fd, const struct stat *st,
		    json_t **ret)
{
	char *inside = NULL, *host = NULL, *env[2] = { NULL, NULL }, *argv[2] = { NULL, NULL };
	struct proc_spec spec = { 0 };
	struct proc_result res;
	struct tend_err err;
	struct buf envb;
	char line[256];
	json_t *j;
	int r = -EINVAL;

	if ((st->st_uid != 0 && st->st_uid != geteuid()) || (st->st_mode & 022)) {
		custom_error(c, path,
			     "not run: owner uid %u, mode %04o (it must belong to root or to "
			     "the user running tend, and not be writable by group or others)",
			     (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777));
		return -EPERM;
	}
	/* run what the root's path resolves to, not a host symlink's target */
	if (fsroot_fd_path(c->root, fd, &inside) < 0) {
		custom_error(c, path, "not run: resolves outside the root");
		return -EXDEV;
	}
	host = fsroot_host_path(c->root, inside);
	buf_init(&envb, 8192);
	buf_printf(&envb, "TEND_ROOT=%s", *c->root->path ? c->root->path : "/");
	env[0] = envb.data;
	argv[0] = host;
	spec.argv = argv;
	spec.env_extra = env;
	/* cwd is inherited: a relative --root stays valid for host and TEND_ROOT */
	spec.timeout = c->timeout;
	spec.output_max = FACTS_CUSTOM_MAX;
	spec.separate_stderr = true; /* stdout is the JSON; stderr explains failures */
	if (proc_run(&spec, &res, &err) < 0) {
		custom_error(c, path, "cannot run: %s", err.msg);
		goto out;
	}
	first_line(res.errout.len ? &res.errout : &res.output, line, sizeof(line));
	if (res.timed_out) {
		custom_error(c, path, "killed after its timeout of %g s", c->timeout);
	} else if (res.term_signal) {
		custom_error(c, path, "killed by signal %d", res.term_signal);
	} else if (res.exit_code != 0) {
		custom_error(c, path, "exited with status %d: %s", res.exit_code, line);
	} else if (res.truncated) {
		custom_error(c, path, "output is over %zu bytes", (size_t)FACTS_CUSTOM_MAX);
	} else if (parse_json(c, path, &res.output, &j) == 0) {
		if (json_is_object(j)) {
			*ret = j;
			r = 0;
		} else {
			custom_error(c, path, "output is not a JSON object");
			json_decref(j);
		}
	}
	proc_result_free(&res);
out:
	buf_free(&envb);
	free(inside);
	free(host);
	return r;
}

static enum custom_kind kind_of(const char *name, const struct stat *st, bool *known)
{
	const char *ext = strrchr(name, '.');

	*known = true;
	if (ext && !strcmp(ext, ".json"))
		return CUSTOM_JSON;
	if (ext && (!strcmp(ext, ".yaml") || !strcmp(ext, ".yml")))
		return CUSTOM_YAML;
	*known = (st->st_mode & 0111) != 0;
	return CUSTOM_EXEC;
}

static void custom_file(struct custom_ctx *c, const char *name)
{
	char path[PATH_MAX], fname[256];
	enum custom_kind kind;
	struct stat st;
	json_t *val = NULL;
	struct buf b;
	bool known;
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", FACTS_CUSTOM_DIR, name);
	fd = fsroot_open_path(c->root, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
	if (fd < 0) {
		custom_error(c, path, "cannot open: %s", strerror(-fd));
		return;
	}
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		close(fd);
		return;
	}
	kind = kind_of(name, &st, &known);
	if (!S_ISREG(st.st_mode) || !known) {
		custom_error(c, path, "ignored: neither an executable nor a .json or .yaml file");
		close(fd);
		return;
	}
	if (!fact_name(name, fname, sizeof(fname))) {
		custom_error(c, path,
			     "ignored: a custom fact name has only letters, digits, '_' and '-'");
		close(fd);
		return;
	}
	if (json_object_get(c->custom, fname)) {
		custom_error(c, path, "ignored: custom fact '%s' already comes from another file",
			     fname);
		close(fd);
		return;
	}
	if (kind == CUSTOM_EXEC) {
		r = run_exec(c, path, fd, &st, &val);
		close(fd);
	} else if ((r = facts_read_fd(fd, FACTS_CUSTOM_MAX, &b)) < 0) {
		if (r == -EFBIG)
			custom_error(c, path, "larger than %zu bytes", (size_t)FACTS_CUSTOM_MAX);
		else
			custom_error(c, path, "cannot read: %s", strerror(-r));
	} else {
		r = kind == CUSTOM_JSON ? parse_json(c, path, &b, &val) :
					  parse_yaml(c, path, &b, &val);
		buf_free(&b);
	}
	if (r == 0)
		json_object_set_new(c->custom, fname, val);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void facts_custom(const struct fsroot *root, double timeout, json_t *f)
{
	struct custom_ctx c = { root, timeout, NULL, json_array() };
	int fd = fsroot_open_path(root, FACTS_CUSTOM_DIR, O_RDONLY | O_DIRECTORY, 0);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		else if (fd != -ENOENT)
			custom_error(&c, FACTS_CUSTOM_DIR, "cannot open: %s", strerror(-fd));
		goto out;
	}
	c.custom = facts_group(f, "custom");
	names = xcalloc(CUSTOM_FILES_MAX, sizeof(*names));
	while ((e = readdir(d))) {
		if (ignored_name(e->d_name))
			continue;
		if (n == CUSTOM_FILES_MAX) {
			custom_error(&c, FACTS_CUSTOM_DIR,
				     "more than %d files; the rest are ignored", CUSTOM_FILES_MAX);
			break;
		}
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		custom_file(&c, names[i]);
		free(names[i]);
	}
	free(names);
out:
	if (json_array_size(c.errors))
		json_object_set_new(f, "custom_errors", c.errors);
	else
		json_decref(c.errors);
}
