/*
 * rpc_wire.c - the envelope as text: read ({"tend_rpc": 1, "body": ...,
 * "cert": ..., "sig": ...}) and written, for requests and replies alike.
 *
 * Reading is by hand, not through jansson: every agent reads every
 * broadcast, most only to find that its filter is not theirs, and
 * jansson spends ~12 us on a 1 KB envelope (mostly the certificate) where
 * this flat reader spends ~1 us.  It is deliberately narrow: one object
 * whose members are strings, integers, true, false or null (anything
 * nested is refused), the members it knows at most once, strict JSON
 * string escapes (surrogate pairs checked, \u0000 refused).  A mistake
 * here cannot make a forgery pass: the signature is checked over the
 * bytes this decodes, and the body is then parsed by jansson.
 *
 * Writing escapes the body once and sends the certificate already
 * escaped (the agent escapes its own once, at start).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pki/pki.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"
#include "util/buf.h"
#include "util/strutil.h"

#define STR_(x) #x
#define STR(x) STR_(x)

void rpc_utf8_fix(char *s)
{
	unsigned char *p = (unsigned char *)s, *end = p + strlen(s);

	while (p < end) {
		size_t n = utf8_seq_len(p, (size_t)(end - p));

		if (n == 0)
			*p++ = '?';
		else
			p += n;
	}
}

/* The reader: input in [p, end), decoded strings written at out (never past the input's size). */
struct lexer {
	const char *p, *end;
	char *out;
};

enum value_kind { V_STRING, V_INT, V_OTHER /* true, false, null */, V_NULL };

struct value {
	enum value_kind kind;
	const char *str; /* V_STRING: decoded, NUL-terminated */
	size_t len;
	long long num; /* V_INT */
};

static void skip_ws(struct lexer *l)
{
	while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r'))
		l->p++;
}

static bool hex4(struct lexer *l, unsigned *ret)
{
	unsigned v = 0;

	if (l->end - l->p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		char c = *l->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return false;
	}
	*ret = v;
	return true;
}

/* put_utf8 - code point cp (1..0x10ffff, no surrogate) as UTF-8 at l->out. */
static void put_utf8(struct lexer *l, unsigned cp)
{
	unsigned char *o = (unsigned char *)l->out;

	if (cp < 0x80) {
		*o++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*o++ = (unsigned char)(0xc0 | cp >> 6);
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (unsigned char)(0xe0 | cp >> 12);
		*o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (unsigned char)(0xf0 | cp >> 18);
		*o++ = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	l->out = (char *)o;
}

/* lex_unicode - the code point of \uXXXX (l->p after the 'u'), a surrogate pair joined. */
static bool lex_unicode(struct lexer *l)
{
	unsigned cp, lo;

	if (!hex4(l, &cp) || cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff))
		return false;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (l->end - l->p < 2 || l->p[0] != '\\' || l->p[1] != 'u')
			return false;
		l->p += 2;
		if (!hex4(l, &lo) || lo < 0xdc00 || lo > 0xdfff)
			return false;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	/* 6 (or 12) bytes of input become at most 3 (or 4): out never passes p */
	put_utf8(l, cp);
	return true;
}

/* lex_string - the string at l->p, decoded at l->out and NUL-terminated. */
static bool lex_string(struct lexer *l, struct value *v)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	char *start = l->out;

	if (l->p >= l->end || *l->p != '"')
		return false;
	l->p++;
	while (l->p < l->end) {
		unsigned char c = (unsigned char)*l->p++;
		const char *esc;

		if (c == '"') {
			v->kind = V_STRING;
			v->str = start;
			v->len = (size_t)(l->out - start);
			*l->out++ =
				'\0'; /* where the closing quote was: still within the input's size */
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\') {
			*l->out++ = (char)c;
			continue;
		}
		if (l->p >= l->end)
			return false;
		c = (unsigned char)*l->p++;
		if (c == 'u') {
			if (!lex_unicode(l))
				return false;
		} else if (c && (esc = strchr(from, c))) {
			*l->out++ = to[esc - from];
		} else {
			return false;
		}
	}
	return false;
}

/* lex_word - l->p starts with word. */
static bool lex_word(struct lexer *l, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(l->end - l->p) < n || memcmp(l->p, word, n))
		return false;
	l->p += n;
	return true;
}

/* lex_value - a string, an integer (at most 18 digits), true, false or null. */
static bool lex_value(struct lexer *l, struct value *v)
{
	bool neg = false;
	size_t digits = 0;

	memset(v, 0, sizeof(*v));
	if (l->p >= l->end)
		return false;
	if (*l->p == '"')
		return lex_string(l, v);
	if (*l->p == 'n') {
		v->kind = V_NULL;
		return lex_word(l, "null");
	}
	v->kind = V_OTHER;
	if (*l->p == 't' || *l->p == 'f')
		return lex_word(l, *l->p == 't' ? "true" : "false");
	if (*l->p == '-') {
		neg = true;
		l->p++;
	}
	v->kind = V_INT;
	for (; l->p < l->end && *l->p >= '0' && *l->p <= '9'; l->p++, digits++) {
		if (digits == 18 || (digits == 1 && v->num == 0))
			return false; /* too long, or a leading zero */
		v->num = v->num * 10 + (*l->p - '0');
	}
	if (neg)
		v->num = -v->num;
	/* a fraction or an exponent is not an integer */
	return digits > 0 && (l->p >= l->end || !strchr(".eE", *l->p));
}

/* What the reader keeps of the members it knows. */
struct members {
	struct value magic, body, cert, sig;
	bool seen[4];
};

