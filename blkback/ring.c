/* The per-ring event loop: drain in batches, map, submit, complete, respond. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "ringint.h"
#include "sring.h"

static void req_dispatch(struct blk_req *req);

/* Start a request in slot req. */
static struct blk_req *req_init(struct blk_ring *r, struct blk_req *req)
{
	memset(req, 0, BLK_REQ_CLEAR);
	req->ring = r;
	req->start_ns = r->clk_ns;
	stat_add(&r->stats.inflight, 1);
	return req;
}

/* Count a finished request the way the kernel blkback does, and its latency. */
static void req_account(struct blk_ring *r, const struct blk_req *req)
{
	struct blk_ring_stats *st = &r->stats;

	stat_add(&st->lat[lat_bucket((r->clk_ns - req->start_ns) / 1000)], 1);
	if (req->err) {
		stat_add(&st->err_req, 1);
		return;
	}
	if (req->io.ordered)
		stat_add(&st->f_req, 1);
	if (req->io.indirect)
		stat_add(&st->ind_req, 1);
	if (req->io.nr_segs)
		stat_add(&st->segs[seg_bucket(req->io.nr_segs)], 1);
	if (req->io.discard) {
		stat_add(&st->ds_req, 1);
		stat_add(&st->ds_sect, req->io.nr_sectors);
	} else if (req->io.write) {
		stat_add(&st->wr_req, !req->io.ordered);
		stat_add(&st->wr_sect, req->io.nr_sectors);
	} else if (req->io.nr_segs) {
		stat_add(&st->rd_req, 1);
		stat_add(&st->rd_sect, req->io.nr_sectors);
	}
}

/* Take a free request slot (the sweep checks there is one). */
static struct blk_req *req_get(struct blk_ring *r)
{
	struct blk_req *req = r->free;

	r->free = req->next_free;
	return req_init(r, req);
}

/*
 * Answer a request whose pages are unmapped. Its slot is freed only once the
 * response is published (ring_push): until then the journal must keep it, or
 * a daemon killed in between would leave a request no one answers.
 */
static void req_respond(struct blk_ring *r, struct blk_req *req)
{
	r->pages_held -= req->held;
	grant_budget_give(r->budget, req->held);
	journal_answer(&r->j, (unsigned int)(req - r->reqs), r->rings.native.rsp_prod_pvt);
	blkif_put_response(&r->rings, r->cfg.abi, req->io.id, req->io.op, blkif_status(req->err));
	req->next_free = r->answered;
	r->answered = req;
	stat_add(&r->stats.inflight, (uint64_t)-1);
}

/* A request is done with storage: count it, release its pages, answer what can be. */
static void req_finish(struct blk_req *req)
{
	struct blk_ring *r = req->ring;
	struct blk_req *ready, *next;

	if (req->copied && !req->err && !req->io.write && req->io.nr_segs)
		grant_copy_out(&r->g, req);	/* a read in copy mode: now to the guest */
	log_debug(LOG_IO, "%s: id %" PRIu64 " op %u sector %" PRIu64 " +%" PRIu64 ": %s",
		  r->cfg.name, req->io.id, req->io.op, req->io.sector, req->io.nr_sectors,
		  req->err ? strerror(-req->err) : "ok");
	/* Storage said no (not storage_submit, which req_contract_broken logged). */
	if (req->err && req->nr_steps && !req->refused && !(log_mask & LOG_IO))
		log_limited(&r->io_log, 3, "%s: storage failed request op %u, sector %" PRIu64
			    " +%" PRIu64 ": %s", r->cfg.name, req->io.op, req->io.sector,
			    req->io.nr_sectors, strerror(-req->err));
	req_account(r, req);
	if (req->nr_steps)		/* it was dispatched */
		r->in_storage--;
	if (req == r->ordered)
		r->ordered = NULL;
	for (ready = grant_release(&r->g, req); ready; ready = next) {
		next = ready->next_free;
		req_respond(r, ready);
	}
	if (r->ordered && r->ordered_waiting && !r->in_storage)
		req_dispatch(r->ordered);
}

