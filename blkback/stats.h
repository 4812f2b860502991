/* Per-ring counters: written by the ring's thread only, read by anyone. */
#ifndef BLKBACK_STATS_H
#define BLKBACK_STATS_H

#include <stdint.h>

/* Latency buckets: bucket b holds requests that took [2^(b-1), 2^b) microseconds. */
#define LAT_BUCKETS 28

/* Request size buckets: bucket b holds requests of (2^(b-1), 2^b] segments, up to 256. */
#define SEG_BUCKETS 9

/* The size bucket of a request of segs segments (1 .. 256). */
static inline unsigned int seg_bucket(unsigned int segs)
{
	unsigned int b = segs > 1 ? 32u - (unsigned int)__builtin_clz(segs - 1) : 0;

	return b < SEG_BUCKETS ? b : SEG_BUCKETS - 1;
}

/* Add to a counter that one thread writes and others read: no lock, no torn reads. */
static inline void stat_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* Read a counter written by another thread. */
static inline uint64_t stat_read(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* The latency bucket for a request that took us microseconds. */
static inline unsigned int lat_bucket(uint64_t us)
{
	unsigned int b = us ? 64u - (unsigned int)__builtin_clzll(us) : 0;

	return b < LAT_BUCKETS ? b : LAT_BUCKETS - 1;
}

#endif
