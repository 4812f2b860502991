/* loop.h: the simulator daemon's single-threaded epoll loop. */
#ifndef XENSIM_LOOP_H
#define XENSIM_LOOP_H
#include <stdint.h>

/* Called with the epoll events that fired on the fd. */
typedef void loop_fn(void *arg, uint32_t events);

int loop_init(void);
/* Watch fd for events (EPOLLIN...); fn(arg, events) runs when they fire. 0 or -errno. */
int loop_add(int fd, uint32_t events, loop_fn *fn, void *arg);
int loop_mod(int fd, uint32_t events);
/* Stop watching fd; safe to call from inside any callback, also for the fd being served. */
void loop_del(int fd);
/* Serve events until loop_quit(); 0 or -errno. */
int loop_run(void);
void loop_quit(void);
void loop_fini(void);
#endif
