/* blkbackd: serve Xen virtual disks from userspace. */
#include <errno.h>
#include <limits.h>
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
#include "../blkback/num.h"
#include "../blkback/version.h"
#include "../storage/storage.h"
#include "detach.h"
#include "kernel-backend.h"
#include "pidfile.h"

/* Long options without a short form. */
enum { OPT_GRANT_PAGES = 256, OPT_GRANT_PAGES_DOMAIN, OPT_MEM_LIMIT, OPT_POLL_US,
       OPT_MEM_KEEP_GRACE };

/*
 * The busy-poll window's bound by default, and the largest accepted (microseconds). 50 by
 * measurement (docs/performance.md): against 0, more requests at depth 32 for the same CPU
 * per request, and a quiet disk's p99 beside a busy one no worse; longer windows made it
 * worse. Safe since the grant budgets hand out room in turn: a polling ring can no longer
 * re-take the room its completions free ahead of a ring waiting for it.
 */
#define POLL_US_DEFAULT 50
#define POLL_US_MAX 1000

/* Grant pages a limit may be at most: 16 GiB of guest memory. */
#define MAX_GRANT_PAGES (1ull << 22)
/* The largest --mem-limit: 1 EiB, far past any RAM. */
#define MAX_MEM_LIMIT (1ull << 60)
/* The longest --mem-keep-grace: a day. */
#define MAX_MEM_KEEP_GRACE 86400

/* Print usage to f. */
static void usage(FILE *f)
{
	fprintf(f,
		"usage: blkbackd [options]\n"
		"Serve the Xen virtual disks listed under /local/domain/<self>/backend/<kind>.\n"
		"\n"
		"  -k, --kind KIND     backend kind to serve (default vbd3, where libxl 4.19+\n"
		"                      puts backendtype=tap disks; vbd only where the\n"
		"                      kernel's xen-blkback is not loaded)\n"
		"  -d, --debug FLAGS   debug logs: ring,io,xs or all\n"
		"  -g, --grant-mode M  how guest data is reached: persistent (default: map each\n"
		"                      page once, when the frontend agrees; else map), map (map\n"
		"                      per batch) or copy (grant copy into our buffers)\n"
		"  -q, --max-queues N  queues (threads) a disk may use, 1 to 32 (default: one per\n"
		"                      online CPU)\n"
		"      --grant-pages N\n"
		"                      guest pages every disk together may hold, mapped or in\n"
		"                      flight (default 262144: 1 GiB); past it requests wait\n"
		"      --grant-pages-domain N\n"
		"                      the same for the disks of one guest, 1024 to --grant-pages\n"
		"                      (default 32768: 128 MiB, at most --grant-pages)\n"
		"      --mem-limit SIZE\n"
		"                      memory every mem disk together may allocate (default: half\n"
		"                      the RAM); past it the guest's write fails with ENOSPC\n"
		"      --mem-keep-grace SECONDS\n"
		"                      how long a toolstack's mem disk is kept for its VM after\n"
		"                      a reboot or crash (default 60; 0: freed at once)\n"
		"      --poll-us N     after a ring's work, watch it up to N microseconds\n"
		"                      (adaptive) before sleeping: fewer wake-ups under load, none\n"
		"                      when idle; 0 to 1000, 0 turns it off (default 50)\n"
		"  -D, --daemon        detach from the terminal once serving, then log to syslog\n"
		"                      (without one, to KIND.log in the run directory)\n"
		"  -p, --pidfile PATH  pidfile (default RUNDIR/KIND.pid; see blkbackd(8))\n"
		"  -V, --version       print the version\n"
		"  -h, --help          this text\n"
		"Exit status: 0 done, 1 failed, 2 bad command line.\n");
}

/*
 * Wait for watch events, control requests, stopped rings, ended storage calls, retries and
 * signals until SIGTERM or SIGINT. Nothing here blocks on storage: a disk whose storage
 * hangs holds up only itself.
 */
