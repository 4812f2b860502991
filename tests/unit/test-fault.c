/*
 * Unit test: fault=START+COUNT[:KIND] fails, shortens or stalls exactly the I/O touching
 * those sectors, on any engine, and lets everything else through.
 */
#include <fcntl.h>
#include <unistd.h>

#include "engine-harness.h"

#define SIZE (1u << 20)

static bool shorten;	/* the disk under test transfers half of what it hits */

/* Open a spec, or fail the test. */
static struct storage *open_spec(const char *text)
{
	struct storage_spec spec;
	struct storage *disk = NULL;
	char err[512];

	if (storage_spec_parse(text, &spec, err, sizeof(err)) ||
	    storage_open(&spec, &disk, err, sizeof(err))) {
		CHECK(0, "%s: %s", text, err);
		disk = NULL;
	}
	storage_spec_free(&spec);
	return disk;
}

/* Set slot s to op over len bytes at sector sec; hit: it touches the faulty range. */
static void set(struct h_slot *s, enum storage_op op, uint64_t sec, uint64_t len, bool hit)
{
	s->io.op = op;
	s->io.offset = sec << 9;
	s->want_error = hit && !shorten;
	s->want_short = hit && shorten;
	if (op == STORAGE_READ || op == STORAGE_WRITE) {
		h_layout_pages(s, len);
	} else {
		s->io.iov = NULL;
		s->io.iovcnt = 0;
		s->io.len = len;
	}
}

/* The fd q's engine asks to poll now; -1 for none. */
static int poll_fd(struct storage_queue *q)
{
	struct storage_poll sp;

	storage_poll(q, &sp);
	return sp.fd;
}

/*
 * A second queue of the wrapper goes through a queue of its own of the
 * wrapped disk (its own fd to poll where the engine has one) and fails the
 * same I/O; what it writes, the first queue reads.
 */
static void two_queues(struct h_disk *h, const char *text)
{
	struct storage_queue *q1 = h->q, *q2;
	int ret = storage_queue_open(h->disk, &q2), e1, e2;

	CHECK(ret == 0, "%s: second queue_open: %s", text, strerror(-ret));
	if (ret)
		return;
	e1 = poll_fd(q1);
	e2 = poll_fd(q2);
	CHECK(e1 < 0 ? e2 < 0 : e2 >= 0 && e2 != e1, "%s: fds to poll %d and %d of two queues",
	      text, e1, e2);
	h->q = q2;
	set(&h->slot[0], STORAGE_WRITE, 40, 4096, false);	/* 40..47 */
	h_fill(h, &h->slot[0]);
	set(&h->slot[1], STORAGE_READ, 20, 512, true);
	h_run(h, 2);
	h->q = q1;
	storage_queue_close(q2);
	h_verify(h, 40 << 9, 4096);
}

/*
 * Sectors 16..23 fail with want (or, for :short, transfer half and write nothing); the rest
 * of the disk works, and failed writes change nothing.
 */
static void run(const char *text, int64_t want)
{
	struct h_disk h;
	int ret;

	if (h_init(&h, text, SIZE, 7))
		return;
	h.disk = open_spec(text);
	if (!h.disk) {
		h_free(&h);
		return;
	}
	ret = storage_queue_open(h.disk, &h.q);
	CHECK(ret == 0, "%s: queue_open: %s", text, strerror(-ret));
	if (ret) {
		storage_close(h.disk);
		h_free(&h);
		return;
	}
	set(&h.slot[0], STORAGE_WRITE, 0, 8192, false);		/* sectors 0..15 */
	h_fill(&h, &h.slot[0]);
	h_run(&h, 1);
	set(&h.slot[0], STORAGE_WRITE, 12, 4096, true);		/* 12..19: touches the range */
	memset(h.slot[0].pages, 0xee, 4096);
	set(&h.slot[1], STORAGE_READ, 24, 4096, false);		/* 24..31: just after it */
	set(&h.slot[2], STORAGE_READ, 16, 512, true);		/* its first sector */
	set(&h.slot[3], STORAGE_READ, 23, 512, true);		/* its last sector */
	set(&h.slot[4], STORAGE_READ, 15, 512, false);		/* just before it */
	set(&h.slot[5], STORAGE_FLUSH, 0, 0, false);		/* flushes do not touch sectors */
	h_run(&h, 6);
	CHECK(h.slot[0].result == (shorten ? 2048 : want), "%s: failed write gave %" PRId64, text,
	      h.slot[0].result);
	CHECK(h.slot[2].result == (shorten ? 0 : want), "%s: failed read gave %" PRId64, text,
	      h.slot[2].result);
	if (h.disk->caps.discard) {
		set(&h.slot[0], STORAGE_DISCARD, 20, 4096, true);
		set(&h.slot[1], STORAGE_DISCARD, 32, 4096, false);
		h_run(&h, 2);
		memset(h.model + (32 << 9), 0, 4096);
	}
	two_queues(&h, text);
	for (int i = 0; i < 6; i++)
		h.slot[i].want_error = h.slot[i].want_short = false;
	h_verify(&h, 0, 16 << 9);	/* the refused write left sectors 12..15 as they were */
	h_verify(&h, 24 << 9, SIZE - (24 << 9));
	storage_queue_close(h.q);
	storage_close(h.disk);
	h_free(&h);
}

