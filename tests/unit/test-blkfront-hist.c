/* Unit test: the log-linear latency histogram and its percentiles. */
#include <math.h>
#include <stdlib.h>

#include "../../tools/blkfront/bfutil.h"
#include "check.h"

/* Every value lands in a bucket whose range holds it, and buckets grow with values. */
static void test_buckets(void)
{
	uint64_t state = 9;
	unsigned int prev = 0;

	for (uint64_t v = 0; v < 100000; v++) {
		unsigned int b = bf_hist_bucket(v);

		CHECK(b >= prev, "bucket of %llu goes down", (unsigned long long)v);
		CHECK(bf_hist_bucket_low(b) <= v && v < bf_hist_bucket_low(b + 1),
		      "%llu outside its bucket %u", (unsigned long long)v, b);
		prev = b;
	}
	for (int i = 0; i < 100000; i++) {
		uint64_t r = bf_rand(&state), v = r >> (bf_rand(&state) % 64);
		unsigned int b = bf_hist_bucket(v);

		CHECK(b < BF_HIST_BUCKETS, "bucket %u of %llu out of range", b, (unsigned long long)v);
		CHECK(bf_hist_bucket_low(b) <= v, "%llu below its bucket", (unsigned long long)v);
		if (b + 1 < BF_HIST_BUCKETS)
			CHECK(v < bf_hist_bucket_low(b + 1), "%llu above its bucket",
			      (unsigned long long)v);
		/* Width at most 1/64 of the value. */
		if (v >= 64 && b + 1 < BF_HIST_BUCKETS)
			CHECK(bf_hist_bucket_low(b + 1) - bf_hist_bucket_low(b) <= v / 64 + 1,
			      "bucket of %llu too wide", (unsigned long long)v);
	}
	CHECK_INT(bf_hist_bucket(UINT64_MAX), BF_HIST_BUCKETS - 1, "largest value");
}

/* Percentiles of known distributions, within 1%. */
static void test_percentiles(void)
{
	struct bf_hist *h = malloc(sizeof(*h)), *g = malloc(sizeof(*g));
	uint64_t state = 1;

	bf_hist_init(h);
	CHECK(bf_hist_percentile(h, 50) == 0, "empty histogram");
	for (uint64_t v = 1; v <= 100000; v++)
		bf_hist_add(h, v * 1000);	/* 1 us .. 100 ms in ns */
	CHECK(fabs(bf_hist_percentile(h, 50) - 50e6) < 50e6 * 0.01, "p50 %.0f",
	      bf_hist_percentile(h, 50));
	CHECK(fabs(bf_hist_percentile(h, 99) - 99e6) < 99e6 * 0.01, "p99 %.0f",
	      bf_hist_percentile(h, 99));
	CHECK(bf_hist_percentile(h, 100) == 100e6, "p100 is the max: %.0f",
	      bf_hist_percentile(h, 100));
	CHECK_U64(h->count, 100000, "count");

	/* Small values are exact. */
	bf_hist_init(g);
	for (int i = 0; i < 99; i++)
		bf_hist_add(g, 10);
	bf_hist_add(g, 50);
	CHECK(bf_hist_percentile(g, 50) == 10, "exact p50");
	CHECK(bf_hist_percentile(g, 99) == 10, "p99 of 99 x 10 and one 50");
	CHECK(bf_hist_percentile(g, 99.5) == 50, "p99.5");

	/* A long tail: 99% near 100 us, 1% at 10 ms; merged from two halves. */
	bf_hist_init(h);
	bf_hist_init(g);
	for (int i = 0; i < 99000; i++)
		bf_hist_add(i % 2 ? h : g, 100000 + bf_rand_below(&state, 1000));
	for (int i = 0; i < 1000; i++)
		bf_hist_add(h, 10000000);
	bf_hist_merge(h, g);
	CHECK_U64(h->count, 100000, "merged count");
	CHECK(fabs(bf_hist_percentile(h, 50) - 100500) < 1005, "tail p50 %.0f",
	      bf_hist_percentile(h, 50));
	CHECK(bf_hist_percentile(h, 99) < 102000, "p99 still in the body: %.0f",
	      bf_hist_percentile(h, 99));
	CHECK(fabs(bf_hist_percentile(h, 99.9) - 1e7) < 1e5, "p99.9 in the tail: %.0f",
	      bf_hist_percentile(h, 99.9));
	free(h);
	free(g);
}

int main(void)
{
	test_buckets();
	test_percentiles();
	return check_done("test-blkfront-hist");
}
