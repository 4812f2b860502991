/*
 * One virtual disk: probe, the xenbus state machine, connect and take-over. Its storage
 * calls (open, close, resize, off the main thread) and its teardown are in device-life.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "device-int.h"
#include "log.h"
#include "memkeep.h"
#include "ring.h"
#include "xs.h"

/*
 * A xenbus state node: 0, with Unknown if it is absent or holds no state; -errno if
 * xenstore failed to answer, which says nothing about the node (see device_retry).
 */
static int read_state(struct blk_dev *d, const char *path, int *state)
{
	uint64_t v;
	int err = bxs_read_uint(d->be->xs, XBT_NULL, path, XenbusStateReconfigured, &v);

	*state = err ? XenbusStateUnknown : (int)v;
	return err == -ENOENT || err == -EINVAL ? 0 : err;
}

/* Our backend state, as last read from or written to the state node; see read_state. */
int device_be_state(struct blk_dev *d, int *state)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/state", d->bepath);
	return read_state(d, path, state);
}

/*
 * Whether the toolstack's hotplug script has reported the add as failed: then libxl has
 * failed it (xl block-attach, xl create), and the device is not served.
 */
static bool gave_up(struct blk_dev *d)
{
	char *s = bxs_read(d->be->xs, XBT_NULL, "%s/hotplug-status", d->bepath);
	bool error = s && !strcmp(s, "error");

	free(s);
	return error;
}

/* A read of what failed with err (not absent: failed): update the device again later. */
static void device_retry(struct blk_dev *d, const char *what, int err)
{
	if (backend_retry_later(d->be, &d->xs_fails, d->name, what, err))
		d->retry = true;
}

/* Write our state node, logging the transition; nothing once the device is removed. */
void device_set_state(struct blk_dev *d, int old, int state)
{
	int err;

	if (old == state)
		return;
	err = bxs_set_state(d->be->xs, d->bepath, state);
	if (err == -ENOENT)
		return;
	if (err) {
		log_err("%s: cannot write backend state %s: %s", d->name,
			xenbus_state_name(state), strerror(-err));
		return;
	}
	log_info("%s: backend %s -> %s", d->name, xenbus_state_name(old), xenbus_state_name(state));
}

/* What device_refuse and device_report write in one transaction. */
struct refusal {
	const struct blk_dev *d;
	int state;			/* to write; -1: none */
	int old;			/* read */
	const char *msg;		/* the error node's; NULL: none */
	const char *status;		/* DEV_STATUS_NODE's; NULL: none */
	bool unless_failed;		/* nothing, -ECANCELED, if hotplug-status says error */
};

/* The error, status and state nodes, in transaction t; nothing if the device is gone. */
static int refuse_nodes(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	struct refusal *r = arg;
	char path[160];
	uint64_t v;
	int err;

	snprintf(path, sizeof(path), "%s/state", r->d->bepath);
	err = bxs_read_uint(xs, t, path, XenbusStateReconfigured, &v);
	if (err == -ENOENT)
		return err;	/* removed: writing would create it again */
	r->old = err ? XenbusStateUnknown : (int)v;
	if (r->unless_failed) {
		char *hs = bxs_read(xs, t, "%s/hotplug-status", r->d->bepath);
		bool failed = hs && !strcmp(hs, "error");

		err = !hs && errno != ENOENT ? (errno ? -errno : -EIO) : 0;
		free(hs);
		if (err || failed)
			return err ? err : -ECANCELED;
	}
	err = r->msg ? bxs_write_message(xs, t, r->d->bepath, "error", r->msg) : 0;
	err = err || !r->status ? err : bxs_printf(xs, t, r->d->bepath, DEV_STATUS_NODE, "%s",
						     r->status);
	return err || r->state < 0 ? err : bxs_printf(xs, t, r->d->bepath, "state", "%d",
						       r->state);
}

/* Write r's nodes in one transaction, logging the state's change; -errno if not done. */
static int write_refusal(struct blk_dev *d, struct refusal *r)
{
	int err = bxs_transact(d->be->xs, refuse_nodes, r);

	if (err == -ENOENT || err == -ECANCELED)
		return err;
	if (err)
		log_err("%s: cannot write its %s%s nodes: %s", d->name, r->msg ? "error, " : "",
			r->state < 0 ? "status" : "state", strerror(-err));
	else if (r->state >= 0 && r->old != r->state)
		log_info("%s: backend %s -> %s", d->name, xenbus_state_name(r->old),
			 xenbus_state_name(r->state));
	return err;
}

