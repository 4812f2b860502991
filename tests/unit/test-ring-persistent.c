/*
 * Unit test: persistent grants (blkback/grant.c's per-ring cache) through blkback/ring.c,
 * indirect descriptor pages read through the cache, and write pages granted read-only.
 * The cache holds GRANT_PERSISTENT_MAX grants at most; a request it cannot hold is mapped
 * with its sweep and unmapped before its answer, as in map mode (an indirect page it
 * cannot hold is grant-copied); and every GC_PURGE_MISSES misses on a full cache unmap the
 * oldest eighth of the idle grants. The fake grant table (fake-xen.c) refuses a writable
 * map of a read-only grant, as Xen does.
 */
#include "ring-harness.h"

#define NSEGS 256			/* feature-max-indirect-segments offered */
/* The bound docs/security.md promises (Linux blkback's max_persistent_grants), not grant.h's. */
#define PMAX 1056
#define PURGE_MISSES 1024		/* grant.c's GC_PURGE_MISSES */
#define PURGED (PMAX / 8)		/* what one purge unmaps when every grant is idle */

/* The bound case's guest pages. */
#define FILL0 1				/* 4 writes of 256 pages: 1024 grants cached */
#define NFILL (4 * NSEGS)
#define OVER0 (FILL0 + NFILL)		/* a 256-page read: 32 more cached, then full */
#define IND0 (OVER0 + NSEGS)		/* indirect pages, one per 256-page request */
#define NIND 5				/* the bound case's indirect pages, each cached */
#define KEPT (PMAX - NFILL - NIND)	/* the read's pages cached before it is full */
#define MISS0 (IND0 + 8)		/* pages of the one-page requests beyond the cache */
#define NMISS 32			/* as many as a one-page ring holds */
#define NEW0 (MISS0 + NMISS)		/* a page first offered after the purge */
#define BIG_GRANTS (NEW0 + 1)
#define AGED (FILL0 + NSEGS - 1)	/* a page of the oldest write, used again later */

/* Build a fresh world of nr_grants pages, offering 256 indirect segments, in mode. */
static void start_mode(struct world *w, uint32_t nr_grants, enum grant_mode mode)
{
	world_init(w, nr_grants);
	w->cfg.lim.max_indirect = NSEGS;
	w->cfg.grant_mode = mode;
	if (world_ring_start(w)) {
		fprintf(stderr, "blk_ring_start failed\n");
		exit(1);
	}
}

/* The ring's persistent grant gauge now. */
static uint64_t persistent_now(struct world *w)
{
	struct blk_ring_stats st;

	blk_ring_get_stats(w->ring, &st);
	return st.grants.persistent;
}

/* How many of the n refs from first the backend maps right now. */
static unsigned int mapped_in(grant_ref_t first, unsigned int n)
{
	unsigned int c = 0;

	for (unsigned int i = 0; i < n; i++)
		c += fake_grant_mapped(first + i) != 0;
	return c;
}

/* Push the pending requests, wait for one answer and check its id, op and status. */
static void one_answer(struct world *w, uint64_t id, uint8_t op, int16_t status,
		       const char *what)
{
	blkif_response_t rsp;

	front_push(w);
	if (!wait_rsps(w, 1)) {
		CHECK(0, "%s: no answer", what);
		return;
	}
	take_rsp(w, &rsp);
	CHECK(rsp.id == id && rsp.operation == op && rsp.status == status,
	      "%s: got id %llu op %d status %d, want id %llu op %d status %d", what,
	      (unsigned long long)rsp.id, rsp.operation, rsp.status, (unsigned long long)id, op,
	      status);
}

