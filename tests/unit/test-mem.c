/* Unit test: the mem storage engine through storage_open/queue_open/submit/close. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../storage/storage.h"
#include "check.h"
#include "open-spec.h"
#include "storage-op.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* Never a real disk: a failed open must leave the caller's pointer at it. */
static struct storage sentinel;

/* Run one I/O of len bytes to completion and check done was called exactly once with len. */
static int64_t run_op(struct storage_queue *q, enum storage_op kind, uint64_t offset, uint64_t len,
		      const struct iovec *iov, int iovcnt, const char *what)
{
	struct op op;
	const char *why = NULL;

	memset(&op, 0, sizeof(op));
	op.io.op = kind;
	op.io.offset = offset;
	op.io.len = len;
	op.io.iov = iov;
	op.io.iovcnt = iovcnt;
	op.io.done = op_done;
	op.result = INT64_MIN;
	CHECK(storage_submit(q, &op.io, &why) == 0, "%s: refused: %s", what, why);
	/* The mem engine has no reap: completion is inline. */
	CHECK(op.calls == 1, "%s: done called %d times, want once", what, op.calls);
	CHECK(op.result == (int64_t)len, "%s: result %lld, want %llu", what,
	      (long long)op.result, (unsigned long long)len);
	return op.result;
}

/* Run one read or write over the iovecs (a flush with none). */
static int64_t run_io(struct storage_queue *q, enum storage_op kind, uint64_t offset,
		      const struct iovec *iov, int iovcnt, const char *what)
{
	uint64_t len = 0;

	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	return run_op(q, kind, offset, len, iov, iovcnt, what);
}

/* Open a spec that must open. */
static struct storage *must_open(const char *text)
{
	struct storage *disk = NULL;
	char err[256] = "";
	int ret = open_spec(text, &disk, err, sizeof(err));

	CHECK(ret == 0 && disk, "open '%s': %d: %s", text, ret, err);
	return ret ? NULL : disk;
}

/* Open a queue on an open disk (NULL gives NULL); it must open. */
static struct storage_queue *must_queue(struct storage *disk)
{
	struct storage_queue *q = NULL;
	int ret;

	if (!disk)
		return NULL;
	ret = storage_queue_open(disk, &q);
	CHECK(ret == 0 && q, "queue_open: %d", ret);
	return ret ? NULL : q;
}

/* Close a queue, then its disk; either may be NULL. */
static void close_both(struct storage_queue *q, struct storage *disk)
{
	storage_queue_close(q);
	storage_close(disk);
}

/* A deterministic pseudo-random sequence (xorshift64). */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Fill a buffer with bytes derived from a seed. */
static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(rnd(&seed) >> 24);
}

/* Split len bytes of buf into up to max iovecs of pseudo-random lengths; returns the count. */
static int split(uint8_t *buf, size_t len, struct iovec *iov, int max, uint64_t *s)
{
	int n = 0;

	while (len && n < max - 1) {
		size_t l = 1 + rnd(s) % len;

		iov[n].iov_base = buf;
		iov[n].iov_len = l;
		buf += l;
		len -= l;
		n++;
	}
	if (len) {
		iov[n].iov_base = buf;
		iov[n].iov_len = len;
		n++;
	}
	return n;
}

/* Whether n bytes at p are all zero. */
static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Read the whole disk and compare with the model. */
static void check_against_model(struct storage_queue *q, const uint8_t *model, size_t size,
				const char *what)
{
	uint8_t *buf = malloc(size);
	struct iovec iov[3];

	CHECK(buf != NULL, "malloc");
	if (!buf)
		return;
	memset(buf, 0x5c, size);
	iov[0] = (struct iovec){ buf, 512 };
	iov[1] = (struct iovec){ buf + 512, size / 2 - 512 };
	iov[2] = (struct iovec){ buf + size / 2, size / 2 };
	run_io(q, STORAGE_READ, 0, iov, 3, what);
	for (size_t i = 0; i < size; i++)
		if (buf[i] != model[i]) {
			CHECK(0, "%s: byte %zu is 0x%02x, want 0x%02x", what, i, buf[i], model[i]);
			break;
		}
	free(buf);
}

