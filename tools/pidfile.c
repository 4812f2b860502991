/* Pidfiles held with flock, so a stale file from a crashed daemon never counts. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pidfile.h"

/*
 * A run-time file of a kind: <run dir>/<kind>.<ext>; see blkbackd(8), ENVIRONMENT. The run
 * directory is the one xensim(1) would pick, with blkbackd in place of xensim.
 */
int run_path(const char *kind, const char *ext, char *buf, size_t len)
{
	const char *dir = getenv("BLKBACKD_RUNDIR"), *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (dir && *dir)
		n = snprintf(buf, len, "%s/%s.%s", dir, kind, ext);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/run/blkbackd/%s.%s", kind, ext);
	else if (xdg && *xdg)	/* an ordinary user, e.g. in the simulator */
		n = snprintf(buf, len, "%s/blkbackd/%s.%s", xdg, kind, ext);
	else			/* an ordinary user without a runtime directory */
		n = snprintf(buf, len, "/tmp/blkbackd-%u/%s.%s", (unsigned int)geteuid(), kind,
			     ext);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Default pidfile for a kind. */
int pidfile_path(const char *kind, char *buf, size_t len)
{
	return run_path(kind, "pid", buf, len);
}

/*
 * The pid written in an open pidfile, and whether that daemon is leaving: it wrote
 * "PID leaving" as it began to exit, or its main thread has already exited while
 * another thread (one inside a system call that storage does not answer) keeps the
 * process, and so the pidfile's lock, alive.
 */
static pid_t read_pid(int fd, bool *leaving)
{
	char buf[48] = "", path[64], stat[256] = "", *paren;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	pid_t pid = n > 0 ? (pid_t)atol(buf) : 0;
	FILE *f;

	*leaving = pid > 0 && strstr(buf, " leaving");
	if (pid <= 0 || *leaving)
		return pid;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(stat, sizeof(stat), f))
			stat[0] = '\0';
		fclose(f);
	}
	/* PID (COMMAND) STATE ...: Z or X once the main thread has exited */
	paren = strrchr(stat, ')');
	*leaving = paren && (paren[1] == ' ') && (paren[2] == 'Z' || paren[2] == 'X');
	return pid;
}

/* The pid written in an open pidfile; 0 if none. */
pid_t pidfile_read(int fd)
{
	bool leaving;

	return read_pid(fd, &leaving);
}

/*
 * Create the directory path lives in, if missing (one level, mode 0755). It must be ours
 * or root's: another user's (a /tmp directory made first) could replace our files.
 */
int make_parent_dir(const char *path)
{
	char dir[PATH_MAX], *slash;

	if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			return -errno;
	}
	return check_parent_dir(path);
}

/*
 * The directory path lives in must be ours to trust: a directory, not a symlink (lstat:
 * a symlink in /tmp can be swapped for another user's directory between two uses),
 * owned by us or root, and writable by nobody else. -ENOTDIR or -EPERM otherwise.
 */
int check_parent_dir(const char *path)
{
	char dir[PATH_MAX], *slash;
	struct stat st;

	if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (lstat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return -EPERM;
	return 0;
}

/*
 * Create and lock the pidfile and write our pid in it: returns its fd, kept open, for
 * the lock lives as long as the process. -EBUSY (with *owner and *leaving set) if a live
 * daemon holds it.
 */
int pidfile_claim(const char *path, pid_t *owner, bool *leaving)
{
	struct stat held, now;
	char buf[24];
	int fd, len, err = make_parent_dir(path);

	if (err)
		return err;
	for (;;) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			err = errno == EWOULDBLOCK ? -EBUSY : -errno;
			*owner = read_pid(fd, leaving);
			close(fd);
			return err;
		}
		/* Locked: but if someone removed the file meanwhile, the lock is on nothing. */
		if (fstat(fd, &held) || stat(path, &now) || held.st_ino != now.st_ino ||
		    held.st_dev != now.st_dev) {
			close(fd);
			continue;
		}
		break;
	}
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, buf, (size_t)len, 0) != len) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/*
 * Say in the pidfile (fd from pidfile_claim) that this daemon is exiting: a successor
 * then waits for the lock instead of giving up. The file stays, locked until the last
 * thread of the process has exited.
 */
int pidfile_leaving(int fd)
{
	char buf[40];
	int len = snprintf(buf, sizeof(buf), "%ld leaving\n", (long)getpid());

	/* Longer than "PID\n" and starting alike: a reader never sees an empty file. */
	if (pwrite(fd, buf, (size_t)len, 0) != len)
		return -errno;
	return 0;
}

/* The pid of the live daemon holding path, or 0 if none. */
pid_t pidfile_owner(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool leaving;
	pid_t pid = 0;

	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK)
		pid = read_pid(fd, &leaving);
	close(fd);
	return pid;
}
