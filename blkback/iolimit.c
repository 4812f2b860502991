/* A disk's I/O limits: two token buckets (requests, bytes) under one lock. */
#include <string.h>

#include "iolimit.h"

#define NS_PER_S 1000000000ull

/*
 * The deepest debt a bucket may owe: twice the largest request (256 pages). A request
 * goes once the bucket holds the whole burst, so the debt is below one request's cost;
 * only requests let go without waiting (a ring that stops) could push it further.
 */
#define TB_DEBT_MAX (2ll << 20)

/* Set the bucket's rate and burst at now: a new limit starts full; a lower burst cuts it. */
void tb_set(struct tbucket *b, uint64_t rate, uint64_t burst, uint64_t now)
{
	if (!rate) {
		memset(b, 0, sizeof(*b));
		return;
	}
	if (!b->rate) {
		*b = (struct tbucket){ .rate = rate, .burst = burst, .tokens = (int64_t)burst,
				       .last_ns = now };
		return;
	}
	tb_refill(b, now);	/* what was earned at the old rate */
	b->rate = rate;
	b->burst = burst;
	if (b->tokens >= (int64_t)burst) {
		b->tokens = (int64_t)burst;
		b->frac = 0;
	}
}

/* Nanoseconds at the bucket's rate to earn need tokens (less the part-token it holds). */
static uint64_t tb_time(const struct tbucket *b, uint64_t need)
{
	/* need <= burst + debt < 2^33: times 10^9 fits in 64 bits */
	return (need * NS_PER_S - b->frac + b->rate - 1) / b->rate;
}

/* Add what was earned up to now. */
void tb_refill(struct tbucket *b, uint64_t now)
{
	uint64_t need, elapsed, credit;

	if (!b->rate || now <= b->last_ns)	/* another queue refilled it later already */
		return;
	elapsed = now - b->last_ns;
	b->last_ns = now;
	if (b->tokens >= (int64_t)b->burst) {
		b->frac = 0;
		return;
	}
	need = (uint64_t)((int64_t)b->burst - b->tokens);
	if (elapsed >= tb_time(b, need)) {	/* full: also bounds the product below */
		b->tokens = (int64_t)b->burst;
		b->frac = 0;
		return;
	}
	credit = elapsed * b->rate + b->frac;
	b->tokens += (int64_t)(credit / NS_PER_S);
	b->frac = credit % NS_PER_S;
}

/* Nanoseconds from the last refill until cost (or the whole burst) is held; 0: now. */
uint64_t tb_wait_ns(const struct tbucket *b, uint64_t cost)
{
	uint64_t want = cost < b->burst ? cost : b->burst;

	if (!b->rate || !cost || b->tokens >= (int64_t)want)
		return 0;
	return tb_time(b, (uint64_t)((int64_t)want - b->tokens));
}

/* Take cost: the bucket may go into debt, bounded. */
void tb_take(struct tbucket *b, uint64_t cost)
{
	if (!b->rate)
		return;
	b->tokens -= (int64_t)cost;
	if (b->tokens < -TB_DEBT_MAX)
		b->tokens = -TB_DEBT_MAX;
}

/* Give back n tokens taken for a cost that turned out smaller; up to burst. */
void tb_give(struct tbucket *b, uint64_t n)
{
	if (!b->rate)
		return;
	b->tokens += (int64_t)n;
	if (b->tokens >= (int64_t)b->burst) {
		b->tokens = (int64_t)b->burst;
		b->frac = 0;
	}
}

/* No limits yet. */
void iolimit_init(struct iolimit *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
}

/* Free what iolimit_init set up. */
void iolimit_fini(struct iolimit *l)
{
	pthread_mutex_destroy(&l->lock);
}

