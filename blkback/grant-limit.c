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
 *
 * Room is handed out in turn. A ring that finds no room waits in line, in each
 * scope (its domain's budget, the daemon's) that held it back; while a line has
 * waiters, no ring behind them takes from that scope, even where room exists, and
 * giving pages back wakes the first waiter through its ring's doorbell. Without
 * the lines a busy ring re-takes the room its own completions free before a
 * waiting ring looks again, and can starve it for as long as it stays busy.
 * A waiter keeps one ticket, from its first failure until it takes, and every
 * line is in ticket order: two rings waiting in the same two lines are in the
 * same order in both, so neither waits for the other.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "grant.h"
#include "parse.h"

/* One domain's budget, shared by its rings. */
struct grant_budget {
	uint32_t domid;
	unsigned int users;		/* rings holding it, under budgets_lock */
	uint64_t used;			/* pages held (atomic) */
	struct grant_waiter *line;	/* rings waiting for room here, under line_lock */
	unsigned int nwait;		/* how many (atomic) */
	struct grant_budget *next;
};

static pthread_mutex_t budgets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct grant_budget *budgets;
static uint64_t daemon_used;		/* pages held over every domain (atomic) */
static uint64_t domain_limit = GRANT_DOMAIN_PAGES_DEFAULT;
static uint64_t daemon_limit = GRANT_DAEMON_PAGES_DEFAULT;

/* The lines: every domain's (in its budget) and the daemon's. */
static pthread_mutex_t line_lock = PTHREAD_MUTEX_INITIALIZER;
static struct grant_waiter *all_line;	/* under line_lock */
static unsigned int all_nwait;		/* how many wait in it (atomic) */
static uint64_t tickets;		/* the last ticket given, under line_lock */

/* The room a waiter waits for: a request of the largest size. */
#define WANT BLK_MAX_SEGS

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
	uint64_t now = __atomic_load_n(c, __ATOMIC_SEQ_CST);

	do {
		if (n && now + n > max)
			return false;
	} while (!__atomic_compare_exchange_n(c, &now, now + n, true, __ATOMIC_SEQ_CST,
					      __ATOMIC_SEQ_CST));
	return true;
}

/* Whether n more pages fit under max in counter c now. */
static bool fits(const uint64_t *c, uint64_t n, uint64_t max)
{
	return __atomic_load_n(c, __ATOMIC_SEQ_CST) + n <= max;
}

static void wake_heads(struct grant_budget *b);

/* Whether no one waits in b's line or the daemon's. */
static bool no_waiters(const struct grant_budget *b)
{
	return !__atomic_load_n(&b->nwait, __ATOMIC_SEQ_CST) &&
	       !__atomic_load_n(&all_nwait, __ATOMIC_SEQ_CST);
}

/*
 * Reserve n pages in the domain's budget and the daemon's, up to their limits minus keep.
 * A domain reservation undone may have made a waiter find no room meanwhile: it is woken,
 * as by a give (locked: the caller holds line_lock).
 */
static bool budget_take(struct grant_budget *b, uint64_t n, uint64_t keep_dom, uint64_t keep_all,
			bool locked)
{
	if (!counter_take(&b->used, n, domain_limit - keep_dom))
		return false;
	if (counter_take(&daemon_used, n, daemon_limit - keep_all))
		return true;
	__atomic_sub_fetch(&b->used, n, __ATOMIC_SEQ_CST);
	if (!no_waiters(b)) {
		if (!locked)
			pthread_mutex_lock(&line_lock);
		wake_heads(b);
		if (!locked)
			pthread_mutex_unlock(&line_lock);
	}
	return false;
}

/* The next waiter after w in the domain's line (dom) or the daemon's. */
static struct grant_waiter **line_next(struct grant_waiter *w, bool dom)
{
	return dom ? &w->dom_next : &w->all_next;
}

/* Put w in a line, behind the waiters of older tickets. Under line_lock. */
static void line_insert(struct grant_waiter **head, struct grant_waiter *w, bool dom)
{
	struct grant_waiter **pp = head;

	while (*pp && (*pp)->ticket < w->ticket)
		pp = line_next(*pp, dom);
	*line_next(w, dom) = *pp;
	__atomic_store_n(pp, w, __ATOMIC_RELEASE);	/* room() compares the head unlocked */
}

/* Take w out of a line it is in. Under line_lock. */
static void line_remove(struct grant_waiter **head, struct grant_waiter *w, bool dom)
{
	struct grant_waiter **pp = head;

	while (*pp != w)
		pp = line_next(*pp, dom);
	__atomic_store_n(pp, *line_next(w, dom), __ATOMIC_RELEASE);
	*line_next(w, dom) = NULL;
}

/* Whether a line has a waiter ahead of w (NULL: a taker that never waits). Under line_lock. */
static bool line_ahead(const struct grant_waiter *head, const struct grant_waiter *w)
{
	return head && head != w && (!w || !w->ticket || head->ticket < w->ticket);
}

/* Ring the doorbell of a line's first waiter if room has come for it. Under line_lock. */
static void line_wake(struct grant_waiter *head, bool room)
{
	uint64_t one = 1;
	ssize_t rc;

	if (!head || head->woken || !room)
		return;
	head->woken = true;
	/* An eventfd: the write fails only if the ring has not read 2^64 - 2 wake-ups. */
	rc = write(head->wake_fd, &one, sizeof(one));
	(void)rc;
}

/* Wake the first waiters of b's line and of the daemon's, where room has come. */
static void wake_heads(struct grant_budget *b)
{
	line_wake(b->line, fits(&b->used, WANT, domain_limit));
	line_wake(all_line, fits(&daemon_used, WANT, daemon_limit));
}

