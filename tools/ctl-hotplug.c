/*
 * blkbackctl hotplug add|remove XENBUS_PATH: the work of the xl hotplug script
 * (tools/hotplug/blkbackd). libxl runs the script's add once the backend is in InitWait
 * and counts only exit 0 as success; on failure it prints the backend's hotplug-error
 * node. Its remove runs once the backend is Closed, before libxl deletes the nodes. The
 * daemon says what became of the storage in DEV_STATUS_NODE (blkback/device.h).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../blkback/device.h"
#include "../blkback/num.h"
#include "../blkback/vdev.h"
#include "../blkback/xenio.h"
#include "../blkback/xs.h"
#include "ctl.h"
#include "pidfile.h"

/* How long add waits for the open by default: libxl kills the script after 40 s. */
#define ADD_WAIT_S 30
/* How long remove waits for the storage to close by default: it delays only the detach. */
#define REMOVE_WAIT_S 10

/* One device, as the script names it. */
struct hp_dev {
	char be[160];		/* absolute backend path */
	char kind[32];
	unsigned int domid;
	char vdev[16];
	char pidfile[PATH_MAX];
};

/* What the backend says, read in one transaction. */
struct hp_view {
	bool gone;		/* the backend directory is no more */
	char *status;		/* DEV_STATUS_NODE */
	char *error;		/* the daemon's error node */
	int state;
};

/* Free what hp_read allocated. */
static void hp_view_free(struct hp_view *v)
{
	free(v->status);
	free(v->error);
	v->status = v->error = NULL;
}

/* Read the backend's directory, status, error and state together. */
static void hp_read(const struct ctl *c, const struct hp_dev *h, struct hp_view *v)
{
	for (;;) {
		xs_transaction_t t = xs_transaction_start(c->xs);
		char path[200], *dir;
		uint64_t st;

		if (t == XBT_NULL)
			die("cannot read %s: %s", h->be, strerror(errno));
		hp_view_free(v);
		dir = bxs_read(c->xs, t, "%s", h->be);
		v->gone = !dir && errno == ENOENT;
		free(dir);
		v->status = bxs_read(c->xs, t, "%s/%s", h->be, DEV_STATUS_NODE);
		v->error = bxs_read(c->xs, t, "%s/error", h->be);
		snprintf(path, sizeof(path), "%s/state", h->be);
		v->state = bxs_read_uint(c->xs, t, path, XenbusStateReconfigured, &st) ?
			   XenbusStateUnknown : (int)st;
		if (xs_transaction_end(c->xs, t, false))
			return;
		if (errno != EAGAIN)
			die("cannot read %s: %s", h->be, strerror(errno));
	}
}

/* Seconds on the monotonic clock. */
static double hp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Wait up to timeout seconds, re-reading *v whenever the backend's nodes change, until
 * done(v) is true. False on timeout (*v then holds the last reading).
 */
