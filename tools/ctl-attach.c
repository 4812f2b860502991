/* blkbackctl attach and detach: a disk's xenstore nodes, written and removed by hand. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "../blkback/num.h"
#include "../blkback/vdev.h"
#include "../blkback/xenio.h"
#include "../blkback/xs.h"
#include "../storage/storage.h"
#include "ctl.h"

/* Read dir/node as an int; dflt if absent or malformed. */
static int read_int(const struct ctl *c, const char *dir, const char *node, int dflt)
{
	char *s = bxs_read(c->xs, XBT_NULL, "%s/%s", dir, node);
	uint64_t v;
	int ret = dflt;

	if (s && !num_parse_uint(s, INT32_MAX, &v))
		ret = (int)v;
	free(s);
	return ret;
}

/* Does path exist, as transaction t sees it? */
static bool exists_in(const struct ctl *c, xs_transaction_t t, const char *path)
{
	unsigned int len;
	char *s = xs_read(c->xs, t, path, &len);

	free(s);
	return s != NULL;
}

/* Pick the first xvd name that is free in the guest. */
static uint32_t free_vdev(const struct ctl *c, unsigned int domid)
{
	char name[16], path[128];
	uint32_t devid;

	for (unsigned int i = 0; i < 26; i++) {
		snprintf(name, sizeof(name), "xvd%c", 'a' + i);
		vdev_number(name, &devid);
		snprintf(path, sizeof(path), "/local/domain/%u/device/vbd/%u", domid, devid);
		if (!exists_in(c, XBT_NULL, path))
			return devid;
	}
	die("domain %u has no free disk name between xvda and xvdz: give one with --vdev", domid);
}

/* Set owner and reader of a node in a transaction. */
static bool set_perms(const struct ctl *c, xs_transaction_t t, const char *path,
		      unsigned int owner, unsigned int reader)
{
	struct xs_permissions p[2] = {
		{ .id = owner, .perms = XS_PERM_NONE },
		{ .id = reader, .perms = XS_PERM_READ },
	};

	return xs_mkdir(c->xs, t, path) && xs_set_permissions(c->xs, t, path, p, 2);
}

/* What attach writes: a new disk's backend and frontend nodes. */
struct new_disk {
	const struct ctl *c;
	unsigned int domid;
	uint32_t devid;
	char vdev[16];
	const char *spec, *be, *fe;
	bool ro;
};

/* The nodes of a new disk, in transaction t; -EEXIST if the name is taken. */
static int disk_nodes(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	const struct new_disk *n = arg;
	const struct ctl *c = n->c;
	const char *be = n->be, *fe = n->fe;
	bool ok;

	if (exists_in(c, t, be) || exists_in(c, t, fe))
		return -EEXIST;
	/* Nodes created below a directory inherit its permissions. */
	ok = set_perms(c, t, be, c->self, n->domid) &&
	     !bxs_printf(xs, t, be, "frontend", "%s", fe) &&
	     !bxs_printf(xs, t, be, "frontend-id", "%u", n->domid) &&
	     !bxs_printf(xs, t, be, "online", "1") &&
	     !bxs_printf(xs, t, be, "removable", "0") &&
	     !bxs_printf(xs, t, be, "bootable", "0") &&
	     !bxs_printf(xs, t, be, "mode", "%s", n->ro ? "r" : "w") &&
	     !bxs_printf(xs, t, be, "device-type", "disk") &&
	     !bxs_printf(xs, t, be, "dev", "%s", n->vdev) &&
	     !bxs_printf(xs, t, be, "params", "%s", n->spec) &&
	     !bxs_printf(xs, t, be, "state", "%d", XenbusStateInitialising) &&
	     set_perms(c, t, fe, n->domid, c->self) &&
	     !bxs_printf(xs, t, fe, "backend", "%s", be) &&
	     !bxs_printf(xs, t, fe, "backend-id", "%u", c->self) &&
	     !bxs_printf(xs, t, fe, "virtual-device", "%u", n->devid) &&
	     !bxs_printf(xs, t, fe, "device-type", "disk") &&
	     !bxs_printf(xs, t, fe, "state", "%d", XenbusStateInitialising);
	return ok ? 0 : (errno ? -errno : -EIO);
}

