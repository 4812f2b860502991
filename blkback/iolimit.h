/*
 * A disk's I/O limits as two token buckets, one of requests and one of bytes, shared by
 * the disk's queues. A request goes when both buckets hold what it costs (or, for a
 * request larger than the burst, the whole burst): its cost is then taken, which may
 * leave a bucket in debt that the refill pays back first. The time is always passed in
 * (CLOCK_MONOTONIC nanoseconds), so that tests/unit/test-iolimit.c can drive a clock.
 */
#ifndef BLKBACK_IOLIMIT_H
#define BLKBACK_IOLIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../storage/storage.h"

/* One bucket: up to burst tokens, refilled at rate a second. rate 0: no limit. */
struct tbucket {
	uint64_t rate, burst;
	int64_t tokens;		/* held now; below 0, the debt of a request larger than burst */
	uint64_t frac;		/* a part-token earned, in billionths */
	uint64_t last_ns;	/* refilled up to then */
};

/* Set the bucket's rate and burst at now: a new limit starts full; a lower burst cuts it. */
void tb_set(struct tbucket *b, uint64_t rate, uint64_t burst, uint64_t now);
/* Add what was earned up to now. */
void tb_refill(struct tbucket *b, uint64_t now);
/* Nanoseconds from the last refill until cost (or the whole burst) is held; 0: now. */
uint64_t tb_wait_ns(const struct tbucket *b, uint64_t cost);
/* Take cost (the caller waited for it): the bucket may go into debt, bounded. */
void tb_take(struct tbucket *b, uint64_t cost);
/* Give back n tokens taken for a cost that turned out smaller; up to burst. */
void tb_give(struct tbucket *b, uint64_t n);

/* What blkbackctl stats shows of a disk's limits (iolimit_get). */
struct iolimit_state {
	uint64_t iops, iops_burst, bps, bps_burst;	/* in force; 0: no limit */
	int64_t iops_tokens, bps_tokens;
	uint64_t throttled;	/* requests that waited for tokens */
	uint64_t wait_ns;	/* how long they waited, all together */
};

/* A disk's limits: the main thread sets them, the disk's ring threads ask them. */
struct iolimit {
	pthread_mutex_t lock;
	bool on;		/* any limit set: read without the lock (atomic) */
	struct storage_limits given;	/* as given: a burst of 0 is the default */
	struct tbucket req, bytes;
	uint64_t throttled, wait_ns;
};

/* No limits yet. */
void iolimit_init(struct iolimit *l);
/* Free what iolimit_init set up (nothing may use it any more). */
void iolimit_fini(struct iolimit *l);

/* Set the limits (rates of 0: none) at now. */
void iolimit_set(struct iolimit *l, const struct storage_limits *lim, uint64_t now);

/*
 * The options given (unset fields stay as they are; storage_limits_merge) over the limits
 * in force, at now: -EINVAL, saying why in err, and nothing changed, if they do not fit.
 */
int iolimit_change(struct iolimit *l, struct storage_limits *given, uint64_t now, char *err,
		   size_t errlen);

/* Whether any limit is set; costs one load. */
static inline bool iolimit_on(struct iolimit *l)
{
	return l && __atomic_load_n(&l->on, __ATOMIC_ACQUIRE);
}

/*
 * May a request of bytes (0 for one without data) go at now? 0: yes, and its cost is
 * taken; else the nanoseconds to wait before asking again: until its cost, or a
 * millisecond's tokens if more (at most half the burst), is there. force: it goes now whatever
 * the buckets hold (a ring that stops), its cost still taken.
 */
uint64_t iolimit_admit(struct iolimit *l, uint64_t bytes, bool force, uint64_t now);

/* Give back bytes taken for a request that turned out smaller (or failed before storage). */
void iolimit_refund(struct iolimit *l, uint64_t bytes);

/* Count a request that waited wait_ns for its tokens. */
void iolimit_waited(struct iolimit *l, uint64_t wait_ns);

/* The limits in force and the buckets at now. */
void iolimit_get(struct iolimit *l, uint64_t now, struct iolimit_state *st);

#endif