/*
 * Refuse to serve the device, or to connect it: log why, and write it in the error node
 * and our new state in one transaction, so that a toolstack never sees one without the
 * other. status, if not NULL, goes in DEV_STATUS_NODE in the same transaction.
 */
static void device_refuse(struct blk_dev *d, int state, const char *msg, const char *status)
{
	struct refusal r = { .d = d, .state = state, .msg = msg, .status = status };

	log_err("%s: %s", d->name, msg);
	write_refusal(d, &r);
}

/* Tell a toolstack's hotplug script what became of the storage (see DEV_STATUS_NODE). */
void device_report(struct blk_dev *d, const char *status)
{
	struct refusal r = { .d = d, .state = -1, .status = status };

	if (d->hotplug)
		write_refusal(d, &r);
}

/*
 * The device cannot be served: say why, go Closed, and close what was opened. Except
 * for a toolstack's new device: libxl runs its hotplug script only once the backend is
 * in InitWait, ignoring any other state for 10 s, and the script is what reports the
 * failure (xl prints its hotplug-error node). So that one goes to InitWait, or stays
 * there, saying why and "failed"; it closes once the script has reported it, or once
 * the toolstack removes it (device_failed_update, device-life.c).
 */
static void device_fail(struct blk_dev *d, const char *msg)
{
	int state = XenbusStateUnknown;

	d->phase = DEV_FAILED;
	if (d->hotplug && !device_be_state(d, &state) &&
	    (state == XenbusStateInitialising || state == XenbusStateInitWait) && !gave_up(d))
		device_refuse(d, XenbusStateInitWait, msg, "failed");
	else
		device_refuse(d, XenbusStateClosed, msg, d->hotplug ? "failed" : NULL);
	device_close_storage(d);	/* as a teardown does */
}

/* Read a node for config.c, outside any transaction; NULL if absent or the read failed. */
static char *read_node(void *arg, const char *path)
{
	struct blk_dev *d = arg;
	char *s = bxs_read(d->be->xs, XBT_NULL, "%s", path);

	if (!s && errno != ENOENT && !d->xs_err)
		d->xs_err = errno ? -errno : -EIO;	/* config.c takes it for absent */
	return s;
}

/*
 * Offer the ring features and watch the frontend's state, once. The features go before
 * InitWait, which is when a frontend reads them (Linux blkfront's talk_to_blkback reads
 * max-ring-page-order and multi-queue-max-queues); what the disk is (sectors, info,
 * sector-size, feature-flush-cache, feature-discard...) comes only with Connected.
 */
static int device_offer(struct blk_dev *d, char *msg, size_t len)
{
	struct xs_handle *xs = d->be->xs;
	int ret;

	if (d->watching)
		return 0;
	ret = bxs_printf(xs, XBT_NULL, d->bepath, "max-ring-page-order", "%u", BLK_RING_MAX_ORDER);
	ret = ret ? ret : bxs_printf(xs, XBT_NULL, d->bepath, "multi-queue-max-queues", "%u",
				     d->be->max_queues);
	if (ret) {
		snprintf(msg, len, "cannot write the ring features: %s", strerror(-ret));
		return ret;
	}
	if (!xs_watch(xs, d->fe_state, d->bepath)) {
		ret = -errno;
		snprintf(msg, len, "cannot watch %s: %s", d->fe_state, strerror(errno));
		return ret;
	}
	d->watching = true;
	return 0;
}

/*
 * A new device of a toolstack's (libxl): libxl waits at most 10 s for InitWait and only
 * then runs the hotplug script, which waits for the open's outcome (DEV_STATUS_NODE).
 * So InitWait comes now, while the storage opens; the frontend may set up its rings
 * meanwhile, but Connected waits for the open. True if the device failed instead.
 */
static bool early_initwait(struct blk_dev *d)
{
	char msg[256];
	int state;

	if (device_be_state(d, &state) || state != XenbusStateInitialising)
		return false;	/* a device an earlier daemon looked at: as any other */
	if (device_offer(d, msg, sizeof(msg))) {
		device_fail(d, msg);
		return true;
	}
	device_report(d, "opening");
	device_set_state(d, state, XenbusStateInitWait);
	return false;
}

