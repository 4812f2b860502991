/* Fault injection: a wrapper that fails, shortens or stalls the I/O touching chosen sectors. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "storage.h"

/*
 * The spec option fault=START+COUNT[:eio|enospc|short|stall] puts this in front of
 * the engine. A read, write or discard that touches sectors START..START+COUNT-1
 * (512-byte units) does not reach the engine as asked:
 *   eio, enospc  it completes with that error;
 *   short        it completes with half its length (rounded down to a sector):
 *                a short transfer, which the core must turn into an error;
 *   stall        it is held, as by a hung NFS server or a frozen file system,
 *                until storage_fault_release (blkbackctl unstall); then it goes
 *                to the engine, and so does all I/O after it. Only the I/O that
 *                touches the range waits: the rest of the disk is served.
 * Everything else passes through. For testing how guests and the protocol engine
 * handle failing storage, in the spirit of dm-flakey.
 */
struct fault {
	struct storage inner;	/* the wrapped engine's disk */
	uint64_t start, end;	/* bytes: the faulty range [start, end) */
	enum storage_fault kind;
	bool released;		/* stall: let everything through (atomic) */
	pthread_mutex_t lock;	/* guards queues: release runs on another thread */
	struct fault_queue *queues;
};

/* Each queue of the wrapper holds a queue of the wrapped disk, where the engine's state lives. */
struct fault_queue {
	struct storage_queue *iq;
	int efd;		/* stall: poked by a release */
	int epfd;		/* stall: polls efd and iq's fd; the fd the wrapper's queue polls */
	int ifd;		/* stall: iq's fd as last registered in epfd, or -1 */
	struct storage_io **held;	/* stall: what waits for the release, oldest first */
	unsigned int nheld, cap;
	struct fault_queue *next;
};

/* The wrapped disk. */
static struct storage *inner(struct storage *disk)
{
	return &((struct fault *)disk->priv)->inner;
}

/* Close q's stall fds and its queue of the wrapped disk; idempotent. */
static void fq_free(struct fault_queue *fq)
{
	if (fq->epfd >= 0)
		close(fq->epfd);
	if (fq->efd >= 0)
		close(fq->efd);
	storage_queue_close(fq->iq);
	free(fq->held);
	free(fq);
}

/* Make a stalling queue's fds: its release eventfd, in an epoll that gets the engine's fd too. */
static int fq_stall_fds(struct fault_queue *fq)
{
	struct epoll_event ev = { .events = EPOLLIN };

	fq->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fq->efd < 0)
		return -errno;
	fq->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (fq->epfd < 0)
		return -errno;
	if (epoll_ctl(fq->epfd, EPOLL_CTL_ADD, fq->efd, &ev))
		return -errno;
	return 0;
}

/* Open a queue of the wrapped disk for q (and, for stall, the fds a release wakes). */
static int fault_queue_open(struct storage *disk, struct storage_queue *q)
{
	struct fault *f = disk->priv;
	struct fault_queue *fq = calloc(1, sizeof(*fq));
	int ret;

	if (!fq)
		return -ENOMEM;
	fq->efd = fq->epfd = fq->ifd = -1;
	ret = storage_queue_open(inner(disk), &fq->iq);
	if (!ret && f->kind == STORAGE_FAULT_STALL)
		ret = fq_stall_fds(fq);
	if (ret)
		goto fail;
	pthread_mutex_lock(&f->lock);
	fq->next = f->queues;
	f->queues = fq;
	pthread_mutex_unlock(&f->lock);
	q->priv = fq;
	return 0;
fail:
	fq_free(fq);
	return ret;
}

/* Close q's queue of the wrapped disk; nothing is in flight or held. */
static void fault_queue_close(struct storage_queue *q)
{
	struct fault *f = q->disk->priv;
	struct fault_queue *fq = q->priv, **pp;

	pthread_mutex_lock(&f->lock);
	for (pp = &f->queues; *pp != fq; pp = &(*pp)->next)
		;
	*pp = fq->next;
	pthread_mutex_unlock(&f->lock);
	fq_free(fq);
	q->priv = NULL;
}

/* Hold io until the release; -ENOMEM if it cannot be held. */
static int fq_hold(struct fault_queue *fq, struct storage_io *io)
{
	if (fq->nheld == fq->cap) {
		unsigned int cap = fq->cap ? 2 * fq->cap : 16;
		struct storage_io **held = realloc(fq->held, cap * sizeof(*held));

		if (!held)
			return -ENOMEM;
		fq->held = held;
		fq->cap = cap;
	}
	fq->held[fq->nheld++] = io;
	return 0;
}

/* Fail, shorten or hold the I/O if it touches the range, else hand it to the engine. */
static void fault_submit(struct storage_queue *q, struct storage_io *io)
{
	struct fault *f = q->disk->priv;
	struct fault_queue *fq = q->priv;
	bool hit = io->op != STORAGE_FLUSH && io->offset < f->end && io->offset + io->len > f->start;
	int ret;

	switch (hit ? f->kind : STORAGE_FAULT_NONE) {
	case STORAGE_FAULT_EIO:
		io->done(io, -EIO);
		return;
	case STORAGE_FAULT_ENOSPC:
		io->done(io, -ENOSPC);
		return;
	case STORAGE_FAULT_SHORT:
		io->done(io, (int64_t)((io->len / 2) & ~511ull));
		return;
	case STORAGE_FAULT_STALL:
		if (__atomic_load_n(&f->released, __ATOMIC_ACQUIRE))
			break;
		ret = fq_hold(fq, io);
		if (ret)
			io->done(io, ret);
		return;
	case STORAGE_FAULT_NONE:
		break;
	}
	fq->iq->disk->ops->submit(fq->iq, io);
}