/* Case 1: persistent grants: mapped once, kept after the answer, reused, unmapped at stop. */
static void test_persistent(void)
{
	struct world w;
	struct blk_ring_stats st;
	blkif_request_t *req;
	uint8_t expect[PAGE];

	printf("case 1: persistent grants: mapped once, reused, unmapped at stop\n");
	start_mode(&w, NR_GRANTS, GRANT_MODE_PERSISTENT);
	fill_page(1, 33);
	memcpy(expect, fake_grant_page(1), PAGE);
	req = front_req(&w, BLKIF_OP_WRITE, 0x3333, 16);
	add_seg(req, 1, 0, 7);
	one_answer(&w, 0x3333, BLKIF_OP_WRITE, BLKIF_RSP_OKAY, "persistent write");
	CHECK(memcmp(fd_state.data + 16 * 512, expect, PAGE) == 0, "the write did not land");
	CHECK_INT(fake_grant_mapped(1), 1, "a persistent grant is unmapped after its answer");

	/* The same page, now as a read target: no new map, the data comes back into it. */
	memset(fake_grant_page(1), 0, PAGE);
	req = front_req(&w, BLKIF_OP_READ, 0x4444, 16);
	add_seg(req, 1, 0, 7);
	one_answer(&w, 0x4444, BLKIF_OP_READ, BLKIF_RSP_OKAY, "persistent read");
	CHECK(memcmp(fake_grant_page(1), expect, PAGE) == 0, "the read did not land");
	blk_ring_get_stats(w.ring, &st);
	CHECK_U64(st.grants.maps, 1, "one map for two requests on the same grant");
	CHECK_U64(st.grants.persistent, 1, "persistent grants held");
	CHECK_U64(st.grants.unmaps, 0, "unmaps while connected");
	world_stop(&w);		/* checks that no mapping is left */
}

/* Four 1 MiB writes on 1024 distinct pages, one at a time: each grant cached and kept. */
static void fill_cache(struct world *w)
{
	for (unsigned int i = 0; i < 4; i++) {
		grant_ref_t first = FILL0 + i * NSEGS;
		struct blkif_request_segment *segs;
		bool disk_ok = true;

		for (unsigned int k = 0; k < NSEGS; k++)
			fill_page(first + k, (uint8_t)(k + 64 * i));
		segs = front_indirect(w, BLKIF_OP_WRITE, 0x100 + i, i * 2048, IND0 + i, NSEGS);
		for (unsigned int k = 0; k < NSEGS; k++)
			segs[k] = (struct blkif_request_segment){ .gref = first + k,
								  .last_sect = 7 };
		one_answer(w, 0x100 + i, BLKIF_OP_WRITE, BLKIF_RSP_OKAY, "a 1 MiB write");
		for (unsigned int k = 0; k < NSEGS; k++)
			disk_ok &= !memcmp(fd_state.data + ((size_t)i * NSEGS + k) * PAGE,
					   fake_grant_page(first + k), PAGE);
		CHECK(disk_ok, "write %u: the disk does not hold its 256 pages", i);
		CHECK_U64(persistent_now(w), (i + 1) * (NSEGS + 1),
			  "persistent grants after a write (its pages and indirect page)");
		CHECK_INT(mapped_in(FILL0, NFILL), (i + 1) * NSEGS, "pages mapped after a write");
		CHECK(fake_grant_mapped(IND0 + i) == 1 && !fake_grant_copy_count(IND0 + i),
		      "indirect page of write %u: mapped now %u (want 1), copied %u times (want 0)",
		      i, fake_grant_mapped(IND0 + i), fake_grant_copy_count(IND0 + i));
	}
}

/*
 * A 256-page read when 28 grants are left: its indirect page takes one, 27 of its pages
 * are cached, the 28th does not fit,
 * so the request puts them back and its 256 pages are mapped with the sweep instead,
 * and unmapped (the data written back to the guest) before its answer.
 */
