/*
 * torture: a randomised test of what blkbackd promises a guest, for tests/sim/torture.sh.
 *
 * Run it in a guest:  xensim run guest1 -- torture --seed N --seconds T --dir DIR --build B
 * This file holds the run and the operator's side; torture-guest.c the frontends and the
 * model.
 * It plays the guest (three disks through the blkfront library: a file: disk, a uring:
 * disk, a named ramdisk) and the operator: it starts blkbackd itself (B/blkbackd, logging
 * to DIR/blkbackd.log) and runs B/blkbackctl for attach, detach, resize and unstall. Each
 * step is picked by a PRNG seeded with N, never by timing, so a seed replays: the same
 * seed gives the same steps (--ops M stops after M of them).
 *
 * Steps: reads, writes, discards and flushes in flight at once; kill -9 of blkbackd and a
 * handover, each followed by a new blkbackd (each with its own -g grant mode and -q queue
 * limit); blkbackctl unstall of a disk attached with fault=...:stall; frontend
 * reconnects; resizes; detach and re-attach (a fresh fault= each time: none, eio, enospc,
 * short or stall on a random range).
 *
 * A mem disk lost when blkbackd stops is attached again under a new name: a new blkbackd
 * may have made a ramdisk of the old name from the closed disk's spec.
 *
 * The model holds, per 512-byte sector, the tag of the write that must be there (0: zeroes,
 * ANY: unknown). Every write fills each sector with the verify pattern of (seed, its step
 * number, the sector), so a sector read back names the write that put it there. What is
 * modelled is what docs/restart.md and docs/reference.md promise, no more:
 *  - an answered write is there, on file: and uring: disks across kill -9 and handover too
 *    (the page cache outlives the daemon): no host crash is simulated, so a flush adds no
 *    promise here; a flush must succeed, and be answered after every write before it on
 *    its ring;
 *  - a write in flight across a kill -9 or handover is run again and answered;
 *  - a failed write leaves its sectors unknown; I/O touching an eio/enospc/short range
 *    fails, any other I/O succeeds;
 *  - a named ramdisk keeps its data across detach and re-attach while blkbackd runs; a
 *    kill -9 or handover closes it (the guest sees it go), and the one attached again is
 *    new: zeroes;
 *  - a discarded sector reads back as zeroes;
 *  - a resize keeps the data below the new end; a shrink drops the rest (grown space
 *    reads as zeroes).
 * A read is never in flight with an overlapping write, so it must see exactly the model.
 * --daemon-debug FLAGS starts blkbackd with -d FLAGS, to see what it did with a replayed seed.
 * Prints one line, PASS torture seed=N ops=M or FAIL torture seed=N: op K (what): ...
 * Exit 0 on PASS, 1 on FAIL, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "torture.h"

extern char **environ;

struct disk disks[NDISKS];
uint64_t seed, seed_hi, step;
static uint64_t rng;
const char *dir;
static const char *build, *daemon_debug;
static pid_t daemon_pid = -1;
static bool verbose;
static char history[HISTORY][160];	/* the last notes, a ring */
static uint64_t nnotes;
static int64_t started_ms;
struct counts count;
bool daemon_stopping, daemon_persistent;
const char *const fault_names[] = { "none", "eio", "enospc", "short", "stall" };

/* Milliseconds on the monotonic clock. */
int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Note what step `step` does, for the trace printed on failure. */
void note(const char *fmt, ...)
{
	char *h = history[nnotes++ % HISTORY];
	va_list ap;
	int n = snprintf(h, sizeof(history[0]), "op %" PRIu64 ": ", step);

	va_start(ap, fmt);
	vsnprintf(h + n, sizeof(history[0]) - (size_t)n, fmt, ap);
	va_end(ap);
	if (verbose)
		fprintf(stderr, "torture: %s\n", h);
}

