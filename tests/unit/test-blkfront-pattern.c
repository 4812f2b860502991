/* Unit test: blkfront's verify pattern and the classifier of bad blocks. */
#include <string.h>

#include "../../tools/blkfront/bfutil.h"
#include "check.h"

/* A good block reads back OK, and the pattern depends only on (seed, sector). */
static void test_good(void)
{
	unsigned char a[BF_BLOCK], b[BF_BLOCK];
	uint64_t s = 0, n = 0;

	for (uint64_t sector = 0; sector < 2000; sector += 7) {
		bf_pattern_fill(a, 42, sector);
		bf_pattern_fill(b, 42, sector);
		CHECK(!memcmp(a, b, BF_BLOCK), "pattern of sector %llu not reproducible",
		      (unsigned long long)sector);
		CHECK_INT(bf_pattern_check(a, 42, sector, &s, &n), BF_BLOCK_OK, "good block");
	}
	bf_pattern_fill(b, 42, 1);
	bf_pattern_fill(a, 42, 2);
	CHECK(memcmp(a + 32, b + 32, BF_BLOCK - 32), "payload of two sectors must differ");
	bf_pattern_fill(b, 43, 2);
	CHECK(memcmp(a + 32, b + 32, BF_BLOCK - 32), "payload of two seeds must differ");
}

/* Each kind of bad block is told apart. */
static void test_classes(void)
{
	unsigned char blk[BF_BLOCK];
	uint64_t fs = 0, fn = 0;

	memset(blk, 0, sizeof(blk));
	CHECK_INT(bf_pattern_check(blk, 7, 100, &fs, &fn), BF_BLOCK_NEVER_WRITTEN, "zeroes");

	bf_pattern_fill(blk, 6, 100);
	CHECK_INT(bf_pattern_check(blk, 7, 100, &fs, &fn), BF_BLOCK_WRONG_SEED, "older run");
	CHECK_U64(fs, 6, "found seed");
	CHECK_U64(fn, 100, "found sector");

	bf_pattern_fill(blk, 7, 99);
	CHECK_INT(bf_pattern_check(blk, 7, 100, &fs, &fn), BF_BLOCK_MISDIRECTED, "misdirected");
	CHECK_U64(fn, 99, "found sector of a misdirected block");

	for (unsigned int at = 0; at < BF_BLOCK; at += 37) {
		bf_pattern_fill(blk, 7, 100);
		blk[at] ^= 0x10;
		CHECK_INT(bf_pattern_check(blk, 7, 100, &fs, &fn), BF_BLOCK_CORRUPT,
			  "one flipped bit");
	}
	/* A torn block: the first half of one write, the second of another. */
	bf_pattern_fill(blk, 7, 100);
	{
		unsigned char other[BF_BLOCK];

		bf_pattern_fill(other, 8, 100);
		memcpy(blk + 256, other + 256, 256);
	}
	CHECK_INT(bf_pattern_check(blk, 7, 100, &fs, &fn), BF_BLOCK_CORRUPT, "torn block");
	memset(blk, 0xff, sizeof(blk));
	CHECK_INT(bf_pattern_check(blk, 7, 100, &fs, &fn), BF_BLOCK_CORRUPT, "foreign data");
	CHECK(!strcmp(bf_block_class_name(BF_BLOCK_MISDIRECTED), "wrong sector (misdirected)"),
	      "class name");
	CHECK(!strcmp(bf_block_class_name(BF_BLOCK_NCLASSES), "?"), "unknown class name");
}

int main(void)
{
	test_good();
	test_classes();
	return check_done("test-blkfront-pattern");
}
