/* The helpers every case file of the hostile frontend uses: fail, waits, good reads. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "hostile.h"

const char *const outcome_name[] = { "ERROR", "HALT", "ANY", "REFUSED", "CLOSED", "DESTROYED" };
const char *hostile_vdev;
char hostile_reason[256];

/* Note why the case failed; returns 1. */
int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(hostile_reason, sizeof(hostile_reason), fmt, ap);
	va_end(ap);
	return 1;
}

/* Milliseconds on the monotonic clock. */
uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The options every connection of a case starts from. */
void hostile_opts(struct blkfront_opts *opts)
{
	blkfront_opts_init(opts);
	opts->vdev = hostile_vdev;
	opts->timeout_ms = CONNECT_MS;
	opts->indirect_segs = 32;
}

/* Is s one of the statuses a backend may answer? */
bool known_status(int16_t s)
{
	return s == BLKIF_RSP_OKAY || s == BLKIF_RSP_ERROR || s == BLKIF_RSP_EOPNOTSUPP;
}

/* Wait up to ms for one response: 1 (in *rsp), 0 on timeout, -ESHUTDOWN if closed. */
int wait_response(struct blkfront *bf, blkif_response_t *rsp, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	for (;;) {
		uint64_t t;
		int n;

		if (blkfront_ring_get_response(bf, rsp) == 1)
			return 1;
		t = now_ms();
		if (t >= end)
			return 0;
		n = blkfront_ring_wait(bf, (int)(end - t > 100 ? 100 : end - t));
		if (n < 0)
			return n;
	}
}

/* One good read of the first 4 KiB: the disk still serves this frontend. */
int good_read(struct blkfront *bf)
{
	static char buf[4096];
	int rc = blkfront_sync_io(bf, BLKIF_OP_READ, 0, sizeof(buf), buf, WAIT_MS);

	return rc ? fail("the good read after the bad request failed: %s", strerror(-rc)) : 0;
}

/* Connect afresh, do one good read, disconnect: the disk serves this guest again. */
int reconnect_and_read(const char *what)
{
	struct blkfront_opts opts;
	struct blkfront *bf;
	char err[256];
	int rc;

	hostile_opts(&opts);
	rc = blkfront_connect(&opts, &bf, err, sizeof(err));
	if (rc)
		return fail("%s, the disk does not connect again: %s", what, err);
	rc = good_read(bf);
	if (rc)
		fail("%s, the disk connects again but %s", what, hostile_reason);
	if (blkfront_disconnect(bf, err, sizeof(err)) && !rc)
		rc = fail("%s, the good connection does not close: %s", what, err);
	return rc;
}

/* The command in environment variable name, or NULL when unset or empty. */
const char *hook(const char *name)
{
	const char *cmd = getenv(name);

	return cmd && *cmd ? cmd : NULL;
}

