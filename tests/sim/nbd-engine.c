/*
 * The engine conformance checks of tests/unit (engine-harness.h) on nbd: disks, against
 * the nbdkit servers tests/sim/nbd-conformance.sh started in DIR:
 *   DIR/mem.sock     memory 8M                       the plain case
 *   DIR/small.sock   memory 8M, blocksize-policy     4096 preferred, 8192 maximum: split
 *   DIR/single.sock  memory 8M, multi-conn disabled  the queues share one connection
 *   DIR/trim.sock    memory 8M, nozero               discard is a trim: no zeroes promised
 *   DIR/ro.sock      memory 8M, nbdkit -r            read-only whatever the spec says
 *   DIR/err.sock     memory 8M, error filter         every read fails with EIO
 *   DIR/mute.sock    a socket that never answers     the open gives up after timeout=
 * usage: nbd-engine DIR
 */
#include <poll.h>
#include <unistd.h>

#include "../unit/engine-harness.h"
#include "../unit/open-spec.h"

#define MiB (1024u * 1024u)
#define DISK_SIZE (8 * MiB)
#define ROUNDS 24

static const char *dir;
static struct storage sentinel;

/* The spec of the server on DIR/name.sock, with options opts ("" for none). */
static void spec_of(char *buf, size_t len, const char *name, const char *opts)
{
	snprintf(buf, len, "nbd:nbd+unix:///?socket=%s/%s.sock%s", dir, name, opts);
}

/* Random batches of reads and writes of up to 11 segments, then a deep one. */
static void rounds(struct h_disk *h, bool discard)
{
	for (int r = 0; r < ROUNDS; r++)
		h_region_round(h, 0, h->model_size, discard, r == ROUNDS - 1 ? H_SLOTS : H_BATCH);
}

/* Open the server's disk, check what it offers, run the harness on it, read it back read-only. */
static void run_rw(const char *name, const char *opts, uint32_t phys, bool zeroes, bool twoq,
		   bool shared)
{
	char spec[512], err[STORAGE_ERR_LEN];
	struct h_disk h;
	int ret;

	spec_of(spec, sizeof(spec), name, opts);
	if (h_init(&h, name, DISK_SIZE, 0x5eed ^ phys ^ (uint64_t)strlen(name))) {
		CHECK(0, "out of memory");
		return;
	}
	ret = open_spec(spec, &h.disk, err, sizeof(err));
	CHECK(ret == 0, "open '%s': %d: %s", spec, ret, err);
	if (ret)
		goto out;
	CHECK_U64(h.disk->size, DISK_SIZE, "size the server offers");
	CHECK(!h.disk->readonly, "%s: a writable export opened read-only", name);
	CHECK_INT(h.disk->caps.sector_size, 512, "sector size");
	CHECK_INT(h.disk->caps.physical_sector_size, phys, "physical sector (preferred block)");
	CHECK(h.disk->caps.flush, "%s: nbdkit memory offers flush", name);
	CHECK(h.disk->caps.discard, "%s: nbdkit memory offers trim and zero", name);
	CHECK(h.disk->caps.discard_zeroes == zeroes, "%s: discard_zeroes %d, want %d", name,
	      h.disk->caps.discard_zeroes, zeroes);
	CHECK(!h.disk->caps.secure_discard, "%s: NBD has no secure discard", name);
	ret = storage_queue_open(h.disk, &h.q);
	CHECK(ret == 0, "%s: queue_open: %s", name, strerror(-ret));
	if (ret)
		goto close;
	rounds(&h, zeroes);
	h_flush(&h);
	/* Requests longer than the server's largest block, in many parts. */
	h_write(&h, MiB, 2 * MiB);
	h_verify(&h, 0, DISK_SIZE);
	{
		/* A discard of 1 MiB: zeroes where promised, else unknown bytes, written again. */
		struct h_slot *s = &h.slot[0];

		s->io = (struct storage_io){ .op = STORAGE_DISCARD, .offset = 3 * MiB, .len = MiB };
		h_run(&h, 1);
		memset(h.model + 3 * MiB, 0, MiB);
		if (zeroes)
			h_verify(&h, 2 * MiB, 2 * MiB);
		else
			h_write(&h, 3 * MiB, MiB);
	}
	{
		/* A second queue: its own connection, or the first one's without multi-conn. */
		struct storage_queue *q2;
		struct storage_link st;

		ret = storage_queue_open(h.disk, &q2);
		CHECK(ret == 0, "%s: second queue_open: %s", name, strerror(-ret));
		CHECK(storage_link(h.disk, &st) == 0, "%s: storage_link", name);
		if (!ret)
			CHECK(st.up == (shared ? 1u : 2u) || (!shared && st.up + st.down == 2),
			      "%s: %u connections up, %u down with two queues; want %d", name,
			      st.up, st.down, shared ? 1 : 2);
		storage_queue_close(q2);
	}
	if (twoq)
		h_two_queues(&h);
	h_verify(&h, 0, DISK_SIZE);
	h_flush(&h);
	printf("%s: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64 " flushes, %" PRIu64
	       " discards verified\n", name, h.nr[STORAGE_READ], h.nr[STORAGE_WRITE],
	       h.nr[STORAGE_FLUSH], h.nr[STORAGE_DISCARD]);
	storage_queue_close(h.q);
	h.q = NULL;
close:
	storage_close(h.disk);
	h.disk = NULL;
	/* The server kept it: a read-only open reads the same bytes. */
	spec_of(spec, sizeof(spec), name, ",ro");
	ret = open_spec(spec, &h.disk, err, sizeof(err));
	CHECK(ret == 0, "open '%s': %s", spec, err);
	if (ret)
		goto out;
	CHECK(h.disk->readonly, "%s: ,ro opened writable", name);
	if (!storage_queue_open(h.disk, &h.q)) {
		h_verify(&h, 0, DISK_SIZE);
		storage_queue_close(h.q);
	}
	storage_close(h.disk);
out:
	h_free(&h);
}

