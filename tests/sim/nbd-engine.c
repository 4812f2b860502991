/*
 * The engine conformance checks of tests/unit (engine-harness.h) on nbd: disks, against
 * the nbdkit servers tests/sim/nbd-conformance.sh started in DIR:
 *   DIR/mem.sock     memory 8M                       the plain case
 *   DIR/small.sock   memory 8M, blocksize-policy     4096 preferred, 8192 maximum: split
 *   DIR/single.sock  memory 8M, multi-conn disabled  the queues share one connection
 *   DIR/trim.sock    memory 8M, nozero               discard is a trim: no zeroes promised
 *   DIR/ro.sock      memory 8M, nbdkit -r            read-only whatever the spec says
 *   DIR/err.sock     memory 8M, error filter         every read fails with EIO
 * and on DIR/mem.sock: one reap reads every reply the socket holds (run_drain).
 * With --bad, the specs and servers that must be refused, those of tests/sim/nbd-bad-input.sh:
 *   DIR/named.sock   memory 8M, export "good" only   another name is refused
 *   DIR/deaf.sock    bound, not listening            the connection is refused
 *   DIR/mute.sock    a socket that never answers     the open gives up after timeout=
 *   DIR/nobody.sock  not there
 * usage: nbd-engine [--bad] DIR
 */
#include <dirent.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "engine-run.h"

#define DISK_SIZE (8 * MiB)
#define ROUNDS 24

static const char *dir;
static struct storage sentinel;

/* The spec of the server on DIR/name.sock, with options opts ("" for none). */
static void spec_of(char *buf, size_t len, const char *name, const char *opts)
{
	snprintf(buf, len, "nbd:nbd+unix:///?socket=%s/%s.sock%s", dir, name, opts);
}

/*
 * A discard, and a second queue: its own connection, or the first one's when the server
 * has no multi-conn (d->arg points to true then).
 */
static void nbd_steps(struct h_disk *h, const struct er_disk *d)
{
	bool shared = *(const bool *)d->arg;
	struct storage_queue *q2;
	struct storage_link st;
	int ret;

	/* A discard of 1 MiB: zeroes where promised, else unknown bytes, written again. */
	er_discard(h, 3 * MiB, MiB);
	if (d->zeroes)
		h_verify(h, 2 * MiB, 2 * MiB);
	else
		h_write(h, 3 * MiB, MiB);
	ret = storage_queue_open(h->disk, &q2);
	CHECK(ret == 0, "%s: second queue_open: %s", d->name, strerror(-ret));
	CHECK(storage_link(h->disk, &st) == 0, "%s: storage_link", d->name);
	if (!ret)
		CHECK(st.up == (shared ? 1u : 2u) || (!shared && st.up + st.down == 2),
		      "%s: %u connections up, %u down with two queues; want %d", d->name,
		      st.up, st.down, shared ? 1 : 2);
	storage_queue_close(q2);
}

/* The common run (engine-run.h) on the server's disk, then read back read-only. */
static void run_rw(const char *name, uint32_t phys, bool zeroes, bool twoq, bool shared)
{
	char spec[512], ro_spec[512];
	struct er_disk d = {
		.name = name, .spec = spec, .ro_spec = ro_spec, .size = DISK_SIZE,
		.seed = 0x5eed ^ phys ^ (uint64_t)strlen(name),
		.size_what = "size the server offers", .phys = phys, .zeroes = zeroes,
		.two_queues = twoq, .rounds = ROUNDS, .steps = nbd_steps, .arg = &shared,
	};

	spec_of(spec, sizeof(spec), name, "");
	spec_of(ro_spec, sizeof(ro_spec), name, ",ro");
	er_run(&d);
}

/* Bytes waiting to be read on socket fd, or -1. */
static int inq(int fd)
{
	int n;

	return ioctl(fd, FIONREAD, &n) ? -1 : n;
}

/*
 * One reap answers every reply the socket holds, not one: DRAIN_READS page reads whose
 * replies all wait on the socket complete in a single storage_reap. (libnbd reads one
 * reply per notification; an engine that notified once per wake-up answered one request
 * per turn of the ring's loop.)
 */
