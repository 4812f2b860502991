/* daemon.h: the xensim daemon entry point, for the CLI (xensim.c). */
#ifndef XENSIM_DAEMON_H
#define XENSIM_DAEMON_H
/* Run the daemon in directory dir (absolute, existing). When ready_fd >= 0, write one NUL
 * there once every socket listens, or an error message; returns the exit status. */
int daemon_run(const char *dir, int ready_fd);
#endif
