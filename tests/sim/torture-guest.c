/*
 * torture-guest.c: the guest's half of tests/sim/torture (see torture.c): the frontends of
 * its disks, the requests in flight, and the model of each disk's content they are
 * checked against.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "torture.h"

/* The pattern seed of a write's tag. */
static uint64_t pattern_seed(uint32_t tag)
{
	return seed_hi | tag;
}

/* What a tag means, for messages. */
static const char *tag_str(uint32_t tag, char *buf, size_t len)
{
	if (tag == 0)
		snprintf(buf, len, "zeroes");
	else if (tag == TAG_ANY)
		snprintf(buf, len, "anything");
	else
		snprintf(buf, len, "the data of op %u", tag);
	return buf;
}

/* Does [start, start+n) meet [s2, s2+n2)? */
static bool overlap(uint64_t start, uint64_t n, uint64_t s2, uint64_t n2)
{
	return start < s2 + n2 && s2 < start + n;
}

/* Does I/O on these sectors touch the disk's error range? */
static bool hits_error(const struct disk *d, uint64_t start, uint64_t n)
{
	return d->fault != F_NONE && d->fault != F_STALL &&
	       overlap(start, n, d->fstart, d->fcount);
}

/* Is I/O on these sectors held by a stall not released? */
bool hits_stall(const struct disk *d, uint64_t start, uint64_t n)
{
	return d->fault == F_STALL && d->stall_active && overlap(start, n, d->fstart, d->fcount);
}

/* Requests of d in flight that blkbackd holds: they are not waited for. */
unsigned int held_count(const struct disk *d)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < BLKFRONT_MAX_SLOTS; i++)
		k += d->pend[i].inflight && d->pend[i].held;
	return k;
}

/* Check the sectors a read brought back against the model. */
static void check_read(struct disk *d, const struct pend *p)
{
	const uint8_t *buf = p->req->buf;

	for (uint64_t i = 0; i < p->n; i++) {
		uint64_t s = p->start + i, fs = 0, fsec = 0;
		uint32_t want = d->tag[s];
		char w[64], got[96];
		enum bf_block_class k;

		if (want == TAG_ANY)
			continue;
		k = bf_pattern_check(buf + i * BF_BLOCK, pattern_seed(want), s, &fs, &fsec);
		if (k == BF_BLOCK_OK && want)
			continue;
		if (k == BF_BLOCK_NEVER_WRITTEN && !want)
			continue;
		if (k == BF_BLOCK_NEVER_WRITTEN)
			snprintf(got, sizeof(got), "zeroes");
		else if (k == BF_BLOCK_CORRUPT)
			snprintf(got, sizeof(got), "a corrupt or torn block");
		else if ((fs & ~0xffffffffULL) != seed_hi)
			snprintf(got, sizeof(got), "a block of another run");
		else if (fsec != s)
			snprintf(got, sizeof(got), "the data op %u wrote for sector %" PRIu64,
				 (uint32_t)fs, fsec);
		else
			snprintf(got, sizeof(got), "the data of op %u", (uint32_t)fs);
		die("disk %s (%s), sector %" PRIu64 " (read of %" PRIu64 "+%" PRIu64 "): "
		    "expected %s, got %s", d->vdev, d->engine, s, p->start, p->n,
		    tag_str(want, w, sizeof(w)), got);
	}
}

/* A request's name, for messages. */
static const char *op_name(uint8_t op)
{
	return op == BLKIF_OP_WRITE ? "write" : op == BLKIF_OP_DISCARD ? "discard" : "read";
}

