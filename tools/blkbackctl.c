/* blkbackctl: attach, detach and list the disks blkbackd serves. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xenstore.h>

#include "../blkback/stats.h"
#include "../blkback/vdev.h"
#include "../blkback/xenio.h"
#include "../blkback/xs.h"
#include "../storage/storage.h"
#include "pidfile.h"

struct ctl {
	struct xs_handle *xs;
	const char *kind;
	unsigned int self;		/* the backend domain: ours */
	char root[96];			/* /local/domain/<self>/backend/<kind> */
	int timeout;			/* seconds */
};

/* Print an error and exit 1. */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("blkbackctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Print usage to f. */
static void usage(FILE *f)
{
	fprintf(f,
		"usage: blkbackctl [--kind KIND] COMMAND ...\n"
		"\n"
		"  attach DOMAIN SPEC [--vdev NAME] [--ro] [--timeout SECONDS]\n"
		"      serve SPEC to DOMAIN (a name or a domid) and wait until it is connected.\n"
		"      SPEC: mem:size=SIZE[,name=NAME][,ro]   (SIZE: 64M, 1G, ...)\n"
		"      NAME keeps a ramdisk alive across detach, for as long as blkbackd runs.\n"
		"  detach DOMAIN VDEV [--timeout SECONDS] [--force]\n"
		"      close the disk in the guest and remove it.\n"
		"  list\n"
		"      the disks blkbackd serves, with their states.\n"
		"  stats [DOMAIN VDEV] [--json]\n"
		"      request counters and latencies of every disk, or of one.\n"
		"  resize DOMAIN VDEV SIZE [--shrink]\n"
		"      grow (or with --shrink, shrink) a disk under the running guest.\n"
		"\n"
		"  --kind KIND   backend kind blkbackd serves (default vbd3)\n");
}

/* Connect to xenstore and find our own domid. */
static void ctl_open(struct ctl *c)
{
	uint64_t self = 0;

	c->xs = xs_open(0);
	if (!c->xs)
		die("cannot connect to xenstore: %s; run as root in dom0 with xenstored running",
		    strerror(errno));
	bxs_read_uint(c->xs, XBT_NULL, "domid", UINT16_MAX, &self);
	c->self = (unsigned int)self;
	snprintf(c->root, sizeof(c->root), "/local/domain/%u/backend/%s", c->self, c->kind);
}

/* Refuse to go on when no daemon serves our kind. */
static void need_daemon(const struct ctl *c)
{
	char path[256];

	pidfile_path(c->kind, path, sizeof(path));
	if (!pidfile_owner(path))
		die("no blkbackd is running for kind %s (no live %s): start it with "
		    "'blkbackd --daemon', then try again", c->kind, path);
}

/* Parse a --timeout value in seconds. */
static int parse_timeout(const char *s)
{
	uint64_t v;

	if (parse_uint(s, 86400, &v) || !v)
		die("bad --timeout '%s': give a number of seconds between 1 and 86400", s);
	return (int)v;
}

/* Resolve a domain name or id; die with advice if there is no such domain. */
static unsigned int domain_id(const struct ctl *c, const char *arg)
{
	unsigned int n, found = UINT32_MAX;
	char **doms;
	uint64_t id;

	if (!parse_uint(arg, UINT16_MAX, &id)) {
		char *dir = bxs_read(c->xs, XBT_NULL, "/local/domain/%" PRIu64, id);

		if (!dir)
			die("there is no domain %" PRIu64 " ('xl list' shows the running domains)", id);
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
		die("there is no domain named '%s' ('xl list' shows the running domains)", arg);
	return found;
}

/* The name of a domain, or "?" (caller frees). */
static char *domain_name(const struct ctl *c, unsigned int domid)
{
	char *name = bxs_read(c->xs, XBT_NULL, "/local/domain/%u/name", domid);

	return name ? name : strdup("?");
}

/* Read a node as an int; dflt if absent or malformed. */
static int read_int(const struct ctl *c, const char *path, int dflt)
{
	uint64_t v;

	return bxs_read_uint(c->xs, XBT_NULL, path, INT32_MAX, &v) ? dflt : (int)v;
}

/* Does path exist? */
static bool exists(const struct ctl *c, const char *path)
{
	char *s = bxs_read(c->xs, XBT_NULL, "%s", path);

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
		if (!exists(c, path))
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

/* Write the backend and frontend nodes of a new disk in one transaction. */
static void write_nodes(const struct ctl *c, unsigned int domid, uint32_t devid,
			const char *spec, bool ro, const char *be, const char *fe)
{
	char vdev[16];

	vdev_name(devid, vdev, sizeof(vdev));
	for (;;) {
		xs_transaction_t t = xs_transaction_start(c->xs);
		bool ok;

		if (t == XBT_NULL)
			die("cannot start a xenstore transaction: %s", strerror(errno));
		if (exists(c, be) || exists(c, fe)) {
			xs_transaction_end(c->xs, t, true);
			die("%s is already in use on domain %u: detach it first, or pick another "
			    "name with --vdev", vdev, domid);
		}
		/* Nodes created below a directory inherit its permissions. */
		ok = set_perms(c, t, be, c->self, domid) &&
		     !bxs_printf(c->xs, t, be, "frontend", "%s", fe) &&
		     !bxs_printf(c->xs, t, be, "frontend-id", "%u", domid) &&
		     !bxs_printf(c->xs, t, be, "online", "1") &&
		     !bxs_printf(c->xs, t, be, "removable", "0") &&
		     !bxs_printf(c->xs, t, be, "bootable", "0") &&
		     !bxs_printf(c->xs, t, be, "mode", "%s", ro ? "r" : "w") &&
		     !bxs_printf(c->xs, t, be, "device-type", "disk") &&
		     !bxs_printf(c->xs, t, be, "dev", "%s", vdev) &&
		     !bxs_printf(c->xs, t, be, "params", "%s", spec) &&
		     !bxs_printf(c->xs, t, be, "state", "%d", XenbusStateInitialising) &&
		     set_perms(c, t, fe, domid, c->self) &&
		     !bxs_printf(c->xs, t, fe, "backend", "%s", be) &&
		     !bxs_printf(c->xs, t, fe, "backend-id", "%u", c->self) &&
		     !bxs_printf(c->xs, t, fe, "virtual-device", "%u", devid) &&
		     !bxs_printf(c->xs, t, fe, "device-type", "disk") &&
		     !bxs_printf(c->xs, t, fe, "state", "%d", XenbusStateInitialising);
		if (!ok) {
			int err = errno;

			xs_transaction_end(c->xs, t, true);
			die("cannot write the xenstore nodes of %s: %s", be, strerror(err));
		}
		if (xs_transaction_end(c->xs, t, false))
			return;
		if (errno != EAGAIN)
			die("cannot commit the xenstore nodes of %s: %s", be, strerror(errno));
	}
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
		if (poll(&pfd, 1, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
	}
	xs_unwatch(c->xs, watch_path, "wait");
	return ok;
}

struct attach_wait {
	char be[128];
	char *error;	/* the backend's error node, once it appears */
};

/* Is the backend Connected, or has it given up with an error? */
static bool attach_done(const struct ctl *c, void *arg)
{
	struct attach_wait *w = arg;
	char path[160];

	snprintf(path, sizeof(path), "%s/error", w->be);
	free(w->error);
	w->error = bxs_read(c->xs, XBT_NULL, "%s", path);
	snprintf(path, sizeof(path), "%s/state", w->be);
	return w->error || read_int(c, path, 0) == XenbusStateConnected;
}

/* blkbackctl attach DOMAIN SPEC [--vdev NAME] [--ro] */
static int cmd_attach(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vdev", required_argument, NULL, 'v' }, { "ro", no_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' }, { 0 },
	};
	struct storage_spec spec;
	struct attach_wait w = { .error = NULL };
	const char *vdev_arg = NULL;
	char fe[128], err[512], vdev[16], path[200], *name;
	unsigned int domid;
	uint32_t devid;
	bool ro = false;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "v:rt:", opts, NULL)) != -1) {
		switch (opt) {
		case 'v': vdev_arg = optarg; break;
		case 'r': ro = true; break;
		case 't': c->timeout = parse_timeout(optarg); break;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "blkbackctl attach: give DOMAIN and SPEC, e.g. "
			"'blkbackctl attach guest1 mem:size=64M'\n");
		return 2;
	}
	if (storage_spec_parse(argv[optind + 1], &spec, err, sizeof(err)))
		die("%s", err);
	ro |= spec.readonly;
	storage_spec_free(&spec);
	if (vdev_arg && vdev_number(vdev_arg, &devid))
		die("bad --vdev '%s': give a disk name such as xvdb", vdev_arg);
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
	write_nodes(c, domid, devid, argv[optind + 1], ro, w.be, fe);

	name = domain_name(c, domid);
	if (!wait_until(c, w.be, attach_done, &w)) {
		snprintf(path, sizeof(path), "%s/state", w.be);
		int bs = read_int(c, path, 0);
		snprintf(path, sizeof(path), "%s/state", fe);
		int fs = read_int(c, path, 0);
		die("%s on domain %u (%s) is not connected after %d s: backend %s, frontend %s. %s "
		    "The disk stays attached and connects when the guest is ready; "
		    "'blkbackctl detach %u %s' removes it.", vdev, domid, name, c->timeout,
		    xenbus_state_name(bs), xenbus_state_name(fs),
		    bs == XenbusStateInitialising ? "blkbackd has not picked it up: is it serving "
		    "this kind (--kind)?" : fs <= XenbusStateInitialising ? "The guest has not "
		    "answered: is xen-blkfront loaded in it?" : "", domid, vdev);
	}
	if (w.error) {
		remove_nodes(c, domid, w.be, fe);
		die("blkbackd could not serve %s to domain %u (%s): %s", vdev, domid, name, w.error);
	}
	snprintf(path, sizeof(path), "%s/sectors", w.be);
	printf("attached %s to domain %u (%s) as %s: %" PRIu64 " MiB%s\n", argv[optind + 1],
	       domid, name, vdev, (uint64_t)read_int(c, path, 0) >> 11, ro ? ", read-only" : "");
	free(name);
	free(w.error);
	return 0;
}