/*
 * A request the parser let through would break the storage engine's contract: a bug
 * here, or a disk that changed under the ring. Only this ring stops (as a ring whose
 * guest broke the protocol does) and the request fails; the daemon and every other
 * disk go on.
 */
static void req_contract_broken(struct blk_req *req, const char *why)
{
	struct blk_ring *r = req->ring;

	log_err("%s: request id %" PRIu64 " op %u, sector %" PRIu64 " +%" PRIu64 " breaks the "
		"storage engine's contract (%s): the request fails and the ring is halted; the "
		"guest must reconnect the disk. This is a bug in blkbackd: please report it",
		r->cfg.name, req->io.id, req->io.op, req->io.sector, req->io.nr_sectors, why);
	r->halted = true;
	req->refused = true;
	req->err = req->err ? req->err : -EIO;
	req_finish(req);
}

/* Submit the request's current step to storage. */
static void req_submit_step(struct blk_req *req)
{
	struct storage_io *sio = &req->sio;
	const char *why;
	enum storage_op op = req->steps[req->step];
	bool data = op == STORAGE_READ || op == STORAGE_WRITE;

	sio->op = op;
	sio->offset = req->io.sector << SECTOR_SHIFT;
	sio->len = op == STORAGE_FLUSH ? 0 : req->io.nr_sectors << SECTOR_SHIFT;
	sio->iov = data ? req->iov : NULL;
	sio->iovcnt = data ? req->io.nr_segs : 0;
	sio->secure = req->io.secure;
	if (storage_submit(req->ring->sq, sio, &why))
		req_contract_broken(req, why);
}

/* Storage finished a step: keep the first error, run the next step or answer. */
static void req_step_done(struct storage_io *sio, int64_t result)
{
	struct blk_req *req = (struct blk_req *)((char *)sio - offsetof(struct blk_req, sio));

	if (result < 0)
		req->err = req->err ? req->err : (int)result;
	else if ((uint64_t)result != sio->len)
		req->err = req->err ? req->err : -EIO;	/* a short transfer */
	if (!req->err && ++req->step < req->nr_steps)
		req_submit_step(req);
	else
		req_finish(req);
}

/*
 * Plan and start a request. A flush or barrier is an ordering point: it runs
 * only once everything before it has completed, and nothing after it is
 * consumed until it completes. With data it is a FUA write: flush what came
 * before, write, then flush the write itself.
 */
static void req_dispatch(struct blk_req *req)
{
	struct blk_ring *r = req->ring;
	bool cache = r->cfg.disk->caps.flush;

	if (req->io.ordered) {
		r->ordered = req;
		r->ordered_waiting = r->in_storage > 0;
		if (r->ordered_waiting)
			return;
	}
	if (req->io.ordered && cache)
		req->steps[req->nr_steps++] = STORAGE_FLUSH;
	if (req->io.discard && req->io.nr_sectors)
		req->steps[req->nr_steps++] = STORAGE_DISCARD;
	if (req->io.nr_segs)
		req->steps[req->nr_steps++] = req->io.write ? STORAGE_WRITE : STORAGE_READ;
	if (req->io.ordered && cache && req->io.nr_segs)
		req->steps[req->nr_steps++] = STORAGE_FLUSH;
	r->in_storage++;
	if (!req->nr_steps) {		/* an empty ordering point or discard */
		req->nr_steps = 1;
		req_finish(req);
		return;
	}
	req->sio.done = req_step_done;
	req_submit_step(req);
}

/* Stop serving a ring whose frontend broke the ring protocol (sring_req_prod_bad). */
static void ring_halt(struct blk_ring *r, RING_IDX prod)
{
	/* A producer behind what we consumed went backwards (the index difference wraps). */
	bool back = (int32_t)(prod - r->rings.native.req_cons) < 0;

	log_err("%s: frontend's request producer %u %s our %u: ring halted; the guest must "
		"reconnect the disk", r->cfg.name, prod,
		back ? "went back behind what we consumed," : "is more than a ring ahead of",
		back ? r->rings.native.req_cons : r->rings.native.rsp_prod_pvt);
	__atomic_store_n(&r->halted, true, __ATOMIC_RELEASE);	/* blk_ring_halted reads it */
}

