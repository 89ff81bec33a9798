/*
 * service.c - the `service` resource type (being written; see issue 3).
 */
#include "resources/registry.h"

static const struct res_attr service_attrs[] = { { NULL } };

static int service_probe(struct resource *r, struct res_ctx *ctx)
{
	(void)ctx;
	return res_fail(r, "the service type is not available in this build yet");
}

const struct res_type res_type_service = {
	.name = "service",
	.attrs = service_attrs,
	.probe = service_probe,
};
