/*
 * Unit test: what a ring does when something other than its guest fails: poll
 * fails on its thread (fake-xen.c's poll), or a request reaches storage that
 * breaks the engine contract. Neither may end the ring with I/O in storage,
 * nor take the daemon down.
 */
#include "ring-harness.h"

/* What the ring looked like when its thread ended (cfg.stopped). */
static struct {
	int efd;		/* readable once the thread ended */
	unsigned int queued;	/* I/Os the engine still held then */
	RING_IDX rsp_prod;	/* responses published by then */
} at_end;

/* cfg.stopped: note what the engine holds as the ring's thread ends. */
static void on_stopped(void *arg)
{
	struct world *w = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&fd_state.lock);
	at_end.queued = fd_state.qtail - fd_state.qhead;
	pthread_mutex_unlock(&fd_state.lock);
	at_end.rsp_prod = __atomic_load_n(&w->sring->rsp_prod, __ATOMIC_ACQUIRE);
	if (write(at_end.efd, &one, sizeof(one)) != sizeof(one))
		abort();
}

/* Has the ring's thread ended? */
static bool ended(void *arg)
{
	return blk_ring_stopped(arg);
}

/* Have at least *(unsigned *)arg polls failed? */
static bool polls_failed(void *arg)
{
	return fake_poll_failures() >= *(unsigned int *)arg;
}

/* A world whose ring reports the end of its thread to at_end. */
static void start_watched(struct world *w)
{
	world_init(w, NR_GRANTS);
	at_end.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(at_end.efd >= 0, "eventfd");
	w->cfg.stopped = on_stopped;
	w->cfg.stopped_arg = w;
	if (world_ring_start(w)) {
		fprintf(stderr, "blk_ring_start failed\n");
		exit(1);
	}
}

/* Stop and free a world started by start_watched. */
static void stop_watched(struct world *w)
{
	fake_poll_fail(0, 0);
	world_stop(w);
	close(at_end.efd);
}

/*
 * Case 1: poll fails while a write is in storage. The ring takes nothing more,
 * but its thread goes on reaping until storage has answered, and only then ends:
 * the write is answered, and teardown frees nothing storage still uses.
 */
static void test_poll_fails_in_flight(void)
{
	struct world w;
	blkif_request_t *req;
	blkif_response_t rsp;
	unsigned int one = 1;

	printf("case 1: poll fails with a write in storage\n");
	start_watched(&w);
	fd_state.slow[0] = true;
	fill_page(1, 7);
	req = front_req(&w, BLKIF_OP_WRITE, 0x51, 16);
	add_seg(req, 1, 0, 7);
	front_push(&w);
	CHECK(wait_log(1), "the write never reached storage");
	fake_poll_fail(UINT32_MAX, ENOMEM);
	CHECK(fake_evtchn_kick() == 0, "kicking the backend failed");
	CHECK(wait_fd(fake_poll_fail_fd(), polls_failed, &one, TIMEOUT_MS),
	      "the ring thread never polled again");
	/* Another request now: the ring must not take it. */
	req = front_req(&w, BLKIF_OP_WRITE, 0x52, 24);
	add_seg(req, 2, 0, 7);
	front_push(&w);
	complete_queued(1);
	CHECK(wait_fd(at_end.efd, ended, w.ring, TIMEOUT_MS),
	      "the ring's thread did not end once storage answered");
	CHECK_INT(at_end.queued, 0, "I/Os still in storage when the ring's thread ended");
	CHECK_INT(at_end.rsp_prod, 1, "responses published when the ring's thread ended");
	CHECK_INT(log_len(), 1, "I/Os submitted: the ring took a request after poll failed");
	if (w.sring->rsp_prod == 1) {
		take_rsp(&w, &rsp);
		CHECK_U64(rsp.id, 0x51, "response id");
		CHECK_INT(rsp.status, BLKIF_RSP_OKAY, "response status");
		CHECK(memcmp(fd_state.data + 16 * 512, fake_grant_page(1), PAGE) == 0,
		      "the write's data is not on the disk");
	}
	stop_watched(&w);
}

