/*
 * The I/O layer: a data pool shared with the backend once, request slots that each own
 * its pages for the largest request (11, or up to 256 with indirect descriptors) and an
 * indirect page, submit onto one of the queues' rings, kick and reap them all.
 *
 * Linux xen-blkfront without persistent grants grants pages per request; we share the
 * pool once and reuse its grants. That is safe with a backend that maps per request (it
 * unmaps before answering, so a slot's pages are ours again when its response arrives),
 * and it is exactly what feature-persistent formalises for a backend that keeps them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Share n pages with the backend into *addr and refs: 0 or -errno. */
static int share(struct blkfront *bf, unsigned int n, void **addr, grant_ref_t *refs)
{
	*addr = n ? xengntshr_share_pages(bf->xgs, bf->backend_id, n, refs, 1) : NULL;
	if (n && !*addr)
		return errno ? -errno : -ENOMEM;
	return 0;
}

/* Unshare the data pool and the indirect pages; idempotent. */
static void unshare_pools(struct blkfront *bf)
{
	if (bf->pool)
		xengntshr_unshare(bf->xgs, bf->pool, bf->pool_pages);
	bf->pool = NULL;
	if (bf->ind_pool)
		xengntshr_unshare(bf->xgs, bf->ind_pool, bf->slots * bf->ind_pages);
	bf->ind_pool = NULL;
}

/* How many slots, and how big: from the options, the ring and the indirect segments. */
static void size_slots(struct blkfront *bf)
{
	unsigned int ring = RING_SIZE(&bf->queues[0].ring);
	unsigned int segs = bf->feat.indirect_segs;

	bf->slot_pages = bf_slot_pages(segs);
	bf->ind_pages = segs ? bf_indirect_pages(segs) : 0;
	if (bf->opts.slots)
		bf->slots = bf->opts.slots;
	else
		bf->slots = bf_default_slots(ring, bf->nr_queues * bf->ring_pages,
					     bf->slot_pages + bf->ind_pages);
	/* One ring's entries at most: whatever queue a slot goes to, it has room. */
	if (bf->slots > ring)
		bf->slots = ring;
	if (bf->slots > BLKFRONT_MAX_SLOTS)
		bf->slots = BLKFRONT_MAX_SLOTS;
	bf->geom = (struct bf_geom){
		.disk_bytes = bf->disk.sectors * BLKFRONT_SECTOR,
		.sector_size = bf->disk.sector_size,
		.handle = (blkif_vdev_t)bf->devid,
		.slot_pages = bf->slot_pages,
		.indirect_segs = segs,
		.indirect_always = bf->feat.indirect_always,
	};
}

/* Share the data pool and the indirect pages, and build the free list of request slots. */
int bf_io_setup(struct blkfront *bf, char *err, size_t errlen)
{
	int ret;

	size_slots(bf);
	bf->pool_refs = calloc((size_t)bf->slots * bf->slot_pages, sizeof(*bf->pool_refs));
	bf->ind_refs = calloc((size_t)bf->slots * bf->ind_pages + 1, sizeof(*bf->ind_refs));
	bf->reqs = calloc(bf->slots, sizeof(*bf->reqs));
	if (!bf->pool_refs || !bf->ind_refs || !bf->reqs) {
		bf_errf(err, errlen, "out of memory for %u request slots", bf->slots);
		return -ENOMEM;
	}
	for (;;) {
		bf->pool_pages = bf->slots * bf->slot_pages;
		ret = share(bf, bf->pool_pages, &bf->pool, bf->pool_refs);
		ret = ret ? ret : share(bf, bf->slots * bf->ind_pages, &bf->ind_pool, bf->ind_refs);
		if (!ret)
			break;
		unshare_pools(bf);
		/* gntalloc has a limit on shared pages: without --slots, settle for fewer. */
		if (ret == -ENOSPC && !bf->opts.slots && bf->slots > 1) {
			bf->slots /= 2;
			bf_debug("the grant device refused %u pages: trying %u slots",
				 bf->pool_pages, bf->slots);
			continue;
		}
		bf_errf(err, errlen, "cannot share %u data and %u indirect pages with domain %u: "
			"%s (the grant device may limit shared pages: ask for fewer --slots or "
			"--indirect-segs)", bf->pool_pages, bf->slots * bf->ind_pages,
			bf->backend_id, strerror(-ret));
		return ret;
	}
	for (unsigned int i = bf->slots; i-- > 0;) {
		struct blkfront_req *r = &bf->reqs[i];

		r->id = i;
		r->buf = (char *)bf->pool + (size_t)i * bf->slot_pages * BLKFRONT_PAGE_SIZE;
		r->next_free = bf->free;
		bf->free = r;
	}
	bf_debug("data pool: %u slots of %u pages (+%u indirect), %u pages shared", bf->slots,
		 bf->slot_pages, bf->ind_pages, bf->pool_pages + bf->slots * bf->ind_pages);
	return 0;
}

