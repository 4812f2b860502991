/*
 * attach-cycles: attach a disk, connect to it, do I/O, disconnect and detach it, many times
 * over, in one process, so that tests/sim/blkback-cycles.sh can run a thousand cycles in
 * reasonable time and count what blkbackd holds before and after.
 *
 * Run it in a guest with dom0's xenstore socket as the first argument:
 *   xensim run guest1 -- attach-cycles DOM0_XENSTORED_PATH FIRST COUNT SPEC...
 * xensim decides which domain a connection acts for by the socket it reaches, so this one
 * process plays two parts: dom0's toolstack, on a xenstore connection to dom0's socket,
 * writing and removing the disk's nodes as 'blkbackctl attach' and 'detach' do; and the
 * guest's frontend, through the blkfront library on the guest's own connections.
 *
 * Cycle i (FIRST <= i < FIRST + COUNT) serves SPEC number i % nspecs as xvdb, connects with
 * frontend variant i % 4 (persistent grants or not, one or two queues, indirect requests
 * always or never, rings of 1 to 16 pages), writes a pattern of seed i in WRITES requests in
 * flight at once, flushes, reads it all back in flight and checks every block. An odd
 * cycle's detach leaves the closed disk's nodes for the next attach to replace in its
 * transaction. Exit 0 when every cycle is good, 1 with a one-line reason otherwise, 2 on
 * bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xen/io/xenbus.h>
#include <xenstore.h>

#include "../../blkback/vdev.h"
#include "../../blkback/xs.h"
#include "../../tools/blkfront/bfutil.h"
#include "../../tools/blkfront/blkfront.h"

#define KIND "vbd3"
#define VDEV "xvdb"
#define WAIT_MS 10000		/* each wait for blkbackd */
#define WRITES 8		/* requests in flight per pass */
#define PIECE (32u * 1024)	/* bytes per request: 8 pages, direct or indirect */

/* One disk in the making: what the toolstack writes. */
struct disk {
	struct xs_handle *ts;	/* dom0's connection */
	unsigned int domid;	/* the guest's: ours */
	uint32_t devid;
	const char *spec;
	char be[128], fe[128];
};

static char reason[512];

/* Keep the first reason for failing; returns -EIO. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	if (reason[0])
		return -EIO;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return -EIO;
}

/* Milliseconds on the monotonic clock. */
static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Create a node owned by owner that reader may read, in transaction t. */
static int make_dir(struct xs_handle *xs, xs_transaction_t t, const char *path,
		    unsigned int owner, unsigned int reader)
{
	struct xs_permissions p[2] = {
		{ .id = owner, .perms = XS_PERM_NONE },
		{ .id = reader, .perms = XS_PERM_READ },
	};

	return xs_mkdir(xs, t, path) && xs_set_permissions(xs, t, path, p, 2) ? 0 : -EIO;
}

/*
 * The nodes of a new disk, as 'blkbackctl attach' writes them, in transaction t; those of
 * a disk detached but not yet removed go in the same transaction.
 */
static int disk_nodes(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	const struct disk *d = arg;
	int err;

	xs_rm(xs, t, d->fe);	/* nothing there is fine */
	xs_rm(xs, t, d->be);
	err = make_dir(xs, t, d->be, 0, d->domid);
	err = err ? err : bxs_printf(xs, t, d->be, "frontend", "%s", d->fe);
	err = err ? err : bxs_printf(xs, t, d->be, "frontend-id", "%u", d->domid);
	err = err ? err : bxs_printf(xs, t, d->be, "online", "1");
	err = err ? err : bxs_printf(xs, t, d->be, "removable", "0");
	err = err ? err : bxs_printf(xs, t, d->be, "bootable", "0");
	err = err ? err : bxs_printf(xs, t, d->be, "mode", "w");
	err = err ? err : bxs_printf(xs, t, d->be, "device-type", "disk");
	err = err ? err : bxs_printf(xs, t, d->be, "dev", "%s", VDEV);
	err = err ? err : bxs_printf(xs, t, d->be, "params", "%s", d->spec);
	err = err ? err : bxs_printf(xs, t, d->be, "state", "1");
	err = err ? err : make_dir(xs, t, d->fe, d->domid, 0);
	err = err ? err : bxs_printf(xs, t, d->fe, "backend", "%s", d->be);
	err = err ? err : bxs_printf(xs, t, d->fe, "backend-id", "0");
	err = err ? err : bxs_printf(xs, t, d->fe, "virtual-device", "%u", d->devid);
	err = err ? err : bxs_printf(xs, t, d->fe, "device-type", "disk");
	err = err ? err : bxs_printf(xs, t, d->fe, "state", "1");
	return err;
}

/* The backend's state; absent when the node is gone. */
static unsigned int backend_state(const struct disk *d, uint64_t absent)
{
	char path[160];
	uint64_t v;

	snprintf(path, sizeof(path), "%s/state", d->be);
	return bxs_read_uint(d->ts, XBT_NULL, path, 255, &v) ? (unsigned int)absent :
							      (unsigned int)v;
}