static void read_over(struct world *w)
{
	struct blkif_request_segment *segs;
	struct blk_ring_stats st;
	unsigned int kept = KEPT, stray = 0, counts_ok = 0;
	bool data_ok = true;

	segs = front_indirect(w, BLKIF_OP_READ, 0x200, 0, IND0 + 4, NSEGS);
	for (unsigned int k = 0; k < NSEGS; k++)
		segs[k] = (struct blkif_request_segment){ .gref = OVER0 + k, .last_sect = 7 };
	one_answer(w, 0x200, BLKIF_OP_READ, BLKIF_RSP_OKAY, "a 1 MiB read beyond the cache");
	for (unsigned int k = 0; k < NSEGS; k++) {
		data_ok &= !memcmp(fake_grant_page(OVER0 + k), fake_grant_page(FILL0 + k), PAGE);
		stray += k >= kept && fake_grant_mapped(OVER0 + k);
		counts_ok += fake_grant_map_count(OVER0 + k) == (k < kept ? 2u : 1u);
	}
	CHECK(data_ok, "the read beyond the cache did not bring the first write's pages back");
	CHECK_U64(persistent_now(w), PMAX, "persistent grants once the cache is full");
	CHECK_INT(mapped_in(OVER0, kept), kept, "its first 27 pages, cached");
	CHECK_INT(stray, 0, "its other pages still mapped after its answer");
	CHECK_INT(counts_ok, NSEGS, "pages mapped by the sweep once (the first 27 also cached)");
	blk_ring_get_stats(w->ring, &st);
	CHECK_U64(st.grants.maps, PMAX + NSEGS, "pages mapped: 1056 cached, 256 with the sweep");
	CHECK_U64(st.grants.copies, 0, "grant copies (indirect pages come through the cache)");
	CHECK_U64(st.grants.unmaps, NSEGS, "pages unmapped: the sweep's 256");
}

/*
 * Beyond a full cache, two one-page reads share their sweep's mapping: the quick one is
 * answered only when the slow one is done and the mapping gone (grant.h: blkfront would
 * disable the disk otherwise). A read on a cached page meanwhile is answered at once;
 * it also makes AGED, the oldest write's page, the newest idle grant.
 */
static void slow_pair(struct world *w)
{
	blkif_request_t *req;
	blkif_response_t rsps[2], rsp;
	unsigned int nlog = log_len();
	bool data_ok = true;

	fd_state.slow[nlog] = true;		/* the first of the pair is held */
	for (unsigned int j = 0; j < 2; j++) {
		memset(fake_grant_page(MISS0 + j), 0xee, PAGE);
		req = front_req(w, BLKIF_OP_READ, 0x300 + j, 8 + 8 * j);
		add_seg(req, MISS0 + j, 0, 7);
	}
	front_push(w);
	CHECK(wait_log(nlog + 2), "the engine did not see both reads");
	memset(fake_grant_page(AGED), 0, PAGE);
	req = front_req(w, BLKIF_OP_READ, 0x302, (NSEGS - 1) * 8);
	add_seg(req, AGED, 0, 7);
	front_push(w);
	CHECK(wait_rsps(w, 1), "no answer to the read on a cached page");
	CHECK_INT(w->sring->rsp_prod - w->front.rsp_cons, 1,
		  "answers visible while the slow read holds the sweep's mapping");
	take_rsp(w, &rsp);
	CHECK(rsp.id == 0x302 && rsp.status == BLKIF_RSP_OKAY,
	      "the only answer is the cached read's, OKAY (id %llu status %d)",
	      (unsigned long long)rsp.id, rsp.status);
	CHECK(!memcmp(fake_grant_page(AGED), fd_state.data + (NSEGS - 1) * PAGE, PAGE),
	      "the read on a cached page did not land");
	CHECK_INT(mapped_in(MISS0, 2), 2, "the pair's pages mapped while the slow one runs");

	complete_queued(1);
	CHECK(wait_rsps(w, 2), "the pair was not answered after the slow read completed");
	/* Before consuming: the pages must be unmapped by the time the answers are seen. */
	CHECK_INT(mapped_in(MISS0, 2), 0, "the pair's pages mapped when their answers are seen");
	take_rsp(w, &rsps[0]);
	take_rsp(w, &rsps[1]);
	for (unsigned int j = 0; j < 2; j++) {
		CHECK(find_rsp(rsps, 2, 0x300 + j, &rsp) && rsp.status == BLKIF_RSP_OKAY,
		      "read %u of the pair: status %d", j, rsp.status);
		data_ok &= !memcmp(fake_grant_page(MISS0 + j), fd_state.data + (1 + j) * PAGE,
				    PAGE);
	}
	CHECK(data_ok, "the pair's data did not arrive");
	CHECK_U64(persistent_now(w), PMAX, "persistent grants");
}

