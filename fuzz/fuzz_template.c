/*
 * fuzz_template.c - a template (tend.yaml(5), "Templates") rendered
 * against a fixed context of facts and vars.  Any input must render or
 * fail with "NAME:LINE:COL: message".
 */
#include <jansson.h>
#include <stdlib.h>

#include "fuzz.h"
#include "model/template.h"
#include "util/buf.h"

static json_t *ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_error_t e;

	ctx = json_loads("{\"facts\": {\"os\": {\"id\": \"debian\", \"version\": 12},"
			 " \"memory\": {\"total\": 8589934592},"
			 " \"net\": [{\"name\": \"eth0\", \"addr\": \"10.0.0.1\"},"
			 " {\"name\": \"lo\", \"addr\": \"127.0.0.1\"}]},"
			 " \"vars\": {\"port\": 8080, \"name\": \"web\", \"on\": true,"
			 " \"list\": [1, 2, 3], \"none\": null, \"map\": {\"a\": \"b\"}},"
			 " \"node\": {\"id\": \"web01\", \"tags\": [\"web\", \"prod\"]}}",
			 0, &e);
	return ctx ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tend_err err = { "" };
	struct buf out;

	buf_init(&out, (size_t)1 << 20);
	if (tmpl_render((const char *)data, size, "fuzz.tmpl", ctx, &out, &err) < 0 &&
	    !err.msg[0])
		__builtin_trap();
	buf_free(&out);
	return 0;
}
