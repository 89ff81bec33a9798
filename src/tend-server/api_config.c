/* api_config.c - STUB: being written */
#include "api.h"

int api_files_list(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

int api_file_get(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

int api_file_put(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

int api_file_delete(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

int api_history(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

int api_commit_get(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

int api_diff(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

int api_revert(struct api_req *rq, struct api_resp *rs)
{
	return api_error(rs, 501, "not implemented");
}

