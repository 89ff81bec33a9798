/*
 * group.c - the `group` resource type (being written; see issue 3).
 */
#include "resources/registry.h"

static const struct res_attr group_attrs[] = { { NULL } };

static int group_probe(struct resource *r, struct res_ctx *ctx)
{
	(void)ctx;
	return res_fail(r, "the group type is not available in this build yet");
}

const struct res_type res_type_group = {
	.name = "group",
	.attrs = group_attrs,
	.probe = group_probe,
};
