/*
 * Unit test: the uring engine with a full submission queue. More I/Os than
 * the SQ holds, and a kernel that takes no SQE for a while (io_uring_enter
 * answers EBUSY when completions must be reaped first, EAGAIN when it is short
 * of memory): every I/O waits for room and succeeds; none fails with an error
 * the storage did not give.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <liburing.h>
#include <unistd.h>

#include "engine-harness.h"

#define DEPTH 8			/* SQ entries of the queue under test */
#define SIZE (8u << 20)

/* io_uring_submit calls still to refuse, and how many were refused. */
static int refuse_left, refused;

/*
 * io_uring_submit for the whole program (uring.c is linked into it): refuse
 * while refuse_left says so, as a busy kernel does, else the real one.
 */
int io_uring_submit(struct io_uring *ring)
{
	static int (*real)(struct io_uring *);

	if (refuse_left > 0) {
		refuse_left--;
		refused++;
		return -EBUSY;
	}
	if (!real)
		real = (int (*)(struct io_uring *))dlsym(RTLD_NEXT, "io_uring_submit");
	if (!real) {
		fprintf(stderr, "cannot find the real io_uring_submit: %s\n", dlerror());
		exit(1);
	}
	return real(ring);
}

/* Lay out n one-page I/Os of op over the first n pages of the disk. */
static void one_page_each(struct h_disk *h, int n, enum storage_op op)
{
	for (int i = 0; i < n; i++) {
		struct h_slot *s = &h->slot[i];

		s->io.op = op;
		s->io.offset = (uint64_t)i * H_PAGE;
		h_layout_pages(s, H_PAGE);
		if (op == STORAGE_WRITE)
			h_fill(h, s);
		else
			memset(s->pages, 0xa5, H_PAGE);
	}
}

int main(void)
{
	struct h_disk h;
	struct io_uring probe;
	char path[] = "/var/tmp/blkback-uring-full.XXXXXX", spec[64], err[512] = "";
	int fd, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = io_uring_queue_init(4, &probe, 0);
	if (ret) {
		printf("SKIP: this machine has no io_uring (%s)\n", strerror(-ret));
		return 77;
	}
	io_uring_queue_exit(&probe);
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, SIZE)) {
		printf("cannot make a scratch file %s: %s\n", path, strerror(errno));
		return 1;
	}
	close(fd);
	storage_uring_depth = DEPTH;
	snprintf(spec, sizeof(spec), "uring:%s", path);
	if (h_init(&h, "uring with a full SQ", SIZE, 42)) {
		unlink(path);
		return 1;
	}
	{
		struct storage_spec sp;

		ret = storage_spec_parse(spec, &sp, err, sizeof(err));
		if (!ret)
			ret = storage_open(&sp, &h.disk, err, sizeof(err));
		storage_spec_free(&sp);
	}
	CHECK(ret == 0, "open %s: %s", spec, err);
	if (!ret)
		ret = storage_queue_open(h.disk, &h.q);
	CHECK(ret == 0, "queue_open: %s", strerror(-ret));
	if (ret)
		goto out;

	printf("case 1: %d writes, then reads, on an SQ of %d\n", H_SLOTS, DEPTH);
	one_page_each(&h, H_SLOTS, STORAGE_WRITE);
	h_run(&h, H_SLOTS);
	one_page_each(&h, H_SLOTS, STORAGE_READ);
	h_run(&h, H_SLOTS);
	for (int i = 0; i < H_SLOTS; i++)
		if (!h_compare(&h, &h.slot[i]))
			break;

	printf("case 2: the same while the kernel refuses the first submissions\n");
	refuse_left = 6;
	h_write(&h, 0, (uint64_t)H_BATCH * H_SEGS * H_PAGE);
	CHECK_INT(refused, 6, "submissions refused");
	refuse_left = 6;
	h_verify(&h, 0, (uint64_t)H_BATCH * H_SEGS * H_PAGE);
	CHECK_INT(refused, 12, "submissions refused");
out:
	storage_queue_close(h.q);
	storage_close(h.disk);
	h_free(&h);
	unlink(path);
	return check_done("test-uring-full");
}
