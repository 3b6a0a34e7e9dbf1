/* tests/fuzz/fuzz.h — the libFuzzer entry point every target defines.
 * libFuzzer calls it directly (fuzzing_engine=libfuzzer); replay_main.c calls
 * it once per corpus file (fuzzing_engine=none, the 'fuzz' test suite). */
#ifndef LR_TESTS_FUZZ_H
#define LR_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
