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
 * A disk's I/O limits (iops=, iops-burst=, bps=, bps-burst=): token buckets the core keeps
 * (blkback/iolimit.c); the engine never sees them. A rate of 0 means no limit; a burst of 0,
 * the default (a tenth of a second's worth: storage_limit_burst).
 */
struct storage_limits {
	uint64_t iops, iops_burst;	/* requests a second; requests that may go at once */
	uint64_t bps, bps_burst;	/* bytes a second (reads and writes); bytes at once */
};

/* The bounds of each: what is outside is refused as absurd, saying so. */
#define STORAGE_IOPS_MAX 10000000ull		/* 10 million requests a second */
#define STORAGE_IOPS_BURST_MAX 100000000ull
#define STORAGE_BPS_MIN 4096ull			/* a page a second */
#define STORAGE_BPS_MAX (1ull << 40)		/* 1 TiB a second */
#define STORAGE_BPS_BURST_MAX (1ull << 32)	/* 4 GiB */

/* A field of struct storage_limits not given (storage_limits_unset). */
#define STORAGE_LIMIT_UNSET UINT64_MAX

/*
 * A parsed disk spec: ENGINE:[PATH|URI][,key=value...], e.g. "mem:size=64M,name=scratch",
 * "file:/srv/disk.img,direct", "uring:/dev/vg/guest1,ro",
 * "nbd:nbd+unix:///export?socket=/run/nbd.sock,timeout=60".
 */
struct storage_spec {
	const struct storage_ops *engine;
	char *path;		/* file/uring: the file or block device */
	char *uri;		/* nbd: the server's URI, as libnbd parses it */
	unsigned int timeout_s;	/* nbd: "timeout=SECONDS", reconnect timeout; 0: default */
	char *name;		/* mem: a named ramdisk that outlives detach */
	bool keyed;		/* mem: name is blkbackd's key of a toolstack's disk, not name= */
	uint64_t size;		/* mem: bytes; 0 when not given */
	bool huge;		/* mem: "huge", on transparent huge pages */
	bool readonly;		/* "ro" */
	bool direct;		/* file/uring: "direct", O_DIRECT */
	bool shared;		/* file/uring: "shared", a writer that lets others write too */
	uint64_t fault_start;	/* "fault=START+COUNT[:KIND]": I/O touching these */
	uint64_t fault_count;	/* 512-byte sectors ... */
	enum storage_fault fault;	/* ... goes wrong this way (see storage/fault.c) */
	struct storage_limits limits;	/* "iops=N,bps=SIZE,...": 0 for none */
	void *engine_spec;	/* an engine with parse_target: what it parsed (rbd: pool, image) */
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
	/*
	 * The core's eventfd (storage_set_notify_fd), or -1; set before open. An engine
	 * with size_now writes 1 to it, from any thread, when that size changes.
	 */
	int notify_fd;
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
 *  - q's thread asks poll what to wait for before every wait (one fd and its
 *    events, and/or a timeout), waits for it beside its own fds in one poll,
 *    and calls reap when the fd is ready or the timeout may have passed. Its
 *    submit, poll and reap never block q's thread (a socket half written polls
 *    writable; a reconnect waits out its backoff as a timeout).
 *  - queue_open may run on any thread, while other queues of the disk are busy.
 *  - queue_close is only called with nothing in flight on that queue.
 *  - resize is only called while no queue has anything in flight.
 *  - close is only called after every queue of the disk was closed.
 */
struct storage_queue {
	struct storage *disk;
	void *priv;			/* the engine's per-queue state */
};

/* What a queue's thread waits for before it calls reap (see storage_ops.poll). */
struct storage_poll {
	int fd;			/* -1: no fd to poll */
	short events;		/* POLLIN and/or POLLOUT */
	int timeout_ms;		/* reap after this long at the latest; -1: only when fd is ready */
};

/* A disk's connections to its server (engines that have one), for blkbackctl stats. */
struct storage_link {
	unsigned int up;	/* connections serving */
	unsigned int down;	/* connections reconnecting */
	uint64_t reconnects;	/* times a lost connection came back */
};

