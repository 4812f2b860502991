/*
 * blkbackctl: attach, detach and list the disks blkbackd serves. This file reads the
 * global options and hands the command line to one command (ctl.h); the commands use
 * the shared helpers, never this file.
 */
#include <stdio.h>
#include <string.h>

#include "../blkback/version.h"
#include "ctl.h"

/* Print usage to f. */
static void usage(FILE *f)
{
	fprintf(f,
		"usage: blkbackctl [--kind KIND] COMMAND ...\n"
		"\n"
		"  attach DOMAIN SPEC [--vdev NAME] [--ro] [--timeout SECONDS] [--nowait]\n"
		"      serve SPEC to DOMAIN (a name or a domid) and wait until it is connected\n"
		"      (with --nowait, only until blkbackd has opened it).\n"
		"      SPEC: mem:size=SIZE[,name=NAME][,huge][,ro]   a ramdisk (SIZE: 64M, 1G, ...);\n"
		"                NAME keeps it alive across detach while blkbackd runs\n"
		"            file:PATH[,direct][,ro][,shared]   a file or block device (shared:\n"
		"                one of a cluster disk's writers; else one writer per file)\n"
		"            uring:PATH[,direct][,ro][,shared]  the same through io_uring\n"
		"            nbd:URI[,timeout=SECONDS][,ro]  an NBD server's export (URI:\n"
		"                nbd+unix:///EXP?socket=PATH, nbd://HOST:PORT/EXP, nbds://...)\n"
		"            qcow2:PATH[,direct][,ro]  an image through a qemu-storage-daemon\n"
		"                of its own (also vmdk:, vhdx:, vpc: for VHD, raw:)\n"
		"  detach DOMAIN VDEV [--timeout SECONDS] [--force]\n"
		"      close the disk in the guest and remove it.\n"
		"  list\n"
		"      the disks blkbackd serves, with their states, and the memory disks it\n"
		"      keeps for VMs that were saved, rebooted or crashed.\n"
		"  stats [DOMAIN VDEV | --daemon] [--json]\n"
		"      request counters and latencies of every disk, or of one; with --daemon,\n"
		"      what blkbackd holds: fds, threads, heap bytes, grant pages mapped.\n"
		"  resize DOMAIN VDEV SIZE [--shrink]\n"
		"      grow (or with --shrink, shrink) a disk under the running guest.\n"
		"  limit DOMAIN VDEV [iops=N] [iops-burst=N] [bps=SIZE] [bps-burst=SIZE]\n"
		"      change a disk's I/O limits while it runs (0: no limit; a rate without\n"
		"      its burst gets a tenth of a second's worth); none given: show them.\n"
		"      The same options in SPEC set them at attach.\n"
		"  handover [--timeout SECONDS]\n"
		"      stop blkbackd for an upgrade: it answers what is in flight and exits;\n"
		"      guests keep their file and uring disks Connected, and the next blkbackd\n"
		"      takes them over (see docs/restart.md). Returns once the old process\n"
		"      has gone (at most SECONDS, default 30).\n"
		"  unstall DOMAIN VDEV\n"
		"      let a disk attached with fault=START+COUNT:stall serve the I/O it holds\n"
		"      (fault injection, for tests).\n"
		"  free UUID VDEV\n"
		"      free the memory disk blkbackd keeps for VM UUID's VDEV (its data is lost).\n"
		"  hotplug add|remove XENBUS_PATH   the xl hotplug script's work (blkbackctl(8))\n"
		"\n"
		"  --kind KIND   backend kind blkbackd serves (default vbd3)\n"
		"  --version     print the version\n"
		"\n"
		"Exit status: 0 done, 1 failed (the message says why), 2 bad command line.\n");
}

/* The commands, by name: a new one is one line here and one in usage. */
static const struct command {
	const char *name;
	int (*run)(struct ctl *c, int argc, char **argv);
} commands[] = {
	{ "attach", cmd_attach },
	{ "detach", cmd_detach },
	{ "list", cmd_list },
	{ "stats", cmd_stats },
	{ "resize", cmd_resize },
	{ "handover", cmd_handover },
	{ "limit", cmd_limit },
	{ "unstall", cmd_unstall },
	{ "free", cmd_free },
	{ "hotplug", cmd_hotplug },
};

int main(int argc, char **argv)
{
	struct ctl c = { .kind = "vbd3", .timeout = 30 };
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--kind") && i + 1 < argc) {
			c.kind = argv[i + 1];
			i += 2;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			version_print("blkbackctl");
			return 0;
		} else {
			fprintf(stderr, "blkbackctl: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		if (!strcmp(argv[i], commands[k].name)) {
			int rc = commands[k].run(&c, argc - i, argv + i);

			/* 2: an option the command does not know (getopt has said which). */
			if (rc == 2)
				usage(stderr);
			return rc;
		}
	}
	fprintf(stderr, "blkbackctl: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return 2;
}