/*
 * First look at a new device: check the toolstack's nodes, then open the storage, off
 * the main thread (device_opened goes on). Waits for the next change while the nodes
 * are incomplete, and tries again later when xenstore failed to answer.
 */
static void device_probe(struct blk_dev *d)
{
	struct cfg_nodes n = { .read = read_node, .arg = d, .bepath = d->bepath };
	char *fe = NULL, *params = NULL, err[STORAGE_ERR_LEN];
	struct storage_spec spec = { 0 };
	int ret, state;

	d->xs_err = 0;
	ret = cfg_frontend(&n, d->domid, &fe, err, sizeof(err));
	d->hotplug = cfg_hotplug(&n);
	ret = ret ? ret : cfg_disk(&n, &spec, &params, err, sizeof(err));
	/*
	 * config.c takes a failed read for an absent node, also when the rest reads well:
	 * an absent mode or script would make the disk writable, or not the toolstack's.
	 */
	if (d->xs_err) {
		device_retry(d, "its nodes", d->xs_err);
	} else if (ret && ret != -EAGAIN) {	/* -EAGAIN: the toolstack is still writing */
		device_fail(d, err);
	} else if (!ret) {
		/* A toolstack's mem disk belongs to its VM's disk, not to this domid. */
		if (d->hotplug && spec.engine == &storage_mem_ops && !spec.name)
			memkeep_key(d, &spec);
		/*
		 * A ramdisk an earlier daemon had connected died with it, and the take-over
		 * will close the device: opening it by name here would make an empty one
		 * that keeps the name (and its size) after the detach. Open it unnamed.
		 */
		if (spec.engine == &storage_mem_ops && spec.name && spec.size &&
		    !device_be_state(d, &state) && state == XenbusStateConnected &&
		    !storage_mem_named_exists(spec.name)) {
			free(spec.name);
			spec.name = NULL;
			spec.keyed = false;
		}
		if (spec.keyed)
			snprintf(d->mem_key, sizeof(d->mem_key), "%s", spec.name);
		snprintf(d->fe_state, sizeof(d->fe_state), "%s/state", fe);
		d->fepath = fe;
		fe = NULL;
		if (d->hotplug && (device_removal_begun(d) || early_initwait(d)))
			goto out;
		ret = device_job_open(d, &spec, params);	/* takes spec and params */
		params = NULL;
		if (ret) {
			snprintf(err, sizeof(err), "cannot start opening the disk: %s",
				 strerror(-ret));
			device_fail(d, err);
		}
	}
out:
	storage_spec_free(&spec);
	free(fe);
	free(params);
}

/*
 * A device an earlier daemon had Connected whose image another open file holds locked:
 * that daemon's I/O may still be in the kernel, even once it has exited (docs/restart.md),
 * so the device is not taken over, and its journals go.
 */
static void take_over_locked(struct blk_dev *d)
{
	int state;

	if (device_be_state(d, &state) || state != XenbusStateConnected)
		return;
	log_warn("%s: was connected by an earlier blkbackd, which may still have I/O in flight "
		 "on its file (the file is locked); not serving it: closing the device", d->name);
	device_forget_journals(d);
}

/*
 * The storage open that device_probe started has ended: offer the ring features and
 * watch the frontend, and device_update decides our first state; or refuse the device.
 */
void device_opened(struct blk_dev *d, struct dev_job *j)
{
	char msg[256];

	if (j->ret) {
		d->mem_key[0] = '\0';	/* not ours: a kept one stays as it is */
		if (!d->freeing && j->ret == -EBUSY)
			take_over_locked(d);
		if (!d->freeing)
			device_fail(d, j->err);
		return;
	}
	d->disk = j->disk;
	j->disk = NULL;
	d->size = d->disk->size;
	d->readonly = j->spec.readonly;
	d->in_memory = j->spec.engine == &storage_mem_ops;
	iolimit_set(&d->limit, &j->spec.limits, now_ns());
	if (d->freeing || d->leaving)
		return;		/* device_free closes it; a successor opens it again, and says */
	if (device_offer(d, msg, sizeof(msg))) {
		device_fail(d, msg);
		return;
	}
	d->phase = DEV_OPENED;	/* a toolstack's: open_verdict next */
	log_info("%s: %s, %" PRIu64 " MiB%s, frontend %s", d->name, j->params,
		 d->disk->size >> 20, d->readonly ? ", read-only" : "", d->fepath);
}

