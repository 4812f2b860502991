/* The control socket: one request line per connection, answered and closed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "device.h"
#include "log.h"
#include "procstat.h"
#include "xs.h"
#include "../storage/storage.h"

/* Listen on path (a stale socket there is replaced); its directory must exist. */
int control_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* The pidfile lock is ours, so a socket left here belongs to a dead daemon. */
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) || listen(fd, 8)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* A resize has ended: answer its request and close the connection. */
static void resize_done(void *arg, int err, const char *msg)
{
	FILE *f = arg;

	if (err)
		fprintf(f, "error %s\n", msg);
	else
		fprintf(f, "ok\n");
	fclose(f);
}

/*
 * resize DOMID DEVID BYTES [shrink]; true if the request is answered later, once the
 * resize has run on its own thread (resize_done): storage may take long or hang.
 */
static bool do_resize(struct blk_backend *be, char *args, FILE *out)
{
	char *dom = strtok(args, " "), *dev = strtok(NULL, " "), *size = strtok(NULL, " ");
	char *flag = strtok(NULL, " "), err[512];
	uint64_t domid, devid, bytes;
	struct blk_dev *d;

	if (!dom || !dev || !size || parse_uint(dom, UINT16_MAX, &domid) ||
	    parse_uint(dev, UINT32_MAX, &devid) || parse_uint(size, UINT64_MAX, &bytes) ||
	    (flag && strcmp(flag, "shrink"))) {
		fprintf(out, "error usage: resize DOMID DEVID BYTES [shrink]\n");
		return false;
	}
	d = device_find(be, (uint32_t)domid, (uint32_t)devid);
	if (!d) {
		fprintf(out, "error blkbackd serves no disk %" PRIu64 " on domain %" PRIu64 "\n",
			devid, domid);
	} else if (d->disk && bytes < d->size && !flag) {
		fprintf(out, "error %s: %" PRIu64 " bytes is smaller than the disk (%" PRIu64
			"); pass --shrink to drop the data past the new end\n", d->name, bytes,
			d->size);
	} else if (device_resize(d, bytes, resize_done, out, err, sizeof(err))) {
		fprintf(out, "error %s\n", err);
	} else {
		return true;
	}
	return false;
}

/* unstall DOMID DEVID: a disk opened with fault=...:stall lets its held I/O go on */
static void do_unstall(struct blk_backend *be, char *args, FILE *out)
{
	char *dom = strtok(args, " "), *dev = strtok(NULL, " ");
	uint64_t domid, devid;
	struct blk_dev *d;

	if (!dom || !dev || strtok(NULL, " ") || parse_uint(dom, UINT16_MAX, &domid) ||
	    parse_uint(dev, UINT32_MAX, &devid)) {
		fprintf(out, "error usage: unstall DOMID DEVID\n");
		return;
	}
	d = device_find(be, (uint32_t)domid, (uint32_t)devid);
	if (!d)
		fprintf(out, "error blkbackd serves no disk %" PRIu64 " on domain %" PRIu64 "\n",
			devid, domid);
	else if (!d->disk || storage_fault_release(d->disk))
		fprintf(out, "error %s was not opened with fault=START+COUNT:stall\n", d->name);
	else
		fprintf(out, "ok\n");
}

/*
 * limit DOMID DEVID [KEY=VALUE...]: change a disk's I/O limits (iops=, iops-burst=, bps=,
 * bps-burst=; what is not given stays), answering "limits" and the limits in force.
 */
