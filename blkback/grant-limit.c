/*
 * The grant pages a domain, and the daemon as a whole, may hold: the data pages
 * of requests in flight (mapped or bounced) and the persistent grants kept.
 *
 * Each ring already bounds its own requests in flight (GRANT_INFLIGHT_PAGES) and
 * its persistent cache (GRANT_PERSISTENT_MAX), but a guest can have many rings,
 * and dom0 has one grant mapping space for every guest. So a ring takes a
 * request only once it has reserved the most pages a request can hold in its
 * domain's budget and in the daemon's, both atomically; a request that does not
 * fit waits on the ring, as with the ring's own budget. The budgets are exact:
 * a reservation that would pass a limit is given back. Persistent caches stop
 * growing once a quarter of a limit is all that is left, so requests in flight
 * always find room again once earlier ones are answered.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "grant.h"
#include "parse.h"

/* One domain's budget, shared by its rings. */
struct grant_budget {
	uint32_t domid;
	unsigned int users;		/* rings holding it, under budgets_lock */
	uint64_t used;			/* pages held (atomic) */
	struct grant_budget *next;
};

static pthread_mutex_t budgets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct grant_budget *budgets;
static uint64_t daemon_used;		/* pages held over every domain (atomic) */
static uint64_t domain_limit = GRANT_DOMAIN_PAGES_DEFAULT;
static uint64_t daemon_limit = GRANT_DAEMON_PAGES_DEFAULT;

/* Set the limits (before any ring starts); -EINVAL if out of range. */
int grant_set_limits(uint64_t domain_pages, uint64_t daemon_pages)
{
	if (domain_pages < GRANT_LIMIT_MIN_PAGES || daemon_pages < domain_pages)
		return -EINVAL;
	domain_limit = domain_pages;
	daemon_limit = daemon_pages;
	return 0;
}

/* The limits in force. */
void grant_get_limits(uint64_t *domain_pages, uint64_t *daemon_pages)
{
	*domain_pages = domain_limit;
	*daemon_pages = daemon_limit;
}

/* The budget of a domain, created on first use; NULL if out of memory. */
struct grant_budget *grant_budget_get(uint32_t domid)
{
	struct grant_budget *b;

	pthread_mutex_lock(&budgets_lock);
	for (b = budgets; b && b->domid != domid; b = b->next)
		;
	if (!b && (b = calloc(1, sizeof(*b)))) {
		b->domid = domid;
		b->next = budgets;
		budgets = b;
	}
	if (b)
		b->users++;
	pthread_mutex_unlock(&budgets_lock);
	return b;
}

/* A ring lets go of its domain's budget (holding no pages in it); NULL is fine. */
void grant_budget_put(struct grant_budget *b)
{
	struct grant_budget **pp;

	if (!b)
		return;
	pthread_mutex_lock(&budgets_lock);
	if (!--b->users) {
		for (pp = &budgets; *pp != b; pp = &(*pp)->next)
			;
		*pp = b->next;
		free(b);
	}
	pthread_mutex_unlock(&budgets_lock);
}

/* Add n pages to a counter unless that passes max (n == 0 never fails). */
static bool counter_take(uint64_t *c, uint64_t n, uint64_t max)
{
	uint64_t now = __atomic_load_n(c, __ATOMIC_RELAXED);

	do {
		if (n && now + n > max)
			return false;
	} while (!__atomic_compare_exchange_n(c, &now, now + n, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return true;
}

/* Reserve n pages in the domain's budget and the daemon's, up to their limits minus keep. */
static bool budget_take(struct grant_budget *b, uint64_t n, uint64_t keep_dom, uint64_t keep_all)
{
	if (!counter_take(&b->used, n, domain_limit - keep_dom))
		return false;
	if (!counter_take(&daemon_used, n, daemon_limit - keep_all)) {
		__atomic_sub_fetch(&b->used, n, __ATOMIC_RELAXED);
		return false;
	}
	return true;
}

/* Reserve n pages for requests in flight; false if a limit would be passed. */
bool grant_budget_take(struct grant_budget *b, unsigned int n)
{
	return !b || budget_take(b, n, 0, 0);
}

/* Whether a request of the largest size would fit now (a hint for sleeping). */
bool grant_budget_room(const struct grant_budget *b)
{
	return !b || (__atomic_load_n(&b->used, __ATOMIC_RELAXED) + BLK_MAX_SEGS <= domain_limit &&
		      __atomic_load_n(&daemon_used, __ATOMIC_RELAXED) + BLK_MAX_SEGS <=
		      daemon_limit);
}

/* Reserve one page for a new persistent grant, leaving a quarter of each limit free. */
bool grant_budget_take_cached(struct grant_budget *b)
{
	return !b || budget_take(b, 1, domain_limit / 4, daemon_limit / 4);
}

/* Give back n pages. */
void grant_budget_give(struct grant_budget *b, unsigned int n)
{
	if (!b || !n)
		return;
	__atomic_sub_fetch(&b->used, n, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&daemon_used, n, __ATOMIC_RELAXED);
}

/* Pages held by a domain's rings now. */
uint64_t grant_budget_used(const struct grant_budget *b)
{
	return b ? __atomic_load_n(&b->used, __ATOMIC_RELAXED) : 0;
}

/* Pages held by every ring of the daemon now. */
uint64_t grant_daemon_used(void)
{
	return __atomic_load_n(&daemon_used, __ATOMIC_RELAXED);
}
