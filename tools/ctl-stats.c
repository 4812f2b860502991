/* blkbackctl stats, resize, handover and unstall: requests to the daemon's control socket. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "../blkback/num.h"
#include "../blkback/stats.h"
#include "../blkback/vdev.h"
#include "../blkback/xs.h"
#include "../storage/storage.h"
#include "ctl.h"
#include "pidfile.h"

/* Print s as a JSON string, quoted and escaped; null for NULL. */
static void json_str(const char *s)
{
	if (!s) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
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
	"persistent_grants", "grant_copies", "grant_copy_calls", "ind_req", "queues",
	"poll_ns",	/* time the rings watched for work instead of sleeping */
	"poll_hits",	/* watches that found work: sleeps (and notifications) saved */
	"wakeups",	/* sleeps of the ring threads that ended */
	"halted",	/* 1: a ring stopped on a frontend that broke the ring protocol */
	"reconnects",	/* an engine with a server (nbd): lost connections that came back */
	"iops_limit", "iops_burst", "iops_tokens",	/* I/O limits: 0, none */
	"bps_limit", "bps_burst", "bps_tokens",
	"throttled",	/* requests that waited for the disk's I/O limits */
	"throttle_ns",	/* how long they waited, all together */
};

/* Print one disk's stats line as a JSON object, with what xenstore says of it (v). */
static void stats_json(const struct ctl *c, const char *line, const struct disk_view *v,
		       bool first)
{
	unsigned int domid = (unsigned int)kv_num(line, "domid");
	char vdev[16], *name = domain_name(c, domid), *engine = kv(line, "engine"),
	     *lat = kv(line, "lat_us"), *segs = kv(line, "segs"), *mode = kv(line, "grant_mode"),
	     *abi = kv(line, "abi"), *ro = kv(line, "ro"), *link = kv(line, "link");

	vdev_name((uint32_t)kv_num(line, "devid"), vdev, sizeof(vdev));
	printf("%s\n  {\"domain\": ", first ? "" : ",");
	json_str(name);
	printf(", \"domid\": %u, \"vdev\": \"%s\", \"engine\": \"%s\", \"size\": %" PRIu64
	       ", \"connected\": %s, \"grant_mode\": \"%s\", \"readonly\": %s, \"abi\": ", domid,
	       vdev, engine ? engine : "-", kv_num(line, "size"),
	       kv_num(line, "connected") ? "true" : "false", mode ? mode : "-",
	       (ro ? !strcmp(ro, "1") : v->ro) ? "true" : "false");
	json_str(abi && strcmp(abi, "-") ? abi : NULL);
	printf(", \"backend_state\": \"%s\", \"frontend_state\": \"%s\", \"spec\": ",
	       xenbus_state_name(v->bs), xenbus_state_name(v->fs));
	json_str(v->spec);
	printf(", \"error\": ");
	json_str(v->error);
	printf(", \"link\": ");	/* an engine with a server: connected or reconnecting */
	json_str(link);
	for (size_t i = 0; i < sizeof(stat_keys) / sizeof(stat_keys[0]); i++)
		printf(", \"%s\": %" PRIu64, stat_keys[i], kv_num(line, stat_keys[i]));
	printf(", \"segs_log2_histogram\": [%s], \"lat_p50_us\": %" PRIu64
	       ", \"lat_p99_us\": %" PRIu64 ", \"lat_us_log2_histogram\": [%s]}",
	       segs ? segs : "", lat_percentile(line, 0.5), lat_percentile(line, 0.99),
	       lat ? lat : "");
	free(segs);
	free(mode);
	free(name);
	free(engine);
	free(lat);
	free(abi);
	free(ro);
	free(link);
}

