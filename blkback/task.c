/* A blocking call run off the main thread, so that storage that hangs holds up only its own disk. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>

#include "log.h"
#include "task.h"

/* The task's thread: run the call, then say so and wake the main loop. */
static void *task_thread(void *arg)
{
	struct blk_task *t = arg;
	int fd = t->done_fd;

	t->run(t);
	/* After this store the main thread may free t: use only the copy of the fd. */
	__atomic_store_n(&t->done, true, __ATOMIC_RELEASE);
	if (eventfd_write(fd, 1))
		log_err("cannot wake the main loop: %s", strerror(errno));
	return NULL;
}

/* Start run(t) on a thread of its own. */
int task_start(struct blk_task *t, void (*run)(struct blk_task *t), int done_fd)
{
	int err;

	t->run = run;
	t->done_fd = done_fd;
	t->done = false;
	err = pthread_create(&t->thread, NULL, task_thread, t);
	if (err)
		return -err;
	t->started = true;
	return 0;
}

/* Whether run has returned. */
bool task_done(const struct blk_task *t)
{
	return !t->started || __atomic_load_n(&t->done, __ATOMIC_ACQUIRE);
}

/* Release the thread of a task that is done. */
void task_join(struct blk_task *t)
{
	if (!t->started)
		return;
	pthread_join(t->thread, NULL);
	t->started = false;
}
