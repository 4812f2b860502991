/*
 * The test-ring* programs' harness: blkback/ring.c runs end to end against an
 * in-process fake of the grant and event-channel libraries (fake-xen.c) and a
 * scripted storage engine whose completions the test releases one by one. The
 * test plays the frontend: it writes requests on the shared ring, kicks the
 * event channel and reads responses back.
 */
#ifndef TESTS_UNIT_RING_HARNESS_H
#define TESTS_UNIT_RING_HARNESS_H

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
#define BAD_REF 100000		/* not in the grant table */
#define DISK_BYTES (4u << 20)
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
	int cmd_rd, cmd_wr;		/* to reap: 'c' completes one I/O, 'h' runs hook, 'k' kicks */
	int submit_fd;			/* eventfd: the engine saw a submit, or ran the hook */
	void (*hook)(void *arg);	/* run on the ring thread by an 'h', after the 'c's */
	void *hook_arg;
	void (*submit_hook)(void *arg);	/* run on the ring thread after each submit */
	void *submit_hook_arg;
	unsigned int hooks_run;
	unsigned int done_off_thread;	/* done callbacks run off the ring thread */
	pthread_t ring_thread;
	bool ring_thread_known;
};

static struct fake_disk fd_state;

/* Move an I/O's bytes between the iovecs and the RAM disk; returns its result. */
static inline int64_t disk_do(struct fake_disk *d, struct storage_io *io)
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
static inline void note_thread(struct fake_disk *d)
{
	if (!d->ring_thread_known) {
		d->ring_thread = pthread_self();
		d->ring_thread_known = true;
	} else if (!pthread_equal(d->ring_thread, pthread_self())) {
		d->done_off_thread++;
	}
}

/* Signal the test that the engine did something. */
static inline void disk_signal(struct fake_disk *d)
{
	uint64_t one = 1;

	if (write(d->submit_fd, &one, sizeof(one)) != sizeof(one))
		abort();
}

/* storage_ops.submit: log, then complete inline or queue for the test to release. */
static inline void fd_submit(struct storage_queue *q, struct storage_io *io)
{
	struct fake_disk *d = q->disk->priv;
	bool slow = false, kick;

	pthread_mutex_lock(&d->lock);
	note_thread(d);
	if (d->nlog < MAX_LOG) {
		d->log[d->nlog] = (struct log_entry){ io->op, io->offset, io->len };
		slow = d->slow[d->nlog];
		d->nlog++;
	}
	if (slow)
		d->queue[d->qtail++ % MAX_LOG] = io;
	kick = slow && d->credits;
	pthread_mutex_unlock(&d->lock);
	disk_signal(d);
	if (!slow)
		io->done(io, disk_do(d, io));
	/* Completions asked for before this I/O came: let reap run them. */
	if (kick && write(d->cmd_wr, "k", 1) != 1)
		abort();
	if (d->submit_hook)
		d->submit_hook(d->submit_hook_arg);
}

/* storage_ops.poll: the command pipe, readable. */
static inline void fd_poll(struct storage_queue *q, struct storage_poll *p)
{
	p->fd = ((struct fake_disk *)q->disk->priv)->cmd_rd;
	p->events = POLLIN;
}

/*
 * storage_ops.reap: run as many queued completions as the test asked for, oldest
 * first; then, if asked, the hook: on the ring thread, at a point where the ring
 * is between two instructions of its own, as a SIGKILL would find it.
 */
static inline void fd_reap(struct storage_queue *q)
{
	struct fake_disk *d = q->disk->priv;
	char buf[64];
	ssize_t n = read(d->cmd_rd, buf, sizeof(buf));
	bool hook = false;

	pthread_mutex_lock(&d->lock);
	note_thread(d);
	for (ssize_t i = 0; i < n; i++) {
		d->credits += buf[i] == 'c';
		hook |= buf[i] == 'h';
	}
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
	if (hook && d->hook) {
		d->hook(d->hook_arg);
		pthread_mutex_lock(&d->lock);
		d->hooks_run++;
		pthread_mutex_unlock(&d->lock);
		disk_signal(d);
	}
}

static const struct storage_ops fd_ops = {
	.name = "scripted",
	.submit = fd_submit,
	.poll = fd_poll,
	.reap = fd_reap,
};

/* One case's world: fake Xen, the disk, the frontend's view of the ring, the ring. */
struct world {
	struct storage disk;
	struct blkif_front_ring front;
	struct blkif_sring *sring;
	struct blk_ring_config cfg;	/* what world_ring_start starts */
	struct blk_ring *ring;
};