struct storage_ops {
	const char *name;
	const char *usage;		/* the accepted form, for error messages */
	bool needs_path;		/* the spec's first field is a file or device path */
	bool needs_uri;			/* ... or a URI (up to the first ','; write a ',' in it %2C) */
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
	/*
	 * Optional, for engines that complete later: what q's thread must wait for now,
	 * in p (which comes filled with "nothing": fd -1, no events, timeout -1): an fd
	 * and the poll events it needs (POLLIN, POLLOUT or both: a socket with a request
	 * half sent polls writable too), and/or a timeout in ms after which reap must run
	 * even if the fd stayed quiet (a reconnect backoff, a deadline). Asked before
	 * every poll: the fd, its events and the timeout may change from one turn to the
	 * next; an fd given stays open until the engine is asked again or q is closed.
	 */
	void (*poll)(struct storage_queue *q, struct storage_poll *p);
	/*
	 * ... and the call that then runs q's completions (and whatever the engine does
	 * when its fd is ready or its timeout passed). It never blocks; it may be called
	 * when nothing happened.
	 */
	void (*reap)(struct storage_queue *q);
	/* Optional, for engines with a server: their connections now; from any thread. */
	void (*link)(const struct storage *disk, struct storage_link *l);
	/*
	 * Optional, for an engine whose spec names something other than a file (rbd's
	 * pool/image): parse the spec's first field, and each option the core does not
	 * take (ro, fault=, the I/O limits), into spec->engine_spec; spec_free releases it (idempotent).
	 */
	int (*parse_target)(struct storage_spec *spec, const char *target, char *err, size_t errlen);
	int (*parse_option)(struct storage_spec *spec, const char *key, const char *val, char *err,
			    size_t errlen);
	void (*spec_free)(struct storage_spec *spec);
	/*
	 * Optional, for storage that can change size by itself (an rbd image resized by
	 * another client): its size now, from any thread. The engine writes notify_fd
	 * when it changes; the core then takes the new size over as a resize does,
	 * without calling resize.
	 */
	uint64_t (*size_now)(struct storage *disk);
};

extern const struct storage_ops storage_mem_ops;
extern const struct storage_ops storage_file_ops;
extern const struct storage_ops storage_uring_ops;
extern const struct storage_ops storage_nbd_ops;
/* Disk images through a qemu-storage-daemon of their own (storage/image.c). */
extern const struct storage_ops storage_qcow2_ops, storage_vmdk_ops, storage_vhdx_ops,
	storage_vpc_ops, storage_raw_ops;

/* The reconnect timeout of an NBD disk without timeout=, in seconds. */
#define STORAGE_NBD_TIMEOUT_S 30

/*
 * The nbd engine's open on a URI the caller chose (an engine that starts its own NBD
 * server on a private socket opens its data path with this, and closes it with
 * storage_nbd_ops.close): connects within timeout_s seconds (0: the default), reads
 * what the server offers into disk's size, readonly and caps. readonly asks for a
 * read-only disk whatever the server allows. On error a message goes into err.
 */
int storage_nbd_open_uri(struct storage *disk, const char *uri, bool readonly,
			 unsigned int timeout_s, char *err, size_t errlen);


/*
 * Where the image engines make the private directory of each disk's qemu-storage-daemon
 * (blkbackd: RUNDIR/KIND.images; without this call $TMPDIR or /tmp); made if missing.
 * Also stops the qemu-storage-daemons a killed predecessor left there (SIGTERM, so
 * that qemu flushes its images, and waits for them) and removes their directories.
 * Call it before any disk opens; -errno.
 */
int storage_image_setup(const char *dir);

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

/*
 * Find an engine by name; NULL if there is none. An engine shipped as a loadable module
 * (rbd) is loaded on first use from BLKBACK_ENGINE_DIR, or $BLKBACKD_ENGINE_DIR if set.
 */
const struct storage_ops *storage_engine(const char *name);

/*
 * The same, saying in err why there is none: an unknown name leaves err empty, a module
 * that cannot be loaded says why and which package to install.
 */
const struct storage_ops *storage_engine_find(const char *name, char *err, size_t errlen);

/*
 * A fingerprint of the structures a loadable engine shares with the core: their sizes and
 * the offset of every member of the disk spec (a bool added among others shifts them
 * without changing the size). A module exports it as storage_module_abi beside its
 * version: one built against other headers of the same version (a build tree between two
 * commits) is refused rather than reading fields at the wrong place.
 */
