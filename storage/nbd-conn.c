/* One connection of the nbd engine: sending parts, their callbacks, losing and regaining the server. */
#include <errno.h>
#include <inttypes.h>
#include <libnbd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "../blkback/log.h"
#include "nbd-int.h"

/* Empty a list head. */
static void list_init(struct nbd_part *head)
{
	head->prev = head->next = head;
}

/* Take p off its list. */
static void list_del(struct nbd_part *p)
{
	p->prev->next = p->next;
	p->next->prev = p->prev;
	p->prev = p->next = p;
}

/* Put p at the end of a list. */
static void list_add_tail(struct nbd_part *head, struct nbd_part *p)
{
	p->prev = head->prev;
	p->next = head;
	head->prev->next = p;
	head->prev = p;
}

/* A connection on h, or one that connects from its queue's loop at once (h NULL). */
struct nbd_conn *nbe_conn_new(struct nbd_disk *d, struct nbd_handle *h)
{
	struct nbd_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->d = d;
	pthread_mutex_init(&c->lock, NULL);
	list_init(&c->wait);
	list_init(&c->sent);
	c->h = h;
	c->state = h ? NBD_UP : NBD_WAITING;
	c->was_up = h != NULL;
	c->next_try = nbe_now_ms();
	c->down_since = h ? 0 : c->next_try;	/* the timeout runs from the queue's open */
	c->backoff_ms = NBD_BACKOFF_MIN_MS;
	__atomic_add_fetch(h ? &d->conns_up : &d->conns_down, 1, __ATOMIC_RELAXED);
	return c;
}

