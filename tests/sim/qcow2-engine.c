/*
 * The engine conformance checks of tests/unit (engine-harness.h) on image disks served by
 * qemu-storage-daemon, on the images tests/sim/qcow2-conformance.sh made with qemu-img in
 * DIR (the private directories of the daemons go to $TMPDIR, which the script sets):
 *   DIR/disk.qcow2   qcow2, 8 MiB     read/write/verify, flush, discard, zeroes, two queues
 *   DIR/disk.vhdx    vhdx, 8 MiB      the same through another of qemu's drivers
 *   DIR/disk.raw     raw, 8 MiB       ro: read-only
 * Ends with [6 MiB, 8 MiB) of disk.qcow2 discarded: the script checks with qemu-img map
 * that the discard reached the image.
 * usage: qcow2-engine DIR
 */
#include <unistd.h>

#include "../unit/engine-harness.h"
#include "../unit/open-spec.h"

#define MiB (1024u * 1024u)
#define DISK_SIZE (8 * MiB)
#define ROUNDS 16

static const char *dir;

/* Random batches of reads, writes and discards of up to 11 segments, then a deep one. */
static void rounds(struct h_disk *h)
{
	for (int r = 0; r < ROUNDS; r++)
		h_region_round(h, 0, h->model_size, true, r == ROUNDS - 1 ? H_SLOTS : H_BATCH);
}

/* Discard [off, off+len) in one request; the model then holds zeroes there. */
static void discard(struct h_disk *h, uint64_t off, uint64_t len)
{
	h->slot[0].io = (struct storage_io){ .op = STORAGE_DISCARD, .offset = off, .len = len };
	h_run(h, 1);
	memset(h->model + off, 0, len);
}

/* Open an image's disk, check what it offers, run the harness on it, read it back read-only. */
static void run_rw(const char *engine, const char *file, bool last_discard)
{
	char spec[512], err[STORAGE_ERR_LEN];
	struct h_disk h;
	int ret;

	snprintf(spec, sizeof(spec), "%s:%s/%s", engine, dir, file);
	if (h_init(&h, file, DISK_SIZE, 0x1ace ^ (uint64_t)strlen(file))) {
		CHECK(0, "out of memory");
		return;
	}
	ret = open_spec(spec, &h.disk, err, sizeof(err));
	CHECK(ret == 0, "open '%s': %d: %s", spec, ret, err);
	if (ret)
		goto out;
	CHECK_U64(h.disk->size, DISK_SIZE, "the image's virtual size");
	CHECK(!h.disk->readonly, "%s: opened read-only", file);
	CHECK_INT(h.disk->caps.sector_size, 512, "sector size");
	CHECK_INT(h.disk->caps.physical_sector_size, 4096, "physical sector (qemu's preferred)");
	CHECK(h.disk->caps.flush, "%s: no flush", file);
	CHECK(h.disk->caps.discard && h.disk->caps.discard_zeroes,
	      "%s: discard %d, discard_zeroes %d: qemu offers write-zeroes", file,
	      h.disk->caps.discard, h.disk->caps.discard_zeroes);
	CHECK(!h.disk->caps.secure_discard, "%s: no secure discard", file);
	ret = storage_queue_open(h.disk, &h.q);
	CHECK(ret == 0, "%s: queue_open: %s", file, strerror(-ret));
	if (ret)
		goto close;
	rounds(&h);
	h_flush(&h);
	/* Requests of many parts, written over what the rounds left. */
	h_write(&h, MiB, 2 * MiB);
	h_verify(&h, 0, DISK_SIZE);
	/* Zeroes where discarded: 4 KiB inside a 64 KiB cluster (a trim would leave the data). */
	h_write(&h, 4 * MiB, 128 * 1024);
	discard(&h, 4 * MiB + 8192, 4096);
	discard(&h, 4 * MiB + 65536, 65536);
	h_verify(&h, 4 * MiB, 128 * 1024);
	h_two_queues(&h);
	h_verify(&h, 0, DISK_SIZE);
	h_flush(&h);
	printf("%s: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64 " flushes, %" PRIu64
	       " discards verified\n", file, h.nr[STORAGE_READ], h.nr[STORAGE_WRITE],
	       h.nr[STORAGE_FLUSH], h.nr[STORAGE_DISCARD]);
	storage_queue_close(h.q);
	h.q = NULL;
close:
	storage_close(h.disk);
	h.disk = NULL;
	/* A new qemu on the image: the bytes are there, and ,ro is read-only. */
	snprintf(spec, sizeof(spec), "%s:%s/%s,ro", engine, dir, file);
	ret = open_spec(spec, &h.disk, err, sizeof(err));
	CHECK(ret == 0, "open '%s': %s", spec, err);
	if (ret)
		goto out;
	CHECK(h.disk->readonly, "%s: ,ro opened writable", file);
	if (!storage_queue_open(h.disk, &h.q)) {
		h_verify(&h, 0, DISK_SIZE);
		storage_queue_close(h.q);
		h.q = NULL;
	}
	storage_close(h.disk);
	h.disk = NULL;
	if (!last_discard)
		goto out;
	/* Whole clusters discarded for the script's qemu-img map. */
	snprintf(spec, sizeof(spec), "%s:%s/%s", engine, dir, file);
	ret = open_spec(spec, &h.disk, err, sizeof(err));
	CHECK(ret == 0, "open '%s': %s", spec, err);
	if (ret)
		goto out;
	if (!storage_queue_open(h.disk, &h.q)) {
		discard(&h, 6 * MiB, 2 * MiB);
		h_flush(&h);
		h_verify(&h, 5 * MiB, 3 * MiB);
		storage_queue_close(h.q);
	}
	storage_close(h.disk);
out:
	h_free(&h);
}

/* A read-only spec: read-only disk, and the contract refuses a write. */
static void run_ro(void)
{
	char spec[512], err[STORAGE_ERR_LEN];
	struct storage *disk = NULL;
	struct storage_queue *q;
	int ret;

	snprintf(spec, sizeof(spec), "raw:%s/disk.raw,ro", dir);
	ret = open_spec(spec, &disk, err, sizeof(err));
	CHECK(ret == 0, "open '%s': %s", spec, err);
	if (ret)
		return;
	CHECK(disk->readonly, "raw ,ro opened writable");
	CHECK_U64(disk->size, DISK_SIZE, "raw size");
	if (!storage_queue_open(disk, &q)) {
		static char page[4096] __attribute__((aligned(4096)));
		struct iovec iov = { page, sizeof(page) };
		struct storage_io io = { .op = STORAGE_WRITE, .len = 4096, .iov = &iov, .iovcnt = 1,
					 .done = h_done };
		const char *why = NULL;

		CHECK(storage_submit(q, &io, &why) == -EINVAL, "a write to a read-only disk went");
		storage_queue_close(q);
	}
	storage_close(disk);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: qcow2-engine DIR\n");
		return 2;
	}
	dir = argv[1];
	CHECK(storage_engine("qcow2") == &storage_qcow2_ops, "no qcow2 engine in the table");
	CHECK(storage_engine("vhdx") == &storage_vhdx_ops, "no vhdx engine in the table");
	run_rw("vhdx", "disk.vhdx", false);
	run_rw("qcow2", "disk.qcow2", true);
	run_ro();
	return check_done("qcow2-engine");
}
