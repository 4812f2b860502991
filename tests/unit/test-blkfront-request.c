/*
 * Unit test: blkfront's ring requests and their arithmetic: the indirect segments picked,
 * indirect pages per request, the slot count that fits gntalloc's 1024 pages, and the
 * requests built from a slot: direct, indirect (the descriptors in the indirect page),
 * flush, discard, and every request refused.
 */
#include <errno.h>
#include <string.h>

#include "../../tools/blkfront/request.h"
#include "check.h"

#define DISK (64ull << 20)
#define SENTINEL 0xdeadbeefu

static grant_ref_t data_refs[BLKFRONT_MAX_INDIRECT], ind_refs[8];
static struct blkif_request_segment ind[2 * BLKFRONT_SEGS_PER_INDIRECT_PAGE];

/* A geometry of a 64 MiB disk of 512-byte sectors with indirect_segs segments. */
static struct bf_geom geom(unsigned int indirect_segs, bool always)
{
	return (struct bf_geom){
		.disk_bytes = DISK, .sector_size = 512, .handle = 51728,
		.slot_pages = bf_slot_pages(indirect_segs), .indirect_segs = indirect_segs,
		.indirect_always = always,
	};
}

/* Fill the grant refs with recognisable values and the indirect pages with a sentinel. */
static void reset(void)
{
	for (unsigned int i = 0; i < BLKFRONT_MAX_INDIRECT; i++)
		data_refs[i] = 1000 + i;
	for (unsigned int i = 0; i < 8; i++)
		ind_refs[i] = 9000 + i;
	for (size_t i = 0; i < sizeof(ind) / sizeof(ind[0]); i++)
		ind[i] = (struct blkif_request_segment){ .gref = SENTINEL, .first_sect = 0xee,
							 .last_sect = 0xee };
}

/* Build with the test's refs and pages. */
static int build(const struct bf_geom *g, uint8_t op, uint64_t off, uint32_t len,
		 blkif_request_t *out)
{
	return bf_request_build(g, 77, op, off, len, data_refs, ind_refs, ind, out);
}

/* Check n segments describe the slot's pages for len bytes: whole pages, last partial. */
static void check_segs(const struct blkif_request_segment *s, unsigned int n, uint32_t len,
		       const char *what)
{
	for (unsigned int k = 0; k < n; k++) {
		uint32_t left = len - k * BLKFRONT_PAGE_SIZE;
		uint32_t bytes = left < BLKFRONT_PAGE_SIZE ? left : BLKFRONT_PAGE_SIZE;

		CHECK(s[k].gref == data_refs[k], "%s: segment %u gref %u", what, k, s[k].gref);
		CHECK(s[k].first_sect == 0, "%s: segment %u first_sect %u", what, k,
		      s[k].first_sect);
		CHECK(s[k].last_sect == bytes / 512 - 1, "%s: segment %u last_sect %u, want %u",
		      what, k, s[k].last_sect, bytes / 512 - 1);
	}
}

