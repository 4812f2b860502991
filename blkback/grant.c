/*
 * How guest pages are reached: one batched map per ring sweep, unmapped after completion;
 * or persistent grants, mapped once and kept in a per-ring cache. Grant copy is in
 * grant-copy.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "grant.h"
#include "grantint.h"
#include "log.h"
#include "stats.h"

/* One batched mapping, shared by the requests of a sweep. */
struct grant_map {
	void *addr;
	uint32_t count;		/* pages */
	unsigned int users;	/* requests still holding it */
	struct blk_req *parked;	/* finished requests waiting for the unmap */
};

/* A persistent grant: one guest page, mapped writable for as long as the cache keeps it. */
struct pgrant {
	uint32_t gref;
	void *addr;
	unsigned int users;		/* requests in flight using it */
	struct pgrant *hnext;		/* hash chain */
	struct pgrant *prev, *next;	/* the idle list, oldest first; unlinked while used */
};

/* Grant pages this process maps now, over every ring (ring pages included): a gauge. */
static uint64_t pages_mapped;

/* Count pages this process mapped (delta > 0) or unmapped (delta < 0). */
void grant_count_pages(int64_t delta)
{
	__atomic_add_fetch(&pages_mapped, (uint64_t)delta, __ATOMIC_RELAXED);
}

/* Grant pages this process maps now. */
uint64_t grant_pages_mapped(void)
{
	return __atomic_load_n(&pages_mapped, __ATOMIC_RELAXED);
}

#define GC_BUCKETS 2048			/* a power of two, twice GRANT_PERSISTENT_MAX */

/*
 * A full cache maps further grants per sweep instead of evicting, as Linux blkback does:
 * a frontend whose pool is larger than the cache would otherwise make every miss an
 * unmap plus a single map. So that a working set that moves on is not shut out for good,
 * every GC_PURGE_MISSES misses on a full cache unmap the oldest eighth of the idle grants.
 */
#define GC_PURGE_MISSES 1024

struct grant_cache {
	unsigned int max, count;
	unsigned int misses;		/* on a full cache, since the last purge */
	struct pgrant idle;		/* sentinel of the idle list */
	struct pgrant *hash[GC_BUCKETS];
};

/* The hash chain of gref. */
static struct pgrant **gc_bucket(struct grant_cache *gc, uint32_t gref)
{
	return &gc->hash[(gref * 2654435761u) & (GC_BUCKETS - 1)];
}

/* Take e off the idle list. */
static void idle_unlink(struct pgrant *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = e;
}

/* Unmap e and forget it (and its page in the domain's budget); it must be idle. */
static void gc_drop(xengnttab_handle *xgt, struct grant_cache *gc, struct pgrant *e,
		    struct grant_budget *budget, struct grant_counters *c)
{
	struct pgrant **pp;

	idle_unlink(e);
	for (pp = gc_bucket(gc, e->gref); *pp != e; pp = &(*pp)->hnext)
		;
	*pp = e->hnext;
	if (xengnttab_unmap(xgt, e->addr, 1))
		log_err("persistent grant unmap of ref %u failed: %s", e->gref, strerror(errno));
	else
		grant_count_pages(-1);
	stat_add(&c->unmaps, 1);
	grant_budget_give(budget, 1);
	gc->count--;
	__atomic_store_n(&c->persistent, gc->count, __ATOMIC_RELAXED);
	free(e);
}

/*
 * The persistent grant for gref, mapped if new; NULL with *err: -ENOSPC when the cache
 * is full, or the domain's or the daemon's budget leaves it no room to grow (the
 * request is then mapped with the sweep's batch).
 */
static struct pgrant *gc_get(const struct grant_ctx *g, uint32_t gref, int *err)
{
	xengnttab_handle *xgt = g->xgt;
	struct grant_cache *gc = g->gc;
	struct grant_counters *c = g->c;
	struct pgrant *e, **head = gc_bucket(gc, gref);

	for (e = *head; e; e = e->hnext)
		if (e->gref == gref) {
			if (!e->users++)
				idle_unlink(e);
			return e;
		}
	if (gc->count == gc->max) {
		if (++gc->misses >= GC_PURGE_MISSES) {
			gc->misses = 0;
			for (unsigned int i = 0; i < gc->max / 8 && gc->idle.next != &gc->idle; i++)
				gc_drop(xgt, gc, gc->idle.next, g->budget, c);
		}
		*err = -ENOSPC;		/* mapped with the sweep's batch instead */
		return NULL;
	}
	if (!grant_budget_take_cached(g->budget)) {
		*err = -ENOSPC;		/* the cache stops growing */
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		grant_budget_give(g->budget, 1);
		*err = -ENOMEM;
		return NULL;
	}
	stat_add(&c->map_calls, 1);
	/* Writable whatever the request: the frontend reuses the page for reads and writes. */
	e->addr = xengnttab_map_grant_ref(xgt, g->domid, gref, PROT_READ | PROT_WRITE);
	if (!e->addr) {
		*err = errno ? -errno : -EFAULT;
		grant_budget_give(g->budget, 1);
		free(e);
		return NULL;
	}
	stat_add(&c->maps, 1);
	grant_count_pages(1);
	e->gref = gref;
	e->users = 1;
	e->prev = e->next = e;
	e->hnext = *head;
	*head = e;
	gc->count++;
	__atomic_store_n(&c->persistent, gc->count, __ATOMIC_RELAXED);
	return e;
}

