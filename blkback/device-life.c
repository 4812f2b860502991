/*
 * A device's life outside the state machine: its creation, the calls into its storage
 * that can block (open, close, resize), run on threads of their own so that a disk whose
 * storage hangs holds up nothing else, and its shutdown, handover and teardown.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device-int.h"
#include "log.h"
#include "memkeep.h"
#include "vdev.h"
#include "xs.h"

/* How long a resize waits for the disk's I/O in flight to finish (its own thread waits). */
#define RESIZE_WAIT_S 5

static const char *const job_names[] = {
	[JOB_OPEN] = "the open", [JOB_CLOSE] = "the close", [JOB_RESIZE] = "the resize",
};

/* The device for domid/devid, if the daemon serves it. */
struct blk_dev *device_find(struct blk_backend *be, uint32_t domid, uint32_t devid)
{
	for (struct blk_dev *d = be->devs; d; d = d->next)
		if (d->domid == domid && d->devid == devid)
			return d;
	return NULL;
}

/* Find the device for domid/devid, creating it if its backend directory exists. */
struct blk_dev *device_get(struct blk_backend *be, uint32_t domid, uint32_t devid)
{
	struct blk_dev *d = device_find(be, domid, devid);
	char vdev[16], *dir, what[160];
	int err;

	if (d)
		return d;
	dir = bxs_read(be->xs, XBT_NULL, "%s/%u/%u", be->root, domid, devid);
	err = errno;
	if (!dir) {
		/* Not absent but unreadable: look for it again later. */
		snprintf(what, sizeof(what), "%s/%u/%u", be->root, domid, devid);
		if (err != ENOENT &&
		    backend_retry_later(be, &be->scan_fails, "backend", what, err ? -err : -EIO))
			be->scan_retry = true;
		return NULL;
	}
	free(dir);
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->be = be;
	d->mode = be->grant_mode;	/* until a frontend connects */
	iolimit_init(&d->limit);
	d->domid = domid;
	d->devid = devid;
	vdev_name(devid, vdev, sizeof(vdev));
	snprintf(d->name, sizeof(d->name), "d%u %s", domid, vdev);
	snprintf(d->bepath, sizeof(d->bepath), "%s/%u/%u", be->root, domid, devid);
	d->next = be->devs;
	be->devs = d;
	return d;
}

/* The storage call, on its own thread (or inline): it touches only the job. */
static void job_run(struct blk_task *t)
{
	struct dev_job *j = (struct dev_job *)t;
	struct timespec until;

	switch (j->kind) {
	case JOB_OPEN:
		j->ret = storage_open(&j->spec, &j->disk, j->err, sizeof(j->err));
		break;
	case JOB_CLOSE:
		storage_close(j->disk);
		j->disk = NULL;
		break;
	case JOB_RESIZE:
		/* Nothing in flight while the disk changes; but wait only so long. */
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += RESIZE_WAIT_S;
		for (unsigned int q = 0; !j->ret && q < j->nr_rings; q++)
			j->ret = blk_ring_pause(j->rings[q], &until);
		if (j->ret)
			snprintf(j->err, sizeof(j->err), "%s: its storage has not finished the I/O "
				 "in flight in %d s, so it was not resized; try again once it "
				 "answers", j->name, RESIZE_WAIT_S);
		else if (j->adopt)	/* the storage changed by itself: only take it over */
			j->disk->size = j->bytes;
		else
			j->ret = j->disk->ops->resize(j->disk, j->bytes, j->err, sizeof(j->err));
		for (unsigned int q = 0; q < j->nr_rings; q++)
			blk_ring_resume(j->rings[q], j->disk->size >> SECTOR_SHIFT);
		break;
	}
}

/* A new job of d. */
static struct dev_job *job_new(const struct blk_dev *d, enum dev_job_kind kind)
{
	struct dev_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->kind = kind;
	snprintf(j->name, sizeof(j->name), "%s", d->name);
	return j;
}

/* Free a job that has ended, with what nobody took from it. */
static void job_free(struct dev_job *j)
{
	task_join(&j->task);
	storage_spec_free(&j->spec);
	free(j->params);
	free(j);
}

/* Rewrite sectors, then state, in transaction t, if we are still Connected. */
static int resize_nodes(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	const struct blk_dev *d = arg;
	char path[160];
	uint64_t v;
	int err;

	snprintf(path, sizeof(path), "%s/state", d->bepath);
	err = bxs_read_uint(xs, t, path, XenbusStateReconfigured, &v);
	if (err && err != -ENOENT && err != -EINVAL)
		return err;
	if (err || v != XenbusStateConnected)
		return 0;	/* the frontend reads sectors when it connects */
	err = bxs_printf(xs, t, d->bepath, "sectors", "%" PRIu64, d->size >> SECTOR_SHIFT);
	/* The state write is what tells Linux blkfront to look at sectors again. */
	return err ? err : bxs_printf(xs, t, d->bepath, "state", "%d", XenbusStateConnected);
}