/* Case 2: poll fails with nothing in storage: the thread ends at once, nothing left behind. */
static void test_poll_fails_idle(void)
{
	struct world w;
	unsigned int one = 1;

	printf("case 2: poll fails on an idle ring\n");
	start_watched(&w);
	fake_poll_fail(1, EINVAL);
	CHECK(fake_evtchn_kick() == 0, "kicking the backend failed");
	CHECK(wait_fd(fake_poll_fail_fd(), polls_failed, &one, TIMEOUT_MS),
	      "the ring thread never polled again");
	CHECK(wait_fd(at_end.efd, ended, w.ring, TIMEOUT_MS),
	      "the ring's thread did not end after poll failed");
	CHECK_INT(at_end.queued, 0, "I/Os in storage when the ring's thread ended");
	stop_watched(&w);
}

/*
 * Case 3: a request the parser lets through breaks the engine contract (here the
 * disk shrank under the ring): storage_submit refuses it instead of aborting the
 * daemon, the request fails, and the ring is halted: it takes no more requests.
 */
static void test_contract_halts(void)
{
	struct world w;
	blkif_request_t *req;
	blkif_response_t rsp;

	printf("case 3: a request that breaks the engine contract halts the ring\n");
	start_watched(&w);
	w.disk.size = 8 * 512;		/* the parser's limit stays DISK_BYTES */
	req = front_req(&w, BLKIF_OP_WRITE, 0x61, 64);
	add_seg(req, 1, 0, 7);
	front_push(&w);
	CHECK(wait_rsps(&w, 1), "no response to the request");
	if (w.sring->rsp_prod == 1) {
		take_rsp(&w, &rsp);
		CHECK_U64(rsp.id, 0x61, "response id");
		CHECK_INT(rsp.status, BLKIF_RSP_ERROR, "response status");
	}
	CHECK_INT(log_len(), 0, "I/Os the engine saw");
	/* A good request now: a halted ring leaves it on the ring. */
	req = front_req(&w, BLKIF_OP_WRITE, 0x62, 0);
	add_seg(req, 2, 0, 7);
	front_push(&w);
	CHECK(fake_evtchn_kick() == 0, "kicking the backend failed");
	CHECK(log_stays(0), "a halted ring sent a request to storage");
	CHECK(w.sring->rsp_prod == 1, "a halted ring answered another request");
	CHECK(!blk_ring_stopped(w.ring), "the halted ring's thread ended by itself");
	stop_watched(&w);
}

/*
 * Case 4: with requests in storage, the frontend moves req_prod back behind
 * what the ring consumed (but not behind its responses). The snapshot fails
 * the check and the ring halts: it never takes the stale slots past req_prod.
 */
static void test_prod_goes_back(void)
{
	struct world w;
	blkif_request_t *req;
	blkif_response_t rsps[8];
	unsigned int n;

	printf("case 4: req_prod moves back behind the requests consumed\n");
	start_watched(&w);
	for (unsigned int i = 0; i < 3; i++) {
		fd_state.slow[i] = true;
		req = front_req(&w, BLKIF_OP_WRITE, 0x70 + i, 8 * i);
		add_seg(req, 1 + i, 0, 7);
	}
	front_push(&w);
	CHECK(wait_log(3), "the three writes never reached storage");
	__atomic_store_n(&w.sring->req_prod, 1, __ATOMIC_RELEASE);
	CHECK(fake_evtchn_kick() == 0, "kicking the backend failed");
	CHECK(log_stays(3), "the ring sent more to storage after req_prod went back");
	complete_queued(3);
	CHECK(wait_rsps(&w, 3), "the three writes were not answered");
	/* Then a good request after the three: a halted ring leaves it alone. */
	w.front.req_prod_pvt = 3;
	req = front_req(&w, BLKIF_OP_WRITE, 0x80, 64);
	add_seg(req, 5, 0, 7);
	__atomic_store_n(&w.sring->req_prod, 4, __ATOMIC_RELEASE);
	CHECK(fake_evtchn_kick() == 0, "kicking the backend failed");
	CHECK(log_stays(3), "a halted ring took a request");
	n = take_all(&w, rsps, 8);
	CHECK_INT(n, 3, "responses: only the three writes may be answered");
	for (unsigned int i = 0; i < n; i++)
		CHECK(rsps[i].id >= 0x70 && rsps[i].id < 0x73 && rsps[i].status == BLKIF_RSP_OKAY,
		      "response %u: id %#llx status %d", i, (unsigned long long)rsps[i].id,
		      rsps[i].status);
	stop_watched(&w);
}

int main(void)
{
	test_poll_fails_in_flight();
	test_poll_fails_idle();
	test_contract_halts();
	test_prod_goes_back();
	return check_done("test-ring-faults");
}
