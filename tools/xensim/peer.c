/* peer.c: the process at the other end of a domain's socket, to stop it with its domain. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "peer.h"
#include "xensim.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif

/* Its pid, and a pidfd so that a later kill cannot hit a process that reused the pid. */
void peer_get(int fd, struct sim_peer *p)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred), len = sizeof(p->pidfd);

	p->pid = 0;
	p->pidfd = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
		p->pid = cred.pid;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &p->pidfd, &len) == 0 && p->pidfd >= 0)
		return;
	p->pidfd = -1;
#ifdef SYS_pidfd_open
	/* Before Linux 6.5: the pid could only have been reused between connect and here. */
	if (p->pid > 0)
		p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
#endif
}

/* SIGKILL it through its pidfd; by pid only where pidfds are missing (Linux < 5.3). */
void peer_kill(const struct sim_peer *p, const char *what, unsigned int domid)
{
	if (p->pid <= 0 || p->pid == getpid())
		return;
#ifdef SYS_pidfd_send_signal
	if (p->pidfd >= 0) {
		if (syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0) == 0)
			sim_log("%s: dom%u destroyed: killed pid %d", what, domid, (int)p->pid);
		else if (errno == ESRCH)
			sim_dbg("%s: dom%u destroyed: pid %d already gone", what, domid,
				(int)p->pid);
		else
			sim_log("%s: dom%u destroyed: cannot kill pid %d: %s", what, domid,
				(int)p->pid, strerror(errno));
		return;
	}
#endif
	sim_log("%s: dom%u destroyed: killing pid %d", what, domid, (int)p->pid);
	kill(p->pid, SIGKILL);
}

/* Close the pidfd. */
void peer_put(struct sim_peer *p)
{
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
}