/* A request is done with e: idle grants go to the end of the idle list. */
static void gc_put(struct grant_cache *gc, struct pgrant *e)
{
	if (--e->users)
		return;
	e->prev = gc->idle.prev;
	e->next = &gc->idle;
	gc->idle.prev->next = e;
	gc->idle.prev = e;
}

/* Copy len bytes off the start of persistent grant gref into dst, and let go of it. */
int grant_cache_read(const struct grant_ctx *g, uint32_t gref, void *dst, size_t len)
{
	int err = 0;
	struct pgrant *e = gc_get(g, gref, &err);

	if (!e)
		return err;
	/* Once: the frontend may rewrite the page at any time; only dst is parsed. */
	memcpy(dst, e->addr, len);
	gc_put(g->gc, e);
	return 0;
}

/* Parse "map", "persistent" or "copy". */
int grant_mode_parse(const char *s, enum grant_mode *mode)
{
	for (enum grant_mode m = GRANT_MODE_MAP; m <= GRANT_MODE_COPY; m++)
		if (!strcmp(s, grant_mode_name(m))) {
			*mode = m;
			return 0;
		}
	return -EINVAL;
}

/* The name of a mode. */
const char *grant_mode_name(enum grant_mode mode)
{
	static const char *const names[] = {
		[GRANT_MODE_MAP] = "map",
		[GRANT_MODE_PERSISTENT] = "persistent",
		[GRANT_MODE_COPY] = "copy",
	};

	return mode <= GRANT_MODE_COPY ? names[mode] : "?";
}

/* Set up g for mode, with a persistent cache or bounce pages as the mode needs. */
int grant_ctx_init(struct grant_ctx *g, xengnttab_handle *xgt, uint32_t domid,
		   enum grant_mode mode, struct grant_budget *budget, struct grant_counters *c)
{
	*g = (struct grant_ctx){ .xgt = xgt, .domid = domid, .mode = mode, .budget = budget,
				 .c = c };
	if (grant_copy_init(g))		/* indirect pages (persistent: when the cache is full) */
		return -ENOMEM;
	if (mode != GRANT_MODE_PERSISTENT)
		return 0;
	g->gc = calloc(1, sizeof(*g->gc));
	if (!g->gc)
		return -ENOMEM;
	g->gc->max = GRANT_PERSISTENT_MAX;
	g->gc->idle.prev = g->gc->idle.next = &g->gc->idle;
	return 0;
}

/* Unmap every persistent grant and free the cache. */
void grant_ctx_fini(struct grant_ctx *g)
{
	struct grant_cache *gc = g->gc;

	grant_copy_fini(g);
	if (!gc)
		return;
	for (unsigned int b = 0; b < GC_BUCKETS; b++)
		while (gc->hash[b])
			gc_drop(g->xgt, gc, gc->hash[b], g->budget, g->c);
	free(gc);
	g->gc = NULL;
}

/* Reach a request's pages through persistent grants; -ENOSPC: the cache is full. */
static int map_persistent(const struct grant_ctx *g, struct blk_req *req)
{
	struct grant_cache *gc = g->gc;
	int err = 0;

	for (unsigned int k = 0; k < req->io.nr_segs; k++) {
		struct pgrant *e = gc_get(g, req->io.seg[k].gref, &err);

		if (!e) {
			while (req->nr_pgrants)
				gc_put(gc, req->pgrants[--req->nr_pgrants]);
			return err;
		}
		req->pgrants[req->nr_pgrants++] = e;
		req->iov[k].iov_base = (uint8_t *)e->addr + req->io.seg[k].offset;
		req->iov[k].iov_len = req->io.seg[k].len;
	}
	return 0;
}

/* Point a mapped request's iovecs into its pages. */
static void req_set_iov(struct blk_req *req)
{
	for (unsigned int i = 0; i < req->io.nr_segs; i++) {
		req->iov[i].iov_base = req->pages + (size_t)i * XEN_PAGE_SIZE + req->io.seg[i].offset;
		req->iov[i].iov_len = req->io.seg[i].len;
	}
}