/*
 * May the loop consume requests now? With requests to take, the shared grant budgets
 * must have room for this ring (which waits in line for it if not); a ring that may not
 * take for another reason leaves the line, not to hold back the rings behind it.
 */
bool ring_can_consume(struct blk_ring *r)
{
	if (r->halted || r->stopping || r->poll_failed || r->ordered || r->parked ||
	    r->pages_held >= GRANT_INFLIGHT_PAGES ||
	    __atomic_load_n(&r->pause_req, __ATOMIC_ACQUIRE) ||
	    /* Slots wait for their responses to be published (ring_push) to be free. */
	    (r->redo_pos >= r->nredo && (!r->free || RING_REQUEST_CONS_OVERFLOW(&r->rings.native,
									r->rings.native.req_cons)))) {
		grant_budget_leave(r->budget, &r->gw);
		return false;
	}
	return (r->redo_pos >= r->nredo && !sring_has_requests(&r->rings.native)) ||
	       grant_budget_room(r->budget, &r->gw);
}

/*
 * The next request to take, copied into copy, and its slot: first what a killed
 * daemon left unanswered (in its old slot), then the ring. NULL when none.
 */
static struct blk_req *sweep_take(struct blk_ring *r, RING_IDX rp, blkif_request_t *copy)
{
	RING_IDX rc = r->rings.native.req_cons;
	struct blk_req *req;

	if (r->redo_pos < r->nredo) {
		const struct redo *rd = &r->redo[r->redo_pos++];

		*copy = rd->req;
		req = req_init(r, &r->reqs[rd->slot]);
		journal_take(&r->j, rd->slot, rd->idx, copy);
		return req;
	}
	if (rc == rp || RING_REQUEST_CONS_OVERFLOW(&r->rings.native, rc) || !r->free)
		return NULL;
	blkif_copy_request(&r->rings, r->cfg.abi, rc, copy);
	req = req_get(r);
	/* Journal the copy, then the index: a request is always in one or the other. */
	journal_take(&r->j, (unsigned int)(req - r->reqs), rc, copy);
	r->rings.native.req_cons = ++rc;
	journal_set_req_cons(&r->j, rc);
	return req;
}

/* Requests taken off the ring per sweep at most. */
#define SWEEP_MAX 64

/* The guest sent a request that breaks the protocol: each at -d io, else now and then. */
static void ring_rejected(struct blk_ring *r, const struct blk_req *req, const char *why)
{
	if (log_mask & LOG_IO)
		log_msg(7, "%s: rejected request id %" PRIu64 " op %u: %s", r->cfg.name,
			req->io.id, req->io.op, why);
	else
		log_limited(&r->bad_log, 4, "%s: rejected a bad request from the guest (op %u): "
			    "%s", r->cfg.name, req->io.op, why);
}

/* Read the segments of a sweep's indirect requests (grant.h says how) and validate them. */
static void sweep_indirect(struct blk_ring *r, struct blk_req **ind, unsigned int n)
{
	grant_fetch_indirect(&r->g, ind, n, r->iseg);
	for (unsigned int i = 0; i < n; i++) {
		const char *why = "its indirect pages cannot be read";

		if (!ind[i]->err)
			ind[i]->err = blkif_parse_indirect(r->iseg[i], &r->cfg.lim, &ind[i]->io,
							   &why);
		if (ind[i]->err)
			ring_rejected(r, ind[i], why);
		if (ind[i]->charged)
			ring_limit_refund(r, ind[i]);
	}
}

