/* A request in flight: the validated copy, its guest pages and its storage I/O. */
#ifndef BLKBACK_REQ_H
#define BLKBACK_REQ_H

#include "parse.h"
#include "../storage/storage.h"

struct grant_map;
struct pgrant;
struct blk_ring;

/* The storage steps a request runs, in order; ordered ops may take three. */
enum { REQ_MAX_STEPS = 3 };

struct blk_req {
	struct blk_ring *ring;
	struct grant_map *gmap;			/* the mapping holding this request's pages */
	uint8_t *pages;				/* io.nr_segs pages, contiguous in gmap */
	unsigned int nr_pgrants;		/* or persistent grants, in pgrants[] */
	bool copied;				/* or bounce pages (grant copy mode) */
	struct storage_io sio;
	enum storage_op steps[REQ_MAX_STEPS];
	unsigned int nr_steps, step;
	int err;				/* the first error wins */
	bool refused;				/* storage_submit refused a step (not storage's error) */
	unsigned int held;			/* data pages counted in the ring's budget */
	uint64_t start_ns;			/* taken off the ring at, for latency */
	uint64_t charged;			/* bytes taken from the disk's I/O limit */
	struct blk_req *next_free;
	/* Not cleared for each request: filled as used. */
	struct blk_io io;			/* the validated private copy */
	struct pgrant *pgrants[BLK_MAX_SEGS];
	struct iovec iov[BLK_MAX_SEGS];
};

/* How much of a blk_req to clear when it is taken for a new request. */
#define BLK_REQ_CLEAR offsetof(struct blk_req, io)

#endif
