/* Unit test: blkif_parse() validation rules and blkif_status() mapping. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../../blkback/parse.h"
#include "check.h"

#define DISK_SECTORS 131072u	/* 64 MiB in 512-byte sectors */
#define GREF_BASE 1000u

static const struct blk_limits disk512 = { .nr_sectors = DISK_SECTORS, .sector_size = 512 };
static const struct blk_limits disk_ro = { .nr_sectors = DISK_SECTORS, .sector_size = 512,
					   .readonly = true };
static const struct blk_limits disk4k = { .nr_sectors = DISK_SECTORS, .sector_size = 4096 };
static const struct blk_limits disk_ind = { .nr_sectors = DISK_SECTORS, .sector_size = 512,
					    .max_indirect = BLK_MAX_SEGS };
static const struct blk_limits disk_ind_ro = { .nr_sectors = DISK_SECTORS, .sector_size = 512,
					       .max_indirect = BLK_MAX_SEGS, .readonly = true };

/* Build a request whose first min(nseg, 11) segments all span first..last. */
static blkif_request_t mkreq(uint8_t op, uint64_t id, uint64_t sector, unsigned int nseg,
			     uint8_t first, uint8_t last)
{
	blkif_request_t req;

	memset(&req, 0, sizeof(req));
	req.operation = op;
	req.nr_segments = (uint8_t)nseg;
	req.handle = 51712;
	req.id = id;
	req.sector_number = sector;
	for (unsigned int i = 0; i < nseg && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		req.seg[i].gref = GREF_BASE + i;
		req.seg[i].first_sect = first;
		req.seg[i].last_sect = last;
	}
	return req;
}

/* Parse a request that must be refused with err; check why, id, op and the status. */
static void expect_reject(const char *what, const blkif_request_t *req,
			  const struct blk_limits *lim, int err)
{
	struct blk_io io;
	const char *why = NULL;
	int ret;

	memset(&io, 0xa5, sizeof(io));
	ret = blkif_parse(req, lim, &io, &why);
	CHECK(ret == err, "%s: returned %d, want %d (why: %s)", what, ret, err,
	      why ? why : "(null)");
	CHECK(why != NULL, "%s: rejected without a reason", what);
	CHECK_U64(io.id, req->id, what);
	CHECK_INT(io.op, req->operation, what);
	CHECK_INT(blkif_status(ret), err == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR,
		  what);
}

/* Parse a request that must be accepted; returns the parsed io. */
static struct blk_io expect_accept(const char *what, const blkif_request_t *req,
				   const struct blk_limits *lim)
{
	struct blk_io io;
	const char *why = "not reset";
	int ret;

	memset(&io, 0xa5, sizeof(io));
	ret = blkif_parse(req, lim, &io, &why);
	CHECK(ret == 0, "%s: returned %d (why: %s)", what, ret, why ? why : "(null)");
	CHECK(why == NULL, "%s: accepted but why is '%s'", what, why);
	CHECK_INT(blkif_status(ret), BLKIF_RSP_OKAY, what);
	return io;
}

/* Check the scalar fields of a parsed io. */
static void check_io(const char *what, const struct blk_io *io, uint64_t id, uint8_t op,
		     unsigned int nr_segs, bool write, bool ordered, uint64_t sector,
		     uint64_t nr_sectors)
{
	CHECK_U64(io->id, id, what);
	CHECK_INT(io->op, op, what);
	CHECK_INT(io->nr_segs, nr_segs, what);
	CHECK(io->write == write, "%s: write is %d, want %d", what, io->write, write);
	CHECK(io->ordered == ordered, "%s: ordered is %d, want %d", what, io->ordered, ordered);
	CHECK_U64(io->sector, sector, what);
	CHECK_U64(io->nr_sectors, nr_sectors, what);
}

/* Check one parsed segment. */
static void check_seg(const char *what, const struct blk_io *io, unsigned int i,
		      grant_ref_t gref, unsigned int offset, unsigned int len)
{
	CHECK(io->seg[i].gref == gref && io->seg[i].offset == offset && io->seg[i].len == len,
	      "%s: seg[%u] is gref %u offset %u len %u, want gref %u offset %u len %u", what, i,
	      io->seg[i].gref, io->seg[i].offset, io->seg[i].len, gref, offset, len);
}


