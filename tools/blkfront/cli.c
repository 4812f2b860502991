/* What the blkfront subcommands share: common options, messages, connect. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "../../blkback/num.h"
#include "bfutil.h"
#include "cli.h"

/* Print "blkfront CMD: message" to stderr. */
void cli_err(const struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "blkfront %s: ", c->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Parse a byte count; prints the error. */
int cli_size(const struct cli *c, const char *what, const char *s, uint64_t *v)
{
	int err = num_parse_size(s, UINT64_MAX, v);
	char msg[256];

	if (err) {
		num_error(msg, sizeof(msg), what, s, err, true, 0, UINT64_MAX);
		cli_err(c, "%s", msg);
	}
	return err;
}

/* Parse a whole number in [min, max]; prints the error. */
int cli_uint(const struct cli *c, const char *what, const char *s, uint64_t min, uint64_t max,
	     uint64_t *v)
{
	int err = num_parse_uint(s, max, v);
	char msg[256];

	if (!err && *v < min)
		err = -EINVAL;
	if (err) {
		num_error(msg, sizeof(msg), what, s, err, false, min, max);
		cli_err(c, "%s", msg);
	}
	return err;
}

/* Handle one of the common options. */
int cli_common_opt(struct cli *c, int opt, const char *arg)
{
	unsigned int ms;
	uint64_t v;

	switch (opt) {
	case OPT_BACKEND_TIMEOUT:
	case OPT_IO_TIMEOUT:
		if (bf_parse_seconds(arg, 3600, &ms)) {
			cli_err(c, "bad timeout '%s': give seconds, more than 0 and at most 3600",
				arg);
			return -1;
		}
		if (opt == OPT_BACKEND_TIMEOUT)
			c->opts.timeout_ms = ms;
		else
			c->io_timeout_ms = (int)ms;
		return 0;
	case OPT_SLOTS:
		if (cli_uint(c, "--slots", arg, 1, BLKFRONT_MAX_SLOTS, &v))
			return -1;
		c->opts.slots = (unsigned int)v;
		return 0;
	case OPT_RING_ORDER:
		if (cli_uint(c, "--max-ring-order", arg, 0, BLKFRONT_MAX_RING_ORDER, &v))
			return -1;
		c->opts.max_ring_order = (int)v;
		return 0;
	case OPT_NO_PERSISTENT:
		c->opts.no_persistent = true;
		return 0;
	case OPT_INDIRECT_SEGS:
		if (cli_uint(c, "--indirect-segs", arg, 0, UINT16_MAX, &v))
			return -1;
		c->opts.indirect_segs = (int)v;
		return 0;
	case OPT_INDIRECT:
		if (strcmp(arg, "always") && strcmp(arg, "auto")) {
			cli_err(c, "bad --indirect '%s': 'always' (every read and write as an "
				"indirect request) or 'auto' (only those above 11 pages)", arg);
			return -1;
		}
		c->opts.indirect_always = !strcmp(arg, "always");
		return 0;
	case OPT_QUEUES:
		if (cli_uint(c, "--queues", arg, 1, UINT16_MAX, &v))
			return -1;
		c->opts.queues = (unsigned int)v;
		return 0;
	case OPT_ABI:
		if (!strcmp(arg, "x86_32"))
			c->opts.abi = BLKFRONT_ABI_X86_32;
		else if (!strcmp(arg, "x86_64"))
			c->opts.abi = BLKFRONT_ABI_X86_64;
		else if (!strcmp(arg, "native"))
			c->opts.abi = BLKFRONT_ABI_NATIVE;
		else {
			cli_err(c, "bad --abi '%s': x86_32, x86_64 or native (the ring layout, "
				"and the protocol node that names it)", arg);
			return -1;
		}
		return 0;
	case 'v':
		blkfront_verbose = 1;
		return 0;
	case OPT_HELP:
		c->help = true;
		return 0;
	default:
		return 1;
	}
}

/* Connect to c->opts.vdev, printing what failed. */
int cli_connect(struct cli *c, struct blkfront **bf)
{
	char err[512];

	if (blkfront_connect(&c->opts, bf, err, sizeof(err))) {
		cli_err(c, "%s", err);
		return EXIT_IO;
	}
	return EXIT_GOOD;
}

/* Disconnect, printing what failed. */
int cli_disconnect(struct cli *c, struct blkfront *bf, int rc)
{
	char err[512];

	if (blkfront_disconnect(bf, err, sizeof(err))) {
		cli_err(c, "disconnecting: %s", err);
		return rc == EXIT_GOOD ? EXIT_IO : rc;
	}
	return rc;
}
