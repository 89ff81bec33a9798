/* api_nodes.c - STUB: being written */
#include "api.h"

int api_nodes_list(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

int api_node_get(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

int api_node_tags_put(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

int api_node_reports(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

int api_node_report_post(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

int api_report_get(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

int api_audit(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