/* Set the limits, under the lock. */
static void set_locked(struct iolimit *l, const struct storage_limits *lim, uint64_t now)
{
	l->given = *lim;
	tb_set(&l->req, lim->iops, storage_limit_burst(lim->iops, lim->iops_burst, 1), now);
	tb_set(&l->bytes, lim->bps, storage_limit_burst(lim->bps, lim->bps_burst, STORAGE_BPS_MIN),
	       now);
	__atomic_store_n(&l->on, lim->iops || lim->bps, __ATOMIC_RELEASE);
}

/* Set the limits (rates of 0: none) at now. */
void iolimit_set(struct iolimit *l, const struct storage_limits *lim, uint64_t now)
{
	pthread_mutex_lock(&l->lock);
	set_locked(l, lim, now);
	pthread_mutex_unlock(&l->lock);
}

/* The options given over the limits in force; -EINVAL with why, nothing changed. */
int iolimit_change(struct iolimit *l, struct storage_limits *given, uint64_t now, char *err,
		   size_t errlen)
{
	int ret;

	pthread_mutex_lock(&l->lock);
	ret = storage_limits_merge(&l->given, given, err, errlen);
	if (!ret)
		set_locked(l, given, now);
	pthread_mutex_unlock(&l->lock);
	return ret;
}

/*
 * What a waiting request asks a bucket for before it looks again: its cost, or if more, a
 * millisecond's tokens (at most half the burst). A ring limited to 5000 requests a second
 * then wakes about once a millisecond and lets 5 go, not 5000 times for one each; the
 * burst holds what comes meanwhile, so the rate is the same.
 */
static uint64_t tb_batch(const struct tbucket *b, uint64_t cost)
{
	uint64_t batch = b->rate / 1000 < b->burst / 2 ? b->rate / 1000 : b->burst / 2;

	return cost > batch ? cost : batch;
}

/* May a request of bytes go at now? 0: yes, cost taken; else the nanoseconds to wait. */
uint64_t iolimit_admit(struct iolimit *l, uint64_t bytes, bool force, uint64_t now)
{
	uint64_t wait, w;

	pthread_mutex_lock(&l->lock);
	tb_refill(&l->req, now);
	tb_refill(&l->bytes, now);
	wait = tb_wait_ns(&l->req, 1);
	w = tb_wait_ns(&l->bytes, bytes);
	if (force || (!wait && !w)) {
		tb_take(&l->req, 1);
		tb_take(&l->bytes, bytes);
		wait = 0;
	} else {	/* when to look again */
		wait = tb_wait_ns(&l->req, tb_batch(&l->req, 1));
		w = tb_wait_ns(&l->bytes, bytes ? tb_batch(&l->bytes, bytes) : 0);
		wait = w > wait ? w : wait;
	}
	pthread_mutex_unlock(&l->lock);
	return wait;
}

/* Give back bytes taken for a request that turned out smaller. */
void iolimit_refund(struct iolimit *l, uint64_t bytes)
{
	pthread_mutex_lock(&l->lock);
	tb_give(&l->bytes, bytes);
	pthread_mutex_unlock(&l->lock);
}

/* Count a request that waited wait_ns for its tokens. */
void iolimit_waited(struct iolimit *l, uint64_t wait_ns)
{
	pthread_mutex_lock(&l->lock);
	l->throttled++;
	l->wait_ns += wait_ns;
	pthread_mutex_unlock(&l->lock);
}

/* The limits in force and the buckets at now. */
void iolimit_get(struct iolimit *l, uint64_t now, struct iolimit_state *st)
{
	pthread_mutex_lock(&l->lock);
	tb_refill(&l->req, now);
	tb_refill(&l->bytes, now);
	*st = (struct iolimit_state){
		.iops = l->req.rate, .iops_burst = l->req.burst, .iops_tokens = l->req.tokens,
		.bps = l->bytes.rate, .bps_burst = l->bytes.burst, .bps_tokens = l->bytes.tokens,
		.throttled = l->throttled, .wait_ns = l->wait_ns,
	};
	pthread_mutex_unlock(&l->lock);
}
