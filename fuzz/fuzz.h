/*
 * fuzz.h - what a fuzz target defines (libFuzzer's entry points).  Every
 * target defines both: LLVMFuzzerInitialize may do nothing.
 */
#ifndef TEND_FUZZ_H
#define TEND_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * fuzz_state_dir - a new directory for the target's state, named after
 * it, on tmpfs when there is one; removed with its contents at exit (what
 * uses it must be closed by an exit handler registered after this call,
 * so that it runs first).  The same directory on later calls; NULL (said
 * on stderr) when it cannot be made.  state.c.
 */
const char *fuzz_state_dir(const char *name);

#endif
