/*
 * bfutil.h: the pure parts of blkfront (no Xen, no I/O), unit-tested on their own:
 * device names, number and size parsing, the PRNG, the verify pattern and its classifier,
 * the chunk plans, the latency histogram, the simulator's counters.
 */
#ifndef BLKFRONT_BFUTIL_H
#define BLKFRONT_BFUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- parse.c: numbers from the command line ---- */

/* A byte count: digits with an optional k/K, m/M, g/G, t/T suffix (powers of 1024,
 * an optional trailing "iB" or "B"). -EINVAL if malformed, -ERANGE if it overflows. */
int bf_parse_size(const char *s, uint64_t *bytes);
/* A whole decimal number no larger than max. */
int bf_parse_uint(const char *s, uint64_t max, uint64_t *v);
/* Seconds, possibly fractional (e.g. 2.5), positive and at most max_s; in milliseconds. */
int bf_parse_seconds(const char *s, unsigned int max_s, unsigned int *ms);
/* Format bytes as "4k", "64M", or plain bytes when not a round multiple. */
void bf_fmt_size(uint64_t bytes, char *buf, size_t len);

/* ---- prng (parse.c): splitmix64, reproducible across machines ---- */

/* The next number of the stream in *state. */
uint64_t bf_rand(uint64_t *state);
/* A number in [0, n) (0 when n <= 1), bias at most n / 2^64. */
uint64_t bf_rand_below(uint64_t *state, uint64_t n);

/* ---- pattern.c: the verify pattern ---- */

#define BF_BLOCK 512u
#define BF_PATTERN_MAGIC 0x6b6c62667266796eULL	/* "nyfrfblk" little endian-ish tag */

/* What a 512-byte block holds, compared with what verify wrote there. */
enum bf_block_class {
	BF_BLOCK_OK,
	BF_BLOCK_NEVER_WRITTEN,	/* all zeroes: no write reached it */
	BF_BLOCK_WRONG_SEED,	/* a valid block of another run (another seed) */
	BF_BLOCK_MISDIRECTED,	/* a valid block of this run, written for another sector */
	BF_BLOCK_CORRUPT,	/* anything else: a torn, garbled or foreign block */
	BF_BLOCK_NCLASSES
};

/* The header at the start of every block; the rest is pseudo-random from (seed, sector). */
struct bf_block_hdr {
	uint64_t magic;
	uint64_t seed;
	uint64_t sector;	/* 512-byte sector number this block was written for */
	uint64_t csum;		/* of the whole block, with this field zero */
};

/* Fill the 512-byte block buf with the pattern of (seed, sector). */
void bf_pattern_fill(void *buf, uint64_t seed, uint64_t sector);
/* Classify the block read back from sector, verify having written seed there; the seed
 * and sector the block claims go to *found_seed / *found_sector when it has a valid header. */
enum bf_block_class bf_pattern_check(const void *buf, uint64_t seed, uint64_t sector,
				     uint64_t *found_seed, uint64_t *found_sector);
/* A short name of a class ("never written", "wrong seed", ...). */
const char *bf_block_class_name(enum bf_block_class c);

/* ---- chunk.c: random chunkings of a range ---- */

struct bf_chunk {
	uint64_t offset;	/* bytes */
	uint32_t len;		/* bytes */
};

/*
 * Cover [0, size) with chunks of random lengths in [bs_min, bs_max] (multiples of align;
 * the last may be shorter), each chunk longer than max_piece split into consecutive pieces
 * of at most max_piece, in a random order of whole chunks. The pieces never overlap and
 * cover the range exactly once. size, bs_min, bs_max, max_piece: multiples of align.
 * Returns 0 with a malloc'd array in *out, -EINVAL or -ENOMEM.
 */
int bf_chunk_plan(uint64_t size, uint32_t bs_min, uint32_t bs_max, uint32_t align,
		  uint32_t max_piece, uint64_t seed, struct bf_chunk **out, size_t *count);

/* ---- hist.c: a log-linear latency histogram ---- */

/* Values below 2^BF_HIST_SUB are exact; above, each power of two has 2^BF_HIST_SUB buckets,
 * so a bucket's width is at most 1/64 of its value (p99 within about 1%). */
#define BF_HIST_SUB 6
#define BF_HIST_BUCKETS ((64 - BF_HIST_SUB + 1) << BF_HIST_SUB)

struct bf_hist {
	uint64_t count, sum, min, max;
	uint64_t bucket[BF_HIST_BUCKETS];
};

void bf_hist_init(struct bf_hist *h);
void bf_hist_add(struct bf_hist *h, uint64_t v);
/* Add every sample of src into h. */
void bf_hist_merge(struct bf_hist *h, const struct bf_hist *src);
/* The value at percentile p (0 < p <= 100): the middle of its bucket, clamped to the
 * smallest and largest sample; 0 if empty. */
double bf_hist_percentile(const struct bf_hist *h, double p);
/* The bucket a value goes to, and the lowest value of a bucket (for tests). */
unsigned int bf_hist_bucket(uint64_t v);
uint64_t bf_hist_bucket_low(unsigned int b);
/* Nanoseconds on the monotonic clock. */
uint64_t bf_now_ns(void);

/* ---- counters.c: the simulator's counters ---- */

/* The sums over the domains we look at. */
struct bf_counts {
	uint64_t maps, unmaps, copies, notifies;
};

struct bf_counters;
/* Map $XENSIM_DIR/counters read-only: 1 with *c set, 0 when not in the simulator, -errno. */
int bf_counters_open(struct bf_counters **c, char *err, size_t errlen);
/* Sum of the counters of domains a and b (the same domain counted once). */
void bf_counters_read(const struct bf_counters *c, unsigned int a, unsigned int b,
		      struct bf_counts *out);
void bf_counters_close(struct bf_counters *c);

#endif
