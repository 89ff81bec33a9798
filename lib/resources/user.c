/*
 * user.c - the `user` resource type (being written; see issue 3).
 */
#include "resources/registry.h"

static const struct res_attr user_attrs[] = { { NULL } };

static int user_probe(struct resource *r, struct res_ctx *ctx)
{
	(void)ctx;
	return res_fail(r, "the user type is not available in this build yet");
}

const struct res_type res_type_user = {
	.name = "user",
	.attrs = user_attrs,
	.probe = user_probe,
};
