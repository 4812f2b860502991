/*
 * Grant copy: the hypervisor copies between guest pages and ours, so nothing of
 * the guest is ever mapped here. Used for indirect descriptor pages (but in persistent
 * mode, where they are read through the persistent cache while it has room), and for
 * data in copy mode (--grant-mode=copy), through bounce pages of the ring's own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "grantint.h"
#include "log.h"
#include "stats.h"

/* Copy segments per hypercall at most; the array lives on the stack. */
#define COPY_BATCH 512

/* A batch of copy segments being built, and the requests they belong to. */
struct copy_batch {
	struct grant_ctx *g;
	unsigned int n;
	xengnttab_grant_copy_segment_t seg[COPY_BATCH];
	struct blk_req *owner[COPY_BATCH];
};

/*
 * Copy mode's bounce pages: one arena per ring, as many pages as the ring may
 * hold in flight (see GRANT_INFLIGHT_PAGES), handed out a page at a time from
 * a stack of free page numbers. The last freed is the first reused, so only
 * the pages the guest keeps busy become resident.
 */
#define BOUNCE_PAGES (GRANT_INFLIGHT_PAGES + BLK_MAX_SEGS - 1)

struct bounce_pool {
	uint8_t *base;
	unsigned int nfree;
	uint16_t free[BOUNCE_PAGES];
};

_Static_assert(BOUNCE_PAGES <= 65536, "page numbers are 16 bits");