/* Under a disk's row, its I/O limits: in force, tokens held, requests that waited. */
static void limit_row(const char *line)
{
	char iops[64] = "none", bps[96] = "none", a[NUM_SIZE_TEXT], b[NUM_SIZE_TEXT],
	     t[NUM_SIZE_TEXT];

	if (kv_num(line, "iops_limit"))
		snprintf(iops, sizeof(iops), "%" PRIu64 "/s (burst %" PRIu64 ", holds %" PRIu64 ")",
			 kv_num(line, "iops_limit"), kv_num(line, "iops_burst"),
			 kv_num(line, "iops_tokens"));
	if (kv_num(line, "bps_limit"))
		snprintf(bps, sizeof(bps), "%s/s (burst %s, holds %s)",
			 num_size_text(kv_num(line, "bps_limit"), a),
			 num_size_text(kv_num(line, "bps_burst"), b),
			 num_size_text(kv_num(line, "bps_tokens"), t));
	printf("%-16s limits: iops %s, bps %s; %" PRIu64 " requests waited, %.3f s in all\n", "",
	       iops, bps, kv_num(line, "throttled"), (double)kv_num(line, "throttle_ns") / 1e9);
}

/* Print one disk's stats line as a table row, ending in what xenstore says of it (v). */
static void stats_row(const struct ctl *c, const char *line, const struct disk_view *v)
{
	unsigned int d = (unsigned int)kv_num(line, "domid");
	char vdev[16], dom[96], size[NUM_SIZE_TEXT] = "-", *name = domain_name(c, d),
	     *engine = kv(line, "engine"), *abi = kv(line, "abi"), *ro = kv(line, "ro");

	snprintf(dom, sizeof(dom), "%.64s (%u)", name, d);	/* domain names: <= 64 */
	vdev_name((uint32_t)kv_num(line, "devid"), vdev, sizeof(vdev));
	if (kv_num(line, "size"))
		num_size_text(kv_num(line, "size"), size);
	printf("%-16s %-6s %-6s %8s %9" PRIu64 " %9" PRIu64 " %7" PRIu64 " %7" PRIu64 " %6"
	       PRIu64 " %5" PRIu64 " %9" PRIu64 " %9" PRIu64 " %5" PRIu64 " %8" PRIu64 " %8"
	       PRIu64 "  %-4s %-10s %-12s %-12s %s\n", dom, vdev, engine ? engine : "-", size,
	       kv_num(line, "rd_req"), kv_num(line, "wr_req"), kv_num(line, "f_req"),
	       kv_num(line, "ds_req"), kv_num(line, "oo_req"), kv_num(line, "err_req"),
	       kv_num(line, "rd_sect"), kv_num(line, "wr_sect"), kv_num(line, "inflight"),
	       lat_percentile(line, 0.5), lat_percentile(line, 0.99),
	       (ro ? !strcmp(ro, "1") : v->ro) ? "ro" : "rw", abi ? abi : "-",
	       xenbus_state_name(v->bs), xenbus_state_name(v->fs), v->spec ? v->spec : "?");
	if (v->error)
		printf("%-16s error: %s\n", "", v->error);
	if (kv_num(line, "iops_limit") || kv_num(line, "bps_limit") || kv_num(line, "throttled"))
		limit_row(line);
	free(name);
	free(engine);
	free(abi);
	free(ro);
}

static const char *const daemon_keys[] = {
	"fds", "threads", "heap_bytes", "grant_pages", "mem_bytes", "kept", "disks",
};

/* Print the daemon line of a stats answer, as text or as a JSON object. */
static void stats_daemon(const char *answer, bool json)
{
	const char *p = answer;
	char *line;

	while (p && strncmp(p, "daemon ", 7))
		p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
	if (!p)
		die("blkbackd did not say what it holds: is it older than this blkbackctl?");
	line = strndup(p, strcspn(p, "\n"));
	if (!line)
		die("out of memory");
	for (size_t i = 0; i < sizeof(daemon_keys) / sizeof(daemon_keys[0]); i++) {
		uint64_t v = kv_num(line, daemon_keys[i]);

		if (json)
			printf("%s\"%s\": %" PRIu64, i ? ", " : "{", daemon_keys[i], v);
		else
			printf("%-12s %" PRIu64 "\n", daemon_keys[i], v);
	}
	if (json)
		printf("}\n");
	free(line);
}

