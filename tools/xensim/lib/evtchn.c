/*
 * evtchn.c: xensim's drop-in libxenevtchn. A bound port is two eventfds from the daemon:
 * "in" (pending) and "out" (the peer's "in"). xenevtchn_notify writes "out" directly, no
 * daemon round trip. The handle's fd is an epoll instance over the "in" eventfds with
 * EPOLLONESHOT, which gives the Linux evtchn device's semantics: xenevtchn_fd is readable
 * when a port is pending, xenevtchn_pending returns one port and leaves it masked (the
 * one-shot disarmed), events while masked are latched in the eventfd counter and show up
 * when xenevtchn_unmask re-arms it, and many notifies collapse into one.
 *
 * The epoll set also holds the "out" eventfds and the daemon socket (no events), with the
 * kind and port in the epoll data: /proc/self/fdinfo of the handle fd then describes the
 * whole handle, which is how xenevtchn_fdopen rebuilds it after a self re-exec.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <xenevtchn.h>

enum { KIND_IN, KIND_OUT, KIND_SOCK };
#define TAG(kind, port) (((uint64_t)(kind) << 32) | (port))

struct evt_port {
	int in, out;
};

struct xenevtchn_handle {
	struct hvc hv;
	int epfd;
	pthread_mutex_t lock;
	struct evt_port *ports;
	uint32_t nports;
	struct xensim_dom_counters *cnt;
};

/* Set errno, return -1. */
static int fail(int err)
{
	errno = err;
	return -1;
}

/* Make room for port p in the table. */
static int ports_grow(xenevtchn_handle *h, uint32_t p)
{
	uint32_t n = h->nports ? h->nports : 64;
	struct evt_port *t;

	if (p < h->nports)
		return 0;
	while (n <= p)
		n *= 2;
	t = realloc(h->ports, n * sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (uint32_t i = h->nports; i < n; i++)
		t[i] = (struct evt_port){ -1, -1 };
	h->ports = t;
	h->nports = n;
	return 0;
}

/* Is port bound through this handle? */
static bool bound(xenevtchn_handle *h, uint32_t port)
{
	return port < h->nports && h->ports[port].in >= 0;
}

/* Watch the descriptors of a port; its "in" armed (a new port is unmasked). */
static int watch_port(xenevtchn_handle *h, uint32_t p, int in, int out)
{
	struct epoll_event ein = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = TAG(KIND_IN, p) };
	struct epoll_event eout = { .events = 0, .data.u64 = TAG(KIND_OUT, p) };
	int ret = ports_grow(h, p);

	if (ret)
		return ret;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, in, &ein))
		return -errno;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, out, &eout)) {
		ret = -errno;
		epoll_ctl(h->epfd, EPOLL_CTL_DEL, in, NULL);
		return ret;
	}
	h->ports[p] = (struct evt_port){ in, out };
	return 0;
}

/* Forget a port here (the daemon is told separately). */
static void drop_port(xenevtchn_handle *h, uint32_t p)
{
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->ports[p].in, NULL);
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->ports[p].out, NULL);
	close(h->ports[p].in);
	close(h->ports[p].out);
	h->ports[p] = (struct evt_port){ -1, -1 };
}

/* Free a handle and whatever it holds. */
static void handle_free(xenevtchn_handle *h)
{
	for (uint32_t p = 0; p < h->nports; p++)
		if (bound(h, p)) {
			close(h->ports[p].in);
			close(h->ports[p].out);
		}
	if (h->epfd >= 0)
		close(h->epfd);
	hvc_close(&h->hv);
	pthread_mutex_destroy(&h->lock);
	free(h->ports);
	free(h);
}

/* A new, empty handle. */
static xenevtchn_handle *handle_new(void)
{
	xenevtchn_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->epfd = -1;
	h->hv.fd = -1;
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

/* Open the event channel interface of our domain. */
XENSIM_API xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
					    unsigned int flags)
{
	bool cloexec = !(flags & XENEVTCHN_NO_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLONESHOT, .data.u64 = TAG(KIND_SOCK, 0) };
	xenevtchn_handle *h = handle_new();
	int ret;

	(void)logger;
	if (!h)
		return NULL;
	ret = hvc_open(&h->hv, "xenevtchn", cloexec);
	if (ret)
		goto fail;
	h->epfd = epoll_create1(cloexec ? EPOLL_CLOEXEC : 0);
	if (h->epfd < 0 || epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->hv.fd, &ev)) {
		ret = -errno;
		goto fail;
	}
	h->cnt = hvc_counters(h->hv.domid);
	return h;
