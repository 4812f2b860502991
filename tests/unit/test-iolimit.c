/*
 * Unit test: the I/O limits' token buckets (blkback/iolimit.c) on a clock the test drives
 * (no sleeps, no timing), and the limit options of disk specs and blkbackctl limit
 * (storage/storage.c).
 */
#include <errno.h>
#include <string.h>

#include "../../blkback/iolimit.h"
#include "../../storage/storage.h"
#include "check.h"

#define S 1000000000ull		/* a second, in ns */

/*
 * A greedy client: asks again exactly when told; how many requests of bytes go from start
 * to end, end included (a last look then takes what came since it was last told to wait).
 */
static uint64_t drive(struct iolimit *l, uint64_t bytes, uint64_t start, uint64_t end)
{
	uint64_t now = start, n = 0, wait;

	while (now < end) {
		wait = iolimit_admit(l, bytes, false, now);
		if (wait)
			now += wait;
		else
			n++;
	}
	while (!iolimit_admit(l, bytes, false, end))
		n++;
	return n;
}

/* One bucket: full at first, empty after its burst, refilled to the token, no drift. */
static void test_bucket(void)
{
	struct tbucket b = { 0 };

	tb_set(&b, 5000, 500, 7 * S);
	CHECK_INT(b.tokens, 500, "a new limit starts full");
	CHECK_U64(tb_wait_ns(&b, 1), 0, "a full bucket lets a request go");
	tb_take(&b, 500);
	CHECK_INT(b.tokens, 0, "the burst taken");
	CHECK_U64(tb_wait_ns(&b, 1), 200000, "one token of 5000/s: 200 us");
	tb_refill(&b, 7 * S + 199999);
	CHECK_INT(b.tokens, 0, "not yet a whole token");
	CHECK_U64(tb_wait_ns(&b, 1), 1, "1 ns to go (the part-token is kept)");
	tb_refill(&b, 7 * S + 200000);
	CHECK_INT(b.tokens, 1, "a token at 200 us");
	tb_refill(&b, 7 * S + 200000 - 5);
	CHECK_INT(b.tokens, 1, "a time before the last refill (another queue's) changes nothing");
	tb_refill(&b, 8 * S);
	CHECK_INT(b.tokens, 500, "a second later: full again, not more than the burst");
	tb_refill(&b, 3600 * 24 * 365 * S);
	CHECK_INT(b.tokens, 500, "a year idle: still the burst");

	/* 3 a second: a token each 333333333.3 ns, and exactly 3 a second with no drift */
	tb_set(&b, 0, 0, 0);
	CHECK_U64(tb_wait_ns(&b, 1000), 0, "rate 0: no limit");
	tb_set(&b, 3, 2, 0);
	tb_take(&b, 2);	/* (a bucket that fills drops what comes meanwhile: no longer exact) */
	for (uint64_t t = 0, got = 0, w; t <= 10 * S; t += w) {
		tb_refill(&b, t);
		w = tb_wait_ns(&b, 1);
		if (!w) {
			tb_take(&b, 1);
			got++;
		}
		if (t == 10 * S)
			CHECK_U64(got, 30, "3/s over 10 s, asked when told");
	}
	CHECK_U64(b.last_ns, 10 * S, "the 30th token came at 10 s, not later");

	/* A lower burst cuts what the bucket holds; a higher one fills only with time. */
	tb_set(&b, 0, 0, 0);
	tb_set(&b, 1000, 100, 0);
	tb_set(&b, 1000, 10, 1);
	CHECK_INT(b.tokens, 10, "burst lowered to 10");
	tb_set(&b, 1000, 100, 2);
	CHECK_INT(b.tokens, 10, "burst raised: no tokens from nowhere");
	tb_refill(&b, 2 + 90 * 1000000ull);
	CHECK_INT(b.tokens, 100, "90 ms at 1000/s");
	tb_give(&b, 50);
	CHECK_INT(b.tokens, 100, "given back: never over the burst");
}

