/* The storage engine interface: what the protocol engine asks of a disk. */
#ifndef STORAGE_H
#define STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/*
 * A parsed disk spec: ENGINE:[PATH][,key=value...], e.g. "mem:size=64M,name=scratch",
 * "file:/srv/disk.img,direct", "uring:/dev/vg/guest1,ro".
 */
struct storage_spec {
	const struct storage_ops *engine;
	char *path;		/* file/uring: the file or block device */
	char *name;		/* mem: a named ramdisk that outlives detach */
	uint64_t size;		/* mem: bytes; 0 when not given */
	bool readonly;		/* "ro" */
	bool direct;		/* file/uring: "direct", O_DIRECT */
	uint64_t fault_start;	/* "fault=START+COUNT[:eio|enospc]": I/O touching these */
	uint64_t fault_count;	/* 512-byte sectors fails with fault_error */
	int fault_error;	/* a negative errno */
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
};

struct storage {
	const struct storage_ops *ops;
	uint64_t size;			/* bytes */
	bool readonly;
	struct storage_caps caps;
	void *priv;			/* the engine's */
};

struct storage_ops {
	const char *name;
	const char *usage;		/* the accepted form, for error messages */
	bool needs_path;		/* the spec's first field is a file or device path */
	/* Open the disk the spec names; fill size, caps and priv. May explain an error in err. */
	int (*open)(struct storage *disk, const struct storage_spec *spec, char *err, size_t errlen);
	/* Release everything open acquired. */
	void (*close)(struct storage *disk);
	/*
	 * Start an I/O. The engine calls io->done, inline (before submit
	 * returns) or later from reap, always on the calling queue's thread.
	 */
	void (*submit)(struct storage *disk, struct storage_io *io);
	/*
	 * Optional: change the disk's size to size bytes (a multiple of 512), with
	 * nothing in flight. Shrinking drops the data past the new end.
	 */
	int (*resize)(struct storage *disk, uint64_t size, char *err, size_t errlen);
	/*
	 * Optional: start what submit queued. The ring thread calls it once per
	 * turn of its loop, after the sweep, so I/O that done callbacks queued
	 * from reap is started too.
	 */
	void (*kick)(struct storage *disk);
	/* Optional, for engines that complete later: an fd that polls readable ... */
	int (*event_fd)(struct storage *disk);
	/* ... and the call that then runs the completions. */
	void (*reap)(struct storage *disk);
};

extern const struct storage_ops storage_mem_ops;
extern const struct storage_ops storage_file_ops;
extern const struct storage_ops storage_uring_ops;

/* Find an engine by name; NULL if there is none. */
const struct storage_ops *storage_engine(const char *name);

/*
 * Parse a spec. On error returns -EINVAL and writes a message naming the bad
 * field and the accepted forms into err.
 */
int storage_spec_parse(const char *text, struct storage_spec *spec, char *err, size_t errlen);

/* Free what storage_spec_parse allocated; idempotent. */
void storage_spec_free(struct storage_spec *spec);

/* Parse a size with an optional K/M/G/T suffix (powers of 1024). */
int storage_parse_size(const char *s, uint64_t *bytes);

/* Open a disk from a parsed spec; on error a message goes into err. */
int storage_open(const struct storage_spec *spec, struct storage **diskp, char *err, size_t errlen);

/* Put the fault-injection wrapper in front of an open disk (spec->fault_count > 0). */
int storage_fault_wrap(struct storage *disk, const struct storage_spec *spec);

/* Close a disk; NULL is fine. */
void storage_close(struct storage *disk);

/* Submit an I/O after asserting the engine contract. */
void storage_submit(struct storage *disk, struct storage_io *io);

#endif