/* Opcodes that do not exist or are not advertised are refused as unsupported. */
static void test_unsupported_ops(void)
{
	static const uint8_t ops[] = { BLKIF_OP_RESERVED_1, BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT,
				       7, 8, 128, 255 };
	char what[64];

	for (size_t i = 0; i < sizeof(ops); i++) {
		blkif_request_t req = mkreq(ops[i], 0x1234567890abcdefull + i, 0, 1, 0, 7);

		snprintf(what, sizeof(what), "opcode %u", ops[i]);
		expect_reject(what, &req, &disk512, -EOPNOTSUPP);
		/* Unsupported wins over read-only: the frontend may retry without it. */
		expect_reject(what, &req, &disk_ro, -EOPNOTSUPP);
	}
}

/* Reads and writes need at least one segment and at most 11. */
static void test_segment_counts(void)
{
	static const uint8_t data_ops[] = { BLKIF_OP_READ, BLKIF_OP_WRITE,
					    BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_WRITE_BARRIER };
	blkif_request_t req;
	char what[64];

	req = mkreq(BLKIF_OP_READ, 1, 0, 0, 0, 0);
	expect_reject("read with 0 segments", &req, &disk512, -EINVAL);
	req = mkreq(BLKIF_OP_WRITE, 2, 0, 0, 0, 0);
	expect_reject("write with 0 segments", &req, &disk512, -EINVAL);
	req = mkreq(BLKIF_OP_READ, 3, 0, 0, 0, 0);
	expect_reject("read with 0 segments, read-only disk", &req, &disk_ro, -EINVAL);

	for (size_t i = 0; i < sizeof(data_ops); i++) {
		static const unsigned int counts[] = { 12, 13, 128, 255 };

		for (size_t j = 0; j < sizeof(counts) / sizeof(counts[0]); j++) {
			req = mkreq(data_ops[i], 100 + j, 0, counts[j], 0, 7);
			snprintf(what, sizeof(what), "op %u with %u segments", data_ops[i],
				 counts[j]);
			expect_reject(what, &req, &disk512, -EINVAL);
		}
	}
}

/* Each segment must lie in its page, be non-empty and in order. */
static void test_segment_bounds(void)
{
	blkif_request_t req;

	req = mkreq(BLKIF_OP_READ, 10, 0, 1, 5, 4);
	expect_reject("first_sect > last_sect", &req, &disk512, -EINVAL);
	req = mkreq(BLKIF_OP_READ, 11, 0, 1, 7, 0);
	expect_reject("first_sect 7 > last_sect 0", &req, &disk512, -EINVAL);
	req = mkreq(BLKIF_OP_WRITE, 12, 0, 1, 0, 8);
	expect_reject("last_sect 8", &req, &disk512, -EINVAL);
	req = mkreq(BLKIF_OP_WRITE, 13, 0, 1, 0, 255);
	expect_reject("last_sect 255", &req, &disk512, -EINVAL);
	req = mkreq(BLKIF_OP_READ, 14, 0, 1, 8, 8);
	expect_reject("first_sect 8 last_sect 8", &req, &disk512, -EINVAL);
	req = mkreq(BLKIF_OP_READ, 15, 0, 1, 255, 255);
	expect_reject("first_sect 255 last_sect 255", &req, &disk512, -EINVAL);
	req = mkreq(BLKIF_OP_FLUSH_DISKCACHE, 16, 0, 2, 0, 8);
	expect_reject("flush with data, last_sect 8", &req, &disk512, -EINVAL);

	/* Only the last of 11 segments is bad: every segment must be checked. */
	req = mkreq(BLKIF_OP_WRITE, 17, 0, 11, 0, 7);
	req.seg[10].last_sect = 8;
	expect_reject("11th segment last_sect 8", &req, &disk512, -EINVAL);
	req = mkreq(BLKIF_OP_READ, 18, 0, 11, 0, 7);
	req.seg[10].first_sect = 6;
	req.seg[10].last_sect = 5;
	expect_reject("11th segment first > last", &req, &disk512, -EINVAL);
}

