/* daemon.c: the xensim daemon: start-up, the control socket, shutdown. */
#include "daemon.h"
#include "domain.h"
#include "hv.h"
#include "loop.h"
#include "xensim.h"
#include "xsd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_MAX 4096


struct ctl {
	struct ctl *next;
	int fd;
	char in[CTL_MAX];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
};

static int ctl_fd = -1, sig_fd = -1;
static struct ctl *ctls;
static char ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

/* Close a control connection. */
static void ctl_close(struct ctl *c)
{
	for (struct ctl **p = &ctls; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	loop_del(c->fd);
	close(c->fd);
	free(c->out);
	free(c);
}

/* The counters of one domain as "id name v..." */
static void counters_line(FILE *f, const struct sim_domain *d)
{
	const struct xensim_counters *k = hv_counters();
	const struct xensim_dom_counters *x;

	if (!k)
		return;
	x = &k->dom[d->id];
	fprintf(f, "%u %s %llu %llu %llu %llu %llu %llu %llu %llu %llu\n", d->id, d->name,
		(unsigned long long)__atomic_load_n(&x->map_calls, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&x->maps, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&x->unmaps, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&x->copy_calls, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&x->copies, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&x->notifies, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&x->shares, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&x->unshares, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&x->map_errors, __ATOMIC_RELAXED));
}

/* Run one control command line; the reply ("ok ..." or "err ...") goes to f. */
static void ctl_exec(char *line, FILE *f)
{
	char *argv[4] = { 0 };
	int argc = 0, ret;
	struct sim_domain *d;
	unsigned int id;

	for (char *s = strtok(line, " \n"); s && argc < 4; s = strtok(NULL, " \n"))
		argv[argc++] = s;
	if (!argc) {
		fprintf(f, "err empty command\n");
	} else if (!strcmp(argv[0], "create") && argc >= 2) {
		ret = dom_create(argv[1], &id);
		if (ret == -EINVAL)
			fprintf(f, "err bad domain name '%s': use letters, digits, '-', '_', '.' "
				   "(not only digits, at most %d)\n", argv[1], XENSIM_NAME_MAX - 1);
		else if (ret == -EEXIST)
			fprintf(f, "err domain '%s' already exists: pick another name\n", argv[1]);
		else if (ret)
			fprintf(f, "err cannot create domain '%s': %s (see the xensim log)\n",
				argv[1], strerror(-ret));
		else
			fprintf(f, "ok %u\n", id);
	} else if (!strcmp(argv[0], "destroy") && argc == 2) {
		d = dom_lookup(argv[1]);
		if (!d)
			fprintf(f, "err no domain '%s' (xensim list shows them)\n", argv[1]);
		else if (d->id == 0)
			fprintf(f, "err Domain-0 cannot be destroyed: use 'xensim stop'\n");
		else if ((ret = dom_destroy(d->id)))
			fprintf(f, "err cannot destroy '%s': %s\n", argv[1], strerror(-ret));
		else
			fprintf(f, "ok\n");
	} else if (!strcmp(argv[0], "shutdown") && argc == 3) {
		static const char *const reasons[] = { "poweroff", "reboot", "suspend", "crash",
						       "watchdog", "soft_reset" };
		unsigned int r = 0;

		while (r < 6 && strcmp(reasons[r], argv[2]))
			r++;
		d = dom_lookup(argv[1]);
		if (r == 6)
			fprintf(f, "err bad reason '%s': poweroff, reboot, suspend, crash, watchdog "
				   "or soft_reset\n", argv[2]);
		else if (!d)
			fprintf(f, "err no domain '%s' (xensim list shows them)\n", argv[1]);
		else if ((ret = dom_shutdown(d->id, r)))
			fprintf(f, "err cannot shut '%s' down: %s\n", argv[1], strerror(-ret));
		else
			fprintf(f, "ok\n");
	} else if (!strcmp(argv[0], "dominfo") && argc == 3) {
		/* xc_domain_getinfolist for the drop-in libxenctrl: "id flags" from FIRST on. */
		unsigned long first = strtoul(argv[1], NULL, 10), max = strtoul(argv[2], NULL, 10);

		fprintf(f, "ok\n");
		for (d = dom_next(NULL); d && max; d = dom_next(d)) {
			if (d->id < first)
				continue;
			/* XEN_DOMINF_shutdown (bit 2), the reason from bit 16 (Xen's domctl.h) */
			fprintf(f, "%u %u\n", d->id, d->shutdown ? 1u << 2 | d->reason << 16 : 0u);
			max--;
		}
	} else if (!strcmp(argv[0], "lookup") && argc == 2) {
		d = dom_lookup(argv[1]);
		if (!d)
			fprintf(f, "err no domain '%s' (xensim list shows them)\n", argv[1]);
		else
			fprintf(f, "ok %u %s\n", d->id, d->name);
	} else if (!strcmp(argv[0], "list")) {
		char *s = dom_list();

		fprintf(f, "ok\n%s", s ? s : "");
		free(s);
	} else if (!strcmp(argv[0], "counters")) {
		d = argc > 1 ? dom_lookup(argv[1]) : NULL;
		if (argc > 1 && !d) {
			fprintf(f, "err no domain '%s' (xensim list shows them)\n", argv[1]);
			return;
		}
		fprintf(f, "ok\n");
		if (d)
			counters_line(f, d);
		for (d = argc > 1 ? NULL : dom_next(NULL); d; d = dom_next(d))
			counters_line(f, d);
	} else if (!strcmp(argv[0], "xs-fault") && argc == 4) {
		char *end;
		unsigned long n = strtoul(argv[3], &end, 10);

		if (*end || end == argv[3] || n > UINT32_MAX)
			fprintf(f, "err bad count '%s': give a number of reads\n", argv[3]);
		else if (xsd_fault_set(argv[1], argv[2], (unsigned int)n))
			fprintf(f, "err give an absolute path and an error name such as EIO, "
				   "EACCES, EAGAIN, ENOENT\n");
		else
			fprintf(f, "ok\n");
	} else if (!strcmp(argv[0], "stop")) {
		sim_log("stopping on request");
		fprintf(f, "ok\n");
		loop_quit();
	} else {
		fprintf(f, "err unknown command '%s'\n", argv[0]);
	}
}

/* Send the reply of c; closes c and returns false once it is all sent (or failed). */
static bool ctl_send(struct ctl *c)
{
	ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n > 0)
		c->out_off += (size_t)n;
	if ((n < 0 && errno != EAGAIN && errno != EINTR) || c->out_off == c->out_len) {
		ctl_close(c);
		return false;
	}
	return true;
}

