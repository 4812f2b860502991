/*
 * Hostile frontends over the life of a connection: grants revoked before a request is
 * pushed and while requests using them are in flight, a frontend that vanishes with its
 * ring full (the process killed, or the whole guest destroyed by tests/sim/hostile.sh),
 * and a double fetch that rewrites operation and segment counts.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xengnttab.h>

#include "hostile.h"

#define REVOKE_REQS 48		/* requests of the revoke cases, each on its own 11 pages */
#define BIG_SEGS BLKIF_MAX_SEGMENTS_PER_REQUEST

/* Put a direct request of nsegs full pages, op, at sector, pages from refs[]. */
static int put_direct(struct blkfront *bf, uint8_t op, unsigned int nsegs, uint64_t sector,
		      uint64_t id, const grant_ref_t *refs, unsigned int nrefs, unsigned int first)
{
	blkif_request_t r;

	memset(&r, 0, sizeof(r));
	r.operation = op;
	r.nr_segments = (uint8_t)nsegs;
	r.handle = (blkif_vdev_t)blkfront_devid(bf);
	r.id = id;
	r.sector_number = sector;
	for (unsigned int j = 0; j < nsegs; j++) {
		r.seg[j].gref = refs[(first + j) % nrefs];
		r.seg[j].last_sect = 7;
	}
	return blkfront_ring_put(bf, &r, false);
}

/* Fill the free part of the ring with 11-page reads and writes on the data pool. */
static unsigned int fill_ring(struct blkfront *bf, uint64_t idbase)
{
	static grant_ref_t refs[BIG_SEGS];
	uint64_t span = blkfront_disk(bf)->sectors - 8 * BIG_SEGS;
	unsigned int n = 0;

	for (unsigned int j = 0; j < BIG_SEGS; j++)
		refs[j] = blkfront_pool_gref(bf, j % blkfront_pool_pages(bf));
	while (!put_direct(bf, n % 2 ? BLKIF_OP_WRITE : BLKIF_OP_READ, BIG_SEGS,
			   (idbase + n) * 8 * BIG_SEGS % span, idbase + n, refs, BIG_SEGS, 0))
		n++;
	return n;
}

/* Share n fresh pages with the backend: their address, or NULL after fail(). */
static void *share_fresh(struct blkfront *bf, xengntshr_handle *gs, unsigned int n,
			 grant_ref_t *refs)
{
	void *p = xengntshr_share_pages(gs, (uint16_t)blkfront_backend_id(bf), (int)n, refs, 1);

	if (!p)
		fail("sharing %u pages: %s", n, strerror(errno));
	return p;
}

/*
 * A request whose page (special 0: the last data segment; 1: the indirect page) was
 * granted to the backend and revoked before the push. The backend never saw the ref,
 * so no mapping of it can linger anywhere: its map or copy fails, and so does the
 * request, alone.
 */
static int revoked_case(struct blkfront *bf, const struct hcase *c)
{
	xengntshr_handle *gs = xengntshr_open(NULL, 0);
	grant_ref_t refs[BIG_SEGS], gone;
	blkif_request_indirect_t ri;
	void *p;
	int rc;

	if (!gs)
		return fail("xengntshr_open: %s", strerror(errno));
	p = share_fresh(bf, gs, 1, &gone);
	if (!p) {
		xengntshr_close(gs);
		return 1;
	}
	xengntshr_unshare(gs, p, 1);
	xengntshr_close(gs);
	for (unsigned int j = 0; j < BIG_SEGS; j++)
		refs[j] = blkfront_pool_gref(bf, j % blkfront_pool_pages(bf));
	if (c->special == 0) {
		refs[c->nsegs - 1] = gone;
		rc = put_direct(bf, c->op, c->nsegs, 0, BAD_ID, refs, BIG_SEGS, 0);
	} else {
		struct blkif_request_segment *seg = blkfront_indirect_page(bf, 0, 0);

		if (!seg)
			return fail("no indirect descriptors negotiated");
		for (unsigned int j = 0; j < c->nsegs; j++)
			seg[j] = (struct blkif_request_segment){ .gref = refs[j % BIG_SEGS],
								 .last_sect = 7 };
		memset(&ri, 0, sizeof(ri));
		ri.operation = BLKIF_OP_INDIRECT;
		ri.indirect_op = c->op;
		ri.nr_segments = c->nsegs;
		ri.handle = (blkif_vdev_t)blkfront_devid(bf);
		ri.id = BAD_ID;
		ri.indirect_grefs[0] = gone;
		rc = blkfront_ring_put_indirect(bf, &ri, false);
	}
	return rc ? fail("ring full") : push_and_check(bf, c, BAD_ID);
}

