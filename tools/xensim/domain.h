/* domain.h: creating and destroying the simulated domains (domain.c), for daemon.c. */
#ifndef XENSIM_DOMAIN_H
#define XENSIM_DOMAIN_H
/* Create Domain-0 (id 0). */
int dom_init(void);
/* Create a domain like a toolstack: next free id, hypervisor, then xenstore. */
int dom_create(const char *name, unsigned int *id);
/* Destroy a domain: hypervisor, xenstore release, its processes killed. */
int dom_destroy(unsigned int id);
/* Destroy every domain, dom0 last; idempotent. */
void dom_destroy_all(void);
/* Mark domain id shut down with reason (0-5, as Xen's SHUTDOWN_*); -ENOENT, -EPERM (dom0). */
int dom_shutdown(unsigned int id, unsigned int reason);
#endif
