/*
 * Unit test: the memory every ramdisk together may allocate (storage/mem.c,
 * blkbackd --mem-limit). A write that would pass the limit fails with ENOSPC
 * and changes nothing; rewriting pages, reading and discarding cost nothing
 * more; discard, shrink and close give pages back; a new ramdisk is refused
 * with a message naming the limit once nothing is left.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../storage/storage.h"
#include "check.h"
#include "open-spec.h"

#define KiB 1024ull
#define MiB (1024 * KiB)
#define LIMIT (1 * MiB)
#define PG (4 * KiB)

static uint8_t buf[LIMIT + 2 * PG];

/* An I/O and its result. */
struct op {
	struct storage_io io;
	int64_t result;
};

/* Completion: note the result. */
static void note(struct storage_io *io, int64_t result)
{
	((struct op *)((char *)io - offsetof(struct op, io)))->result = result;
}

/* Run one I/O on q (the mem engine completes inline); its result. */
static int64_t run(struct storage_queue *q, enum storage_op kind, uint64_t off, uint64_t len)
{
	struct iovec iov = { buf, len };
	struct op op = { .io = { .op = kind, .offset = off, .len = len, .done = note },
			 .result = INT64_MIN };
	const char *why = NULL;

	if (kind == STORAGE_READ || kind == STORAGE_WRITE) {
		op.io.iov = &iov;
		op.io.iovcnt = 1;
	}
	if (storage_submit(q, &op.io, &why)) {
		CHECK(0, "I/O refused: %s", why);
		return INT64_MIN;
	}
	return op.result;
}

