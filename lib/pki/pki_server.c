/*
 * pki_server.c - tend-server's own identity: a key and a certificate
 * from its CA (CN "tend-server", serverAuth and clientAuth), presented by
 * the broker to agents, by tend-server to the broker, and used to sign
 * catalogs.
 *
 * The certificate is checked every time the server starts and reissued
 * (the key kept, so nothing that pinned it breaks) when it lacks a name
 * the server is now reached by, was issued by another CA, or has less
 * than a third of its life left.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "pki/pki.h"
#include "pki/pki_int.h"
#include "util/buf.h"

#define SANS_MAX 64
#define SAN_TEXT_MAX 8192

/* One name the certificate must carry. */
struct san {
	bool ip;
	unsigned char addr[16];
	int addrlen;
	char dns[254];
};

/* dns_ok - a host name OpenSSL's SAN text can carry: letters, digits, '.', '-', '*'. */
static bool dns_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 254 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					      "0123456789.-") == n;
}

/* san_add - s as an IP or DNS name, once; skipped when empty or a wildcard address. */
static int san_add(struct san *list, size_t *n, const char *s, struct tend_err *err)
{
	struct san v = { 0 };

	if (!s || !*s || !strcmp(s, "0.0.0.0") || !strcmp(s, "::") || !strcmp(s, "*"))
		return 0;
	if (inet_pton(AF_INET, s, v.addr) == 1) {
		v.ip = true;
		v.addrlen = 4;
	} else if (inet_pton(AF_INET6, s, v.addr) == 1) {
		v.ip = true;
		v.addrlen = 16;
	} else if (dns_ok(s)) {
		memcpy(v.dns, s, strlen(s) + 1);
	} else {
		return err_set(err, -EINVAL, "'%.100s' is neither an IP address nor a host name", s);
	}
	for (size_t i = 0; i < *n; i++)
		if (list[i].ip == v.ip &&
		    (v.ip ? list[i].addrlen == v.addrlen && !memcmp(list[i].addr, v.addr, 16)
			  : !strcasecmp(list[i].dns, v.dns)))
			return 0;
	if (*n >= SANS_MAX)
		return err_set(err, -E2BIG, "more than %d names for the server certificate",
			       SANS_MAX);
	list[(*n)++] = v;
	return 0;
}

/* san_text - the list in OpenSSL's form: "DNS:localhost,IP:127.0.0.1". */
static int san_text(const struct san *list, size_t n, struct buf *out)
{
	char ip[INET6_ADDRSTRLEN];
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		if (list[i].ip)
			r = buf_printf(out, "%sIP:%s", i ? "," : "",
				       inet_ntop(list[i].addrlen == 4 ? AF_INET : AF_INET6,
						 list[i].addr, ip, sizeof(ip)));
		else
			r = buf_printf(out, "%sDNS:%s", i ? "," : "", list[i].dns);
	}
	return r;
}

/* has_san - whether the certificate's subjectAltName holds v. */
static bool has_san(GENERAL_NAMES *names, const struct san *v)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);

		if (v->ip && g->type == GEN_IPADD && g->d.ip->length == v->addrlen &&
		    !memcmp(g->d.ip->data, v->addr, (size_t)v->addrlen))
			return true;
		if (!v->ip && g->type == GEN_DNS && g->d.dNSName->length == (int)strlen(v->dns) &&
		    !strncasecmp((const char *)g->d.dNSName->data, v->dns, strlen(v->dns)))
			return true;
	}
	return false;
}

/* cert_fits - whether x is this CA's, for key, named right, and not due for renewal. */
static bool cert_fits(struct pki_ca *ca, X509 *x, EVP_PKEY *key, const struct san *list,
		      size_t n, int days)
{
	char cn[PKI_CN_MAX + 2];
	GENERAL_NAMES *names;
	time_t renew = time(NULL) + (time_t)days * 86400 / 3;
	bool ok = true;

	if (X509_check_private_key(x, key) != 1 || X509_verify(x, ca->key) != 1 ||
	    X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(ca->cert)) ||
	    pki_name_cn(X509_get_subject_name(x), cn, sizeof(cn)) < 0 ||
	    strcmp(cn, PKI_SERVER_CN) || X509_cmp_time(X509_get0_notAfter(x), &renew) < 0) {
		ERR_clear_error();
		return false;
	}
	names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (size_t i = 0; i < n && ok; i++)
		ok = names && has_san(names, &list[i]);
	GENERAL_NAMES_free(names);
	ERR_clear_error();
	return ok;
}

