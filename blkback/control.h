/* The daemon's control socket: blkbackctl asks for statistics and resizes through it. */
#ifndef BLKBACK_CONTROL_H
#define BLKBACK_CONTROL_H

#include "backend.h"

/*
 * The protocol: one request line per connection, answered and closed.
 *   stats                          -> "disk key=value ..." lines, one "daemon key=value ..."
 *                                     line (procstat.h), then "ok"
 *   resize DOMID DEVID BYTES [shrink] -> "ok" or "error MESSAGE" once the resize has
 *                                     run (on a thread of its own); "error ... busy"
 *                                     at once while another open, close or resize of
 *                                     that disk runs
 *   limit DOMID DEVID [KEY=VALUE...] -> "limits key=value ..." and "ok" once the disk's
 *                                     I/O limits are changed (iops=, iops-burst=, bps=,
 *                                     bps-burst=; none given: as they are), or "error ..."
 *   leave                          -> "ok" once the daemon has let go of every disk,
 *                                     leaving connected ones to a successor
 *                                     (backend_leave), just before it exits
 */

/* Listen on path (a stale socket there is replaced; its directory must exist). Returns the fd or -errno. */
int control_open(const char *path);

/* Accept one connection on the listening fd and answer its request. */
void control_serve(int lfd, struct blk_backend *be);

/*
 * Answer the leave request, once the daemon has let go of everything it could: it names
 * the disks whose storage still holds I/O, which the process waits for as it exits.
 */
void control_leave_done(struct blk_backend *be);

#endif
