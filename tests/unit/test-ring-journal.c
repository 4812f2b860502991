/*
 * Unit test: a ring taken over from the journal a killed daemon left. The kill
 * is simulated deterministically: the engine's reap hook, on the ring thread,
 * copies the journal file and the shared ring page at one instant (what SIGKILL
 * would leave); the old ring then runs on and stops, and both copies are put
 * back before a new ring takes over (blk_ring_config.take_over).
 */
#include <dirent.h>
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

	printf("case 3: a ring stopped for a handover keeps the journal for a successor\n");
	SHARED_RING_INIT(w->sring);		/* the guest reconnects: a fresh ring */
	FRONT_RING_INIT(&w->front, w->sring, PAGE);
	w->cfg.take_over = false;
	CHECK_INT(world_ring_start(w), 0, "starting a fresh ring");
	push_write(w, I, true);
	CHECK(wait_rsps(w, 1), "no answer on the fresh ring");
	take_rsp(w, &rsp);
	world_ring_stop(w, true);
	CHECK(exists(s->path), "a ring stopped for a handover removed the journal");

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

/* stderr (the daemon's log), sent into a pipe while a take-over runs, and what came. */
struct capture {
	int rd, wr, saved;
	char buf[8192];
	size_t len;
};

/* Send stderr into the capture's pipe; exits if that cannot be done. */
static void capture_begin(struct capture *c)
{
	int p[2];

	memset(c, 0, sizeof(*c));
	if (pipe2(p, O_CLOEXEC) || fcntl(p[0], F_SETFL, O_NONBLOCK)) {
		perror("capturing stderr");
		exit(1);
	}
	c->rd = p[0];
	c->wr = p[1];
	c->saved = dup(2);
	if (c->saved < 0 || dup2(c->wr, 2) < 0) {
		perror("capturing stderr");
		exit(1);
	}
}

/* Append what the pipe holds now to the capture's text. */
static void capture_read(struct capture *c)
{
	ssize_t n;

	while (c->len < sizeof(c->buf) - 1 &&
	       (n = read(c->rd, c->buf + c->len, sizeof(c->buf) - 1 - c->len)) > 0)
		c->len += (size_t)n;
	c->buf[c->len] = '\0';
}

/* Wait, polling the pipe, until needle was logged; false after TIMEOUT_MS. */
static bool capture_wait(struct capture *c, const char *needle)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfd = { .fd = c->rd, .events = POLLIN };
		long left;

		capture_read(c);
		if (strstr(c->buf, needle))
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = TIMEOUT_MS - ((now.tv_sec - start.tv_sec) * 1000 +
				     (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return false;
	}
}

/* Give stderr back, then copy the captured log to it (test failures included). */
static void capture_end(struct capture *c)
{
	capture_read(c);
	dup2(c->saved, 2);
	close(c->saved);
	close(c->wr);
	close(c->rd);
	fputs(c->buf, stderr);
}

/* How many fds the process has open. */
static unsigned int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Does the process still map the file at path (deleted or not)? */
static bool mapped(const char *path)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, path) != NULL;
	if (f)
		fclose(f);
	return found;
}

/*
 * The kill the index cases start from, on a fresh ring: A, B and D answered and
 * published, C and E in storage. rsp_prod 3, req_cons 5; ring slots 3 and 4 still
 * hold C and E.
 */