fail:
	handle_free(h);
	errno = -ret;
	return NULL;
}

/* Take one "tfd: N events: E data: D" line of an epoll fdinfo into h. */
static int adopt_line(xenevtchn_handle *h, const char *line)
{
	unsigned long long data;
	unsigned int events;
	int fd;

	if (sscanf(line, "tfd: %d events: %x data: %llx", &fd, &events, &data) != 3)
		return 0;
	if (data >> 32 == KIND_SOCK) {
		h->hv.fd = fd;
		return 0;
	}
	if (data >> 32 > KIND_OUT || ports_grow(h, (uint32_t)data))
		return -EINVAL;
	if (data >> 32 == KIND_IN)
		h->ports[(uint32_t)data].in = fd;
	else
		h->ports[(uint32_t)data].out = fd;
	return 0;
}

/* Rebuild a handle from the fd of one opened with XENEVTCHN_NO_CLOEXEC before an exec. */
XENSIM_API xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger, int fd,
					      unsigned open_flags)
{
	struct hv_req q = { .op = HV_HELLO, .a = HV_MAGIC };
	xenevtchn_handle *h;
	struct hvc_reply r;
	char path[64], line[256];
	FILE *f;
	int ret = 0;

	(void)logger;
	if (open_flags & XENEVTCHN_NO_CLOEXEC) {
		errno = EINVAL;
		return NULL;
	}
	h = handle_new();
	if (!h)
		return NULL;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		goto fail;
	}
	while (!ret && fgets(line, sizeof(line), f))
		ret = adopt_line(h, line);
	fclose(f);
	h->hv.cloexec = true;
	if (!ret && h->hv.fd < 0)
		ret = -EINVAL;  /* not a handle fd of this library */
	for (uint32_t p = 0; !ret && p < h->nports; p++)
		if ((h->ports[p].in < 0) != (h->ports[p].out < 0))
			ret = -EINVAL;
	if (!ret) {
		ret = hvc_call(&h->hv, &q, NULL, 0, 0, &r);
		if (!ret)
			ret = r.h.err;
		h->hv.domid = r.h.a;
		hvc_reply_free(&r);
	}
	if (ret) {
		/* Nothing here is ours to close: the descriptors stay the caller's. */
		free(h->ports);
		pthread_mutex_destroy(&h->lock);
		free(h);
		errno = -ret;
		return NULL;
	}
	h->epfd = fd;
	h->cnt = hvc_counters(h->hv.domid);
	return h;
fail:
	handle_free(h);
	errno = -ret;
	return NULL;
}

/* Close the handle: its ports close (the daemon sees the connection go). */
XENSIM_API int xenevtchn_close(xenevtchn_handle *xce)
{
	if (xce)
		handle_free(xce);
	return 0;
}

/* The pollable descriptor: readable when a bound, unmasked port is pending. */
XENSIM_API int xenevtchn_fd(xenevtchn_handle *xce)
{
	return xce->epfd;
}

/* Send an event to the peer of port: one eventfd write, no daemon round trip. */
XENSIM_API int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	static const uint64_t one = 1;
	int ret = 0;

	pthread_mutex_lock(&xce->lock);
	if (!bound(xce, port))
		ret = -ENOTCONN;
	else if (write(xce->ports[port].out, &one, sizeof(one)) < 0 && errno != EAGAIN)
		ret = -errno;
	pthread_mutex_unlock(&xce->lock);
	if (ret)
		return fail(-ret);
	if (xce->cnt)
		__atomic_fetch_add(&xce->cnt->notifies, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Ask the daemon for a port (bind_unbound / bind_interdomain) and watch it. */
static xenevtchn_port_or_error_t bind_port(xenevtchn_handle *h, struct hv_req *q)
{
	struct hvc_reply r;
	int ret;

	pthread_mutex_lock(&h->lock);
	ret = hvc_call(&h->hv, q, NULL, 0, 0, &r);
	if (!ret && r.h.nfds != (r.h.err ? 0u : 2u))
		ret = -EPROTO;
	if (!ret)
		ret = r.h.err;
	if (!ret) {
		ret = watch_port(h, r.h.a, r.fds[0], r.fds[1]);
		if (ret) {
			struct hv_req u = { .op = HV_UNBIND, .a = r.h.a };
			struct hvc_reply ur;

			hvc_call(&h->hv, &u, NULL, 0, 0, &ur);
			hvc_reply_free(&ur);
		}
	}
	if (ret)
		for (uint32_t i = 0; i < r.h.nfds; i++)
			close(r.fds[i]);
	pthread_mutex_unlock(&h->lock);
	hvc_reply_free(&r);
	return ret ? fail(-ret) : (int)r.h.a;
}

/* A new port that domid may bind to. */
XENSIM_API xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *xce,
								 uint32_t domid)
{
	struct hv_req q = { .op = HV_BIND_UNBOUND, .a = domid };

	return bind_port(xce, &q);
}

