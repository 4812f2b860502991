/*
 * hv-evtchn.c: event channels of the simulated hypervisor. Each bound port has two
 * eventfds: "in" (readable: the port is pending) and "out" (the peer's "in"). A port made
 * by bind_unbound_port gets fresh ones; bind_interdomain crosses them with the remote
 * port's, so each side's "out" stays the same object for the life of the port even when
 * the peer closes and another binds (a stale write then shows as one spurious event, as
 * Xen's own bind-time pending bit does). Checks follow Xen's event_channel.c and the Linux
 * evtchn device (restrict, ENOTCONN for ports of another handle).
 */
#include "hvint.h"
#include "xensim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <xen/xen.h>

/* Make a port pending: one write to an "in" eventfd. */
static void raise_in(int fd)
{
	uint64_t one = 1;

	/* EAGAIN only when the counter is saturated: the port is pending anyway. */
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		sim_log("hv: cannot signal an event channel: %s", strerror(errno));
}

/* The lowest free port of d, or -ENOSPC. */
static int port_alloc(struct hv_dom *d)
{
	for (uint32_t p = 1; p < HV_MAX_PORTS; p++)
		if (d->ports[p].state == PORT_FREE)
			return (int)p;
	return -ENOSPC;
}

/* Reply with port p of d: its number and its two eventfds. */
static void reply_port(struct hv_reply *r, struct hv_dom *d, uint32_t p)
{
	r->h.a = p;
	r->fds[0] = d->ports[p].in;
	r->fds[1] = d->ports[p].out;
	r->h.nfds = 2;
}

/* Close port p of d for real: its interdomain peer becomes unbound, as in Xen. */
static void port_free(struct hv_dom *d, uint32_t p)
{
	struct hv_port *port = &d->ports[p];

	if (port->state == PORT_INTERDOMAIN) {
		struct hv_dom *rd = hv_dom_get(port->remote_dom, d->id);
		struct hv_port *peer = rd ? &rd->ports[port->remote_port] : NULL;

		if (peer && peer->state == PORT_INTERDOMAIN && peer->remote_dom == d->id &&
		    peer->remote_port == p) {
			peer->state = PORT_UNBOUND;
			peer->remote_port = 0;
		}
	}
	if (port->in >= 0)
		close(port->in);
	if (port->out >= 0)
		close(port->out);
	*port = (struct hv_port){ .state = PORT_FREE, .in = -1, .out = -1 };
}

/* The user of port p let go of it; it closes once no unmap notification holds it. */
static void port_close(struct hv_dom *d, uint32_t p)
{
	d->ports[p].owner = NULL;
	if (!d->ports[p].refs)
		port_free(d, p);
}

/* EVTCHNOP_alloc_unbound for remote, bound to the caller's handle. */
int evt_bind_unbound(struct hv_conn *c, uint32_t remote, struct hv_reply *r)
{
	struct hv_dom *d = c->dom;
	struct hv_port *port;
	int p;

	if (c->restrict_dom >= 0)
		return -EACCES;
	if (remote == DOMID_SELF)
		remote = d->id;
	p = port_alloc(d);
	if (p < 0)
		return p;
	port = &d->ports[p];
	port->in = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	port->out = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (port->in < 0 || port->out < 0) {
		int ret = -errno;

		port_free(d, (uint32_t)p);
		return ret;
	}
	port->state = PORT_UNBOUND;
	port->remote_dom = remote;
	port->owner = c;
	reply_port(r, d, (uint32_t)p);
	return 0;
}

/* EVTCHNOP_bind_interdomain to (rdom, rport), bound to the caller's handle. */
int evt_bind_interdomain(struct hv_conn *c, uint32_t rdom, uint32_t rport,
			 struct hv_reply *r)
{
	struct hv_dom *d = c->dom, *rd;
	struct hv_port *port, *peer;
	int p;

	if (c->restrict_dom >= 0 && (uint32_t)c->restrict_dom != rdom)
		return -EACCES;
	rd = hv_dom_get(rdom, d->id);
	if (!rd)
		return -ESRCH;
	if (rport == 0 || rport >= HV_MAX_PORTS)
		return -EINVAL;
	peer = &rd->ports[rport];
	if (peer->state != PORT_UNBOUND || peer->remote_dom != d->id)
		return -EINVAL;
	p = port_alloc(d);
	if (p < 0)
		return p;
	port = &d->ports[p];
	port->in = fcntl(peer->out, F_DUPFD_CLOEXEC, 0);
	port->out = fcntl(peer->in, F_DUPFD_CLOEXEC, 0);
	if (port->in < 0 || port->out < 0) {
		int ret = -errno;

		port_free(d, (uint32_t)p);
		return ret;
	}
	*port = (struct hv_port){ .state = PORT_INTERDOMAIN, .remote_dom = rd->id,
				  .remote_port = rport, .in = port->in, .out = port->out,
				  .owner = c };
	peer->state = PORT_INTERDOMAIN;
	peer->remote_dom = d->id;
	peer->remote_port = (uint32_t)p;
	/* Xen marks the new port pending: events sent to the unbound port are not lost. */
	raise_in(port->in);
	reply_port(r, d, (uint32_t)p);
	return 0;
}

/* EVTCHNOP_close of a port the caller's handle bound. */
int evt_unbind(struct hv_conn *c, uint32_t port)
{
	if (port == 0 || port >= HV_MAX_PORTS || c->dom->ports[port].owner != c)
		return -ENOTCONN;
	port_close(c->dom, port);
	return 0;
}

/* IOCTL_EVTCHN_RESTRICT_DOMID: once, to a guest domain. */
int evt_restrict(struct hv_conn *c, uint32_t domid)
{
	if (c->restrict_dom >= 0)
		return -EACCES;
	if (domid == 0 || domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	c->restrict_dom = (int32_t)domid;
	return 0;
}

/* Close every port bound by c. */
void evt_conn_release(struct hv_conn *c)
{
	for (uint32_t p = 1; p < HV_MAX_PORTS; p++)
		if (c->dom->ports[p].owner == c)
			port_close(c->dom, p);
}

/* Close every port of d, held or not (the domain is destroyed). */
void evt_dom_close(struct hv_dom *d)
{
	for (uint32_t p = 1; p < HV_MAX_PORTS; p++)
		if (d->ports[p].state != PORT_FREE)
			port_free(d, p);
}

/* Hold port of d for an unmap notification (Linux evtchn_get). */
int evt_port_get(struct hv_dom *d, uint32_t port)
{
	if (port == 0 || port >= HV_MAX_PORTS || d->ports[port].state == PORT_FREE ||
	    !d->ports[port].owner)
		return -EINVAL;
	d->ports[port].refs++;
	return 0;
}

/* Send through a held port if notify, then drop the hold (Linux evtchn_put). */
void evt_port_put(struct hv_dom *d, uint32_t port, bool notify)
{
	struct hv_port *p = &d->ports[port];

	if (p->state == PORT_FREE || !p->refs)
		return;
	if (notify && p->state == PORT_INTERDOMAIN)
		raise_in(p->out);
	if (--p->refs == 0 && !p->owner)
		port_free(d, port);
}