/* Has the backend reached Closed, or gone? */
static bool detach_done(const struct ctl *c, void *arg)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/state", (const char *)arg);
	return read_int(c, path, XenbusStateClosed) == XenbusStateClosed;
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
	if (argc - optind != 2) {
		fprintf(stderr, "blkbackctl detach: give DOMAIN and VDEV, e.g. "
			"'blkbackctl detach guest1 xvdb'\n");
		return 2;
	}
	if (vdev_number(argv[optind + 1], &devid))
		die("bad disk name '%s': give one such as xvdb", argv[optind + 1]);
	ctl_open(c);
	domid = domain_id(c, argv[optind]);
	vdev_name(devid, vdev, sizeof(vdev));
	snprintf(be, sizeof(be), "%s/%u/%u", c->root, domid, devid);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vbd/%u", domid, devid);
	if (!exists(c, be))
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

/*
 * Send one request line to the daemon's control socket; return its answer
 * (caller frees), without the final "ok" line. Dies on an "error" answer.
 */
static char *control_request(const struct ctl *c, const char *request)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *last;
	ssize_t n;
	int fd;

	if (!buf)
		die("out of memory");
	run_path(c->kind, "sock", sa.sun_path, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("cannot reach blkbackd at %s: %s; is it running ('blkbackd --daemon' "
		    "starts it)?", sa.sun_path, strerror(errno));
	if (write(fd, request, strlen(request)) < 0 || write(fd, "\n", 1) < 0)
		die("cannot send to blkbackd: %s", strerror(errno));
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2 && !(buf = realloc(buf, cap *= 2)))
			die("out of memory");
	}
	close(fd);
	buf[len] = '\0';
	/* The answer's last line is "ok" or "error MESSAGE". */
	while (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	last = strrchr(buf, '\n');
	last = last ? last + 1 : buf;
	if (!strncmp(last, "error ", 6))
		die("%s", last + 6);
	if (strcmp(last, "ok"))
		die("blkbackd gave no answer to '%s' (it may have stopped)", request);
	*last = '\0';
	return buf;
}

