/*
 * blkfront bench: a fio-like load (read, write, randread, randwrite, randrw) at a fixed
 * queue depth for a fixed time; IOPS, MiB/s, latency percentiles, and in the simulator
 * what the hypervisor charged per request (grant maps, copies, notifications).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bfutil.h"
#include "cli.h"

#define DEFAULT_IODEPTH 32

enum { OPT_RW = 300, OPT_BS, OPT_IODEPTH, OPT_RUNTIME, OPT_SIZE, OPT_MIX, OPT_JSON };
enum bench_rw { RW_READ, RW_WRITE, RW_RANDREAD, RW_RANDWRITE, RW_RANDRW };
static const char *const rw_names[] = { "read", "write", "randread", "randwrite", "randrw" };

struct bench {
	struct cli *c;
	struct blkfront *bf;
	enum bench_rw rw;
	uint64_t bs, iodepth, size, mix;
	unsigned int runtime_ms;
	bool json;
	/* state */
	uint64_t rng, next_off;
	/* results */
	uint64_t requests, reads, writes, errors, bytes;
	double elapsed_s;
	double cpu_us;		/* this process's CPU time (user + system) during the run */
	struct bf_hist hist;
	bool in_sim;
	struct bf_counts before, after;
};

/* The next request's op and offset. */
static uint8_t next_io(struct bench *b, uint64_t *off)
{
	bool rnd = b->rw >= RW_RANDREAD;
	bool read = b->rw == RW_READ || b->rw == RW_RANDREAD ||
		    (b->rw == RW_RANDRW && bf_rand_below(&b->rng, 100) < b->mix);

	if (rnd) {
		*off = bf_rand_below(&b->rng, b->size / b->bs) * b->bs;
	} else {
		if (b->next_off + b->bs > b->size)
			b->next_off = 0;
		*off = b->next_off;
		b->next_off += b->bs;
	}
	return read ? BLKIF_OP_READ : BLKIF_OP_WRITE;
}

/* Keep iodepth requests in flight until the runtime is over, then drain. */
static int run(struct bench *b)
{
	struct blkfront *bf = b->bf;
	unsigned int slots = blkfront_slots(bf);
	struct blkfront_req **done = calloc(slots, sizeof(*done)), *r;
	uint64_t start = bf_now_ns(), end = start + (uint64_t)b->runtime_ms * 1000000u;
	bool stopping = false;
	int rc = EXIT_GOOD, n, err;

	if (!done) {
		cli_err(b->c, "out of memory");
		return EXIT_IO;
	}
	while (!stopping || blkfront_inflight(bf)) {
		while (!stopping && blkfront_inflight(bf) < b->iodepth &&
		       (r = blkfront_req_get(bf))) {
			uint64_t off;
			uint8_t op = next_io(b, &off);

			err = blkfront_submit(bf, r, op, off, (uint32_t)b->bs);
			if (err) {
				cli_err(b->c, "cannot submit at %" PRIu64 ": %s", off, strerror(-err));
				blkfront_req_put(bf, r);
				rc = EXIT_IO;
				goto out;
			}
		}
		err = blkfront_kick(bf);
		n = err ? err : blkfront_reap(bf, done, slots, b->c->io_timeout_ms);
		if (n <= 0) {
			cli_err(b->c, "%s", n == 0 ? "no request completed within the I/O timeout "
				"(--io-timeout)" : n == -ESHUTDOWN ? "the backend closed the disk "
				"(detached from dom0?)" : strerror(-n));
			rc = EXIT_IO;
			goto out;
		}
		for (int i = 0; i < n; i++) {
			r = done[i];
			b->requests++;
			if (r->status != BLKIF_RSP_OKAY) {
				b->errors++;
			} else {
				b->bytes += r->len;
				if (r->op == BLKIF_OP_READ)
					b->reads++;
				else
					b->writes++;
			}
			bf_hist_add(&b->hist, r->complete_ns - r->submit_ns);
			blkfront_req_put(bf, r);
		}
		if (!stopping && bf_now_ns() >= end)
			stopping = true;
	}
	b->elapsed_s = (double)(bf_now_ns() - start) / 1e9;
out:
	free(done);
	return rc;
}

/* A per-request figure from the counters, or -1 outside the simulator. */
static double per_req(const struct bench *b, uint64_t after, uint64_t before)
{
	if (!b->in_sim || !b->requests)
		return -1;
	return (double)(after - before) / (double)b->requests;
}

