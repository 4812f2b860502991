/* Ring layouts: protocol negotiation, request copy-in and response copy-out. */
#include <errno.h>

#include "abi.h"

/* A compiler barrier: after it the private copy is all the code may read. */
#define compiler_barrier() __asm__ __volatile__("" ::: "memory")

/* Map a `protocol` node value to an ABI; NULL (node absent) means x86_32. */
int blkif_abi_from_protocol(const char *protocol, enum blkif_abi *abi)
{
	/* No protocol node: x86_32, as Linux xen-blkback assumes on x86 (BLKIF_PROTOCOL_DEFAULT). */
	if (!protocol || !*protocol)
		*abi = BLKIF_ABI_X86_32;
	else if (!strcmp(protocol, XEN_IO_PROTO_ABI_X86_32))
		*abi = BLKIF_ABI_X86_32;
	else if (!strcmp(protocol, XEN_IO_PROTO_ABI_X86_64))
		*abi = BLKIF_ABI_X86_64;
	else if (!strcmp(protocol, XEN_IO_PROTO_ABI_NATIVE))
		*abi = BLKIF_ABI_NATIVE;
	else
		return -EINVAL;
	return 0;
}

/* Name of an ABI, for logs. */
const char *blkif_abi_name(enum blkif_abi abi)
{
	switch (abi) {
	case BLKIF_ABI_NATIVE: return "native";
	case BLKIF_ABI_X86_32: return XEN_IO_PROTO_ABI_X86_32;
	case BLKIF_ABI_X86_64: return XEN_IO_PROTO_ABI_X86_64;
	}
	return "?";
}

/* Initialise the back ring over a mapped shared ring of nr_pages pages. */
void blkif_ring_init(union blkif_back_rings *r, enum blkif_abi abi, void *sring,
		     unsigned int nr_pages)
{
	size_t sz = (size_t)nr_pages * XEN_PAGE_SIZE;

	switch (abi) {
	case BLKIF_ABI_NATIVE:
		BACK_RING_INIT(&r->native, (struct blkif_sring *)sring, sz);
		break;
	case BLKIF_ABI_X86_32:
		BACK_RING_INIT(&r->x86_32, (struct blkif_x86_32_sring *)sring, sz);
		break;
	case BLKIF_ABI_X86_64:
		BACK_RING_INIT(&r->x86_64, (struct blkif_x86_64_sring *)sring, sz);
		break;
	}
}

/* Ring size (entries) for the negotiated ABI. */
unsigned int blkif_ring_size(const union blkif_back_rings *r, enum blkif_abi abi)
{
	switch (abi) {
	case BLKIF_ABI_NATIVE: return RING_SIZE(&r->native);
	case BLKIF_ABI_X86_32: return RING_SIZE(&r->x86_32);
	case BLKIF_ABI_X86_64: return RING_SIZE(&r->x86_64);
	}
	return 0;
}

/* Copy the common fields of a guest-layout request into a native one. */
#define TRANSLATE(dst, src) do {						\
	unsigned int n_ = (src)->nr_segments;					\
	if (n_ > BLKIF_MAX_SEGMENTS_PER_REQUEST)				\
		n_ = BLKIF_MAX_SEGMENTS_PER_REQUEST;				\
	(dst)->operation = (src)->operation;					\
	(dst)->nr_segments = (src)->nr_segments;				\
	(dst)->handle = (src)->handle;						\
	(dst)->id = (src)->id;							\
	(dst)->sector_number = (src)->sector_number;				\
	memcpy((dst)->seg, (src)->seg, n_ * sizeof((dst)->seg[0]));		\
} while (0)

/* Copy the fields of a guest-layout discard request into the native one. */
#define TRANSLATE_DISCARD(dst, src) do {					\
	(dst)->operation = (src)->operation;					\
	(dst)->flag = (src)->flag;						\
	(dst)->handle = (src)->handle;						\
	(dst)->id = (src)->id;							\
	(dst)->sector_number = (src)->sector_number;				\
	(dst)->nr_sectors = (src)->nr_sectors;					\
} while (0)

/* Copy the fields of a guest-layout indirect request into the native one. */
#define TRANSLATE_INDIRECT(dst, src) do {					\
	(dst)->operation = (src)->operation;					\
	(dst)->indirect_op = (src)->indirect_op;				\
	(dst)->nr_segments = (src)->nr_segments;				\
	(dst)->id = (src)->id;							\
	(dst)->sector_number = (src)->sector_number;				\
	(dst)->handle = (src)->handle;						\
	memcpy((dst)->indirect_grefs, (src)->indirect_grefs,			\
	       sizeof((dst)->indirect_grefs));					\
} while (0)

