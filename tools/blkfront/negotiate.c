/*
 * Feature negotiation, all in one place: what the backend offers (read at InitWait and
 * at Connected), what we pick, and the nodes we write, in the order Linux xen-blkfront
 * uses (talk_to_blkback, then blkfront_connect / blkfront_gather_backend_features).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
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
	/* One queue unless asked: then, as Linux, the top-level nodes and no
	 * multi-queue-num-queues. */
	f->nr_queues = bf->opts.queues ? bf->opts.queues : 1;
	if (f->nr_queues > f->max_queues)
		f->nr_queues = f->max_queues;
	if (f->nr_queues > BLKFRONT_MAX_QUEUES)
		f->nr_queues = BLKFRONT_MAX_QUEUES;
	bf_debug("backend offers max-ring-page-order %u, %u queues; using order %u, %u queue(s)",
		 f->max_ring_order, f->max_queues, f->ring_order, f->nr_queues);
}

/* Is name one of the transport nodes a connection writes (ours, or an earlier one's)? */
static bool transport_node(const char *name)
{
	static const char *const exact[] = {
		"ring-ref", "ring-page-order", "num-ring-pages", "event-channel",
		"multi-queue-num-queues",
	};

	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (!strcmp(name, exact[i]))
			return true;
	return !strncmp(name, "ring-ref", 8) || !strncmp(name, "queue-", 6);
}

/*
 * Remove the transport nodes an earlier connection left in our directory: a backend that
 * finds multi-queue-num-queues, ring-page-order or queue-N/ from another layout than ours
 * would read stale grant refs. Done before the publishing transaction, not in it (the
 * backend reads nothing of ours before Initialised): xensim's xenstored cannot commit a
 * transaction that removes a directory and writes a child of it again (EAGAIN forever).
 */
int bf_remove_stale(struct blkfront *bf)
{
	unsigned int n = 0;
	char **names = xs_directory(bf->xs, XBT_NULL, bf->fepath, &n);
	int err = 0;

	for (unsigned int i = 0; names && !err && i < n; i++) {
		char path[256];

		if (!transport_node(names[i]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", bf->fepath, names[i]);
		if (!xs_rm(bf->xs, XBT_NULL, path) && errno != ENOENT)
			err = errno ? -errno : -EIO;
	}
	free(names);
	return err;
}

/* Write one ring's ring-ref(s) and event-channel under dir. */
static int publish_queue(struct blkfront *bf, xs_transaction_t t, const char *dir,
			 const struct bf_queue *q)
{
	int err = 0;

	if (bf->feat.ring_order == 0)
		err = bf_xs_printf(bf, t, dir, "ring-ref", "%u", q->ring_refs[0]);
	for (unsigned int i = 0; bf->feat.ring_order && !err && i < bf->ring_pages; i++) {
		char node[24];

		snprintf(node, sizeof(node), "ring-ref%u", i);
		err = bf_xs_printf(bf, t, dir, node, "%u", q->ring_refs[i]);
	}
	return err ? err : bf_xs_printf(bf, t, dir, "event-channel", "%u", q->port);
}

/*
 * Write ring-ref(s), event-channel, protocol and our features in transaction t: with one
 * queue at the top, with several under queue-N/ beside multi-queue-num-queues (blkif.h;
 * ring-page-order stays at the top either way).
 */
int bf_publish(struct blkfront *bf, xs_transaction_t t)
{
	const struct blkfront_features *f = &bf->feat;
	int err = 0;

	if (f->ring_order)
		err = bf_xs_printf(bf, t, bf->fepath, "ring-page-order", "%u", f->ring_order);
	if (!err && bf->nr_queues == 1)
		err = publish_queue(bf, t, bf->fepath, &bf->queues[0]);
	if (!err && bf->nr_queues > 1)
		err = bf_xs_printf(bf, t, bf->fepath, "multi-queue-num-queues", "%u",
				   bf->nr_queues);
	for (unsigned int i = 0; !err && bf->nr_queues > 1 && i < bf->nr_queues; i++) {
		char dir[160];

		snprintf(dir, sizeof(dir), "%s/queue-%u", bf->fepath, i);
		err = publish_queue(bf, t, dir, &bf->queues[i]);
	}
	err = err ? err : bf_xs_printf(bf, t, bf->fepath, "protocol", "%s",
				       blkfront_abi_name(bf->opts.abi));
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
	/* Read here, as Linux blkfront does: older backends write it only when connecting. */
	f->indirect_segs = bf_pick_indirect(bf->opts.indirect_segs, f->max_indirect);
	f->indirect_always = f->indirect_segs && bf->opts.indirect_always;
	bf_debug("disk: %" PRIu64 " sectors, sector-size %u/%u, info %#x; flush %d barrier %d "
		 "discard %d persistent %d indirect %u (using %u%s)", d->sectors, d->sector_size,
		 d->physical_sector_size, d->info, f->flush, f->barrier, f->discard,
		 f->persistent, f->max_indirect, f->indirect_segs,
		 f->indirect_always ? ", always" : "");
	return 0;
}