/* A request must lie wholly inside the disk, without arithmetic wrap-around. */
static void test_disk_bounds(void)
{
	blkif_request_t req;

	req = mkreq(BLKIF_OP_READ, 20, DISK_SECTORS, 1, 0, 0);
	expect_reject("read starting at the end", &req, &disk512, -EINVAL);
	req = mkreq(BLKIF_OP_READ, 21, DISK_SECTORS + 1, 1, 0, 0);
	expect_reject("read starting past the end", &req, &disk512, -EINVAL);
	req = mkreq(BLKIF_OP_WRITE, 22, 1ull << 40, 1, 0, 7);
	expect_reject("write far past the end", &req, &disk512, -EINVAL);
	req = mkreq(BLKIF_OP_READ, 23, DISK_SECTORS - 7, 1, 0, 7);
	expect_reject("8 sectors ending one past the end", &req, &disk512, -EINVAL);
	req = mkreq(BLKIF_OP_WRITE, 24, DISK_SECTORS - 88 + 1, 11, 0, 7);
	expect_reject("11 pages ending one past the end", &req, &disk512, -EINVAL);
	req = mkreq(BLKIF_OP_WRITE_BARRIER, 25, DISK_SECTORS, 1, 0, 0);
	expect_reject("barrier with data at the end", &req, &disk512, -EINVAL);

	req = mkreq(BLKIF_OP_READ, 26, UINT64_MAX, 1, 0, 0);
	expect_reject("sector 2^64-1", &req, &disk512, -EINVAL);
	req = mkreq(BLKIF_OP_READ, 27, UINT64_MAX - 7, 1, 0, 7);
	expect_reject("sector 2^64-8, 8 sectors (wraps to 0)", &req, &disk512, -EINVAL);
	req = mkreq(BLKIF_OP_WRITE, 28, UINT64_MAX - 7, 11, 0, 7);
	expect_reject("sector 2^64-8, 88 sectors (wraps past 0)", &req, &disk512, -EINVAL);
	req = mkreq(BLKIF_OP_READ, 29, UINT64_MAX - 7, 1, 0, 7);
	expect_reject("sector 2^64-8 on the 4K disk", &req, &disk4k, -EINVAL);

	/* A disk whose size is near 2^64 must not let a request wrap either. */
	struct blk_limits huge = { .nr_sectors = UINT64_MAX - 3, .sector_size = 512 };
	req = mkreq(BLKIF_OP_READ, 30, UINT64_MAX - 7, 1, 0, 7);
	expect_reject("8 sectors past the end of a 2^64-3 sector disk", &req, &huge, -EINVAL);
}

/* A read-only disk refuses anything that writes or orders, and serves reads. */
static void test_readonly(void)
{
	blkif_request_t req;
	struct blk_io io;

	req = mkreq(BLKIF_OP_WRITE, 40, 0, 1, 0, 7);
	expect_reject("write on read-only", &req, &disk_ro, -EROFS);
	req = mkreq(BLKIF_OP_WRITE, 41, 0, 11, 0, 7);
	expect_reject("11-segment write on read-only", &req, &disk_ro, -EROFS);
	req = mkreq(BLKIF_OP_FLUSH_DISKCACHE, 42, 0, 0, 0, 0);
	expect_reject("flush without data on read-only", &req, &disk_ro, -EROFS);
	req = mkreq(BLKIF_OP_FLUSH_DISKCACHE, 43, 0, 2, 0, 7);
	expect_reject("flush with data on read-only", &req, &disk_ro, -EROFS);
	req = mkreq(BLKIF_OP_WRITE_BARRIER, 44, 0, 0, 0, 0);
	expect_reject("barrier without data on read-only", &req, &disk_ro, -EROFS);
	req = mkreq(BLKIF_OP_WRITE_BARRIER, 45, 0, 3, 0, 7);
	expect_reject("barrier with data on read-only", &req, &disk_ro, -EROFS);

	req = mkreq(BLKIF_OP_READ, 46, 8, 2, 0, 7);
	io = expect_accept("read on read-only", &req, &disk_ro);
	check_io("read on read-only", &io, 46, BLKIF_OP_READ, 2, false, false, 8, 16);
	check_seg("read on read-only", &io, 0, GREF_BASE, 0, 4096);
	check_seg("read on read-only", &io, 1, GREF_BASE + 1, 0, 4096);
}

