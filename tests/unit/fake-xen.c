/* An in-process fake of libxengnttab and libxenevtchn; see fake-xen.h. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xengnttab.h>

#include "fake-xen.h"

#define FAKE_PAGE 4096u
/* Live mappings at most: room for a full persistent cache (1056 one-page maps) and more. */
#define FAKE_MAX_REGIONS 2048
#define FAKE_LOCAL_PORT 17

/* One guest page offered to the backend. */
struct fake_grant {
	uint8_t *page;
	bool readonly;
	unsigned int mapped;
	unsigned int map_count, copy_count;	/* ever */
};

/* One live backend mapping. */
struct fake_region {
	bool used;
	bool ring;		/* the real page, not a copy */
	bool writable;
	void *addr;
	uint32_t count;
	uint32_t *refs;
	xengnttab_handle *owner;
};

struct xengntdev_handle {
	int unused;
};

struct xenevtchn_handle {
	int efd;		/* the frontend's kicks arrive here */
	evtchn_port_t bound;	/* 0: none */
	bool masked;
};

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake_grant *grants;
static uint32_t nr_grants;
static struct fake_region regions[FAKE_MAX_REGIONS];
static unsigned int misuse, handles, maps_total;
static xenevtchn_handle *backend_xce;
static int notify_fd = -1;
static uint64_t notifies;
static unsigned int poll_fail_left, poll_failures;	/* fake_poll_fail */
static int poll_fail_err, poll_fail_efd = -1;

/* Start a fresh world with n zeroed guest pages. */
int fake_xen_init(uint32_t n)
{
	grants = calloc(n, sizeof(*grants));
	if (!grants)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		grants[i].page = aligned_alloc(FAKE_PAGE, FAKE_PAGE);
		if (!grants[i].page)
			return -1;
		memset(grants[i].page, 0, FAKE_PAGE);
	}
	nr_grants = n;
	memset(regions, 0, sizeof(regions));
	misuse = 0;
	handles = 0;
	maps_total = 0;
	notifies = 0;
	backend_xce = NULL;
	poll_fail_left = poll_failures = 0;
	notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	poll_fail_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return notify_fd < 0 || poll_fail_efd < 0 ? -1 : 0;
}

/* Tear the world down and count what was left behind. */
unsigned int fake_xen_fini(void)
{
	unsigned int left = handles;

	for (unsigned int i = 0; i < FAKE_MAX_REGIONS; i++) {
		if (!regions[i].used)
			continue;
		left++;
		if (!regions[i].ring)
			munmap(regions[i].addr, (size_t)regions[i].count * FAKE_PAGE);
		free(regions[i].refs);
		regions[i].used = false;
	}
	for (uint32_t i = 0; i < nr_grants; i++)
		free(grants[i].page);
	free(grants);
	grants = NULL;
	nr_grants = 0;
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
	if (poll_fail_efd >= 0)
		close(poll_fail_efd);
	poll_fail_efd = -1;
	return left;
}

/* The guest page behind ref, or NULL. */
uint8_t *fake_grant_page(uint32_t ref)
{
	return ref < nr_grants ? grants[ref].page : NULL;
}

/* Set or clear a grant's read-only flag. */
void fake_grant_set_readonly(uint32_t ref, bool readonly)
{
	pthread_mutex_lock(&fake_lock);
	if (ref < nr_grants)
		grants[ref].readonly = readonly;
	pthread_mutex_unlock(&fake_lock);
}

/* Mappings holding ref right now. */
unsigned int fake_grant_mapped(uint32_t ref)
{
	unsigned int n;

	pthread_mutex_lock(&fake_lock);
	n = ref < nr_grants ? grants[ref].mapped : 0;
	pthread_mutex_unlock(&fake_lock);
	return n;
}

/* Mappings of ref ever made. */
unsigned int fake_grant_map_count(uint32_t ref)
{
	unsigned int n;

	pthread_mutex_lock(&fake_lock);
	n = ref < nr_grants ? grants[ref].map_count : 0;
	pthread_mutex_unlock(&fake_lock);
	return n;
}

/* Grant copy segments that ever named ref. */
unsigned int fake_grant_copy_count(uint32_t ref)
{
	unsigned int n;

	pthread_mutex_lock(&fake_lock);
	n = ref < nr_grants ? grants[ref].copy_count : 0;
	pthread_mutex_unlock(&fake_lock);
	return n;
}