static void stage_kill(struct world *w, struct snapshot *s, struct blkif_front_ring *front)
{
	const struct blkif_sring *sring = (const struct blkif_sring *)s->ring;
	blkif_response_t rsps[8];

	for (unsigned int p = A; p <= E; p++)
		fill_page(p, (uint8_t)(p * 29));
	fd_state.slow[3] = fd_state.slow[4] = true;	/* the 4th and 5th submits: C, E */
	push_write(w, A, false);
	push_write(w, B, false);
	push_write(w, D, true);
	/* Apart: in map mode a sweep's mapping is let go once all its requests are done. */
	CHECK(wait_rsps(w, 3), "A, B and D were not answered");
	CHECK_INT(take_all(w, rsps, 8), 3, "answers before the kill");
	push_write(w, C, false);
	push_write(w, E, true);
	CHECK(wait_log(5), "C and E were not submitted");
	fd_state.hook = take_snapshot;
	fd_state.hook_arg = s;
	CHECK(complete_then_hook(0) && s->err == 0, "the snapshot was not taken");
	*front = w->front;
	CHECK_INT(sring->rsp_prod, 3, "rsp_prod at the kill");
	CHECK_INT(sring->req_prod, 5, "req_prod at the kill");
	complete_queued(2);		/* the old ring's afterlife, which the snapshot undoes */
	CHECK(wait_rsps(w, 2), "the old ring did not answer C and E");
	CHECK_INT(take_all(w, rsps, 8), 2, "answers of the old ring after the snapshot");
	world_ring_stop(w, false);
}

/* Put the kill back, with the indices the guest wrote meanwhile, ready to take over. */
static void put_back(struct world *w, const struct snapshot *s,
		     const struct blkif_front_ring *front, RING_IDX rsp_prod, RING_IDX req_prod)
{
	memcpy(fake_grant_page(RING_REF), s->ring, PAGE);
	w->sring->rsp_prod = rsp_prod;
	w->sring->req_prod = req_prod;
	w->front = *front;
	w->front.rsp_cons = rsp_prod;	/* a guest that moved rsp_prod reads from there */
	restore_journal(s);
	memset(fd_state.data, 0, DISK_BYTES);
	w->cfg.take_over = true;
}

/*
 * rsp_prod moved while no daemon ran, so that the journal's req_cons is more than a
 * ring ahead of it: blk_ring_start fails with -ESTALE (device.c then closes the disk),
 * says why, and has mapped only the ring page (to read the index), written nothing on
 * it, bound and notified nothing, run nothing, and left nothing mapped or open: not
 * the ring, not the journal, not an fd.
 */
static void check_refused(struct world *w, const struct snapshot *s,
			  const struct blkif_front_ring *front, RING_IDX rsp_prod, const char *what)
{
	uint8_t before[PAGE];
	unsigned int maps = fake_maps_total(), nlog = log_len(), fds = count_fds();
	uint64_t notifies = fake_evtchn_notifies();
	struct capture c;
	int err;

	printf("case 3: rsp_prod moved %s before a take-over: refused\n", what);
	put_back(w, s, front, rsp_prod, 5);
	memcpy(before, fake_grant_page(RING_REF), PAGE);
	capture_begin(&c);
	err = world_ring_start(w);
	capture_read(&c);
	if (w->ring)
		world_ring_stop(w, false);
	capture_end(&c);
	CHECK_INT(err, -ESTALE, "a take-over with the journal more than a ring ahead");
	CHECK(strstr(c.buf, "responses do not fit one ring"), "the refusal was not logged");
	CHECK(!memcmp(before, fake_grant_page(RING_REF), PAGE), "a refused take-over wrote on the ring");
	CHECK_INT(fake_maps_total() - maps, 1, "pages mapped by a refused take-over (the ring)");
	CHECK_INT(fake_regions_live(), 0, "mappings left by a refused take-over");
	CHECK_INT(fake_handles_open(), 0, "handles left by a refused take-over");
	CHECK_INT(fake_misuse(), 0, "contract violations in a refused take-over");
	CHECK_U64(fake_evtchn_notifies(), notifies, "notifications from a refused take-over");
	CHECK_INT(log_len(), nlog, "storage I/O from a refused take-over");
	CHECK_INT(count_fds(), fds, "fds left open by a refused take-over");
	CHECK(!mapped(s->path), "a refused take-over left the journal mapped");
}

/*
 * rsp_prod moved to either edge the check must still accept: req_cons - rsp_prod of
 * a whole ring, or of 0. Taken over: C and E, in storage at the kill, run again from
 * the journal in ring order, and are answered once each from the moved rsp_prod on;
 * nothing else runs. The journal then
 * disagrees with the ring, which blkbackd says.
 */
