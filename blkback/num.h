/*
 * Numbers and sizes from command lines, specs and xenstore: one strict parser for every
 * tool. A number is decimal digits only (no sign, no spaces, no 0x); a size is a number
 * with an optional K, M, G or T suffix (powers of 1024, either case), which may be
 * followed by iB: 512, 4k, 64M, 64MiB, 2T.
 */
#ifndef BLKBACK_NUM_H
#define BLKBACK_NUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest text num_size_text writes, with its NUL. */
#define NUM_SIZE_TEXT 24

/* A whole decimal number: 0, -EINVAL if s is not one, -ERANGE if above max. */
int num_parse_uint(const char *s, uint64_t max, uint64_t *v);

/* A byte count with an optional suffix: 0, -EINVAL if malformed, -ERANGE if above max. */
int num_parse_size(const char *s, uint64_t max, uint64_t *bytes);

/* bytes in the largest suffix that states it exactly (16777215T, 64M, 1000), into buf. */
const char *num_size_text(uint64_t bytes, char buf[NUM_SIZE_TEXT]);

/*
 * The message for err, what num_parse_uint or num_parse_size gave for s, into buf:
 * "bad WHAT 'S': too large; at most MAX" or "bad WHAT 'S': give ...". size: s was a size.
 */
void num_error(char *buf, size_t len, const char *what, const char *s, int err, bool size,
	       uint64_t min, uint64_t max);

/* Parse a whole string as a decimal number no larger than max (num_parse_uint). */
int parse_uint(const char *s, uint64_t max, uint64_t *val);

#endif
