/*
 * Driving a storage engine the way blkback/ring.c does: submit a batch on a
 * queue, kick once, poll what the queue asks for and reap (then kick again) until
 * every I/O has completed; each completion is checked against a model of the
 * disk. Several h_disks, each with its own queue, may run on one disk from
 * several threads at once: the checks below are serialized for that.
 */
#ifndef TESTS_UNIT_ENGINE_HARNESS_H
#define TESTS_UNIT_ENGINE_HARNESS_H

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "../../storage/storage.h"
#include "check.h"

#define H_PAGE 4096u		/* a guest page: segments never cross one */
#define H_SEGS 11		/* segments in a direct blkif request */
#define H_BATCH 32		/* requests in a one-page blkif ring */
#define H_SLOTS 160		/* a deep batch: more than an io_uring SQ of 128 */
#define H_TIMEOUT_MS 30000	/* no completion for this long is a hang */
#define H_TWOQ_ROUNDS 16	/* random batches per thread in h_two_queues */

/* One I/O slot: a request laid out like a guest's, and what its completion said. */
struct h_slot {
	struct storage_io io;
	struct iovec iov[H_SEGS];
	uint8_t *pages;		/* H_SEGS page-aligned pages of its own */
	int calls;
	int64_t result;
	pthread_t submitter;	/* the thread that submitted it: done must run there */
	bool off_thread;	/* done ran on a thread other than the submitter's */
	bool want_error;	/* the I/O must fail (any -errno) */
	bool want_short;	/* the I/O must transfer less than asked */
};

/* An open disk under test, the queue it is driven through, the model of its bytes. */
struct h_disk {
	const char *name;
	struct storage *disk;
	struct storage_queue *q;	/* one thread's path to disk */
	uint8_t *model;		/* model_size bytes: what the disk must hold */
	uint64_t model_size;
	bool model_shared;	/* another h_disk's model: not freed here */
	struct h_slot slot[H_SLOTS];
	uint64_t nr[4];		/* I/Os run, by enum storage_op */
	uint64_t seed;
};

/* Serializes the checks (check.h counts without locking) of h_disks run from several threads. */
static pthread_mutex_t h_check_lock __attribute__((unused)) = PTHREAD_MUTEX_INITIALIZER;

/* CHECK, safe while other threads check too. */
#define H_CHECK(...) do {							\
	pthread_mutex_lock(&h_check_lock);					\
	CHECK(__VA_ARGS__);							\
	pthread_mutex_unlock(&h_check_lock);					\
} while (0)

/* A deterministic pseudo-random sequence (xorshift64). */
static inline uint64_t h_rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Completion callback: record the result, count the calls, note the thread. */
static void h_done(struct storage_io *io, int64_t result)
{
	struct h_slot *s = (struct h_slot *)((char *)io - offsetof(struct h_slot, io));

	s->calls++;
	s->result = result;
	if (!pthread_equal(pthread_self(), s->submitter))
		s->off_thread = true;
}

/* Allocate the slots' pages. */
static inline int h_alloc_slots(struct h_disk *h)
{
	for (int i = 0; i < H_SLOTS; i++) {
		h->slot[i].pages = aligned_alloc(H_PAGE, H_SEGS * H_PAGE);
		if (!h->slot[i].pages)
			return -ENOMEM;
	}
	return 0;
}

/* Allocate the model (zeroes, like a fresh sparse image) and the slots' pages. */
static inline int h_init(struct h_disk *h, const char *name, uint64_t size, uint64_t seed)
{
	memset(h, 0, sizeof(*h));
	h->name = name;
	h->seed = seed;
	h->model_size = size;
	h->model = calloc(1, size);
	if (!h->model)
		return -ENOMEM;
	return h_alloc_slots(h);
}

/*
 * Set up h to drive base's disk through a queue of its own (opened later),
 * with slots of its own and base's model: threads running such views at
 * once must keep to disjoint parts of the model while they write it.
 */