/* w joins the lines of the scopes that held it back (dom, all). Under line_lock. */
static void line_join(struct grant_budget *b, struct grant_waiter *w, bool dom, bool all)
{
	if (!w->ticket)
		w->ticket = ++tickets;
	w->woken = false;
	if (dom && !w->in_dom) {
		w->in_dom = true;
		line_insert(&b->line, w, true);
		__atomic_add_fetch(&b->nwait, 1, __ATOMIC_SEQ_CST);
	}
	if (all && !w->in_all) {
		w->in_all = true;
		line_insert(&all_line, w, false);
		__atomic_add_fetch(&all_nwait, 1, __ATOMIC_SEQ_CST);
	}
}

/* w leaves every line it waits in. Under line_lock. */
static void line_leave(struct grant_budget *b, struct grant_waiter *w)
{
	if (w->in_dom) {
		line_remove(&b->line, w, true);
		w->in_dom = false;
		__atomic_sub_fetch(&b->nwait, 1, __ATOMIC_SEQ_CST);
	}
	if (w->in_all) {
		line_remove(&all_line, w, false);
		w->in_all = false;
		__atomic_sub_fetch(&all_nwait, 1, __ATOMIC_SEQ_CST);
	}
	w->ticket = 0;
	w->woken = false;
}

/*
 * Whether w may have n pages now, no one waiting ahead of it, and with take reserve
 * them (w then leaves its lines). If not, w waits in line where it was held back.
 * Under line_lock.
 */
static bool line_try(struct grant_budget *b, struct grant_waiter *w, uint64_t n, bool take)
{
	bool dom = !line_ahead(b->line, w) && fits(&b->used, n, domain_limit);
	bool all = !line_ahead(all_line, w) && fits(&daemon_used, n, daemon_limit);

	if (dom && all) {
		if (!take)
			return true;
		if (budget_take(b, n, 0, 0, true)) {
			if (w && w->ticket) {
				line_leave(b, w);
				wake_heads(b);	/* the next in line may fit too */
			}
			return true;
		}
		/* A persistent cache took the room meanwhile (caches do not queue). */
		dom = fits(&b->used, n, domain_limit);
		all = fits(&daemon_used, n, daemon_limit);
		if (dom && all)
			dom = all = false;	/* and gave it back: wait in both, a give wakes */
	}
	if (w)
		line_join(b, w, !dom, !all);
	return false;
}

/* A ring's waiter, woken through wake_fd (an eventfd) when room comes. */
void grant_waiter_init(struct grant_waiter *w, int wake_fd)
{
	*w = (struct grant_waiter){ .wake_fd = wake_fd };
}

/* Reserve n pages for requests in flight, in turn; false if w must wait (or a limit). */
bool grant_budget_take(struct grant_budget *b, struct grant_waiter *w, unsigned int n)
{
	bool ok;

	if (!b)
		return true;
	if ((!w || !w->ticket) && no_waiters(b)) {
		if (budget_take(b, n, 0, 0, false))
			return true;
		if (!w)
			return false;
	}
	pthread_mutex_lock(&line_lock);
	ok = line_try(b, w, n, true);
	pthread_mutex_unlock(&line_lock);
	return ok;
}

/*
 * Whether w may take a request of the largest size now: room, and no one ahead of it in
 * line. If not, w waits in line and is woken when its turn comes, as after a failed take.
 */
bool grant_budget_room(struct grant_budget *b, struct grant_waiter *w)
{
	bool ok;

	if (!b)
		return true;
	/* Unlocked, the common cases: no one waits, or w is first wherever it waits. */
	if (w && w->ticket) {
		if ((w->in_dom ? __atomic_load_n(&b->line, __ATOMIC_ACQUIRE) == w :
				 !__atomic_load_n(&b->nwait, __ATOMIC_SEQ_CST)) &&
		    (w->in_all ? __atomic_load_n(&all_line, __ATOMIC_ACQUIRE) == w :
				 !__atomic_load_n(&all_nwait, __ATOMIC_SEQ_CST)) &&
		    fits(&b->used, WANT, domain_limit) && fits(&daemon_used, WANT, daemon_limit))
			return true;
	} else if (no_waiters(b) && fits(&b->used, WANT, domain_limit) &&
		   fits(&daemon_used, WANT, daemon_limit)) {
		return true;
	}
	if (!w)
		return false;
	pthread_mutex_lock(&line_lock);
	ok = line_try(b, w, WANT, false);
	pthread_mutex_unlock(&line_lock);
	return ok;
}

/* A ring that will not take for now (stopping, halted, paused...) leaves the lines. */
void grant_budget_leave(struct grant_budget *b, struct grant_waiter *w)
{
	if (!b || !w || !w->ticket)
		return;
	pthread_mutex_lock(&line_lock);
	line_leave(b, w);
	wake_heads(b);
	pthread_mutex_unlock(&line_lock);
}

/* Reserve one page for a new persistent grant, leaving a quarter of each limit free. */
bool grant_budget_take_cached(struct grant_budget *b)
{
	return !b || budget_take(b, 1, domain_limit / 4, daemon_limit / 4, false);
}

/* Give back n pages, and wake the first in line if that makes room for it. */
void grant_budget_give(struct grant_budget *b, unsigned int n)
{
	if (!b || !n)
		return;
	__atomic_sub_fetch(&b->used, n, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&daemon_used, n, __ATOMIC_SEQ_CST);
	if (no_waiters(b))
		return;
	pthread_mutex_lock(&line_lock);
	wake_heads(b);
	pthread_mutex_unlock(&line_lock);
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