/* On a 4096-byte-sector disk every segment and the start must be 8-sector aligned. */
static void test_4k_alignment(void)
{
	blkif_request_t req;
	struct blk_io io;

	req = mkreq(BLKIF_OP_READ, 50, 8, 1, 1, 7);
	expect_reject("4K: first_sect 1", &req, &disk4k, -EINVAL);
	req = mkreq(BLKIF_OP_READ, 51, 8, 1, 0, 6);
	expect_reject("4K: last_sect 6", &req, &disk4k, -EINVAL);
	req = mkreq(BLKIF_OP_WRITE, 52, 1, 1, 0, 7);
	expect_reject("4K: sector_number 1", &req, &disk4k, -EINVAL);
	req = mkreq(BLKIF_OP_WRITE, 53, 4, 1, 0, 7);
	expect_reject("4K: sector_number 4", &req, &disk4k, -EINVAL);
	req = mkreq(BLKIF_OP_READ, 54, 8, 1, 0, 0);
	expect_reject("4K: one 512-byte sector", &req, &disk4k, -EINVAL);
	req = mkreq(BLKIF_OP_READ, 55, 8, 3, 0, 7);
	req.seg[2].first_sect = 4;
	expect_reject("4K: third segment first_sect 4", &req, &disk4k, -EINVAL);

	req = mkreq(BLKIF_OP_READ, 56, 8, 1, 0, 7);
	io = expect_accept("4K: 0..7 at sector 8", &req, &disk4k);
	check_io("4K: 0..7 at sector 8", &io, 56, BLKIF_OP_READ, 1, false, false, 8, 8);
	check_seg("4K: 0..7 at sector 8", &io, 0, GREF_BASE, 0, 4096);

	req = mkreq(BLKIF_OP_WRITE, 57, DISK_SECTORS - 8, 1, 0, 7);
	io = expect_accept("4K: last 4K sector", &req, &disk4k);
	check_io("4K: last 4K sector", &io, 57, BLKIF_OP_WRITE, 1, true, false,
		 DISK_SECTORS - 8, 8);
}

