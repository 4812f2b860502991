/* Validation of a request copied off the ring: the one gate before grants and storage. */
#ifndef BLKBACK_PARSE_H
#define BLKBACK_PARSE_H

#include <stdbool.h>

#include "xenio.h"

/* What the parser checks a request against: the disk as it was connected. */
struct blk_limits {
	uint64_t nr_sectors;	/* disk size, in 512-byte sectors */
	uint32_t sector_size;	/* logical sector size in bytes: 512, 1024, ... 4096 */
	bool readonly;
	bool discard;		/* feature-discard was offered */
	bool secure_discard;	/* discard-secure was offered */
};

/* One validated segment: a byte range inside one granted page. */
struct blk_seg {
	grant_ref_t gref;
	uint16_t offset;	/* bytes from the start of the page */
	uint16_t len;		/* bytes, a multiple of 512, at most 4096 */
};

/* A validated request. */
struct blk_io {
	uint64_t id;
	uint8_t op;		/* BLKIF_OP_READ, _WRITE, _FLUSH_DISKCACHE, _WRITE_BARRIER, _DISCARD */
	uint8_t nr_segs;	/* 0 only for a pure flush or barrier, and a discard */
	bool write;		/* data flows guest -> disk (a write, or a flush/barrier with data) */
	bool ordered;		/* flush or barrier: an ordering point for the queue */
	bool discard;		/* a discard of nr_sectors from sector */
	bool secure;		/* a secure discard (only when offered) */
	uint64_t sector;	/* first 512-byte sector */
	uint64_t nr_sectors;	/* total length, in 512-byte sectors */
	struct blk_seg seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

/*
 * Validate a private copy of a request and fill io. Returns 0, or
 * -EOPNOTSUPP (answer BLKIF_RSP_EOPNOTSUPP), -EROFS (write to a read-only
 * disk) or -EINVAL (malformed); *why then says which rule it broke.
 * id and op are always filled so that the caller can answer.
 */
int blkif_parse(const blkif_request_t *req, const struct blk_limits *lim,
		struct blk_io *io, const char **why);

/* The BLKIF_RSP_* status that answers a parse or storage error. */
int16_t blkif_status(int err);

#endif