/* nbdkit -r: read-only without ,ro, and a write is refused by the contract. */
static void run_ro(void)
{
	char spec[512], err[STORAGE_ERR_LEN];
	struct storage *disk = NULL;
	int ret;

	spec_of(spec, sizeof(spec), "ro", "");
	ret = open_spec(spec, &disk, err, sizeof(err));
	CHECK(ret == 0, "open '%s': %s", spec, err);
	if (ret)
		return;
	CHECK(disk->readonly, "a read-only export opened writable");
	storage_close(disk);
}

/* The error filter fails every read: the I/O fails with an error, no reconnect, no hang. */
static void run_err(void)
{
	char spec[512], err[STORAGE_ERR_LEN];
	struct h_disk h;
	int ret;

	spec_of(spec, sizeof(spec), "err", ",timeout=2");
	if (h_init(&h, "err", DISK_SIZE, 7))
		return;
	ret = open_spec(spec, &h.disk, err, sizeof(err));
	CHECK(ret == 0, "open '%s': %s", spec, err);
	if (!ret && !storage_queue_open(h.disk, &h.q)) {
		h.slot[0].io = (struct storage_io){ .op = STORAGE_READ, .offset = 4096 };
		h_layout_pages(&h.slot[0], 8192);
		h.slot[0].want_error = true;
		h.slot[1].io = (struct storage_io){ .op = STORAGE_WRITE, .offset = MiB };
		h_layout_pages(&h.slot[1], 4096);
		h_fill(&h, &h.slot[1]);
		h_run(&h, 2);
		storage_queue_close(h.q);
	}
	if (!ret)
		storage_close(h.disk);
	h_free(&h);
}

/* A spec must not parse, with a message holding word. */
static void bad_spec(const char *text, const char *word)
{
	struct storage_spec spec;
	char err[STORAGE_ERR_LEN] = "";
	int ret = storage_spec_parse(text, &spec, err, sizeof(err));

	CHECK(ret == -EINVAL, "'%s' parsed", text);
	CHECK(strstr(err, word) != NULL, "'%s': message '%s' does not say '%s'", text, err, word);
	printf("refused '%s': %s\n", text, err);
	if (!ret)
		storage_spec_free(&spec);
}

/* A spec that parses must fail to open, quickly, leave the pointer alone and say word. */
static void refused(const char *text, const char *word)
{
	struct storage *disk = &sentinel;
	char err[STORAGE_ERR_LEN] = "";
	int ret = open_spec(text, &disk, err, sizeof(err));

	CHECK(ret < 0, "'%s' opened", text);
	CHECK(disk == &sentinel, "'%s': disk pointer written by a failed open", text);
	CHECK(strstr(err, word) != NULL, "'%s': message '%s' does not say '%s'", text, err, word);
	printf("open refused '%s': %s\n", text, err);
	if (!ret)
		storage_close(disk);
}

int main(int argc, char **argv)
{
	char spec[512], want[512];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: nbd-engine DIR\n");
		return 2;
	}
	dir = argv[1];
	CHECK(storage_engine("nbd") == &storage_nbd_ops, "no nbd engine in the table");

	bad_spec("nbd:", "URI");
	bad_spec("nbd:/srv/disk.img", "URI");
	bad_spec("nbd:nbd://127.0.0.1/x,timeout=0", "timeout");
	bad_spec("nbd:nbd://127.0.0.1/x,timeout=soon", "timeout");
	bad_spec("nbd:nbd://127.0.0.1/x,size=1M", "size=1M");
	bad_spec("nbd:nbd://127.0.0.1/x,direct", "direct");
	refused("nbd:nbd+nosuch:///?socket=/x", "nbd+nosuch");
	refused("nbd:nbd+unix:///", "socket");
	snprintf(spec, sizeof(spec), "nbd:nbd+unix:///?socket=%s/nobody.sock,timeout=5", dir);
	snprintf(want, sizeof(want), "%s/nobody.sock", dir);
	refused(spec, want);
	snprintf(spec, sizeof(spec), "nbd:nbd+unix:///?socket=%s/mute.sock,timeout=1", dir);
	refused(spec, "no answer in 1 s");

	run_rw("mem", "", 512, true, true, false);
	run_rw("small", "", 4096, true, true, false);
	run_rw("single", "", 512, true, true, true);
	run_rw("trim", "", 512, false, false, false);
	run_ro();
	run_err();
	return check_done("nbd-engine");
}
