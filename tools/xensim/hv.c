/*
 * hv.c: the simulated hypervisor's domains made and torn down, their hv sockets and the
 * dispatch of library requests (protocol in hvproto.h). Grant tables live in hv-gnt.c,
 * event channels in hv-evtchn.c, the domain table in hv-dom.c.
 */
#include "hv.h"
#include "hvint.h"
#include "loop.h"
#include "xensim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <xen/xen.h>

static char hv_dir[PATH_MAX];
static struct xensim_counters *counters;
/* Requests are read here; replies assembled here (one at a time: single thread). */
static uint64_t inbuf[HV_MSG_MAX / 8 + 1];

/* The counters of domid. */
struct xensim_dom_counters *hv_cnt(uint32_t domid)
{
	static struct xensim_dom_counters dummy;

	return counters && domid <= XENSIM_MAX_DOMID ? &counters->dom[domid] : &dummy;
}

/* Release everything a connection holds; notify: run unmap notifications (a process
 * died or closed its handle), not when its domain is being destroyed. */
static void conn_close(struct hv_conn *c, bool notify)
{
	struct hv_conn **p;

	loop_del(c->fd);
	close(c->fd);
	for (uint32_t i = 0; i < c->nmaps; i++)
		if (c->maps[i])
			gnt_unmap(c, i, notify);
	for (uint32_t i = 0; i < c->nshrs; i++)
		if (c->shrs[i])
			gnt_unshare(c, i, 0, c->shrs[i]->count, notify);
	evt_conn_release(c);
	for (p = &c->dom->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	sim_dbg("hv: dom%u connection of pid %d closed", c->dom->id, (int)c->peer.pid);
	peer_put(&c->peer);
	free(c->maps);
	free(c->shrs);
	free(c);
}

/* Check a request's size against its records; the payload size or -EPROTO. */
static int payload_ok(const struct hv_req *q, size_t len, size_t rec, uint32_t max)
{
	if (q->count == 0 || q->count > max || len != sizeof(*q) + q->count * rec)
		return -EPROTO;
	return 0;
}

/* Run one request; the reply goes into r. */
static int dispatch(struct hv_conn *c, const struct hv_req *q, size_t len, struct hv_reply *r)
{
	const void *pl = q + 1;
	int ret;

	if (q->op != HV_MAP && q->op != HV_COPY && len != sizeof(*q))
		return -EPROTO;
	switch (q->op) {
	case HV_HELLO:
		if (q->a != HV_MAGIC)
			return -EPROTO;
		r->h.a = c->dom->id;
		return 0;
	case HV_MAP:
		ret = payload_ok(q, len, sizeof(struct hv_gref), HV_MAX_PAGES);
		return ret ? ret : gnt_map(c, q, pl, r);
	case HV_UNMAP:
		return gnt_unmap(c, q->a, true);
	case HV_SET_MAX_GRANTS:
		c->max_grants = q->a;
		return 0;
	case HV_SHARE:
		if (q->count == 0 || q->count > HV_MAX_PAGES)
			return -EINVAL;
		return gnt_share(c, q, r);
	case HV_UNSHARE:
		return gnt_unshare(c, q->a, q->b, q->c, true);
	case HV_COPY:
		ret = payload_ok(q, len, sizeof(struct hv_copy), HV_MAX_COPY);
		return ret ? ret : gnt_copy(c, q, pl, r);
	case HV_BIND_UNBOUND:
		return evt_bind_unbound(c, q->a, r);
	case HV_BIND_INTERDOMAIN:
		return evt_bind_interdomain(c, q->a, q->b, r);
	case HV_UNBIND:
		return evt_unbind(c, q->a);
	case HV_RESTRICT:
		return evt_restrict(c, q->a);
	default:
		return -ENOSYS;
	}
}

/* Send the reply; false when the connection must go (the client does not read). */
static bool send_reply(struct hv_conn *c, struct hv_reply *r)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 2 * HV_MAX_NEW_DOMS)];
	} cm;
	struct iovec iov[3] = {
		{ &r->h, sizeof(r->h) },
		{ r->doms, r->h.ndoms * sizeof(uint32_t) },
		{ r->payload, r->size },
	};
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 3 };

	if (r->h.nfds) {
		memset(&cm, 0, sizeof(cm));
		m.msg_control = cm.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * r->h.nfds);
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(sizeof(int) * r->h.nfds);
		memcpy(CMSG_DATA(&cm.h), r->fds, sizeof(int) * r->h.nfds);
	}
	if (sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		sim_log("hv: dom%u pid %d: cannot reply: %s; closing its connection", c->dom->id,
			(int)c->peer.pid, strerror(errno));
		return false;
	}
	/* The memfds now belong to the connection. */
	for (uint32_t i = 0; i < r->h.ndoms; i++)
		c->sent[r->doms[i] / 8] |= (uint8_t)(1u << (r->doms[i] % 8));
	return true;
}

