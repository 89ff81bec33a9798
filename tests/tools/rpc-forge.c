/*
 * rpc-forge.c - request envelopes (lib/rpc) for the integration tests,
 * good ones and the bad ones an agent must refuse, printed on stdout for
 * bus-client to publish:
 *
 *   rpc-forge --cert FILE --key FILE [--ttl MS] [--age MS] [--tamper]
 *             [--unsigned] ACTION [ARGS_JSON [FILTER_JSON]]
 *
 * --age MS     the request was created MS milliseconds ago (negative:
 *              in the future)
 * --tamper     flip one byte of the signed body after signing
 * --unsigned   send no signature at all
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pki/pki.h"
#include "rpc/rpc.h"
#include "util/buf.h"
#include "util/strutil.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "re");
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return buf_steal(&b);
}

/* spoil - the envelope text with its body's one byte flipped, or without "sig". */
static char *spoil(const char *text, bool tamper, bool unsign)
{
	json_t *env = json_loads(text, 0, NULL);
	char *out, *body, *p;

	if (!env)
		return NULL;
	if (unsign)
		json_object_del(env, "sig");
	if (tamper) {
		body = xstrdup(json_string_value(json_object_get(env, "body")));
		/* "action":"run" becomes "action":"sun": still JSON, no longer signed */
		p = strstr(body, "\"action\":\"");

		if (p) {
			p += strlen("\"action\":\"");
			*p ^= 1;
		}
		json_object_set_new(env, "body", json_string(body));
		free(body);
	}
	out = json_dumps(env, JSON_COMPACT);
	json_decref(env);
	return out;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "cert", required_argument, NULL, 'c' }, { "key", required_argument, NULL, 'k' },
		{ "ttl", required_argument, NULL, 't' },  { "age", required_argument, NULL, 'a' },
		{ "tamper", no_argument, NULL, 'T' },     { "unsigned", no_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	const char *certf = NULL, *keyf = NULL;
	long long ttl = RPC_TTL_DEFAULT_MS, age = 0;
	bool tamper = false, unsign = false;
	struct tend_err err = { "" };
	json_t *args = NULL, *filter = NULL;
	char id[RPC_ID_HEX + 1], *cert = NULL, *text = NULL, *out;
	EVP_PKEY *key = NULL;
	size_t len;
	int c, ret = 1;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c': certf = optarg; break;
		case 'k': keyf = optarg; break;
		case 't': str_to_ll(optarg, 10, -1000000000LL, 1000000000LL, &ttl); break;
		case 'a': str_to_ll(optarg, 10, -1000000000LL, 1000000000LL, &age); break;
		case 'T': tamper = true; break;
		case 'U': unsign = true; break;
		default: return 1;
		}
	}
	if (!certf || !keyf || optind >= argc || argc - optind > 3) {
		fprintf(stderr, "usage: rpc-forge --cert F --key F [--ttl MS] [--age MS] "
				"[--tamper] [--unsigned] ACTION [ARGS [FILTER]]\n");
		return 1;
	}
	if (optind + 1 < argc && !(args = json_loads(argv[optind + 1], 0, NULL)))
		fprintf(stderr, "rpc-forge: ARGS is not JSON\n");
	if (optind + 2 < argc && !(filter = json_loads(argv[optind + 2], 0, NULL)))
		fprintf(stderr, "rpc-forge: FILTER is not JSON\n");
	cert = read_all(certf);
	if (!cert || pki_key_load(keyf, &key, &err) < 0) {
		fprintf(stderr, "rpc-forge: %s\n", err.msg[0] ? err.msg : "cannot read the certificate");
		goto out;
	}
	if (rpc_request_new(key, cert, argv[optind], args, filter, now_ms() - age, ttl, id, &text,
			    &len, &err) < 0) {
		fprintf(stderr, "rpc-forge: %s\n", err.msg);
		goto out;
	}
	out = tamper || unsign ? spoil(text, tamper, unsign) : xstrdup(text);
	if (out) {
		printf("%s\n", out);
		free(out);
		ret = 0;
	}
out:
	free(text);
	free(cert);
	EVP_PKEY_free(key);
	json_decref(args);
	json_decref(filter);
	return ret;
}
