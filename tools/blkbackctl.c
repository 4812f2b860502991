/* blkbackctl: attach, detach and list the disks blkbackd serves. */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>

#include "../blkback/num.h"
#include "../blkback/vdev.h"
#include "../blkback/version.h"
#include "../blkback/xenio.h"
#include "../blkback/xs.h"
#include "../storage/storage.h"
#include "ctl.h"
#include "pidfile.h"

/* Print "blkbackctl: " and the message, and exit with status. */
static void __attribute__((noreturn)) vdie(int status, const char *fmt, va_list ap)
{
	fputs("blkbackctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	exit(status);
}

/* Print an error and exit 1: the command failed. */
void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(1, fmt, ap);
}

/* Print what is wrong with the command line and exit 2. */
void usage_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(2, fmt, ap);
}

/* Print usage to f. */
static void usage(FILE *f)
{
	fprintf(f,
		"usage: blkbackctl [--kind KIND] COMMAND ...\n"
		"\n"
		"  attach DOMAIN SPEC [--vdev NAME] [--ro] [--timeout SECONDS] [--nowait]\n"
		"      serve SPEC to DOMAIN (a name or a domid) and wait until it is connected\n"
		"      (with --nowait, only until blkbackd has opened it).\n"
		"      SPEC: mem:size=SIZE[,name=NAME][,ro]   a ramdisk (SIZE: 64M, 1G, ...);\n"
		"                NAME keeps it alive across detach while blkbackd runs\n"
		"            file:PATH[,direct][,ro][,shared]   a file or block device (shared:\n"
		"                one of a cluster disk's writers; else one writer per file)\n"
		"            uring:PATH[,direct][,ro][,shared]  the same through io_uring\n"
		"  detach DOMAIN VDEV [--timeout SECONDS] [--force]\n"
		"      close the disk in the guest and remove it.\n"
		"  list\n"
		"      the disks blkbackd serves, with their states.\n"
		"  stats [DOMAIN VDEV | --daemon] [--json]\n"
		"      request counters and latencies of every disk, or of one; with --daemon,\n"
		"      what blkbackd holds: fds, threads, heap bytes, grant pages mapped.\n"
		"  resize DOMAIN VDEV SIZE [--shrink]\n"
		"      grow (or with --shrink, shrink) a disk under the running guest.\n"
		"  handover [--timeout SECONDS]\n"
		"      stop blkbackd for an upgrade: it answers what is in flight and exits;\n"
		"      guests keep their file and uring disks Connected, and the next blkbackd\n"
		"      takes them over (see docs/restart.md). Returns once the old process\n"
		"      has gone (at most SECONDS, default 30).\n"
		"  unstall DOMAIN VDEV\n"
		"      let a disk attached with fault=START+COUNT:stall serve the I/O it holds\n"
		"      (fault injection, for tests).\n"
		"  hotplug add|remove XENBUS_PATH   the xl hotplug script's work (blkbackctl(8))\n"
		"\n"
		"  --kind KIND   backend kind blkbackd serves (default vbd3)\n"
		"  --version     print the version\n"
		"\n"
		"Exit status: 0 done, 1 failed (the message says why), 2 bad command line.\n");
}

/* Connect to xenstore and find our own domid. */
void ctl_open(struct ctl *c)
{
	uint64_t self = 0;

	c->xs = xs_open(0);
	if (!c->xs)
		die("cannot connect to xenstore: %s; run as root in dom0 with xenstored running",
		    strerror(errno));
	bxs_read_uint(c->xs, XBT_NULL, "domid", UINT16_MAX, &self);
	c->self = (unsigned int)self;
	if ((size_t)snprintf(c->root, sizeof(c->root), "/local/domain/%u/backend/%s", c->self,
			     c->kind) >= sizeof(c->root))
		usage_die("bad --kind '%s': too long", c->kind);
}

/* Refuse to go on when no daemon serves our kind. */
void need_daemon(const struct ctl *c)
{
	char path[PATH_MAX];

	if (pidfile_path(c->kind, path, sizeof(path)))
		die("the run directory's path is too long: set BLKBACKD_RUNDIR to the one "
		    "blkbackd uses");
	if (!pidfile_owner(path))
		die("no blkbackd is running for kind %s (no live %s): start it with "
		    "'blkbackd --daemon', then try again", c->kind, path);
}

/* Parse a --timeout value in seconds. */
static int parse_timeout(const char *s)
{
	uint64_t v;

	if (num_parse_uint(s, 86400, &v) || !v)
		usage_die("bad --timeout '%s': give a number of seconds from 1 to 86400", s);
	return (int)v;
}

/* The command that lists domains: xensim's in a simulated domain (its drop-in libraries
 * connect to XENSIM_HV), else xl's. */