/*
 * A toolstack's device whose storage has opened: tell its hotplug script "open", unless
 * the script has given up meanwhile (hotplug-status error: libxl failed the disk, which
 * is then not served); in one transaction, so that the two never cross. True if the
 * state machine stops here: failed, or to be tried again (a read that failed).
 */
static bool open_verdict(struct blk_dev *d)
{
	struct refusal r = { .d = d, .state = -1, .status = "open", .unless_failed = true };
	int err = bxs_transact(d->be->xs, refuse_nodes, &r);

	if (err == -ECANCELED) {	/* the open outlasted the script's wait */
		device_fail(d, "its storage opened only after the hotplug script had given up "
			    "waiting for it, and the toolstack failed the disk: not serving it");
		return true;
	}
	if (err == -ENOENT)	/* removed meanwhile: its watch event frees it */
		return true;
	if (err) {
		device_retry(d, "its hotplug-status node", err);
		return true;
	}
	return false;
}

/* The nodes the frontend reads on connect, and state Connected, in transaction t. */
static int connect_nodes(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	const struct blk_dev *d = arg;
	const struct storage *disk = d->disk;
	/* A read-only disk refuses flushes and discards: offering them invites errors. */
	bool flush = disk->caps.flush && !d->readonly;
	bool discard = disk->caps.discard && !d->readonly;
	char error[192];
	int err;

	/* A refusal of an earlier attempt to connect no longer holds. */
	snprintf(error, sizeof(error), "%s/error", d->bepath);
	if (!xs_rm(xs, t, error) && errno != ENOENT)
		return -errno;
	/* Linux blkfront reads sectors in 512-byte units whatever sector-size says. */
	err = bxs_printf(xs, t, d->bepath, "sectors", "%" PRIu64, disk->size >> SECTOR_SHIFT);
	err = err ? err : bxs_printf(xs, t, d->bepath, "info", "%u",
				     d->readonly ? VDISK_READONLY : 0);
	err = err ? err : bxs_printf(xs, t, d->bepath, "sector-size", "%u", disk->caps.sector_size);
	err = err ? err : bxs_printf(xs, t, d->bepath, "physical-sector-size", "%u",
				     disk->caps.physical_sector_size);
	err = err ? err : bxs_printf(xs, t, d->bepath, "feature-flush-cache", "%d", flush);
	err = err ? err : bxs_printf(xs, t, d->bepath, "feature-barrier", "%d", flush);
	err = err ? err : bxs_printf(xs, t, d->bepath, "feature-discard", "%d", discard);
	/* Offered only in persistent mode, so that the mode in use is the one asked for. */
	err = err ? err : bxs_printf(xs, t, d->bepath, "feature-persistent", "%d",
				     d->be->grant_mode == GRANT_MODE_PERSISTENT);
	err = err ? err : bxs_printf(xs, t, d->bepath, "feature-max-indirect-segments", "%u",
				     BLK_MAX_SEGS);
	if (discard) {
		err = err ? err : bxs_printf(xs, t, d->bepath, "discard-granularity", "%u",
					     disk->caps.discard_granularity ?
					     disk->caps.discard_granularity : disk->caps.sector_size);
		err = err ? err : bxs_printf(xs, t, d->bepath, "discard-alignment", "%u",
					     disk->caps.discard_alignment);
		err = err ? err : bxs_printf(xs, t, d->bepath, "discard-secure", "%d",
					     disk->caps.secure_discard);
	}
	return err ? err : bxs_printf(xs, t, d->bepath, "state", "%d", XenbusStateConnected);
}

/*
 * Stop serving the rings; their counters go to d->past. Each answers what is in flight
 * first, and storage may be slow or stalled: so the main thread only asks, and frees
 * the rings whose threads have ended. True once none is left; the backend runs
 * device_update again whenever a ring's thread ends (see backend_ring_stopped). While
 * a storage call runs (a resize holds the rings still) nothing is asked yet: the
 * backend runs device_update again when it ends (backend_reap_jobs).
 */