/*
 * n one-page reads beyond the full cache, NMISS per push, into MISS0..: each one miss.
 * All must succeed with the disk's data, and the cache never holds more than PMAX.
 */
static void read_misses(struct world *w, unsigned int n, unsigned int *seq)
{
	blkif_response_t rsps[NMISS], rsp;

	while (n) {
		unsigned int b = n < NMISS ? n : NMISS, got, bad = 0;
		uint64_t sector[NMISS];

		for (unsigned int j = 0; j < b; j++) {
			blkif_request_t *req;

			sector[j] = (uint64_t)(*seq % (DISK_BYTES / PAGE)) * 8;
			memset(fake_grant_page(MISS0 + j), 0xee, PAGE);
			req = front_req(w, BLKIF_OP_READ, 0x10000 + *seq, sector[j]);
			add_seg(req, MISS0 + j, 0, 7);
			++*seq;
		}
		front_push(w);
		CHECK(wait_rsps(w, b), "not all %u reads beyond the cache were answered", b);
		got = take_all(w, rsps, b);
		for (unsigned int j = 0; j < b; j++) {
			bool ok = find_rsp(rsps, got, 0x10000 + *seq - b + j, &rsp) &&
				  rsp.status == BLKIF_RSP_OKAY;

			bad += !ok || memcmp(fake_grant_page(MISS0 + j),
					     fd_state.data + sector[j] * 512, PAGE);
		}
		CHECK_INT(bad, 0, "reads beyond the cache that failed or brought wrong data");
		CHECK(persistent_now(w) <= PMAX, "the cache holds %llu grants",
		      (unsigned long long)persistent_now(w));
		n -= b;
	}
}

/*
 * Case 2: a frontend offering more grants than the cache holds. Misses are counted on a
 * full cache: the read over it (its 33rd page), the slow pair, a read-only write, then
 * one-page reads up to PURGE_MISSES - 1; the next miss purges the oldest eighth of the
 * idle grants (the first write's indirect page, idle from the moment its descriptors were
 * copied, and 131 of its pages; not AGED, which was used again since).
 */