/* Answer whoever waits for the device's resize, once. */
static void resize_answer(struct blk_dev *d, int err, const char *msg)
{
	device_resize_done *done = d->resize_done;

	d->resize_done = NULL;
	if (done)
		done(d->resize_arg, err, msg);
}

/* A resize has ended: tell the guest, and whoever asked. */
static void resized(struct blk_dev *d, struct dev_job *j)
{
	char msg[600];
	int err = j->ret;

	d->size = d->disk->size;
	if (err) {
		resize_answer(d, err, j->err);
		return;
	}
	log_info("%s: resized to %" PRIu64 " bytes", d->name, d->size);
	/* Leaving: a successor tells the guest. Freeing: there is nobody to tell. */
	if (!d->freeing && !d->leaving)
		err = bxs_transact(d->be->xs, resize_nodes, d);
	snprintf(msg, sizeof(msg), "%s: resized, but cannot tell the guest through xenstore: %s",
		 d->name, strerror(-err));
	resize_answer(d, err, err ? msg : "");
}

/* The storage of a device the toolstack removes has closed: tell its hotplug script. */
static void device_released(struct blk_dev *d)
{
	if (!d->freeing)
		device_report(d, "released");
}

/* The job has ended: the main thread takes what it made. */
static void job_end(struct blk_dev *d, struct dev_job *j)
{
	switch (j->kind) {
	case JOB_OPEN:
		device_opened(d, j);
		break;
	case JOB_CLOSE:
		memkeep_apply(d);	/* before "released": the script's remove sees it done */
		if (d->releasing)
			device_released(d);
		break;
	case JOB_RESIZE:
		resized(d, j);
		break;
	}
	job_free(j);
}

/*
 * Start job j of d on a thread of its own; with nothing to block on (a mem disk), run it
 * here. -errno if no thread can be made: then it has not run.
 */
static int job_start(struct blk_dev *d, struct dev_job *j, bool here)
{
	int err;

	if (here) {
		job_run(&j->task);
		job_end(d, j);
		return 0;
	}
	err = task_start(&j->task, job_run, d->be->task_fd);
	if (err)
		return err;
	d->job = j;
	log_debug(LOG_XS, "%s: %s of its storage runs on a thread of its own", d->name,
		  job_names[j->kind]);
	return 0;
}

/* Open the storage spec names, off the main thread unless it is a mem disk. */
int device_job_open(struct blk_dev *d, struct storage_spec *spec, char *params)
{
	struct dev_job *j = job_new(d, JOB_OPEN);
	int err;

	if (!j) {
		free(params);
		return -ENOMEM;
	}
	j->spec = *spec;
	memset(spec, 0, sizeof(*spec));
	j->params = params;
	err = job_start(d, j, j->spec.engine == &storage_mem_ops);
	if (err)
		job_free(j);
	return err;
}

/* Close the device's storage off the main thread; close can flush, and storage can hang. */
void device_close_storage(struct blk_dev *d)
{
	struct dev_job *j;

	if (!d->disk)
		return;
	j = job_new(d, JOB_CLOSE);
	if (!j) {
		storage_close(d->disk);	/* out of memory: better late than never */
		d->disk = NULL;
		return;
	}
	j->disk = d->disk;
	d->disk = NULL;
	if (job_start(d, j, d->in_memory)) {
		log_warn("%s: no thread for closing its storage; closing it on the main thread",
			 d->name);
		job_start(d, j, true);
	}
}

/*
 * A toolstack's device going away (online 0): once Closed, with its rings gone, close
 * its storage, before the toolstack's removal ends. libxl runs the hotplug script's
 * remove once the backend is Closed and deletes the device's nodes after it; the script
 * waits for "released", so that an attach of the same image that follows at once does
 * not find it still open (and locked) here.
 */
void device_release_when_closed(struct blk_dev *d)
{
	int state;

	if (!d->disk || d->nr_rings || d->stopping || d->job || device_be_state(d, &state) ||
	    state != XenbusStateClosed)
		return;
	log_info("%s: closed by the toolstack; closing its storage", d->name);
	d->phase = DEV_RELEASED;
	d->releasing = true;
	device_close_storage(d);	/* device_released follows, now or once it ends */
}

