/*
 * blkfront verify: write a seeded, self-describing pattern in random chunks, read it back
 * in other random chunks, and report every bad 512-byte block by sector and kind.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bfutil.h"
#include "cli.h"

#define DEFAULT_IODEPTH 16

#define MAX_REPORTED 20
#define PLAN_WRITE 0x5772697465ULL	/* mixed into the seed: the write and read chunkings */
#define PLAN_READ 0x52656164ULL		/* differ from each other and between passes */

enum { OPT_SEED = 300, OPT_SIZE, OPT_IODEPTH, OPT_BS_MIN, OPT_BS_MAX, OPT_BS, OPT_MODE,
       OPT_PASSES };

struct verify {
	struct cli *c;
	struct blkfront *bf;
	uint64_t seed, size, passes;
	uint64_t iodepth, bs_min, bs_max;
	bool do_write, do_read;
	/* results */
	uint64_t bad[BF_BLOCK_NCLASSES];
	uint64_t reported, blocks_checked, io_errors;
};

/* Fill a write request's buffer with the pattern of its blocks. */
static void fill(struct blkfront_req *r, uint64_t seed, const struct bf_chunk *p)
{
	for (uint32_t o = 0; o < p->len; o += BF_BLOCK)
		bf_pattern_fill((char *)r->buf + o, seed, (p->offset + o) / BF_BLOCK);
}

/* Check every block a read brought back, reporting the first bad ones. */
static void check(struct verify *v, const struct blkfront_req *r, uint64_t seed)
{
	for (uint32_t o = 0; o < r->len; o += BF_BLOCK) {
		uint64_t sector = (r->offset + o) / BF_BLOCK, fseed = 0, fsector = 0;
		enum bf_block_class k = bf_pattern_check((const char *)r->buf + o, seed, sector,
							 &fseed, &fsector);

		v->blocks_checked++;
		if (k == BF_BLOCK_OK)
			continue;
		v->bad[k]++;
		if (v->reported++ >= MAX_REPORTED)
			continue;
		if (k == BF_BLOCK_WRONG_SEED)
			printf("sector %" PRIu64 ": %s (holds seed %" PRIu64 ", sector %" PRIu64 ")\n",
			       sector, bf_block_class_name(k), fseed, fsector);
		else if (k == BF_BLOCK_MISDIRECTED)
			printf("sector %" PRIu64 ": %s (holds the block of sector %" PRIu64 ")\n",
			       sector, bf_block_class_name(k), fsector);
		else
			printf("sector %" PRIu64 ": %s\n", sector, bf_block_class_name(k));
	}
}

/* One pass over the plan, writing or reading, iodepth requests in flight; EXIT_IO if the
 * connection failed (request errors are counted and the pass goes on). */
static int run_plan(struct verify *v, const struct bf_chunk *plan, size_t count, bool write,
		    uint64_t seed)
{
	struct blkfront *bf = v->bf;
	unsigned int slots = blkfront_slots(bf);
	struct blkfront_req **done = calloc(slots, sizeof(*done)), *r;
	size_t next = 0;
	int rc = EXIT_GOOD, n, err;

	if (!done) {
		cli_err(v->c, "out of memory");
		return EXIT_IO;
	}
	while (next < count || blkfront_inflight(bf)) {
		/* Pieces never overlap, so anything in flight together is independent. */
		while (next < count && blkfront_inflight(bf) < v->iodepth &&
		       (r = blkfront_req_get(bf))) {
			const struct bf_chunk *p = &plan[next++];

			if (write)
				fill(r, seed, p);
			err = blkfront_submit(bf, r, write ? BLKIF_OP_WRITE : BLKIF_OP_READ,
					      p->offset, p->len);
			if (err) {
				cli_err(v->c, "cannot submit %u bytes at %" PRIu64 ": %s", p->len,
					p->offset, strerror(-err));
				blkfront_req_put(bf, r);
				rc = EXIT_IO;
				goto out;
			}
		}
		err = blkfront_kick(bf);
		n = err ? err : blkfront_reap(bf, done, slots, v->c->io_timeout_ms);
		if (n <= 0) {
			cli_err(v->c, "%s", n == 0 ? "no request completed within the I/O timeout "
				"(--io-timeout)" : n == -ESHUTDOWN ? "the backend closed the disk "
				"(detached from dom0?)" : strerror(-n));
			rc = EXIT_IO;
			goto out;
		}
		for (int i = 0; i < n; i++) {
			r = done[i];
			if (r->status != BLKIF_RSP_OKAY) {
				if (v->io_errors++ < MAX_REPORTED)
					printf("%s of %u bytes at sector %" PRIu64 " failed: %s\n",
					       write ? "write" : "read", r->len, r->offset / BF_BLOCK,
					       r->status == BLKIF_RSP_EOPNOTSUPP ? "EOPNOTSUPP" :
					       "I/O error");
			} else if (!write) {
				check(v, r, seed);
			}
			blkfront_req_put(bf, r);
		}
	}
out:
	free(done);
	return rc;
}