/* epoll callback of a library connection: serve every queued request. */
static void conn_event(void *arg, uint32_t events)
{
	struct hv_conn *c = arg;

	(void)events;
	for (;;) {
		struct iovec iov = { inbuf, sizeof(inbuf) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
		struct hv_reply r;
		ssize_t n = recvmsg(c->fd, &m, MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0 || (m.msg_flags & MSG_TRUNC) || (size_t)n < sizeof(struct hv_req)) {
			if (n > 0)
				sim_log("hv: dom%u pid %d sent a malformed request; closing it",
					c->dom->id, (int)c->peer.pid);
			conn_close(c, true);
			return;
		}
		memset(&r.h, 0, sizeof(r.h));
		r.payload = NULL;
		r.size = 0;
		r.h.err = dispatch(c, (const struct hv_req *)inbuf, (size_t)n, &r);
		if (r.h.err == -EPROTO) {
			sim_log("hv: dom%u pid %d broke the protocol; closing it", c->dom->id,
				(int)c->peer.pid);
			free(r.payload);
			conn_close(c, true);
			return;
		}
		if (!send_reply(c, &r)) {
			free(r.payload);
			conn_close(c, true);
			return;
		}
		free(r.payload);
	}
}

/* epoll callback of a domain's hv socket: accept a library connection. */
static void dom_accept(void *arg, uint32_t events)
{
	struct hv_dom *d = arg;
	struct hv_conn *c;
	int fd;

	(void)events;
	fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c || loop_add(fd, EPOLLIN, conn_event, c)) {
		sim_log("hv: dom%u: cannot take a connection: out of memory", d->id);
		free(c);
		close(fd);
		return;
	}
	c->fd = fd;
	c->dom = d;
	c->max_grants = UINT32_MAX;
	c->restrict_dom = -1;
	peer_get(fd, &c->peer);
	c->next = d->conns;
	d->conns = c;
	sim_dbg("hv: dom%u connection from pid %d", d->id, (int)c->peer.pid);
}

/* Create $dir/counters afresh (a new file: old clients keep the old one). */
int hv_init(const char *dir)
{
	char path[PATH_MAX + 16];
	struct rlimit rl;
	int fd, ret = 0;

	if (counters)
		return 0;
	if (snprintf(hv_dir, sizeof(hv_dir), "%s", dir) >= (int)sizeof(hv_dir))
		return -ENAMETOOLONG;
	/* Two eventfds per port and two memfds per domain: raise the soft limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	snprintf(path, sizeof(path), "%s/counters", dir);
	unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, sizeof(*counters))) {
		ret = -errno;
		goto out;
	}
	counters = mmap(NULL, sizeof(*counters), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (counters == MAP_FAILED) {
		ret = -errno;
		counters = NULL;
		goto out;
	}
	counters->max_domid = XENSIM_MAX_DOMID;
	__atomic_store_n(&counters->magic, XENSIM_COUNTERS_MAGIC, __ATOMIC_RELEASE);
out:
	close(fd);
	if (ret)
		unlink(path);
	return ret;
}

/* Listen on $dir/dom<id>/hv. */
static int dom_listen(struct hv_dom *d)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int n = snprintf(path, sizeof(path), "%s/dom%u/hv", hv_dir, d->id);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	d->listen_fd = sim_listen(path, SOCK_SEQPACKET);
	if (d->listen_fd < 0)
		return d->listen_fd;
	return loop_add(d->listen_fd, EPOLLIN, dom_accept, d);
}

