/* The pidfile that says a blkbackd serves a backend kind, held with a lock. */
#ifndef TOOLS_PIDFILE_H
#define TOOLS_PIDFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * A run-time file of a kind: <run dir>/<kind>.<ext>, the run directory being
 * $BLKBACKD_RUNDIR, else /run/blkbackd for root, else $XDG_RUNTIME_DIR/blkbackd, else
 * /tmp/blkbackd-UID. -ENAMETOOLONG if it does not fit in len bytes.
 */
int run_path(const char *kind, const char *ext, char *buf, size_t len);

/* Default pidfile for a kind: run_path(kind, "pid"). */
int pidfile_path(const char *kind, char *buf, size_t len);

/*
 * Create the directory path lives in, if missing (one level, mode 0755), and check it as
 * check_parent_dir does.
 */
int make_parent_dir(const char *path);

/*
 * Whether the directory path lives in can be trusted: a real directory (not a symlink),
 * owned by us or root, writable by no one else. 0, -ENOTDIR or -EPERM.
 */
int check_parent_dir(const char *path);

/*
 * Create and lock the pidfile and write our pid in it: returns its fd, to keep open.
 * -EBUSY if a live daemon holds it: *owner is its pid, and *leaving says it is exiting
 * (it called pidfile_leaving, or its main thread has exited), so the lock comes free
 * once its last thread has exited.
 */
int pidfile_claim(const char *path, pid_t *owner, bool *leaving);

/* The pid written in an open pidfile; 0 if none. */
pid_t pidfile_read(int fd);

/* Mark the pidfile (pidfile_claim's fd) "PID leaving": a successor waits for our exit. */
int pidfile_leaving(int fd);

/* The pid of the live daemon holding path, or 0 if none. */
pid_t pidfile_owner(const char *path);

#endif
