/* The shared ring and the event channel: setup, teardown and the low-level ring API. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Share the ring pages with the backend and bind an unbound event channel for it. */
int bf_ring_setup(struct blkfront *bf, char *err, size_t errlen)
{
	xenevtchn_port_or_error_t port;
	size_t bytes;
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
	bf->ring_pages = 1u << bf->feat.ring_order;
	bytes = (size_t)bf->ring_pages * BLKFRONT_PAGE_SIZE;
	bf->sring = xengntshr_share_pages(bf->xgs, bf->backend_id, bf->ring_pages,
					  bf->ring_refs, 1);
	if (!bf->sring) {
		ret = errno ? -errno : -ENOMEM;
		bf_errf(err, errlen, "cannot share %u ring page(s) with domain %u: %s",
			bf->ring_pages, bf->backend_id, strerror(-ret));
		return ret;
	}
	memset(bf->sring, 0, bytes);
	SHARED_RING_INIT((blkif_sring_t *)bf->sring);
	FRONT_RING_INIT(&bf->ring, (blkif_sring_t *)bf->sring, bytes);

	bf->xce = xenevtchn_open(NULL, 0);
	if (!bf->xce) {
		ret = -errno;
		bf_errf(err, errlen, "cannot open the event channel device: %s (in a Linux guest "
			"check /dev/xen/evtchn)", strerror(errno));
		return ret;
	}
	port = xenevtchn_bind_unbound_port(bf->xce, bf->backend_id);
	if (port < 0) {
		ret = errno ? -errno : -EIO;
		bf_errf(err, errlen, "cannot allocate an event channel for domain %u: %s",
			bf->backend_id, strerror(-ret));
		return ret;
	}
	bf->port = (evtchn_port_t)port;
	bf->port_bound = true;
	bf_debug("ring: %u page(s), %u slots, refs %u.., event channel %u", bf->ring_pages,
		 RING_SIZE(&bf->ring), bf->ring_refs[0], bf->port);
	return 0;
}

/* Unbind the event channel and unshare the ring; idempotent. */
void bf_ring_teardown(struct blkfront *bf)
{
	if (bf->port_bound)
		xenevtchn_unbind(bf->xce, bf->port);
	bf->port_bound = false;
	if (bf->xce)
		xenevtchn_close(bf->xce);
	bf->xce = NULL;
	if (bf->sring)
		xengntshr_unshare(bf->xgs, bf->sring, bf->ring_pages);
	bf->sring = NULL;
	if (bf->xgs)
		xengntshr_close(bf->xgs);
	bf->xgs = NULL;
}

/* The front ring itself. */
blkif_front_ring_t *blkfront_ring(struct blkfront *bf)
{
	return &bf->ring;
}

/* Copy req into the next request slot; -ENOSPC on a full ring unless forced. */
int blkfront_ring_put(struct blkfront *bf, const blkif_request_t *req, bool force)
{
	if (!force && RING_FULL(&bf->ring))
		return -ENOSPC;
	memcpy(RING_GET_REQUEST(&bf->ring, bf->ring.req_prod_pvt), req, sizeof(*req));
	bf->ring.req_prod_pvt++;
	return 0;
}

/* Send an event to the backend. */
int blkfront_ring_notify(struct blkfront *bf)
{
	if (xenevtchn_notify(bf->xce, bf->port))
		return errno ? -errno : -EIO;
	bf->notifies++;
	return 0;
}

/* Publish req_prod_pvt, then notify never, if the backend asked (req_event), or always. */
int blkfront_ring_push(struct blkfront *bf, enum blkfront_notify how)
{
	int notify = 0;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&bf->ring, notify);
	if (how == BLKFRONT_NOTIFY_ALWAYS || (how == BLKFRONT_NOTIFY_IF_ASKED && notify))
		return blkfront_ring_notify(bf);
	return 0;
}

/* Write the shared req_prod as given, after the requests it may cover. */
void blkfront_ring_set_req_prod(struct blkfront *bf, RING_IDX prod)
{
	xen_wmb();
	__atomic_store_n(&bf->ring.sring->req_prod, prod, __ATOMIC_RELAXED);
}

/* Take the next unconsumed response as it is, re-arming rsp_event when there is none. */
int blkfront_ring_get_response(struct blkfront *bf, blkif_response_t *rsp)
{
	int more;

	RING_FINAL_CHECK_FOR_RESPONSES(&bf->ring, more);
	if (!more)
		return 0;
	xen_rmb();	/* read the response only after seeing rsp_prod cover it */
	memcpy(rsp, RING_GET_RESPONSE(&bf->ring, bf->ring.rsp_cons), sizeof(*rsp));
	bf->ring.rsp_cons++;
	return 1;
}

/*
 * Wait for an event from the backend, watching xenstore too: 1 when woken (an event or
 * a xenstore change), 0 on timeout, -ESHUTDOWN when the backend left Connected.
 */
int blkfront_ring_wait(struct blkfront *bf, int timeout_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = xenevtchn_fd(bf->xce), .events = POLLIN },
		{ .fd = xs_fileno(bf->xs), .events = POLLIN },
	};
	int n;

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
	if (pfd[0].revents) {
		xenevtchn_port_or_error_t p = xenevtchn_pending(bf->xce);

		if (p < 0)
			return errno ? -errno : -EIO;
		if (xenevtchn_unmask(bf->xce, (evtchn_port_t)p))
			return errno ? -errno : -EIO;
		bf->wakeups++;
	}
	return n > 0;	/* woken: the caller looks at the ring again */
}

/* Notifications sent and wakeups taken. */
void blkfront_io_counts(const struct blkfront *bf, uint64_t *notifies, uint64_t *wakeups)
{
	*notifies = bf->notifies;
	*wakeups = bf->wakeups;
}
