/* The nbd engine: a disk on an NBD server, through libnbd's asynchronous API on the ring's loop. */
#include <errno.h>
#include <inttypes.h>
#include <libnbd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../blkback/log.h"
#include "nbd-int.h"
#include "storage.h"

/*
 * Each connection (struct nbd_conn) is one libnbd handle and the state around it:
 * up, connecting (an nbd_aio_connect_uri under way, driven by the socket's
 * direction), or waiting out a backoff before the next attempt. Requests are cut
 * into parts (the server's largest block), each part an NBD command with a
 * completion callback; the callback only moves the part (done, or back to the wait
 * list when the connection died under it), and the queue's reap then calls done
 * for the requests whose parts are all back, outside libnbd.
 *
 * Where the server says it can serve several connections consistently
 * (can_multi_conn), each queue has a connection of its own and no other thread
 * touches it. Where it does not, a flush on one connection need not cover writes
 * made on another, so all queues of the disk share one connection: the libnbd
 * handle is thread-safe, every call on it runs under the connection's lock, a
 * completion that lands on another queue's thread goes onto its owner's list and
 * rings the owner's eventfd, and each such queue polls an epoll holding the socket
 * (with its direction) and that eventfd.
 *
 * Losing the server is a state: the parts in flight come back (libnbd fails them
 * with ENOTCONN when the handle dies) onto the wait list with the new ones, and are
 * sent again once a new handle is connected and offers what the disk was opened
 * with. Only when no connection has come back within the reconnect timeout do the
 * waiting requests fail with EIO; new ones then fail at once, while the attempts go
 * on (every BACKOFF_MAX_MS) so that the disk serves again once the server is back.
 */

/* Milliseconds on the monotonic clock. */
uint64_t nbe_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Read what the server offers on a connected handle into o; -errno with a message in err. */
int nbe_read_offer(struct nbd_handle *h, struct nbd_offer *o, char *err, size_t errlen)
{
	int64_t size = nbd_get_size(h), min, pref, max;

	memset(o, 0, sizeof(*o));
	min = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
	pref = nbd_get_block_size(h, LIBNBD_SIZE_PREFERRED);
	max = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
	if (size < 0 || min < 0 || pref < 0 || max < 0) {
		snprintf(err, errlen, "cannot read what the server offers: %s", nbd_get_error());
		return -EIO;
	}
	o->size = (uint64_t)size;
	o->readonly = nbd_is_read_only(h) == 1;
	o->flush = nbd_can_flush(h) == 1;
	o->trim = nbd_can_trim(h) == 1;
	o->zero = nbd_can_zero(h) == 1;
	o->multi_conn = nbd_can_multi_conn(h) == 1;
	/* Without block sizes, 512-byte I/O and the 32 MiB the NBD protocol lets a client assume. */
	o->min_block = min > 512 ? (uint32_t)min : 512;
	o->pref_block = pref > o->min_block ? (uint32_t)pref : o->min_block;
	o->max_block = max ? (uint32_t)(max < (1 << 30) ? max : (1 << 30)) : 32u << 20;
	if (o->min_block > 4096 || (o->min_block & (o->min_block - 1))) {
		snprintf(err, errlen, "the server's minimum block size is %u bytes: a Xen disk's "
			 "sector is a power of two from 512 to 4096 bytes", o->min_block);
		return -EINVAL;
	}
	if (o->max_block < o->min_block || o->max_block < 4096) {
		snprintf(err, errlen, "the server's maximum block size is %u bytes: too small for "
			 "a guest's page of I/O", o->max_block);
		return -EINVAL;
	}
	if (!o->size || o->size % o->min_block) {
		snprintf(err, errlen, "the export's size, %" PRIu64 " bytes, is not a non-zero "
			 "multiple of its %u-byte block", o->size, o->min_block);
		return -EINVAL;
	}
	return 0;
}