/* The value of key in a "key=value key=value" line, or NULL (caller frees). */
static char *kv(const char *line, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = line; (p = strstr(p, key)); p += klen) {
		if ((p == line || p[-1] == ' ') && p[klen] == '=')
			return strndup(p + klen + 1, strcspn(p + klen + 1, " "));
	}
	return NULL;
}

/* A numeric value of a stats line; 0 if absent. */
static uint64_t kv_num(const char *line, const char *key)
{
	char *v = kv(line, key);
	uint64_t n = v ? strtoull(v, NULL, 10) : 0;

	free(v);
	return n;
}

/* The latency (microseconds, a bucket's upper bound) below which frac of requests fall. */
static uint64_t lat_percentile(const char *line, double frac)
{
	uint64_t h[LAT_BUCKETS] = { 0 }, total = 0, seen = 0;
	char *v = kv(line, "lat_us"), *p = v;

	for (unsigned int b = 0; p && *p && b < LAT_BUCKETS; b++) {
		h[b] = strtoull(p, &p, 10);
		total += h[b];
		p += *p == ',';
	}
	free(v);
	for (unsigned int b = 0; total && b < LAT_BUCKETS; b++) {
		seen += h[b];
		if (seen >= frac * (double)total)
			return b ? 1ull << b : 1;
	}
	return 0;
}

