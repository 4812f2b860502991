/* blkfront read / write: bytes between the disk and stdout / stdin, many requests in flight. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bfutil.h"
#include "cli.h"

#define OPT_FLUSH 300

/* Parse the common options (and write's --flush, when flush is not NULL) and VDEV OFFSET
 * [LENGTH]; *have_len says whether LENGTH was given. Returns EXIT_GOOD, or an exit code
 * (help printed or bad command line). */
static int rw_args(struct cli *c, int argc, char **argv, bool need_len, uint64_t *off,
		   uint64_t *len, bool *have_len, bool *flush)
{
	static const struct option common[] = { CLI_COMMON_OPTIONS, { 0 } };
	static const struct option wr[] = {
		CLI_COMMON_OPTIONS, { "flush", no_argument, NULL, OPT_FLUSH }, { 0 },
	};
	int opt, rc, nargs;

	while ((opt = getopt_long(argc, argv, "v", flush ? wr : common, NULL)) != -1) {
		if (opt == OPT_FLUSH) {
			*flush = true;
			continue;
		}
		rc = cli_common_opt(c, opt, optarg);
		if (rc) {
			if (rc > 0)
				cli_err(c, "see 'blkfront --help'");
			return EXIT_USAGE;
		}
	}
	if (c->help) {
		cli_usage(stdout);
		return -1;
	}
	nargs = argc - optind;
	if (nargs != 3 && (need_len || nargs != 2)) {
		cli_err(c, "give VDEV OFFSET %s, e.g. 'blkfront %s xvdb 0 64k'",
			need_len ? "LENGTH" : "[LENGTH]", c->cmd);
		return EXIT_USAGE;
	}
	c->opts.vdev = argv[optind];
	*have_len = nargs == 3;
	*len = 0;
	if (cli_size(c, "OFFSET", argv[optind + 1], off) ||
	    (*have_len && cli_size(c, "LENGTH", argv[optind + 2], len)))
		return EXIT_USAGE;
	if (*off % BLKFRONT_SECTOR || *len % BLKFRONT_SECTOR) {
		cli_err(c, "OFFSET and LENGTH must be multiples of 512 bytes (of the disk's "
			"sector size)");
		return EXIT_USAGE;
	}
	return EXIT_GOOD;
}

/* Check off and len against the connected disk. */
static int check_range(const struct cli *c, const struct blkfront *bf, uint64_t off,
		       uint64_t len)
{
	uint64_t size = blkfront_size(bf);
	uint32_t ss = blkfront_disk(bf)->sector_size;

	if (off % ss || len % ss) {
		cli_err(c, "OFFSET and LENGTH must be multiples of the disk's %u-byte sectors", ss);
		return EXIT_USAGE;
	}
	if (off > size || len > size - off) {
		cli_err(c, "%" PRIu64 " bytes at %" PRIu64 " go past the end of the disk "
			"(%" PRIu64 " bytes)", len, off, size);
		return EXIT_USAGE;
	}
	return EXIT_GOOD;
}

/* Report a failed request; EXIT_IO. */
static int req_failed(const struct cli *c, const struct blkfront_req *r)
{
	const char *answer = r->status == BLKIF_RSP_EOPNOTSUPP ? "EOPNOTSUPP" : "an I/O error";

	if (r->op != BLKIF_OP_READ && r->op != BLKIF_OP_WRITE)
		cli_err(c, "the flush failed: the backend answered %s", answer);
	else
		cli_err(c, "%s of %u bytes at %" PRIu64 " failed: the backend answered %s",
			r->op == BLKIF_OP_READ ? "read" : "write", r->len, r->offset, answer);
	return EXIT_IO;
}

/* Report what reap returned when it was no count. */
static int reap_failed(const struct cli *c, int n)
{
	if (n == 0)
		cli_err(c, "no request completed within the I/O timeout (--io-timeout)");
	else if (n == -ESHUTDOWN)
		cli_err(c, "the backend closed the disk (detached from dom0?)");
	else
		cli_err(c, "waiting for the backend failed: %s", strerror(-n));
	return EXIT_IO;
}

/* Write all of buf to stdout. */
static int out_all(const struct cli *c, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(STDOUT_FILENO, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			cli_err(c, "cannot write to stdout: %s", n < 0 ? strerror(errno) : "EOF");
			return EXIT_IO;
		}
		p += n;
		len -= (size_t)n;
	}
	return EXIT_GOOD;
}