/*
 * Whether a hotplug script has ended for the device: it wrote hotplug-status. Ours writes
 * error when the storage failed; another script (Xen's block, for a plain phy disk on
 * the vbd route) may write connected all the same, and libxl then counts the add done.
 */
static bool script_ended(struct blk_dev *d)
{
	char *s = bxs_read(d->be->xs, XBT_NULL, "%s/hotplug-status", d->bepath);

	free(s);
	return s != NULL;
}

/* Whether the backend's online node says 1; false also when it cannot be read. */
static bool is_online(struct blk_dev *d)
{
	char path[160];
	uint64_t v;

	snprintf(path, sizeof(path), "%s/online", d->bepath);
	return !bxs_read_uint(d->be->xs, XBT_NULL, path, 1, &v) && v == 1;
}

/*
 * A toolstack's device that could not be served holds InitWait (device_fail, device.c)
 * until its hotplug script has ended (ours reports the failure), or until the toolstack
 * removes it (libxl writes online 0 and Closing, then waits 10 s for Closed): then it
 * closes.
 */
void device_failed_update(struct blk_dev *d)
{
	int state;

	if (!d->hotplug || device_be_state(d, &state) || state == XenbusStateClosed ||
	    state == XenbusStateUnknown)
		return;
	if (state != XenbusStateInitWait || !is_online(d) || script_ended(d))
		device_set_state(d, state, XenbusStateClosed);
}

/*
 * A toolstack's device already offline (online 0) and not Connected when we first look
 * at it: a removal that an earlier daemon had begun and stopped in (a restart). Nothing
 * to serve: no open (its lock would keep the image from an attach that follows), no
 * InitWait (which makes a Closed frontend connect again), but Closed, and "released" for
 * the hotplug script's remove. True if so; a Connected one is taken over and detached.
 */
bool device_removal_begun(struct blk_dev *d)
{
	char path[160];
	uint64_t v;
	int state, err;

	snprintf(path, sizeof(path), "%s/online", d->bepath);
	err = bxs_read_uint(d->be->xs, XBT_NULL, path, 1, &v);
	if ((!err && v == 1) || (err && err != -ENOENT && err != -EINVAL) ||
	    device_be_state(d, &state) || state == XenbusStateInitialising ||
	    state == XenbusStateConnected)
		return false;	/* online, unreadable (as any other), new, or connected */
	log_info("%s: being removed by the toolstack; not opening its storage", d->name);
	d->phase = DEV_RELEASED;
	device_report(d, "released");
	device_set_state(d, state, XenbusStateClosed);
	return true;
}

/* Take the results of a storage call that has ended; true while one runs. */
bool device_job_reap(struct blk_dev *d)
{
	struct dev_job *j = d->job;

	if (!j)
		return false;
	if (!task_done(&j->task))
		return true;
	d->job = NULL;
	job_end(d, j);	/* which may start another: a failed open closes */
	return d->job != NULL;
}

/* Start a resize job of d to bytes; adopt: the storage has that size already. */
static int start_resize(struct blk_dev *d, uint64_t bytes, bool adopt, device_resize_done *done,
			void *arg, char *err, size_t errlen)
{
	struct dev_job *j;
	int ret;

	if (d->job) {
		snprintf(err, errlen, "%s is busy: %s of its storage has not finished (storage "
			 "hanging?); try again once it has", d->name, job_names[d->job->kind]);
		return -EBUSY;
	}
	if (!d->disk || d->freeing) {
		snprintf(err, errlen, "%s has no open disk to resize", d->name);
		return -ENODEV;
	}
	if (d->stopping) {
		snprintf(err, errlen, "%s is disconnecting, waiting for its storage; try again "
			 "once it has", d->name);
		return -EBUSY;
	}
	if (!adopt && !d->disk->ops->resize) {
		snprintf(err, errlen, "%s: the %s engine cannot resize", d->name, d->disk->ops->name);
		return -EOPNOTSUPP;
	}
	if (!bytes || bytes % d->disk->caps.sector_size) {
		snprintf(err, errlen, "%s: size %" PRIu64 " is not a non-zero multiple of the "
			 "%u-byte sector size", d->name, bytes, d->disk->caps.sector_size);
		return -EINVAL;
	}
	j = job_new(d, JOB_RESIZE);
	if (!j) {
		snprintf(err, errlen, "%s: out of memory", d->name);
		return -ENOMEM;
	}
	j->disk = d->disk;
	j->bytes = bytes;
	j->adopt = adopt;
	j->nr_rings = d->nr_rings;
	memcpy(j->rings, d->rings, sizeof(j->rings));
	d->resize_done = done;
	d->resize_arg = arg;
	ret = job_start(d, j, false);
	if (ret) {
		d->resize_done = NULL;
		job_free(j);
		snprintf(err, errlen, "%s: cannot start the resize: %s", d->name, strerror(-ret));
	}
	return ret;
}

