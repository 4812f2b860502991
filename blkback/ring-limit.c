/*
 * A ring under its disk's I/O limits (iolimit.h). The sweep asks before each request it
 * takes; one that may not go yet waits here, parked, and the sweep stops: the rest wait
 * on the shared ring, where the guest sees a full queue, not an error. The ring's thread
 * then sleeps in poll until the tokens come (ring_limit_timeout), without spinning; a
 * parked request goes first at the next sweep. A disk without limits pays one load.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "iolimit.h"
#include "ringint.h"

/* What a request costs the bytes bucket: an indirect one, its pages until they are read. */
static uint64_t req_bytes(const struct blk_req *req)
{
	if (!req->io.nr_segs)
		return 0;
	if (req->io.indirect && !req->io.nr_sectors)
		return (uint64_t)req->io.nr_segs * XEN_PAGE_SIZE;
	return req->io.nr_sectors << SECTOR_SHIFT;
}

/*
 * The ring must let a waiting request go now, its cost still taken: it stops, halts or
 * pauses, and answers what it took (a pause's resize must not find it validated against
 * the old size).
 */
static bool ring_must_go(const struct blk_ring *r)
{
	return r->halted || r->stopping || r->poll_failed ||
	       __atomic_load_n(&r->pause_req, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&r->stop_req, __ATOMIC_ACQUIRE);
}

/* Whether req may go now; if not, it waits in r->parked. */
bool ring_limit_admit(struct blk_ring *r, struct blk_req *req)
{
	struct iolimit *l = r->cfg.limit;
	uint64_t now, wait, bytes;

	if (!iolimit_on(l))
		return true;
	now = now_ns();
	bytes = req_bytes(req);
	wait = iolimit_admit(l, bytes, ring_must_go(r), now);
	if (!wait) {
		req->charged = bytes;
		return true;
	}
	r->parked = req;
	r->parked_at = now;
	r->parked_until = now + wait;
	log_debug(LOG_RING, "%s: request id %" PRIu64 " waits %" PRIu64 " us for the disk's I/O "
		  "limit", r->cfg.name, req->io.id, wait / 1000);
	return false;
}

/* The parked request if it may go now (limits may have changed meanwhile); NULL while it waits. */
struct blk_req *ring_limit_unpark(struct blk_ring *r)
{
	struct blk_req *req = r->parked;
	uint64_t now = now_ns(), wait = 0, bytes = req_bytes(req);

	if (iolimit_on(r->cfg.limit))
		wait = iolimit_admit(r->cfg.limit, bytes, ring_must_go(r), now);
	if (wait) {
		r->parked_until = now + wait;
		return NULL;
	}
	req->charged = iolimit_on(r->cfg.limit) ? bytes : 0;
	if (r->cfg.limit)
		iolimit_waited(r->cfg.limit, now - r->parked_at);
	r->parked = NULL;
	return req;
}

/* An indirect request's segments are read (or failed): give back what it did not cost. */
void ring_limit_refund(struct blk_ring *r, struct blk_req *req)
{
	uint64_t cost = req->err ? 0 : req->io.nr_sectors << SECTOR_SHIFT;

	if (req->charged > cost)
		iolimit_refund(r->cfg.limit, req->charged - cost);
	req->charged = cost < req->charged ? cost : req->charged;
}

/* poll's timeout of ms (-1: none) as ppoll's, shortened to the parked request's wait. */
const struct timespec *ring_limit_timeout(const struct blk_ring *r, int ms, struct timespec *ts)
{
	uint64_t ns = ms < 0 ? UINT64_MAX : (uint64_t)ms * 1000000u, now;

	if (r->parked) {
		now = now_ns();
		if (r->parked_until <= now)
			ns = 0;
		else if (r->parked_until - now < ns)
			ns = r->parked_until - now;
	}
	if (ns == UINT64_MAX)
		return NULL;
	ts->tv_sec = (time_t)(ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
	return ts;
}

/* The disk's I/O limits changed: a request waiting for tokens looks again now. */
void blk_ring_limit_changed(struct blk_ring *r)
{
	uint64_t one = 1;

	if (r->started && write(r->wake_fd, &one, sizeof(one)) != sizeof(one))
		log_err("%s: cannot wake the ring thread for its new I/O limits: %s", r->cfg.name,
			strerror(errno));
}
