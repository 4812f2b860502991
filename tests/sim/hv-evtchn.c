/*
 * hv-evtchn.c: xensim's event channels through the real libxenevtchn API, checked against
 * Xen + the Linux evtchn device: binding rules, the pollable fd, a pending port staying
 * masked with events latched until unmask, notifies collapsing, ports of a closed peer,
 * rebinding (a restarted backend), restrict, fdopen across exec; plus notify rates.
 * usage: hv-evtchn   (domains 0, 1 and 2 exist; XENSIM_DIR set)
 */
#include "hv-test.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xenevtchn.h>

static const struct xensim_counters *cnt;

/* A handle acting as domain dom. */
static xenevtchn_handle *ev(unsigned int dom, unsigned int flags)
{
	hv_as(dom);
	return xenevtchn_open(NULL, flags);
}

/* The port pending on x within ms, after a poll, or -1. */
static int next(xenevtchn_handle *x, int ms)
{
	if (!hv_readable(xenevtchn_fd(x), ms))
		return -1;
	return xenevtchn_pending(x);
}

/* Xen's and the evtchn device's masking semantics. */
static void test_mask(xenevtchn_handle *x0, xenevtchn_handle *x1)
{
	int p1 = xenevtchn_bind_unbound_port(x1, 0), p0, fl;
	uint64_t n1 = cnt->dom[1].notifies;

	CHECK(p1 > 0, "bind_unbound_port");
	p0 = xenevtchn_bind_interdomain(x0, 1, (evtchn_port_t)p1);
	CHECK(p0 > 0, "bind_interdomain");
	CHECK(next(x0, 1000) == p0, "Xen sets the new interdomain port pending");
	CHECK(xenevtchn_unmask(x0, (evtchn_port_t)p0) == 0, "unmask");
	CHECK(!hv_readable(xenevtchn_fd(x0), 0), "nothing pending");
	CHECK(xenevtchn_notify(x1, (evtchn_port_t)p1) == 0, "notify");
	CHECK(next(x0, 1000) == p0, "the notify arrives");
	for (int i = 0; i < 3; i++)
		xenevtchn_notify(x1, (evtchn_port_t)p1);
	CHECK(!hv_readable(xenevtchn_fd(x0), 50), "a pending port stays masked");
	CHECK(xenevtchn_unmask(x0, (evtchn_port_t)p0) == 0, "unmask");
	CHECK(next(x0, 1000) == p0, "events latched while masked show after unmask");
	xenevtchn_unmask(x0, (evtchn_port_t)p0);
	CHECK(!hv_readable(xenevtchn_fd(x0), 50), "three notifies collapsed into one event");
	CHECK(cnt->dom[1].notifies - n1 == 4, "notifies counted: %llu",
	      (unsigned long long)(cnt->dom[1].notifies - n1));
	/* The other direction. */
	xenevtchn_notify(x0, (evtchn_port_t)p0);
	CHECK(next(x1, 1000) == p1, "dom0 -> dom1");
	xenevtchn_unmask(x1, (evtchn_port_t)p1);
	fl = fcntl(xenevtchn_fd(x0), F_GETFL);
	fcntl(xenevtchn_fd(x0), F_SETFL, fl | O_NONBLOCK);
	CHECK(xenevtchn_pending(x0) == -1 && errno == EAGAIN, "non-blocking pending: EAGAIN");
	fcntl(xenevtchn_fd(x0), F_SETFL, fl);
	CHECK(xenevtchn_unbind(x0, (evtchn_port_t)p0) == 0, "unbind");
	CHECK(xenevtchn_notify(x1, (evtchn_port_t)p1) == 0,
	      "notify towards a closed peer is harmless");
	CHECK(xenevtchn_unbind(x1, (evtchn_port_t)p1) == 0, "unbind");
}