/* A request larger than the burst goes once the bucket is full, and its debt is paid first. */
static void test_debt(void)
{
	struct tbucket b = { 0 };

	tb_set(&b, 1 << 20, 64 << 10, 0);		/* 1 MiB/s, burst 64 KiB */
	CHECK_U64(tb_wait_ns(&b, 1 << 20), 0, "a 1 MiB request goes on a full 64 KiB bucket");
	tb_take(&b, 1 << 20);
	CHECK_INT(b.tokens, -(int64_t)((1 << 20) - (64 << 10)), "in debt by 960 KiB");
	CHECK_U64(tb_wait_ns(&b, 4096), (uint64_t)((1 << 20) - (64 << 10) + 4096) * S / (1 << 20),
		  "the next 4 KiB waits for the debt and itself");
	CHECK_U64(tb_wait_ns(&b, 0), 0, "no bytes (a flush): no wait for the bytes bucket");
	/* Requests let go without waiting (a ring that stops) cannot sink it without end. */
	for (int i = 0; i < 100; i++)
		tb_take(&b, 1 << 20);
	CHECK(b.tokens >= -(2ll << 20), "debt bounded: %" PRId64, b.tokens);

	/* The largest rate and burst for the longest time: no overflow. */
	tb_set(&b, 0, 0, 0);
	tb_set(&b, STORAGE_BPS_MAX, STORAGE_BPS_BURST_MAX, 0);
	tb_take(&b, STORAGE_BPS_BURST_MAX);
	tb_take(&b, 1 << 20);
	CHECK(tb_wait_ns(&b, 1 << 20) > 0, "1 TiB/s, empty: a wait");
	tb_refill(&b, 1);
	CHECK(b.tokens == -(1 << 20) + (int64_t)(STORAGE_BPS_MAX / S), "1 ns at 1 TiB/s: %" PRId64,
	      b.tokens);
	tb_refill(&b, UINT64_MAX / 2);
	CHECK_INT(b.tokens, STORAGE_BPS_BURST_MAX, "full, no overflow");
	tb_set(&b, 1, 1, 0);
	tb_take(&b, 1);
	CHECK_U64(tb_wait_ns(&b, 1), S, "1/s: a second");
}

/* l anew, with lim set at time 0. */
static void fresh(struct iolimit *l, const struct storage_limits *lim)
{
	iolimit_fini(l);
	iolimit_init(l);
	iolimit_set(l, lim, 0);
}

