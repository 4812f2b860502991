/*
 * Hostile frontends on the xenstore side: bad nodes published at Initialised (REFUSED:
 * no connection, a reason in the backend's error node, Closing, and then the same disk
 * connects properly), a flood of writes into our own directory, connect/disconnect
 * loops as fast as they go, and a reset that does not wait for the backend.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xengnttab.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>

#include "../../blkback/vdev.h"
#include "hostile.h"

#define TOKEN_ERROR "hostile-error"

/* Our vbd as xenstore names it, read with our own connection. */
struct vbd {
	struct xs_handle *xs;
	char fepath[96];
	char *bepath;
	unsigned int backend_id;
};

/* Read dir/node as an unsigned number: 0, or -1 when absent or not a number. */
static int read_uint(struct xs_handle *xs, const char *dir, const char *node, unsigned long *v)
{
	char path[256], *s, *end;
	unsigned int len;
	int ret = -1;

	snprintf(path, sizeof(path), "%s%s%s", dir, *dir ? "/" : "", node);
	s = xs_read(xs, XBT_NULL, path, &len);
	if (s && *s) {
		errno = 0;
		*v = strtoul(s, &end, 10);
		ret = *end || errno ? -1 : 0;
	}
	free(s);
	return ret;
}

/* Open xenstore and find our vbd's directory, its backend's and the backend domain. */
static int vbd_open(struct vbd *v)
{
	unsigned long self, beid;
	uint32_t devid;
	char path[160];
	unsigned int len;

	memset(v, 0, sizeof(*v));
	if (vdev_number(hostile_vdev, &devid))
		return fail("bad vdev %s", hostile_vdev);
	v->xs = xs_open(0);
	if (!v->xs)
		return fail("xs_open: %s", strerror(errno));
	if (read_uint(v->xs, "", "domid", &self))
		return fail("cannot read this domain's id");
	snprintf(v->fepath, sizeof(v->fepath), "/local/domain/%lu/device/vbd/%u", self, devid);
	snprintf(path, sizeof(path), "%s/backend", v->fepath);
	v->bepath = xs_read(v->xs, XBT_NULL, path, &len);
	if (!v->bepath || read_uint(v->xs, v->fepath, "backend-id", &beid))
		return fail("no vbd %s in this domain", hostile_vdev);
	v->backend_id = (unsigned int)beid;
	return 0;
}

/* Close what vbd_open opened; idempotent. */
static void vbd_close(struct vbd *v)
{
	if (v->xs)
		xs_close(v->xs);
	v->xs = NULL;
	free(v->bepath);
	v->bepath = NULL;
}

/* Open our vbd's view of xenstore and connect to it with the hostile options; 0 or fail(). */
static int vbd_connect(struct vbd *v, struct blkfront **bf)
{
	struct blkfront_opts opts;
	char err[256];
	int rc;

	*bf = NULL;
	hostile_opts(&opts);
	rc = vbd_open(v);
	if (!rc && blkfront_connect(&opts, bf, err, sizeof(err)))
		rc = fail("cannot connect: %s", err);
	return rc;
}

/* Wait up to ms for a watch event with token tok: 1, or 0 on timeout. */
static int wait_watch(struct xs_handle *xs, const char *tok, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };

	for (;;) {
		char **w;
		uint64_t t;

		while ((w = xs_check_watch(xs))) {
			bool mine = !strcmp(w[XS_WATCH_TOKEN], tok);

			free(w);
			if (mine)
				return 1;
		}
		t = now_ms();
		if (t >= end)
			return 0;
		poll(&pfd, 1, (int)(end - t));
	}
}

/* Wait up to ms for the backend's state to be one of the mask's: it, or -1. */
static int wait_backend(struct vbd *v, unsigned int mask, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	unsigned long st = XenbusStateUnknown;

	for (;;) {
		const struct timespec tick = { 0, 20 * 1000000 };

		if (!read_uint(v->xs, v->bepath, "state", &st) && st < 32 && (mask & (1u << st)))
			return (int)st;
		if (now_ms() >= end)
			return -1;
		nanosleep(&tick, NULL);
	}
}

