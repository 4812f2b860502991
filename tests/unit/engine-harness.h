/*
 * Driving a storage engine the way blkback/ring.c does: submit a batch, kick
 * once, poll the engine's event fd and reap (then kick again) until every I/O
 * has completed; each completion is checked against a model of the disk.
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

#include "../../storage/storage.h"
#include "check.h"

#define H_PAGE 4096u		/* a guest page: segments never cross one */
#define H_SEGS 11		/* segments in a direct blkif request */
#define H_BATCH 32		/* requests in a one-page blkif ring */
#define H_SLOTS 160		/* a deep batch: more than an io_uring SQ of 128 */
#define H_TIMEOUT_MS 30000	/* no completion for this long is a hang */

/* One I/O slot: a request laid out like a guest's, and what its completion said. */
struct h_slot {
	struct storage_io io;
	struct iovec iov[H_SEGS];
	uint8_t *pages;		/* H_SEGS page-aligned pages of its own */
	int calls;
	int64_t result;
	bool off_thread;	/* done ran on a thread other than the submitter's */
	bool want_error;	/* the I/O must fail (any -errno) */
};

/* An open disk under test, the model of its bytes and its counters. */
struct h_disk {
	const char *name;
	struct storage *disk;
	uint8_t *model;		/* model_size bytes: what the disk must hold */
	uint64_t model_size;
	struct h_slot slot[H_SLOTS];
	uint64_t nr[4];		/* I/Os run, by enum storage_op */
	uint64_t seed;
};

/* The thread that submits and reaps: done must run on it. */
static pthread_t h_thread;

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
	if (!pthread_equal(pthread_self(), h_thread))
		s->off_thread = true;
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
	for (int i = 0; i < H_SLOTS; i++) {
		h->slot[i].pages = aligned_alloc(H_PAGE, H_SEGS * H_PAGE);
		if (!h->slot[i].pages)
			return -ENOMEM;
	}
	return 0;
}

/* Free what h_init allocated. */
static inline void h_free(struct h_disk *h)
{
	for (int i = 0; i < H_SLOTS; i++)
		free(h->slot[i].pages);
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

/*
 * Run slots 0..n-1 as one sweep of the ring: submit each, kick once, then
 * poll and reap (kicking after each reap, as the ring thread's loop does)
 * until all have completed. Checks every done ran once, on this thread, with
 * len (0 for a flush), or with an error where the slot wants one. A hang
 * cannot be recovered from: I/Os the engine still holds point into the
 * slots, so it ends the program.
 */
static inline void h_run(struct h_disk *h, int n)
{
	struct storage *disk = h->disk;
	int efd = disk->ops->event_fd ? disk->ops->event_fd(disk) : -1;
	int left;

	for (int i = 0; i < n; i++) {
		struct h_slot *s = &h->slot[i];

		s->calls = 0;
		s->result = INT64_MIN;
		s->off_thread = false;
		s->io.done = h_done;
		h->nr[s->io.op]++;
		storage_submit(disk, &s->io);
	}
	if (disk->ops->kick)
		disk->ops->kick(disk);
	while ((left = h_pending(h, n)) > 0) {
		struct pollfd p = { .fd = efd, .events = POLLIN };
		int r;

		if (efd < 0) {
			CHECK(0, "%s: %d I/Os did not complete inline and there is no event_fd",
			      h->name, left);
			exit(check_done("test-engines"));
		}
		r = poll(&p, 1, H_TIMEOUT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			CHECK(0, "%s: %d of %d I/Os not completed after %d ms (poll: %d)", h->name,
			      left, n, H_TIMEOUT_MS, r);
			exit(check_done("test-engines"));
		}
		disk->ops->reap(disk);
		if (disk->ops->kick)
			disk->ops->kick(disk);
	}
	for (int i = 0; i < n; i++) {
		const struct h_slot *s = &h->slot[i];
		int64_t want = s->io.op == STORAGE_FLUSH ? 0 : (int64_t)s->io.len;

		CHECK(s->calls == 1, "%s: slot %d (op %d): done called %d times", h->name, i,
		      s->io.op, s->calls);
		if (s->want_error)
			CHECK(s->result < 0 && s->result >= -4095, "%s: slot %d (op %d, %" PRIu64
			      " bytes at %" PRIu64 "): result %" PRId64 ", want an error", h->name, i,
			      s->io.op, s->io.len, s->io.offset, s->result);
		else
			CHECK(s->result == want, "%s: slot %d (op %d, %" PRIu64 " bytes at %" PRIu64
			      "): result %" PRId64 ", want %" PRId64, h->name, i, s->io.op,
			      s->io.len, s->io.offset, s->result, want);
		CHECK(!s->off_thread, "%s: slot %d: done ran on another thread", h->name, i);
	}
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
				CHECK(0, "%s: byte %" PRIu64 " reads 0x%02x, model has 0x%02x "
				      "(read of %" PRIu64 " bytes at %" PRIu64 ", segment %d)", h->name,
				      off + b, p[b], h->model[off + b], s->io.len, s->io.offset, i);
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

#endif
