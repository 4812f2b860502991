/*
 * xensim.h: what the parts of the xensim daemon share: the run directory, logging and the
 * domain table (domain.c). The xenstore server is in xsd.h, the hypervisor side in hv.h.
 */
#ifndef XENSIM_XENSIM_H
#define XENSIM_XENSIM_H
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define XENSIM_NAME_MAX 64
/* Room for "$dir/dom1023/xenstored" in a Unix socket address. */
#define XENSIM_DIR_MAX 88

/* The daemon's run directory, absolute (daemon.c). */
extern char sim_dir[XENSIM_DIR_MAX + 1];
/* -d given: log every request. */
extern bool sim_debug;

/* Log a line to the daemon's stderr (the --log file). */
void sim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log a line only when debugging. */
#define sim_dbg(...) do { if (sim_debug) sim_log(__VA_ARGS__); } while (0)

struct sim_domain {
	unsigned int id;
	char name[XENSIM_NAME_MAX];
	int target;       /* SET_TARGET: domain this one may act for, or -1 */
	bool introduced;  /* known to xenstore (IS_DOMAIN_INTRODUCED) */
	bool shutdown;    /* shut down (xensim shutdown), with ... */
	unsigned int reason;	/* ... Xen's reason: SHUTDOWN_poweroff (0) .. soft_reset (5) */
};

/* The domain with this id, or NULL. */
struct sim_domain *dom_by_id(unsigned int id);
/* The domain named NAME or with the decimal id REF, or NULL. */
struct sim_domain *dom_lookup(const char *ref);
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
/* Append "id name\n" for every domain to a malloc'ed string. */
char *dom_list(void);
/* Next domain after prev (NULL: the first), in id order. */
struct sim_domain *dom_next(const struct sim_domain *prev);

/* Build "$sim_dir/dom<id>/<leaf>" into buf; -ENAMETOOLONG if it does not fit a socket. */
int sim_dom_path(char *buf, size_t size, unsigned int id, const char *leaf);
/* Listen on a Unix socket of type (SOCK_STREAM, SOCK_SEQPACKET) at path, replacing a stale
 * one; a non-blocking fd or -errno. */
int sim_listen(const char *path, int type);
#endif
