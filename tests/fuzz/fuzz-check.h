/* What every fuzz target shares: the libFuzzer entry point and a contract check. */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Report a broken contract and abort, so that libFuzzer keeps the input. */
#define CHECK(cond) do {							\
	if (!(cond)) {								\
		fprintf(stderr, "%s: contract broken: %s (line %d)\n", __FILE__,	\
			#cond, __LINE__);					\
		abort();							\
	}									\
} while (0)

#endif
