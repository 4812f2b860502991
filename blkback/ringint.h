/* What ring.c and ring-takeover.c share: a ring's state. */
#ifndef BLKBACK_RINGINT_H
#define BLKBACK_RINGINT_H

#include <poll.h>
#include <pthread.h>
#include <time.h>

#include "clock.h"
#include "journal.h"
#include "log.h"
#include "ring.h"

/* A request a killed daemon had taken and not answered, to run again in its old slot. */
struct redo {
	unsigned int slot;
	RING_IDX idx;
	blkif_request_t req;
};

struct blk_ring {
	struct blk_ring_config cfg;
	xengnttab_handle *xgt;
	struct grant_ctx g;		/* how guest pages are reached */
	struct grant_budget *budget;	/* the domain's: what its rings may hold */
	struct grant_waiter gw;		/* its place in line for room in the budgets */
	struct storage_queue *sq;	/* this queue's path to the disk */
	struct blkif_request_segment (*iseg)[BLK_MAX_SEGS];	/* a sweep's indirect segments */
	xenevtchn_handle *xce;
	evtchn_port_t port;		/* local */
	void *sring;
	union blkif_back_rings rings;	/* .native is the common view of the indices */
	RING_IDX rsp_published;		/* the rsp_prod we wrote last (sring.h) */
	unsigned int size;
	struct blk_req *reqs, *free;
	struct blk_req *answered;	/* responses written, slots freed once published */
	struct journal j;		/* what a restarted daemon needs to take over */
	bool keep_journal;		/* leaving for a successor: keep it */
	struct redo *redo;		/* taken over from a journal: run these first */
	unsigned int nredo, redo_pos;
	unsigned int in_storage;	/* dispatched to storage, not yet answered */
	unsigned int pages_held;	/* data pages of requests taken, not yet answered */
	struct blk_req *ordered;	/* a flush/barrier running or waiting for a drain */
	bool ordered_waiting;
	bool halted, stopping;
	bool poll_failed;		/* poll fails: take nothing more, drain storage, end */
	unsigned int backoff_ms;	/* between tries while poll fails */
	uint64_t window_ns;		/* the busy-poll window now: adapts, up to cfg.poll_us */
	/*
	 * The time of this turn of the loop, read once after a wake-up (or at the start of a
	 * turn that did not sleep) and before reaping storage: the start and end of every
	 * request of the turn. One clock read per turn rather than two per request: in a PV
	 * dom0 whose clock has no vDSO (an unstable TSC), each read is a system call.
	 */
	uint64_t clk_ns;
	int wake_fd;			/* the main thread's doorbell: stop or pause */
	bool stop_req, pause_req;	/* set by the main thread, read atomically */
	bool paused;			/* under lock: the thread is holding still */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started;
	bool ended;			/* the thread is done (atomic) */
	struct log_limit bad_log, io_log;	/* the guest's bad requests, storage errors */
	struct log_limit poll_log;	/* poll failing again and again */
	struct blk_ring_stats stats;
	/* Taken off the ring, waiting for the disk's I/O limit to let it go (ring-limit.c). */
	struct blk_req *parked;
	uint64_t parked_at, parked_until;	/* since, and when to look again (now_ns) */
};

/* May the loop consume requests now? (ring.c) */
bool ring_can_consume(struct blk_ring *r);
/* After work, watch the ring and storage (sfd) a while: true if there is work (ring-poll.c). */
bool ring_watch(struct blk_ring *r, struct pollfd *sfd);
/* Fit the busy-poll window to a sleep of slept_ns (ring-poll.c). */
void ring_window_adapt(struct blk_ring *r, uint64_t slept_ns);

/* Whether req may go now under the disk's I/O limits; if not, it waits in r->parked. */
bool ring_limit_admit(struct blk_ring *r, struct blk_req *req);
/* The parked request if it may go now, no longer parked; NULL while it waits. */
struct blk_req *ring_limit_unpark(struct blk_ring *r);
/* An indirect request's segments are read (or failed): give back what it did not cost. */
void ring_limit_refund(struct blk_ring *r, struct blk_req *req);
/* poll's timeout of ms (-1: none) as ppoll's, shortened to the parked request's wait. */
const struct timespec *ring_limit_timeout(const struct blk_ring *r, int ms, struct timespec *ts);

/* Take over a ring from the journal a killed daemon left; -errno. */
int ring_take_over(struct blk_ring *r);
/* A fresh ring: every slot free, and a new journal if there is a place for one; -errno. */
int ring_fresh(struct blk_ring *r);

#endif
