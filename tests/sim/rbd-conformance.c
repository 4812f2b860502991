/*
 * The rbd engine against a real Ceph cluster (tests/sim/rbd-conformance.sh makes it),
 * driven as blkback/ring.c drives an engine, checked against a model of the image:
 * read/write/verify, flush, discards (partial ones too), two queues at once, resize (its
 * own and another client's), a read-only snapshot, the exclusive writer, bad specs.
 * usage: rbd-conformance MON_HOST CONF SNAPSHOT_FILE DEAD_MON_HOST
 */
#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../unit/engine-harness.h"
#include "../unit/open-spec.h"

#define MiB (1024u * 1024u)
#define IMAGE_SIZE (64 * MiB)
#define ROUNDS 40

static const char *mon, *conf;

/* CLOCK_MONOTONIC in seconds. */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The spec of an image of pool rbd, with the cluster's address and extra options. */
static void spec_of(char *buf, size_t len, const char *target, const char *extra)
{
	snprintf(buf, len, "rbd:%s,mon_host=%s%s", target, mon, extra);
}

/* A spec that must not parse, saying word. */
static void refused_parse(const char *text, const char *word)
{
	struct storage_spec spec;
	char err[STORAGE_ERR_LEN] = "";
	int ret = storage_spec_parse(text, &spec, err, sizeof(err));

	CHECK(ret == -EINVAL && strstr(err, word), "spec '%s': %d '%s' (want '%s')", text, ret,
	      err, word);
	if (!ret)
		storage_spec_free(&spec);
}

/* A spec that parses but must not open, saying word (and word2). */
static void refused_open(const char *text, const char *word, const char *word2)
{
	struct storage *disk = NULL;
	char err[STORAGE_ERR_LEN];
	int ret = open_spec(text, &disk, err, sizeof(err));

	CHECK(ret < 0 && strstr(err, word) && (!word2 || strstr(err, word2)),
	      "spec '%s' opened or said the wrong thing: %d '%s' (want '%s' '%s')", text, ret, err,
	      word, word2 ? word2 : "");
	if (!ret)
		storage_close(disk);
}

/* The module's absence and every malformed spec are refused, before any cluster is asked. */
static void test_specs(void)
{
	const char *dir = getenv("BLKBACKD_ENGINE_DIR");
	char *keep = dir ? strdup(dir) : NULL;

	setenv("BLKBACKD_ENGINE_DIR", "/nonexistent", 1);
	refused_parse("rbd:rbd/img", "install the blkbackd-rbd package");
	if (keep)
		setenv("BLKBACKD_ENGINE_DIR", keep, 1);
	else
		unsetenv("BLKBACKD_ENGINE_DIR");
	refused_parse("nosuch:rbd/img", "unknown storage engine 'nosuch'");
	CHECK(storage_engine("rbd") != NULL, "the rbd module does not load from %s", keep ? keep : "the default directory");
	if (storage_engine("rbd"))	/* the accepted forms list the module's, as it says it */
		refused_parse("nosuch:rbd/img", storage_engine("rbd")->usage);
	free(keep);
	refused_parse("rbd:rbd", "POOL/IMAGE");
	refused_parse("rbd:/img", "POOL/IMAGE");
	refused_parse("rbd:rbd/", "POOL/IMAGE");
	refused_parse("rbd:rbd/img@", "POOL/IMAGE");
	refused_parse("rbd:rbd/a/b", "POOL/IMAGE");
	refused_parse("rbd:rbd/img,bogus=1", "bogus=1");
	refused_parse("rbd:rbd/img,conf=relative.conf", "conf=relative.conf");
	refused_parse("rbd:rbd/img,timeout=0", "timeout=0");
	refused_parse("rbd:rbd/img,size=1M", "size=1M");
	refused_parse("rbd:rbd/img,direct", "direct");
	refused_parse("rbd:rbd/img,shared", "shared");
}

/* Opens that the cluster refuses: no pool, no image, no snapshot, no monitor, no lock feature. */
static void test_open_errors(const char *dead_mon)
{
	char spec[512];
	double t0;

	spec_of(spec, sizeof(spec), "nopool/img", "");
	refused_open(spec, "no such pool 'nopool'", NULL);
	spec_of(spec, sizeof(spec), "rbd/nosuch", "");
	refused_open(spec, "no such image", "rbd/nosuch");
	spec_of(spec, sizeof(spec), "rbd/snapimg@nosnap", "");
	refused_open(spec, "no such image or snapshot", "rbd/snapimg@nosnap");
	spec_of(spec, sizeof(spec), "rbd/nolock", "");
	refused_open(spec, "exclusive-lock feature", "rbd/nolock");
	/* Nothing listens there: refused within the timeout asked for, not 300 s. */
	snprintf(spec, sizeof(spec), "rbd:rbd/conf,mon_host=%s,timeout=3", dead_mon);
	t0 = now_s();
	refused_open(spec, "cannot connect to the Ceph cluster", "within 3 s");
	CHECK(now_s() - t0 < 30, "an unreachable monitor took %.1f s to refuse (timeout=3)",
	      now_s() - t0);
	printf("unreachable monitor refused in %.1f s\n", now_s() - t0);
}