bool device_disconnect(struct blk_dev *d)
{
	unsigned int left = 0;

	if (d->job)
		return false;

	for (unsigned int q = 0; q < d->nr_rings; q++) {
		struct blk_ring *r = d->rings[q];

		blk_ring_stop_begin(r);
		if (blk_ring_stopped(r))
			blk_ring_stop(r, &d->past);
		else
			d->rings[left++] = r;
	}
	for (unsigned int q = left; q < d->nr_rings; q++)
		d->rings[q] = NULL;
	d->nr_rings = left;
	d->stopping = left > 0;
	return !left;
}

/*
 * What every queue shares: the ABI and the grant mode (config.c), the domain and the
 * disk's limits. Says in why what is wrong if anything.
 */
static int read_common(struct blk_dev *d, const struct cfg_nodes *n, struct blk_ring_config *cfg,
		       char *why, size_t len)
{
	int err = cfg_common(n, d->be->grant_mode, cfg, why, len);

	cfg->domid = d->domid;
	cfg->poll_us = d->be->poll_us;
	cfg->disk = d->disk;
	cfg->limit = &d->limit;
	cfg->lim.nr_sectors = d->disk->size >> SECTOR_SHIFT;
	cfg->lim.sector_size = d->disk->caps.sector_size;
	cfg->lim.readonly = d->readonly;
	cfg->lim.discard = d->disk->caps.discard && !d->readonly;
	cfg->lim.secure_discard = cfg->lim.discard && d->disk->caps.secure_discard;
	cfg->lim.max_indirect = BLK_MAX_SEGS;
	return err;
}

/* The ring journal of queue q in buf (docs/restart.md); NULL without a state directory. */
static const char *journal_path(const struct blk_dev *d, unsigned int q, char *buf, size_t len)
{
	if (!d->be->state_dir[0])
		return NULL;
	snprintf(buf, len, "%s/d%u-%u-q%u", d->be->state_dir, d->domid, d->devid, q);
	return buf;
}

/*
 * Start a ring for each of the frontend's queues; with take_over, from the journals an
 * earlier daemon left (see docs/restart.md). Says in why what is wrong if anything;
 * d->xs_err says if a read of xenstore failed on the way.
 */
static int start_rings(struct blk_dev *d, bool take_over, struct blk_ring_config *cfgp,
		       char *why, size_t whylen)
{
	struct blk_ring_config cfg = { .take_over = take_over };
	struct cfg_nodes n = { .read = read_node, .arg = d, .bepath = d->bepath,
			       .fepath = d->fepath };
	/* Taking over, what an earlier daemon (maybe with another --max-queues) accepted. */
	unsigned int nr, max = take_over ? BLK_MAX_QUEUES : d->be->max_queues;
	char journal[192];
	int err;

	d->xs_err = 0;
	err = cfg_nr_queues(&n, max, &nr, why, whylen);
	err = err ? err : read_common(d, &n, &cfg, why, whylen);
	for (unsigned int q = 0; !err && q < nr; q++) {
		err = cfg_queue(&n, nr, q, &cfg, why, whylen);
		if (err)
			break;
		if (nr == 1)
			snprintf(cfg.name, sizeof(cfg.name), "%s", d->name);
		else
			snprintf(cfg.name, sizeof(cfg.name), "%s q%u", d->name, q);
		cfg.journal = journal_path(d, q, journal, sizeof(journal));
		cfg.devid = d->devid;
		cfg.queue = q;
		cfg.stopped = backend_ring_stopped;
		cfg.stopped_arg = d->be;
		err = blk_ring_start(&cfg, &d->rings[q]);
		if (err)
			snprintf(why, whylen, "cannot attach to the frontend's ring %u: %s", q,
				 strerror(-err));
		if (!err)
			d->nr_rings = q + 1;
	}
	d->mode = cfg.grant_mode;
	*cfgp = cfg;
	if (err)
		device_disconnect(d);
	return err;
}


