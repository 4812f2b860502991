/*
 * blkbackctl's parts, in one direction: blkbackctl.c (main) dispatches to the commands
 * (ctl-attach.c, ctl-list.c, ctl-stats.c, ctl-limit.c), which use the shared helpers
 * (ctl-common.c, ctl-control.c). No helper calls a command, and no command calls main's file.
 */
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

/* ---- Shared helpers: ctl-common.c ---- */

/* Print an error and exit 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Print what is wrong with the command line and exit 2. */
void usage_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Parse a --timeout value in seconds; usage_die if it is not one from 1 to 86400. */
int parse_timeout(const char *s);

/* Seconds on the monotonic clock. */
double ctl_now(void);

/* Longest text ctl_size_text writes, with its NUL. */
#define CTL_SIZE_TEXT 32

/* A disk's size for people, exact: "64 MiB", "1536 KiB" or "2560 bytes" (never "0 MiB"). */
const char *ctl_size_text(uint64_t bytes, char buf[CTL_SIZE_TEXT]);

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

/* ---- Shared helpers: the daemon's control socket, ctl-control.c ---- */

/*
 * Send one request line to blkbackd's control socket: 0 and its answer in *answer
 * (caller frees) without the final "ok", or -errno with the reason in why.
 */
int control_ask(const struct ctl *c, const char *request, char **answer, char *why,
		size_t len);

/* control_ask, or die with its reason: the answer (caller frees). */
char *control_request(const struct ctl *c, const char *request);

/* The value of key in a "key=value key=value" line, or NULL (caller frees). */
char *kv(const char *line, const char *key);

/* A numeric value of a stats line; 0 if absent. */
uint64_t kv_num(const char *line, const char *key);

/* The daemon's "disk" line of domid's devid in a stats answer, or NULL (caller frees). */
char *stats_disk_line(const char *answer, unsigned int domid, uint32_t devid);

/*
 * ---- Commands ----
 * Each takes its own argv (argv[0] is the command's name). It returns 0 when done and 2
 * on an option it does not know (main then prints the usage); it exits 1 or 2 itself with
 * a message (die, usage_die) on anything else.
 */

/* blkbackctl attach DOMAIN SPEC [--vdev NAME] [--ro] [--timeout S] [--nowait] (ctl-attach.c) */
int cmd_attach(struct ctl *c, int argc, char **argv);

/* blkbackctl detach DOMAIN VDEV [--timeout S] [--force] (ctl-attach.c) */
int cmd_detach(struct ctl *c, int argc, char **argv);

/* blkbackctl list (ctl-list.c) */
int cmd_list(struct ctl *c, int argc, char **argv);

/* blkbackctl stats [DOMAIN VDEV | --daemon] [--json] (ctl-stats.c) */
int cmd_stats(struct ctl *c, int argc, char **argv);

/* blkbackctl resize DOMAIN VDEV SIZE [--shrink] (ctl-stats.c) */
int cmd_resize(struct ctl *c, int argc, char **argv);

/* blkbackctl handover [--timeout S]: the daemon exits, leaving connected disks to the next one. */
int cmd_handover(struct ctl *c, int argc, char **argv);

/* blkbackctl limit DOMAIN VDEV [iops=N] [iops-burst=N] [bps=SIZE] [bps-burst=SIZE] (ctl-limit.c) */
int cmd_limit(struct ctl *c, int argc, char **argv);

/* blkbackctl unstall DOMAIN VDEV (fault=...:stall disks, for tests). */
int cmd_unstall(struct ctl *c, int argc, char **argv);

/* blkbackctl free UUID VDEV: free a kept memory disk (ctl-free.c). */
int cmd_free(struct ctl *c, int argc, char **argv);

/* blkbackctl hotplug add|remove XENBUS_PATH: the xl hotplug script's work (ctl-hotplug.c). */
int cmd_hotplug(struct ctl *c, int argc, char **argv);

#endif