/* Consume every available request, map their grants in one batch, dispatch; how many. */
static unsigned int ring_sweep(struct blk_ring *r)
{
	struct blk_req *batch[SWEEP_MAX], *reads[SWEEP_MAX], *writes[SWEEP_MAX], *ind[SWEEP_MAX];
	unsigned int n = 0, nr = 0, nw = 0, ni = 0, i;
	RING_IDX rp;

	/* A request that waited for the disk's I/O limit goes first, once it may. */
	if (r->parked) {
		if (!(batch[n] = ring_limit_unpark(r)))
			return 0;
		if (batch[n]->io.indirect)
			ind[ni++] = batch[n];
		if (batch[n++]->io.ordered)
			goto taken;
	}
	if (!ring_can_consume(r))
		goto taken;
	rp = sring_req_prod(&r->rings.native);	/* read once: only this snapshot bounds the sweep */
	if (sring_req_prod_bad(&r->rings.native, rp)) {
		ring_halt(r, rp);
		goto taken;
	}
	/* The page budget is checked before each take, so one request may go past it. */
	while (n < SWEEP_MAX && r->pages_held < GRANT_INFLIGHT_PAGES) {
		blkif_request_t copy;
		struct blk_req *req;
		const char *why;

		/* Only with a request to take: a failed take waits in line for the budgets. */
		if (r->redo_pos >= r->nredo && (r->rings.native.req_cons == rp || !r->free ||
		    RING_REQUEST_CONS_OVERFLOW(&r->rings.native, r->rings.native.req_cons)))
			break;
		/* Room for the largest request in the domain's and the daemon's budgets. */
		if (!grant_budget_take(r->budget, &r->gw, BLK_MAX_SEGS))
			break;
		req = sweep_take(r, rp, &copy);
		if (!req) {
			grant_budget_give(r->budget, BLK_MAX_SEGS);
			break;
		}
		req->err = blkif_parse(&copy, &r->cfg.lim, &req->io, &why);
		if (req->err) {
			grant_budget_give(r->budget, BLK_MAX_SEGS);
			ring_rejected(r, req, why);
			req_finish(req);
			continue;
		}
		req->held = req->io.nr_segs;
		grant_budget_give(r->budget, BLK_MAX_SEGS - req->held);
		r->pages_held += req->held;
		if (!ring_limit_admit(r, req))
			break;		/* it waits in r->parked, the rest on the ring */
		batch[n++] = req;
		if (req->io.indirect)
			ind[ni++] = req;
		if (req->io.ordered)
			break;
	}
taken:
	if (!n)
		return 0;
	sweep_indirect(r, ind, ni);
	for (i = 0; i < n; i++) {
		if (batch[i]->err)
			continue;
		if (batch[i]->io.write)
			writes[nw++] = batch[i];
		else if (batch[i]->io.nr_segs)
			reads[nr++] = batch[i];
	}
	log_debug(LOG_RING, "%s: sweep took %u requests (%u reads, %u writes, %u indirect)",
		  r->cfg.name, n, nr, nw, ni);
	grant_map_reqs(&r->g, reads, nr, true);
	grant_map_reqs(&r->g, writes, nw, false);
	for (i = 0; i < n; i++) {
		if (batch[i]->err)
			req_finish(batch[i]);
		else
			req_dispatch(batch[i]);
	}
	return n;
}

/* Publish responses and notify the frontend if it asked to be; whether there were any. */
static bool ring_push(struct blk_ring *r)
{
	struct blk_req *req, *next;
	bool notify;

	if (!r->answered)
		return false;
	notify = sring_push_responses(&r->rings.native, &r->rsp_published);
	for (req = r->answered; req; req = next) {	/* published: the slots are free */
		next = req->next_free;
		journal_free_slot(&r->j, (unsigned int)(req - r->reqs));
		req->next_free = r->free;
		r->free = req;
	}
	r->answered = NULL;
	if (notify) {
		stat_add(&r->stats.notifies, 1);
		if (xenevtchn_notify(r->xce, r->port))
			log_err("%s: event channel notify failed: %s", r->cfg.name, strerror(errno));
	}
	return true;
}

/* Paused by the main thread with nothing in storage: wait until it lets go. */
static void ring_hold_still(struct blk_ring *r)
{
	pthread_mutex_lock(&r->lock);
	r->paused = true;
	pthread_cond_broadcast(&r->cond);
	while (__atomic_load_n(&r->pause_req, __ATOMIC_ACQUIRE))
		pthread_cond_wait(&r->cond, &r->lock);
	r->paused = false;
	pthread_mutex_unlock(&r->lock);
}

