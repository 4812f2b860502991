/* What the daemon process holds as a whole, for 'blkbackctl stats --daemon'. */
#ifndef BLKBACK_PROCSTAT_H
#define BLKBACK_PROCSTAT_H

#include <stdio.h>

/*
 * Print the control socket's "daemon" line: open file descriptors, threads, heap bytes in
 * use, grant pages mapped now and the disks (devices) the daemon knows of:
 *   daemon fds=N threads=N heap_bytes=N grant_pages=N disks=N
 */
void procstat_print(FILE *out, unsigned int disks);

#endif