/* Wait until the backend's state is want (absent when gone); 0, -ETIMEDOUT or -errno. */
static int wait_backend(const struct disk *d, unsigned int want, unsigned int absent)
{
	struct pollfd pfd = { .fd = xs_fileno(d->ts), .events = POLLIN };
	int64_t deadline = now_ms() + WAIT_MS;
	int ret = -ETIMEDOUT;

	if (!xs_watch(d->ts, d->be, "cycle"))
		return -errno;
	for (;;) {
		char **w;

		while ((w = xs_check_watch(d->ts)))
			free(w);
		if (backend_state(d, absent) == want) {
			ret = 0;
			break;
		}
		if (now_ms() >= deadline)
			break;
		if (poll(&pfd, 1, (int)(deadline - now_ms()) + 1) < 0 && errno != EINTR)
			break;
	}
	xs_unwatch(d->ts, d->be, "cycle");
	return ret;
}

/* Attach: write the nodes, then wait for blkbackd to offer the disk (InitWait). */
static int attach(struct disk *d)
{
	char *error;
	int err = bxs_transact(d->ts, disk_nodes, d);

	if (err)
		return fail("cannot write the nodes of %s: %s", d->be, strerror(-err));
	if (wait_backend(d, XenbusStateInitWait, 0) == 0)
		return 0;
	error = bxs_read(d->ts, XBT_NULL, "%s/error", d->be);
	fail("blkbackd did not offer %s within %d ms (state %u): %s", d->spec, WAIT_MS,
	     backend_state(d, 0), error ? error : "no error node");
	free(error);
	return -EIO;
}

/*
 * Detach: online 0, wait for the backend to close, remove both directories unless
 * the next attach is to remove them (in its transaction, so that blkbackd sees the
 * disk change under it at once, as after a detach and re-attach it was too slow to see).
 */
static int detach(struct disk *d, bool remove)
{
	char path[160], parent[128];
	unsigned int n = 0;
	char **left;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/online", d->be);
	if (!xs_write(d->ts, XBT_NULL, path, "0", 1))
		ret = fail("cannot write %s: %s", path, strerror(errno));
	else if (wait_backend(d, XenbusStateClosed, XenbusStateClosed))
		ret = fail("the backend of %s did not close within %d ms (state %u)", d->spec,
			   WAIT_MS, backend_state(d, 0));
	if (!remove && !ret)
		return 0;
	xs_rm(d->ts, XBT_NULL, d->fe);
	xs_rm(d->ts, XBT_NULL, d->be);
	snprintf(parent, sizeof(parent), "/local/domain/0/backend/" KIND "/%u", d->domid);
	left = xs_directory(d->ts, XBT_NULL, parent, &n);
	if (left && !n)
		xs_rm(d->ts, XBT_NULL, parent);
	free(left);
	return ret;
}

/* Frontend variant v of four: what a cycle connects with. */
static void variant(unsigned int v, struct blkfront_opts *o)
{
	blkfront_opts_init(o);
	o->vdev = VDEV;
	o->timeout_ms = WAIT_MS;
	o->slots = WRITES;		/* a small pool: fewer pages to share per connection */
	o->indirect_segs = PIECE / BLKFRONT_PAGE_SIZE;
	/*
	 * Rings of 16 pages only in one variant: blkbackd sets up each slot of a ring (512 in
	 * 16 pages) when it connects, and that is most of a cycle's time under ASan.
	 */
	switch (v % 4) {
	case 0: break;				/* persistent, 1 queue, 16-page ring */
	case 1: o->no_persistent = true;	/* map, 2 queues of 4-page rings */
		o->queues = 2; o->max_ring_order = 2; break;
	case 2: o->indirect_always = true;	/* persistent, always indirect, 2 pages */
		o->max_ring_order = 1; break;
	case 3: o->no_persistent = true;	/* map, direct only, a one-page ring */
		o->indirect_segs = 0; o->max_ring_order = 0; break;
	}
}