/* A fresh ramdisk has the declared size and caps, and reads as zeroes. */
static void test_fresh(void)
{
	struct storage *disk = must_open("mem:size=1M");
	struct storage_queue *q = must_queue(disk);
	uint8_t *buf = malloc(MiB);
	struct iovec iov;

	if (!q || !buf)
		goto out;
	CHECK_U64(disk->size, MiB, "size");
	CHECK(!disk->readonly, "readonly");
	CHECK_INT(disk->caps.sector_size, 512, "sector_size");
	CHECK_INT(disk->caps.physical_sector_size, 512, "physical_sector_size");
	CHECK(!disk->caps.flush, "a ramdisk has no volatile cache");
	CHECK(disk->ops == &storage_mem_ops, "ops");
	memset(buf, 0xff, MiB);
	iov = (struct iovec){ buf, MiB };
	{
		struct storage_poll sp;

		storage_poll(q, &sp);
		CHECK(sp.fd == -1 && sp.timeout_ms == -1,
		      "a ramdisk completes inline: no fd to poll, no timeout");
	}
	run_io(q, STORAGE_READ, 0, &iov, 1, "read whole fresh disk");
	CHECK(all_zero(buf, MiB), "a fresh ramdisk does not read as zeroes");
out:
	free(buf);
	close_both(q, disk);
}

/* Writes of many shapes read back equal; everything else stays zero. */
static void test_patterns(void)
{
	const size_t size = 4 * MiB;
	struct storage *disk = must_open("mem:size=4M");
	struct storage_queue *q = must_queue(disk);
	uint8_t *model = calloc(1, size), *wbuf = malloc(64 * 1024), *rbuf = malloc(64 * 1024);
	struct iovec iov[16];
	uint64_t s = 0x9e3779b97f4a7c15ull;
	char what[96];

	if (!q || !model || !wbuf || !rbuf)
		goto out;

	/* Fixed edges: first sector, a 4 KiB page crossing, the last 4 KiB, the last sector. */
	static const struct { uint64_t off; size_t len; } edges[] = {
		{ 0, 512 }, { 4096 - 512, 1024 }, { 4 * MiB - 4096, 4096 }, { 4 * MiB - 512, 512 },
		{ 1 * MiB + 512, 45056 },
	};
	for (size_t e = 0; e < sizeof(edges) / sizeof(edges[0]); e++) {
		int n;

		fill(wbuf, edges[e].len, 1000 + e);
		memcpy(model + edges[e].off, wbuf, edges[e].len);
		n = split(wbuf, edges[e].len, iov, 4, &s);
		snprintf(what, sizeof(what), "write %zu at %llu", edges[e].len,
			 (unsigned long long)edges[e].off);
		run_io(q, STORAGE_WRITE, edges[e].off, iov, n, what);
		memset(rbuf, 0xee, edges[e].len);
		n = split(rbuf, edges[e].len, iov, 5, &s);
		run_io(q, STORAGE_READ, edges[e].off, iov, n, what);
		CHECK(!memcmp(rbuf, wbuf, edges[e].len), "%s: read back differs", what);
	}

	/* Many pseudo-random writes, 512-byte aligned like the core sends them. */
	for (int k = 0; k < 300; k++) {
		size_t len = 512 * (1 + rnd(&s) % 88);		/* up to 11 pages */
		uint64_t off = 512 * (rnd(&s) % ((size - len) / 512 + 1));
		int n;

		fill(wbuf, len, (uint64_t)k * 7919 + 1);
		memcpy(model + off, wbuf, len);
		n = split(wbuf, len, iov, 1 + (int)(rnd(&s) % 11), &s);
		snprintf(what, sizeof(what), "random write %d (%zu at %llu, %d iovecs)", k, len,
			 (unsigned long long)off, n);
		run_io(q, STORAGE_WRITE, off, iov, n, what);
		if (k % 10 == 0) {
			/* Read back an overlapping window against the model. */
			uint64_t roff = off >= 8192 ? off - 8192 : 0;
			size_t rlen = 16384 + len;

			if (roff + rlen > size)
				rlen = size - roff;
			n = split(rbuf, rlen, iov, 16, &s);
			run_io(q, STORAGE_READ, roff, iov, n, what);
			CHECK(!memcmp(rbuf, model + roff, rlen), "%s: window read differs", what);
		}
	}
	check_against_model(q, model, size, "whole disk after random writes");
out:
	free(model);
	free(wbuf);
	free(rbuf);
	close_both(q, disk);
}

