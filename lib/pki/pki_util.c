/*
 * pki_util.c - the small helpers the files of lib/pki share (pki_int.h):
 * OpenSSL errors as messages, PEM in and out of memory and files, names
 * and serial numbers as text.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pki/pki_int.h"
#include "util/atomic.h"
#include "util/strutil.h"

int pki_ssl_err(struct tend_err *err, int code, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char reason[256] = "";

	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	if (reason[0])
		return err_set(err, code, "%s: %s", what, reason);
	return err_set(err, code, "%s", what);
}

int pki_bio_take(BIO *b, char **ret)
{
	char *data = NULL, *s;
	long n = BIO_get_mem_data(b, &data);

	if (n < 0 || (n > 0 && !data)) {
		BIO_free(b);
		return -EIO;
	}
	s = xcalloc(1, (size_t)n + 1);
	if (n)
		memcpy(s, data, (size_t)n);
	BIO_free(b);
	*ret = s;
	return 0;
}

int pki_file_read(const char *path, size_t max, struct buf *out, unsigned *ret_mode,
		  struct tend_err *err)
{
	char chunk[4096];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), r = 0;

	if (fd < 0)
		return err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		r = err_set(err, -errno, "%s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		r = err_set(err, -EINVAL, "%s: not a regular file", path);
	if (r < 0) {
		close(fd);
		return r;
	}
	if (ret_mode)
		*ret_mode = (unsigned)(st.st_mode & 07777);
	buf_init(out, max);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = err_set(err, -errno, "%s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if (buf_add(out, chunk, (size_t)n) < 0) {
			r = err_set(err, -EFBIG, "%s: larger than %zu bytes", path, max);
			break;
		}
	}
	close(fd);
	if (r < 0)
		buf_free(out);
	return r;
}

int pki_file_write(const char *path, const void *data, size_t len, unsigned mode,
		   struct tend_err *err)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	int dfd, r;

	if (slash) {
		size_t n = slash == path ? 1 : (size_t)(slash - path);

		if (n >= sizeof(dir))
			return err_set(err, -ENAMETOOLONG, "%s: path too long", path);
		memcpy(dir, path, n);
		dir[n] = '\0';
	} else {
		dir[0] = '.';
		dir[1] = '\0';
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return err_set(err, -errno, "%s: %s", dir, strerror(errno));
	r = atomic_write_at(dfd, slash ? slash + 1 : path, data, len, (mode_t)mode,
			    ATOMIC_KEEP_OWNER, (gid_t)-1);
	close(dfd);
	if (r < 0)
		return err_set(err, r, "%s: cannot write: %s", path, strerror(-r));
	return 0;
}

int pki_cert_parse(const char *pem, size_t len, X509 **ret, struct tend_err *err)
{
	BIO *b;
	X509 *x;

	if (!pem)
		return err_set(err, -EINVAL, "no certificate");
	if (!len)
		len = strlen(pem);
	if (len > PKI_PEM_MAX * 4)
		return err_set(err, -EINVAL, "certificate larger than %d bytes", PKI_PEM_MAX * 4);
	b = BIO_new_mem_buf(pem, (int)len);
	if (!b)
		return err_set(err, -ENOMEM, "out of memory");
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (!x)
		return pki_ssl_err(err, -EINVAL, "not a PEM certificate");
	ERR_clear_error();
	*ret = x;
	return 0;
}

int pki_cert_pem(X509 *x, char **ret)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (!b)
		return -ENOMEM;
	if (!PEM_write_bio_X509(b, x)) {
		BIO_free(b);
		ERR_clear_error();
		return -EIO;
	}
	return pki_bio_take(b, ret);
}

int pki_name_cn(const X509_NAME *name, char *out, size_t len)
{
	const X509_NAME_ENTRY *e;

	if (!name || X509_NAME_entry_count(name) != 1)
		return -EINVAL;
	e = X509_NAME_get_entry(name, 0);
	if (OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) != NID_commonName)
		return -EINVAL;
	return pki_entry_text(e, out, len);
}

int pki_entry_text(const X509_NAME_ENTRY *e, char *out, size_t len)
{
	unsigned char *utf8 = NULL;
	int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));

	if (n < 0)
		return -EINVAL;
	/* an embedded NUL would make the CN read as another name */
	if ((size_t)n >= len || memchr(utf8, '\0', (size_t)n)) {
		OPENSSL_free(utf8);
		return -EINVAL;
	}
	memcpy(out, utf8, (size_t)n);
	out[n] = '\0';
	OPENSSL_free(utf8);
	return 0;
}

int pki_serial_hex(const ASN1_INTEGER *serial, char out[PKI_SERIAL_HEX_MAX + 1])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex;
	size_t n;
	int r = 0;

	if (!bn)
		return -EINVAL;
	hex = BN_bn2hex(bn);
	BN_free(bn);
	if (!hex)
		return -ENOMEM;
	n = strlen(hex);
	if (hex[0] == '-' || n > PKI_SERIAL_HEX_MAX) {
		r = -ERANGE;
	} else {
		const char *p = hex;

		/* BN_bn2hex pads to whole bytes: "0A" is written "a" */
		while (p[0] == '0' && p[1])
			p++;
		for (n = 0; p[n]; n++)
			out[n] = (char)(p[n] >= 'A' && p[n] <= 'F' ? p[n] - 'A' + 'a' : p[n]);
		out[n] = '\0';
	}
	OPENSSL_free(hex);
	return r;
}

bool pki_cn_ok(const char *cn)
{
	size_t n = 0;

	if (!cn || !*cn)
		return false;
	for (; cn[n]; n++) {
		char c = cn[n];

		if (n >= PKI_CN_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}
