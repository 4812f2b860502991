/*
 * hostile: a malicious Xen block frontend, built on the blkfront library's low-level ring
 * API. Run inside a guest: 'hostile VDEV CASE' connects to VDEV (or lets the case connect
 * its own way), does one malicious thing and checks that the backend answers as the case
 * table says:
 *   ERROR     an error response (BLKIF_RSP_ERROR or EOPNOTSUPP) carrying the request's id,
 *             then one good read still succeeds: a bad request fails alone;
 *   HALT      the backend says it halted the ring (HOSTILE_HALTED_CMD, see expect_halted
 *             in hostile-lib.c), wrote no response for the bad request, and stays
 *             Connected;
 *   ANY       the backend may answer, error or halt; it must only not crash or close
 *             (tests/sim/hostile.sh checks that blkbackd stays up). Most ANY cases check
 *             more, each saying what: evtchn-storm does a good read afterwards, the
 *             double fetches, indirect-page-rewrite and revoke-in-flight want exactly
 *             one answer per request with its id (and no halt);
 *   REFUSED   the frontend publishes bad xenstore nodes: the backend does not connect,
 *             writes why in its error node and goes Closing; then the same disk connects
 *             properly and serves a good read (hostile-xs.c);
 *   CLOSED    the frontend process dies with I/O in flight: the backend lets go of the
 *             dead connection when the guest's next frontend comes, which then connects
 *             and serves (hostile-life.c);
 *   DESTROYED the case puts I/O in flight, says "in flight" on stdout and waits:
 *             tests/sim/hostile.sh destroys the guest then and checks that blkbackd
 *             removes its disks and releases every grant.
 * The cases live in three files: requests here, xenstore in hostile-xs.c, grants and
 * the frontend's life in hostile-life.c.
 * 'hostile --list' prints one line per case: NAME DISK OUTCOME, DISK being the disk the
 * case wants (rw: a writable ramdisk, ro: attached read-only). Exit 0 as expected, 1
 * otherwise (with a one-line reason), 2 on bad usage. What only dom0 can see, the runner
 * gives as commands in the environment (the hooks of hostile.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xengnttab.h>

#include "hostile.h"

/* A direct request of the case's parameters on slot 0's pages. */
static int direct_case(struct blkfront *bf, const struct hcase *c)
{
	blkif_request_t r;
	uint64_t sectors = blkfront_disk(bf)->sectors;

	memset(&r, 0, sizeof(r));
	r.operation = c->op;
	r.nr_segments = (uint8_t)c->nsegs;
	r.handle = (blkif_vdev_t)blkfront_devid(bf);
	r.id = BAD_ID;
	switch (c->special) {
	case 1: r.sector_number = UINT64_MAX; break;		/* 2^64-1 */
	case 2: r.sector_number = UINT64_MAX - 3; break;	/* 8 sectors wrap to 4 */
	case 3: r.sector_number = sectors - 7; break;		/* one past the end */
	case 4: r.sector_number = sectors; break;		/* at the end */
	default: r.sector_number = c->sector;
	}
	for (unsigned int i = 0; i < c->nsegs && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		unsigned int page = i % blkfront_pool_pages(bf);

		r.seg[i].gref = c->gref ? c->gref : blkfront_pool_gref(bf, page);
		r.seg[i].first_sect = c->first;
		r.seg[i].last_sect = c->last;
	}
	if (blkfront_ring_put(bf, &r, false))
		return fail("ring full");
	return push_and_check(bf, c, BAD_ID);
}

/* A discard of the case's range. */
static int discard_case(struct blkfront *bf, const struct hcase *c)
{
	blkif_request_discard_t d;
	blkif_request_t r;
	uint64_t sectors = blkfront_disk(bf)->sectors;

	memset(&d, 0, sizeof(d));
	d.operation = BLKIF_OP_DISCARD;
	d.handle = (blkif_vdev_t)blkfront_devid(bf);
	d.id = BAD_ID;
	switch (c->special) {
	case 1: d.sector_number = 1; d.nr_sectors = 8; break;	/* fine on 512-byte sectors */
	case 2: d.sector_number = sectors - 8; d.nr_sectors = 16; break;
	case 3: d.sector_number = UINT64_MAX - 3; d.nr_sectors = 8; break;
	default: d.sector_number = 0; d.nr_sectors = 8;
	}
	memset(&r, 0, sizeof(r));
	memcpy(&r, &d, sizeof(d));
	if (blkfront_ring_put(bf, &r, false))
		return fail("ring full");
	return push_and_check(bf, c, BAD_ID);
}

