/* What grant.c and grant-copy.c share. */
#ifndef BLKBACK_GRANTINT_H
#define BLKBACK_GRANTINT_H

#include "grant.h"

/* Allocate g's copy batch, and in copy mode its bounce pages; -ENOMEM. */
int grant_copy_init(struct grant_ctx *g);
/* Free them; idempotent. */
void grant_copy_fini(struct grant_ctx *g);

/* Copy mode: give n requests bounce pages, filled from the guest for writes. */
void grant_copy_in(struct grant_ctx *g, struct blk_req **reqs, unsigned int n,
		   bool guest_writable);
/* Copy mode: give a finished request's bounce pages back. */
void grant_copy_release(struct grant_ctx *g, struct blk_req *req);

/*
 * Persistent mode: copy len bytes off the start of guest page gref into dst through the
 * persistent cache (mapping the page on a miss, as for data) and let go of it at once;
 * -ENOSPC when the cache has no room for it (read it with a grant copy instead), another
 * -errno when it cannot be mapped.
 */
int grant_cache_read(const struct grant_ctx *g, uint32_t gref, void *dst, size_t len);

#endif