static bool hp_wait(const struct ctl *c, const struct hp_dev *h, int timeout,
		    bool (*done)(const struct hp_view *v), struct hp_view *v)
{
	struct pollfd pfd = { .fd = xs_fileno(c->xs), .events = POLLIN };
	double end = hp_now() + timeout;
	bool ok = false;

	if (!xs_watch(c->xs, h->be, "hotplug"))
		die("cannot watch %s: %s", h->be, strerror(errno));
	for (;;) {
		char **w;
		double left;

		while ((w = xs_check_watch(c->xs)))
			free(w);
		hp_read(c, h, v);
		if ((ok = done(v)))
			break;
		left = end - hp_now();
		if (left <= 0)
			break;
		if (poll(&pfd, 1, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
	}
	xs_unwatch(c->xs, h->be, "hotplug");
	return ok;
}

/* Is the open's outcome known (or the device gone)? */
static bool add_done(const struct hp_view *v)
{
	return v->gone || (v->status && (!strcmp(v->status, "open") ||
					 !strcmp(v->status, "failed")));
}

/* Does the daemon hold the storage no more (or is the device gone)? */
static bool remove_done(const struct hp_view *v)
{
	return v->gone || !v->status || !strcmp(v->status, "released") ||
	       !strcmp(v->status, "failed");
}

/* The hotplug-status and (if not NULL) hotplug-error nodes to write. */
struct hp_nodes {
	const struct hp_dev *h;
	const char *status, *error;
};

/* hp_nodes in transaction t; -ENOENT if the backend directory is gone. */
static int hp_nodes_write(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	const struct hp_nodes *n = arg;
	char *dir = bxs_read(xs, t, "%s", n->h->be);
	int err;

	if (!dir)
		return errno == ENOENT ? -ENOENT : -errno;
	free(dir);
	err = n->error ? bxs_write_message(xs, t, n->h->be, "hotplug-error", n->error) : 0;
	return err ? err : bxs_printf(xs, t, n->h->be, "hotplug-status", "%s", n->status);
}

/*
 * The add failed: write msg in hotplug-error (xl prints it) and hotplug-status error
 * (the daemon then closes the device), say it on stderr, and exit 1.
 */
static void __attribute__((noreturn)) hp_fail(const struct ctl *c, const struct hp_dev *h,
					      const char *msg)
{
	struct hp_nodes n = { .h = h, .status = "error", .error = msg };
	int err = bxs_transact(c->xs, hp_nodes_write, &n);

	fprintf(stderr, "%s\n", msg);
	if (err && err != -ENOENT)
		fprintf(stderr, "blkbackctl: cannot write %s/hotplug-error: %s\n", h->be,
			strerror(-err));
	exit(1);
}

/*
 * The device the script was given: XENBUS_PATH, relative to our domain's directory as
 * libxl passes it (backend/vbd3/1/51728) or absolute.
 */
static void hp_device(const struct ctl *c, const char *arg, struct hp_dev *h)
{
	char prefix[64], kind[32], dom[16], dev[16], tail;
	uint64_t domid, devid;
	const char *rel = arg;
	int len;

	len = snprintf(prefix, sizeof(prefix), "/local/domain/%u/", c->self);
	if (arg[0] == '/') {
		if (strncmp(arg, prefix, (size_t)len))
			usage_die("hotplug: '%s' is not a backend directory of domain %u", arg,
				  c->self);
		rel = arg + len;
	}
	if (sscanf(rel, "backend/%31[^/]/%15[0-9]/%15[0-9]%c", kind, dom, dev, &tail) != 3 ||
	    parse_uint(dom, UINT16_MAX, &domid) || parse_uint(dev, UINT32_MAX, &devid))
		usage_die("hotplug: give the backend directory libxl passes in XENBUS_PATH, "
			  "e.g. backend/vbd3/1/51728, not '%s'", arg);
	snprintf(h->be, sizeof(h->be), "%s%s", prefix, rel);
	snprintf(h->kind, sizeof(h->kind), "%s", kind);
	h->domid = (unsigned int)domid;
	vdev_name((uint32_t)devid, h->vdev, sizeof(h->vdev));
	if (pidfile_path(h->kind, h->pidfile, sizeof(h->pidfile)))
		die("the run directory's path is too long: set BLKBACKD_RUNDIR to the one "
		    "blkbackd uses");
}

/* add: wait for the daemon's verdict on the storage; exit 0 once it is open. */
static int hp_add(const struct ctl *c, const struct hp_dev *h, int timeout)
{
	struct hp_view v = { 0 };
	char msg[2 * PATH_MAX + 1024 + 512], *name = domain_name(c, h->domid), *spec;

	if (!pidfile_owner(h->pidfile)) {
		snprintf(msg, sizeof(msg), "blkbackd cannot serve %s to domain %u (%s): no blkbackd "
			 "serves backend kind %s (no live %s): start it (systemctl start blkbackd), "
			 "then xl block-detach %u %s and attach the disk again", h->vdev, h->domid,
			 name, h->kind, h->pidfile, h->domid, h->vdev);
		hp_fail(c, h, msg);
	}
	if (hp_wait(c, h, timeout, add_done, &v) && !v.gone && !strcmp(v.status, "open")) {
		struct hp_nodes n = { .h = h, .status = "connected" };

		bxs_transact(c->xs, hp_nodes_write, &n);
		hp_view_free(&v);
		free(name);
		return 0;
	}
	spec = bxs_read(c->xs, XBT_NULL, "%s/params", h->be);
	if (v.gone)
		snprintf(msg, sizeof(msg), "blkbackd cannot serve %s to domain %u (%s): the device "
			 "was removed while blkbackd opened it", h->vdev, h->domid, name);
	else if (v.status && !strcmp(v.status, "failed"))
		snprintf(msg, sizeof(msg), "blkbackd cannot serve %s to domain %u (%s): %s%s", h->vdev,
			 h->domid, name, v.error ? v.error : "(it did not say why: see its log)",
			 /* the spec's ,ro is access=ro in an xl disk line */
			 v.error && strstr(v.error, "add ,ro") ? " (in the xl disk line: access=ro)" :
			 "");
	else if (!v.status)
		snprintf(msg, sizeof(msg), "blkbackd cannot serve %s to domain %u (%s): it has not "
			 "picked the device up in %d s (%s); is it running, for backend kind %s? "
			 "See its log (journalctl -u blkbackd)", h->vdev, h->domid, name, timeout,
			 pidfile_owner(h->pidfile) ? "it runs" : "it is not running now", h->kind);
	else
		snprintf(msg, sizeof(msg), "blkbackd cannot serve %s to domain %u (%s): it has not "
			 "opened %s in %d s: its storage does not answer (see its log, journalctl "
			 "-u blkbackd); the disk is not attached", h->vdev, h->domid, name,
			 !spec ? "the disk" : strncmp(spec, "aio:", 4) ? spec : spec + 4, timeout);
	free(spec);
	free(name);
	hp_view_free(&v);
	hp_fail(c, h, msg);
}

/*
 * remove: the backend is Closed (libxl runs remove only then); wait, bounded, until the
 * daemon has closed the storage, so that the same image can be attached again at once.
 * Always exit 0: libxl ignores a failed remove, and deletes the nodes after it anyway.
 */
static int hp_remove(const struct ctl *c, const struct hp_dev *h, int timeout)
{
	struct hp_view v = { 0 };

	if (pidfile_owner(h->pidfile) && !hp_wait(c, h, timeout, remove_done, &v))
		fprintf(stderr, "blkbackctl: warning: blkbackd has not closed the storage of %s "
			"of domain %u in %d s (status %s; see its log): attaching the same image "
			"again may find it still in use until it has\n", h->vdev, h->domid, timeout,
			v.status ? v.status : "-");
	hp_view_free(&v);
	return 0;
}

/* blkbackctl hotplug add|remove XENBUS_PATH [--timeout SECONDS] */
int cmd_hotplug(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' }, { 0 },
	};
	struct hp_dev h = { 0 };
	int opt, timeout = 0;
	uint64_t v;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
		if (opt != 't')
			usage_die("hotplug: usage: blkbackctl hotplug add|remove XENBUS_PATH "
				  "[--timeout SECONDS]");
		if (num_parse_uint(optarg, 3600, &v) || !v)
			usage_die("bad --timeout '%s': give a number of seconds from 1 to 3600",
				  optarg);
		timeout = (int)v;
	}
	if (argc - optind != 2 || (strcmp(argv[optind], "add") && strcmp(argv[optind], "remove")))
		usage_die("hotplug: usage: blkbackctl hotplug add|remove XENBUS_PATH "
			  "[--timeout SECONDS] (what the xl hotplug script blkbackd runs)");
	ctl_open(c);
	hp_device(c, argv[optind + 1], &h);
	if (!strcmp(argv[optind], "add"))
		return hp_add(c, &h, timeout ? timeout : ADD_WAIT_S);
	return hp_remove(c, &h, timeout ? timeout : REMOVE_WAIT_S);
}