/* A flush completes at once with 0. */
static void test_flush(void)
{
	struct storage *disk = must_open("mem:size=64K");
	struct storage_queue *q = must_queue(disk);

	if (q)
		CHECK_INT(run_io(q, STORAGE_FLUSH, 0, NULL, 0, "flush"), 0, "flush result");
	close_both(q, disk);
}

/* A read-only ramdisk says so and still reads. */
static void test_readonly(void)
{
	struct storage *disk = must_open("mem:size=64K,ro");
	struct storage_queue *q = must_queue(disk);
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };

	if (!q)
		goto out;
	CHECK(disk->readonly, "ro spec gave a writable disk");
	memset(buf, 1, sizeof(buf));
	run_io(q, STORAGE_READ, 60 * 1024, &iov, 1, "read on read-only");
	CHECK(all_zero(buf, sizeof(buf)), "read-only read not zero");
out:
	close_both(q, disk);
}

/* Submit io expecting the engine contract to refuse it (not abort), and done not called. */
static void expect_refused(struct storage_queue *q, struct storage_io *io, const char *what)
{
	const char *why = NULL;
	int ret = storage_submit(q, io, &why);

	CHECK(ret == -EINVAL, "%s: storage_submit returned %d, want -EINVAL", what, ret);
	CHECK(why && *why, "%s: no broken rule named", what);
	if (why)
		printf("  %s: refused: %s\n", what, why);
}

/*
 * I/Os that break the engine contract are refused by storage_submit, which
 * returns the error (for the ring to halt) instead of aborting the daemon.
 */
static void test_contract(void)
{
	struct storage *disk = must_open("mem:size=64K,ro");
	struct storage_queue *q = must_queue(disk);
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct op op;

	if (!q)
		goto out;
	memset(&op, 0, sizeof(op));
	op.io = (struct storage_io){ .op = STORAGE_READ, .offset = 64 * 1024, .len = 4096,
				     .iov = &iov, .iovcnt = 1, .done = op_done };
	expect_refused(q, &op.io, "read past the end");
	op.io.offset = UINT64_MAX - 100;
	expect_refused(q, &op.io, "read whose range wraps");
	op.io.offset = 0;
	op.io.len = 8192;
	expect_refused(q, &op.io, "len beyond the iovecs");
	op.io.len = 4096;
	op.io.op = STORAGE_WRITE;
	expect_refused(q, &op.io, "write to a read-only disk");
	op.io.op = STORAGE_READ;
	op.io.done = NULL;
	expect_refused(q, &op.io, "no done callback");
	op.io.done = op_done;
	op.io.len = 0;
	op.io.iov = NULL;
	op.io.iovcnt = 0;
	expect_refused(q, &op.io, "empty read");
	CHECK_INT(op.calls, 0, "done calls for refused I/Os");
	/* The disk still serves a good I/O. */
	run_io(q, STORAGE_READ, 0, &iov, 1, "read after refusals");
out:
	close_both(q, disk);
}