/* The segments picked from what we ask and what the backend offers. */
static void test_pick(void)
{
	static const struct { int want; unsigned int backend, got; } cases[] = {
		{ -1, 0, 0 }, { -1, 256, 32 }, { -1, 16, 16 }, { -1, 4096, 32 },
		{ 0, 256, 0 }, { 100, 256, 100 }, { 1000, 256, 256 }, { 1000, 4096, 256 },
		{ 300, 128, 128 }, { 8, 256, 8 }, { 256, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_INT(bf_pick_indirect(cases[i].want, cases[i].backend), cases[i].got,
			  "bf_pick_indirect");
}

/* ceil(segs / 512) indirect pages; max(11, segs) data pages. */
static void test_pages(void)
{
	static const unsigned int segs[] = { 0, 1, 11, 256, 511, 512, 513, 1024, 4096 };
	static const unsigned int pages[] = { 0, 1, 1, 1, 1, 1, 2, 2, 8 };

	CHECK_INT(BLKFRONT_SEGS_PER_INDIRECT_PAGE, 512, "descriptors per indirect page");
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
		CHECK_INT(bf_indirect_pages(segs[i]), pages[i], "bf_indirect_pages");
	CHECK_INT(bf_slot_pages(0), 11, "slot pages without indirect");
	CHECK_INT(bf_slot_pages(8), 11, "slot pages with fewer indirect segments than 11");
	CHECK_INT(bf_slot_pages(32), 32, "slot pages with 32 segments");
	CHECK_INT(bf_slot_pages(256), 256, "slot pages with 256 segments");
}

/* Default slots: within the ring, 64 and gntalloc's 1024 pages, and no fewer than fit. */
static void test_default_slots(void)
{
	CHECK_INT(bf_default_slots(512, 16, 11), 64, "direct, order 4");
	CHECK_INT(bf_default_slots(32, 1, 11), 32, "direct, order 0: the ring");
	CHECK_INT(bf_default_slots(512, 16, 33), 30, "32 segments, order 4");
	CHECK_INT(bf_default_slots(512, 64, 33), 29, "32 segments, 4 queues of order 4");
	CHECK_INT(bf_default_slots(512, 16, 257), 3, "256 segments, order 4");
	CHECK_INT(bf_default_slots(512, 1024, 11), 1, "no room at all: still one");
	CHECK_INT(bf_default_slots(512, 2000, 11), 1, "ring pages beyond the limit");
	for (unsigned int order = 0; order <= 4; order++) {
		for (unsigned int queues = 1; queues <= 16; queues++) {
			static const unsigned int per[] = { 11, 12, 33, 65, 129, 257 };

			for (size_t i = 0; i < sizeof(per) / sizeof(per[0]); i++) {
				unsigned int ring = 32u << order, rp = queues << order;
				unsigned int n = bf_default_slots(ring, rp, per[i]);
				unsigned int cap = ring < 64 ? ring : 64;

				CHECK(n >= 1 && n <= cap, "order %u queues %u: %u slots", order,
				      queues, n);
				CHECK(n == 1 || n * per[i] + rp <= BLKFRONT_GNTALLOC_LIMIT,
				      "order %u queues %u pages %u: %u slots do not fit", order,
				      queues, per[i], n);
				CHECK(n == cap || (n + 1) * per[i] + rp > BLKFRONT_GNTALLOC_LIMIT,
				      "order %u queues %u pages %u: %u slots, more would fit", order,
				      queues, per[i], n);
			}
		}
	}
}

/* Direct reads and writes: up to 11 segments, whole pages then a partial one. */
static void test_direct(void)
{
	struct bf_geom g = geom(0, false);
	blkif_request_t r;

	reset();
	CHECK_INT(build(&g, BLKIF_OP_WRITE, 1 << 20, 44 << 10, &r), 0, "44k write");
	CHECK_INT(r.operation, BLKIF_OP_WRITE, "operation");
	CHECK_INT(r.nr_segments, 11, "segments");
	CHECK_U64(r.id, 77, "id");
	CHECK_INT(r.handle, 51728, "handle");
	CHECK_U64(r.sector_number, 2048, "sector");
	check_segs(r.seg, 11, 44 << 10, "44k write");
	CHECK_INT(build(&g, BLKIF_OP_READ, 512, 4608, &r), 0, "4608-byte read");
	CHECK_INT(r.operation, BLKIF_OP_READ, "operation");
	CHECK_INT(r.nr_segments, 2, "segments");
	CHECK_U64(r.sector_number, 1, "sector");
	check_segs(r.seg, 2, 4608, "4608-byte read");
	CHECK(ind[0].gref == SENTINEL, "a direct request wrote the indirect page");
	/* One page more than direct carries, with no indirect descriptors: refused. */
	CHECK_INT(build(&g, BLKIF_OP_READ, 0, 48 << 10, &r), -EINVAL, "48k without indirect");
}

/* Indirect: above 11 pages, or with indirect_always any that fits indirect_segs. */
static void test_indirect(void)
{
	struct bf_geom g = geom(256, false);
	blkif_request_indirect_t ri;
	blkif_request_t r;

	reset();
	CHECK_INT(build(&g, BLKIF_OP_READ, 8 << 20, 1 << 20, &r), 0, "1 MiB read");
	memcpy(&ri, &r, sizeof(ri));
	CHECK_INT(ri.operation, BLKIF_OP_INDIRECT, "operation");
	CHECK_INT(ri.indirect_op, BLKIF_OP_READ, "indirect_op");
	CHECK_INT(ri.nr_segments, 256, "segments");
	CHECK_U64(ri.id, 77, "id");
	CHECK_INT(ri.handle, 51728, "handle");
	CHECK_U64(ri.sector_number, 16384, "sector");
	CHECK_INT(ri.indirect_grefs[0], 9000, "indirect page 0's ref");
	for (unsigned int k = 1; k < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; k++)
		CHECK_INT(ri.indirect_grefs[k], 0, "unused indirect_grefs");
	check_segs(ind, 256, 1 << 20, "1 MiB read's indirect page");
	CHECK(ind[256].gref == SENTINEL, "descriptor 256 written");
	/* The rest of the ring slot stays zero: no bytes of an earlier request. */
	for (size_t i = sizeof(ri); i < sizeof(r); i++)
		CHECK(((unsigned char *)&r)[i] == 0, "byte %zu of the slot not zero", i);

	reset();
	CHECK_INT(build(&g, BLKIF_OP_WRITE, 0, 12 * 4096 - 512, &r), 0, "12-page write");
	memcpy(&ri, &r, sizeof(ri));
	CHECK_INT(ri.operation, BLKIF_OP_INDIRECT, "12 pages go indirect");
	CHECK_INT(ri.indirect_op, BLKIF_OP_WRITE, "indirect_op");
	CHECK_INT(ri.nr_segments, 12, "segments");
	check_segs(ind, 12, 12 * 4096 - 512, "12-page write");
	CHECK(ind[12].gref == SENTINEL, "descriptor 12 written");

	reset();
	CHECK_INT(build(&g, BLKIF_OP_WRITE, 0, 11 * 4096, &r), 0, "11-page write");
	CHECK_INT(r.operation, BLKIF_OP_WRITE, "11 pages stay direct without always");
	CHECK(ind[0].gref == SENTINEL, "a direct request wrote the indirect page");
	CHECK_INT(build(&g, BLKIF_OP_READ, 0, (1 << 20) + 4096, &r), -EINVAL, "257 pages");

	g = geom(256, true);
	CHECK_INT(build(&g, BLKIF_OP_READ, 4096, 512, &r), 0, "512-byte read, always");
	memcpy(&ri, &r, sizeof(ri));
	CHECK_INT(ri.operation, BLKIF_OP_INDIRECT, "always: one sector goes indirect");
	CHECK_INT(ri.indirect_op, BLKIF_OP_READ, "indirect_op");
	CHECK_INT(ri.nr_segments, 1, "segments");
	CHECK_INT(ind[0].last_sect, 0, "last_sect of a one-sector segment");

	/* Fewer indirect segments than 11: what fits goes indirect with always, the rest
	 * direct, and nothing above 11 pages. */
	g = geom(8, true);
	CHECK_INT(g.slot_pages, 11, "slot pages");
	CHECK_INT(build(&g, BLKIF_OP_WRITE, 0, 8 * 4096, &r), 0, "8 pages of 8");
	CHECK_INT(r.operation, BLKIF_OP_INDIRECT, "8 pages go indirect");
	CHECK_INT(build(&g, BLKIF_OP_WRITE, 0, 10 * 4096, &r), 0, "10 pages of 8");
	CHECK_INT(r.operation, BLKIF_OP_WRITE, "10 pages do not fit 8: direct");
	CHECK_INT(r.nr_segments, 10, "segments");
	CHECK_INT(build(&g, BLKIF_OP_WRITE, 0, 12 * 4096, &r), -EINVAL, "12 pages of 8");
}

/* Flush and barrier stay direct; discard has no segments; bad requests are refused. */
static void test_other_ops(void)
{
	struct bf_geom g = geom(256, true);
	blkif_request_discard_t d;
	blkif_request_t r;

	reset();
	CHECK_INT(build(&g, BLKIF_OP_FLUSH_DISKCACHE, 0, 0, &r), 0, "empty flush");
	CHECK_INT(r.operation, BLKIF_OP_FLUSH_DISKCACHE, "flush stays direct");
	CHECK_INT(r.nr_segments, 0, "segments");
	CHECK_U64(r.sector_number, 0, "sector");
	CHECK_INT(build(&g, BLKIF_OP_WRITE_BARRIER, 4096, 8192, &r), 0, "barrier with data");
	CHECK_INT(r.operation, BLKIF_OP_WRITE_BARRIER, "barrier stays direct");
	CHECK_INT(r.nr_segments, 2, "segments");
	CHECK_INT(build(&g, BLKIF_OP_FLUSH_DISKCACHE, 0, 12 * 4096, &r), -EINVAL,
		  "a flush above 11 pages cannot go indirect");
	CHECK(ind[0].gref == SENTINEL, "a flush wrote the indirect page");

	CHECK_INT(build(&g, BLKIF_OP_DISCARD, 1 << 20, 32 << 20, &r), 0, "discard");
	memcpy(&d, &r, sizeof(d));
	CHECK_INT(d.operation, BLKIF_OP_DISCARD, "operation");
	CHECK_U64(d.sector_number, 2048, "sector");
	CHECK_U64(d.nr_sectors, 65536, "sectors");
	CHECK_INT(d.flag, 0, "flag");
	CHECK_INT(build(&g, BLKIF_OP_DISCARD, 0, 0, &r), -EINVAL, "empty discard");

	CHECK_INT(build(&g, BLKIF_OP_READ, 0, 0, &r), -EINVAL, "empty read");
	CHECK_INT(build(&g, BLKIF_OP_READ, 100, 512, &r), -EINVAL, "misaligned offset");
	CHECK_INT(build(&g, BLKIF_OP_READ, 0, 700, &r), -EINVAL, "misaligned length");
	CHECK_INT(build(&g, BLKIF_OP_READ, DISK - 512, 1024, &r), -EINVAL, "past the end");
	CHECK_INT(build(&g, BLKIF_OP_READ, DISK + 512, 512, &r), -EINVAL, "beyond the end");
	CHECK_INT(build(&g, BLKIF_OP_DISCARD, DISK - 512, 1024, &r), -EINVAL,
		  "discard past the end");
	CHECK_INT(build(&g, BLKIF_OP_INDIRECT, 0, 4096, &r), -EINVAL, "INDIRECT as an op");
	CHECK_INT(build(&g, 99, 0, 4096, &r), -EINVAL, "unknown op");
	g.sector_size = 4096;
	CHECK_INT(build(&g, BLKIF_OP_READ, 0, 512, &r), -EINVAL, "512 bytes of a 4k disk");
	CHECK_INT(build(&g, BLKIF_OP_READ, 4096, 8192, &r), 0, "8k of a 4k disk");
	CHECK_U64(r.sector_number, 8, "sector numbers stay in 512-byte units");
}

/* Run every test. */
int main(void)
{
	test_pick();
	test_pages();
	test_default_slots();
	test_direct();
	test_indirect();
	test_other_ops();
	return check_done("test-blkfront-request");
}