/* Size, read-only and caps of a read-write image. */
static void check_caps(struct h_disk *h)
{
	const struct storage *d = h->disk;

	CHECK_U64(d->size, IMAGE_SIZE, "size as opened");
	CHECK(!d->readonly, "opened read-only");
	/* librbd's cache is off: no volatile cache to flush (a flush still works: h_flush). */
	CHECK(!d->caps.flush && d->caps.discard && d->caps.discard_zeroes && !d->caps.secure_discard,
	      "caps: flush %d discard %d zeroes %d secure %d", d->caps.flush, d->caps.discard,
	      d->caps.discard_zeroes, d->caps.secure_discard);
	CHECK_INT(d->caps.sector_size, 512, "sector_size");
	struct storage_poll p = { .fd = -1, .timeout_ms = -1 };

	storage_poll(h->q, &p);
	CHECK(p.fd >= 0 && p.events == POLLIN, "poll: fd %d events %#x", p.fd, p.events);
}

/* Batches of random non-overlapping reads and writes, the last one deep. */
static void random_rounds(struct h_disk *h)
{
	for (int round = 0; round < ROUNDS; round++)
		h_region_round(h, 0, h->model_size, false, round == ROUNDS - 1 ? H_SLOTS : H_BATCH);
}

/* Discard n bytes at off alone, and check it reads back as zeroes. */
static void discard_one(struct h_disk *h, uint64_t off, uint64_t len)
{
	struct h_slot *s = &h->slot[0];

	s->io.op = STORAGE_DISCARD;
	s->io.offset = off;
	s->io.len = len;
	s->io.iov = NULL;
	s->io.iovcnt = 0;
	s->io.secure = false;
	h_run(h, 1);
	memset(h->model + off, 0, len);
	h_verify(h, off > 8192 ? off - 8192 : 0, len + 16384);
}

/*
 * Discards: whole objects, and partial ones down to one sector (librbd skips those
 * unless told not to, and the old data would read back).
 */
static void test_discard(struct h_disk *h)
{
	h_write(h, 4 * MiB, 8 * MiB);
	h_flush(h);
	discard_one(h, 4 * MiB, 4 * MiB);		/* a whole object */
	discard_one(h, 8 * MiB + 4096, 4096);		/* a page inside one */
	discard_one(h, 8 * MiB + 65536 + 512, 512);	/* one sector */
	discard_one(h, 9 * MiB - 3 * 512, 100 * 1024);	/* unaligned, across pages */
	h_flush(h);
}

/* Grow and shrink with resize (what blkbackctl resize does); new space reads as zeroes. */
static void test_resize(struct h_disk *h)
{
	struct storage *disk = h->disk;
	struct h_slot *s = &h->slot[0];
	char err[STORAGE_ERR_LEN] = "";
	int ret = disk->ops->resize(disk, IMAGE_SIZE + MiB, err, sizeof(err));

	CHECK(ret == 0, "grow: %s", err);
	CHECK_U64(disk->size, IMAGE_SIZE + MiB, "size after growing");
	CHECK_U64(storage_size_now(disk), IMAGE_SIZE + MiB, "size_now after growing");
	s->io.op = STORAGE_READ;
	s->io.offset = IMAGE_SIZE + MiB - 8192;
	h_layout_pages(s, 8192);
	memset(s->pages, 0xee, 8192);
	h_run(h, 1);
	CHECK(s->pages[0] == 0 && !memcmp(s->pages, s->pages + 1, 8191),
	      "grown space does not read as zeroes");
	ret = disk->ops->resize(disk, IMAGE_SIZE, err, sizeof(err));
	CHECK(ret == 0, "shrink: %s", err);
	CHECK_U64(disk->size, IMAGE_SIZE, "size after shrinking back");
}

/* Another client resizes the image: the engine says so on the notify fd and in size_now. */
static void test_outside_resize(struct h_disk *h, int efd)
{
	char cmd[1024];
	struct pollfd p = { .fd = efd, .events = POLLIN };
	eventfd_t v;
	int ret;

	eventfd_read(efd, &v);
	snprintf(cmd, sizeof(cmd), "rbd -c %s resize --size %u rbd/conf >/dev/null 2>&1", conf,
		 (IMAGE_SIZE + 4 * MiB) / MiB);
	ret = system(cmd);
	CHECK(ret == 0, "'%s' failed: %d", cmd, ret);
	while (!ret && storage_size_now(h->disk) != IMAGE_SIZE + 4 * MiB) {
		int r = poll(&p, 1, 30000);

		CHECK(r == 1, "no size notification 30 s after rbd resize (size_now %" PRIu64 ")",
		      storage_size_now(h->disk));
		if (r != 1)
			break;
		eventfd_read(efd, &v);
	}
	CHECK_U64(h->disk->size, IMAGE_SIZE, "the disk's size, which the core changes");
	/* Back, with our own resize, as the core would after taking the new size over. */
	h->disk->size = IMAGE_SIZE + 4 * MiB;
	ret = h->disk->ops->resize(h->disk, IMAGE_SIZE, cmd, sizeof(cmd));
	CHECK(ret == 0, "shrink back: %s", cmd);
}

