/*
 * hv-gnt.c: guest memory and grant tables of the simulated hypervisor. Guest memory is a
 * sparse memfd per domain; a frame is allocated while it is granted or mapped (frame_use
 * counts the grant and every mapping) and punched out when both are gone. Maps and copies
 * apply Xen's checks (grant_table.c): ref in range (GNTST_bad_gntref), in use and granted
 * to the caller's domain, not written through a read-only grant (GNTST_general_error),
 * granting domain alive (GNTST_bad_domain).
 */
#include "hvint.h"
#include "xensim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xen/grant_table.h>

/* Take a free frame of d (next fit); -ENOMEM when guest memory is full. */
static int frame_alloc(struct hv_dom *d, uint32_t *frame)
{
	for (uint32_t n = 0; n < HV_MEM_FRAMES; n++) {
		uint32_t f = (d->frame_cursor + n) % HV_MEM_FRAMES;

		if (!d->frame_use[f]) {
			d->frame_use[f] = 1;
			d->frame_cursor = (f + 1) % HV_MEM_FRAMES;
			*frame = f;
			return 0;
		}
	}
	return -ENOMEM;
}

/* Drop one use of a frame; the page goes back to the host when unused. */
void gnt_frame_put(struct hv_dom *d, uint32_t frame)
{
	if (--d->frame_use[frame])
		return;
	if (fallocate(d->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)frame * HV_PAGE_SIZE, HV_PAGE_SIZE))
		sim_log("hv: dom%u: cannot free frame %u: %s", d->id, frame, strerror(errno));
}

/* End a grant: the ref goes to the back of the free queue. */
static void ref_free(struct hv_dom *d, uint32_t ref)
{
	d->gnt[ref].in_use = false;
	d->gnt_free[(d->gnt_head + d->gnt_count++) % HV_GNT_ENTRIES] = ref;
	gnt_frame_put(d, d->gnt[ref].frame);
}

/* Revoke every grant of d (destroy): mapped pages live on until unmapped. */
void gnt_dom_revoke(struct hv_dom *d)
{
	for (uint32_t ref = 0; ref < HV_GNT_ENTRIES; ref++)
		if (d->gnt[ref].in_use)
			ref_free(d, ref);
}

/* The GNTST_* status of accessing ref of domid from domain self. */
static int16_t check_grant(uint32_t self, uint32_t domid, uint32_t ref, bool write,
			   struct hv_dom **out)
{
	struct hv_dom *rd = hv_dom_get(domid, self);
	struct hv_gnt *g;

	if (!rd)
		return GNTST_bad_domain;
	if (ref >= HV_GNT_ENTRIES)
		return GNTST_bad_gntref;
	g = &rd->gnt[ref];
	if (!g->in_use || g->grantee != self)
		return GNTST_general_error;
	if (write && g->readonly)
		return GNTST_general_error;
	*out = rd;
	return GNTST_okay;
}

/* Zero one byte of a frame (UNMAP_NOTIFY_CLEAR_BYTE). */
static void clear_byte(struct hv_dom *d, uint32_t frame, uint32_t offset)
{
	static const char zero;

	if (pwrite(d->memfd, &zero, 1, (off_t)frame * HV_PAGE_SIZE + offset) != 1)
		sim_log("hv: dom%u: cannot clear the unmap-notify byte: %s", d->id,
			strerror(errno));
}

/* Find a free slot in a table of pointers; its index or -ENOMEM. */
static int64_t slot(void ***tab, uint32_t *n)
{
	uint32_t i;

	for (i = 0; i < *n && (*tab)[i]; i++)
		;
	if (hv_table_grow(tab, n, i))
		return -ENOMEM;
	return i;
}