static const char *const stat_keys[] = {
	"rd_req", "wr_req", "f_req", "ds_req", "oo_req", "err_req", "rd_sect", "wr_sect",
	"ds_sect", "inflight", "notifies", "grant_maps", "grant_map_calls", "grant_unmaps",
};

/* Print one disk's stats line as a JSON object. */
static void stats_json(const struct ctl *c, const char *line, bool first)
{
	unsigned int domid = (unsigned int)kv_num(line, "domid");
	char vdev[16], *name = domain_name(c, domid), *engine = kv(line, "engine"),
	     *lat = kv(line, "lat_us");

	vdev_name((uint32_t)kv_num(line, "devid"), vdev, sizeof(vdev));
	printf("%s\n  {\"domain\": \"%s\", \"domid\": %u, \"vdev\": \"%s\", \"engine\": \"%s\", "
	       "\"size\": %" PRIu64 ", \"connected\": %s", first ? "" : ",", name, domid, vdev,
	       engine ? engine : "-", kv_num(line, "size"),
	       kv_num(line, "connected") ? "true" : "false");
	for (size_t i = 0; i < sizeof(stat_keys) / sizeof(stat_keys[0]); i++)
		printf(", \"%s\": %" PRIu64, stat_keys[i], kv_num(line, stat_keys[i]));
	printf(", \"lat_p50_us\": %" PRIu64 ", \"lat_p99_us\": %" PRIu64
	       ", \"lat_us_log2_histogram\": [%s]}", lat_percentile(line, 0.5),
	       lat_percentile(line, 0.99), lat ? lat : "");
	free(name);
	free(engine);
	free(lat);
}

/* blkbackctl stats [DOMAIN VDEV] [--json] */
static int cmd_stats(struct ctl *c, int argc, char **argv)
{
	bool json = false, first = true;
	unsigned int domid = UINT32_MAX;
	uint32_t devid = 0;
	char *answer, *line, *save = NULL;
	int nargs = 0;
	char *args[2];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (argv[i][0] != '-' && nargs < 2)
			args[nargs++] = argv[i];
		else
			die("stats: unexpected '%s'; usage: blkbackctl stats [DOMAIN VDEV] [--json]",
			    argv[i]);
	}
	if (nargs == 1)
		die("stats: give both DOMAIN and VDEV, or neither");
	if (nargs == 2 && vdev_number(args[1], &devid))
		die("bad disk name '%s': give one such as xvdb", args[1]);
	ctl_open(c);
	if (nargs == 2)
		domid = domain_id(c, args[0]);
	answer = control_request(c, "stats");
	if (json)
		printf("[");
	else
		printf("%-16s %-6s %-6s %8s %9s %9s %7s %7s %6s %5s %9s %9s %5s %8s %8s\n", "DOMAIN",
		       "VDEV", "ENGINE", "SIZE", "RD_REQ", "WR_REQ", "F_REQ", "DS_REQ", "OO_REQ",
		       "ERR", "RD_SECT", "WR_SECT", "INFL", "P50_US", "P99_US");
	for (line = strtok_r(answer, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned int d = (unsigned int)kv_num(line, "domid");
		char vdev[16], dom[40], *name, *engine;

		if (domid != UINT32_MAX && (d != domid || kv_num(line, "devid") != devid))
			continue;
		if (json) {
			stats_json(c, line, first);
			first = false;
			continue;
		}
		name = domain_name(c, d);
		engine = kv(line, "engine");
		snprintf(dom, sizeof(dom), "%.10s (%u)", name, d);
		vdev_name((uint32_t)kv_num(line, "devid"), vdev, sizeof(vdev));
		printf("%-16s %-6s %-6s %7" PRIu64 "M %9" PRIu64 " %9" PRIu64 " %7" PRIu64 " %7"
		       PRIu64 " %6" PRIu64 " %5" PRIu64 " %9" PRIu64 " %9" PRIu64 " %5" PRIu64 " %8"
		       PRIu64 " %8" PRIu64 "\n", dom, vdev, engine ? engine : "-",
		       kv_num(line, "size") >> 20, kv_num(line, "rd_req"), kv_num(line, "wr_req"),
		       kv_num(line, "f_req"), kv_num(line, "ds_req"), kv_num(line, "oo_req"),
		       kv_num(line, "err_req"), kv_num(line, "rd_sect"), kv_num(line, "wr_sect"),
		       kv_num(line, "inflight"), lat_percentile(line, 0.5),
		       lat_percentile(line, 0.99));
		free(name);
		free(engine);
	}
	if (json)
		printf("%s]\n", first ? "" : "\n");
	free(answer);
	return 0;
}

