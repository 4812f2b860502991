/* Pidfiles held with flock, so a stale file from a crashed daemon never counts. */
#include <errno.h>
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

/* Read the pid written in an open pidfile. */
static pid_t read_pid(int fd)
{
	char buf[24] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	return n > 0 ? (pid_t)atol(buf) : 0;
}

/*
 * Create the directory path lives in, if missing (one level, mode 0755). It must be ours
 * or root's: another user's (a /tmp directory made first) could replace our files.
 */
int make_parent_dir(const char *path)
{
	char dir[PATH_MAX], *slash;
	struct stat st;

	if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			return -errno;
		if (stat(dir, &st))
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		if (st.st_uid != geteuid() && st.st_uid != 0)
			return -EPERM;
	}
	return 0;
}

/* Create and lock the pidfile; -EBUSY (with *owner set) if a live daemon holds it. */
int pidfile_claim(const char *path, pid_t *owner)
{
	char buf[24];
	int fd, len, err = make_parent_dir(path);

	if (err)
		return err;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);	/* kept open: it holds the lock */
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		*owner = read_pid(fd);
		close(fd);
		return err;
	}
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, buf, (size_t)len, 0) != len) {
		err = -errno;
		close(fd);
		return err;
	}
	return 0;
}

/* The pid of the live daemon holding path, or 0 if none. */
pid_t pidfile_owner(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	pid_t pid = 0;

	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK)
		pid = read_pid(fd);
	close(fd);
	return pid;
}
