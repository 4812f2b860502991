/*
 * Unit test: indirect requests (BLKIF_OP_INDIRECT) through blkback/ring.c, with
 * the fake grant table of fake-xen.c serving the indirect pages by grant copy.
 */
#include "ring-harness.h"

#define IND_GRANTS 600
#define NSEGS 256		/* feature-max-indirect-segments offered */
#define W_PAGE0 1		/* the 256 pages written */
#define R_PAGE0 (W_PAGE0 + NSEGS)	/* the 256 pages read into */
#define IND_W 513		/* the indirect pages of each request */
#define IND_R 514
#define IND_GOOD 515
#define IND_LAST8 516
#define GOOD_PAGE0 520		/* 16 pages of the good request beside a bad one */
#define LAST8_PAGE0 540		/* 4 pages of the request with last_sect 8 */
#define START 2048		/* where the 256-segment request goes: 1 MiB in */

/* Segment k of the round trip: varied offsets and lengths inside its page. */
static void seg_layout(unsigned int k, uint8_t *first, uint8_t *last)
{
	*first = (uint8_t)(k % 3);
	*last = (uint8_t)(7 - k % 2);
}

/* Describe the round trip's NSEGS segments, on pages from page0, in an indirect page. */
static uint64_t fill_segs(struct blkif_request_segment *segs, grant_ref_t page0)
{
	uint64_t sectors = 0;

	for (unsigned int k = 0; k < NSEGS; k++) {
		segs[k].gref = page0 + k;
		seg_layout(k, &segs[k].first_sect, &segs[k].last_sect);
		sectors += segs[k].last_sect - segs[k].first_sect + 1u;
	}
	return sectors;
}

/* Start a world whose ring offers 256 indirect segments. */
static void start_indirect(struct world *w)
{
	world_init(w, IND_GRANTS);
	w->cfg.lim.max_indirect = NSEGS;
	if (world_ring_start(w)) {
		fprintf(stderr, "blk_ring_start failed\n");
		exit(1);
	}
}

/* A 256-segment write then read: data round-trips, answers carry the inner op. */
static void test_round_trip(struct world *w)
{
	struct blkif_request_segment *segs;
	struct blk_ring_stats st;
	blkif_response_t rsp;
	uint64_t sectors, off = (uint64_t)START * 512;
	bool disk_ok = true, read_ok = true;

	printf("case 1: a 256-segment indirect write and read round-trip\n");
	for (unsigned int k = 0; k < NSEGS; k++)
		fill_page(W_PAGE0 + k, (uint8_t)(k * 13 + 1));
	segs = front_indirect(w, BLKIF_OP_WRITE, 0x100, START, IND_W, NSEGS);
	sectors = fill_segs(segs, W_PAGE0);
	front_push(w);
	CHECK(wait_rsps(w, 1), "no response to the indirect write");
	take_rsp(w, &rsp);
	CHECK_U64(rsp.id, 0x100, "indirect write response id");
	CHECK_INT(rsp.operation, BLKIF_OP_WRITE, "indirect write answered with the inner op");
	CHECK_INT(rsp.status, BLKIF_RSP_OKAY, "indirect write status");
	for (unsigned int k = 0; k < NSEGS; k++) {
		uint8_t first, last;
		size_t len;

		seg_layout(k, &first, &last);
		len = (last - first + 1u) * 512u;
		disk_ok &= !memcmp(fd_state.data + off, fake_grant_page(W_PAGE0 + k) + first * 512,
				   len);
		off += len;
	}
	CHECK(disk_ok, "the disk does not hold the 256 segments, in order");

	segs = front_indirect(w, BLKIF_OP_READ, 0x101, START, IND_R, NSEGS);
	fill_segs(segs, R_PAGE0);
	front_push(w);
	CHECK(wait_rsps(w, 1), "no response to the indirect read");
	take_rsp(w, &rsp);
	CHECK_U64(rsp.id, 0x101, "indirect read response id");
	CHECK_INT(rsp.operation, BLKIF_OP_READ, "indirect read answered with the inner op");
	CHECK_INT(rsp.status, BLKIF_RSP_OKAY, "indirect read status");
	for (unsigned int k = 0; k < NSEGS; k++) {
		const uint8_t *got = fake_grant_page(R_PAGE0 + k), *want = fake_grant_page(W_PAGE0 + k);
		uint8_t first, last;

		seg_layout(k, &first, &last);
		read_ok &= !memcmp(got + first * 512, want + first * 512, (last - first + 1u) * 512u);
		read_ok &= (first == 0 || got[first * 512 - 1] == 0) &&
			   (last == 7 || got[(last + 1) * 512] == 0);
	}
	CHECK(read_ok, "the read did not bring the 256 segments back, each in its place");

	CHECK_INT(log_len(), 2, "storage I/Os for one write and one read");
	check_log(0, STORAGE_WRITE, (uint64_t)START * 512, sectors * 512);
	check_log(1, STORAGE_READ, (uint64_t)START * 512, sectors * 512);
	blk_ring_get_stats(w->ring, &st);
	CHECK_U64(st.ind_req, 2, "stats ind_req");
	CHECK_U64(st.wr_sect, sectors, "stats wr_sect");
	CHECK_U64(st.rd_sect, sectors, "stats rd_sect");
	CHECK_U64(st.grants.maps, 2 * NSEGS, "data pages mapped");
	CHECK_U64(st.grants.copies, 2, "grant copies (one per indirect page)");
	CHECK_INT(fake_grant_copy_count(IND_W), 1, "the write's indirect page copied once");
	CHECK_INT(fake_grant_copy_count(IND_R), 1, "the read's indirect page copied once");
}

