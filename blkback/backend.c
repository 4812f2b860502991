/* The backend directory: watches, device discovery, domain death, shutdown. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "device.h"
#include "log.h"
#include "memkeep.h"
#include "xs.h"

#define TOKEN_BACKEND "backend"
#define TOKEN_RELEASE "release"
#define SHUTDOWN_WAIT_S 10	/* how long a shutdown waits for storage to answer, unless told */

/* A new eventfd for the main loop, or -errno (logged). */
static int new_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), err;

	if (fd >= 0)
		return fd;
	err = -errno;
	log_err("cannot make an eventfd: %s", strerror(-err));
	return err;
}

/* Connect to xenstore and watch the backend directory. */
int backend_open(struct blk_backend *be, const struct blk_backend_opts *opts)
{
	const char *kind = opts->kind ? opts->kind : "vbd3";
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t self = 0;
	uint64_t all = opts->grant_pages ? opts->grant_pages : GRANT_DAEMON_PAGES_DEFAULT;
	/* A domain's default is never more than the daemon's limit. */
	uint64_t dom = opts->grant_pages_domain ? opts->grant_pages_domain :
		       all < GRANT_DOMAIN_PAGES_DEFAULT ? all : GRANT_DOMAIN_PAGES_DEFAULT;
	int err;

	/* The limits every ring and ramdisk shares (see grant-limit.c and storage/mem.c). */
	err = grant_set_limits(dom, all);
	if (err) {
		log_err("--grant-pages-domain must be from %u to --grant-pages (default %u)",
			GRANT_LIMIT_MIN_PAGES, GRANT_DAEMON_PAGES_DEFAULT);
		return err;
	}
	storage_mem_set_limit(opts->mem_limit);
	memset(be, 0, sizeof(*be));
	snprintf(be->kind, sizeof(be->kind), "%s", kind);
	/* One queue per online CPU unless asked, as Linux blkback's xen_blkif_max_queues. */
	be->max_queues = opts->max_queues ? opts->max_queues : cpus > 0 ? (unsigned int)cpus : 1;
	if (be->max_queues > BLK_MAX_QUEUES)
		be->max_queues = BLK_MAX_QUEUES;
	be->grant_mode = opts->grant_mode;
	be->poll_us = opts->poll_us;
	be->shutdown_wait_s = opts->shutdown_wait_s ? opts->shutdown_wait_s : SHUTDOWN_WAIT_S;
	if (opts->state_dir)
		snprintf(be->state_dir, sizeof(be->state_dir), "%s", opts->state_dir);
	be->stopped_fd = new_eventfd();
	be->task_fd = new_eventfd();
	be->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	be->keep_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (be->retry_fd < 0 || be->keep_fd < 0)
		log_err("cannot make a timerfd: %s", strerror(errno));
	be->mem_grace_s = opts->mem_grace_set ? opts->mem_grace_s : MEM_GRACE_S;
	if (be->stopped_fd < 0 || be->task_fd < 0 || be->retry_fd < 0 || be->keep_fd < 0) {
		backend_close(be);
		return -EMFILE;
	}
	/* Storage that changes size by itself says so on task_fd too (backend_reap_jobs). */
	storage_set_notify_fd(be->task_fd);
	be->xs = xs_open(0);
	if (!be->xs) {
		err = -errno;
		log_err("cannot connect to xenstore: %s (is xenstored running, and are we in dom0 "
			"or a driver domain?)", strerror(errno));
		backend_close(be);
		return err;
	}
	/* Relative paths are under our own /local/domain/<id>; dom0 may lack the node. */
	bxs_read_uint(be->xs, XBT_NULL, "domid", UINT16_MAX, &self);
	be->self = (unsigned int)self;
	snprintf(be->root, sizeof(be->root), "/local/domain/%u/backend/%s", be->self, kind);
	if (!xs_watch(be->xs, be->root, TOKEN_BACKEND) ||
	    !xs_watch(be->xs, "@releaseDomain", TOKEN_RELEASE)) {
		err = -errno;
		log_err("cannot watch %s: %s", be->root, strerror(errno));
		backend_close(be);
		return err;
	}
	log_info("serving %s as domain %u", be->root, be->self);
	memkeep_init();
	return 0;
}

