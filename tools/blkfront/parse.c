/* Numbers and sizes from the command line, and the PRNG the workloads share. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bfutil.h"

/* A whole decimal number no larger than max. */
int bf_parse_uint(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t n = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (n > (max - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	return 0;
}

/* A byte count with an optional binary suffix: 512, 4k, 64M, 1GiB, 2T. */
int bf_parse_size(const char *s, uint64_t *bytes)
{
	char digits[24], *end;
	unsigned int shift = 0;
	size_t n = 0;
	uint64_t v;
	int err;

	if (!s)
		return -EINVAL;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (!n || n >= sizeof(digits))
		return n ? -ERANGE : -EINVAL;
	memcpy(digits, s, n);
	digits[n] = '\0';
	end = (char *)s + n;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: return -EINVAL;
	}
	if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end)
		return -EINVAL;
	err = bf_parse_uint(digits, UINT64_MAX >> shift, &v);
	if (err)
		return err;
	*bytes = v << shift;
	return 0;
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
