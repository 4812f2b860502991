/*
 * Write fuzz-parse's seed corpus into DIR: valid read, write, flush, discard
 * and indirect requests in each ABI's layout. usage: seed-parse DIR
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../blkback/abi.h"
#include "fuzz-parse.h"

/* Write one seed: the config byte, the slot padded to FUZZ_SLOT, then segs. */
static int put(const char *dir, const char *name, uint8_t cfg, const void *slot, size_t len,
	       const struct blkif_request_segment *segs, unsigned int nsegs)
{
	uint8_t buf[1 + FUZZ_SLOT] = { cfg };
	char path[512];
	FILE *f;
	int ok;

	memcpy(buf + 1, slot, len);
	snprintf(path, sizeof(path), "%s/%s-%02x", dir, name, cfg);
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		return -1;
	}
	ok = fwrite(buf, sizeof(buf), 1, f) == 1 &&
	     (!nsegs || fwrite(segs, sizeof(*segs), nsegs, f) == nsegs);
	if (fclose(f) || !ok) {
		perror(path);
		return -1;
	}
	return 0;
}

/* Eleven whole-page segments, for direct requests. */
static const struct blkif_request_segment seg11[BLKIF_MAX_SEGMENTS_PER_REQUEST] = {
	{ 100, 0, 7 }, { 101, 0, 7 }, { 102, 0, 7 }, { 103, 0, 7 }, { 104, 0, 7 }, { 105, 0, 7 },
	{ 106, 0, 7 }, { 107, 0, 7 }, { 108, 0, 7 }, { 109, 0, 7 }, { 110, 0, 7 },
};

/* Fill the fields common to a read/write/flush in layout T, then write it out. */
#define RW(T, abi_, name, op, nseg) do {					\
	T r_;									\
	memset(&r_, 0, sizeof(r_));						\
	r_.operation = (op);							\
	r_.nr_segments = (nseg);						\
	r_.id = 0x1234;								\
	r_.sector_number = 8;							\
	memcpy(r_.seg, seg11, (nseg) * sizeof(r_.seg[0]));			\
	err |= put(dir, name, (abi_) | FUZZ_DISCARD | FUZZ_INDIRECT, &r_, sizeof(r_), NULL, 0); \
} while (0)

/* A discard (secure flag set) in layout T. */
#define DISCARD(T, abi_) do {							\
	T d_;									\
	memset(&d_, 0, sizeof(d_));						\
	d_.operation = BLKIF_OP_DISCARD;					\
	d_.flag = BLKIF_DISCARD_SECURE;						\
	d_.id = 7;								\
	d_.sector_number = 16;							\
	d_.nr_sectors = 64;							\
	err |= put(dir, "discard", (abi_) | FUZZ_DISCARD | FUZZ_SECURE, &d_, sizeof(d_), NULL, 0); \
} while (0)

/* An indirect request of 3 segments in layout T, its descriptors after the slot. */
#define INDIRECT(T, abi_, name, inner) do {					\
	T n_;									\
	memset(&n_, 0, sizeof(n_));						\
	n_.operation = BLKIF_OP_INDIRECT;					\
	n_.indirect_op = (inner);						\
	n_.nr_segments = 3;							\
	n_.id = 9;								\
	n_.sector_number = 32;							\
	n_.indirect_grefs[0] = 55;						\
	err |= put(dir, name, (abi_) | FUZZ_INDIRECT | FUZZ_4K, &n_, sizeof(n_), segs, 3); \
} while (0)

int main(int argc, char **argv)
{
	struct blkif_request_segment segs[3] = {
		{ .gref = 1, .first_sect = 0, .last_sect = 7 },
		{ .gref = 2, .first_sect = 0, .last_sect = 7 },
		{ .gref = 3, .first_sect = 0, .last_sect = 7 },
	};
	const char *dir;
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: seed-parse DIR\n");
		return 2;
	}
	dir = argv[1];

	RW(blkif_request_t, 0, "read", BLKIF_OP_READ, 2);
	RW(blkif_request_t, 0, "write", BLKIF_OP_WRITE, 11);
	RW(blkif_request_t, 0, "flush", BLKIF_OP_FLUSH_DISKCACHE, 0);
	RW(blkif_request_t, 0, "flush-data", BLKIF_OP_FLUSH_DISKCACHE, 1);
	RW(blkif_request_t, 0, "barrier", BLKIF_OP_WRITE_BARRIER, 0);
	DISCARD(blkif_request_discard_t, 0);
	INDIRECT(blkif_request_indirect_t, 0, "ind-read", BLKIF_OP_READ);
	INDIRECT(blkif_request_indirect_t, 0, "ind-write", BLKIF_OP_WRITE);

	RW(struct blkif_x86_32_request, 1, "read", BLKIF_OP_READ, 2);
	RW(struct blkif_x86_32_request, 1, "write", BLKIF_OP_WRITE, 11);
	RW(struct blkif_x86_32_request, 1, "flush", BLKIF_OP_FLUSH_DISKCACHE, 0);
	RW(struct blkif_x86_32_request, 1, "flush-data", BLKIF_OP_FLUSH_DISKCACHE, 1);
	DISCARD(struct blkif_x86_32_request_discard, 1);
	INDIRECT(struct blkif_x86_32_request_indirect, 1, "ind-read", BLKIF_OP_READ);
	INDIRECT(struct blkif_x86_32_request_indirect, 1, "ind-write", BLKIF_OP_WRITE);

	RW(struct blkif_x86_64_request, 2, "read", BLKIF_OP_READ, 2);
	RW(struct blkif_x86_64_request, 2, "write", BLKIF_OP_WRITE, 11);
	RW(struct blkif_x86_64_request, 2, "flush", BLKIF_OP_FLUSH_DISKCACHE, 0);
	RW(struct blkif_x86_64_request, 2, "flush-data", BLKIF_OP_FLUSH_DISKCACHE, 1);
	DISCARD(struct blkif_x86_64_request_discard, 2);
	INDIRECT(struct blkif_x86_64_request_indirect, 2, "ind-read", BLKIF_OP_READ);
	INDIRECT(struct blkif_x86_64_request_indirect, 2, "ind-write", BLKIF_OP_WRITE);
	return err ? 1 : 0;
}