/* Resident set size of this process in bytes, or 0 if /proc is unreadable. */
static uint64_t rss_bytes(void)
{
	unsigned long long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	return n == 2 ? resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* A huge ramdisk costs only the pages written to it. */
static void test_sparse(void)
{
	static const char *const specs[] = { "mem:size=64G", "mem:size=1G" };
	struct storage *disk = NULL;
	struct storage_queue *q;
	uint8_t wbuf[4096], rbuf[4096];
	struct iovec iov;
	uint64_t before, after;
	char err[256];
	int ret = -1;

	before = rss_bytes();
	CHECK(before != 0, "cannot read the RSS from /proc/self/statm");
	for (size_t i = 0; i < 2 && ret; i++) {
		ret = open_spec(specs[i], &disk, err, sizeof(err));
		if (ret)
			fprintf(stderr, "note: '%s' did not open (%s); trying smaller\n",
				specs[i], err);
	}
	CHECK(ret == 0, "no sparse ramdisk opened: %s", err);
	if (ret)
		return;
	CHECK(disk->size >= GiB, "size %llu", (unsigned long long)disk->size);
	q = must_queue(disk);
	if (!q) {
		storage_close(disk);
		return;
	}

	const uint64_t offs[] = { 0, disk->size / 2 + 4096, disk->size - 4096 };
	for (size_t i = 0; i < 3; i++) {
		fill(wbuf, sizeof(wbuf), 77 + i);
		iov = (struct iovec){ wbuf, sizeof(wbuf) };
		run_io(q, STORAGE_WRITE, offs[i], &iov, 1, "sparse write");
		memset(rbuf, 0, sizeof(rbuf));
		iov = (struct iovec){ rbuf, sizeof(rbuf) };
		run_io(q, STORAGE_READ, offs[i], &iov, 1, "sparse read");
		CHECK(!memcmp(rbuf, wbuf, sizeof(wbuf)), "sparse read-back at %llu differs",
		      (unsigned long long)offs[i]);
	}
	/* Unwritten space between the written pages reads as zeroes. */
	memset(rbuf, 0xff, sizeof(rbuf));
	iov = (struct iovec){ rbuf, sizeof(rbuf) };
	run_io(q, STORAGE_READ, disk->size / 4, &iov, 1, "sparse read of a hole");
	CHECK(all_zero(rbuf, sizeof(rbuf)), "a hole in the sparse disk is not zero");

	after = rss_bytes();
	CHECK(after != 0 && after < before + 16 * MiB,
	      "RSS grew from %llu to %llu bytes for a %llu-byte ramdisk with 12 KiB written",
	      (unsigned long long)before, (unsigned long long)after,
	      (unsigned long long)disk->size);
	close_both(q, disk);
}

/* Named ramdisks outlive close, are exclusive while open, and keep their size. */
static void test_named(void)
{
	struct storage *disk, *other;
	struct storage_queue *q;
	uint8_t wbuf[8192], rbuf[8192];
	struct iovec iov[2];
	char err[256];
	int ret;

	disk = must_open("mem:size=1M,name=t1");
	q = must_queue(disk);
	if (!q) {
		storage_close(disk);
		return;
	}
	fill(wbuf, sizeof(wbuf), 4242);
	iov[0] = (struct iovec){ wbuf, 1000 };
	iov[1] = (struct iovec){ wbuf + 1000, sizeof(wbuf) - 1000 };
	run_io(q, STORAGE_WRITE, 12288, iov, 2, "write to t1");

	/* Exclusive while attached, with or without a size. */
	strcpy(err, "stale");
	other = &sentinel;
	ret = open_spec("mem:size=1M,name=t1", &other, err, sizeof(err));
	CHECK_INT(ret, -EBUSY, "second open of t1");
	CHECK(strstr(err, "t1") != NULL, "EBUSY message does not name the ramdisk: '%s'", err);
	CHECK(other == &sentinel, "disk pointer written by a failed open");
	strcpy(err, "stale");
	ret = open_spec("mem:name=t1", &other, err, sizeof(err));
	CHECK_INT(ret, -EBUSY, "second open of t1 without size");
	CHECK(strstr(err, "t1") != NULL, "EBUSY message does not name the ramdisk: '%s'", err);

	/* Another name is another disk. */
	other = must_open("mem:size=1M,name=t2");
	if (other) {
		struct storage_queue *oq = must_queue(other);

		memset(rbuf, 0xff, sizeof(rbuf));
		iov[0] = (struct iovec){ rbuf, sizeof(rbuf) };
		if (oq)
			run_io(oq, STORAGE_READ, 12288, iov, 1, "read t2");
		CHECK(all_zero(rbuf, sizeof(rbuf)), "t2 sees t1's data");
		close_both(oq, other);
	}
	close_both(q, disk);

	/* Reopen without a size: same size, same bytes. */
	disk = must_open("mem:name=t1");
	q = must_queue(disk);
	if (q) {
		CHECK_U64(disk->size, MiB, "reopened t1 size");
		memset(rbuf, 0, sizeof(rbuf));
		iov[0] = (struct iovec){ rbuf, 4096 };
		iov[1] = (struct iovec){ rbuf + 4096, 4096 };
		run_io(q, STORAGE_READ, 12288, iov, 2, "read reopened t1");
		CHECK(!memcmp(rbuf, wbuf, sizeof(wbuf)), "t1 lost its data across close/open");
	}
	close_both(q, disk);

	/* A different size is refused and named; the same size is fine. */
	strcpy(err, "stale");
	ret = open_spec("mem:size=2M,name=t1", &other, err, sizeof(err));
	CHECK(ret < 0, "reopen of t1 with another size succeeded");
	CHECK(strstr(err, "t1") != NULL, "size-mismatch message does not name it: '%s'", err);
	if (!ret)
		storage_close(other);
	disk = must_open("mem:size=1M,name=t1,ro");
	q = must_queue(disk);
	if (q) {
		CHECK(disk->readonly, "t1 reopened ro is not read-only");
		memset(rbuf, 0, sizeof(rbuf));
		iov[0] = (struct iovec){ rbuf, sizeof(rbuf) };
		run_io(q, STORAGE_READ, 12288, iov, 1, "read t1 reopened with its size");
		CHECK(!memcmp(rbuf, wbuf, sizeof(wbuf)), "t1 lost its data (reopened with size)");
	}
	close_both(q, disk);

	/* A name that was never created, with no size to create it. */
	strcpy(err, "stale");
	other = &sentinel;
	ret = open_spec("mem:name=unknown", &other, err, sizeof(err));
	CHECK(ret < 0, "opening a ramdisk that does not exist succeeded");
	CHECK(strstr(err, "unknown") != NULL, "message does not name the ramdisk: '%s'", err);
	CHECK(other == &sentinel, "disk pointer written by a failed open");
	if (!ret)
		storage_close(other);
}

/* An open that fails in the engine still leaves a message. */
static void test_open_error(void)
{
	struct storage *disk = &sentinel;
	char err[256];
	int ret;

	strcpy(err, "stale");
	/* 2^62 bytes: more than any x86-64 or arm64 address space can map. */
	ret = open_spec("mem:size=4194304T", &disk, err, sizeof(err));
	CHECK(ret < 0, "a 4 EiB ramdisk opened");
	CHECK(err[0] != '\0' && strcmp(err, "stale"), "no message for a failed open: '%s'", err);
	CHECK(disk == &sentinel, "disk pointer written by a failed open");
	if (!ret)
		storage_close(disk);
	storage_close(NULL);	/* NULL is fine */
}

/* Run every case. */
/* Discard one range; done must be called once with its length. */
static void run_discard(struct storage_queue *q, uint64_t offset, uint64_t len, const char *what)
{
	run_op(q, STORAGE_DISCARD, offset, len, NULL, 0, what);
}

/* Discard zeroes the range (partial pages too), leaves the rest, and gives memory back. */
static void test_discard(void)
{
	const size_t size = 64u << 20;
	struct storage *disk = must_open("mem:size=64M");
	struct storage_queue *q = must_queue(disk);
	uint8_t *model = calloc(1, size), *buf = malloc(1u << 20);
	struct iovec iov;
	uint64_t before, after;

	if (!q || !model || !buf)
		goto out;
	CHECK(disk->caps.discard && disk->caps.discard_zeroes, "a ramdisk offers discard");
	CHECK(disk->caps.discard_granularity >= 512, "discard granularity %u",
	      disk->caps.discard_granularity);
	for (size_t off = 0; off < size; off += 1u << 20) {
		fill(buf, 1u << 20, off);
		memcpy(model + off, buf, 1u << 20);
		iov.iov_base = buf;
		iov.iov_len = 1u << 20;
		run_io(q, STORAGE_WRITE, off, &iov, 1, "fill before discard");
	}
	before = rss_bytes();
	/* Unaligned at both ends: 512 bytes into a page to 1536 bytes into another. */
	run_discard(q, 4096 + 512, (48u << 20) + 1024, "discard 48 MiB");
	memset(model + 4096 + 512, 0, (48u << 20) + 1024);
	run_discard(q, size - 512, 512, "discard the last sector");
	memset(model + size - 512, 0, 512);
	run_discard(q, 1024, 1024, "discard inside one page");
	memset(model + 1024, 0, 1024);
	after = rss_bytes();
	CHECK(after + (40u << 20) < before, "RSS went from %llu to %llu: discard freed nothing",
	      (unsigned long long)before, (unsigned long long)after);
	check_against_model(q, model, size, "after discards");
out:
	close_both(q, disk);
	free(model);
	free(buf);
}

/* The kernel's transparent huge page size if it gives them to madvise'd memory, else 0. */
static uint64_t thp_size(void)
{
	char mode[128] = "";
	unsigned long long size = 0;
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");

	if (f) {
		if (!fgets(mode, sizeof(mode), f))
			mode[0] = '\0';
		fclose(f);
	}
	f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "re");
	if (f) {
		if (fscanf(f, "%llu", &size) != 1)
			size = 0;
		fclose(f);
	}
	return strstr(mode, "[always]") || strstr(mode, "[madvise]") ? size : 0;
}

