/*
 * gntcopy.c: xensim's drop-in xengnttab_grant_copy. One round trip per chunk of segments:
 * the daemon checks every grant side as Xen does (GNTST_* per segment, counted) and names
 * the frames; the bytes then move here with preadv/pwritev on the granter's memfd, one call
 * per run of segments that follow each other there, without mapping anything.
 * As with the Linux gntdev: a segment with no grant side, or a grant side that crosses its
 * page, fails the whole call with EINVAL before anything is copied (gntdev may have copied
 * earlier segments by then); a bad local buffer gives EFAULT.
 */
#include "gnt.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xengnttab.h>

#define RUN_IOV 64

/* Consecutive segments whose grant sides follow each other in one memfd: one preadv or
 * pwritev instead of a syscall per segment. */
struct run {
	int fd, n;
	bool write;
	off_t off, end;
	size_t bytes;
	struct iovec iov[RUN_IOV];
};

/* Move the bytes of the run; a short transfer means a bad local buffer (EFAULT). */
static int run_flush(struct run *r)
{
	ssize_t n;

	if (!r->n)
		return 0;
	n = r->write ? pwritev(r->fd, r->iov, r->n, r->off) : preadv(r->fd, r->iov, r->n, r->off);
	r->n = 0;
	if (n < 0)
		return -errno;
	return (size_t)n == r->bytes ? 0 : -EFAULT;
}

/* Add len bytes at off of fd, from or to buf, to the run (flushing it if they do not
 * follow). */
static int run_add(struct run *r, int fd, bool write, off_t off, void *buf, size_t len)
{
	int ret = 0;

	if (r->n && (r->fd != fd || r->write != write || r->end != off || r->n == RUN_IOV))
		ret = run_flush(r);
	if (ret)
		return ret;
	if (!r->n)
		*r = (struct run){ .fd = fd, .write = write, .off = off, .end = off };
	r->iov[r->n++] = (struct iovec){ buf, len };
	r->end += (off_t)len;
	r->bytes += len;
	return 0;
}

/* Move the bytes of one checked segment (through the run when one side is local). */
static int copy_seg(struct xengntdev_handle *h, struct run *run,
		    xengnttab_grant_copy_segment_t *s, const struct hv_copied *src,
		    const struct hv_copied *dst)
{
	char bounce[HV_PAGE_SIZE];
	off_t so = src ? (off_t)src->frame * HV_PAGE_SIZE + s->source.foreign.offset : 0;
	off_t dof = dst ? (off_t)dst->frame * HV_PAGE_SIZE + s->dest.foreign.offset : 0;
	int sfd = src ? h->memfd[src->domid][1] : -1, dfd = dst ? h->memfd[dst->domid][0] : -1;
	int ret;

	if ((src && sfd < 0) || (dst && dfd < 0))
		return -EPROTO;
	if (!dst)
		return run_add(run, sfd, false, so, s->dest.virt, s->len);
	if (!src)
		return run_add(run, dfd, true, dof, s->source.virt, s->len);
	/* Grant to grant: through a bounce buffer, in order with the rest. */
	ret = run_flush(run);
	if (!ret)
		ret = run_add(run, sfd, false, so, bounce, s->len);
	if (!ret)
		ret = run_flush(run);
	if (!ret)
		ret = run_add(run, dfd, true, dof, bounce, s->len);
	return ret ? ret : run_flush(run);
}

/* Check and copy segments [0, n) whose grant sides are side[0, nsides). */
static int copy_chunk(struct xengntdev_handle *h, xengnttab_grant_copy_segment_t *segs,
		      uint32_t n, const struct hv_copy *side, uint32_t nsides, bool more)
{
	struct hv_req q = { .op = HV_COPY, .count = nsides, .a = more };
	const struct hv_copied *st;
	struct hvc_reply r;
	struct run *run = malloc(sizeof(*run));
	uint32_t k = 0;
	int ret;

	if (!run)
		return -ENOMEM;
	run->n = 0;
	ret = hvc_call(&h->hv, &q, side, nsides * sizeof(*side),
		       nsides * sizeof(struct hv_copied), &r);
	gnt_take_memfds(h, &r);
	if (!ret)
		ret = r.h.err;
	if (!ret && r.h.count != nsides)
		ret = -EPROTO;
	st = r.payload;
	for (uint32_t i = 0; !ret && i < n; i++) {
		xengnttab_grant_copy_segment_t *s = &segs[i];
		const struct hv_copied *src = NULL, *dst = NULL;

		if (s->flags & GNTCOPY_source_gref)
			src = &st[k++];
		if (s->flags & GNTCOPY_dest_gref)
			dst = &st[k++];
		s->status = GNTST_okay;
		if (src && src->status != GNTST_okay)
			s->status = (int16_t)src->status;
		else if (dst && dst->status != GNTST_okay)
			s->status = (int16_t)dst->status;
		else
			ret = copy_seg(h, run, s, src, dst);
	}
	if (!ret)
		ret = run_flush(run);
	hvc_reply_free(&r);
	free(run);
	return ret;
}

/* Add the grant sides of one segment to the request. */
static uint32_t add_sides(const xengnttab_grant_copy_segment_t *s, struct hv_copy *side)
{
	uint32_t k = 0;

	if (s->flags & GNTCOPY_source_gref)
		side[k++] = (struct hv_copy){ s->source.foreign.domid, s->source.foreign.ref,
					      s->source.foreign.offset, s->len, 0 };
	if (s->flags & GNTCOPY_dest_gref) {
		/* Bit 1: the second side of the same segment. */
		side[k] = (struct hv_copy){ s->dest.foreign.domid, s->dest.foreign.ref,
					    s->dest.foreign.offset, s->len, k ? 3u : 1u };
		k++;
	}
	return k;
}

/* Copy to and from grants: per-segment GNTST_* status, -1 + errno if the call fails. */
XENSIM_API int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count,
				    xengnttab_grant_copy_segment_t *segs)
{
	struct hv_copy *side;
	uint32_t first = 0, nsides = 0;
	bool more = false;
	int ret = 0;

	for (uint32_t i = 0; i < count; i++) {
		const xengnttab_grant_copy_segment_t *s = &segs[i];

		if (!(s->flags & (GNTCOPY_source_gref | GNTCOPY_dest_gref)) ||
		    ((s->flags & GNTCOPY_source_gref) &&
		     s->source.foreign.offset + s->len > HV_PAGE_SIZE) ||
		    ((s->flags & GNTCOPY_dest_gref) &&
		     s->dest.foreign.offset + s->len > HV_PAGE_SIZE))
			return gnt_fail(EINVAL);
	}
	if (!count)
		return 0;
	side = malloc(HV_MAX_COPY * sizeof(*side));
	if (!side)
		return gnt_fail(ENOMEM);
	pthread_mutex_lock(&xgt->lock);
	for (uint32_t i = 0; i < count && !ret; i++) {
		nsides += add_sides(&segs[i], side + nsides);
		if (i + 1 == count || nsides + 2 > HV_MAX_COPY) {
			ret = copy_chunk(xgt, segs + first, i + 1 - first, side, nsides, more);
			more = true;
			first = i + 1;
			nsides = 0;
		}
	}
	pthread_mutex_unlock(&xgt->lock);
	free(side);
	return ret ? gnt_fail(-ret) : 0;
}
