/* Tiny assertion helpers for the unit tests: count failures, report file:line. */
#ifndef TESTS_UNIT_CHECK_H
#define TESTS_UNIT_CHECK_H

#include <inttypes.h>
#include <stdio.h>

/* Failed and total checks in this test program. */
static int check_failures __attribute__((unused));
static int check_total __attribute__((unused));

/* Check a condition; on failure print where, the condition and a printf message. */
#define CHECK(cond, ...) do {							\
	check_total++;								\
	if (!(cond)) {								\
		check_failures++;						\
		fprintf(stderr, "%s:%d: FAILED: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__);					\
		fputc('\n', stderr);						\
	}									\
} while (0)

/* Check two signed integers are equal, printing both on failure. */
#define CHECK_INT(got, want, what) do {						\
	long long g_ = (long long)(got), w_ = (long long)(want);		\
	CHECK(g_ == w_, "%s: got %lld, want %lld", (what), g_, w_);		\
} while (0)

/* Check two unsigned 64-bit integers are equal, printing both on failure. */
#define CHECK_U64(got, want, what) do {						\
	uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want);			\
	CHECK(g_ == w_, "%s: got %" PRIu64 " (0x%" PRIx64 "), want %" PRIu64	\
	      " (0x%" PRIx64 ")", (what), g_, g_, w_, w_);			\
} while (0)

/* Print a summary and give the exit status: 0 if every check passed, else 1. */
static inline int check_done(const char *prog)
{
	printf("%s: %d checks, %d failed\n", prog, check_total, check_failures);
	return check_failures ? 1 : 0;
}

#endif