static void check_edge(struct world *w, const struct snapshot *s,
		       const struct blkif_front_ring *front, RING_IDX rsp_prod, const char *what,
		       const char *warning)
{
	blkif_response_t rsps[8];
	unsigned int nlog = log_len(), n;
	struct capture c;
	int err;

	printf("case 3: rsp_prod moved %s before a take-over: taken over\n", what);
	put_back(w, s, front, rsp_prod, 5);
	capture_begin(&c);
	err = world_ring_start(w);
	CHECK(err || capture_wait(&c, warning), "no warning that the journal and ring disagree");
	capture_end(&c);
	CHECK_INT(err, 0, "a take-over at the edge of the ring");
	if (!w->ring)
		return;
	CHECK(wait_rsps(w, 2), "C and E were not answered after the take-over");
	n = take_all(w, rsps, 8);
	CHECK_INT(n, 2, "answers after the take-over");
	CHECK(count_rsp(rsps, n, C) == 1 && count_rsp(rsps, n, E) == 1 &&
	      rsps[0].status == BLKIF_RSP_OKAY && rsps[1].status == BLKIF_RSP_OKAY,
	      "the answers: ids %llu, %llu", (unsigned long long)rsps[0].id,
	      (unsigned long long)rsps[1].id);
	CHECK_U64(w->sring->rsp_prod, rsp_prod + 2, "rsp_prod after the answers");
	CHECK(log_stays(nlog + 2), "more than C and E ran after the take-over");
	check_log(nlog, STORAGE_WRITE, C * PAGE, PAGE);
	check_log(nlog + 1, STORAGE_WRITE, E * PAGE, PAGE);
	CHECK(on_disk(C) && on_disk(E), "C and E did not write their data");
	CHECK(!fd_state.data[A * PAGE] && !fd_state.data[B * PAGE] && !fd_state.data[D * PAGE],
	      "a request answered before the kill ran again");
	world_ring_stop(w, false);
}

/*
 * req_prod rewritten while no daemon ran. ring_take_over does not read it, so the
 * take-over goes through; the first sweep then finds the producer more than a ring
 * ahead of the responses and halts the ring, before anything runs again, as it would
 * at any time: C and E are not run, nothing is answered or mapped, the guest must
 * reconnect its disk, and the ring still stops cleanly.
 */
static void check_req_prod(struct world *w, const struct snapshot *s,
			   const struct blkif_front_ring *front, RING_IDX req_prod,
			   const char *what, const char *why)
{
	struct blk_ring_stats st;
	unsigned int nlog = log_len();
	struct capture c;

	printf("case 3: req_prod moved %s before a take-over: the ring halts\n", what);
	put_back(w, s, front, 3, req_prod);
	capture_begin(&c);
	CHECK_INT(world_ring_start(w), 0, "a take-over with req_prod moved");
	capture_wait(&c, "ring halted");
	capture_end(&c);
	CHECK(strstr(c.buf, "ring halted"), "the ring did not halt");
	CHECK(strstr(c.buf, why), "the halt does not say the producer %s", why);
	if (!w->ring)
		return;
	CHECK(fake_evtchn_kick() == 0, "kicking the backend failed");
	CHECK(log_stays(nlog), "storage I/O on a halted ring");
	CHECK_INT(w->sring->rsp_prod, 3, "answers on a halted ring");
	blk_ring_get_stats(w->ring, &st);
	CHECK_U64(st.inflight, 0, "requests taken on a halted ring");
	CHECK_U64(st.grants.maps, 0, "grant maps on a halted ring");
	world_ring_stop(w, false);
}

/*
 * The guest rewrote, while no daemon ran, a transport node the journal's key holds
 * (its event channel, its protocol, its ring-page-order): the journal is then another
 * ring's, and the take-over is refused with -ESTALE, leaving nothing mapped or open.
 * The same journal with the same nodes is taken over afterwards (check_edge).
 */