/* Print the FAIL line and the last steps, stop blkbackd, exit 1. */
void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "torture: the last steps before the failure:\n");
	for (uint64_t i = nnotes >= HISTORY ? nnotes - HISTORY : 0; i < nnotes; i++)
		fprintf(stderr, "  %s\n", history[i % HISTORY]);
	printf("FAIL torture seed=%" PRIu64 ": op %" PRIu64 ": ", seed, step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (daemon_pid > 0)
		kill(daemon_pid, SIGKILL);
	exit(1);
}

/* A number in [0, n) from the run's PRNG. */
uint64_t rnd(uint64_t n)
{
	return bf_rand_below(&rng, n);
}

/* ---- commands: blkbackctl and blkbackd, in dom0 ---- */

/* Start B/<prog> ARGS in dom0 with output to out (appended); its pid. */
pid_t spawn_dom0(const char *prog, const char *const *args, const char *out)
{
	char xensim[512], bin[512];
	const char *argv[24] = { xensim, "run", "Domain-0", "--", bin };
	posix_spawn_file_actions_t fa;
	unsigned int n = 5;
	pid_t pid;
	int err;

	snprintf(xensim, sizeof(xensim), "%s/xensim", build);
	snprintf(bin, sizeof(bin), "%s/%s", build, prog);
	for (; *args && n < 23; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	err = posix_spawn(&pid, xensim, &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err)
		die("cannot run %s: %s", xensim, strerror(err));
	return pid;
}

/* Wait for child pid while serving the disks; its exit status (-1 if killed). */
static int wait_child(pid_t pid, const char *what)
{
	int64_t deadline = now_ms() + WAIT_MS + 15000;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (r < 0)
			die("waitpid for %s: %s", what, strerror(errno));
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			die("%s did not finish in %d s", what, (WAIT_MS + 15000) / 1000);
		}
		service(20);
	}
}

/* The last line of file path, for messages. */
static const char *last_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	char line[512];

	snprintf(buf, len, "(no output)");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0])
			snprintf(buf, len, "%.300s", line);
	}
	if (f)
		fclose(f);
	return buf;
}