/* The fd to poll for watch events. */
int backend_fd(const struct blk_backend *be)
{
	return xs_fileno(be->xs);
}

/* A directory the scan lists could not be read (err): unless it is gone, scan again later. */
static void scan_failed(struct blk_backend *be, const char *path, int err)
{
	if (err != ENOENT &&
	    backend_retry_later(be, &be->scan_fails, "backend", path, err ? -err : -EIO))
		be->scan_retry = true;
}

/* Update every device, and create the ones that appeared. */
static void backend_scan(struct blk_backend *be)
{
	struct blk_dev *d, *next;
	unsigned int nd, nv;
	char **doms, **vdevs, path[160];
	uint64_t domid, devid;

	doms = xs_directory(be->xs, XBT_NULL, be->root, &nd);
	if (!doms)
		scan_failed(be, be->root, errno);
	for (unsigned int i = 0; doms && i < nd; i++) {
		if (parse_uint(doms[i], UINT16_MAX, &domid))
			continue;
		snprintf(path, sizeof(path), "%s/%s", be->root, doms[i]);
		vdevs = xs_directory(be->xs, XBT_NULL, path, &nv);
		if (!vdevs)
			scan_failed(be, path, errno);
		for (unsigned int k = 0; vdevs && k < nv; k++)
			if (!parse_uint(vdevs[k], UINT32_MAX, &devid))
				device_get(be, (uint32_t)domid, (uint32_t)devid);
		free(vdevs);
	}
	free(doms);
	for (d = be->devs; d; d = next) {
		next = d->next;
		device_update(d);
	}
}

/* A watch fired under the backend root: find the device it concerns. */
static void backend_event(struct blk_backend *be, const char *path)
{
	size_t len = strlen(be->root);
	char dom[16], dev[16];
	uint64_t domid, devid;
	struct blk_dev *d;

	if (strncmp(path, be->root, len) || path[len] != '/') {
		backend_scan(be);	/* the root itself: the initial fire, or a removal */
		return;
	}
	if (sscanf(path + len, "/%15[0-9]/%15[0-9]", dom, dev) != 2 ||
	    parse_uint(dom, UINT16_MAX, &domid) || parse_uint(dev, UINT32_MAX, &devid)) {
		if (sscanf(path + len, "/%15[0-9]", dom) == 1)
			backend_scan(be);	/* a whole domain's directory went */
		return;
	}
	d = device_get(be, (uint32_t)domid, (uint32_t)devid);
	if (d)
		device_update(d);
}

/*
 * A domain died: remove the devices of domains that are gone. Only an absent
 * /local/domain/<id> means gone: a read that failed is tried again later.
 */
static void backend_release(struct blk_backend *be)
{
	struct blk_dev *d, *next;
	char what[48];
	int failed = 0;

	be->release_retry = false;
	for (d = be->devs; d; d = next) {
		char *dir = bxs_read(be->xs, XBT_NULL, "/local/domain/%u", d->domid);
		int err = errno;

		next = d->next;
		if (dir) {
			free(dir);
			continue;
		}
		if (err != ENOENT) {
			if (!failed)
				snprintf(what, sizeof(what), "/local/domain/%u", d->domid);
			failed = err ? -err : -EIO;
			continue;
		}
		log_info("%s: domain %u is gone", d->name, d->domid);
		device_free(d, true);
	}
	if (!failed)
		be->release_fails = 0;
	else if (backend_retry_later(be, &be->release_fails, "backend", what, failed))
		be->release_retry = true;
}

/* Handle every pending watch event. */
void backend_process(struct blk_backend *be)
{
	char **w;

	while ((w = xs_check_watch(be->xs))) {
		const char *path = w[XS_WATCH_PATH], *token = w[XS_WATCH_TOKEN];

		log_debug(LOG_XS, "watch %s fired: %s", token, path);
		if (!strcmp(token, TOKEN_BACKEND)) {
			backend_event(be, path);
		} else if (!strcmp(token, TOKEN_RELEASE)) {
			backend_release(be);
		} else {
			/* A frontend state watch: its token is the device's backend path. */
			for (struct blk_dev *d = be->devs; d; d = d->next) {
				if (!strcmp(d->bepath, token)) {
					device_update(d);
					break;
				}
			}
		}
		free(w);
	}
	if (errno != EAGAIN)
		log_err("reading xenstore watches failed: %s", strerror(errno));
}

