/* Validation of a request copied off the ring: the one gate before grants and storage. */
#ifndef BLKBACK_PARSE_H
#define BLKBACK_PARSE_H

#include <stdbool.h>

#include "xenio.h"

/* Segments per request at most: an indirect request's, feature-max-indirect-segments. */
#define BLK_MAX_SEGS 256
/* Segment descriptors in one indirect page. */
#define BLK_SEGS_PER_INDIRECT_PAGE (XEN_PAGE_SIZE / sizeof(struct blkif_request_segment))
/* Indirect pages a request of BLK_MAX_SEGS segments needs. */
#define BLK_MAX_INDIRECT_PAGES \
	((BLK_MAX_SEGS + BLK_SEGS_PER_INDIRECT_PAGE - 1) / BLK_SEGS_PER_INDIRECT_PAGE)

/* What the parser checks a request against: the disk as it was connected. */
struct blk_limits {
	uint64_t nr_sectors;	/* disk size, in 512-byte sectors */
	uint32_t sector_size;	/* logical sector size in bytes: 512, 1024, ... 4096 */
	bool readonly;
	bool discard;		/* feature-discard was offered */
	bool secure_discard;	/* discard-secure was offered */
	uint16_t max_indirect;	/* feature-max-indirect-segments offered; 0: none */
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
	uint8_t op;		/* the op to answer with: an indirect request's inner op */
	uint16_t nr_segs;	/* 0 only for a pure flush or barrier, and a discard */
	bool write;		/* data flows guest -> disk (a write, or a flush/barrier with data) */
	bool ordered;		/* flush or barrier: an ordering point for the queue */
	bool discard;		/* a discard of nr_sectors from sector */
	bool secure;		/* a secure discard (only when offered) */
	uint64_t sector;	/* first 512-byte sector */
	uint64_t nr_sectors;	/* total length, in 512-byte sectors */
	/* indirect: the segments are in nr_indirect guest pages, not yet read */
	bool indirect;
	uint8_t nr_indirect;
	grant_ref_t indirect_grefs[BLK_MAX_INDIRECT_PAGES];
	struct blk_seg seg[BLK_MAX_SEGS];
};

/*
 * Validate a private copy of a request and fill io. An indirect request comes
 * back with io->indirect set and its segments unread: the caller copies its
 * nr_indirect pages and passes them to blkif_parse_indirect. Returns 0, or
 * -EOPNOTSUPP (answer BLKIF_RSP_EOPNOTSUPP), -EROFS (write to a read-only
 * disk) or -EINVAL (malformed); *why then says which rule it broke.
 * id and op are always filled so that the caller can answer.
 */
int blkif_parse(const blkif_request_t *req, const struct blk_limits *lim,
		struct blk_io *io, const char **why);

/*
 * Finish an indirect request: validate the io->nr_segs descriptors copied (once,
 * into private memory) from its indirect pages. Returns 0 or -EINVAL with *why.
 */
int blkif_parse_indirect(const struct blkif_request_segment *segs, const struct blk_limits *lim,
			 struct blk_io *io, const char **why);

/* The BLKIF_RSP_* status that answers a parse or storage error. */
int16_t blkif_status(int err);

#endif
