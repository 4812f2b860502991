/*
 * The shared rings and their event channels, one per queue on one xenevtchn handle: setup,
 * teardown, and the low-level ring API (on a current queue, 0 unless selected).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Share queue i's ring pages and bind an unbound event channel for the backend. */
static int queue_setup(struct blkfront *bf, unsigned int i, char *err, size_t errlen)
{
	struct bf_queue *q = &bf->queues[i];
	size_t bytes = (size_t)bf->ring_pages * BLKFRONT_PAGE_SIZE;
	xenevtchn_port_or_error_t port;
	int ret;

	q->sring = xengntshr_share_pages(bf->xgs, bf->backend_id, bf->ring_pages, q->ring_refs, 1);
	if (!q->sring) {
		ret = errno ? -errno : -ENOMEM;
		bf_errf(err, errlen, "cannot share %u ring page(s) of queue %u with domain %u: %s",
			bf->ring_pages, i, bf->backend_id, strerror(-ret));
		return ret;
	}
	memset(q->sring, 0, bytes);
	SHARED_RING_INIT((blkif_sring_t *)q->sring);
	FRONT_RING_INIT(&q->ring, (blkif_sring_t *)q->sring, bytes);
	q->abi = bf->opts.abi;		/* the header is the same in every layout, the slots not */
	q->ring.nr_ents = bf_abi_ring_size(q->abi, q->sring, bytes);
	port = xenevtchn_bind_unbound_port(bf->xce, bf->backend_id);
	if (port < 0) {
		ret = errno ? -errno : -EIO;
		bf_errf(err, errlen, "cannot allocate an event channel for domain %u: %s",
			bf->backend_id, strerror(-ret));
		return ret;
	}
	q->port = (evtchn_port_t)port;
	q->port_bound = true;
	bf_debug("queue %u: ring of %u page(s), %u requests, refs %u.., event channel %u", i,
		 bf->ring_pages, RING_SIZE(&q->ring), q->ring_refs[0], q->port);
	return 0;
}

/* Open the grant and event channel devices, then set up every queue. */
int bf_ring_setup(struct blkfront *bf, char *err, size_t errlen)
{
	int ret;

	bf->xgs = xengntshr_open(NULL, 0);
	if (!bf->xgs) {
		ret = -errno;
		/* XENSIM_HV only chooses the hint: the code path is the same in both worlds. */
		bf_errf(err, errlen, "cannot open the grant sharing device: %s (%s)",
			strerror(errno), getenv("XENSIM_HV") ? "in the simulator: the drop-in "
			"libxengnttab.so.1 must come first on LD_LIBRARY_PATH; build it with "
			"'make sim' or set XENSIM_LIBDIR" : "in a Linux guest: load xen-gntalloc and "
			"check /dev/xen/gntalloc");
		return ret;
	}
	bf->xce = xenevtchn_open(NULL, 0);
	if (!bf->xce) {
		ret = -errno;
		bf_errf(err, errlen, "cannot open the event channel device: %s (in a Linux guest "
			"check /dev/xen/evtchn)", strerror(errno));
		return ret;
	}
	bf->ring_pages = 1u << bf->feat.ring_order;
	for (unsigned int i = 0; i < bf->feat.nr_queues; i++) {
		ret = queue_setup(bf, i, err, errlen);
		bf->nr_queues = i + 1;		/* teardown releases what this one got */
		if (ret)
			return ret;
	}
	return 0;
}

/* Unbind the event channels and unshare the rings; idempotent. */
void bf_ring_teardown(struct blkfront *bf)
{
	for (unsigned int i = 0; i < bf->nr_queues; i++) {
		struct bf_queue *q = &bf->queues[i];

		if (q->port_bound)
			xenevtchn_unbind(bf->xce, q->port);
		q->port_bound = false;
		if (q->sring)
			xengntshr_unshare(bf->xgs, q->sring, bf->ring_pages);
		q->sring = NULL;
	}
	bf->nr_queues = 0;
	if (bf->xce)
		xenevtchn_close(bf->xce);
	bf->xce = NULL;
	if (bf->xgs)
		xengntshr_close(bf->xgs);
	bf->xgs = NULL;
}

/* Copy a request-sized slot onto q's ring, in its layout; -ENOSPC on a full ring unless
 * forced. */
int bf_q_put(struct bf_queue *q, const void *req, bool force)
{
	if (!force && RING_FULL(&q->ring))
		return -ENOSPC;
	bf_abi_put(q, q->ring.req_prod_pvt, req);
	q->ring.req_prod_pvt++;
	return 0;
}

/* Send an event on q's channel. */
static int q_notify(struct blkfront *bf, struct bf_queue *q)
{
	if (xenevtchn_notify(bf->xce, q->port))
		return errno ? -errno : -EIO;
	bf->notifies++;
	return 0;
}

