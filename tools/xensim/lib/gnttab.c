/*
 * gnttab.c: xensim's drop-in xengnttab_*: open/close and grant maps. A map is one round
 * trip (the daemon checks every ref as Xen does and names the frames), then the pages of
 * the granting domain's memfd are mapped into one reserved range. As with the Linux gntdev,
 * a refused map is NULL + EINVAL, logged, and maps nothing.
 */
#include "gnt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xengnttab.h>

/* Set errno, return NULL. */
void *gnt_fail_null(int err)
{
	errno = err;
	return NULL;
}

/* Set errno, return -1. */
int gnt_fail(int err)
{
	errno = err;
	return -1;
}

/* Open a handle. */
struct xengntdev_handle *gnt_open(struct xentoollog_logger *logger, const char *what)
{
	struct xengntdev_handle *h = calloc(1, sizeof(*h));
	int ret;

	if (!h)
		return gnt_fail_null(ENOMEM);
	h->logger = logger;
	h->lib = what;
	memset(h->memfd, -1, sizeof(h->memfd));
	pthread_mutex_init(&h->lock, NULL);
	ret = hvc_open(&h->hv, what, true);
	if (ret) {
		pthread_mutex_destroy(&h->lock);
		free(h);
		return gnt_fail_null(-ret);
	}
	return h;
}

/* Close a handle: its mappings go with it (the daemon sees the socket close). */
int gnt_close(struct xengntdev_handle *h)
{
	if (!h)
		return 0;
	for (int b = 0; b < GNT_BUCKETS; b++)
		while (h->maps[b]) {
			struct gnt_area *a = h->maps[b];

			h->maps[b] = a->next;
			munmap(a->addr, (size_t)a->count * HV_PAGE_SIZE);
			free(a);
		}
	while (h->shares) {
		struct gnt_area *a = h->shares;

		h->shares = a->next;
		for (uint32_t i = 0; i < a->count; i++)
			if (!a->gone[i])
				munmap(a->addr + (size_t)i * HV_PAGE_SIZE, HV_PAGE_SIZE);
		free(a->gone);
		free(a);
	}
	for (int d = 0; d <= XENSIM_MAX_DOMID; d++)
		for (int k = 0; k < 2; k++)
			if (h->memfd[d][k] >= 0)
				close(h->memfd[d][k]);
	hvc_close(&h->hv);
	pthread_mutex_destroy(&h->lock);
	free(h);
	return 0;
}

/* Keep the memfd pairs a reply carried. */
void gnt_take_memfds(struct xengntdev_handle *h, struct hvc_reply *r)
{
	uint32_t i;

	for (i = 0; i < r->h.ndoms; i++) {
		uint32_t d = r->doms[i];

		if (d > XENSIM_MAX_DOMID || h->memfd[d][0] >= 0) {
			close(r->fds[2 * i]);
			close(r->fds[2 * i + 1]);
			continue;
		}
		h->memfd[d][0] = r->fds[2 * i];
		h->memfd[d][1] = r->fds[2 * i + 1];
	}
	for (i *= 2; i < r->h.nfds; i++)
		close(r->fds[i]);
	r->h.nfds = 0;
}

/*
 * Map n frames into one reserved range, a run of consecutive frames per mmap. The page
 * tables are filled at once (MAP_POPULATE), as Xen's map hypercall does: otherwise every
 * first touch of a granted page would fault, a cost real Xen does not have (it made 44 KiB
 * reads 4x slower than writes).
 */
void *gnt_place(struct xengntdev_handle *h, uint32_t n, const struct hv_frame *f, int prot)
{
	size_t len = (size_t)n * HV_PAGE_SIZE;
	char *base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	int err;

	if (base == MAP_FAILED)
		return NULL;
	for (uint32_t i = 0, run; i < n; i += run) {
		int fd = f[i].domid <= XENSIM_MAX_DOMID ?
				 h->memfd[f[i].domid][(prot & PROT_WRITE) ? 0 : 1] : -1;

		for (run = 1; i + run < n && f[i + run].domid == f[i].domid &&
			      f[i + run].frame == f[i].frame + run; run++)
			;
		if (fd < 0) {
			err = EPROTO;
			goto fail;
		}
		if (mmap(base + (size_t)i * HV_PAGE_SIZE, (size_t)run * HV_PAGE_SIZE, prot,
			 MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd,
			 (off_t)f[i].frame * HV_PAGE_SIZE) == MAP_FAILED) {
			err = errno;
			goto fail;
		}
	}
	return base;
fail:
	munmap(base, len);
	errno = err;
	return NULL;
}

