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

#endif