/* Make a handle set up for uri (TLS files named in it allowed) and start connecting it. */
struct nbd_handle *nbe_start_connect(const char *uri, char *err, size_t errlen)
{
	struct nbd_handle *h = nbd_create();

	if (!h) {
		snprintf(err, errlen, "cannot create a libnbd handle: %s", nbd_get_error());
		return NULL;
	}
	/*
	 * The spec is the operator's: tls-psk-file= and tls-certificates= may name files.
	 * Simple replies: libnbd reads a structured read reply in four recv calls (the
	 * simple header's 16 bytes, 4 more, the 8-byte offset, the data) and a simple one
	 * in two, the half of the daemon's system calls per read that make bench showed
	 * (docs/performance.md). The engine uses nothing structured replies bring (block
	 * status, DF); a server then sends a hole it would have skipped as zeroes.
	 */
	if (nbd_set_uri_allow_local_file(h, true) || nbd_set_request_structured_replies(h, false) ||
	    nbd_aio_connect_uri(h, uri)) {
		snprintf(err, errlen, "%s", nbd_get_error());
		nbd_close(h);
		return NULL;
	}
	return h;
}

/* Connect to uri, waiting at most timeout_ms; the handle, or NULL with why in err. */
static struct nbd_handle *connect_wait(const char *uri, unsigned int timeout_ms, char *err,
				       size_t errlen)
{
	uint64_t deadline = nbe_now_ms() + timeout_ms;
	struct nbd_handle *h = nbe_start_connect(uri, err, errlen);

	while (h && !nbd_aio_is_ready(h)) {
		unsigned int dir = nbd_aio_get_direction(h);
		struct pollfd p = { .fd = nbd_aio_get_fd(h) };
		uint64_t now = nbe_now_ms();
		int r = 0;

		p.events = (dir & LIBNBD_AIO_DIRECTION_READ ? POLLIN : 0) |
			   (dir & LIBNBD_AIO_DIRECTION_WRITE ? POLLOUT : 0);
		if (nbd_aio_is_dead(h) || nbd_aio_is_closed(h) || p.fd < 0) {
			snprintf(err, errlen, "%s", nbd_get_error());
			goto fail;
		}
		if (now >= deadline) {
			snprintf(err, errlen, "no answer in %u s (raise timeout= if the server is "
				 "slow to answer)", timeout_ms / 1000);
			goto fail;
		}
		if (poll(&p, 1, (int)(deadline - now)) < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			goto fail;
		}
		/* Each notify only in the direction libnbd waits for (see nbd-conn.c). */
		if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && (dir & LIBNBD_AIO_DIRECTION_READ))
			r = nbd_aio_notify_read(h);
		if (!r && (p.revents & (POLLOUT | POLLHUP | POLLERR)) &&
		    (nbd_aio_get_direction(h) & LIBNBD_AIO_DIRECTION_WRITE))
			r = nbd_aio_notify_write(h);
		if (r) {
			snprintf(err, errlen, "%s", nbd_get_error());
			goto fail;
		}
	}
	return h;
fail:
	nbd_close(h);
	return NULL;
}

/*
 * What to add to a failed connect's message where TLS is the matter: how to give it, and
 * what to check when libnbd reports a wrong key as a broken handshake.
 */
static const char *tls_hint(const char *uri, const char *why)
{
	if (strncmp(uri, "nbds", 4) && strstr(why, "requires TLS"))
		return " (give an nbds:// URI with tls-psk-file= or tls-certificates=)";
	if (!strncmp(uri, "nbds", 4) && strstr(why, "gnutls"))
		return " (the TLS handshake failed: check the key in tls-psk-file= and the user "
		       "name before the @, or the certificates in tls-certificates=)";
	return "";
}