/* Wait up to ms until the backend, done with the ring, asked for an event on the next
 * request (req_event past req_prod): 1, or 0 if it did not. */
static int wait_backend_idle(struct blkfront *bf, int ms)
{
	blkif_sring_t *s = blkfront_ring(bf)->sring;
	uint64_t end = now_ms() + (uint64_t)ms;

	while (__atomic_load_n(&s->req_event, __ATOMIC_ACQUIRE) !=
	       __atomic_load_n(&s->req_prod, __ATOMIC_ACQUIRE) + 1) {
		if (now_ms() >= end)
			return 0;
		if (blkfront_ring_wait(bf, 20) < 0)
			return 0;
	}
	return 1;
}

/*
 * REVOKE_REQS 11-page reads and writes, each on its own pages shared for them, whose
 * pages are all revoked (special 0) the moment the first is answered, the others being
 * in flight, or, with HOSTILE_STALLED_CMD, while the disk's storage holds them (then
 * HOSTILE_UNSTALL_CMD releases them); or (1) once pushed without an event to a backend
 * waiting for one, queued.
 * In flight (ANY): which requests the backend had mapped by then is a race, so each may
 * succeed or fail: Xen keeps a mapped page alive until it is unmapped (a Linux frontend's
 * gnttab_end_foreign_access waits for that), as xensim does, and with persistent grants a
 * ref mapped before stays usable. Queued (ERROR): the backend never saw the refs, so
 * every request fails. Either way every request is answered once, with its own id, the
 * connection stays up, and a good read works afterwards.
 */
static int revoke_case(struct blkfront *bf, const struct hcase *c)
{
	xengntshr_handle *gs = xengntshr_open(NULL, 0);
	static grant_ref_t refs[REVOKE_REQS * BIG_SEGS];
	uint8_t seen[REVOKE_REQS] = { 0 };
	unsigned int n = 0, okay = 0, err = 0;
	blkif_response_t rsp;
	bool revoked = false;
	void *p;
	int rc = 0;

	if (!gs)
		return fail("xengntshr_open: %s", strerror(errno));
	p = share_fresh(bf, gs, REVOKE_REQS * BIG_SEGS, refs);
	if (!p) {
		xengntshr_close(gs);
		return 1;
	}
	if (c->special && !wait_backend_idle(bf, WAIT_MS))
		rc = fail("the backend never asked for an event on an idle ring");
	for (; !rc && n < REVOKE_REQS; n++)
		rc = put_direct(bf, n % 2 ? BLKIF_OP_WRITE : BLKIF_OP_READ, BIG_SEGS,
				(uint64_t)n * 8 * BIG_SEGS, 30000 + n, refs, REVOKE_REQS * BIG_SEGS,
				n * BIG_SEGS) ? fail("ring full at request %u", n) : 0;
	rc = rc ? rc : blkfront_ring_push(bf, c->special ? BLKFRONT_NOTIFY_NEVER :
						BLKFRONT_NOTIFY_ALWAYS);
	if (!rc && c->special) {	/* queued: revoke, then tell the backend */
		xengntshr_unshare(gs, p, REVOKE_REQS * BIG_SEGS);
		revoked = true;
		rc = blkfront_ring_notify(bf);
	} else if (!rc && hook("HOSTILE_STALLED_CMD")) {
		/* in storage: revoke while the disk holds them, then let it go on */
		rc = hook_wait("HOSTILE_STALLED_CMD", bf, CONNECT_MS);
		if (!rc) {
			xengntshr_unshare(gs, p, REVOKE_REQS * BIG_SEGS);
			revoked = true;
			rc = run_hook("HOSTILE_UNSTALL_CMD");
		}
	}
	if (rc < 0)
		rc = fail("push: %s", strerror(-rc));
	for (unsigned int got = 0; !rc && got < n; got++) {
		int w = wait_response(bf, &rsp, WAIT_MS);

		if (!revoked) {	/* in flight: the backend is at work, revoke under it */
			xengntshr_unshare(gs, p, REVOKE_REQS * BIG_SEGS);
			revoked = true;
		}
		if (w != 1)
			rc = fail("%u of %u requests answered (%s)", got, n,
				  w ? strerror(-w) : "timed out");
		else if (rsp.id < 30000 || rsp.id >= 30000 + n || seen[rsp.id - 30000]++)
			rc = fail("response id %#" PRIx64 " not in flight", (uint64_t)rsp.id);
		else if (rsp.status == BLKIF_RSP_OKAY && c->expect == ANY)
			okay++;
		else if (rsp.status == BLKIF_RSP_ERROR)
			err++;
		else
			rc = fail("status %d for request %#" PRIx64 " (expected %s)", rsp.status,
				  (uint64_t)rsp.id, c->expect == ANY ? "OKAY or an error" :
				  "an error");
	}
	if (!revoked)
		xengntshr_unshare(gs, p, REVOKE_REQS * BIG_SEGS);
	xengntshr_close(gs);
	if (rc)
		return rc;
	fprintf(stderr, "hostile: %s: %u requests, %u done, %u failed\n", c->name, n, okay, err);
	/* queued on a stalling disk: nothing reached its storage; let the good read through */
	if (c->special && hook("HOSTILE_UNSTALL_CMD") && run_hook("HOSTILE_UNSTALL_CMD"))
		return 1;
	return good_read(bf);
}