/* Grant pages ever mapped. */
unsigned int fake_maps_total(void)
{
	unsigned int n;

	pthread_mutex_lock(&fake_lock);
	n = maps_total;
	pthread_mutex_unlock(&fake_lock);
	return n;
}

/* Live mappings, the ring's included. */
unsigned int fake_regions_live(void)
{
	unsigned int n = 0;

	pthread_mutex_lock(&fake_lock);
	for (unsigned int i = 0; i < FAKE_MAX_REGIONS; i++)
		n += regions[i].used;
	pthread_mutex_unlock(&fake_lock);
	return n;
}

/* Contract violations seen so far. */
unsigned int fake_misuse(void)
{
	unsigned int n;

	pthread_mutex_lock(&fake_lock);
	n = misuse;
	pthread_mutex_unlock(&fake_lock);
	return n;
}

/* Open handles of both kinds. */
unsigned int fake_handles_open(void)
{
	unsigned int n;

	pthread_mutex_lock(&fake_lock);
	n = handles;
	pthread_mutex_unlock(&fake_lock);
	return n;
}

/* Record a new mapping; the caller holds the lock. NULL if the table is full. */
static struct fake_region *region_add(xengnttab_handle *xgt, void *addr, uint32_t count,
				      const uint32_t *refs, bool writable, bool ring)
{
	for (unsigned int i = 0; i < FAKE_MAX_REGIONS; i++) {
		struct fake_region *rg = &regions[i];

		if (rg->used)
			continue;
		rg->refs = malloc(count * sizeof(*refs));
		if (!rg->refs)
			return NULL;
		memcpy(rg->refs, refs, count * sizeof(*refs));
		rg->used = true;
		rg->ring = ring;
		rg->writable = writable;
		rg->addr = addr;
		rg->count = count;
		rg->owner = xgt;
		for (uint32_t k = 0; k < count; k++) {
			grants[refs[k]].mapped++;
			grants[refs[k]].map_count++;
		}
		maps_total += count;
		return rg;
	}
	return NULL;
}

/* Check that every ref is in the table and grantable with prot; the caller holds the lock. */
static bool refs_ok(uint32_t count, const uint32_t *refs, int prot)
{
	for (uint32_t k = 0; k < count; k++)
		if (refs[k] >= nr_grants || ((prot & PROT_WRITE) && grants[refs[k]].readonly))
			return false;
	return true;
}

/* Fake: a grant-table handle. */
xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger, unsigned open_flags)
{
	xengnttab_handle *xgt = calloc(1, sizeof(*xgt));

	(void)logger;
	(void)open_flags;
	if (!xgt) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&fake_lock);
	handles++;
	pthread_mutex_unlock(&fake_lock);
	return xgt;
}

/* Fake: close a grant-table handle; mappings still live count as misuse. */
int xengnttab_close(xengnttab_handle *xgt)
{
	if (!xgt)
		return 0;
	pthread_mutex_lock(&fake_lock);
	for (unsigned int i = 0; i < FAKE_MAX_REGIONS; i++)
		if (regions[i].used && regions[i].owner == xgt)
			misuse++;
	handles--;
	pthread_mutex_unlock(&fake_lock);
	free(xgt);
	return 0;
}

/* Fake: map one grant as the real guest page (used for the shared ring). */
void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref, int prot)
{
	void *addr = NULL;

	(void)domid;
	pthread_mutex_lock(&fake_lock);
	if (!refs_ok(1, &ref, prot)) {
		errno = EINVAL;
	} else if (!region_add(xgt, grants[ref].page, 1, &ref, false, true)) {
		errno = ENOMEM;
	} else {
		addr = grants[ref].page;
	}
	pthread_mutex_unlock(&fake_lock);
	return addr;
}