/* Turn what the server offers into the disk's size and caps (see docs/reference.md). */
static void offer_caps(struct storage *disk, const struct nbd_offer *o)
{
	struct storage_caps *c = &disk->caps;

	disk->size = o->size;
	c->sector_size = o->min_block;
	c->physical_sector_size = o->pref_block <= 65536 && !(o->pref_block & (o->pref_block - 1)) ?
				  o->pref_block : o->min_block;
	c->flush = o->flush;
	/*
	 * A discard goes as NBD_CMD_WRITE_ZEROES without NO_HOLE where the server has it
	 * (it may free the blocks, and they read back as zeroes), else as NBD_CMD_TRIM,
	 * which a server may ignore: then no zeroes are promised. Never secure.
	 */
	c->discard = o->zero || o->trim;
	c->discard_zeroes = o->zero;
	c->secure_discard = false;
	c->discard_granularity = c->physical_sector_size;
	c->discard_alignment = 0;
}

/* Open an NBD disk on uri; see storage.h. */
int storage_nbd_open_uri(struct storage *disk, const char *uri, bool readonly,
			 unsigned int timeout_s, char *err, size_t errlen)
{
	struct nbd_disk *d = calloc(1, sizeof(*d));
	char why[512] = "";
	int ret = -ENOMEM;

	if (!d)
		return -ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	d->timeout_ms = (timeout_s ? timeout_s : STORAGE_NBD_TIMEOUT_S) * 1000u;
	d->uri = strdup(uri);
	if (!d->uri)
		goto fail;
	d->h0 = connect_wait(uri, d->timeout_ms, why, sizeof(why));
	if (!d->h0) {
		snprintf(err, errlen, "cannot connect to the NBD server at %s: %s%s", uri, why,
			 tls_hint(uri, why));
		ret = -EIO;
		goto fail;
	}
	ret = nbe_read_offer(d->h0, &d->offer, why, sizeof(why));
	if (ret) {
		snprintf(err, errlen, "NBD server at %s: %s", uri, why);
		goto fail;
	}
	disk->readonly = readonly || d->offer.readonly;
	offer_caps(disk, &d->offer);
	d->max_part = d->offer.max_block / disk->caps.sector_size * disk->caps.sector_size;
	if (!d->offer.multi_conn) {
		d->shared = nbe_conn_new(d, d->h0);
		if (!d->shared)
			goto fail;
		d->h0 = NULL;
	}
	disk->priv = d;
	return 0;
fail:
	nbd_close(d->h0);
	free(d->uri);
	pthread_mutex_destroy(&d->lock);
	free(d);
	return ret;
}

/* storage_ops.open: the spec's URI and timeout. */
static int nbe_open(struct storage *disk, const struct storage_spec *spec, char *err,
		    size_t errlen)
{
	return storage_nbd_open_uri(disk, spec->uri, spec->readonly, spec->timeout_s, err, errlen);
}

/* Close the disk: every queue was closed. */
static void nbe_disk_close(struct storage *disk)
{
	struct nbd_disk *d = disk->priv;

	nbe_conn_free(d->shared);
	nbd_close(d->h0);
	free(d->uri);
	pthread_mutex_destroy(&d->lock);
	free(d);
	disk->priv = NULL;
}

/* Close q's eventfd and epoll (shared connection only); idempotent. */
static void queue_fds_close(struct nbd_queue *nq)
{
	if (nq->epfd >= 0)
		close(nq->epfd);
	if (nq->efd >= 0)
		close(nq->efd);
	nq->epfd = nq->efd = -1;
}

/*
 * A queue: on a shared connection with the fds its thread polls; else on a connection
 * of its own, the one open made if no other queue has it, or a new one that connects
 * from the queue's own loop (open never blocks for the server).
 */