/* Forward kick. */
static void fault_kick(struct storage_queue *q)
{
	storage_kick(((struct fault_queue *)q->priv)->iq);
}

/*
 * What the engine waits for; for stall, the epoll that also wakes on a release, with
 * the engine's fd and events registered in it as they are now. (An fd the engine closed
 * left the epoll by itself; a new file under the same number is not in it: MOD fails
 * with ENOENT, and ADD puts it in.)
 */
static void fault_poll(struct storage_queue *q, struct storage_poll *p)
{
	struct fault_queue *fq = q->priv;
	struct storage_poll ip;
	struct epoll_event ev;

	storage_poll(fq->iq, &ip);
	if (fq->epfd < 0) {
		*p = ip;
		return;
	}
	if (fq->ifd >= 0 && fq->ifd != ip.fd)
		epoll_ctl(fq->epfd, EPOLL_CTL_DEL, fq->ifd, NULL);	/* ENOENT is fine */
	fq->ifd = -1;
	ev = (struct epoll_event){ .events = (ip.events & POLLIN ? EPOLLIN : 0) |
				   (ip.events & POLLOUT ? EPOLLOUT : 0) };
	if (ip.fd >= 0 && (!epoll_ctl(fq->epfd, EPOLL_CTL_MOD, ip.fd, &ev) ||
			   (errno == ENOENT && !epoll_ctl(fq->epfd, EPOLL_CTL_ADD, ip.fd, &ev))))
		fq->ifd = ip.fd;
	/* If it cannot be registered, look again soon rather than miss its completions. */
	p->fd = fq->epfd;
	p->events = POLLIN;
	p->timeout_ms = ip.fd >= 0 && fq->ifd < 0 && (ip.timeout_ms < 0 || ip.timeout_ms > 10) ?
			10 : ip.timeout_ms;
}

/* After a release, start what was held, in order; then run the engine's completions. */
static void fault_reap(struct storage_queue *q)
{
	struct fault *f = q->disk->priv;
	struct fault_queue *fq = q->priv;
	eventfd_t n;

	if (fq->efd >= 0)
		eventfd_read(fq->efd, &n);	/* EAGAIN is fine */
	if (fq->nheld && __atomic_load_n(&f->released, __ATOMIC_ACQUIRE)) {
		unsigned int count = fq->nheld;

		fq->nheld = 0;	/* submit may complete inline and the done callback submit again */
		for (unsigned int i = 0; i < count; i++)
			fq->iq->disk->ops->submit(fq->iq, fq->held[i]);
		storage_kick(fq->iq);
	}
	storage_reap(fq->iq);
}

/* Forward resize, then take the new size. */
static int fault_resize(struct storage *disk, uint64_t size, char *err, size_t errlen)
{
	int ret;

	if (!inner(disk)->ops->resize) {
		snprintf(err, errlen, "the %s engine cannot resize", inner(disk)->ops->name);
		return -EOPNOTSUPP;
	}
	ret = inner(disk)->ops->resize(inner(disk), size, err, errlen);
	disk->size = inner(disk)->size;
	return ret;
}

/* Forward link. */
static void fault_link(const struct storage *disk, struct storage_link *l)
{
	const struct fault *f = disk->priv;

	storage_link(&f->inner, l);
}

/* Close the wrapped disk and the wrapper; every queue was closed before. */
static void fault_close(struct storage *disk)
{
	struct fault *f = disk->priv;

	f->inner.ops->close(&f->inner);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* Not in the engine table (it has no open): storage_fault_wrap puts it in front of a disk. */
static const struct storage_ops fault_ops = {
	.name = "fault",
	.usage = "ENGINE:...,fault=START+COUNT[:eio|enospc|short|stall]",
	.close = fault_close,
	.resize = fault_resize,
	.queue_open = fault_queue_open,
	.queue_close = fault_queue_close,
	.submit = fault_submit,
	.kick = fault_kick,
	.poll = fault_poll,
	.reap = fault_reap,
	.link = fault_link,
};

/* Put the fault wrapper in front of an open disk, as the spec's fault= asks. */
int storage_fault_wrap(struct storage *disk, const struct storage_spec *spec)
{
	struct fault *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->inner = *disk;
	f->start = spec->fault_start << 9;
	f->end = (spec->fault_start + spec->fault_count) << 9;
	f->kind = spec->fault;
	pthread_mutex_init(&f->lock, NULL);
	disk->ops = &fault_ops;
	disk->priv = f;
	return 0;
}

/* Let a stalling disk's held I/O go on, and all I/O after it; from any thread. */
int storage_fault_release(struct storage *disk)
{
	struct fault *f = disk->priv;

	if (disk->ops != &fault_ops || f->kind != STORAGE_FAULT_STALL)
		return -EINVAL;
	__atomic_store_n(&f->released, true, __ATOMIC_RELEASE);
	pthread_mutex_lock(&f->lock);
	for (struct fault_queue *fq = f->queues; fq; fq = fq->next)
		eventfd_write(fq->efd, 1);
	pthread_mutex_unlock(&f->lock);
	return 0;
}
