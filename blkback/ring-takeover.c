/* Taking over a ring from its journal, or starting it fresh. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ringint.h"
#include "sring.h"

/* What identifies this ring in a journal. */
static void ring_key(const struct blk_ring *r, struct journal_key *key)
{
	memset(key, 0, sizeof(*key));
	key->domid = r->cfg.domid;
	key->devid = r->cfg.devid;
	key->queue = r->cfg.queue;
	key->ring_order = r->cfg.ring_order;
	key->ring_size = r->size;
	key->abi = r->cfg.abi;
	key->remote_port = r->cfg.remote_port;
	memcpy(key->ring_refs, r->cfg.ring_refs, sizeof(r->cfg.ring_refs));
}

/* Order redo entries by the ring index they were taken from. */
static int redo_cmp(const void *a, const void *b)
{
	return (int32_t)(((const struct redo *)a)->idx - ((const struct redo *)b)->idx);
}

/*
 * Take over a ring from the journal a killed daemon left, as Linux's BACK_RING_ATTACH
 * does from the indices alone: go on from its consumer index, with the responses the
 * frontend has seen, and run again, in their old slots, the requests it had taken
 * without publishing an answer. See docs/restart.md.
 */
int ring_take_over(struct blk_ring *r)
{
	struct blkif_back_ring *br = &r->rings.native;
	RING_IDX rsp_prod = sring_read(&br->sring->rsp_prod), req_cons;
	struct journal_key key;
	unsigned int n = 0;
	int err;

	ring_key(r, &key);
	err = journal_open(&r->j, r->cfg.journal, &key, r->size);
	if (err)
		return err;
	req_cons = journal_req_cons(&r->j);
	if (req_cons - rsp_prod > r->size) {
		log_err("%s: the journal's consumer index %u and the ring's %u responses do not "
			"fit one ring", r->cfg.name, req_cons, rsp_prod);
		return -ESTALE;
	}
	r->redo = calloc(r->size, sizeof(*r->redo));
	if (!r->redo)
		return -ENOMEM;
	br->rsp_prod_pvt = rsp_prod;
	r->rsp_published = rsp_prod;
	br->req_cons = req_cons;
	for (unsigned int k = r->size; k-- > 0;) {
		const struct journal_slot *js = journal_slot(&r->j, k);
		bool taken = js->state == JSLOT_TAKEN && (int32_t)(js->idx - req_cons) < 0;
		bool unpublished = js->state == JSLOT_ANSWERED &&
				   (int32_t)(js->rsp_idx - rsp_prod) >= 0;

		if (taken || unpublished) {
			r->redo[n++] = (struct redo){ .slot = k, .idx = js->idx, .req = js->req };
			continue;
		}
		journal_free_slot(&r->j, k);
		r->reqs[k].next_free = r->free;
		r->free = &r->reqs[k];
	}
	qsort(r->redo, n, sizeof(*r->redo), redo_cmp);
	r->nredo = n;
	if (n != req_cons - rsp_prod)
		log_warn("%s: the journal holds %u unanswered requests where the ring says %u",
			 r->cfg.name, n, req_cons - rsp_prod);
	log_info("%s: took over the ring: %u request%s to run again, resuming at %u",
		 r->cfg.name, n, n == 1 ? "" : "s", req_cons);
	return 0;
}

/* A fresh ring: every slot free, and a new journal if there is a place for one. */
int ring_fresh(struct blk_ring *r)
{
	struct journal_key key;
	int err;

	ring_key(r, &key);
	err = journal_create(&r->j, r->cfg.journal, &key, r->size);
	if (err) {
		log_err("%s: cannot create the ring journal %s: %s", r->cfg.name, r->cfg.journal,
			strerror(-err));
		return err;
	}
	for (unsigned int i = r->size; i-- > 0;) {
		r->reqs[i].next_free = r->free;
		r->free = &r->reqs[i];
	}
	return 0;
}