/*
 * The frontend process dies (SIGKILL) with its ring full, after a few full rings: nothing
 * tells the backend, whose view in xenstore is still Connected, and the dead process's
 * grants and event channel are gone. When the guest's next frontend comes, it finds the
 * backend Connected and walks it through Closed: the backend must let go of the dead
 * ring (answering into pages nobody shares any more) and serve the new connection.
 * With HOSTILE_STALLED_CMD it dies with one full ring held in the disk's storage, which
 * HOSTILE_UNSTALL_CMD releases once it is dead.
 */
static int vanish_case(struct blkfront *unused, const struct hcase *c)
{
	bool stalled = hook("HOSTILE_STALLED_CMD");
	int status;
	pid_t pid;

	(void)unused;
	(void)c;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return fail("fork: %s", strerror(errno));
	if (pid == 0) {
		struct blkfront_opts opts;
		struct blkfront *bf;
		blkif_response_t rsp;
		char err[256];

		hostile_opts(&opts);
		if (blkfront_connect(&opts, &bf, err, sizeof(err))) {
			fprintf(stderr, "hostile: vanish: cannot connect: %s\n", err);
			_exit(3);
		}
		for (unsigned int round = stalled ? 3 : 0; round < 4; round++) {
			unsigned int n = fill_ring(bf, 40000 + 1000 * round);

			blkfront_ring_push(bf, BLKFRONT_NOTIFY_ALWAYS);
			for (unsigned int i = 0; round < 3 && i < n; i++)
				if (wait_response(bf, &rsp, WAIT_MS) != 1)
					_exit(4);
		}
		if (stalled && hook_wait("HOSTILE_STALLED_CMD", bf, CONNECT_MS)) {
			fprintf(stderr, "hostile: vanish: %s\n", hostile_reason);
			_exit(6);
		}
		raise(SIGKILL);	/* with a full ring pushed */
		_exit(5);
	}
	if (waitpid(pid, &status, 0) != pid)
		return fail("waitpid: %s", strerror(errno));
	if (!WIFSIGNALED(status))
		return fail("the frontend did not get to vanish (exit %d)", WEXITSTATUS(status));
	if (stalled && run_hook("HOSTILE_UNSTALL_CMD"))
		return 1;
	return reconnect_and_read("after the frontend vanished");
}

/*
 * Keep the ring full, after saying "in flight" on stdout, until tests/sim/hostile.sh
 * destroys this guest (which kills us): it then checks that blkbackd removes the disks
 * and, at the end, that dom0 maps no page of any guest.
 */
static int destroyed_case(struct blkfront *bf, const struct hcase *c)
{
	uint64_t end = now_ms() + 60000, id = 50000;
	blkif_response_t rsp;
	bool said = false;

	while (now_ms() < end) {
		id += fill_ring(bf, id);
		blkfront_ring_push(bf, BLKFRONT_NOTIFY_ALWAYS);
		if (!said) {
			printf("hostile: %s: I/O in flight\n", c->name);
			said = true;
		}
		if (wait_response(bf, &rsp, 1000) < 0)
			return fail("the backend closed while we were alive");
		while (blkfront_ring_get_response(bf, &rsp) == 1)
			;
	}
	return fail("nobody destroyed this guest in 60 s");
}

/* The double fetch of operation and segment counts: the rewriter's shared state. */
static volatile int rw_stop;
static blkif_front_ring_t *rw_ring;
static blkif_vdev_t rw_handle;
static grant_ref_t rw_igref;

