/* Unit test: the three blkif ring layouts, request translation and responses. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../blkback/abi.h"
#include "../../blkback/parse.h"
#include "check.h"

#define PAGE 4096u
#define RING_OFFSET 64u		/* where ring[] starts in every sring */
#define CANARY 0xa5

/* Byte offsets of one request layout, as the Xen ABI documents them. */
struct layout {
	const char *name;
	enum blkif_abi abi;
	size_t req_size, id_off, sector_off, seg_off;
	size_t rsp_size;	/* id at 0, operation at 8, status at 10 */
};

static const struct layout x86_32 = { "x86_32", BLKIF_ABI_X86_32, 108, 4, 12, 20, 12 };
static const struct layout x86_64 = { "x86_64", BLKIF_ABI_X86_64, 112, 8, 16, 24, 16 };

/* The native layout, read off the public header. */
static struct layout native_layout(void)
{
	struct layout l = {
		"native", BLKIF_ABI_NATIVE, sizeof(blkif_request_t),
		offsetof(blkif_request_t, id), offsetof(blkif_request_t, sector_number),
		offsetof(blkif_request_t, seg), sizeof(blkif_response_t),
	};
	return l;
}

/* Store a little-endian integer of n bytes at p. */
static void put_le(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Load a little-endian integer of n bytes from p. */
static uint64_t get_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* A request as the test means it, independent of any layout. */
struct want {
	uint8_t op, nseg;
	uint16_t handle;
	uint64_t id, sector;
	uint32_t gref[BLKIF_MAX_SEGMENTS_PER_REQUEST];
	uint8_t first[BLKIF_MAX_SEGMENTS_PER_REQUEST], last[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

/* Make a request with distinctive values in every field, seeded by k. */
static struct want mkwant(unsigned int k, uint8_t nseg)
{
	struct want w;

	memset(&w, 0, sizeof(w));
	w.op = (uint8_t)(k % 4);
	w.nseg = nseg;
	w.handle = (uint16_t)(0xca00 + k);
	w.id = 0x0102030405060708ull * (k + 1) ^ 0x8000000000000000ull;
	w.sector = 0x1122334455667788ull + k;
	for (unsigned int i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		w.gref[i] = 0xd0000000u + k * 0x100u + i;
		w.first[i] = (uint8_t)(i % 8);
		w.last[i] = (uint8_t)(7 - (k + i) % 3);
	}
	return w;
}

/* Write a request into a raw slot, field by field at the layout's offsets. */
static void encode(const struct layout *l, uint8_t *slot, const struct want *w)
{
	slot[0] = w->op;
	slot[1] = w->nseg;
	put_le(slot + 2, w->handle, 2);
	put_le(slot + l->id_off, w->id, 8);
	put_le(slot + l->sector_off, w->sector, 8);
	for (unsigned int i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		uint8_t *s = slot + l->seg_off + 8 * i;

		put_le(s, w->gref[i], 4);
		s[4] = w->first[i];
		s[5] = w->last[i];
	}
}

/* Check a translated native request against what was encoded. */
static void check_req(const char *what, const blkif_request_t *got, const struct want *w)
{
	unsigned int n = w->nseg < BLKIF_MAX_SEGMENTS_PER_REQUEST ? w->nseg
								  : BLKIF_MAX_SEGMENTS_PER_REQUEST;

	CHECK_INT(got->operation, w->op, what);
	CHECK_INT(got->nr_segments, w->nseg, what);
	CHECK_INT(got->handle, w->handle, what);
	CHECK_U64(got->id, w->id, what);
	CHECK_U64(got->sector_number, w->sector, what);
	for (unsigned int i = 0; i < n; i++)
		CHECK(got->seg[i].gref == w->gref[i] && got->seg[i].first_sect == w->first[i] &&
		      got->seg[i].last_sect == w->last[i],
		      "%s: seg[%u] = {%u, %u, %u}, want {%u, %u, %u}", what, i,
		      got->seg[i].gref, got->seg[i].first_sect, got->seg[i].last_sect,
		      w->gref[i], w->first[i], w->last[i]);
	/* Segments the request does not use are not copied: no stale bytes leak in. */
	for (unsigned int i = n; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
		CHECK(got->seg[i].gref == 0 && got->seg[i].first_sect == 0 &&
		      got->seg[i].last_sect == 0, "%s: unused seg[%u] not zero", what, i);
}

/* The guest layouts have the sizes and offsets the Xen ABI fixes. */
static void test_layouts(void)
{
	CHECK_INT(sizeof(struct blkif_x86_32_request), 108, "x86_32 request size");
	CHECK_INT(offsetof(struct blkif_x86_32_request, operation), 0, "x86_32 operation");
	CHECK_INT(offsetof(struct blkif_x86_32_request, nr_segments), 1, "x86_32 nr_segments");
	CHECK_INT(offsetof(struct blkif_x86_32_request, handle), 2, "x86_32 handle");
	CHECK_INT(offsetof(struct blkif_x86_32_request, id), 4, "x86_32 id");
	CHECK_INT(offsetof(struct blkif_x86_32_request, sector_number), 12, "x86_32 sector");
	CHECK_INT(offsetof(struct blkif_x86_32_request, seg), 20, "x86_32 seg");
	CHECK_INT(sizeof(struct blkif_x86_32_response), 12, "x86_32 response size");
	CHECK_INT(offsetof(struct blkif_x86_32_response, operation), 8, "x86_32 rsp operation");
	CHECK_INT(offsetof(struct blkif_x86_32_response, status), 10, "x86_32 rsp status");

	CHECK_INT(sizeof(struct blkif_x86_64_request), 112, "x86_64 request size");
	CHECK_INT(offsetof(struct blkif_x86_64_request, handle), 2, "x86_64 handle");
	CHECK_INT(offsetof(struct blkif_x86_64_request, id), 8, "x86_64 id");
	CHECK_INT(offsetof(struct blkif_x86_64_request, sector_number), 16, "x86_64 sector");
	CHECK_INT(offsetof(struct blkif_x86_64_request, seg), 24, "x86_64 seg");
	CHECK_INT(sizeof(struct blkif_x86_64_response), 16, "x86_64 response size");
	CHECK_INT(offsetof(struct blkif_x86_64_response, operation), 8, "x86_64 rsp operation");
	CHECK_INT(offsetof(struct blkif_x86_64_response, status), 10, "x86_64 rsp status");

	CHECK_INT(sizeof(struct blkif_request_segment), 8, "segment size");
	CHECK_INT(sizeof(union blkif_x86_32_sring_entry), 108, "x86_32 slot size");
	CHECK_INT(sizeof(union blkif_x86_64_sring_entry), 112, "x86_64 slot size");
	CHECK_INT(offsetof(struct blkif_x86_32_sring, ring), RING_OFFSET, "x86_32 ring offset");
	CHECK_INT(offsetof(struct blkif_x86_64_sring, ring), RING_OFFSET, "x86_64 ring offset");
	CHECK_INT(offsetof(struct blkif_sring, ring), RING_OFFSET, "native ring offset");
#if defined(__x86_64__)
	CHECK_INT(sizeof(blkif_request_t), 112, "native request size on x86_64");
	CHECK_INT(offsetof(blkif_request_t, id), 8, "native id on x86_64");
#endif

	/* One page holds 32 slots in both guest layouts. */
	CHECK_INT(__CONST_RING_SIZE(blkif_x86_32, PAGE), 32, "x86_32 ring size");
	CHECK_INT(__CONST_RING_SIZE(blkif_x86_64, PAGE), 32, "x86_64 ring size");
	CHECK_INT(__CONST_RING_SIZE(blkif, PAGE), 32, "native ring size");
}

/* blkif_ring_size follows the page count for every ABI. */
static void test_ring_sizes(void)
{
	static const enum blkif_abi abis[] = { BLKIF_ABI_NATIVE, BLKIF_ABI_X86_32,
					       BLKIF_ABI_X86_64 };
	static const unsigned int pages[] = { 1, 2, 4, 8, 16 };
	size_t max = 16 * PAGE;
	void *mem = aligned_alloc(PAGE, max);

	CHECK(mem != NULL, "aligned_alloc of %zu bytes", max);
	if (!mem)
		return;
	for (size_t a = 0; a < 3; a++)
		for (size_t p = 0; p < sizeof(pages) / sizeof(pages[0]); p++) {
			union blkif_back_rings r;

			memset(mem, 0, max);
			blkif_ring_init(&r, abis[a], mem, pages[p]);
			CHECK(blkif_ring_size(&r, abis[a]) == 32 * pages[p],
			      "%s ring over %u pages: %u entries, want %u",
			      blkif_abi_name(abis[a]), pages[p], blkif_ring_size(&r, abis[a]),
			      32 * pages[p]);
		}
	free(mem);
}

/* The protocol node maps to an ABI; anything unknown is refused. */
static void test_protocol(void)
{
	enum blkif_abi abi;
	int ret;

	abi = BLKIF_ABI_NATIVE;
	CHECK_INT(blkif_abi_from_protocol(NULL, &abi), 0, "protocol NULL");
	CHECK_INT(abi, BLKIF_ABI_X86_32, "protocol NULL means x86_32");
	abi = BLKIF_ABI_NATIVE;
	CHECK_INT(blkif_abi_from_protocol("", &abi), 0, "protocol \"\"");
	CHECK_INT(abi, BLKIF_ABI_X86_32, "protocol \"\" means x86_32");
	abi = BLKIF_ABI_NATIVE;
	CHECK_INT(blkif_abi_from_protocol("x86_32-abi", &abi), 0, "x86_32-abi");
	CHECK_INT(abi, BLKIF_ABI_X86_32, "x86_32-abi");
	abi = BLKIF_ABI_NATIVE;
	CHECK_INT(blkif_abi_from_protocol("x86_64-abi", &abi), 0, "x86_64-abi");
	CHECK_INT(abi, BLKIF_ABI_X86_64, "x86_64-abi");

	/* The native name is accepted; on x86 it is one of the explicit layouts. */
	abi = (enum blkif_abi)-1;
	ret = blkif_abi_from_protocol(XEN_IO_PROTO_ABI_NATIVE, &abi);
	CHECK_INT(ret, 0, "native protocol name " XEN_IO_PROTO_ABI_NATIVE);
	if (!strcmp(XEN_IO_PROTO_ABI_NATIVE, XEN_IO_PROTO_ABI_X86_64))
		CHECK_INT(abi, BLKIF_ABI_X86_64, "native name on x86_64");
	else if (!strcmp(XEN_IO_PROTO_ABI_NATIVE, XEN_IO_PROTO_ABI_X86_32))
		CHECK_INT(abi, BLKIF_ABI_X86_32, "native name on x86_32");
	else
		CHECK_INT(abi, BLKIF_ABI_NATIVE, "native name");

	static const char *const bad[] = { "garbage", "x86_64-abiX", "x86_64", "x86_32-ab",
					   "X86_64-ABI", " x86_64-abi", "x86_64-abi\n",
					   "arm-abiX" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		abi = BLKIF_ABI_X86_64;
		CHECK_INT(blkif_abi_from_protocol(bad[i], &abi), -EINVAL, bad[i]);
	}
	CHECK(!strcmp(blkif_abi_name(BLKIF_ABI_X86_32), "x86_32-abi"), "x86_32 name");
	CHECK(!strcmp(blkif_abi_name(BLKIF_ABI_X86_64), "x86_64-abi"), "x86_64 name");
	CHECK(blkif_abi_name(BLKIF_ABI_NATIVE) != NULL, "native name");
}

/* Translate hand-encoded requests of every layout and segment count. */
static void test_translate(const struct layout *l)
{
	union {
		uint64_t align;
		uint8_t b[256];
	} raw;
	blkif_request_t out;
	char what[96];

	for (unsigned int nseg = 0; nseg <= BLKIF_MAX_SEGMENTS_PER_REQUEST; nseg++) {
		struct want w = mkwant(nseg, (uint8_t)nseg);

		memset(raw.b, 0x5a, sizeof(raw.b));
		encode(l, raw.b, &w);
		/* Poison the unused segments so an over-copy shows. */
		memset(raw.b + l->seg_off + 8 * nseg, 0x77,
		       8 * (BLKIF_MAX_SEGMENTS_PER_REQUEST - nseg));
		memset(&out, 0xee, sizeof(out));
		blkif_translate_request(l->abi, raw.b, &out);
		snprintf(what, sizeof(what), "%s translate, %u segments", l->name, nseg);
		check_req(what, &out, &w);
	}
}

/* SIGSEGV during the guard-page test: translation read past the 11 segments. */
static void on_guard_fault(int sig)
{
	static const char msg[] = "FAILED: translating a 200-segment request read past the "
				  "slot into the guard page\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

/*
 * A request claiming 200 segments is translated from a slot that ends at a
 * PROT_NONE page: reading a 12th segment would fault. The parser then refuses it.
 */
static void test_translate_too_many(const struct layout *l)
{
	long pagesz = sysconf(_SC_PAGESIZE);
	uint8_t *map, *slot;
	blkif_request_t out;
	struct blk_limits lim = { .nr_sectors = 1u << 20, .sector_size = 512 };
	struct blk_io io;
	const char *why = NULL;
	char what[96];

	map = mmap(NULL, 2 * (size_t)pagesz, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(map != MAP_FAILED, "mmap guard pages");
	if (map == MAP_FAILED)
		return;
	CHECK(mprotect(map + pagesz, (size_t)pagesz, PROT_NONE) == 0, "mprotect guard page");
	slot = map + pagesz - l->req_size;

	struct want w = mkwant(3, 200);
	w.op = BLKIF_OP_READ;
	encode(l, slot, &w);
	memset(&out, 0xee, sizeof(out));
	struct sigaction sa = { .sa_handler = on_guard_fault }, old;
	sigaction(SIGSEGV, &sa, &old);
	blkif_translate_request(l->abi, slot, &out);
	sigaction(SIGSEGV, &old, NULL);
	snprintf(what, sizeof(what), "%s translate, 200 segments", l->name);
	check_req(what, &out, &w);
	CHECK_INT(blkif_parse(&out, &lim, &io, &why), -EINVAL, what);
	CHECK(why != NULL, "%s: no reason", what);
	munmap(map, 2 * (size_t)pagesz);
}

/* Address of slot i of a one-page ring in layout l. */
static uint8_t *slot_at(const struct layout *l, void *page, unsigned int i)
{
	return (uint8_t *)page + RING_OFFSET + (size_t)(i % 32) * l->req_size;
}

/* Initialise the shared ring header the way a frontend would. */
static void sring_init(const struct layout *l, void *page)
{
	switch (l->abi) {
	case BLKIF_ABI_NATIVE:
		SHARED_RING_INIT((struct blkif_sring *)page);
		break;
	case BLKIF_ABI_X86_32:
		SHARED_RING_INIT((struct blkif_x86_32_sring *)page);
		break;
	case BLKIF_ABI_X86_64:
		SHARED_RING_INIT((struct blkif_x86_64_sring *)page);
		break;
	}
}

/* Requests waiting on the ring, seen from the back end. */
static unsigned int unconsumed(union blkif_back_rings *r, enum blkif_abi abi)
{
	switch (abi) {
	case BLKIF_ABI_NATIVE: return RING_HAS_UNCONSUMED_REQUESTS(&r->native);
	case BLKIF_ABI_X86_32: return RING_HAS_UNCONSUMED_REQUESTS(&r->x86_32);
	case BLKIF_ABI_X86_64: return RING_HAS_UNCONSUMED_REQUESTS(&r->x86_64);
	}
	return 0;
}

/* The back ring's private indices, for any ABI (they sit at the same place). */
static RING_IDX *rsp_prod_pvt(union blkif_back_rings *r, enum blkif_abi abi)
{
	switch (abi) {
	case BLKIF_ABI_NATIVE: return &r->native.rsp_prod_pvt;
	case BLKIF_ABI_X86_32: return &r->x86_32.rsp_prod_pvt;
	case BLKIF_ABI_X86_64: return &r->x86_64.rsp_prod_pvt;
	}
	return NULL;
}

/* Set req_cons of a back ring. */
static void set_req_cons(union blkif_back_rings *r, enum blkif_abi abi, RING_IDX v)
{
	switch (abi) {
	case BLKIF_ABI_NATIVE: r->native.req_cons = v; break;
	case BLKIF_ABI_X86_32: r->x86_32.req_cons = v; break;
	case BLKIF_ABI_X86_64: r->x86_64.req_cons = v; break;
	}
}

/* Check one response slot: fields, zeroed padding, and an untouched tail. */
static void check_rsp_slot(const char *what, const struct layout *l, const uint8_t *s,
			   uint64_t id, uint8_t op, int16_t status)
{
	CHECK_U64(get_le(s, 8), id, what);
	CHECK_INT(s[8], op, what);
	CHECK_INT((int16_t)get_le(s + 10, 2), status, what);
	CHECK(s[9] == 0, "%s: padding byte 9 is 0x%02x, not 0", what, s[9]);
	for (size_t b = 12; b < l->rsp_size; b++)
		CHECK(s[b] == 0, "%s: padding byte %zu is 0x%02x, not 0", what, b, s[b]);
	for (size_t b = l->rsp_size; b < l->req_size; b++)
		CHECK(s[b] == CANARY, "%s: byte %zu past the response was overwritten (0x%02x)",
		      what, b, s[b]);
}

/* Act as a frontend on a one-page ring: requests in, responses out, with index wrap. */
static void test_ring_round_trip(const struct layout *l)
{
	static const RING_IDX start = 30;	/* so indices 30..34 wrap to slots 30, 31, 0, 1, 2 */
	union blkif_back_rings r;
	struct want w[5];
	blkif_request_t out;
	uint8_t *page = aligned_alloc(PAGE, PAGE);
	char what[96];

	CHECK(page != NULL, "aligned_alloc page");
	if (!page)
		return;
	memset(page, 0xcc, PAGE);
	sring_init(l, page);
	for (unsigned int k = 0; k < 5; k++) {
		w[k] = mkwant(k + 20, (uint8_t)(k * 2 + 1));
		encode(l, slot_at(l, page, start + k), &w[k]);
	}
	/* Publish as the frontend does: req_prod is the first word of the page. */
	put_le(page, start + 5, 4);

	blkif_ring_init(&r, l->abi, page, 1);
	CHECK_INT(blkif_ring_size(&r, l->abi), 32, l->name);
	set_req_cons(&r, l->abi, start);
	*rsp_prod_pvt(&r, l->abi) = start;
	CHECK_INT(unconsumed(&r, l->abi), 5, l->name);
	for (unsigned int k = 0; k < 5; k++) {
		memset(&out, 0xee, sizeof(out));
		blkif_copy_request(&r, l->abi, start + k, &out);
		snprintf(what, sizeof(what), "%s ring request at index %u", l->name, start + k);
		check_req(what, &out, &w[k]);
	}

	/* Responses: canary-filled slots, three of them, the third wrapping to slot 0. */
	for (unsigned int k = 0; k < 4; k++)
		memset(slot_at(l, page, start + k), CANARY, l->req_size);
	blkif_put_response(&r, l->abi, 0xdeadbeef00c0ffeeull, BLKIF_OP_WRITE, BLKIF_RSP_OKAY);
	CHECK_INT(*rsp_prod_pvt(&r, l->abi), start + 1, l->name);
	blkif_put_response(&r, l->abi, 1, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_EOPNOTSUPP);
	blkif_put_response(&r, l->abi, UINT64_MAX, 0xff, BLKIF_RSP_ERROR);
	CHECK_INT(*rsp_prod_pvt(&r, l->abi), start + 3, l->name);
	/* Not pushed: the shared rsp_prod (offset 8) is the caller's to publish. */
	CHECK_INT(get_le(page + 8, 4), 0, "rsp_prod untouched");

	snprintf(what, sizeof(what), "%s response 0 (slot 30)", l->name);
	check_rsp_slot(what, l, slot_at(l, page, start), 0xdeadbeef00c0ffeeull,
		       BLKIF_OP_WRITE, BLKIF_RSP_OKAY);
	snprintf(what, sizeof(what), "%s response 1 (slot 31)", l->name);
	check_rsp_slot(what, l, slot_at(l, page, start + 1), 1, BLKIF_OP_FLUSH_DISKCACHE,
		       BLKIF_RSP_EOPNOTSUPP);
	snprintf(what, sizeof(what), "%s response 2 (slot 0)", l->name);
	check_rsp_slot(what, l, slot_at(l, page, start + 2), UINT64_MAX, 0xff, BLKIF_RSP_ERROR);
	/* The next slot was not written at all. */
	const uint8_t *next = slot_at(l, page, start + 3);
	for (size_t b = 0; b < l->req_size; b++)
		CHECK(next[b] == CANARY, "%s: slot 1 byte %zu touched", l->name, b);
	/* Nor was anything past the last slot (the page tail). */
	for (size_t b = RING_OFFSET + 32 * l->req_size; b < PAGE; b++)
		CHECK(page[b] == 0xcc, "%s: page tail byte %zu touched", l->name, b);
	free(page);
}

/* Run every case for every layout. */
/* Discard requests: hand-encode each layout (id, sector, nr_sectors) and translate. */
static void test_translate_discard(void)
{
	static const struct { const char *name; enum blkif_abi abi; size_t id, sector, nr; } l[] = {
		{ "x86_32", BLKIF_ABI_X86_32, 4, 12, 20 },
		{ "x86_64", BLKIF_ABI_X86_64, 8, 16, 24 },
		{ "native", BLKIF_ABI_NATIVE, offsetof(blkif_request_discard_t, id),
		  offsetof(blkif_request_discard_t, sector_number),
		  offsetof(blkif_request_discard_t, nr_sectors) },
	};

	CHECK_U64(sizeof(struct blkif_x86_32_request_discard), 28, "x86_32 discard size");
	CHECK_U64(sizeof(struct blkif_x86_64_request_discard), 32, "x86_64 discard size");
	for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++) {
		uint8_t slot[112];
		blkif_request_t out;
		const blkif_request_discard_t *d = (const blkif_request_discard_t *)&out;

		memset(slot, 0xee, sizeof(slot));
		slot[0] = BLKIF_OP_DISCARD;
		slot[1] = BLKIF_DISCARD_SECURE;
		put_le(slot + 2, 51728, 2);
		put_le(slot + l[i].id, 0x1122334455667788ull, 8);
		put_le(slot + l[i].sector, 0x0102030405060708ull, 8);
		put_le(slot + l[i].nr, 0x0a0b0c0d0e0f1011ull, 8);
		blkif_translate_request(l[i].abi, slot, &out);
		CHECK_INT(d->operation, BLKIF_OP_DISCARD, l[i].name);
		CHECK_INT(d->flag, BLKIF_DISCARD_SECURE, l[i].name);
		CHECK_INT(d->handle, 51728, l[i].name);
		CHECK_U64(d->id, 0x1122334455667788ull, l[i].name);
		CHECK_U64(d->sector_number, 0x0102030405060708ull, l[i].name);
		CHECK_U64(d->nr_sectors, 0x0a0b0c0d0e0f1011ull, l[i].name);
	}
}

/* Indirect requests: the Linux i386 and x86_64 byte layouts, translated to native. */
static void test_translate_indirect(void)
{
	static const struct { const char *name; enum blkif_abi abi; size_t id, sector, handle,
			      grefs; } l[] = {
		{ "x86_32", BLKIF_ABI_X86_32, 4, 12, 20, 24 },
		{ "x86_64", BLKIF_ABI_X86_64, 8, 16, 24, 28 },
		{ "native", BLKIF_ABI_NATIVE, offsetof(blkif_request_indirect_t, id),
		  offsetof(blkif_request_indirect_t, sector_number),
		  offsetof(blkif_request_indirect_t, handle),
		  offsetof(blkif_request_indirect_t, indirect_grefs) },
	};

	for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++) {
		uint8_t slot[112];
		blkif_request_t out;
		const blkif_request_indirect_t *d = (const blkif_request_indirect_t *)&out;

		memset(slot, 0xee, sizeof(slot));
		slot[0] = BLKIF_OP_INDIRECT;
		slot[1] = BLKIF_OP_WRITE;
		put_le(slot + 2, 256, 2);
		put_le(slot + l[i].id, 0x1122334455667788ull, 8);
		put_le(slot + l[i].sector, 0x0102030405060708ull, 8);
		put_le(slot + l[i].handle, 51728, 2);
		for (unsigned int k = 0; k < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; k++)
			put_le(slot + l[i].grefs + 4 * k, 0x100 + k, 4);
		blkif_translate_request(l[i].abi, slot, &out);
		CHECK_INT(d->operation, BLKIF_OP_INDIRECT, l[i].name);
		CHECK_INT(d->indirect_op, BLKIF_OP_WRITE, l[i].name);
		CHECK_INT(d->nr_segments, 256, l[i].name);
		CHECK_U64(d->id, 0x1122334455667788ull, l[i].name);
		CHECK_U64(d->sector_number, 0x0102030405060708ull, l[i].name);
		CHECK_INT(d->handle, 51728, l[i].name);
		for (unsigned int k = 0; k < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; k++)
			CHECK_INT(d->indirect_grefs[k], 0x100 + k, l[i].name);
	}
}

int main(void)
{
	const struct layout native = native_layout();

	test_translate_discard();
	test_translate_indirect();
	const struct layout *layouts[] = { &x86_32, &x86_64, &native };

	test_layouts();
	test_ring_sizes();
	test_protocol();
	for (size_t i = 0; i < 3; i++) {
		test_translate(layouts[i]);
		test_translate_too_many(layouts[i]);
		test_ring_round_trip(layouts[i]);
	}
	return check_done("test-abi");
}