/* Stream len bytes at off to stdout, in order, with every slot in flight. */
static int do_read(const struct cli *c, struct blkfront *bf, uint64_t off, uint64_t len)
{
	unsigned int slots = blkfront_slots(bf);
	uint32_t max = blkfront_max_req_bytes(bf);
	uint64_t npieces = (len + max - 1) / max;
	uint64_t issued = 0, out = 0;
	struct blkfront_req **win = calloc(slots, sizeof(*win)), **done = calloc(slots, sizeof(*done));
	int rc = EXIT_GOOD, n;

	if (!win || !done) {
		cli_err(c, "out of memory");
		rc = EXIT_IO;
		goto out;
	}
	while (out < npieces && rc == EXIT_GOOD) {
		struct blkfront_req *r;

		while (issued < npieces && issued - out < slots && (r = blkfront_req_get(bf))) {
			uint64_t at = issued * max;
			uint32_t n1 = (uint32_t)(len - at < max ? len - at : max);

			if (blkfront_submit(bf, r, BLKIF_OP_READ, off + at, n1)) {
				blkfront_req_put(bf, r);
				cli_err(c, "cannot submit a read at %" PRIu64, off + at);
				rc = EXIT_IO;
				goto out;
			}
			win[issued++ % slots] = r;
		}
		if (blkfront_kick(bf)) {
			cli_err(c, "cannot notify the backend");
			rc = EXIT_IO;
			break;
		}
		/* Hand out, in order, whatever has completed at the head of the window. */
		while (out < issued && !win[out % slots]->inflight) {
			r = win[out % slots];
			rc = r->status ? req_failed(c, r) : out_all(c, r->buf, r->len);
			blkfront_req_put(bf, r);
			out++;
			if (rc)
				goto out;
		}
		if (out < issued) {
			n = blkfront_reap(bf, done, slots, c->io_timeout_ms);
			if (n <= 0)
				rc = reap_failed(c, n);
		}
	}
out:
	free(win);
	free(done);
	return rc;
}

