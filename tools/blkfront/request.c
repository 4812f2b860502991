/*
 * Ring requests from request slots, and the arithmetic of slots and indirect pages. Pure:
 * blkif.h structures only, no Xen calls, so the unit tests drive it directly.
 */
#include <errno.h>
#include <string.h>

#include "request.h"

/* The indirect segments to use, from what we want and what the backend offers. */
unsigned int bf_pick_indirect(int want, unsigned int backend_max)
{
	unsigned int n = want < 0 ? BLKFRONT_DEFAULT_INDIRECT : (unsigned int)want;

	if (n > backend_max)
		n = backend_max;
	return n > BLKFRONT_MAX_INDIRECT ? BLKFRONT_MAX_INDIRECT : n;
}

/* Indirect pages for segs segment descriptors. */
unsigned int bf_indirect_pages(unsigned int segs)
{
	return (unsigned int)((segs + BLKFRONT_SEGS_PER_INDIRECT_PAGE - 1) /
			      BLKFRONT_SEGS_PER_INDIRECT_PAGE);
}

/* Data pages of a slot: room for the largest request, direct or indirect. */
unsigned int bf_slot_pages(unsigned int indirect_segs)
{
	return indirect_segs > BLKFRONT_SEGS ? indirect_segs : BLKFRONT_SEGS;
}

/* Slots unless asked: bounded by the ring, the default, and the grant device's limit. */
unsigned int bf_default_slots(unsigned int ring_entries, unsigned int ring_pages,
			      unsigned int pages_per_slot)
{
	unsigned int n = BLKFRONT_DEFAULT_SLOTS, fit;

	if (n > ring_entries)
		n = ring_entries;
	fit = ring_pages < BLKFRONT_GNTALLOC_LIMIT && pages_per_slot ?
	      (BLKFRONT_GNTALLOC_LIMIT - ring_pages) / pages_per_slot : 0;
	if (n > fit)
		n = fit;
	return n ? n : 1;
}

/* Fill segs[0 .. n-1] with the slot's pages covering len bytes: whole pages, the last one
 * possibly partial; returns the segment count. */
static unsigned int fill_segments(struct blkif_request_segment *segs, const grant_ref_t *refs,
				  uint32_t len)
{
	unsigned int k = 0;

	for (uint32_t done = 0; done < len; done += BLKFRONT_PAGE_SIZE, k++) {
		uint32_t n = len - done < BLKFRONT_PAGE_SIZE ? len - done : BLKFRONT_PAGE_SIZE;

		segs[k].gref = refs[k];
		segs[k].first_sect = 0;
		segs[k].last_sect = (uint8_t)(n / BLKFRONT_SECTOR - 1);
	}
	return k;
}

/* A discard: no segments, any length. */
static int build_discard(const struct bf_geom *g, uint64_t id, uint64_t offset, uint32_t len,
			 blkif_request_t *out)
{
	blkif_request_discard_t d = {
		.operation = BLKIF_OP_DISCARD,
		.handle = g->handle,
		.id = id,
		.sector_number = offset / BLKFRONT_SECTOR,
		.nr_sectors = len / BLKFRONT_SECTOR,
	};

	if (!len)
		return -EINVAL;
	memcpy(out, &d, sizeof(d));
	return 0;
}

/* A read or write of nsegs segments as BLKIF_OP_INDIRECT, descriptors in ind. */
static void build_indirect(const struct bf_geom *g, uint64_t id, uint8_t op, uint64_t offset,
			   uint32_t len, const grant_ref_t *data_refs,
			   const grant_ref_t *ind_refs, struct blkif_request_segment *ind,
			   blkif_request_t *out)
{
	blkif_request_indirect_t r = {
		.operation = BLKIF_OP_INDIRECT,
		.indirect_op = op,
		.id = id,
		.sector_number = offset / BLKFRONT_SECTOR,
		.handle = g->handle,
	};

	r.nr_segments = (uint16_t)fill_segments(ind, data_refs, len);
	for (unsigned int k = 0; k < bf_indirect_pages(r.nr_segments); k++)
		r.indirect_grefs[k] = ind_refs[k];
	memcpy(out, &r, sizeof(r));
}

/* Build slot id's ring request: direct, indirect or discard. */
int bf_request_build(const struct bf_geom *g, uint64_t id, uint8_t op, uint64_t offset,
		     uint32_t len, const grant_ref_t *data_refs, const grant_ref_t *ind_refs,
		     struct blkif_request_segment *ind, blkif_request_t *out)
{
	uint32_t ss = g->sector_size;
	unsigned int nsegs = (unsigned int)((len + BLKFRONT_PAGE_SIZE - 1) / BLKFRONT_PAGE_SIZE);
	unsigned int max_segs = BLKFRONT_SEGS;

	memset(out, 0, sizeof(*out));
	if (!ss || offset % ss || len % ss || offset > g->disk_bytes ||
	    len > g->disk_bytes - offset)
		return -EINVAL;
	switch (op) {
	case BLKIF_OP_DISCARD:
		return build_discard(g, id, offset, len, out);
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
		if (!len)
			return -EINVAL;
		if (nsegs > g->slot_pages)
			return -EINVAL;
		/* Indirect when direct cannot carry it, or always when asked and it fits. */
		if (nsegs <= g->indirect_segs && (nsegs > BLKFRONT_SEGS || g->indirect_always)) {
			build_indirect(g, id, op, offset, len, data_refs, ind_refs, ind, out);
			return 0;
		}
		break;
	case BLKIF_OP_FLUSH_DISKCACHE:
	case BLKIF_OP_WRITE_BARRIER:
		break;		/* with data it is a write with flush semantics, as Linux sends */
	default:
		return -EINVAL;
	}
	if (nsegs > max_segs)
		return -EINVAL;
	out->operation = op;
	out->handle = g->handle;
	out->id = id;
	out->sector_number = len ? offset / BLKFRONT_SECTOR : 0;
	out->nr_segments = (uint8_t)fill_segments(out->seg, data_refs, len);
	return 0;
}