#define STORAGE_SPEC_OFFSETS                                                                  \
	(offsetof(struct storage_spec, engine) * 3u + offsetof(struct storage_spec, path) * 5u +  \
	 offsetof(struct storage_spec, uri) * 7u + offsetof(struct storage_spec, timeout_s) * 11u + \
	 offsetof(struct storage_spec, name) * 13u + offsetof(struct storage_spec, keyed) * 17u + \
	 offsetof(struct storage_spec, size) * 19u + offsetof(struct storage_spec, huge) * 23u +  \
	 offsetof(struct storage_spec, readonly) * 29u + offsetof(struct storage_spec, direct) * 31u + \
	 offsetof(struct storage_spec, shared) * 37u +                                           \
	 offsetof(struct storage_spec, fault_start) * 41u +                                      \
	 offsetof(struct storage_spec, fault_count) * 43u + offsetof(struct storage_spec, fault) * 47u + \
	 offsetof(struct storage_spec, limits) * 53u + offsetof(struct storage_spec, engine_spec) * 59u)
#define STORAGE_MODULE_ABI                                                                    \
	((uint32_t)(sizeof(struct storage_spec) * 1000003u ^ sizeof(struct storage_ops) * 10007u ^ \
		    sizeof(struct storage) * 101u ^ sizeof(struct storage_io) * 31u ^               \
		    STORAGE_SPEC_OFFSETS * 65599u ^ offsetof(struct storage_ops, reap) ^             \
		    sizeof(struct storage_limits) * 257u ^ sizeof(struct storage_caps) << 24))

/* storage/module.c: load the module of a loadable engine; NULL, and why in err if known. */
const struct storage_ops *storage_module_load(const char *name, char *err, size_t errlen);

/* storage/module.c: append " FORM" for each loadable engine to the message in err. */
void storage_module_usage(char *err, size_t errlen);

/* The eventfd that disks opened from now on write when their size changes (-1: none). */
void storage_set_notify_fd(int fd);

/* A disk's size as its storage has it now, if it can change by itself; 0 otherwise. */
uint64_t storage_size_now(struct storage *disk);

/*
 * Parse a spec. On error returns -EINVAL and writes a message naming the bad
 * field and the accepted forms into err (STORAGE_ERR_LEN holds any). A spec longer
 * than STORAGE_SPEC_MAX, or a path of PATH_MAX bytes or more, is refused saying so.
 */
int storage_spec_parse(const char *text, struct storage_spec *spec, char *err, size_t errlen);

/* Free what storage_spec_parse allocated; idempotent. */
void storage_spec_free(struct storage_spec *spec);

/* Mark every field of l as not given (STORAGE_LIMIT_UNSET). */
void storage_limits_unset(struct storage_limits *l);

/*
 * One I/O limit option into l (marked unset first): iops=N, iops-burst=N (requests),
 * bps=SIZE, bps-burst=SIZE (bytes, K/M/G/T suffixes). -ENOENT if key is no limit's (err
 * untouched); -EINVAL with a message saying what is wrong and what is accepted.
 */
int storage_limit_option(struct storage_limits *l, const char *key, const char *val, char *err,
			 size_t errlen);

/*
 * The limits given (unset fields: as in old) over old, into given: a rate given without
 * its burst gets the default burst. -EINVAL, saying why, for a burst without its rate.
 */
int storage_limits_merge(const struct storage_limits *old, struct storage_limits *given,
			 char *err, size_t errlen);

/* The burst in force for rate and burst (0: the default, a tenth of rate, at least min). */
uint64_t storage_limit_burst(uint64_t rate, uint64_t burst, uint64_t min);

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

/*
 * What q's thread must wait for before it reaps: the engine's fd, events and timeout
 * now (see storage_ops.poll); fd -1 and timeout -1 for an engine that completes inline.
 */
void storage_poll(struct storage_queue *q, struct storage_poll *p);

/* Run q's completions (calls io->done on the calling thread). */
void storage_reap(struct storage_queue *q);

/* Fill l for a disk whose engine has a server; -EOPNOTSUPP for any other. */
int storage_link(const struct storage *disk, struct storage_link *l);

#endif
