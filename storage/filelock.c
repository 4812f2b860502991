/*
 * Locks on disk image files, as QEMU locks its images: open file description (OFD) locks,
 * a write lock for a writer and a read lock for a reader or a writer that shares the file
 * on purpose. OFD locks belong to the open file description, not to a process: two opens
 * in one process conflict like two processes do, and the lock lasts while any I/O still
 * uses the description, even after the process that opened it has gone.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "filelock.h"

/* Whether s is a non-empty string of digits. */
static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Whether /proc/PID/fdinfo/FD shows a lock on the file whose /proc/locks key is key. */
static bool fdinfo_has_lock(int dirfd, const char *fd, const char *key)
{
	char buf[4096];
	ssize_t n;
	int f = openat(dirfd, fd, O_RDONLY | O_CLOEXEC);

	if (f < 0)
		return false;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* lock:	1: OFDLCK ADVISORY  WRITE -1 fe:00:10953170 0 EOF */
	for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, "lock:", 5) && strstr(line, key))
			return true;
	return false;
}

/*
 * The pid of a process with an fd whose open file description holds a lock on the file
 * (key as in /proc/locks, " MAJ:MIN:INO "), from /proc/PID/fdinfo: Linux shows -1 as the
 * pid of an OFD lock in /proc/locks and F_OFD_GETLK. 0 if none is found; *hidden counts
 * the processes whose fds this user may not read.
 */
static pid_t find_lock_owner(const char *key, unsigned int *hidden)
{
	DIR *proc = opendir("/proc");
	struct dirent *p;
	pid_t found = 0;

	if (!proc)
		return 0;
	while (!found && (p = readdir(proc))) {
		char path[300];
		struct dirent *f;
		DIR *fds;

		if (!all_digits(p->d_name))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fdinfo", p->d_name);
		fds = opendir(path);
		if (!fds) {
			if (errno == EACCES || errno == EPERM)
				(*hidden)++;
			continue;
		}
		while (!found && (f = readdir(fds)))
			if (all_digits(f->d_name) && fdinfo_has_lock(dirfd(fds), f->d_name, key))
				found = (pid_t)atol(p->d_name);
		closedir(fds);
	}
	closedir(proc);
	return found;
}

/* Name process pid in buf: "this blkbackd", or "pid N (COMMAND)". */
static void name_pid(pid_t pid, char *buf, size_t len)
{
	char path[48], comm[32] = "?";
	FILE *f;

	if (pid == getpid()) {
		snprintf(buf, len, "this blkbackd (another of its disks)");
		return;
	}
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	snprintf(buf, len, "pid %ld (%s)", (long)pid, comm);
}

/*
 * Describe who holds a lock on fd's file that conflicts with a write (or read) lock:
 * returns the pid, naming it in buf, or 0 when no running process that we may look
 * into has the file open with a lock.
 */
static pid_t lock_holder(int fd, bool write, char *buf, size_t len)
{
	struct flock fl = { .l_type = write ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET };
	unsigned int hidden = 0;
	char key[64];
	struct stat st;
	pid_t pid = 0;

	/* A POSIX lock (fcntl F_SETLK, lockf) names its process; an OFD lock says -1. */
	if (!fcntl(fd, F_OFD_GETLK, &fl) && fl.l_type != F_UNLCK && fl.l_pid > 0)
		pid = fl.l_pid;
	if (!pid && !fstat(fd, &st)) {
		snprintf(key, sizeof(key), " %02x:%02x:%lu ", major(st.st_dev), minor(st.st_dev),
			 (unsigned long)st.st_ino);
		pid = find_lock_owner(key, &hidden);
	}
	if (pid)
		name_pid(pid, buf, len);
	else if (hidden)
		snprintf(buf, len, " (or one of the %u processes blkbackd may not look into)",
			 hidden);
	else
		buf[0] = '\0';
	return pid;
}

/* Take a whole-file OFD lock on fd: write or read; -EBUSY naming the holder on a conflict. */
int file_lock(int fd, const char *path, bool write, char *err, size_t errlen)
{
	struct flock fl = { .l_type = write ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET };
	char holder[160];
	pid_t pid;
	int e;

	/*
	 * A lock no running process holds belongs to I/O the kernel still runs for one that
	 * has exited, and the end of an io_uring's teardown may lag its process by a moment;
	 * one of ours may be a disk whose close still runs on another thread (a detach just
	 * before). Such a lock gets a second (nothing tells when it goes) before the open
	 * fails.
	 */
	for (int tries = 0;; tries++) {
		if (!fcntl(fd, F_OFD_SETLK, &fl))
			return 0;
		e = errno;
		if (e != EAGAIN && e != EACCES) {
			snprintf(err, errlen, "cannot lock %s: %s; blkbackd locks every image it "
				 "serves, so that no two writers use one by mistake", path,
				 strerror(e));
			return -e;
		}
		pid = lock_holder(fd, write, holder, sizeof(holder));
		if ((pid && pid != getpid()) || tries == 10)
			break;
		poll(NULL, 0, 100);
	}
	if (!pid)
		snprintf(err, errlen, "%s is locked, by no running process%s: I/O started by one "
			 "that has exited (an earlier blkbackd?) is still in the kernel; attach it "
			 "again once that I/O has ended", path, holder);
	else if (write)
		snprintf(err, errlen, "%s is in use: %s holds a lock on it; detach it there first "
			 "(only the writers of a cluster disk may share it, each with ,shared)",
			 path, holder);
	else
		snprintf(err, errlen, "%s is in use read-write: %s holds a write lock on it; "
			 "detach it there first (a cluster disk's writers may share it, each with "
			 ",shared)", path, holder);
	return -EBUSY;
}