/* A request of d came back: check it and update the model. */
static void complete(struct disk *d, struct blkfront_req *r)
{
	struct pend *p = &d->pend[r->id];
	bool bad = hits_error(d, p->start, p->n), ok = r->status == BLKIF_RSP_OKAY;

	if (!p->inflight)
		die("disk %s: slot %u answered but not in flight", d->vdev, r->id);
	p->inflight = false;
	if (p->op == BLKIF_OP_FLUSH_DISKCACHE) {
		if (!ok)
			die("disk %s: a flush failed (status %d)", d->vdev, r->status);
		count.flushes++;
		for (unsigned int i = 0; i < BLKFRONT_MAX_SLOTS; i++) {
			struct pend *q = &d->pend[i];

			if (q->inflight && q->op == BLKIF_OP_WRITE && q->queue == p->queue &&
			    q->seq < p->seq)
				die("disk %s: a flush was answered before the write of op %u "
				    "(%" PRIu64 "+%" PRIu64 ") put before it on ring %u", d->vdev,
				    q->tag, q->start, q->n, p->queue);
		}
	} else if (ok && bad) {
		die("disk %s: a %s of %" PRIu64 "+%" PRIu64 " touching the fault=%s range "
		    "%" PRIu64 "+%" PRIu64 " succeeded", d->vdev, op_name(p->op), p->start, p->n,
		    fault_names[d->fault], d->fstart, d->fcount);
	} else if (!ok && !bad) {
		die("disk %s (%s): a %s of %" PRIu64 "+%" PRIu64 " failed (status %d)", d->vdev,
		    d->engine, op_name(p->op), p->start, p->n,
		    r->status);
	} else if (p->op == BLKIF_OP_WRITE || p->op == BLKIF_OP_DISCARD) {
		count.writes += p->op == BLKIF_OP_WRITE;
		count.discards += p->op == BLKIF_OP_DISCARD;
		count.failed += !ok;
		for (uint64_t i = 0; i < p->n; i++)
			d->tag[p->start + i] = ok ? p->tag : TAG_ANY;
	} else {
		count.reads++;
		count.failed += !ok;
		if (ok)
			check_read(d, p);
		count.checked += ok ? p->n : 0;
	}
	blkfront_req_put(d->bf, r);
}

/* Disconnect d's frontend; what is in flight is dropped (the caller settles the model). */
void disconnect(struct disk *d)
{
	char err[512];

	if (!d->bf)
		return;
	for (unsigned int i = 0; i < BLKFRONT_MAX_SLOTS; i++)
		d->pend[i].inflight = false;
	if (blkfront_disconnect(d->bf, err, sizeof(err)) && !d->gone)
		die("disk %s: cannot disconnect: %s", d->vdev, err);
	d->bf = NULL;
	d->gone = false;
}

/* A disk's backend left Connected: only a mem disk's, when blkbackd stopped, may. */
static void backend_gone(struct disk *d, bool expected)
{
	if (!expected)
		die("disk %s (%s): the backend left Connected", d->vdev, d->engine);
	d->gone = true;
	disconnect(d);
}

/* Take the answers of every disk; wait up to wait_ms for one if none is there. */
void service(int wait_ms)
{
	struct blkfront_req *done[SLOTS];
	bool any = false;
	struct disk *waiter = NULL;

	for (unsigned int k = 0; k < NDISKS; k++) {
		struct disk *d = &disks[k];
		int n;

		if (!d->bf)
			continue;
		if (blkfront_ring_wait(d->bf, 0) == -ESHUTDOWN) {
			backend_gone(d, daemon_stopping && !strcmp(d->engine, "mem"));
			continue;
		}
		n = blkfront_reap(d->bf, done, SLOTS, 0);
		if (n < 0)
			die("disk %s: taking answers failed: %s", d->vdev, strerror(-n));
		for (int i = 0; i < n; i++)
			complete(d, done[i]);
		any |= n > 0;
		if (!waiter && blkfront_inflight(d->bf) > held_count(d))
			waiter = d;
	}
	if (any || !wait_ms)
		return;
	if (waiter)
		blkfront_ring_wait(waiter->bf, wait_ms);
	else
		poll(NULL, 0, wait_ms);	/* nothing to wait on but a child process */
}

/* Print blkbackctl stats of d to stderr, for a request not answered. */
static void dump_stats(const struct disk *d)
{
	const char *args[] = { "stats", "guest1", d->vdev, "--json", NULL };
	char path[512], line[512];
	FILE *f;
	int st;

	snprintf(path, sizeof(path), "%s/stats.out", dir);
	unlink(path);
	waitpid(spawn_dom0("blkbackctl", args, path), &st, 0);
	f = fopen(path, "r");
	fprintf(stderr, "torture: blkbackctl stats guest1 %s:\n", d->vdev);
	while (f && fgets(line, sizeof(line), f))
		fputs(line, stderr);
	if (f)
		fclose(f);
}

/* Wait until slot id of d is answered. */
static void wait_slot(struct disk *d, unsigned int id)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (d->bf && d->pend[id].inflight) {
		if (now_ms() > deadline && (dump_stats(d), true))
			die("disk %s: a request (%" PRIu64 "+%" PRIu64 ", op %u) not answered in %d s",
			    d->vdev, d->pend[id].start, d->pend[id].n, d->pend[id].op,
			    WAIT_MS / 1000);
		service(20);
	}
}

/*
 * A held request (one touching a stalled range) holds others too, so that no request of
 * the disk may be waited for, when it shares a mapping with them: in map grant mode the
 * requests of one ring sweep share one mapping and are answered only once all of them
 * are done (blkback/grant.c). Which requests those are depends on timing, so the whole
 * disk counts as plugged: nothing is submitted or waited for on it until the unstall.
 * Only persistent grants, negotiated and served by a daemon in that mode, make the held
 * one alone wait, except after a take-over (replug: seen with persistent grants too).
 */