/* Valid edge cases: every output field is as the request says. */
static void test_valid_edges(void)
{
	blkif_request_t req;
	struct blk_io io;

	/* The very last sector of the disk. */
	req = mkreq(BLKIF_OP_READ, 0xfeedfacecafebeefull, DISK_SECTORS - 1, 1, 3, 3);
	io = expect_accept("read of the last sector", &req, &disk512);
	check_io("read of the last sector", &io, 0xfeedfacecafebeefull, BLKIF_OP_READ, 1,
		 false, false, DISK_SECTORS - 1, 1);
	check_seg("read of the last sector", &io, 0, GREF_BASE, 3 * 512, 512);

	/* 11 full pages ending exactly at the end of the disk. */
	req = mkreq(BLKIF_OP_WRITE, 61, DISK_SECTORS - 88, 11, 0, 7);
	io = expect_accept("11 pages to the end", &req, &disk512);
	check_io("11 pages to the end", &io, 61, BLKIF_OP_WRITE, 11, true, false,
		 DISK_SECTORS - 88, 88);
	for (unsigned int i = 0; i < 11; i++)
		check_seg("11 pages to the end", &io, i, GREF_BASE + i, 0, 4096);

	/* Single-sector segments at the end of their pages. */
	req = mkreq(BLKIF_OP_WRITE, 62, 1000, 5, 7, 7);
	io = expect_accept("single sectors at first_sect 7", &req, &disk512);
	check_io("single sectors at first_sect 7", &io, 62, BLKIF_OP_WRITE, 5, true, false,
		 1000, 5);
	for (unsigned int i = 0; i < 5; i++)
		check_seg("single sectors at first_sect 7", &io, i, GREF_BASE + i, 3584, 512);

	/* Mixed segment shapes add up. */
	req = mkreq(BLKIF_OP_READ, 63, 77, 3, 0, 7);
	req.seg[0].first_sect = 2;
	req.seg[1].last_sect = 0;
	req.seg[2].first_sect = 5;
	req.seg[2].last_sect = 6;
	req.seg[2].gref = 0xffffffffu;
	io = expect_accept("mixed segments", &req, &disk512);
	check_io("mixed segments", &io, 63, BLKIF_OP_READ, 3, false, false, 77, 6 + 1 + 2);
	check_seg("mixed segments", &io, 0, GREF_BASE, 1024, 3072);
	check_seg("mixed segments", &io, 1, GREF_BASE + 1, 0, 512);
	check_seg("mixed segments", &io, 2, 0xffffffffu, 2560, 1024);

	/* A pure flush: an ordering point with no range, whatever sector_number says. */
	req = mkreq(BLKIF_OP_FLUSH_DISKCACHE, 64, 12345, 0, 0, 0);
	io = expect_accept("flush without data", &req, &disk512);
	check_io("flush without data", &io, 64, BLKIF_OP_FLUSH_DISKCACHE, 0, false, true, 0, 0);

	req = mkreq(BLKIF_OP_WRITE_BARRIER, 65, UINT64_MAX, 0, 0, 0);
	io = expect_accept("barrier without data, sector 2^64-1", &req, &disk512);
	check_io("barrier without data, sector 2^64-1", &io, 65, BLKIF_OP_WRITE_BARRIER, 0,
		 false, true, 0, 0);

	/* Flush and barrier with data: ordered writes. */
	req = mkreq(BLKIF_OP_WRITE_BARRIER, 66, 4096, 2, 0, 7);
	io = expect_accept("barrier with data", &req, &disk512);
	check_io("barrier with data", &io, 66, BLKIF_OP_WRITE_BARRIER, 2, true, true, 4096, 16);
	check_seg("barrier with data", &io, 0, GREF_BASE, 0, 4096);
	check_seg("barrier with data", &io, 1, GREF_BASE + 1, 0, 4096);

	req = mkreq(BLKIF_OP_FLUSH_DISKCACHE, 67, DISK_SECTORS - 88, 11, 0, 7);
	io = expect_accept("flush with 11 pages of data to the end", &req, &disk512);
	check_io("flush with 11 pages of data to the end", &io, 67, BLKIF_OP_FLUSH_DISKCACHE,
		 11, true, true, DISK_SECTORS - 88, 88);

	/* Sector 0, and a 4K-aligned request on the 512-byte disk. */
	req = mkreq(BLKIF_OP_READ, 0, 0, 1, 0, 0);
	io = expect_accept("read of sector 0", &req, &disk512);
	check_io("read of sector 0", &io, 0, BLKIF_OP_READ, 1, false, false, 0, 1);
	check_seg("read of sector 0", &io, 0, GREF_BASE, 0, 512);
}

/* Parse and storage errors map to the protocol status codes. */
static void test_status(void)
{
	CHECK_INT(blkif_status(0), BLKIF_RSP_OKAY, "status(0)");
	CHECK_INT(blkif_status(4096), BLKIF_RSP_OKAY, "status(4096)");
	CHECK_INT(blkif_status(-EOPNOTSUPP), BLKIF_RSP_EOPNOTSUPP, "status(-EOPNOTSUPP)");
	CHECK_INT(blkif_status(-EINVAL), BLKIF_RSP_ERROR, "status(-EINVAL)");
	CHECK_INT(blkif_status(-EROFS), BLKIF_RSP_ERROR, "status(-EROFS)");
	CHECK_INT(blkif_status(-EIO), BLKIF_RSP_ERROR, "status(-EIO)");
	CHECK_INT(blkif_status(-ENOSPC), BLKIF_RSP_ERROR, "status(-ENOSPC)");
}

/* Build a discard request of nr sectors from sector. */
static blkif_request_t mkdiscard(uint64_t id, uint64_t sector, uint64_t nr, uint8_t flag)
{
	blkif_request_t req;
	blkif_request_discard_t *d = (blkif_request_discard_t *)&req;

	memset(&req, 0, sizeof(req));
	d->operation = BLKIF_OP_DISCARD;
	d->flag = flag;
	d->id = id;
	d->sector_number = sector;
	d->nr_sectors = nr;
	return req;
}