/* What the rewriter writes in operation and nr_segments (an indirect request's
 * indirect_op): a response's op is one of them, the one or the other (Linux blkback too
 * answers an indirect request with its indirect_op). */
static const uint8_t rw_ops[] = {
	BLKIF_OP_READ, BLKIF_OP_WRITE, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_WRITE_BARRIER,
	BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT, 4, 255,
};
static const uint8_t rw_nsegs[] = { 0, 1, 11, 12, 255, BLKIF_OP_READ, BLKIF_OP_WRITE, 8 };
/* What it writes in handle (an indirect request's nr_segments); [0] and [7]: rw_handle. */
static uint16_t rw_counts[] = { 0, 1, 8, 256, 257, 65535, 0, 0 };

/* Could the rewriter have written w over a response's low id half (bytes 0-3)? */
static bool rewriter_word(uint32_t w)
{
	uint16_t count = (uint16_t)(w >> 16);
	bool known = false;

	for (unsigned int i = 0; i < sizeof(rw_counts) / sizeof(rw_counts[0]); i++)
		known |= rw_counts[i] == count;
	return known && memchr(rw_ops, (int)(w & 0xff), sizeof(rw_ops)) &&
	       memchr(rw_nsegs, (int)((w >> 8) & 0xff), sizeof(rw_nsegs));
}

/*
 * Rewrite operation, nr_segments (an indirect request's indirect_op), handle (its
 * nr_segments) and the first indirect page of every slot, over and over. Bytes 0-3 of
 * a slot also hold the low half of a response's id, which we may garble: the case keeps
 * each request's number in the high half too (bytes 4-7), and checks that.
 */