static inline int h_init_view(struct h_disk *h, const char *name, const struct h_disk *base,
			      uint64_t seed)
{
	memset(h, 0, sizeof(*h));
	h->name = name;
	h->seed = seed;
	h->disk = base->disk;
	h->model = base->model;
	h->model_size = base->model_size;
	h->model_shared = true;
	return h_alloc_slots(h);
}

/* Free what h_init allocated. */
static inline void h_free(struct h_disk *h)
{
	for (int i = 0; i < H_SLOTS; i++)
		free(h->slot[i].pages);
	if (!h->model_shared)
		free(h->model);
	h->model = NULL;
}

/* Slots still waiting for their done. */
static inline int h_pending(const struct h_disk *h, int n)
{
	int left = 0;

	for (int i = 0; i < n; i++)
		left += h->slot[i].calls == 0;
	return left;
}

/* Submit slots 0..n-1 on h's queue, then kick once, as one sweep of the ring does. */
static inline void h_submit(struct h_disk *h, int n)
{
	const char *why;

	for (int i = 0; i < n; i++) {
		struct h_slot *s = &h->slot[i];

		s->calls = 0;
		s->result = INT64_MIN;
		s->submitter = pthread_self();
		s->off_thread = false;
		s->io.done = h_done;
		h->nr[s->io.op]++;
		if (storage_submit(h->q, &s->io, &why)) {
			H_CHECK(0, "%s: slot %d (op %d) refused by the engine contract: %s",
				h->name, i, s->io.op, why);
			exit(check_done("test-engines"));
		}
	}
	storage_kick(h->q);
}

/*
 * Poll and reap (kicking after each reap, as the ring thread's loop does) until
 * slots first..first+n-1 have completed. A hang cannot be recovered from: I/Os
 * the engine still holds point into the slots, so it ends the program.
 */
