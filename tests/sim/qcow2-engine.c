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

#include "engine-run.h"

#define DISK_SIZE (8 * MiB)
#define ROUNDS 16

static const char *dir;

/* Zeroes where discarded: 4 KiB inside a 64 KiB cluster (a trim would leave the data). */
static void image_steps(struct h_disk *h, const struct er_disk *d)
{
	(void)d;
	h_write(h, 4 * MiB, 128 * 1024);
	er_discard(h, 4 * MiB + 8192, 4096);
	er_discard(h, 4 * MiB + 65536, 65536);
	h_verify(h, 4 * MiB, 128 * 1024);
}

/* Whole clusters discarded, for the script's qemu-img map. */
static void last_discard(struct h_disk *h, const struct er_disk *d)
{
	char err[STORAGE_ERR_LEN];
	int ret = open_spec(d->spec, &h->disk, err, sizeof(err));

	CHECK(ret == 0, "open '%s': %s", d->spec, err);
	if (ret)
		return;
	if (!storage_queue_open(h->disk, &h->q)) {
		er_discard(h, 6 * MiB, 2 * MiB);
		h_flush(h);
		h_verify(h, 5 * MiB, 3 * MiB);
		storage_queue_close(h->q);
		h->q = NULL;
	}
	storage_close(h->disk);
	h->disk = NULL;
}

/* The common run (engine-run.h) on an image; last: then discard its end (last_discard). */
static void run_rw(const char *engine, const char *file, bool last)
{
	char spec[512], ro_spec[512];
	struct er_disk d = {
		.name = file, .spec = spec, .ro_spec = ro_spec, .size = DISK_SIZE,
		.seed = 0x1ace ^ (uint64_t)strlen(file), .size_what = "the image's virtual size",
		.phys = 4096, .zeroes = true, .two_queues = true, .rounds = ROUNDS,
		.steps = image_steps, .after = last ? last_discard : NULL,
	};

	snprintf(spec, sizeof(spec), "%s:%s/%s", engine, dir, file);
	snprintf(ro_spec, sizeof(ro_spec), "%s:%s/%s,ro", engine, dir, file);
	er_run(&d);
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
