/* One shared ring and the thread that serves it. */
#ifndef BLKBACK_RING_H
#define BLKBACK_RING_H

#include <time.h>
#include <xenevtchn.h>

#include "abi.h"
#include "grant.h"
#include "stats.h"

/* Multi-page rings: up to 2^BLK_RING_MAX_ORDER shared pages (max-ring-page-order). */
#define BLK_RING_MAX_ORDER 4
#define BLK_RING_MAX_PAGES (1u << BLK_RING_MAX_ORDER)

struct iolimit;

/* What the xenbus side negotiated for a ring. */
struct blk_ring_config {
	char name[48];			/* "d3 xvdb q1", for logs */
	uint32_t domid;			/* the frontend's */
	uint32_t devid, queue;		/* which disk and queue, for the journal */
	const char *journal;		/* the ring journal's file; NULL: none */
	bool take_over;			/* resume from the journal a killed daemon left */
	unsigned int ring_order;	/* the ring is 2^ring_order pages */
	enum grant_mode grant_mode;	/* in use: persistent only if both ends agreed */
	unsigned int poll_us;		/* bound of the busy-poll window after work; 0: none */
	grant_ref_t ring_refs[BLK_RING_MAX_PAGES];
	evtchn_port_t remote_port;
	enum blkif_abi abi;
	struct blk_limits lim;
	struct storage *disk;
	struct iolimit *limit;		/* the disk's I/O limits (iolimit.h), shared by its queues */
	/* Optional: called on the ring's thread as it ends, e.g. to wake the main loop */
	void (*stopped)(void *arg);
	void *stopped_arg;
};

/* Counters in the style of the kernel blkback's statistics (see stats.h for access). */
struct blk_ring_stats {
	uint64_t rd_req, wr_req, f_req, ds_req, err_req;
	uint64_t oo_req;		/* sweeps held back: slots, page budget or ordering point */
	uint64_t rd_sect, wr_sect, ds_sect;
	uint64_t notifies;
	uint64_t inflight;		/* requests taken off the ring, not yet answered */
	uint64_t lat[LAT_BUCKETS];	/* completion latency histogram, see lat_bucket() */
	uint64_t ind_req;		/* indirect requests */
	uint64_t segs[SEG_BUCKETS];	/* request size histogram, see seg_bucket() */
	uint64_t poll_ns;		/* time spent watching the ring instead of sleeping */
	uint64_t poll_hits;		/* watches that found work, each a sleep saved */
	uint64_t wakeups;		/* sleeps in poll that ended: the thread's wake-ups */
	struct grant_counters grants;
};

/* Add every counter of src to dst (all fields are uint64_t counts). */
static inline void blk_ring_stats_add(struct blk_ring_stats *dst, const struct blk_ring_stats *src)
{
	uint64_t *d = (uint64_t *)dst;
	const uint64_t *s = (const uint64_t *)src;

	_Static_assert(sizeof(*dst) % sizeof(uint64_t) == 0, "stats are uint64_t only");
	for (size_t i = 0; i < sizeof(*dst) / sizeof(uint64_t); i++)
		d[i] += s[i];
}

struct blk_ring;

/* Map the ring, bind the event channel and start serving it. */
int blk_ring_start(const struct blk_ring_config *cfg, struct blk_ring **ringp);

/*
 * Ask the ring to stop, without waiting: it answers what is in flight, then its
 * thread ends and calls cfg.stopped. Idempotent.
 */
void blk_ring_stop_begin(struct blk_ring *ring);

/* Whether the ring's thread has ended: blk_ring_stop will not wait. */
bool blk_ring_stopped(const struct blk_ring *ring);

/* Stop serving: answer what is in flight, then unmap and unbind. NULL is fine.
 * If final is not NULL, the ring's last counters are added to it. */
void blk_ring_stop(struct blk_ring *ring, struct blk_ring_stats *final);

/* Keep the journal when the ring is stopped, for a successor (main thread only). */
void blk_ring_keep_journal(struct blk_ring *ring);

/*
 * Hold the ring still: wait until nothing is in storage and stop taking
 * requests, so the disk can change under it. One thread at a time calls this
 * and blk_ring_resume (a resize's own, while the main thread leaves the ring be).
 * -ETIMEDOUT if storage still holds requests at until (CLOCK_MONOTONIC); the
 * ring then goes on taking none until blk_ring_resume, which must follow either way.
 */
int blk_ring_pause(struct blk_ring *ring, const struct timespec *until);

/* Let a paused ring (or one asked to pause) go on, with the disk's size in 512-byte sectors. */
void blk_ring_resume(struct blk_ring *ring, uint64_t nr_sectors);

/* A snapshot of the ring's counters, each read whole while the ring runs. */
void blk_ring_get_stats(const struct blk_ring *ring, struct blk_ring_stats *st);
/* Has the ring halted on a frontend that broke the ring protocol? (any thread) */
bool blk_ring_halted(const struct blk_ring *ring);

/* The ring ABI the frontend chose (its protocol node). */
enum blkif_abi blk_ring_abi(const struct blk_ring *ring);

/* The disk's I/O limits changed: a request waiting for tokens looks again now (ring-limit.c). */
void blk_ring_limit_changed(struct blk_ring *ring);

#endif
