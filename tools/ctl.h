/* What the blkbackctl commands share: the xenstore connection, domains, errors. */
#ifndef TOOLS_CTL_H
#define TOOLS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xenstore.h>

struct ctl {
	struct xs_handle *xs;
	const char *kind;
	unsigned int self;		/* the backend domain: ours */
	char root[96];			/* /local/domain/<self>/backend/<kind> */
	int timeout;			/* seconds */
};

/*
 * Exit statuses, the same in every tool (blkbackd, blkbackctl, blkfront, xensim): 0 done,
 * 1 failed (the message says why), 2 bad command line.
 */

/* Print an error and exit 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Print what is wrong with the command line and exit 2. */
void usage_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

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

/* What list and stats show of a disk from xenstore (disk_view_read). */
struct disk_view {
	char *spec;		/* params; NULL if absent */
	char *error;		/* the backend's error node; NULL if none */
	int bs, fs;		/* the backend's and the frontend's xenbus states */
	bool ro;		/* mode r, or ro in the spec */
	uint64_t bytes;		/* from sectors (written on connect); 0 before */
};

/* Read what xenstore says of domid's devid; disk_view_free frees it. */
void disk_view_read(const struct ctl *c, unsigned int domid, uint32_t devid,
		    struct disk_view *v);

/* Free what disk_view_read allocated; idempotent. */
void disk_view_free(struct disk_view *v);

/* blkbackctl list */
int cmd_list(struct ctl *c);

/*
 * Send one request line to blkbackd's control socket: 0 and its answer in *answer
 * (caller frees) without the final "ok", or -errno with the reason in why.
 */
int control_ask(const struct ctl *c, const char *request, char **answer, char *why,
		size_t len);

/* The value of key in a "key=value key=value" line, or NULL (caller frees). */
char *kv(const char *line, const char *key);

/* A numeric value of a stats line; 0 if absent. */
uint64_t kv_num(const char *line, const char *key);

/* The daemon's "disk" line of domid's devid in a stats answer, or NULL (caller frees). */
char *stats_disk_line(const char *answer, unsigned int domid, uint32_t devid);

/* Print s as a JSON string, quoted and escaped; null for NULL. */
void json_str(const char *s);

/* blkbackctl stats [DOMAIN VDEV | --daemon] [--json] */
int cmd_stats(struct ctl *c, int argc, char **argv);

/* blkbackctl resize DOMAIN VDEV SIZE [--shrink] */
int cmd_resize(struct ctl *c, int argc, char **argv);

/* blkbackctl handover [--timeout S]: the daemon exits, leaving connected disks to the next one. */
int cmd_handover(struct ctl *c, int argc, char **argv);

/* blkbackctl unstall DOMAIN VDEV (fault=...:stall disks, for tests). */
int cmd_unstall(struct ctl *c, int argc, char **argv);

/* blkbackctl hotplug add|remove XENBUS_PATH: the xl hotplug script's work (ctl-hotplug.c). */
int cmd_hotplug(struct ctl *c, int argc, char **argv);

#endif
