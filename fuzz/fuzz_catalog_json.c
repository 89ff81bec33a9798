/*
 * fuzz_catalog_json.c - a compiled catalog (the JSON tend-server sends
 * and tendd keeps on disk) decoded into a catalog, as tendd does after
 * the signature held.  Files it names must exist under files_dir: an
 * empty temporary directory here, so a catalog naming one is refused.
 */
#include <jansson.h>
#include <stdlib.h>

#include "fuzz.h"
#include "model/catalog.h"

static const char *files_dir;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	files_dir = fuzz_state_dir("catalog");
	return files_dir ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tend_err err = { "" };
	json_error_t je;
	struct catalog c;
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);

	if (!j)
		return 0;
	catalog_init(&c);
	if (catalog_add_json(&c, j, files_dir, &err) < 0 && !err.msg[0])
		__builtin_trap();
	catalog_free(&c);
	json_decref(j);
	return 0;
}
