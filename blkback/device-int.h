/* What the state machine (device.c) and a device's life (device-life.c) share. */
#ifndef BLKBACK_DEVICE_INT_H
#define BLKBACK_DEVICE_INT_H

#include "device.h"
#include "task.h"
#include "../storage/storage.h"

/* A blocking storage call of a device, run on a thread of its own (or inline for mem). */
enum dev_job_kind { JOB_OPEN, JOB_CLOSE, JOB_RESIZE };

/*
 * The thread sees only the job: the spec and disk it was given, the rings a resize holds
 * still. The main thread leaves those alone until task_done, then takes the results.
 */
struct dev_job {
	struct blk_task task;
	enum dev_job_kind kind;
	char name[32];			/* the device's, for messages */
	struct storage_spec spec;	/* open */
	char *params;			/* open: the spec as written, for the log */
	struct storage *disk;		/* open: the result; close, resize: the disk */
	struct blk_ring *rings[BLK_MAX_QUEUES];	/* resize: held still meanwhile */
	unsigned int nr_rings;
	uint64_t bytes;			/* resize: the new size */
	bool adopt;			/* resize: the storage has it already: take it over */
	int ret;			/* 0 or -errno */
	char err[STORAGE_ERR_LEN];	/* why, when ret is not 0 */
};

/* device.c: the storage open that device_probe started has ended (on the main thread). */
void device_opened(struct blk_dev *d, struct dev_job *j);

/* device.c: our backend state (Unknown if absent); -errno if xenstore did not answer. */
int device_be_state(struct blk_dev *d, int *state);

/* device.c: tell a toolstack's hotplug script what became of the storage (DEV_STATUS_NODE). */
void device_report(struct blk_dev *d, const char *status);

/*
 * device-life.c: a toolstack's device going away (online 0) that is Closed with no ring
 * left: close its storage now, and say "released" once it has.
 */
void device_release_when_closed(struct blk_dev *d);

/*
 * device-life.c: a toolstack's device first seen offline and not Connected (a removal an
 * earlier daemon began): Closed and "released" without opening its storage; true if so.
 */
bool device_removal_begun(struct blk_dev *d);

/*
 * device-life.c: a toolstack's device that could not be served: Closed once its hotplug
 * script has ended or the toolstack removes it; until then it holds InitWait.
 */
void device_failed_update(struct blk_dev *d);

/* device.c: write our state node (old is what it held), logging the transition. */
void device_set_state(struct blk_dev *d, int old, int state);

/* device.c: ask the rings to stop, freeing those stopped; true once none is left. */
bool device_disconnect(struct blk_dev *d);

/* device.c: delete the ring journals an earlier daemon left for this device. */
void device_forget_journals(struct blk_dev *d);

/*
 * device-life.c: open the storage that spec names (taking spec and params) on a thread of
 * its own, or here for mem disks; device_opened follows. -errno if it cannot start.
 */
int device_job_open(struct blk_dev *d, struct storage_spec *spec, char *params);

/* device-life.c: close the device's storage, off the main thread; idempotent. */
void device_close_storage(struct blk_dev *d);

/* device-life.c: take the results of a storage call that has ended; true while one runs. */
bool device_job_reap(struct blk_dev *d);

#endif