/* Remember a mapping by address. */
static void area_add(struct xengntdev_handle *h, struct gnt_area *a)
{
	struct gnt_area **b = &h->maps[((uintptr_t)a->addr / HV_PAGE_SIZE) % GNT_BUCKETS];

	a->next = *b;
	*b = a;
}

/* Find (and with take, forget) the mapping that starts at addr. */
static struct gnt_area *area_find(struct xengntdev_handle *h, void *addr, bool take)
{
	struct gnt_area **p = &h->maps[((uintptr_t)addr / HV_PAGE_SIZE) % GNT_BUCKETS];

	for (; *p; p = &(*p)->next)
		if ((*p)->addr == addr) {
			struct gnt_area *a = *p;

			if (take)
				*p = a->next;
			return a;
		}
	return NULL;
}

/* Map count refs (domids[i] or domid for all) with an optional unmap notification. */
static void *map_refs(struct xengntdev_handle *h, uint32_t count, const uint32_t *domids,
		      uint32_t domid, const uint32_t *refs, int prot, uint32_t notify_offset,
		      uint32_t notify_port)
{
	struct hv_req q = { .op = HV_MAP, .count = count, .a = !!(prot & PROT_WRITE),
			    .b = notify_offset < HV_PAGE_SIZE ? notify_offset : HV_NOTIFY_NONE,
			    .c = notify_port };
	struct hv_gref *g;
	struct gnt_area *a = NULL;
	struct hvc_reply r = { 0 };
	void *addr = NULL;
	int ret;

	if (count == 0 || count > HV_MAX_PAGES || !refs)
		return gnt_fail_null(EINVAL);
	g = malloc(count * sizeof(*g));
	a = calloc(1, sizeof(*a));
	if (!g || !a) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < count; i++)
		g[i] = (struct hv_gref){ domids ? domids[i] : domid, refs[i] };
	pthread_mutex_lock(&h->lock);
	ret = hvc_call(&h->hv, &q, g, count * sizeof(*g), count * sizeof(struct hv_frame), &r);
	gnt_take_memfds(h, &r);
	if (!ret)
		ret = r.h.err;
	if (!ret && r.h.count != count)
		ret = -EPROTO;
	if (!ret) {
		addr = gnt_place(h, count, r.payload, prot & (PROT_READ | PROT_WRITE));
		if (!addr) {
			struct hv_req u = { .op = HV_UNMAP, .a = r.h.a };
			struct hvc_reply ur;

			ret = -errno;
			hvc_call(&h->hv, &u, NULL, 0, 0, &ur);
			hvc_reply_free(&ur);
		} else {
			*a = (struct gnt_area){ .addr = addr, .count = count, .id = r.h.a };
			area_add(h, a);
			a = NULL;
		}
	}
	pthread_mutex_unlock(&h->lock);
out:
	hvc_reply_free(&r);
	free(g);
	free(a);
	if (ret) {
		hvc_log(h->logger, "xengnttab", -ret, "cannot map %u grant(s) of domain %u, ref %u%s",
			count, domids ? domids[0] : domid, refs[0], count > 1 ? "..." : "");
		return gnt_fail_null(-ret);
	}
	return addr;
}

/* Open a grant table handle: a connection to our domain's hv socket. */
XENSIM_API xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger,
					    unsigned open_flags)
{
	(void)open_flags;
	return gnt_open(logger, "xengnttab");
}

/* Close it: its mappings are unmapped (the daemon sees the socket close). */
XENSIM_API int xengnttab_close(xengnttab_handle *xgt)
{
	return gnt_close(xgt);
}

/* The connection's descriptor (not pollable, as with gntdev). */
XENSIM_API int xengnttab_fd(xengnttab_handle *xgt)
{
	return xgt->hv.fd;
}

/* Map one grant. */
XENSIM_API void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref,
					 int prot)
{
	return map_refs(xgt, 1, NULL, domid, &ref, prot, HV_NOTIFY_NONE, HV_NOTIFY_NONE);
}