/* A bad indirect page fails its request alone; a good one in the same sweep succeeds. */
static void test_bad_indirect_ref(struct world *w)
{
	struct blkif_request_segment *segs;
	blkif_response_t rsps[2], rsp;
	unsigned int n, nlog = log_len();

	printf("case 1: an unreadable indirect page fails that request only\n");
	front_indirect(w, BLKIF_OP_WRITE, 0x200, 0, BAD_REF, 4);
	segs = front_indirect(w, BLKIF_OP_WRITE, 0x201, 0, IND_GOOD, 16);
	for (unsigned int k = 0; k < 16; k++) {
		fill_page(GOOD_PAGE0 + k, (uint8_t)(k + 77));
		segs[k] = (struct blkif_request_segment){ .gref = GOOD_PAGE0 + k, .last_sect = 7 };
	}
	front_push(w);		/* both in one push: one sweep, one batched grant copy */
	CHECK(wait_rsps(w, 2), "not both indirect requests were answered");
	n = take_all(w, rsps, 2);
	CHECK(find_rsp(rsps, n, 0x200, &rsp) && rsp.status == BLKIF_RSP_ERROR &&
	      rsp.operation == BLKIF_OP_WRITE,
	      "bad indirect page: want ERROR with op WRITE (status %d op %d)", rsp.status,
	      rsp.operation);
	CHECK(find_rsp(rsps, n, 0x201, &rsp) && rsp.status == BLKIF_RSP_OKAY &&
	      rsp.operation == BLKIF_OP_WRITE,
	      "good indirect request beside it: want OKAY with op WRITE (status %d op %d)",
	      rsp.status, rsp.operation);
	for (unsigned int k = 0; k < 16; k++)
		CHECK(!memcmp(fd_state.data + k * PAGE, fake_grant_page(GOOD_PAGE0 + k), PAGE),
		      "the good request's page %u is not on the disk", k);
	CHECK_INT(log_len(), nlog + 1, "storage I/Os (only the good request's)");
	check_log(nlog, STORAGE_WRITE, 0, 16 * PAGE);
}

/* A segment with last_sect 8 fails its request before any data page is touched. */
static void test_last_sect_8(struct world *w)
{
	struct blkif_request_segment *segs;
	struct blk_ring_stats before, after;
	blkif_response_t rsp;
	unsigned int nlog = log_len();

	printf("case 1: an indirect segment with last_sect 8 fails with nothing mapped\n");
	blk_ring_get_stats(w->ring, &before);
	segs = front_indirect(w, BLKIF_OP_WRITE, 0x300, 64, IND_LAST8, 4);
	for (unsigned int k = 0; k < 4; k++)
		segs[k] = (struct blkif_request_segment){ .gref = LAST8_PAGE0 + k, .last_sect = 7 };
	segs[2].last_sect = 8;
	front_push(w);
	CHECK(wait_rsps(w, 1), "no response to the request with last_sect 8");
	take_rsp(w, &rsp);
	CHECK_U64(rsp.id, 0x300, "last_sect 8 response id");
	CHECK_INT(rsp.status, BLKIF_RSP_ERROR, "last_sect 8 status");
	CHECK_INT(rsp.operation, BLKIF_OP_WRITE, "last_sect 8 answered with the inner op");
	for (unsigned int k = 0; k < 4; k++) {
		CHECK_INT(fake_grant_map_count(LAST8_PAGE0 + k), 0, "its data page mapped");
		CHECK_INT(fake_grant_copy_count(LAST8_PAGE0 + k), 0, "its data page copied");
	}
	CHECK_INT(log_len(), nlog, "storage I/Os for a request with last_sect 8");
	blk_ring_get_stats(w->ring, &after);
	CHECK_U64(after.grants.maps, before.grants.maps, "pages mapped for it");
	CHECK_U64(after.grants.copies, before.grants.copies + 1, "copies (its indirect page only)");
}