/* Does the error text err say want (a final '$' in want: end with it)? */
static bool error_says(const char *err, const char *want)
{
	size_t n = strlen(want), m = strlen(err);

	if (n && want[n - 1] == '$')
		return m >= n - 1 && !memcmp(err + m - (n - 1), want, n - 1);
	return strstr(err, want) != NULL;
}

/* The value the case's first node gets at run time (special); 0 or fail(). */
static int special_value(const struct hcase *c, struct vbd *v, xengntshr_handle *gs,
			 void **page, char *val, size_t len)
{
	uint32_t ref;

	switch (c->special) {
	case 1:		/* a ref that was granted to the backend and is no longer */
	case 2:		/* a ref granted read-only: a ring must be mapped writable */
		*page = xengntshr_share_pages(gs, (uint16_t)v->backend_id, 1, &ref,
					      c->special == 2 ? 0 : 1);
		if (!*page)
			return fail("sharing a page: %s", strerror(errno));
		if (c->special == 1) {
			xengntshr_unshare(gs, *page, 1);
			*page = NULL;
		}
		snprintf(val, len, "%u", ref);
		return 0;
	case 3:		/* a protocol name far longer than any */
		memset(val, 'A', len - 1);
		val[len - 1] = 0;
		return 0;
	}
	return fail("bad case table");
}

/*
 * Publish the case's nodes at Initialised: the backend must refuse (Closing) with a
 * fresh error node saying c->error, go Closed once we do, and serve the same disk
 * when we come back properly.
 */
static int refused_case(struct blkfront *unused, const struct hcase *c)
{
	struct blkfront_node nodes[4];
	struct blkfront_opts opts;
	struct blkfront *bf = NULL;
	xengntshr_handle *gs = NULL;
	void *page = NULL;
	static char val[1500];
	char err[512], path[200], *e = NULL;
	unsigned long maxq;
	unsigned int len;
	struct vbd v;
	int rc;

	(void)unused;
	rc = vbd_open(&v);
	if (rc)
		goto out;
	if (c->queues > 1 && (read_uint(v.xs, v.bepath, "multi-queue-max-queues", &maxq) ||
			      maxq < c->queues)) {
		rc = fail("the backend offers fewer than %u queues: run blkbackd --max-queues %u",
			  c->queues, c->queues);
		goto out;
	}
	if (c->n_nodes > sizeof(nodes) / sizeof(nodes[0])) {
		rc = fail("bad case table");
		goto out;
	}
	memcpy(nodes, c->nodes, c->n_nodes * sizeof(nodes[0]));
	if (c->special) {
		gs = xengntshr_open(NULL, 0);
		rc = gs ? special_value(c, &v, gs, &page, val, sizeof(val)) :
			  fail("xengntshr_open: %s", strerror(errno));
		if (rc)
			goto out;
		nodes[0].value = val;
	}
	/* The error node may hold an earlier case's words: a write must come now. */
	snprintf(path, sizeof(path), "%s/error", v.bepath);
	if (!xs_watch(v.xs, path, TOKEN_ERROR) || !wait_watch(v.xs, TOKEN_ERROR, WAIT_MS)) {
		rc = fail("cannot watch %s", path);
		goto out;
	}
	hostile_opts(&opts);
	opts.max_ring_order = c->ring_order;
	opts.queues = c->queues;
	opts.extra_nodes = nodes;
	opts.n_extra_nodes = c->n_nodes;
	rc = blkfront_connect(&opts, &bf, err, sizeof(err));
	if (!rc) {
		blkfront_disconnect(bf, err, sizeof(err));
		rc = fail("the backend connected");
		goto out;
	}
	if (rc != -ECONNREFUSED) {
		rc = fail("the connection failed, but was not refused: %s", err);
		goto out;
	}
	rc = 0;
	if (!wait_watch(v.xs, TOKEN_ERROR, WAIT_MS))
		rc = fail("the backend refused without writing its error node");
	e = rc ? NULL : xs_read(v.xs, XBT_NULL, path, &len);
	if (!rc && (!e || !error_says(e, c->error)))
		rc = fail("the error node says '%.120s', not '%s'", e ? e : "", c->error);
	/* We went Closed when refused: the backend follows and lets go. */
	if (!rc && wait_backend(&v, 1u << XenbusStateClosed, WAIT_MS) < 0)
		rc = fail("the backend did not go Closed after the refusal");
	if (!rc)
		rc = reconnect_and_read("after the refusal");
out:
	free(e);
	if (page)
		xengntshr_unshare(gs, page, 1);
	if (gs)
		xengntshr_close(gs);
	vbd_close(&v);
	return rc;
}

