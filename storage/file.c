/* The file engine: a disk image file or block device served by a few I/O threads per disk. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "filecommon.h"
#include "storage.h"

/* Enough that one slow request does not hold up the ring; preadv blocks a thread each. */
#define FILE_WORKERS 4

/* An I/O on its way through the workers. */
struct file_job {
	struct storage_io *io;
	int64_t result;
	struct file_job *next;
};

/*
 * The ring thread queues jobs on todo; a worker takes one, runs it with plain
 * system calls, appends it to finished and signals the eventfd; reap, back
 * on the ring thread, calls done for each finished job in finishing order.
 */
struct file_disk {
	struct file_target t;
	int efd;			/* the event_fd: readable when finished has jobs */
	pthread_mutex_t lock;		/* guards todo, finished and stopping */
	pthread_cond_t wake;		/* todo got a job, or stopping */
	bool sync_ok;			/* lock and wake initialized */
	struct file_job *todo, **todo_tail;
	struct file_job *finished, **finished_tail;
	bool stopping;
	struct file_job *spare;		/* free jobs, ring thread only */
	pthread_t workers[FILE_WORKERS];
	int nworkers;
};

/* A worker: run queued jobs until told to stop. */
static void *file_worker(void *arg)
{
	struct file_disk *f = arg;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		struct file_job *job = f->todo;
		bool first;

		if (!job) {
			if (f->stopping)
				break;
			pthread_cond_wait(&f->wake, &f->lock);
			continue;
		}
		f->todo = job->next;
		if (!f->todo)
			f->todo_tail = &f->todo;
		pthread_mutex_unlock(&f->lock);

		job->result = file_target_run(&f->t, job->io);
		job->next = NULL;

		pthread_mutex_lock(&f->lock);
		first = !f->finished;
		*f->finished_tail = job;
		f->finished_tail = &job->next;
		/*
		 * Only the job that makes the list non-empty signals: reap reads
		 * the eventfd before it takes the list, so every job is either
		 * taken by that reap or follows a signal it has not yet read.
		 * The write cannot fail short of a 2^64 count.
		 */
		if (first)
			eventfd_write(f->efd, 1);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

/* Stop the workers and release everything; idempotent, nothing may be in flight. */
static void file_close(struct storage *disk)
{
	struct file_disk *f = disk->priv;

	if (!f)
		return;
	if (f->sync_ok) {
		pthread_mutex_lock(&f->lock);
		f->stopping = true;
		pthread_cond_broadcast(&f->wake);
		pthread_mutex_unlock(&f->lock);
	}
	for (int i = 0; i < f->nworkers; i++)
		pthread_join(f->workers[i], NULL);
	while (f->spare) {
		struct file_job *job = f->spare;

		f->spare = job->next;
		free(job);
	}
	if (f->efd >= 0)
		close(f->efd);
	file_target_close(&f->t);
	if (f->sync_ok) {
		pthread_cond_destroy(&f->wake);
		pthread_mutex_destroy(&f->lock);
	}
	free(f);
	disk->priv = NULL;
}

/* Open the file or device and start its workers. */
static int file_open(struct storage *disk, const struct storage_spec *spec, char *err,
		     size_t errlen)
{
	struct file_disk *f = calloc(1, sizeof(*f));
	int ret;

	if (!f)
		return -ENOMEM;
	f->t.fd = -1;
	f->efd = -1;
	f->todo_tail = &f->todo;
	f->finished_tail = &f->finished;
	disk->priv = f;
	ret = -pthread_mutex_init(&f->lock, NULL);
	if (!ret) {
		ret = -pthread_cond_init(&f->wake, NULL);
		if (ret)
			pthread_mutex_destroy(&f->lock);
	}
	if (ret)
		goto out;
	f->sync_ok = true;
	ret = file_target_open(&f->t, disk, spec, err, errlen);
	if (ret)
		goto out;
	f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->efd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot create an eventfd for %s: %s", spec->path,
			 strerror(-ret));
		goto out;
	}
	for (; f->nworkers < FILE_WORKERS; f->nworkers++) {
		ret = -pthread_create(&f->workers[f->nworkers], NULL, file_worker, f);
		if (ret) {
			snprintf(err, errlen, "cannot start an I/O thread for %s: %s", spec->path,
				 strerror(-ret));
			goto out;
		}
	}
out:
	if (ret)
		file_close(disk);
	return ret;
}

/* Queue the I/O for a worker; it completes from reap. */
static void file_submit(struct storage *disk, struct storage_io *io)
{
	struct file_disk *f = disk->priv;
	struct file_job *job = f->spare;

	if (job) {
		f->spare = job->next;
	} else {
		job = malloc(sizeof(*job));
		if (!job) {
			io->done(io, -ENOMEM);
			return;
		}
	}
	job->io = io;
	job->next = NULL;
	pthread_mutex_lock(&f->lock);
	*f->todo_tail = job;
	f->todo_tail = &job->next;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
}

/* Change the size, with nothing in flight. */
static int file_resize(struct storage *disk, uint64_t size, char *err, size_t errlen)
{
	struct file_disk *d = disk->priv;

	return file_target_resize(&d->t, disk, size, err, errlen);
}

/* The fd the ring thread polls. */
static int file_event_fd(struct storage *disk)
{
	const struct file_disk *f = disk->priv;

	return f->efd;
}

/* Call done for every finished job, in finishing order, on the ring thread. */
static void file_reap(struct storage *disk)
{
	struct file_disk *f = disk->priv;
	struct file_job *list;
	eventfd_t count;

	/* Read first: a job finished after the take below signals again. EAGAIN is fine. */
	eventfd_read(f->efd, &count);
	pthread_mutex_lock(&f->lock);
	list = f->finished;
	f->finished = NULL;
	f->finished_tail = &f->finished;
	pthread_mutex_unlock(&f->lock);
	while (list) {
		struct file_job *job = list;
		struct storage_io *io = job->io;
		int64_t result = job->result;

		list = job->next;
		job->next = f->spare;		/* done() may submit again and reuse it */
		f->spare = job;
		io->done(io, result);
	}
}

const struct storage_ops storage_file_ops = {
	.name = "file",
	.usage = "file:PATH[,direct][,ro]",
	.needs_path = true,
	.open = file_open,
	.close = file_close,
	.submit = file_submit,
	.resize = file_resize,
	.event_fd = file_event_fd,
	.reap = file_reap,
};