/* Write the backend and frontend nodes of a new disk in one transaction. */
static void write_nodes(const struct ctl *c, unsigned int domid, uint32_t devid,
			const char *spec, bool ro, const char *be, const char *fe)
{
	struct new_disk n = { .c = c, .domid = domid, .devid = devid, .spec = spec,
			      .be = be, .fe = fe, .ro = ro };
	int err;

	vdev_name(devid, n.vdev, sizeof(n.vdev));
	err = bxs_transact(c->xs, disk_nodes, &n);
	if (err == -EEXIST)
		die("%s is already in use on domain %u: detach it first, or pick another "
		    "name with --vdev", n.vdev, domid);
	if (err)
		die("cannot write the xenstore nodes of %s: %s", be, strerror(-err));
}

/* Remove a disk's frontend and backend nodes, and an emptied domain directory. */
static void remove_nodes(const struct ctl *c, unsigned int domid, const char *be, const char *fe)
{
	char parent[128];
	unsigned int n = 0;
	char **left;

	xs_rm(c->xs, XBT_NULL, fe);
	xs_rm(c->xs, XBT_NULL, be);
	snprintf(parent, sizeof(parent), "%s/%u", c->root, domid);
	left = xs_directory(c->xs, XBT_NULL, parent, &n);
	if (left && !n)
		xs_rm(c->xs, XBT_NULL, parent);
	free(left);
}

/*
 * Wait until done(c, arg) is true, re-checking whenever something under
 * watch_path changes. Returns false on timeout.
 */
