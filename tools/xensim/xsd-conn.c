/* xsd-conn.c: the xenstore client connections: the list, what each holds, its output queue. */
#include "xsd.h"
#include "loop.h"
#include "xensim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define HDR sizeof(struct xsd_sockmsg)

struct xsd_conn *xsd_conns;

/* Bytes queued for c and not yet written. */
size_t conn_backlog(const struct xsd_conn *c)
{
	return c->out_len - c->out_off;
}

/* What the connections of domain domid hold. */
void conn_dom_usage(unsigned int domid, unsigned int *ntxn, unsigned int *nwatch)
{
	*ntxn = *nwatch = 0;
	for (const struct xsd_conn *c = xsd_conns; c; c = c->next)
		if (c->domid == domid) {
			*ntxn += c->ntxn;
			*nwatch += c->nwatch;
		}
}

/* Set the epoll events of c from its state. A paused connection keeps EPOLLOUT even with
 * nothing queued: wherever its queue drains (conn_send too), the next EPOLLOUT unpauses it
 * from the loop, where serving the requests it held back is safe. */
void conn_arm(struct xsd_conn *c)
{
	uint32_t ev = (c->paused ? 0 : EPOLLIN) |
		      (c->paused || conn_backlog(c) ? EPOLLOUT : 0);

	if (ev != c->armed && !loop_mod(c->fd, ev))
		c->armed = ev;
}

/* Write what the socket takes; 0, or -errno when the client is gone. */
int conn_flush(struct xsd_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -errno;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	return 0;
}

/* Queue a message on c and try to send it at once. */
void conn_send(struct xsd_conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
	       const void *a, size_t alen, const void *b, size_t blen)
{
	struct xsd_sockmsg h = { .type = type, .req_id = req_id, .tx_id = tx_id,
				 .len = (uint32_t)(alen + blen) };
	size_t need = HDR + alen + blen;

	if (c->out_off && c->out_len + need > c->out_cap) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *o;

		while (cap < c->out_len + need)
			cap *= 2;
		o = realloc(c->out, cap);
		if (!o) {
			sim_log("xenstore: dom%u: out of memory, reply lost", c->domid);
			return;
		}
		c->out = o;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, &h, HDR);
	if (alen)
		memcpy(c->out + c->out_len + HDR, a, alen);
	if (blen)
		memcpy(c->out + c->out_len + HDR + alen, b, blen);
	c->out_len += need;
	/* A dead peer is noticed by its own read callback (EPOLLHUP). */
	conn_flush(c);
	conn_arm(c);
}