static void test_cache_bound(void)
{
	struct blkif_request_segment *segs;
	struct blk_ring_stats st;
	blkif_request_t *req;
	struct world w;
	unsigned int seq = 0, misses = 0, old_gone;

	printf("case 2: more than %u distinct grants: the cache bound and the purge\n", PMAX);
	start_mode(&w, BIG_GRANTS, GRANT_MODE_PERSISTENT);
	fill_cache(&w);
	read_over(&w);
	misses += 1;

	printf("case 2: beyond the cache, answers wait for the sweep's unmap\n");
	slow_pair(&w);
	misses += 2;

	/*
	 * A write whose page is granted read-only, on a full cache: it falls back to the
	 * sweep's mapping, which is read-only for a write, and is served. (With room in the
	 * cache it fails: case 4.)
	 */
	printf("case 2: a read-only granted write on a full cache is served\n");
	fill_page(MISS0 + 2, 0x42);
	fake_grant_set_readonly(MISS0 + 2, true);
	req = front_req(&w, BLKIF_OP_WRITE, 0x400, 64);
	add_seg(req, MISS0 + 2, 0, 7);
	one_answer(&w, 0x400, BLKIF_OP_WRITE, BLKIF_RSP_OKAY, "read-only write, full cache");
	CHECK(!memcmp(fd_state.data + 64 * 512, fake_grant_page(MISS0 + 2), PAGE),
	      "the read-only granted write is not on the disk");
	CHECK_INT(fake_grant_mapped(MISS0 + 2), 0, "its page mapped after its answer");
	fake_grant_set_readonly(MISS0 + 2, false);
	misses += 1;

	/* No room for an indirect page: it is read with a grant copy (a miss, as any). */
	printf("case 2: on a full cache, an indirect page is read with a grant copy\n");
	memset(fake_grant_page(FILL0 + 3 * NSEGS), 0xee, PAGE);
	segs = front_indirect(&w, BLKIF_OP_READ, 0x401, 0, MISS0 + 3, 1);
	segs[0] = (struct blkif_request_segment){ .gref = FILL0 + 3 * NSEGS, .last_sect = 7 };
	one_answer(&w, 0x401, BLKIF_OP_READ, BLKIF_RSP_OKAY, "indirect read, full cache");
	CHECK(!memcmp(fake_grant_page(FILL0 + 3 * NSEGS), fd_state.data, PAGE),
	      "the indirect read on a full cache did not land");
	CHECK(fake_grant_copy_count(MISS0 + 3) == 1 && !fake_grant_map_count(MISS0 + 3),
	      "its indirect page: copied %u times (want 1), mapped %u (want 0)",
	      fake_grant_copy_count(MISS0 + 3), fake_grant_map_count(MISS0 + 3));
	misses += 1;

	printf("case 2: %u misses on a full cache unmap nothing\n", PURGE_MISSES - 1);
	read_misses(&w, PURGE_MISSES - 1 - misses, &seq);
	CHECK_U64(persistent_now(&w), PMAX, "persistent grants before the purge");
	CHECK_INT(mapped_in(FILL0, NFILL + KEPT) + mapped_in(IND0, NIND), PMAX,
		  "cached pages still mapped before the purge");

	printf("case 2: miss %u purges the oldest %u idle grants\n", PURGE_MISSES, PURGED);
	read_misses(&w, 1, &seq);
	CHECK_U64(persistent_now(&w), PMAX - PURGED, "persistent grants after the purge");
	old_gone = NSEGS - mapped_in(FILL0, NSEGS) + !fake_grant_mapped(IND0);
	CHECK_INT(old_gone, PURGED, "pages of the oldest write unmapped by the purge");
	CHECK_INT(mapped_in(FILL0 + NSEGS, NFILL - NSEGS + KEPT) + mapped_in(IND0 + 1, NIND - 1),
		  PMAX - NSEGS - 1, "newer cached pages still mapped after the purge");
	CHECK_INT(fake_grant_mapped(AGED), 1, "a page used again since its write was purged");

	/* Room again: a page offered now is cached and kept. */
	memset(fake_grant_page(NEW0), 0xee, PAGE);
	req = front_req(&w, BLKIF_OP_READ, 0x500, 0);
	add_seg(req, NEW0, 0, 7);
	one_answer(&w, 0x500, BLKIF_OP_READ, BLKIF_RSP_OKAY, "a read after the purge");
	CHECK(!memcmp(fake_grant_page(NEW0), fd_state.data, PAGE), "its data did not arrive");
	CHECK_INT(fake_grant_mapped(NEW0), 1, "a page offered after the purge is cached");
	CHECK_U64(persistent_now(&w), PMAX - PURGED + 1, "persistent grants after it");
	blk_ring_get_stats(w.ring, &st);
	CHECK_U64(st.grants.maps - st.grants.unmaps, st.grants.persistent,
		  "pages mapped now beyond the cached ones");
	CHECK_U64(st.err_req, 0, "requests failed");
	world_stop(&w);		/* the 925 cached grants are unmapped at stop */
}

