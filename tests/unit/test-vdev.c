/* Unit test: xvd names and the xenstore device numbers they stand for. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "../../blkback/vdev.h"
#include "check.h"

#define EXT (1u << 28)

/* Fill buf with the name of disk index i (0 = xvda) in bijective base 26. */
static void index_name(uint32_t i, char *buf)
{
	char rev[8];
	int n = 0;

	for (i++; i; i = (i - 1) / 26)
		rev[n++] = (char)('a' + (i - 1) % 26);
	memcpy(buf, "xvd", 3);
	for (int k = 0; k < n; k++)
		buf[3 + k] = rev[n - 1 - k];
	buf[3 + n] = '\0';
}

/* The number Linux blkfront gives disk index i. */
static uint32_t index_number(uint32_t i)
{
	return i < 16 ? (202u << 8) | (i << 4) : EXT | (i << 8);
}

/* Well-known names map to their documented numbers, and back. */
static void test_known(void)
{
	static const struct { const char *name; uint32_t num; } tab[] = {
		{ "xvda", 51712 },
		{ "xvdb", 51728 },
		{ "xvdc", 51744 },
		{ "xvdp", 51952 },
		{ "xvdq", EXT | (16u << 8) },
		{ "xvdz", EXT | (25u << 8) },
		{ "xvdaa", EXT | (26u << 8) },
		{ "xvdaz", EXT | (51u << 8) },
		{ "xvdba", EXT | (52u << 8) },
		{ "xvdzz", EXT | (701u << 8) },
		{ "xvdaaa", EXT | (702u << 8) },
		{ "xvdzzzz", EXT | (475253u << 8) },
		{ "xvdaaaaa", EXT | (475254u << 8) },	/* five letters still fit 20 bits */
	};
	char buf[32];

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		uint32_t num = 0;

		CHECK_INT(vdev_number(tab[i].name, &num), 0, tab[i].name);
		CHECK_U64(num, tab[i].num, tab[i].name);
		memset(buf, 'X', sizeof(buf));
		vdev_name(tab[i].num, buf, sizeof(buf));
		CHECK(!strcmp(buf, tab[i].name), "vdev_name(%u) = '%s', want '%s'",
		      tab[i].num, buf, tab[i].name);
	}
}

/* Every name of one to four letters round-trips, and numbers grow with the index. */
static void test_round_trip(void)
{
	const uint32_t count = 26 + 26 * 26 + 26 * 26 * 26 + 26 * 26 * 26 * 26;
	char name[16], back[32];
	uint32_t prev = 0;
	int bad = 0;

	for (uint32_t i = 0; i < count && bad < 10; i++) {
		uint32_t num = 0;
		int ret;

		index_name(i, name);
		ret = vdev_number(name, &num);
		if (ret || num != index_number(i)) {
			CHECK(0, "vdev_number('%s') = %d, %u; want 0, %u", name, ret, num,
			      index_number(i));
			bad++;
			continue;
		}
		if (i > 0 && num <= prev) {
			CHECK(0, "'%s' number %u not above the previous %u", name, num, prev);
			bad++;
		}
		prev = num;
		vdev_name(num, back, sizeof(back));
		if (strcmp(back, name)) {
			CHECK(0, "vdev_name(%u) = '%s', want '%s'", num, back, name);
			bad++;
		}
	}
	CHECK(bad == 0, "%d round-trip failures", bad);
}

/* A plain decimal number passes through, and names as itself when not an xvd disk. */
static void test_numbers(void)
{
	static const struct { const char *text; uint32_t num; const char *name; } tab[] = {
		{ "51712", 51712, "xvda" },
		{ "51728", 51728, "xvdb" },
		{ "51713", 51713, "51713" },		/* xvda1: a partition */
		{ "768", 768, "768" },			/* hda */
		{ "2049", 2049, "2049" },		/* sda1 */
		{ "1", 1, "1" },
		{ "268439552", EXT | (16u << 8), "xvdq" },
		{ "268439553", EXT | (16u << 8) | 1, "268439553" },	/* xvdq1 */
		{ "4294967295", UINT32_MAX, "4294967295" },
		/* xvda in the extended scheme: not the name of 51712, so shown as a number */
		{ "268435456", EXT, "268435456" },
	};
	char buf[32];

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		uint32_t num = 0;

		CHECK_INT(vdev_number(tab[i].text, &num), 0, tab[i].text);
		CHECK_U64(num, tab[i].num, tab[i].text);
		vdev_name(tab[i].num, buf, sizeof(buf));
		CHECK(!strcmp(buf, tab[i].name), "vdev_name(%u) = '%s', want '%s'",
		      tab[i].num, buf, tab[i].name);
	}
}

/* Anything else is refused, and the output is left alone. */
static void test_rejects(void)
{
	static const char *const bad[] = {
		"", "xvd", "sda", "hda", "xvdA", "xvd1", "xvda1", "xvdb0", "0", "00",
		"xvdbzzzzz", "xvdzzzzzzzzz", "xvd-", "xvd ", " xvda", "xvda ", "XVDA",
		"-1", "+1", " 1", "1 ", "0x10", "4294967296", "99999999999999999999999",
		"xvda\n", "vda", "xv",
	};
	char longname[300];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t num = 12345;

		CHECK_INT(vdev_number(bad[i], &num), -EINVAL, bad[i]);
		CHECK_U64(num, 12345, bad[i]);
	}
	memcpy(longname, "xvd", 3);
	memset(longname + 3, 'a', sizeof(longname) - 4);
	longname[sizeof(longname) - 1] = '\0';
	uint32_t num = 12345;
	CHECK_INT(vdev_number(longname, &num), -EINVAL, "xvd + 296 letters");
	CHECK_U64(num, 12345, "xvd + 296 letters");
}

/* vdev_name never writes past the buffer it is given. */
static void test_name_truncation(void)
{
	char buf[16];

	memset(buf, '#', sizeof(buf));
	vdev_name(EXT | (702u << 8), buf, 5);	/* xvdaaa into 5 bytes */
	CHECK(buf[4] == '\0' && !strncmp(buf, "xvda", 4), "truncated name '%.5s'", buf);
	for (size_t i = 5; i < sizeof(buf); i++)
		CHECK(buf[i] == '#', "byte %zu past the buffer written", i);

	memset(buf, '#', sizeof(buf));
	vdev_name(4000000000u, buf, 4);
	CHECK(buf[3] == '\0' && !strncmp(buf, "400", 3), "truncated number '%.4s'", buf);
	for (size_t i = 4; i < sizeof(buf); i++)
		CHECK(buf[i] == '#', "byte %zu past the buffer written", i);
}

/* Run every case. */
int main(void)
{
	test_known();
	test_round_trip();
	test_numbers();
	test_rejects();
	test_name_truncation();
	return check_done("test-vdev");
}
