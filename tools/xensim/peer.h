/* peer.h: the process at the other end of a domain's socket, to stop it with its domain. */
#ifndef XENSIM_PEER_H
#define XENSIM_PEER_H
#include <sys/types.h>

struct sim_peer {
	pid_t pid;	/* SO_PEERCRED at accept; 0 if unknown */
	int pidfd;	/* that very process (SO_PEERPIDFD or pidfd_open), or -1 */
};

/* Identify the peer of accepted socket fd. */
void peer_get(int fd, struct sim_peer *p);
/* SIGKILL the peer (never the daemon itself); what and domid name it in the log. */
void peer_kill(const struct sim_peer *p, const char *what, unsigned int domid);
/* Let go of the peer's pidfd; idempotent. */
void peer_put(struct sim_peer *p);
#endif