#define DRAIN_READS 16
static void run_drain(void)
{
	char spec[512], err[STORAGE_ERR_LEN];
	struct storage_poll sp;
	struct timespec t0, now;
	struct h_disk h;
	int ret, n = -1;

	spec_of(spec, sizeof(spec), "mem", "");
	if (h_init(&h, "drain", DISK_SIZE, 0xd7a1))
		return;
	ret = open_spec(spec, &h.disk, err, sizeof(err));
	CHECK(ret == 0, "open '%s': %s", spec, err);
	if (ret)
		goto out;
	ret = storage_queue_open(h.disk, &h.q);
	CHECK(ret == 0, "drain: queue_open: %s", strerror(-ret));
	if (ret)
		goto close;
	/* Data, so that every reply carries its page (a hole might be sent as less). */
	h_write(&h, 0, DRAIN_READS * H_PAGE);
	storage_poll(h.q, &sp);
	CHECK(sp.fd >= 0, "drain: a connection of its own polls its socket");
	for (int i = 0; i < DRAIN_READS; i++) {
		h.slot[i].io = (struct storage_io){ .op = STORAGE_READ, .offset = i * H_PAGE };
		h_layout_pages(&h.slot[i], H_PAGE);
	}
	h_submit(&h, DRAIN_READS);
	/* Each reply is a page and a header of at least 16 bytes: all there once this many. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		struct pollfd p = { .fd = sp.fd, .events = POLLIN };

		n = inq(sp.fd);
		if (n < 0 || n >= DRAIN_READS * (int)(H_PAGE + 16))
			break;
		poll(&p, 1, 10);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - t0.tv_sec < 20);
	CHECK(n >= DRAIN_READS * (int)(H_PAGE + 16), "drain: %d bytes of replies on the socket "
	      "after 20 s, want %u (FIONREAD: %s)", n, DRAIN_READS * (H_PAGE + 16),
	      n < 0 ? strerror(errno) : "ok");
	storage_reap(h.q);
	CHECK_INT(DRAIN_READS - h_pending(&h, DRAIN_READS), DRAIN_READS,
		  "reads answered by one reap with all their replies on the socket");
	h_wait(&h, 0, DRAIN_READS);
	h_check_results(&h, DRAIN_READS);
	for (int i = 0; i < DRAIN_READS; i++)
		CHECK(h_compare(&h, &h.slot[i]), "drain: read %d returned other bytes", i);
	storage_queue_close(h.q);
close:
	storage_close(h.disk);
out:
	h_free(&h);
}

/* nbdkit -r: read-only without ,ro, and a write is refused by the contract. */
static void run_ro(void)
{
	char spec[512], err[STORAGE_ERR_LEN];
	struct storage *disk = NULL;
	int ret;

	spec_of(spec, sizeof(spec), "ro", "");
	ret = open_spec(spec, &disk, err, sizeof(err));
	CHECK(ret == 0, "open '%s': %s", spec, err);
	if (ret)
		return;
	CHECK(disk->readonly, "a read-only export opened writable");
	storage_close(disk);
}

/* The error filter fails every read: the I/O fails with an error, no reconnect, no hang. */
static void run_err(void)
{
	char spec[512], err[STORAGE_ERR_LEN];
	struct h_disk h;
	int ret;

	spec_of(spec, sizeof(spec), "err", ",timeout=2");
	if (h_init(&h, "err", DISK_SIZE, 7))
		return;
	ret = open_spec(spec, &h.disk, err, sizeof(err));
	CHECK(ret == 0, "open '%s': %s", spec, err);
	if (!ret && !storage_queue_open(h.disk, &h.q)) {
		h.slot[0].io = (struct storage_io){ .op = STORAGE_READ, .offset = 4096 };
		h_layout_pages(&h.slot[0], 8192);
		h.slot[0].want_error = true;
		h.slot[1].io = (struct storage_io){ .op = STORAGE_WRITE, .offset = MiB };
		h_layout_pages(&h.slot[1], 4096);
		h_fill(&h, &h.slot[1]);
		h_run(&h, 2);
		storage_queue_close(h.q);
	}
	if (!ret)
		storage_close(h.disk);
	h_free(&h);
}

/* A spec must not parse, with a message holding word. */
static void bad_spec(const char *text, const char *word)
{
	struct storage_spec spec;
	char err[STORAGE_ERR_LEN] = "";
	int ret = storage_spec_parse(text, &spec, err, sizeof(err));

	CHECK(ret == -EINVAL, "'%s' parsed", text);
	CHECK(strstr(err, word) != NULL, "'%s': message '%s' does not say '%s'", text, err, word);
	printf("refused '%s': %s\n", text, err);
	if (!ret)
		storage_spec_free(&spec);
}

/* The file descriptors this process has open. */
static int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/*
 * A spec that parses must fail to open, quickly, leave the pointer alone and say word, and
 * leave no socket open.
 */
static void refused(const char *text, const char *word)
{
	struct storage *disk = &sentinel;
	char err[STORAGE_ERR_LEN] = "";
	int fds = fd_count(), ret = open_spec(text, &disk, err, sizeof(err));

	CHECK(ret < 0, "'%s' opened", text);
	CHECK(disk == &sentinel, "'%s': disk pointer written by a failed open", text);
	CHECK(fd_count() == fds, "'%s': %d fds open after the failed open, %d before", text,
	      fd_count(), fds);
	CHECK(strstr(err, word) != NULL, "'%s': message '%s' does not say '%s'", text, err, word);
	printf("open refused '%s': %s\n", text, err);
	if (!ret)
		storage_close(disk);
}

/* Malformed specs and URIs, servers refusing or not answering: each refused, saying why. */
static void bad_input(void)
{
	char spec[512], want[512];

	bad_spec("nbd:", "URI");
	bad_spec("nbd:/srv/disk.img", "URI");
	bad_spec("nbd:nbd//127.0.0.1/x", "URI");
	bad_spec("nbd:nbd://127.0.0.1/x,timeout=0", "timeout");
	bad_spec("nbd:nbd://127.0.0.1/x,timeout=soon", "timeout");
	bad_spec("nbd:nbd://127.0.0.1/x,size=1M", "size=1M");
	bad_spec("nbd:nbd://127.0.0.1/x,direct", "direct");
	refused("nbd:nbd+nosuch:///?socket=/x", "nbd+nosuch");
	refused("nbd:nbd+unix:///", "socket");
	refused("nbd:nbd://127.0.0.1:notaport/x", "notaport");
	snprintf(spec, sizeof(spec), "nbd:nbd+unix:///?socket=%s/nobody.sock,timeout=5", dir);
	snprintf(want, sizeof(want), "%s/nobody.sock", dir);
	refused(spec, want);
	snprintf(spec, sizeof(spec), "nbd:nbd+unix:///?socket=%s/deaf.sock,timeout=5", dir);
	refused(spec, "Connection refused");
	snprintf(spec, sizeof(spec), "nbd:nbd+unix:///wrong?socket=%s/named.sock,timeout=5", dir);
	refused(spec, "wrong");
	snprintf(spec, sizeof(spec), "nbd:nbd+unix:///?socket=%s/mute.sock,timeout=1", dir);
	refused(spec, "no answer in 1 s");
	/* The right name on the same server opens. */
	snprintf(spec, sizeof(spec), "nbd:nbd+unix:///good?socket=%s/named.sock", dir);
	{
		struct storage *disk = NULL;
		char err[STORAGE_ERR_LEN];
		int ret = open_spec(spec, &disk, err, sizeof(err));

		CHECK(ret == 0, "open '%s': %s", spec, err);
		if (!ret)
			storage_close(disk);
	}
}

int main(int argc, char **argv)
{
	bool bad = argc == 3 && !strcmp(argv[1], "--bad");

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2 && !bad) {
		fprintf(stderr, "usage: nbd-engine [--bad] DIR\n");
		return 2;
	}
	dir = argv[argc - 1];
	CHECK(storage_engine("nbd") == &storage_nbd_ops, "no nbd engine in the table");
	if (bad) {
		bad_input();
		return check_done("nbd-engine --bad");
	}
	run_rw("mem", 512, true, true, false);
	run_rw("small", 4096, true, true, false);
	run_rw("single", 512, true, true, true);
	run_rw("trim", 512, false, false, false);
	run_drain();
	run_ro();
	run_err();
	return check_done("nbd-engine");
}
