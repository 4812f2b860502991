/*
 * Unit test: blkback/ring.c driven end to end against an in-process fake of
 * the grant and event-channel libraries (fake-xen.c) and a scripted storage
 * engine. The test plays the frontend: it writes requests on the shared ring,
 * kicks the event channel and reads responses back.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../../blkback/ring.h"
#include "../../storage/storage.h"
#include "check.h"
#include "fake-xen.h"

#define PAGE 4096u
#define NR_GRANTS 32		/* ref 0 is the ring; data pages from 1 */
#define RING_REF 0
#define BAD_REF 1000		/* not in the grant table */
#define DISK_BYTES (1u << 20)
#define TIMEOUT_MS 10000	/* an expected event not seen this long fails */
#define QUIET_MS 200		/* a bounded wait for an event that must NOT come */
#define MAX_LOG 64

/* One I/O as the engine saw it at submit. */
struct log_entry {
	enum storage_op op;
	uint64_t offset, len;
};

/* The scripted engine: a RAM disk that completes inline or queues, by submit number. */
struct fake_disk {
	pthread_mutex_t lock;
	uint8_t *data;
	struct log_entry log[MAX_LOG];
	unsigned int nlog;
	bool slow[MAX_LOG];		/* submit number n is queued, not completed inline */
	struct storage_io *queue[MAX_LOG];
	unsigned int qhead, qtail;
	unsigned int credits;		/* completions the test asked for, not yet run */
	int cmd_rd, cmd_wr;		/* the test -> reap: one byte per I/O to complete */
	int submit_fd;			/* eventfd: the engine saw a submit */
	unsigned int done_off_thread;	/* done callbacks run off the ring thread */
	pthread_t ring_thread;
	bool ring_thread_known;
};

static struct fake_disk fd_state;

/* Move an I/O's bytes between the iovecs and the RAM disk; returns its result. */
static int64_t disk_do(struct fake_disk *d, struct storage_io *io)
{
	uint64_t off = io->offset;

	if (io->op == STORAGE_FLUSH)
		return 0;
	for (int i = 0; i < io->iovcnt; i++) {
		if (io->op == STORAGE_WRITE)
			memcpy(d->data + off, io->iov[i].iov_base, io->iov[i].iov_len);
		else if (io->op == STORAGE_READ)
			memcpy(io->iov[i].iov_base, d->data + off, io->iov[i].iov_len);
		off += io->iov[i].iov_len;
	}
	return (int64_t)io->len;
}

/* Note the thread a callback runs on: it must be the ring's, where submit ran. */
static void note_thread(struct fake_disk *d)
{
	if (!d->ring_thread_known) {
		d->ring_thread = pthread_self();
		d->ring_thread_known = true;
	} else if (!pthread_equal(d->ring_thread, pthread_self())) {
		d->done_off_thread++;
	}
}

/* storage_ops.submit: log, then complete inline or queue for the test to release. */
static void fd_submit(struct storage_queue *q, struct storage_io *io)
{
	struct fake_disk *d = q->disk->priv;
	uint64_t one = 1;
	bool slow = false;

	pthread_mutex_lock(&d->lock);
	note_thread(d);
	if (d->nlog < MAX_LOG) {
		d->log[d->nlog] = (struct log_entry){ io->op, io->offset, io->len };
		slow = d->slow[d->nlog];
		d->nlog++;
	}
	if (slow)
		d->queue[d->qtail++ % MAX_LOG] = io;
	pthread_mutex_unlock(&d->lock);
	if (write(d->submit_fd, &one, sizeof(one)) != sizeof(one))
		abort();
	if (!slow)
		io->done(io, disk_do(d, io));
}

/* storage_ops.event_fd: the command pipe. */
static int fd_event_fd(struct storage_queue *q)
{
	return ((struct fake_disk *)q->disk->priv)->cmd_rd;
}

/* storage_ops.reap: run as many queued completions as the test asked for, oldest first. */
static void fd_reap(struct storage_queue *q)
{
	struct fake_disk *d = q->disk->priv;
	char buf[64];
	ssize_t n = read(d->cmd_rd, buf, sizeof(buf));

	pthread_mutex_lock(&d->lock);
	note_thread(d);
	if (n > 0)
		d->credits += (unsigned int)n;
	pthread_mutex_unlock(&d->lock);
	for (;;) {
		struct storage_io *io = NULL;

		pthread_mutex_lock(&d->lock);
		if (d->credits && d->qhead != d->qtail) {
			io = d->queue[d->qhead++ % MAX_LOG];
			d->credits--;
		}
		pthread_mutex_unlock(&d->lock);
		if (!io)
			break;
		io->done(io, disk_do(d, io));
	}
}