static inline void h_wait(struct h_disk *h, int first, int n)
{
	struct timespec t0, now;
	int left;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((left = h_pending(h, first + n) - h_pending(h, first)) > 0) {
		struct storage_poll sp;
		struct pollfd p;
		int64_t waited;
		int r;

		storage_poll(h->q, &sp);
		if (sp.fd < 0 && sp.timeout_ms < 0) {
			H_CHECK(0, "%s: %d I/Os did not complete inline and the engine waits for "
				"nothing (no fd, no timeout)", h->name, left);
			exit(check_done("test-engines"));
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		p = (struct pollfd){ .fd = sp.fd, .events = sp.events };
		r = poll(&p, 1, sp.timeout_ms >= 0 && sp.timeout_ms < H_TIMEOUT_MS ?
			 sp.timeout_ms : H_TIMEOUT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (r == 0 && sp.timeout_ms < 0) || waited > H_TIMEOUT_MS) {
			H_CHECK(0, "%s: %d of %d I/Os not completed after %d ms (poll: %d)", h->name,
				left, n, H_TIMEOUT_MS, r);
			exit(check_done("test-engines"));
		}
		storage_reap(h->q);
		storage_kick(h->q);
	}
}

/*
 * Check that every done of slots 0..n-1 ran once, on the submitting thread, with
 * len (0 for a flush), or with an error where the slot wants one, or with less
 * than len where it wants a short transfer.
 */
static inline void h_check_results(struct h_disk *h, int n)
{
	for (int i = 0; i < n; i++) {
		const struct h_slot *s = &h->slot[i];
		int64_t want = s->io.op == STORAGE_FLUSH ? 0 : (int64_t)s->io.len;

		H_CHECK(s->calls == 1, "%s: slot %d (op %d): done called %d times", h->name, i,
			s->io.op, s->calls);
		if (s->want_error)
			H_CHECK(s->result < 0 && s->result >= -4095, "%s: slot %d (op %d, %" PRIu64
				" bytes at %" PRIu64 "): result %" PRId64 ", want an error", h->name,
				i, s->io.op, s->io.len, s->io.offset, s->result);
		else if (s->want_short)
			H_CHECK(s->result >= 0 && s->result < want, "%s: slot %d (op %d, %" PRIu64
				" bytes at %" PRIu64 "): result %" PRId64 ", want a short transfer",
				h->name, i, s->io.op, s->io.len, s->io.offset, s->result);
		else
			H_CHECK(s->result == want, "%s: slot %d (op %d, %" PRIu64 " bytes at %"
				PRIu64 "): result %" PRId64 ", want %" PRId64, h->name, i, s->io.op,
				s->io.len, s->io.offset, s->result, want);
		H_CHECK(!s->off_thread, "%s: slot %d: done ran on another thread", h->name, i);
	}
}

/* Run slots 0..n-1 as one sweep of the ring on h's queue, wait for them all and check them. */
static inline void h_run(struct h_disk *h, int n)
{
	h_submit(h, n);
	h_wait(h, 0, n);
	h_check_results(h, n);
}

/*
 * Lay slot s out like a guest request of up to maxsegs segments: each a run of
 * whole sectors inside its own page, half of them whole pages. Returns the length.
 */
static inline uint64_t h_layout(struct h_disk *h, struct h_slot *s, int maxsegs)
{
	uint32_t ss = h->disk->caps.sector_size, per = H_PAGE / ss;
	int nseg = 1 + (int)(h_rnd(&h->seed) % (uint64_t)maxsegs);
	uint64_t len = 0;

	for (int i = 0; i < nseg; i++) {
		uint32_t first = 0, last = per - 1;

		if (h_rnd(&h->seed) & 1) {
			first = (uint32_t)(h_rnd(&h->seed) % per);
			last = first + (uint32_t)(h_rnd(&h->seed) % (per - first));
		}
		s->iov[i].iov_base = s->pages + (size_t)i * H_PAGE + (size_t)first * ss;
		s->iov[i].iov_len = (size_t)(last - first + 1) * ss;
		len += s->iov[i].iov_len;
	}
	s->io.iov = s->iov;
	s->io.iovcnt = nseg;
	s->io.len = len;
	return len;
}

/* Lay slot s out as whole pages covering len bytes (len a multiple of the sector size). */
static inline void h_layout_pages(struct h_slot *s, uint64_t len)
{
	int n = 0;

	for (uint64_t done = 0; done < len; done += H_PAGE, n++) {
		s->iov[n].iov_base = s->pages + (size_t)n * H_PAGE;
		s->iov[n].iov_len = len - done < H_PAGE ? (size_t)(len - done) : H_PAGE;
	}
	s->io.iov = s->iov;
	s->io.iovcnt = n;
	s->io.len = len;
}

/* Fill a write slot's iovecs with bytes from the sequence and record them in the model. */
static inline void h_fill(struct h_disk *h, struct h_slot *s)
{
	uint64_t off = s->io.offset;

	for (int i = 0; i < s->io.iovcnt; i++) {
		uint8_t *p = s->iov[i].iov_base;

		for (size_t b = 0; b < s->iov[i].iov_len; b += 8) {
			uint64_t v = h_rnd(&h->seed);

			memcpy(p + b, &v, 8);
		}
		memcpy(h->model + off, p, s->iov[i].iov_len);
		off += s->iov[i].iov_len;
	}
}

/* Check a completed read slot against the model; true if equal. */
static inline bool h_compare(struct h_disk *h, const struct h_slot *s)
{
	uint64_t off = s->io.offset;

	for (int i = 0; i < s->io.iovcnt; i++) {
		const uint8_t *p = s->iov[i].iov_base;

		for (size_t b = 0; b < s->iov[i].iov_len; b++)
			if (p[b] != h->model[off + b]) {
				H_CHECK(0, "%s: byte %" PRIu64 " reads 0x%02x, model has 0x%02x "
					"(read of %" PRIu64 " bytes at %" PRIu64 ", segment %d)",
					h->name, off + b, p[b], h->model[off + b], s->io.len,
					s->io.offset, i);
				return false;
			}
		off += s->iov[i].iov_len;
	}
	return true;
}

/* Read [off, off+len) in batches of 44 KiB requests and compare with the model. */
static inline void h_verify(struct h_disk *h, uint64_t off, uint64_t len)
{
	const uint64_t chunk = H_SEGS * H_PAGE;
	bool ok = true;

	while (len && ok) {
		int n = 0;

		for (; n < H_BATCH && len; n++) {
			struct h_slot *s = &h->slot[n];
			uint64_t l = len < chunk ? len : chunk;

			s->io.op = STORAGE_READ;
			s->io.offset = off;
			h_layout_pages(s, l);
			memset(s->pages, 0xa5, H_SEGS * H_PAGE);
			off += l;
			len -= l;
		}
		h_run(h, n);
		for (int i = 0; i < n && ok; i++)
			ok = h_compare(h, &h->slot[i]);
	}
}

/* Write fresh bytes over [off, off+len) in batches of 44 KiB requests. */
static inline void h_write(struct h_disk *h, uint64_t off, uint64_t len)
{
	const uint64_t chunk = H_SEGS * H_PAGE;

	while (len) {
		int n = 0;

		for (; n < H_BATCH && len; n++) {
			struct h_slot *s = &h->slot[n];
			uint64_t l = len < chunk ? len : chunk;

			s->io.op = STORAGE_WRITE;
			s->io.offset = off;
			h_layout_pages(s, l);
			h_fill(h, s);
			off += l;
			len -= l;
		}
		h_run(h, n);
	}
}

/* Run one flush on its own, as the core does once everything before it completed. */
static inline void h_flush(struct h_disk *h)
{
	struct h_slot *s = &h->slot[0];

	s->io.op = STORAGE_FLUSH;
	s->io.offset = 0;
	s->io.len = 0;
	s->io.iov = NULL;
	s->io.iovcnt = 0;
	h_run(h, 1);
}

/*
 * One batch of n random non-overlapping I/Os inside [base, base + size) of
 * the disk: writes, reads and, where discarded bytes read back as zeroes,
 * discards. The first two touch the region's two ends, which share a page
 * with the neighbouring region when the sector is smaller than a page.
 */
static inline void h_region_round(struct h_disk *h, uint64_t base, uint64_t size, bool discard,
				  int n)
{
	uint32_t ss = h->disk->caps.sector_size;

	for (int i = 0; i < n; i++) {
		struct h_slot *s = &h->slot[i];
		uint64_t len = h_layout(h, s, n > H_BATCH ? 4 : H_SEGS), off = base;
		uint64_t pick;
		bool clash = true;

		for (int tries = 0; clash && tries < 1000; tries++) {
			if (i < 2)
				off = i ? base + size - len : base;
			else
				off = base + ss * (h_rnd(&h->seed) % ((size - len) / ss + 1));
			clash = false;
			for (int j = 0; j < i && !clash; j++)
				clash = off < h->slot[j].io.offset + h->slot[j].io.len &&
					h->slot[j].io.offset < off + len;
		}
		H_CHECK(!clash, "%s: no free place for a request", h->name);
		s->io.offset = off;
		s->io.secure = false;
		pick = h_rnd(&h->seed) % 10;
		if (pick < 5) {
			s->io.op = STORAGE_WRITE;
			h_fill(h, s);
		} else if (pick < 8 || !discard) {
			s->io.op = STORAGE_READ;
			memset(s->pages, 0x5a, H_SEGS * H_PAGE);
		} else {
			s->io.op = STORAGE_DISCARD;
			s->io.iov = NULL;
			s->io.iovcnt = 0;
			memset(h->model + off, 0, len);
		}
	}
	h_run(h, n);
	for (int i = 0; i < n; i++)
		if (h->slot[i].io.op == STORAGE_READ && !h_compare(h, &h->slot[i]))
			break;
}

/* One thread of h_two_queues: its own queue, slots, seed and region of the disk. */
struct h_twoq {
	struct h_disk h;		/* a view of the variant's disk and model */
	char name[80];
	uint64_t base, size;		/* its region */
	bool discard;			/* discards in the mix */
	pthread_barrier_t *bar;
	int open_ret;			/* what storage_queue_open gave */
	int efd;			/* the fd its queue polled while both were open */
};

/*
 * Open a queue (on this thread), write and read the own region in random
 * batches at the same time as the other thread, flush; then, once both are
 * done, read back the whole disk, the other thread's region included.
 */
static inline void *h_twoq_thread(void *arg)
{
	struct h_twoq *t = arg;

	t->open_ret = storage_queue_open(t->h.disk, &t->h.q);
	if (!t->open_ret) {
		struct storage_poll sp;

		storage_poll(t->h.q, &sp);
		t->efd = sp.fd;
	} else {
		t->efd = -1;
	}
	pthread_barrier_wait(t->bar);		/* both queues open: start together */
	if (!t->open_ret) {
		for (int r = 0; r < H_TWOQ_ROUNDS; r++)
			h_region_round(&t->h, t->base, t->size, t->discard,
				       r == H_TWOQ_ROUNDS - 1 ? H_SLOTS : H_BATCH);
		h_flush(&t->h);
	}
	pthread_barrier_wait(t->bar);		/* both regions written and flushed */
	if (!t->open_ret)
		h_verify(&t->h, 0, t->h.model_size);
	storage_queue_close(t->h.q);
	t->h.q = NULL;
	return NULL;
}

/*
 * Two queues of one disk driven from two threads at once, each over its own
 * half of the disk with its own seed; then each reads the whole disk. Every
 * done must run once, on the thread of the queue the I/O was submitted on
 * (a completion reaped by the other queue fails that, or leaves its own
 * thread waiting until the harness gives up), and every byte must read back
 * as the model says, whichever queue wrote it and whichever reads it.
 */
static inline void h_two_queues(struct h_disk *h)
{
	const struct storage_caps *c = &h->disk->caps;
	/* The regions meet inside a page where the sector is smaller. */
	uint64_t mid = h->model_size / 2 / c->sector_size * c->sector_size -
		       (c->sector_size < H_PAGE ? c->sector_size : 0);
	pthread_barrier_t bar;
	struct h_twoq t[2];
	pthread_t tid[2];
	int started = 0;

	memset(t, 0, sizeof(t));
	if (pthread_barrier_init(&bar, NULL, 2)) {
		H_CHECK(0, "%s: pthread_barrier_init failed", h->name);
		return;
	}
	for (int i = 0; i < 2; i++) {
		snprintf(t[i].name, sizeof(t[i].name), "%s, queue %d of 2", h->name, i);
		t[i].base = i ? mid : 0;
		t[i].size = i ? h->model_size - mid : mid;
		t[i].discard = c->discard && c->discard_zeroes;
		t[i].bar = &bar;
		if (h_init_view(&t[i].h, t[i].name, h, 0x2545f4914f6cdd1dull * (uint64_t)(i + 1) ^
				h->seed)) {
			H_CHECK(0, "%s: out of memory", t[i].name);
			goto out;
		}
	}
	for (; started < 2; started++) {
		int ret = pthread_create(&tid[started], NULL, h_twoq_thread, &t[started]);

		H_CHECK(ret == 0, "%s: pthread_create: %s", h->name, strerror(ret));
		if (ret)
			break;
	}
	if (started == 1) {
		/* The first thread waits at the barrier for a partner that never came. */
		printf("%s: cannot start the second thread: giving up\n", h->name);
		exit(check_done("test-engines"));
	}
	for (int i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	for (int i = 0; i < started; i++) {
		H_CHECK(t[i].open_ret == 0, "%s: storage_queue_open: %s", t[i].name,
			strerror(-t[i].open_ret));
		for (int op = 0; op < 4; op++)
			h->nr[op] += t[i].h.nr[op];
	}
	if (started == 2 && !t[0].open_ret && !t[1].open_ret)
		H_CHECK(t[0].efd != t[1].efd || t[0].efd < 0, "%s: two queues share the fd to poll %d",
			h->name, t[0].efd);
out:
	for (int i = 0; i < 2; i++)
		h_free(&t[i].h);
	pthread_barrier_destroy(&bar);
}

#endif
