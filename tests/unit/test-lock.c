/*
 * Unit test: image files are locked (storage/filelock.c). A second read-write open of one
 * file is refused with a message naming the holder (this process, another process by pid
 * and command, or none when only I/O in the kernel still holds the file); read-only opens
 * share it, but not with a writer; writers that say ,shared share it with each other and
 * with readers, but not with a sole writer. The lock lives as long as its open file
 * description, not as long as the fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../storage/storage.h"
#include "check.h"
#include "open-spec.h"

#define DISK_SIZE (1024 * 1024)

static char dir[256], image[300];

/* Open the spec fmt names with the image's path in it; the message in err either way. */
static int open_image(const char *fmt, struct storage **disk, char *err, size_t errlen)
{
	char text[400];

	snprintf(text, sizeof(text), fmt, image);
	return open_spec(text, disk, err, errlen);
}

/* A spec that must open; returns the disk (NULL on failure, counted). */
static struct storage *must_open(const char *fmt)
{
	struct storage *disk = NULL;
	char err[512];
	int ret = open_image(fmt, &disk, err, sizeof(err));

	CHECK(ret == 0, "'%s' refused (%d): %s", fmt, ret, err);
	return ret ? NULL : disk;
}

/* A spec that must be refused with -EBUSY and a message holding each of the words. */
static void must_refuse(const char *fmt, const char *w1, const char *w2)
{
	struct storage *disk = NULL;
	char err[512];
	int ret = open_image(fmt, &disk, err, sizeof(err));

	CHECK(ret == -EBUSY, "'%s' gave %d (%s), want -EBUSY", fmt, ret, err);
	CHECK(strstr(err, image) != NULL, "'%s': message '%s' does not name the file", fmt, err);
	CHECK(strstr(err, w1) != NULL, "'%s': message '%s' does not say '%s'", fmt, err, w1);
	CHECK(!w2 || strstr(err, w2), "'%s': message '%s' does not say '%s'", fmt, err, w2);
	if (!ret)
		storage_close(disk);
	printf("refused: %s\n", err);
}

/* Two opens in this process: rw beside rw, ro beside rw and the reverse are refused. */
static void test_this_process(void)
{
	struct storage *rw = must_open("file:%s"), *ro1, *ro2;

	must_refuse("file:%s", "this blkbackd", NULL);
	must_refuse("uring:%s", "this blkbackd", ",shared");
	must_refuse("file:%s,ro", "in use read-write", "this blkbackd");
	must_refuse("file:%s,shared", "this blkbackd", NULL);
	storage_close(rw);

	/* Closed: free again. Readers share; a writer is refused beside them. */
	ro1 = must_open("file:%s,ro");
	ro2 = must_open("file:%s,ro");
	must_refuse("file:%s", "this blkbackd", NULL);
	storage_close(ro1);
	storage_close(ro2);
}

/* ,shared writers share with each other and with readers, never with a sole writer. */
static void test_shared(void)
{
	struct storage *a = must_open("file:%s,shared"), *b = must_open("file:%s,shared");
	struct storage *ro = must_open("file:%s,ro");

	CHECK(a && b && !a->readonly && !b->readonly, "shared disks are not writable");
	must_refuse("file:%s", "this blkbackd", NULL);
	must_refuse("uring:%s", "this blkbackd", NULL);
	storage_close(a);
	storage_close(b);
	storage_close(ro);
	storage_close(must_open("file:%s"));	/* nothing is left locked */
}

/*
 * Another process holds the file: opened through storage_open (an OFD lock, pid -1 in
 * /proc/locks) or locked with a classic POSIX lock. It is named by pid and command.
 */
static void test_other_process(bool posix)
{
	int go[2], done[2];
	char c = 0, want[64];
	pid_t pid;

	if (pipe(go) || pipe(done)) {
		CHECK(0, "pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		struct storage *disk = NULL;
		char err[512];
		int fd = -1;

		close(go[0]);
		close(done[1]);
		prctl(PR_SET_NAME, posix ? "posixholder" : "ofdholder");
		if (posix) {
			fd = open(image, O_RDWR | O_CLOEXEC);
			if (fd < 0 || fcntl(fd, F_SETLK, &fl))
				_exit(1);
		} else if (open_image("file:%s", &disk, err, sizeof(err))) {
			_exit(1);
		}
		if (write(go[1], "x", 1) != 1 || read(done[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(go[1]);
	close(done[0]);
	if (read(go[0], &c, 1) != 1) {
		CHECK(0, "the %s lock holder did not start", posix ? "POSIX" : "OFD");
	} else {
		snprintf(want, sizeof(want), "pid %ld (%s)", (long)pid,
			 posix ? "posixholder" : "ofdholder");
		must_refuse("file:%s", want, NULL);
		must_refuse("file:%s,ro", want, "in use read-write");
	}
	close(done[1]);
	close(go[0]);
	waitpid(pid, NULL, 0);
	storage_close(must_open("file:%s"));	/* released when the holder exits */
}

/*
 * The lock belongs to the open file description. One that no process has in its fd
 * table (here: in flight in a unix socket; at a handover: I/O the kernel still runs for
 * a process that has exited) still holds the file, and the message says no process does.
 */
static void test_no_process(void)
{
	struct storage *disk = must_open("file:%s");
	int sv[2], fd = open(image, O_RDWR | O_CLOEXEC);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	storage_close(disk);
	if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		CHECK(0, "setting up a lock in flight: %s", strerror(errno));
		return;
	}
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	CHECK(sendmsg(sv[0], &msg, 0) == 1, "sendmsg: %s", strerror(errno));
	close(fd);	/* no fd of any process refers to the description now */
	must_refuse("file:%s", "no running process", "still in the kernel");
	close(sv[0]);
	close(sv[1]);	/* the description, and its lock, go with the message */
	storage_close(must_open("file:%s"));
}

/* The spec option: shared, for file and uring only, with no value. */
static void test_spec(void)
{
	static const char *const bad[] = { "mem:size=1M,shared", "file:/x.img,shared=1" };
	struct storage_spec spec;
	char err[512];

	CHECK(!storage_spec_parse("uring:/x.img,shared,direct", &spec, err, sizeof(err)) &&
	      spec.shared && spec.direct && !spec.readonly, "uring:/x.img,shared,direct: %s", err);
	storage_spec_free(&spec);
	CHECK(!storage_spec_parse("file:/x.img", &spec, err, sizeof(err)) && !spec.shared,
	      "file:/x.img: %s", err);
	storage_spec_free(&spec);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(storage_spec_parse(bad[i], &spec, err, sizeof(err)) == -EINVAL &&
		      strstr(err, "shared"), "'%s' accepted, or refused without naming shared (%s)",
		      bad[i], err);
	}
}

/* Remove the scratch file and directory. */
static void cleanup(void)
{
	unlink(image);
	rmdir(dir);
}

int main(void)
{
	int fd;

	snprintf(dir, sizeof(dir), "%s/blkback-lock.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") :
		 "/tmp");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "test-lock: mkdtemp %s: %s\n", dir, strerror(errno));
		return 1;
	}
	snprintf(image, sizeof(image), "%s/disk.img", dir);
	atexit(cleanup);
	fd = open(image, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, DISK_SIZE)) {
		fprintf(stderr, "test-lock: cannot create %s: %s\n", image, strerror(errno));
		return 1;
	}
	close(fd);
	test_spec();
	test_this_process();
	test_shared();
	test_other_process(false);
	test_other_process(true);
	test_no_process();
	return check_done("test-lock");
}