/* epoll callback of a control connection: read one line, answer, close. */
static void ctl_event(void *arg, uint32_t events)
{
	struct ctl *c = arg;
	ssize_t n;

	(void)events;
	if (c->out) {
		ctl_send(c);
		return;
	}
	n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, MSG_DONTWAIT);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			ctl_close(c);
		return;
	}
	c->in_len += (size_t)n;
	c->in[c->in_len] = 0;
	if (!strchr(c->in, '\n') && c->in_len < sizeof(c->in) - 1)
		return;
	{
		FILE *f = open_memstream(&c->out, &c->out_len);

		if (!f) {
			ctl_close(c);
			return;
		}
		ctl_exec(c->in, f);
		if (fclose(f) || !c->out) {
			ctl_close(c);
			return;
		}
	}
	/* Answer at once: after "stop" the loop ends with this batch. */
	if (ctl_send(c))
		loop_mod(c->fd, EPOLLOUT);
}

/* epoll callback of the control socket: accept a CLI. */
static void ctl_accept(void *arg, uint32_t events)
{
	struct ctl *c;
	int fd;

	(void)arg;
	(void)events;
	fd = accept4(ctl_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c || loop_add(fd, EPOLLIN, ctl_event, c)) {
		free(c);
		close(fd);
	} else {
		c->fd = fd;
		c->next = ctls;
		ctls = c;
	}
}

/* epoll callback of the signalfd: SIGTERM / SIGINT stop the daemon. */
static void sig_event(void *arg, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)arg;
	(void)events;
	if (read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
		sim_log("stopping on signal %u", si.ssi_signo);
		loop_quit();
	}
}