/* Make a plan and run it, timing it. */
static int run_phase(struct verify *v, bool write, uint64_t seed, uint64_t pass)
{
	uint32_t align = blkfront_disk(v->bf)->sector_size;
	uint32_t piece = blkfront_max_req_bytes(v->bf) / align * align;
	struct bf_chunk *plan;
	size_t count;
	uint64_t t0;
	double s;
	int rc;

	rc = bf_chunk_plan(v->size, (uint32_t)v->bs_min, (uint32_t)v->bs_max, align, piece,
			   seed ^ (write ? PLAN_WRITE : PLAN_READ) ^ (pass << 32), &plan, &count);
	if (rc) {
		cli_err(v->c, "cannot plan the chunks: %s", strerror(-rc));
		return EXIT_IO;
	}
	t0 = bf_now_ns();
	rc = run_plan(v, plan, count, write, seed);
	s = (double)(bf_now_ns() - t0) / 1e9;
	if (!rc)
		printf("pass %" PRIu64 " %s: seed %" PRIu64 ", %zu requests, %.2f s, %.1f MiB/s\n",
		       pass + 1, write ? "write" : "read ", seed, count, s,
		       s > 0 ? (double)v->size / 1048576.0 / s : 0.0);
	free(plan);
	return rc;
}

/* Check the sizes against the disk; EXIT_USAGE with a message if they do not fit. */
static int fit(struct verify *v)
{
	uint32_t ss = blkfront_disk(v->bf)->sector_size;
	uint64_t disk = blkfront_size(v->bf);

	if (!v->size)
		v->size = disk;
	v->bs_min = (v->bs_min + ss - 1) / ss * ss;
	v->bs_max = (v->bs_max + ss - 1) / ss * ss;
	if (v->size % ss || v->size > disk) {
		cli_err(v->c, "--size %" PRIu64 " must be a multiple of the %u-byte sector size "
			"and at most the disk's %" PRIu64 " bytes", v->size, ss, disk);
		return EXIT_USAGE;
	}
	if (v->bs_min > v->bs_max || v->bs_max > UINT32_MAX) {
		cli_err(v->c, "--bs-min must not exceed --bs-max, which must be below 4G");
		return EXIT_USAGE;
	}
	/* The default depth quietly fits the slots; one asked for says it does not. */
	if (!v->iodepth)
		v->iodepth = blkfront_slots(v->bf) < DEFAULT_IODEPTH ?
			      blkfront_slots(v->bf) : DEFAULT_IODEPTH;
	if (v->iodepth > blkfront_slots(v->bf)) {
		fprintf(stderr, "blkfront verify: iodepth %" PRIu64 " is more than the %u "
			"request slots: using %u\n", v->iodepth, blkfront_slots(v->bf),
			blkfront_slots(v->bf));
		v->iodepth = blkfront_slots(v->bf);
	}
	return EXIT_GOOD;
}

/* One line of what was negotiated, as key=value words for scripts. */
static void print_connection(const struct blkfront *bf)
{
	const struct blkfront_features *f = blkfront_features(bf);

	printf("connected: ring-order=%u queues=%u indirect-segs=%u indirect-always=%s "
	       "persistent=%s slots=%u max-request=%u\n", f->ring_order, f->nr_queues,
	       f->indirect_segs, f->indirect_always ? "yes" : "no",
	       f->use_persistent ? "yes" : "no", blkfront_slots(bf), blkfront_max_req_bytes(bf));
}