/* Fake: map count grants as a fresh contiguous copy, all or nothing. */
void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t domid,
				      uint32_t *refs, int prot)
{
	size_t len = (size_t)count * FAKE_PAGE;
	uint8_t *addr;

	(void)domid;
	if (!count) {
		errno = EINVAL;
		return NULL;
	}
	addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (addr == MAP_FAILED)
		return NULL;
	pthread_mutex_lock(&fake_lock);
	if (!refs_ok(count, refs, prot)) {
		pthread_mutex_unlock(&fake_lock);
		munmap(addr, len);
		errno = EINVAL;
		return NULL;
	}
	for (uint32_t k = 0; k < count; k++)
		memcpy(addr + (size_t)k * FAKE_PAGE, grants[refs[k]].page, FAKE_PAGE);
	if (!region_add(xgt, addr, count, refs, prot & PROT_WRITE, false)) {
		pthread_mutex_unlock(&fake_lock);
		munmap(addr, len);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_unlock(&fake_lock);
	/* A read-only mapping really is read-only: a stray store faults. */
	if (!(prot & PROT_WRITE))
		mprotect(addr, len, PROT_READ);
	return addr;
}

/* Fake: unmap; a writable copy goes back to the guest pages first. */
int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
	struct fake_region *rg = NULL;

	pthread_mutex_lock(&fake_lock);
	for (unsigned int i = 0; i < FAKE_MAX_REGIONS && !rg; i++)
		if (regions[i].used && regions[i].addr == start_address)
			rg = &regions[i];
	if (!rg || rg->count != count || rg->owner != xgt) {
		misuse++;
		pthread_mutex_unlock(&fake_lock);
		errno = EINVAL;
		return -1;
	}
	for (uint32_t k = 0; k < count; k++) {
		if (rg->writable && !rg->ring)
			memcpy(grants[rg->refs[k]].page, (uint8_t *)rg->addr + (size_t)k * FAKE_PAGE,
			       FAKE_PAGE);
		grants[rg->refs[k]].mapped--;
	}
	if (!rg->ring)
		munmap(rg->addr, (size_t)count * FAKE_PAGE);
	free(rg->refs);
	memset(rg, 0, sizeof(*rg));
	pthread_mutex_unlock(&fake_lock);
	return 0;
}

/* Fake: an event-channel handle backed by an eventfd. */
xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned int flags)
{
	xenevtchn_handle *xce = calloc(1, sizeof(*xce));

	(void)logger;
	(void)flags;
	if (!xce) {
		errno = ENOMEM;
		return NULL;
	}
	xce->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (xce->efd < 0) {
		free(xce);
		return NULL;
	}
	pthread_mutex_lock(&fake_lock);
	handles++;
	backend_xce = xce;
	pthread_mutex_unlock(&fake_lock);
	return xce;
}

/* Fake: close an event-channel handle; a port still bound counts as misuse. */
int xenevtchn_close(xenevtchn_handle *xce)
{
	if (!xce)
		return 0;
	pthread_mutex_lock(&fake_lock);
	if (xce->bound)
		misuse++;
	if (backend_xce == xce)
		backend_xce = NULL;
	handles--;
	pthread_mutex_unlock(&fake_lock);
	close(xce->efd);
	free(xce);
	return 0;
}

/* Fake: the fd the backend polls. */
int xenevtchn_fd(xenevtchn_handle *xce)
{
	return xce->efd;
}

/* Fake: the backend notifies the frontend: count it and make notify_fd readable. */
int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	uint64_t one = 1;

	pthread_mutex_lock(&fake_lock);
	if (!xce->bound || port != xce->bound) {
		misuse++;
		pthread_mutex_unlock(&fake_lock);
		errno = EINVAL;
		return -1;
	}
	notifies++;
	pthread_mutex_unlock(&fake_lock);
	return write(notify_fd, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
}

/* Fake: bind to the frontend's port; one binding per handle. */
xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
						     evtchn_port_t remote_port)
{
	(void)domid;
	(void)remote_port;
	pthread_mutex_lock(&fake_lock);
	if (xce->bound) {
		pthread_mutex_unlock(&fake_lock);
		errno = EBUSY;
		return -1;
	}
	xce->bound = FAKE_LOCAL_PORT;
	pthread_mutex_unlock(&fake_lock);
	return FAKE_LOCAL_PORT;
}

/* Fake: unbind the port bound on this handle. */
int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	int rc = 0;

	pthread_mutex_lock(&fake_lock);
	if (!xce->bound || port != xce->bound) {
		misuse++;
		errno = EINVAL;
		rc = -1;
	} else {
		xce->bound = 0;
	}
	pthread_mutex_unlock(&fake_lock);
	return rc;
}

/* Fake: take the pending event off the eventfd and name its port (masked until unmask). */
xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	uint64_t n;

	if (read(xce->efd, &n, sizeof(n)) != sizeof(n))
		return -1;
	pthread_mutex_lock(&fake_lock);
	xce->masked = true;
	pthread_mutex_unlock(&fake_lock);
	return xce->bound;
}

