/*
 * The run that tests/sim/nbd-engine.c and qcow2-engine.c make on each read/write disk,
 * with the harness of tests/unit/engine-harness.h: open, check what the disk offers,
 * random rounds, a long write, the test's own steps, two queues, verify, then open it
 * again read-only and read everything back. Included by both (the checks count per program).
 */
#ifndef TESTS_SIM_ENGINE_RUN_H
#define TESTS_SIM_ENGINE_RUN_H

#include "../unit/engine-harness.h"
#include "../unit/open-spec.h"

#define MiB (1024u * 1024u)

/* One read/write disk to run, and what it must offer. */
struct er_disk {
	const char *name;		/* in messages */
	const char *spec, *ro_spec;	/* to open it, and read-only */
	uint64_t size, seed;
	const char *size_what;		/* what the size is, in a failed check */
	uint32_t phys;			/* the physical sector size it must report */
	bool zeroes;			/* discard promises zeroes: the rounds discard too */
	bool two_queues;		/* run h_two_queues */
	int rounds;
	/* The test's own steps, after the long write, on the open queue. */
	void (*steps)(struct h_disk *h, const struct er_disk *d);
	/* After the read-only read back, with the disk closed: more on the same model. */
	void (*after)(struct h_disk *h, const struct er_disk *d);
	const void *arg;		/* the test's own, for steps and after */
};

/* Discard [off, off+len) in one request; the model then holds zeroes there. */
static inline void er_discard(struct h_disk *h, uint64_t off, uint64_t len)
{
	h->slot[0].io = (struct storage_io){ .op = STORAGE_DISCARD, .offset = off, .len = len };
	h_run(h, 1);
	memset(h->model + off, 0, len);
}

/* The run of one read/write disk (see the top of this file). */
static inline void er_run(const struct er_disk *d)
{
	char err[STORAGE_ERR_LEN];
	struct h_disk h;
	int ret;

	if (h_init(&h, d->name, d->size, d->seed)) {
		CHECK(0, "out of memory");
		return;
	}
	ret = open_spec(d->spec, &h.disk, err, sizeof(err));
	CHECK(ret == 0, "open '%s': %d: %s", d->spec, ret, err);
	if (ret)
		goto out;
	CHECK_U64(h.disk->size, d->size, d->size_what);
	CHECK(!h.disk->readonly, "%s: a writable disk opened read-only", d->name);
	CHECK_INT(h.disk->caps.sector_size, 512, "sector size");
	CHECK_INT(h.disk->caps.physical_sector_size, d->phys, "physical sector (preferred block)");
	CHECK(h.disk->caps.flush, "%s: no flush", d->name);
	CHECK(h.disk->caps.discard, "%s: no discard", d->name);
	CHECK(h.disk->caps.discard_zeroes == d->zeroes, "%s: discard_zeroes %d, want %d",
	      d->name, h.disk->caps.discard_zeroes, d->zeroes);
	CHECK(!h.disk->caps.secure_discard, "%s: no secure discard is offered", d->name);
	ret = storage_queue_open(h.disk, &h.q);
	CHECK(ret == 0, "%s: queue_open: %s", d->name, strerror(-ret));
	if (ret)
		goto close;
	/* Random batches of up to 11 segments, then a deep one. */
	for (int r = 0; r < d->rounds; r++)
		h_region_round(&h, 0, h.model_size, d->zeroes,
			       r == d->rounds - 1 ? H_SLOTS : H_BATCH);
	h_flush(&h);
	/* Requests of many parts, written over what the rounds left. */
	h_write(&h, MiB, 2 * MiB);
	h_verify(&h, 0, d->size);
	if (d->steps)
		d->steps(&h, d);
	if (d->two_queues)
		h_two_queues(&h);
	h_verify(&h, 0, d->size);
	h_flush(&h);
	printf("%s: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64 " flushes, %" PRIu64
	       " discards verified\n", d->name, h.nr[STORAGE_READ], h.nr[STORAGE_WRITE],
	       h.nr[STORAGE_FLUSH], h.nr[STORAGE_DISCARD]);
	storage_queue_close(h.q);
	h.q = NULL;
close:
	storage_close(h.disk);
	h.disk = NULL;
	/* Opened again (a new server process for an image): the bytes are there, read-only. */
	ret = open_spec(d->ro_spec, &h.disk, err, sizeof(err));
	CHECK(ret == 0, "open '%s': %s", d->ro_spec, err);
	if (ret)
		goto out;
	CHECK(h.disk->readonly, "%s: ,ro opened writable", d->name);
	if (!storage_queue_open(h.disk, &h.q)) {
		h_verify(&h, 0, d->size);
		storage_queue_close(h.q);
		h.q = NULL;
	}
	storage_close(h.disk);
	h.disk = NULL;
	if (d->after)
		d->after(&h, d);
out:
	h_free(&h);
}

#endif
