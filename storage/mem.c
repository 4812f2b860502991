/*
 * The memory engine: a sparse ramdisk, optionally named so that it outlives detach; a
 * toolstack's disk gets a name of blkbackd's own (a key) and may be kept for a while.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "storage.h"

/*
 * The bytes live in a private anonymous mapping with MAP_NORESERVE: pages the
 * guest never wrote are not allocated, and reading them gives zeroes without
 * touching the mapping (mem_read), so an untouched 1 TiB ramdisk costs nothing.
 *
 * What the ramdisks allocate is bounded daemon-wide (storage_mem_set_limit,
 * blkbackd --mem-limit; by default half of the RAM), or one guest filling its
 * ramdisk would get the daemon, and every guest's disk, OOM-killed. Each
 * ramdisk keeps a bitmap of its allocated pages (in chunks made on first
 * write), so a write knows which pages it allocates: it reserves them first,
 * and fails with ENOSPC, to that guest only, if they do not fit. Discard and
 * shrinking give pages back. Huge pages are off for the mapping, so that a
 * written page costs one page; with "huge" they are asked for (MADV_HUGEPAGE), and
 * the bitmap's unit, what a write allocates, what a discard frees and the discard
 * granularity are a huge page (2 MiB on x86): fewer faults and TLB misses for a disk
 * that is written through, at up to a huge page of memory per scattered 4 KiB write.
 *
 * Queues need no state of their own (every I/O completes inline), and several
 * queues may submit at once: submit only reads base, then copies or zeroes the
 * bytes of its own range, and a discard gives back only the pages wholly
 * inside its range, so I/O to other bytes of the same pages is untouched.
 * Overlapping I/O in flight together has no defined result in the protocol
 * either. Only resize moves base, with nothing in flight on any queue.
 */
struct ramdisk {
	char *name;		/* NULL for an anonymous ramdisk */
	uint8_t *base;
	uint64_t size;
	bool attached;
	bool keyed;		/* named by blkbackd for a toolstack's disk (STORAGE_MEM_KEY_PREFIX) */
	bool kept;		/* keyed, detached, and kept (storage_mem_keep) */
	char why[16];		/* kept: after what */
	int64_t since;		/* kept: since when, seconds of CLOCK_REALTIME */
	uint64_t until_ms;	/* kept: until when, CLOCK_MONOTONIC ms; 0: until freed */
	struct ramdisk *next;	/* in the list of named ramdisks */
	uint64_t unit;		/* bytes a bitmap bit stands for: a page, or a huge page */
	uint64_t **chunks;	/* allocated-unit bitmaps, CHUNK_PAGES units each (atomic) */
	uint64_t nchunks;
	uint64_t allocated;	/* bytes of pages allocated (atomic) */
	/* Writes hold it shared, discards alone: a page freed while written stays counted. */
	pthread_rwlock_t lock;
};

/* Pages one bitmap chunk covers: a 4 KiB bitmap. */
#define CHUNK_PAGES (1u << 15)
#define CHUNK_WORDS (CHUNK_PAGES / 64)

/* The ramdisks' limit in bytes (0: not set yet, half the RAM), and what they hold. */
static uint64_t mem_limit;
static uint64_t mem_used;

