/*
 * Feature negotiation, all in one place: what the backend offers (read at InitWait and
 * at Connected), what we pick, and the nodes we write, in the order Linux xen-blkfront
 * uses (talk_to_blkback, then blkfront_connect / blkfront_gather_backend_features).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <xen/io/protocols.h>

#include "internal.h"

/* A backend feature flag: "1" is true, absent or anything else false. */
static bool be_flag(struct blkfront *bf, const char *node)
{
	uint64_t v;

	return !bf_xs_uint(bf, XBT_NULL, bf->bepath, node, 1, &v) && v == 1;
}

/* A backend number, def when absent or malformed. */
static uint64_t be_num(struct blkfront *bf, const char *node, uint64_t max, uint64_t def)
{
	uint64_t v;

	return bf_xs_uint(bf, XBT_NULL, bf->bepath, node, max, &v) ? def : v;
}

/* Read what the backend offers at InitWait, and pick ring size and queues. */
void bf_negotiate_initwait(struct blkfront *bf)
{
	struct blkfront_features *f = &bf->feat;
	unsigned int want = bf->opts.max_ring_order < 0 ? BLKFRONT_MAX_RING_ORDER :
			    (unsigned int)bf->opts.max_ring_order;

	f->max_ring_order = (unsigned int)be_num(bf, "max-ring-page-order", 32, 0);
	f->max_queues = (unsigned int)be_num(bf, "multi-queue-max-queues", UINT32_MAX, 1);
	if (!f->max_queues)
		f->max_queues = 1;
	f->ring_order = f->max_ring_order < want ? f->max_ring_order : want;
	if (f->ring_order > BLKFRONT_MAX_RING_ORDER)
		f->ring_order = BLKFRONT_MAX_RING_ORDER;
	/* One queue: this frontend runs one ring; multi-queue-num-queues stays unwritten. */
	f->nr_queues = 1;
	bf_debug("backend offers max-ring-page-order %u, %u queues; using order %u, 1 queue",
		 f->max_ring_order, f->max_queues, f->ring_order);
}

/* Write ring-ref(s), event-channel, protocol and our features in transaction t. */
int bf_publish(struct blkfront *bf, xs_transaction_t t)
{
	const struct blkfront_features *f = &bf->feat;
	int err = 0;

	if (f->ring_order == 0) {
		err = bf_xs_printf(bf, t, bf->fepath, "ring-ref", "%u", bf->ring_refs[0]);
	} else {
		err = bf_xs_printf(bf, t, bf->fepath, "ring-page-order", "%u", f->ring_order);
		for (unsigned int i = 0; !err && i < bf->ring_pages; i++) {
			char node[24];

			snprintf(node, sizeof(node), "ring-ref%u", i);
			err = bf_xs_printf(bf, t, bf->fepath, node, "%u", bf->ring_refs[i]);
		}
	}
	err = err ? err : bf_xs_printf(bf, t, bf->fepath, "event-channel", "%u", bf->port);
	err = err ? err : bf_xs_printf(bf, t, bf->fepath, "protocol", "%s",
				       XEN_IO_PROTO_ABI_NATIVE);
	/*
	 * Our data pool is shared once and its grants reused for every request, so a backend
	 * may keep them mapped: that is what feature-persistent promises.
	 */
	err = err ? err : bf_xs_printf(bf, t, bf->fepath, "feature-persistent", "%d",
				       !bf->opts.no_persistent);
	return err;
}

/* Is v a power of two in [512, 64k]? */
static bool good_sector_size(uint64_t v)
{
	return v >= 512 && v <= 65536 && !(v & (v - 1));
}

/* Read the disk and the backend's features once it is Connected, and pick. */
int bf_negotiate_connected(struct blkfront *bf, char *err, size_t errlen)
{
	struct blkfront_features *f = &bf->feat;
	struct blkfront_disk *d = &bf->disk;
	uint64_t v;

	if (bf_xs_uint(bf, XBT_NULL, bf->bepath, "sectors", UINT64_MAX / 512, &v) || !v) {
		bf_errf(err, errlen, "backend %s is Connected without a valid 'sectors' node",
			bf->bepath);
		return -EPROTO;
	}
	d->sectors = v;
	d->info = (uint32_t)be_num(bf, "info", UINT32_MAX, 0);
	d->readonly = d->info & VDISK_READONLY;
	v = be_num(bf, "sector-size", UINT32_MAX, 512);
	if (!good_sector_size(v)) {
		bf_errf(err, errlen, "backend %s offers sector-size %" PRIu64 ", not a power of "
			"two from 512 to 65536", bf->bepath, v);
		return -EPROTO;
	}
	d->sector_size = (uint32_t)v;
	v = be_num(bf, "physical-sector-size", UINT32_MAX, d->sector_size);
	d->physical_sector_size = good_sector_size(v) ? (uint32_t)v : d->sector_size;
	if (d->sectors % (d->sector_size / BLKFRONT_SECTOR)) {
		bf_errf(err, errlen, "backend %s: %" PRIu64 " sectors is not a whole number of "
			"%u-byte sectors", bf->bepath, d->sectors, d->sector_size);
		return -EPROTO;
	}

	f->flush = be_flag(bf, "feature-flush-cache");
	f->barrier = be_flag(bf, "feature-barrier");
	f->discard = be_flag(bf, "feature-discard");
	if (f->discard) {
		f->discard_granularity = (uint32_t)be_num(bf, "discard-granularity", UINT32_MAX,
							  d->sector_size);
		f->discard_alignment = (uint32_t)be_num(bf, "discard-alignment", UINT32_MAX, 0);
		f->discard_secure = be_flag(bf, "discard-secure");
	}
	f->persistent = be_flag(bf, "feature-persistent");
	f->max_indirect = (unsigned int)be_num(bf, "feature-max-indirect-segments",
					       UINT32_MAX, 0);
	f->use_persistent = f->persistent && !bf->opts.no_persistent;
	/* Indirect descriptors are not sent yet: every request is direct (11 segments). */
	f->indirect_segs = 0;
	bf_debug("disk: %" PRIu64 " sectors, sector-size %u/%u, info %#x; flush %d barrier %d "
		 "discard %d persistent %d indirect %u", d->sectors, d->sector_size,
		 d->physical_sector_size, d->info, f->flush, f->barrier, f->discard,
		 f->persistent, f->max_indirect);
	return 0;
}