/* This process's CPU time so far (user + system), in microseconds. */
static double cpu_now_us(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* Print the latency histogram as JSON: sample counts per power of two of nanoseconds. */
static void json_log2_hist(const struct bf_hist *h)
{
	uint64_t log2[64] = { 0 };
	int top = 0;

	for (unsigned int i = 1; i < BF_HIST_BUCKETS; i++) {
		int k;

		if (!h->bucket[i])
			continue;
		k = 63 - __builtin_clzll(bf_hist_bucket_low(i));
		log2[k] += h->bucket[i];
		if (k > top)
			top = k;
	}
	log2[0] += h->bucket[0];
	printf("\"lat_log2_ns\":[");
	for (int k = 0; k <= top; k++)
		printf("%" PRIu64 "%s", log2[k], k < top ? "," : "");
	printf("],");
}

/* Print a per-request figure as JSON: a number, or null. */
static void json_num(const char *key, double v, bool last)
{
	if (v < 0)
		printf("\"%s\":null%s", key, last ? "" : ",");
	else
		printf("\"%s\":%.4f%s", key, v, last ? "" : ",");
}

/* Print the results, as text or as one JSON object. */
static void report(const struct bench *b)
{
	double iops = b->elapsed_s > 0 ? (double)b->requests / b->elapsed_s : 0;
	double mib = b->elapsed_s > 0 ? (double)b->bytes / 1048576.0 / b->elapsed_s : 0;
	double p50 = bf_hist_percentile(&b->hist, 50) / 1000.0;
	double p99 = bf_hist_percentile(&b->hist, 99) / 1000.0;
	double mean = b->hist.count ? (double)b->hist.sum / (double)b->hist.count / 1000.0 : 0;
	double maps = per_req(b, b->after.maps, b->before.maps);
	double copies = per_req(b, b->after.copies, b->before.copies);
	double notif = per_req(b, b->after.notifies, b->before.notifies);
	const struct blkfront_features *f = blkfront_features(b->bf);
	char bs[32];

	bf_fmt_size(b->bs, bs, sizeof(bs));
	if (b->json) {
		printf("{\"rw\":\"%s\",\"bs\":%" PRIu64 ",\"iodepth\":%" PRIu64 ",\"runtime_s\":%.3f,"
		       "\"size\":%" PRIu64 ",\"requests\":%" PRIu64 ",\"reads\":%" PRIu64
		       ",\"writes\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"iops\":%.1f,\"mib_s\":%.2f,"
		       "\"lat_mean_us\":%.2f,\"lat_p50_us\":%.2f,\"lat_p99_us\":%.2f,"
		       "\"lat_max_us\":%.2f,\"queues\":%u,\"indirect_segs\":%u,\"ring_order\":%u,"
		       "\"persistent\":%s,\"slots\":%u,", rw_names[b->rw], b->bs, b->iodepth,
		       b->elapsed_s, b->size, b->requests, b->reads, b->writes, b->errors, iops, mib,
		       mean, p50, p99, (double)b->hist.max / 1000.0, f->nr_queues, f->indirect_segs,
		       f->ring_order, f->use_persistent ? "true" : "false", blkfront_slots(b->bf));
		printf("\"cpu_us\":%.0f,", b->cpu_us);
		json_log2_hist(&b->hist);
		json_num("grant_maps_per_req", maps, false);
		json_num("grant_copies_per_req", copies, false);
		json_num("notify_per_req", notif, true);
		printf("}\n");
		return;
	}
	printf("%s: bs=%s iodepth=%" PRIu64 " runtime=%.2fs size=%" PRIu64 " queues=%u "
	       "indirect-segs=%u\n", rw_names[b->rw], bs, b->iodepth, b->elapsed_s, b->size,
	       f->nr_queues, f->indirect_segs);
	printf("  requests: %" PRIu64 " (%" PRIu64 " read, %" PRIu64 " write, %" PRIu64
	       " errors)\n", b->requests, b->reads, b->writes, b->errors);
	printf("  IOPS: %.0f, bandwidth: %.1f MiB/s\n", iops, mib);
	printf("  latency (us): p50 %.1f, p99 %.1f, mean %.1f, max %.1f\n", p50, p99, mean,
	       (double)b->hist.max / 1000.0);
	if (b->in_sim)
		printf("  per request: grant maps %.2f, grant copies %.2f, notifications %.2f "
		       "(both domains)\n", maps, copies, notif);
	else
		printf("  per request: grant maps, copies, notifications: not in simulator\n");
}

/* Check the options against the disk; EXIT_USAGE with a message if they do not fit. */
static int fit(struct bench *b)
{
	uint32_t ss = blkfront_disk(b->bf)->sector_size;
	uint64_t disk = blkfront_size(b->bf);

	if (!b->size)
		b->size = disk;
	if (b->bs % ss || b->bs > blkfront_max_req_bytes(b->bf)) {
		const struct blkfront_features *f = blkfront_features(b->bf);

		cli_err(b->c, "--bs %" PRIu64 " must be a multiple of the %u-byte sector size and "
			"at most %u bytes (%u pages: %u indirect segments in use, the backend "
			"offers %u; see --indirect-segs)", b->bs, ss, blkfront_max_req_bytes(b->bf),
			blkfront_slot_pages(b->bf), f->indirect_segs, f->max_indirect);
		return EXIT_USAGE;
	}
	if (b->size > disk || b->size < b->bs) {
		cli_err(b->c, "--size %" PRIu64 " must hold one block (%" PRIu64 ") and fit the "
			"disk (%" PRIu64 " bytes)", b->size, b->bs, disk);
		return EXIT_USAGE;
	}
	if (blkfront_disk(b->bf)->readonly && b->rw != RW_READ && b->rw != RW_RANDREAD) {
		cli_err(b->c, "the disk is read-only: use --rw read or randread");
		return EXIT_USAGE;
	}
	/* The default depth quietly fits the slots; one asked for says it does not. */
	if (!b->iodepth)
		b->iodepth = blkfront_slots(b->bf) < DEFAULT_IODEPTH ?
			      blkfront_slots(b->bf) : DEFAULT_IODEPTH;
	if (b->iodepth > blkfront_slots(b->bf)) {
		fprintf(stderr, "blkfront bench: iodepth %" PRIu64 " is more than the %u request "
			"slots: using %u\n", b->iodepth, blkfront_slots(b->bf), blkfront_slots(b->bf));
		b->iodepth = blkfront_slots(b->bf);
	}
	return EXIT_GOOD;
}

/* Snapshot the counters, run, snapshot again, report. */
static int measure(struct bench *b)
{
	struct bf_counters *cnt = NULL;
	unsigned int self = blkfront_domid(b->bf), back = blkfront_backend_id(b->bf);
	char err[512];
	int rc = fit(b);

	if (rc)
		return rc;
	rc = bf_counters_open(&cnt, err, sizeof(err));
	if (rc < 0) {
		cli_err(b->c, "%s", err);
		return EXIT_IO;
	}
	b->in_sim = rc == 1;
	if (cnt)
		bf_counters_read(cnt, self, back, &b->before);
	b->cpu_us = cpu_now_us();
	rc = run(b);
	b->cpu_us = cpu_now_us() - b->cpu_us;
	if (cnt)
		bf_counters_read(cnt, self, back, &b->after);
	bf_counters_close(cnt);
	if (rc)
		return rc;
	report(b);
	return b->errors ? EXIT_IO : EXIT_GOOD;
}

/* Parse bench's own options. */
static int bench_opt(struct bench *b, int opt, const char *arg)
{
	struct cli *c = b->c;

	switch (opt) {
	case OPT_RW:
		for (unsigned int i = 0; i < sizeof(rw_names) / sizeof(rw_names[0]); i++) {
			if (!strcmp(arg, rw_names[i])) {
				b->rw = (enum bench_rw)i;
				return 0;
			}
		}
		cli_err(c, "bad --rw '%s': one of read, write, randread, randwrite, randrw", arg);
		return -EINVAL;
	case OPT_BS: return cli_size(c, "--bs", arg, &b->bs);
	case OPT_IODEPTH: return cli_uint(c, "--iodepth", arg, 1, BLKFRONT_MAX_SLOTS, &b->iodepth);
	case OPT_SIZE: return cli_size(c, "--size", arg, &b->size);
	case OPT_MIX: return cli_uint(c, "--rwmixread", arg, 0, 100, &b->mix);
	case OPT_JSON: b->json = true; return 0;
	case OPT_RUNTIME:
		if (!bf_parse_seconds(arg, 86400, &b->runtime_ms))
			return 0;
		cli_err(c, "bad --runtime '%s': give seconds, more than 0 and at most 86400", arg);
		return -EINVAL;
	default:
		cli_err(c, "see 'blkfront --help'");
		return -EINVAL;
	}
}

/* blkfront bench VDEV [options] */
int cmd_bench(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_OPTIONS,
		{ "rw", required_argument, NULL, OPT_RW },
		{ "bs", required_argument, NULL, OPT_BS },
		{ "iodepth", required_argument, NULL, OPT_IODEPTH },
		{ "runtime", required_argument, NULL, OPT_RUNTIME },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "rwmixread", required_argument, NULL, OPT_MIX },
		{ "json", no_argument, NULL, OPT_JSON },
		{ 0 }
	};
	struct bench *b = calloc(1, sizeof(*b));	/* the histogram is large */
	int opt, rc;

	if (!b) {
		cli_err(c, "out of memory");
		return EXIT_IO;
	}
	*b = (struct bench){ .c = c, .rw = RW_RANDREAD, .bs = 4096, .mix = 50,
			     .runtime_ms = 5000, .rng = 0x62656e6368ULL };
	bf_hist_init(&b->hist);
	rc = EXIT_USAGE;
	while ((opt = getopt_long(argc, argv, "v", lo, NULL)) != -1) {
		int r = cli_common_opt(c, opt, optarg);

		if (r < 0 || (r > 0 && bench_opt(b, opt, optarg)))
			goto out;
	}
	if (c->help) {
		cli_usage(stdout);
		rc = EXIT_GOOD;
		goto out;
	}
	if (argc - optind != 1) {
		cli_err(c, "give the device, e.g. 'blkfront bench xvdb --rw randread --json'");
		goto out;
	}
	if (!b->bs) {
		cli_err(c, "--bs must be more than 0");
		goto out;
	}
	c->opts.vdev = argv[optind];
	rc = cli_connect(c, &b->bf);
	if (rc)
		goto out;
	rc = measure(b);
	fflush(stdout);
	rc = cli_disconnect(c, b->bf, rc);
out:
	free(b);
	return rc;
}