/* The kernel's page tables for this process (VmPTE), in KiB; 0 if unreadable. */
static unsigned long long pte_kib(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	unsigned long long kib = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPTE: %llu kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

int main(void)
{
	struct storage *a = NULL, *b = NULL, *c = NULL;
	struct storage_queue *qa = NULL, *qb = NULL;
	char err[512] = "";

	storage_mem_set_limit(LIMIT);
	CHECK_U64(storage_mem_limit(), LIMIT, "limit");
	if (open_spec("mem:size=64M", &a, err, sizeof(err)) ||
	    open_spec("mem:size=64M,name=kept", &b, err, sizeof(err)) ||
	    storage_queue_open(a, &qa) || storage_queue_open(b, &qb)) {
		CHECK(0, "cannot open the ramdisks: %s", err);
		return check_done("test-mem-limit");
	}
	printf("case 1: writes up to the limit, and one past it\n");
	memset(buf, 0x5a, sizeof(buf));
	CHECK_INT(run(qa, STORAGE_WRITE, 0, 256 * KiB), 256 * KiB, "write of 256K");
	CHECK_U64(storage_mem_used(), 256 * KiB, "bytes allocated");
	CHECK_INT(run(qa, STORAGE_WRITE, 0, 256 * KiB), 256 * KiB, "the same write again");
	CHECK_INT(run(qa, STORAGE_READ, 32 * MiB, 64 * KiB), 64 * KiB, "read of unwritten pages");
	CHECK_INT(run(qa, STORAGE_WRITE, 48 * MiB + 512, 512), 512, "512 bytes in a page");
	CHECK_U64(storage_mem_used(), 256 * KiB + PG, "bytes allocated");
	CHECK_INT(run(qb, STORAGE_WRITE, 0, LIMIT - 256 * KiB - PG), LIMIT - 256 * KiB - PG,
		  "another ramdisk fills the rest");
	CHECK_INT(run(qa, STORAGE_WRITE, 8 * MiB, PG), -ENOSPC, "a write past the limit");
	CHECK_INT(run(qb, STORAGE_WRITE, 16 * MiB - 512, 2 * PG), -ENOSPC,
		  "a write past the limit across pages");
	CHECK_U64(storage_mem_used(), LIMIT, "bytes allocated at the limit");
	CHECK_INT(run(qa, STORAGE_READ, 8 * MiB, PG), PG, "reading a refused write's range");
	CHECK(buf[0] == 0 && buf[PG - 1] == 0, "a refused write wrote");
	memset(buf, 0x5a, sizeof(buf));
	CHECK_INT(run(qa, STORAGE_WRITE, 100 * KiB, 100 * KiB), 100 * KiB,
		  "rewriting allocated pages at the limit");

	printf("case 2: a new ramdisk at the limit is refused; a named one comes back\n");
	CHECK(open_spec("mem:size=1M", &c, err, sizeof(err)) == -ENOSPC,
	      "a new ramdisk with no room opened");
	CHECK(strstr(err, "--mem-limit") && strstr(err, "1 MiB"),
	      "the refusal does not name the limit and the option: '%s'", err);
	storage_queue_close(qb);
	storage_close(b);
	qb = NULL;
	CHECK_U64(storage_mem_used(), LIMIT, "a detached named ramdisk keeps its pages");
	CHECK(open_spec("mem:name=kept", &b, err, sizeof(err)) == 0,
	      "the named ramdisk could not come back: %s", err);

	printf("case 3: discard and shrink give pages back\n");
	CHECK_INT(run(qa, STORAGE_DISCARD, 0, 128 * KiB + 100), 128 * KiB + 100, "discard");
	CHECK_U64(storage_mem_used(), LIMIT - 128 * KiB, "bytes after the discard");
	CHECK_INT(run(qa, STORAGE_DISCARD, 40 * MiB, 1 * MiB), 1 * MiB,
		  "discard of pages never written");
	CHECK_U64(storage_mem_used(), LIMIT - 128 * KiB, "bytes after discarding nothing");
	CHECK_INT(run(qa, STORAGE_WRITE, 2 * MiB, 128 * KiB), 128 * KiB, "a write in the room");
	CHECK(a->ops->resize(a, 32 * MiB, err, sizeof(err)) == 0, "shrink: %s", err);
	CHECK_U64(storage_mem_used(), LIMIT - PG, "bytes after shrinking past a page");
	CHECK(a->ops->resize(a, 64 * MiB, err, sizeof(err)) == 0, "grow: %s", err);
	CHECK_INT(run(qa, STORAGE_WRITE, 60 * MiB, PG), PG, "a write in the grown space");
	CHECK_U64(storage_mem_used(), LIMIT, "bytes after writing the grown space");

	printf("case 4: closing an anonymous ramdisk gives its pages back\n");
	storage_queue_close(qa);
	storage_close(a);
	CHECK(storage_mem_used() > 0 && storage_mem_used() < LIMIT,
	      "bytes after close: %llu", (unsigned long long)storage_mem_used());
	CHECK(open_spec("mem:size=1M", &c, err, sizeof(err)) == 0, "a new ramdisk: %s", err);
	storage_close(c);

	/*
	 * A shrink to inside a page keeps that page (and its count); the bytes past the new
	 * end are dropped all the same, so that space grown again reads as zeroes.
	 */
	printf("case 5: a shrink inside a page, then a grow: the grown bytes read as zeroes\n");
	c = NULL;
	if (open_spec("mem:size=64K", &c, err, sizeof(err)) || storage_queue_open(c, &qa)) {
		CHECK(0, "cannot open a ramdisk: %s", err);
	} else {
		size_t nonzero = 0;

		memset(buf, 0x5a, PG);
		CHECK_INT(run(qa, STORAGE_WRITE, 0, PG), PG, "a page written");
		CHECK(c->ops->resize(c, 512, err, sizeof(err)) == 0, "shrink to 512: %s", err);
		CHECK(c->ops->resize(c, 64 * KiB, err, sizeof(err)) == 0, "grow: %s", err);
		memset(buf, 0xff, PG);
		CHECK_INT(run(qa, STORAGE_READ, 0, PG), PG, "reading the page back");
		CHECK(buf[0] == 0x5a && buf[511] == 0x5a, "the bytes kept by the shrink changed");
		for (size_t i = 512; i < PG; i++)
			nonzero += buf[i] != 0;
		CHECK(nonzero == 0, "%zu bytes past the shrink's end came back after the grow",
		      nonzero);
		storage_queue_close(qa);
	}
	storage_close(c);

	/*
	 * Reading never-written space costs nothing either: not a page, and not the page
	 * tables that mapping the zero page into it would take (4 KiB for every 2 MiB,
	 * 2 GiB for a 1 TiB ramdisk read through), which --mem-limit does not count.
	 */
	printf("case 6: reading 1 GiB never written takes no page tables\n");
	c = NULL;
	if (open_spec("mem:size=16G", &c, err, sizeof(err)) || storage_queue_open(c, &qa)) {
		CHECK(0, "cannot open a ramdisk: %s", err);
	} else {
		unsigned long long before = pte_kib(), after;
		uint64_t used = storage_mem_used();
		size_t nonzero = 0;

		CHECK(before > 0, "no VmPTE in /proc/self/status");
		memset(buf, 0xff, MiB);
		for (uint64_t off = 0; off < 1024 * MiB; off += MiB)
			CHECK_INT(run(qa, STORAGE_READ, 4 * 1024 * MiB + off, MiB), MiB,
				  "reading unwritten space");
		for (size_t i = 0; i < MiB; i++)
			nonzero += buf[i] != 0;
		CHECK(nonzero == 0, "%zu bytes of unwritten space read as other than 0", nonzero);
		after = pte_kib();
		CHECK(after < before + 256, "page tables grew from %llu to %llu KiB reading "
		      "unwritten space", before, after);
		CHECK_U64(storage_mem_used(), used, "bytes allocated after reading");
		storage_queue_close(qa);
	}
	storage_close(c);
	storage_close(b);
	return check_done("test-mem-limit");
}