/* The pages of the read-only cases: data pages, then the indirect page. */
#define RO_DIRECT 1		/* 2 pages */
#define RO_IND0 10		/* 16 pages */
#define RO_IND_PAGE 30
#define RO_GRANTS 32

/*
 * Case 3: in map mode a write's pages are mapped read-only, so a write whose pages the
 * frontend granted read-only is served: direct, and indirect (its indirect page
 * read-only too, as it is only ever copied from).
 */
static void test_readonly_write_map(void)
{
	struct blkif_request_segment *segs;
	struct blk_ring_stats st;
	blkif_response_t rsps[2], rsp;
	blkif_request_t *req;
	struct world w;
	unsigned int n;
	bool ind_ok = true;

	printf("case 3: map mode: writes from read-only granted pages are served\n");
	start_mode(&w, RO_GRANTS, GRANT_MODE_MAP);
	for (grant_ref_t g = 1; g < RO_GRANTS; g++) {
		fill_page(g, (uint8_t)(g * 5));
		fake_grant_set_readonly(g, true);
	}
	req = front_req(&w, BLKIF_OP_WRITE, 0x600, 8);
	add_seg(req, RO_DIRECT, 0, 7);
	add_seg(req, RO_DIRECT + 1, 1, 6);
	segs = front_indirect(&w, BLKIF_OP_WRITE, 0x601, 128, RO_IND_PAGE, 16);
	for (unsigned int k = 0; k < 16; k++)
		segs[k] = (struct blkif_request_segment){ .gref = RO_IND0 + k, .last_sect = 7 };
	front_push(&w);
	CHECK(wait_rsps(&w, 2), "not both writes were answered");
	n = take_all(&w, rsps, 2);
	CHECK(find_rsp(rsps, n, 0x600, &rsp) && rsp.status == BLKIF_RSP_OKAY,
	      "direct write from read-only pages: status %d", rsp.status);
	CHECK(find_rsp(rsps, n, 0x601, &rsp) && rsp.status == BLKIF_RSP_OKAY,
	      "indirect write from read-only pages: status %d", rsp.status);
	CHECK(!memcmp(fd_state.data + 8 * 512, fake_grant_page(RO_DIRECT), PAGE) &&
	      !memcmp(fd_state.data + 16 * 512, fake_grant_page(RO_DIRECT + 1) + 512, 6 * 512),
	      "the direct write is not on the disk");
	for (unsigned int k = 0; k < 16; k++)
		ind_ok &= !memcmp(fd_state.data + 128 * 512 + k * PAGE,
				  fake_grant_page(RO_IND0 + k), PAGE);
	CHECK(ind_ok, "the indirect write is not on the disk");
	/* Mapped (read-only), not copied; and unmapped by the time of the answer. */
	for (grant_ref_t g = RO_DIRECT; g < RO_DIRECT + 2; g++)
		CHECK(fake_grant_map_count(g) == 1 && !fake_grant_copy_count(g) &&
		      !fake_grant_mapped(g), "page %u: maps %u copies %u mapped now %u", g,
		      fake_grant_map_count(g), fake_grant_copy_count(g), fake_grant_mapped(g));
	CHECK_INT(mapped_in(RO_IND0, 16), 0, "indirect write pages mapped after the answer");
	CHECK_INT(fake_grant_map_count(RO_IND0 + 15), 1, "maps of an indirect write's page");
	CHECK_INT(fake_grant_map_count(RO_IND_PAGE), 0, "maps of the indirect page");
	blk_ring_get_stats(w.ring, &st);
	CHECK_U64(st.grants.maps, 18, "pages mapped");
	CHECK_U64(st.grants.unmaps, 18, "pages unmapped");
	world_stop(&w);
}

/*
 * Case 4: persistent mode with room in the cache maps every page writable (the frontend
 * reuses a page for reads), so a write from a read-only granted page fails, as in Linux
 * blkback, which maps writable whenever persistent grants are in use; Linux blkfront
 * grants every page writable, so it never meets this. The failure leaves the cache as
 * it was, and fails that request only.
 */
