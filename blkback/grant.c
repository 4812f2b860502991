/* Grant mapping: one batched map per ring sweep, unmapped after completion. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "grant.h"
#include "log.h"
#include "stats.h"

/* One batched mapping, shared by the requests of a sweep. */
struct grant_map {
	void *addr;
	uint32_t count;		/* pages */
	unsigned int users;	/* requests still holding it */
	struct blk_req *parked;	/* finished requests waiting for the unmap */
};

/* Point a mapped request's iovecs into its pages. */
static void req_set_iov(struct blk_req *req)
{
	for (unsigned int i = 0; i < req->io.nr_segs; i++) {
		req->iov[i].iov_base = req->pages + (size_t)i * XEN_PAGE_SIZE + req->io.seg[i].offset;
		req->iov[i].iov_len = req->io.seg[i].len;
	}
}

/* Map the segments of reqs[0..n) with one hypercall batch. */
static int map_range(xengnttab_handle *xgt, uint32_t domid, struct blk_req **reqs,
		     unsigned int n, int prot, struct grant_counters *c)
{
	uint32_t refs[BLKIF_MAX_SEGMENTS_PER_REQUEST * 32], count = 0;
	struct grant_map *gm;
	unsigned int i, k;

	for (i = 0; i < n; i++)
		count += reqs[i]->io.nr_segs;
	if (count > sizeof(refs) / sizeof(refs[0]))
		return -E2BIG;
	for (i = 0, count = 0; i < n; i++)
		for (k = 0; k < reqs[i]->io.nr_segs; k++)
			refs[count++] = reqs[i]->io.seg[k].gref;
	gm = malloc(sizeof(*gm));
	if (!gm)
		return -ENOMEM;
	stat_add(&c->map_calls, 1);
	gm->addr = xengnttab_map_domain_grant_refs(xgt, count, domid, refs, prot);
	if (!gm->addr) {
		int err = -errno;

		free(gm);
		return err ? err : -EFAULT;
	}
	stat_add(&c->maps, count);
	gm->count = count;
	gm->users = n;
	gm->parked = NULL;
	for (i = 0, count = 0; i < n; i++) {
		reqs[i]->gmap = gm;
		reqs[i]->pages = (uint8_t *)gm->addr + (size_t)count * XEN_PAGE_SIZE;
		count += reqs[i]->io.nr_segs;
		req_set_iov(reqs[i]);
	}
	return 0;
}

/* Map a batch; on failure fall back to one mapping per request. */
void grant_map_reqs(xengnttab_handle *xgt, uint32_t domid, struct blk_req **reqs,
		    unsigned int n, bool guest_writable, struct grant_counters *c)
{
	int prot = guest_writable ? PROT_READ | PROT_WRITE : PROT_READ;
	int err;

	if (!n)
		return;
	/* Batches are at most one ring of requests; split if a caller passes more. */
	if (n > 32) {
		grant_map_reqs(xgt, domid, reqs, 32, guest_writable, c);
		grant_map_reqs(xgt, domid, reqs + 32, n - 32, guest_writable, c);
		return;
	}
	err = map_range(xgt, domid, reqs, n, prot, c);
	if (!err)
		return;
	if (n == 1) {
		log_debug(LOG_IO, "grant map of request id %llu failed: %s",
			  (unsigned long long)reqs[0]->io.id, strerror(-err));
		reqs[0]->err = err;
		return;
	}
	for (unsigned int i = 0; i < n; i++)
		grant_map_reqs(xgt, domid, reqs + i, 1, guest_writable, c);
}

/* Let go of a finished request's mapping; see grant.h for why answers wait. */
struct blk_req *grant_release(xengnttab_handle *xgt, struct blk_req *req, struct grant_counters *c)
{
	struct grant_map *gm = req->gmap;
	struct blk_req *ready;

	req->gmap = NULL;
	req->pages = NULL;
	req->next_free = NULL;
	if (!gm)
		return req;
	req->next_free = gm->parked;
	gm->parked = req;
	if (--gm->users)
		return NULL;
	if (xengnttab_unmap(xgt, gm->addr, gm->count))
		log_err("grant unmap of %u pages failed: %s", gm->count, strerror(errno));
	stat_add(&c->unmaps, gm->count);
	ready = gm->parked;
	free(gm);
	return ready;
}