static const struct storage_ops fd_ops = {
	.name = "scripted",
	.submit = fd_submit,
	.event_fd = fd_event_fd,
	.reap = fd_reap,
};

/* One case's world: fake Xen, the disk, the frontend's view of the ring, the ring. */
struct world {
	struct storage disk;
	struct blkif_front_ring front;
	struct blkif_sring *sring;
	struct blk_ring *ring;
};

/* Build a fresh world and start the ring (with persistent grants or not); exits on
 * set-up failure. */
static void world_start_with(struct world *w, bool persistent)
{
	struct fake_disk *d = &fd_state;
	struct blk_ring_config cfg;
	int p[2];

	if (fake_xen_init(NR_GRANTS)) {
		fprintf(stderr, "fake_xen_init failed\n");
		exit(1);
	}
	memset(w, 0, sizeof(*w));
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	d->data = calloc(1, DISK_BYTES);
	d->submit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!d->data || d->submit_fd < 0 || pipe2(p, O_CLOEXEC | O_NONBLOCK)) {
		fprintf(stderr, "test set-up failed\n");
		exit(1);
	}
	d->cmd_rd = p[0];
	d->cmd_wr = p[1];
	w->disk.ops = &fd_ops;
	w->disk.size = DISK_BYTES;
	w->disk.caps.flush = true;
	w->disk.caps.sector_size = 512;
	w->disk.caps.physical_sector_size = 512;
	w->disk.priv = d;

	w->sring = (struct blkif_sring *)fake_grant_page(RING_REF);
	SHARED_RING_INIT(w->sring);
	FRONT_RING_INIT(&w->front, w->sring, PAGE);

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.name, sizeof(cfg.name), "test-ring");
	cfg.domid = 5;
	cfg.ring_refs[0] = RING_REF;
	cfg.remote_port = 3;
	cfg.abi = BLKIF_ABI_NATIVE;
	cfg.lim.nr_sectors = DISK_BYTES / 512;
	cfg.lim.sector_size = 512;
	cfg.disk = &w->disk;
	cfg.grant_mode = persistent ? GRANT_MODE_PERSISTENT : GRANT_MODE_MAP;
	if (blk_ring_start(&cfg, &w->ring)) {
		fprintf(stderr, "blk_ring_start failed\n");
		exit(1);
	}
}

/* Build a fresh world whose ring maps grants per sweep. */
static void world_start(struct world *w)
{
	world_start_with(w, false);
}

/* Thread body: blk_ring_stop, so that a hang in it can be timed out. */
static void *stop_thread(void *arg)
{
	blk_ring_stop(arg, NULL);
	return NULL;
}

/* Stop the ring (bounded), check nothing is left mapped or open, free the world. */
static void world_stop(struct world *w)
{
	struct fake_disk *d = &fd_state;
	struct timespec until;
	pthread_t t;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += TIMEOUT_MS / 1000;
	if (pthread_create(&t, NULL, stop_thread, w->ring) ||
	    pthread_timedjoin_np(t, NULL, &until)) {
		fprintf(stderr, "FAILED: blk_ring_stop did not return\n");
		exit(1);
	}
	w->ring = NULL;
	CHECK_INT(fake_regions_live(), 0, "mappings left after stop");
	CHECK_INT(fake_handles_open(), 0, "grant/evtchn handles left open after stop");
	CHECK_INT(fake_misuse(), 0, "contract violations seen by the fake libraries");
	CHECK_INT(d->done_off_thread, 0, "engine callbacks run off the ring thread");
	CHECK_INT(fake_xen_fini(), 0, "things left behind at teardown");
	close(d->cmd_rd);
	close(d->cmd_wr);
	close(d->submit_fd);
	free(d->data);
	pthread_mutex_destroy(&d->lock);
}

/* Fill the next request slot (not yet pushed); segments are whole pages unless noted. */
static blkif_request_t *front_req(struct world *w, uint8_t op, uint64_t id, uint64_t sector)
{
	blkif_request_t *req = RING_GET_REQUEST(&w->front, w->front.req_prod_pvt);

	w->front.req_prod_pvt++;
	memset(req, 0, sizeof(*req));
	req->operation = op;
	req->id = id;
	req->sector_number = sector;
	return req;
}

