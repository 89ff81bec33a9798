/*
 * ca.c - the server's CA and identity (see ca.h): where they live in the
 * state directory and which names the server certificate carries.
 *
 * The names are the hosts of the addresses tend-server listens on (HTTP
 * and the broker it runs), so an agent that reaches either by the
 * address it was given can check the certificate; a wildcard address
 * ("0.0.0.0") names nothing and is left out: agents then use this
 * host's name, which the certificate carries anyway.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ca.h"
#include "pki/pki.h"
#include "util/strutil.h"

/* host_of - the host of "ADDR:PORT" or "[ADDR6]:PORT" into out ("" when none). */
static void host_of(const char *listen, char *out, size_t len)
{
	const char *colon;
	size_t n;

	out[0] = '\0';
	if (!listen)
		return;
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');

		if (!close)
			return;
		listen++;
		n = (size_t)(close - listen);
	} else {
		colon = strrchr(listen, ':');
		n = colon ? (size_t)(colon - listen) : strlen(listen);
	}
	if (n >= len)
		return;
	memcpy(out, listen, n);
	out[n] = '\0';
}

int ca_open(struct server *s, struct tend_err *err)
{
	char dir[4096], http_host[256], nats_host[256];
	const char *sans[3];
	int n = snprintf(dir, sizeof(dir), "%s/ca", s->cfg.state_dir), r;

	s->ca = NULL;
	if (n < 0 || (size_t)n >= sizeof(dir))
		return err_set(err, -ENAMETOOLONG, "%s: state directory path too long",
			       s->cfg.state_dir);
	r = pki_ca_open(dir, true, &s->ca, err);
	if (r < 0)
		return r;
	host_of(s->cfg.listen, http_host, sizeof(http_host));
	host_of(s->cfg.nats_listen, nats_host, sizeof(nats_host));
	sans[0] = http_host;
	sans[1] = nats_host;
	sans[2] = NULL;
	r = pki_ca_server_cert(s->ca, sans, CA_SERVER_DAYS, err);
	if (r < 0) {
		err_prefix(err, "the server certificate");
		ca_close(s);
	}
	return r;
}

void ca_close(struct server *s)
{
	pki_ca_free(s->ca);
	s->ca = NULL;
}
