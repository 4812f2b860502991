/* What the file and uring engines share: opening a file or block device, probing it, plain I/O. */
#ifndef STORAGE_FILECOMMON_H
#define STORAGE_FILECOMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage.h"

/* An open disk image file or block device. */
struct file_target {
	int fd;			/* -1 when not open */
	bool blockdev;		/* else a regular file */
	bool direct;		/* opened O_DIRECT: every read goes to the device */
	bool in_memory;		/* a file on tmpfs or ramfs: no I/O ever waits for a device */
	char *path;		/* for messages after open */
};

/*
 * Open spec->path the way the spec asks (read-only, O_DIRECT) and fill
 * disk->size and disk->caps from what the file or device can do. On error
 * t is closed again and a message naming the path goes into err.
 */
int file_target_open(struct file_target *t, struct storage *disk, const struct storage_spec *spec,
		     char *err, size_t errlen);

/* Close the file or device; idempotent. */
void file_target_close(struct file_target *t);

/* An engine's open: a file_target in disk->priv, opened from spec; freed on error. */
int file_target_attach(struct storage *disk, const struct storage_spec *spec, char *err,
		       size_t errlen);

/* An engine's close: close and free disk->priv's file_target; idempotent. */
void file_target_detach(struct storage *disk);

/*
 * Give the disk size bytes (the core checked it is a multiple of the sector
 * size, with nothing in flight): a file is truncated or extended; a block
 * device can only be taken at the size it has now, after it grew by itself.
 */
int file_target_resize(struct file_target *t, struct storage *disk, uint64_t size,
		       char *err, size_t errlen);

/*
 * Run one I/O to the end with plain system calls, retrying short transfers;
 * returns what io->done must be given. Safe on any thread.
 */
int64_t file_target_run(const struct file_target *t, const struct storage_io *io);

#endif
