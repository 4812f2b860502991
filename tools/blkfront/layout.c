/*
 * The ring layout of the ABI we speak (blkfront_opts.abi): the protocol node's value, the
 * ring size, and requests written and responses read in that layout. The library builds
 * requests in the native layout (blkif_request_t and its discard and indirect forms in
 * the same storage); an x86_32 or x86_64 ring gets them translated field by field, the
 * reverse of what blkback/abi.c does on the other side.
 */
#include <string.h>

#include "internal.h"
#include "../../blkback/abi.h"

/* The protocol node's value for abi (blkif.h's XEN_IO_PROTO_ABI_*). */
const char *blkfront_abi_name(enum blkfront_abi abi)
{
	switch (abi) {
	case BLKFRONT_ABI_X86_32: return XEN_IO_PROTO_ABI_X86_32;
	case BLKFRONT_ABI_X86_64: return XEN_IO_PROTO_ABI_X86_64;
	case BLKFRONT_ABI_NATIVE: break;
	}
	return XEN_IO_PROTO_ABI_NATIVE;
}

/* The ABI the connection speaks. */
enum blkfront_abi blkfront_abi(const struct blkfront *bf)
{
	return bf->opts.abi;
}

/* Entries a ring of bytes holds in abi's layout. */
unsigned int bf_abi_ring_size(enum blkfront_abi abi, void *sring, size_t bytes)
{
	switch (abi) {
	case BLKFRONT_ABI_X86_32: return __RING_SIZE((struct blkif_x86_32_sring *)sring, bytes);
	case BLKFRONT_ABI_X86_64: return __RING_SIZE((struct blkif_x86_64_sring *)sring, bytes);
	case BLKFRONT_ABI_NATIVE: break;
	}
	return __RING_SIZE((blkif_sring_t *)sring, bytes);
}

/* Write a native request (any of its three forms) into slot in the layout S of type
 * R (request), D (discard) and I (indirect). */
#define WRITE_SLOT(slot, req, R, D, I) do {					\
	const blkif_request_t *n_ = (req);					\
	if (n_->operation == BLKIF_OP_INDIRECT) {				\
		const blkif_request_indirect_t *ni_ = (const void *)n_;	\
		I *s_ = (void *)(slot);							\
		memset(s_, 0, sizeof(*s_));					\
		s_->operation = ni_->operation;					\
		s_->indirect_op = ni_->indirect_op;				\
		s_->nr_segments = ni_->nr_segments;				\
		s_->id = ni_->id;						\
		s_->sector_number = ni_->sector_number;				\
		s_->handle = ni_->handle;					\
		memcpy(s_->indirect_grefs, ni_->indirect_grefs,			\
		       sizeof(s_->indirect_grefs));				\
	} else if (n_->operation == BLKIF_OP_DISCARD) {				\
		const blkif_request_discard_t *nd_ = (const void *)n_;		\
		D *s_ = (void *)(slot);							\
		memset(s_, 0, sizeof(*s_));					\
		s_->operation = nd_->operation;					\
		s_->flag = nd_->flag;						\
		s_->handle = nd_->handle;					\
		s_->id = nd_->id;						\
		s_->sector_number = nd_->sector_number;				\
		s_->nr_sectors = nd_->nr_sectors;				\
	} else {								\
		R *s_ = (slot);							\
		s_->operation = n_->operation;					\
		s_->nr_segments = n_->nr_segments;				\
		s_->handle = n_->handle;					\
		s_->id = n_->id;						\
		s_->sector_number = n_->sector_number;				\
		memcpy(s_->seg, n_->seg, sizeof(s_->seg));			\
	}									\
} while (0)

/* Copy a native request-sized slot req onto q's ring at index idx, in q's layout. */
void bf_abi_put(struct bf_queue *q, RING_IDX idx, const blkif_request_t *req)
{
	unsigned int i = idx & (RING_SIZE(&q->ring) - 1);

	switch (q->abi) {
	case BLKFRONT_ABI_X86_32:
		WRITE_SLOT(&((struct blkif_x86_32_sring *)q->sring)->ring[i].req, req,
			   struct blkif_x86_32_request, struct blkif_x86_32_request_discard,
			   struct blkif_x86_32_request_indirect);
		return;
	case BLKFRONT_ABI_X86_64:
		WRITE_SLOT(&((struct blkif_x86_64_sring *)q->sring)->ring[i].req, req,
			   struct blkif_x86_64_request, struct blkif_x86_64_request_discard,
			   struct blkif_x86_64_request_indirect);
		return;
	case BLKFRONT_ABI_NATIVE:
		break;
	}
	memcpy(RING_GET_REQUEST(&q->ring, idx), req, sizeof(*req));
}

/* Read the response at index idx of q's ring, in q's layout, into a native one. */
void bf_abi_get(const struct bf_queue *q, RING_IDX idx, blkif_response_t *rsp)
{
	unsigned int i = idx & (RING_SIZE(&q->ring) - 1);

	memset(rsp, 0, sizeof(*rsp));
	switch (q->abi) {
	case BLKFRONT_ABI_X86_32: {
		const struct blkif_x86_32_response *r =
			&((struct blkif_x86_32_sring *)q->sring)->ring[i].rsp;

		rsp->id = r->id;
		rsp->operation = r->operation;
		rsp->status = r->status;
		return;
	}
	case BLKFRONT_ABI_X86_64: {
		const struct blkif_x86_64_response *r =
			&((struct blkif_x86_64_sring *)q->sring)->ring[i].rsp;

		rsp->id = r->id;
		rsp->operation = r->operation;
		rsp->status = r->status;
		return;
	}
	case BLKFRONT_ABI_NATIVE:
		break;
	}
	memcpy(rsp, RING_GET_RESPONSE(&q->ring, idx), sizeof(*rsp));
}