static const char *domain_lister(void)
{
	return getenv("XENSIM_HV") ? "xensim list" : "xl list";
}

/* Resolve a domain name or id; die with advice if there is no such domain. */
unsigned int domain_id(const struct ctl *c, const char *arg)
{
	unsigned int n, found = UINT32_MAX;
	char **doms;
	uint64_t id;

	if (!parse_uint(arg, UINT16_MAX, &id)) {
		char *dir = bxs_read(c->xs, XBT_NULL, "/local/domain/%" PRIu64, id);

		if (!dir)
			die("there is no domain %" PRIu64 " ('%s' shows the running domains)", id,
			    domain_lister());
		free(dir);
		return (unsigned int)id;
	}
	doms = xs_directory(c->xs, XBT_NULL, "/local/domain", &n);
	for (unsigned int i = 0; doms && i < n && found == UINT32_MAX; i++) {
		char *name = bxs_read(c->xs, XBT_NULL, "/local/domain/%s/name", doms[i]);

		if (name && !strcmp(name, arg) && !parse_uint(doms[i], UINT16_MAX, &id))
			found = (unsigned int)id;
		free(name);
	}
	free(doms);
	if (found == UINT32_MAX)
		die("there is no domain named '%s' ('%s' shows the running domains)", arg,
		    domain_lister());
	return found;
}

/* Resolve a domain name, or take any domid: a dead domain's disk may still be in blkbackd. */
unsigned int domain_ref(const struct ctl *c, const char *arg)
{
	uint64_t id;

	return parse_uint(arg, UINT16_MAX, &id) ? domain_id(c, arg) : (unsigned int)id;
}

/* The name of a domain, or "?" (caller frees). */
char *domain_name(const struct ctl *c, unsigned int domid)
{
	char *name = bxs_read(c->xs, XBT_NULL, "/local/domain/%u/name", domid);

	return name ? name : strdup("?");
}

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

/* Seconds on the monotonic clock. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Wait until done(c, arg) is true, re-checking whenever something under
 * watch_path changes. Returns false on timeout.
 */
static bool wait_until(const struct ctl *c, const char *watch_path,
		       bool (*done)(const struct ctl *c, void *arg), void *arg)
{
	double deadline = now() + c->timeout;
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
		left = deadline - now();
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
			w->closed_at = now();
		return now() - w->closed_at >= ERROR_GRACE_S;
	}
	if (w->error)
		return false;
	if (w->want == XenbusStateInitWait)
		return w->state >= XenbusStateInitWait;
	return w->state == w->want;
}

/* blkbackctl attach DOMAIN SPEC [--vdev NAME] [--ro] */
static int cmd_attach(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vdev", required_argument, NULL, 'v' }, { "ro", no_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' }, { "nowait", no_argument, NULL, 'n' },
		{ 0 },
	};
	struct storage_spec spec;
	struct attach_wait w = { .error = NULL, .want = XenbusStateConnected };
	const char *vdev_arg = NULL, *text;
	char fe[128], err[STORAGE_ERR_LEN], vdev[16], path[200], *name;
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
		default: usage(stderr); return 2;
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
	printf("attached %s to domain %u (%s) as %s: %" PRIu64 " MiB%s\n", text, domid, name,
	       vdev, sectors >> 11, ro ? ", read-only" : "");
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

/* blkbackctl detach DOMAIN VDEV [--force] */
static int cmd_detach(struct ctl *c, int argc, char **argv)
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
		default: usage(stderr); return 2;
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

int main(int argc, char **argv)
{
	struct ctl c = { .kind = "vbd3", .timeout = 30 };
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--kind") && i + 1 < argc) {
			c.kind = argv[i + 1];
			i += 2;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			version_print("blkbackctl");
			return 0;
		} else {
			fprintf(stderr, "blkbackctl: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[i], "attach"))
		return cmd_attach(&c, argc - i, argv + i);
	if (!strcmp(argv[i], "detach"))
		return cmd_detach(&c, argc - i, argv + i);
	if (!strcmp(argv[i], "list")) {
		if (argc - i > 1)
			usage_die("list: takes no arguments; usage: blkbackctl list");
		return cmd_list(&c);
	}
	if (!strcmp(argv[i], "stats"))
		return cmd_stats(&c, argc - i, argv + i);
	if (!strcmp(argv[i], "resize"))
		return cmd_resize(&c, argc - i, argv + i);
	if (!strcmp(argv[i], "handover"))
		return cmd_handover(&c, argc - i, argv + i);
	if (!strcmp(argv[i], "unstall"))
		return cmd_unstall(&c, argc - i, argv + i);
	if (!strcmp(argv[i], "hotplug"))
		return cmd_hotplug(&c, argc - i, argv + i);
	fprintf(stderr, "blkbackctl: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return 2;
}