/* Run blkbackctl ARGS... (NULL-terminated) while serving the disks; its exit status. */
static int ctl(char *out, size_t outlen, ...)
{
	const char *args[16];
	char path[512], line[400];
	unsigned int n = 0;
	va_list ap;
	int rc;

	va_start(ap, outlen);
	while (n < 15 && (args[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	args[n] = NULL;
	snprintf(path, sizeof(path), "%s/ctl.out", dir);
	unlink(path);
	rc = wait_child(spawn_dom0("blkbackctl", args, path), "blkbackctl");
	if (out)
		snprintf(out, outlen, "%.390s", last_line(path, line, sizeof(line)));
	return rc;
}

/*
 * Start blkbackd with a grant mode and a queue limit picked at random (a new daemon may
 * differ from the one it takes over from: docs/restart.md), -d daemon_debug if set; wait
 * until it answers blkbackctl stats.
 */
static void daemon_start(void)
{
	static const char *const modes[] = { "persistent", "persistent", "map", "copy" };
	static const char *const queues[] = { "1", "2", "4" };
	const char *args[] = { "-g", modes[rnd(4)], "-q", queues[rnd(3)],
			       daemon_debug ? "-d" : NULL, daemon_debug, NULL };
	char log[512];
	int64_t deadline = now_ms() + WAIT_MS;
	int st;

	snprintf(log, sizeof(log), "%s/blkbackd.log", dir);
	daemon_persistent = !strcmp(args[1], "persistent");
	note("start blkbackd %s %s %s %s", args[0], args[1], args[2], args[3]);
	daemon_pid = spawn_dom0("blkbackd", args, log);
	while (ctl(NULL, 0, "stats", NULL) != 0) {
		if (waitpid(daemon_pid, &st, WNOHANG) == daemon_pid) {
			daemon_pid = -1;
			die("blkbackd exited at start (status %d): see %s", st, log);
		}
		if (now_ms() > deadline)
			die("blkbackd did not answer in %d s", WAIT_MS / 1000);
	}
}

/* ---- attach, detach ---- */

/* Write d's spec with the fault picked, and size= when size_bytes is not 0. */
static void make_spec(const struct disk *d, uint64_t size_bytes, char *spec, size_t len)
{
	char fault[64] = "";

	if (d->fault != F_NONE)
		snprintf(fault, sizeof(fault), ",fault=%" PRIu64 "+%" PRIu64 ":%s", d->fstart,
			 d->fcount, fault_names[d->fault]);
	if (!strcmp(d->engine, "mem") && size_bytes)
		snprintf(spec, len, "mem:size=%" PRIu64 ",name=torture%u%s", size_bytes,
			 d->generation, fault);
	else if (!strcmp(d->engine, "mem"))
		snprintf(spec, len, "mem:name=torture%u%s", d->generation, fault);
	else
		snprintf(spec, len, "%s:%s%s", d->engine, d->path, fault);
}

/* Attach d with a fault picked at random; mem: size 0 reuses the named ramdisk. */
static void attach(struct disk *d, uint64_t size_bytes)
{
	char spec[512], out[400];

	d->fault = (enum fault)(rnd(3) ? F_NONE : 1 + rnd(4));
	d->fstart = rnd(d->sectors);
	d->fcount = 1 + rnd(64);
	d->stall_active = d->fault == F_STALL;
	d->replug = false;
	make_spec(d, size_bytes, spec, sizeof(spec));
	note("attach %s %s", d->vdev, spec);
	if (ctl(out, sizeof(out), "attach", "guest1", spec, "--vdev", d->vdev, "--nowait",
		NULL))
		die("cannot attach %s as %s: %s", spec, d->vdev, out);
	connect_disk(d);
}

/* Disconnect d and detach it. */
static void detach(struct disk *d)
{
	char out[400];

	disconnect(d);
	if (ctl(out, sizeof(out), "detach", "guest1", d->vdev, NULL))
		die("cannot detach %s: %s", d->vdev, out);
}

/* A mem disk closed by blkbackd's stop: detach it, and attach a new one (zeroes). */
static void mem_lost(struct disk *d)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (d->bf) {
		if (now_ms() > deadline)
			die("disk %s: the mem disk was not closed after blkbackd stopped", d->vdev);
		service(20);
	}
	detach(d);
	for (uint64_t s = 0; s < MAX_SECT; s++)
		d->tag[s] = 0;
	/*
	 * A new name: the new blkbackd may have made a ramdisk from the closed disk's spec
	 * (one of the spec's size=, not the disk's), which the next attach would reuse.
	 */
	d->generation++;
	count.mem_lost++;
	attach(d, d->sectors * BF_BLOCK);
}

/* ---- the steps ---- */

/*
 * The sectors the guest may use: the model's size, or less after a grow until the
 * frontend reconnects (blkfront reads the size once, at connect).
 */
static uint64_t io_sectors(const struct disk *d)
{
	uint64_t seen = blkfront_disk(d->bf)->sectors;

	return seen < d->sectors ? seen : d->sectors;
}

/* Random sectors for a read or write: one time in four on the fault= range, if any. */
static void pick_range(struct disk *d, uint64_t *start, uint64_t *n)
{
	uint64_t size = io_sectors(d), s;

	*n = 1 + rnd(MAX_IO);
	*n = *n > size ? size : *n;
	s = rnd(size - *n + 1);
	if (d->fault != F_NONE && !rnd(4)) {
		s = d->fstart + d->fcount / 2;
		s = s > *n / 2 ? s - *n / 2 : 0;
		s = s + *n > size ? size - *n : s;
	}
	*start = s;
}

/* A write of random sectors. */
static void op_write(struct disk *d)
{
	uint64_t start, n;

	pick_range(d, &start, &n);
	note("write %s %" PRIu64 "+%" PRIu64 "%s", d->vdev, start, n,
	     submit(d, BLKIF_OP_WRITE, start, n) ? "" : " (skipped: held)");
}

/* A read of random sectors, checked when it comes back. */
static void op_read(struct disk *d)
{
	uint64_t start, n;

	pick_range(d, &start, &n);
	note("read %s %" PRIu64 "+%" PRIu64 "%s", d->vdev, start, n,
	     submit(d, BLKIF_OP_READ, start, n) ? "" : " (skipped: held)");
}

/* A discard of random sectors, where offered: they read back as zeroes (reference.md). */
static void op_discard(struct disk *d)
{
	uint64_t start, n;
	bool go = blkfront_features(d->bf)->discard;

	pick_range(d, &start, &n);
	note("discard %s %" PRIu64 "+%" PRIu64 "%s", d->vdev, start, n,
	     go && submit(d, BLKIF_OP_DISCARD, start, n) ? "" : " (skipped)");
}

/* A flush, where offered; not behind held I/O (it would hold the ring). */
static void op_flush(struct disk *d)
{
	bool go = blkfront_features(d->bf)->flush && !held_count(d);

	note("flush %s%s", d->vdev, go && submit(d, BLKIF_OP_FLUSH_DISKCACHE, 0, 0) ? "" :
	     " (skipped)");
}

/* Writes in flight at once with a flush put behind them, as a guest's fsync does. */
static void op_burst(struct disk *d)
{
	uint64_t k = 2 + rnd(7), start, n;

	note("burst of %" PRIu64 " writes on %s, then a flush", k, d->vdev);
	for (uint64_t i = 0; i < k; i++) {
		pick_range(d, &start, &n);
		note("burst write %s %" PRIu64 "+%" PRIu64 "%s", d->vdev, start, n,
		     submit(d, BLKIF_OP_WRITE, start, n) ? "" : " (skipped: held)");
	}
	op_flush(d);
}

/* Read the whole disk back and check it. */
static void op_verify(struct disk *d)
{
	uint64_t size = io_sectors(d);

	note("verify %s (%" PRIu64 " sectors)", d->vdev, size);
	if (!drain(d))
		return;
	for (uint64_t s = 0; s < size; s += MAX_IO) {
		uint64_t n = size - s < MAX_IO ? size - s : MAX_IO;

		if (!hits_stall(d, s, n))
			submit(d, BLKIF_OP_READ, s, n);
	}
	drain(d);
}

/* Stop blkbackd (kill -9, or a handover that must exit 0), start another. */
static void op_restart(bool handover)
{
	char out[400];
	int st, rc;

	note("%s", handover ? "handover" : "kill -9");
	/*
	 * The next daemon holds a released stall's range again: what touches it must be done
	 * first, or whether it is held after the restart would depend on timing.
	 */
	for (unsigned int k = 0; k < NDISKS; k++)
		if (disks[k].bf && disks[k].fault == F_STALL && !disks[k].stall_active)
			wait_range(&disks[k], disks[k].fstart, disks[k].fcount);
	daemon_stopping = true;
	*(handover ? &count.handovers : &count.kills) += 1;
	for (unsigned int k = 0; k < NDISKS; k++) {
		if (disks[k].bf)
			count.inflight_at_stop += blkfront_inflight(disks[k].bf);
		count.held_at_stop += held_count(&disks[k]);
	}
	if (handover) {
		rc = ctl(out, sizeof(out), "handover", NULL);
		if (rc)
			die("blkbackctl handover exited %d: %s", rc, out);
		rc = wait_child(daemon_pid, "blkbackd after handover");
		if (rc)
			die("blkbackd exited with status %d after a handover", rc);
	} else {
		kill(daemon_pid, SIGKILL);
		if (waitpid(daemon_pid, &st, 0) != daemon_pid)
			die("waitpid for blkbackd: %s", strerror(errno));
	}
	daemon_pid = -1;
	daemon_start();
	for (unsigned int k = 0; k < NDISKS; k++) {
		struct disk *d = &disks[k];

		if (!strcmp(d->engine, "mem")) {
			mem_lost(d);
			continue;
		}
		/* The new daemon opens the storage again: a stall holds again. */
		d->stall_active = d->fault == F_STALL;
		for (unsigned int i = 0; i < BLKFRONT_MAX_SLOTS; i++)
			if (d->pend[i].inflight && d->pend[i].n)
				d->pend[i].held = hits_stall(d, d->pend[i].start, d->pend[i].n);
		/* Run again in one sweep, a held one holds the others: seed 3114500273. */
		d->replug = held_count(d) > 0;
	}
	daemon_stopping = false;
}

/* Let a stalled disk's held I/O go. */
static void op_unstall(struct disk *d)
{
	char out[400];

	note("unstall %s%s", d->vdev, d->stall_active ? "" : " (skipped: no stall)");
	if (!d->stall_active)
		return;
	if (ctl(out, sizeof(out), "unstall", "guest1", d->vdev, NULL))
		die("blkbackctl unstall guest1 %s failed: %s", d->vdev, out);
	d->stall_active = false;
	d->replug = false;
	count.unstalls++;
	count.released += held_count(d);
	for (unsigned int i = 0; i < BLKFRONT_MAX_SLOTS; i++)
		d->pend[i].held = false;
}

/* Close the frontend and connect again. */
static void op_reconnect(struct disk *d)
{
	bool go = drain(d);

	note("reconnect %s%s", d->vdev, go ? "" : " (skipped: held)");
	if (!go)
		return;
	disconnect(d);
	connect_disk(d);
	count.reconnects++;
}

/* Resize to a random size; a shrink drops the data past the new end. */
static void op_resize(struct disk *d)
{
	uint64_t sect = MIN_SECT + rnd((MAX_SECT - MIN_SECT) / 128 + 1) * 128;
	char size[32], out[400];
	bool go = drain(d);
	int rc;

	note("resize %s %" PRIu64 " -> %" PRIu64 " sectors%s", d->vdev, d->sectors, sect,
	     go ? "" : " (skipped: held)");
	if (!go)
		return;
	snprintf(size, sizeof(size), "%" PRIu64, sect * BF_BLOCK);
	rc = sect < d->sectors ? ctl(out, sizeof(out), "resize", "guest1", d->vdev, size,
				     "--shrink", NULL) :
				 ctl(out, sizeof(out), "resize", "guest1", d->vdev, size, NULL);
	if (rc)
		die("blkbackctl resize guest1 %s %s failed: %s", d->vdev, size, out);
	for (uint64_t s = sect; s < MAX_SECT; s++)
		d->tag[s] = 0;
	count.resizes++;
	count.shrinks += sect < d->sectors;
	d->sectors = sect;
}

/* Detach and attach again (a new fault=); the data stays. */
static void op_reattach(struct disk *d)
{
	bool go = drain(d);

	note("detach and re-attach %s%s", d->vdev, go ? "" : " (skipped: held)");
	if (!go)
		return;
	count.reattaches++;
	detach(d);
	attach(d, !strcmp(d->engine, "mem") && rnd(2) ? d->sectors * BF_BLOCK : 0);
}

/* One step, picked at random. */
static void one_step(void)
{
	struct disk *d = &disks[rnd(NDISKS)];
	uint64_t r = rnd(1000);

	if (r < 320)
		op_write(d);
	else if (r < 400)
		op_burst(d);
	else if (r < 660)
		op_read(d);
	else if (r < 700)
		op_discard(d);
	else if (r < 800)
		op_flush(d);
	else if (r < 815)
		op_verify(d);
	else if (r < 835)
		op_restart(false);
	else if (r < 845)
		op_restart(true);
	else if (r < 895)
		op_unstall(d);
	else if (r < 925)
		op_reconnect(d);
	else if (r < 955)
		op_resize(d);
	else
		op_reattach(d);
}

/* Set up the three disks: images, blkbackd, attach and connect. */
static void setup(void)
{
	static const char *const vdevs[NDISKS] = { "xvdb", "xvdc", "xvdd" };
	static const char *const engines[NDISKS] = { "file", "uring", "mem" };

	daemon_start();
	for (unsigned int k = 0; k < NDISKS; k++) {
		struct disk *d = &disks[k];

		d->vdev = vdevs[k];
		d->engine = engines[k];
		d->sectors = START_SECT;
		if (strcmp(d->engine, "mem")) {
			FILE *f;

			snprintf(d->path, sizeof(d->path), "%s/%s.img", dir, d->vdev);
			f = fopen(d->path, "w");
			if (!f || ftruncate(fileno(f), (off_t)(START_SECT * BF_BLOCK)) || fclose(f))
				die("cannot create %s: %s", d->path, strerror(errno));
		}
		attach(d, START_SECT * BF_BLOCK);
	}
}

/* The end: release stalls, read every disk back, detach, stop blkbackd with SIGTERM. */
static void finish(void)
{
	int st;

	step++;
	for (unsigned int k = 0; k < NDISKS; k++) {
		op_unstall(&disks[k]);
		op_verify(&disks[k]);
		detach(&disks[k]);
	}
	note("SIGTERM to blkbackd");
	kill(daemon_pid, SIGTERM);
	if (waitpid(daemon_pid, &st, 0) != daemon_pid || !WIFEXITED(st) || WEXITSTATUS(st))
		die("blkbackd did not exit 0 on SIGTERM (status %d)", st);
	daemon_pid = -1;
}

/* One line of what the run did. */
static void summary(void)
{
	const struct counts *c = &count;

	printf("torture: %" PRIu64 " writes, %" PRIu64 " discards, %" PRIu64 " reads (%" PRIu64
	       " sectors checked), %" PRIu64 " failed as their fault= range wants, %" PRIu64
	       " flushes; %" PRIu64 " kill -9 and %" PRIu64 " handovers with %" PRIu64
	       " requests in flight (%" PRIu64 " held by a stall), %" PRIu64 " mem disks lost; %"
	       PRIu64 " unstalls releasing %" PRIu64 " requests, %" PRIu64 " reconnects, %" PRIu64
	       " resizes (%" PRIu64 " shrinks), %" PRIu64 " re-attaches\n", c->writes, c->discards,
	       c->reads, c->checked, c->failed, c->flushes, c->kills, c->handovers,
	       c->inflight_at_stop, c->held_at_stop, c->mem_lost, c->unstalls, c->released,
	       c->reconnects, c->resizes, c->shrinks, c->reattaches);
}

/* torture --seed N --seconds T [--ops M] --dir DIR --build B [-v] */
int main(int argc, char **argv)
{
	uint64_t seconds = 60, max_ops = UINT64_MAX;
	bool have_seed = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-v")) {
			verbose = true;
			continue;
		}
		if (!v)
			goto usage;
		i++;
		if (!strcmp(a, "--seed") && !bf_parse_uint(v, UINT64_MAX, &seed))
			have_seed = true;
		else if (!strcmp(a, "--seconds") && !bf_parse_uint(v, 86400, &seconds))
			;
		else if (!strcmp(a, "--ops") && !bf_parse_uint(v, UINT64_MAX, &max_ops))
			;
		else if (!strcmp(a, "--dir"))
			dir = v;
		else if (!strcmp(a, "--build"))
			build = v;
		else if (!strcmp(a, "--daemon-debug"))
			daemon_debug = v;
		else
			goto usage;
	}
	if (!have_seed || !dir || !build)
		goto usage;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("torture: seed %" PRIu64 ", %" PRIu64 " s\n", seed, seconds);
	rng = seed;
	seed_hi = (bf_rand(&rng) | 1) << 32;	/* never zero: a tag's pattern is never 0 */
	started_ms = now_ms();
	setup();
	for (step = 1; step <= max_ops && now_ms() - started_ms < (int64_t)seconds * 1000;
	     step++)
		one_step();
	step--;
	{
		uint64_t ops = step;

		finish();
		summary();
		printf("PASS torture seed=%" PRIu64 " ops=%" PRIu64 "\n", seed, ops);
	}
	return 0;
usage:
	fprintf(stderr, "usage: torture --seed N --dir DIR --build BUILD [--seconds T] "
		"[--ops M] [--daemon-debug FLAGS] [-v]\n");
	return 2;
}
