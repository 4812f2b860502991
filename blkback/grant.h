/* How a request's guest pages are reached: the one place that decides. */
#ifndef BLKBACK_GRANT_H
#define BLKBACK_GRANT_H

#include <xengnttab.h>

#include "req.h"

/* Grant operations charged to the hypervisor, for statistics. */
struct grant_counters {
	uint64_t map_calls;	/* map hypercall batches */
	uint64_t maps;		/* pages mapped */
	uint64_t unmaps;	/* pages unmapped */
	uint64_t persistent;	/* persistent grants mapped now (a gauge) */
};

/* Persistent grants kept per ring at most, as Linux blkback's max_persistent_grants. */
#define GRANT_PERSISTENT_MAX 1056

/*
 * The persistent grants of one ring (feature-persistent): each gref is mapped once,
 * writable, and kept; idle ones are unmapped oldest first when the cache is full.
 */
struct grant_cache;

/* A cache for up to max grants; NULL if out of memory. */
struct grant_cache *grant_cache_new(unsigned int max);
/* Unmap every grant and free the cache (nothing may be in flight); NULL is fine. */
void grant_cache_free(xengnttab_handle *xgt, struct grant_cache *gc, struct grant_counters *c);

/*
 * Reach the pages of n requests that move data the same way. With a cache gc, through
 * persistent grants (a request the cache cannot hold falls back to the batch below;
 * reqs may be reordered).
 * Without, map them in one batch.
 * guest_writable is true for reads (the backend writes into guest memory).
 * When the batch fails (one bad or revoked ref fails the whole hypercall),
 * each request is mapped on its own so that only the bad ones fail: those
 * get req->err set. Each mapped request gets pages, gmap and its iovecs.
 */
void grant_map_reqs(xengnttab_handle *xgt, struct grant_cache *gc, uint32_t domid,
		    struct blk_req **reqs, unsigned int n, bool guest_writable,
		    struct grant_counters *c);

/*
 * A finished request lets go of its pages. One on persistent grants comes straight
 * back: the frontend keeps those grants and expects them mapped. Otherwise its answer
 * must wait until the
 * mapping is gone: Linux blkfront checks, when it sees a response, that the
 * backend no longer maps its grants, and disables the disk if one still is.
 * So the request is parked on the mapping, and the last one out unmaps and
 * returns every parked request, linked through next_free, to be answered.
 * Returns NULL while others still hold the mapping; a request that had no
 * mapping comes straight back.
 */
struct blk_req *grant_release(xengnttab_handle *xgt, struct grant_cache *gc, struct blk_req *req,
			      struct grant_counters *c);

#endif
