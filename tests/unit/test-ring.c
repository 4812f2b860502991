/*
 * Unit test: blkback/ring.c driven end to end against an in-process fake of
 * the grant and event-channel libraries (fake-xen.c) and a scripted storage
 * engine (ring-harness.h). The test plays the frontend: it writes requests on
 * the shared ring, kicks the event channel and reads responses back.
 * Indirect requests, grant copy, persistent grants and the journal take-over are in
 * test-ring-*.c.
 */
#include "ring-harness.h"

/* Cases 1 and 6: a 2-segment write, a read back, responses, notify and stats. */
static void test_basic(void)
{
	struct world w;
	struct blk_ring_stats st;
	blkif_request_t *req;
	blkif_response_t rsp;
	uint8_t expect[PAGE + 2048];

	printf("case 1: write then read back through grants\n");
	world_start(&w);
	fill_page(1, 11);
	fill_page(2, 22);
	/* Segment 1: a whole page; segment 2: sectors 2..5 of its page (2048 bytes at 1024). */
	memcpy(expect, fake_grant_page(1), PAGE);
	memcpy(expect + PAGE, fake_grant_page(2) + 1024, 2048);
	req = front_req(&w, BLKIF_OP_WRITE, 0x1111, 8);
	add_seg(req, 1, 0, 7);
	add_seg(req, 2, 2, 5);
	front_push(&w);
	CHECK(wait_rsps(&w, 1), "no response to the write");
	take_rsp(&w, &rsp);
	CHECK_U64(rsp.id, 0x1111, "write response id");
	CHECK_INT(rsp.operation, BLKIF_OP_WRITE, "write response op");
	CHECK_INT(rsp.status, BLKIF_RSP_OKAY, "write response status");
	CHECK(memcmp(fd_state.data + 8 * 512, expect, sizeof(expect)) == 0,
	      "the disk does not hold the written data");
	CHECK(wait_notifies(1), "the backend never notified");
	/*
	 * Ask for the next response's event, as blkfront's final check does after taking
	 * responses: wait_rsps arms rsp_event only when it has to wait, and a response
	 * that came first would leave it behind, so that no event would be due.
	 */
	w.sring->rsp_event = w.front.rsp_cons + 1;
	xen_mb();

	req = front_req(&w, BLKIF_OP_READ, 0x2222, 8);
	add_seg(req, 3, 0, 7);
	add_seg(req, 4, 2, 5);
	front_push(&w);
	CHECK(wait_rsps(&w, 1), "no response to the read");
	take_rsp(&w, &rsp);
	CHECK_U64(rsp.id, 0x2222, "read response id");
	CHECK_INT(rsp.operation, BLKIF_OP_READ, "read response op");
	CHECK_INT(rsp.status, BLKIF_RSP_OKAY, "read response status");
	CHECK(memcmp(fake_grant_page(3), expect, PAGE) == 0, "read back: segment 1 differs");
	CHECK(memcmp(fake_grant_page(4) + 1024, expect + PAGE, 2048) == 0,
	      "read back: segment 2 differs");
	CHECK(fake_grant_page(4)[1023] == 0 && fake_grant_page(4)[3072] == 0,
	      "read wrote outside its segment");
	CHECK(wait_notifies(2), "the backend did not notify for the read");
	for (grant_ref_t g = 1; g <= 4; g++)
		CHECK_INT(fake_grant_mapped(g), 0, "data grant still mapped after its response");

	printf("case 6: stats\n");
	blk_ring_get_stats(w.ring, &st);
	CHECK_U64(st.wr_req, 1, "stats wr_req");
	CHECK_U64(st.rd_req, 1, "stats rd_req");
	CHECK_U64(st.wr_sect, 12, "stats wr_sect");
	CHECK_U64(st.rd_sect, 12, "stats rd_sect");
	CHECK_U64(st.err_req, 0, "stats err_req");
	CHECK_U64(st.grants.maps, 4, "stats grants.maps");
	CHECK_U64(st.grants.maps, st.grants.unmaps, "stats grants.maps == grants.unmaps");
	CHECK_U64(st.inflight, 0, "stats inflight");
	CHECK(st.notifies >= 2, "stats notifies: %llu", (unsigned long long)st.notifies);
	world_stop(&w);
}