/* member - one "key": value into m; false for bad syntax or a known key twice. */
static bool member(struct lexer *l, const char *magic, struct members *m)
{
	const char *names[] = { magic, "body", "cert", "sig" };
	struct value *slots[] = { &m->magic, &m->body, &m->cert, &m->sig };
	struct value key, v;
	char *mark;

	skip_ws(l);
	mark = l->out;
	if (!lex_string(l, &key))
		return false;
	skip_ws(l);
	if (l->p >= l->end || *l->p++ != ':')
		return false;
	skip_ws(l);
	if (!lex_value(l, &v))
		return false;
	for (size_t i = 0; i < 4; i++) {
		if (key.len != strlen(names[i]) || memcmp(key.str, names[i], key.len))
			continue;
		if (m->seen[i])
			return false;
		m->seen[i] = true;
		*slots[i] = v;
		return true;
	}
	l->out = mark; /* an unknown member: its decoded text is not kept */
	return true;
}

/* read_object - data as one flat object; false with the byte offset in *where. */
static bool read_object(const char *data, size_t len, char *mem, const char *magic,
			struct members *m, size_t *where)
{
	struct lexer l = { data, data + len, mem };
	bool ok = true;

	memset(m, 0, sizeof(*m));
	skip_ws(&l);
	if (l.p >= l.end || *l.p++ != '{')
		ok = false;
	skip_ws(&l);
	if (ok && l.p < l.end && *l.p == '}') {
		l.p++;
	} else {
		while (ok) {
			ok = member(&l, magic, m);
			skip_ws(&l);
			if (!ok || l.p >= l.end || (*l.p != ',' && *l.p != '}')) {
				ok = false;
				break;
			}
			if (*l.p++ == '}')
				break;
		}
	}
	skip_ws(&l);
	ok = ok && l.p == l.end;
	*where = (size_t)(l.p - data);
	return ok;
}

int rpc_env_parse(const char *data, size_t len, const char *magic, struct rpc_env *ret, char *why,
		  size_t why_len)
{
	struct rpc_env e = { 0 };
	struct members m;
	size_t where;

	if (!data || len > RPC_ENVELOPE_MAX) {
		snprintf(why, why_len, "the envelope is larger than %zu bytes", RPC_ENVELOPE_MAX);
		return -EBADMSG;
	}
	e.mem = xcalloc(1, len + 1);
	if (!read_object(data, len, e.mem, magic, &m, &where))
		snprintf(why, why_len,
			 "the envelope is not a JSON object of strings and numbers "
			 "(at byte %zu)",
			 where);
	else if (m.magic.kind != V_INT || m.magic.num != 1)
		snprintf(why, why_len, "not a tend envelope (\"%s\": 1 is missing)", magic);
	else if (m.body.kind != V_STRING || m.body.len == 0)
		snprintf(why, why_len, "the envelope has no body");
	else
		goto good;
	free(e.mem);
	return -EBADMSG;
good:
	e.body = m.body.str;
	e.body_len = m.body.len;
	if (m.cert.kind == V_STRING && m.cert.len > 0 && m.cert.len <= PKI_PEM_MAX &&
	    strlen(m.cert.str) == m.cert.len) {
		e.cert = m.cert.str;
		e.cert_len = m.cert.len;
	}
	/* missing, null or "": unsigned, which the caller refuses in its own words */
	if (m.sig.kind == V_STRING && m.sig.len > 0 && m.sig.len <= PKI_SIG_B64_MAX)
		e.sig = m.sig.str;
	e.sig_bad = m.seen[3] && !e.sig && m.sig.kind != V_NULL &&
		    !(m.sig.kind == V_STRING && m.sig.len == 0);
	*ret = e;
	return 0;
}

const char *rpc_env_problem(const struct rpc_env *env)
{
	if (!env->cert)
		return "the envelope has no certificate (or one over " STR(PKI_PEM_MAX) " bytes)";
	if (env->sig_bad)
		return "the signature is not a string of at most " STR(
			PKI_SIG_B64_MAX) " characters";
	if (!env->sig)
		return "the envelope is not signed";
	return NULL;
}

void rpc_env_clear(struct rpc_env *e)
{
	if (!e)
		return;
	free(e->mem);
	memset(e, 0, sizeof(*e));
}

int rpc_json_escape(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;
	int r = buf_putc(b, '"');

	for (size_t i = 0; i < n && r == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7] = { '\\', 0 };
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		r = buf_add(b, s + run, i - run);
		if (r == 0)
			r = buf_add(b, esc, elen);
		run = i + 1;
	}
	if (r == 0)
		r = buf_add(b, s + run, n - run);
	if (r == 0)
		r = buf_putc(b, '"');
	return r;
}

int rpc_env_build(const char *magic, const char *body, size_t body_len, const char *cert_json,
		  size_t cert_json_len, const char *sig, char **ret, size_t *ret_len,
		  struct tend_err *err)
{
	struct buf b;
	int r;

	buf_init(&b, RPC_ENVELOPE_MAX);
	r = buf_printf(&b, "{\"%s\":1,\"body\":", magic);
	if (r == 0)
		r = rpc_json_escape(&b, body, body_len);
	if (r == 0)
		r = buf_puts(&b, ",\"cert\":");
	if (r == 0)
		r = buf_add(&b, cert_json, cert_json_len);
	if (r == 0)
		r = buf_printf(&b, ",\"sig\":\"%s\"}", sig);
	if (r < 0) {
		buf_free(&b);
		return err_set(err, r == -E2BIG ? -E2BIG : r,
			       "the envelope would be larger than %zu bytes", RPC_ENVELOPE_MAX);
	}
	*ret_len = b.len;
	*ret = buf_steal(&b);
	return 0;
}
