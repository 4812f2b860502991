/* Numbers and sizes from the command line, and the PRNG the workloads share. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../blkback/num.h"
#include "bfutil.h"

/* A whole decimal number no larger than max (blkback/num.c, shared by every tool). */
int bf_parse_uint(const char *s, uint64_t max, uint64_t *v)
{
	return num_parse_uint(s, max, v);
}

/* A byte count with an optional binary suffix: 512, 4k, 64M, 1GiB, 2T (blkback/num.c). */
int bf_parse_size(const char *s, uint64_t *bytes)
{
	return num_parse_size(s, UINT64_MAX, bytes);
}

/* Seconds, possibly fractional, in (0, max_s]; returned in milliseconds. */
int bf_parse_seconds(const char *s, unsigned int max_s, unsigned int *ms)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v <= 0)
		return -EINVAL;
	if (v > max_s)
		return -ERANGE;
	*ms = (unsigned int)ceil(v * 1000.0);
	return 0;
}

/* Format bytes as 4k / 64M / 1G when round, else as plain bytes. */
void bf_fmt_size(uint64_t bytes, char *buf, size_t len)
{
	static const char suffix[] = "kMGT";

	for (int i = 4; i >= 1; i--) {
		uint64_t unit = 1ull << (10 * i);

		if (bytes && !(bytes % unit)) {
			snprintf(buf, len, "%llu%c", (unsigned long long)(bytes / unit), suffix[i - 1]);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)bytes);
}

/* splitmix64: the next number of the stream in *state. */
uint64_t bf_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A number in [0, n): multiply-shift, with a bias of at most n / 2^64. */
uint64_t bf_rand_below(uint64_t *state, uint64_t n)
{
	return n <= 1 ? 0 : (uint64_t)(((unsigned __int128)bf_rand(state) * n) >> 64);
}