/* blkbackctl resize DOMAIN VDEV SIZE [--shrink] */
static int cmd_resize(struct ctl *c, int argc, char **argv)
{
	char request[128], vdev[16], *args[3];
	bool shrink = false;
	unsigned int domid;
	uint64_t bytes;
	uint32_t devid;
	int nargs = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--shrink"))
			shrink = true;
		else if (argv[i][0] != '-' && nargs < 3)
			args[nargs++] = argv[i];
		else
			die("resize: unexpected '%s'; usage: blkbackctl resize DOMAIN VDEV SIZE "
			    "[--shrink]", argv[i]);
	}
	if (nargs != 3)
		die("resize: give DOMAIN, VDEV and SIZE, e.g. 'blkbackctl resize guest1 xvdb 128M'");
	if (vdev_number(args[1], &devid))
		die("bad disk name '%s': give one such as xvdb", args[1]);
	if (storage_parse_size(args[2], &bytes) || !bytes)
		die("bad size '%s': give a number with an optional K, M, G or T suffix", args[2]);
	need_daemon(c);
	ctl_open(c);
	domid = domain_id(c, args[0]);
	snprintf(request, sizeof(request), "resize %u %u %" PRIu64 "%s", domid, devid, bytes,
		 shrink ? " shrink" : "");
	free(control_request(c, request));
	vdev_name(devid, vdev, sizeof(vdev));
	printf("resized %s on domain %u to %" PRIu64 " MiB\n", vdev, domid, bytes >> 20);
	return 0;
}

/* blkbackctl list */
static int cmd_list(struct ctl *c)
{
	unsigned int nd = 0, nv;
	char **doms, **vdevs;

	ctl_open(c);
	printf("%-20s %-8s %-13s %-13s %10s  %s\n", "DOMAIN", "VDEV", "BACKEND", "FRONTEND",
	       "SIZE", "SPEC");
	doms = xs_directory(c->xs, XBT_NULL, c->root, &nd);
	for (unsigned int i = 0; doms && i < nd; i++) {
		char path[200], dom[40], vdev[16], *name, *params, *fe;
		uint64_t domid, devid, sectors;

		if (parse_uint(doms[i], UINT16_MAX, &domid))
			continue;
		name = domain_name(c, (unsigned int)domid);
		snprintf(dom, sizeof(dom), "%.24s (%" PRIu64 ")", name, domid);
		snprintf(path, sizeof(path), "%s/%s", c->root, doms[i]);
		vdevs = xs_directory(c->xs, XBT_NULL, path, &nv);
		for (unsigned int k = 0; vdevs && k < nv; k++) {
			char size[24] = "-";

			if (parse_uint(vdevs[k], UINT32_MAX, &devid))
				continue;
			vdev_name((uint32_t)devid, vdev, sizeof(vdev));
			params = bxs_read(c->xs, XBT_NULL, "%s/%s/params", path, vdevs[k]);
			fe = bxs_read(c->xs, XBT_NULL, "%s/%s/frontend", path, vdevs[k]);
			snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s/sectors",
				 vdevs[k]);
			if (!bxs_read_uint(c->xs, XBT_NULL, path, UINT64_MAX, &sectors))
				snprintf(size, sizeof(size), "%" PRIu64 "M", sectors >> 11);
			snprintf(path, sizeof(path), "%s/%s/%s/state", c->root, doms[i], vdevs[k]);
			int bs = read_int(c, path, 0);
			snprintf(path, sizeof(path), "%s/state", fe ? fe : "/nonexistent");
			int fs = read_int(c, path, 0);
			printf("%-20s %-8s %-13s %-13s %10s  %s\n", dom, vdev, xenbus_state_name(bs),
			       xenbus_state_name(fs), size, params ? params : "?");
			snprintf(path, sizeof(path), "%s/%s", c->root, doms[i]);
			free(params);
			free(fe);
		}
		free(vdevs);
		free(name);
	}
	free(doms);
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
	if (!strcmp(argv[i], "list"))
		return cmd_list(&c);
	if (!strcmp(argv[i], "stats"))
		return cmd_stats(&c, argc - i, argv + i);
	if (!strcmp(argv[i], "resize"))
		return cmd_resize(&c, argc - i, argv + i);
	fprintf(stderr, "blkbackctl: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return 2;
}
