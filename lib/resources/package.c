/*
 * package.c - the `package` resource type (being written; see issue 3).
 */
#include "resources/registry.h"

static const struct res_attr package_attrs[] = { { NULL } };

static int package_probe(struct resource *r, struct res_ctx *ctx)
{
	(void)ctx;
	return res_fail(r, "the package type is not available in this build yet");
}

const struct res_type res_type_package = {
	.name = "package",
	.attrs = package_attrs,
	.probe = package_probe,
};