/* Fake: unmask the bound port. */
int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	int rc = 0;

	pthread_mutex_lock(&fake_lock);
	if (!xce->bound || port != xce->bound) {
		misuse++;
		errno = EINVAL;
		rc = -1;
	} else {
		xce->masked = false;
	}
	pthread_mutex_unlock(&fake_lock);
	return rc;
}

/* The frontend signals the backend's event channel. */
int fake_evtchn_kick(void)
{
	uint64_t one = 1;
	int rc = -1;

	pthread_mutex_lock(&fake_lock);
	if (backend_xce && backend_xce->bound)
		rc = write(backend_xce->efd, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
	pthread_mutex_unlock(&fake_lock);
	return rc;
}

/* The fd that polls readable once the backend notified. */
int fake_evtchn_notify_fd(void)
{
	return notify_fd;
}

/* Notifications the backend sent. */
uint64_t fake_evtchn_notifies(void)
{
	uint64_t n;

	pthread_mutex_lock(&fake_lock);
	n = notifies;
	pthread_mutex_unlock(&fake_lock);
	return n;
}

/* A grant copy, checked as Xen checks it: a valid ref, in-page range, write access. */
int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count,
			 xengnttab_grant_copy_segment_t *segs)
{
	(void)xgt;
	pthread_mutex_lock(&fake_lock);
	for (uint32_t i = 0; i < count; i++) {
		xengnttab_grant_copy_segment_t *s = &segs[i];
		bool to_guest = s->flags & GNTCOPY_dest_gref;
		uint32_t ref = to_guest ? s->dest.foreign.ref : s->source.foreign.ref;
		uint16_t off = to_guest ? s->dest.foreign.offset : s->source.foreign.offset;

		if (ref < nr_grants)
			grants[ref].copy_count++;
		if (ref >= nr_grants)
			s->status = GNTST_bad_gntref;
		else if ((uint32_t)off + s->len > FAKE_PAGE)
			s->status = GNTST_bad_copy_arg;
		else if (to_guest && grants[ref].readonly)
			s->status = GNTST_permission_denied;
		else {
			if (to_guest)
				memcpy(grants[ref].page + off, s->source.virt, s->len);
			else
				memcpy(s->dest.virt, grants[ref].page + off, s->len);
			s->status = GNTST_okay;
		}
	}
	pthread_mutex_unlock(&fake_lock);
	return 0;
}

/* Fail the next n polls on the backend's event channel fd with err. */
void fake_poll_fail(unsigned int n, int err)
{
	pthread_mutex_lock(&fake_lock);
	poll_fail_left = n;
	poll_fail_err = err;
	pthread_mutex_unlock(&fake_lock);
}

/* Polls failed so far. */
unsigned int fake_poll_failures(void)
{
	unsigned int n;

	pthread_mutex_lock(&fake_lock);
	n = poll_failures;
	pthread_mutex_unlock(&fake_lock);
	return n;
}

/* Readable after each failed poll. */
int fake_poll_fail_fd(void)
{
	return poll_fail_efd;
}

/* The C library's ppoll, under the override below. */
static int real_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		      const sigset_t *mask)
{
	static int (*fn)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);

	if (!fn)
		*(void **)&fn = dlsym(RTLD_NEXT, "ppoll");
	return fn(fds, n, ts, mask);
}

/*
 * ppoll(2) for the whole test program (the ring's code is linked into it; it waits with
 * ppoll while a request waits for its I/O limit): a poll on the backend's event channel fd
 * fails while fake_poll_fail says so; every other poll, and that one otherwise, is the
 * real one.
 */
int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	bool fail = false;
	uint64_t one = 1;
	int err = 0;

	pthread_mutex_lock(&fake_lock);
	for (nfds_t i = 0; i < n && poll_fail_left && backend_xce; i++)
		fail |= fds[i].fd == backend_xce->efd;
	if (fail) {
		poll_failures++;
		if (poll_fail_left != UINT_MAX)
			poll_fail_left--;
		err = poll_fail_err;
	}
	pthread_mutex_unlock(&fake_lock);
	if (fail) {
		if (write(poll_fail_efd, &one, sizeof(one)) != sizeof(one))
			abort();
		errno = err;
		return -1;
	}
	return real_ppoll(fds, n, ts, mask);
}

/* poll(2), the same way. */
int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	struct timespec ts = { timeout / 1000, (long)(timeout % 1000) * 1000000 };

	return ppoll(fds, n, timeout < 0 ? NULL : &ts, NULL);
}
