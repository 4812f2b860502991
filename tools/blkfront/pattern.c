/* The verify pattern: self-describing 512-byte blocks, and what a bad block tells. */
#include <string.h>

#include "bfutil.h"

#define WORDS (BF_BLOCK / 8)
#define HDR_WORDS (sizeof(struct bf_block_hdr) / 8)

/* A 64-bit hash of the block's words, the checksum word counted as zero. */
static uint64_t block_csum(const uint64_t *w)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (unsigned int i = 0; i < WORDS; i++) {
		h ^= i == offsetof(struct bf_block_hdr, csum) / 8 ? 0 : w[i];
		h *= 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h;
}

/* Fill the block with the pattern of (seed, sector). */
void bf_pattern_fill(void *buf, uint64_t seed, uint64_t sector)
{
	uint64_t w[WORDS], state = seed ^ (sector * 0xd6e8feb86659fd93ULL);
	struct bf_block_hdr hdr = { .magic = BF_PATTERN_MAGIC, .seed = seed, .sector = sector };

	memcpy(w, &hdr, sizeof(hdr));
	for (unsigned int i = HDR_WORDS; i < WORDS; i++)
		w[i] = bf_rand(&state);
	hdr.csum = block_csum(w);
	memcpy(w, &hdr, sizeof(hdr));
	memcpy(buf, w, BF_BLOCK);
}

/* Classify a block read back from sector, where verify wrote seed. */
enum bf_block_class bf_pattern_check(const void *buf, uint64_t seed, uint64_t sector,
				     uint64_t *found_seed, uint64_t *found_sector)
{
	uint64_t w[WORDS], want[WORDS], any = 0;
	struct bf_block_hdr hdr;

	memcpy(w, buf, BF_BLOCK);
	bf_pattern_fill(want, seed, sector);
	if (!memcmp(w, want, BF_BLOCK))
		return BF_BLOCK_OK;
	for (unsigned int i = 0; i < WORDS; i++)
		any |= w[i];
	if (!any)
		return BF_BLOCK_NEVER_WRITTEN;
	memcpy(&hdr, w, sizeof(hdr));
	if (hdr.magic != BF_PATTERN_MAGIC || hdr.csum != block_csum(w))
		return BF_BLOCK_CORRUPT;
	/* A whole valid block: it is some block's pattern, just not this one's. */
	bf_pattern_fill(want, hdr.seed, hdr.sector);
	if (memcmp(w, want, BF_BLOCK))
		return BF_BLOCK_CORRUPT;
	*found_seed = hdr.seed;
	*found_sector = hdr.sector;
	return hdr.seed != seed ? BF_BLOCK_WRONG_SEED : BF_BLOCK_MISDIRECTED;
}

/* A short name of a class. */
const char *bf_block_class_name(enum bf_block_class c)
{
	static const char *const names[BF_BLOCK_NCLASSES] = {
		[BF_BLOCK_OK] = "ok",
		[BF_BLOCK_NEVER_WRITTEN] = "never written",
		[BF_BLOCK_WRONG_SEED] = "wrong seed",
		[BF_BLOCK_MISDIRECTED] = "wrong sector (misdirected)",
		[BF_BLOCK_CORRUPT] = "corrupt",
	};

	return (unsigned int)c < BF_BLOCK_NCLASSES ? names[c] : "?";
}