/* Map count grants into the caller (HV_MAP): all or nothing. */
int gnt_map(struct hv_conn *c, const struct hv_req *q, const void *pl, struct hv_reply *r)
{
	const struct hv_gref *g = pl;
	const bool write = q->a, clear = q->b != HV_NOTIFY_NONE, send = q->c != HV_NOTIFY_NONE;
	struct hv_frame *out = NULL;
	struct hv_map *m = NULL;
	uint32_t bad = 0, self = c->dom->id;
	int16_t first = GNTST_okay;
	int64_t id;
	int ret;

	__atomic_fetch_add(&c->dom->cnt->map_calls, 1, __ATOMIC_RELAXED);
	if ((clear && (!write || q->b >= HV_PAGE_SIZE)) || (send && evt_port_get(c->dom, q->c)))
		return -EINVAL;
	ret = -ENOMEM;
	if (q->count > c->max_grants - c->mapped)
		goto fail;
	m = calloc(1, sizeof(*m));
	out = malloc(q->count * sizeof(*out));
	if (!m || !out || !(m->pages = malloc(q->count * sizeof(*m->pages))))
		goto fail;
	for (uint32_t i = 0; i < q->count; i++) {
		struct hv_dom *rd = NULL;
		int16_t st = check_grant(self, g[i].domid, g[i].ref, write, &rd);

		if (st != GNTST_okay) {
			if (!bad++)
				first = st;
			continue;
		}
		m->pages[i] = (struct hv_page){ rd, rd->gnt[g[i].ref].frame };
		out[i] = (struct hv_frame){ rd->id, m->pages[i].frame };
		ret = hv_reply_memfds(c, r, rd);
		if (ret)
			goto fail;
	}
	ret = -EINVAL;
	if (bad) {
		__atomic_fetch_add(&c->dom->cnt->map_errors, bad, __ATOMIC_RELAXED);
		sim_dbg("hv: dom%u pid %d: map of %u pages refused: %u bad, first GNTST %d",
			self, (int)c->peer.pid, q->count, bad, first);
		goto fail;
	}
	id = slot((void ***)&c->maps, &c->nmaps);
	if (id < 0) {
		ret = (int)id;
		goto fail;
	}
	for (uint32_t i = 0; i < q->count; i++) {
		m->pages[i].dom->frame_use[m->pages[i].frame]++;
		m->pages[i].dom->refs++;
	}
	m->count = q->count;
	m->notify = (struct hv_notify){ clear ? q->b : HV_NOTIFY_NONE,
					send ? q->c : HV_NOTIFY_NONE };
	c->maps[id] = m;
	c->mapped += q->count;
	__atomic_fetch_add(&c->dom->cnt->maps, q->count, __ATOMIC_RELAXED);
	r->h.a = (uint32_t)id;
	r->h.count = q->count;
	r->payload = out;
	r->size = q->count * sizeof(*out);
	return 0;
fail:
	if (send)
		evt_port_put(c->dom, q->c, false);
	if (m)
		free(m->pages);
	free(m);
	free(out);
	return ret;
}

/* Unmap mapping id of c, running its unmap notification if notify. */
int gnt_unmap(struct hv_conn *c, uint32_t id, bool notify)
{
	struct hv_map *m = id < c->nmaps ? c->maps[id] : NULL;

	if (!m)
		return -EINVAL;
	if (notify && m->notify.offset != HV_NOTIFY_NONE)
		clear_byte(m->pages[0].dom, m->pages[0].frame, m->notify.offset);
	if (m->notify.port != HV_NOTIFY_NONE)
		evt_port_put(c->dom, m->notify.port, notify);
	for (uint32_t i = 0; i < m->count; i++) {
		struct hv_dom *rd = m->pages[i].dom;

		gnt_frame_put(rd, m->pages[i].frame);
		hv_dom_put(rd);
	}
	__atomic_fetch_add(&c->dom->cnt->unmaps, m->count, __ATOMIC_RELAXED);
	c->mapped -= m->count;
	c->maps[id] = NULL;
	free(m->pages);
	free(m);
	return 0;
}