static bool wait_until(const struct ctl *c, const char *watch_path,
		       bool (*done)(const struct ctl *c, void *arg), void *arg)
{
	double deadline = ctl_now() + c->timeout;
	struct pollfd pfd = { .fd = xs_fileno(c->xs), .events = POLLIN };
	bool ok = false;

	if (!xs_watch(c->xs, watch_path, "wait"))
		die("cannot watch %s: %s", watch_path, strerror(errno));
	for (;;) {
		char **w;
		double left;

		while ((w = xs_check_watch(c->xs)))
			free(w);
		if ((ok = done(c, arg)))
			break;
		left = deadline - ctl_now();
		if (left <= 0)
			break;
		/* Every 250 ms at least: attach_done also waits on the clock. */
		if (poll(&pfd, 1, left > 0.25 ? 250 : (int)(left * 1000) + 1) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
	}
	xs_unwatch(c->xs, watch_path, "wait");
	return ok;
}

/* How long a backend that closed waits for blkbackd's error node, if it came after the state. */
#define ERROR_GRACE_S 2.0

struct attach_wait {
	char be[128];
	char *error;		/* the backend's error node, once it appears */
	int want;		/* the backend state that ends the wait */
	int state;		/* the backend's, as last read */
	double closed_at;	/* when it was first seen closed without an error; 0 before */
};

/* Did blkbackd give the disk up (or was it removed)? */
static bool refused(int state)
{
	return state == XenbusStateClosing || state == XenbusStateClosed ||
	       state == XenbusStateUnknown;
}

/* The backend's state and error node, read together in one transaction. */
static void read_outcome(const struct ctl *c, struct attach_wait *w)
{
	for (;;) {
		xs_transaction_t t = xs_transaction_start(c->xs);
		char path[160];
		uint64_t v;

		if (t == XBT_NULL)
			die("cannot read %s: %s", w->be, strerror(errno));
		free(w->error);
		w->error = bxs_read(c->xs, t, "%s/error", w->be);
		snprintf(path, sizeof(path), "%s/state", w->be);
		w->state = bxs_read_uint(c->xs, t, path, XenbusStateReconfigured, &v) ?
			   XenbusStateUnknown : (int)v;
		if (xs_transaction_end(c->xs, t, false))
			return;
		if (errno != EAGAIN)
			die("cannot read %s: %s", w->be, strerror(errno));
	}
}

/*
 * Is the wait over: the backend in the state wanted, or given up (Closing, Closed or
 * gone)? An error node alone is not the end: blkbackd closes the disk next, and the nodes
 * are removed only once it has, so that its last write does not bring them back.
 */
static bool attach_done(const struct ctl *c, void *arg)
{
	struct attach_wait *w = arg;

	read_outcome(c, w);
	if (refused(w->state)) {
		if (w->error || w->state == XenbusStateUnknown)
			return true;
		if (!w->closed_at)
			w->closed_at = ctl_now();
		return ctl_now() - w->closed_at >= ERROR_GRACE_S;
	}
	if (w->error)
		return false;
	if (w->want == XenbusStateInitWait)
		return w->state >= XenbusStateInitWait;
	return w->state == w->want;
}

/* blkbackctl attach DOMAIN SPEC [--vdev NAME] [--ro] [--timeout S] [--nowait] */
int cmd_attach(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vdev", required_argument, NULL, 'v' }, { "ro", no_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' }, { "nowait", no_argument, NULL, 'n' },
		{ 0 },
	};
	struct storage_spec spec;
	struct attach_wait w = { .error = NULL, .want = XenbusStateConnected };
	const char *vdev_arg = NULL, *text;
	char fe[128], err[STORAGE_ERR_LEN], vdev[16], path[200], size[CTL_SIZE_TEXT], *name;
	unsigned int domid;
	uint64_t sectors = 0;
	uint32_t devid;
	bool ro = false, ok;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "v:rt:n", opts, NULL)) != -1) {
		switch (opt) {
		case 'v': vdev_arg = optarg; break;
		case 'r': ro = true; break;
		case 'n': w.want = XenbusStateInitWait; break;
		case 't': c->timeout = parse_timeout(optarg); break;
		default: return 2;
		}
	}
	if (argc - optind != 2)
		usage_die("attach: give DOMAIN and SPEC, e.g. 'blkbackctl attach guest1 "
			  "mem:size=64M'");
	text = argv[optind + 1];
	if (storage_spec_parse(text, &spec, err, sizeof(err)))
		usage_die("%s", err);
	ro |= spec.readonly;
	storage_spec_free(&spec);
	if (vdev_arg && vdev_number(vdev_arg, &devid))
		usage_die("bad --vdev '%s': give a disk name such as xvdb", vdev_arg);
	need_daemon(c);
	ctl_open(c);
	domid = domain_id(c, argv[optind]);
	if (domid == c->self)
		die("domain %u is the backend domain itself; attach to a guest", domid);
	if (!vdev_arg)
		devid = free_vdev(c, domid);
	vdev_name(devid, vdev, sizeof(vdev));
	snprintf(w.be, sizeof(w.be), "%s/%u/%u", c->root, domid, devid);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vbd/%u", domid, devid);
	/* The spec goes whole into one xenstore node, or not at all. */
	if (strlen(text) > bxs_value_max(w.be, "params"))
		usage_die("disk spec '%.64s...' is %zu bytes: a xenstore node holds at most %zu "
			  "here (a xenstore message is %d bytes with its path); give a shorter "
			  "path", text, strlen(text), bxs_value_max(w.be, "params"),
			  XENSTORE_PAYLOAD_MAX);
	write_nodes(c, domid, devid, text, ro, w.be, fe);

	name = domain_name(c, domid);
	ok = wait_until(c, w.be, attach_done, &w);
	/* Out of time: a backend that closed meanwhile has refused the disk all the same. */
	if (!ok && !w.error && !refused(w.state)) {
		int fs = read_int(c, fe, "state", 0), bs = w.state;

		die("%s on domain %u (%s) is not connected after %d s: backend %s, frontend %s. %s "
		    "The disk stays attached and connects when the guest is ready; "
		    "'blkbackctl detach %u %s' removes it.", vdev, domid, name, c->timeout,
		    xenbus_state_name(bs), xenbus_state_name(fs),
		    bs == XenbusStateInitialising ? "blkbackd has not picked it up: is it serving "
		    "this kind (--kind)?" : fs <= XenbusStateInitialising ? "The guest has not "
		    "answered: is xen-blkfront loaded in it?" : "", domid, vdev);
	}
	if (w.error || refused(w.state)) {
		remove_nodes(c, domid, w.be, fe);
		if (w.error)
			die("blkbackd could not serve %s to domain %u (%s): %s", vdev, domid, name,
			    w.error);
		die("blkbackd %s %s on domain %u (%s) without saying why; its log may tell "
		    "(see blkbackd(8), --daemon)", w.state == XenbusStateUnknown ? "removed" :
		    "closed", vdev, domid, name);
	}
	if (w.want == XenbusStateInitWait) {
		printf("attached %s to domain %u (%s) as %s%s: blkbackd is ready, the guest's "
		       "frontend connects when it starts\n", text, domid, name, vdev,
		       ro ? ", read-only" : "");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/sectors", w.be);
	bxs_read_uint(c->xs, XBT_NULL, path, UINT64_MAX >> SECTOR_SHIFT, &sectors);
	printf("attached %s to domain %u (%s) as %s: %s%s\n", text, domid, name, vdev,
	       ctl_size_text(sectors << SECTOR_SHIFT, size), ro ? ", read-only" : "");
out:
	free(name);
	free(w.error);
	return 0;
}

