/*
 * rpc_identity.c - the administrator's identity bundle (see rpc.h): one
 * file with the brokers, the server, the admin's key, certificate and
 * the tend CA, as `tend-server user add` writes it.
 *
 * The parser is strict, as every tend parser: a line it does not know is
 * an error with its line number and what was expected there, and the
 * parts are checked against each other (the key is the certificate's,
 * the certificate chains to the CA and names an administrator) so that a
 * wrong bundle is told here rather than by a broker that just hangs up.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pki/pki.h"
#include "rpc.h"
#include "rpc/rpc.h"
#include "util/strutil.h"

#define BLOCK_MAX ((size_t)32 << 10) /* one PEM block */

/* The three PEM blocks, in their order. */
static const char *const block_what[] = {
	"the admin's private key (-----BEGIN PRIVATE KEY-----)",
	"the admin's certificate (-----BEGIN CERTIFICATE-----)",
	"the tend CA's certificate (-----BEGIN CERTIFICATE-----)",
};

struct parse {
	const char *path;
	struct rpc_identity *id;
	int nblocks;
	int block_line[3];
	struct buf block; /* the block being read */
	char type[32];	  /* its type ("" when outside a block) */
	int start;	  /* its BEGIN line */
};

void rpc_identity_free(struct rpc_identity *id)
{
	if (!id)
		return;
	free(id->path);
	for (size_t i = 0; i < id->nnats; i++)
		free(id->nats[i]);
	free(id->server);
	if (id->key_pem)
		explicit_bzero(id->key_pem, strlen(id->key_pem));
	free(id->key_pem);
	free(id->cert_pem);
	free(id->ca_pem);
	EVP_PKEY_free(id->key);
	memset(id, 0, sizeof(*id));
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

static bool url_ok(const char *v)
{
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return strlen(v) <= RPC_URL_MAX;
}

/* setting - a "nats: URL" or "server: URL" line. */
static int setting(struct parse *p, int line, char *s, struct tend_err *err)
{
	char *colon = strchr(s, ':'), *key, *val;

	if (!colon)
		return err_at(
			err, -EINVAL, p->path, line, 0,
			"expected 'nats: URL', 'server: URL' or a PEM block (-----BEGIN ...)");
	*colon = '\0';
	key = trim(s);
	val = trim(colon + 1);
	if (!strcmp(key, "nats")) {
		if (!url_ok(val) ||
		    !(str_has_prefix(val, "tls://") || str_has_prefix(val, "nats://")))
			return err_at(err, -EINVAL, p->path, line, 0,
				      "expected a broker URL (tls://HOST:PORT) after 'nats:'");
		if (p->id->nnats >= RPC_NATS_URLS_MAX)
			return err_at(err, -EINVAL, p->path, line, 0, "more than %d nats: lines",
				      RPC_NATS_URLS_MAX);
		p->id->nats[p->id->nnats++] = xstrdup(val);
		return 0;
	}
	if (!strcmp(key, "server")) {
		if (p->id->server)
			return err_at(err, -EINVAL, p->path, line, 0, "a second server: line");
		if (!url_ok(val) ||
		    !(str_has_prefix(val, "http://") || str_has_prefix(val, "https://")))
			return err_at(err, -EINVAL, p->path, line, 0,
				      "expected tend-server's URL (http:// or https://) after "
				      "'server:'");
		p->id->server = xstrdup(val);
		return 0;
	}
	return err_at(err, -EINVAL, p->path, line, 0,
		      "unknown setting '%.40s' (expected 'nats:', 'server:' or a PEM block)", key);
}

/* begin - a "-----BEGIN TYPE-----" line: the block the bundle expects next? */
static int begin(struct parse *p, int line, const char *s, struct tend_err *err)
{
	const char *t = s + strlen("-----BEGIN "), *end = strstr(t, "-----");
	size_t n = end ? (size_t)(end - t) : 0;
	bool key_type;

	if (!end || end[5] || n == 0 || n >= sizeof(p->type))
		return err_at(err, -EINVAL, p->path, line, 0,
			      "expected a PEM line '-----BEGIN TYPE-----'");
	memcpy(p->type, t, n);
	p->type[n] = '\0';
	if (p->nblocks >= 3)
		return err_at(err, -EINVAL, p->path, line, 0,
			      "unexpected %s block: the bundle holds a key, the admin's "
			      "certificate and the CA's certificate, nothing more",
			      p->type);
	if (!strcmp(p->type, "ENCRYPTED PRIVATE KEY"))
		return err_at(err, -EINVAL, p->path, line, 0,
			      "the private key is encrypted; tend expects it in the clear "
			      "(the bundle's mode 0600 protects it)");
	key_type = !strcmp(p->type, "PRIVATE KEY") || !strcmp(p->type, "EC PRIVATE KEY");
	if (p->nblocks == 0 ? !key_type : strcmp(p->type, "CERTIFICATE") != 0)
		return err_at(err, -EINVAL, p->path, line, 0, "expected %s, found a %s block",
			      block_what[p->nblocks], p->type);
	p->start = line;
	buf_reset(&p->block);
	return buf_printf(&p->block, "%s\n", s) < 0 ?
		       err_at(err, -E2BIG, p->path, line, 0, "PEM block too large") :
		       0;
}

/* block_done - the block in p->block is complete: parse it. */
static int block_done(struct parse *p, struct tend_err *err)
{
	struct rpc_identity *id = p->id;
	const char *text = buf_str(&p->block);
	BIO *b = BIO_new_mem_buf(text, (int)p->block.len);
	X509 *x = NULL;
	int r = 0;

	if (!b)
		return err_set(err, -ENOMEM, "out of memory");
	if (p->nblocks == 0) {
		id->key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		if (!id->key)
			r = err_at(err, -EINVAL, p->path, p->start, 0,
				   "the private key does not parse");
		else
			id->key_pem = xstrdup(text);
	} else {
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		if (!x)
			r = err_at(err, -EINVAL, p->path, p->start, 0, "%s does not parse",
				   p->nblocks == 1 ? "the admin's certificate" :
						     "the CA's certificate");
		else if (p->nblocks == 1)
			id->cert_pem = xstrdup(text);
		else
			id->ca_pem = xstrdup(text);
	}
	ERR_clear_error();
	X509_free(x);
	BIO_free(b);
	if (r == 0)
		p->block_line[p->nblocks++] = p->start;
	p->type[0] = '\0';
	return r;
}

/* line - one line of the bundle. */
static int one_line(struct parse *p, int line, char *raw, struct tend_err *err)
{
	char *s = trim(raw);
	char end[48];

	if (p->type[0]) {
		if (buf_printf(&p->block, "%s\n", s) < 0)
			return err_at(err, -E2BIG, p->path, p->start, 0,
				      "PEM block larger than %zu KiB", BLOCK_MAX >> 10);
		snprintf(end, sizeof(end), "-----END %s-----", p->type);
		if (str_has_prefix(s, "-----"))
			return strcmp(s, end) ? err_at(err, -EINVAL, p->path, line, 0,
						       "expected '%s'", end) :
						block_done(p, err);
		return 0;
	}
	if (!*s || *s == '#')
		return 0;
	if (str_has_prefix(s, "-----BEGIN "))
		return begin(p, line, s, err);
	if (str_has_prefix(s, "-----"))
		return err_at(err, -EINVAL, p->path, line, 0,
			      "expected '-----BEGIN ...', 'nats: URL' or 'server: URL'");
	return setting(p, line, s, err);
}

/* check_parts - the key is the certificate's, which chains to the CA and names an admin. */
static int check_parts(struct parse *p, struct tend_err *err)
{
	struct rpc_identity *id = p->id;
	struct pki_identity who = { .pub = NULL };
	BIO *b = BIO_new_mem_buf(id->cert_pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	bool mine = x && X509_check_private_key(x, id->key) == 1;
	int r;

	ERR_clear_error();
	BIO_free(b);
	X509_free(x);
	if (!mine)
		return err_at(err, -EINVAL, p->path, p->block_line[1], 0,
			      "the certificate does not belong to the private key on line %d",
			      p->block_line[0]);
	r = pki_verify_identity(id->ca_pem, NULL, id->cert_pem, &who, err);
	if (r < 0) {
		err_prefix(err, "%s:%d: the certificate, checked against the CA's on line %d",
			   p->path, p->block_line[1], p->block_line[2]);
		return -EINVAL;
	}
	if (!who.admin) {
		pki_identity_clear(&who);
		return err_at(err, -EINVAL, p->path, p->block_line[1], 0,
			      "the certificate is not an administrator's (its subject must be "
			      "O=%s, OU=ROLE, CN=NAME); a node's certificate cannot send requests",
			      RPC_ADMIN_ORG);
	}
	snprintf(id->name, sizeof(id->name), "%s", who.cn);
	snprintf(id->role, sizeof(id->role), "%s", who.role);
	pki_identity_clear(&who);
	return 0;
}

int rpc_identity_parse(const char *path, const char *text, size_t len, struct rpc_identity *ret,
		       struct tend_err *err)
{
	struct rpc_identity id = { .path = NULL };
	struct parse p = { .path = path, .id = &id };
	char *copy, *line, *nl;
	int r = 0, lineno = 0;

	if (len > RPC_IDENTITY_MAX)
		return err_set(err, -E2BIG, "%s: larger than %zu KiB", path,
			       RPC_IDENTITY_MAX >> 10);
	if (memchr(text, '\0', len))
		return err_set(err, -EINVAL, "%s: not a text file", path);
	copy = xcalloc(1, len + 1);
	memcpy(copy, text, len);
	buf_init(&p.block, BLOCK_MAX);
	for (line = copy; r == 0 && line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		r = one_line(&p, ++lineno, line, err);
	}
	if (r == 0 && p.type[0])
		r = err_at(err, -EINVAL, path, p.start, 0,
			   "the %s block has no '-----END %s-----' line", p.type, p.type);
	else if (r == 0 && p.nblocks < 3)
		r = err_at(err, -EINVAL, path, lineno + 1, 0, "end of file: expected %s",
			   block_what[p.nblocks]);
	if (r == 0)
		r = check_parts(&p, err);
	if (p.block.data)
		explicit_bzero(p.block.data, p.block.len);
	buf_free(&p.block);
	explicit_bzero(copy, len);
	free(copy);
	if (r < 0) {
		rpc_identity_free(&id);
		return r;
	}
	id.path = xstrdup(path);
	*ret = id;
	return 0;
}

/* default_path - where the bundle is when no --identity says. */
static int default_path(struct buf *out)
{
	const char *env = getenv("TEND_IDENTITY"), *xdg = getenv("XDG_CONFIG_HOME"),
		   *home = getenv("HOME");

	if (env && *env)
		return buf_puts(out, env);
	if (xdg && xdg[0] == '/')
		return buf_printf(out, "%s/tend/identity.pem", xdg);
	if (home && home[0] == '/')
		return buf_printf(out, "%s/.config/tend/identity.pem", home);
	return -ENOENT;
}

/* read_all - the regular file at fd, at most max bytes. */
static int read_all(int fd, size_t max, struct buf *out)
{
	char chunk[4096];
	ssize_t n;
	int r;

	buf_init(out, max);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		r = buf_add(out, chunk, (size_t)n);
		if (r < 0)
			break;
	}
	explicit_bzero(chunk, sizeof(chunk));
	return r;
}

/* open_bundle - fd of the bundle at path: a regular file only its owner may read. */
static int open_bundle(const char *path, bool given, int *ret, struct tend_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0 && errno == ENOENT)
		return err_set(err, -ENOENT,
			       "no identity: %s does not exist%s (an admin gets one from "
			       "'tend-server user add NAME --role ROLE')",
			       path, given ? "" : "; give --identity FILE or set TEND_IDENTITY");
	if (fd < 0)
		return err_set(err, -errno, "cannot open the identity %s: %s", path,
			       strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(err, -EINVAL, "the identity %s is not a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return err_set(err, -EPERM,
			       "the identity %s holds a private key and others may read or change "
			       "it (mode %04o); run: chmod 600 %s",
			       path, (unsigned)(st.st_mode & 07777), path);
	}
	*ret = fd;
	return 0;
}

int rpc_identity_load(const char *path, struct rpc_identity *ret, struct tend_err *err)
{
	struct buf where = BUF_INIT, text = BUF_INIT;
	int fd = -1, r;

	r = path ? buf_puts(&where, path) : default_path(&where);
	if (r < 0) {
		r = err_set(err, -ENOENT,
			    "no identity: give --identity FILE or set TEND_IDENTITY (neither "
			    "XDG_CONFIG_HOME nor HOME says where ~/.config/tend is)");
		goto out;
	}
	r = open_bundle(buf_str(&where), path != NULL, &fd, err);
	if (r < 0)
		goto out;
	r = read_all(fd, RPC_IDENTITY_MAX, &text);
	if (r < 0) {
		r = err_set(err, r, "cannot read the identity %s: %s", buf_str(&where),
			    r == -E2BIG ? "larger than 64 KiB" : strerror(-r));
		goto out;
	}
	r = rpc_identity_parse(buf_str(&where), buf_str(&text), text.len, ret, err);
out:
	if (fd >= 0)
		close(fd);
	if (text.data)
		explicit_bzero(text.data, text.len);
	buf_free(&text);
	buf_free(&where);
	return r;
}