static void test_readonly_write_persistent(void)
{
	blkif_response_t rsps[2], rsp;
	blkif_request_t *req;
	struct world w;
	unsigned int n;

	printf("case 4: persistent mode: a write from a read-only granted page fails alone\n");
	start_mode(&w, RO_GRANTS, GRANT_MODE_PERSISTENT);
	fill_page(1, 0x11);
	fill_page(2, 0x22);
	fill_page(3, 0x33);
	fake_grant_set_readonly(1, true);
	fake_grant_set_readonly(3, true);
	req = front_req(&w, BLKIF_OP_WRITE, 0x700, 0);		/* read-only page */
	add_seg(req, 1, 0, 7);
	req = front_req(&w, BLKIF_OP_WRITE, 0x701, 8);		/* writable page, same sweep */
	add_seg(req, 2, 0, 7);
	front_push(&w);
	CHECK(wait_rsps(&w, 2), "not both writes were answered");
	n = take_all(&w, rsps, 2);
	CHECK(find_rsp(rsps, n, 0x700, &rsp) && rsp.status == BLKIF_RSP_ERROR,
	      "write from a read-only page, persistent: want ERROR (status %d)", rsp.status);
	CHECK(find_rsp(rsps, n, 0x701, &rsp) && rsp.status == BLKIF_RSP_OKAY,
	      "write from a writable page beside it: want OKAY (status %d)", rsp.status);
	CHECK_INT(log_len(), 1, "storage I/Os (the good write's only)");
	check_log(0, STORAGE_WRITE, 8 * 512, PAGE);
	CHECK_INT(fake_grant_map_count(1), 0, "maps of the read-only page");
	CHECK_U64(persistent_now(&w), 1, "persistent grants (the good write's page)");

	/* A cached page and a read-only one in one request: it fails, the cache keeps one. */
	req = front_req(&w, BLKIF_OP_WRITE, 0x702, 16);
	add_seg(req, 2, 0, 7);
	add_seg(req, 3, 0, 7);
	one_answer(&w, 0x702, BLKIF_OP_WRITE, BLKIF_RSP_ERROR, "cached page + read-only page");
	CHECK_INT(log_len(), 1, "storage I/Os after it");
	CHECK_U64(persistent_now(&w), 1, "persistent grants after it");
	CHECK(fake_grant_mapped(2) == 1 && !fake_grant_mapped(3),
	      "mapped: cached page %u (want 1), read-only page %u (want 0)",
	      fake_grant_mapped(2), fake_grant_mapped(3));

	/* The frontend grants the page writable: the same write is served, and cached. */
	fake_grant_set_readonly(1, false);
	req = front_req(&w, BLKIF_OP_WRITE, 0x703, 0);
	add_seg(req, 1, 0, 7);
	one_answer(&w, 0x703, BLKIF_OP_WRITE, BLKIF_RSP_OKAY, "the write, page now writable");
	CHECK(!memcmp(fd_state.data, fake_grant_page(1), PAGE), "its data is not on the disk");
	CHECK_U64(persistent_now(&w), 2, "persistent grants at the end");
	world_stop(&w);
}

/*
 * Case 5: persistent mode reads indirect pages through the cache: mapped once and kept,
 * never copied, their descriptors read afresh for every request (the frontend rewrites
 * them); one that cannot be mapped (a bad ref, or granted read-only: mapped writable as
 * any persistent grant) fails its request alone.
 */