/* Case 2: ring-level validation; bad requests fail alone. */
static void test_validation(void)
{
	struct world w;
	blkif_request_t *req;
	blkif_response_t rsps[6], rsp;

	printf("case 2: validation\n");
	world_start(&w);
	fill_page(1, 33);
	fill_page(3, 44);
	fake_grant_set_readonly(6, true);
	front_req(&w, 99, 1, 0);				/* unknown op */
	req = front_req(&w, BLKIF_OP_READ, 2, 0);		/* 12 segments */
	for (int i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
		add_seg(req, 5, 0, 0);
	req->nr_segments = 12;			/* one more than a request holds */
	req = front_req(&w, BLKIF_OP_WRITE, 3, 16);		/* bad grant ref */
	add_seg(req, BAD_REF, 0, 7);
	req = front_req(&w, BLKIF_OP_WRITE, 4, 24);		/* good, same sweep */
	add_seg(req, 1, 0, 7);
	req = front_req(&w, BLKIF_OP_READ, 5, 32);		/* into a read-only grant */
	add_seg(req, 6, 0, 7);
	req = front_req(&w, BLKIF_OP_READ, 6, 40);		/* good read, same sweep */
	add_seg(req, 7, 0, 7);
	memset(fd_state.data + 40 * 512, 0x5a, PAGE);
	front_push(&w);
	CHECK(wait_rsps(&w, 6), "not all 6 requests were answered");
	for (int i = 0; i < 6 && w.sring->rsp_prod != w.front.rsp_cons; i++)
		take_rsp(&w, &rsps[i]);

	CHECK(find_rsp(rsps, 6, 1, &rsp) && rsp.status == BLKIF_RSP_EOPNOTSUPP &&
	      rsp.operation == 99, "unknown op: want EOPNOTSUPP (status %d op %d)",
	      rsp.status, rsp.operation);
	CHECK(find_rsp(rsps, 6, 2, &rsp) && rsp.status == BLKIF_RSP_ERROR,
	      "12 segments: want ERROR (status %d)", rsp.status);
	CHECK(find_rsp(rsps, 6, 3, &rsp) && rsp.status == BLKIF_RSP_ERROR,
	      "bad grant ref: want ERROR (status %d)", rsp.status);
	CHECK(find_rsp(rsps, 6, 4, &rsp) && rsp.status == BLKIF_RSP_OKAY,
	      "good write beside a bad grant: want OKAY (status %d)", rsp.status);
	CHECK(memcmp(fd_state.data + 24 * 512, fake_grant_page(1), PAGE) == 0,
	      "the good write's data is not on the disk");
	CHECK(find_rsp(rsps, 6, 5, &rsp) && rsp.status == BLKIF_RSP_ERROR,
	      "read into a read-only grant: want ERROR (status %d)", rsp.status);
	CHECK(find_rsp(rsps, 6, 6, &rsp) && rsp.status == BLKIF_RSP_OKAY,
	      "good read beside a read-only grant: want OKAY (status %d)", rsp.status);
	CHECK(fake_grant_page(7)[0] == 0x5a && fake_grant_page(7)[PAGE - 1] == 0x5a,
	      "the good read's data did not arrive");
	CHECK(fake_grant_page(6)[0] == 0, "the read-only grant was written");
	pthread_mutex_lock(&fd_state.lock);
	CHECK_INT(fd_state.nlog, 2, "storage I/Os (only the two good requests)");
	pthread_mutex_unlock(&fd_state.lock);
	check_log(0, STORAGE_WRITE, 24 * 512, PAGE);
	check_log(1, STORAGE_READ, 40 * 512, PAGE);
	world_stop(&w);
}

/* Case 3: a request sharing a mapping with a slow one is answered only after the unmap. */
static void test_answer_after_unmap(void)
{
	struct world w;
	blkif_request_t *req;
	blkif_response_t rsps[2], rsp;

	printf("case 3: answer only after unmap\n");
	world_start(&w);
	fd_state.slow[1] = true;		/* the second submit is queued */
	fill_page(1, 55);
	fill_page(2, 66);
	req = front_req(&w, BLKIF_OP_WRITE, 10, 0);
	add_seg(req, 1, 0, 7);
	req = front_req(&w, BLKIF_OP_WRITE, 11, 8);
	add_seg(req, 2, 0, 7);
	front_push(&w);
	CHECK(wait_log(2), "the engine did not see both writes");
	/*
	 * Positive sync: a probe read in a later sweep. Its response is pushed
	 * after the first sweep's push, so if the inline write had been answered
	 * it would be visible by the time the probe's response is.
	 */
	req = front_req(&w, BLKIF_OP_READ, 12, 64);
	add_seg(req, 3, 0, 7);
	front_push(&w);
	CHECK(wait_rsps(&w, 1), "no response to the probe read");
	CHECK_INT(w.sring->rsp_prod - w.front.rsp_cons, 1,
		  "responses visible while the slow write holds the shared mapping");
	take_rsp(&w, &rsp);
	CHECK_U64(rsp.id, 12, "the only response is the probe's");
	CHECK(fake_grant_mapped(1) == 1 && fake_grant_mapped(2) == 1,
	      "both writes' grants stay mapped while the slow one runs (%u, %u)",
	      fake_grant_mapped(1), fake_grant_mapped(2));

	complete_queued(1);
	CHECK(wait_rsps(&w, 2), "no responses after the slow write completed");
	/* Check the grants before consuming: they must already be gone. */
	CHECK_INT(fake_grant_mapped(1), 0, "grant 1 mapped when its response is visible");
	CHECK_INT(fake_grant_mapped(2), 0, "grant 2 mapped when its response is visible");
	take_rsp(&w, &rsps[0]);
	take_rsp(&w, &rsps[1]);
	CHECK(find_rsp(rsps, 2, 10, &rsp) && rsp.status == BLKIF_RSP_OKAY, "write 10 answer");
	CHECK(find_rsp(rsps, 2, 11, &rsp) && rsp.status == BLKIF_RSP_OKAY, "write 11 answer");
	CHECK(memcmp(fd_state.data + 8 * 512, fake_grant_page(2), PAGE) == 0,
	      "the slow write's data is not on the disk");
	world_stop(&w);
}

/* Case 4a: a barrier waits for earlier I/O; later I/O waits for the barrier's flush. */
static void test_barrier_order(void)
{
	struct world w;
	blkif_request_t *req;
	blkif_response_t rsps[3];

	printf("case 4: ordering around a barrier\n");
	world_start(&w);
	fd_state.slow[0] = true;		/* A */
	fd_state.slow[1] = true;		/* the barrier's FLUSH */
	fill_page(1, 77);
	fill_page(2, 88);
	req = front_req(&w, BLKIF_OP_WRITE, 20, 0);		/* A */
	add_seg(req, 1, 0, 7);
	front_req(&w, BLKIF_OP_WRITE_BARRIER, 21, 0);		/* no segments */
	req = front_req(&w, BLKIF_OP_WRITE, 22, 8);		/* B */
	add_seg(req, 2, 0, 7);
	front_push(&w);
	CHECK(wait_log(1), "A was not submitted");
	CHECK(log_stays(1), "something was submitted while A runs");
	CHECK_INT(log_len(), 1, "I/Os while A is outstanding (no FLUSH, no B)");
	check_log(0, STORAGE_WRITE, 0, PAGE);

	complete_queued(1);			/* A */
	CHECK(wait_log(2), "no FLUSH after A completed");
	check_log(1, STORAGE_FLUSH, 0, 0);
	CHECK(log_stays(2), "something was submitted during the FLUSH");
	CHECK_INT(log_len(), 2, "I/Os while the barrier's FLUSH runs (no B)");

	complete_queued(1);			/* the FLUSH */
	CHECK(wait_log(3), "B was not submitted after the FLUSH");
	check_log(2, STORAGE_WRITE, 8 * 512, PAGE);
	CHECK(wait_rsps(&w, 3), "not all three answered");
	for (int i = 0; i < 3; i++)
		take_rsp(&w, &rsps[i]);
	CHECK(rsps[0].id == 20 && rsps[1].id == 21 && rsps[2].id == 22,
	      "answer order: %llu %llu %llu", (unsigned long long)rsps[0].id,
	      (unsigned long long)rsps[1].id, (unsigned long long)rsps[2].id);
	CHECK_INT(rsps[1].operation, BLKIF_OP_WRITE_BARRIER, "barrier response op");
	for (int i = 0; i < 3; i++)
		CHECK_INT(rsps[i].status, BLKIF_RSP_OKAY, "status");
	world_stop(&w);
}

/* Case 4b: a FLUSH_DISKCACHE with data is FLUSH, WRITE, FLUSH, after earlier I/O. */
static void test_fua_order(void)
{
	struct world w;
	blkif_request_t *req;
	blkif_response_t rsps[3], rsp;

	printf("case 4: ordering of a flush with data (FUA write)\n");
	world_start(&w);
	fd_state.slow[0] = true;		/* C, before the flush */
	fill_page(1, 99);
	fill_page(2, 111);
	req = front_req(&w, BLKIF_OP_WRITE, 30, 0);		/* C */
	add_seg(req, 1, 0, 7);
	req = front_req(&w, BLKIF_OP_FLUSH_DISKCACHE, 31, 16);	/* F, one segment */
	add_seg(req, 2, 0, 7);
	req = front_req(&w, BLKIF_OP_WRITE, 32, 32);		/* D, after F */
	add_seg(req, 3, 0, 7);
	front_push(&w);
	CHECK(wait_log(1), "C was not submitted");
	CHECK(log_stays(1), "something was submitted while C runs");
	CHECK_INT(log_len(), 1, "I/Os while C is outstanding");

	complete_queued(1);			/* C */
	CHECK(wait_log(5), "F's three steps and D were not all submitted");
	check_log(0, STORAGE_WRITE, 0, PAGE);
	check_log(1, STORAGE_FLUSH, 0, 0);
	check_log(2, STORAGE_WRITE, 16 * 512, PAGE);
	check_log(3, STORAGE_FLUSH, 0, 0);
	check_log(4, STORAGE_WRITE, 32 * 512, PAGE);
	CHECK(wait_rsps(&w, 3), "not all three answered");
	for (int i = 0; i < 3; i++)
		take_rsp(&w, &rsps[i]);
	CHECK(find_rsp(rsps, 3, 31, &rsp) && rsp.status == BLKIF_RSP_OKAY &&
	      rsp.operation == BLKIF_OP_FLUSH_DISKCACHE, "F's answer");
	CHECK(find_rsp(rsps, 3, 30, &rsp) && rsp.status == BLKIF_RSP_OKAY, "C's answer");
	CHECK(find_rsp(rsps, 3, 32, &rsp) && rsp.status == BLKIF_RSP_OKAY, "D's answer");
	CHECK(memcmp(fd_state.data + 16 * 512, fake_grant_page(2), PAGE) == 0,
	      "F's data is not on the disk");
	world_stop(&w);
}

/* Case 5: a producer more than a ring ahead halts the ring; stop still works. */
static void test_overflow(void)
{
	struct world w;
	struct blk_ring_stats st;

	printf("case 5: ring overflow halts the ring\n");
	world_start(&w);
	for (int i = 0; i < 4; i++) {				/* valid-looking requests */
		blkif_request_t *req = front_req(&w, BLKIF_OP_WRITE, 40 + i, 0);

		add_seg(req, 1, 0, 7);
	}
	xen_wmb();
	w.sring->req_prod = w.sring->rsp_prod + RING_SIZE(&w.front) + 1;
	CHECK(fake_evtchn_kick() == 0, "kicking the backend failed");
	CHECK(stays_quiet(fake_evtchn_notify_fd()), "the backend answered an overflowed ring");
	CHECK(log_stays(0), "storage I/O from an overflowed ring");
	CHECK_INT(w.sring->rsp_prod, 0, "responses on an overflowed ring");
	CHECK_INT(log_len(), 0, "storage I/Os on an overflowed ring");
	blk_ring_get_stats(w.ring, &st);
	CHECK_U64(st.inflight, 0, "inflight on an overflowed ring");
	CHECK_U64(st.grants.maps, 0, "grant maps on an overflowed ring");
	world_stop(&w);
}

/* The refilling frontend of case 8: how many requests it has put on the ring. */
static unsigned int refills;

/*
 * Run on the ring thread at each submit: the frontend takes the answers published
 * so far and puts a new read on the ring, so that the ring always has one more
 * request waiting by the time the loop looks again before sleeping.
 */
static void refill(void *arg)
{
	struct world *w = arg;
	blkif_response_t rsp;
	blkif_request_t *req;
	int notify;

	while (w->sring->rsp_prod != w->front.rsp_cons)
		take_rsp(w, &rsp);
	if (RING_FULL(&w->front))
		return;
	req = front_req(w, BLKIF_OP_READ, 0x8000 + refills, 8 * (refills % 64));
	add_seg(req, 1 + refills % 8, 0, 7);
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&w->front, notify);
	(void)notify;	/* the backend is busy: it looks again before it sleeps */
	__atomic_add_fetch(&refills, 1, __ATOMIC_RELEASE);
}

