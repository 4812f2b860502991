/* Fault injection: a wrapper that fails the I/O touching chosen sectors of any engine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"

/*
 * The spec option fault=START+COUNT[:eio|enospc] puts this in front of the
 * engine: a read, write or discard that touches sectors START..START+COUNT-1
 * (512-byte units) completes with that error without reaching the engine;
 * everything else passes through. For testing how guests and the protocol
 * engine handle failing storage, in the spirit of dm-flakey.
 */
struct fault {
	struct storage inner;	/* the wrapped engine's disk */
	uint64_t start, end;	/* bytes: the failing range [start, end) */
	int error;		/* negative errno */
};

/*
 * Each queue of the wrapper holds a queue of the wrapped disk in q->priv:
 * what the wrapper lets through goes to it, and the engine's per-queue state
 * (its ring, its completion list) lives there.
 */

/* The wrapped disk. */
static struct storage *inner(struct storage *disk)
{
	return &((struct fault *)disk->priv)->inner;
}

/* Open a queue of the wrapped disk for q. */
static int fault_queue_open(struct storage *disk, struct storage_queue *q)
{
	struct storage_queue *iq;
	int ret = storage_queue_open(inner(disk), &iq);

	if (!ret)
		q->priv = iq;
	return ret;
}

/* Close q's queue of the wrapped disk. */
static void fault_queue_close(struct storage_queue *q)
{
	storage_queue_close(q->priv);
	q->priv = NULL;
}

/* Fail the I/O if it touches the range, else hand it to the engine on q's inner queue. */
static void fault_submit(struct storage_queue *q, struct storage_io *io)
{
	const struct fault *f = q->disk->priv;
	struct storage_queue *iq = q->priv;
	bool data = io->op != STORAGE_FLUSH;

	if (data && io->offset < f->end && io->offset + io->len > f->start) {
		io->done(io, f->error);
		return;
	}
	iq->disk->ops->submit(iq, io);
}

/* Forward kick. */
static void fault_kick(struct storage_queue *q)
{
	storage_kick(q->priv);
}

/* Forward event_fd; -1 (none) for an engine that completes inline. */
static int fault_event_fd(struct storage_queue *q)
{
	return storage_event_fd(q->priv);
}

/* Forward reap. */
static void fault_reap(struct storage_queue *q)
{
	storage_reap(q->priv);
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

/* Close the wrapped disk and the wrapper; every queue was closed before. */
static void fault_close(struct storage *disk)
{
	struct fault *f = disk->priv;

	f->inner.ops->close(&f->inner);
	free(f);
}

/* Not in the engine table (it has no open): storage_fault_wrap puts it in front of a disk. */
static const struct storage_ops fault_ops = {
	.name = "fault",
	.usage = "ENGINE:...,fault=START+COUNT[:eio|enospc]",
	.close = fault_close,
	.resize = fault_resize,
	.queue_open = fault_queue_open,
	.queue_close = fault_queue_close,
	.submit = fault_submit,
	.kick = fault_kick,
	.event_fd = fault_event_fd,
	.reap = fault_reap,
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
	f->error = spec->fault_error;
	disk->ops = &fault_ops;
	disk->priv = f;
	return 0;
}