/* An indirect request; c->special picks the poison. */
static int indirect_case(struct blkfront *bf, const struct hcase *c)
{
	blkif_request_indirect_t r;
	unsigned int npages = blkfront_indirect_pages(bf);
	uint16_t n = c->nsegs;

	if (!npages)
		return fail("no indirect descriptors negotiated");
	memset(&r, 0, sizeof(r));
	r.operation = BLKIF_OP_INDIRECT;
	r.indirect_op = c->op;
	r.nr_segments = n;
	r.handle = (blkif_vdev_t)blkfront_devid(bf);
	r.id = BAD_ID;
	r.sector_number = 0;
	for (unsigned int k = 0; k < npages && k < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; k++) {
		struct blkif_request_segment *seg = blkfront_indirect_page(bf, 0, k);

		r.indirect_grefs[k] = blkfront_indirect_gref(bf, 0, k);
		for (unsigned int i = 0; i < BLKFRONT_SEGS_PER_INDIRECT_PAGE; i++) {
			seg[i].gref = blkfront_pool_gref(bf, i % blkfront_pool_pages(bf));
			seg[i].first_sect = 0;
			seg[i].last_sect = 7;
		}
	}
	switch (c->special) {
	case 1:	/* a bad indirect page ref */
		r.indirect_grefs[0] = 0xffffffffu;
		break;
	case 2: {	/* garbage descriptors */
		struct blkif_request_segment *seg = blkfront_indirect_page(bf, 0, 0);
		unsigned int x = 12345;

		for (unsigned int i = 0; i < BLKFRONT_SEGS_PER_INDIRECT_PAGE; i++) {
			x = x * 1103515245u + 12345u;
			memcpy(&seg[i], &x, sizeof(x));
			seg[i].first_sect = (uint8_t)(x >> 8);
			seg[i].last_sect = (uint8_t)(x >> 16) | 8;
		}
		break;
	}
	case 3: {	/* first_sect > last_sect in segment 1 */
		struct blkif_request_segment *seg = blkfront_indirect_page(bf, 0, 0);

		seg[1].first_sect = 5;
		seg[1].last_sect = 2;
		break;
	}
	case 5: {	/* last_sect 8 in segment 2 */
		struct blkif_request_segment *seg = blkfront_indirect_page(bf, 0, 0);

		seg[2].last_sect = 8;
		break;
	}
	case 4:	/* one past the end */
		r.sector_number = blkfront_disk(bf)->sectors - 8u * n + 1;
		break;
	}
	if (blkfront_ring_put_indirect(bf, &r, false))
		return fail("ring full");
	return push_and_check(bf, c, BAD_ID);
}

/* Indirect pages rewritten after the push: the rewriter's state. */
#define IP_BATCH 8
static volatile int ip_stop;
static struct blkif_request_segment *ip_pages[IP_BATCH];
static unsigned int ip_npages, ip_nsegs;
static grant_ref_t ip_gref;

/* A good descriptor: all of pool page ip_gref. */
static struct blkif_request_segment ip_good(void)
{
	return (struct blkif_request_segment){ .gref = ip_gref, .first_sect = 0, .last_sect = 7 };
}

/*
 * Over and over, on each page at random: spoil one of the requests' descriptors, or put
 * them all right again. A copy may catch a page good, spoilt or half written.
 */
static void *ipage_rewriter(void *arg)
{
	unsigned int x = 3, y;

	(void)arg;
	while (!ip_stop)
		for (unsigned int p = 0; p < ip_npages; p++) {
			struct blkif_request_segment *s;

			x = x * 1103515245u + 12345u;
			y = x >> 16;		/* the low bits of x repeat too soon */
			s = &ip_pages[p][(y >> 3) % ip_nsegs];
			if (y & 4)
				for (unsigned int i = 0; i < ip_nsegs; i++) {
					s = &ip_pages[p][i];
					__atomic_store_n(&s->gref, ip_gref, __ATOMIC_RELAXED);
					__atomic_store_n(&s->first_sect, (uint8_t)0,
							 __ATOMIC_RELAXED);
					__atomic_store_n(&s->last_sect, (uint8_t)7,
							 __ATOMIC_RELAXED);
				}
			else if (y & 1)
				__atomic_store_n(&s->gref, 0xffffffffu, __ATOMIC_RELAXED);
			else if (y & 2)
				__atomic_store_n(&s->first_sect, (uint8_t)9, __ATOMIC_RELAXED);
			else
				__atomic_store_n(&s->last_sect, (uint8_t)255, __ATOMIC_RELAXED);
		}
	return NULL;
}

