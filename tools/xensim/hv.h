/*
 * hv.h: the simulated hypervisor inside the xensim daemon: each domain's grant table,
 * event channels and guest memory, served to the drop-in libxengnttab/libxenevtchn over
 * the socket $XENSIM_DIR/dom<ID>/hv, plus the counters file.
 * All functions run on the daemon's loop thread (loop.h) and return 0 or -errno.
 */
#ifndef XENSIM_HV_H
#define XENSIM_HV_H
#include "counters.h"

/* Create $dir/counters and get ready to serve; call once after loop_init. */
int hv_init(const char *dir);
/* Give domain domid its memory, grant table, port space and the listening socket
 * $dir/dom<domid>/hv (the directory exists already). */
int hv_domain_create(unsigned int domid);
/* SIGKILL the processes connected to the domain's hv socket (added by the hypervisor side:
 * call it before hv_domain_destroy when a domain is destroyed, not at shutdown). */
void hv_domain_kill(unsigned int domid);
/* Tear the domain down as Xen does: its grants are revoked, its event channels closed
 * (their peers' ports become unbound), its connections closed, and pages that another
 * domain still maps stay alive until unmapped. Idempotent. */
void hv_domain_destroy(unsigned int domid);
/* The shared counters (for the control socket's "counters" command). */
const struct xensim_counters *hv_counters(void);
/* Destroy every domain and close everything; idempotent. */
void hv_fini(void);
#endif
