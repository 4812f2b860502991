/*
 * Unit test: grant copy mode (--grant-mode=copy) through blkback/ring.c: data
 * moves only by grant copy into and out of bounce buffers, so no guest data
 * page is ever mapped, and a copy that fails fails its own request only.
 */
#include "ring-harness.h"

#define COPY_GRANTS 64
#define IND_SEGS 20
#define IND_W_PAGE0 20		/* an indirect write's pages ... */
#define IND_R_PAGE0 40		/* ... read back into these */
#define IND_W 60		/* their indirect pages */
#define IND_R 61

/* Only the ring is mapped, ever: the grant pages the fake mapped are its one. */
static void check_nothing_mapped(const char *when)
{
	CHECK(fake_maps_total() == 1 && fake_regions_live() == 1,
	      "%s: %u pages mapped, %u mappings live (want only the ring's)", when,
	      fake_maps_total(), fake_regions_live());
}

/* Direct and indirect writes and reads round-trip by grant copy. */
static void test_round_trip(struct world *w)
{
	struct blkif_request_segment *segs;
	struct blk_ring_stats st;
	blkif_request_t *req;
	blkif_response_t rsp;
	uint8_t expect[PAGE + 2048];
	bool ok = true;

	printf("case 2: copy mode: writes and reads round-trip, nothing mapped\n");
	fill_page(1, 11);
	fill_page(2, 22);
	memcpy(expect, fake_grant_page(1), PAGE);
	memcpy(expect + PAGE, fake_grant_page(2) + 1024, 2048);
	req = front_req(w, BLKIF_OP_WRITE, 1, 8);
	add_seg(req, 1, 0, 7);
	add_seg(req, 2, 2, 5);		/* 2048 bytes at 1024 */
	front_push(w);
	CHECK(wait_rsps(w, 1), "no response to the write");
	take_rsp(w, &rsp);
	CHECK(rsp.id == 1 && rsp.status == BLKIF_RSP_OKAY && rsp.operation == BLKIF_OP_WRITE,
	      "write: id %llu status %d op %d", (unsigned long long)rsp.id, rsp.status,
	      rsp.operation);
	CHECK(!memcmp(fd_state.data + 8 * 512, expect, sizeof(expect)),
	      "the disk does not hold the written data");
	check_nothing_mapped("after a write");

	req = front_req(w, BLKIF_OP_READ, 2, 8);
	add_seg(req, 3, 0, 7);
	add_seg(req, 4, 2, 5);
	front_push(w);
	CHECK(wait_rsps(w, 1), "no response to the read");
	take_rsp(w, &rsp);
	CHECK(rsp.id == 2 && rsp.status == BLKIF_RSP_OKAY && rsp.operation == BLKIF_OP_READ,
	      "read: id %llu status %d op %d", (unsigned long long)rsp.id, rsp.status,
	      rsp.operation);
	CHECK(!memcmp(fake_grant_page(3), expect, PAGE), "read back: segment 1 differs");
	CHECK(!memcmp(fake_grant_page(4) + 1024, expect + PAGE, 2048),
	      "read back: segment 2 differs");
	CHECK(fake_grant_page(4)[1023] == 0 && fake_grant_page(4)[3072] == 0,
	      "the read wrote outside its segment");

	/* Indirect too: the descriptors and the data, all by copy. */
	for (unsigned int k = 0; k < IND_SEGS; k++)
		fill_page(IND_W_PAGE0 + k, (uint8_t)(3 * k + 5));
	segs = front_indirect(w, BLKIF_OP_WRITE, 3, 256, IND_W, IND_SEGS);
	for (unsigned int k = 0; k < IND_SEGS; k++)
		segs[k] = (struct blkif_request_segment){ .gref = IND_W_PAGE0 + k, .last_sect = 7 };
	front_push(w);
	CHECK(wait_rsps(w, 1), "no response to the indirect write");
	take_rsp(w, &rsp);
	CHECK(rsp.id == 3 && rsp.status == BLKIF_RSP_OKAY && rsp.operation == BLKIF_OP_WRITE,
	      "indirect write: id %llu status %d op %d", (unsigned long long)rsp.id, rsp.status,
	      rsp.operation);
	segs = front_indirect(w, BLKIF_OP_READ, 4, 256, IND_R, IND_SEGS);
	for (unsigned int k = 0; k < IND_SEGS; k++)
		segs[k] = (struct blkif_request_segment){ .gref = IND_R_PAGE0 + k, .last_sect = 7 };
	front_push(w);
	CHECK(wait_rsps(w, 1), "no response to the indirect read");
	take_rsp(w, &rsp);
	CHECK(rsp.id == 4 && rsp.status == BLKIF_RSP_OKAY && rsp.operation == BLKIF_OP_READ,
	      "indirect read: id %llu status %d op %d", (unsigned long long)rsp.id, rsp.status,
	      rsp.operation);
	for (unsigned int k = 0; k < IND_SEGS; k++)
		ok &= !memcmp(fake_grant_page(IND_R_PAGE0 + k), fake_grant_page(IND_W_PAGE0 + k),
			      PAGE);
	CHECK(ok, "the indirect read did not bring back what the indirect write wrote");
	check_nothing_mapped("after the round trips");
	blk_ring_get_stats(w->ring, &st);
	CHECK_U64(st.grants.maps, 0, "stats grants.maps");
	/* 2 + 2 direct segments, 20 + 20 indirect ones and their 2 indirect pages. */
	CHECK_U64(st.grants.copies, 2 + 2 + 2 * IND_SEGS + 2, "stats grants.copies");
}