/* Has the backend reached Closed, or gone? */
static bool detach_done(const struct ctl *c, void *arg)
{
	return read_int(c, arg, "state", XenbusStateClosed) == XenbusStateClosed;
}

/* blkbackctl detach DOMAIN VDEV [--timeout S] [--force] */
int cmd_detach(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' }, { "timeout", required_argument, NULL, 't' },
		{ 0 },
	};
	char be[128], fe[128], path[160], vdev[16];
	unsigned int domid;
	uint32_t devid;
	bool force = false;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "ft:", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': force = true; break;
		case 't': c->timeout = parse_timeout(optarg); break;
		default: return 2;
		}
	}
	if (argc - optind != 2)
		usage_die("detach: give DOMAIN and VDEV, e.g. 'blkbackctl detach guest1 xvdb'");
	if (vdev_number(argv[optind + 1], &devid))
		usage_die("bad disk name '%s': give one such as xvdb", argv[optind + 1]);
	ctl_open(c);
	domid = domain_id(c, argv[optind]);
	vdev_name(devid, vdev, sizeof(vdev));
	snprintf(be, sizeof(be), "%s/%u/%u", c->root, domid, devid);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vbd/%u", domid, devid);
	if (!exists_in(c, XBT_NULL, be))
		die("domain %u has no %s served by blkbackd ('blkbackctl list' shows the "
		    "attached disks)", domid, vdev);
	if (!force)
		need_daemon(c);
	snprintf(path, sizeof(path), "%s/online", be);
	if (!xs_write(c->xs, XBT_NULL, path, "0", 1))
		die("cannot write %s: %s", path, strerror(errno));
	if (!wait_until(c, be, detach_done, be) && !force)
		die("domain %u did not release %s within %d s (is it still mounted in the guest?); "
		    "unmount it and retry, or use --force to remove it anyway", domid, vdev,
		    c->timeout);
	remove_nodes(c, domid, be, fe);
	printf("detached %s from domain %u\n", vdev, domid);
	return 0;
}
