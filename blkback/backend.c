/* The backend directory: watches, device discovery, domain death, shutdown. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "log.h"
#include "xs.h"

#define TOKEN_BACKEND "backend"
#define TOKEN_RELEASE "release"

/* Connect to xenstore and watch the backend directory. */
int backend_open(struct blk_backend *be, const struct blk_backend_opts *opts)
{
	const char *kind = opts->kind ? opts->kind : "vbd3";
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t self = 0;
	int err;

	memset(be, 0, sizeof(*be));
	snprintf(be->kind, sizeof(be->kind), "%s", kind);
	/* One queue per online CPU unless asked, as Linux blkback's xen_blkif_max_queues. */
	be->max_queues = opts->max_queues ? opts->max_queues : cpus > 0 ? (unsigned int)cpus : 1;
	if (be->max_queues > BLK_MAX_QUEUES)
		be->max_queues = BLK_MAX_QUEUES;
	be->grant_mode = opts->grant_mode;
	if (opts->state_dir)
		snprintf(be->state_dir, sizeof(be->state_dir), "%s", opts->state_dir);
	be->xs = xs_open(0);
	if (!be->xs) {
		err = -errno;
		log_err("cannot connect to xenstore: %s (is xenstored running, and are we in dom0 "
			"or a driver domain?)", strerror(errno));
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
	return 0;
}

/* The fd to poll for watch events. */
int backend_fd(const struct blk_backend *be)
{
	return xs_fileno(be->xs);
}

/* Update every device, and create the ones that appeared. */
static void backend_scan(struct blk_backend *be)
{
	struct blk_dev *d, *next;
	unsigned int nd, nv;
	char **doms, **vdevs, path[160];
	uint64_t domid, devid;

	doms = xs_directory(be->xs, XBT_NULL, be->root, &nd);
	for (unsigned int i = 0; doms && i < nd; i++) {
		if (parse_uint(doms[i], UINT16_MAX, &domid))
			continue;
		snprintf(path, sizeof(path), "%s/%s", be->root, doms[i]);
		vdevs = xs_directory(be->xs, XBT_NULL, path, &nv);
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

/* A domain died: remove the devices of domains that are gone. */
static void backend_release(struct blk_backend *be)
{
	struct blk_dev *d, *next;

	for (d = be->devs; d; d = next) {
		char *dir = bxs_read(be->xs, XBT_NULL, "/local/domain/%u", d->domid);

		next = d->next;
		if (dir) {
			free(dir);
			continue;
		}
		log_info("%s: domain %u is gone", d->name, d->domid);
		device_free(d, true);
	}
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

/* Let go of every device for a successor daemon, then disconnect. */
void backend_leave(struct blk_backend *be)
{
	while (be->devs) {
		device_leave(be->devs);
		device_free(be->devs, false);
	}
	backend_close(be);
}

/* Close every device (guests see Closing) and disconnect; idempotent. */
void backend_close(struct blk_backend *be)
{
	while (be->devs) {
		device_shutdown(be->devs);
		device_free(be->devs, false);
	}
	if (be->xs) {
		xs_unwatch(be->xs, be->root, TOKEN_BACKEND);
		xs_unwatch(be->xs, "@releaseDomain", TOKEN_RELEASE);
		xs_close(be->xs);
		be->xs = NULL;
	}
}
