/* The storage engine interface: what the protocol engine asks of a disk. */
#ifndef STORAGE_H
#define STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/uio.h>

/* What fault= does to the I/O touching its sectors. */
enum storage_fault {
	STORAGE_FAULT_NONE,
	STORAGE_FAULT_EIO,	/* fails with EIO */
	STORAGE_FAULT_ENOSPC,	/* fails with ENOSPC */
	STORAGE_FAULT_SHORT,	/* transfers half of what was asked */
	STORAGE_FAULT_STALL,	/* waits until storage_fault_release */
};

/*
 * A parsed disk spec: ENGINE:[PATH][,key=value...], e.g. "mem:size=64M,name=scratch",
 * "file:/srv/disk.img,direct", "uring:/dev/vg/guest1,ro".
 */
struct storage_spec {
	const struct storage_ops *engine;
	char *path;		/* file/uring: the file or block device */
	char *name;		/* mem: a named ramdisk that outlives detach */
	bool keyed;		/* mem: name is blkbackd's key of a toolstack's disk, not name= */
	uint64_t size;		/* mem: bytes; 0 when not given */
	bool readonly;		/* "ro" */
	bool direct;		/* file/uring: "direct", O_DIRECT */
	bool shared;		/* file/uring: "shared", a writer that lets others write too */
	uint64_t fault_start;	/* "fault=START+COUNT[:KIND]": I/O touching these */
	uint64_t fault_count;	/* 512-byte sectors ... */
	enum storage_fault fault;	/* ... goes wrong this way (see storage/fault.c) */
};

/* What a disk can do, declared once at open; the core turns it into xenstore features. */
struct storage_caps {
	bool flush;		/* has a volatile write cache: FLUSH makes data durable */
	bool discard;		/* DISCARD frees the range */
	bool discard_zeroes;	/* ... and it then reads back as zeroes */
	bool secure_discard;	/* DISCARD with secure set erases for good */
	uint32_t discard_granularity;	/* bytes; 0 means sector_size */
	uint32_t discard_alignment;	/* bytes: offset of the first discard extent */
	uint32_t sector_size;		/* logical, bytes */
	uint32_t physical_sector_size;	/* bytes */
};

enum storage_op { STORAGE_READ, STORAGE_WRITE, STORAGE_FLUSH, STORAGE_DISCARD };

/* One I/O handed to an engine. The core owns it until done() is called. */
struct storage_io {
	enum storage_op op;
	uint64_t offset;		/* bytes; with len, within the disk */
	uint64_t len;			/* bytes; for READ/WRITE the sum of the iov lengths */
	const struct iovec *iov;	/* READ/WRITE only */
	int iovcnt;
	bool secure;			/* DISCARD only, and only if caps.secure_discard */
	/* Called exactly once, with len on success (0 for FLUSH) or -errno. */
	void (*done)(struct storage_io *io, int64_t result);
	/* The engine's, while it holds the I/O: e.g. a list of I/Os waiting for room. */
	struct storage_io *engine_next;
};

struct storage {
	const struct storage_ops *ops;
	uint64_t size;			/* bytes */
	bool readonly;
	struct storage_caps caps;
	void *priv;			/* the engine's */
};

/*
 * One queue's path to a disk: each ring thread has its own, and only that
 * thread uses it.
 *
 * The contract between the core and an engine:
 *  - A disk may have several queues open at once. Each queue is used by one
 *    thread at a time, and different queues of one disk ARE used concurrently
 *    from different threads: submit on queue A while queue B reaps. Whatever
 *    an engine shares between the queues of a disk must be safe for that.
 *  - io->done is called on the thread that submits and reaps that queue:
 *    inline, before submit returns, or later from reap. Never from another
 *    queue's reap, never from an engine's own thread.
 *  - queue_open may run on any thread, while other queues of the disk are busy.
 *  - queue_close is only called with nothing in flight on that queue.
 *  - resize is only called while no queue has anything in flight.
 *  - close is only called after every queue of the disk was closed.
 */
struct storage_queue {
	struct storage *disk;
	void *priv;			/* the engine's per-queue state */
};

struct storage_ops {
	const char *name;
	const char *usage;		/* the accepted form, for error messages */
	bool needs_path;		/* the spec's first field is a file or device path */
	/* Open the disk the spec names; fill size, caps and priv. May explain an error in err. */
	int (*open)(struct storage *disk, const struct storage_spec *spec, char *err, size_t errlen);
	/* Release everything open acquired; every queue was closed before. */
	void (*close)(struct storage *disk);
	/*
	 * Optional: change the disk's size to size bytes (a multiple of 512), with
	 * nothing in flight on any queue. Shrinking drops the data past the new end.
	 */
	int (*resize)(struct storage *disk, uint64_t size, char *err, size_t errlen);
	/* Optional: set up per-queue state in q->priv (an io_uring, a completion list). */
	int (*queue_open)(struct storage *disk, struct storage_queue *q);
	/* Optional: release it; nothing is in flight on q. */
	void (*queue_close)(struct storage_queue *q);
	/*
	 * Start an I/O on q. The engine calls io->done inline (before submit
	 * returns) or later from reap of the same queue, on q's thread.
	 */
	void (*submit)(struct storage_queue *q, struct storage_io *io);
	/*
	 * Optional: start what submit queued on q. The ring thread calls it once
	 * per turn of its loop, after the sweep, so I/O that done callbacks queued
	 * from reap is started too.
	 */
	void (*kick)(struct storage_queue *q);
	/* Optional, for engines that complete later: an fd that polls readable ... */
	int (*event_fd)(struct storage_queue *q);
	/* ... and the call that then runs q's completions. */
	void (*reap)(struct storage_queue *q);
};

