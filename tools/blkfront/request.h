/*
 * request.h: the pure parts of the I/O layer (blkif.h structures, no Xen calls), unit-tested
 * on their own: how many indirect segments and pages, how many slots fit the grant device,
 * and the ring request (direct or indirect) for a slot.
 */
#ifndef BLKFRONT_REQUEST_H
#define BLKFRONT_REQUEST_H

#include "blkfront.h"

/* What a request is built against: the disk and the connection's geometry. */
struct bf_geom {
	uint64_t disk_bytes;
	uint32_t sector_size;
	blkif_vdev_t handle;		/* our device number */
	unsigned int slot_pages;	/* data pages per slot: bf_slot_pages() */
	unsigned int indirect_segs;	/* 0: direct only */
	bool indirect_always;
};

/* The indirect segments to use: want -1 is min(backend_max, 32), 0 is none, N is
 * min(N, backend_max, BLKFRONT_MAX_INDIRECT); 0 when the backend offers none. */
unsigned int bf_pick_indirect(int want, unsigned int backend_max);
/* Indirect pages that hold segs segment descriptors: ceil(segs / 512). */
unsigned int bf_indirect_pages(unsigned int segs);
/* Data pages of a slot: the largest request, max(11, indirect_segs). */
unsigned int bf_slot_pages(unsigned int indirect_segs);
/*
 * Slots unless asked: at most one ring's entries and BLKFRONT_DEFAULT_SLOTS, and as many
 * as fit BLKFRONT_GNTALLOC_LIMIT beside ring_pages (all queues') with pages_per_slot
 * (data and indirect) each; at least 1.
 */
unsigned int bf_default_slots(unsigned int ring_entries, unsigned int ring_pages,
			      unsigned int pages_per_slot);

/*
 * Build the ring request of slot id: op at offset for len bytes, the data in the slot's
 * pages whose grant refs are data_refs[0 .. slot_pages-1]. A read or write goes indirect
 * when it needs more than 11 segments, or with indirect_always when it fits indirect_segs:
 * its segment descriptors are then written to ind (the slot's indirect pages, whose refs
 * are ind_refs). -EINVAL when op, alignment, range or size are wrong.
 */
int bf_request_build(const struct bf_geom *g, uint64_t id, uint8_t op, uint64_t offset,
		     uint32_t len, const grant_ref_t *data_refs, const grant_ref_t *ind_refs,
		     struct blkif_request_segment *ind, blkif_request_t *out);

#endif