/* Discard: offered or not, read-only, range, wrap-around, alignment, the secure flag. */
static void test_discard(void)
{
	struct blk_limits lim = disk512, sec = disk512, ro = disk_ro, l4k = disk4k;
	blkif_request_t req;
	struct blk_io io;

	lim.discard = sec.discard = ro.discard = l4k.discard = true;
	sec.secure_discard = true;
	req = mkdiscard(1, 0, 8, 0);
	expect_reject("discard not offered", &req, &disk512, -EOPNOTSUPP);
	expect_reject("discard on read-only", &req, &ro, -EROFS);
	req = mkdiscard(2, DISK_SECTORS - 8, 9, 0);
	expect_reject("discard one past the end", &req, &lim, -EINVAL);
	req = mkdiscard(3, DISK_SECTORS + 1, 0, 0);
	expect_reject("empty discard past the end", &req, &lim, -EINVAL);
	req = mkdiscard(4, 8, UINT64_MAX - 7, 0);
	expect_reject("discard wrapping around", &req, &lim, -EINVAL);
	req = mkdiscard(5, UINT64_MAX, 1, 0);
	expect_reject("discard at sector 2^64-1", &req, &lim, -EINVAL);
	req = mkdiscard(6, 4, 8, 0);
	expect_reject("discard at an unaligned sector on a 4K disk", &req, &l4k, -EINVAL);
	req = mkdiscard(7, 8, 4, 0);
	expect_reject("discard of an unaligned length on a 4K disk", &req, &l4k, -EINVAL);

	req = mkdiscard(10, 0, DISK_SECTORS, BLKIF_DISCARD_SECURE);
	io = expect_accept("discard of the whole disk, secure not offered", &req, &lim);
	check_io("whole-disk discard", &io, 10, BLKIF_OP_DISCARD, 0, false, false, 0, DISK_SECTORS);
	CHECK(io.discard && !io.secure, "whole-disk discard: discard %d secure %d", io.discard,
	      io.secure);
	io = expect_accept("secure discard where offered", &req, &sec);
	CHECK(io.discard && io.secure, "secure discard: discard %d secure %d", io.discard, io.secure);
	req = mkdiscard(11, DISK_SECTORS - 8, 8, 0x80);
	io = expect_accept("discard of the last 8 sectors, unknown flag bits", &req, &l4k);
	check_io("last-sectors discard", &io, 11, BLKIF_OP_DISCARD, 0, false, false,
		 DISK_SECTORS - 8, 8);
	CHECK(!io.secure, "unknown flag bits made the discard secure");
	req = mkdiscard(12, DISK_SECTORS, 0, 0);
	io = expect_accept("empty discard at the end", &req, &lim);
	CHECK_U64(io.nr_sectors, 0, "empty discard");
}

/* An indirect request header of nseg segments in one indirect page, ref GREF_BASE. */
static blkif_request_t mkindirect(uint8_t inner, uint64_t id, uint64_t sector, uint16_t nseg)
{
	blkif_request_t req;
	blkif_request_indirect_t *ind = (blkif_request_indirect_t *)&req;

	memset(&req, 0, sizeof(req));
	ind->operation = BLKIF_OP_INDIRECT;
	ind->indirect_op = inner;
	ind->nr_segments = nseg;
	ind->id = id;
	ind->sector_number = sector;
	ind->indirect_grefs[0] = GREF_BASE;
	ind->indirect_grefs[1] = 0xdeadbeef;	/* beyond nr_indirect: never used */
	return req;
}

