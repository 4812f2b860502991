/*
 * hv-dom.c: the simulated hypervisor's domains: the table, a domain's grant and memory
 * tables, its references, and what the request handlers of hv-gnt.c and hv-evtchn.c share.
 * It calls none of the other hv files: hv.c creates and destroys domains, and serves.
 */
#include "hvint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xen/xen.h>

static struct hv_dom *doms[XENSIM_MAX_DOMID + 1];

/* Put d in the table at domid (NULL: take the domain there out). */
void hv_dom_set(uint32_t domid, struct hv_dom *d)
{
	doms[domid] = d;
}

/* Allocate the grant table and the frame use counts of d. */
int gnt_dom_init(struct hv_dom *d)
{
	d->frame_use = calloc(HV_MEM_FRAMES, sizeof(*d->frame_use));
	d->gnt = calloc(HV_GNT_ENTRIES, sizeof(*d->gnt));
	d->gnt_free = malloc(HV_GNT_ENTRIES * sizeof(*d->gnt_free));
	if (!d->frame_use || !d->gnt || !d->gnt_free)
		return -ENOMEM;
	for (uint32_t ref = HV_GNT_RESERVED; ref < HV_GNT_ENTRIES; ref++)
		d->gnt_free[d->gnt_count++] = ref;
	return 0;
}

/* Free the tables of d; idempotent. */
void gnt_dom_fini(struct hv_dom *d)
{
	free(d->frame_use);
	free(d->gnt);
	free(d->gnt_free);
	d->frame_use = NULL;
	d->gnt = NULL;
	d->gnt_free = NULL;
}

/* The alive domain domid (DOMID_SELF means self), or NULL. */
struct hv_dom *hv_dom_get(uint32_t domid, uint32_t self)
{
	if (domid == DOMID_SELF)
		domid = self;
	return domid <= XENSIM_MAX_DOMID ? doms[domid] : NULL;
}

/* Free a domain's memory and tables. */
static void dom_free(struct hv_dom *d)
{
	gnt_dom_fini(d);
	if (d->memfd >= 0)
		close(d->memfd);
	if (d->memfd_ro >= 0)
		close(d->memfd_ro);
	free(d->ports);
	free(d);
}

/* Drop a reference to d; a destroyed domain goes with its last foreign mapping. */
void hv_dom_put(struct hv_dom *d)
{
	if (--d->refs == 0)
		dom_free(d);
}

/* Attach the memfds of d to the reply unless the connection already has them. */
int hv_reply_memfds(struct hv_conn *c, struct hv_reply *r, struct hv_dom *d)
{
	uint8_t bit = (uint8_t)(1u << (d->id % 8));

	if (c->sent[d->id / 8] & bit)
		return 0;
	for (uint32_t i = 0; i < r->h.ndoms; i++)
		if (r->doms[i] == d->id)
			return 0;
	if (r->h.ndoms == HV_MAX_NEW_DOMS)
		return -E2BIG;
	r->doms[r->h.ndoms++] = d->id;
	r->fds[r->h.nfds++] = d->memfd;
	r->fds[r->h.nfds++] = d->memfd_ro;
	return 0;
}

/* Grow a table of pointers so that index i exists (new slots NULL). */
int hv_table_grow(void ***tab, uint32_t *n, uint32_t i)
{
	uint32_t size = *n ? *n : 16;
	void **t;

	if (i < *n)
		return 0;
	while (size <= i)
		size *= 2;
	t = realloc(*tab, size * sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t + *n, 0, (size - *n) * sizeof(*t));
	*tab = t;
	*n = size;
	return 0;
}