/* blkbackctl stats [DOMAIN VDEV | --daemon] [--json] */
int cmd_stats(struct ctl *c, int argc, char **argv)
{
	bool json = false, first = true, daemon = false;
	unsigned int domid = UINT32_MAX;
	uint32_t devid = 0;
	char *answer, *line, *save = NULL, vdev[16];
	int nargs = 0;
	char *args[2];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--daemon"))
			daemon = true;
		else if (argv[i][0] != '-' && nargs < 2)
			args[nargs++] = argv[i];
		else
			usage_die("stats: unexpected '%s'; usage: blkbackctl stats [DOMAIN VDEV | "
				  "--daemon] [--json]", argv[i]);
	}
	if (nargs == 1)
		usage_die("stats: give both DOMAIN and VDEV, or neither");
	if (nargs && daemon)
		usage_die("stats: --daemon shows the daemon as a whole: give no DOMAIN and VDEV "
			  "with it");
	if (nargs == 2 && vdev_number(args[1], &devid))
		usage_die("bad disk name '%s': give one such as xvdb", args[1]);
	ctl_open(c);
	if (nargs == 2)
		domid = domain_ref(c, args[0]);
	answer = control_request(c, "stats");
	if (daemon) {
		stats_daemon(answer, json);
		free(answer);
		return 0;
	}
	vdev_name(devid, vdev, sizeof(vdev));
	if (domid != UINT32_MAX && !(line = stats_disk_line(answer, domid, devid)))
		die("blkbackd serves no %s to domain %u ('blkbackctl list' shows the attached "
		    "disks)", vdev, domid);
	if (domid != UINT32_MAX)
		free(line);
	if (json)
		printf("[");
	else
		printf("%-16s %-6s %-6s %8s %9s %9s %7s %7s %6s %5s %9s %9s %5s %8s %8s  %-4s %-10s "
		       "%-12s %-12s %s\n", "DOMAIN", "VDEV", "ENGINE", "SIZE", "RD_REQ", "WR_REQ",
		       "F_REQ", "DS_REQ", "OO_REQ", "ERR", "RD_SECT", "WR_SECT", "INFL", "P50_US",
		       "P99_US", "MODE", "ABI", "BACKEND", "FRONTEND", "SPEC");
	for (line = strtok_r(answer, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned int d = (unsigned int)kv_num(line, "domid");
		uint32_t dev = (uint32_t)kv_num(line, "devid");
		struct disk_view v;

		if (strncmp(line, "disk ", 5))	/* the daemon line: --daemon shows it */
			continue;
		if (domid != UINT32_MAX && (d != domid || dev != devid))
			continue;
		disk_view_read(c, d, dev, &v);
		if (json)
			stats_json(c, line, &v, first);
		else
			stats_row(c, line, &v);
		first = false;
		disk_view_free(&v);
	}
	if (json)
		printf("%s]\n", first ? "" : "\n");
	free(answer);
	return 0;
}

/* blkbackctl resize DOMAIN VDEV SIZE [--shrink] */
int cmd_resize(struct ctl *c, int argc, char **argv)
{
	char request[128], vdev[16], size[CTL_SIZE_TEXT], *args[3];
	bool shrink = false;
	unsigned int domid;
	uint64_t bytes;
	uint32_t devid;
	int nargs = 0, err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--shrink"))
			shrink = true;
		else if (argv[i][0] != '-' && nargs < 3)
			args[nargs++] = argv[i];
		else
			usage_die("resize: unexpected '%s'; usage: blkbackctl resize DOMAIN VDEV SIZE "
				  "[--shrink]", argv[i]);
	}
	if (nargs != 3)
		usage_die("resize: give DOMAIN, VDEV and SIZE, e.g. 'blkbackctl resize guest1 "
			  "xvdb 128M'");
	if (vdev_number(args[1], &devid))
		usage_die("bad disk name '%s': give one such as xvdb", args[1]);
	err = storage_parse_size(args[2], &bytes);
	if (err || !bytes) {
		char msg[256];

		num_error(msg, sizeof(msg), "size", args[2], err ? err : -EINVAL, true, 512,
			  STORAGE_MAX_SIZE);
		usage_die("%s", msg);
	}
	need_daemon(c);
	ctl_open(c);
	domid = domain_id(c, args[0]);
	snprintf(request, sizeof(request), "resize %u %u %" PRIu64 "%s", domid, devid, bytes,
		 shrink ? " shrink" : "");
	free(control_request(c, request));
	vdev_name(devid, vdev, sizeof(vdev));
	printf("resized %s on domain %u to %s\n", vdev, domid, ctl_size_text(bytes, size));
	return 0;
}