/*
 * fault=16+8:stall holds what touches sectors 16..23 and serves the rest, until
 * storage_fault_release; then what it held completes, in full, and so does later I/O
 * to those sectors.
 */
static void stall(const char *text)
{
	struct h_disk h;
	int ret;

	if (h_init(&h, text, SIZE, 11))
		return;
	h.disk = open_spec(text);
	ret = h.disk ? storage_queue_open(h.disk, &h.q) : -EINVAL;
	CHECK(ret == 0, "%s: queue_open: %s", text, strerror(-ret));
	if (ret)
		goto out;
	set(&h.slot[0], STORAGE_WRITE, 0, 8192, false);		/* sectors 0..15 */
	h_fill(&h, &h.slot[0]);
	set(&h.slot[1], STORAGE_WRITE, 24, 4096, false);	/* 24..31 */
	h_fill(&h, &h.slot[1]);
	h_run(&h, 2);
	set(&h.slot[0], STORAGE_READ, 24, 4096, false);		/* just after the range */
	set(&h.slot[1], STORAGE_READ, 16, 512, false);		/* held */
	set(&h.slot[2], STORAGE_WRITE, 20, 2048, false);	/* held */
	h_fill(&h, &h.slot[2]);
	set(&h.slot[3], STORAGE_FLUSH, 0, 0, false);		/* touches no sector */
	h_submit(&h, 4);
	h_wait(&h, 0, 1);
	h_wait(&h, 3, 1);
	CHECK(h.slot[1].calls == 0 && h.slot[2].calls == 0,
	      "%s: I/O to the stalled sectors completed before the release", text);
	ret = storage_fault_release(h.disk);
	CHECK(ret == 0, "%s: release: %s", text, strerror(-ret));
	h_wait(&h, 1, 2);
	h_check_results(&h, 4);
	set(&h.slot[0], STORAGE_READ, 16, 4096, false);		/* no longer held */
	h_run(&h, 1);
	h_verify(&h, 0, 32 << 9);
	storage_queue_close(h.q);
out:
	storage_close(h.disk);
	h_free(&h);
}

int main(void)
{
	char dir[] = "/var/tmp/blkback-fault-XXXXXX", path[64], spec[128];
	int fd;

	run("mem:size=1M,fault=16+8", -EIO);
	if (!mkdtemp(dir)) {
		printf("cannot make a scratch directory under /var/tmp\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/disk.img", dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	CHECK(fd >= 0 && !ftruncate(fd, SIZE), "cannot make %s", path);
	close(fd);
	snprintf(spec, sizeof(spec), "file:%s,fault=16+8:enospc", path);
	run(spec, -ENOSPC);
	snprintf(spec, sizeof(spec), "uring:%s,fault=16+8:eio", path);
	run(spec, -EIO);
	shorten = true;
	run("mem:size=1M,fault=16+8:short", 0);
	snprintf(spec, sizeof(spec), "uring:%s,fault=16+8:short", path);
	run(spec, 0);
	shorten = false;
	stall("mem:size=1M,fault=16+8:stall");
	snprintf(spec, sizeof(spec), "file:%s,fault=16+8:stall", path);
	stall(spec);
	snprintf(spec, sizeof(spec), "uring:%s,fault=16+8:stall", path);
	stall(spec);
	{
		struct storage *plain = open_spec("mem:size=1M,fault=16+8");

		CHECK(plain && storage_fault_release(plain) == -EINVAL,
		      "releasing a disk that does not stall must be refused");
		storage_close(plain);
	}
	unlink(path);
	rmdir(dir);
	return check_done("test-fault");
}
