/* The file engine: a disk image file or block device served by a few I/O threads per queue. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "filecommon.h"
#include "storage.h"

/* Enough that one slow request does not hold up the ring; preadv blocks a thread each. */
#define FILE_WORKERS 4

/* An I/O on its way through a queue's workers. */
struct file_job {
	struct storage_io *io;
	int64_t result;
	struct file_job *next;
};

/*
 * One queue: the ring thread queues jobs on todo; a worker takes one, runs it
 * with plain system calls, appends it to finished and signals the eventfd;
 * reap, back on the ring thread, calls done for each finished job in
 * finishing order.
 *
 * Each queue has a pool of workers of its own rather than one pool per disk.
 * A shared pool would need its todo list, and so its lock, taken by every
 * ring thread of the disk on every submit, and each finished job would have
 * to be sorted back to its own queue; it would also cap the disk at
 * FILE_WORKERS I/Os at a time however many queues the guest asked for, and
 * let one queue's slow requests hold up another's. Per queue, nothing is
 * shared between the queues of a disk but the fd (pread and pwrite on one fd
 * from several threads are safe), finished jobs cannot reach another queue,
 * and the spare list is touched only by the queue's own thread. The cost is
 * FILE_WORKERS threads per queue, asleep on wake while the queue is idle.
 */
struct file_queue {
	const struct file_target *t;	/* the disk's file or device, shared */
	int efd;			/* what q polls: readable when finished has jobs */
	pthread_mutex_t lock;		/* guards todo, finished and stopping */
	pthread_cond_t wake;		/* todo got a job, or stopping */
	bool sync_ok;			/* lock and wake initialized */
	struct file_job *todo, **todo_tail;
	struct file_job *finished, **finished_tail;
	bool stopping;
	struct file_job *spare;		/* free jobs, the queue's thread only */
	bool no_nowait;			/* the file system refused RWF_NOWAIT: stop trying */
	pthread_t workers[FILE_WORKERS];
	int nworkers;
};

/* A worker: run its queue's jobs until told to stop. */
static void *file_worker(void *arg)
{
	struct file_queue *fq = arg;

	pthread_mutex_lock(&fq->lock);
	for (;;) {
		struct file_job *job = fq->todo;
		bool first;

		if (!job) {
			if (fq->stopping)
				break;
			pthread_cond_wait(&fq->wake, &fq->lock);
			continue;
		}
		fq->todo = job->next;
		if (!fq->todo)
			fq->todo_tail = &fq->todo;
		pthread_mutex_unlock(&fq->lock);

		job->result = file_target_run(fq->t, job->io);
		job->next = NULL;

		pthread_mutex_lock(&fq->lock);
		first = !fq->finished;
		*fq->finished_tail = job;
		fq->finished_tail = &job->next;
		/*
		 * Only the job that makes the list non-empty signals: reap reads
		 * the eventfd before it takes the list, so every job is either
		 * taken by that reap or follows a signal it has not yet read.
		 * The write cannot fail short of a 2^64 count.
		 */
		if (first)
			eventfd_write(fq->efd, 1);
	}
	pthread_mutex_unlock(&fq->lock);
	return NULL;
}

/* Stop the queue's workers and release it; idempotent, nothing may be in flight. */
static void file_queue_close(struct storage_queue *q)
{
	struct file_queue *fq = q->priv;

	if (!fq)
		return;
	if (fq->sync_ok) {
		pthread_mutex_lock(&fq->lock);
		fq->stopping = true;
		pthread_cond_broadcast(&fq->wake);
		pthread_mutex_unlock(&fq->lock);
	}
	for (int i = 0; i < fq->nworkers; i++)
		pthread_join(fq->workers[i], NULL);
	while (fq->spare) {
		struct file_job *job = fq->spare;

		fq->spare = job->next;
		free(job);
	}
	if (fq->efd >= 0)
		close(fq->efd);
	if (fq->sync_ok) {
		pthread_cond_destroy(&fq->wake);
		pthread_mutex_destroy(&fq->lock);
	}
	free(fq);
	q->priv = NULL;
}