/* Ring the ring thread's doorbell. */
static void ring_wake(struct blk_ring *r)
{
	uint64_t one = 1;

	if (write(r->wake_fd, &one, sizeof(one)) != sizeof(one))
		log_err("%s: cannot wake the ring thread: %s", r->cfg.name, strerror(errno));
}

/*
 * Wait for the ring's fds, or storage_ms (the engine's timeout, -1 for none); -errno if
 * poll fails or an fd is not open (POLLNVAL).
 * Room in the domain's or the daemon's budget comes back from other rings: requests
 * waiting for it (on the ring, or taken over from a journal, which no event announces)
 * wait in line, and the ring whose turn comes is woken through its doorbell.
 */
static int ring_poll(struct blk_ring *r, struct pollfd *pfd, nfds_t n, int storage_ms)
{
	int timeout = r->poll_failed ? (int)r->backoff_ms : -1;
	struct timespec ts;

	if (storage_ms >= 0 && (timeout < 0 || storage_ms < timeout))
		timeout = storage_ms;
	/* A request waiting for the disk's I/O limit: until its tokens come (ring-limit.c). */
	if (ppoll(pfd, n, ring_limit_timeout(r, timeout, &ts), NULL) < 0)
		return errno == EINTR ? 0 : -errno;
	for (nfds_t i = 0; i < n; i++)
		if (pfd[i].revents & POLLNVAL)
			return -EBADF;
	return 0;
}

/* Longest wait between two tries while poll fails. */
#define POLL_BACKOFF_MAX_MS 1000

/*
 * Poll failed: the ring cannot wait for its guest or its storage any more. It takes
 * no more requests, but storage still holds requests whose pages and buffers the
 * ring owns, so it must not end before storage has answered them all: it reaps
 * blindly (reap does not block) on a bounded backoff, polling again each time,
 * until nothing is in storage (the loop then ends it).
 */
static void ring_poll_failed(struct blk_ring *r, int err)
{
	unsigned int n = r->in_storage;
	bool first = !r->poll_failed;
	struct timespec ts;

	r->poll_failed = true;
	if (first && !n)
		log_err("%s: poll failed: %s; ring stopped; the guest must reconnect the disk",
			r->cfg.name, strerror(-err));
	else if (first)
		log_err("%s: poll failed: %s; taking no more requests, the ring stops once the "
			"%u request%s in storage %s answered; the guest must reconnect the disk",
			r->cfg.name, strerror(-err), n, n == 1 ? "" : "s", n == 1 ? "is" : "are");
	else
		log_limited(&r->poll_log, 3, "%s: poll still fails: %s; %u request%s in storage",
			    r->cfg.name, strerror(-err), n, n == 1 ? "" : "s");
	if (!n)
		return;		/* the loop ends the thread */
	r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : 1;
	if (r->backoff_ms > POLL_BACKOFF_MAX_MS)
		r->backoff_ms = POLL_BACKOFF_MAX_MS;
	ts.tv_sec = r->backoff_ms / 1000;
	ts.tv_nsec = (long)(r->backoff_ms % 1000) * 1000000;
	nanosleep(&ts, NULL);
	r->clk_ns = now_ns();
	storage_reap(r->sq);
}

