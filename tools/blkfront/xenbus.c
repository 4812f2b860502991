/* The xenbus handshake: find the vbd, wait for the backend, connect, disconnect. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/xenbus.h>

#include "../../blkback/vdev.h"
#include "bfutil.h"
#include "internal.h"

#define TOKEN_BACKEND "blkfront-backend-state"
#define DEFAULT_TIMEOUT_MS 10000u

/* Write our state node. */
static int set_state(struct blkfront *bf, int state)
{
	int err = bf_xs_printf(bf, XBT_NULL, bf->fepath, "state", "%d", state);

	if (!err) {
		bf_debug("frontend %s -> %s", bf_state_name(bf->state), bf_state_name(state));
		bf->state = state;
	}
	return err;
}

/*
 * Wait, on the backend state watch, until the backend's state is in want (a bit mask of
 * states) or in fail; returns the state, or -ETIMEDOUT after the wait timeout.
 */
static int wait_backend(struct blkfront *bf, unsigned int want, unsigned int fail)
{
	uint64_t deadline = bf_now_ns() + (uint64_t)bf->opts.timeout_ms * 1000000u;
	struct pollfd pfd = { .fd = xs_fileno(bf->xs), .events = POLLIN };

	for (;;) {
		int st = bf_backend_state(bf);
		uint64_t now = bf_now_ns();
		char **w;

		if ((want | fail) & (1u << st))
			return st;
		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)((deadline - now + 999999) / 1000000)) < 0 && errno != EINTR)
			return -errno;
		while ((w = xs_check_watch(bf->xs)))
			free(w);
	}
}

/* The backend's error node, or a placeholder, into buf. */
static void backend_error(struct blkfront *bf, char *buf, size_t len)
{
	char path[256], *e;

	snprintf(path, sizeof(path), "%s/error", bf->bepath);
	e = bf_xs_read(bf, XBT_NULL, path);
	snprintf(buf, len, "%s", e ? e : "(it left no error node)");
	free(e);
}

