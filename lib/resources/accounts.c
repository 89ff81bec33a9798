/*
 * accounts.c - helpers shared by the user and group types (see
 * accounts.h): shadow-utils runs, reading passwd/shadow fields, names,
 * lists, authorized_keys lines and the authorized_keys file itself.
 *
 * Why --root and not --prefix: with --prefix, shadow-utils 4.13 reads
 * login.defs and /etc/default/useradd from the prefix but copies the
 * HOST's /etc/skel into new homes and touches the host's lastlog and
 * faillog; with --root it chroots first, so every file it reads or
 * writes is the root's own.  It needs no binaries inside the root: the
 * tools are the host's, and glibc's "files" NSS module is built in.
 * gpasswd spells the option -Q.
 */
#include "resources/accounts.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resources/common.h"
#include "util/atomic.h"
#include "util/hash.h"
#include "util/proc.h"
#include "util/strutil.h"

/* tool_path - the host's binary for tool (shadow-utils live in sbin, which PATH may lack). */
static char *tool_path(const char *tool)
{
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin", NULL };
	char p[PATH_MAX];

	for (size_t i = 0; dirs[i]; i++) {
		snprintf(p, sizeof(p), "%s/%s", dirs[i], tool);
		if (access(p, X_OK) == 0)
			return xstrdup(p);
	}
	return xstrdup(tool);
}

/* tool_error - the lines of a failed tool's output that say why (not its warnings), joined. */
static void tool_error(const struct buf *out, char *msg, size_t n)
{
	const char *s = buf_str(out);
	size_t used = 0;
	int pass;

	msg[0] = '\0';
	for (pass = 0; pass < 2 && !msg[0]; pass++) {
		for (const char *p = s; *p && used + 1 < n;) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);

			if (len && (pass || !memmem(p, len, "Warning:", 8))) {
				int w = snprintf(msg + used, n - used, "%s%.*s", used ? "; " : "",
						 (int)len, p);

				used = w < 0		     ? used :
				       used + (size_t)w >= n ? n - 1 :
							       used + (size_t)w;
			}
			p = nl ? nl + 1 : p + len;
		}
	}
}

int acct_run(struct resource *r, struct res_ctx *ctx, const char *tool, const char *const *args,
	     const char *stdin_data)
{
	char *env[] = { "LC_ALL=C", NULL };
	struct proc_spec spec = { 0 };
	struct proc_result res;
	struct tend_err err = { "" };
	char *root = NULL, *path = tool_path(tool), msg[1024];
	const char **argv;
	size_t n = 0, na = 0;
	int ret;

	while (args[na])
		na++;
	argv = xcalloc(na + 4, sizeof(*argv));
	argv[n++] = path;
	if (!fsroot_is_host(ctx->root)) {
		/* the tools chroot, which needs an absolute path */
		root = realpath(ctx->root->path, NULL);
		if (!root) {
			ret = res_fail(r, "cannot resolve the root %s: %s", ctx->root->path,
				       strerror(errno));
			goto out;
		}
		argv[n++] = !strcmp(tool, "gpasswd") ? "-Q" : "--root";
		argv[n++] = root;
	}
	for (size_t i = 0; i < na; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	spec.argv = (char *const *)argv;
	spec.env_extra = env;
	spec.timeout = ctx->default_timeout > 0 ? ctx->default_timeout : 300;
	spec.output_max = ctx->output_max;
	spec.stdin_data = stdin_data;
	spec.stdin_len = stdin_data ? strlen(stdin_data) : 0;
	ret = proc_run(&spec, &res, &err);
	if (ret < 0) {
		ret = res_fail(r, "cannot run %s: %s", path, strerror(-ret));
		goto out;
	}
	if (res.output.len) {
		struct buf *o = res_output(r, 0);
		size_t room = ctx->output_max > o->len ? ctx->output_max - o->len : 0;

		buf_add(o, res.output.data, res.output.len < room ? res.output.len : room);
	}
	if (res.timed_out)
		ret = res_fail(r, "%s timed out after %g s", tool, spec.timeout);
	else if (res.term_signal)
		ret = res_fail(r, "%s was killed by signal %d", tool, res.term_signal);
	else if (res.exit_code != 0) {
		tool_error(&res.output, msg, sizeof(msg));
		ret = res_fail(r, "%s failed (exit status %d)%s%s", tool, res.exit_code,
			       msg[0] ? ": " : "", msg);
	}
	proc_result_free(&res);
out:
	free(argv);
	free(path);
	free(root);
	return ret < 0 ? -EIO : 0;
}

static int read_all(struct fsroot *root, const char *file, struct buf *out)
{
	char chunk[65536];
	int fd = fsroot_open_path(root, file, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);

	if (fd < 0)
		return fd;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			close(fd);
			return r;
		}
		if ((r = buf_add(out, chunk, (size_t)n)) < 0) {
			close(fd);
			return r;
		}
	}
}