static void test_key_nodes(struct world *w, const struct snapshot *s,
			   const struct blkif_front_ring *front)
{
	static const char *const node[] = { "event-channel", "protocol", "ring-page-order" };
	struct blk_ring_config cfg = w->cfg;

	for (unsigned int i = 0; i < 3; i++) {
		printf("case 3: %s changed before a take-over: refused\n", node[i]);
		put_back(w, s, front, 3, 5);
		if (i == 0)
			w->cfg.remote_port++;
		if (i == 1)
			w->cfg.abi = BLKIF_ABI_X86_32;	/* same slot count as native */
		if (i == 2) {
			w->cfg.ring_order = 1;
			w->cfg.ring_refs[1] = M;
		}
		CHECK_INT(world_ring_start(w), -ESTALE, node[i]);
		if (w->ring)
			world_ring_stop(w, false);
		CHECK_INT(fake_regions_live(), 0, "mappings left by a refused take-over");
		CHECK_INT(fake_handles_open(), 0, "handles left by a refused take-over");
		CHECK(!mapped(s->path), "a refused take-over left the journal mapped");
		w->cfg = cfg;
	}
}

/* The guest moves its ring's indices, or its key nodes, while no daemon runs. */
static void test_moved(const char *path)
{
	struct snapshot s = { .path = path };
	struct blkif_front_ring front;
	struct world w;

	world_init(&w, NR_GRANTS);
	w.cfg.journal = path;
	w.cfg.queue = QUEUE;
	CHECK_INT(world_ring_start(&w), 0, "starting a fresh ring");
	stage_kill(&w, &s, &front);
	/* req_cons is 5 and the ring 32: rsp_prod may be from 5 - 32 to 5. */
	check_refused(&w, &s, &front, 5 - 33, "one step too far back");
	check_refused(&w, &s, &front, 3 - 0x80000000u, "2^31 back");
	check_refused(&w, &s, &front, 6, "past req_cons");
	check_refused(&w, &s, &front, 3 + 0x7fffffffu, "2^31 - 1 forward");
	test_key_nodes(&w, &s, &front);
	check_edge(&w, &s, &front, 5 - 32, "back to a whole ring behind req_cons",
		   "journal holds 2 unanswered requests where the ring says 32");
	check_edge(&w, &s, &front, 5, "forward to req_cons",
		   "journal holds 2 unanswered requests where the ring says 0");
	check_req_prod(&w, &s, &front, 5 + 0x7fffffffu, "2^31 - 1 ahead",
		       "is more than a ring ahead");
	check_req_prod(&w, &s, &front, 2, "behind rsp_prod", "went back behind");
	CHECK(!exists(path), "a journal is left after a clean stop");
	world_fini(&w);
	free(s.journal);
}

#define FULL_GRANTS 40
#define DECOY 34	/* the page the guest writes into the slots it rewrites */

/*
 * A whole ring in flight at the kill: req_cons - rsp_prod is exactly the ring size,
 * the edge the check must still accept. While no daemon ran, the guest rewrote every
 * one of those slots into a write of a decoy page elsewhere, under another id: the
 * take-over runs the journal's copies, all of them, each answered once, without a
 * warning, and nothing of the decoys reaches the disk or an answer. The ring, which
 * wraps, then serves on.
 */