/* The ring's thread: sleep on the event channel, work, repeat. */
static void *ring_thread(void *arg)
{
	struct blk_ring *r = arg;
	struct pollfd pfd[3] = {
		{ .fd = xenevtchn_fd(r->xce), .events = POLLIN },
		{ .fd = r->wake_fd, .events = POLLIN },
		{ .fd = -1 },	/* the engine's: what it waits for changes from turn to turn */
	};
	struct storage_poll sp;
	uint64_t t0;
	bool worked, watched, fresh = false;	/* clk_ns was read for this turn already */
	int err;

	for (;;) {
		if (!fresh)
			r->clk_ns = now_ns();
		fresh = false;
		/*
		 * Stop: drain what is in flight, then leave. Read every turn, not only when
		 * the doorbell rings: a guest that keeps its ring full never lets us poll.
		 */
		r->stopping = __atomic_load_n(&r->stop_req, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&r->pause_req, __ATOMIC_ACQUIRE) && !r->in_storage &&
		    !r->poll_failed && !r->parked)
			ring_hold_still(r);
		worked = ring_sweep(r) > 0;
		storage_kick(r->sq);
		worked |= ring_push(r);
		/* Never with requests in storage: their pages and buffers are the ring's. */
		if ((r->stopping || r->poll_failed) && !r->in_storage)
			break;
		/* A pause let a request waiting for its I/O limit go, and storage is done: hold. */
		if (worked && __atomic_load_n(&r->pause_req, __ATOMIC_ACQUIRE) && !r->in_storage &&
		    !r->poll_failed)
			continue;
		/* What storage waits for now (its fd, events, timeout), asked each turn. */
		storage_poll(r->sq, &sp);
		pfd[2].fd = sp.fd;
		pfd[2].events = sp.events;
		/* After work, watch a while before arming req_event and sleeping (ring-poll.c). */
		watched = false;
		if (worked && !r->stopping && !r->poll_failed && !r->halted && !r->parked) {
			watched = r->window_ns != 0;	/* a watch that ends reads the clock last */
			if (ring_watch(r, &pfd[2])) {
				fresh = true;
				continue;
			}
		}
		if (ring_can_consume(r)) {
			/* Re-arm req_event, then look once more before sleeping. */
			if (r->redo_pos < r->nredo || sring_final_check(&r->rings.native))
				continue;
		} else if (!r->halted && !r->stopping && !r->poll_failed && !r->parked &&
			   sring_has_requests(&r->rings.native)) {
			stat_add(&r->stats.oo_req, 1);	/* work waits for completions */
		}
		/*
		 * When the sleep starts, for the window's fit: the watch's last reading, else a
		 * reading of its own (the turn's start would count its work as sleep, and at QD32
		 * a turn's work alone outlasts the window, which would then never grow).
		 */
		t0 = watched || !r->cfg.poll_us ? r->clk_ns : now_ns();
		err = ring_poll(r, pfd, 3, sp.timeout_ms);
		if (err) {
			ring_poll_failed(r, err);
			continue;
		}
		stat_add(&r->stats.wakeups, 1);
		r->clk_ns = now_ns();	/* the next turn's, and that of what is reaped below */
		fresh = true;
		ring_window_adapt(r, r->clk_ns - t0);
		if (pfd[0].revents & POLLIN) {
			xenevtchn_port_or_error_t port = xenevtchn_pending(r->xce);

			if (port >= 0 && xenevtchn_unmask(r->xce, port))
				log_err("%s: event channel unmask failed: %s", r->cfg.name,
					strerror(errno));
		}
		if (pfd[1].revents & POLLIN) {
			uint64_t n;

			if (read(r->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
				log_err("%s: reading the wake fd: %s", r->cfg.name, strerror(errno));
		}
		/* Its fd is ready (or hung up, or in error), or its timeout may have passed. */
		if (pfd[2].revents || sp.timeout_ms >= 0)
			storage_reap(r->sq);
	}
	if (r->poll_failed && r->backoff_ms)
		log_err("%s: ring stopped: storage answered what it held after poll failed",
			r->cfg.name);
	__atomic_store_n(&r->ended, true, __ATOMIC_RELEASE);
	if (r->cfg.stopped)
		r->cfg.stopped(r->cfg.stopped_arg);
	return NULL;
}

/* Map the ring, bind the event channel and start serving it. */
int blk_ring_start(const struct blk_ring_config *cfg, struct blk_ring **ringp)
{
	struct blk_ring *r = calloc(1, sizeof(*r));
	unsigned int pages = 1u << cfg->ring_order;
	pthread_condattr_t ca;
	xenevtchn_port_or_error_t port;
	int err;

	if (!r)
		return -ENOMEM;
	if (cfg->ring_order > BLK_RING_MAX_ORDER) {	/* device.c checked it */
		free(r);
		return -EINVAL;
	}
	r->cfg = *cfg;
	r->wake_fd = -1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);	/* blk_ring_pause's deadline */
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	r->xgt = xengnttab_open(NULL, 0);
	r->xce = xenevtchn_open(NULL, 0);
	if (!r->xgt || !r->xce) {
		err = -errno;
		log_err("%s: cannot open the grant or event channel device: %s "
			"(is xen-gntdev/xen-evtchn loaded?)", cfg->name, strerror(errno));
		goto fail;
	}
	/* A single page maps as rings always have; more need one contiguous mapping. */
	r->sring = pages == 1 ?
		xengnttab_map_grant_ref(r->xgt, cfg->domid, cfg->ring_refs[0],
					PROT_READ | PROT_WRITE) :
		xengnttab_map_domain_grant_refs(r->xgt, pages, cfg->domid, r->cfg.ring_refs,
						PROT_READ | PROT_WRITE);
	if (!r->sring) {
		err = -errno;
		log_err("%s: cannot map the %u ring page(s) of domain %u (ring-ref %u...): %s",
			cfg->name, pages, cfg->domid, cfg->ring_refs[0], strerror(errno));
		goto fail;
	}
	grant_count_pages(pages);
	blkif_ring_init(&r->rings, cfg->abi, r->sring, pages);
	r->size = blkif_ring_size(&r->rings, cfg->abi);
	r->reqs = calloc(r->size, sizeof(*r->reqs));
	r->iseg = calloc(SWEEP_MAX, sizeof(*r->iseg));
	if (!r->reqs || !r->iseg) {
		err = -ENOMEM;
		goto fail;
	}
	r->budget = grant_budget_get(cfg->domid);
	if (!r->budget) {
		err = -ENOMEM;
		goto fail;
	}
	err = grant_ctx_init(&r->g, r->xgt, cfg->domid, cfg->grant_mode, r->budget,
			     &r->stats.grants);
	if (err)
		goto fail;
	err = storage_queue_open(cfg->disk, &r->sq);
	if (err) {
		log_err("%s: cannot open a storage queue: %s", cfg->name, strerror(-err));
		goto fail;
	}
	err = cfg->take_over ? ring_take_over(r) : ring_fresh(r);
	if (err)
		goto fail;
	port = xenevtchn_bind_interdomain(r->xce, cfg->domid, cfg->remote_port);
	if (port < 0) {
		err = -errno;
		log_err("%s: cannot bind event channel %u of domain %u: %s", cfg->name,
			cfg->remote_port, cfg->domid, strerror(errno));
		goto fail;
	}
	r->port = port;
	/*
	 * Taking over: a daemon killed between publishing responses and notifying left the
	 * frontend waiting for an event that never came, and with its rsp_event behind, no
	 * later push would notify it. A spurious event is harmless.
	 */
	if (cfg->take_over) {
		stat_add(&r->stats.notifies, 1);
		if (xenevtchn_notify(r->xce, r->port))
			log_err("%s: event channel notify failed: %s", cfg->name, strerror(errno));
	}
	r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->wake_fd < 0) {
		err = -errno;
		goto fail;
	}
	grant_waiter_init(&r->gw, r->wake_fd);	/* its turn for the budgets rings the doorbell */
	err = -pthread_create(&r->thread, NULL, ring_thread, r);
	if (err)
		goto fail;
	r->started = true;
	log_debug(LOG_RING, "%s: %u ring page(s) from ring-ref %u, %u entries, %s ABI, event "
		  "channel %u (local %u)", cfg->name, pages, cfg->ring_refs[0], r->size,
		  blkif_abi_name(cfg->abi), cfg->remote_port, r->port);
	*ringp = r;
	return 0;