/* Unshare the pools and free the slots; idempotent. */
void bf_io_teardown(struct blkfront *bf)
{
	unshare_pools(bf);
	free(bf->pool_refs);
	bf->pool_refs = NULL;
	free(bf->ind_refs);
	bf->ind_refs = NULL;
	free(bf->reqs);
	bf->reqs = NULL;
	bf->free = NULL;
	bf->slots = 0;
}

/* Number of request slots. */
unsigned int blkfront_slots(const struct blkfront *bf)
{
	return bf->slots;
}

/* Data pages per slot. */
unsigned int blkfront_slot_pages(const struct blkfront *bf)
{
	return bf->slot_pages;
}

/* The largest read or write of one request. */
uint32_t blkfront_max_req_bytes(const struct blkfront *bf)
{
	return bf->slot_pages * BLKFRONT_PAGE_SIZE;
}

/* A free slot, or NULL. */
struct blkfront_req *blkfront_req_get(struct blkfront *bf)
{
	struct blkfront_req *r = bf->free;

	if (r) {
		bf->free = r->next_free;
		r->next_free = NULL;
		r->user = NULL;
		r->queue = BLKFRONT_QUEUE_ANY;
	}
	return r;
}

/* Give a slot back (not while it is in flight: the backend may still write to it). */
void blkfront_req_put(struct blkfront *bf, struct blkfront_req *req)
{
	if (!req || req->inflight)
		return;
	req->next_free = bf->free;
	bf->free = req;
}

/* Put a request on its queue's ring, not yet pushed. */
int blkfront_submit(struct blkfront *bf, struct blkfront_req *req, uint8_t op,
		    uint64_t offset, uint32_t len)
{
	unsigned int qi = req->queue < 0 ? bf->next_queue : (unsigned int)req->queue;
	blkif_request_t r;
	int err;

	if (req->inflight)
		return -EBUSY;
	if (bf->broken)
		return bf->broken;
	if (bf->backend_gone)
		return -ESHUTDOWN;
	if (qi >= bf->nr_queues)
		return -EINVAL;
	req->op = op;
	req->offset = offset;
	req->len = len;
	err = bf_request_build(&bf->geom, req->id, op, offset, len,
			       &bf->pool_refs[(size_t)req->id * bf->slot_pages],
			       &bf->ind_refs[(size_t)req->id * bf->ind_pages],
			       blkfront_indirect_page(bf, req->id, 0), &r);
	err = err ? err : bf_q_put(&bf->queues[qi], &r, false);
	if (err)
		return err;
	if (req->queue < 0)
		bf->next_queue = (qi + 1) % bf->nr_queues;
	req->on_queue = qi;
	req->status = BLKIF_RSP_OKAY;
	req->submit_ns = bf_now_ns();
	req->complete_ns = 0;
	req->inflight = true;
	bf->inflight++;
	return 0;
}

/* Push every ring with new requests; notify only where the backend asked. */
int blkfront_kick(struct blkfront *bf)
{
	for (unsigned int i = 0; i < bf->nr_queues; i++) {
		struct bf_queue *q = &bf->queues[i];
		int err;

		if (q->ring.req_prod_pvt == q->ring.sring->req_prod)
			continue;
		err = bf_q_push(bf, q, BLKFRONT_NOTIFY_IF_ASKED);
		if (err)
			return err;
	}
	return 0;
}

/* Requests in flight. */
unsigned int blkfront_inflight(const struct blkfront *bf)
{
	return bf->inflight;
}

/*
 * Take up to max responses off queue qi into done[*n]. A response whose id is not in
 * flight on this ring breaks the connection: the requests still in flight may never be
 * answered, their slots stay taken, and every later call fails.
 */
static int reap_queue(struct blkfront *bf, unsigned int qi, struct blkfront_req **done,
		      unsigned int max, unsigned int *n)
{
	blkif_response_t rsp;

	while (*n < max && bf_q_get_response(&bf->queues[qi], &rsp) == 1) {
		struct blkfront_req *r = rsp.id < bf->slots ? &bf->reqs[rsp.id] : NULL;

		if (!r || !r->inflight || r->on_queue != qi) {
			bf_debug("backend answered id %llu on queue %u, which is not in flight "
				 "there: giving up on this disk", (unsigned long long)rsp.id, qi);
			bf->broken = -EPROTO;
			return bf->broken;
		}
		r->status = rsp.status;
		r->complete_ns = bf_now_ns();
		r->inflight = false;
		bf->inflight--;
		done[(*n)++] = r;
	}
	return 0;
}