/* Give domain domid memory, a grant table, ports and its hv socket. */
int hv_domain_create(unsigned int domid)
{
	char name[32], path[64];
	struct hv_dom *d;
	int ret;

	if (domid > XENSIM_MAX_DOMID)
		return -EINVAL;
	if (hv_dom_get(domid, domid))
		return -EEXIST;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->id = domid;
	d->refs = 1;
	d->alive = true;
	d->listen_fd = d->memfd_ro = -1;
	d->cnt = hv_cnt(domid);
	memset(d->cnt, 0, sizeof(*d->cnt));
	snprintf(name, sizeof(name), "xensim-dom%u-memory", domid);
	d->memfd = memfd_create(name, MFD_CLOEXEC);
	if (d->memfd < 0) {
		ret = -errno;
		goto fail;
	}
	/* Sparse: pages exist only while granted or mapped. */
	if (ftruncate(d->memfd, (off_t)HV_MEM_FRAMES * HV_PAGE_SIZE)) {
		ret = -errno;
		goto fail;
	}
	/* A read-only descriptor for read-only maps: mprotect cannot make them writable. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", d->memfd);
	d->memfd_ro = open(path, O_RDONLY | O_CLOEXEC);
	d->ports = calloc(HV_MAX_PORTS, sizeof(*d->ports));
	if (d->memfd_ro < 0 || !d->ports) {
		ret = d->ports ? -errno : -ENOMEM;
		goto fail;
	}
	ret = gnt_dom_init(d);
	if (ret)
		goto fail;
	ret = dom_listen(d);
	if (ret)
		goto fail;
	hv_dom_set(domid, d);
	return 0;
fail:
	sim_log("hv: cannot create domain %u: %s", domid, strerror(-ret));
	if (d->listen_fd >= 0) {
		loop_del(d->listen_fd);
		close(d->listen_fd);
	}
	hv_dom_put(d);	/* the only reference: d is freed */
	return ret;
}

/* SIGKILL the processes acting as domain domid through its hv socket: its vCPUs stop. */
void hv_domain_kill(unsigned int domid)
{
	struct hv_dom *d = hv_dom_get(domid, domid);

	for (struct hv_conn *c = d ? d->conns : NULL; c; c = c->next)
		peer_kill(&c->peer, "hv", domid);
}

/* Tear domain domid down as Xen does; idempotent. */
void hv_domain_destroy(unsigned int domid)
{
	struct hv_dom *d = hv_dom_get(domid, domid);
	char path[PATH_MAX + 32];

	if (!d)
		return;
	hv_dom_set(domid, NULL);
	d->alive = false;
	loop_del(d->listen_fd);
	close(d->listen_fd);
	d->listen_fd = -1;
	snprintf(path, sizeof(path), "%s/dom%u/hv", hv_dir, domid);
	unlink(path);
	/* Its processes stop: no unmap notifications, as a dead kernel sends none. */
	while (d->conns)
		conn_close(d->conns, false);
	gnt_dom_revoke(d);
	evt_dom_close(d);
	hv_dom_put(d);
}

/* The shared counters. */
const struct xensim_counters *hv_counters(void)
{
	return counters;
}

/* Destroy every domain and unmap the counters; idempotent. */
void hv_fini(void)
{
	for (unsigned int id = 0; id <= XENSIM_MAX_DOMID; id++)
		hv_domain_destroy(id);
	if (counters)
		munmap(counters, sizeof(*counters));
	counters = NULL;
}