static void test_full_ring(const char *path)
{
	struct snapshot s = { .path = path };
	blkif_response_t rsps[40], rsp;
	struct blkif_front_ring front;
	unsigned int size, nlog, n;
	struct capture c;
	struct world w;

	printf("case 3: a whole ring in flight, its slots rewritten, taken over\n");
	world_init(&w, FULL_GRANTS);
	w.cfg.journal = path;
	w.cfg.queue = QUEUE;
	CHECK_INT(world_ring_start(&w), 0, "starting a fresh ring");
	size = RING_SIZE(&w.front);
	/* Three bad requests, answered without storage: the ring then wraps. */
	for (unsigned int i = 0; i < 3; i++)
		front_req(&w, 0xff, 100 + i, 0);
	front_push(&w);
	CHECK(wait_rsps(&w, 3), "the bad requests were not answered");
	CHECK_INT(take_all(&w, rsps, 40), 3, "answers to the bad requests");
	for (unsigned int p = 1; p <= size; p++) {
		fill_page(p, (uint8_t)(p * 13));
		fd_state.slow[p - 1] = true;
		push_write(&w, p, p == size);
	}
	CHECK(wait_log(size), "the whole ring was not submitted");
	fd_state.hook = take_snapshot;
	fd_state.hook_arg = &s;
	CHECK(complete_then_hook(0) && s.err == 0, "the snapshot was not taken");
	front = w.front;
	complete_queued(size);
	CHECK(wait_rsps(&w, size), "the old ring did not answer the whole ring");
	CHECK_INT(take_all(&w, rsps, 40), size, "answers of the old ring");
	world_ring_stop(&w, false);

	memcpy(fake_grant_page(RING_REF), s.ring, PAGE);
	w.front = front;
	CHECK_INT(w.sring->req_prod - w.sring->rsp_prod, size, "requests in flight at the kill");
	fill_page(DECOY, 0xee);
	for (RING_IDX i = w.sring->rsp_prod; i != w.sring->req_prod; i++) {
		blkif_request_t *req = RING_GET_REQUEST(&w.front, i);

		memset(req, 0, sizeof(*req));
		req->operation = BLKIF_OP_WRITE;
		req->id = 1000 + i;
		req->sector_number = 8 * (100 + i);
		add_seg(req, DECOY, 0, 7);
	}
	restore_journal(&s);
	memset(fd_state.data, 0, DISK_BYTES);
	nlog = log_len();
	w.cfg.take_over = true;
	capture_begin(&c);
	CHECK_INT(world_ring_start(&w), 0, "taking over a whole ring in flight");
	/* A one-page native ring: 32 slots, taken from index 3 on. */
	CHECK(capture_wait(&c, "took over the ring: 32 requests to run again, resuming at 35"),
	      "the take-over did not say it runs the whole ring again");
	CHECK(!strstr(c.buf, "unanswered requests where"), "a warning for a consistent journal");
	capture_end(&c);
	if (!w.ring)
		exit(1);
	CHECK(wait_rsps(&w, size), "the whole ring was not answered after the take-over");
	n = take_all(&w, rsps, 40);
	CHECK_INT(n, size, "answers after the take-over");
	for (unsigned int p = 1; p <= size; p++) {
		CHECK(count_rsp(rsps, n, p) == 1, "id %u answered %u times", p,
		      count_rsp(rsps, n, p));
		check_log(nlog + p - 1, STORAGE_WRITE, p * PAGE, PAGE);	/* in ring order */
		CHECK(on_disk(p), "page %u not written by the take-over", p);
	}
	for (unsigned int i = 0; i < n; i++)
		CHECK_INT(rsps[i].status, BLKIF_RSP_OKAY, "status after the take-over");
	for (unsigned int b = 100 * PAGE; b < 140 * PAGE; b++)
		if (fd_state.data[b]) {
			CHECK(0, "a decoy slot's write reached the disk at byte %u", b);
			break;
		}
	push_write(&w, size + 1, true);	/* the ring serves on */
	CHECK(wait_rsps(&w, 1), "a request after the take-over was not answered");
	take_rsp(&w, &rsp);
	CHECK(rsp.id == size + 1 && rsp.status == BLKIF_RSP_OKAY && on_disk(size + 1),
	      "the request after the take-over: id %llu status %d",
	      (unsigned long long)rsp.id, rsp.status);
	world_ring_stop(&w, false);
	CHECK(!exists(path), "the journal is left after a clean stop");
	world_fini(&w);
	free(s.journal);
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
	test_moved(path);
	test_full_ring(path);
	unlink(path);
	rmdir(dir);
	return check_done("test-ring-journal");
}