/*
 * blkbackctl handover [--timeout SECONDS]: the daemon exits, leaving connected disks to
 * the next one. Done only once the old process has gone (its pidfile lock is free): until
 * then one of its threads may still be writing, and the next daemon waits for that.
 */
int cmd_handover(struct ctl *c, int argc, char **argv)
{
	char path[256], *answer, *line, *save = NULL, disks[512] = "";
	double start, waited = 0;
	uint64_t secs;
	bool said = false;
	size_t len = 0;
	pid_t pid;
	int fd;

	if (argc == 3 && !strcmp(argv[1], "--timeout")) {
		if (num_parse_uint(argv[2], 86400, &secs) || !secs)
			usage_die("bad --timeout '%s': give a number of seconds from 1 to 86400",
				  argv[2]);
		c->timeout = (int)secs;
	} else if (argc > 1) {
		usage_die("handover: usage: blkbackctl handover [--timeout SECONDS]");
	}
	if (pidfile_path(c->kind, path, sizeof(path)))
		die("the run directory's path is too long: set BLKBACKD_RUNDIR to a shorter one");
	fd = open(path, O_RDONLY | O_CLOEXEC);	/* held: the daemon's lock is on this file */
	pid = pidfile_owner(path);
	if (fd < 0 || !pid)
		die("no blkbackd is running for kind %s (no live %s): nothing to hand over",
		    c->kind, path);
	answer = control_request(c, "leave");
	for (line = strtok_r(answer, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, "in-storage ", 11) && len < sizeof(disks))
			len += (size_t)snprintf(disks + len, sizeof(disks) - len, "%s%s",
						len ? ", " : "", line + 11);
	free(answer);
	start = ctl_now();
	/* Gone once the lock is free, or taken by the next daemon, which wrote its pid. */
	while (flock(fd, LOCK_SH | LOCK_NB) && pidfile_read(fd) == pid) {
		waited = ctl_now() - start;
		if (waited >= c->timeout)
			die("blkbackd (pid %ld) has left its disks but not exited after %d s: I/O "
			    "of %s is still in storage, and the next blkbackd will wait until that "
			    "has ended ('cat /proc/%ld/task/*/stack' shows where it hangs)",
			    (long)pid, c->timeout, disks[0] ? disks : "its disks", (long)pid);
		if (waited >= 1 && !said) {
			fprintf(stderr, "blkbackctl: waiting for blkbackd (pid %ld) to exit: I/O of "
				"%s is still in storage\n", (long)pid, disks[0] ? disks : "its disks");
			said = true;
		}
		poll(NULL, 0, 50);
	}
	close(fd);
	printf("blkbackd has left%s; connected disks wait for the next blkbackd to take "
	       "them over\n", said ? " and exited" : "");
	return 0;
}

/* blkbackctl unstall: a disk opened with fault=...:stall serves the I/O it holds. */
int cmd_unstall(struct ctl *c, int argc, char **argv)
{
	char request[64];
	unsigned int domid;
	uint32_t devid;

	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
		usage_die("unstall: give DOMAIN and VDEV, e.g. 'blkbackctl unstall guest1 xvdb'");
	if (vdev_number(argv[2], &devid))
		usage_die("bad disk name '%s': give one such as xvdb", argv[2]);
	need_daemon(c);
	ctl_open(c);
	domid = domain_ref(c, argv[1]);
	snprintf(request, sizeof(request), "unstall %u %u", domid, devid);
	free(control_request(c, request));
	printf("%s on domain %u: held I/O released\n", argv[2], domid);
	return 0;
}
