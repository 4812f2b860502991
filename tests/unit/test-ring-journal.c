/*
 * Unit test: a ring taken over from the journal a killed daemon left. The kill
 * is simulated deterministically: the engine's reap hook, on the ring thread,
 * copies the journal file and the shared ring page at one instant (what SIGKILL
 * would leave); the old ring then runs on and stops, and both copies are put
 * back before a new ring takes over (blk_ring_config.take_over).
 */
#include <sys/stat.h>

#include "../../blkback/journal.h"
#include "ring-harness.h"

#define RING2_REF 31		/* a second ring page: another ring's key */
#define QUEUE 1

/* Writes, one page each: page p to sector 8 * p. F is a flush, between E and G. */
enum { A = 1, B, C, D, E, G = 7, H, I, J, K, L, M, F = 0xf, NIDS };

/* The instant of the kill: the journal file's bytes and the shared ring page. */
struct snapshot {
	const char *path;
	uint8_t *journal;
	size_t len;
	uint8_t ring[PAGE];
	int err;		/* what went wrong taking it, -errno */
	RING_IDX rsp_at[NIDS];	/* where the answers published before it are, by id */
};

/* The reap hook: copy the journal file and the ring page, on the ring thread. */
static void take_snapshot(void *arg)
{
	struct snapshot *s = arg;
	int fd = open(s->path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	s->err = fd < 0 || fstat(fd, &st) ? -errno : 0;
	if (!s->err) {
		s->len = (size_t)st.st_size;
		s->journal = malloc(s->len);
		if (!s->journal || pread(fd, s->journal, s->len, 0) != (ssize_t)s->len)
			s->err = -EIO;
	}
	if (fd >= 0)
		close(fd);
	memcpy(s->ring, fake_grant_page(RING_REF), PAGE);
}

/* Put the snapshot's journal back where a successor looks for it. */
static void restore_journal(const struct snapshot *s)
{
	int fd = open(s->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CHECK(fd >= 0 && write(fd, s->journal, s->len) == (ssize_t)s->len,
	      "restoring the journal file %s: %s", s->path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Queue a one-page write of page p at sector 8 * p. */
static void push_write(struct world *w, unsigned int p, bool push)
{
	add_seg(front_req(w, BLKIF_OP_WRITE, p, 8 * p), p, 0, 7);
	if (push)
		front_push(w);
}

/* Does the disk hold page p at sector 8 * p? */
static bool on_disk(unsigned int p)
{
	return !memcmp(fd_state.data + 8 * p * 512, fake_grant_page(p), PAGE);
}

/* Does the file exist? */
static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/*
 * Check the snapshot holds what the test staged, through the journal's own API:
 * A answered at rsp_prod (written, not published), C, E, F taken, req_cons 9.
 * Then edit it: the published requests whose slots were not reused since become
 * ANSWERED at their (published) response index, as a kill between the push and
 * the journal's frees leaves them. Those must not run again.
 */
static void stage_journal(const struct world *w, const struct snapshot *s)
{
	const struct blkif_sring *sring = (const struct blkif_sring *)s->ring;
	struct journal_key key;
	struct journal j;
	unsigned int taken = 0, answered = 0, published = 0;

	memset(&key, 0, sizeof(key));
	key.domid = w->cfg.domid;
	key.devid = w->cfg.devid;
	key.queue = w->cfg.queue;
	key.ring_size = RING_SIZE(&w->front);
	key.abi = w->cfg.abi;
	key.remote_port = w->cfg.remote_port;
	key.ring_refs[0] = RING_REF;
	CHECK_INT(sring->rsp_prod, 5, "responses published at the kill (B, D, K, L, M)");
	if (journal_open(&j, s->path, &key, RING_SIZE(&w->front))) {
		CHECK(0, "the snapshot journal does not open");
		return;
	}
	CHECK_INT(journal_req_cons(&j), 9, "the journal's req_cons at the kill (A to F, K, L, M taken)");
	for (unsigned int k = 0; k < RING_SIZE(&w->front); k++) {
		const struct journal_slot *js = journal_slot(&j, k);
		uint64_t id = js->req.id;

		if (js->state == JSLOT_ANSWERED)
			answered += id == A && js->rsp_idx == sring->rsp_prod;
		if (js->state == JSLOT_TAKEN)
			taken += id == C || id == E || id == F;
		if (js->state == JSLOT_FREE && (id == D || id == K || id == L || id == M)) {
			journal_answer(&j, k, s->rsp_at[id]);
			published++;
		}
	}
	CHECK_INT(answered, 1, "A's response written at rsp_prod but not published");
	CHECK_INT(taken, 3, "C, E and F taken and not answered");
	CHECK(published >= 1, "no slot of a published request holds its copy: nothing to edit");
	journal_close(&j, false);
}

/*
 * Kill a ring with A answered but not published, C and E in storage, F waiting
 * for them, G not consumed, and B, D, K, L, M answered and published; take it over
 * from the journal and the ring page.
 */
static void test_take_over(struct world *w, struct snapshot *s)
{
	blkif_response_t rsps[16], rsp;
	struct blkif_front_ring front;
	unsigned int n, nlog;

	printf("case 3: a ring taken over after a kill\n");
	for (unsigned int p = A; p <= M; p++)
		fill_page(p, (uint8_t)(p * 17));
	fd_state.slow[0] = fd_state.slow[2] = fd_state.slow[7] = true;	/* A, C, E */
	push_write(w, A, true);
	CHECK(wait_log(1), "A was not submitted");
	push_write(w, B, true);
	CHECK(wait_rsps(w, 1), "B was not answered");
	s->rsp_at[B] = w->front.rsp_cons;
	take_rsp(w, &rsp);
	push_write(w, C, true);
	CHECK(wait_log(3), "C was not submitted");
	/* Four answered together: E and F reuse only two of their slots. */
	push_write(w, D, false);
	push_write(w, K, false);
	push_write(w, L, false);
	push_write(w, M, true);
	CHECK(wait_rsps(w, 4), "D, K, L, M were not answered");
	for (unsigned int i = 0; i < 4; i++) {
		take_rsp(w, &rsp);
		if (rsp.id < NIDS)
			s->rsp_at[rsp.id] = w->front.rsp_cons - 1;
	}
	push_write(w, E, false);
	front_req(w, BLKIF_OP_FLUSH_DISKCACHE, F, 0);	/* waits for A, C, E */
	push_write(w, G, true);				/* waits for F */
	CHECK(wait_log(8), "E was not submitted");

	/* A completes; its answer is written, and the kill comes before the push. */
	fd_state.hook = take_snapshot;
	fd_state.hook_arg = s;
	CHECK(complete_then_hook(1) && s->err == 0, "the snapshot was not taken: %s",
	      strerror(-s->err));
	front = w->front;		/* the frontend as it was: B and D consumed */

	/* The killed daemon's afterlife, which the snapshot undoes. */
	complete_queued(2);
	CHECK(wait_rsps(w, 5), "the old ring did not answer A, C, E, F, G");
	n = take_all(w, rsps, 16);
	CHECK_INT(n, 5, "answers of the old ring after the snapshot");
	world_ring_stop(w, false);
	CHECK(!exists(s->path), "the journal is left after a clean stop");

	memcpy(fake_grant_page(RING_REF), s->ring, PAGE);
	w->front = front;
	restore_journal(s);
	stage_journal(w, s);
	memset(fd_state.data, 0, DISK_BYTES);
	nlog = log_len();
	w->cfg.take_over = true;
	CHECK_INT(world_ring_start(w), 0, "taking over the ring");
	if (!w->ring)
		exit(1);

	CHECK(wait_rsps(w, 5), "A, C, E, F and G were not all answered after the take-over");
	n = take_all(w, rsps, 16);
	CHECK_INT(n, 5, "answers after the take-over");
	for (unsigned int id = A; id < NIDS; id++) {
		bool again = id == A || id == C || id == E || id == F || id == G;

		CHECK(count_rsp(rsps, n, id) == again, "id %u answered %u times after the take-over",
		      id, count_rsp(rsps, n, id));
	}
	for (unsigned int i = 0; i < n; i++)
		CHECK_INT(rsps[i].status, BLKIF_RSP_OKAY, "status after the take-over");
	CHECK(find_rsp(rsps, n, F, &rsp) && rsp.operation == BLKIF_OP_FLUSH_DISKCACHE,
	      "the flush's answer op");
	/* Run again from the journal's copies (their ring slots hold responses now). */
	CHECK_INT(log_len() - nlog, 5, "I/Os after the take-over");
	check_log(nlog, STORAGE_WRITE, A * PAGE, PAGE);
	check_log(nlog + 1, STORAGE_WRITE, C * PAGE, PAGE);
	check_log(nlog + 2, STORAGE_WRITE, E * PAGE, PAGE);
	check_log(nlog + 3, STORAGE_FLUSH, 0, 0);
	check_log(nlog + 4, STORAGE_WRITE, G * PAGE, PAGE);	/* at the journal's req_cons */
	CHECK(on_disk(A) && on_disk(C) && on_disk(E) && on_disk(G),
	      "the requests run again did not write their data");
	for (unsigned int p = B; p <= M; p++)
		CHECK(p == C || p == E || p == G || fd_state.data[p * PAGE] == 0,
		      "request %u, answered before the kill, was run again", p);

	push_write(w, H, true);		/* produced after the take-over */
	CHECK(wait_rsps(w, 1), "a request after the take-over was not answered");
	take_rsp(w, &rsp);
	CHECK(rsp.id == H && rsp.status == BLKIF_RSP_OKAY && on_disk(H),
	      "the request after the take-over: id %llu status %d",
	      (unsigned long long)rsp.id, rsp.status);
	CHECK_INT(w->sring->rsp_prod - w->front.rsp_cons, 0, "answers beyond those expected");
	world_ring_stop(w, false);
	CHECK(!exists(s->path), "the taken-over journal is left after a clean stop");
}

/*
 * Killed between publishing an answer (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY) and
 * notifying: the answer is on the ring, its slot ANSWERED below rsp_prod, so
 * nothing runs again; the frontend, though, waits for an event the killed daemon
 * never sent. The successor must send it, or a frontend with nothing more to
 * ask waits forever (its rsp_event is behind, so later pushes do not notify).
 */
static void test_lost_notify(struct world *w)
{
	struct snapshot s = { .path = w->cfg.journal };
	struct blkif_front_ring front;
	struct pollfd pfd = { .fd = fake_evtchn_notify_fd(), .events = POLLIN };
	blkif_response_t rsp;
	unsigned int nlog = log_len();
	uint64_t n;

	printf("case 3: a kill between publishing an answer and notifying\n");
	SHARED_RING_INIT(w->sring);		/* rsp_event 1: waiting for the first */
	FRONT_RING_INIT(&w->front, w->sring, PAGE);
	w->cfg.take_over = false;
	CHECK_INT(world_ring_start(w), 0, "starting a fresh ring");
	fd_state.slow[nlog] = true;
	push_write(w, A, true);
	CHECK(wait_log(nlog + 1), "A was not submitted");
	fd_state.hook = take_snapshot;
	fd_state.hook_arg = &s;
	CHECK(complete_then_hook(1) && s.err == 0, "the snapshot was not taken");
	front = w->front;
	CHECK(wait_rsps(w, 1), "the old ring did not answer A");
	world_ring_stop(w, false);

	/* The kill came after the push: A's answer, written at rsp_prod, is published. */
	((struct blkif_sring *)s.ring)->rsp_prod++;
	memcpy(fake_grant_page(RING_REF), s.ring, PAGE);
	w->front = front;
	restore_journal(&s);
	/* Forget the old ring's events: the notification and the engine's signals. */
	CHECK((read(pfd.fd, &n, sizeof(n)) > 0 || errno == EAGAIN) &&
	      (read(fd_state.submit_fd, &n, sizeof(n)) > 0 || errno == EAGAIN),
	      "draining the event fds: %s", strerror(errno));
	w->cfg.take_over = true;
	CHECK_INT(world_ring_start(w), 0, "taking over the ring");
	CHECK(poll(&pfd, 1, TIMEOUT_MS) == 1,
	      "the frontend was not notified of the answer published before the kill");
	CHECK_INT(w->sring->rsp_prod - w->front.rsp_cons, 1, "answers published");
	take_rsp(w, &rsp);
	CHECK(rsp.id == A && rsp.status == BLKIF_RSP_OKAY, "the published answer: id %llu",
	      (unsigned long long)rsp.id);
	CHECK(log_stays(nlog + 1),
	      "a request answered and published before the kill was run again");
	world_ring_stop(w, false);
	free(s.journal);
}

/* A journal of another ring is stale; none at all is -ENOENT. */
static void test_bad_journals(struct world *w, const struct snapshot *s)
{
	printf("case 3: a stale or missing journal\n");
	restore_journal(s);
	memcpy(fake_grant_page(RING2_REF), s->ring, PAGE);
	w->cfg.ring_refs[0] = RING2_REF;
	CHECK_INT(world_ring_start(w), -ESTALE, "taking over with another ring-ref's journal");
	if (w->ring)
		world_ring_stop(w, false);
	w->cfg.ring_refs[0] = RING_REF;
	CHECK_INT(fake_regions_live(), 0, "mappings left by a failed take-over");
	CHECK_INT(fake_handles_open(), 0, "handles left by a failed take-over");
	unlink(s->path);
	CHECK_INT(world_ring_start(w), -ENOENT, "taking over with no journal");
	if (w->ring)
		world_ring_stop(w, false);
	CHECK_INT(fake_regions_live(), 0, "mappings left by a failed take-over");
}

/* A ring left for a successor keeps its journal, and the successor goes on. */
static void test_leave(struct world *w, const struct snapshot *s)
{
	blkif_response_t rsp;

	printf("case 3: blk_ring_leave keeps the journal for a successor\n");
	SHARED_RING_INIT(w->sring);		/* the guest reconnects: a fresh ring */
	FRONT_RING_INIT(&w->front, w->sring, PAGE);
	w->cfg.take_over = false;
	CHECK_INT(world_ring_start(w), 0, "starting a fresh ring");
	push_write(w, I, true);
	CHECK(wait_rsps(w, 1), "no answer on the fresh ring");
	take_rsp(w, &rsp);
	world_ring_stop(w, true);
	CHECK(exists(s->path), "blk_ring_leave removed the journal");

	w->cfg.take_over = true;
	CHECK_INT(world_ring_start(w), 0, "taking over a ring that was left");
	push_write(w, J, true);
	CHECK(wait_rsps(w, 1), "no answer after taking over a ring that was left");
	take_rsp(w, &rsp);
	CHECK(rsp.id == J && rsp.status == BLKIF_RSP_OKAY && on_disk(J),
	      "after taking over a left ring: id %llu status %d", (unsigned long long)rsp.id,
	      rsp.status);
	world_ring_stop(w, false);
	CHECK(!exists(s->path), "the journal is left after a clean stop");
}

int main(void)
{
	char dir[] = "/tmp/test-ring-journal.XXXXXX", path[64];
	struct snapshot s = { .path = path };
	struct world w;

	setvbuf(stdout, NULL, _IOLBF, 0);	/* interleave with the daemon's stderr logs */
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/d5-51712-q%u", dir, QUEUE);
	world_init(&w, NR_GRANTS);
	w.cfg.journal = path;
	w.cfg.queue = QUEUE;
	if (world_ring_start(&w)) {
		fprintf(stderr, "blk_ring_start failed\n");
		return 1;
	}
	test_take_over(&w, &s);
	test_lost_notify(&w);
	test_bad_journals(&w, &s);
	test_leave(&w, &s);
	world_fini(&w);
	free(s.journal);
	unlink(path);
	rmdir(dir);
	return check_done("test-ring-journal");
}