fail:
	blk_ring_stop(r, NULL);
	return err;
}

/* Ask the ring's thread to answer what is in flight and end; do not wait. */
void blk_ring_stop_begin(struct blk_ring *r)
{
	if (r->started && !__atomic_exchange_n(&r->stop_req, true, __ATOMIC_ACQ_REL))
		ring_wake(r);
}

/* Whether the ring's thread has ended (or never ran). */
bool blk_ring_stopped(const struct blk_ring *r)
{
	return !r->started || __atomic_load_n(&r->ended, __ATOMIC_ACQUIRE);
}

/* Stop serving: answer what is in flight, then unmap and unbind. */
void blk_ring_stop(struct blk_ring *r, struct blk_ring_stats *final)
{
	if (!r)
		return;
	if (r->started) {
		blk_ring_stop_begin(r);
		pthread_join(r->thread, NULL);
		log_debug(LOG_RING, "%s: ring stopped: %" PRIu64 " reads, %" PRIu64 " writes, %"
			  PRIu64 " flushes, %" PRIu64 " discards, %" PRIu64 " errors, %" PRIu64
			  " grant pages mapped in %" PRIu64 " batches", r->cfg.name, r->stats.rd_req,
			  r->stats.wr_req, r->stats.f_req, r->stats.ds_req, r->stats.err_req,
			  r->stats.grants.maps, r->stats.grants.map_calls);
	}
	grant_ctx_fini(&r->g);		/* nothing is in flight now */
	grant_budget_leave(r->budget, &r->gw);
	grant_budget_put(r->budget);
	storage_queue_close(r->sq);
	if (final)	/* inflight and persistent are 0 once stopped */
		blk_ring_stats_add(final, &r->stats);
	if (r->port && r->xce)
		xenevtchn_unbind(r->xce, r->port);
	if (r->sring && !xengnttab_unmap(r->xgt, r->sring, 1u << r->cfg.ring_order))
		grant_count_pages(-(int64_t)(1u << r->cfg.ring_order));
	if (r->xce)
		xenevtchn_close(r->xce);
	if (r->xgt)
		xengnttab_close(r->xgt);
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	journal_close(&r->j, !r->keep_journal);
	free(r->redo);
	free(r->reqs);
	free(r->iseg);
	free(r);
}