/* What bind_interdomain, notify and unbind refuse. */
static void test_refusals(xenevtchn_handle *x0, xenevtchn_handle *x1)
{
	xenevtchn_handle *x2 = ev(2, 0), *xr = ev(0, 0);
	int p = xenevtchn_bind_unbound_port(x1, 0), q;

	CHECK(x2 && xr && p > 0, "setup");
	if (!x2 || !xr) {
		xenevtchn_close(x2);
		xenevtchn_close(xr);
		return;
	}
	CHECK(xenevtchn_bind_interdomain(x2, 1, (evtchn_port_t)p) == -1 && errno == EINVAL,
	      "a port offered to dom0 refuses dom2");
	CHECK(xenevtchn_bind_interdomain(x0, 999, 1) == -1 && errno == ESRCH,
	      "no such domain: ESRCH");
	CHECK(xenevtchn_bind_interdomain(x0, 1, 0) == -1 && errno == EINVAL, "port 0");
	CHECK(xenevtchn_bind_interdomain(x0, 1, 4000) == -1 && errno == EINVAL, "free port");
	q = xenevtchn_bind_interdomain(x0, 1, (evtchn_port_t)p);
	CHECK(q > 0, "bind");
	CHECK(xenevtchn_bind_interdomain(xr, 1, (evtchn_port_t)p) == -1 && errno == EINVAL,
	      "a connected port cannot be bound again");
	CHECK(xenevtchn_notify(xr, (evtchn_port_t)q) == -1 && errno == ENOTCONN,
	      "notify on another handle's port: ENOTCONN");
	CHECK(xenevtchn_unbind(xr, (evtchn_port_t)q) == -1 && errno == ENOTCONN,
	      "unbind of another handle's port: ENOTCONN");
	CHECK(xenevtchn_bind_virq(x0, 0) == -1 && errno == ENOSYS, "bind_virq: ENOSYS");
	CHECK(xenevtchn_restrict(xr, 1) == 0, "restrict to dom1");
	CHECK(xenevtchn_bind_unbound_port(xr, 1) == -1 && errno == EACCES,
	      "restricted: no unbound ports");
	CHECK(xenevtchn_bind_interdomain(xr, 2, 1) == -1 && errno == EACCES,
	      "restricted: other domains refused");
	CHECK(xenevtchn_restrict(xr, 2) == -1 && errno == EACCES, "restrict only once");
	xenevtchn_unbind(x0, (evtchn_port_t)q);
	xenevtchn_unbind(x1, (evtchn_port_t)p);
	xenevtchn_close(x2);
	xenevtchn_close(xr);
}

/* A port whose peer closed can be bound again (a backend restarting). */
static void test_rebind(xenevtchn_handle *x1)
{
	int pf = xenevtchn_bind_unbound_port(x1, 0), pb, pb2;
	xenevtchn_handle *b = ev(0, 0), *b2;

	pb = xenevtchn_bind_interdomain(b, 1, (evtchn_port_t)pf);
	CHECK(pf > 0 && pb > 0, "bind");
	next(x1, 0), next(b, 0);
	xenevtchn_unmask(b, (evtchn_port_t)pb);
	xenevtchn_close(b); /* the backend dies: the frontend's port is unbound again */
	xenevtchn_notify(x1, (evtchn_port_t)pf);
	b2 = ev(0, 0);
	pb2 = xenevtchn_bind_interdomain(b2, 1, (evtchn_port_t)pf);
	CHECK(pb2 > 0, "the new backend binds to the same frontend port");
	next(b2, 100);
	xenevtchn_unmask(b2, (evtchn_port_t)pb2);
	xenevtchn_notify(x1, (evtchn_port_t)pf);
	CHECK(next(b2, 1000) == pb2, "the frontend's notify reaches the new backend");
	xenevtchn_notify(b2, (evtchn_port_t)pb2);
	CHECK(hv_readable(xenevtchn_fd(x1), 1000), "and back");
	while (hv_readable(xenevtchn_fd(x1), 0)) {
		int p = xenevtchn_pending(x1);

		CHECK(p == pf, "only the frontend's port is pending: %d", p);
		if (p != pf)
			break;
	}
	xenevtchn_unmask(x1, (evtchn_port_t)pf);
	xenevtchn_unbind(x1, (evtchn_port_t)pf);
	xenevtchn_close(b2);
}

/* fdopen after exec: child side. Rebuild the handle, answer one event, exit. */
static int fdopen_child(int fd, int port)
{
	xenevtchn_handle *x = xenevtchn_fdopen(NULL, fd, 0);
	int ret = 1;

	if (x && next(x, 5000) == port) {
		xenevtchn_unmask(x, (evtchn_port_t)port);
		ret = xenevtchn_notify(x, (evtchn_port_t)port) ? 1 : 0;
	}
	xenevtchn_close(x);
	return ret;
}