/* Publish q's req_prod_pvt, then notify never, if the backend asked (req_event), or always. */
int bf_q_push(struct blkfront *bf, struct bf_queue *q, enum blkfront_notify how)
{
	int notify = 0;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->ring, notify);
	if (how == BLKFRONT_NOTIFY_ALWAYS || (how == BLKFRONT_NOTIFY_IF_ASKED && notify))
		return q_notify(bf, q);
	return 0;
}

/* Take q's next unconsumed response as it is, re-arming rsp_event when there is none. */
int bf_q_get_response(struct bf_queue *q, blkif_response_t *rsp)
{
	int more;

	RING_FINAL_CHECK_FOR_RESPONSES(&q->ring, more);
	if (!more)
		return 0;
	xen_rmb();	/* read the response only after seeing rsp_prod cover it */
	bf_abi_get(q, q->ring.rsp_cons, rsp);
	q->ring.rsp_cons++;
	return 1;
}

/* Number of queues. */
unsigned int blkfront_queues(const struct blkfront *bf)
{
	return bf->nr_queues;
}

/* Make queue the low-level API's current one. */
int blkfront_ring_select(struct blkfront *bf, unsigned int queue)
{
	if (queue >= bf->nr_queues)
		return -EINVAL;
	bf->cur = queue;
	return 0;
}

/* The current queue's front ring. */
blkif_front_ring_t *blkfront_ring(struct blkfront *bf)
{
	return &bf->queues[bf->cur].ring;
}

/* Copy req into the current ring's next request slot. */
int blkfront_ring_put(struct blkfront *bf, const blkif_request_t *req, bool force)
{
	return bf_q_put(&bf->queues[bf->cur], req, force);
}

/* Copy an indirect request into the current ring's next request slot. */
int blkfront_ring_put_indirect(struct blkfront *bf, const blkif_request_indirect_t *req,
			       bool force)
{
	blkif_request_t slot;

	_Static_assert(sizeof(*req) <= sizeof(slot), "an indirect request fits a ring slot");
	memset(&slot, 0, sizeof(slot));
	memcpy(&slot, req, sizeof(*req));
	return bf_q_put(&bf->queues[bf->cur], &slot, force);
}

/* Send an event to the backend on the current queue. */
int blkfront_ring_notify(struct blkfront *bf)
{
	return q_notify(bf, &bf->queues[bf->cur]);
}

/* Publish the current ring's requests, then notify as asked. */
int blkfront_ring_push(struct blkfront *bf, enum blkfront_notify how)
{
	return bf_q_push(bf, &bf->queues[bf->cur], how);
}

/* Write the current ring's shared req_prod as given, after the requests it may cover. */
void blkfront_ring_set_req_prod(struct blkfront *bf, RING_IDX prod)
{
	xen_wmb();
	__atomic_store_n(&bf->queues[bf->cur].ring.sring->req_prod, prod, __ATOMIC_RELAXED);
}

/* Take the current ring's next unconsumed response as it is. */
int blkfront_ring_get_response(struct blkfront *bf, blkif_response_t *rsp)
{
	return bf_q_get_response(&bf->queues[bf->cur], rsp);
}

/* Take one pending port off the event channel device and unmask it. */
static int take_event(struct blkfront *bf)
{
	xenevtchn_port_or_error_t p = xenevtchn_pending(bf->xce);

	if (p < 0)
		return errno ? -errno : -EIO;
	if (xenevtchn_unmask(bf->xce, (evtchn_port_t)p))
		return errno ? -errno : -EIO;
	bf->wakeups++;
	return 0;
}

/*
 * Wait for an event from the backend on any queue, watching xenstore too: 1 when woken
 * (events or a xenstore change), 0 on timeout, -ESHUTDOWN when the backend left Connected.
 * Every port found pending is unmasked (xenevtchn_pending blocks when none is, so each
 * further one is taken only while the device polls readable).
 */
int blkfront_ring_wait(struct blkfront *bf, int timeout_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = xenevtchn_fd(bf->xce), .events = POLLIN },
		{ .fd = xs_fileno(bf->xs), .events = POLLIN },
	};
	int n, ret;

	if (bf->backend_gone)
		return -ESHUTDOWN;
	n = poll(pfd, 2, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (pfd[1].revents) {
		bf_watch_events(bf);
		if (bf->backend_gone)
			return -ESHUTDOWN;
	}
	for (unsigned int i = 0; pfd[0].revents && i < bf->nr_queues; i++) {
		ret = take_event(bf);
		if (ret)
			return ret;
		if (i + 1 < bf->nr_queues && poll(pfd, 1, 0) <= 0)
			break;
	}
	return n > 0;	/* woken: the caller looks at the rings again */
}

/* Notifications sent and wakeups taken. */
void blkfront_io_counts(const struct blkfront *bf, uint64_t *notifies, uint64_t *wakeups)
{
	*notifies = bf->notifies;
	*wakeups = bf->wakeups;
}
