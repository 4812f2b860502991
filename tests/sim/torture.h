/* torture.h: what the two halves of tests/sim/torture share (see torture.c). */
#ifndef TORTURE_H
#define TORTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../tools/blkfront/bfutil.h"
#include "../../tools/blkfront/blkfront.h"

#define NDISKS 3
#define SLOTS 16
#define MAX_SECT (16u << 11)		/* 16 MiB: the largest a resize makes a disk */
#define MIN_SECT (2u << 11)		/* 2 MiB */
#define START_SECT (8u << 11)		/* 8 MiB at the start */
#define MAX_IO 128u			/* sectors per read or write: 64 KiB */
#define TAG_ANY UINT32_MAX
#define WAIT_MS 30000			/* the longest anything may take before it fails */
#define HISTORY 24

enum fault { F_NONE, F_EIO, F_ENOSPC, F_SHORT, F_STALL };
extern const char *const fault_names[];

/* A request in flight, by slot id. */
struct pend {
	bool inflight, held;
	uint8_t op;
	uint64_t start, n;		/* sectors */
	uint32_t tag;			/* write: its step; flush: 0 */
	uint64_t seq;			/* submit order on the disk */
	unsigned int queue;
	struct blkfront_req *req;
};

/* One disk of the guest, and the model of its content. */
struct disk {
	const char *vdev, *engine;
	char path[256];			/* file and uring: the image */
	struct blkfront *bf;		/* NULL while not connected */
	bool gone;			/* the backend left Connected */
	uint64_t sectors;
	uint32_t tag[MAX_SECT];
	enum fault fault;
	uint64_t fstart, fcount;
	bool stall_active;
	bool replug;			/* held requests taken over by a new blkbackd */
	unsigned int generation;	/* mem: the ramdisk is named torture<generation> */
	struct pend pend[BLKFRONT_MAX_SLOTS];
	uint64_t seq;
};

/* What the run did, for the summary line. */
struct counts {
	uint64_t writes, discards, reads, failed, flushes, checked, kills, handovers, held_at_stop,
		 inflight_at_stop, unstalls, released, reconnects, resizes, shrinks, reattaches,
		 mem_lost;
};

/* torture.c: the run, the operator's side */
extern struct disk disks[NDISKS];
extern uint64_t seed, seed_hi, step;
extern const char *dir;
extern bool daemon_stopping;
extern bool daemon_persistent;	/* blkbackd runs with -g persistent */
extern struct counts count;
int64_t now_ms(void);
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
uint64_t rnd(uint64_t n);
pid_t spawn_dom0(const char *prog, const char *const *args, const char *out);

/* torture-guest.c: the guest's side, and the model */
bool hits_stall(const struct disk *d, uint64_t start, uint64_t n);
bool plugged(const struct disk *d);
unsigned int held_count(const struct disk *d);
void service(int wait_ms);
bool drain(struct disk *d);
bool wait_range(struct disk *d, uint64_t start, uint64_t n);
bool submit(struct disk *d, uint8_t op, uint64_t start, uint64_t n);
void connect_disk(struct disk *d);
void disconnect(struct disk *d);

#endif