/*
 * Wait for one answer to reads with ids 1000 up to 1000 + sent (seen counts each): it must
 * come, once, as a read, OKAY or ERROR. Counts it in answered and okay; 0 or fail's status.
 */
static int check_read_answer(struct blkfront *bf, unsigned int sent, uint8_t *seen,
			     unsigned int *answered, unsigned int *okay)
{
	blkif_response_t rsp;
	int w = wait_response(bf, &rsp, WAIT_MS);

	if (w == -ESHUTDOWN)
		return fail("the backend left Connected");
	if (w != 1)
		return fail("request %u of %u got no answer within %d ms", *answered + 1, sent,
			    WAIT_MS);
	if (rsp.id < 1000 || rsp.id >= 1000 + sent || seen[rsp.id - 1000]++)
		return fail("response id %#" PRIx64 " was never sent or came twice",
			    (uint64_t)rsp.id);
	if (rsp.operation != BLKIF_OP_READ)
		return fail("response %#" PRIx64 " has op %u, the request was a read",
			    (uint64_t)rsp.id, rsp.operation);
	if (rsp.status != BLKIF_RSP_OKAY && rsp.status != BLKIF_RSP_ERROR)
		return fail("status %d for read %#" PRIx64 ", expected OKAY or ERROR", rsp.status,
			    (uint64_t)rsp.id);
	(*answered)++;
	*okay += rsp.status == BLKIF_RSP_OKAY;
	return 0;
}

/*
 * Indirect reads pushed while a thread rewrites the descriptors on their indirect pages
 * (with persistent grants the backend keeps those pages mapped): it copies each page
 * once and parses its copy, so it never halts and answers every request exactly once,
 * with its id, op READ and OKAY or ERROR (OKAY for some: a page is good half the time).
 * Then a good read.
 */
static int indirect_rewrite_case(struct blkfront *bf, const struct hcase *c)
{
	static uint8_t seen[50 * IP_BATCH];
	unsigned int answered = 0, sent = 0, okay = 0, batch = blkfront_slots(bf);
	blkif_request_indirect_t r;
	blkif_response_t rsp;
	pthread_t t;
	int rc = 0;

	if (!blkfront_indirect_pages(bf))
		return fail("no indirect descriptors negotiated");
	memset(seen, 0, sizeof(seen));
	batch = batch < IP_BATCH ? batch : IP_BATCH;
	ip_gref = blkfront_pool_gref(bf, 0);
	ip_nsegs = c->nsegs;
	for (ip_npages = 0; ip_npages < batch; ip_npages++) {
		ip_pages[ip_npages] = blkfront_indirect_page(bf, ip_npages, 0);
		for (unsigned int i = 0; i < ip_nsegs; i++)
			ip_pages[ip_npages][i] = ip_good();
	}
	ip_stop = 0;
	if (pthread_create(&t, NULL, ipage_rewriter, NULL))
		return fail("pthread_create failed");
	for (unsigned int round = 0; round < 50 && !rc; round++) {
		unsigned int n = 0;

		for (unsigned int i = 0; i < batch; i++) {
			memset(&r, 0, sizeof(r));
			r.operation = BLKIF_OP_INDIRECT;
			r.indirect_op = BLKIF_OP_READ;
			r.nr_segments = c->nsegs;
			r.handle = (blkif_vdev_t)blkfront_devid(bf);
			r.id = 1000 + sent;
			r.indirect_grefs[0] = blkfront_indirect_gref(bf, i, 0);
			if (blkfront_ring_put_indirect(bf, &r, false))
				break;
			n++;
			sent++;
		}
		blkfront_ring_push(bf, BLKFRONT_NOTIFY_ALWAYS);
		for (unsigned int i = 0; i < n && !rc; i++)
			rc = check_read_answer(bf, sent, seen, &answered, &okay);
	}
	ip_stop = 1;
	pthread_join(t, NULL);
	if (!rc && blkfront_ring_get_response(bf, &rsp) == 1)
		rc = fail("an extra response (id %#" PRIx64 ") after all %u were answered",
			  (uint64_t)rsp.id, sent);
	if (!rc && !okay)
		rc = fail("none of %u reads on indirect pages good half the time succeeded", sent);
	if (!rc)
		fprintf(stderr, "hostile: indirect-page-rewrite: %u requests sent, %u answered "
			"(%u OKAY)\n", sent, answered, okay);
	return rc ? rc : good_read(bf);
}

