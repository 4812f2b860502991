/* blkbackd: serve Xen virtual disks from userspace. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../blkback/backend.h"
#include "../blkback/control.h"
#include "../blkback/log.h"
#include "detach.h"
#include "pidfile.h"

/* Print usage to f. */
static void usage(FILE *f)
{
	fprintf(f,
		"usage: blkbackd [options]\n"
		"Serve the Xen virtual disks listed under /local/domain/<self>/backend/<kind>.\n"
		"\n"
		"  -k, --kind KIND     backend kind to serve (default vbd3; the kernel blkback\n"
		"                      owns vbd)\n"
		"  -d, --debug FLAGS   debug logs: ring,io,xs or all\n"
		"  -g, --grant-mode M  how guest data is reached: persistent (default: map each\n"
		"                      page once, when the frontend agrees; else map), map (map\n"
		"                      per batch) or copy (grant copy into our buffers)\n"
		"  -q, --max-queues N  queues (threads) a disk may use, 1 to 32 (default: one per\n"
		"                      online CPU)\n"
		"  -D, --daemon        detach from the terminal once serving, then log to syslog\n"
		"  -p, --pidfile PATH  pidfile (default /run/blkbackd/KIND.pid)\n"
		"  -h, --help          this text\n");
}

/* Wait for watch events, control requests, stopped rings and signals until SIGTERM or SIGINT. */
static int serve(struct blk_backend *be, int sfd, int cfd)
{
	struct pollfd pfd[4] = {
		{ .fd = backend_fd(be), .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
		{ .fd = cfd, .events = POLLIN },
		{ .fd = be->stopped_fd, .events = POLLIN },
	};

	for (;;) {
		if (poll(pfd, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll failed: %s", strerror(errno));
			return 1;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			backend_process(be);
		if (pfd[3].revents & POLLIN)
			backend_reap_rings(be);
		if (pfd[2].revents & POLLIN)
			control_serve(cfd, be);
		if (be->leaving) {
			log_info("leaving connected disks to a successor and exiting");
			return 0;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				log_info("signal %s: closing every disk and exiting",
					 strsignal((int)si.ssi_signo));
				return 0;
			}
		}
	}
}

/* BLKBACKD_SHUTDOWN_WAIT: the seconds an exit waits for storage (blkbackd(8)); -1 if bad. */
static int shutdown_wait_env(unsigned int *secs)
{
	const char *v = getenv("BLKBACKD_SHUTDOWN_WAIT");
	unsigned long n;
	char *end;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || v[0] < '0' || v[0] > '9' || n < 1 || n > 3600) {
		fprintf(stderr, "blkbackd: bad BLKBACKD_SHUTDOWN_WAIT '%s': give a number of "
			"seconds from 1 to 3600\n", v);
		return -1;
	}
	*secs = (unsigned int)n;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "debug", required_argument, NULL, 'd' },
		{ "grant-mode", required_argument, NULL, 'g' },
		{ "max-queues", required_argument, NULL, 'q' },
		{ "daemon", no_argument, NULL, 'D' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *kind = "vbd3", *pidfile = NULL;
	struct blk_backend_opts bopts = { .grant_mode = GRANT_MODE_PERSISTENT };
	char *end;
	char pidbuf[256], sockpath[256], statedir[128];
	bool daemonize = false;
	/* Static: a ring thread left in hung storage at exit may still poke be.stopped_fd. */
	static struct blk_backend be = { .stopped_fd = -1 };
	sigset_t sigs;
	pid_t owner = 0;
	bool leaving = false, told = false;
	int c, sfd, cfd = -1, err, ret = 1, ready_fd = -1, pidfd;

	while ((c = getopt_long(argc, argv, "k:d:g:q:Dp:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (!*optarg || strlen(optarg) >= sizeof(be.kind) || strchr(optarg, '/')) {
				fprintf(stderr, "blkbackd: bad --kind '%s': give a name such as vbd3\n",
					optarg);
				return 2;
			}
			kind = optarg;
			break;
		case 'd':
			if (log_parse_mask(optarg, &log_mask)) {
				fprintf(stderr, "blkbackd: bad --debug '%s': give a comma-separated "
					"list of ring, io, xs, or all\n", optarg);
				return 2;
			}
			break;
		case 'g':
			if (grant_mode_parse(optarg, &bopts.grant_mode)) {
				fprintf(stderr, "blkbackd: bad --grant-mode '%s': give persistent, "
					"map or copy\n", optarg);
				return 2;
			}
			break;
		case 'q':
			errno = 0;
			bopts.max_queues = (unsigned int)strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || bopts.max_queues < 1 ||
			    bopts.max_queues > BLK_MAX_QUEUES || optarg[0] == '-') {
				fprintf(stderr, "blkbackd: bad --max-queues '%s': give a number "
					"from 1 to %u\n", optarg, BLK_MAX_QUEUES);
				return 2;
			}
			break;
		case 'D': daemonize = true; break;
		case 'p': pidfile = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "blkbackd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!pidfile) {
		pidfile_path(kind, pidbuf, sizeof(pidbuf));
		pidfile = pidbuf;
	}
	if (shutdown_wait_env(&bopts.shutdown_wait_s))
		return 2;
	/* Until it serves, a detaching daemon still reports on the terminal. */
	if (daemonize && (err = detach_start(&ready_fd))) {
		fprintf(stderr, "blkbackd: cannot fork: %s\n", strerror(-err));
		return 1;
	}
	/*
	 * A daemon that is leaving may still have a write in storage, inside the kernel in
	 * one of its threads: serving its disks before it has gone could let that old write
	 * land over a newer one. Its pidfile lock goes with its last thread.
	 */
	while ((pidfd = pidfile_claim(pidfile, &owner, &leaving)) == -EBUSY && leaving) {
		if (!told)
			log_info("waiting for the previous blkbackd, pid %ld, to exit: it may still "
				 "have I/O in storage", (long)owner);
		told = true;
		poll(NULL, 0, 100);
	}
	if (pidfd == -EBUSY) {
		log_err("another blkbackd (pid %ld) already serves kind %s; stop it first, or "
			"serve another kind with --kind", (long)owner, kind);
		return 1;
	} else if (pidfd < 0) {
		log_err("cannot create pidfile %s: %s", pidfile, strerror(-pidfd));
		return 1;
	}
	if (told)
		log_info("the previous blkbackd has exited");
	/* Block the signals in every thread; the main loop reads them from a signalfd. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0) {
		log_err("signalfd: %s", strerror(errno));
		goto out;
	}
	run_path(kind, "sock", sockpath, sizeof(sockpath));
	err = make_parent_dir(sockpath);	/* the pidfile may live elsewhere (--pidfile) */
	cfd = err ? err : control_open(sockpath);
	if (cfd < 0) {
		log_err("cannot listen on %s: %s", sockpath, strerror(-cfd));
		goto out;
	}
	run_path(kind, "state", statedir, sizeof(statedir));
	if (mkdir(statedir, 0700) && errno != EEXIST)
		log_err("cannot create %s: %s; a restart will close connected disks",
			statedir, strerror(errno));
	else
		bopts.state_dir = statedir;
	bopts.kind = kind;
	if (backend_open(&be, &bopts))
		goto out;
	if (daemonize) {
		log_use_syslog("blkbackd");
		detach_ready(ready_fd);
	}
	ret = serve(&be, sfd, cfd);
out:
	/*
	 * A successor waits from now on until this process has gone, with every thread
	 * that might still write: the pidfile stays, and its lock goes only with the last
	 * of them, when the kernel has finished their system calls.
	 */
	pidfile_leaving(pidfd);
	if (be.leaving)
		backend_leave(&be);
	else
		backend_close(&be);
	if (cfd >= 0) {
		close(cfd);
		unlink(sockpath);
	}
	control_leave_done(&be);
	return ret;
}