/* Map count grants of several domains into one range. */
XENSIM_API void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count,
					  uint32_t *domids, uint32_t *refs, int prot)
{
	if (!domids)
		return gnt_fail_null(EINVAL);
	return map_refs(xgt, count, domids, 0, refs, prot, HV_NOTIFY_NONE, HV_NOTIFY_NONE);
}

/* Map count grants of one domain into one range. */
XENSIM_API void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count,
						 uint32_t domid, uint32_t *refs, int prot)
{
	return map_refs(xgt, count, NULL, domid, refs, prot, HV_NOTIFY_NONE, HV_NOTIFY_NONE);
}

/* Map one grant with an unmap notification (byte cleared and/or event sent). */
XENSIM_API void *xengnttab_map_grant_ref_notify(xengnttab_handle *xgt, uint32_t domid,
						uint32_t ref, int prot, uint32_t notify_offset,
						evtchn_port_t notify_port)
{
	return map_refs(xgt, 1, NULL, domid, &ref, prot, notify_offset,
			notify_port == (evtchn_port_t)-1 ? HV_NOTIFY_NONE : notify_port);
}

/* Unmap a whole mapping made by one map call; count must match. */
XENSIM_API int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
	struct hv_req q = { .op = HV_UNMAP };
	struct hvc_reply r;
	struct gnt_area *a;
	int ret;

	if (!start_address)
		return gnt_fail(EINVAL);
	pthread_mutex_lock(&xgt->lock);
	a = area_find(xgt, start_address, false);
	if (!a || a->count != count) {
		pthread_mutex_unlock(&xgt->lock);
		return gnt_fail(EINVAL);
	}
	area_find(xgt, start_address, true);
	/* Unmap first: the daemon may free the pages once told. */
	munmap(a->addr, (size_t)a->count * HV_PAGE_SIZE);
	q.a = a->id;
	ret = hvc_call(&xgt->hv, &q, NULL, 0, 0, &r);
	if (!ret)
		ret = r.h.err;
	gnt_take_memfds(xgt, &r);
	pthread_mutex_unlock(&xgt->lock);
	hvc_reply_free(&r);
	free(a);
	return ret ? gnt_fail(-ret) : 0;
}

/* Bound the pages this handle maps at once (maps beyond fail with ENOMEM). */
XENSIM_API int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
	struct hv_req q = { .op = HV_SET_MAX_GRANTS, .a = nr_grants };
	struct hvc_reply r;
	int ret;

	pthread_mutex_lock(&xgt->lock);
	ret = hvc_call(&xgt->hv, &q, NULL, 0, 0, &r);
	gnt_take_memfds(xgt, &r);
	pthread_mutex_unlock(&xgt->lock);
	if (!ret)
		ret = r.h.err;
	hvc_reply_free(&r);
	if (ret)
		hvc_log(xgt->logger, "xengnttab", -ret, "ioctl SET_MAX_GRANTS failed");
	return ret ? gnt_fail(-ret) : 0;
}

/* dma-bufs are not simulated: ENOSYS. */
XENSIM_API int xengnttab_dmabuf_exp_from_refs(xengnttab_handle *xgt, uint32_t domid,
					      uint32_t flags, uint32_t count,
					      const uint32_t *refs, uint32_t *fd)
{
	(void)xgt, (void)domid, (void)flags, (void)count, (void)refs, (void)fd;
	return gnt_fail(ENOSYS);
}

/* ENOSYS. */
XENSIM_API int xengnttab_dmabuf_exp_wait_released(xengnttab_handle *xgt, uint32_t fd,
						  uint32_t wait_to_ms)
{
	(void)xgt, (void)fd, (void)wait_to_ms;
	return gnt_fail(ENOSYS);
}

/* ENOSYS. */
XENSIM_API int xengnttab_dmabuf_imp_to_refs(xengnttab_handle *xgt, uint32_t domid,
					    uint32_t fd, uint32_t count, uint32_t *refs)
{
	(void)xgt, (void)domid, (void)fd, (void)count, (void)refs;
	return gnt_fail(ENOSYS);
}

/* ENOSYS. */
XENSIM_API int xengnttab_dmabuf_imp_release(xengnttab_handle *xgt, uint32_t fd)
{
	(void)xgt, (void)fd;
	return gnt_fail(ENOSYS);
}
