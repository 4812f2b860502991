/* One virtual disk: its xenstore nodes, its storage and its ring. */
#ifndef BLKBACK_DEVICE_H
#define BLKBACK_DEVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "backend.h"
#include "iolimit.h"
#include "ring.h"

/* Where a device is in its life; the xenbus state machine runs only once it is serving. */
enum dev_phase {
	DEV_NEW,		/* its nodes are read, then its storage opened (a job) */
	DEV_OPENED,		/* storage open, frontend watched: our first state comes next */
	DEV_SERVING,		/* the state machine follows the frontend */
	DEV_FAILED,		/* could not be served; waits for removal */
	DEV_RELEASED,		/* a toolstack removes it: storage closed, waits for removal */
};

/*
 * The backend node through which a toolstack's hotplug script (tools/ctl-hotplug.c)
 * learns what became of the storage of a device that has a script node: "opening",
 * then "open" or "failed" (the error node says why, written in the same transaction),
 * and "released" once the toolstack's removal has closed it.
 */
#define DEV_STATUS_NODE "blkbackd-status"

struct dev_job;

/* Called on the main thread when a resize started with device_resize has ended. */
typedef void device_resize_done(void *arg, int err, const char *msg);

struct blk_dev {
	struct blk_backend *be;
	uint32_t domid;			/* the frontend's */
	uint32_t devid;			/* virtual-device number */
	char name[32];			/* "d3 xvdb", for logs */
	char bepath[128];
	char *fepath;			/* NULL until probed */
	char fe_state[160];		/* fepath/state, watched */
	bool watching;
	bool hotplug;			/* a toolstack made it and runs a hotplug script (script node) */
	bool releasing;			/* its storage closes because the toolstack removes it */
	enum dev_phase phase;
	/*
	 * A blocking storage call (open, close or resize) running on a thread of its own.
	 * Meanwhile that thread owns the disk and the rings stay as they are: the state
	 * machine waits, and runs again from what xenstore then says once the call ends.
	 */
	struct dev_job *job;
	device_resize_done *resize_done;	/* a resize's caller, answered when it ends */
	uint64_t disk_size_seen;	/* the size the storage took by itself, last seen */
	uint64_t follow_failed;		/* the size that could not be taken over, or 0 */
	void *resize_arg;
	struct storage *disk;
	uint64_t size;			/* the disk's size in bytes, as the main thread knows it */
	bool readonly;
	bool in_memory;			/* the data lives in our memory: no successor can serve it */
	struct blk_ring *rings[BLK_MAX_QUEUES];	/* one per queue while connected */
	unsigned int nr_rings;
	bool stopping;			/* rings[] were asked to stop and some have not yet */
	bool freeing, remove;		/* device_free waits for them, then removes if asked */
	bool leaving;			/* handed over: the guest stays Connected */
	bool retry;			/* a xenstore read failed: update again on retry_fd */
	unsigned int xs_fails;		/* reads failed in a row, for the retry's back-off */
	int xs_err;			/* a read for config.c failed (not absent): -errno */
	enum grant_mode mode;		/* in use on the rings */
	/* A toolstack's unnamed mem disk: its ramdisk's key, and what becomes of it (memkeep.c). */
	char mem_key[128];		/* "vm/UUID/VDEV"; "" if none */
	bool keep_decided;
	int keep;			/* enum memkeep_verdict */
	char keep_why[24];
	struct blk_ring_stats past;	/* counters of the rings served before these */
	struct iolimit limit;		/* the spec's iops=, bps=..., or blkbackctl limit's */
	struct blk_dev *next;
};

/* The device for domid/devid, if the daemon serves it. */
struct blk_dev *device_find(struct blk_backend *be, uint32_t domid, uint32_t devid);

/* Find the device for domid/devid, creating it if its backend directory exists. */
struct blk_dev *device_get(struct blk_backend *be, uint32_t domid, uint32_t devid);

/* Run the state machine after any change to the device's nodes, or when its job ended. */
void device_update(struct blk_dev *d);

/*
 * Change the disk's size under a running guest, on a thread of its own. 0: started, and
 * done(arg, 0 or -errno, message) is called on the main thread once it ends (or the
 * daemon exits first). -errno with a message in err when it cannot start; -EBUSY while
 * another storage call of the disk (an open, a close, a resize) runs.
 */
int device_resize(struct blk_dev *d, uint64_t bytes, device_resize_done *done, void *arg,
		  char *err, size_t errlen);

/*
 * If the storage changed size by itself (storage_size_now: an rbd image resized by
 * another client), take the new size over and tell the guest, as a resize does.
 */
void device_follow_size(struct blk_dev *d);

/* One line of statistics: key=value pairs, for blkbackctl stats. */
void device_stats(const struct blk_dev *d, FILE *out);

/* The disk's I/O limits as " key=value" pairs (part of its stats line; blkbackctl limit). */
void device_limit_stats(const struct blk_dev *d, FILE *out);

/*
 * Close the device for a daemon shutdown (the guest sees Closing); true once its rings
 * have stopped and no storage call runs.
 */
bool device_shutdown(struct blk_dev *d);

/* Let go of the device for a successor daemon (see backend_leave). */
void device_leave(struct blk_dev *d);

/*
 * Stop serving and free the device, later if a ring or a storage call waits for storage
 * (device_update goes on then); remove: delete its nodes. Idempotent.
 */
void device_free(struct blk_dev *d, bool remove);

/* The daemon exits while a storage call of the device still runs: answer who waits for it. */
void device_abandon(struct blk_dev *d);

/* What a device still waiting at exit waits for, for the log: "open", "rings"... */
const char *device_waiting_for(const struct blk_dev *d);

#endif