/* Pages mapped by one hypercall batch at most; a request alone may need BLK_MAX_SEGS. */
#define GRANT_BATCH_PAGES 1024

/* Map the segments of reqs[0..n) with one hypercall batch. */
static int map_range(xengnttab_handle *xgt, uint32_t domid, struct blk_req **reqs,
		     unsigned int n, int prot, struct grant_counters *c)
{
	uint32_t refs[GRANT_BATCH_PAGES], count = 0;
	struct grant_map *gm;
	unsigned int i, k;

	for (i = 0; i < n; i++)
		for (k = 0; k < reqs[i]->io.nr_segs; k++)
			refs[count++] = reqs[i]->io.seg[k].gref;
	gm = malloc(sizeof(*gm));
	if (!gm)
		return -ENOMEM;
	stat_add(&c->map_calls, 1);
	gm->addr = xengnttab_map_domain_grant_refs(xgt, count, domid, refs, prot);
	if (!gm->addr) {
		int err = -errno;

		free(gm);
		return err ? err : -EFAULT;
	}
	stat_add(&c->maps, count);
	grant_count_pages(count);
	gm->count = count;
	gm->users = n;
	gm->parked = NULL;
	for (i = 0, count = 0; i < n; i++) {
		reqs[i]->gmap = gm;
		reqs[i]->pages = (uint8_t *)gm->addr + (size_t)count * XEN_PAGE_SIZE;
		count += reqs[i]->io.nr_segs;
		req_set_iov(reqs[i]);
	}
	return 0;
}

/* Map a batch; on failure fall back to one mapping per request. */
static void map_batch(struct grant_ctx *g, struct blk_req **reqs, unsigned int n,
		      bool guest_writable)
{
	int prot = guest_writable ? PROT_READ | PROT_WRITE : PROT_READ;
	unsigned int i, take, pages;
	int err;

	while (n) {
		/* As many requests as fit one batch (one always fits). */
		for (take = 0, pages = 0; take < n; take++) {
			if (take && pages + reqs[take]->io.nr_segs > GRANT_BATCH_PAGES)
				break;
			pages += reqs[take]->io.nr_segs;
		}
		err = map_range(g->xgt, g->domid, reqs, take, prot, g->c);
		for (i = 0; err && i < take; i++) {
			/* One bad or revoked ref fails the whole batch: find it. */
			int one = take == 1 ? err :
				  map_range(g->xgt, g->domid, reqs + i, 1, prot, g->c);

			if (one) {
				log_debug(LOG_IO, "grant map of request id %llu failed: %s",
					  (unsigned long long)reqs[i]->io.id, strerror(-one));
				reqs[i]->err = one;
			}
		}
		reqs += take;
		n -= take;
	}
}

/* Reach the pages of n requests through persistent grants, the batch, or a bounce buffer. */
void grant_map_reqs(struct grant_ctx *g, struct blk_req **reqs, unsigned int n,
		    bool guest_writable)
{
	unsigned int nfull = 0;

	if (g->mode == GRANT_MODE_COPY) {
		grant_copy_in(g, reqs, n, guest_writable);
		return;
	}
	if (g->mode == GRANT_MODE_MAP) {
		map_batch(g, reqs, n, guest_writable);
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		int err = map_persistent(g, reqs[i]);

		if (err == -ENOSPC)	/* the cache is full: map this one per sweep */
			reqs[nfull++] = reqs[i];
		else if (err) {
			log_debug(LOG_IO, "persistent grant map for request id %llu failed: %s",
				  (unsigned long long)reqs[i]->io.id, strerror(-err));
			reqs[i]->err = err;
		}
	}
	map_batch(g, reqs, nfull, guest_writable);
}

/* Let go of a finished request's pages; see grant.h for why answers may wait. */
struct blk_req *grant_release(struct grant_ctx *g, struct blk_req *req)
{
	struct grant_map *gm = req->gmap;
	struct blk_req *ready;

	while (req->nr_pgrants)
		gc_put(g->gc, req->pgrants[--req->nr_pgrants]);
	if (req->copied)
		grant_copy_release(g, req);

	req->gmap = NULL;
	req->pages = NULL;
	req->next_free = NULL;
	if (!gm)
		return req;
	req->next_free = gm->parked;
	gm->parked = req;
	if (--gm->users)
		return NULL;
	if (xengnttab_unmap(g->xgt, gm->addr, gm->count))
		log_err("grant unmap of %u pages failed: %s", gm->count, strerror(errno));
	else
		grant_count_pages(-(int64_t)gm->count);
	stat_add(&g->c->unmaps, gm->count);
	ready = gm->parked;
	free(gm);
	return ready;
}
