/* cli.h: what the blkfront subcommands share: exit codes, common options, connect. */
#ifndef BLKFRONT_CLI_H
#define BLKFRONT_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "blkfront.h"

/* Exit codes, the rule of every tool (see blkfront(1)), and verify's own. */
enum {
	EXIT_GOOD = 0,		/* done; verify: every block good */
	EXIT_IO = 1,		/* failed: an I/O, connection or system error */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_MISMATCH = 3,	/* verify found bad blocks */
};

/* Option codes of the common options (subcommands use 'a'..'z' and >= 300). */
enum {
	OPT_BACKEND_TIMEOUT = 256,
	OPT_IO_TIMEOUT,
	OPT_SLOTS,
	OPT_RING_ORDER,
	OPT_NO_PERSISTENT,
	OPT_INDIRECT_SEGS,
	OPT_INDIRECT,
	OPT_QUEUES,
	OPT_ABI,
	OPT_HELP,
};

/* The long options every subcommand takes; put this first in its table. */
#define CLI_COMMON_OPTIONS \
	{ "backend-timeout", required_argument, NULL, OPT_BACKEND_TIMEOUT }, \
	{ "io-timeout", required_argument, NULL, OPT_IO_TIMEOUT }, \
	{ "slots", required_argument, NULL, OPT_SLOTS }, \
	{ "max-ring-order", required_argument, NULL, OPT_RING_ORDER }, \
	{ "no-persistent", no_argument, NULL, OPT_NO_PERSISTENT }, \
	{ "indirect-segs", required_argument, NULL, OPT_INDIRECT_SEGS }, \
	{ "indirect", required_argument, NULL, OPT_INDIRECT }, \
	{ "queues", required_argument, NULL, OPT_QUEUES }, \
	{ "abi", required_argument, NULL, OPT_ABI }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "help", no_argument, NULL, OPT_HELP }

struct cli {
	const char *cmd;		/* the subcommand's name */
	struct blkfront_opts opts;
	int io_timeout_ms;		/* no completion for this long is an error */
	bool help;			/* --help was given */
};

/* Handle a common option: 0 if it was one, -1 (message printed) if its value is bad,
 * 1 if opt is not a common option. */
int cli_common_opt(struct cli *c, int opt, const char *arg);
/* Print "blkfront CMD: message" to stderr. */
void cli_err(const struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Connect, printing what failed: EXIT_GOOD or EXIT_IO. */
int cli_connect(struct cli *c, struct blkfront **bf);
/* Disconnect, printing what failed; returns rc, or EXIT_IO if rc was good and this failed. */
int cli_disconnect(struct cli *c, struct blkfront *bf, int rc);
/* Parse a byte count option or argument; prints the error. */
int cli_size(const struct cli *c, const char *what, const char *s, uint64_t *v);
/* Parse a whole number in [min, max]; prints the error. */
int cli_uint(const struct cli *c, const char *what, const char *s, uint64_t min, uint64_t max,
	     uint64_t *v);
/* Print the usage text to f. */
void cli_usage(FILE *f);

int cmd_info(struct cli *c, int argc, char **argv);
int cmd_read(struct cli *c, int argc, char **argv);
int cmd_write(struct cli *c, int argc, char **argv);
int cmd_verify(struct cli *c, int argc, char **argv);
int cmd_bench(struct cli *c, int argc, char **argv);

#endif