int acct_field(struct fsroot *root, const char *file, const char *name, unsigned field, char **ret)
{
	struct buf b;
	size_t nl = strlen(name);
	int r;

	buf_init(&b, ACCT_FILE_MAX);
	r = read_all(root, file, &b);
	if (r < 0)
		goto out;
	r = -ENOENT;
	for (const char *p = buf_str(&b); *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len > nl && !memcmp(p, name, nl) && p[nl] == ':') {
			const char *f = p, *end = p + len, *e;

			for (unsigned i = 0; i < field && f; i++) {
				f = memchr(f, ':', (size_t)(end - f));
				f = f ? f + 1 : NULL;
			}
			if (!f)
				break;
			e = memchr(f, ':', (size_t)(end - f));
			*ret = strndup(f, (size_t)((e ? e : end) - f));
			r = *ret ? 0 : -ENOMEM;
			break;
		}
		p = eol ? eol + 1 : p + len;
	}
out:
	buf_free(&b);
	return r;
}

bool acct_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 32 || s[0] == '-' || strspn(s, "0123456789") == n)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == ':' || *p == ',' || *p == '/')
			return false;
	return true;
}

bool acct_text_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < ' ' || *p == 0x7f || *p == ':')
			return false;
	return true;
}

bool acct_has(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; v && i < n && v[i]; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

void acct_list_str(struct buf *b, char *const *v, size_t n)
{
	buf_putc(b, '[');
	for (size_t i = 0; i < n; i++)
		buf_printf(b, "%s%s", i ? "," : "", v[i]);
	buf_putc(b, ']');
}

bool acct_same_set(char *const *a, size_t na, char *const *b, size_t nb)
{
	for (size_t i = 0; i < na; i++)
		if (!acct_has(b, nb, a[i]))
			return false;
	for (size_t i = 0; i < nb; i++)
		if (!acct_has(a, na, b[i]))
			return false;
	return true;
}

/* --- authorized_keys ---------------------------------------------------- */

static const char *const key_types[] = {
	"ssh-ed25519",
	"ssh-rsa",
	"ssh-dss",
	"ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com",
	"ssh-ed25519-cert-v01@openssh.com",
	"ssh-rsa-cert-v01@openssh.com",
	"ssh-dss-cert-v01@openssh.com",
	"ecdsa-sha2-nistp256-cert-v01@openssh.com",
	"ecdsa-sha2-nistp384-cert-v01@openssh.com",
	"ecdsa-sha2-nistp521-cert-v01@openssh.com",
	"sk-ssh-ed25519-cert-v01@openssh.com",
	"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
	NULL,
};

static bool known_type(const char *t, size_t n)
{
	for (size_t i = 0; key_types[i]; i++)
		if (strlen(key_types[i]) == n && !memcmp(key_types[i], t, n))
			return true;
	return false;
}

/*
 * b64_decode - strict base64 (length a multiple of 4, padding only at the
 * end) into a malloc'd blob.  -EINVAL when s is not base64.
 */
static int b64_decode(const char *s, size_t n, unsigned char **ret, size_t *ret_len)
{
	size_t pad = 0;
	unsigned char *out;
	int len;

	if (!n || n % 4 || n > ACCT_KEY_LINE_MAX)
		return -EINVAL;
	while (pad < 2 && s[n - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < n - pad; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
			return -EINVAL;
	out = xcalloc(1, n / 4 * 3 + 1);
	len = base64_decode(out, (const unsigned char *)s, (int)n);
	if (len < 0 || (size_t)len < pad) {
		free(out);
		return -EINVAL;
	}
	*ret = out;
	*ret_len = (size_t)len - pad;
	return 0;
}

/* fingerprint - "SHA256:" and the unpadded base64 of the blob's digest, as ssh-keygen -l. */
static char *fingerprint(const unsigned char *blob, size_t len)
{
	unsigned char md[SHA256_LEN], b64[64];
	char *fp;
	int n;

	if (sha256_raw(blob, len, md) < 0)
		return xstrdup("SHA256:?");
	n = base64_encode(b64, md, SHA256_LEN);
	while (n > 0 && b64[n - 1] == '=')
		n--;
	if (asprintf(&fp, "SHA256:%.*s", n, (const char *)b64) < 0)
		return xstrdup("SHA256:?");
	return fp;
}

int acct_key_parse(const char *s, struct acct_key *ret, char *why, size_t whylen)
{
	const char *t, *b, *c, *ce;
	size_t tl, bl, cl;
	unsigned char *blob = NULL;
	size_t blen = 0;
	struct acct_key k = { 0 };

	if (strlen(s) > ACCT_KEY_LINE_MAX) {
		snprintf(why, whylen, "a key longer than %zu bytes", ACCT_KEY_LINE_MAX);
		return -EINVAL;
	}
	for (const char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r') {
			snprintf(why, whylen, "a key must be one line");
			return -EINVAL;
		}
	t = s + strspn(s, " \t");
	tl = strcspn(t, " \t");
	b = t + tl + strspn(t + tl, " \t");
	bl = strcspn(b, " \t");
	c = b + bl + strspn(b + bl, " \t");
	ce = c + strlen(c);
	while (ce > c && (ce[-1] == ' ' || ce[-1] == '\t'))
		ce--;
	cl = (size_t)(ce - c);
	if (!tl || !known_type(t, tl)) {
		snprintf(why, whylen,
			 "'%.*s' is not a known key type (expected \"TYPE BASE64 [COMMENT]\" with "
			 "TYPE such as ssh-ed25519, ssh-rsa or ecdsa-sha2-nistp256)",
			 (int)(tl > 64 ? 64 : tl), t);
		return -EINVAL;
	}
	if (!bl || b64_decode(b, bl, &blob, &blen) < 0) {
		snprintf(why, whylen, "the key data after '%.*s' is not base64", (int)tl, t);
		return -EINVAL;
	}
	/* the blob starts with its type as an SSH string: catches truncated pastes */
	if (blen < 4 + tl ||
	    ((uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 |
	     blob[3]) != tl ||
	    memcmp(blob + 4, t, tl)) {
		snprintf(why, whylen, "the key data is not a %.*s key (truncated or mixed up?)",
			 (int)tl, t);
		free(blob);
		return -EINVAL;
	}
	if (asprintf(&k.line, "%.*s %.*s%s%.*s", (int)tl, t, (int)bl, b, cl ? " " : "", (int)cl,
		     c) < 0)
		abort();
	k.fp = fingerprint(blob, blen);
	k.label = cl ? strndup(c, cl) : xstrdup(k.fp);
	free(blob);
	if (!k.label)
		abort();
	*ret = k;
	return 0;
}

void acct_key_free(struct acct_key *k)
{
	if (!k)
		return;
	free(k->line);
	free(k->label);
	free(k->fp);
	memset(k, 0, sizeof(*k));
}

void acct_keys_parse_text(const char *data, size_t len, struct acct_key **ret, size_t *ret_n)
{
	struct acct_key *v = NULL;
	size_t n = 0, lineno = 0;

	for (const char *p = data, *end = data + len; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t l = eol ? (size_t)(eol - p) : (size_t)(end - p);
		char *line = strndup(p, l), why[256];
		size_t skip;

		if (!line)
			abort();
		lineno++;
		p = eol ? eol + 1 : end;
		if (l && line[l - 1] == '\r')
			line[l - 1] = '\0';
		skip = strspn(line, " \t");
		if (!line[skip] || line[skip] == '#') {
			free(line);
			continue;
		}
		v = xrealloc(v, (n + 1) * sizeof(*v));
		if (acct_key_parse(line, &v[n], why, sizeof(why)) < 0) {
			v[n].line = line;
			line = NULL;
			if (asprintf(&v[n].label, "line %zu", lineno) < 0)
				abort();
			v[n].fp = NULL;
		}
		free(line);
		n++;
	}
	*ret = v;
	*ret_n = n;
}

void acct_keys_free(struct acct_key *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		acct_key_free(&v[i]);
	free(v);
}

bool acct_key_in(const struct acct_key *k, const struct acct_key *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(k->line, v[i].line))
			return true;
	return false;
}

bool acct_keys_same(const struct acct_key *a, size_t na, const struct acct_key *b, size_t nb)
{
	for (size_t i = 0; i < na; i++)
		if (!acct_key_in(&a[i], b, nb))
			return false;
	for (size_t i = 0; i < nb; i++)
		if (!acct_key_in(&b[i], a, na))
			return false;
	return true;
}

/* --- the authorized_keys file ---------------------------------------------- */

void acct_keys_file_free(struct acct_keys_file *f)
{
	acct_keys_free(f->keys, f->nkeys);
	memset(f, 0, sizeof(*f));
}

/* read_keys_at - the file in the open .ssh sfd, not following a symlink. */
static int read_keys_at(int sfd, const char *home, struct acct_keys_file *f, char *why,
			size_t whylen)
{
	struct buf b;
	int ret;

	buf_init(&b, ACCT_KEYS_MAX);
	ret = res_read_at(sfd, "authorized_keys", ACCT_KEYS_MAX, &b, &f->keys_st);
	if (ret == 0) {
		f->keys_kind = ACCT_FOUND;
		acct_keys_parse_text(buf_str(&b), b.len, &f->keys, &f->nkeys);
	} else if (ret == -ELOOP || ret == -EISDIR || ret == -EINVAL) {
		f->keys_kind = ACCT_OTHER;
		ret = 0;
	} else if (ret == -ENOENT) {
		ret = 0;
	} else {
		snprintf(why, whylen, "cannot read %s/.ssh/authorized_keys: %s", home,
			 ret == -EFBIG ? "larger than 1 MiB" : strerror(-ret));
	}
	buf_free(&b);
	return ret;
}

int acct_keys_read(struct fsroot *root, const char *home, struct acct_keys_file *ret, char *why,
		   size_t whylen)
{
	int hfd, sfd, r;

	acct_keys_file_free(ret);
	hfd = fsroot_open_path(root, home, O_RDONLY | O_DIRECTORY, 0);
	if (hfd == -ENOENT || hfd == -ENOTDIR)
		return 0;
	if (hfd < 0) {
		snprintf(why, whylen, "cannot open the home %s: %s", home, strerror(-hfd));
		return hfd;
	}
	ret->home_exists = true;
	if (fstatat(hfd, ".ssh", &ret->ssh_st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = errno;
		close(hfd);
		if (r == ENOENT)
			return 0;
		snprintf(why, whylen, "cannot stat %s/.ssh: %s", home, strerror(r));
		return -r;
	}
	if (!S_ISDIR(ret->ssh_st.st_mode)) {
		ret->ssh_kind = ACCT_OTHER;
		close(hfd);
		return 0;
	}
	ret->ssh_kind = ACCT_FOUND;
	sfd = openat(hfd, ".ssh", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = errno;
	close(hfd);
	if (sfd < 0) {
		snprintf(why, whylen, "cannot open %s/.ssh: %s", home, strerror(r));
		return -r;
	}
	r = read_keys_at(sfd, home, ret, why, whylen);
	close(sfd);
	return r;
}

/* keys_text - the file as tend writes it: one key a line. */
static char *keys_text(const struct acct_key *want, size_t n)
{
	struct buf b;

	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s\n", want[i].line);
	return buf_steal(&b);
}

/* fix_ids_mode - chown/chmod an open fd where it differs. */
static int fix_ids_mode(int fd, const struct stat *st, uid_t uid, gid_t gid, mode_t mode)
{
	if ((st->st_uid != uid || st->st_gid != gid) && fchown(fd, uid, gid) < 0)
		return -errno;
	/* after chown: it may have cleared set-id bits */
	if ((st->st_mode & 07777) != mode && fchmod(fd, mode) < 0)
		return -errno;
	return 0;
}

/* write_keys_at - authorized_keys in the open .ssh sfd. */
static int write_keys_at(int sfd, const char *home, uid_t uid, gid_t gid,
			 const struct acct_key *want, size_t n, char *why, size_t whylen)
{
	struct acct_key *cur = NULL;
	size_t ncur = 0;
	struct stat st;
	struct buf b;
	char *text;
	int fd, r = 0;

	buf_init(&b, ACCT_KEYS_MAX);
	fd = openat(sfd, "authorized_keys",
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0 && res_read_fd(fd, ACCT_KEYS_MAX, &b, &st) == 0) {
		acct_keys_parse_text(buf_str(&b), b.len, &cur, &ncur);
		if (acct_keys_same(cur, ncur, want, n)) {
			r = fix_ids_mode(fd, &st, uid, gid, 0600);
			if (r < 0)
				snprintf(
					why, whylen,
					"cannot set the owner and mode of %s/.ssh/authorized_keys: %s",
					home, strerror(-r));
			goto out;
		}
	}
	/* missing, a symlink, not a regular file, unreadable or different: replace it */
	text = keys_text(want, n);
	r = atomic_write_at(sfd, "authorized_keys", text, strlen(text), 0600, uid, gid);
	free(text);
	if (r < 0)
		snprintf(why, whylen, "cannot write %s/.ssh/authorized_keys: %s", home,
			 strerror(-r));
out:
	if (fd >= 0)
		close(fd);
	acct_keys_free(cur, ncur);
	buf_free(&b);
	return r;
}

int acct_keys_write(struct fsroot *root, const char *home, uid_t uid, gid_t gid,
		    const struct acct_key *want, size_t n, char *why, size_t whylen)
{
	struct stat st;
	int hfd, sfd, r;

	hfd = fsroot_open_path(root, home, O_RDONLY | O_DIRECTORY, 0);
	if (hfd == -ENOENT && !n)
		return 0;
	if (hfd < 0) {
		snprintf(why, whylen, "cannot open the home %s: %s%s", home, strerror(-hfd),
			 hfd == -ENOENT ? " (manage_home: true creates it)" : "");
		return hfd;
	}
	if (mkdirat(hfd, ".ssh", 0700) < 0 && errno != EEXIST) {
		r = -errno;
		close(hfd);
		snprintf(why, whylen, "cannot create %s/.ssh: %s", home, strerror(-r));
		return r;
	}
	sfd = openat(hfd, ".ssh", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = -errno;
	close(hfd);
	if (sfd < 0) {
		snprintf(why, whylen, "cannot open %s/.ssh: %s", home,
			 r == -ELOOP || r == -ENOTDIR ? "not a directory (a symlink?)" :
							strerror(-r));
		return r;
	}
	r = fstat(sfd, &st) < 0 ? -errno : fix_ids_mode(sfd, &st, uid, gid, 0700);
	if (r < 0)
		snprintf(why, whylen, "cannot set the owner and mode of %s/.ssh: %s", home,
			 strerror(-r));
	else
		r = write_keys_at(sfd, home, uid, gid, want, n, why, whylen);
	close(sfd);
	return r;
}