/* Add a segment covering sectors first..last of a granted page. */
static void add_seg(blkif_request_t *req, grant_ref_t gref, uint8_t first, uint8_t last)
{
	struct blkif_request_segment *s = &req->seg[req->nr_segments++];

	s->gref = gref;
	s->first_sect = first;
	s->last_sect = last;
}

/*
 * Publish the pending requests and signal the backend only if it asked to be
 * (req_event), as a real frontend does: a backend that forgets to re-arm
 * req_event before sleeping then hangs the test instead of passing it.
 */
static void front_push(struct world *w)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&w->front, notify);
	CHECK(!notify || fake_evtchn_kick() == 0, "kicking the backend failed");
}

/* Wait, polling fd, until cond(arg) holds; false on timeout (a missed wake-up fails too). */
static bool wait_fd(int fd, bool (*cond)(void *), void *arg, int timeout_ms)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t n;
		long left;

		if (cond(arg))
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = timeout_ms - ((now.tv_sec - start.tv_sec) * 1000 +
				     (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return false;
		if (pfd.revents & POLLIN && read(fd, &n, sizeof(n)) < 0)
			return false;
	}
}

/* Waiting for responses: how many the frontend needs. */
struct rsp_wait {
	struct world *w;
	RING_IDX want;
};

/* Are at least want responses published? If not, ask to be notified of the next one. */
static bool rsp_ready(void *arg)
{
	struct rsp_wait *rw = arg;
	struct blkif_sring *sring = rw->w->sring;
	RING_IDX prod = sring->rsp_prod;

	if (prod - rw->w->front.rsp_cons >= rw->want)
		return true;
	sring->rsp_event = prod + 1;
	xen_mb();	/* re-check after arming, or a response in between goes unnoticed */
	return sring->rsp_prod - rw->w->front.rsp_cons >= rw->want;
}

/* Wait until n more responses are published, via the backend's notifications. */
static bool wait_rsps(struct world *w, unsigned int n)
{
	struct rsp_wait rw = { w, n };

	return wait_fd(fake_evtchn_notify_fd(), rsp_ready, &rw, TIMEOUT_MS);
}

/* Consume the next response into *out. */
static void take_rsp(struct world *w, blkif_response_t *out)
{
	xen_rmb();
	*out = *RING_GET_RESPONSE(&w->front, w->front.rsp_cons);
	w->front.rsp_cons++;
}

/* Find the response with this id among n; false (and *out zeroed) if it is not there. */
static bool find_rsp(const blkif_response_t *rsps, unsigned int n, uint64_t id,
		     blkif_response_t *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned int i = 0; i < n; i++)
		if (rsps[i].id == id) {
			*out = rsps[i];
			return true;
		}
	return false;
}

/* Has the engine logged at least *(unsigned *)arg submits? */
static bool log_reached(void *arg)
{
	unsigned int n;

	pthread_mutex_lock(&fd_state.lock);
	n = fd_state.nlog;
	pthread_mutex_unlock(&fd_state.lock);
	return n >= *(unsigned int *)arg;
}

/* Wait until the engine has seen n submits in all. */
static bool wait_log(unsigned int n)
{
	return wait_fd(fd_state.submit_fd, log_reached, &n, TIMEOUT_MS);
}

/*
 * Bounded negative check: true if fd stays silent for QUIET_MS. The absence
 * of an event cannot be waited for positively; a wrong event would show up
 * as a failure here (or later, in the exact log contents).
 */
static bool stays_quiet(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, QUIET_MS) == 0;
}

/* Engine log length, read under its lock. */
static unsigned int log_len(void)
{
	unsigned int n;

	pthread_mutex_lock(&fd_state.lock);
	n = fd_state.nlog;
	pthread_mutex_unlock(&fd_state.lock);
	return n;
}

/* Let the engine complete n of its queued I/Os (on the ring thread, via reap). */
static void complete_queued(unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		CHECK(write(fd_state.cmd_wr, "c", 1) == 1, "writing the engine command pipe");
}

