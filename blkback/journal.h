/*
 * The ring journal: what a restarted blkbackd needs to take over a live ring.
 *
 * A response overwrites the ring slot of some request, and responses are written
 * out of order, so the shared ring alone cannot say which requests a killed
 * daemon had taken and not yet answered. Each ring therefore keeps, in a small
 * file in the run directory (tmpfs), mapped shared so that it outlives the
 * process: the private consumer index, and per request slot the request's
 * copy and whether its response was written (and at which ring index). See
 * docs/restart.md for the protocol and the guarantees.
 */
#ifndef BLKBACK_JOURNAL_H
#define BLKBACK_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "xenio.h"

/* What identifies a ring: a journal of another ring (the guest reconnected) is stale. */
struct journal_key {
	uint32_t domid, devid, queue;
	uint32_t ring_order, ring_size, abi;
	uint32_t remote_port;
	grant_ref_t ring_refs[16];
};

enum journal_state { JSLOT_FREE, JSLOT_TAKEN, JSLOT_ANSWERED };

/* One request slot of the backend. */
struct journal_slot {
	uint32_t state;			/* enum journal_state, stored last */
	RING_IDX idx;			/* the ring index the request was taken from */
	RING_IDX rsp_idx;		/* ANSWERED: the ring index of its response */
	uint32_t _pad;
	blkif_request_t req;		/* the private copy, native layout */
};

struct journal {
	char *path;
	struct journal_file *f;		/* the mapping */
	unsigned int nslots;
};

/*
 * Create (truncating) the journal of a ring at path for nslots request slots;
 * -errno. A NULL path gives a journal that records nothing.
 */
int journal_create(struct journal *j, const char *path, const struct journal_key *key,
		   unsigned int nslots);

/*
 * Open the journal a killed daemon left at path, if it belongs to key: 0, -ENOENT
 * (none), -ESTALE (another ring's, or damaged), another -errno.
 */
int journal_open(struct journal *j, const char *path, const struct journal_key *key,
		 unsigned int nslots);

/* The consumer index recorded: every request before it was taken into a slot. */
RING_IDX journal_req_cons(const struct journal *j);
/* Slot k, for recovery. */
const struct journal_slot *journal_slot(const struct journal *j, unsigned int k);

/* A request was copied off index idx into slot k. */
void journal_take(struct journal *j, unsigned int k, RING_IDX idx, const blkif_request_t *req);
/* Every request before req_cons is in a slot. */
void journal_set_req_cons(struct journal *j, RING_IDX req_cons);
/* Slot k's response was written at ring index rsp_idx (not yet published). */
void journal_answer(struct journal *j, unsigned int k, RING_IDX rsp_idx);
/* Slot k's response was published: the slot is free. */
void journal_free_slot(struct journal *j, unsigned int k);

/* Unmap the journal; with remove, delete its file too (a clean stop). Idempotent. */
void journal_close(struct journal *j, bool remove);

#endif
