/*
 * xsd-listen.c: the xenstore sockets: one listener per domain, accepting clients, reading
 * and framing their requests (served by xsd-ops.c), closing connections.
 */
#include "xsd.h"
#include "loop.h"
#include "xensim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define HDR sizeof(struct xsd_sockmsg)
#define IN_SIZE (HDR + XENSTORE_PAYLOAD_MAX + 1)

struct listener {
	int fd;
	unsigned int domid;
	unsigned long refused; /* connections over XSD_QUOTA_CONNS */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};
static struct listener *listeners[XENSIM_MAX_DOMID + 1];

/* Close connection c: its watches and transactions go with it. */
void conn_close(struct xsd_conn *c)
{
	for (struct xsd_conn **p = &xsd_conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	sim_dbg("xenstore: dom%u connection from pid %d closed", c->domid, (int)c->peer.pid);
	loop_del(c->fd);
	close(c->fd);
	peer_put(&c->peer);
	watch_del_all(c);
	txn_del_all(c);
	free(c->in);
	free(c->out);
	free(c);
}

/* Serve every complete request in the input buffer of c; false if c was closed. */
static bool conn_parse(struct xsd_conn *c)
{
	size_t off = 0;

	while (c->in_len - off >= HDR && !c->paused) {
		struct xsd_sockmsg h;
		char *payload;

		memcpy(&h, c->in + off, HDR);
		if (h.len > XENSTORE_PAYLOAD_MAX) {
			/* As xenstored: a bad length ends the connection. */
			sim_log("xenstore: dom%u pid %d sent a %u byte payload (max %u); closing it",
				c->domid, (int)c->peer.pid, h.len, XENSTORE_PAYLOAD_MAX);
			conn_close(c);
			return false;
		}
		if (c->in_len - off < HDR + h.len)
			break;
		payload = (char *)c->in + off + HDR;
		/* Requests are consumed before serving: NUL-terminate a private copy. */
		{
			char save = payload[h.len];

			payload[h.len] = 0;
			ops_handle(c, &h, payload);
			payload[h.len] = save;
		}
		off += HDR + h.len;
		if (conn_backlog(c) > XSD_OUT_PAUSE) {
			c->paused = true;
			conn_arm(c);
		}
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return true;
}

/* epoll callback of a client connection. */
static void conn_event(void *arg, uint32_t events)
{
	struct xsd_conn *c = arg;

	if (events & EPOLLOUT) {
		if (conn_flush(c)) {
			conn_close(c);
			return;
		}
		if (c->paused && conn_backlog(c) <= XSD_OUT_PAUSE / 2) {
			c->paused = false;
			/* Requests that waited in the buffer run now. */
			if (!conn_parse(c))
				return;
		}
		conn_arm(c);
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t n;

		if (c->paused && !(events & (EPOLLHUP | EPOLLERR)))
			return;
		n = recv(c->fd, c->in + c->in_len, IN_SIZE - 1 - c->in_len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_close(c);
			return;
		}
		if (n > 0) {
			c->in_len += (size_t)n;
			conn_parse(c);
		}
	}
}

/* Connections of domain domid. */
static unsigned int dom_conns(unsigned int domid)
{
	unsigned int n = 0;

	for (const struct xsd_conn *c = xsd_conns; c; c = c->next)
		n += c->domid == domid;
	return n;
}

/* epoll callback of a domain's listening socket: accept a client of that domain. */
static void listener_event(void *arg, uint32_t events)
{
	struct listener *l = arg;
	struct xsd_conn *c;
	struct sim_domain *d = dom_by_id(l->domid);
	int fd;

	(void)events;
	fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (l->domid != 0 && dom_conns(l->domid) >= XSD_QUOTA_CONNS) {
		/* Logged the first time and then every 1000th: a loop of connects floods no log. */
		if (l->refused++ % 1000 == 0)
			sim_log("xenstore: dom%u: connection refused: a guest may have at most %u "
				"xenstore connections (XSD_QUOTA_CONNS); %lu refused so far",
				l->domid, XSD_QUOTA_CONNS, l->refused);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		peer_get(fd, &c->peer);
	if (!c || !(c->in = malloc(IN_SIZE)))
		goto fail;
	c->fd = fd;
	c->domid = l->domid;
	c->caller = (struct xsd_caller){ .domid = l->domid, .target = d ? d->target : -1 };
	c->armed = EPOLLIN;
	if (loop_add(fd, EPOLLIN, conn_event, c))
		goto fail;
	c->next = xsd_conns;
	xsd_conns = c;
	sim_dbg("xenstore: dom%u connection from pid %d", c->domid, (int)c->peer.pid);
	return;
fail:
	sim_log("xenstore: dom%u: cannot accept a connection: out of memory", l->domid);
	if (c) {
		free(c->in);
		peer_put(&c->peer);
	}
	free(c);
	close(fd);
}

/* Listen on $dir/dom<id>/xenstored for domain id. */
int xsd_listen(unsigned int id)
{
	struct listener *l;
	int ret;

	if (id > XENSIM_MAX_DOMID || listeners[id])
		return -EEXIST;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->domid = id;
	ret = sim_dom_path(l->path, sizeof(l->path), id, "xenstored");
	if (ret)
		goto fail;
	l->fd = sim_listen(l->path, SOCK_STREAM);
	if (l->fd < 0) {
		ret = l->fd;
		goto fail;
	}
	ret = loop_add(l->fd, EPOLLIN, listener_event, l);
	if (ret) {
		close(l->fd);
		unlink(l->path);
		goto fail;
	}
	listeners[id] = l;
	return 0;
fail:
	free(l);
	return ret;
}

/* Stop listening for domain id, close its connections, SIGKILL their processes if kill. */
void xsd_unlisten(unsigned int id, bool kill_clients)
{
	struct listener *l = id <= XENSIM_MAX_DOMID ? listeners[id] : NULL;
	struct xsd_conn *c, *next;

	if (l) {
		loop_del(l->fd);
		close(l->fd);
		unlink(l->path);
		free(l);
		listeners[id] = NULL;
	}
	for (c = xsd_conns; c; c = next) {
		next = c->next;
		if (c->domid != id)
			continue;
		/* A destroyed domain's vCPUs stop: so do the processes acting as it. */
		if (kill_clients)
			peer_kill(&c->peer, "xenstore", id);
		conn_close(c);
	}
}