/* Close a connection with nothing in flight; NULL is fine. */
void nbe_conn_free(struct nbd_conn *c)
{
	if (!c)
		return;
	__atomic_sub_fetch(c->state == NBD_UP ? &c->d->conns_up : &c->d->conns_down, 1,
			   __ATOMIC_RELAXED);
	nbd_close(c->h);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* A part finished with err (0 or -errno); its request goes to its queue once all are. */
static void part_finish(struct nbd_conn *c, struct nbd_part *p, int err)
{
	struct nbd_req *r = p->req;
	struct nbd_queue *nq = r->nq;

	if (err && !r->err)
		r->err = err;	/* the first error of a split request wins */
	if (--r->left)
		return;
	r->next_done = nq->done;
	nq->done = r;
	/*
	 * Its thread sleeps on its own fds: wake it, once per batch (its reap reads the
	 * eventfd before it takes the whole list, so a list that was not empty is taken
	 * by a reap still to come).
	 */
	if (nq != c->cur && nq->efd >= 0 && !r->next_done)
		eventfd_write(nq->efd, 1);
}

/*
 * Whether an error means the connection went (libnbd retires what a dead handle had with
 * ENOTCONN; a server shutting down answers ESHUTDOWN), not that the server failed it.
 * (A callback may not call libnbd on its handle: this looks at the error only.)
 */
static bool conn_error(int err)
{
	return err == ENOTCONN || err == ESHUTDOWN || err == ECONNRESET || err == EPIPE;
}

/* libnbd's completion callback (under c->lock): done, or back to wait if the server went. */
static int part_cb(void *user_data, int *error)
{
	struct nbd_part *p = user_data;
	struct nbd_conn *c = p->req->nq->conn;

	if (!p->sent)
		return 1;
	p->sent = false;
	list_del(p);
	if (conn_error(*error))
		list_add_tail(&c->wait, p);	/* sent again on the next connection */
	else
		part_finish(c, p, *error ? -*error : 0);
	return 1;
}

/* Queue r's parts, unless the connection is failing. */
bool nbe_conn_add(struct nbd_conn *c, struct nbd_req *r)
{
	if (c->failing)
		return false;
	for (unsigned int i = 0; i < r->nparts; i++) {
		list_init(&r->part[i]);
		list_add_tail(&c->wait, &r->part[i]);
	}
	return true;
}

/* Issue p's NBD command on c's handle; libnbd's cookie or -1. */
static int64_t part_issue(struct nbd_conn *c, struct nbd_part *p)
{
	nbd_completion_callback cb = { .callback = part_cb, .user_data = p };

	switch (p->req->io->op) {
	case STORAGE_READ:
		return nbd_aio_pread(c->h, p->buf, p->len, p->off, cb, 0);
	case STORAGE_WRITE:
		return nbd_aio_pwrite(c->h, p->buf, p->len, p->off, cb, 0);
	case STORAGE_FLUSH:
		return nbd_aio_flush(c->h, cb, 0);
	case STORAGE_DISCARD:
		/* Without NBD_CMD_FLAG_NO_HOLE: the server may free the blocks. */
		return c->d->offer.zero ? nbd_aio_zero(c->h, p->len, p->off, cb, 0) :
					  nbd_aio_trim(c->h, p->len, p->off, cb, 0);
	}
	return -1;
}

/* Send every waiting part, in order, while the connection is up. */
void nbe_conn_send(struct nbd_conn *c, struct nbd_queue *cur)
{
	c->cur = cur;
	while (c->state == NBD_UP && c->wait.next != &c->wait) {
		struct nbd_part *p = c->wait.next;

		list_del(p);
		list_add_tail(&c->sent, p);
		p->sent = true;
		if (part_issue(c, p) >= 0 || !p->sent)
			continue;
		/* Refused at once: back to wait if the connection went, else failed. */
		p->sent = false;
		list_del(p);
		if (nbd_aio_is_dead(c->h) || nbd_aio_is_closed(c->h)) {
			list_add_tail(&c->wait, p);
			break;
		}
		log_err("nbd %s: a %" PRIu32 "-byte command at %" PRIu64 " was refused: %s",
			c->d->uri, p->len, p->off, nbd_get_error());
		part_finish(c, p, nbd_get_errno() ? -nbd_get_errno() : -EIO);
	}
	c->cur = NULL;
}

/* Move what libnbd still had back to wait, at the front, in order. */
static void requeue_sent(struct nbd_conn *c)
{
	while (c->sent.prev != &c->sent) {
		struct nbd_part *p = c->sent.prev;

		list_del(p);
		p->sent = false;
		p->prev = &c->wait;
		p->next = c->wait.next;
		c->wait.next->prev = p;
		c->wait.next = p;
	}
}

/* Drop the handle (the server went, or an attempt failed) and wait out the backoff. */
static void conn_down(struct nbd_conn *c, const char *why, uint64_t now)
{
	if (c->state == NBD_UP) {
		c->down_since = now;
		c->backoff_ms = NBD_BACKOFF_MIN_MS;
		__atomic_sub_fetch(&c->d->conns_up, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&c->d->conns_down, 1, __ATOMIC_RELAXED);
		log_warn("nbd %s: connection lost (%s): reconnecting; I/O waits up to %u s for "
			 "the server", c->d->uri, why, c->d->timeout_ms / 1000);
		c->next_try = now;	/* the first attempt at once */
	} else {
		c->next_try = now + c->backoff_ms;
		c->backoff_ms = c->backoff_ms * 2 > NBD_BACKOFF_MAX_MS ? NBD_BACKOFF_MAX_MS :
			       c->backoff_ms * 2;
	}
	nbd_close(c->h);	/* libnbd may call back the commands it had: they go to wait */
	c->h = NULL;
	requeue_sent(c);
	c->state = NBD_WAITING;
}

/* Whether the new connection offers what the disk was opened with; why in why if not. */
static bool offer_same(const struct nbd_disk *d, const struct nbd_offer *o, char *why, size_t len)
{
	const struct nbd_offer *was = &d->offer;

	if (o->size != was->size)
		snprintf(why, len, "the export is %" PRIu64 " bytes now, was %" PRIu64, o->size,
			 was->size);
	else if ((o->readonly && !was->readonly) || (was->flush && !o->flush) ||
		 (was->zero && !o->zero) || (was->trim && !o->trim) ||
		 (was->multi_conn && !o->multi_conn))
		snprintf(why, len, "the server no longer offers what it did (read-only, flush, "
			 "trim, write-zeroes, multi-conn)");
	else if (o->min_block > was->min_block || o->max_block < d->max_part)
		snprintf(why, len, "the server's block sizes changed");
	else
		return true;
	return false;
}

/* The new handle is connected: serve again if the server is the same, else try again. */
static void conn_ready(struct nbd_conn *c, uint64_t now)
{
	struct nbd_offer o;
	char why[256];
	unsigned int n = 0;

	if (nbe_read_offer(c->h, &o, why, sizeof(why)) || !offer_same(c->d, &o, why, sizeof(why))) {
		log_err("nbd %s: the server answered but will not do: %s; trying again",
			c->d->uri, why);
		conn_down(c, why, now);
		return;
	}
	for (struct nbd_part *p = c->wait.next; p != &c->wait; p = p->next)
		n++;
	c->state = NBD_UP;
	__atomic_sub_fetch(&c->d->conns_down, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&c->d->conns_up, 1, __ATOMIC_RELAXED);
	if (c->was_up) {
		__atomic_add_fetch(&c->d->reconnects, 1, __ATOMIC_RELAXED);
		log_info("nbd %s: reconnected after %" PRIu64 " ms%s; %u command%s sent again",
			 c->d->uri, now - c->down_since, c->failing ? " (its I/O had failed "
			 "meanwhile)" : "", n, n == 1 ? "" : "s");
	}
	c->was_up = true;
	c->failing = false;
	c->down_since = 0;
	c->backoff_ms = NBD_BACKOFF_MIN_MS;
}

/* Start an attempt; if it fails at once, wait out the backoff. */
static void conn_attempt(struct nbd_conn *c, uint64_t now)
{
	char why[512];

	c->h = nbe_start_connect(c->d->uri, why, sizeof(why));
	if (!c->h) {
		c->state = NBD_CONNECTING;	/* conn_down backs off from an attempt */
		conn_down(c, why, now);
		return;
	}
	c->state = NBD_CONNECTING;
	c->attempt_end = now + NBD_ATTEMPT_MS;
}

/* Down for longer than the timeout: fail what waits, and what comes, with EIO. */
static void conn_fail(struct nbd_conn *c)
{
	unsigned int n = 0;

	c->failing = true;
	while (c->wait.next != &c->wait) {
		struct nbd_part *p = c->wait.next;

		list_del(p);
		part_finish(c, p, -EIO);
		n++;
	}
	log_err("nbd %s: no server for %u s: %u waiting command%s failed with EIO, and new I/O "
		"fails until it is back; still trying to reconnect", c->d->uri,
		c->d->timeout_ms / 1000, n, n == 1 ? "" : "s");
}

/*
 * Let libnbd read and write what the socket allows; false if the handle died.
 *
 * libnbd reads one reply per nbd_aio_notify_read on a plain socket (READY waits for
 * the next notification, however much the socket holds), so one notify per wake-up
 * would answer one request per turn of the ring's loop, each with its own push and
 * frontend notification while the server's replies pile up. The replies that are
 * there are read now, up to NBD_DRAIN_MAX, each only after a poll said the socket
 * is readable: a notify_read that finds nothing leaves libnbd 1.14 in REPLY.START,
 * where the next command is queued and never sent, and the handle hangs.
 */
static bool conn_notify(struct nbd_conn *c)
{
	for (unsigned int n = 0; n < NBD_DRAIN_MAX; n++) {
		unsigned int dir = nbd_aio_get_direction(c->h);
		struct pollfd p = { .fd = nbd_aio_get_fd(c->h), .events = POLLIN };
		int r = 0;

		if (p.fd < 0)
			return false;
		if (dir & LIBNBD_AIO_DIRECTION_WRITE)
			p.events |= POLLOUT;
		if (poll(&p, 1, 0) <= 0)
			return true;	/* nothing more, or EINTR: look again next turn */
		/*
		 * Each notify only in the direction libnbd waits for: a connect under way
		 * (which waits to write) may see its socket readable, and libnbd refuses a
		 * read then.
		 */
		if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && (dir & LIBNBD_AIO_DIRECTION_READ))
			r = nbd_aio_notify_read(c->h);
		if (!r && (p.revents & (POLLOUT | POLLHUP | POLLERR)) &&
		    (nbd_aio_get_direction(c->h) & LIBNBD_AIO_DIRECTION_WRITE))
			r = nbd_aio_notify_write(c->h);
		if (r || nbd_aio_is_dead(c->h) || nbd_aio_is_closed(c->h))
			return false;
		/* Connecting: one step per turn, as before (the state is the caller's). */
		if (c->state != NBD_UP || !(p.revents & POLLIN))
			return true;
	}
	return true;
}