/* A read whose target page is granted read-only: writing the data there must fail. */
static int rogrant_case(struct blkfront *bf, const struct hcase *c)
{
	xengntshr_handle *gs = xengntshr_open(NULL, 0);
	uint32_t ref;
	void *p;
	blkif_request_t r;
	int rc;

	if (!gs)
		return fail("xengntshr_open: %s", strerror(errno));
	p = xengntshr_share_pages(gs, (uint16_t)blkfront_backend_id(bf), 1, &ref, 0);
	if (!p) {
		xengntshr_close(gs);
		return fail("sharing a read-only page: %s", strerror(errno));
	}
	memset(&r, 0, sizeof(r));
	r.operation = BLKIF_OP_READ;
	r.nr_segments = 1;
	r.handle = (blkif_vdev_t)blkfront_devid(bf);
	r.id = BAD_ID;
	r.seg[0].gref = ref;
	r.seg[0].first_sect = 0;
	r.seg[0].last_sect = 7;
	if (blkfront_ring_put(bf, &r, false))
		rc = fail("ring full");
	else
		rc = push_and_check(bf, c, BAD_ID);
	xengntshr_unshare(gs, p, 1);
	xengntshr_close(gs);
	return rc;
}

/* req_prod more than a ring ahead of the responses: the backend halts the ring. */
static int prod_overflow_case(struct blkfront *bf, const struct hcase *c)
{
	blkif_front_ring_t *ring = blkfront_ring(bf);
	int rc;

	(void)c;
	blkfront_ring_set_req_prod(bf, ring->rsp_cons + RING_SIZE(ring) + 5);
	rc = blkfront_ring_notify(bf);
	if (rc)
		return fail("notify: %s", strerror(-rc));
	return expect_halted(bf);
}

/* req_prod moving backwards after some requests were served: each served request got
 * its one answer, then the backend halts the ring and answers nothing more. */
static int prod_back_case(struct blkfront *bf, const struct hcase *c)
{
	blkif_front_ring_t *ring = blkfront_ring(bf);
	blkif_request_t r;
	blkif_response_t rsp;
	uint8_t seen[4] = { 0 };
	int rc;

	(void)c;
	for (unsigned int i = 0; i < 4; i++) {
		good_req(bf, &r, 100 + i);
		blkfront_ring_put(bf, &r, false);
	}
	blkfront_ring_push(bf, BLKFRONT_NOTIFY_ALWAYS);
	for (unsigned int i = 0; i < 4; i++) {
		rc = wait_response(bf, &rsp, WAIT_MS);
		if (rc != 1)
			return fail("good request %u of 4 was not answered (%d)", i, rc);
		if (rsp.id < 100 || rsp.id >= 104 || seen[rsp.id - 100]++)
			return fail("response id %#" PRIx64 " not in flight", (uint64_t)rsp.id);
		if (rsp.operation != BLKIF_OP_READ || rsp.status != BLKIF_RSP_OKAY)
			return fail("good read %#" PRIx64 " answered op %u status %d",
				    (uint64_t)rsp.id, rsp.operation, rsp.status);
	}
	/* Now back by 3, and by a lot, with events. */
	blkfront_ring_set_req_prod(bf, ring->req_prod_pvt - 3);
	blkfront_ring_notify(bf);
	blkfront_ring_set_req_prod(bf, ring->req_prod_pvt - 1000);
	blkfront_ring_notify(bf);
	return expect_halted(bf);
}