/* Indirect headers: inner op, segment count, read-only; answered with the inner op. */
static void test_indirect_header(void)
{
	static const uint16_t bad_counts[] = { 0, 257, 512, 65535 };
	static const uint8_t bad_inner[] = { BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_WRITE_BARRIER,
					     BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT, 9, 255 };
	const char *why;
	struct blk_io io;
	blkif_request_t req;
	char what[64];

	req = mkindirect(BLKIF_OP_READ, 77, 0, 12);
	CHECK_INT(blkif_parse(&req, &disk512, &io, &why), -EOPNOTSUPP, "indirect");
	CHECK_INT(io.op, BLKIF_OP_INDIRECT, "indirect not offered: answered as sent");
	for (size_t i = 0; i < sizeof(bad_counts) / sizeof(bad_counts[0]); i++) {
		req = mkindirect(BLKIF_OP_WRITE, 78, 0, bad_counts[i]);
		snprintf(what, sizeof(what), "indirect with %u segments", bad_counts[i]);
		CHECK(blkif_parse(&req, &disk_ind, &io, &why) == -EINVAL && why, "%s accepted", what);
		CHECK_INT(io.op, BLKIF_OP_WRITE, what);
	}
	for (size_t i = 0; i < sizeof(bad_inner); i++) {
		req = mkindirect(bad_inner[i], 79, 0, 8);
		snprintf(what, sizeof(what), "indirect with inner op %u", bad_inner[i]);
		CHECK(blkif_parse(&req, &disk_ind, &io, &why) == -EINVAL && why, "%s accepted", what);
	}
	req = mkindirect(BLKIF_OP_WRITE, 80, 0, 8);
	CHECK_INT(blkif_parse(&req, &disk_ind_ro, &io, &why), -EROFS, "indirect");
	req = mkindirect(BLKIF_OP_READ, 81, 8, 256);
	CHECK_INT(blkif_parse(&req, &disk_ind_ro, &io, &why), 0, "indirect");
	CHECK(io.indirect && io.nr_segs == 256 && io.nr_indirect == 1 && io.op == BLKIF_OP_READ &&
	      !io.write && io.indirect_grefs[0] == GREF_BASE && io.id == 81,
	      "256-segment indirect read header parsed wrong");
	/* 12 segments, fewer than 11 would need, are fine too: Linux blkback allows them. */
	req = mkindirect(BLKIF_OP_WRITE, 82, 0, 1);
	CHECK_INT(blkif_parse(&req, &disk_ind, &io, &why), 0, "indirect");
}

/* Indirect segments: the same per-segment rules, then the range over all of them. */
static void test_indirect_segments(void)
{
	struct blkif_request_segment segs[BLK_MAX_SEGS];
	blkif_request_t req;
	struct blk_io io;
	const char *why;

	for (unsigned int i = 0; i < BLK_MAX_SEGS; i++)
		segs[i] = (struct blkif_request_segment){ .gref = GREF_BASE + i, .first_sect = 0,
							  .last_sect = 7 };
	req = mkindirect(BLKIF_OP_READ, 90, 2048, 256);
	CHECK_INT(blkif_parse(&req, &disk_ind, &io, &why), 0, "indirect");
	CHECK_INT(blkif_parse_indirect(segs, &disk_ind, &io, &why), 0, "indirect");
	CHECK_U64(io.nr_sectors, 2048, "1 MiB indirect read");
	CHECK_U64(io.sector, 2048, "1 MiB indirect read");
	check_seg("last indirect segment", &io, 255, GREF_BASE + 255, 0, 4096);

	segs[200].last_sect = 8;
	CHECK(blkif_parse(&req, &disk_ind, &io, &why) == 0 &&
	      blkif_parse_indirect(segs, &disk_ind, &io, &why) == -EINVAL && why,
	      "indirect segment with last_sect 8 accepted");
	segs[200].last_sect = 7;
	segs[17].first_sect = 5;
	segs[17].last_sect = 4;
	CHECK(blkif_parse(&req, &disk_ind, &io, &why) == 0 &&
	      blkif_parse_indirect(segs, &disk_ind, &io, &why) == -EINVAL && why,
	      "indirect segment with first_sect > last_sect accepted");
	segs[17].first_sect = 0;
	segs[17].last_sect = 7;
	/* Ends one sector past the disk; and one whose start wraps around. */
	req = mkindirect(BLKIF_OP_READ, 91, DISK_SECTORS - 2047, 256);
	CHECK(blkif_parse(&req, &disk_ind, &io, &why) == 0 &&
	      blkif_parse_indirect(segs, &disk_ind, &io, &why) == -EINVAL && why,
	      "indirect read past the end accepted");
	req = mkindirect(BLKIF_OP_READ, 92, UINT64_MAX - 100, 256);
	CHECK(blkif_parse(&req, &disk_ind, &io, &why) == 0 &&
	      blkif_parse_indirect(segs, &disk_ind, &io, &why) == -EINVAL && why,
	      "indirect read wrapping around accepted");
}

/* Run every case. */
int main(void)
{
	test_indirect_header();
	test_indirect_segments();
	test_discard();
	test_unsupported_ops();
	test_segment_counts();
	test_segment_bounds();
	test_disk_bounds();
	test_readonly();
	test_4k_alignment();
	test_valid_edges();
	test_status();
	return check_done("test-parse");
}
