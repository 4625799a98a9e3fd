/*
 * fuzz.h - what the libFuzzer targets share (tests/fuzz.mk).
 *
 * A target defines FUZZ_NAME, includes this, and defines
 * LLVMFuzzerTestOneInput.  FUZZ_CHECK states one promise of the module's
 * contract: a broken one says which on stderr and aborts, which libFuzzer
 * (and tests/unit/fuzz_replay.c under make check) reports as a failure.
 */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, what) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "%s: broken: %s\n", FUZZ_NAME, what);	\
		abort();						\
	}								\
} while (0)

#endif
