/* Validation of a request copied off the ring. */
#include <errno.h>

#include "parse.h"

/* Reject with a reason. */
#define REJECT(err, reason) do { *why = (reason); return (err); } while (0)

/* Check that nr sectors from sector lie inside the disk, without wrapping. */
static bool in_disk(uint64_t sector, uint64_t nr, const struct blk_limits *lim)
{
	return sector <= lim->nr_sectors && nr <= lim->nr_sectors - sector;
}

/* Validate a discard: a range of sectors with no segments. */
static int parse_discard(const blkif_request_discard_t *req, const struct blk_limits *lim,
			 struct blk_io *io, const char **why)
{
	uint32_t align = lim->sector_size >> SECTOR_SHIFT;

	if (!lim->discard)
		REJECT(-EOPNOTSUPP, "discard was not offered");
	if (lim->readonly)
		REJECT(-EROFS, "discard on a read-only disk");
	if (req->sector_number % align || req->nr_sectors % align)
		REJECT(-EINVAL, "discard range not aligned to the sector size");
	if (!in_disk(req->sector_number, req->nr_sectors, lim))
		REJECT(-EINVAL, "discard beyond the end of the disk");
	io->discard = true;
	/* blkif.h: the secure flag is ignored where discard-secure was not offered. */
	io->secure = (req->flag & BLKIF_DISCARD_SECURE) && lim->secure_discard;
	io->sector = req->sector_number;
	io->nr_sectors = req->nr_sectors;
	return 0;
}

/*
 * Check n segments and the sector range they cover, and fill io's segments.
 * io->sector is the start sector; io->write and io->ordered are set.
 */
static int parse_segs(const struct blkif_request_segment *segs, unsigned int n,
		      const struct blk_limits *lim, struct blk_io *io, const char **why)
{
	uint32_t align = lim->sector_size >> SECTOR_SHIFT;	/* in 512-byte units */
	uint64_t total = 0;

	for (unsigned int i = 0; i < n; i++) {
		const struct blkif_request_segment *s = &segs[i];

		if (s->last_sect >= SECTORS_PER_PAGE)
			REJECT(-EINVAL, "segment last_sect beyond the page");
		if (s->first_sect > s->last_sect)
			REJECT(-EINVAL, "segment first_sect after last_sect");
		if (s->first_sect % align || (s->last_sect + 1u) % align)
			REJECT(-EINVAL, "segment not aligned to the sector size");
		io->seg[i].gref = s->gref;
		io->seg[i].offset = s->first_sect << SECTOR_SHIFT;
		io->seg[i].len = (s->last_sect - s->first_sect + 1u) << SECTOR_SHIFT;
		total += s->last_sect - s->first_sect + 1u;
	}
	io->nr_segs = n;
	io->nr_sectors = total;
	if (!total) {
		io->sector = 0;
		return 0;	/* a pure flush or barrier: no range to check */
	}
	if (io->sector % align)
		REJECT(-EINVAL, "start sector not aligned to the sector size");
	if (!in_disk(io->sector, total, lim))
		REJECT(-EINVAL, "request beyond the end of the disk");
	return 0;
}

/* Validate the header of an indirect request; its segments come later. */
static int parse_indirect_header(const blkif_request_indirect_t *req,
				 const struct blk_limits *lim, struct blk_io *io, const char **why)
{
	if (!lim->max_indirect)
		REJECT(-EOPNOTSUPP, "indirect descriptors were not offered");
	/* Linux blkfront expects the answer to carry the inner op, READ or WRITE. */
	io->op = req->indirect_op;
	if (req->indirect_op != BLKIF_OP_READ && req->indirect_op != BLKIF_OP_WRITE)
		REJECT(-EINVAL, "indirect request whose inner op is not read or write");
	if (req->nr_segments == 0)
		REJECT(-EINVAL, "indirect request with no segments");
	if (req->nr_segments > lim->max_indirect)
		REJECT(-EINVAL, "more segments than feature-max-indirect-segments");
	io->write = req->indirect_op == BLKIF_OP_WRITE;
	if (io->write && lim->readonly)
		REJECT(-EROFS, "write to a read-only disk");
	io->indirect = true;
	io->nr_segs = req->nr_segments;
	io->nr_indirect = (req->nr_segments + BLK_SEGS_PER_INDIRECT_PAGE - 1) /
			  BLK_SEGS_PER_INDIRECT_PAGE;
	memcpy(io->indirect_grefs, req->indirect_grefs,
	       io->nr_indirect * sizeof(io->indirect_grefs[0]));
	io->sector = req->sector_number;
	return 0;
}

/*
 * Validate a private copy of a request. Every field the frontend controls is
 * checked here, once, before any grant is mapped or storage is touched.
 */
int blkif_parse(const blkif_request_t *req, const struct blk_limits *lim,
		struct blk_io *io, const char **why)
{
	*why = NULL;
	memset(io, 0, offsetof(struct blk_io, seg));	/* the segments are filled below */
	io->id = req->id;
	io->op = req->operation;
	if (req->operation == BLKIF_OP_DISCARD)
		return parse_discard((const blkif_request_discard_t *)req, lim, io, why);
	if (req->operation == BLKIF_OP_INDIRECT)
		return parse_indirect_header((const blkif_request_indirect_t *)req, lim, io, why);

	switch (req->operation) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
		if (req->nr_segments == 0)
			REJECT(-EINVAL, "read/write with no segments");
		io->write = req->operation == BLKIF_OP_WRITE;
		break;
	case BLKIF_OP_FLUSH_DISKCACHE:
	case BLKIF_OP_WRITE_BARRIER:
		/* Linux blkfront sends FUA/preflush writes as these ops, with data. */
		io->ordered = true;
		io->write = req->nr_segments > 0;
		if (lim->readonly)
			REJECT(-EROFS, "flush or barrier on a read-only disk");
		break;
	default:
		REJECT(-EOPNOTSUPP, "unsupported operation");
	}
	if (req->nr_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST)
		REJECT(-EINVAL, "more than 11 segments in a direct request");
	if (io->write && lim->readonly)
		REJECT(-EROFS, "write to a read-only disk");
	io->sector = req->sector_number;
	return parse_segs(req->seg, req->nr_segments, lim, io, why);
}

/* Finish an indirect request from the descriptors copied off its indirect pages. */
int blkif_parse_indirect(const struct blkif_request_segment *segs, const struct blk_limits *lim,
			 struct blk_io *io, const char **why)
{
	*why = NULL;
	return parse_segs(segs, io->nr_segs, lim, io, why);
}

/* The BLKIF_RSP_* status that answers a parse or storage error. */
int16_t blkif_status(int err)
{
	if (err >= 0)
		return BLKIF_RSP_OKAY;
	return err == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR;
}
