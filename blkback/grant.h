/* How a request's guest pages are reached: the one place that decides. */
#ifndef BLKBACK_GRANT_H
#define BLKBACK_GRANT_H

#include <xengnttab.h>

#include "req.h"

/* Grant operations charged to the hypervisor, for statistics. */
struct grant_counters {
	uint64_t map_calls;	/* map hypercall batches */
	uint64_t maps;		/* pages mapped */
	uint64_t unmaps;	/* pages unmapped */
	uint64_t persistent;	/* persistent grants mapped now (a gauge) */
	uint64_t copy_calls;	/* grant copy hypercall batches */
	uint64_t copies;	/* grant copy segments (data and indirect pages) */
};

/*
 * Every grant page this process maps or unmaps is counted here, data and ring pages alike,
 * so that 'blkbackctl stats --daemon' can say how many it maps now (a gauge).
 */
void grant_count_pages(int64_t delta);
/* Grant pages this process maps now. */
uint64_t grant_pages_mapped(void);

/*
 * Data pages the requests in flight on one ring may hold, mapped or bounced: the
 * ring takes no more requests off the shared ring once it holds this many (so it
 * holds at most GRANT_INFLIGHT_PAGES + BLK_MAX_SEGS - 1). Without a bound, a
 * guest filling a 16-page ring with 1 MiB requests would pin 512 MiB of dom0
 * memory, or 131072 grant mappings, per queue. 16 MiB keeps storage busy.
 */
#define GRANT_INFLIGHT_PAGES 4096

/* Persistent grants kept per ring at most, as Linux blkback's max_persistent_grants. */
#define GRANT_PERSISTENT_MAX 1056

/*
 * What every ring of one domain, and of the whole daemon, may hold at most: the
 * data pages of requests in flight (mapped or bounced) plus the persistent grants
 * kept (blkbackd --grant-pages-domain and --grant-pages; see grant-limit.c).
 * 32768 pages is 128 MiB of guest memory per domain; 262144 is 1 GiB in all,
 * within the grant mappings a default Xen lets dom0 hold.
 */
#define GRANT_DOMAIN_PAGES_DEFAULT 32768
#define GRANT_DAEMON_PAGES_DEFAULT 262144
/* The least either limit may be: a quarter of it holds the largest request. */
#define GRANT_LIMIT_MIN_PAGES 1024

/* A domain's share of the limits, held by each of its rings. */
struct grant_budget;

/*
 * A ring's place in the lines for room in the budgets (grant-limit.c). Only the ring's
 * own thread takes, asks for room and leaves through it; others only wake it.
 */
struct grant_waiter {
	int wake_fd;			/* an eventfd written when its turn comes */
	uint64_t ticket;		/* its order in every line; 0 while it waits in none */
	bool in_dom, in_all;		/* in its domain's line, in the daemon's */
	bool woken;			/* woken since it last found no room (under the lock) */
	struct grant_waiter *dom_next, *all_next;
};

/* Set the limits, before any ring starts; -EINVAL below the minimum or daemon < domain. */
int grant_set_limits(uint64_t domain_pages, uint64_t daemon_pages);
/* The limits in force. */
void grant_get_limits(uint64_t *domain_pages, uint64_t *daemon_pages);
/* The budget of a domain, shared by its rings; NULL if out of memory. */
struct grant_budget *grant_budget_get(uint32_t domid);
/* A ring lets go of its domain's budget, holding nothing in it; NULL is fine. */
void grant_budget_put(struct grant_budget *b);
/* Set up a ring's waiter, woken through wake_fd (an eventfd). */
void grant_waiter_init(struct grant_waiter *w, int wake_fd);
/*
 * Reserve n pages for requests in flight; false (nothing reserved) if a limit would pass
 * or rings wait ahead of w for room: w then waits in line, and its wake_fd is written
 * when its turn comes. w NULL: a taker that never waits (it fails while others do).
 */
bool grant_budget_take(struct grant_budget *b, struct grant_waiter *w, unsigned int n);
/*
 * Whether w may take a request of the largest size now, as grant_budget_take would
 * decide it; if not, w waits in line as after a failed take.
 */