extern const struct storage_ops storage_mem_ops;
extern const struct storage_ops storage_file_ops;
extern const struct storage_ops storage_uring_ops;

/*
 * The bytes every ramdisk together may allocate (pages written, until discarded or
 * shrunk away; a named ramdisk's stay while it is detached). A write that would pass
 * it fails with ENOSPC; a new ramdisk is refused once it is reached. 0 restores the
 * default, half of the RAM.
 */
void storage_mem_set_limit(uint64_t bytes);
/* That limit, in bytes. */
uint64_t storage_mem_limit(void);

/* Whether this process holds a named ramdisk of that name, attached or not. */
bool storage_mem_named_exists(const char *name);
/* The bytes the ramdisks allocate now. */
uint64_t storage_mem_used(void);

/*
 * The names blkbackd gives the ramdisks of a toolstack's unnamed mem disks:
 * "vm/UUID/VDEV" (a key a name= cannot take, having no '/'), set in a spec with keyed.
 * Such a ramdisk stays after its close, as a named one does, until it is kept or freed:
 */
#define STORAGE_MEM_KEY_PREFIX "vm/"
/* Keep the detached keyed ramdisk name after why until until_ms (CLOCK_MONOTONIC; 0: no end). */
int storage_mem_keep(const char *name, const char *why, uint64_t until_ms);
/* Whether the keyed ramdisk name is kept. */
bool storage_mem_kept(const char *name);
/* Free the detached keyed ramdisk name (kept or not); -ENOENT if none. */
int storage_mem_free(const char *name);
/*
 * Free one kept ramdisk whose time has passed (its name and why said): true if one was;
 * *next: the earliest end still to come, 0 if none.
 */
bool storage_mem_expire(char *name, size_t namelen, char *why, size_t whylen, uint64_t *next);
/* Print a "kept name=... size=... bytes=... why=... since=... until=..." line per kept
 * ramdisk to out (NULL: none); returns how many are kept. */
unsigned int storage_mem_kept_print(FILE *out);

/* Submission queue entries of each uring queue (512; tests make it small). */
extern unsigned int storage_uring_depth;

/* Find an engine by name; NULL if there is none. */
const struct storage_ops *storage_engine(const char *name);

/*
 * Parse a spec. On error returns -EINVAL and writes a message naming the bad
 * field and the accepted forms into err (STORAGE_ERR_LEN holds any). A spec longer
 * than STORAGE_SPEC_MAX, or a path of PATH_MAX bytes or more, is refused saying so.
 */
int storage_spec_parse(const char *text, struct storage_spec *spec, char *err, size_t errlen);

/* Free what storage_spec_parse allocated; idempotent. */
void storage_spec_free(struct storage_spec *spec);

/* The largest disk: 2^63 bytes (8388608T), what a file offset (off_t) reaches. */
#define STORAGE_MAX_SIZE (1ull << 63)

/*
 * The longest spec text accepted: a path of PATH_MAX - 1 bytes, its engine and options.
 * (A spec that goes through xenstore must also fit its node: see bxs_value_max.)
 */
#define STORAGE_SPEC_MAX (PATH_MAX + 256)

/* An err buffer that holds any message of the parser or an engine, whatever the path. */
#define STORAGE_ERR_LEN (2 * PATH_MAX + 1024)

/*
 * Parse a size with an optional K/M/G/T suffix (powers of 1024), at most
 * STORAGE_MAX_SIZE: num_parse_size's -EINVAL or -ERANGE.
 */
int storage_parse_size(const char *s, uint64_t *bytes);

/* Open a disk from a parsed spec; on error a message goes into err. */
int storage_open(const struct storage_spec *spec, struct storage **diskp, char *err, size_t errlen);

/* Put the fault-injection wrapper in front of an open disk (spec->fault_count > 0). */
int storage_fault_wrap(struct storage *disk, const struct storage_spec *spec);

/* Let a disk opened with fault=...:stall serve what it holds, and stall no more; -EINVAL otherwise. */
int storage_fault_release(struct storage *disk);

/* Close a disk whose queues were all closed; NULL is fine. */
void storage_close(struct storage *disk);

/* Open a queue on an open disk (from any thread); -errno. */
int storage_queue_open(struct storage *disk, struct storage_queue **qp);

/* Close a queue with nothing in flight; NULL is fine. */
void storage_queue_close(struct storage_queue *q);

/*
 * Submit an I/O on q: 0, and io->done is called once. An I/O that breaks the
 * engine contract (no done, a bad length, past the end of the disk, a change to
 * a read-only disk, a discard the disk does not offer) is not submitted: -EINVAL,
 * done is not called, and *why names the rule it breaks.
 */
int storage_submit(struct storage_queue *q, struct storage_io *io, const char **why);

/* Start what submit queued (no-op if the engine has no kick). */
void storage_kick(struct storage_queue *q);

/* The fd that polls readable when q has completions to reap; -1 if the engine completes inline. */
int storage_event_fd(struct storage_queue *q);

/* Run q's completions (calls io->done on the calling thread). */
void storage_reap(struct storage_queue *q);

#endif
