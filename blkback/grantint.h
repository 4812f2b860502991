/* What grant.c and grant-copy.c share. */
#ifndef BLKBACK_GRANTINT_H
#define BLKBACK_GRANTINT_H

#include "grant.h"

/* Allocate g's copy batch; -ENOMEM. */
int grant_copy_init(struct grant_ctx *g);
/* Free it; idempotent. */
void grant_copy_fini(struct grant_ctx *g);

/* Copy mode: give n requests bounce buffers, filled from the guest for writes. */
void grant_copy_in(struct grant_ctx *g, struct blk_req **reqs, unsigned int n,
		   bool guest_writable);

#endif