/* Allocate g's copy batch, and in copy mode its bounce pages; -ENOMEM. */
int grant_copy_init(struct grant_ctx *g)
{
	g->cb = malloc(sizeof(*g->cb));
	if (!g->cb)
		return -ENOMEM;
	g->cb->g = g;
	g->cb->n = 0;
	if (g->mode != GRANT_MODE_COPY)
		return 0;
	g->bp = malloc(sizeof(*g->bp));
	if (!g->bp)
		return -ENOMEM;
	/* Page-aligned, so that O_DIRECT engines can use the pages as they are. */
	g->bp->base = mmap(NULL, (size_t)BOUNCE_PAGES * XEN_PAGE_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (g->bp->base == MAP_FAILED) {
		free(g->bp);
		g->bp = NULL;
		return -ENOMEM;
	}
	g->bp->nfree = BOUNCE_PAGES;
	for (unsigned int i = 0; i < BOUNCE_PAGES; i++)
		g->bp->free[i] = (uint16_t)(BOUNCE_PAGES - 1 - i);
	return 0;
}

/* Free them; idempotent. */
void grant_copy_fini(struct grant_ctx *g)
{
	free(g->cb);
	g->cb = NULL;
	if (g->bp)
		munmap(g->bp->base, (size_t)BOUNCE_PAGES * XEN_PAGE_SIZE);
	free(g->bp);
	g->bp = NULL;
}

/* Run the batch: one hypercall; a failed segment fails its request only. */
static void batch_run(struct copy_batch *b)
{
	int err = 0;

	if (!b->n)
		return;
	stat_add(&b->g->c->copy_calls, 1);
	stat_add(&b->g->c->copies, b->n);
	if (xengnttab_grant_copy(b->g->xgt, b->n, b->seg))
		err = errno ? -errno : -EIO;	/* the whole call failed */
	for (unsigned int i = 0; i < b->n; i++) {
		struct blk_req *req = b->owner[i];
		int e = err ? err : b->seg[i].status == GNTST_okay ? 0 : -EFAULT;

		if (e && !req->err) {
			log_debug(LOG_IO, "grant copy for request id %llu failed: status %d",
				  (unsigned long long)req->io.id, b->seg[i].status);
			req->err = e;
		}
	}
	b->n = 0;
}

/* Add one segment: len bytes between guest page gref+offset and our buffer at local. */
static void batch_add(struct copy_batch *b, struct blk_req *req, grant_ref_t gref,
		      uint16_t offset, void *local, uint16_t len, bool to_guest)
{
	xengnttab_grant_copy_segment_t *s;

	if (b->n == COPY_BATCH)
		batch_run(b);
	s = &b->seg[b->n];
	memset(s, 0, sizeof(*s));
	if (to_guest) {
		s->source.virt = local;
		s->dest.foreign.ref = gref;
		s->dest.foreign.offset = offset;
		s->dest.foreign.domid = (uint16_t)b->g->domid;
		s->flags = GNTCOPY_dest_gref;
	} else {
		s->source.foreign.ref = gref;
		s->source.foreign.offset = offset;
		s->source.foreign.domid = (uint16_t)b->g->domid;
		s->dest.virt = local;
		s->flags = GNTCOPY_source_gref;
	}
	s->len = len;
	b->owner[b->n++] = req;
}

/*
 * Copy the segment descriptors of n indirect requests into segs[i]: in persistent mode
 * off the cached mappings (as Linux blkback), else, or when the cache has no room, with
 * one grant copy for the lot. A page that cannot be reached fails its request only.
 */
void grant_fetch_indirect(struct grant_ctx *g, struct blk_req **reqs, unsigned int n,
			  struct blkif_request_segment (*segs)[BLK_MAX_SEGS])
{
	struct copy_batch *b = g->cb;

	for (unsigned int i = 0; i < n; i++) {
		const struct blk_io *io = &reqs[i]->io;

		for (unsigned int k = 0; k < io->nr_indirect && !reqs[i]->err; k++) {
			unsigned int first = k * BLK_SEGS_PER_INDIRECT_PAGE;
			unsigned int count = io->nr_segs - first;
			uint16_t len;
			int err = -ENOSPC;

			if (count > BLK_SEGS_PER_INDIRECT_PAGE)
				count = BLK_SEGS_PER_INDIRECT_PAGE;
			len = (uint16_t)(count * sizeof(segs[i][0]));
			if (g->mode == GRANT_MODE_PERSISTENT)
				err = grant_cache_read(g, io->indirect_grefs[k], &segs[i][first],
						       len);
			if (err == -ENOSPC)
				batch_add(b, reqs[i], io->indirect_grefs[k], 0, &segs[i][first],
					  len, false);
			else if (err) {
				log_debug(LOG_IO, "persistent grant map of indirect page %u of "
					  "request id %llu failed: %s", k,
					  (unsigned long long)io->id, strerror(-err));
				reqs[i]->err = err;
			}
		}
	}
	batch_run(b);
}

/*
 * Give each segment of a request a bounce page, at the segment's own offset in
 * it, as if mapped; -ENOMEM if the pool is short (the ring's budget keeps it not).
 */
static int bounce_get(struct bounce_pool *bp, struct blk_req *req)
{
	if (bp->nfree < req->io.nr_segs)
		return -ENOMEM;
	for (unsigned int k = 0; k < req->io.nr_segs; k++) {
		uint8_t *page = bp->base + (size_t)bp->free[--bp->nfree] * XEN_PAGE_SIZE;

		req->iov[k].iov_base = page + req->io.seg[k].offset;
		req->iov[k].iov_len = req->io.seg[k].len;
	}
	req->copied = true;
	return 0;
}

/* Copy mode: give a finished request's bounce pages back (its iovecs say which). */
void grant_copy_release(struct grant_ctx *g, struct blk_req *req)
{
	struct bounce_pool *bp = g->bp;

	for (unsigned int k = 0; k < req->io.nr_segs; k++) {
		size_t at = (size_t)((uint8_t *)req->iov[k].iov_base - bp->base);

		bp->free[bp->nfree++] = (uint16_t)(at / XEN_PAGE_SIZE);
	}
	req->copied = false;
}

/* Copy mode: give n requests bounce pages, filled from the guest for writes. */
void grant_copy_in(struct grant_ctx *g, struct blk_req **reqs, unsigned int n,
		   bool guest_writable)
{
	struct copy_batch *b = g->cb;

	for (unsigned int i = 0; i < n; i++) {
		struct blk_req *req = reqs[i];

		if (bounce_get(g->bp, req)) {
			req->err = -ENOMEM;
			continue;
		}
		for (unsigned int k = 0; !guest_writable && k < req->io.nr_segs; k++)
			batch_add(b, req, req->io.seg[k].gref, req->io.seg[k].offset,
				  req->iov[k].iov_base, req->io.seg[k].len, false);
	}
	batch_run(b);
}

/* Copy mode: copy a finished read's bounce pages into the guest's pages. */
int grant_copy_out(struct grant_ctx *g, struct blk_req *req)
{
	struct copy_batch *b = g->cb;

	for (unsigned int k = 0; k < req->io.nr_segs; k++)
		batch_add(b, req, req->io.seg[k].gref, req->io.seg[k].offset,
			  req->iov[k].iov_base, req->io.seg[k].len, true);
	batch_run(b);
	return req->err;
}