/* server_key - server.key, made when missing. */
static int server_key(struct pki_ca *ca, EVP_PKEY **ret, struct tend_err *err)
{
	int r = pki_key_load(ca->path[PKI_SERVER_KEY], ret, err);

	if (r != -ENOENT)
		return r;
	r = pki_key_new(ret);
	if (r < 0)
		return err_set(err, r, "cannot make the server key");
	r = pki_key_save(*ret, ca->path[PKI_SERVER_KEY], err);
	if (r < 0) {
		EVP_PKEY_free(*ret);
		*ret = NULL;
	}
	return r;
}

/* current_cert - server.pem when it exists and parses, else NULL. */
static X509 *current_cert(struct pki_ca *ca)
{
	struct buf b;
	X509 *x = NULL;

	if (pki_file_read(ca->path[PKI_SERVER_CERT], PKI_PEM_MAX * 4, &b, NULL, NULL) < 0)
		return NULL;
	if (pki_cert_parse(buf_str(&b), b.len, &x, NULL) < 0)
		x = NULL;
	buf_free(&b);
	return x;
}

/* required_sans - the default names and sans. */
static int required_sans(const char *const *sans, struct san *list, size_t *n,
			 struct tend_err *err)
{
	char host[256] = "";
	int r = 0;

	*n = 0;
	r = san_add(list, n, "localhost", err);
	if (r == 0 && gethostname(host, sizeof(host) - 1) == 0 && dns_ok(host))
		r = san_add(list, n, host, err);
	if (r == 0)
		r = san_add(list, n, "127.0.0.1", err);
	if (r == 0)
		r = san_add(list, n, "::1", err);
	for (size_t i = 0; r == 0 && sans && sans[i]; i++)
		r = san_add(list, n, sans[i], err);
	return r;
}

int pki_ca_server_cert(struct pki_ca *ca, const char *const *sans, int days,
		       struct tend_err *err)
{
	struct san list[SANS_MAX];
	struct buf text;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	char *pem = NULL;
	size_t n = 0;
	int r;

	buf_init(&text, SAN_TEXT_MAX);
	r = required_sans(sans, list, &n, err);
	if (r == 0)
		r = server_key(ca, &key, err);
	if (r < 0)
		goto out;
	x = current_cert(ca);
	if (!x || !cert_fits(ca, x, key, list, n, days)) {
		X509_free(x);
		x = NULL;
		if (san_text(list, n, &text) < 0) {
			r = err_set(err, -E2BIG, "the server certificate's names are too long");
			goto out;
		}
		r = pki_ca_issue(ca, key, PKI_SERVER_CN, days, PKI_PROFILE_SERVER, buf_str(&text),
				 &x, err);
		if (r < 0)
			goto out;
		r = pki_cert_pem(x, &pem);
		if (r == 0)
			r = pki_file_write(ca->path[PKI_SERVER_CERT], pem, strlen(pem), 0644, err);
	} else {
		r = pki_cert_pem(x, &pem);
	}
	if (r < 0) {
		if (err && !err->msg[0])
			err_set(err, r, "%s: %s", ca->path[PKI_SERVER_CERT], strerror(-r));
		goto out;
	}
	EVP_PKEY_free(ca->srv_key);
	free(ca->srv_pem);
	ca->srv_key = key;
	ca->srv_pem = pem;
	key = NULL;
	pem = NULL;
out:
	free(pem);
	X509_free(x);
	EVP_PKEY_free(key);
	buf_free(&text);
	return r;
}