/* Both buckets together, as a disk's queues ask them. */
static void test_iolimit(void)
{
	struct iolimit l;
	struct iolimit_state st;
	struct storage_limits lim = { .iops = 5000, .iops_burst = 50 };
	char err[256];
	uint64_t n;

	iolimit_init(&l);
	CHECK(!iolimit_on(&l), "no limits at first");
	CHECK(!iolimit_on(NULL), "no limit object: no limits");
	iolimit_set(&l, &lim, 0);
	CHECK(iolimit_on(&l), "iops set");
	n = drive(&l, 4096, 0, 10 * S);
	CHECK_U64(n, 50 + 50000, "5000 IOPS, burst 50, greedy for 10 s: the burst, then the rate");
	CHECK_U64(iolimit_admit(&l, 4096, false, 10 * S), 1000000,
		  "an empty bucket: look again in a millisecond, when 5 can go, not in 200 us");

	/* bytes: 4 MiB/s of 1 MiB requests, burst 1 MiB */
	lim = (struct storage_limits){ .bps = 4 << 20, .bps_burst = 1 << 20 };
	fresh(&l, &lim);
	n = drive(&l, 1 << 20, 0, 10 * S);
	CHECK_U64(n, 41, "4 MiB/s of 1 MiB requests for 10 s, after a burst of 1 MiB");

	/* Both: the slower of the two decides. */
	lim = (struct storage_limits){ .iops = 100, .iops_burst = 1, .bps = 100 << 10,
				       .bps_burst = 4096 };
	fresh(&l, &lim);
	n = drive(&l, 4096, 0, 10 * S);
	CHECK_U64(n, 251, "100 KiB/s of 4 KiB beats 100 IOPS: 25 a second");

	/* Default bursts: a tenth of the rate, at least 1 request and 4 KiB. */
	lim = (struct storage_limits){ .iops = 5, .bps = 10 << 20 };
	fresh(&l, &lim);
	iolimit_get(&l, 0, &st);
	CHECK_U64(st.iops_burst, 1, "default iops burst of 5/s");
	CHECK_U64(st.bps_burst, 1 << 20, "default bps burst of 10 MiB/s");
	CHECK_INT(st.iops_tokens, 1, "full");

	/* force: goes now, and pays */
	CHECK_U64(iolimit_admit(&l, 4096, false, 0), 0, "first request");
	CHECK(iolimit_admit(&l, 4096, false, 0) > 0, "second waits");
	CHECK_U64(iolimit_admit(&l, 4096, true, 0), 0, "forced goes");
	iolimit_get(&l, 0, &st);
	CHECK_INT(st.iops_tokens, -1, "and is owed");
	iolimit_refund(&l, 4096);
	iolimit_get(&l, 0, &st);
	CHECK_INT(st.bps_tokens, (1 << 20) - 4096, "a refund gives bytes back");
	iolimit_waited(&l, 1234);
	iolimit_waited(&l, 1000);
	iolimit_get(&l, 0, &st);
	CHECK_U64(st.throttled, 2, "requests that waited");
	CHECK_U64(st.wait_ns, 2234, "their wait");

	/* Changes keep what is not given; a rate alone gets the default burst. */
	lim = (struct storage_limits){ .iops = 1000, .iops_burst = 7 };
	fresh(&l, &lim);
	storage_limits_unset(&lim);
	lim.bps = 1 << 20;
	CHECK_INT(iolimit_change(&l, &lim, 0, err, sizeof(err)), 0, "bps added");
	iolimit_get(&l, 0, &st);
	CHECK(st.iops == 1000 && st.iops_burst == 7 && st.bps == 1 << 20 &&
	      st.bps_burst == 104857, "iops kept, bps with its default burst");
	storage_limits_unset(&lim);
	lim.iops = 2000;
	CHECK_INT(iolimit_change(&l, &lim, 0, err, sizeof(err)), 0, "iops changed");
	iolimit_get(&l, 0, &st);
	CHECK(st.iops == 2000 && st.iops_burst == 200, "a new rate, the default burst: %" PRIu64,
	      st.iops_burst);
	storage_limits_unset(&lim);
	lim.iops_burst = 10;
	CHECK_INT(iolimit_change(&l, &lim, 0, err, sizeof(err)), 0, "burst alone changed");
	iolimit_get(&l, 0, &st);
	CHECK(st.iops == 2000 && st.iops_burst == 10, "rate kept");
	storage_limits_unset(&lim);
	lim.iops = 0;
	lim.bps = 0;
	CHECK_INT(iolimit_change(&l, &lim, 0, err, sizeof(err)), 0, "both off");
	CHECK(!iolimit_on(&l), "off again");
	CHECK_U64(iolimit_admit(&l, 1 << 20, false, 0), 0, "no limit: goes");
	storage_limits_unset(&lim);
	lim.bps_burst = 8192;
	CHECK_INT(iolimit_change(&l, &lim, 0, err, sizeof(err)), -EINVAL, "burst without rate");
	CHECK(strstr(err, "bps-burst=8192 without bps"), "says so: %s", err);
	CHECK(!iolimit_on(&l), "nothing changed");
	iolimit_fini(&l);
}