/* Replies and sends if connected, the attempt if connecting, the next one if due; the timeout. */
void nbe_conn_step(struct nbd_conn *c, struct nbd_queue *cur)
{
	uint64_t now = nbe_now_ms();

	c->cur = cur;
	if (c->state == NBD_UP || c->state == NBD_CONNECTING) {
		if (!conn_notify(c))
			conn_down(c, nbd_get_error() ? nbd_get_error() : "the server hung up", now);
		else if (c->state == NBD_CONNECTING && nbd_aio_is_ready(c->h))
			conn_ready(c, now);
		else if (c->state == NBD_CONNECTING && now >= c->attempt_end)
			conn_down(c, "no answer", now);
	}
	if (c->state == NBD_WAITING && now >= c->next_try)
		conn_attempt(c, now);
	if (c->state != NBD_UP && !c->failing && now >= c->down_since + c->d->timeout_ms)
		conn_fail(c);
	nbe_conn_send(c, cur);
	c->cur = NULL;
}

/* The socket in libnbd's direction, or the time to the next attempt or to the timeout. */
void nbe_conn_wants(struct nbd_conn *c, struct storage_poll *p)
{
	uint64_t now = nbe_now_ms(), until = UINT64_MAX;

	if (c->state == NBD_UP || c->state == NBD_CONNECTING) {
		unsigned int dir = nbd_aio_get_direction(c->h);

		p->fd = nbd_aio_get_fd(c->h);
		/*
		 * Up, readable always: a server that hangs up is seen at once, even when idle.
		 * Connecting, only what libnbd waits for (readable then means nothing to it).
		 */
		p->events = (c->state == NBD_UP || (dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) |
			    (dir & LIBNBD_AIO_DIRECTION_WRITE ? POLLOUT : 0);
		if (p->fd < 0)
			until = now;	/* dead: reap notices */
		if (c->state == NBD_CONNECTING)
			until = c->attempt_end;
	} else {
		until = c->next_try;
	}
	if (c->state != NBD_UP && !c->failing && c->down_since + c->d->timeout_ms < until)
		until = c->down_since + c->d->timeout_ms;
	if (until != UINT64_MAX)
		p->timeout_ms = until <= now ? 0 : until - now > 60000 ? 60000 : (int)(until - now);
}