/* Does the command in environment variable name exit 0? */
static bool hook_says_yes(const char *name)
{
	int st = system(hook(name));

	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Run hook name (which must be set) once: 0 if it exits 0, else fail(). */
int run_hook(const char *name)
{
	if (!hook(name))
		return fail("%s is not set", name);
	return hook_says_yes(name) ? 0 : fail("%s: '%s' failed", name, hook(name));
}

/* Run the command in environment variable name (set) until it exits 0, up to ms while
 * bf stays connected (bf may be NULL): 0, or fail(). */
int hook_wait(const char *name, struct blkfront *bf, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while (!hook_says_yes(name)) {
		if (now_ms() >= end)
			return fail("%s: '%s' never said yes in %d ms", name, hook(name), ms);
		if (bf && blkfront_ring_wait(bf, 50) == -ESHUTDOWN)
			return fail("the backend left Connected while waiting for %s", name);
		if (!bf)
			poll(NULL, 0, 50);
	}
	return 0;
}

/*
 * The backend halted the ring: it says so (HOSTILE_HALTED_CMD, polled up to WAIT_MS, exits
 * 0 once the backend reports this disk's ring halted, e.g. 'halted=1' in blkbackctl stats),
 * it wrote no response, and it is still Connected. Without HOSTILE_HALTED_CMD (a guest on
 * real Xen cannot ask dom0) the halt is not proven here: the caller must check the backend's
 * own word (tests/xen/dom0-check.sh counts its "ring halted" log lines), and we only see
 * that no response comes within HALT_MS.
 */
int expect_halted(struct blkfront *bf)
{
	blkif_front_ring_t *ring = blkfront_ring(bf);
	blkif_response_t rsp;
	int rc;

	if (!hook("HOSTILE_HALTED_CMD")) {
		rc = wait_response(bf, &rsp, HALT_MS);
		if (rc == 1)
			return fail("a response came (id %#" PRIx64 ", status %d): expected a halt",
				    (uint64_t)rsp.id, rsp.status);
		fprintf(stderr, "hostile: no HOSTILE_HALTED_CMD: the halt is only no answer in "
			"%d ms here; the backend's log must show it\n", HALT_MS);
	} else {
		if (hook_wait("HOSTILE_HALTED_CMD", bf, WAIT_MS))
			return 1;	/* the backend does not say it halted the ring */
		if (__atomic_load_n(&ring->sring->rsp_prod, __ATOMIC_ACQUIRE) != ring->rsp_cons)
			return fail("the backend halted but wrote %u responses first",
				    __atomic_load_n(&ring->sring->rsp_prod, __ATOMIC_ACQUIRE) -
				    ring->rsp_cons);
	}
	/* still Connected? */
	rc = blkfront_ring_wait(bf, 0);
	if (rc == -ESHUTDOWN)
		return fail("the backend left Connected after halting");
	return 0;
}

/* Push what was put and check the expected outcome for request id. */
int push_and_check(struct blkfront *bf, const struct hcase *c, uint64_t id)
{
	blkif_response_t rsp;
	int rc;

	rc = blkfront_ring_push(bf, BLKFRONT_NOTIFY_ALWAYS);
	if (rc)
		return fail("push failed: %s", strerror(-rc));
	if (c->expect == HALT)
		return expect_halted(bf);
	rc = wait_response(bf, &rsp, WAIT_MS);
	if (rc == -ESHUTDOWN)
		return fail("the backend left Connected (expected %s)", outcome_name[c->expect]);
	if (rc < 0)
		return fail("waiting for the backend: %s", strerror(-rc));
	switch (c->expect) {
	case ERROR:
		if (!rc)
			return fail("no response within %d ms (expected an error)", WAIT_MS);
		if (rsp.id != id)
			return fail("response id %#" PRIx64 ", expected %#" PRIx64,
				    (uint64_t)rsp.id, id);
		if (rsp.status != BLKIF_RSP_ERROR && rsp.status != BLKIF_RSP_EOPNOTSUPP)
			return fail("status %d, expected an error", rsp.status);
		return good_read(bf);
	case HALT:
		if (rc)
			return fail("a response came (id %#" PRIx64 ", status %d): expected a halt",
				    (uint64_t)rsp.id, rsp.status);
		return expect_halted(bf);
	case ANY:
		if (rc && !known_status(rsp.status))
			return fail("status %d is no BLKIF_RSP_*", rsp.status);
		return 0;
	default:
		break;
	}
	return fail("bad case table");
}

/* A valid read request on slot 0, id given. */
void good_req(struct blkfront *bf, blkif_request_t *r, uint64_t id)
{
	memset(r, 0, sizeof(*r));
	r->operation = BLKIF_OP_READ;
	r->nr_segments = 1;
	r->handle = (blkif_vdev_t)blkfront_devid(bf);
	r->id = id;
	r->seg[0].gref = blkfront_pool_gref(bf, 0);
	r->seg[0].last_sect = 7;
}