/* Give a queue its eventfd, its lists and its workers. */
static int file_queue_open(struct storage *disk, struct storage_queue *q)
{
	struct file_queue *fq = calloc(1, sizeof(*fq));
	int ret;

	if (!fq)
		return -ENOMEM;
	fq->t = disk->priv;
	fq->efd = -1;
	fq->todo_tail = &fq->todo;
	fq->finished_tail = &fq->finished;
	q->priv = fq;
	ret = -pthread_mutex_init(&fq->lock, NULL);
	if (!ret) {
		ret = -pthread_cond_init(&fq->wake, NULL);
		if (ret)
			pthread_mutex_destroy(&fq->lock);
	}
	if (ret)
		goto out;
	fq->sync_ok = true;
	fq->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fq->efd < 0) {
		ret = -errno;
		goto out;
	}
	for (; fq->nworkers < FILE_WORKERS; fq->nworkers++) {
		ret = -pthread_create(&fq->workers[fq->nworkers], NULL, file_worker, fq);
		if (ret)
			goto out;
	}
out:
	if (ret)
		file_queue_close(q);
	return ret;
}

/*
 * Serve a request at once on the ring thread when it cannot wait for a device: no hand-off
 * to a worker and back (two context switches). A file in memory (tmpfs, ramfs) never waits,
 * but for its pages in swap, which a read brings back as a page fault would. Elsewhere, a
 * read that the page cache holds whole: RWF_NOWAIT makes the kernel answer EAGAIN, or read
 * less, rather than wait for the device or a lock; then a worker reads it all.
 */
static bool file_run_inline(struct file_queue *fq, struct storage_io *io)
{
	ssize_t n;

	if (fq->t->in_memory && io->op != STORAGE_DISCARD) {	/* a punch may free a lot */
		io->done(io, file_target_run(fq->t, io));
		return true;
	}
	if (io->op != STORAGE_READ || fq->t->direct || fq->no_nowait)
		return false;
	n = preadv2(fq->t->fd, io->iov, io->iovcnt, (off_t)io->offset, RWF_NOWAIT);
	if (n == (ssize_t)io->len) {
		io->done(io, n);
		return true;
	}
	if (n < 0 && errno == EOPNOTSUPP)	/* a file system without NOWAIT reads */
		fq->no_nowait = true;
	return false;
}

/* Serve what cannot wait at once; queue anything else for one of q's workers (done from reap). */
static void file_submit(struct storage_queue *q, struct storage_io *io)
{
	struct file_queue *fq = q->priv;
	struct file_job *job = fq->spare;

	if (file_run_inline(fq, io))
		return;
	if (job) {
		fq->spare = job->next;
	} else {
		job = malloc(sizeof(*job));
		if (!job) {
			io->done(io, -ENOMEM);
			return;
		}
	}
	job->io = io;
	job->next = NULL;
	pthread_mutex_lock(&fq->lock);
	*fq->todo_tail = job;
	fq->todo_tail = &job->next;
	pthread_cond_signal(&fq->wake);
	pthread_mutex_unlock(&fq->lock);
}

/* Change the size, with nothing in flight on any queue. */
static int file_resize(struct storage *disk, uint64_t size, char *err, size_t errlen)
{
	return file_target_resize(disk->priv, disk, size, err, errlen);
}

/* q's ring thread polls the eventfd of finished jobs, readable. */
static void file_poll(struct storage_queue *q, struct storage_poll *p)
{
	const struct file_queue *fq = q->priv;

	p->fd = fq->efd;
	p->events = POLLIN;
}

/* Call done for every finished job of q, in finishing order, on q's thread. */
static void file_reap(struct storage_queue *q)
{
	struct file_queue *fq = q->priv;
	struct file_job *list;
	eventfd_t count;

	/* Read first: a job finished after the take below signals again. EAGAIN is fine. */
	eventfd_read(fq->efd, &count);
	pthread_mutex_lock(&fq->lock);
	list = fq->finished;
	fq->finished = NULL;
	fq->finished_tail = &fq->finished;
	pthread_mutex_unlock(&fq->lock);
	while (list) {
		struct file_job *job = list;
		struct storage_io *io = job->io;
		int64_t result = job->result;

		list = job->next;
		job->next = fq->spare;		/* done() may submit again and reuse it */
		fq->spare = job;
		io->done(io, result);
	}
}

const struct storage_ops storage_file_ops = {
	.name = "file",
	.usage = "file:PATH[,direct][,ro][,shared]",
	.needs_path = true,
	.open = file_target_attach,
	.close = file_target_detach,	/* every queue was closed before */
	.resize = file_resize,
	.queue_open = file_queue_open,
	.queue_close = file_queue_close,
	.submit = file_submit,
	.poll = file_poll,
	.reap = file_reap,
};