/* Build a fresh world of nr_grants guest pages and a default ring config; exits on failure. */
static inline void world_init(struct world *w, uint32_t nr_grants)
{
	struct fake_disk *d = &fd_state;
	struct blk_ring_config *cfg = &w->cfg;
	int p[2];

	if (fake_xen_init(nr_grants)) {
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

	snprintf(cfg->name, sizeof(cfg->name), "test-ring");
	cfg->domid = 5;
	cfg->devid = 51712;
	cfg->ring_refs[0] = RING_REF;
	cfg->remote_port = 3;
	cfg->abi = BLKIF_ABI_NATIVE;
	cfg->lim.nr_sectors = DISK_BYTES / 512;
	cfg->lim.sector_size = 512;
	cfg->disk = &w->disk;
	cfg->grant_mode = GRANT_MODE_MAP;
}

/* Start a ring on w->cfg; blk_ring_start's result. */
static inline int world_ring_start(struct world *w)
{
	pthread_mutex_lock(&fd_state.lock);
	fd_state.ring_thread_known = false;	/* a new ring, a new thread */
	pthread_mutex_unlock(&fd_state.lock);
	return blk_ring_start(&w->cfg, &w->ring);
}

/* Build a fresh world and start a ring mapping grants per sweep; exits on failure. */
static inline void world_start(struct world *w)
{
	world_init(w, NR_GRANTS);
	if (world_ring_start(w)) {
		fprintf(stderr, "blk_ring_start failed\n");
		exit(1);
	}
}

/* Thread body: blk_ring_stop, so that a hang in it can be timed out. */
static inline void *stop_thread(void *arg)
{
	blk_ring_stop(arg, NULL);
	return NULL;
}

/* Thread body: stop the ring but keep its journal, as a handover does (device_leave). */
static inline void *leave_thread(void *arg)
{
	blk_ring_keep_journal(arg);
	blk_ring_stop(arg, NULL);
	return NULL;
}

/* Stop (or leave) the ring, bounded; check nothing is left mapped, open or misused. */
static inline void world_ring_stop(struct world *w, bool leave)
{
	struct timespec until;
	pthread_t t;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += TIMEOUT_MS / 1000;
	if (pthread_create(&t, NULL, leave ? leave_thread : stop_thread, w->ring) ||
	    pthread_timedjoin_np(t, NULL, &until)) {
		fprintf(stderr, "FAILED: blk_ring_stop did not return\n");
		exit(1);
	}
	w->ring = NULL;
	CHECK_INT(fake_regions_live(), 0, "mappings left after stop");
	CHECK_INT(fake_handles_open(), 0, "grant/evtchn handles left open after stop");
	CHECK_INT(fake_misuse(), 0, "contract violations seen by the fake libraries");
	CHECK_INT(fd_state.done_off_thread, 0, "engine callbacks run off the ring thread");
}

/* Tear the world down (its ring stopped) and check nothing was left behind. */
static inline void world_fini(struct world *w)
{
	struct fake_disk *d = &fd_state;

	(void)w;
	CHECK_INT(fake_xen_fini(), 0, "things left behind at teardown");
	close(d->cmd_rd);
	close(d->cmd_wr);
	close(d->submit_fd);
	free(d->data);
	pthread_mutex_destroy(&d->lock);
}

/* Stop the ring (bounded), check nothing is left mapped or open, free the world. */
static inline void world_stop(struct world *w)
{
	world_ring_stop(w, false);
	world_fini(w);
}

/* Fill the next request slot (not yet pushed). */
static inline blkif_request_t *front_req(struct world *w, uint8_t op, uint64_t id,
					 uint64_t sector)
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
static inline void add_seg(blkif_request_t *req, grant_ref_t gref, uint8_t first, uint8_t last)
{
	struct blkif_request_segment *s = &req->seg[req->nr_segments++];

	s->gref = gref;
	s->first_sect = first;
	s->last_sect = last;
}

/*
 * Fill the next slot with an indirect request of nsegs segments whose descriptors
 * the caller puts in the page of iref (returned, cleared); not yet pushed.
 */
static inline struct blkif_request_segment *front_indirect(struct world *w, uint8_t op,
							   uint64_t id, uint64_t sector,
							   grant_ref_t iref, uint16_t nsegs)
{
	blkif_request_indirect_t *req =
		(blkif_request_indirect_t *)front_req(w, BLKIF_OP_INDIRECT, id, sector);
	uint8_t *page = fake_grant_page(iref);

	req->indirect_op = op;
	req->nr_segments = nsegs;
	req->indirect_grefs[0] = iref;
	if (page)
		memset(page, 0, PAGE);
	return (struct blkif_request_segment *)page;
}

/*
 * Publish the pending requests and signal the backend only if it asked to be
 * (req_event), as a real frontend does: a backend that forgets to re-arm
 * req_event before sleeping then hangs the test instead of passing it.
 */
static inline void front_push(struct world *w)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&w->front, notify);
	CHECK(!notify || fake_evtchn_kick() == 0, "kicking the backend failed");
}