static int nbe_queue_open(struct storage *disk, struct storage_queue *q)
{
	struct nbd_disk *d = disk->priv;
	struct nbd_queue *nq = calloc(1, sizeof(*nq));
	struct epoll_event ev = { .events = EPOLLIN };
	int ret = -ENOMEM;

	if (!nq)
		return -ENOMEM;
	nq->d = d;
	nq->efd = nq->epfd = nq->sock = -1;
	if (d->shared) {
		nq->conn = d->shared;
		nq->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		nq->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (nq->efd < 0 || nq->epfd < 0 || epoll_ctl(nq->epfd, EPOLL_CTL_ADD, nq->efd, &ev)) {
			ret = -errno;
			goto fail;
		}
	} else {
		struct nbd_handle *h;

		pthread_mutex_lock(&d->lock);
		h = d->h0;
		d->h0 = NULL;
		pthread_mutex_unlock(&d->lock);
		nq->conn = nbe_conn_new(d, h);
		if (!nq->conn) {
			nbd_close(h);
			goto fail;
		}
	}
	q->priv = nq;
	return 0;
fail:
	queue_fds_close(nq);
	free(nq);
	return ret;
}

/* Close a queue with nothing in flight. */
static void nbe_queue_close(struct storage_queue *q)
{
	struct nbd_queue *nq = q->priv;

	if (nq->conn != nq->d->shared)
		nbe_conn_free(nq->conn);
	queue_fds_close(nq);
	free(nq);
	q->priv = NULL;
}

/* Cut io into parts of at most the server's largest block (a bounce buffer for several iovecs). */
static struct nbd_req *req_new(struct nbd_queue *nq, struct storage_io *io)
{
	const struct nbd_disk *d = nq->d;
	bool data = io->op == STORAGE_READ || io->op == STORAGE_WRITE;
	uint64_t max = data ? d->max_part : NBD_MAX_RANGE, n = io->len ? (io->len + max - 1) / max : 1;
	struct nbd_req *r = calloc(1, sizeof(*r) + n * sizeof(r->part[0]));
	char *buf = NULL;

	if (!r)
		return NULL;
	if (data && io->iovcnt == 1) {
		buf = io->iov[0].iov_base;
	} else if (data) {
		r->bounce = malloc(io->len);
		if (!r->bounce) {
			free(r);
			return NULL;
		}
		buf = r->bounce;
		size_t off = 0;

		for (int i = 0; io->op == STORAGE_WRITE && i < io->iovcnt; i++) {
			memcpy(buf + off, io->iov[i].iov_base, io->iov[i].iov_len);
			off += io->iov[i].iov_len;
		}
	}
	r->io = io;
	r->nq = nq;
	r->nparts = r->left = (unsigned int)n;
	for (uint64_t i = 0; i < n; i++) {
		struct nbd_part *p = &r->part[i];

		p->req = r;
		p->off = io->offset + i * max;
		p->len = (uint32_t)(io->len - i * max < max ? io->len - i * max : max);
		p->buf = buf ? buf + i * max : NULL;
	}
	return r;
}

/* Call done for a finished request: copy a bounced read back, free it. */
static void req_finish(struct nbd_req *r)
{
	struct storage_io *io = r->io;
	int64_t result = r->err ? r->err : io->op == STORAGE_FLUSH ? 0 : (int64_t)io->len;
	size_t off = 0;

	if (!r->err && io->op == STORAGE_READ && r->bounce)
		for (int i = 0; i < io->iovcnt; i++) {
			memcpy(io->iov[i].iov_base, r->bounce + off, io->iov[i].iov_len);
			off += io->iov[i].iov_len;
		}
	free(r->bounce);
	free(r);
	io->done(io, result);
}

/* Run the done callbacks of q's finished requests, outside every lock. */
static void run_done(struct nbd_queue *nq)
{
	struct nbd_req *list;

	pthread_mutex_lock(&nq->conn->lock);
	list = nq->done;
	nq->done = NULL;
	pthread_mutex_unlock(&nq->conn->lock);
	/* The list is newest first: put it back in order. */
	for (struct nbd_req *prev = NULL, *r = list, *next; r; r = next) {
		next = r->next_done;
		r->next_done = prev;
		prev = r;
		list = r;
	}
	while (list) {
		struct nbd_req *r = list;

		list = r->next_done;
		req_finish(r);
	}
}