static void *op_rewriter(void *arg)
{
	const uint8_t *ops = rw_ops, *nsegs = rw_nsegs;
	const uint16_t *counts = rw_counts;
	unsigned int x = 7;

	(void)arg;
	while (!rw_stop) {
		for (RING_IDX i = 0; i < RING_SIZE(rw_ring); i++) {
			blkif_request_t *r = RING_GET_REQUEST(rw_ring, i);
			blkif_request_indirect_t *ri = (blkif_request_indirect_t *)r;

			x = x * 1103515245u + 12345u;
			__atomic_store_n(&r->operation, ops[(x >> 8) & 7], __ATOMIC_RELAXED);
			__atomic_store_n(&r->nr_segments, nsegs[(x >> 12) & 7], __ATOMIC_RELAXED);
			__atomic_store_n(&r->handle, counts[(x >> 16) & 7], __ATOMIC_RELAXED);
			__atomic_store_n(&ri->indirect_grefs[0], x & (1u << 20) ? rw_igref : x,
					 __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

#define OP_ROUNDS 40
#define OP_BATCH 16

/*
 * Good reads and writes pushed while a thread rewrites their operation and segment
 * counts. Whatever the backend fetched, it parses its own copy once, so it never halts
 * (nothing here touches the ring's indices) and answers each request exactly once: the
 * id's high half names a request in flight, its low half is the same request's or a word
 * the rewriter wrote over it (bytes 0-3 of the slot), the op is
 * one the request held at some point, the status a BLKIF_RSP_*. Then the disk serves a
 * good read on this connection and on a new one.
 */
static int double_fetch_op_case(struct blkfront *unused, const struct hcase *c)
{
	unsigned int sent = 0, answered = 0, okay = 0;
	static uint8_t seen[OP_ROUNDS * OP_BATCH];
	struct blkfront_opts opts;
	struct blkfront *bf;
	blkif_response_t rsp;
	char err[256];
	pthread_t t;
	int rc = 0;

	(void)unused;
	(void)c;
	memset(seen, 0, sizeof(seen));
	hostile_opts(&opts);
	opts.max_ring_order = 1;	/* 64 slots: the rewriter laps them quickly */
	if (blkfront_connect(&opts, &bf, err, sizeof(err)))
		return fail("cannot connect: %s", err);
	if (blkfront_indirect_pages(bf)) {
		struct blkif_request_segment *seg = blkfront_indirect_page(bf, 0, 0);

		for (unsigned int j = 0; j < BLKFRONT_SEGS_PER_INDIRECT_PAGE; j++)
			seg[j] = (struct blkif_request_segment){
				.gref = blkfront_pool_gref(bf, j % blkfront_pool_pages(bf)),
				.last_sect = 7 };
	}
	rw_ring = blkfront_ring(bf);
	rw_handle = (blkif_vdev_t)blkfront_devid(bf);
	rw_counts[0] = rw_counts[7] = rw_handle;
	rw_igref = blkfront_indirect_gref(bf, 0, 0);
	rw_stop = 0;
	if (pthread_create(&t, NULL, op_rewriter, NULL)) {
		blkfront_disconnect(bf, err, sizeof(err));
		return fail("pthread_create failed");
	}
	for (unsigned int round = 0; round < OP_ROUNDS && !rc; round++) {
		unsigned int n = 0;
		blkif_request_t r;

		for (; n < OP_BATCH; n++) {
			uint64_t k = sent + n;

			good_req(bf, &r, (k + 1) << 32 | k);
			r.operation = n % 2 ? BLKIF_OP_WRITE : BLKIF_OP_READ;
			r.sector_number = 8 * k;
			if (blkfront_ring_put(bf, &r, false))
				break;
		}
		sent += n;
		blkfront_ring_push(bf, BLKFRONT_NOTIFY_ALWAYS);
		for (unsigned int i = 0; i < n && !rc; i++) {
			int w = wait_response(bf, &rsp, WAIT_MS);
			uint64_t k = (rsp.id >> 32) - 1;

			if (w == -ESHUTDOWN)
				rc = fail("the backend left Connected");
			else if (w != 1)
				rc = fail("request %u of %u got no answer within %d ms", answered + 1,
					  sent, WAIT_MS);
			else if ((rsp.id >> 32) == 0 || k >= sent || seen[k]++)
				rc = fail("response id %#" PRIx64 " was never sent or came twice",
					  (uint64_t)rsp.id);
			else if ((uint32_t)rsp.id != (uint32_t)k && !rewriter_word((uint32_t)rsp.id))
				rc = fail("response id %#" PRIx64 ": its low half is neither the "
					  "request's nor one we wrote", (uint64_t)rsp.id);
			else if (!memchr(rw_ops, rsp.operation, sizeof(rw_ops)) &&
				 !memchr(rw_nsegs, rsp.operation, sizeof(rw_nsegs)))
				rc = fail("response %" PRIu64 " has op %u, which no request held", k,
					  rsp.operation);
			else if (!known_status(rsp.status))
				rc = fail("response %" PRIu64 ": status %d is no BLKIF_RSP_*", k,
					  rsp.status);
			else {
				answered++;
				okay += rsp.status == BLKIF_RSP_OKAY;
			}
		}
	}
	rw_stop = 1;
	pthread_join(t, NULL);
	if (!rc && blkfront_ring_get_response(bf, &rsp) == 1)
		rc = fail("an extra response (id %#" PRIx64 ") after all %u were answered",
			  (uint64_t)rsp.id, sent);
	if (!rc)
		fprintf(stderr, "hostile: double-fetch-op: %u requests, %u answered (%u OKAY, the "
			"rest failed)\n", sent, answered, okay);
	/* The rewriter left garbage in every slot's op: good_read writes a fresh request. */
	if (!rc)
		rc = good_read(bf);
	blkfront_disconnect(bf, err, sizeof(err));
	return rc ? rc : reconnect_and_read("after the rewriting");
}

const struct hcase hostile_life_cases[] = {
	/* grants revoked before the push: the backend never mapped them */
	{ .name = "revoked-before-read", .disk = "rw", .expect = ERROR, .fn = revoked_case,
	  .op = BLKIF_OP_READ, .nsegs = 1 },
	{ .name = "revoked-before-write", .disk = "rw", .expect = ERROR, .fn = revoked_case,
	  .op = BLKIF_OP_WRITE, .nsegs = 11 },
	{ .name = "revoked-indirect-page", .disk = "rw", .expect = ERROR, .fn = revoked_case,
	  .op = BLKIF_OP_READ, .nsegs = 16, .special = 1 },
	/* revoked with requests on them in flight, or queued on the ring */
	{ .name = "revoke-in-flight", .disk = "rw", .expect = ANY, .fn = revoke_case },
	{ .name = "revoke-queued", .disk = "rw", .expect = ERROR, .fn = revoke_case,
	  .special = 1 },
	{ .name = "double-fetch-op", .disk = "rw", .expect = ANY, .fn = double_fetch_op_case,
	  .own_connect = true },
	{ .name = "vanish-mid-io", .disk = "rw", .expect = CLOSED, .fn = vanish_case,
	  .own_connect = true },
	/* last: hostile.sh creates the guest again afterwards */
	{ .name = "destroyed-mid-io", .disk = "rw", .expect = DESTROYED, .fn = destroyed_case },
};
const size_t hostile_life_ncases = sizeof(hostile_life_cases) / sizeof(hostile_life_cases[0]);