/* Same, from a raw request slot in the given layout. */
void blkif_translate_request(enum blkif_abi abi, const void *slot, blkif_request_t *out)
{
	blkif_request_discard_t *d = (blkif_request_discard_t *)out;
	blkif_request_indirect_t *ind = (blkif_request_indirect_t *)out;

	_Static_assert(sizeof(blkif_request_indirect_t) <= sizeof(blkif_request_t), "fits");
	_Static_assert(sizeof(struct blkif_x86_32_request_indirect) == 64, "i386 layout");
	_Static_assert(sizeof(struct blkif_x86_64_request_indirect) == 64, "x86_64 layout");
	memset(out, 0, sizeof(*out));
	/* The operation byte is at offset 0 in every layout. */
	if (*(const uint8_t *)slot == BLKIF_OP_INDIRECT) {
		switch (abi) {
		case BLKIF_ABI_NATIVE:
			TRANSLATE_INDIRECT(ind, (const blkif_request_indirect_t *)slot);
			break;
		case BLKIF_ABI_X86_32:
			TRANSLATE_INDIRECT(ind, (const struct blkif_x86_32_request_indirect *)slot);
			break;
		case BLKIF_ABI_X86_64:
			TRANSLATE_INDIRECT(ind, (const struct blkif_x86_64_request_indirect *)slot);
			break;
		}
		return;
	}
	if (*(const uint8_t *)slot == BLKIF_OP_DISCARD) {
		switch (abi) {
		case BLKIF_ABI_NATIVE:
			TRANSLATE_DISCARD(d, (const blkif_request_discard_t *)slot);
			break;
		case BLKIF_ABI_X86_32:
			TRANSLATE_DISCARD(d, (const struct blkif_x86_32_request_discard *)slot);
			break;
		case BLKIF_ABI_X86_64:
			TRANSLATE_DISCARD(d, (const struct blkif_x86_64_request_discard *)slot);
			break;
		}
		return;
	}
	switch (abi) {
	case BLKIF_ABI_NATIVE:
		TRANSLATE(out, (const blkif_request_t *)slot);
		break;
	case BLKIF_ABI_X86_32:
		TRANSLATE(out, (const struct blkif_x86_32_request *)slot);
		break;
	case BLKIF_ABI_X86_64:
		TRANSLATE(out, (const struct blkif_x86_64_request *)slot);
		break;
	}
}

/*
 * Copy the request at idx off the shared ring, once. The frontend can rewrite
 * the slot at any moment, so the slot is copied whole into private memory and
 * only that copy is ever read (the double-fetch class of XSA-155).
 */
void blkif_copy_request(const union blkif_back_rings *r, enum blkif_abi abi,
			RING_IDX idx, blkif_request_t *out)
{
	union {
		blkif_request_t native;
		struct blkif_x86_32_request x86_32;
		struct blkif_x86_64_request x86_64;
	} copy;

	switch (abi) {
	case BLKIF_ABI_NATIVE:
		memcpy(&copy.native, RING_GET_REQUEST(&r->native, idx), sizeof(copy.native));
		break;
	case BLKIF_ABI_X86_32:
		memcpy(&copy.x86_32, RING_GET_REQUEST(&r->x86_32, idx), sizeof(copy.x86_32));
		break;
	case BLKIF_ABI_X86_64:
		memcpy(&copy.x86_64, RING_GET_REQUEST(&r->x86_64, idx), sizeof(copy.x86_64));
		break;
	}
	compiler_barrier();
	blkif_translate_request(abi, &copy, out);
}

/* Build a response with no uninitialised bytes and copy it into the slot. */
#define PUT_RESPONSE(ring, type, id_, op_, st_) do {			\
	type rsp_;								\
	memset(&rsp_, 0, sizeof(rsp_));						\
	rsp_.id = (id_);							\
	rsp_.operation = (op_);							\
	rsp_.status = (st_);							\
	memcpy(RING_GET_RESPONSE(ring, (ring)->rsp_prod_pvt), &rsp_, sizeof(rsp_)); \
	(ring)->rsp_prod_pvt++;							\
} while (0)

/* Write a response at rsp_prod_pvt and advance it; only id/op/status are set. */
void blkif_put_response(union blkif_back_rings *r, enum blkif_abi abi,
			uint64_t id, uint8_t op, int16_t status)
{
	switch (abi) {
	case BLKIF_ABI_NATIVE:
		PUT_RESPONSE(&r->native, blkif_response_t, id, op, status);
		break;
	case BLKIF_ABI_X86_32:
		PUT_RESPONSE(&r->x86_32, struct blkif_x86_32_response, id, op, status);
		break;
	case BLKIF_ABI_X86_64:
		PUT_RESPONSE(&r->x86_64, struct blkif_x86_64_response, id, op, status);
		break;
	}
}