/* Wait, polling fd, until cond(arg) holds; false on timeout (a missed wake-up fails too). */
static inline bool wait_fd(int fd, bool (*cond)(void *), void *arg, int timeout_ms)
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
static inline bool rsp_ready(void *arg)
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
static inline bool wait_rsps(struct world *w, unsigned int n)
{
	struct rsp_wait rw = { w, n };

	return wait_fd(fake_evtchn_notify_fd(), rsp_ready, &rw, TIMEOUT_MS);
}

/* Consume the next response into *out. */
static inline void take_rsp(struct world *w, blkif_response_t *out)
{
	xen_rmb();
	*out = *RING_GET_RESPONSE(&w->front, w->front.rsp_cons);
	w->front.rsp_cons++;
}

/* Consume every published response, at most max, into rsps; how many. */
static inline unsigned int take_all(struct world *w, blkif_response_t *rsps, unsigned int max)
{
	unsigned int n = 0;

	while (n < max && w->sring->rsp_prod != w->front.rsp_cons)
		take_rsp(w, &rsps[n++]);
	return n;
}

/* Find the response with this id among n; false (and *out zeroed) if it is not there. */
static inline bool find_rsp(const blkif_response_t *rsps, unsigned int n, uint64_t id,
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

/* How many of n responses carry this id. */
static inline unsigned int count_rsp(const blkif_response_t *rsps, unsigned int n, uint64_t id)
{
	unsigned int c = 0;

	for (unsigned int i = 0; i < n; i++)
		c += rsps[i].id == id;
	return c;
}

/* Engine log length, read under its lock. */
static inline unsigned int log_len(void)
{
	unsigned int n;

	pthread_mutex_lock(&fd_state.lock);
	n = fd_state.nlog;
	pthread_mutex_unlock(&fd_state.lock);
	return n;
}

/* Has the engine logged at least *(unsigned *)arg submits? */
static inline bool log_reached(void *arg)
{
	return log_len() >= *(unsigned int *)arg;
}

/* Wait until the engine has seen n submits in all. */
static inline bool wait_log(unsigned int n)
{
	return wait_fd(fd_state.submit_fd, log_reached, &n, TIMEOUT_MS);
}

/* Has the engine run its hook at least *(unsigned *)arg times? */
static inline bool hooks_reached(void *arg)
{
	unsigned int n;

	pthread_mutex_lock(&fd_state.lock);
	n = fd_state.hooks_run;
	pthread_mutex_unlock(&fd_state.lock);
	return n >= *(unsigned int *)arg;
}

/*
 * Let the engine complete n queued I/Os and then run its hook on the ring
 * thread, and wait until it has run. Returns false on timeout.
 */
static inline bool complete_then_hook(unsigned int n)
{
	char cmd[MAX_LOG + 1];
	unsigned int want;

	pthread_mutex_lock(&fd_state.lock);
	want = fd_state.hooks_run + 1;
	pthread_mutex_unlock(&fd_state.lock);
	memset(cmd, 'c', n);
	cmd[n] = 'h';
	/* One write: the reap reads it whole, so the hook runs right after the completions. */
	if (write(fd_state.cmd_wr, cmd, n + 1) != (ssize_t)(n + 1))
		return false;
	return wait_fd(fd_state.submit_fd, hooks_reached, &want, TIMEOUT_MS);
}

/*
 * Bounded negative check: true if fd stays silent for QUIET_MS. The absence
 * of an event cannot be waited for positively; a wrong event would show up
 * as a failure here (or later, in the exact log contents).
 */
static inline bool stays_quiet(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, QUIET_MS) == 0;
}

/*
 * Bounded negative check: the engine sees no submit beyond its first n for
 * QUIET_MS. Counted, not polled: a wait that returned early may leave the
 * signal of a submit it already counted behind.
 */
static inline bool log_stays(unsigned int n)
{
	unsigned int more = n + 1;

	return !wait_fd(fd_state.submit_fd, log_reached, &more, QUIET_MS) && log_len() == n;
}

/* Has the backend notified the frontend at least *(uint64_t *)arg times? */
static inline bool notified(void *arg)
{
	return fake_evtchn_notifies() >= *(uint64_t *)arg;
}

/* Wait until the backend has notified n times in all (it may publish, then notify). */
static inline bool wait_notifies(uint64_t n)
{
	return wait_fd(fake_evtchn_notify_fd(), notified, &n, TIMEOUT_MS);
}

/* Let the engine complete its next n queued I/Os, queued now or later (on the ring thread). */
static inline void complete_queued(unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		CHECK(write(fd_state.cmd_wr, "c", 1) == 1, "writing the engine command pipe");
}

/* Check one engine log entry. */
static inline void check_log(unsigned int i, enum storage_op op, uint64_t offset, uint64_t len)
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
static inline void fill_page(grant_ref_t ref, uint8_t seed)
{
	uint8_t *p = fake_grant_page(ref);

	for (unsigned int i = 0; i < PAGE; i++)
		p[i] = (uint8_t)(seed + i * 7u + (i >> 9));
}

#endif