/* Queued I/Os the budget case lets in: a 1 MiB request is 256 pages. */
#define BUDGET_REQS (GRANT_INFLIGHT_PAGES / NSEGS)

/*
 * A guest fills its ring with 1 MiB writes while storage holds them: the ring
 * takes only GRANT_INFLIGHT_PAGES pages' worth, and more as pages come back:
 * one request's in copy mode, a whole sweep's mapping in map mode.
 */
static void test_page_budget(enum grant_mode mode)
{
	unsigned int nreq;
	struct blkif_request_segment *segs;
	struct blk_ring_stats st;
	blkif_response_t rsp;
	struct world w;
	unsigned int back = mode == GRANT_MODE_MAP ? BUDGET_REQS : 1;
	bool all_ok = true;

	printf("case 4 (%s): a ring full of 1 MiB writes holds %u of them at most\n",
	       grant_mode_name(mode), BUDGET_REQS);
	world_init(&w, IND_GRANTS);
	w.cfg.lim.max_indirect = NSEGS;
	w.cfg.grant_mode = mode;
	CHECK(world_ring_start(&w) == 0, "blk_ring_start failed");
	nreq = RING_FREE_REQUESTS(&w.front);
	CHECK(nreq > BUDGET_REQS + 1, "the ring holds only %u requests", nreq);
	for (unsigned int i = 0; i < nreq && i < MAX_LOG; i++)
		fd_state.slow[i] = true;
	for (unsigned int i = 0; i < nreq; i++) {
		segs = front_indirect(&w, BLKIF_OP_WRITE, 0x400 + i, START, IND_W, NSEGS);
		for (unsigned int k = 0; k < NSEGS; k++)
			segs[k] = (struct blkif_request_segment){ .gref = W_PAGE0 + k,
								  .last_sect = 7 };
	}
	front_push(&w);
	/* The sweep takes every request it will before the first reaches storage. */
	CHECK(wait_log(BUDGET_REQS), "storage did not see %u writes", BUDGET_REQS);
	blk_ring_get_stats(w.ring, &st);
	CHECK_U64(st.inflight, BUDGET_REQS, "requests taken with storage holding them all");
	CHECK_INT(fake_grant_mapped(W_PAGE0), mode == GRANT_MODE_MAP ? BUDGET_REQS : 0,
		  "mappings of a page every request uses");
	complete_queued(back);
	CHECK(wait_log(BUDGET_REQS + back), "%u answered writes did not let as many in", back);
	blk_ring_get_stats(w.ring, &st);
	CHECK_U64(st.inflight, BUDGET_REQS, "requests taken after some were answered");
	complete_queued(nreq - back);
	CHECK(wait_rsps(&w, nreq), "not every write was answered");
	for (unsigned int i = 0; i < nreq; i++) {
		take_rsp(&w, &rsp);
		all_ok &= rsp.status == BLKIF_RSP_OKAY;
	}
	CHECK(all_ok, "a write held back by the budget failed");
	CHECK_INT(log_len(), nreq, "storage I/Os");
	world_stop(&w);
}

int main(void)
{
	static const grant_ref_t ind[] = { IND_W, IND_R, IND_GOOD, IND_LAST8 };
	struct world w;

	setvbuf(stdout, NULL, _IOLBF, 0);	/* interleave with the daemon's stderr logs */
	start_indirect(&w);
	test_round_trip(&w);
	test_bad_indirect_ref(&w);
	test_last_sect_8(&w);
	for (unsigned int i = 0; i < sizeof(ind) / sizeof(ind[0]); i++)
		CHECK_INT(fake_grant_map_count(ind[i]), 0, "an indirect page was mapped");
	world_stop(&w);
	test_page_budget(GRANT_MODE_MAP);
	test_page_budget(GRANT_MODE_COPY);
	return check_done("test-ring-indirect");
}