/* Every pass, then the summary; the exit code. */
static int run(struct verify *v)
{
	uint64_t total = 0;
	int rc = fit(v);

	if (!rc)
		print_connection(v->bf);
	for (uint64_t p = 0; !rc && p < v->passes; p++) {
		uint64_t seed = v->do_write ? v->seed + p : v->seed;

		if (v->do_write)
			rc = run_phase(v, true, seed, p);
		if (!rc && v->do_read)
			rc = run_phase(v, false, seed, p);
	}
	if (rc)
		return rc;
	for (int k = 1; k < BF_BLOCK_NCLASSES; k++)
		total += v->bad[k];
	if (v->reported > MAX_REPORTED)
		printf("... and %" PRIu64 " more bad blocks\n", v->reported - MAX_REPORTED);
	if (v->io_errors)
		printf("%" PRIu64 " requests failed\n", v->io_errors);
	if (!v->do_read) {
		printf("wrote %" PRIu64 " bytes with seed %" PRIu64 "; check them with "
		       "'blkfront verify %s --mode read --seed %" PRIu64 " --size %" PRIu64 "'\n",
		       v->size, v->seed + v->passes - 1, v->c->opts.vdev, v->seed + v->passes - 1,
		       v->size);
	} else if (total) {
		printf("%" PRIu64 " bad blocks of %" PRIu64 ": never written %" PRIu64
		       ", wrong seed %" PRIu64 ", wrong sector (misdirected) %" PRIu64
		       ", corrupt %" PRIu64 "\n", total, v->blocks_checked,
		       v->bad[BF_BLOCK_NEVER_WRITTEN], v->bad[BF_BLOCK_WRONG_SEED],
		       v->bad[BF_BLOCK_MISDIRECTED], v->bad[BF_BLOCK_CORRUPT]);
	} else if (!v->io_errors) {
		printf("all %" PRIu64 " blocks good\n", v->blocks_checked);
	}
	if (v->io_errors)
		return EXIT_IO;
	return total ? EXIT_MISMATCH : EXIT_GOOD;
}

/* Parse verify's own options. */
static int verify_opt(struct verify *v, int opt, const char *arg)
{
	struct cli *c = v->c;

	switch (opt) {
	case OPT_SEED: return cli_uint(c, "--seed", arg, 0, UINT64_MAX / 2, &v->seed);
	case OPT_SIZE: return cli_size(c, "--size", arg, &v->size);
	case OPT_IODEPTH: return cli_uint(c, "--iodepth", arg, 1, BLKFRONT_MAX_SLOTS, &v->iodepth);
	case OPT_BS_MIN: return cli_size(c, "--bs-min", arg, &v->bs_min);
	case OPT_BS_MAX: return cli_size(c, "--bs-max", arg, &v->bs_max);
	case OPT_BS:
		if (cli_size(c, "--bs", arg, &v->bs_max))
			return -EINVAL;
		v->bs_min = v->bs_max;
		return 0;
	case OPT_PASSES: return cli_uint(c, "--passes", arg, 1, 1000000, &v->passes);
	case OPT_MODE:
		v->do_write = !strcmp(arg, "write") || !strcmp(arg, "both");
		v->do_read = !strcmp(arg, "read") || !strcmp(arg, "both");
		if (v->do_write || v->do_read)
			return 0;
		cli_err(c, "bad --mode '%s': one of write, read, both", arg);
		return -EINVAL;
	default:
		cli_err(c, "see 'blkfront --help'");
		return -EINVAL;
	}
}

/* blkfront verify VDEV [options] */
int cmd_verify(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_OPTIONS,
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "iodepth", required_argument, NULL, OPT_IODEPTH },
		{ "bs-min", required_argument, NULL, OPT_BS_MIN },
		{ "bs-max", required_argument, NULL, OPT_BS_MAX },
		{ "bs", required_argument, NULL, OPT_BS },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "passes", required_argument, NULL, OPT_PASSES },
		{ 0 }
	};
	struct verify v = { .c = c, .seed = 1, .passes = 1, .bs_min = 512,
			    .bs_max = 128 << 10, .do_write = true, .do_read = true };
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "v", lo, NULL)) != -1) {
		rc = cli_common_opt(c, opt, optarg);
		if (rc < 0 || (rc > 0 && verify_opt(&v, opt, optarg)))
			return EXIT_USAGE;
	}
	if (c->help) {
		cli_usage(stdout);
		return EXIT_GOOD;
	}
	if (argc - optind != 1) {
		cli_err(c, "give the device, e.g. 'blkfront verify xvdb --size 16M'");
		return EXIT_USAGE;
	}
	if (!v.bs_min || v.bs_min % BF_BLOCK || v.bs_max % BF_BLOCK) {
		cli_err(c, "--bs-min and --bs-max must be non-zero multiples of 512");
		return EXIT_USAGE;
	}
	c->opts.vdev = argv[optind];
	rc = cli_connect(c, &v.bf);
	if (rc)
		return rc;
	rc = run(&v);
	fflush(stdout);
	return cli_disconnect(c, v.bf, rc);
}
