/* A blocking call run off the main thread: one thread per call, which pokes an eventfd as it ends. */
#ifndef BLKBACK_TASK_H
#define BLKBACK_TASK_H

#include <pthread.h>
#include <stdbool.h>

/*
 * Embed it in the call's own state: the thread runs run(t) and touches nothing but
 * what t's container gives it; the main thread reads the results once task_done.
 */
struct blk_task {
	void (*run)(struct blk_task *t);
	int done_fd;			/* an eventfd, written once run returns */
	pthread_t thread;
	bool started;
	bool done;			/* atomic: run has returned */
};

/* Start run(t) on a thread of its own; -errno if no thread can be made (then nothing runs). */
int task_start(struct blk_task *t, void (*run)(struct blk_task *t), int done_fd);

/* Whether run has returned: task_join then does not wait. */
bool task_done(const struct blk_task *t);

/* Release the thread of a task that is done; idempotent. */
void task_join(struct blk_task *t);

#endif
