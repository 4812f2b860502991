/*
 * Watching a busy ring instead of sleeping on it. After a turn that did work, the ring's
 * thread keeps looking at the shared ring and at its storage queue for a short window
 * before it arms req_event and sleeps in poll: a frontend that pushes while we watch sees
 * req_event behind its old producer and does not notify, and we take its requests without
 * a wake-up on either side. The window adapts, as Linux's haltpoll does: it grows when a
 * sleep turned out shorter than the bound (a longer watch would have caught the work) and
 * shrinks when sleeps are long, so an idle disk is not watched at all.
 */
#include <poll.h>

#include "ringint.h"
#include "sring.h"
#include "stats.h"

/* The first window after a short sleep, and the smallest kept when shrinking. */
#define WINDOW_START_NS 2000u

/* Tell the CPU we are spinning (a sibling hyperthread gets the core meanwhile). */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Whether storage's fd is ready for what the engine waits for: a poll that does not wait. */
static bool storage_ready(struct pollfd *sfd)
{
	sfd->revents = 0;
	return sfd->fd >= 0 && poll(sfd, 1, 0) == 1;
}

/*
 * Watch the ring and storage for up to the current window. True as soon as there is
 * something to do: requests we may take, completions to reap (reaped here), or a stop or
 * pause from the main thread; false when the window passed with nothing.
 */
bool ring_watch(struct blk_ring *r, struct pollfd *sfd)
{
	uint64_t start, now;

	if (!r->window_ns)
		return false;
	start = now = now_ns();
	/*
	 * The clock is read every spin, though it is a system call where it has no vDSO: it
	 * also paces the looks at the ring. Spinning on the ring alone (the clock read every
	 * 8th spin, tried) keeps its cache line away from the frontend that writes it: in
	 * xensim at QD32 that cut IOPS by half.
	 */
	while (now - start < r->window_ns) {
		if (sring_has_requests(&r->rings.native) && ring_can_consume(r))
			goto found;
		if (r->in_storage && storage_ready(sfd)) {
			r->clk_ns = now;
			storage_reap(r->sq);	/* an error on the fd: the loop's poll reports it */
			goto found;
		}
		if (__atomic_load_n(&r->stop_req, __ATOMIC_ACQUIRE) ||
		    __atomic_load_n(&r->pause_req, __ATOMIC_ACQUIRE))
			goto found;
		cpu_relax();
		now = now_ns();
	}
	stat_add(&r->stats.poll_ns, now - start);
	r->clk_ns = now;	/* the sleep that follows starts about now */
	return false;
found:
	r->clk_ns = now_ns();	/* the next turn's */
	stat_add(&r->stats.poll_ns, r->clk_ns - start);
	stat_add(&r->stats.poll_hits, 1);
	return true;
}

/* The thread slept slept_ns in poll: fit the window to what watching would have saved. */
void ring_window_adapt(struct blk_ring *r, uint64_t slept_ns)
{
	uint64_t max = (uint64_t)r->cfg.poll_us * 1000u;

	if (!max) {
		r->window_ns = 0;
	} else if (slept_ns <= max) {
		r->window_ns = r->window_ns ? r->window_ns * 2 : WINDOW_START_NS;
		if (r->window_ns > max)
			r->window_ns = max;
	} else {
		r->window_ns /= 2;
		if (r->window_ns < WINDOW_START_NS)
			r->window_ns = 0;
	}
}