/* A ring's thread ended (called on that thread): wake the main loop. */
void backend_ring_stopped(void *arg)
{
	struct blk_backend *be = arg;

	if (eventfd_write(be->stopped_fd, 1))
		log_err("cannot wake the main loop: %s", strerror(errno));
}

/*
 * Rings have stopped: finish disconnecting the devices that waited for them, and close
 * those whose ring ended without being asked (device_update sees it). Then, if
 * such a device was freed, here or by a watch event since, look for a device whose
 * nodes were created again meanwhile: their events came while the old one still stood.
 */
void backend_reap_rings(struct blk_backend *be)
{
	struct blk_dev *d, *next;
	eventfd_t n;

	eventfd_read(be->stopped_fd, &n);	/* EAGAIN is fine */
	for (d = be->devs; d; d = next) {
		next = d->next;
		if (d->stopping || d->nr_rings)	/* or a ring ended on its own */
			device_update(d);
	}
	if (be->rescan) {
		be->rescan = false;
		backend_scan(be);
	}
}

/*
 * A storage call has ended, or storage changed size by itself: run the state machine of
 * the devices whose call ended, then follow the sizes.
 */
void backend_reap_jobs(struct blk_backend *be)
{
	struct blk_dev *d, *next;
	eventfd_t n;

	eventfd_read(be->task_fd, &n);	/* EAGAIN is fine */
	for (d = be->devs; d; d = next) {
		next = d->next;
		if (d->job)
			device_update(d);	/* nothing happens while it still runs */
	}
	for (d = be->devs; d; d = d->next)
		device_follow_size(d);
	if (be->rescan) {
		be->rescan = false;
		backend_scan(be);
	}
}

/* Arm the retry timer for the attempt after *fails, or give up after XS_RETRIES. */
bool backend_retry_later(struct blk_backend *be, unsigned int *fails, const char *who,
			 const char *what, int err)
{
	unsigned int ms = XS_RETRY_MS << *fails;
	struct itimerspec cur, its = { 0 };

	if (*fails >= XS_RETRIES) {
		log_err("%s: cannot read %s from xenstore: %s, %u times in a row; leaving things "
			"as they are until the next change (is xenstored overloaded?)", who, what,
			strerror(-err), XS_RETRIES + 1);
		*fails = 0;
		return false;
	}
	log_warn("%s: cannot read %s from xenstore: %s; trying again in %u ms", who, what,
		 strerror(-err), ms);
	(*fails)++;
	/* One timer serves all: it keeps the earliest time asked for. */
	if (!timerfd_gettime(be->retry_fd, &cur) && (cur.it_value.tv_sec || cur.it_value.tv_nsec) &&
	    (uint64_t)cur.it_value.tv_sec * 1000 + (uint64_t)cur.it_value.tv_nsec / 1000000 <= ms)
		return true;
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
	if (timerfd_settime(be->retry_fd, 0, &its, NULL)) {
		log_err("%s: cannot arm the retry timer: %s", who, strerror(errno));
		return false;
	}
	return true;
}

/* The retry timer fired: look again at what could not be read. */
void backend_retry_due(struct blk_backend *be)
{
	struct blk_dev *d, *next;
	uint64_t n;

	if (read(be->retry_fd, &n, sizeof(n)) < 0)
		return;		/* EAGAIN: nothing expired */
	if (be->scan_retry) {
		be->scan_retry = false;
		for (d = be->devs; d; d = d->next)
			d->retry = false;	/* the scan updates every device */
		backend_scan(be);
		if (!be->scan_retry)
			be->scan_fails = 0;	/* it read everything this time */
	}
	for (d = be->devs; d; d = next) {
		next = d->next;
		if (d->retry) {
			d->retry = false;
			device_update(d);
		}
	}
	if (be->release_retry)
		backend_release(be);
}

/* The keep timer fired: free the kept mem disks whose grace window has ended. */
void backend_keep_due(struct blk_backend *be)
{
	memkeep_expire(be);
}

