/* The three blkif ring layouts (native, x86_32, x86_64) and copying requests off them. */
#ifndef BLKBACK_ABI_H
#define BLKBACK_ABI_H

#include "xenio.h"

enum blkif_abi {
	BLKIF_ABI_NATIVE,
	BLKIF_ABI_X86_32,
	BLKIF_ABI_X86_64,
};

/*
 * A 32-bit x86 guest lays out uint64_t on 4-byte boundaries, so its request
 * is 108 bytes with `id` at offset 4; a 64-bit guest's is 112 with `id` at 8.
 */
#pragma pack(push, 4)
struct blkif_x86_32_request {
	uint8_t operation;
	uint8_t nr_segments;
	blkif_vdev_t handle;
	uint64_t id;
	blkif_sector_t sector_number;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};
struct blkif_x86_32_request_discard {
	uint8_t operation;
	uint8_t flag;
	blkif_vdev_t handle;
	uint64_t id;
	blkif_sector_t sector_number;
	uint64_t nr_sectors;
};
struct blkif_x86_32_request_indirect {
	uint8_t operation;
	uint8_t indirect_op;
	uint16_t nr_segments;
	uint64_t id;
	blkif_sector_t sector_number;
	blkif_vdev_t handle;
	uint16_t _pad1;
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	uint64_t _pad2;		/* 64 bytes, as i386 Linux lays it out */
};
struct blkif_x86_32_response {
	uint64_t id;
	uint8_t operation;
	int16_t status;
};
#pragma pack(pop)

struct blkif_x86_64_request {
	uint8_t operation;
	uint8_t nr_segments;
	blkif_vdev_t handle;
	uint64_t __attribute__((__aligned__(8))) id;
	blkif_sector_t sector_number;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};
struct blkif_x86_64_request_discard {
	uint8_t operation;
	uint8_t flag;
	blkif_vdev_t handle;
	uint64_t __attribute__((__aligned__(8))) id;
	blkif_sector_t sector_number;
	uint64_t nr_sectors;
};
struct blkif_x86_64_request_indirect {
	uint8_t operation;
	uint8_t indirect_op;
	uint16_t nr_segments;
	uint64_t __attribute__((__aligned__(8))) id;
	blkif_sector_t sector_number;
	blkif_vdev_t handle;
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
};
struct blkif_x86_64_response {
	uint64_t __attribute__((__aligned__(8))) id;
	uint8_t operation;
	int16_t status;
};

DEFINE_RING_TYPES(blkif_x86_32, struct blkif_x86_32_request, struct blkif_x86_32_response);
DEFINE_RING_TYPES(blkif_x86_64, struct blkif_x86_64_request, struct blkif_x86_64_response);

/* One back ring seen through whichever layout the frontend negotiated. */
union blkif_back_rings {
	struct blkif_back_ring native;
	struct blkif_x86_32_back_ring x86_32;
	struct blkif_x86_64_back_ring x86_64;
};

/* Map a `protocol` node value to an ABI; NULL (node absent) means x86_32. */
int blkif_abi_from_protocol(const char *protocol, enum blkif_abi *abi);

/* Name of an ABI, for logs. */
const char *blkif_abi_name(enum blkif_abi abi);

/* Initialise the back ring over a mapped shared ring of nr_pages pages. */
void blkif_ring_init(union blkif_back_rings *r, enum blkif_abi abi, void *sring,
		     unsigned int nr_pages);

/* Ring size (entries) for the negotiated ABI. */
unsigned int blkif_ring_size(const union blkif_back_rings *r, enum blkif_abi abi);

/*
 * Copy the request at index idx off the shared ring, once, into a private
 * native request. Segments beyond the 11 a request can hold are not copied;
 * the parser rejects such a request by its nr_segments. A discard request
 * comes out in the native blkif_request_discard layout, and an indirect one in
 * the native blkif_request_indirect layout, in the same storage.
 */
void blkif_copy_request(const union blkif_back_rings *r, enum blkif_abi abi,
			RING_IDX idx, blkif_request_t *out);

/* Same, from a raw request slot in the given layout (used by tests). */
void blkif_translate_request(enum blkif_abi abi, const void *slot, blkif_request_t *out);

/* Write a response at rsp_prod_pvt and advance it; only id/op/status are set. */
void blkif_put_response(union blkif_back_rings *r, enum blkif_abi abi,
			uint64_t id, uint8_t op, int16_t status);

#endif
