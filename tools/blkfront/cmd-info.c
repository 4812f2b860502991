/* blkfront info: connect, describe the disk and what was negotiated, disconnect. */
#include <inttypes.h>

#include "bfutil.h"
#include "cli.h"

/* Print the disk and the negotiated features. */
static void print_info(const struct blkfront *bf, const char *vdev)
{
	const struct blkfront_disk *d = blkfront_disk(bf);
	const struct blkfront_features *f = blkfront_features(bf);
	char size[32];

	bf_fmt_size(blkfront_size(bf), size, sizeof(size));
	printf("vdev: %s (%u), domain %u\n", vdev, blkfront_devid(bf), blkfront_domid(bf));
	printf("backend: %s (domain %u)\n", blkfront_backend_path(bf), blkfront_backend_id(bf));
	printf("size: %" PRIu64 " bytes (%s), %" PRIu64 " 512-byte sectors\n",
	       blkfront_size(bf), size, d->sectors);
	printf("sector-size: %u\nphysical-sector-size: %u\n", d->sector_size,
	       d->physical_sector_size);
	printf("read-only: %s\n", d->readonly ? "yes" : "no");
	printf("flush-cache: %s\nbarrier: %s\n", f->flush ? "yes" : "no",
	       f->barrier ? "yes" : "no");
	if (f->discard)
		printf("discard: yes (granularity %u, alignment %u, secure %s)\n",
		       f->discard_granularity, f->discard_alignment,
		       f->discard_secure ? "yes" : "no");
	else
		printf("discard: no\n");
	printf("protocol: %s\n", blkfront_abi_name(blkfront_abi(bf)));
	printf("persistent: backend %s, in use %s\n", f->persistent ? "yes" : "no",
	       f->use_persistent ? "yes" : "no");
	printf("indirect-segments: backend %u, in use %u%s\n", f->max_indirect, f->indirect_segs,
	       f->indirect_always ? " (always)" : "");
	printf("ring: order %u (backend max %u), %u requests; queues %u (backend max %u)\n",
	       f->ring_order, f->max_ring_order, RING_SIZE(blkfront_ring((struct blkfront *)bf)),
	       f->nr_queues, f->max_queues);
	printf("slots: %u (max request %u bytes)\n", blkfront_slots(bf), blkfront_max_req_bytes(bf));
}

/* blkfront info VDEV */
int cmd_info(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = { CLI_COMMON_OPTIONS, { 0 } };
	struct blkfront *bf;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "v", lo, NULL)) != -1) {
		rc = cli_common_opt(c, opt, optarg);
		if (rc) {
			if (rc > 0)
				cli_err(c, "see 'blkfront --help'");
			return EXIT_USAGE;
		}
	}
	if (c->help) {
		cli_usage(stdout);
		return EXIT_GOOD;
	}
	if (argc - optind != 1) {
		cli_err(c, "give the device, e.g. 'blkfront info xvdb'");
		return EXIT_USAGE;
	}
	c->opts.vdev = argv[optind];
	rc = cli_connect(c, &bf);
	if (rc)
		return rc;
	print_info(bf, c->opts.vdev);
	fflush(stdout);
	return cli_disconnect(c, bf, EXIT_GOOD);
}
