/* Random chunkings of a byte range: full coverage, no overlap, random order. */
#include <errno.h>
#include <stdlib.h>

#include "bfutil.h"

/* Cut [0, size) into chunks of random aligned lengths in [bs_min, bs_max]. */
static int cut(uint64_t size, uint32_t bs_min, uint32_t bs_max, uint32_t align,
	       uint64_t *rng, struct bf_chunk **out, size_t *count)
{
	uint64_t units = (uint64_t)(bs_max - bs_min) / align + 1, off = 0;
	struct bf_chunk *c = NULL, *bigger;
	size_t n = 0, cap = 0;

	while (off < size) {
		uint64_t len = bs_min + bf_rand_below(rng, units) * align;

		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			bigger = realloc(c, cap * sizeof(*c));
			if (!bigger) {
				free(c);
				return -ENOMEM;
			}
			c = bigger;
		}
		if (len > size - off)
			len = size - off;
		c[n].offset = off;
		c[n++].len = (uint32_t)len;
		off += len;
	}
	*out = c;
	*count = n;
	return 0;
}

/* Cover [0, size) with random chunks in random order, split into pieces <= max_piece. */
int bf_chunk_plan(uint64_t size, uint32_t bs_min, uint32_t bs_max, uint32_t align,
		  uint32_t max_piece, uint64_t seed, struct bf_chunk **out, size_t *count)
{
	struct bf_chunk *chunks = NULL, *pieces = NULL;
	uint64_t rng = seed;
	size_t n = 0, np = 0, k = 0;
	int err;

	*out = NULL;
	*count = 0;
	if (!align || !bs_min || bs_min > bs_max || bs_min % align || bs_max % align ||
	    size % align || max_piece < align || max_piece % align)
		return -EINVAL;
	err = cut(size, bs_min, bs_max, align, &rng, &chunks, &n);
	if (err)
		return err;
	/* Fisher-Yates over whole chunks: pieces of one chunk stay together, in order. */
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)bf_rand_below(&rng, i);
		struct bf_chunk t = chunks[i - 1];

		chunks[i - 1] = chunks[j];
		chunks[j] = t;
	}
	for (size_t i = 0; i < n; i++)
		np += (chunks[i].len + max_piece - 1) / max_piece;
	pieces = malloc((np ? np : 1) * sizeof(*pieces));
	if (!pieces) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		for (uint32_t done = 0; done < chunks[i].len; done += max_piece) {
			uint32_t left = chunks[i].len - done;

			pieces[k].offset = chunks[i].offset + done;
			pieces[k++].len = left < max_piece ? left : max_piece;
		}
	}
	*out = pieces;
	*count = np;
out:
	free(chunks);
	return err;
}