/* A new port connected to remote_port of domid. */
XENSIM_API xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce,
								uint32_t domid,
								evtchn_port_t remote_port)
{
	struct hv_req q = { .op = HV_BIND_INTERDOMAIN, .a = domid, .b = remote_port };

	return bind_port(xce, &q);
}

/* VIRQs are not simulated. */
XENSIM_API xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce,
							 unsigned int virq)
{
	(void)xce, (void)virq;
	return fail(ENOSYS);
}

/* Close a port this handle bound; its peer becomes unbound. */
XENSIM_API int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	struct hv_req q = { .op = HV_UNBIND, .a = port };
	struct hvc_reply r;
	int ret;

	pthread_mutex_lock(&xce->lock);
	if (!bound(xce, port)) {
		pthread_mutex_unlock(&xce->lock);
		return fail(ENOTCONN);
	}
	drop_port(xce, port);
	ret = hvc_call(&xce->hv, &q, NULL, 0, 0, &r);
	if (!ret)
		ret = r.h.err;
	pthread_mutex_unlock(&xce->lock);
	hvc_reply_free(&r);
	return ret ? fail(-ret) : 0;
}

/* The next pending port, left masked; blocks unless the fd was made non-blocking. */
XENSIM_API xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	for (;;) {
		struct epoll_event ev;
		uint32_t port;
		uint64_t v;
		int n = epoll_wait(xce->epfd, &ev, 1, 0);

		if (n == 0) {
			int fl = fcntl(xce->epfd, F_GETFL);

			if (fl >= 0 && (fl & O_NONBLOCK))
				return fail(EAGAIN);
			n = epoll_wait(xce->epfd, &ev, 1, -1);
		}
		if (n < 0)
			return -1;
		if (n == 0)
			continue;
		if (ev.data.u64 >> 32 == KIND_SOCK)
			return fail(ENOTCONN);  /* the simulator is gone */
		port = (uint32_t)ev.data.u64;
		pthread_mutex_lock(&xce->lock);
		if (bound(xce, port)) {
			/* Clear the pending count: notifies so far collapse into this one. */
			if (read(xce->ports[port].in, &v, sizeof(v)) < 0 && errno != EAGAIN)
				port = UINT32_MAX;
		} else {
			port = UINT32_MAX;  /* unbound meanwhile */
		}
		pthread_mutex_unlock(&xce->lock);
		if (port != UINT32_MAX)
			return (int)port;
	}
}

/* Unmask a port: an event latched meanwhile shows up at once. Unknown ports: no-op. */
XENSIM_API int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	int ret = 0;

	pthread_mutex_lock(&xce->lock);
	if (bound(xce, port)) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT,
					  .data.u64 = TAG(KIND_IN, port) };

		if (epoll_ctl(xce->epfd, EPOLL_CTL_MOD, xce->ports[port].in, &ev))
			ret = -errno;
	}
	pthread_mutex_unlock(&xce->lock);
	return ret ? fail(-ret) : 0;
}

/* Restrict this handle to binding ports of domid only. */
XENSIM_API int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
	struct hv_req q = { .op = HV_RESTRICT, .a = domid };
	struct hvc_reply r;
	int ret;

	pthread_mutex_lock(&xce->lock);
	ret = hvc_call(&xce->hv, &q, NULL, 0, 0, &r);
	if (!ret)
		ret = r.h.err;
	pthread_mutex_unlock(&xce->lock);
	hvc_reply_free(&r);
	return ret ? fail(-ret) : 0;
}
