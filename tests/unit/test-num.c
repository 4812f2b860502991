/* Unit test: the one parser of numbers and sizes every tool uses (blkback/num.c). */
#include <errno.h>
#include <string.h>

#include "../../blkback/num.h"
#include "check.h"

/* Whole numbers: digits only, and "too large" told apart from malformed. */
static void test_uint(void)
{
	static const struct { const char *s; uint64_t max; int err; uint64_t v; } cases[] = {
		{ "0", 10, 0, 0 }, { "10", 10, 0, 10 }, { "0010", 10, 0, 10 },
		{ "11", 10, -ERANGE, 0 }, { "32", 32, 0, 32 }, { "33", 32, -ERANGE, 0 },
		/* 2^32 + 1: what a cast to unsigned int before the range check took for 1. */
		{ "4294967297", 32, -ERANGE, 0 }, { "4294967297", UINT64_MAX, 0, 4294967297ull },
		{ "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
		{ "18446744073709551616", UINT64_MAX, -ERANGE, 0 },
		{ "99999999999999999999999999", UINT64_MAX, -ERANGE, 0 },
		{ "1", 0, -ERANGE, 0 }, { "0", 0, 0, 0 },
		{ "", 10, -EINVAL, 0 }, { "-1", 10, -EINVAL, 0 }, { "+1", 10, -EINVAL, 0 },
		{ " 1", 10, -EINVAL, 0 }, { "1 ", 10, -EINVAL, 0 }, { "0x1", 10, -EINVAL, 0 },
		{ "1k", 10000, -EINVAL, 0 }, { "99999999999999999999x", UINT64_MAX, -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 4242;
		int err = num_parse_uint(cases[i].s, cases[i].max, &v);

		CHECK(err == cases[i].err, "'%s' (max %" PRIu64 "): err %d, want %d", cases[i].s,
		      cases[i].max, err, cases[i].err);
		CHECK_U64(v, cases[i].err ? 4242 : cases[i].v, cases[i].s);
	}
	CHECK_INT(num_parse_uint(NULL, 1, &(uint64_t){ 0 }), -EINVAL, "NULL");
}

/* Sizes: one syntax (K, M, G, T in either case, optionally iB), and the limit. */
static void test_size(void)
{
	static const struct { const char *s; uint64_t max; int err; uint64_t v; } cases[] = {
		{ "512", UINT64_MAX, 0, 512 }, { "0", UINT64_MAX, 0, 0 },
		{ "4k", UINT64_MAX, 0, 4096 }, { "4K", UINT64_MAX, 0, 4096 },
		{ "64M", UINT64_MAX, 0, 64ull << 20 }, { "64MiB", UINT64_MAX, 0, 64ull << 20 },
		{ "1g", UINT64_MAX, 0, 1ull << 30 }, { "2T", UINT64_MAX, 0, 2ull << 40 },
		{ "0064M", UINT64_MAX, 0, 64ull << 20 },
		{ "000000000000000000000000000001K", UINT64_MAX, 0, 1024 },
		{ "16777215T", UINT64_MAX, 0, 16777215ull << 40 },
		{ "16777216T", UINT64_MAX, -ERANGE, 0 },
		{ "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
		{ "18446744073709551616", UINT64_MAX, -ERANGE, 0 },
		{ "8388608T", 1ull << 63, 0, 1ull << 63 }, { "8388609T", 1ull << 63, -ERANGE, 0 },
		{ "1025", 1024, -ERANGE, 0 }, { "2K", 1024, -ERANGE, 0 }, { "1K", 1024, 0, 1024 },
		{ "123456789012345678901234567890T", UINT64_MAX, -ERANGE, 0 },
		{ "", UINT64_MAX, -EINVAL, 0 }, { "K", UINT64_MAX, -EINVAL, 0 },
		{ "12Q", UINT64_MAX, -EINVAL, 0 }, { "4kk", UINT64_MAX, -EINVAL, 0 },
		{ "-1", UINT64_MAX, -EINVAL, 0 }, { " 4", UINT64_MAX, -EINVAL, 0 },
		{ "4 ", UINT64_MAX, -EINVAL, 0 }, { "4iB", UINT64_MAX, -EINVAL, 0 },
		{ "64MB", UINT64_MAX, -EINVAL, 0 }, { "64B", UINT64_MAX, -EINVAL, 0 },
		{ "64Mi", UINT64_MAX, -EINVAL, 0 }, { "1.5G", UINT64_MAX, -EINVAL, 0 },
		{ "64MiBx", UINT64_MAX, -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 4242;
		int err = num_parse_size(cases[i].s, cases[i].max, &v);

		CHECK(err == cases[i].err, "'%s' (max %" PRIu64 "): err %d, want %d", cases[i].s,
		      cases[i].max, err, cases[i].err);
		CHECK_U64(v, cases[i].err ? 4242 : cases[i].v, cases[i].s);
	}
}

/* Limits are printed in the largest unit that states them exactly. */
static void test_text(void)
{
	char buf[NUM_SIZE_TEXT];

	CHECK(!strcmp(num_size_text(1ull << 63, buf), "8388608T"), "%s", buf);
	CHECK(!strcmp(num_size_text(64ull << 20, buf), "64M"), "%s", buf);
	CHECK(!strcmp(num_size_text(1536, buf), "1536"), "%s", buf);
	CHECK(!strcmp(num_size_text(3ull << 30, buf), "3G"), "%s", buf);
	CHECK(!strcmp(num_size_text(0, buf), "0"), "%s", buf);
	CHECK(!strcmp(num_size_text(UINT64_MAX, buf), "18446744073709551615"), "%s", buf);
}

/* The messages: "too large" with the limit; otherwise what to give. */
static void test_error(void)
{
	char msg[256];

	num_error(msg, sizeof(msg), "--max-queues", "4294967297", -ERANGE, false, 1, 32);
	CHECK(!strcmp(msg, "bad --max-queues '4294967297': too large; at most 32"), "%s", msg);
	num_error(msg, sizeof(msg), "size", "9000000T", -ERANGE, true, 512, 1ull << 63);
	CHECK(!strcmp(msg, "bad size '9000000T': too large; at most 8388608T"), "%s", msg);
	num_error(msg, sizeof(msg), "--slots", "x", -EINVAL, false, 1, 512);
	CHECK(!strcmp(msg, "bad --slots 'x': give a whole number from 1 to 512"), "%s", msg);
	num_error(msg, sizeof(msg), "size", "1Q", -EINVAL, true, 512, 1ull << 63);
	CHECK(strstr(msg, "bad size '1Q': give a size from 512 to 8388608T") == msg, "%s", msg);
}

int main(void)
{
	test_uint();
	test_size();
	test_text();
	test_error();
	return check_done("test-num");
}
