/* detach.c: become a daemon whose starter returns only once it serves. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "detach.h"

/* Fork; the parent waits for the child's word, the child carries on. */
int detach_start(int *ready_fd)
{
	int p[2], status;
	char ok;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(p[0]);
		close(p[1]);
		return err;
	}
	if (pid == 0) {
		close(p[0]);
		setsid();
		*ready_fd = p[1];
		return 0;
	}
	close(p[1]);
	/* One byte means ready; end of file means the child gave up (and said why). */
	if (read(p[0], &ok, 1) == 1)
		_exit(0);
	waitpid(pid, &status, 0);
	_exit(1);
}

/* Tell the waiting parent we serve, and let go of the terminal. */
void detach_ready(int ready_fd)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	if (chdir("/"))
		(void)0;	/* nothing depends on the working directory any more */
	if (write(ready_fd, "1", 1) != 1)
		(void)0;	/* the parent is gone: nobody to tell */
	close(ready_fd);
}
