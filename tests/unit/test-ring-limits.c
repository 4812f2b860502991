/*
 * Unit test: the grant pages a domain, and the daemon, may hold (blkback/grant-limit.c)
 * through blkback/ring.c. The test itself plays the other rings: it holds pages in
 * the budgets of the ring's domain or of another domain, and checks that the ring
 * then waits (its requests neither fail nor reach storage), goes on once the pages
 * come back, and that its persistent cache stops growing near a limit.
 */
#include <sys/eventfd.h>
#include <sys/stat.h>

#include "../../blkback/journal.h"
#include "ring-harness.h"

#define DOM_LIMIT 2048		/* pages per domain, in this test */
#define ALL_LIMIT 4096		/* pages in all */
#define DOMID 5			/* ring-harness.h's frontend */
#define OTHER 9			/* another guest */

/* Push a one-page write of ref at sector, with id. */
static void push_write(struct world *w, uint64_t id, grant_ref_t ref, uint64_t sector)
{
	blkif_request_t *req = front_req(w, BLKIF_OP_WRITE, id, sector);

	add_seg(req, ref, 0, 7);
	front_push(w);
}

/* Wait for one answer and check it is id's, with OKAY. */
static void expect_ok(struct world *w, uint64_t id, const char *what)
{
	blkif_response_t rsp;

	CHECK(wait_rsps(w, 1), "%s: no answer", what);
	if (w->sring->rsp_prod == w->front.rsp_cons)
		return;
	take_rsp(w, &rsp);
	CHECK_U64(rsp.id, id, what);
	CHECK_INT(rsp.status, BLKIF_RSP_OKAY, what);
}

/* The budgets themselves: exact limits, shares per domain, nothing lost. */
static void test_budgets(void)
{
	struct grant_budget *a = grant_budget_get(DOMID), *b = grant_budget_get(OTHER);

	printf("case 1: the budgets' arithmetic\n");
	CHECK(a && b && a != b, "budgets of two domains");
	CHECK(grant_budget_take(a, NULL, DOM_LIMIT), "a domain can take its whole limit");
	CHECK(!grant_budget_take(a, NULL, 1), "a domain took a page past its limit");
	CHECK(!grant_budget_room(a, NULL), "room reported past the domain's limit");
	CHECK(grant_budget_take(b, NULL, DOM_LIMIT - 256), "another domain is not held back");
	CHECK(!grant_budget_take(b, NULL, 512), "the daemon's limit was passed");
	CHECK_U64(grant_daemon_used(), ALL_LIMIT - 256, "daemon pages after failed takes");
	CHECK(!grant_budget_take_cached(b), "a cache grew into the last quarter");
	grant_budget_give(a, DOM_LIMIT);
	grant_budget_give(b, DOM_LIMIT - 256);
	CHECK_U64(grant_budget_used(a), 0, "domain pages after giving back");
	CHECK_U64(grant_daemon_used(), 0, "daemon pages after giving back");
	CHECK(grant_budget_take_cached(a), "a cache cannot grow in an empty budget");
	grant_budget_give(a, 1);
	grant_budget_put(a);
	grant_budget_put(b);
	CHECK(grant_set_limits(512, ALL_LIMIT) == -EINVAL, "a domain limit below the minimum");
	CHECK(grant_set_limits(ALL_LIMIT * 2, ALL_LIMIT) == -EINVAL,
	      "a domain limit above the daemon's");
}

/*
 * Case 2 and 3: the domain's (or the daemon's) budget is held by someone else; a
 * request waits on the ring, then runs once the pages come back.
 */
static void test_wait(uint32_t holder, unsigned int hold, const char *what)
{
	struct world w;
	struct grant_budget *b = grant_budget_get(holder);
	uint64_t before = grant_daemon_used();

	printf("%s\n", what);
	world_start(&w);
	CHECK(grant_budget_take(b, NULL, hold), "holding %u pages", hold);
	push_write(&w, 0x21, 1, 0);
	CHECK(log_stays(0), "a request went to storage with no room in the budget");
	CHECK_INT(w.sring->rsp_prod, 0, "a request without room was answered");
	grant_budget_give(b, hold);
	expect_ok(&w, 0x21, "the request once the pages came back");
	CHECK_INT(log_len(), 1, "I/Os to storage");
	world_stop(&w);
	grant_budget_put(b);
	CHECK_U64(grant_daemon_used(), before, "daemon pages after the ring stopped");
}

