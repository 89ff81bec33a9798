/*
 * bus_status.c - cnats' status codes as tend's -errno, for the single
 * connection (bus.c) and the many on one loop (bus_loop.c) alike; and,
 * since every program on the bus links this file, what such a program
 * needs of OpenSSL before main.
 */
#include <errno.h>
#include <nats/nats.h>
#include <openssl/crypto.h>

#include "bus/bus_int.h"

/*
 * no_openssl_exit_handler - OpenSSL's exit handler frees its global
 * locks; a cnats thread still ending a TLS connection when the process
 * exits then crashes on a freed lock (seen: a client exiting right after
 * a request timed out).  The first initialisation decides, so this runs
 * before main; the end of the process frees that memory anyway.
 */
__attribute__((constructor)) static void no_openssl_exit_handler(void)
{
	OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
}

int bus_status_errno(natsStatus s)
{
	switch (s) {
	case NATS_OK:
		return 0;
	case NATS_TIMEOUT:
		return -ETIMEDOUT;
	case NATS_NO_RESPONDERS:
		return -EHOSTUNREACH;
	case NATS_NO_SERVER:
		return -ECONNREFUSED;
	case NATS_CONNECTION_AUTH_FAILED:
		return -EACCES;
	case NATS_NOT_PERMITTED:
		return -EPERM;
	case NATS_CONNECTION_CLOSED:
	case NATS_CONNECTION_DISCONNECTED:
	case NATS_NOT_YET_CONNECTED:
	case NATS_STALE_CONNECTION:
		return -ENOTCONN;
	case NATS_MAX_PAYLOAD:
		return -EMSGSIZE;
	case NATS_INVALID_SUBJECT:
	case NATS_INVALID_ARG:
	case NATS_SSL_ERROR:
		return -EINVAL;
	case NATS_NO_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

int bus_nats_err(struct tend_err *err, natsStatus s, const char *what)
{
	const char *text = nats_GetLastError(NULL);
	int e = bus_status_errno(s);

	return err_set(err, e ? e : -EIO, "%s: %s", what, text && *text ? text : natsStatus_GetText(s));
}