/* WRITES requests of op over [0, WRITES * PIECE), all in flight; reads are checked. */
static int pass(struct blkfront *bf, uint8_t op, uint64_t seed)
{
	struct blkfront_req *reqs[WRITES], *done[WRITES];
	unsigned int n = 0, got = 0;
	int ret = 0;

	for (; n < WRITES; n++) {
		reqs[n] = blkfront_req_get(bf);
		if (!reqs[n])
			return fail("no free request slot for request %u", n);
		if (op == BLKIF_OP_WRITE)
			for (uint32_t b = 0; b < PIECE / BF_BLOCK; b++)
				bf_pattern_fill((uint8_t *)reqs[n]->buf + b * BF_BLOCK, seed,
						((uint64_t)n * PIECE + b * BF_BLOCK) / BF_BLOCK);
		if (blkfront_submit(bf, reqs[n], op, (uint64_t)n * PIECE, PIECE)) {
			blkfront_req_put(bf, reqs[n]);
			ret = fail("cannot submit request %u", n);
			break;
		}
	}
	if (blkfront_kick(bf))
		ret = fail("cannot notify the backend");
	while (got < n) {
		int k = blkfront_reap(bf, done, WRITES, WAIT_MS);

		if (k <= 0)
			return fail("%s: %s", k ? "waiting for answers failed" : "no answer",
				    k ? strerror(-k) : "timed out");
		got += (unsigned int)k;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct blkfront_req *r = reqs[i];

		if (r->status)
			ret = fail("%s of %u bytes at %" PRIu64 " answered %d", op == BLKIF_OP_WRITE
				   ? "write" : "read", r->len, r->offset, r->status);
		for (uint32_t b = 0; !ret && op == BLKIF_OP_READ && b < PIECE / BF_BLOCK; b++) {
			uint64_t sector = (r->offset + b * BF_BLOCK) / BF_BLOCK, fs, fsec;
			enum bf_block_class k = bf_pattern_check((uint8_t *)r->buf + b * BF_BLOCK,
								 seed, sector, &fs, &fsec);

			if (k != BF_BLOCK_OK)
				ret = fail("sector %" PRIu64 " read back %s", sector,
					   bf_block_class_name(k));
		}
		blkfront_req_put(bf, r);
	}
	return ret;
}

/* Connect with variant i, write, flush, read back and check, disconnect. */
static int use_disk(unsigned int i)
{
	struct blkfront_opts o;
	struct blkfront *bf;
	char err[512];
	int ret;

	variant(i, &o);
	if (blkfront_connect(&o, &bf, err, sizeof(err)))
		return fail("cannot connect: %s", err);
	ret = pass(bf, BLKIF_OP_WRITE, i);
	if (!ret && blkfront_features(bf)->flush) {
		ret = blkfront_sync_io(bf, BLKIF_OP_FLUSH_DISKCACHE, 0, 0, NULL, WAIT_MS);
		if (ret)
			ret = fail("the flush failed: %s", strerror(-ret));
	}
	ret = ret ? ret : pass(bf, BLKIF_OP_READ, i);
	if (blkfront_disconnect(bf, err, sizeof(err)))
		ret = fail("cannot disconnect: %s", err);
	return ret;
}

/* One cycle: attach, use the disk, detach (leaving the nodes to the next if !last). */
static int cycle(struct disk *d, unsigned int i, bool last)
{
	int ret = attach(d);

	ret = ret ? ret : use_disk(i);
	if (detach(d, last || i % 2 == 0))
		ret = -EIO;
	if (ret)
		fprintf(stderr, "attach-cycles: cycle %u (%s, variant %u): %s\n", i, d->spec, i % 4,
			reason);
	return ret;
}

/* Open dom0's xenstore socket path as the toolstack's connection. */
static struct xs_handle *open_toolstack(const char *path)
{
	char *mine = getenv("XENSTORED_PATH") ? strdup(getenv("XENSTORED_PATH")) : NULL;
	struct xs_handle *xs;

	setenv("XENSTORED_PATH", path, 1);
	xs = xs_open(0);
	if (mine)
		setenv("XENSTORED_PATH", mine, 1);
	else
		unsetenv("XENSTORED_PATH");
	free(mine);
	return xs;
}

/* attach-cycles DOM0_XENSTORED_PATH FIRST COUNT SPEC... */
int main(int argc, char **argv)
{
	struct disk d = { 0 };
	struct xs_handle *guest;
	uint64_t first, count, domid;
	char *s;
	int bad;

	if (argc < 5 || parse_uint(argv[2], UINT32_MAX, &first) ||
	    parse_uint(argv[3], UINT32_MAX, &count)) {
		fprintf(stderr, "usage: attach-cycles DOM0_XENSTORED_PATH FIRST COUNT SPEC...\n");
		return 2;
	}
	guest = xs_open(0);
	s = guest ? xs_read(guest, XBT_NULL, "domid", NULL) : NULL;
	bad = !s || parse_uint(s, UINT16_MAX, &domid);
	free(s);
	if (guest)
		xs_close(guest);
	d.ts = open_toolstack(argv[1]);
	if (bad || !d.ts) {
		fprintf(stderr, "attach-cycles: cannot reach xenstore as the guest and as dom0 "
			"(%s): run it with 'xensim run GUEST --'\n", argv[1]);
		return 1;
	}
	d.domid = (unsigned int)domid;
	vdev_number(VDEV, &d.devid);
	snprintf(d.be, sizeof(d.be), "/local/domain/0/backend/" KIND "/%u/%u", d.domid, d.devid);
	snprintf(d.fe, sizeof(d.fe), "/local/domain/%u/device/vbd/%u", d.domid, d.devid);
	for (uint64_t i = first; i < first + count; i++) {
		d.spec = argv[4 + i % (uint64_t)(argc - 4)];
		if (cycle(&d, (unsigned int)i, i + 1 == first + count)) {
			xs_close(d.ts);
			return 1;
		}
	}
	xs_close(d.ts);
	printf("attach-cycles: cycles %" PRIu64 " to %" PRIu64 " good\n", first,
	       first + count - 1);
	return 0;
}
