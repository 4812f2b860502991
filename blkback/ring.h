/* One shared ring and the thread that serves it. */
#ifndef BLKBACK_RING_H
#define BLKBACK_RING_H

#include <xenevtchn.h>

#include "abi.h"
#include "grant.h"

/* What the xenbus side negotiated for a ring. */
struct blk_ring_config {
	char name[32];			/* "d3 xvdb", for logs */
	uint32_t domid;			/* the frontend's */
	grant_ref_t ring_ref;
	evtchn_port_t remote_port;
	enum blkif_abi abi;
	struct blk_limits lim;
	struct storage *disk;
};

/* Counters in the style of the kernel blkback's statistics. */
struct blk_ring_stats {
	uint64_t rd_req, wr_req, f_req, ds_req, oo_req, err_req;
	uint64_t rd_sect, wr_sect, ds_sect;
	uint64_t notifies;
	struct grant_counters grants;
};

struct blk_ring;

/* Map the ring, bind the event channel and start serving it. */
int blk_ring_start(const struct blk_ring_config *cfg, struct blk_ring **ringp);

/* Stop serving: answer what is in flight, then unmap and unbind. NULL is fine. */
void blk_ring_stop(struct blk_ring *ring);

/* A snapshot of the ring's counters (approximate while the ring runs). */
void blk_ring_get_stats(const struct blk_ring *ring, struct blk_ring_stats *st);

#endif
