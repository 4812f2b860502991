/*
 * The I/O layer: a data pool shared with the backend once, request slots that each own
 * 11 of its pages, submit, kick and reap.
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

/* Share the data pool and build the free list of request slots. */
int bf_io_setup(struct blkfront *bf, char *err, size_t errlen)
{
	unsigned int ring = RING_SIZE(&bf->ring);
	int ret;

	bf->slots = bf->opts.slots ? bf->opts.slots : BLKFRONT_DEFAULT_SLOTS;
	if (bf->slots > ring)
		bf->slots = ring;
	if (bf->slots > BLKFRONT_MAX_SLOTS)
		bf->slots = BLKFRONT_MAX_SLOTS;
	bf->pool_refs = calloc((size_t)bf->slots * BLKFRONT_SEGS, sizeof(*bf->pool_refs));
	bf->reqs = calloc(bf->slots, sizeof(*bf->reqs));
	if (!bf->pool_refs || !bf->reqs) {
		bf_errf(err, errlen, "out of memory for %u request slots", bf->slots);
		return -ENOMEM;
	}
	for (;;) {
		bf->pool_pages = bf->slots * BLKFRONT_SEGS;
		bf->pool = xengntshr_share_pages(bf->xgs, bf->backend_id, bf->pool_pages,
						 bf->pool_refs, 1);
		if (bf->pool)
			break;
		ret = errno ? -errno : -ENOMEM;
		/* gntalloc has a limit on shared pages: without --slots, settle for fewer. */
		if (ret == -ENOSPC && !bf->opts.slots && bf->slots > 1) {
			bf->slots /= 2;
			bf_debug("the grant device refused %u pages: trying %u slots",
				 bf->pool_pages, bf->slots);
			continue;
		}
		bf_errf(err, errlen, "cannot share %u data pages with domain %u: %s (the grant "
			"device may limit shared pages: ask for fewer --slots)", bf->pool_pages,
			bf->backend_id, strerror(-ret));
		return ret;
	}
	for (unsigned int i = bf->slots; i-- > 0;) {
		struct blkfront_req *r = &bf->reqs[i];

		r->id = i;
		r->buf = (char *)bf->pool + (size_t)i * BLKFRONT_MAX_REQ_BYTES;
		r->next_free = bf->free;
		bf->free = r;
	}
	bf_debug("data pool: %u slots, %u pages shared", bf->slots, bf->pool_pages);
	return 0;
}

/* Unshare the pool and free the slots; idempotent. */
void bf_io_teardown(struct blkfront *bf)
{
	if (bf->pool)
		xengntshr_unshare(bf->xgs, bf->pool, bf->pool_pages);
	bf->pool = NULL;
	free(bf->pool_refs);
	bf->pool_refs = NULL;
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

/* A free slot, or NULL. */
struct blkfront_req *blkfront_req_get(struct blkfront *bf)
{
	struct blkfront_req *r = bf->free;

	if (r) {
		bf->free = r->next_free;
		r->next_free = NULL;
		r->user = NULL;
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

/* Build the ring request for req; -EINVAL when op, alignment or range are wrong. */
static int build(struct blkfront *bf, const struct blkfront_req *req, blkif_request_t *out)
{
	uint32_t ss = bf->disk.sector_size;
	uint64_t size = blkfront_size(bf);

	memset(out, 0, sizeof(*out));
	if (req->offset % ss || req->len % ss || req->offset > size || req->len > size - req->offset)
		return -EINVAL;
	if (req->op == BLKIF_OP_DISCARD) {
		blkif_request_discard_t d = {
			.operation = BLKIF_OP_DISCARD,
			.handle = (blkif_vdev_t)bf->devid,
			.id = req->id,
			.sector_number = req->offset / BLKFRONT_SECTOR,
			.nr_sectors = req->len / BLKFRONT_SECTOR,
		};

		if (!req->len)
			return -EINVAL;
		memcpy(out, &d, sizeof(d));
		return 0;
	}
	switch (req->op) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
		if (!req->len)
			return -EINVAL;
		break;
	case BLKIF_OP_FLUSH_DISKCACHE:
	case BLKIF_OP_WRITE_BARRIER:
		break;		/* with data it is a write with flush semantics, as Linux sends */
	default:
		return -EINVAL;
	}
	if (req->len > BLKFRONT_MAX_REQ_BYTES)
		return -EINVAL;
	out->operation = req->op;
	out->handle = (blkif_vdev_t)bf->devid;
	out->id = req->id;
	out->sector_number = req->len ? req->offset / BLKFRONT_SECTOR : 0;
	for (uint32_t done = 0, k = 0; done < req->len; done += BLKFRONT_PAGE_SIZE, k++) {
		uint32_t n = req->len - done < BLKFRONT_PAGE_SIZE ? req->len - done :
			     BLKFRONT_PAGE_SIZE;

		out->seg[k].gref = bf->pool_refs[req->id * BLKFRONT_SEGS + k];
		out->seg[k].first_sect = 0;
		out->seg[k].last_sect = (uint8_t)(n / BLKFRONT_SECTOR - 1);
		out->nr_segments = (uint8_t)(k + 1);
	}
	return 0;
}

/* Put a request on the ring, not yet pushed. */
int blkfront_submit(struct blkfront *bf, struct blkfront_req *req, uint8_t op,
		    uint64_t offset, uint32_t len)
{
	blkif_request_t r;
	int err;

	if (req->inflight)
		return -EBUSY;
	if (bf->backend_gone)
		return -ESHUTDOWN;
	req->op = op;
	req->offset = offset;
	req->len = len;
	err = build(bf, req, &r);
	err = err ? err : blkfront_ring_put(bf, &r, false);
	if (err)
		return err;
	req->status = BLKIF_RSP_OKAY;
	req->submit_ns = bf_now_ns();
	req->complete_ns = 0;
	req->inflight = true;
	bf->inflight++;
	return 0;
}

/* Push what was submitted; notify only if the backend asked. */
int blkfront_kick(struct blkfront *bf)
{
	return blkfront_ring_push(bf, BLKFRONT_NOTIFY_IF_ASKED);
}

/* Requests in flight. */
unsigned int blkfront_inflight(const struct blkfront *bf)
{
	return bf->inflight;
}

/* Collect up to max completed requests, waiting up to timeout_ms for the first. */
int blkfront_reap(struct blkfront *bf, struct blkfront_req **done, unsigned int max,
		  int timeout_ms)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX :
			    bf_now_ns() + (uint64_t)timeout_ms * 1000000u;
	blkif_response_t rsp;

	for (;;) {
		unsigned int n = 0;
		uint64_t now;
		int ret;

		if (bf->broken)
			return bf->broken;
		while (n < max && blkfront_ring_get_response(bf, &rsp) == 1) {
			struct blkfront_req *r;

			/* The requests still in flight may never be answered: their slots stay
			 * taken, and every later call fails (after handing back what we have). */
			if (rsp.id >= bf->slots || !bf->reqs[rsp.id].inflight) {
				bf_debug("backend answered id %llu, which is not in flight: "
				       "giving up on this disk", (unsigned long long)rsp.id);
				bf->broken = -EPROTO;
				return n ? (int)n : bf->broken;
			}
			r = &bf->reqs[rsp.id];
			r->status = rsp.status;
			r->complete_ns = bf_now_ns();
			r->inflight = false;
			bf->inflight--;
			done[n++] = r;
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

/* Data pool pages. */
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
