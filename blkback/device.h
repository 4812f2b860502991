/* One virtual disk: its xenstore nodes, its storage and its ring. */
#ifndef BLKBACK_DEVICE_H
#define BLKBACK_DEVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "backend.h"
#include "ring.h"

struct blk_dev {
	struct blk_backend *be;
	uint32_t domid;			/* the frontend's */
	uint32_t devid;			/* virtual-device number */
	char name[32];			/* "d3 xvdb", for logs */
	char bepath[128];
	char *fepath;			/* NULL until probed */
	char fe_state[160];		/* fepath/state, watched */
	bool watching;
	bool failed;			/* could not be served; waits for removal */
	struct storage *disk;
	bool readonly;
	bool in_memory;			/* the data lives in our memory: no successor can serve it */
	struct blk_ring *rings[BLK_MAX_QUEUES];	/* one per queue while connected */
	unsigned int nr_rings;
	bool stopping;			/* rings[] were asked to stop and some have not yet */
	bool freeing, remove;		/* device_free waits for them, then removes if asked */
	enum grant_mode mode;		/* in use on the rings */
	struct blk_ring_stats past;	/* counters of the rings served before these */
	struct blk_dev *next;
};

/* The device for domid/devid, if the daemon serves it. */
struct blk_dev *device_find(struct blk_backend *be, uint32_t domid, uint32_t devid);

/* Find the device for domid/devid, creating it if its backend directory exists. */
struct blk_dev *device_get(struct blk_backend *be, uint32_t domid, uint32_t devid);

/* Run the state machine after any change to the device's nodes. */
void device_update(struct blk_dev *d);

/* Change the disk's size under a running guest; on error a message goes into err. */
int device_resize(struct blk_dev *d, uint64_t bytes, char *err, size_t errlen);

/* One line of statistics: key=value pairs, for blkbackctl stats. */
void device_stats(const struct blk_dev *d, FILE *out);

/* Close the device for a daemon shutdown (the guest sees Closing); true once its rings stopped. */
bool device_shutdown(struct blk_dev *d);

/* Let go of the device for a successor daemon (see backend_leave). */
void device_leave(struct blk_dev *d);

/* Stop serving and free the device (later if a ring waits for storage); remove: delete its nodes. */
void device_free(struct blk_dev *d, bool remove);

#endif