/* Has the refilling frontend put at least *(unsigned *)arg requests on the ring? */
static bool refilled(void *arg)
{
	return __atomic_load_n(&refills, __ATOMIC_ACQUIRE) >= *(unsigned int *)arg;
}

/* Case 8: a frontend that keeps its ring full cannot keep the ring from stopping. */
static void test_stop_busy(void)
{
	unsigned int want = 1000;
	struct world w;
	blkif_request_t *req;

	printf("case 8: a ring kept full still stops\n");
	world_start(&w);
	fd_state.submit_hook = refill;
	fd_state.submit_hook_arg = &w;
	req = front_req(&w, BLKIF_OP_READ, 0x7fff, 0);
	add_seg(req, 1, 0, 7);
	front_push(&w);
	CHECK(wait_fd(fd_state.submit_fd, refilled, &want, TIMEOUT_MS),
	      "the frontend did not refill the ring %u times", want);
	world_stop(&w);		/* fails if blk_ring_stop does not return */
	CHECK(refills >= want, "refills: %u", refills);
}

/* Run every case, each on a fresh ring. */
int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);	/* interleave with the daemon's stderr logs */
	test_basic();
	test_validation();
	test_answer_after_unmap();
	test_barrier_order();
	test_fua_order();
	test_overflow();
	test_stop_busy();
	return check_done("test-ring");
}
