/* Unit test: disk spec parsing, size suffixes and the engine table. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "../../storage/storage.h"
#include "check.h"

/* Parse a spec that must be accepted; the caller frees it. */
static int parse_ok(const char *text, struct storage_spec *spec)
{
	char err[256] = "";
	int ret = storage_spec_parse(text, spec, err, sizeof(err));

	CHECK(ret == 0, "'%s' refused with %d: %s", text, ret, err);
	return ret;
}

/* Parse a spec that must be refused with -EINVAL and a message naming each of words. */
static void parse_bad(const char *text, const char *const *words)
{
	struct storage_spec spec;
	char err[512];
	int ret;

	memset(err, 0, sizeof(err));
	memset(&spec, 0xa5, sizeof(spec));
	ret = storage_spec_parse(text, &spec, err, sizeof(err));
	CHECK(ret == -EINVAL, "'%s' returned %d, want -EINVAL", text, ret);
	CHECK(err[0] != '\0', "'%s' refused with no message", text);
	for (; *words; words++)
		CHECK(strstr(err, *words) != NULL, "'%s': message '%s' does not mention '%s'",
		      text, err, *words);
	/* Nothing is left allocated after a failed parse. */
	CHECK(spec.name == NULL && spec.path == NULL, "'%s': fields left allocated", text);
	storage_spec_free(&spec);
}

/* The mem engine is found by name; nothing else is. */
static void test_engines(void)
{
	const struct storage_ops *mem = storage_engine("mem");

	CHECK(mem != NULL, "storage_engine(\"mem\") is NULL");
	CHECK(mem == &storage_mem_ops, "storage_engine(\"mem\") is not storage_mem_ops");
	if (mem) {
		CHECK(!strcmp(mem->name, "mem"), "engine name '%s'", mem->name);
		CHECK(mem->usage && strstr(mem->usage, "mem:size=SIZE"), "usage '%s'",
		      mem->usage ? mem->usage : "(null)");
	}
	CHECK(storage_engine("nosuch") == NULL, "storage_engine(\"nosuch\")");
	CHECK(storage_engine("") == NULL, "storage_engine(\"\")");
	CHECK(storage_engine("MEM") == NULL, "storage_engine(\"MEM\")");
	CHECK(storage_engine("me") == NULL, "storage_engine(\"me\")");
	CHECK(storage_engine("memx") == NULL, "storage_engine(\"memx\")");
}

/* Sizes with and without suffixes. */
static void test_sizes(void)
{
	static const struct { const char *s; uint64_t bytes; } ok[] = {
		{ "0", 0 },
		{ "512", 512 },
		{ "1K", 1024 },
		{ "1k", 1024 },
		{ "3M", 3u << 20 },
		{ "64m", 64u << 20 },
		{ "2G", 2ull << 30 },
		{ "5g", 5ull << 30 },
		{ "1T", 1ull << 40 },
		{ "7t", 7ull << 40 },
		{ "64MiB", 64u << 20 },
		{ "1KiB", 1024 },
		{ "8388608T", 1ull << 63 },			/* STORAGE_MAX_SIZE */
		{ "9223372036854775808", 1ull << 63 },
		{ "0064M", 64u << 20 },
	};
	static const char *const bad[] = {
		"", "M", "-1", "+1", " 1", "1 ", "12Q", "1.5G", "0x10", "64MiBx", "64MM",
		"64iB", "64B", "64MB", "64Mi", "1KB", "1KBB",
	};
	/* Above STORAGE_MAX_SIZE: "too large", not malformed. */
	static const char *const big[] = {
		"8388609T", "9223372036854775809", "16777216T", "99999999999T",
		"18446744073709551616", "17179869184G", "99999999999999999999999",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t b = 1;

		CHECK_INT(storage_parse_size(ok[i].s, &b), 0, ok[i].s);
		CHECK_U64(b, ok[i].bytes, ok[i].s);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t b = 4242;

		CHECK_INT(storage_parse_size(bad[i], &b), -EINVAL, bad[i]);
		CHECK_U64(b, 4242, bad[i]);
	}
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		uint64_t b = 4242;

		CHECK_INT(storage_parse_size(big[i], &b), -ERANGE, big[i]);
		CHECK_U64(b, 4242, big[i]);
	}
}

