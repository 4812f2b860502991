/* One virtual disk: probe, the xenbus state machine, connect and teardown. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "device.h"
#include "log.h"
#include "ring.h"
#include "vdev.h"
#include "xs.h"

/* How long a resize waits for the disk's I/O in flight to finish (the main thread waits). */
#define RESIZE_WAIT_S 5

/* Our backend state, as last read from or written to the state node. */
static int be_state(struct blk_dev *d)
{
	char path[160];
	uint64_t v;

	snprintf(path, sizeof(path), "%s/state", d->bepath);
	return bxs_read_uint(d->be->xs, XBT_NULL, path, XenbusStateReconfigured, &v) ?
	       XenbusStateUnknown : (int)v;
}

/* Write our state node, logging the transition. */
static void set_state(struct blk_dev *d, int old, int state)
{
	int err;

	if (old == state)
		return;
	err = bxs_printf(d->be->xs, XBT_NULL, d->bepath, "state", "%d", state);
	if (err) {
		log_err("%s: cannot write backend state %s: %s", d->name,
			xenbus_state_name(state), strerror(-err));
		return;
	}
	log_info("%s: backend %s -> %s", d->name, xenbus_state_name(old), xenbus_state_name(state));
}

/* Report an error on the device: log it and leave it in the backend's error node. */
static void device_error(struct blk_dev *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void device_error(struct blk_dev *d, const char *fmt, ...)
{
	char msg[STORAGE_ERR_LEN];	/* room for any storage message, whatever its path */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("%s: %s", d->name, msg);
	bxs_write_message(d->be->xs, XBT_NULL, d->bepath, "error", msg);
}

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
	char vdev[16], *dir;

	if (d)
		return d;
	dir = bxs_read(be->xs, XBT_NULL, "%s/%u/%u", be->root, domid, devid);
	if (!dir)
		return NULL;
	free(dir);
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->be = be;
	d->mode = be->grant_mode;	/* until a frontend connects */
	d->domid = domid;
	d->devid = devid;
	vdev_name(devid, vdev, sizeof(vdev));
	snprintf(d->name, sizeof(d->name), "d%u %s", domid, vdev);
	snprintf(d->bepath, sizeof(d->bepath), "%s/%u/%u", be->root, domid, devid);
	d->next = be->devs;
	be->devs = d;
	return d;
}

/* Read a node for config.c, outside any transaction; NULL if absent. */
static char *read_node(void *arg, const char *path)
{
	const struct blk_dev *d = arg;

	return bxs_read(d->be->xs, XBT_NULL, "%s", path);
}

/*
 * First look at a new device: check the toolstack's nodes, open the storage
 * and start watching the frontend. Returns -EAGAIN while the nodes are
 * incomplete, another -errno when the device cannot be served.
 */
