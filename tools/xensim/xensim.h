/*
 * xensim.h: what the parts of the xensim daemon share (core.c): the run directory, logging,
 * sockets and the domain table. Creating and destroying domains is domain.h's; the xenstore
 * server is in xsd.h, the hypervisor side in hv.h.
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

/* The daemon's run directory, absolute (set by daemon.c). */
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
/* Append "id name\n" for every domain to a malloc'ed string. */
char *dom_list(void);
/* Next domain after prev (NULL: the first), in id order. */
struct sim_domain *dom_next(const struct sim_domain *prev);
/* Put d in the table at id (NULL: take the domain there out); for domain.c. */
void dom_set(unsigned int id, struct sim_domain *d);

/* Build "$sim_dir/dom<id>/<leaf>" into buf; -ENAMETOOLONG if it does not fit a socket. */
int sim_dom_path(char *buf, size_t size, unsigned int id, const char *leaf);
/* Listen on a Unix socket of type (SOCK_STREAM, SOCK_SEQPACKET) at path, replacing a stale
 * one; a non-blocking fd or -errno. */
int sim_listen(const char *path, int type);
#endif
