/*
 * hostile.h: what the case files of the malicious frontend share (every .c file of
 * tests/hostile, linked into one program): the case table, the outcome each case states,
 * and the helpers that check it. hostile.c has main and describes every outcome.
 */
#ifndef HOSTILE_H
#define HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../tools/blkfront/blkfront.h"

#define WAIT_MS 5000		/* how long an answer may take */
#define CONNECT_MS 30000	/* how long connecting may take (a loaded emulated guest) */
#define HALT_MS 1500		/* how long we wait to be sure none comes */
#define BAD_ID 0x4855535449UL	/* "HOSTI": an id no good request uses */

enum outcome { ERROR, HALT, ANY, REFUSED, CLOSED, DESTROYED };
extern const char *const outcome_name[];

struct hcase;
/* A case: 0 when the backend did as the case states, else fail()'s 1. bf is NULL for
 * the cases that connect themselves (own_connect). */
typedef int (*case_fn)(struct blkfront *bf, const struct hcase *c);

struct hcase {
	const char *name;
	const char *disk;	/* rw, ro */
	enum outcome expect;
	case_fn fn;
	bool own_connect;	/* fn connects (and disconnects) itself */
	/* parameters of the generic request builders */
	uint8_t op;
	uint16_t nsegs;
	uint64_t sector;	/* UINT64_MAX-n coded by the builder when 'special' */
	int special;
	uint8_t first, last;
	grant_ref_t gref;	/* 0: the pool's own */
	/* REFUSED: how the frontend publishes, and what the backend's error node says */
	const struct blkfront_node *nodes;
	unsigned int n_nodes;
	int ring_order;		/* max_ring_order of the refused connection */
	unsigned int queues;	/* its queue count; 0: 1 */
	const char *error;	/* text the error node holds; a final '$': ends with */
};

/* The case tables of each file. */
extern const struct hcase hostile_req_cases[];
extern const size_t hostile_req_ncases;
extern const struct hcase hostile_xs_cases[];
extern const size_t hostile_xs_ncases;
extern const struct hcase hostile_life_cases[];
extern const size_t hostile_life_ncases;

/* The vbd under test (argv[1]). */
extern const char *hostile_vdev;
/* Why the case failed (fail() fills it). */
extern char hostile_reason[256];

/* Note why the case failed; returns 1. */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Milliseconds on the monotonic clock. */
uint64_t now_ms(void);
/* The options every connection of a case starts from. */
void hostile_opts(struct blkfront_opts *opts);
/* Wait up to ms for one response: 1 (in *rsp), 0 on timeout, -ESHUTDOWN if closed. */
int wait_response(struct blkfront *bf, blkif_response_t *rsp, int ms);
/* One good read of the first 4 KiB on bf: 0, or fail(). */
int good_read(struct blkfront *bf);
/* Connect afresh, do one good read, disconnect: 0, or fail() saying what. */
int reconnect_and_read(const char *what);
/* Push what was put and check the case's outcome for request id. */
int push_and_check(struct blkfront *bf, const struct hcase *c, uint64_t id);
/*
 * Hooks: commands the runner gives in the environment, for what only dom0 sees.
 *   HOSTILE_HALTED_CMD   exits 0 once the backend reports the disk's ring halted;
 *   HOSTILE_STALLED_CMD  exits 0 once requests of ours sit in the disk's storage (a disk
 *                        opened with fault=...:stall); HOSTILE_UNSTALL_CMD releases them.
 * hook() is the command, or NULL if unset; hook_wait() polls it.
 */
const char *hook(const char *name);
/* Run hook name once: 0 if it exits 0, else fail(). */
int run_hook(const char *name);
/* Run hook name until it exits 0, up to ms while bf (or NULL) stays connected: 0, or fail(). */
int hook_wait(const char *name, struct blkfront *bf, int ms);
/* The backend halted bf's ring (its own word, no response, still Connected): 0, or fail(). */
int expect_halted(struct blkfront *bf);
/* A valid one-page read request on pool page 0, id given. */
void good_req(struct blkfront *bf, blkif_request_t *r, uint64_t id);
/* Is s one of the statuses a backend may answer? */
bool known_status(int16_t s);

#endif