/* Case 3: another guest holding all of its share does not hold this one back. */
static void test_not_starved(void)
{
	struct world w;
	struct grant_budget *b = grant_budget_get(OTHER);

	printf("case 3: another guest at its limit\n");
	world_start(&w);
	CHECK(grant_budget_take(b, NULL, DOM_LIMIT), "another guest takes its share");
	CHECK(!grant_budget_take(b, NULL, 256), "another guest took more than its share");
	push_write(&w, 0x31, 1, 0);
	expect_ok(&w, 0x31, "a request beside a guest at its limit");
	grant_budget_give(b, DOM_LIMIT);
	world_stop(&w);
	grant_budget_put(b);
}

/*
 * Case 5: near the domain's limit its persistent caches stop growing, leaving
 * room for requests in flight; requests still run, mapped per sweep.
 */
static void test_cache_stops(void)
{
	struct world w;
	struct grant_budget *b = grant_budget_get(DOMID);
	/* With the cached grant and the request's own page: one past three quarters. */
	unsigned int hold = DOM_LIMIT - DOM_LIMIT / 4 - 2;

	printf("case 5: the persistent cache stops growing near the domain's limit\n");
	world_init(&w, NR_GRANTS);
	w.cfg.grant_mode = GRANT_MODE_PERSISTENT;
	CHECK(world_ring_start(&w) == 0, "blk_ring_start");
	push_write(&w, 0x41, 1, 0);
	expect_ok(&w, 0x41, "a write with room");
	CHECK_INT(fake_grant_mapped(1), 1, "a persistent grant kept with room");
	/* The domain's other rings hold the rest of its first three quarters. */
	CHECK(grant_budget_take(b, NULL, hold), "holding pages");
	push_write(&w, 0x42, 2, 8);
	expect_ok(&w, 0x42, "a write with no room to cache");
	CHECK_INT(fake_grant_mapped(2), 0, "a grant cached with no room for it");
	CHECK_INT(fake_grant_map_count(2), 1, "maps of the uncached grant");
	push_write(&w, 0x43, 1, 16);
	expect_ok(&w, 0x43, "a write of a grant already cached");
	grant_budget_give(b, hold);
	world_stop(&w);
	grant_budget_put(b);
	CHECK_U64(grant_daemon_used(), 0, "daemon pages after the ring stopped");
}

/*
 * Case 6: a ring taken over from a journal, whose request to run again finds no room
 * in the domain's budget. The frontend has nothing more to send (its request was
 * consumed before the kill), so nothing rings the ring's doorbell: the ring must look
 * again by itself once the domain's other rings give the pages back.
 */
static void test_redo_waits(void)
{
	char dir[] = "/tmp/test-ring-limits-XXXXXX", path[64];
	struct grant_budget *b = grant_budget_get(DOMID);
	struct journal_key key;
	struct journal j;
	blkif_request_t req;
	struct world w;

	printf("case 6: a request taken over from a journal waits for room, then runs\n");
	CHECK(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/ring.journal", dir);
	world_init(&w, NR_GRANTS);
	w.cfg.journal = path;
	w.cfg.take_over = true;
	/* The killed daemon's journal: the request at index 0 taken into slot 0, unanswered. */
	memset(&key, 0, sizeof(key));
	key.domid = w.cfg.domid;
	key.devid = w.cfg.devid;
	key.ring_size = RING_SIZE(&w.front);
	key.abi = w.cfg.abi;
	key.remote_port = w.cfg.remote_port;
	key.ring_refs[0] = RING_REF;
	CHECK_INT(journal_create(&j, path, &key, RING_SIZE(&w.front)), 0, "journal_create");
	memset(&req, 0, sizeof(req));
	req.operation = BLKIF_OP_WRITE;
	req.id = 0x61;
	req.nr_segments = 1;
	req.seg[0] = (struct blkif_request_segment){ .gref = 1, .first_sect = 0, .last_sect = 7 };
	journal_take(&j, 0, 0, &req);
	journal_set_req_cons(&j, 1);
	journal_close(&j, false);
	/* The ring page as the kill left it: the request produced and consumed. */
	*RING_GET_REQUEST(&w.front, 0) = req;
	w.front.req_prod_pvt = 1;
	w.sring->req_prod = 1;

	CHECK(grant_budget_take(b, NULL, DOM_LIMIT), "the domain's other rings hold its whole share");
	CHECK_INT(world_ring_start(&w), 0, "taking over the ring");
	if (!w.ring)
		exit(1);
	CHECK(log_stays(0), "a request taken over went to storage with no room in the budget");
	grant_budget_give(b, DOM_LIMIT);
	expect_ok(&w, 0x61, "the request taken over, once the pages came back");
	CHECK_INT(log_len(), 1, "I/Os to storage");
	world_stop(&w);
	grant_budget_put(b);
	CHECK_U64(grant_daemon_used(), 0, "daemon pages after the ring stopped");
	unlink(path);
	rmdir(dir);
}

/* Wait (bounded) for a waiter's eventfd to be written, and read it. */
static bool woken(int efd)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	uint64_t n;

	return poll(&pfd, 1, TIMEOUT_MS) == 1 && read(efd, &n, sizeof(n)) == sizeof(n);
}

