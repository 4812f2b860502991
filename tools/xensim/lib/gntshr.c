/*
 * gntshr.c: xensim's drop-in xengntshr_*: pages of this domain's guest memory granted to
 * another domain. One round trip allocates the frames and grant refs in the daemon; the
 * pages are then mapped here from our memfd. As with Linux gntalloc, a grant lasts as long
 * as its page stays mapped: xengntshr_unshare unmaps pages and ends their grants, and so
 * does the death of the process.
 */
#include "gnt.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xengnttab.h>

/* Share count fresh pages with domid, with an optional unmap notification. */
static void *share(xengntshr_handle *h, uint32_t domid, int count, uint32_t *refs,
		   int writable, uint32_t notify_offset, uint32_t notify_port)
{
	struct hv_req q = { .op = HV_SHARE, .count = (uint32_t)count, .a = domid,
			    .b = !!writable,
			    .c = notify_offset < HV_PAGE_SIZE ? notify_offset : HV_NOTIFY_NONE,
			    .d = notify_port };
	struct hv_frame *f = NULL;
	struct gnt_area *a = NULL;
	struct hvc_reply r = { 0 };
	void *addr = NULL;
	int ret;

	if (count <= 0 || (uint32_t)count > HV_MAX_PAGES || !refs)
		return gnt_fail_null(EINVAL);
	f = malloc((size_t)count * sizeof(*f));
	a = calloc(1, sizeof(*a));
	if (!f || !a || !(a->gone = calloc((size_t)count, 1))) {
		ret = -ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&h->lock);
	ret = hvc_call(&h->hv, &q, NULL, 0, (size_t)count * sizeof(struct hv_share), &r);
	gnt_take_memfds(h, &r);
	if (!ret)
		ret = r.h.err;
	if (!ret && r.h.count != (uint32_t)count)
		ret = -EPROTO;
	if (!ret) {
		const struct hv_share *s = r.payload;

		for (int i = 0; i < count; i++)
			f[i] = (struct hv_frame){ h->hv.domid, s[i].frame };
		addr = gnt_place(h, (uint32_t)count, f, PROT_READ | PROT_WRITE);
		if (!addr) {
			struct hv_req u = { .op = HV_UNSHARE, .a = r.h.a, .c = (uint32_t)count };
			struct hvc_reply ur;

			ret = -errno;
			hvc_call(&h->hv, &u, NULL, 0, 0, &ur);
			hvc_reply_free(&ur);
		} else {
			for (int i = 0; i < count; i++)
				refs[i] = s[i].ref;
			a->addr = addr;
			a->count = a->left = (uint32_t)count;
			a->id = r.h.a;
			a->next = h->shares;
			h->shares = a;
			a = NULL;
		}
	}
	pthread_mutex_unlock(&h->lock);
out:
	hvc_reply_free(&r);
	free(f);
	if (a)
		free(a->gone);
	free(a);
	if (ret) {
		hvc_log(h->logger, "xengntshr", -ret, "cannot share %d page(s) with domain %u",
			count, domid);
		return gnt_fail_null(-ret);
	}
	return addr;
}

/* Open a grant sharing handle. */
XENSIM_API xengntshr_handle *xengntshr_open(struct xentoollog_logger *logger,
					    unsigned open_flags)
{
	(void)open_flags;
	return gnt_open(logger, "xengntshr");
}

/* Close it: its shared pages are unmapped and their grants end. */
XENSIM_API int xengntshr_close(xengntshr_handle *xgs)
{
	return gnt_close(xgs);
}

/* The connection's descriptor (not pollable, as with gntalloc). */
XENSIM_API int xengntshr_fd(xengntshr_handle *xgs)
{
	return xgs->hv.fd;
}

/* Allocate and share count pages with domid. */
XENSIM_API void *xengntshr_share_pages(xengntshr_handle *xgs, uint32_t domid, int count,
				       uint32_t *refs, int writable)
{
	return share(xgs, domid, count, refs, writable, HV_NOTIFY_NONE, HV_NOTIFY_NONE);
}

/* Share one page with an unmap notification (byte cleared and/or event sent). */
XENSIM_API void *xengntshr_share_page_notify(xengntshr_handle *xgs, uint32_t domid,
					     uint32_t *ref, int writable,
					     uint32_t notify_offset, evtchn_port_t notify_port)
{
	return share(xgs, domid, 1, ref, writable, notify_offset,
		     notify_port == (evtchn_port_t)-1 ? HV_NOTIFY_NONE : notify_port);
}

/* Unmap count pages from start_address, inside one share, and end their grants. */
XENSIM_API int xengntshr_unshare(xengntshr_handle *xgs, void *start_address, uint32_t count)
{
	char *start = start_address;
	struct hv_req q = { .op = HV_UNSHARE, .c = count };
	struct gnt_area **p, *a;
	struct hvc_reply r;
	int ret;

	pthread_mutex_lock(&xgs->lock);
	for (p = &xgs->shares; (a = *p); p = &a->next)
		if (start >= a->addr && start < a->addr + (size_t)a->count * HV_PAGE_SIZE)
			break;
	if (!a || (uintptr_t)(start - a->addr) % HV_PAGE_SIZE ||
	    count > a->count - (uint32_t)((start - a->addr) / HV_PAGE_SIZE)) {
		pthread_mutex_unlock(&xgs->lock);
		return gnt_fail(EINVAL);
	}
	q.a = a->id;
	q.b = (uint32_t)((start - a->addr) / HV_PAGE_SIZE);
	if (count)
		munmap(start, (size_t)count * HV_PAGE_SIZE);
	for (uint32_t i = q.b; i < q.b + count; i++)
		if (!a->gone[i]) {
			a->gone[i] = 1;
			a->left--;
		}
	ret = hvc_call(&xgs->hv, &q, NULL, 0, 0, &r);
	gnt_take_memfds(xgs, &r);
	if (!ret)
		ret = r.h.err;
	hvc_reply_free(&r);
	if (!a->left) {
		*p = a->next;
		free(a->gone);
		free(a);
	}
	pthread_mutex_unlock(&xgs->lock);
	return ret ? gnt_fail(-ret) : 0;
}
