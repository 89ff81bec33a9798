/* api_catalog.c - STUB: being written */
#include "api.h"

int api_node_catalog(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

int api_node_explain(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

int api_tags(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