/*
 * Case 7 and 8: room is handed out in turn. The test plays a ring of domain behind (its
 * own waiter and doorbell) that found no room first; the ring's request comes next and
 * waits behind it. Once the holder gives its pages back, the first in line is woken and
 * the ring, though room exists, stays behind it (as does a taker that never waits); when
 * the first has taken, the ring is woken in its turn, with no timer.
 */
static void test_in_turn(uint32_t holder, unsigned int hold, uint32_t behind, const char *what)
{
	struct grant_budget *h = grant_budget_get(holder), *b = grant_budget_get(behind);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct grant_waiter first;
	struct world w;

	printf("%s\n", what);
	CHECK(efd >= 0, "eventfd: %s", strerror(errno));
	grant_waiter_init(&first, efd);
	world_start(&w);
	CHECK(grant_budget_take(h, NULL, hold), "holding %u pages", hold);
	CHECK(!grant_budget_take(b, &first, 256), "a ring took past the limit");
	CHECK(first.ticket != 0, "a ring that found no room is not in line");
	push_write(&w, 0x71, 1, 0);
	CHECK(log_stays(0), "a request went to storage with no room in the budget");
	grant_budget_give(h, hold);
	CHECK(woken(efd), "the first in line was not woken when room came back");
	CHECK(log_stays(0), "the ring took the room of a ring waiting before it");
	CHECK(!grant_budget_take(h, NULL, 1), "a taker passed the rings waiting in line");
	CHECK(grant_budget_room(b, &first), "no room for the first in line");
	CHECK(grant_budget_take(b, &first, 256), "the first in line cannot take");
	CHECK(first.ticket == 0, "a ring that took is still in line");
	CHECK(wait_log(1), "the ring was not woken in its turn");
	expect_ok(&w, 0x71, "the ring's request, in its turn");
	grant_budget_give(b, 256);
	world_stop(&w);
	CHECK_U64(grant_budget_used(h), 0, "the holder's pages after the case");
	CHECK_U64(grant_budget_used(b), 0, "the first ring's pages after the case");
	grant_budget_put(h);
	grant_budget_put(b);
	close(efd);
}

int main(void)
{
	if (grant_set_limits(DOM_LIMIT, ALL_LIMIT)) {
		fprintf(stderr, "grant_set_limits refused the test's limits\n");
		return 1;
	}
	test_budgets();
	/* The ring reserves the largest request (256 pages) to take one. */
	test_wait(DOMID, DOM_LIMIT - 255, "case 2: a request waits for room in its domain");
	test_not_starved();
	{
		struct grant_budget *c = grant_budget_get(OTHER + 1);

		CHECK(grant_budget_take(c, NULL, ALL_LIMIT - DOM_LIMIT), "a third domain's share");
		test_wait(OTHER, DOM_LIMIT - 255,
			  "case 4: a request waits for room in the daemon");
		grant_budget_give(c, ALL_LIMIT - DOM_LIMIT);
		grant_budget_put(c);
	}
	test_cache_stops();
	test_redo_waits();
	test_in_turn(DOMID, DOM_LIMIT - 255, DOMID,
		     "case 7: room in the domain's budget goes to the rings in line, in turn");
	{
		struct grant_budget *c = grant_budget_get(OTHER + 1);

		CHECK(grant_budget_take(c, NULL, ALL_LIMIT - DOM_LIMIT), "a third domain's share");
		test_in_turn(OTHER, DOM_LIMIT - 255, OTHER + 2,
			     "case 8: room in the daemon's budget goes to the rings in line, in turn");
		grant_budget_give(c, ALL_LIMIT - DOM_LIMIT);
		grant_budget_put(c);
	}
	return check_done("test-ring-limits");
}