/* Read up to len bytes from stdin, fewer only at EOF. */
static ssize_t in_full(void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(STDIN_FILENO, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Reap at least one request and give the slots back; a failed request sets *rc.
 * Returns -1 when waiting itself failed (nothing more will complete). */
static int write_reap(const struct cli *c, struct blkfront *bf, struct blkfront_req **done,
		      int *rc)
{
	int n = blkfront_reap(bf, done, blkfront_slots(bf), c->io_timeout_ms);

	if (n <= 0) {
		*rc = reap_failed(c, n);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (done[i]->status && !*rc)
			*rc = req_failed(c, done[i]);
		blkfront_req_put(bf, done[i]);
	}
	return 0;
}

/*
 * write --flush: put a flush on every ring right behind the writes still in flight, without
 * waiting for their answers, and say "flushed BYTES bytes at OFFSET" on stdout the moment
 * the flushes are answered. blkbackd answers a flush only once every request before it on
 * its ring is done and flushed, so from that line on all bytes written are durable.
 */
static int write_flush_behind(const struct cli *c, struct blkfront *bf,
			      struct blkfront_req **done, uint64_t off, uint64_t written)
{
	const struct blkfront_features *f = blkfront_features(bf);
	unsigned int nq = blkfront_queues(bf), waiting = 0;
	struct blkfront_req *fl[BLKFRONT_MAX_QUEUES];
	int rc = EXIT_GOOD, err = 0;

	if (!f->flush && !f->barrier) {
		cli_err(c, "--flush: the backend offers neither flush nor barrier (a disk without "
			"a write cache, such as mem:, has nothing to flush)");
		return EXIT_IO;
	}
	if (blkfront_slots(bf) < nq) {
		cli_err(c, "--flush needs a request slot per queue: give --slots %u or more", nq);
		return EXIT_USAGE;
	}
	/* A free slot for each flush, before any goes on a ring. */
	while (blkfront_slots(bf) - blkfront_inflight(bf) < nq)
		if (write_reap(c, bf, done, &rc))
			return rc;
	for (unsigned int q = 0; q < nq && !err; q++) {
		fl[q] = blkfront_req_get(bf);
		fl[q]->queue = (int)q;
		err = blkfront_submit(bf, fl[q], f->flush ? BLKIF_OP_FLUSH_DISKCACHE :
				      BLKIF_OP_WRITE_BARRIER, 0, 0);
		if (err)
			blkfront_req_put(bf, fl[q]);
		else
			waiting++;
	}
	if (!err)
		err = blkfront_kick(bf);
	else
		blkfront_kick(bf);	/* those submitted go, for the caller to drain */
	if (err) {
		cli_err(c, "cannot submit the flush: %s", strerror(-err));
		return EXIT_IO;
	}
	while (waiting) {
		int n = blkfront_reap(bf, done, blkfront_slots(bf), c->io_timeout_ms);

		if (n <= 0)
			return reap_failed(c, n);
		for (int i = 0; i < n; i++) {
			if (done[i]->status && !rc)
				rc = req_failed(c, done[i]);
			waiting -= done[i]->op != BLKIF_OP_WRITE;
			blkfront_req_put(bf, done[i]);
		}
	}
	if (rc == EXIT_GOOD) {
		printf("flushed %" PRIu64 " bytes at %" PRIu64 "\n", written, off);
		fflush(stdout);
	}
	return rc;
}

/* Copy stdin to the disk at off: len bytes, or to EOF when !have_len; then flush (with
 * flush_behind, without waiting for the writes first). */
static int do_write(const struct cli *c, struct blkfront *bf, uint64_t off, uint64_t len,
		    bool have_len, bool flush_behind)
{
	uint64_t limit = have_len ? len : blkfront_size(bf) - off, at = 0;
	uint32_t max = blkfront_max_req_bytes(bf);
	uint32_t ss = blkfront_disk(bf)->sector_size;
	struct blkfront_req **done = calloc(blkfront_slots(bf), sizeof(*done)), *r;
	const struct blkfront_features *f = blkfront_features(bf);
	bool eof = false;
	int rc = EXIT_GOOD, err;
	char probe;

	if (!done) {
		cli_err(c, "out of memory");
		return EXIT_IO;
	}
	while (!eof && at < limit && rc == EXIT_GOOD) {
		uint64_t want = limit - at < max ? limit - at : max;
		ssize_t got;

		r = blkfront_req_get(bf);
		if (!r) {
			if (write_reap(c, bf, done, &rc))
				break;
			continue;
		}
		got = in_full(r->buf, want);
		if (got < 0) {
			cli_err(c, "cannot read stdin: %s", strerror((int)-got));
			blkfront_req_put(bf, r);
			rc = EXIT_IO;
			break;
		}
		if ((uint64_t)got < want) {
			eof = true;
			if (!have_len && got % ss) {
				/* The tail of the input: pad its last sector, as dd conv=sync would. */
				uint32_t pad = ss - (uint32_t)(got % ss);

				memset((char *)r->buf + got, 0, pad);
				fprintf(stderr, "blkfront write: the input ends mid-sector: padded "
					"its last %u bytes with %u zero bytes\n", (unsigned int)(got % ss),
					pad);
				got += pad;
			}
			if (have_len) {
				cli_err(c, "stdin ended after %" PRIu64 " of the %" PRIu64 " bytes "
					"asked for; the %" PRIu64 " bytes before were written", at + (uint64_t)got,
					len, at);
				rc = EXIT_IO;
				blkfront_req_put(bf, r);
				break;
			}
		}
		if (!got) {
			blkfront_req_put(bf, r);
			break;
		}
		err = blkfront_submit(bf, r, BLKIF_OP_WRITE, off + at, (uint32_t)got);
		err = err ? err : blkfront_kick(bf);
		if (err) {
			cli_err(c, "cannot submit a write at %" PRIu64 ": %s", off + at, strerror(-err));
			rc = EXIT_IO;
			break;
		}
		at += (uint64_t)got;
	}
	if (!have_len && !eof && at == limit && in_full(&probe, 1) > 0) {
		cli_err(c, "stdin holds more than the %" PRIu64 " bytes from %" PRIu64 " to the "
			"end of the disk: the rest was not written", limit, off);
		rc = EXIT_IO;
	}
	if (rc == EXIT_GOOD && flush_behind)
		rc = write_flush_behind(c, bf, done, off, at);
	while (blkfront_inflight(bf) && !write_reap(c, bf, done, &rc))
		;
	/* Like fsync: the data is on stable storage before we say so. */
	if (rc == EXIT_GOOD && !flush_behind && (f->flush || f->barrier)) {
		err = blkfront_sync_io(bf, f->flush ? BLKIF_OP_FLUSH_DISKCACHE :
				       BLKIF_OP_WRITE_BARRIER, 0, 0, NULL, c->io_timeout_ms);
		if (err) {
			cli_err(c, "the flush after writing failed: %s", strerror(-err));
			rc = EXIT_IO;
		}
	}
	free(done);
	return rc;
}

/* blkfront read VDEV OFFSET LENGTH */
int cmd_read(struct cli *c, int argc, char **argv)
{
	struct blkfront *bf;
	uint64_t off, len;
	bool have_len;
	int rc = rw_args(c, argc, argv, true, &off, &len, &have_len, NULL);

	if (rc)
		return rc < 0 ? EXIT_GOOD : rc;
	rc = cli_connect(c, &bf);
	if (rc)
		return rc;
	rc = check_range(c, bf, off, len);
	rc = rc ? rc : do_read(c, bf, off, len);
	return cli_disconnect(c, bf, rc);
}

/* blkfront write VDEV OFFSET [LENGTH] [--flush] */
int cmd_write(struct cli *c, int argc, char **argv)
{
	struct blkfront *bf;
	uint64_t off, len;
	bool have_len, flush = false;
	int rc = rw_args(c, argc, argv, false, &off, &len, &have_len, &flush);

	if (rc)
		return rc < 0 ? EXIT_GOOD : rc;
	rc = cli_connect(c, &bf);
	if (rc)
		return rc;
	rc = check_range(c, bf, off, len);
	rc = rc ? rc : do_write(c, bf, off, len, have_len, flush);
	return cli_disconnect(c, bf, rc);
}
