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
 * Validate a private copy of a request. Every field the frontend controls is
 * checked here, once, before any grant is mapped or storage is touched.
 */
int blkif_parse(const blkif_request_t *req, const struct blk_limits *lim,
		struct blk_io *io, const char **why)
{
	uint32_t align = lim->sector_size >> SECTOR_SHIFT;	/* in 512-byte units */
	uint64_t total = 0;
	unsigned int i;

	*why = NULL;
	memset(io, 0, sizeof(*io));
	io->id = req->id;
	io->op = req->operation;
	if (req->operation == BLKIF_OP_DISCARD)
		return parse_discard((const blkif_request_discard_t *)req, lim, io, why);

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
		/* Indirect is not offered yet; nothing else exists. */
		REJECT(-EOPNOTSUPP, "unsupported operation");
	}
	if (req->nr_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST)
		REJECT(-EINVAL, "more than 11 segments in a direct request");
	if (io->write && lim->readonly)
		REJECT(-EROFS, "write to a read-only disk");

	for (i = 0; i < req->nr_segments; i++) {
		const struct blkif_request_segment *s = &req->seg[i];

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
	io->nr_segs = req->nr_segments;
	io->nr_sectors = total;
	if (!total)
		return 0;	/* a pure flush or barrier: no range to check */

	io->sector = req->sector_number;
	if (io->sector % align)
		REJECT(-EINVAL, "start sector not aligned to the sector size");
	if (!in_disk(io->sector, total, lim))
		REJECT(-EINVAL, "request beyond the end of the disk");
	return 0;
}

/* The BLKIF_RSP_* status that answers a parse or storage error. */
int16_t blkif_status(int err)
{
	if (err >= 0)
		return BLKIF_RSP_OKAY;
	return err == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR;
}