/* Keep the journal when the ring is stopped, for a successor. */
void blk_ring_keep_journal(struct blk_ring *r)
{
	r->keep_journal = true;
}

/* Hold the ring still: nothing in storage and nothing consumed until blk_ring_resume. */
int blk_ring_pause(struct blk_ring *r, const struct timespec *until)
{
	int err = 0;

	__atomic_store_n(&r->pause_req, true, __ATOMIC_RELEASE);
	ring_wake(r);
	pthread_mutex_lock(&r->lock);
	while (!r->paused && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&r->cond, &r->lock, until);
	err = r->paused ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&r->lock);
	return err;
}

/* Let a paused ring go on, with a new disk size (in 512-byte sectors). */
void blk_ring_resume(struct blk_ring *r, uint64_t nr_sectors)
{
	pthread_mutex_lock(&r->lock);
	r->cfg.lim.nr_sectors = nr_sectors;
	__atomic_store_n(&r->pause_req, false, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	ring_wake(r);	/* requests may have queued up meanwhile */
}

/* Has the ring halted on a frontend that broke the ring protocol? (any thread) */
bool blk_ring_halted(const struct blk_ring *r)
{
	return __atomic_load_n(&r->halted, __ATOMIC_ACQUIRE);
}

/* A snapshot of the ring's counters, each read whole while the ring runs. */
void blk_ring_get_stats(const struct blk_ring *r, struct blk_ring_stats *st)
{
	const uint64_t *src = (const uint64_t *)&r->stats;
	uint64_t *dst = (uint64_t *)st;

	/* The struct is nothing but uint64_t counters. */
	_Static_assert(sizeof(*st) % sizeof(uint64_t) == 0, "stats are uint64_t only");
	for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
		dst[i] = stat_read(&src[i]);
}

/* The ring ABI the frontend chose (its protocol node); set at start, never changed. */
enum blkif_abi blk_ring_abi(const struct blk_ring *r)
{
	return r->cfg.abi;
}