/* A read into a read-only grant fails alone; so does a write with a bad ref. */
static void test_copy_failures(struct world *w)
{
	blkif_request_t *req;
	blkif_response_t rsps[4], rsp;
	unsigned int n, nlog = log_len();

	printf("case 2: copy mode: a failed copy fails its own request only\n");
	fake_grant_set_readonly(5, true);
	memset(fd_state.data + 512 * 512, 0x5a, PAGE);
	fill_page(7, 33);
	fill_page(8, 44);
	req = front_req(w, BLKIF_OP_READ, 10, 512);	/* into a read-only grant */
	add_seg(req, 5, 0, 7);
	req = front_req(w, BLKIF_OP_READ, 11, 512);	/* good read, same sweep */
	add_seg(req, 6, 0, 7);
	req = front_req(w, BLKIF_OP_WRITE, 12, 600);	/* a good page, then a bad ref */
	add_seg(req, 7, 0, 7);
	add_seg(req, BAD_REF, 0, 7);
	req = front_req(w, BLKIF_OP_WRITE, 13, 700);	/* good write, same sweep */
	add_seg(req, 8, 0, 7);
	front_push(w);
	CHECK(wait_rsps(w, 4), "not all 4 requests were answered");
	n = take_all(w, rsps, 4);
	CHECK(find_rsp(rsps, n, 10, &rsp) && rsp.status == BLKIF_RSP_ERROR,
	      "read into a read-only grant: want ERROR (status %d)", rsp.status);
	CHECK(find_rsp(rsps, n, 11, &rsp) && rsp.status == BLKIF_RSP_OKAY,
	      "good read beside it: want OKAY (status %d)", rsp.status);
	CHECK(find_rsp(rsps, n, 12, &rsp) && rsp.status == BLKIF_RSP_ERROR,
	      "write with a bad ref: want ERROR (status %d)", rsp.status);
	CHECK(find_rsp(rsps, n, 13, &rsp) && rsp.status == BLKIF_RSP_OKAY,
	      "good write beside it: want OKAY (status %d)", rsp.status);
	CHECK(fake_grant_page(5)[0] == 0 && fake_grant_page(5)[PAGE - 1] == 0,
	      "the read-only grant was written");
	CHECK(fake_grant_page(6)[0] == 0x5a && fake_grant_page(6)[PAGE - 1] == 0x5a,
	      "the good read's data did not arrive");
	CHECK(!memcmp(fd_state.data + 700 * 512, fake_grant_page(8), PAGE),
	      "the good write's data is not on the disk");
	CHECK(fd_state.data[600 * 512] == 0 && fd_state.data[601 * 512 + 7] == 0,
	      "the write with a bad ref reached the disk");
	/* Both reads go to storage (the copy to the guest comes after); one write. */
	CHECK_INT(log_len(), nlog + 3, "storage I/Os: two reads and the good write");
	check_log(nlog, STORAGE_READ, 512 * 512, PAGE);
	check_log(nlog + 1, STORAGE_READ, 512 * 512, PAGE);
	check_log(nlog + 2, STORAGE_WRITE, 700 * 512, PAGE);
	check_nothing_mapped("after failed copies");
}

int main(void)
{
	struct world w;

	setvbuf(stdout, NULL, _IOLBF, 0);	/* interleave with the daemon's stderr logs */
	world_init(&w, COPY_GRANTS);
	w.cfg.grant_mode = GRANT_MODE_COPY;
	w.cfg.lim.max_indirect = 256;
	if (world_ring_start(&w)) {
		fprintf(stderr, "blk_ring_start failed\n");
		return 1;
	}
	test_round_trip(&w);
	test_copy_failures(&w);
	for (grant_ref_t g = 1; g < COPY_GRANTS; g++)
		CHECK_INT(fake_grant_map_count(g), 0, "a data or indirect page was mapped");
	world_stop(&w);
	return check_done("test-ring-copy");
}
