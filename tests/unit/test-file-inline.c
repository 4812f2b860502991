/*
 * Unit test: the file engine serves a file on tmpfs on the submitting thread (tmpfs refuses
 * RWF_NOWAIT, and its reads and writes never wait for a device), the same bytes as a worker
 * would, and still hands a discard to its workers.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "../../storage/storage.h"
#include "check.h"
#include "open-spec.h"
#include "storage-op.h"

#define SIZE (4u << 20)
#define PAGE 4096u

/* Submit one I/O; whether it completed before storage_submit returned, and its result. */
static bool submit_inline(struct storage_queue *q, struct op *op, enum storage_op kind,
			  uint64_t offset, uint64_t len, const struct iovec *iov, int iovcnt)
{
	const char *why = NULL;

	memset(op, 0, sizeof(*op));
	op->io.op = kind;
	op->io.offset = offset;
	op->io.len = len;
	op->io.iov = iov;
	op->io.iovcnt = iovcnt;
	op->io.done = op_done;
	op->result = INT64_MIN;
	CHECK(storage_submit(q, &op->io, &why) == 0, "submit refused: %s", why ? why : "?");
	return op->calls == 1;
}

/* Wait for op to complete through the queue's fd and reap, as a ring thread does. */
static void reap_until(struct storage_queue *q, struct op *op)
{
	struct storage_poll sp;

	for (int turns = 0; op->calls == 0 && turns < 3000; turns++) {
		storage_poll(q, &sp);
		struct pollfd p = { .fd = sp.fd, .events = sp.events };

		if (sp.fd >= 0)
			poll(&p, 1, 10);
		storage_reap(q);
	}
}

int main(void)
{
	char path[] = "/dev/shm/blkback-inline-XXXXXX";
	char spec[64], err[256];
	struct storage *disk = NULL;
	struct storage_queue *q = NULL;
	struct statfs sf;
	static uint8_t buf[2][PAGE], back[2][PAGE];
	struct iovec wv[2] = { { buf[0], PAGE }, { buf[1], PAGE } };
	struct iovec rv[2] = { { back[0], PAGE }, { back[1], PAGE } };
	struct op op;
	int fd;

	fd = mkstemp(path);
	if (fd < 0 || fstatfs(fd, &sf) || sf.f_type != TMPFS_MAGIC) {
		printf("SKIP: /dev/shm is not a tmpfs this test may write (%s)\n",
		       fd < 0 ? strerror(errno) : "another file system");
		if (fd >= 0)
			unlink(path);
		return 77;
	}
	CHECK(ftruncate(fd, SIZE) == 0, "ftruncate %s: %s", path, strerror(errno));
	close(fd);
	snprintf(spec, sizeof(spec), "file:%s", path);
	CHECK(open_spec(spec, &disk, err, sizeof(err)) == 0, "open %s: %s", spec, err);
	if (!disk)
		goto out;
	CHECK(storage_queue_open(disk, &q) == 0, "queue_open");
	if (!q)
		goto out;
	for (unsigned int i = 0; i < PAGE; i++) {
		buf[0][i] = (uint8_t)(i * 7 + 1);
		buf[1][i] = (uint8_t)(i * 13 + 5);
	}

	CHECK(submit_inline(q, &op, STORAGE_WRITE, 3 * PAGE, 2 * PAGE, wv, 2),
	      "a write to a tmpfs file went to a worker (done not called in submit)");
	reap_until(q, &op);
	CHECK(op.result == 2 * PAGE, "write: result %lld", (long long)op.result);

	CHECK(submit_inline(q, &op, STORAGE_READ, 3 * PAGE, 2 * PAGE, rv, 2),
	      "a read of a tmpfs file went to a worker (done not called in submit)");
	reap_until(q, &op);
	CHECK(op.result == 2 * PAGE, "read: result %lld", (long long)op.result);
	CHECK(!memcmp(buf, back, sizeof(buf)), "read back other bytes than were written");

	CHECK(submit_inline(q, &op, STORAGE_FLUSH, 0, 0, NULL, 0),
	      "a flush of a tmpfs file went to a worker");
	reap_until(q, &op);
	CHECK(op.result == 0, "flush: result %lld", (long long)op.result);

	/* A discard may free much memory: it still goes to a worker, and completes. */
	if (disk->caps.discard) {
		CHECK(!submit_inline(q, &op, STORAGE_DISCARD, 3 * PAGE, PAGE, NULL, 0),
		      "a discard of a tmpfs file ran on the ring thread");
		reap_until(q, &op);
		CHECK(op.calls == 1 && op.result == PAGE, "discard: %d calls, result %lld",
		      op.calls, (long long)op.result);
		submit_inline(q, &op, STORAGE_READ, 3 * PAGE, PAGE, rv, 1);
		reap_until(q, &op);
		CHECK(op.result == PAGE && !back[0][0] && !memcmp(back[0], back[0] + 1, PAGE - 1),
		      "a discarded page does not read as zeroes");
	}
out:
	if (q)
		storage_queue_close(q);
	if (disk)
		storage_close(disk);
	unlink(path);
	return check_done("test-file-inline");
}