/* Valid specs fill every field. */
static void test_valid_specs(void)
{
	struct storage_spec spec;

	if (!parse_ok("mem:size=64M", &spec)) {
		CHECK(spec.engine == &storage_mem_ops, "engine");
		CHECK_U64(spec.size, 67108864, "mem:size=64M");
		CHECK(spec.name == NULL && spec.path == NULL && !spec.readonly, "mem:size=64M");
		storage_spec_free(&spec);
		storage_spec_free(&spec);	/* idempotent */
		CHECK(spec.name == NULL && spec.path == NULL, "after free");
	}
	if (!parse_ok("mem:size=1G,name=disk1,ro", &spec)) {
		CHECK(spec.engine == &storage_mem_ops, "engine");
		CHECK_U64(spec.size, 1ull << 30, "size=1G");
		CHECK(spec.name && !strcmp(spec.name, "disk1"), "name '%s'",
		      spec.name ? spec.name : "(null)");
		CHECK(spec.readonly, "ro");
		CHECK(spec.path == NULL, "path");
		storage_spec_free(&spec);
	}
	if (!parse_ok("mem:ro,name=a-b_c.d,size=64MiB", &spec)) {
		CHECK_U64(spec.size, 64u << 20, "size=64MiB");
		CHECK(spec.name && !strcmp(spec.name, "a-b_c.d"), "name");
		CHECK(spec.readonly, "ro");
		storage_spec_free(&spec);
	}
	if (!parse_ok("mem:name=onlyname", &spec)) {	/* reuse an existing ramdisk */
		CHECK_U64(spec.size, 0, "no size");
		CHECK(spec.name && !strcmp(spec.name, "onlyname"), "name");
		storage_spec_free(&spec);
	}
	if (!parse_ok("mem:size=512", &spec)) {
		CHECK_U64(spec.size, 512, "size=512");
		storage_spec_free(&spec);
	}
	if (!parse_ok("mem:size=2T", &spec)) {
		CHECK_U64(spec.size, 2ull << 40, "size=2T");
		storage_spec_free(&spec);
	}
	if (!parse_ok("mem:size=4k,size=8K", &spec)) {	/* the last one wins */
		CHECK_U64(spec.size, 8192, "size=4k,size=8K");
		storage_spec_free(&spec);
	}
	if (!parse_ok("mem:name=x,name=y,size=1M", &spec)) {
		CHECK(spec.name && !strcmp(spec.name, "y"), "last name wins");
		storage_spec_free(&spec);
	}
}

/* Bad specs: -EINVAL, and a message that names what is wrong. */
static void test_bad_specs(void)
{
	parse_bad("foo:bar", (const char *const[]){ "foo", "mem:size=SIZE", NULL });
	parse_bad("size=64M", (const char *const[]){ "size=64M", "mem:size=SIZE", NULL });
	parse_bad("mem", (const char *const[]){ "mem:size=SIZE", NULL });
	parse_bad("", (const char *const[]){ "mem:size=SIZE", NULL });
	parse_bad(":size=1M", (const char *const[]){ "mem:size=SIZE", NULL });
	parse_bad("mem:", (const char *const[]){ "size", NULL });
	parse_bad("mem:ro", (const char *const[]){ "size", NULL });
	parse_bad("mem:size=0", (const char *const[]){ "size", "'0'", NULL });
	parse_bad("mem:size=100", (const char *const[]){ "size", "100", "512", NULL });
	parse_bad("mem:size=1000", (const char *const[]){ "size", "1000", NULL });
	parse_bad("mem:size=12Q", (const char *const[]){ "size", "12Q", NULL });
	parse_bad("mem:size=-1", (const char *const[]){ "size", "-1", NULL });
	parse_bad("mem:size=", (const char *const[]){ "size", NULL });
	parse_bad("mem:size=99999999999T", (const char *const[]){ "size", "99999999999T", NULL });
	parse_bad("mem:size=1M,colour=red", (const char *const[]){ "colour", "mem", NULL });
	parse_bad("mem:size=1M,ro=1", (const char *const[]){ "ro=1", NULL });
	parse_bad("mem:size", (const char *const[]){ "size", NULL });
	parse_bad("mem:size=1M,name=", (const char *const[]){ "name", NULL });
	parse_bad("mem:size=1M,name", (const char *const[]){ "name", NULL });
	parse_bad("mem:size=1M,name=a/b", (const char *const[]){ "name", "a/b", NULL });
	parse_bad("mem:size=1M,name=/", (const char *const[]){ "name", NULL });
	parse_bad("mem:size=1M,name=a b", (const char *const[]){ "name", "a b", NULL });
	/* A valid name before the bad option must not leak (checked under ASan). */
	parse_bad("mem:name=ok,size=1M,colour=red", (const char *const[]){ "colour", NULL });
	parse_bad("mem:name=ok,name=a/b", (const char *const[]){ "a/b", NULL });
}

/* A message that does not fit the buffer is cut, never overrun. */
static void test_small_err_buffer(void)
{
	struct storage_spec spec;
	char err[24];

	memset(err, '#', sizeof(err));
	CHECK_INT(storage_spec_parse("foo:bar", &spec, err, 16), -EINVAL, "foo:bar, 16-byte err");
	CHECK(memchr(err, '\0', 16) != NULL, "message not terminated inside 16 bytes");
	for (size_t i = 16; i < sizeof(err); i++)
		CHECK(err[i] == '#', "err byte %zu written past errlen", i);
}

/* Run every case. */
int main(void)
{
	test_engines();
	test_sizes();
	test_valid_specs();
	test_bad_specs();
	test_small_err_buffer();
	return check_done("test-spec");
}