/* Double fetch: flip the request slots while the backend reads them. */
static volatile int flip_stop;
static blkif_front_ring_t *flip_ring;
static grant_ref_t flip_gref;
static void *flipper(void *arg)
{
	unsigned int x = 1;

	(void)arg;
	while (!flip_stop) {
		for (RING_IDX i = 0; i < RING_SIZE(flip_ring); i++) {
			blkif_request_t *r = RING_GET_REQUEST(flip_ring, i);

			x = x * 1103515245u + 12345u;
			/*
			 * Only fields at offset 16 and beyond: the first 16 bytes of a slot
			 * also hold its response (id, operation, status), which we would
			 * garble ourselves.
			 */
			__atomic_store_n(&r->seg[0].last_sect, (uint8_t)(x & 4 ? 7 : 255),
					 __ATOMIC_RELAXED);
			__atomic_store_n(&r->seg[0].first_sect, (uint8_t)(x & 16 ? 0 : 9),
					 __ATOMIC_RELAXED);
			__atomic_store_n(&r->sector_number, x & 8 ? 0 : UINT64_MAX - (x >> 28),
					 __ATOMIC_RELAXED);
			__atomic_store_n(&r->seg[0].gref, x & 32 ? flip_gref : 0xffffffffu,
					 __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

/*
 * Good reads pushed while flipper rewrites their sector and segment: the backend parses
 * its own copy once, so it never halts, and answers every request exactly once, with the
 * request's id and operation (the flipper leaves bytes 0-15 alone) and OKAY or ERROR.
 */
static int double_fetch_case(struct blkfront *bf, const struct hcase *c)
{
	blkif_request_t r;
	blkif_response_t rsp;
	pthread_t t;
	static uint8_t seen[50 * 8];
	unsigned int answered = 0, sent = 0, okay = 0;
	int rc = 0;

	(void)c;
	memset(seen, 0, sizeof(seen));
	flip_ring = blkfront_ring(bf);
	flip_gref = blkfront_pool_gref(bf, 0);
	flip_stop = 0;
	if (pthread_create(&t, NULL, flipper, NULL))
		return fail("pthread_create failed");
	for (unsigned int round = 0; round < 50 && !rc; round++) {
		unsigned int n = 0;

		for (unsigned int i = 0; i < 8; i++) {
			good_req(bf, &r, 1000 + sent);
			if (blkfront_ring_put(bf, &r, false))
				break;
			n++;
			sent++;
		}
		blkfront_ring_push(bf, BLKFRONT_NOTIFY_ALWAYS);
		for (unsigned int i = 0; i < n && !rc; i++)
			rc = check_read_answer(bf, sent, seen, &answered, &okay);
	}
	flip_stop = 1;
	pthread_join(t, NULL);
	/* No answer more: one already here fails now, a later one the good read (an id
	 * not in flight is -EPROTO to the I/O layer). */
	if (!rc && blkfront_ring_get_response(bf, &rsp) == 1)
		rc = fail("an extra response (id %#" PRIx64 ") after all %u were answered",
			  (uint64_t)rsp.id, sent);
	if (!rc)
		fprintf(stderr, "hostile: double fetch: %u requests sent, %u answered (%u OKAY)\n",
			sent, answered, okay);
	return rc ? rc : good_read(bf);
}

/* An event-channel storm with nothing on the ring; then the disk still serves. */
static int evtchn_storm_case(struct blkfront *bf, const struct hcase *c)
{
	(void)c;
	for (unsigned int i = 0; i < 20000; i++) {
		int rc = blkfront_ring_notify(bf);

		if (rc)
			return fail("notify #%u: %s", i, strerror(-rc));
	}
	return good_read(bf);
}

/* A full ring of bad requests (every slot an unknown opcode): every one is answered with
 * an error carrying its id, then a good read succeeds. */
static int full_ring_bad_case(struct blkfront *bf, const struct hcase *c)
{
	blkif_front_ring_t *ring = blkfront_ring(bf);
	unsigned int n = RING_SIZE(ring), got = 0;
	blkif_request_t r;
	blkif_response_t rsp;
	static uint8_t seen[BLKFRONT_MAX_SLOTS];

	(void)c;
	memset(seen, 0, sizeof(seen));
	for (unsigned int i = 0; i < n; i++) {
		good_req(bf, &r, 5000 + i);
		r.operation = (uint8_t)(i & 1 ? 200 : 4);
		if (blkfront_ring_put(bf, &r, false))
			return fail("ring full after %u requests", i);
	}
	blkfront_ring_push(bf, BLKFRONT_NOTIFY_ALWAYS);
	while (got < n) {
		int rc = wait_response(bf, &rsp, WAIT_MS);

		if (rc != 1)
			return fail("%u of %u bad requests answered (%d)", got, n, rc);
		if (rsp.id < 5000 || rsp.id >= 5000 + n || seen[rsp.id - 5000]++)
			return fail("response id %#" PRIx64 " not in flight", (uint64_t)rsp.id);
		if (rsp.status != BLKIF_RSP_EOPNOTSUPP && rsp.status != BLKIF_RSP_ERROR)
			return fail("status %d for a bad opcode", rsp.status);
		got++;
	}
	return good_read(bf);
}

#define D(n, d, e, o, s, sec, sp, f, l) \
	{ .name = n, .disk = d, .expect = e, .fn = direct_case, .op = o, .nsegs = s, \
	  .sector = sec, .special = sp, .first = f, .last = l }
#define I(n, o, s, sp, e) IRO(n, "rw", o, s, sp, e)
#define IRO(n, d, o, s, sp, e) \
	{ .name = n, .disk = d, .expect = e, .fn = indirect_case, .op = o, .nsegs = s, \
	  .special = sp }

const struct hcase hostile_req_cases[] = {
	/* opcodes */
	D("op-4", "rw", ERROR, 4, 1, 0, 0, 0, 7),	/* 3 is FLUSH_DISKCACHE */
	D("op-7", "rw", ERROR, 7, 1, 0, 0, 0, 7),
	D("op-8", "rw", ERROR, 8, 1, 0, 0, 0, 7),
	D("op-255", "rw", ERROR, 255, 1, 0, 0, 0, 7),
	/* segment counts */
	D("read-0-segs", "rw", ERROR, BLKIF_OP_READ, 0, 0, 0, 0, 7),
	D("write-0-segs", "rw", ERROR, BLKIF_OP_WRITE, 0, 0, 0, 0, 7),
	D("read-12-segs", "rw", ERROR, BLKIF_OP_READ, 12, 0, 0, 0, 7),
	D("write-255-segs", "rw", ERROR, BLKIF_OP_WRITE, 255, 0, 0, 0, 7),
	I("indirect-0-segs", BLKIF_OP_READ, 0, 0, ERROR),
	I("indirect-257-segs", BLKIF_OP_READ, 257, 0, ERROR),
	I("indirect-65535-segs", BLKIF_OP_WRITE, 65535, 0, ERROR),
	/* segment bounds */
	D("first-after-last", "rw", ERROR, BLKIF_OP_READ, 1, 0, 0, 5, 2),
	D("last-sect-8", "rw", ERROR, BLKIF_OP_READ, 1, 0, 0, 0, 8),
	D("last-sect-255", "rw", ERROR, BLKIF_OP_WRITE, 1, 0, 0, 0, 255),
	D("flush-12-segs", "rw", ERROR, BLKIF_OP_FLUSH_DISKCACHE, 12, 0, 0, 0, 7),
	D("flush-last-sect-8", "rw", ERROR, BLKIF_OP_FLUSH_DISKCACHE, 1, 0, 0, 0, 8),
	/* sector ranges */
	D("sector-2^64-1", "rw", ERROR, BLKIF_OP_READ, 1, 0, 1, 0, 7),
	D("sector-wraps", "rw", ERROR, BLKIF_OP_WRITE, 1, 0, 2, 0, 7),
	D("one-past-end", "rw", ERROR, BLKIF_OP_READ, 1, 0, 3, 0, 7),
	D("at-end", "rw", ERROR, BLKIF_OP_WRITE, 1, 0, 4, 0, 7),
	D("flush-past-end", "rw", ERROR, BLKIF_OP_FLUSH_DISKCACHE, 1, 0, 3, 0, 7),
	/* discard */
	{ .name = "discard-past-end", .disk = "rw", .expect = ERROR, .fn = discard_case,
	  .special = 2 },
	{ .name = "discard-wraps", .disk = "rw", .expect = ERROR, .fn = discard_case,
	  .special = 3 },
	{ .name = "discard-ro", .disk = "ro", .expect = ERROR, .fn = discard_case },
	/* read-only disk */
	D("write-ro", "ro", ERROR, BLKIF_OP_WRITE, 1, 0, 0, 0, 7),
	D("flush-ro", "ro", ERROR, BLKIF_OP_FLUSH_DISKCACHE, 0, 0, 0, 0, 7),
	D("barrier-ro", "ro", ERROR, BLKIF_OP_WRITE_BARRIER, 1, 0, 0, 0, 7),
	IRO("indirect-write-ro", "ro", BLKIF_OP_WRITE, 16, 0, ERROR),
	/* grants */
	{ .name = "bad-gref", .disk = "rw", .expect = ERROR, .fn = direct_case,
	  .op = BLKIF_OP_READ, .nsegs = 1, .last = 7, .gref = 0xffffffffu },
	{ .name = "bad-gref-write", .disk = "rw", .expect = ERROR, .fn = direct_case,
	  .op = BLKIF_OP_WRITE, .nsegs = 3, .last = 7, .gref = 0xffffffffu },
	{ .name = "read-into-ro-grant", .disk = "rw", .expect = ERROR, .fn = rogrant_case },
	/* indirect */
	I("indirect-bad-page-ref", BLKIF_OP_READ, 16, 1, ERROR),
	I("indirect-garbage-segs", BLKIF_OP_READ, 32, 2, ERROR),
	I("indirect-first-after-last", BLKIF_OP_WRITE, 8, 3, ERROR),
	I("indirect-past-end", BLKIF_OP_READ, 16, 4, ERROR),
	I("indirect-op-flush", BLKIF_OP_FLUSH_DISKCACHE, 8, 0, ERROR),
	I("indirect-op-indirect", BLKIF_OP_INDIRECT, 8, 0, ERROR),
	I("indirect-op-discard", BLKIF_OP_DISCARD, 8, 0, ERROR),
	I("indirect-last-sect-8", BLKIF_OP_READ, 8, 5, ERROR),
	{ .name = "full-ring-of-bad", .disk = "rw", .expect = ERROR, .fn = full_ring_bad_case },
	{ .name = "evtchn-storm", .disk = "rw", .expect = ANY, .fn = evtchn_storm_case },
	/* ring attacks */
	{ .name = "req-prod-overflow", .disk = "rw", .expect = HALT, .fn = prod_overflow_case },
	{ .name = "req-prod-backwards", .disk = "rw", .expect = HALT, .fn = prod_back_case },
	{ .name = "double-fetch", .disk = "rw", .expect = ANY, .fn = double_fetch_case },
	{ .name = "indirect-page-rewrite", .disk = "rw", .expect = ANY,
	  .fn = indirect_rewrite_case, .nsegs = 16 },
};
const size_t hostile_req_ncases = sizeof(hostile_req_cases) / sizeof(hostile_req_cases[0]);

static const struct {
	const struct hcase *cases;
	const size_t *n;
} tables[] = {
	{ hostile_req_cases, &hostile_req_ncases },
	{ hostile_xs_cases, &hostile_xs_ncases },
	{ hostile_life_cases, &hostile_life_ncases },
};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))

/* The case called name, or NULL. */
static const struct hcase *find_case(const char *name)
{
	for (size_t t = 0; t < NTABLES; t++)
		for (size_t i = 0; i < *tables[t].n; i++)
			if (!strcmp(tables[t].cases[i].name, name))
				return &tables[t].cases[i];
	return NULL;
}

/* Run the case argv[2] on vdev argv[1], or list the cases. */
int main(int argc, char **argv)
{
	struct blkfront_opts opts;
	struct blkfront *bf = NULL;
	const struct hcase *c;
	char err[256];
	int rc;

	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (size_t t = 0; t < NTABLES; t++)
			for (size_t i = 0; i < *tables[t].n; i++)
				printf("%s %s %s\n", tables[t].cases[i].name,
				       tables[t].cases[i].disk,
				       outcome_name[tables[t].cases[i].expect]);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: hostile VDEV CASE | hostile --list\n");
		return 2;
	}
	hostile_vdev = argv[1];
	c = find_case(argv[2]);
	if (!c) {
		fprintf(stderr, "hostile: no case %s (see hostile --list)\n", argv[2]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);	/* DESTROYED cases talk to hostile.sh */
	if (!c->own_connect) {
		hostile_opts(&opts);
		if (blkfront_connect(&opts, &bf, err, sizeof(err))) {
			fprintf(stderr, "hostile: %s: cannot connect: %s\n", c->name, err);
			return 1;
		}
	}
	rc = c->fn(bf, c);
	/* A halted ring may not let go cleanly: the next connect resets it. */
	if (bf)
		blkfront_disconnect(bf, err, sizeof(err));
	if (rc) {
		printf("hostile: %s: FAIL (expected %s): %s\n", c->name, outcome_name[c->expect],
		       hostile_reason);
		return 1;
	}
	printf("hostile: %s: as expected (%s)\n", c->name, outcome_name[c->expect]);
	return 0;
}
