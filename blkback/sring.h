/*
 * The indices on a shared ring page, which the guest may change at any moment.
 *
 * ring.h's macros read them with plain loads, and some read req_prod twice: a
 * compiler may then load a value again after the code checked it (a double
 * fetch). So the back end reads each shared index here, once per use, with a
 * relaxed atomic load (the kernel's READ_ONCE), and the consumed range is only
 * ever bounded by one snapshot of req_prod that the sweep checked. Everything
 * else read from the page (the final check, the notify decision) is a hint
 * that at worst costs a spurious turn of the loop or event.
 */
#ifndef BLKBACK_SRING_H
#define BLKBACK_SRING_H

#include "xenio.h"

/* A shared index, read once. */
static inline RING_IDX sring_read(const RING_IDX *idx)
{
	return __atomic_load_n(idx, __ATOMIC_RELAXED);
}

/* A shared index, written once. */
static inline void sring_write(RING_IDX *idx, RING_IDX v)
{
	__atomic_store_n(idx, v, __ATOMIC_RELAXED);
}

/*
 * The frontend's request producer, read once, then a read barrier so that the
 * request slots are read after it. The caller checks it before any use.
 */
static inline RING_IDX sring_req_prod(const struct blkif_back_ring *br)
{
	RING_IDX rp = sring_read(&br->sring->req_prod);

	xen_rmb();
	return rp;
}

/*
 * Whether the producer is outside what the frontend may have produced: more
 * than a ring ahead of our responses, or behind the requests we consumed
 * (the frontend cannot take back a request). Only a producer that passes is
 * used, and only that snapshot bounds the sweep.
 */
static inline bool sring_req_prod_bad(const struct blkif_back_ring *br, RING_IDX rp)
{
	return (RING_IDX)(rp - br->rsp_prod_pvt) > RING_SIZE(br) ||
	       (RING_IDX)(rp - br->req_cons) > (RING_IDX)(rp - br->rsp_prod_pvt);
}

/*
 * RING_FINAL_CHECK_FOR_REQUESTS, with each read of req_prod done once: whether
 * the frontend has published requests we have not taken, after re-arming
 * req_event. A hint only: the sweep reads and checks req_prod itself.
 */
static inline bool sring_final_check(struct blkif_back_ring *br)
{
	if (sring_read(&br->sring->req_prod) != br->req_cons)
		return true;
	sring_write(&br->sring->req_event, br->req_cons + 1);
	xen_mb();	/* the frontend sees req_event before we look again */
	return sring_read(&br->sring->req_prod) != br->req_cons;
}

/* Whether the frontend has published requests we have not taken (a hint). */
static inline bool sring_has_requests(const struct blkif_back_ring *br)
{
	return sring_read(&br->sring->req_prod) != br->req_cons;
}

/*
 * RING_PUSH_RESPONSES_AND_CHECK_NOTIFY, from the producer value we published
 * last (*published, ours) instead of the one on the page, which the guest may
 * have rewritten: whether the frontend asked to be notified (rsp_event, read once).
 */
static inline bool sring_push_responses(struct blkif_back_ring *br, RING_IDX *published)
{
	RING_IDX old = *published, new = br->rsp_prod_pvt;

	xen_wmb();	/* the frontend sees the responses before the producer */
	sring_write(&br->sring->rsp_prod, new);
	*published = new;
	xen_mb();	/* ... and the producer before we read rsp_event */
	return (RING_IDX)(new - sring_read(&br->sring->rsp_event)) < (RING_IDX)(new - old);
}

#endif