/* Grant count fresh pages of the caller's memory to a domain (HV_SHARE). */
int gnt_share(struct hv_conn *c, const struct hv_req *q, struct hv_reply *r)
{
	struct hv_dom *d = c->dom;
	const bool clear = q->c != HV_NOTIFY_NONE, send = q->d != HV_NOTIFY_NONE;
	struct hv_share *out = NULL;
	struct hv_shr *s = NULL;
	uint32_t done = 0;
	int64_t id;
	int ret = -EINVAL;

	if ((clear || send) && q->count != 1)
		return -EINVAL;
	if (clear && q->c >= HV_PAGE_SIZE)
		return -EINVAL;
	if (send && evt_port_get(d, q->d))
		return -EINVAL;
	ret = -ENOSPC;
	if (q->count > d->gnt_count)
		goto fail;
	ret = -ENOMEM;
	s = calloc(1, sizeof(*s));
	out = malloc(q->count * sizeof(*out));
	if (!s || !out || !(s->refs = malloc(q->count * sizeof(*s->refs))))
		goto fail;
	id = slot((void ***)&c->shrs, &c->nshrs);
	if (id < 0)
		goto fail;
	ret = hv_reply_memfds(c, r, d);
	if (ret)
		goto fail;
	for (; done < q->count; done++) {
		uint32_t frame, ref;

		ret = frame_alloc(d, &frame);
		if (ret)
			goto fail;
		ref = d->gnt_free[d->gnt_head];
		d->gnt_head = (d->gnt_head + 1) % HV_GNT_ENTRIES;
		d->gnt_count--;
		d->gnt[ref] = (struct hv_gnt){ .frame = frame, .grantee = (uint16_t)q->a,
					       .in_use = true, .readonly = !q->b };
		s->refs[done] = ref;
		out[done] = (struct hv_share){ ref, frame };
	}
	s->count = s->left = q->count;
	s->grantee = q->a;
	s->notify = (struct hv_notify){ clear ? q->c : HV_NOTIFY_NONE,
					send ? q->d : HV_NOTIFY_NONE };
	c->shrs[id] = s;
	__atomic_fetch_add(&d->cnt->shares, q->count, __ATOMIC_RELAXED);
	r->h.a = (uint32_t)id;
	r->h.count = q->count;
	r->payload = out;
	r->size = q->count * sizeof(*out);
	return 0;
fail:
	while (done--)
		ref_free(d, s->refs[done]);
	if (send)
		evt_port_put(d, q->d, false);
	if (s)
		free(s->refs);
	free(s);
	free(out);
	return ret;
}

/* End the grants of pages [first, first + count) of share id of c. */
int gnt_unshare(struct hv_conn *c, uint32_t id, uint32_t first, uint32_t count, bool notify)
{
	struct hv_shr *s = id < c->nshrs ? c->shrs[id] : NULL;
	struct hv_dom *d = c->dom;

	if (!s || first > s->count || count > s->count - first)
		return -EINVAL;
	for (uint32_t i = first; i < first + count; i++) {
		uint32_t ref = s->refs[i];

		if (ref == UINT32_MAX)
			continue;
		/* As gntalloc: clear the byte, send the event, then end the grant. */
		if (i == 0 && notify && s->notify.offset != HV_NOTIFY_NONE)
			clear_byte(d, d->gnt[ref].frame, s->notify.offset);
		if (i == 0 && s->notify.port != HV_NOTIFY_NONE)
			evt_port_put(d, s->notify.port, notify);
		ref_free(d, ref);
		s->refs[i] = UINT32_MAX;
		s->left--;
		__atomic_fetch_add(&d->cnt->unshares, 1, __ATOMIC_RELAXED);
	}
	if (!s->left) {
		c->shrs[id] = NULL;
		free(s->refs);
		free(s);
	}
	return 0;
}

/* Check the grant sides of a grant copy (HV_COPY); the library moves the bytes. Bit 1 of
 * write marks the second side of the same segment. */
int gnt_copy(struct hv_conn *c, const struct hv_req *q, const void *pl, struct hv_reply *r)
{
	const struct hv_copy *s = pl;
	struct hv_copied *out = malloc(q->count * sizeof(*out));
	uint32_t segs = 0, bad = 0;
	bool seg_bad = false;
	int ret;

	if (!out)
		return -ENOMEM;
	if (!q->a)
		__atomic_fetch_add(&c->dom->cnt->copy_calls, 1, __ATOMIC_RELAXED);
	for (uint32_t i = 0; i < q->count; i++) {
		struct hv_dom *rd = NULL;
		int16_t st = GNTST_general_error;

		if (!(s[i].write & 2)) {
			segs++;
			seg_bad = false;
		}
		if ((uint32_t)s[i].offset + s[i].len <= HV_PAGE_SIZE)
			st = check_grant(c->dom->id, s[i].domid, s[i].ref, s[i].write & 1, &rd);
		out[i] = (struct hv_copied){ .status = st };
		if (st == GNTST_okay) {
			out[i].domid = rd->id;
			out[i].frame = rd->gnt[s[i].ref].frame;
			ret = hv_reply_memfds(c, r, rd);
			if (ret) {
				free(out);
				return ret;
			}
		} else if (!seg_bad) {
			seg_bad = true;
			bad++;
		}
	}
	__atomic_fetch_add(&c->dom->cnt->copies, segs - bad, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->dom->cnt->map_errors, bad, __ATOMIC_RELAXED);
	r->h.count = q->count;
	r->payload = out;
	r->size = q->count * sizeof(*out);
	return 0;
}
