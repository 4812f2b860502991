/* A disk's counters as one line of key=value pairs, for the control socket. */
#include <inttypes.h>
#include <stdio.h>

#include "clock.h"
#include "device-int.h"
#include "ring.h"

/* Tokens for people: a debt (a large request paid for in advance) shows as 0. */
static uint64_t tokens(int64_t t)
{
	return t > 0 ? (uint64_t)t : 0;
}

/* The disk's I/O limits as key=value pairs: in force (0: none), tokens, waits. */
void device_limit_stats(const struct blk_dev *d, FILE *out)
{
	struct iolimit_state st;

	/* Reading takes the limits' lock, which is no part of what the disk is. */
	iolimit_get((struct iolimit *)&d->limit, now_ns(), &st);
	fprintf(out, " iops_limit=%" PRIu64 " iops_burst=%" PRIu64 " iops_tokens=%" PRIu64
		" bps_limit=%" PRIu64 " bps_burst=%" PRIu64 " bps_tokens=%" PRIu64 " throttled=%"
		PRIu64 " throttle_ns=%" PRIu64, st.iops, st.iops_burst, tokens(st.iops_tokens),
		st.bps, st.bps_burst, tokens(st.bps_tokens), st.throttled, st.wait_ns);
}

/* One line of statistics: key=value pairs, for blkbackctl stats. */
void device_stats(const struct blk_dev *d, FILE *out)
{
	struct blk_ring_stats st = { 0 }, q;
	struct storage_link link;
	bool halted = false;

	for (unsigned int i = 0; i < d->nr_rings; i++) {
		blk_ring_get_stats(d->rings[i], &q);
		blk_ring_stats_add(&st, &q);
	}
	blk_ring_stats_add(&st, &d->past);	/* the guest's earlier connections */
	fprintf(out, "disk domid=%u devid=%u engine=%s size=%" PRIu64 " connected=%d queues=%u"
		" grant_mode=%s rd_req=%" PRIu64 " wr_req=%" PRIu64 " f_req=%" PRIu64
		" ds_req=%" PRIu64 " oo_req=%" PRIu64 " err_req=%" PRIu64 " ind_req=%" PRIu64
		" rd_sect=%" PRIu64 " wr_sect=%" PRIu64 " ds_sect=%" PRIu64 " inflight=%" PRIu64
		" notifies=%" PRIu64 " grant_maps=%" PRIu64 " grant_map_calls=%" PRIu64
		" grant_unmaps=%" PRIu64 " persistent_grants=%" PRIu64 " grant_copies=%" PRIu64
		" grant_copy_calls=%" PRIu64 " poll_ns=%" PRIu64 " poll_hits=%" PRIu64
		" wakeups=%" PRIu64,
		d->domid, d->devid, d->disk ? d->disk->ops->name : "-",
		d->disk ? d->size : 0, d->nr_rings > 0, d->nr_rings,
		grant_mode_name(d->mode), st.rd_req, st.wr_req, st.f_req, st.ds_req, st.oo_req,
		st.err_req, st.ind_req, st.rd_sect, st.wr_sect, st.ds_sect, st.inflight,
		st.notifies, st.grants.maps, st.grants.map_calls, st.grants.unmaps,
		st.grants.persistent, st.grants.copies, st.grants.copy_calls, st.poll_ns,
		st.poll_hits, st.wakeups);
	fputs(" segs=", out);
	for (unsigned int b = 0; b < SEG_BUCKETS; b++)
		fprintf(out, "%s%" PRIu64, b ? "," : "", st.segs[b]);
	fputs(" lat_us=", out);
	for (unsigned int b = 0; b < LAT_BUCKETS; b++)
		fprintf(out, "%s%" PRIu64, b ? "," : "", st.lat[b]);
	for (unsigned int i = 0; i < d->nr_rings; i++)	/* a ring stopped on a bad frontend */
		halted |= blk_ring_halted(d->rings[i]);
	/* An engine with a server: whether it is reachable now, and how often it came back. */
	if (d->disk && !storage_link(d->disk, &link))
		fprintf(out, " link=%s reconnects=%" PRIu64, link.down ? "reconnecting" :
			"connected", link.reconnects);
	device_limit_stats(d, out);
	/* What blkbackctl list and stats show beside xenstore's nodes. */
	fprintf(out, " ro=%d abi=%s halted=%d\n", d->readonly,
		d->nr_rings ? blkif_abi_name(blk_ring_abi(d->rings[0])) : "-", halted);
}
