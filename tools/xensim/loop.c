/* loop.c: the simulator daemon's single-threaded epoll loop. */
#include "loop.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

struct watch {
	int fd;
	loop_fn *fn;
	void *arg;
	struct watch *next;
};

static int epfd = -1;
static bool quit;
static struct watch *watches;
/* Freed watches wait here until the current batch of events is served. */
static struct watch *graveyard;

/* Create the epoll instance. */
int loop_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	return epfd < 0 ? -errno : 0;
}

/* Find the watch of fd. */
static struct watch **find(int fd)
{
	struct watch **w;

	for (w = &watches; *w && (*w)->fd != fd; w = &(*w)->next)
		;
	return w;
}

/* Watch fd. */
int loop_add(int fd, uint32_t events, loop_fn *fn, void *arg)
{
	struct watch *w = calloc(1, sizeof(*w));
	struct epoll_event ev = { .events = events };

	if (!w)
		return -ENOMEM;
	*w = (struct watch){ .fd = fd, .fn = fn, .arg = arg, .next = watches };
	ev.data.ptr = w;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int err = -errno;

		free(w);
		return err;
	}
	watches = w;
	return 0;
}

/* Change the events watched on fd. */
int loop_mod(int fd, uint32_t events)
{
	struct watch *w = *find(fd);
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (!w)
		return -ENOENT;
	return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

/* Stop watching fd; the watch is freed after the current batch. */
void loop_del(int fd)
{
	struct watch **p = find(fd), *w = *p;

	if (!w)
		return;
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	*p = w->next;
	w->fn = NULL;
	w->next = graveyard;
	graveyard = w;
}

/* Free the watches deleted during the last batch. */
static void bury(void)
{
	while (graveyard) {
		struct watch *w = graveyard;

		graveyard = w->next;
		free(w);
	}
}

/* Serve events until loop_quit. */
int loop_run(void)
{
	struct epoll_event ev[64];

	quit = false;
	while (!quit) {
		int n = epoll_wait(epfd, ev, 64, -1);

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			struct watch *w = ev[i].data.ptr;

			/* A callback earlier in this batch may have deleted it. */
			if (w->fn)
				w->fn(w->arg, ev[i].events);
		}
		bury();
	}
	return 0;
}

/* Make loop_run return after the current batch. */
void loop_quit(void)
{
	quit = true;
}

/* Forget every watch and close the epoll instance; idempotent. */
void loop_fini(void)
{
	while (watches)
		loop_del(watches->fd);
	bury();
	if (epfd >= 0)
		close(epfd);
	epfd = -1;
}