/*
 * Collect up to max completed requests from every ring, waiting up to timeout_ms for the
 * first. The wait is for the backend's events only: a backend restarted under us answers
 * late, and that is all it is until timeout_ms.
 */
int blkfront_reap(struct blkfront *bf, struct blkfront_req **done, unsigned int max,
		  int timeout_ms)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX :
			    bf_now_ns() + (uint64_t)timeout_ms * 1000000u;

	for (;;) {
		unsigned int n = 0, first = bf->next_queue;
		uint64_t now;
		int ret;

		if (bf->broken)
			return bf->broken;
		/* Start where submit goes next, so no queue's answers wait behind another's. */
		for (unsigned int k = 0; k < bf->nr_queues && n < max; k++) {
			if (reap_queue(bf, (first + k) % bf->nr_queues, done, max, &n))
				return n ? (int)n : bf->broken;
		}
		if (n || !max || !bf->inflight)
			return (int)n;
		now = bf_now_ns();
		if (now >= deadline)
			return 0;
		ret = blkfront_ring_wait(bf, deadline == UINT64_MAX ? -1 :
					 (int)((deadline - now + 999999) / 1000000));
		if (ret < 0)
			return ret;
	}
}

/* A response status as -errno. */
static int status_errno(int16_t status)
{
	if (status == BLKIF_RSP_OKAY)
		return 0;
	return status == BLKIF_RSP_EOPNOTSUPP ? -EOPNOTSUPP : -EIO;
}

/* Submit one request and wait for it; nothing else may be in flight. */
int blkfront_sync_io(struct blkfront *bf, uint8_t op, uint64_t offset, uint32_t len,
		     void *data, int timeout_ms)
{
	struct blkfront_req *req, *done;
	int ret;

	if (bf->broken)
		return bf->broken;
	if (bf->inflight)
		return -EBUSY;
	req = blkfront_req_get(bf);
	if (!req)
		return -EBUSY;
	if (op == BLKIF_OP_WRITE && len)
		memcpy(req->buf, data, len);
	ret = blkfront_submit(bf, req, op, offset, len);
	ret = ret ? ret : blkfront_kick(bf);
	if (ret)
		goto out;
	ret = blkfront_reap(bf, &done, 1, timeout_ms);
	if (ret == 0)
		ret = -ETIMEDOUT;
	if (ret < 0)
		goto out;
	ret = status_errno(req->status);
	if (!ret && op == BLKIF_OP_READ)
		memcpy(data, req->buf, len);
out:
	blkfront_req_put(bf, req);
	return ret;
}

/* Data pool pages, all slots'. */
unsigned int blkfront_pool_pages(const struct blkfront *bf)
{
	return bf->pool_pages;
}

/* The grant ref of pool page i. */
grant_ref_t blkfront_pool_gref(const struct blkfront *bf, unsigned int page)
{
	return page < bf->pool_pages ? bf->pool_refs[page] : 0;
}

/* The address of pool page i. */
void *blkfront_pool_page(const struct blkfront *bf, unsigned int page)
{
	return page < bf->pool_pages ? (char *)bf->pool + (size_t)page * BLKFRONT_PAGE_SIZE :
	       NULL;
}

/* Indirect pages per slot. */
unsigned int blkfront_indirect_pages(const struct blkfront *bf)
{
	return bf->ind_pages;
}

/* Slot's k-th indirect page, NULL if there is none. */
struct blkif_request_segment *blkfront_indirect_page(const struct blkfront *bf,
						     unsigned int slot, unsigned int k)
{
	if (slot >= bf->slots || k >= bf->ind_pages || !bf->ind_pool)
		return NULL;
	return (struct blkif_request_segment *)((char *)bf->ind_pool +
		((size_t)slot * bf->ind_pages + k) * BLKFRONT_PAGE_SIZE);
}

/* The grant ref of slot's k-th indirect page, 0 if there is none. */
grant_ref_t blkfront_indirect_gref(const struct blkfront *bf, unsigned int slot,
				   unsigned int k)
{
	if (slot >= bf->slots || k >= bf->ind_pages || !bf->ind_pool)
		return 0;
	return bf->ind_refs[(size_t)slot * bf->ind_pages + k];
}
