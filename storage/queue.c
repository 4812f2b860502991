/*
 * The checked entry points into an engine's queues: open and close a queue, submit (with the
 * engine contract checked first), kick, poll, reap. Everything that drives an engine calls
 * these: the rings, and the fault layer for the engine it wraps (storage.c opens disks and
 * wraps them; nothing here calls back up).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"

/* Open a queue on an open disk, with the engine's per-queue state if it has any. */
int storage_queue_open(struct storage *disk, struct storage_queue **qp)
{
	struct storage_queue *q = calloc(1, sizeof(*q));
	int ret = 0;

	if (!q)
		return -ENOMEM;
	q->disk = disk;
	if (disk->ops->queue_open)
		ret = disk->ops->queue_open(disk, q);
	if (ret) {
		free(q);
		return ret;
	}
	*qp = q;
	return 0;
}

/* Close a queue with nothing in flight; NULL is fine. */
void storage_queue_close(struct storage_queue *q)
{
	if (!q)
		return;
	if (q->disk->ops->queue_close)
		q->disk->ops->queue_close(q);
	free(q);
}

/* The rule of the engine contract io breaks, or NULL if it keeps them all. */
static const char *contract_broken(const struct storage *disk, const struct storage_io *io)
{
	bool data = io->op == STORAGE_READ || io->op == STORAGE_WRITE;
	uint64_t sum = 0;

	if (!io->done)
		return "an I/O needs a done callback";
	if (io->op > STORAGE_DISCARD)
		return "unknown operation";
	if (io->op != STORAGE_FLUSH && !io->len)
		return "only a flush may be empty";
	if (data && (io->iovcnt <= 0 || !io->iov))
		return "a read or write needs iovecs";
	for (int i = 0; data && i < io->iovcnt; i++) {
		if (io->iov[i].iov_len > io->len - sum)
			return "the iovecs hold more than len";
		sum += io->iov[i].iov_len;
	}
	if (data && sum != io->len)
		return "the iovecs hold less than len";
	if (io->op == STORAGE_DISCARD && !disk->caps.discard)
		return "discard on a disk that does not offer it";
	if (io->op == STORAGE_DISCARD && io->secure && !disk->caps.secure_discard)
		return "secure discard on a disk that does not offer it";
	if (io->op != STORAGE_FLUSH &&
	    (io->offset > disk->size || io->len > disk->size - io->offset))
		return "the range goes past the end of the disk";
	if (io->op != STORAGE_READ && disk->readonly)
		return "a change to a read-only disk";
	return NULL;
}

/*
 * Submit an I/O on q if it keeps the engine contract (the parser made sure it does).
 * One that does not would have an engine write past its disk or into a read-only
 * one: it is refused, for the caller to fail that request and halt its ring; the
 * daemon and every other disk go on.
 */
int storage_submit(struct storage_queue *q, struct storage_io *io, const char **why)
{
	*why = contract_broken(q->disk, io);
	if (*why)
		return -EINVAL;
	q->disk->ops->submit(q, io);
	return 0;
}

/* Start what submit queued on q, where the engine defers it. */
void storage_kick(struct storage_queue *q)
{
	if (q->disk->ops->kick)
		q->disk->ops->kick(q);
}

/* What q's thread waits for now; nothing for an engine that completes inline. */
void storage_poll(struct storage_queue *q, struct storage_poll *p)
{
	*p = (struct storage_poll){ .fd = -1, .events = 0, .timeout_ms = -1 };
	if (q->disk->ops->poll)
		q->disk->ops->poll(q, p);
}

/* Run q's completions on the calling thread. */
void storage_reap(struct storage_queue *q)
{
	if (q->disk->ops->reap)
		q->disk->ops->reap(q);
}

/* A disk's connections to its server, where its engine has one. */
int storage_link(const struct storage *disk, struct storage_link *l)
{
	if (!disk->ops->link)
		return -EOPNOTSUPP;
	memset(l, 0, sizeof(*l));
	disk->ops->link(disk, l);
	return 0;
}