/* A second read-write open of the image is refused, naming it; a read-only one is not. */
static void test_exclusive(struct h_disk *h)
{
	struct storage *ro = NULL;
	char spec[512], err[STORAGE_ERR_LEN];
	double t0 = now_s();
	int ret;

	spec_of(spec, sizeof(spec), "rbd/conf", "");
	refused_open(spec, "rbd/conf", "holds its exclusive lock");
	printf("second writer refused in %.1f s\n", now_s() - t0);
	spec_of(spec, sizeof(spec), "rbd/conf", ",ro");
	ret = open_spec(spec, &ro, err, sizeof(err));
	CHECK(ret == 0, "a read-only open beside the writer: %s", err);
	if (!ret) {
		CHECK(ro->readonly && !ro->caps.discard, "ro: readonly %d discard %d", ro->readonly,
		      ro->caps.discard);
		storage_close(ro);
	}
	h_verify(h, 0, 4 * MiB);	/* the writer still works */
	h_write(h, 0, MiB);
	h_flush(h);
}

/* A snapshot opens read-only and reads what the image held when it was taken. */
static void test_snapshot(const char *file)
{
	struct h_disk h;
	char spec[512], err[STORAGE_ERR_LEN];
	FILE *f = fopen(file, "rb");
	long size;
	int ret;

	CHECK(f != NULL, "cannot open %s", file);
	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	if (h_init(&h, "rbd/snapimg@s1", (uint64_t)size, 7)) {
		fclose(f);
		return;
	}
	CHECK(fread(h.model, 1, (size_t)size, f) == (size_t)size, "cannot read %s", file);
	fclose(f);
	spec_of(spec, sizeof(spec), "rbd/snapimg@s1", "");
	ret = open_spec(spec, &h.disk, err, sizeof(err));
	CHECK(ret == 0, "open %s: %s", spec, err);
	if (!ret) {
		CHECK(h.disk->readonly && !h.disk->caps.discard, "a snapshot is not read-only");
		CHECK_U64(h.disk->size, (uint64_t)size, "snapshot size");
		ret = storage_queue_open(h.disk, &h.q);
		CHECK(ret == 0, "queue_open: %s", strerror(-ret));
		if (!ret) {
			h_verify(&h, 0, h.model_size);
			storage_queue_close(h.q);
		}
		storage_close(h.disk);
	}
	h_free(&h);
}

int main(int argc, char **argv)
{
	char spec[512], err[STORAGE_ERR_LEN];
	struct h_disk h;
	int efd, ret;

	if (argc != 5) {
		fprintf(stderr, "usage: rbd-conformance MON_HOST CONF SNAPSHOT_FILE DEAD_MON_HOST\n");
		return 2;
	}
	mon = argv[1];
	conf = argv[2];
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	storage_set_notify_fd(efd);
	test_specs();
	test_open_errors(argv[4]);
	if (h_init(&h, "rbd/conf", IMAGE_SIZE, 0x9e3779b97f4a7c15ull))
		return 1;
	spec_of(spec, sizeof(spec), "rbd/conf", "");
	ret = open_spec(spec, &h.disk, err, sizeof(err));
	CHECK(ret == 0, "open %s: %s", spec, err);
	if (ret)
		return check_done("rbd-conformance");
	ret = storage_queue_open(h.disk, &h.q);
	CHECK(ret == 0, "queue_open: %s", strerror(-ret));
	if (ret)
		return check_done("rbd-conformance");
	check_caps(&h);
	h_verify(&h, 0, 8 * MiB);	/* a fresh image reads as zeroes */
	random_rounds(&h);
	h_flush(&h);
	test_discard(&h);
	test_resize(&h);
	test_outside_resize(&h, efd);
	test_exclusive(&h);
	storage_queue_close(h.q);
	h.q = NULL;
	h_two_queues(&h);
	ret = storage_queue_open(h.disk, &h.q);
	CHECK(ret == 0, "queue_open: %s", strerror(-ret));
	if (!ret) {
		h_verify(&h, 0, h.model_size);
		storage_queue_close(h.q);
	}
	storage_close(h.disk);
	h_free(&h);
	test_snapshot(argv[3]);
	printf("ops: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64 " flushes, %" PRIu64
	       " discards\n", h.nr[STORAGE_READ], h.nr[STORAGE_WRITE], h.nr[STORAGE_FLUSH],
	       h.nr[STORAGE_DISCARD]);
	close(efd);
	return check_done("rbd-conformance");
}
