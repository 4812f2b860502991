/*
 * libFuzzer target for the request parser: a raw ring slot in one of the three
 * ABIs goes through blkif_translate_request and blkif_parse (and, for an
 * indirect request that passed, blkif_parse_indirect), and the parser's
 * contract is checked after each call; a violation abort()s.
 *
 * Input: byte 0 picks the ABI and the disk's limits (see pick_limits), the
 * next FUZZ_SLOT bytes are the ring slot (zero-padded), and what follows is
 * the indirect pages' segment descriptors (zero-padded).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../blkback/abi.h"
#include "../../blkback/parse.h"
#include "fuzz-parse.h"
#include "fuzz-check.h"


/* Decode byte 0 into an ABI and the limits of the disk. */
static enum blkif_abi pick_limits(uint8_t b, struct blk_limits *lim)
{
	unsigned int abi = b & FUZZ_ABI_MASK;

	memset(lim, 0, sizeof(*lim));
	lim->sector_size = b & FUZZ_4K ? 4096 : 512;
	lim->readonly = b & FUZZ_RO;
	lim->discard = b & FUZZ_DISCARD;
	lim->secure_discard = b & FUZZ_SECURE;
	lim->max_indirect = b & FUZZ_INDIRECT ? BLK_MAX_SEGS : 0;
	/* A small disk, or one whose end is near 2^64 to reach the wrap checks. */
	lim->nr_sectors = b & FUZZ_HUGE ? UINT64_MAX & ~7ull : FUZZ_SMALL_SECTORS;
	if (abi == 3) {		/* the fourth value: native, on a one-page disk */
		lim->nr_sectors = 8;
		return BLKIF_ABI_NATIVE;
	}
	return (enum blkif_abi)abi;
}

/* The contract of a failed call: a known error, a reason, a matching status. */
static void check_error(int rc, const char *why)
{
	CHECK(rc == -EINVAL || rc == -EOPNOTSUPP || rc == -EROFS);
	CHECK(why && *why);
	CHECK(blkif_status(rc) == (rc == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR));
}

/* The contract of a request that passed with its segments parsed. */
static void check_io(const struct blk_io *io, const struct blk_limits *lim, unsigned int max_segs)
{
	uint32_t align = lim->sector_size >> SECTOR_SHIFT;
	uint64_t bytes = 0;

	CHECK(io->nr_segs <= max_segs);
	CHECK(!(io->discard && io->ordered));
	for (unsigned int i = 0; i < io->nr_segs; i++) {
		const struct blk_seg *s = &io->seg[i];

		CHECK(s->len > 0);
		CHECK(s->offset % 512 == 0 && s->len % 512 == 0);
		CHECK(s->offset % lim->sector_size == 0 && s->len % lim->sector_size == 0);
		CHECK((uint32_t)s->offset + s->len <= XEN_PAGE_SIZE);
		bytes += s->len;
	}
	CHECK(bytes == (io->discard ? 0 : io->nr_sectors * 512));
	if (io->discard) {
		CHECK(lim->discard && io->nr_segs == 0);
		CHECK(!io->secure || lim->secure_discard);
	} else {
		CHECK(!io->secure);
	}
	if (io->nr_sectors) {
		CHECK(io->sector <= lim->nr_sectors);
		CHECK(io->nr_sectors <= lim->nr_sectors - io->sector);
		CHECK(io->sector % align == 0 && io->nr_sectors % align == 0);
	}
	CHECK(!io->write || io->nr_segs > 0);
	if (lim->readonly)
		CHECK(!io->write && !io->discard && !io->ordered);
	CHECK(io->nr_segs > 0 || io->ordered || io->discard);
	CHECK(blkif_status(0) == BLKIF_RSP_OKAY);
}

/* The request header's op and id, whatever the outcome. */
static void check_header(const blkif_request_t *req, const struct blk_io *io)
{
	const blkif_request_indirect_t *ind = (const blkif_request_indirect_t *)req;

	CHECK(io->id == req->id);
	if (req->operation == BLKIF_OP_INDIRECT && io->op != BLKIF_OP_INDIRECT)
		CHECK(io->op == ind->indirect_op);
	else
		CHECK(io->op == req->operation);
}

/* One input: translate, parse, check; then the indirect segments if any. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct blk_io io;
	static struct blkif_request_segment segs[BLK_MAX_SEGS];
	uint8_t slot[FUZZ_SLOT] = { 0 };
	struct blk_limits lim;
	blkif_request_t req;
	enum blkif_abi abi;
	const char *why = "unset";
	int rc;

	if (!size)
		return 0;
	abi = pick_limits(data[0], &lim);
	data++, size--;
	memcpy(slot, data, size < FUZZ_SLOT ? size : FUZZ_SLOT);
	data += size < FUZZ_SLOT ? size : FUZZ_SLOT;
	size -= size < FUZZ_SLOT ? size : FUZZ_SLOT;

	blkif_translate_request(abi, slot, &req);
	rc = blkif_parse(&req, &lim, &io, &why);
	check_header(&req, &io);
	if (rc) {
		check_error(rc, why);
		if (rc == -EROFS)
			CHECK(lim.readonly);
		return 0;
	}
	CHECK(why == NULL);
	if (!io.indirect) {
		CHECK(req.operation != BLKIF_OP_INDIRECT);
		check_io(&io, &lim, BLKIF_MAX_SEGMENTS_PER_REQUEST);
		return 0;
	}

	CHECK(req.operation == BLKIF_OP_INDIRECT && lim.max_indirect > 0);
	CHECK(io.nr_segs > 0 && io.nr_segs <= lim.max_indirect);
	CHECK(io.nr_indirect > 0 && io.nr_indirect <= BLK_MAX_INDIRECT_PAGES);
	CHECK((size_t)io.nr_indirect * BLK_SEGS_PER_INDIRECT_PAGE >= io.nr_segs);
	if (lim.readonly)
		CHECK(!io.write);
	memset(segs, 0, sizeof(segs));
	memcpy(segs, data, size < sizeof(segs) ? size : sizeof(segs));
	rc = blkif_parse_indirect(segs, &lim, &io, &why);
	if (rc) {
		check_error(rc, why);
		CHECK(rc == -EINVAL);
		return 0;
	}
	CHECK(why == NULL);
	check_io(&io, &lim, lim.max_indirect);
	return 0;
}
