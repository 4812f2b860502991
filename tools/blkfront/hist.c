/* A log-linear histogram: exact below 64, then 64 buckets per power of two. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "bfutil.h"

#define SUB (1u << BF_HIST_SUB)

/* Empty the histogram. */
void bf_hist_init(struct bf_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

/* The bucket of v: values below SUB map to themselves; above, the top BF_HIST_SUB+1 bits. */
unsigned int bf_hist_bucket(uint64_t v)
{
	unsigned int msb, shift;

	if (v < SUB)
		return (unsigned int)v;
	msb = 63u - (unsigned int)__builtin_clzll(v);	/* >= BF_HIST_SUB */
	shift = msb - BF_HIST_SUB;
	/* (shift + 1) groups of SUB above the exact range, v >> shift in [SUB, 2*SUB). */
	return (shift + 1) * SUB + (unsigned int)((v >> shift) - SUB);
}

/* The lowest value that lands in bucket b. */
uint64_t bf_hist_bucket_low(unsigned int b)
{
	unsigned int shift;

	if (b < SUB)
		return b;
	shift = b / SUB - 1;
	return ((uint64_t)SUB + b % SUB) << shift;
}

/* Count one sample. */
void bf_hist_add(struct bf_hist *h, uint64_t v)
{
	h->bucket[bf_hist_bucket(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

/* Add every sample of src into h. */
void bf_hist_merge(struct bf_hist *h, const struct bf_hist *src)
{
	for (unsigned int b = 0; b < BF_HIST_BUCKETS; b++)
		h->bucket[b] += src->bucket[b];
	h->count += src->count;
	h->sum += src->sum;
	if (src->min < h->min)
		h->min = src->min;
	if (src->max > h->max)
		h->max = src->max;
}

/* The value at percentile p: the middle of the bucket holding that rank. */
double bf_hist_percentile(const struct bf_hist *h, double p)
{
	uint64_t rank, seen = 0;
	double v = 0;

	if (!h->count)
		return 0;
	if (p > 100)
		p = 100;
	rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
	if (rank < 1)
		rank = 1;
	for (unsigned int b = 0; b < BF_HIST_BUCKETS; b++) {
		seen += h->bucket[b];
		if (seen >= rank) {
			uint64_t lo = bf_hist_bucket_low(b);
			uint64_t hi = b + 1 < BF_HIST_BUCKETS ? bf_hist_bucket_low(b + 1) : UINT64_MAX;

			v = (double)lo + ((double)hi - (double)lo - 1) / 2.0;
			break;
		}
	}
	if (v < (double)h->min)
		v = (double)h->min;
	if (v > (double)h->max)
		v = (double)h->max;
	return v;
}

/* Nanoseconds on the monotonic clock. */
uint64_t bf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