/* Change the disk's size under a running guest, on a thread of its own. */
int device_resize(struct blk_dev *d, uint64_t bytes, device_resize_done *done, void *arg,
		  char *err, size_t errlen)
{
	return start_resize(d, bytes, false, done, arg, err, errlen);
}

/* A size the storage took by itself has been taken over, or could not be. */
static void followed(void *arg, int err, const char *msg)
{
	struct blk_dev *d = arg;

	if (!err) {
		d->follow_failed = 0;
		return;
	}
	if (d->follow_failed != d->disk_size_seen)	/* once per size: it is tried again */
		log_err("%s: its storage changed size by itself, to %" PRIu64 " bytes, but the "
			"guest cannot be told yet: %s", d->name, d->disk_size_seen, msg);
	d->follow_failed = d->disk_size_seen;
}

/*
 * Storage that changes size by itself (an rbd image resized by another client): take
 * the new size over as a resize does, the rings held still meanwhile, and tell the
 * guest. Run whenever the storage says so (and whenever a storage call ends).
 */
void device_follow_size(struct blk_dev *d)
{
	char err[256];
	uint64_t now;

	if (!d->disk || d->job || d->freeing || d->leaving || d->stopping)
		return;
	now = storage_size_now(d->disk);
	if (!now || now == d->size)
		return;
	if (d->follow_failed != now)
		log_info("%s: its storage is now %" PRIu64 " bytes (resized by another client); "
			 "taking that over", d->name, now);
	d->disk_size_seen = now;
	if (start_resize(d, now, true, followed, d, err, sizeof(err)))
		followed(d, -EIO, err);
}

/*
 * Close the device for a daemon shutdown: the guest sees Closing. True once its rings
 * have stopped and no storage call runs; until then the caller waits and asks again.
 */
bool device_shutdown(struct blk_dev *d)
{
	if (device_job_reap(d))
		return false;
	if (!d->leaving && d->nr_rings && !d->stopping)
		device_set_state(d, XenbusStateConnected, XenbusStateClosing);
	return device_disconnect(d);
}

/*
 * Let go of the device for a successor daemon: its rings stop, keeping their journals,
 * with the guest left Connected; backend_close waits for them (and for a storage call
 * that runs). A disk in our memory cannot be handed over: backend_close closes it.
 */
void device_leave(struct blk_dev *d)
{
	if (d->in_memory)
		return;
	d->leaving = true;
	for (unsigned int q = 0; q < d->nr_rings; q++)
		blk_ring_keep_journal(d->rings[q]);
	device_disconnect(d);
}

/*
 * Stop serving and free the device; with remove, delete its backend nodes too. If a ring
 * or a storage call still waits for storage, that happens later, from device_update.
 */
void device_free(struct blk_dev *d, bool remove)
{
	struct blk_backend *be = d->be;
	bool waited = d->freeing;
	struct blk_dev **pp;

	d->freeing = true;
	d->remove |= remove;
	if (device_job_reap(d) || !device_disconnect(d))
		return;		/* device_update goes on once it has ended */
	device_close_storage(d);
	if (d->job) {
		log_debug(LOG_XS, "%s: waiting for its storage to close", d->name);
		return;
	}
	be->rescan |= waited;	/* see backend_reap_rings */
	remove = d->remove;
	if (d->watching)
		xs_unwatch(be->xs, d->fe_state, d->bepath);
	if (remove)
		device_forget_journals(d);	/* any a killed daemon left */
	if (remove && !xs_rm(be->xs, XBT_NULL, d->bepath))
		log_err("%s: cannot remove %s: %s", d->name, d->bepath, strerror(errno));
	log_info("%s: device %s", d->name, remove ? "removed" : "released");
	for (pp = &be->devs; *pp != d; pp = &(*pp)->next)
		;
	*pp = d->next;
	free(d->fepath);
	iolimit_fini(&d->limit);
	free(d);
}

/* What a device still waits for at exit: the storage call that runs, or NULL for its rings. */
const char *device_waiting_for(const struct blk_dev *d)
{
	return d->job ? job_names[d->job->kind] : NULL;
}

/* The daemon exits while a storage call of the device still runs: answer who waits for it. */
void device_abandon(struct blk_dev *d)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "blkbackd exits, and the resize of %s has not finished: its "
		 "storage does not answer; the disk's size is unknown", d->name);
	resize_answer(d, -EINTR, msg);
}