/* Read the frontend directory of our vbd: backend path and backend domain. */
static int find_vbd(struct blkfront *bf, char *err, size_t errlen)
{
	char path[160], name[16], *s;
	uint64_t v;
	int bad;

	/* A relative path is under our own /local/domain/<id>, where the toolstack put domid. */
	s = bf_xs_read(bf, XBT_NULL, "domid");
	bad = !s || bf_parse_uint(s, UINT16_MAX, &v);
	free(s);
	if (bad) {
		bf_errf(err, errlen, "cannot read this domain's id from xenstore (node 'domid' "
			"of our home /local/domain/<id>): is this a Xen guest set up by a toolstack?");
		return -ENOENT;
	}
	bf->self = (unsigned int)v;
	snprintf(bf->fepath, sizeof(bf->fepath), "/local/domain/%u/device/vbd/%u", bf->self,
		 bf->devid);
	vdev_name(bf->devid, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/backend", bf->fepath);
	bf->bepath = bf_xs_read(bf, XBT_NULL, path);
	if (!bf->bepath) {
		bf_errf(err, errlen, "no vbd %u (%s) in this domain (%u): attach one from dom0 "
			"with 'blkbackctl attach %u mem:size=64M --vdev %s --nowait'", bf->devid,
			name, bf->self, bf->self, name);
		return -ENODEV;
	}
	if (bf_xs_uint(bf, XBT_NULL, bf->fepath, "backend-id", UINT16_MAX, &v)) {
		bf_errf(err, errlen, "%s has no valid backend-id: the toolstack wrote an "
			"incomplete vbd; detach and attach it again", bf->fepath);
		return -EINVAL;
	}
	bf->backend_id = (unsigned int)v;
	snprintf(bf->be_state_path, sizeof(bf->be_state_path), "%s/state", bf->bepath);
	if (!xs_watch(bf->xs, bf->be_state_path, TOKEN_BACKEND)) {
		int ret = -errno;

		bf_errf(err, errlen, "cannot watch %s: %s", bf->be_state_path, strerror(errno));
		return ret;
	}
	bf->watching = true;
	bf_debug("vbd %s: backend %s in domain %u", bf->fepath, bf->bepath, bf->backend_id);
	return 0;
}

#define BIT(s) (1u << (s))

/*
 * Bring the backend to InitWait. A backend left Connected (or Closing) by an earlier
 * frontend that died is walked through Closed first, as a reloaded Linux blkfront does.
 */
static int reach_initwait(struct blkfront *bf, char *err, size_t errlen)
{
	char why[256];
	int st = bf_backend_state(bf), ret;

	bf_debug("backend %s is %s", bf->bepath, bf_state_name(st));
	if (st == XenbusStateConnected || st == XenbusStateClosing ||
	    st == XenbusStateInitialised) {
		if (bf->opts.no_reset) {
			bf_errf(err, errlen, "backend %s is %s, left by an earlier frontend",
				bf->bepath, bf_state_name(st));
			return -EBUSY;
		}
		ret = set_state(bf, XenbusStateClosed);
		ret = ret ? ret : wait_backend(bf, BIT(XenbusStateClosed), 0);
		if (ret < 0) {
			bf_errf(err, errlen, "backend %s did not close the earlier connection in "
				"%u ms (state %s): is blkbackd running?", bf->bepath,
				bf->opts.timeout_ms, bf_state_name(bf_backend_state(bf)));
			return ret;
		}
	}
	/* Initialising again is what moves a Closed backend back to InitWait. */
	ret = set_state(bf, XenbusStateInitialising);
	if (ret) {
		bf_errf(err, errlen, "cannot write %s/state: %s", bf->fepath, strerror(-ret));
		return ret;
	}
	ret = wait_backend(bf, BIT(XenbusStateInitWait), 0);
	if (ret < 0) {
		st = bf_backend_state(bf);
		backend_error(bf, why, sizeof(why));
		bf_errf(err, errlen, "backend %s did not reach InitWait in %u ms (state %s, "
			"error: %s): %s", bf->bepath, bf->opts.timeout_ms, bf_state_name(st), why,
			st <= XenbusStateInitialising ? "is blkbackd running in domain 0 and "
			"serving this kind of disk?" : "detach the disk and attach it again");
		return ret;
	}
	return 0;
}

#define PUBLISH_TRIES 100

/* Publish the rings, event channels and features, and state Initialised, atomically. */
static int publish(struct blkfront *bf)
{
	int err = bf_remove_stale(bf);

	/* A transaction that keeps conflicting means something keeps writing our nodes. */
	for (int tries = 0; !err && tries < PUBLISH_TRIES; tries++) {
		xs_transaction_t t = xs_transaction_start(bf->xs);

		if (t == XBT_NULL)
			return errno ? -errno : -EIO;
		err = bf_publish(bf, t);
		err = err ? err : bf_publish_extra(bf, t);
		err = err ? err : bf_xs_printf(bf, t, bf->fepath, "state", "%d",
					       XenbusStateInitialised);
		if (!xs_transaction_end(bf->xs, t, err != 0) && !err)
			err = errno ? -errno : -EIO;
		if (!err) {
			bf_debug("frontend %s -> Initialised", bf_state_name(bf->state));
			bf->state = XenbusStateInitialised;
			return 0;
		}
		if (err == -EAGAIN)
			err = 0;
	}
	return err ? err : -EAGAIN;
}

/* Release everything; idempotent. Safe on a half-built bf. */
static void bf_free(struct blkfront *bf)
{
	bf_io_teardown(bf);
	bf_ring_teardown(bf);
	if (bf->watching)
		xs_unwatch(bf->xs, bf->be_state_path, TOKEN_BACKEND);
	bf->watching = false;
	if (bf->xs)
		xs_close(bf->xs);
	bf->xs = NULL;
	free(bf->bepath);
	free(bf);
}

/* Fill opts with the defaults. */
void blkfront_opts_init(struct blkfront_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->timeout_ms = DEFAULT_TIMEOUT_MS;
	opts->max_ring_order = -1;
	opts->indirect_segs = -1;
}

/* Connect to our vbd, as Linux xen-blkfront does. */
int blkfront_connect(const struct blkfront_opts *opts, struct blkfront **bfp,
		     char *err, size_t errlen)
{
	struct blkfront *bf = calloc(1, sizeof(*bf));
	char why[256];
	int ret;

	*bfp = NULL;
	if (!bf) {
		bf_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	bf->opts = *opts;
	if (!bf->opts.timeout_ms)
		bf->opts.timeout_ms = DEFAULT_TIMEOUT_MS;
	snprintf(bf->vdev, sizeof(bf->vdev), "%s", opts->vdev ? opts->vdev : "");
	ret = vdev_number(bf->vdev, &bf->devid);
	if (ret) {
		bf_errf(err, errlen, "bad device '%s': give a disk name such as xvdb, or its "
			"number (51728)", bf->vdev);
		goto fail;
	}
	bf->xs = xs_open(0);
	if (!bf->xs) {
		ret = -errno;
		bf_errf(err, errlen, "cannot connect to xenstore: %s (run this in a Xen guest, or "
			"in the simulator with 'xensim run GUEST -- blkfront ...')", strerror(errno));
		goto fail;
	}
	ret = find_vbd(bf, err, errlen);
	ret = ret ? ret : reach_initwait(bf, err, errlen);
	if (ret)
		goto fail;
	bf_negotiate_initwait(bf);
	ret = bf_ring_setup(bf, err, errlen);
	if (ret)
		goto fail;
	ret = publish(bf);
	if (ret) {
		bf_errf(err, errlen, "cannot publish the ring in %s: %s", bf->fepath,
			strerror(-ret));
		goto fail;
	}
	ret = wait_backend(bf, BIT(XenbusStateConnected),
			   BIT(XenbusStateClosing) | BIT(XenbusStateClosed));
	if (ret != XenbusStateConnected) {
		backend_error(bf, why, sizeof(why));
		bf_errf(err, errlen, "backend %s %s: %s", bf->bepath, ret < 0 ?
			"did not connect in time" : "refused the connection", why);
		ret = ret < 0 ? ret : -ECONNREFUSED;
		goto fail;
	}
	/* The data pool's size depends on the indirect segments, known only now. */
	ret = bf_negotiate_connected(bf, err, errlen);
	ret = ret ? ret : bf_io_setup(bf, err, errlen);
	if (ret)
		goto fail;
	ret = set_state(bf, XenbusStateConnected);
	if (ret) {
		bf_errf(err, errlen, "cannot write %s/state: %s", bf->fepath, strerror(-ret));
		goto fail;
	}
	*bfp = bf;
	return 0;
fail:
	/* Let a backend that saw our ring go, before the ring goes. */
	if (bf->state >= XenbusStateInitialised)
		set_state(bf, XenbusStateClosed);
	bf_free(bf);
	return ret;
}

/* Closing, wait for the backend to let go of our pages, Closed, release. */
int blkfront_disconnect(struct blkfront *bf, char *err, size_t errlen)
{
	int ret = 0, st;

	if (!bf)
		return 0;
	if (bf->state != XenbusStateClosed) {
		ret = set_state(bf, XenbusStateClosing);
		/* The backend answers what is in flight and unmaps, then says Closing. */
		st = ret ? ret : wait_backend(bf, BIT(XenbusStateClosing) | BIT(XenbusStateClosed) |
					      BIT(XenbusStateUnknown), 0);
		if (st < 0) {
			bf_errf(err, errlen, "backend %s did not close in %u ms (state %s)",
				bf->bepath, bf->opts.timeout_ms, bf_state_name(bf_backend_state(bf)));
			ret = st;
		} else {
			ret = 0;
		}
		st = set_state(bf, XenbusStateClosed);
		if (st && !ret) {
			bf_errf(err, errlen, "cannot write %s/state: %s", bf->fepath, strerror(-st));
			ret = st;
		}
	}
	bf_free(bf);
	return ret;
}

/* Accessors. */
const struct blkfront_features *blkfront_features(const struct blkfront *bf)
{
	return &bf->feat;
}

/* The disk as the backend described it. */
const struct blkfront_disk *blkfront_disk(const struct blkfront *bf)
{
	return &bf->disk;
}

/* This domain's id. */
unsigned int blkfront_domid(const struct blkfront *bf)
{
	return bf->self;
}

/* The backend's domain id. */
unsigned int blkfront_backend_id(const struct blkfront *bf)
{
	return bf->backend_id;
}

/* Our device number. */
uint32_t blkfront_devid(const struct blkfront *bf)
{
	return bf->devid;
}

/* The backend's xenstore directory. */
const char *blkfront_backend_path(const struct blkfront *bf)
{
	return bf->bepath;
}

/* Disk size in bytes. */
uint64_t blkfront_size(const struct blkfront *bf)
{
	return bf->disk.sectors * BLKFRONT_SECTOR;
}