/* A handle opened with XENEVTCHN_NO_CLOEXEC survives exec and xenevtchn_fdopen. */
static void test_fdopen(const char *self, xenevtchn_handle *x1)
{
	xenevtchn_handle *x = ev(0, XENEVTCHN_NO_CLOEXEC);
	int p1 = xenevtchn_bind_unbound_port(x1, 0), p, status = 1;
	char fd[16], port[16];
	pid_t pid;

	p = x ? xenevtchn_bind_interdomain(x, 1, (evtchn_port_t)p1) : -1;
	CHECK(p > 0, "bind");
	if (p < 0)
		return;
	next(x, 100);  /* the bind-time event: the child must see only ours */
	snprintf(fd, sizeof(fd), "%d", xenevtchn_fd(x));
	snprintf(port, sizeof(port), "%d", p);
	pid = fork();
	if (pid == 0) {
		execl(self, self, "fdopen-child", fd, port, (char *)NULL);
		_exit(127);
	}
	xenevtchn_unmask(x, (evtchn_port_t)p);
	xenevtchn_notify(x1, (evtchn_port_t)p1);
	CHECK(next(x1, 5000) == p1, "the exec'ed child answered through its rebuilt handle");
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	CHECK(xenevtchn_fdopen(NULL, 0, 0) == NULL, "fdopen of a foreign fd fails");
	xenevtchn_unmask(x1, (evtchn_port_t)p1);
	xenevtchn_unbind(x1, (evtchn_port_t)p1);
	xenevtchn_close(x);
}

struct pong {
	xenevtchn_handle *x;
	int port, rounds;
};

/* Ping-pong peer: answer every event with a notify. */
static void *pong(void *arg)
{
	struct pong *p = arg;

	for (int i = 0; i < p->rounds; i++) {
		if (next(p->x, 5000) != p->port)
			break;
		xenevtchn_unmask(p->x, (evtchn_port_t)p->port);
		xenevtchn_notify(p->x, (evtchn_port_t)p->port);
	}
	return NULL;
}

/* Notify throughput and event round trips between two domains. */
static void bench(xenevtchn_handle *x0, xenevtchn_handle *x1)
{
	int p1 = xenevtchn_bind_unbound_port(x1, 0);
	int p0 = xenevtchn_bind_interdomain(x0, 1, (evtchn_port_t)p1), n;
	struct pong pg = { x1, p1, 10000 };
	pthread_t th;
	double t;

	next(x0, 100);
	xenevtchn_unmask(x0, (evtchn_port_t)p0);
	for (n = 0, t = hv_now(); n < 1000000 && hv_now() - t < 0.5; n++)
		xenevtchn_notify(x0, (evtchn_port_t)p0);
	printf("notify: %.0f calls/s\n", n / (hv_now() - t));
	next(x1, 1000);
	xenevtchn_unmask(x1, (evtchn_port_t)p1);
	pthread_create(&th, NULL, pong, &pg);
	for (n = 0, t = hv_now(); n < pg.rounds; n++) {
		xenevtchn_notify(x0, (evtchn_port_t)p0);
		if (next(x0, 5000) != p0)
			break;
		xenevtchn_unmask(x0, (evtchn_port_t)p0);
	}
	printf("event round trip (notify, poll, pending, unmask, back): %.1f us, %d rounds\n",
	       (hv_now() - t) / n * 1e6, n);
	pthread_join(th, NULL);
	xenevtchn_unbind(x0, (evtchn_port_t)p0);
	xenevtchn_unbind(x1, (evtchn_port_t)p1);
}

/* "hold": a process of this domain that holds only an event channel port, and waits. */
static int hold(void)
{
	xenevtchn_handle *x = xenevtchn_open(NULL, 0);

	if (!x || xenevtchn_bind_unbound_port(x, 0) < 0) {
		printf("FAIL: hold: cannot bind a port: %s\n", strerror(errno));
		return 1;
	}
	printf("holding\n");
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	xenevtchn_handle *x0, *x1;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 4 && !strcmp(argv[1], "fdopen-child"))
		return fdopen_child(atoi(argv[2]), atoi(argv[3]));
	if (argc == 2 && !strcmp(argv[1], "hold"))
		return hold();
	if (!getenv("XENSIM_DIR")) {
		fprintf(stderr, "usage: XENSIM_DIR=DIR %s\n", argv[0]);
		return 2;
	}
	cnt = hv_counters_map();
	x0 = ev(0, 0);
	x1 = ev(1, 0);
	if (!cnt || !x0 || !x1) {
		printf("FAIL: cannot open the counters or the handles\n");
		return 1;
	}
	test_mask(x0, x1);
	test_refusals(x0, x1);
	test_rebind(x1);
	test_fdopen(argv[0], x1);
	bench(x0, x1);
	xenevtchn_close(x0);
	xenevtchn_close(x1);
	return hv_done("hv-evtchn");
}