/*
 * "huge": a ramdisk whose unit is a huge page. A 4 KiB write allocates (and counts) a
 * whole huge page, a second write in it nothing more; discard inside a huge page zeroes
 * the bytes and keeps the page, of a whole one gives it back; the bytes always match a
 * model. Where the kernel gives no huge pages the open fails, saying so.
 */
static void test_huge(void)
{
	const size_t size = 16u << 20;
	uint64_t unit = thp_size(), used0;
	struct storage *disk = NULL;
	struct storage_queue *q;
	uint8_t *model = calloc(1, size), *buf = malloc(64 << 10);
	struct iovec iov;
	char err[256] = "";

	struct storage_spec spec;

	CHECK(storage_spec_parse("mem:size=16M,huge=1", &spec, err, sizeof(err)) == -EINVAL &&
	      strstr(err, "huge=1"), "huge=1 refused: %s", err);
	storage_spec_free(&spec);
	used0 = storage_mem_used();
	if (!unit) {
		CHECK(open_spec("mem:size=16M,huge", &disk, err, sizeof(err)) == -EOPNOTSUPP &&
		      strstr(err, "transparent huge pages"), "huge without THP: %s", err);
		printf("test-mem: this kernel gives no transparent huge pages: only the refusal checked\n");
		goto out;
	}
	disk = must_open("mem:size=16M,huge");
	q = must_queue(disk);
	if (!q || !model || !buf)
		goto out;
	CHECK(disk->caps.discard_granularity == unit, "huge: discard granularity %u, want %llu",
	      disk->caps.discard_granularity, (unsigned long long)unit);
	fill(buf, 4096, 1);
	iov = (struct iovec){ buf, 4096 };
	run_io(q, STORAGE_WRITE, unit + 8192, &iov, 1, "huge: 4 KiB write");
	memcpy(model + unit + 8192, buf, 4096);
	CHECK(storage_mem_used() - used0 == unit, "huge: a 4 KiB write counts %llu bytes, want %llu",
	      (unsigned long long)(storage_mem_used() - used0), (unsigned long long)unit);
	fill(buf, 4096, 2);
	run_io(q, STORAGE_WRITE, 2 * unit - 4096, &iov, 1, "huge: a second write, same huge page");
	memcpy(model + 2 * unit - 4096, buf, 4096);
	CHECK(storage_mem_used() - used0 == unit, "huge: a second write in it counts %llu, want %llu",
	      (unsigned long long)(storage_mem_used() - used0), (unsigned long long)unit);
	/* A write across two huge pages (the 3rd and 4th), 64 KiB. */
	fill(buf, 64 << 10, 3);
	iov.iov_len = 64 << 10;
	run_io(q, STORAGE_WRITE, 3 * unit - (32 << 10), &iov, 1, "huge: write across two");
	memcpy(model + 3 * unit - (32 << 10), buf, 64 << 10);
	CHECK(storage_mem_used() - used0 == 3 * unit, "huge: three huge pages count %llu, want %llu",
	      (unsigned long long)(storage_mem_used() - used0), (unsigned long long)(3 * unit));
	run_discard(q, unit + 8192, 4096, "huge: discard 4 KiB inside a huge page");
	memset(model + unit + 8192, 0, 4096);
	CHECK(storage_mem_used() - used0 == 3 * unit, "huge: a partial discard gave memory back");
	run_discard(q, unit - 512, unit + 1024, "huge: discard a whole huge page and edges");
	memset(model + unit - 512, 0, unit + 1024);
	CHECK(storage_mem_used() - used0 == 2 * unit, "huge: after discarding one, %llu counted, want %llu",
	      (unsigned long long)(storage_mem_used() - used0), (unsigned long long)(2 * unit));
	check_against_model(q, model, size, "huge: after writes and discards");
	close_both(q, disk);
	disk = NULL;
	CHECK(storage_mem_used() == used0, "huge: close gave back all but %llu bytes",
	      (unsigned long long)(storage_mem_used() - used0));
out:
	storage_close(disk);
	free(model);
	free(buf);
}

int main(void)
{
	test_huge();
	test_discard();
	test_fresh();
	test_patterns();
	test_flush();
	test_readonly();
	test_contract();
	test_sparse();
	test_named();
	test_open_error();
	return check_done("test-mem");
}