#define FLOODERS 4
#define FLOOD_WRITES 2500	/* per flooder */

/* One flooder: its own xenstore connection, writes as fast as they go. */
struct flooder {
	pthread_t t;
	const struct vbd *v;
	unsigned int k;
	unsigned int ok, nospc, other;
	int other_errno;
};

/*
 * Write junk into the frontend directory: state (which the backend watches) and,
 * below it, new children (each fires the backend's watch too), the transport nodes, and
 * new nodes under flood/ until the domain's node quota says no.
 */
static void *flood(void *arg)
{
	static const char *const junk[] = {
		"", "junk", "99", "-1", "4294967297", "4", "3", "1", "6", "5", "0x3", " 3", "3\n",
	};
	static const char *const transport[] = {
		"ring-ref", "event-channel", "protocol", "ring-page-order",
		"multi-queue-num-queues", "feature-persistent",
	};
	struct flooder *f = arg;
	struct xs_handle *xs = xs_open(0);
	const char *fe = f->v->fepath;

	for (unsigned int i = 0; xs && i < FLOOD_WRITES; i++) {
		const char *val = junk[(i / 4 + f->k) % (sizeof(junk) / sizeof(junk[0]))];
		char path[200];

		switch (i % 4) {
		case 0:
			snprintf(path, sizeof(path), "%s/state", fe);
			break;
		case 1:
			snprintf(path, sizeof(path), "%s/%s", fe,
				 transport[(i / 4) % (sizeof(transport) / sizeof(transport[0]))]);
			break;
		case 2:
			snprintf(path, sizeof(path), "%s/flood/%u/%u/%u", fe, f->k, i / 128,
				 i % 128);
			break;
		default:
			snprintf(path, sizeof(path), "%s/state/%u-%u", fe, f->k, (i / 4) % 32);
		}
		if (xs_write(xs, XBT_NULL, path, val, (unsigned int)strlen(val))) {
			f->ok++;
		} else {
			int e = errno;

			if (e == ENOSPC)
				f->nospc++;
			else if (!f->other++)
				f->other_errno = e;
		}
	}
	if (!xs)
		f->other_errno = errno;
	else
		xs_close(xs);
	return NULL;
}

/*
 * A xenstore write flood from a connected frontend: FLOODERS connections write junk into
 * our own directory as fast as they can. The backend follows every state change (it may
 * close the device: that hurts only us); afterwards the flood is removed and the disk
 * connects and serves again, once the backend has caught up with the events.
 */
static int flood_case(struct blkfront *unused, const struct hcase *c)
{
	struct flooder f[FLOODERS];
	unsigned int ok = 0, nospc = 0, other = 0;
	char path[160], err[256];
	struct blkfront *bf;
	uint64_t t0, t1, t2;
	struct vbd v;
	int rc, first_errno = 0;

	(void)unused;
	(void)c;
	rc = vbd_connect(&v, &bf);
	if (rc) {
		vbd_close(&v);
		return rc;
	}
	t0 = now_ms();
	for (unsigned int k = 0; k < FLOODERS; k++) {
		f[k] = (struct flooder){ .v = &v, .k = k };
		if (pthread_create(&f[k].t, NULL, flood, &f[k])) {
			f[k].other_errno = EAGAIN;
			f[k].v = NULL;	/* not started */
		}
	}
	for (unsigned int k = 0; k < FLOODERS; k++) {
		if (f[k].v)
			pthread_join(f[k].t, NULL);
		ok += f[k].ok;
		nospc += f[k].nospc;
		other += f[k].other;
		if (!first_errno)
			first_errno = f[k].other_errno;
	}
	t1 = now_ms();
	/* Ours to clean: what the quota let in would keep the next connection from its nodes. */
	snprintf(path, sizeof(path), "%s/flood", v.fepath);
	xs_rm(v.xs, XBT_NULL, path);
	snprintf(path, sizeof(path), "%s/state", v.fepath);
	xs_rm(v.xs, XBT_NULL, path);
	blkfront_disconnect(bf, err, sizeof(err));	/* junk may have closed it: any end */
	fprintf(stderr, "hostile: flood: %u writes in %" PRIu64 " ms, %u refused by the node "
		"quota (ENOSPC), %u otherwise (%s)\n", ok + nospc + other, t1 - t0, nospc, other,
		other ? strerror(first_errno) : "-");
	if (ok < FLOODERS * FLOOD_WRITES / 2)
		rc = fail("only %u of %u writes went in: %s", ok, FLOODERS * FLOOD_WRITES,
			  strerror(first_errno));
	rc = rc ? rc : reconnect_and_read("after the flood");
	t2 = now_ms();
	if (!rc)
		fprintf(stderr, "hostile: flood: the disk served again %" PRIu64 " ms after\n",
			t2 - t1);
	vbd_close(&v);
	return rc;
}