static int device_probe(struct blk_dev *d)
{
	struct cfg_nodes n = { .read = read_node, .arg = d, .bepath = d->bepath };
	struct xs_handle *xs = d->be->xs;
	char *fe = NULL, *params = NULL, err[STORAGE_ERR_LEN];
	struct storage_spec spec = { 0 };
	int ret;

	ret = cfg_frontend(&n, d->domid, &fe, err, sizeof(err));
	if (ret) {
		if (ret != -EAGAIN)
			device_error(d, "%s", err);
		goto out;
	}
	ret = cfg_disk(&n, &spec, &params, err, sizeof(err));
	if (ret) {
		device_error(d, "%s", err);
		goto out;
	}
	ret = storage_open(&spec, &d->disk, err, sizeof(err));
	if (ret) {
		device_error(d, "%s", err);
		goto out;
	}
	d->readonly = spec.readonly;
	d->in_memory = spec.engine == &storage_mem_ops;
	/* Offered before InitWait, which is when a frontend looks (as in Linux blkback). */
	ret = bxs_printf(xs, XBT_NULL, d->bepath, "max-ring-page-order", "%u", BLK_RING_MAX_ORDER);
	ret = ret ? ret : bxs_printf(xs, XBT_NULL, d->bepath, "multi-queue-max-queues", "%u",
				     d->be->max_queues);
	if (ret) {
		device_error(d, "cannot write the ring features: %s", strerror(-ret));
		goto out;
	}
	snprintf(d->fe_state, sizeof(d->fe_state), "%s/state", fe);
	d->fepath = fe;
	fe = NULL;
	if (!xs_watch(xs, d->fe_state, d->bepath)) {
		ret = -errno;
		device_error(d, "cannot watch %s: %s", d->fe_state, strerror(errno));
		goto out;
	}
	d->watching = true;
	log_info("%s: %s, %" PRIu64 " MiB%s, frontend %s", d->name, params,
		 d->disk->size >> 20, d->readonly ? ", read-only" : "", d->fepath);
	ret = 0;
out:
	storage_spec_free(&spec);
	free(fe);
	free(params);
	return ret;
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
 * device_update again whenever a ring's thread ends (see backend_ring_stopped).
 */
static bool device_disconnect(struct blk_dev *d)
{
	unsigned int left = 0;

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
	cfg->disk = d->disk;
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
 * earlier daemon left (see docs/restart.md). Says what is wrong if anything.
 */
static int start_rings(struct blk_dev *d, bool take_over, struct blk_ring_config *cfgp)
{
	struct blk_ring_config cfg = { .take_over = take_over };
	struct cfg_nodes n = { .read = read_node, .arg = d, .bepath = d->bepath,
			       .fepath = d->fepath };
	/* Taking over, what an earlier daemon (maybe with another --max-queues) accepted. */
	unsigned int nr, max = take_over ? BLK_MAX_QUEUES : d->be->max_queues;
	char why[512], journal[192];
	int err;

	err = cfg_nr_queues(&n, max, &nr, why, sizeof(why));
	err = err ? err : read_common(d, &n, &cfg, why, sizeof(why));
	if (err)
		device_error(d, "%s", why);
	for (unsigned int q = 0; !err && q < nr; q++) {
		err = cfg_queue(&n, nr, q, &cfg, why, sizeof(why));
		if (err) {
			device_error(d, "%s", why);
			break;
		}
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
		if (err && !take_over)
			device_error(d, "cannot attach to the frontend's ring %u: %s", q,
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
	int err;

	if (!device_disconnect(d))	/* a frontend that reconnects without closing */
		return;			/* again once the old rings have stopped */
	if (start_rings(d, false, &cfg))
		goto fail;
	err = bxs_transact(d->be->xs, connect_nodes, d);
	if (err) {
		device_error(d, "cannot write the connect nodes: %s", strerror(-err));
		goto fail;
	}
	log_info("%s: backend %s -> %s (%u queue%s, %u-page ring%s, %s, %s grants)", d->name,
		 xenbus_state_name(old), xenbus_state_name(XenbusStateConnected), d->nr_rings,
		 d->nr_rings == 1 ? "" : "s", 1u << cfg.ring_order, d->nr_rings == 1 ? "" : "s",
		 blkif_abi_name(cfg.abi), grant_mode_name(cfg.grant_mode));
	return;
fail:
	device_disconnect(d);
	set_state(d, old, XenbusStateClosing);
}

/* Delete the ring journals an earlier daemon left for this device. */
static void forget_journals(struct blk_dev *d)
{
	char path[192];

	for (unsigned int q = 0; journal_path(d, q, path, sizeof(path)) && q < BLK_MAX_QUEUES; q++)
		unlink(path);
}

/*
 * Serve a device an earlier daemon had connected and was killed (or left) while the
 * guest kept it: take over its rings from their journals. -errno, logged, when that
 * cannot be done safely: then the caller closes the device and the guest reconnects.
 * probe_err is device_probe's: -EBUSY says another open file holds the image's lock,
 * which an earlier daemon's I/O still in the kernel does, even once it has exited.
 */
static int device_take_over(struct blk_dev *d, int probe_err)
{
	struct blk_ring_config cfg;
	uint64_t fe;
	int err = probe_err ? probe_err : -ENOENT;

	if (probe_err == -EBUSY)
		log_warn("%s: was connected by an earlier blkbackd, which may still have I/O in "
			 "flight on its file (the file is locked); not serving it: closing the "
			 "device", d->name);
	else if (probe_err)
		;	/* device_probe said why */
	else if (d->in_memory)
		log_warn("%s: was connected by an earlier blkbackd, but its mem disk died with "
			 "it; closing the device", d->name);
	else if (bxs_read_uint(d->be->xs, XBT_NULL, d->fe_state, XenbusStateReconfigured, &fe) ||
		 fe != XenbusStateConnected)
		log_warn("%s: was connected by an earlier blkbackd, and the frontend is not "
			 "Connected; closing the device", d->name);
	else if (!d->be->state_dir[0])
		log_warn("%s: was connected by an earlier blkbackd; without a state directory "
			 "its rings cannot be taken over; closing the device", d->name);
	else if ((err = start_rings(d, true, &cfg)))
		log_warn("%s: was connected by an earlier blkbackd, whose ring journal cannot "
			 "be used (%s); closing the device", d->name, strerror(-err));
	else
		log_info("%s: took over from an earlier blkbackd (%u queue%s, %u-page ring%s, %s, "
			 "%s grants)", d->name, d->nr_rings, d->nr_rings == 1 ? "" : "s",
			 1u << cfg.ring_order, d->nr_rings == 1 ? "" : "s",
			 blkif_abi_name(cfg.abi), grant_mode_name(cfg.grant_mode));
	if (err)
		forget_journals(d);
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
		return;	/* its rings still wait for storage: backend_reap_rings probes it later */
	d = device_get(be, domid, devid);
	if (d)
		device_update(d);
}

/*
 * The xenbus state machine: everything that happens to a device comes here,
 * and the frontend's state decides what we do, as in blkif.h and Linux.
 */
void device_update(struct blk_dev *d)
{
	struct xs_handle *xs = d->be->xs;
	int state = be_state(d), fe = XenbusStateUnknown;
	bool first = !d->fepath, online;
	uint64_t v;
	char path[160];

	if (state == XenbusStateUnknown || d->freeing) {	/* the toolstack removed the device */
		device_free(d, d->remove);
		return;
	}
	if ((!first || d->failed) && state == XenbusStateInitialising) {
		device_renew(d);
		return;
	}
	if (d->failed)		/* wait for the toolstack to remove it */
		return;
	if (d->stopping)	/* free the rings that have stopped since */
		device_disconnect(d);
	if (first) {
		int err = device_probe(d);

		if (err == -EAGAIN)
			return;
		/* A device some earlier daemon had connected: take it over, or close it. */
		if (state == XenbusStateConnected && !device_take_over(d, err))
			return;
		if (err) {
			storage_close(d->disk);
			d->disk = NULL;
			d->failed = true;
			set_state(d, state, XenbusStateClosed);
			return;
		}
		if (state == XenbusStateConnected) {
			set_state(d, state, XenbusStateClosing);
			state = XenbusStateClosing;
		} else if (state != XenbusStateClosing) {
			set_state(d, state, XenbusStateInitWait);
			state = XenbusStateInitWait;
		}
	}
	snprintf(path, sizeof(path), "%s/online", d->bepath);
	online = !bxs_read_uint(xs, XBT_NULL, path, 1, &v) && v == 1;
	if (!bxs_read_uint(xs, XBT_NULL, d->fe_state, XenbusStateReconfigured, &v))
		fe = (int)v;
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
			set_state(d, state, XenbusStateClosed);
		else if (state != XenbusStateInitWait && device_disconnect(d))
			set_state(d, state, XenbusStateInitWait);
		break;
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (!online)	/* detach: ask the frontend to let go */
			set_state(d, state, d->nr_rings ? XenbusStateClosing : XenbusStateClosed);
		else if (state == XenbusStateInitWait || state == XenbusStateInitialised)
			device_connect(d, state);
		break;
	case XenbusStateClosing:
		if (device_disconnect(d))
			set_state(d, state, XenbusStateClosing);
		break;
	case XenbusStateClosed:
	case XenbusStateUnknown:	/* the frontend's nodes are gone: the domain died */
		if (device_disconnect(d))
			set_state(d, state, XenbusStateClosed);
		break;
	default:	/* InitWait, Reconfiguring: nothing a block frontend uses */
		break;
	}
}

/* Rewrite sectors, then state, in transaction t: the state write is what tells blkfront to look. */
static int resize_nodes(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	const struct blk_dev *d = arg;
	int err = bxs_printf(xs, t, d->bepath, "sectors", "%" PRIu64, d->disk->size >> SECTOR_SHIFT);

	return err ? err : bxs_printf(xs, t, d->bepath, "state", "%d", XenbusStateConnected);
}

/* Change the disk's size under a running guest; Linux blkfront re-reads sectors on a state write. */
int device_resize(struct blk_dev *d, uint64_t bytes, char *err, size_t errlen)
{
	int ret = 0, state = be_state(d);
	struct timespec until;

	if (!d->disk) {
		snprintf(err, errlen, "%s has no open disk to resize", d->name);
		return -ENODEV;
	}
	if (d->stopping) {
		snprintf(err, errlen, "%s is disconnecting, waiting for its storage; try again "
			 "once it has", d->name);
		return -EBUSY;
	}
	if (!d->disk->ops->resize) {
		snprintf(err, errlen, "%s: the %s engine cannot resize", d->name, d->disk->ops->name);
		return -EOPNOTSUPP;
	}
	if (!bytes || bytes % d->disk->caps.sector_size) {
		snprintf(err, errlen, "%s: size %" PRIu64 " is not a non-zero multiple of the "
			 "%u-byte sector size", d->name, bytes, d->disk->caps.sector_size);
		return -EINVAL;
	}
	/* Nothing in flight while the disk changes; but the main thread waits only so long. */
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += RESIZE_WAIT_S;
	for (unsigned int q = 0; !ret && q < d->nr_rings; q++)
		ret = blk_ring_pause(d->rings[q], &until);
	if (ret)
		snprintf(err, errlen, "%s: its storage has not finished the I/O in flight in %d s, "
			 "so it was not resized; try again once it answers", d->name, RESIZE_WAIT_S);
	else
		ret = d->disk->ops->resize(d->disk, bytes, err, errlen);
	for (unsigned int q = 0; q < d->nr_rings; q++)
		blk_ring_resume(d->rings[q], d->disk->size >> SECTOR_SHIFT);
	if (ret)
		return ret;
	log_info("%s: resized to %" PRIu64 " bytes", d->name, d->disk->size);
	if (state != XenbusStateConnected)
		return 0;	/* the frontend reads sectors when it connects */
	ret = bxs_transact(d->be->xs, resize_nodes, d);
	if (ret)
		snprintf(err, errlen, "%s: resized, but cannot tell the guest through xenstore: %s",
			 d->name, strerror(-ret));
	return ret;
}

/* One line of statistics: key=value pairs, for blkbackctl stats. */
void device_stats(const struct blk_dev *d, FILE *out)
{
	struct blk_ring_stats st = { 0 }, q;
	bool halted = false;

	for (unsigned int i = 0; i < d->nr_rings; i++) {
		blk_ring_get_stats(d->rings[i], &q);
		blk_ring_stats_add(&st, &q);
	}
	blk_ring_stats_add(&st, &d->past);	/* the guest's earlier connections */
	fprintf(out, "disk domid=%u devid=%u engine=%s size=%" PRIu64 " connected=%d queues=%u"
		" grant_mode=%s rd_req=%" PRIu64 " wr_req=%" PRIu64 " f_req=%" PRIu64
		" ds_req=%" PRIu64 " oo_req=%" PRIu64 " err_req=%" PRIu64 " ind_req=%" PRIu64
		" rd_sect=%" PRIu64 " wr_sect=%" PRIu64 " ds_sect=%" PRIu64 " inflight=%" PRIu64
		" notifies=%" PRIu64 " grant_maps=%" PRIu64 " grant_map_calls=%" PRIu64
		" grant_unmaps=%" PRIu64 " persistent_grants=%" PRIu64 " grant_copies=%" PRIu64
		" grant_copy_calls=%" PRIu64,
		d->domid, d->devid, d->disk ? d->disk->ops->name : "-",
		d->disk ? d->disk->size : 0, d->nr_rings > 0, d->nr_rings,
		grant_mode_name(d->mode), st.rd_req, st.wr_req, st.f_req, st.ds_req, st.oo_req,
		st.err_req, st.ind_req, st.rd_sect, st.wr_sect, st.ds_sect, st.inflight,
		st.notifies, st.grants.maps, st.grants.map_calls, st.grants.unmaps,
		st.grants.persistent, st.grants.copies, st.grants.copy_calls);
	fputs(" segs=", out);
	for (unsigned int b = 0; b < SEG_BUCKETS; b++)
		fprintf(out, "%s%" PRIu64, b ? "," : "", st.segs[b]);
	fputs(" lat_us=", out);
	for (unsigned int b = 0; b < LAT_BUCKETS; b++)
		fprintf(out, "%s%" PRIu64, b ? "," : "", st.lat[b]);
	for (unsigned int i = 0; i < d->nr_rings; i++)	/* a ring stopped on a bad frontend */
		halted |= blk_ring_halted(d->rings[i]);
	/* What blkbackctl list and stats show beside xenstore's nodes. */
	fprintf(out, " ro=%d abi=%s halted=%d\n", d->readonly,
		d->nr_rings ? blkif_abi_name(blk_ring_abi(d->rings[0])) : "-", halted);
}

/*
 * Close the device for a daemon shutdown: the guest sees Closing. True once its rings
 * have stopped; until then the caller waits on stopped_fd and asks again.
 */
bool device_shutdown(struct blk_dev *d)
{
	if (d->nr_rings && !d->stopping)
		set_state(d, XenbusStateConnected, XenbusStateClosing);
	return device_disconnect(d);
}

/*
 * Let go of the device for a successor daemon: its rings stop, keeping their journals,
 * with the guest left Connected; backend_close waits for them. A disk in our memory
 * cannot be handed over: backend_close closes it.
 */
void device_leave(struct blk_dev *d)
{
	if (d->in_memory)
		return;
	for (unsigned int q = 0; q < d->nr_rings; q++)
		blk_ring_keep_journal(d->rings[q]);
	device_disconnect(d);
}

/*
 * Stop serving and free the device; with remove, delete its backend nodes too. If a ring
 * still waits for its storage, that happens later, from device_update.
 */
void device_free(struct blk_dev *d, bool remove)
{
	struct blk_backend *be = d->be;
	bool waited = d->freeing;
	struct blk_dev **pp;

	d->freeing = true;
	d->remove |= remove;
	if (!device_disconnect(d))
		return;		/* device_update finishes once the rings have stopped */
	be->rescan |= waited;	/* see backend_reap_rings */
	remove = d->remove;
	if (d->watching)
		xs_unwatch(be->xs, d->fe_state, d->bepath);
	storage_close(d->disk);
	if (remove)
		forget_journals(d);	/* any a killed daemon left */
	if (remove && !xs_rm(be->xs, XBT_NULL, d->bepath))
		log_err("%s: cannot remove %s: %s", d->name, d->bepath, strerror(errno));
	log_info("%s: device %s", d->name, remove ? "removed" : "released");
	for (pp = &be->devs; *pp != d; pp = &(*pp)->next)
		;
	*pp = d->next;
	free(d->fepath);
	free(d);
}