static int serve(struct blk_backend *be, int sfd, int cfd)
{
	enum { P_XS, P_SIG, P_CTL, P_STOPPED, P_TASK, P_RETRY, P_KEEP, P_NR };
	struct pollfd pfd[P_NR] = {
		[P_XS] = { .fd = backend_fd(be), .events = POLLIN },
		[P_SIG] = { .fd = sfd, .events = POLLIN },
		[P_CTL] = { .fd = cfd, .events = POLLIN },
		[P_STOPPED] = { .fd = be->stopped_fd, .events = POLLIN },
		[P_TASK] = { .fd = be->task_fd, .events = POLLIN },
		[P_RETRY] = { .fd = be->retry_fd, .events = POLLIN },
		[P_KEEP] = { .fd = be->keep_fd, .events = POLLIN },
	};

	for (;;) {
		if (poll(pfd, P_NR, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll failed: %s", strerror(errno));
			return 1;
		}
		if (pfd[P_XS].revents & (POLLIN | POLLHUP | POLLERR))
			backend_process(be);
		if (pfd[P_STOPPED].revents & POLLIN)
			backend_reap_rings(be);
		if (pfd[P_TASK].revents & POLLIN)
			backend_reap_jobs(be);
		if (pfd[P_RETRY].revents & POLLIN)
			backend_retry_due(be);
		if (pfd[P_KEEP].revents & POLLIN)
			backend_keep_due(be);
		if (pfd[P_CTL].revents & POLLIN)
			control_serve(cfd, be);
		if (be->leaving) {
			log_info("leaving connected disks to a successor and exiting");
			return 0;
		}
		if (pfd[P_SIG].revents & POLLIN) {
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
		{ "grant-pages", required_argument, NULL, OPT_GRANT_PAGES },
		{ "grant-pages-domain", required_argument, NULL, OPT_GRANT_PAGES_DOMAIN },
		{ "mem-limit", required_argument, NULL, OPT_MEM_LIMIT },
		{ "mem-keep-grace", required_argument, NULL, OPT_MEM_KEEP_GRACE },
		{ "poll-us", required_argument, NULL, OPT_POLL_US },
		{ "daemon", no_argument, NULL, 'D' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *kind = "vbd3", *pidfile = NULL;
	struct blk_backend_opts bopts = { .grant_mode = GRANT_MODE_PERSISTENT,
					  .poll_us = POLL_US_DEFAULT };
	char pidbuf[PATH_MAX], sockpath[PATH_MAX], statedir[PATH_MAX], logpath[PATH_MAX];
	char imagedir[PATH_MAX];
	uint64_t nq;
	bool daemonize = false;
	/* Static: a thread left in hung storage at exit may still poke its fds, use its device. */
	static struct blk_backend be = { .stopped_fd = -1, .task_fd = -1, .retry_fd = -1,
					 .keep_fd = -1 };
	sigset_t sigs;
	pid_t owner = 0;
	bool leaving = false, told = false;
	int c, sfd, cfd = -1, err, ret = 1, ready_fd = -1, pidfd;

	while ((c = getopt_long(argc, argv, "k:d:g:q:Dp:hV", opts, NULL)) != -1) {
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
			err = num_parse_uint(optarg, BLK_MAX_QUEUES, &nq);
			if (err || nq < 1) {
				char msg[256];

				num_error(msg, sizeof(msg), "--max-queues", optarg, err ? err : -EINVAL,
					  false, 1, BLK_MAX_QUEUES);
				fprintf(stderr, "blkbackd: %s\n", msg);
				return 2;
			}
			bopts.max_queues = (unsigned int)nq;
			break;
		case OPT_GRANT_PAGES:
		case OPT_GRANT_PAGES_DOMAIN: {
			const char *what = c == OPT_GRANT_PAGES ? "--grant-pages" :
				"--grant-pages-domain";
			uint64_t *pages = c == OPT_GRANT_PAGES ? &bopts.grant_pages :
				&bopts.grant_pages_domain;

			err = num_parse_uint(optarg, MAX_GRANT_PAGES, pages);
			if (err || *pages < GRANT_LIMIT_MIN_PAGES) {
				char msg[256];

				num_error(msg, sizeof(msg), what, optarg, err ? err : -EINVAL, false,
					  GRANT_LIMIT_MIN_PAGES, MAX_GRANT_PAGES);
				fprintf(stderr, "blkbackd: %s\n", msg);
				return 2;
			}
			break;
		}
		case OPT_POLL_US:
			err = num_parse_uint(optarg, POLL_US_MAX, &nq);
			if (err) {
				char msg[256];

				num_error(msg, sizeof(msg), "--poll-us", optarg, err, false, 0,
					  POLL_US_MAX);
				fprintf(stderr, "blkbackd: %s\n", msg);
				return 2;
			}
			bopts.poll_us = (unsigned int)nq;
			break;
		case OPT_MEM_LIMIT:
			err = num_parse_size(optarg, MAX_MEM_LIMIT, &bopts.mem_limit);
			if (err || bopts.mem_limit < (1u << 20)) {
				char msg[256];

				num_error(msg, sizeof(msg), "--mem-limit", optarg, err ? err : -EINVAL,
					  true, 1u << 20, MAX_MEM_LIMIT);
				fprintf(stderr, "blkbackd: %s\n", msg);
				return 2;
			}
			break;
		case OPT_MEM_KEEP_GRACE: {
			uint64_t secs;

			err = num_parse_uint(optarg, MAX_MEM_KEEP_GRACE, &secs);
			if (err) {
				char msg[256];

				num_error(msg, sizeof(msg), "--mem-keep-grace", optarg, err, false, 0,
					  MAX_MEM_KEEP_GRACE);
				fprintf(stderr, "blkbackd: %s\n", msg);
				return 2;
			}
			bopts.mem_grace_s = (unsigned int)secs;
			bopts.mem_grace_set = true;
			break;
		}
		case 'D': daemonize = true; break;
		case 'p': pidfile = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': version_print("blkbackd"); return 0;
		default: usage(stderr); return 2;
		}
	}
	/* A domain's limit given is checked against the daemon's, given or by default. */
	if (bopts.grant_pages_domain > (bopts.grant_pages ? bopts.grant_pages :
					GRANT_DAEMON_PAGES_DEFAULT)) {
		fprintf(stderr, "blkbackd: --grant-pages-domain %llu is more than --grant-pages "
			"%llu%s: give a domain limit no larger than the daemon's\n",
			(unsigned long long)bopts.grant_pages_domain,
			(unsigned long long)(bopts.grant_pages ? bopts.grant_pages :
					     GRANT_DAEMON_PAGES_DEFAULT),
			bopts.grant_pages ? "" : " (its default)");
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "blkbackd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (run_path(kind, "sock", sockpath, sizeof(sockpath)) ||
	    run_path(kind, "state", statedir, sizeof(statedir)) ||
	    run_path(kind, "log", logpath, sizeof(logpath)) ||
	    run_path(kind, "images", imagedir, sizeof(imagedir)) ||
	    (!pidfile && pidfile_path(kind, pidbuf, sizeof(pidbuf)))) {
		fprintf(stderr, "blkbackd: the run directory's path is too long: set "
			"BLKBACKD_RUNDIR to a shorter one\n");
		return 1;
	}
	if (!pidfile)
		pidfile = pidbuf;
	if (shutdown_wait_env(&bopts.shutdown_wait_s))
		return 2;
	/* Never fight a kernel backend over the same devices (kind vbd: xen-blkback). */
	if (kernel_backend_check(kind))
		return 1;
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
		log_err("cannot create pidfile %s: %s%s", pidfile, strerror(-pidfd),
			pidfd == -EACCES || pidfd == -EPERM || pidfd == -EROFS || pidfd == -ENOTDIR ? "; set "
			"BLKBACKD_RUNDIR to a directory of yours, or run as root (see blkbackd(8), "
			"ENVIRONMENT)" : "");
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
	err = make_parent_dir(sockpath);	/* the pidfile may live elsewhere (--pidfile) */
	cfd = err ? err : control_open(sockpath);
	if (cfd < 0) {
		log_err("cannot listen on %s: %s", sockpath, strerror(-cfd));
		goto out;
	}
	if (mkdir(statedir, 0700) && errno != EEXIST)
		log_err("cannot create %s: %s; a restart will close connected disks",
			statedir, strerror(errno));
	else
		bopts.state_dir = statedir;
	/* Image disks' qemu-storage-daemons: a killed predecessor's are stopped first. */
	err = storage_image_setup(imagedir);
	if (err)
		log_err("cannot use %s for the image disks' qemu-storage-daemon sockets: %s; "
			"they go to $TMPDIR or /tmp", imagedir, strerror(-err));
	bopts.kind = kind;
	if (backend_open(&be, &bopts))
		goto out;
	if (daemonize) {
		err = log_use_syslog("blkbackd", logpath);
		if (err < 0) {
			log_err("no syslog listens on /dev/log, and cannot open %s for the log: %s; "
				"run blkbackd in the foreground, or start a syslog daemon", logpath,
				strerror(-err));
			goto out;
		}
		if (err)	/* blkbackd(8) says where: the terminal's samples stay the same */
			log_info("no syslog listens on /dev/log: logging here");
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
	backend_wait_kernel_io(&be);
	return ret;
}
