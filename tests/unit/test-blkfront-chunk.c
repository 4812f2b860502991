/* Unit test: random chunk plans cover a range exactly once, in bounds, in random order. */
#include <errno.h>
#include <stdlib.h>

#include "../../tools/blkfront/bfutil.h"
#include "check.h"

/* Order pieces by offset. */
static int by_offset(const void *a, const void *b)
{
	const struct bf_chunk *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* One plan: full coverage, no overlap, sizes and alignment as asked. */
static void check_plan(uint64_t size, uint32_t bs_min, uint32_t bs_max, uint32_t align,
		       uint32_t piece, uint64_t seed)
{
	struct bf_chunk *p;
	size_t n;
	uint64_t at = 0;
	int err = bf_chunk_plan(size, bs_min, bs_max, align, piece, seed, &p, &n);

	CHECK_INT(err, 0, "plan");
	if (err)
		return;
	for (size_t i = 0; i < n; i++) {
		CHECK(p[i].len && p[i].len <= piece && p[i].len <= bs_max,
		      "piece %zu len %u out of bounds", i, p[i].len);
		CHECK(p[i].len % align == 0 && p[i].offset % align == 0,
		      "piece %zu not aligned to %u", i, align);
	}
	qsort(p, n, sizeof(*p), by_offset);
	for (size_t i = 0; i < n; i++) {
		CHECK(p[i].offset == at, "piece %zu at %llu, expected %llu (gap or overlap)", i,
		      (unsigned long long)p[i].offset, (unsigned long long)at);
		at = p[i].offset + p[i].len;
	}
	CHECK_U64(at, size, "coverage end");
	free(p);
}

/* Two seeds give two different orders; the same seed gives the same plan. */
static void test_random(void)
{
	struct bf_chunk *a, *b, *c;
	size_t na, nb, nc, same = 0;

	bf_chunk_plan(1 << 20, 512, 8192, 512, 45056, 1, &a, &na);
	bf_chunk_plan(1 << 20, 512, 8192, 512, 45056, 1, &b, &nb);
	bf_chunk_plan(1 << 20, 512, 8192, 512, 45056, 2, &c, &nc);
	CHECK(na == nb, "same seed, same count");
	for (size_t i = 0; i < na && i < nb; i++)
		CHECK(a[i].offset == b[i].offset && a[i].len == b[i].len, "same seed differs at %zu",
		      i);
	for (size_t i = 0; i < na && i < nc; i++)
		same += a[i].offset == c[i].offset;
	CHECK(same < na / 10, "two seeds share %zu of %zu positions", same, na);
	/* Random order: not sorted by offset. */
	size_t ascending = 0;

	for (size_t i = 1; i < na; i++)
		ascending += a[i].offset > a[i - 1].offset;
	CHECK(ascending < na * 3 / 4, "plan looks sequential (%zu of %zu ascending)", ascending,
	      na);
	free(a);
	free(b);
	free(c);
}

/* Bad parameters are refused; an empty range is an empty plan. */
static void test_params(void)
{
	struct bf_chunk *p;
	size_t n;

	CHECK_INT(bf_chunk_plan(4096, 0, 512, 512, 4096, 1, &p, &n), -EINVAL, "bs_min 0");
	CHECK_INT(bf_chunk_plan(4096, 1024, 512, 512, 4096, 1, &p, &n), -EINVAL, "min > max");
	CHECK_INT(bf_chunk_plan(4096, 512, 4096, 4096, 4096, 1, &p, &n), -EINVAL, "misaligned min");
	CHECK_INT(bf_chunk_plan(1000, 512, 512, 512, 4096, 1, &p, &n), -EINVAL, "misaligned size");
	CHECK_INT(bf_chunk_plan(4096, 512, 512, 512, 256, 1, &p, &n), -EINVAL, "piece < align");
	CHECK_INT(bf_chunk_plan(0, 512, 512, 512, 512, 1, &p, &n), 0, "empty range");
	CHECK_INT(n, 0, "empty plan");
	free(p);
}

int main(void)
{
	check_plan(1 << 20, 512, 512, 512, 45056, 3);
	check_plan(1 << 20, 512, 131072, 512, 45056, 4);	/* big chunks split in pieces */
	check_plan((1 << 20) + 4096, 4096, 65536, 4096, 45056, 5);	/* 4k sectors */
	check_plan(64 << 20, 512, 131072, 512, 45056, 6);
	check_plan(7 * 512, 4096, 8192, 512, 45056, 7);	/* one short chunk */
	for (uint64_t s = 10; s < 60; s++)
		check_plan(s * 4096, 512, 3 * 4096, 512, 4096, s);
	test_random();
	test_params();
	return check_done("test-blkfront-chunk");
}