/* The options, in a disk spec and alone. */
static void test_options(void)
{
	static const struct { const char *key, *val, *msg; int err; uint64_t v; } cases[] = {
		{ "iops", "5000", NULL, 0, 5000 }, { "iops", "0", NULL, 0, 0 },
		{ "iops", "10000000", NULL, 0, 10000000 },
		{ "iops", "10000001", "out of range", -EINVAL, 0 },
		{ "iops", "5k", "not a number", -EINVAL, 0 },
		{ "iops", "-1", "not a number", -EINVAL, 0 },
		{ "iops", "", "not a number", -EINVAL, 0 },
		{ "iops", NULL, "not a number", -EINVAL, 0 },
		{ "iops-burst", "1", NULL, 0, 1 },
		{ "iops-burst", "0", "a burst of 0 would let no request through", -EINVAL, 0 },
		{ "bps", "100M", NULL, 0, 100 << 20 }, { "bps", "0", NULL, 0, 0 },
		{ "bps", "4K", NULL, 0, 4096 }, { "bps", "1T", NULL, 0, 1ull << 40 },
		{ "bps", "4095", "out of range", -EINVAL, 0 },
		{ "bps", "2T", "out of range", -EINVAL, 0 },
		{ "bps", "fast", "not a number", -EINVAL, 0 },
		{ "bps-burst", "4G", NULL, 0, 4ull << 30 },
		{ "bps-burst", "0", "a burst of 0", -EINVAL, 0 },
		{ "bps-burst", "5G", "out of range", -EINVAL, 0 },
		{ "size", "1M", NULL, -ENOENT, 0 },
	};
	struct storage_spec spec;
	char err[STORAGE_ERR_LEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct storage_limits l;
		uint64_t *f[] = { &l.iops, &l.iops_burst, &l.bps, &l.bps_burst };
		int e, k = !strcmp(cases[i].key, "iops") ? 0 : !strcmp(cases[i].key, "iops-burst") ?
			1 : !strcmp(cases[i].key, "bps") ? 2 : 3;

		storage_limits_unset(&l);
		err[0] = '\0';
		e = storage_limit_option(&l, cases[i].key, cases[i].val, err, sizeof(err));
		CHECK(e == cases[i].err, "%s=%s: %d, want %d (%s)", cases[i].key,
		      cases[i].val ? cases[i].val : "(none)", e, cases[i].err, err);
		if (!e)
			CHECK_U64(*f[k], cases[i].v, cases[i].key);
		if (cases[i].msg)
			CHECK(strstr(err, cases[i].msg) && strstr(err, cases[i].key),
			      "%s: message '%s' says '%s' and the key", cases[i].key, err,
			      cases[i].msg);
	}

	CHECK_INT(storage_spec_parse("mem:size=1M,iops=5000,bps=10M,bps-burst=1M", &spec, err,
				     sizeof(err)), 0, "a limited spec");
	CHECK(spec.limits.iops == 5000 && spec.limits.iops_burst == 0 &&
	      spec.limits.bps == 10 << 20 && spec.limits.bps_burst == 1 << 20, "its limits");
	storage_spec_free(&spec);
	CHECK_INT(storage_spec_parse("file:/srv/x.img,ro", &spec, err, sizeof(err)), 0, "no limits");
	CHECK(!spec.limits.iops && !spec.limits.iops_burst && !spec.limits.bps &&
	      !spec.limits.bps_burst, "none");
	storage_spec_free(&spec);
	CHECK_INT(storage_spec_parse("mem:size=1M,iops-burst=5", &spec, err, sizeof(err)), -EINVAL,
		  "a burst without its rate");
	CHECK(strstr(err, "iops-burst=5 without iops"), "says so: %s", err);
	CHECK_INT(storage_spec_parse("uring:/srv/x.img,iops=many", &spec, err, sizeof(err)),
		  -EINVAL, "not a number");
	CHECK(strstr(err, "bad iops 'many'"), "says so: %s", err);
	CHECK_INT(storage_spec_parse("mem:size=1M,bps-burst=0,bps=1M", &spec, err, sizeof(err)),
		  -EINVAL, "burst 0");
	CHECK(strstr(err, "bad bps-burst '0'"), "says so: %s", err);
}

int main(void)
{
	test_bucket();
	test_debt();
	test_iolimit();
	test_options();
	return check_done("test-iolimit");
}
