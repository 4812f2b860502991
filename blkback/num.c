/* Numbers and sizes: one strict parser for every tool (see num.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "num.h"

/* A whole decimal number: 0, -EINVAL if s is not one, -ERANGE if above max. */
int num_parse_uint(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t n = 0;
	bool big = false;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned int d = (unsigned int)(*s - '0');

		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (d > max || n > (max - d) / 10)	/* n * 10 + d > max, without overflow */
			big = true;
		else
			n = n * 10 + d;
	}
	if (big)
		return -ERANGE;
	*v = n;
	return 0;
}

/* The shift of a size suffix letter; -1 if c is none. */
static int suffix_shift(char c)
{
	switch (c) {
	case 'k': case 'K': return 10;
	case 'm': case 'M': return 20;
	case 'g': case 'G': return 30;
	case 't': case 'T': return 40;
	default: return -1;
	}
}

/* A byte count with an optional suffix: 0, -EINVAL if malformed, -ERANGE if above max. */
int num_parse_size(const char *s, uint64_t max, uint64_t *bytes)
{
	char digits[32];
	size_t n = 0;
	int shift = 0, err;
	uint64_t v;

	if (!s)
		return -EINVAL;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (!n)
		return -EINVAL;
	if (s[n]) {
		shift = suffix_shift(s[n]);
		if (shift < 0 || (s[n + 1] && strcmp(s + n + 1, "iB")))
			return -EINVAL;
	}
	/* Leading zeroes do not count towards the length. */
	while (n > 1 && *s == '0') {
		s++;
		n--;
	}
	if (n >= sizeof(digits))
		return -ERANGE;
	memcpy(digits, s, n);
	digits[n] = '\0';
	err = num_parse_uint(digits, max >> shift, &v);
	if (err)
		return err;
	*bytes = v << shift;
	return *bytes > max ? -ERANGE : 0;
}

/* bytes in the largest suffix that states it exactly (16777215T, 64M, 1000), into buf. */
const char *num_size_text(uint64_t bytes, char buf[NUM_SIZE_TEXT])
{
	static const char units[] = "TGMK";
	int shift = 40;

	for (const char *u = units; *u; u++, shift -= 10) {
		if (bytes && !(bytes & ((1ull << shift) - 1))) {
			snprintf(buf, NUM_SIZE_TEXT, "%" PRIu64 "%c", bytes >> shift, *u);
			return buf;
		}
	}
	snprintf(buf, NUM_SIZE_TEXT, "%" PRIu64, bytes);
	return buf;
}

/* The message for a number or size that num_parse_uint or num_parse_size refused. */
void num_error(char *buf, size_t len, const char *what, const char *s, int err, bool size,
	       uint64_t min, uint64_t max)
{
	char lo[NUM_SIZE_TEXT], hi[NUM_SIZE_TEXT];

	if (size)
		num_size_text(max, hi);
	else
		snprintf(hi, sizeof(hi), "%" PRIu64, max);
	if (err == -ERANGE)
		snprintf(buf, len, "bad %s '%s': too large; at most %s", what, s, hi);
	else if (size && min)
		snprintf(buf, len, "bad %s '%s': give a size from %s to %s: a number with an "
			 "optional K, M, G or T suffix (powers of 1024), e.g. 64M", what, s,
			 num_size_text(min, lo), hi);
	else if (size)
		snprintf(buf, len, "bad %s '%s': give a size of at most %s: a number with an "
			 "optional K, M, G or T suffix (powers of 1024), e.g. 64M", what, s, hi);
	else
		snprintf(buf, len, "bad %s '%s': give a whole number from %" PRIu64 " to %s",
			 what, s, min, hi);
}

/* Parse a whole string as a decimal number no larger than max (num_parse_uint). */
int parse_uint(const char *s, uint64_t max, uint64_t *val)
{
	return num_parse_uint(s, max, val);
}