/* Let go of every device for a successor daemon, then disconnect. */
void backend_leave(struct blk_backend *be)
{
	for (struct blk_dev *d = be->devs; d; d = d->next)
		device_leave(d);
	backend_close(be);
}

/* CLOCK_MONOTONIC in milliseconds. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Wait until a ring has stopped or a storage call has ended; false once the deadline
 * (now_ms) has passed.
 */
static bool wait_storage(struct blk_backend *be, uint64_t end)
{
	struct pollfd p[2] = { { .fd = be->stopped_fd, .events = POLLIN },
			       { .fd = be->task_fd, .events = POLLIN } };
	uint64_t now = now_ms();
	eventfd_t n;

	if (now >= end || poll(p, 2, (int)(end - now)) <= 0)
		return false;
	eventfd_read(be->stopped_fd, &n);
	eventfd_read(be->task_fd, &n);
	return true;
}

/*
 * Close every device (guests see Closing), giving their storage shutdown_wait_s to answer
 * what is in flight and to finish an open, a close or a resize. A device whose storage
 * hangs longer is left as it is: its guest pages cannot be let go under a running I/O,
 * nor its storage under a running call, and the exit does that. Idempotent.
 */
void backend_close(struct blk_backend *be)
{
	uint64_t end = now_ms() + (uint64_t)be->shutdown_wait_s * 1000;
	struct blk_dev *d, *next;

	while (be->devs) {
		for (d = be->devs; d; d = next) {
			next = d->next;
			if (device_shutdown(d))
				device_free(d, false);	/* maybe later: a close of its own */
		}
		if (be->devs && !wait_storage(be, end))
			break;
	}
	for (d = be->devs; d; d = d->next) {
		const char *call = device_waiting_for(d);

		if (call)
			log_err("%s: its storage has not answered in %u s (%s still runs); exiting "
				"without waiting for it", d->name, be->shutdown_wait_s, call);
		else
			log_err("%s: its storage has not answered in %u s; exiting without waiting "
				"for it", d->name, be->shutdown_wait_s);
		device_abandon(d);
	}
	if (be->xs) {
		xs_unwatch(be->xs, be->root, TOKEN_BACKEND);
		xs_unwatch(be->xs, "@releaseDomain", TOKEN_RELEASE);
		xs_close(be->xs);
		be->xs = NULL;
	}
	if (be->retry_fd >= 0) {
		close(be->retry_fd);
		be->retry_fd = -1;
	}
	if (be->keep_fd >= 0) {
		close(be->keep_fd);
		be->keep_fd = -1;
	}
	memkeep_exit();
	if (be->devs)	/* a stuck ring's or storage call's thread may still poke these */
		return;
	if (be->stopped_fd >= 0)
		close(be->stopped_fd);
	if (be->task_fd >= 0) {
		storage_set_notify_fd(-1);
		close(be->task_fd);
	}
	be->stopped_fd = be->task_fd = -1;
}

/* A disk left to the exit whose ring still waits on io_uring, which outlives the process. */
static struct blk_dev *uring_left(struct blk_backend *be)
{
	for (struct blk_dev *d = be->devs; d; d = d->next) {
		if (d->job || !d->disk || d->disk->ops != &storage_uring_ops)
			continue;	/* a storage call's thread keeps the process anyway */
		for (unsigned int q = 0; q < d->nr_rings; q++)
			if (!blk_ring_stopped(d->rings[q]))
				return d;
	}
	return NULL;
}

/*
 * After backend_close, wait, however long, until no disk left to the exit has io_uring
 * requests in flight. The kernel runs those on after the process has gone, and a
 * successor waits only for the process (its pidfile lock): so that it never runs such a
 * write again while the old one can still land, the process stays until they are done.
 * A request a thread of ours runs (the file engine) keeps the process anyway.
 */
void backend_wait_kernel_io(struct blk_backend *be)
{
	struct pollfd p = { .fd = be->stopped_fd, .events = POLLIN };
	struct blk_dev *d = uring_left(be);
	eventfd_t n;

	if (d)
		log_info("%s: waiting for its io_uring requests in flight before exiting: the "
			 "kernel would go on with them after the exit", d->name);
	while (uring_left(be)) {
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break;
		eventfd_read(be->stopped_fd, &n);
	}
}

