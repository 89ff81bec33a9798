/*
 * fuzz_manifest.c - a manifest (YAML, tend.yaml(5)) from memory: parsed,
 * checked and merged into a catalog as `tend plan` does.  Any input must
 * end in a catalog or an error message, never a crash.
 */
#include <stdio.h>

#include "fuzz.h"
#include "model/catalog.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tend_err err = { "" };
	struct catalog c;

	catalog_init(&c);
	if (catalog_add_buf(&c, "fuzz.yaml", (const char *)data, size, &err) < 0 && !err.msg[0])
		__builtin_trap(); /* an error must say what */
	catalog_free(&c);
	return 0;
}
