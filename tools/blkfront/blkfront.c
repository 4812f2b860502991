/* blkfront: a userspace Xen block frontend: info, read, write, verify, bench. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../../blkback/version.h"

#include "cli.h"

/* Find the subcommand and run it. */
int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct cli *, int, char **);
	} cmds[] = {
		{ "info", cmd_info }, { "read", cmd_read }, { "write", cmd_write },
		{ "verify", cmd_verify }, { "bench", cmd_bench },
	};
	struct cli c = { .io_timeout_ms = 30000 };

	if (argc < 2) {
		cli_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		cli_usage(stdout);
		return EXIT_GOOD;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		version_print("blkfront");
		return EXIT_GOOD;
	}
	blkfront_opts_init(&c.opts);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		c.cmd = cmds[i].name;
		optind = 1;
		return cmds[i].fn(&c, argc - 1, argv + 1);
	}
	fprintf(stderr, "blkfront: unknown command '%s': one of info, read, write, verify, "
		"bench (blkfront --help)\n", argv[1]);
	return EXIT_USAGE;
}