/* Check one engine log entry. */
static void check_log(unsigned int i, enum storage_op op, uint64_t offset, uint64_t len)
{
	struct log_entry e;

	pthread_mutex_lock(&fd_state.lock);
	e = fd_state.log[i];
	pthread_mutex_unlock(&fd_state.lock);
	/* A FLUSH has no range: its offset means nothing, its len must be 0. */
	if (op == STORAGE_FLUSH)
		offset = e.offset;
	CHECK(e.op == op && e.offset == offset && e.len == len,
	      "log[%u]: got op %d offset %llu len %llu, want op %d offset %llu len %llu", i,
	      (int)e.op, (unsigned long long)e.offset, (unsigned long long)e.len, (int)op,
	      (unsigned long long)offset, (unsigned long long)len);
}

/* Fill a grant page with a pattern derived from seed. */
static void fill_page(grant_ref_t ref, uint8_t seed)
{
	uint8_t *p = fake_grant_page(ref);

	for (unsigned int i = 0; i < PAGE; i++)
		p[i] = (uint8_t)(seed + i * 7u + (i >> 9));
}

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
	CHECK(fake_evtchn_notifies() >= 1, "the backend never notified");

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
	CHECK(fake_evtchn_notifies() >= 2, "the backend did not notify for the read");
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
	CHECK(stays_quiet(fd_state.submit_fd), "something was submitted while A runs");
	CHECK_INT(log_len(), 1, "I/Os while A is outstanding (no FLUSH, no B)");
	check_log(0, STORAGE_WRITE, 0, PAGE);

	complete_queued(1);			/* A */
	CHECK(wait_log(2), "no FLUSH after A completed");
	check_log(1, STORAGE_FLUSH, 0, 0);
	CHECK(stays_quiet(fd_state.submit_fd), "something was submitted during the FLUSH");
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
	CHECK(stays_quiet(fd_state.submit_fd), "something was submitted while C runs");
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
	CHECK(stays_quiet(fd_state.submit_fd), "storage I/O from an overflowed ring");
	CHECK_INT(w.sring->rsp_prod, 0, "responses on an overflowed ring");
	CHECK_INT(log_len(), 0, "storage I/Os on an overflowed ring");
	blk_ring_get_stats(w.ring, &st);
	CHECK_U64(st.inflight, 0, "inflight on an overflowed ring");
	CHECK_U64(st.grants.maps, 0, "grant maps on an overflowed ring");
	world_stop(&w);
}

/* Run every case, each on a fresh ring. */
/* Persistent grants: mapped once, kept after the answer, reused, unmapped at stop. */
static void test_persistent(void)
{
	struct world w;
	struct blk_ring_stats st;
	blkif_request_t *req;
	blkif_response_t rsp;
	uint8_t expect[PAGE];

	printf("case 7: persistent grants\n");
	world_start_with(&w, true);
	fill_page(1, 33);
	memcpy(expect, fake_grant_page(1), PAGE);
	req = front_req(&w, BLKIF_OP_WRITE, 0x3333, 16);
	add_seg(req, 1, 0, 7);
	front_push(&w);
	CHECK(wait_rsps(&w, 1), "no response to the write");
	take_rsp(&w, &rsp);
	CHECK_INT(rsp.status, BLKIF_RSP_OKAY, "persistent write status");
	CHECK(memcmp(fd_state.data + 16 * 512, expect, PAGE) == 0, "the write did not land");
	CHECK_INT(fake_grant_mapped(1), 1, "a persistent grant is unmapped after its answer");

	/* The same page, now as a read target: no new map, the data comes back into it. */
	memset(fake_grant_page(1), 0, PAGE);
	req = front_req(&w, BLKIF_OP_READ, 0x4444, 16);
	add_seg(req, 1, 0, 7);
	front_push(&w);
	CHECK(wait_rsps(&w, 1), "no response to the read");
	take_rsp(&w, &rsp);
	CHECK_INT(rsp.status, BLKIF_RSP_OKAY, "persistent read status");
	CHECK(memcmp(fake_grant_page(1), expect, PAGE) == 0, "the read did not land");
	blk_ring_get_stats(w.ring, &st);
	CHECK_U64(st.grants.maps, 1, "one map for two requests on the same grant");
	CHECK_U64(st.grants.persistent, 1, "persistent grants held");
	CHECK_U64(st.grants.unmaps, 0, "unmaps while connected");
	world_stop(&w);		/* checks that no mapping is left */
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);	/* interleave with the daemon's stderr logs */
	test_basic();
	test_validation();
	test_answer_after_unmap();
	test_barrier_order();
	test_fua_order();
	test_overflow();
	test_persistent();
	return check_done("test-ring");
}