static void test_indirect_persistent(void)
{
	struct blkif_request_segment *segs;
	struct blk_ring_stats st;
	blkif_response_t rsps[2], rsp;
	struct world w;
	unsigned int n;

	printf("case 5: persistent mode: indirect pages through the cache\n");
	start_mode(&w, NR_GRANTS, GRANT_MODE_PERSISTENT);
	fill_page(1, 0x51);
	fill_page(2, 0x52);
	segs = front_indirect(&w, BLKIF_OP_WRITE, 0x800, 0, 20, 2);
	segs[0] = (struct blkif_request_segment){ .gref = 1, .last_sect = 7 };
	segs[1] = (struct blkif_request_segment){ .gref = 2, .last_sect = 7 };
	one_answer(&w, 0x800, BLKIF_OP_WRITE, BLKIF_RSP_OKAY, "indirect write");
	CHECK(!memcmp(fd_state.data, fake_grant_page(1), PAGE) &&
	      !memcmp(fd_state.data + PAGE, fake_grant_page(2), PAGE),
	      "the indirect write is not on the disk");

	/* The same indirect page, rewritten: one segment, on page 3 (a stale copy: page 1). */
	memset(fake_grant_page(3), 0xee, PAGE);
	segs = front_indirect(&w, BLKIF_OP_READ, 0x801, 8, 20, 1);
	segs[0] = (struct blkif_request_segment){ .gref = 3, .last_sect = 7 };
	one_answer(&w, 0x801, BLKIF_OP_READ, BLKIF_RSP_OKAY, "indirect read, page rewritten");
	CHECK(!memcmp(fake_grant_page(3), fd_state.data + PAGE, PAGE),
	      "the read did not follow the rewritten descriptors");
	CHECK(fake_grant_map_count(20) == 1 && fake_grant_mapped(20) == 1 &&
	      !fake_grant_copy_count(20), "the indirect page: maps %u (want 1), mapped now %u "
	      "(want 1), copies %u (want 0)", fake_grant_map_count(20), fake_grant_mapped(20),
	      fake_grant_copy_count(20));

	/* A read-only indirect page and a bad one fail alone; a good one beside them is served. */
	fake_grant_set_readonly(21, true);
	segs = front_indirect(&w, BLKIF_OP_READ, 0x802, 0, 21, 1);
	segs[0] = (struct blkif_request_segment){ .gref = 4, .last_sect = 7 };
	front_indirect(&w, BLKIF_OP_READ, 0x803, 0, NR_GRANTS + 5, 1);
	front_push(&w);
	CHECK(wait_rsps(&w, 2), "not both bad indirect reads were answered");
	n = take_all(&w, rsps, 2);
	CHECK(find_rsp(rsps, n, 0x802, &rsp) && rsp.status == BLKIF_RSP_ERROR,
	      "indirect page granted read-only: want ERROR (status %d)", rsp.status);
	CHECK(find_rsp(rsps, n, 0x803, &rsp) && rsp.status == BLKIF_RSP_ERROR,
	      "indirect page with a bad ref: want ERROR (status %d)", rsp.status);
	CHECK_INT(fake_grant_mapped(21) + fake_grant_mapped(4), 0,
		  "pages of the failed reads mapped");
	segs = front_indirect(&w, BLKIF_OP_READ, 0x804, 16, 20, 1);
	segs[0] = (struct blkif_request_segment){ .gref = 3, .last_sect = 7 };
	one_answer(&w, 0x804, BLKIF_OP_READ, BLKIF_RSP_OKAY, "indirect read after them");
	blk_ring_get_stats(w.ring, &st);
	CHECK_U64(st.grants.copies, 0, "grant copies");
	CHECK_U64(st.grants.copy_calls, 0, "grant copy calls");
	CHECK_U64(st.err_req, 2, "requests failed");
	CHECK_U64(persistent_now(&w), 4, "persistent grants (pages 1-3, indirect page 20)");
	world_stop(&w);
}

/* Run every case, each on a fresh ring. */
int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);	/* interleave with the daemon's stderr logs */
	test_persistent();
	test_cache_bound();
	test_readonly_write_map();
	test_readonly_write_persistent();
	test_indirect_persistent();
	return check_done("test-ring-persistent");
}
