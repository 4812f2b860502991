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

#endif