/* Read what the frontend published, start a ring per queue and announce the disk. */
static void device_connect(struct blk_dev *d, int old)
{
	struct blk_ring_config cfg;
	char why[512];
	int err;

	if (!device_disconnect(d))	/* a frontend that reconnects without closing */
		return;			/* again once the old rings have stopped */
	if (start_rings(d, false, &cfg, why, sizeof(why))) {
		if (d->xs_err) {	/* not the frontend's fault: try again */
			device_disconnect(d);
			device_retry(d, "the frontend's nodes", d->xs_err);
			return;
		}
		goto fail;
	}
	err = bxs_transact(d->be->xs, connect_nodes, d);
	if (err) {
		snprintf(why, sizeof(why), "cannot write the connect nodes: %s", strerror(-err));
		goto fail;
	}
	log_info("%s: backend %s -> %s (%u queue%s, %u-page ring%s, %s, %s grants)", d->name,
		 xenbus_state_name(old), xenbus_state_name(XenbusStateConnected), d->nr_rings,
		 d->nr_rings == 1 ? "" : "s", 1u << cfg.ring_order, d->nr_rings == 1 ? "" : "s",
		 blkif_abi_name(cfg.abi), grant_mode_name(cfg.grant_mode));
	return;
fail:
	device_disconnect(d);
	device_refuse(d, XenbusStateClosing, why, NULL);
}

/* Delete the ring journals an earlier daemon left for this device. */
void device_forget_journals(struct blk_dev *d)
{
	char path[192];

	for (unsigned int q = 0; journal_path(d, q, path, sizeof(path)) && q < BLK_MAX_QUEUES; q++)
		unlink(path);
}

/*
 * Serve a device an earlier daemon had connected and was killed (or left) while the
 * guest kept it (fe: the frontend's state): take over its rings from their journals.
 * -errno, logged, when that cannot be done safely: then the caller closes the device and
 * the guest reconnects.
 */
static int device_take_over(struct blk_dev *d, int fe)
{
	struct blk_ring_config cfg;
	char why[512];
	int err = -ENOENT;

	if (d->in_memory)
		log_warn("%s: was connected by an earlier blkbackd, but its mem disk died with "
			 "it; closing the device", d->name);
	else if (fe != XenbusStateConnected)
		log_warn("%s: was connected by an earlier blkbackd, and the frontend is not "
			 "Connected; closing the device", d->name);
	else if (!d->be->state_dir[0])
		log_warn("%s: was connected by an earlier blkbackd; without a state directory "
			 "its rings cannot be taken over; closing the device", d->name);
	else if ((err = start_rings(d, true, &cfg, why, sizeof(why))))
		log_warn("%s: was connected by an earlier blkbackd, whose ring journal cannot "
			 "be used (%s); closing the device", d->name, why);
	else
		log_info("%s: took over from an earlier blkbackd (%u queue%s, %u-page ring%s, %s, "
			 "%s grants)", d->name, d->nr_rings, d->nr_rings == 1 ? "" : "s",
			 1u << cfg.ring_order, d->nr_rings == 1 ? "" : "s",
			 blkif_abi_name(cfg.abi), grant_mode_name(cfg.grant_mode));
	if (err)
		device_forget_journals(d);
	return err;
}

/*
 * Only a toolstack writes Initialising: once we have looked at a device, we never do. A
 * device we probed (or refused) that reads it again was removed and created anew at its
 * path before we saw the removal, as a detach and a quick re-attach of the same disk name
 * do: let the old one go, with its storage, and serve the new one.
 */
static void device_renew(struct blk_dev *d)
{
	struct blk_backend *be = d->be;
	uint32_t domid = d->domid, devid = d->devid;

	log_info("%s: removed and created again", d->name);
	device_free(d, false);
	if (device_find(be, domid, devid))
		return;	/* it still waits for storage: the backend probes the new one later */
	d = device_get(be, domid, devid);
	if (d)
		device_update(d);
}

/*
 * A device whose storage has just opened: InitWait, which makes the frontend start; or
 * the take-over of a device an earlier daemon had Connected, else Closing. False when
 * the state machine goes on from *state.
 */
static bool device_start(struct blk_dev *d, int *state)
{
	int fe, err;

	if (*state == XenbusStateConnected) {
		err = read_state(d, d->fe_state, &fe);
		if (err) {
			device_retry(d, "the frontend's state", err);
			return true;
		}
		d->phase = DEV_SERVING;
		if (!device_take_over(d, fe))
			return true;
		device_set_state(d, *state, XenbusStateClosing);
		*state = XenbusStateClosing;
	} else if (*state != XenbusStateClosing) {
		device_set_state(d, *state, XenbusStateInitWait);
		*state = XenbusStateInitWait;
	}
	d->phase = DEV_SERVING;
	return false;
}

