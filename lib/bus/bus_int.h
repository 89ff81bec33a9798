/*
 * bus_int.h - what the files of lib/bus share and nobody else sees.
 */
#ifndef TEND_BUS_INT_H
#define TEND_BUS_INT_H

#include <nats/nats.h>

#include "util/err.h"

/* bus_status_errno - a natsStatus as -errno (0 for NATS_OK). */
int bus_status_errno(natsStatus s);

/* bus_nats_err - -errno of s, with "WHAT: cnats' text" in err. */
int bus_nats_err(struct tend_err *err, natsStatus s, const char *what);

#endif
