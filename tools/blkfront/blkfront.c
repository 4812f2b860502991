/* blkfront: a userspace Xen block frontend: info, read, write, verify, bench. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../../blkback/version.h"
#include <xen/io/protocols.h>

#include "cli.h"

/* Print the usage text to f. */
void cli_usage(FILE *f)
{
	fputs(
"usage: blkfront COMMAND VDEV [ARGS] [OPTIONS]\n"
"A userspace Xen block frontend: it connects to the vbd VDEV of the domain it runs in\n"
"(xvdb, or its number 51728), as Linux xen-blkfront does. Run it in a Xen guest, or in\n"
"the simulator: xensim run GUEST -- blkfront ...\n"
"\n"
"  info VDEV                       connect, print size, sector sizes and the features\n"
"                                  offered and in use (ring, queues, indirect, ...)\n"
"  read VDEV OFFSET LENGTH         LENGTH bytes at byte OFFSET to stdout\n"
"  write VDEV OFFSET [LENGTH] [--flush]\n"
"                                  bytes from stdin to OFFSET (to EOF without LENGTH;\n"
"                                  a partial last sector is padded with zeroes), then a\n"
"                                  flush. --flush: the flush goes right behind the writes\n"
"                                  in flight, and 'flushed BYTES bytes at OFFSET' is\n"
"                                  printed on stdout the moment it is answered\n"
"  verify VDEV [--seed N] [--size BYTES] [--iodepth N] [--bs-min B] [--bs-max B]\n"
"              [--bs B] [--mode write|read|both] [--passes N]\n"
"                                  write a seeded pattern (every 512-byte block names its\n"
"                                  seed and sector and carries a checksum) in random\n"
"                                  chunks, read it back in other random chunks, report\n"
"                                  bad blocks by sector. --mode read checks what an\n"
"                                  earlier run wrote with the same seed. Pass p of a\n"
"                                  write uses seed N+p. Chunks above the largest request\n"
"                                  go as several. --bs B: --bs-min B --bs-max B.\n"
"                                  Defaults: seed 1, the whole disk, iodepth 16,\n"
"                                  bs 512..128k, both, 1 pass\n"
"  bench VDEV [--rw read|write|randread|randwrite|randrw] [--bs 4k] [--iodepth 32]\n"
"             [--runtime SECONDS] [--size BYTES] [--rwmixread 50] [--json]\n"
"                                  fio-like: IOPS, MiB/s, latency p50/p99, and in the\n"
"                                  simulator grant maps, copies and notifications per\n"
"                                  request (both domains). Defaults: randread, 4k,\n"
"                                  iodepth 32 (at most the slots), 5 s, the whole disk\n"
"\n"
"OFFSET, LENGTH and sizes are bytes with an optional k, M, G or T suffix (powers of\n"
"1024), multiples of the disk's sector size.\n"
"\n"
"Common options:\n"
"  --backend-timeout SECONDS  each wait for the backend while connecting and\n"
"                             disconnecting (default 10)\n"
"  --io-timeout SECONDS       give up when no request completes for this long (30;\n"
"                             a backend restarted meanwhile is only slow until then)\n"
"  --slots N                  request slots, each with the pages of the largest request\n"
"                             (default: the ring size, at most 64, fewer so that all\n"
"                             shared pages fit gntalloc's 1024, fewer again if the\n"
"                             grant device refuses; at most 512)\n"
"  --max-ring-order N         largest ring-page-order to accept (default 4)\n"
"  --queues N                 rings (multi-queue) to use, at most what the backend\n"
"                             offers and 16 (default 1)\n"
"  --indirect-segs N          segments of an indirect request: 0 sends direct requests\n"
"                             only (11 pages); default min(backend's, 32); at most\n"
"                             the backend's and 256 (1 MiB requests)\n"
"  --indirect always|auto     always: every read and write as an indirect request,\n"
"                             even of 11 pages or fewer (default auto)\n"
"  --no-persistent            do not offer feature-persistent\n"
"  --abi x86_32|x86_64|native the ring layout to speak, named in the protocol node\n"
"                             (default native: this build's, " XEN_IO_PROTO_ABI_NATIVE ")\n"
"  -v, --verbose              debug messages to stderr\n"
"\n"
"  --version                  print the version\n"
"\n"
"Exit status: 0 done (verify: every block good), 1 failed (an I/O, connection or\n"
"system error), 2 bad command line, 3 verify found bad blocks.\n", f);
}

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
