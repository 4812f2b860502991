/* What the blkbackctl commands share: the xenstore connection, domains, errors. */
#ifndef TOOLS_CTL_H
#define TOOLS_CTL_H

#include <xenstore.h>

struct ctl {
	struct xs_handle *xs;
	const char *kind;
	unsigned int self;		/* the backend domain: ours */
	char root[96];			/* /local/domain/<self>/backend/<kind> */
	int timeout;			/* seconds */
};

/* Print an error and exit 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Connect to xenstore and find our own domid. */
void ctl_open(struct ctl *c);

/* Refuse to go on when no daemon serves our kind. */
void need_daemon(const struct ctl *c);

/* Resolve a domain name or id; die with advice if there is no such domain. */
unsigned int domain_id(const struct ctl *c, const char *arg);

/* Resolve a domain name, or take any domid as it is (for what only blkbackd knows). */
unsigned int domain_ref(const struct ctl *c, const char *arg);

/* The name of a domain, or "?" (caller frees). */
char *domain_name(const struct ctl *c, unsigned int domid);

/* blkbackctl stats [DOMAIN VDEV | --daemon] [--json] */
int cmd_stats(struct ctl *c, int argc, char **argv);

/* blkbackctl resize DOMAIN VDEV SIZE [--shrink] */
int cmd_resize(struct ctl *c, int argc, char **argv);

/* blkbackctl handover [--timeout S]: the daemon exits, leaving connected disks to the next one. */
int cmd_handover(struct ctl *c, int argc, char **argv);

/* blkbackctl unstall DOMAIN VDEV (fault=...:stall disks, for tests). */
int cmd_unstall(struct ctl *c, int argc, char **argv);

#endif