#define LOOP_ROUNDS 200

/*
 * Connect, put a request in flight, Closing, Closed, and again (the next connect goes
 * Initialising), LOOP_ROUNDS times as fast as the handshake goes, with ring sizes and
 * indirect segments changing; every round must connect and close, and the disk serves.
 */
static int connect_loop_case(struct blkfront *unused, const struct hcase *c)
{
	uint64_t t0 = now_ms();
	char err[256];

	(void)unused;
	(void)c;
	for (unsigned int round = 0; round < LOOP_ROUNDS; round++) {
		struct blkfront_opts opts;
		struct blkfront *bf;
		blkif_request_t r;
		int rc;

		hostile_opts(&opts);
		opts.max_ring_order = round % 3 == 2 ? 4 : (int)(round % 3);
		opts.slots = 2;
		opts.indirect_segs = round % 2 ? 0 : 8;
		rc = blkfront_connect(&opts, &bf, err, sizeof(err));
		if (rc)
			return fail("round %u: cannot connect: %s", round, err);
		good_req(bf, &r, 7000 + round);
		r.operation = round % 2 ? BLKIF_OP_WRITE : BLKIF_OP_READ;
		r.sector_number = 8 * (uint64_t)round;
		blkfront_ring_put(bf, &r, false);
		rc = blkfront_ring_push(bf, BLKFRONT_NOTIFY_ALWAYS);
		if (rc) {
			blkfront_disconnect(bf, err, sizeof(err));
			return fail("round %u: push: %s", round, strerror(-rc));
		}
		rc = blkfront_disconnect(bf, err, sizeof(err));
		if (rc)
			return fail("round %u: cannot close: %s", round, err);
	}
	fprintf(stderr, "hostile: connect-loop: %u rounds in %" PRIu64 " ms\n", LOOP_ROUNDS,
		now_ms() - t0);
	return reconnect_and_read("after the loop");
}

/*
 * A frontend that resets without waiting for the backend, as Linux's
 * xenbus_reset_frontend does once its waits time out (a kexec'd guest): Connected with
 * a request in flight, then Closing, Closed and Initialising in one burst. The backend
 * must let the old rings go and come back to InitWait, and the disk serve again.
 */
static int reset_case(struct blkfront *unused, const struct hcase *c)
{
	static const char *const burst[] = { "5", "6", "1" };
	char path[160], err[256];
	struct blkfront *bf;
	blkif_request_t r;
	struct vbd v;
	int rc;

	(void)unused;
	(void)c;
	rc = vbd_connect(&v, &bf);
	if (!rc) {
		good_req(bf, &r, 7777);
		blkfront_ring_put(bf, &r, false);
		rc = blkfront_ring_push(bf, BLKFRONT_NOTIFY_ALWAYS);
		if (rc)
			rc = fail("push: %s", strerror(-rc));
	}
	snprintf(path, sizeof(path), "%s/state", v.fepath);
	for (unsigned int i = 0; !rc && i < sizeof(burst) / sizeof(burst[0]); i++)
		if (!xs_write(v.xs, XBT_NULL, path, burst[i], 1))
			rc = fail("cannot write %s: %s", path, strerror(errno));
	if (!rc && wait_backend(&v, 1u << XenbusStateInitWait, CONNECT_MS) < 0)
		rc = fail("the backend did not come back to InitWait after the reset");
	blkfront_disconnect(bf, err, sizeof(err));	/* frees the old rings; any end */
	vbd_close(&v);
	return rc ? rc : reconnect_and_read("after the reset");
}