/* Bytes in a page. */
static uint64_t page_size(void)
{
	return (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Half the RAM: the default limit. */
static uint64_t mem_default_limit(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);

	return pages > 0 ? (uint64_t)pages * page_size() / 2 : UINT64_MAX;
}

/* Set the bytes every ramdisk together may allocate; 0 restores the default. */
void storage_mem_set_limit(uint64_t bytes)
{
	__atomic_store_n(&mem_limit, bytes ? bytes : mem_default_limit(), __ATOMIC_RELAXED);
}

/* The bytes every ramdisk together may allocate. */
uint64_t storage_mem_limit(void)
{
	uint64_t l = __atomic_load_n(&mem_limit, __ATOMIC_RELAXED);

	return l ? l : mem_default_limit();
}

/* The bytes the ramdisks allocate now. */
uint64_t storage_mem_used(void)
{
	return __atomic_load_n(&mem_used, __ATOMIC_RELAXED);
}

/* Reserve n bytes under the limit; false if they do not fit. */
static bool mem_take(uint64_t n)
{
	uint64_t limit = storage_mem_limit(), now = __atomic_load_n(&mem_used, __ATOMIC_RELAXED);

	do {
		if (n > limit || now > limit - n)
			return false;
	} while (!__atomic_compare_exchange_n(&mem_used, &now, now + n, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return true;
}

/* Give back n bytes of rd's. */
static void mem_give(struct ramdisk *rd, uint64_t n)
{
	__atomic_sub_fetch(&mem_used, n, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&rd->allocated, n, __ATOMIC_RELAXED);
}

/* The bitmap chunk of page p, made if make; NULL if absent (or out of memory). */
static uint64_t *page_chunk(struct ramdisk *rd, uint64_t p, bool make)
{
	uint64_t **slot = &rd->chunks[p / CHUNK_PAGES];
	uint64_t *c = __atomic_load_n(slot, __ATOMIC_ACQUIRE), *expected = NULL;

	if (c || !make)
		return c;
	c = calloc(CHUNK_WORDS, sizeof(*c));
	if (c && !__atomic_compare_exchange_n(slot, &expected, c, false, __ATOMIC_ACQ_REL,
					      __ATOMIC_ACQUIRE)) {
		free(c);		/* another queue made it first */
		c = expected;
	}
	return c;
}

/* Whether page p is allocated. */
static bool page_allocated(struct ramdisk *rd, uint64_t p)
{
	const uint64_t *c = page_chunk(rd, p, false);

	return c && (__atomic_load_n(&c[p % CHUNK_PAGES / 64], __ATOMIC_RELAXED) >>
		     (p % 64) & 1);
}

/* Set (or clear) page p's bit; whether it changed. */
static bool page_mark(uint64_t *c, uint64_t p, bool set)
{
	uint64_t bit = 1ull << (p % 64), *w = &c[p % CHUNK_PAGES / 64], old;

	old = set ? __atomic_fetch_or(w, bit, __ATOMIC_RELAXED) :
		    __atomic_fetch_and(w, ~bit, __ATOMIC_RELAXED);
	return set ? !(old & bit) : !!(old & bit);
}

/*
 * Account for a write of [offset, offset + len): reserve the pages it allocates.
 * -ENOSPC if they pass the limit, -ENOMEM if a bitmap cannot be made.
 */
static int mem_alloc_range(struct ramdisk *rd, uint64_t offset, uint64_t len)
{
	uint64_t ps = rd->unit, first = offset / ps, last = (offset + len - 1) / ps;
	uint64_t fresh = 0, p;

	for (p = first; p <= last; p++)
		fresh += !page_allocated(rd, p);
	if (!fresh)
		return 0;
	if (!mem_take(fresh * ps))
		return -ENOSPC;
	__atomic_add_fetch(&rd->allocated, fresh * ps, __ATOMIC_RELAXED);
	for (p = first; p <= last; p++) {
		uint64_t *c = page_chunk(rd, p, true);

		if (!c) {
			mem_give(rd, fresh * ps);
			return -ENOMEM;	/* the pages marked so far stay, rightly counted */
		}
		if (page_mark(c, p, true))
			fresh--;
	}
	mem_give(rd, fresh * ps);	/* pages another queue counted first */
	return 0;
}

/* Forget the allocated pages in [first, end) (whole pages), giving them back. */
static void mem_free_pages(struct ramdisk *rd, uint64_t first, uint64_t end)
{
	uint64_t freed = 0;

	for (uint64_t p = first; p < end; p++) {
		uint64_t *c = page_chunk(rd, p, false);

		if (!c) {
			p |= CHUNK_PAGES - 1;	/* nothing in this chunk */
			continue;
		}
		freed += page_mark(c, p, false);
	}
	mem_give(rd, freed * rd->unit);
}

/* The bitmap array for size bytes; 0 or -ENOMEM. */
static int chunks_resize(struct ramdisk *rd, uint64_t size)
{
	uint64_t pages = (size + rd->unit - 1) / rd->unit;
	uint64_t n = (pages + CHUNK_PAGES - 1) / CHUNK_PAGES;
	uint64_t **c;

	if (n <= rd->nchunks && rd->chunks) {	/* shrinking keeps the array */
		for (uint64_t i = n; i < rd->nchunks; i++) {
			free(rd->chunks[i]);
			rd->chunks[i] = NULL;
		}
		rd->nchunks = n;
		return 0;
	}
	c = realloc(rd->chunks, (n ? n : 1) * sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (uint64_t i = rd->nchunks; i < n; i++)
		c[i] = NULL;
	rd->chunks = c;
	rd->nchunks = n;
	return 0;
}

/* Named ramdisks live until the daemon exits; disks open from any thread. */
static pthread_mutex_t named_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ramdisk *named;

/* Free a ramdisk and give back what it allocated; idempotent parts for a failed new. */
static void ramdisk_free(struct ramdisk *rd)
{
	if (rd->base)
		munmap(rd->base, rd->size);
	mem_give(rd, __atomic_load_n(&rd->allocated, __ATOMIC_RELAXED));
	for (uint64_t i = 0; i < rd->nchunks; i++)
		free(rd->chunks[i]);
	free(rd->chunks);
	pthread_rwlock_destroy(&rd->lock);
	free(rd->name);
	free(rd);
}

/* What the mapping asks of the kernel: huge pages for a huge ramdisk, else none. */
static int thp_advice(const struct ramdisk *rd)
{
	return rd->unit > page_size() ? MADV_HUGEPAGE : MADV_NOHUGEPAGE;
}

/*
 * Map size bytes starting at a multiple of align (a power of two): map align more and
 * give back the ends, so that a huge page can back each aligned 2 MiB from the start.
 */
static void *map_aligned(uint64_t size, uint64_t align)
{
	uint64_t ps = page_size(), len = (size + ps - 1) & ~(ps - 1);
	uint8_t *raw, *base;
	uint64_t head;

	raw = mmap(NULL, len + (align > ps ? align : 0), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED || align <= ps)
		return raw;
	base = (uint8_t *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
	head = (uint64_t)(base - raw);
	if (head)
		munmap(raw, head);
	munmap(base + len, align - head);
	return base;
}

/* Allocate a ramdisk of size bytes, on huge pages (units of unit bytes) if unit > a page. */
static int ramdisk_new(const char *name, uint64_t size, uint64_t unit, struct ramdisk **rdp)
{
	struct ramdisk *rd = calloc(1, sizeof(*rd));
	void *base;
	int err;

	if (!rd)
		return -ENOMEM;
	pthread_rwlock_init(&rd->lock, NULL);
	rd->unit = unit;
	base = map_aligned(size, unit);
	if (base == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	rd->base = base;
	rd->size = size;
	/* best effort: a page written costs a page, or a huge page costs one */
	madvise(base, size, thp_advice(rd));
	err = chunks_resize(rd, size);
	if (!err && name && !(rd->name = strdup(name)))
		err = -ENOMEM;
	if (err)
		goto fail;
	*rdp = rd;
	return 0;
fail:
	ramdisk_free(rd);
	return err;
}

/* A new ramdisk needs some room under the limit; explain in err if none is left. */
static int mem_room(char *err, size_t errlen)
{
	uint64_t used = storage_mem_used(), limit = storage_mem_limit();

	if (used < limit)
		return 0;
	snprintf(err, errlen, "the ramdisks already hold %llu MiB, all the memory blkbackd's "
		 "--mem-limit allows them (%llu MiB): detach or discard ramdisks, or restart "
		 "blkbackd with a larger --mem-limit", (unsigned long long)(used >> 20),
		 (unsigned long long)(limit >> 20));
	return -ENOSPC;
}

/* Find or create (in units of unit bytes) the named ramdisk and claim it. */
static int named_claim(const struct storage_spec *spec, uint64_t unit, struct ramdisk **rdp,
		       char *err, size_t errlen)
{
	struct ramdisk *rd;
	int ret = 0;

	pthread_mutex_lock(&named_lock);
	for (rd = named; rd && strcmp(rd->name, spec->name); rd = rd->next)
		;
	if (spec->keyed && rd && rd->attached) {
		snprintf(err, errlen, "the memory disk %s is still attached to another device "
			 "of the same VM (UUID) and disk: a second domain with that UUID, or a "
			 "localhost migrate, which mem disks do not support (docs/xl.md); detach "
			 "the other first", spec->name);
		ret = -EBUSY;
	} else if (spec->keyed && rd && spec->size != rd->size) {
		snprintf(err, errlen, "the memory disk %s was kept (after a %s) with size %llu "
			 "bytes, and the disk now asks for %llu: to start with an empty disk of "
			 "the new size, free the kept one (its data is lost) with 'blkbackctl free "
			 "%s', then attach again", spec->name, rd->why,
			 (unsigned long long)rd->size, (unsigned long long)spec->size,
			 spec->name + strlen(STORAGE_MEM_KEY_PREFIX));
		ret = -EINVAL;
	} else if (rd && rd->attached) {
		snprintf(err, errlen, "ramdisk '%s' is already attached to another disk; "
			 "detach it first or pick another name", spec->name);
		ret = -EBUSY;
	} else if (rd && spec->size && spec->size != rd->size) {
		snprintf(err, errlen, "ramdisk '%s' exists with size %llu bytes, not %llu; "
			 "leave out size= to reuse it", spec->name,
			 (unsigned long long)rd->size, (unsigned long long)spec->size);
		ret = -EINVAL;
	} else if (!rd && !spec->size) {
		snprintf(err, errlen, "no ramdisk named '%s' exists yet: give size=SIZE "
			 "to create it", spec->name);
		ret = -ENOENT;
	} else if (!rd && !(ret = mem_room(err, errlen))) {
		ret = ramdisk_new(spec->name, spec->size, unit, &rd);
		if (!ret) {
			rd->keyed = spec->keyed;
			rd->next = named;
			named = rd;
		}
	}
	if (!ret) {
		rd->attached = true;
		rd->kept = false;
		*rdp = rd;
	}
	pthread_mutex_unlock(&named_lock);
	return ret;
}

/* Whether a ramdisk of that name exists in this process, attached or not. */
bool storage_mem_named_exists(const char *name)
{
	struct ramdisk *rd;

	pthread_mutex_lock(&named_lock);
	for (rd = named; rd && strcmp(rd->name, name); rd = rd->next)
		;
	pthread_mutex_unlock(&named_lock);
	return rd != NULL;
}

/* CLOCK_MONOTONIC in ms. */
static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The detached keyed ramdisk of that name; call with named_lock held. */
static struct ramdisk *keyed_find(const char *name)
{
	struct ramdisk *rd;

	for (rd = named; rd && strcmp(rd->name, name); rd = rd->next)
		;
	return rd && rd->keyed && !rd->attached ? rd : NULL;
}

/* Unlink rd from the named list and free it; call with named_lock held. */
static void named_drop(struct ramdisk *rd)
{
	struct ramdisk **pp;

	for (pp = &named; *pp != rd; pp = &(*pp)->next)
		;
	*pp = rd->next;
	ramdisk_free(rd);
}

/* Whether the keyed ramdisk name is kept. */
bool storage_mem_kept(const char *name)
{
	struct ramdisk *rd;
	bool kept;

	pthread_mutex_lock(&named_lock);
	rd = keyed_find(name);
	kept = rd && rd->kept;
	pthread_mutex_unlock(&named_lock);
	return kept;
}

/* Keep the detached keyed ramdisk name, after why, until until_ms (0: until freed). */
int storage_mem_keep(const char *name, const char *why, uint64_t until_ms)
{
	struct ramdisk *rd;

	pthread_mutex_lock(&named_lock);
	rd = keyed_find(name);
	if (rd) {
		rd->kept = true;
		snprintf(rd->why, sizeof(rd->why), "%s", why);
		rd->since = (int64_t)time(NULL);
		rd->until_ms = until_ms;
	}
	pthread_mutex_unlock(&named_lock);
	return rd ? 0 : -ENOENT;
}

/* Free the detached keyed ramdisk name: -ENOENT if there is none (or it is attached). */
int storage_mem_free(const char *name)
{
	struct ramdisk *rd;

	pthread_mutex_lock(&named_lock);
	rd = keyed_find(name);
	if (rd)
		named_drop(rd);
	pthread_mutex_unlock(&named_lock);
	return rd ? 0 : -ENOENT;
}

/*
 * Free one kept ramdisk whose time has passed, saying which in name and after what in
 * why: true if one was; *next gets the earliest end still to come (0: none).
 */
bool storage_mem_expire(char *name, size_t namelen, char *why, size_t whylen, uint64_t *next)
{
	uint64_t now = mono_ms();
	struct ramdisk *rd, *gone = NULL;

	*next = 0;
	pthread_mutex_lock(&named_lock);
	for (rd = named; rd; rd = rd->next) {
		if (!rd->kept || !rd->until_ms)
			continue;
		if (rd->until_ms <= now && !gone)
			gone = rd;
		else if (rd->until_ms > now && (!*next || rd->until_ms < *next))
			*next = rd->until_ms;
	}
	if (gone) {
		snprintf(name, namelen, "%s", gone->name);
		snprintf(why, whylen, "%s", gone->why);
		named_drop(gone);
	}
	pthread_mutex_unlock(&named_lock);
	return gone != NULL;
}

/* A line "kept name=... size=... bytes=... why=... since=... until=..." per kept ramdisk. */
unsigned int storage_mem_kept_print(FILE *out)
{
	int64_t now = (int64_t)time(NULL);
	uint64_t mono = mono_ms();
	unsigned int n = 0;

	pthread_mutex_lock(&named_lock);
	for (struct ramdisk *rd = named; rd; rd = rd->next) {
		if (!rd->kept)
			continue;
		n++;
		if (!out)
			continue;
		fprintf(out, "kept name=%s size=%llu bytes=%llu why=%s since=%lld until=%lld\n",
			rd->name, (unsigned long long)rd->size,
			(unsigned long long)__atomic_load_n(&rd->allocated, __ATOMIC_RELAXED),
			rd->why, (long long)rd->since, !rd->until_ms ? 0LL :
			(long long)(now + (int64_t)((rd->until_ms > mono ? rd->until_ms - mono : 0) +
						    999) / 1000));
	}
	pthread_mutex_unlock(&named_lock);
	return n;
}

#define THP_DIR "/sys/kernel/mm/transparent_hugepage"

/* The first line of THP_DIR/name into buf, without its newline; empty if unreadable. */
static void thp_read(const char *name, char *buf, int len)
{
	char path[96];
	FILE *f;

	snprintf(path, sizeof(path), THP_DIR "/%s", name);
	buf[0] = '\0';
	if ((f = fopen(path, "re"))) {
		if (!fgets(buf, len, f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
}

/*
 * The huge page size the kernel gives an madvise'd mapping (transparent huge pages, in
 * "always" or "madvise" mode), in *unit; -EOPNOTSUPP, said in err, if it gives none.
 */
static int huge_unit(uint64_t *unit, char *err, size_t errlen)
{
	char mode[128], size[32];

	thp_read("enabled", mode, sizeof(mode));
	thp_read("hpage_pmd_size", size, sizeof(size));
	*unit = strtoull(size, NULL, 10);
	if ((!strstr(mode, "[always]") && !strstr(mode, "[madvise]")) || *unit <= page_size() ||
	    (*unit & (*unit - 1))) {
		snprintf(err, errlen, "huge: this kernel gives no transparent huge pages (" THP_DIR
			 "/enabled says '%s'): leave out huge, or set it to madvise",
			 mode[0] ? mode : "nothing: no such file");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Open an anonymous or named ramdisk. */
static int mem_open(struct storage *disk, const struct storage_spec *spec, char *err, size_t errlen)
{
	struct ramdisk *rd;
	uint64_t unit = page_size();
	int ret;

	if (spec->huge && (ret = huge_unit(&unit, err, errlen)))
		return ret;
	if (spec->name)
		ret = named_claim(spec, unit, &rd, err, errlen);
	else if (!(ret = mem_room(err, errlen)))
		ret = ramdisk_new(NULL, spec->size, unit, &rd);
	if (ret)
		return ret;
	disk->size = rd->size;
	disk->caps.flush = false;	/* no volatile cache: nothing to flush */
	disk->caps.discard = true;
	disk->caps.discard_zeroes = true;
	disk->caps.discard_granularity = (uint32_t)rd->unit;
	disk->priv = rd;
	return 0;
}

/* Release the disk: an anonymous ramdisk's memory goes, a named one stays. */
static void mem_close(struct storage *disk)
{
	struct ramdisk *rd = disk->priv;

	if (rd->name) {
		pthread_mutex_lock(&named_lock);
		rd->attached = false;
		pthread_mutex_unlock(&named_lock);
	} else {
		ramdisk_free(rd);
	}
}

/* Zero part of one unit; a unit never written is zero already, and stays unallocated. */
static void zero_part(struct ramdisk *rd, uint64_t offset, uint64_t len)
{
	if (len && page_allocated(rd, offset / rd->unit))
		memset(rd->base + offset, 0, len);
}

/*
 * Zero a range; the whole pages inside it go back to the kernel. The partial
 * pages at either end are zeroed byte by byte, never dropped: another queue
 * may be writing the rest of them.
 */
static int mem_discard(struct ramdisk *rd, uint64_t offset, uint64_t len)
{
	uint64_t page = rd->unit;
	uint64_t start = (offset + page - 1) & ~(page - 1);
	uint64_t end = (offset + len) & ~(page - 1);
	int ret = 0;

	pthread_rwlock_wrlock(&rd->lock);
	if (start >= end) {
		zero_part(rd, offset, len);
		goto out;
	}
	zero_part(rd, offset, start - offset);
	zero_part(rd, end, offset + len - end);
	/* A private anonymous mapping reads as zeroes after MADV_DONTNEED. */
	if (madvise(rd->base + start, end - start, MADV_DONTNEED)) {
		ret = -errno;
		goto out;
	}
	mem_free_pages(rd, start / page, end / page);
out:
	pthread_rwlock_unlock(&rd->lock);
	return ret;
}

/*
 * Read a range into the iovecs. A page never written is read as zeroes without
 * touching the mapping: reading it there would map the zero page, which costs no
 * page but a page table entry, and page tables (4 KiB per 2 MiB read, 2 GiB for a
 * 1 TiB ramdisk read through) are memory --mem-limit does not count.
 */
static void mem_read(struct ramdisk *rd, const struct storage_io *io)
{
	uint64_t ps = rd->unit, off = io->offset;

	for (int i = 0; i < io->iovcnt; i++) {
		uint8_t *dst = io->iov[i].iov_base;
		uint64_t left = io->iov[i].iov_len;

		while (left) {
			uint64_t n = ps - off % ps;

			if (n > left)
				n = left;
			if (page_allocated(rd, off / ps))
				memcpy(dst, rd->base + off, n);
			else
				memset(dst, 0, n);
			dst += n;
			off += n;
			left -= n;
		}
	}
}

/* Copy between the iovecs and the ramdisk; completes inline, on any queue. */
static void mem_submit(struct storage_queue *q, struct storage_io *io)
{
	struct ramdisk *rd = q->disk->priv;
	uint8_t *p = rd->base + io->offset;
	int err;

	if (io->op == STORAGE_DISCARD) {
		err = mem_discard(rd, io->offset, io->len);
		io->done(io, err ? err : (int64_t)io->len);
		return;
	}
	if (io->op == STORAGE_READ) {
		mem_read(rd, io);
		io->done(io, (int64_t)io->len);
		return;
	}
	if (io->op == STORAGE_WRITE) {
		pthread_rwlock_rdlock(&rd->lock);
		err = mem_alloc_range(rd, io->offset, io->len);
		if (err) {
			pthread_rwlock_unlock(&rd->lock);
			io->done(io, err);
			return;
		}
	}
	for (int i = 0; i < io->iovcnt; i++) {
		if (io->op == STORAGE_WRITE)
			memcpy(p, io->iov[i].iov_base, io->iov[i].iov_len);
		p += io->iov[i].iov_len;
	}
	if (io->op == STORAGE_WRITE)
		pthread_rwlock_unlock(&rd->lock);
	io->done(io, (int64_t)io->len);
}

/* Grow or shrink the ramdisk (no queue has I/O in flight); grown space reads as zeroes. */
static int mem_resize(struct storage *disk, uint64_t size, char *err, size_t errlen)
{
	struct ramdisk *rd = disk->priv;
	uint64_t ps = rd->unit, keep = (size + ps - 1) / ps;
	void *base;

	/*
	 * The pages past the new end go with the shrink; a grown bitmap starts empty. The
	 * page the new end falls inside stays: its bytes past the end are zeroed, or a
	 * later grow would bring the dropped data back.
	 */
	if (size < rd->size) {
		zero_part(rd, size, keep * ps - size);
		mem_free_pages(rd, keep, (rd->size + ps - 1) / ps);
	}
	if (size > rd->size && chunks_resize(rd, size)) {
		snprintf(err, errlen, "cannot resize the ramdisk to %llu bytes: %s",
			 (unsigned long long)size, strerror(ENOMEM));
		return -ENOMEM;
	}
	base = mremap(rd->base, rd->size, size, MREMAP_MAYMOVE);
	if (base == MAP_FAILED) {
		int ret = -errno;

		snprintf(err, errlen, "cannot resize the ramdisk to %llu bytes: %s",
			 (unsigned long long)size, strerror(errno));
		return ret;
	}
	if (size > rd->size)		/* best effort, as at the start */
		madvise((uint8_t *)base + rd->size, size - rd->size, thp_advice(rd));
	else
		chunks_resize(rd, size);	/* shrinking cannot fail */
	rd->base = base;
	rd->size = size;
	disk->size = size;
	return 0;
}

const struct storage_ops storage_mem_ops = {
	.name = "mem",
	.usage = "mem:size=SIZE[,name=NAME][,huge][,ro]",
	.open = mem_open,
	.close = mem_close,
	.submit = mem_submit,
	.resize = mem_resize,
};