bool grant_budget_room(struct grant_budget *b, struct grant_waiter *w);
/* w will not take for now (its ring stops, halts, pauses): it leaves the lines. */
void grant_budget_leave(struct grant_budget *b, struct grant_waiter *w);
/* Reserve a page for a new persistent grant, only while a quarter of each limit stays free. */
bool grant_budget_take_cached(struct grant_budget *b);
/* Give back n pages; the first ring in line is woken if that makes room for it. */
void grant_budget_give(struct grant_budget *b, unsigned int n);
/* Pages a domain's rings hold now. */
uint64_t grant_budget_used(const struct grant_budget *b);
/* Pages every ring of the daemon holds now. */
uint64_t grant_daemon_used(void);

/*
 * The three ways to reach guest data (--grant-mode):
 *   map         map the pages of each sweep in one batch, unmap when done;
 *   persistent  map each page once and keep it (when the frontend offers
 *               feature-persistent; otherwise map);
 *   copy        copy between guest pages and a bounce buffer with grant copy.
 */
enum grant_mode { GRANT_MODE_MAP, GRANT_MODE_PERSISTENT, GRANT_MODE_COPY };

/* Parse "map", "persistent" or "copy"; -EINVAL otherwise. */
int grant_mode_parse(const char *s, enum grant_mode *mode);
/* The name of a mode. */
const char *grant_mode_name(enum grant_mode mode);

/* The persistent grants of one ring: each gref mapped once, writable, and kept. */
struct grant_cache;

/* One ring's access to its frontend's grants. */
struct grant_ctx {
	xengnttab_handle *xgt;
	uint32_t domid;			/* the frontend's */
	enum grant_mode mode;		/* in use: persistent only if negotiated */
	struct grant_cache *gc;		/* persistent mode's cache */
	struct copy_batch *cb;		/* grant copies being gathered */
	struct bounce_pool *bp;		/* copy mode's bounce pages */
	struct grant_budget *budget;	/* the domain's: persistent grants count in it */
	struct grant_counters *c;
};

/* Set up g for mode (the persistent cache, or copy mode's bounce pages); -ENOMEM. */
int grant_ctx_init(struct grant_ctx *g, xengnttab_handle *xgt, uint32_t domid,
		   enum grant_mode mode, struct grant_budget *budget, struct grant_counters *c);
/* Unmap every persistent grant (nothing may be in flight); idempotent. */
void grant_ctx_fini(struct grant_ctx *g);

/*
 * Copy the segment descriptors of n indirect requests off their indirect pages,
 * once, into segs[i] for reqs[i] (the frontend may rewrite its pages at any time:
 * only segs is parsed). In persistent mode through the persistent-grant cache, as
 * Linux blkback (a page is mapped on a miss and kept, like a data page); in the
 * other modes, or for a page the full cache has no room for, with one grant copy
 * for them all. A request whose pages cannot be read gets req->err set; the others
 * are unaffected.
 */
void grant_fetch_indirect(struct grant_ctx *g, struct blk_req **reqs, unsigned int n,
			  struct blkif_request_segment (*segs)[BLK_MAX_SEGS]);

/*
 * Reach the data pages of n requests that move data the same way, and point
 * their iovecs at them. guest_writable is true for reads (the backend writes
 * into guest memory).
 *   map: one batched map (a failed batch is retried request by request, so
 *        that only the requests with a bad or revoked ref fail);
 *   persistent: through the cache (a request that finds every cached grant
 *        busy falls back to the batch; reqs may be reordered);
 *   copy: bounce pages, filled from the guest in one grant copy for writes.
 * A request that cannot be reached gets req->err set.
 */
void grant_map_reqs(struct grant_ctx *g, struct blk_req **reqs, unsigned int n,
		    bool guest_writable);

/* Copy mode: copy a finished read's bounce pages into the guest's pages; -errno. */
int grant_copy_out(struct grant_ctx *g, struct blk_req *req);

/*
 * A finished request lets go of its pages. One on persistent grants or bounce
 * pages comes straight back. Otherwise its answer must wait until the mapping
 * is gone: Linux blkfront checks, when it sees a response, that the backend no
 * longer maps its grants, and disables the disk if one still is. So the
 * request is parked on the mapping, and the last one out unmaps and returns
 * every parked request, linked through next_free, to be answered. Returns
 * NULL while others still hold the mapping.
 */
struct blk_req *grant_release(struct grant_ctx *g, struct blk_req *req);

#endif