/* Start an I/O: its parts wait on the connection and go now if it is up. */
static void nbe_submit(struct storage_queue *q, struct storage_io *io)
{
	struct nbd_queue *nq = q->priv;
	struct nbd_req *r;

	if (io->op == STORAGE_FLUSH && !nq->d->offer.flush) {
		io->done(io, 0);	/* nothing volatile to flush */
		return;
	}
	r = req_new(nq, io);
	if (!r) {
		io->done(io, -ENOMEM);
		return;
	}
	pthread_mutex_lock(&nq->conn->lock);
	if (!nbe_conn_add(nq->conn, r)) {
		pthread_mutex_unlock(&nq->conn->lock);
		free(r->bounce);
		free(r);
		io->done(io, -EIO);	/* the server is gone for longer than the timeout */
		return;
	}
	nbe_conn_send(nq->conn, nq);
	pthread_mutex_unlock(&nq->conn->lock);
	run_done(nq);
}

/*
 * What q waits for: its connection's socket in the direction libnbd needs, or the time
 * to its next attempt. On a shared connection, the epoll that also holds q's eventfd.
 */
static void nbe_poll(struct storage_queue *q, struct storage_poll *p)
{
	struct nbd_queue *nq = q->priv;
	struct epoll_event ev;

	pthread_mutex_lock(&nq->conn->lock);
	nbe_conn_wants(nq->conn, p);
	pthread_mutex_unlock(&nq->conn->lock);
	if (nq->epfd < 0)
		return;
	/* As fault.c does: a closed socket left the epoll; a new one under its number is added. */
	if (nq->sock >= 0 && nq->sock != p->fd)
		epoll_ctl(nq->epfd, EPOLL_CTL_DEL, nq->sock, NULL);
	nq->sock = -1;
	ev = (struct epoll_event){ .events = (p->events & POLLIN ? EPOLLIN : 0) |
				   (p->events & POLLOUT ? EPOLLOUT : 0) };
	if (p->fd >= 0 && (!epoll_ctl(nq->epfd, EPOLL_CTL_MOD, p->fd, &ev) ||
			   (errno == ENOENT && !epoll_ctl(nq->epfd, EPOLL_CTL_ADD, p->fd, &ev))))
		nq->sock = p->fd;
	if (p->fd >= 0 && nq->sock < 0 && (p->timeout_ms < 0 || p->timeout_ms > 10))
		p->timeout_ms = 10;	/* not registered: look again soon */
	p->fd = nq->epfd;
	p->events = POLLIN;
}

/* Drive the connection (replies, sends, reconnects, the timeout), then run q's completions. */
static void nbe_reap(struct storage_queue *q)
{
	struct nbd_queue *nq = q->priv;
	eventfd_t n;

	if (nq->efd >= 0)
		eventfd_read(nq->efd, &n);	/* EAGAIN is fine */
	pthread_mutex_lock(&nq->conn->lock);
	nbe_conn_step(nq->conn, nq);
	pthread_mutex_unlock(&nq->conn->lock);
	run_done(nq);
}

/* The disk's connections by state, and its reconnects. */
static void nbe_link(const struct storage *disk, struct storage_link *l)
{
	const struct nbd_disk *d = disk->priv;

	l->up = __atomic_load_n(&d->conns_up, __ATOMIC_RELAXED);
	l->down = __atomic_load_n(&d->conns_down, __ATOMIC_RELAXED);
	l->reconnects = __atomic_load_n(&d->reconnects, __ATOMIC_RELAXED);
}

const struct storage_ops storage_nbd_ops = {
	.name = "nbd",
	.usage = "nbd:nbd[s][+unix]://[HOST[:PORT]]/EXPORT[?socket=PATH][&tls-psk-file=FILE]"
		 "[,timeout=SECONDS][,ro]",
	.needs_uri = true,
	.open = nbe_open,
	.close = nbe_disk_close,
	.queue_open = nbe_queue_open,
	.queue_close = nbe_queue_close,
	.submit = nbe_submit,
	.poll = nbe_poll,
	.reap = nbe_reap,
	.link = nbe_link,
};