bool plugged(const struct disk *d)
{
	bool persistent = d->bf && blkfront_features(d->bf)->use_persistent && daemon_persistent;

	return held_count(d) && (!persistent || d->replug);
}

/* Wait for every request of d not held; false (nothing waited) if some are held. */
bool drain(struct disk *d)
{
	if (held_count(d))
		return false;
	for (unsigned int i = 0; i < BLKFRONT_MAX_SLOTS; i++)
		wait_slot(d, i);
	return true;
}

/* Wait for the requests of d overlapping the range; false if one of them is held. */
bool wait_range(struct disk *d, uint64_t start, uint64_t n)
{
	for (unsigned int i = 0; i < BLKFRONT_MAX_SLOTS; i++) {
		struct pend *p = &d->pend[i];

		if (p->inflight && (p->op == BLKIF_OP_FLUSH_DISKCACHE ? false :
				    overlap(start, n, p->start, p->n)) && p->held)
			return false;
	}
	for (unsigned int i = 0; i < BLKFRONT_MAX_SLOTS; i++) {
		struct pend *p = &d->pend[i];

		if (p->inflight && p->op != BLKIF_OP_FLUSH_DISKCACHE &&
		    overlap(start, n, p->start, p->n))
			wait_slot(d, i);
	}
	return true;
}

/* A free request slot of d, waiting for one; NULL if every slot is held. */
static struct blkfront_req *get_slot(struct disk *d)
{
	int64_t deadline = now_ms() + WAIT_MS;
	struct blkfront_req *r;

	while (d->bf && !(r = blkfront_req_get(d->bf))) {
		if (held_count(d) >= blkfront_slots(d->bf))
			return NULL;
		if (now_ms() > deadline)
			die("disk %s: no request slot came free in %d s", d->vdev, WAIT_MS / 1000);
		service(20);
	}
	return d->bf ? r : NULL;
}

/* Submit op on d's sectors [start, start+n) (flush: n = 0); false if skipped. */
bool submit(struct disk *d, uint8_t op, uint64_t start, uint64_t n)
{
	struct blkfront_req *r;
	struct pend *p;
	int err;

	if (plugged(d))
		return false;
	/* A request that will be held goes alone, where it would plug the disk. */
	if (n && hits_stall(d, start, n) && !plugged(d) && !drain(d))
		return false;
	if (op != BLKIF_OP_FLUSH_DISKCACHE && !wait_range(d, start, n))
		return false;
	r = get_slot(d);
	if (!r)
		return false;
	p = &d->pend[r->id];
	*p = (struct pend){ .inflight = true, .op = op, .start = start, .n = n,
			    .tag = op == BLKIF_OP_WRITE ? (uint32_t)step : 0, .seq = ++d->seq,
			    .req = r, .held = n && hits_stall(d, start, n) };
	if (op == BLKIF_OP_WRITE)
		for (uint64_t i = 0; i < n; i++)
			bf_pattern_fill((uint8_t *)r->buf + i * BF_BLOCK, pattern_seed(p->tag),
					start + i);
	err = blkfront_submit(d->bf, r, op, start * BF_BLOCK, (uint32_t)(n * BF_BLOCK));
	err = err ? err : blkfront_kick(d->bf);
	if (err)
		die("disk %s: cannot submit: %s", d->vdev, strerror(-err));
	p->queue = r->on_queue;
	return true;
}

/* Connect d's frontend with a frontend variant picked at random. */
void connect_disk(struct disk *d)
{
	struct blkfront_opts o;
	char err[512];
	int ret;

	blkfront_opts_init(&o);
	o.vdev = d->vdev;
	o.timeout_ms = WAIT_MS;
	o.slots = SLOTS;
	o.queues = 1 + (unsigned int)rnd(2);
	o.no_persistent = rnd(2);
	o.max_ring_order = (int)rnd(3);
	o.indirect_always = rnd(2);
	ret = blkfront_connect(&o, &d->bf, err, sizeof(err));
	if (ret)
		die("disk %s (%s): cannot connect: %s", d->vdev, d->engine, err);
	if (blkfront_disk(d->bf)->sectors != d->sectors)
		die("disk %s (%s): the backend says %" PRIu64 " sectors, the model %" PRIu64,
		    d->vdev, d->engine, blkfront_disk(d->bf)->sectors, d->sectors);
	memset(d->pend, 0, sizeof(d->pend));
}
