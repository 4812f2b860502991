/* Unit test: blkfront's command-line numbers, sizes, device names and PRNG. */
#include <errno.h>
#include <string.h>

#include "../../tools/blkfront/bfutil.h"
#include "check.h"

/* Byte counts with suffixes, and what is refused. */
static void test_sizes(void)
{
	static const struct { const char *s; int err; uint64_t v; } cases[] = {
		{ "512", 0, 512 }, { "0", 0, 0 }, { "4k", 0, 4096 }, { "4K", 0, 4096 },
		{ "64M", 0, 64ull << 20 }, { "64MiB", 0, 64ull << 20 }, { "1GiB", 0, 1ull << 30 }, { "1GB", -EINVAL, 0 },
		{ "2T", 0, 2ull << 40 }, { "16777215T", 0, 16777215ull << 40 },
		{ "16777216T", -ERANGE, 0 }, { "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE, 0 }, { "", -EINVAL, 0 }, { "k", -EINVAL, 0 },
		{ "12Q", -EINVAL, 0 }, { "4kk", -EINVAL, 0 }, { "-1", -EINVAL, 0 },
		{ " 4", -EINVAL, 0 }, { "4 ", -EINVAL, 0 }, { "4iB", -EINVAL, 0 },
		{ "123456789012345678901234", -ERANGE, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 0;
		int err = bf_parse_size(cases[i].s, &v);

		CHECK(err == cases[i].err, "'%s': err %d, want %d", cases[i].s, err, cases[i].err);
		if (!err && !cases[i].err)
			CHECK(v == cases[i].v, "'%s': %llu", cases[i].s, (unsigned long long)v);
	}
}

/* Whole numbers and seconds. */
static void test_numbers(void)
{
	uint64_t v;
	unsigned int ms;

	CHECK_INT(bf_parse_uint("100", 100, &v), 0, "100 <= 100");
	CHECK_U64(v, 100, "100");
	CHECK_INT(bf_parse_uint("101", 100, &v), -ERANGE, "101 > 100");
	CHECK_INT(bf_parse_uint("1x", 100, &v), -EINVAL, "1x");
	CHECK_INT(bf_parse_uint(NULL, 100, &v), -EINVAL, "NULL");
	CHECK_INT(bf_parse_seconds("2.5", 10, &ms), 0, "2.5 s");
	CHECK_INT(ms, 2500, "2.5 s in ms");
	CHECK_INT(bf_parse_seconds("0.0001", 10, &ms), 0, "0.1 ms");
	CHECK_INT(ms, 1, "rounded up to 1 ms");
	CHECK_INT(bf_parse_seconds("0", 10, &ms), -EINVAL, "zero");
	CHECK_INT(bf_parse_seconds("11", 10, &ms), -ERANGE, "too long");
	CHECK_INT(bf_parse_seconds("nan", 10, &ms), -EINVAL, "nan");
	CHECK_INT(bf_parse_seconds("1s", 10, &ms), -EINVAL, "suffix");
}

/* Size formatting and the PRNG's range. */
static void test_misc(void)
{
	char buf[32];
	uint64_t s = 5, hits[10] = { 0 };

	bf_fmt_size(4096, buf, sizeof(buf));
	CHECK(!strcmp(buf, "4k"), "4k: %s", buf);
	bf_fmt_size(64ull << 20, buf, sizeof(buf));
	CHECK(!strcmp(buf, "64M"), "64M: %s", buf);
	bf_fmt_size(1536, buf, sizeof(buf));
	CHECK(!strcmp(buf, "1536"), "1536: %s", buf);
	bf_fmt_size(0, buf, sizeof(buf));
	CHECK(!strcmp(buf, "0"), "0: %s", buf);
	for (int i = 0; i < 100000; i++) {
		uint64_t v = bf_rand_below(&s, 10);

		CHECK(v < 10, "rand_below 10 gave %llu", (unsigned long long)v);
		hits[v < 10 ? v : 0]++;
	}
	for (int i = 0; i < 10; i++)
		CHECK(hits[i] > 9000 && hits[i] < 11000, "value %d drawn %llu times of 100000", i,
		      (unsigned long long)hits[i]);
	CHECK_U64(bf_rand_below(&s, 1), 0, "rand_below 1");
	CHECK_U64(bf_rand_below(&s, 0), 0, "rand_below 0");
}

int main(void)
{
	test_sizes();
	test_numbers();
	test_misc();
	return check_done("test-blkfront-parse");
}
