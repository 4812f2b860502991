/*
 * Grant copy: the hypervisor copies between guest pages and ours, so nothing of
 * the guest is ever mapped here. Used for indirect descriptor pages always, and
 * for data in copy mode (--grant-mode=copy), through a bounce buffer per slot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* Allocate g's copy batch. */
int grant_copy_init(struct grant_ctx *g)
{
	g->cb = malloc(sizeof(*g->cb));
	if (!g->cb)
		return -ENOMEM;
	g->cb->g = g;
	g->cb->n = 0;
	return 0;
}

/* Free it. */
void grant_copy_fini(struct grant_ctx *g)
{
	free(g->cb);
	g->cb = NULL;
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

/* Copy the segment descriptors of n indirect requests into segs[i]. */
void grant_fetch_indirect(struct grant_ctx *g, struct blk_req **reqs, unsigned int n,
			  struct blkif_request_segment (*segs)[BLK_MAX_SEGS])
{
	struct copy_batch *b = g->cb;

	for (unsigned int i = 0; i < n; i++) {
		const struct blk_io *io = &reqs[i]->io;

		for (unsigned int k = 0; k < io->nr_indirect; k++) {
			unsigned int first = k * BLK_SEGS_PER_INDIRECT_PAGE;
			unsigned int count = io->nr_segs - first;

			if (count > BLK_SEGS_PER_INDIRECT_PAGE)
				count = BLK_SEGS_PER_INDIRECT_PAGE;
			batch_add(b, reqs[i], io->indirect_grefs[k], 0, &segs[i][first],
				  (uint16_t)(count * sizeof(segs[i][0])), false);
		}
	}
	batch_run(b);
}

/* Give a request a bounce buffer of at least its nr_segs pages; -ENOMEM. */
static int bounce_get(struct blk_req *req)
{
	unsigned int need = req->io.nr_segs < BLKIF_MAX_SEGMENTS_PER_REQUEST ?
			    BLKIF_MAX_SEGMENTS_PER_REQUEST : req->io.nr_segs;
	void *p;

	if (req->bounce_pages >= need)
		return 0;
	/* Page-aligned, so that O_DIRECT engines can use it as it is. */
	if (posix_memalign(&p, XEN_PAGE_SIZE, (size_t)need * XEN_PAGE_SIZE))
		return -ENOMEM;
	free(req->bounce);
	req->bounce = p;
	req->bounce_pages = need;
	return 0;
}

/* Free a request slot's bounce buffer. */
void grant_req_free(struct blk_req *req)
{
	free(req->bounce);
	req->bounce = NULL;
	req->bounce_pages = 0;
}

/* Copy mode: give n requests bounce buffers, filled from the guest for writes. */
void grant_copy_in(struct grant_ctx *g, struct blk_req **reqs, unsigned int n,
		   bool guest_writable)
{
	struct copy_batch *b = g->cb;

	for (unsigned int i = 0; i < n; i++) {
		struct blk_req *req = reqs[i];

		if (bounce_get(req)) {
			req->err = -ENOMEM;
			continue;
		}
		req->copied = true;
		for (unsigned int k = 0; k < req->io.nr_segs; k++) {
			const struct blk_seg *s = &req->io.seg[k];

			/* Each segment at its own offset in its own page, as if mapped. */
			req->iov[k].iov_base = req->bounce + (size_t)k * XEN_PAGE_SIZE + s->offset;
			req->iov[k].iov_len = s->len;
			if (!guest_writable)
				batch_add(b, req, s->gref, s->offset, req->iov[k].iov_base,
					  s->len, false);
		}
	}
	batch_run(b);
}

/* Copy mode: copy a finished read's bounce buffer into the guest's pages. */
int grant_copy_out(struct grant_ctx *g, struct blk_req *req)
{
	struct copy_batch *b = g->cb;

	for (unsigned int k = 0; k < req->io.nr_segs; k++)
		batch_add(b, req, req->io.seg[k].gref, req->io.seg[k].offset,
			  req->iov[k].iov_base, req->io.seg[k].len, true);
	batch_run(b);
	return req->err;
}