#define A8 "AAAAAAAA"
#define NODE(n, v) ((const struct blkfront_node[]){ { n, v } })
/* A refused connection: its node (value NULL: removed), ring order, queues, the error. */
#define R(nm, node, val, order, q, err) \
	{ .name = nm, .disk = "rw", .expect = REFUSED, .fn = refused_case, .own_connect = true, \
	  .nodes = NODE(node, val), .n_nodes = 1, .ring_order = order, .queues = q, \
	  .error = err }
#define RS(nm, node, sp, err) \
	{ .name = nm, .disk = "rw", .expect = REFUSED, .fn = refused_case, .own_connect = true, \
	  .nodes = NODE(node, ""), .n_nodes = 1, .ring_order = 0, .special = sp, .error = err }

const struct hcase hostile_xs_cases[] = {
	/* protocol: only the three ABIs blkif.h names (absent or empty: x86_32) */
	R("protocol-bogus", "protocol", "x86_16-abi", -1, 0, "protocol 'x86_16-abi'"),
	R("protocol-near-miss", "protocol", "x86_64-abi ", -1, 0, "protocol 'x86_64-abi '"),
	RS("protocol-1499-bytes", "protocol", 3, "protocol '" A8 A8 A8 A8 A8 A8 A8 A8 "...' is"),
	/* ring-page-order beyond the offered 4, over a ring of 16 or 1 pages */
	R("ring-order-5", "ring-page-order", "5", 4, 0, "ring-page-order '5'"),
	R("ring-order-31", "ring-page-order", "31", 0, 0, "ring-page-order '31'"),
	R("ring-order-2^32-1", "ring-page-order", "4294967295", 0, 0,
	  "ring-page-order '4294967295'"),
	R("ring-order-2^64", "ring-page-order", "18446744073709551616", 4, 0,
	  "ring-page-order '18446744073709551616'"),
	R("ring-order-abc", "ring-page-order", "abc", 4, 0, "ring-page-order 'abc'"),
	R("ring-order-negative", "ring-page-order", "-1", 0, 0, "ring-page-order '-1'"),
	/* queue counts */
	R("num-queues-0", "multi-queue-num-queues", "0", -1, 0, "multi-queue-num-queues '0'"),
	R("num-queues-1000", "multi-queue-num-queues", "1000", -1, 0,
	  "multi-queue-num-queues '1000'"),
	/* missing and bad transport nodes */
	R("missing-ring-ref", "ring-ref", NULL, 0, 0, "/ring-ref$"),
	R("missing-ring-ref7", "ring-ref7", NULL, 4, 0, "/ring-ref7$"),
	R("missing-event-channel", "event-channel", NULL, 0, 0, "/event-channel$"),
	R("missing-queue1-evtchn", "queue-1/event-channel", NULL, 2, 2,
	  "/queue-1/event-channel$"),
	R("ring-ref-junk", "ring-ref", "12abc", 0, 0, "/ring-ref$"),
	R("ring-ref-2^32-1", "ring-ref", "4294967295", 0, 0,
	  "cannot attach to the frontend's ring 0"),
	RS("ring-ref-revoked", "ring-ref", 1, "cannot attach to the frontend's ring 0"),
	RS("ring-ref-read-only", "ring-ref", 2, "cannot attach to the frontend's ring 0"),
	R("event-channel-65535", "event-channel", "65535", 0, 0,
	  "cannot attach to the frontend's ring 0"),
	/* the frontend's own directory flooded; the handshake hammered */
	{ .name = "xenstore-flood", .disk = "rw", .expect = ANY, .fn = flood_case,
	  .own_connect = true },
	{ .name = "connect-loop", .disk = "rw", .expect = ANY, .fn = connect_loop_case,
	  .own_connect = true },
	{ .name = "reset-skipping-close", .disk = "rw", .expect = ANY, .fn = reset_case,
	  .own_connect = true },
};
const size_t hostile_xs_ncases = sizeof(hostile_xs_cases) / sizeof(hostile_xs_cases[0]);