/* Whether a ring's thread ended without being asked to (its poll failed: ring.c said why). */
static bool ring_died(const struct blk_dev *d)
{
	for (unsigned int q = 0; !d->stopping && q < d->nr_rings; q++)
		if (blk_ring_stopped(d->rings[q]))
			return true;
	return false;
}

/*
 * The xenbus state machine: everything that happens to a device comes here,
 * and the frontend's state decides what we do, as in blkif.h and Linux. A node
 * that is absent says something; a read that fails says nothing, and is tried
 * again later.
 */
void device_update(struct blk_dev *d)
{
	int state, fe, err;
	bool online;
	uint64_t v;
	char path[160];

	device_job_reap(d);
	err = device_be_state(d, &state);
	if (d->freeing || (!err && state == XenbusStateUnknown)) {	/* removed */
		device_free(d, d->remove);
		return;
	}
	if (err) {
		device_retry(d, "the backend's state", err);
		return;
	}
	if (d->job)	/* a storage call runs: the rest once it ends, from what xenstore says */
		return;
	if ((d->phase == DEV_SERVING || d->phase == DEV_FAILED || d->phase == DEV_RELEASED) &&
	    state == XenbusStateInitialising) {
		device_renew(d);
		return;
	}
	if (d->phase == DEV_NEW) {
		device_probe(d);	/* the open may run inline (mem), and InitWait come */
		if (d->phase == DEV_OPENED && (err = device_be_state(d, &state))) {
			device_retry(d, "the backend's state", err);
			return;
		}
	}
	if (d->phase == DEV_OPENED && d->hotplug && open_verdict(d))
		return;
	if (d->phase == DEV_FAILED)
		device_failed_update(d);
	if (d->phase != DEV_OPENED && d->phase != DEV_SERVING)
		return;		/* NEW: opens; FAILED, RELEASED: wait for the toolstack's removal */
	if (d->job)
		return;
	if (d->phase == DEV_OPENED && device_start(d, &state))
		return;
	if (d->stopping)	/* free the rings that have stopped since */
		device_disconnect(d);
	if (ring_died(d)) {	/* the guest's requests on it would wait for ever */
		log_err("%s: a queue stopped serving; closing the disk so that the guest "
			"connects it again", d->name);
		device_disconnect(d);
		device_set_state(d, state, XenbusStateClosing);
		state = XenbusStateClosing;
	}
	snprintf(path, sizeof(path), "%s/online", d->bepath);
	err = bxs_read_uint(d->be->xs, XBT_NULL, path, 1, &v);
	online = !err && v == 1;	/* absent or not 1: offline */
	if (err && err != -ENOENT && err != -EINVAL) {
		device_retry(d, "the backend's online node", err);
		return;
	}
	err = read_state(d, d->fe_state, &fe);
	if (err) {
		device_retry(d, "the frontend's state", err);
		return;
	}
	d->xs_fails = 0;
	log_debug(LOG_XS, "%s: backend %s, frontend %s%s", d->name, xenbus_state_name(state),
		  xenbus_state_name(fe), online ? "" : ", going offline");

	switch (fe) {
	case XenbusStateInitialising:
		/*
		 * A guest reboot or blkfront reload, from Closed; or a reset that did not wait
		 * for us to close (Linux gives up after 5 s, and a write burst comes as one
		 * event): let the old rings go first.
		 */
		if (!online)
			device_set_state(d, state, XenbusStateClosed);
		else if (state != XenbusStateInitWait && device_disconnect(d))
			device_set_state(d, state, XenbusStateInitWait);
		break;
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (!online)	/* detach: ask the frontend to let go */
			device_set_state(d, state, d->nr_rings ? XenbusStateClosing :
					 XenbusStateClosed);
		else if (state == XenbusStateInitWait || state == XenbusStateInitialised)
			device_connect(d, state);
		break;
	case XenbusStateClosing:
		if (device_disconnect(d))
			device_set_state(d, state, XenbusStateClosing);
		break;
	case XenbusStateClosed:
	case XenbusStateUnknown:	/* the frontend's nodes are gone: the domain died */
		if (device_disconnect(d))
			device_set_state(d, state, XenbusStateClosed);
		break;
	default:	/* InitWait, Reconfiguring: nothing a block frontend uses */
		break;
	}
	if (d->hotplug && !online) {
		memkeep_decide(d);
		device_release_when_closed(d);
	}
}