static void do_limit(struct blk_backend *be, char *args, FILE *out)
{
	char *dom = strtok(args, " "), *dev = strtok(NULL, " "), *opt, err[512];
	struct storage_limits given;
	uint64_t domid, devid;
	struct blk_dev *d;
	bool changed = false;

	storage_limits_unset(&given);
	if (!dom || !dev || parse_uint(dom, UINT16_MAX, &domid) ||
	    parse_uint(dev, UINT32_MAX, &devid)) {
		fprintf(out, "error usage: limit DOMID DEVID [iops=N] [iops-burst=N] [bps=BYTES] "
			"[bps-burst=BYTES]\n");
		return;
	}
	d = device_find(be, (uint32_t)domid, (uint32_t)devid);
	if (!d) {
		fprintf(out, "error blkbackd serves no disk %" PRIu64 " on domain %" PRIu64 "\n",
			devid, domid);
		return;
	}
	while ((opt = strtok(NULL, " "))) {
		char *val = strchr(opt, '=');
		int e;

		if (val)
			*val++ = '\0';
		e = storage_limit_option(&given, opt, val, err, sizeof(err));
		if (e == -ENOENT)
			snprintf(err, sizeof(err), "unknown limit '%.32s': give iops=N, iops-burst=N, "
				 "bps=BYTES or bps-burst=BYTES", opt);
		if (e) {
			fprintf(out, "error %s: %s\n", d->name, err);
			return;
		}
		changed = true;
	}
	if (changed) {
		if (iolimit_change(&d->limit, &given, now_ns(), err, sizeof(err))) {
			fprintf(out, "error %s: %s\n", d->name, err);
			return;
		}
		for (unsigned int q = 0; q < d->nr_rings; q++)
			blk_ring_limit_changed(d->rings[q]);
		log_info("%s: I/O limits set: iops %" PRIu64 " (burst %" PRIu64 "), bps %" PRIu64
			 " (burst %" PRIu64 ") (0: none)", d->name, d->limit.req.rate,
			 d->limit.req.burst, d->limit.bytes.rate, d->limit.bytes.burst);
	}
	fputs("limits", out);
	device_limit_stats(d, out);
	fputs("\n", out);
	fprintf(out, "ok\n");
}

/* free UUID/VDEV: free a kept memory disk (the key without its prefix, as list shows). */
static void do_free(const char *args, FILE *out)
{
	char key[160];
	size_t len = strlen(args), pre = strlen(STORAGE_MEM_KEY_PREFIX);

	if (!len || strchr(args, ' ') || len + pre >= sizeof(key)) {
		fprintf(out, "error usage: free UUID/VDEV\n");
		return;
	}
	memcpy(key, STORAGE_MEM_KEY_PREFIX, pre);
	memcpy(key + pre, args, len + 1);
	if (storage_mem_free(key)) {
		fprintf(out, "error no kept memory disk %s ('blkbackctl list' shows the kept "
			"ones; one attached to a guest is freed by detaching it)\n", args);
		return;
	}
	log_info("memory disk %s freed on request", key);
	fprintf(out, "ok\n");
}

/* Accept one connection on the listening fd and answer its request. */
void control_serve(int lfd, struct blk_backend *be)
{
	struct timeval tv = { .tv_sec = 2 };	/* a stuck client must not stall the daemon */
	char line[256];
	FILE *f;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	f = fdopen(fd, "r+");
	if (!f) {
		close(fd);
		return;
	}
	if (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		log_debug(LOG_XS, "control request: %s", line);
		fseek(f, 0, SEEK_CUR);	/* switch the stream from reading to writing */
		if (!strcmp(line, "stats")) {
			unsigned int disks = 0;

			for (struct blk_dev *d = be->devs; d; d = d->next, disks++)
				device_stats(d, f);
			storage_mem_kept_print(f);
			procstat_print(f, disks);
			fprintf(f, "ok\n");
		} else if (!strncmp(line, "free ", 5)) {
			do_free(line + 5, f);
		} else if (!strncmp(line, "resize ", 7)) {
			if (do_resize(be, line + 7, f))
				return;	/* answered by resize_done */
		} else if (!strncmp(line, "limit ", 6)) {
			do_limit(be, line + 6, f);
		} else if (!strncmp(line, "unstall ", 8)) {
			do_unstall(be, line + 8, f);
		} else if (!strcmp(line, "leave")) {
			/* Answered by control_leave_done, once everything is let go. */
			be->leaving = true;
			be->leave_reply = f;
			return;
		} else {
			fprintf(f, "error unknown request '%.64s'\n", line);
		}
	}
	fclose(f);
}

/*
 * Answer the leave request, once the daemon has let go of everything it could: a line
 * "in-storage NAME" for each disk whose storage still holds I/O (the process exits only
 * once that I/O has ended), then "ok".
 */
void control_leave_done(struct blk_backend *be)
{
	FILE *f = be->leave_reply;

	if (!f)
		return;
	for (struct blk_dev *d = be->devs; d; d = d->next)
		fprintf(f, "in-storage %s\n", d->name);
	fprintf(f, "ok\n");
	fclose(f);
	be->leave_reply = NULL;
}