/* Set up everything but the domains; errors go to *why. */
static int setup(const char **why)
{
	sigset_t set;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	*why = "epoll";
	ret = loop_init();
	if (ret)
		return ret;
	sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0)
		return -errno;
	ret = loop_add(sig_fd, EPOLLIN, sig_event, NULL);
	if (ret)
		return ret;
	*why = "the hypervisor (counters file)";
	ret = hv_init(sim_dir);
	if (ret)
		return ret;
	*why = "the xenstore";
	ret = xsd_init();
	if (ret)
		return ret;
	*why = "the control socket";
	if (snprintf(ctl_path, sizeof(ctl_path), "%s/control", sim_dir) >= (int)sizeof(ctl_path))
		return -ENAMETOOLONG;
	ctl_fd = sim_listen(ctl_path, SOCK_STREAM);
	if (ctl_fd < 0)
		return ctl_fd;
	ret = loop_add(ctl_fd, EPOLLIN, ctl_accept, NULL);
	if (ret)
		return ret;
	*why = "Domain-0";
	return dom_init();
}

/* Tear everything down; idempotent. */
static void teardown(void)
{
	while (ctls)
		ctl_close(ctls);
	dom_destroy_all();
	xsd_fini();
	hv_fini();
	if (ctl_fd >= 0) {
		close(ctl_fd);
		unlink(ctl_path);
	}
	ctl_fd = -1;
	if (sig_fd >= 0)
		close(sig_fd);
	sig_fd = -1;
	loop_fini();
}

/* Take the pid file lock of dir; the fd or -errno (-EBUSY: a daemon runs there). */
static int lock_pidfile(char *msg, size_t size)
{
	char path[XENSIM_DIR_MAX + 16], pid[32];
	int fd;

	if (snprintf(path, sizeof(path), "%s/xensim.pid", sim_dir) >= (int)sizeof(path))
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(msg, size, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		ssize_t n = read(fd, pid, sizeof(pid) - 1);

		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		snprintf(msg, size, "xensim already runs in %s (pid %s): 'xensim --dir %s stop' "
			 "stops it", sim_dir, *pid ? pid : "?", sim_dir);
		close(fd);
		return -1;
	}
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, strlen(pid), 0) < 0) {
		snprintf(msg, size, "cannot write %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Tell the parent waiting in 'xensim start' how start-up went ("" = ready); closes fd. */
static void tell_parent(int fd, const char *msg)
{
	if (fd < 0)
		return;
	if (write(fd, msg, strlen(msg) + 1) < 0)
		sim_log("cannot report to the parent: %s", strerror(errno));
	close(fd);
}

/* The daemon: set up, tell the parent through ready_fd (empty message: ready), serve. */
int daemon_run(const char *dir, int ready_fd)
{
	char msg[PATH_MAX] = "";
	const char *why = "";
	int pid_fd, ret;

	if (snprintf(sim_dir, sizeof(sim_dir), "%s", dir) >= (int)sizeof(sim_dir)) {
		snprintf(msg, sizeof(msg), "run directory %s is too long for socket paths "
			 "(at most %d characters): pick a shorter --dir", dir, XENSIM_DIR_MAX);
		pid_fd = -1;
	} else {
		pid_fd = lock_pidfile(msg, sizeof(msg));
	}
	if (pid_fd < 0) {
		/* Another daemon may own this directory: touch nothing of it. */
		sim_log("%s", msg);
		tell_parent(ready_fd, msg);
		return 1;
	}
	ret = setup(&why);
	if (ret) {
		snprintf(msg, sizeof(msg), "cannot set up %s in %s: %s", why, sim_dir,
			 strerror(-ret));
		sim_log("%s", msg);
		tell_parent(ready_fd, msg);
	} else {
		sim_log("running in %s", sim_dir);
		tell_parent(ready_fd, "");
		ret = loop_run();
		if (ret)
			sim_log("event loop failed: %s", strerror(-ret));
	}
	teardown();
	snprintf(msg, sizeof(msg), "%s/xensim.pid", sim_dir);
	unlink(msg);
	/* pid_fd stays open: its lock goes with the process, after the sanitizers' reports,
	 * which is what 'xensim stop' waits for. */
	sim_log("stopped");
	return ret ? 1 : 0;
}
