/* What becomes of a toolstack's mem disk when it is removed (memkeep.c). */
#ifndef BLKBACK_MEMKEEP_H
#define BLKBACK_MEMKEEP_H

#include "../storage/storage.h"

struct blk_backend;
struct blk_dev;

/* The verdict on a removed disk's ramdisk. */
enum memkeep_verdict {
	MEMKEEP_FREE,		/* a detach, a destroy, a poweroff, or nothing known */
	MEMKEEP_GRACE,		/* reboot, crash...: kept for the grace window */
	MEMKEEP_UNTIL_FREED,	/* suspend (save, migrate): kept until attached again or freed */
};

/* Load and open libxenctrl, warning once if it cannot be had. */
void memkeep_init(void);

/* Close libxenctrl; idempotent. */
void memkeep_exit(void);

/* A toolstack's unnamed mem disk: name its ramdisk by its VM's key (vm/UUID/VDEV) in spec. */
void memkeep_key(struct blk_dev *d, struct storage_spec *spec);

/* The toolstack removes the disk (online 0): decide, once, what becomes of its ramdisk. */
void memkeep_decide(struct blk_dev *d);

/* The disk's storage has closed: free its ramdisk, or keep it as decided. */
void memkeep_apply(struct blk_dev *d);

/* The keep timer fired (or a ramdisk was kept): free those past their end, re-arm it. */
void memkeep_expire(struct blk_backend *be);

#endif
