/* detach.h: become a daemon whose starter returns only once it serves. */
#ifndef BLKBACK_DETACH_H
#define BLKBACK_DETACH_H

/*
 * Fork: the parent waits, and exits 0 once the child calls detach_ready, or 1 if the
 * child exits first (its errors went to the terminal). The child returns 0 with *ready_fd
 * set, in a new session. Returns -errno if the fork fails.
 */
int detach_start(int *ready_fd);
/* The child serves: stdin/stdout/stderr go to /dev/null and the parent exits 0. */
void detach_ready(int ready_fd);
#endif
