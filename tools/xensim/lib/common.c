/* common.c: the drop-in libraries' connection to the simulated hypervisor, counters, logs. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xentoollog.h>

/* Log an error the way the real libraries' default logger does. */
void hvc_log(struct xentoollog_logger *logger, const char *lib, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (logger) {
		logger->vmessage(logger, XTL_ERROR, err, lib, fmt, ap);
	} else {
		fprintf(stderr, "%s: error: ", lib);
		vfprintf(stderr, fmt, ap);
		if (err > 0)
			fprintf(stderr, ": %s", strerror(err));
		fputc('\n', stderr);
	}
	va_end(ap);
}

/* Connect to the hypervisor socket of our domain. */
int hvc_open(struct hvc *c, const char *lib, bool cloexec)
{
	const char *path = getenv("XENSIM_HV");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct hv_req q = { .op = HV_HELLO, .a = HV_MAGIC };
	struct hvc_reply r;
	int ret;

	c->fd = -1;
	c->cloexec = cloexec;
	if (!path || !*path) {
		fprintf(stderr, "%s: error: XENSIM_HV is not set. This is xensim's drop-in lib%s: "
			"run the program inside a simulated domain ('xensim run DOMAIN -- CMD'), "
			"or take xensim's directory out of LD_LIBRARY_PATH to use Xen's own\n",
			lib, strncmp(lib, "xengnt", 6) ? lib : "xengnttab");
		return -ENOENT;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "%s: error: XENSIM_HV=%s: path too long for a socket\n", lib, path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | (cloexec ? SOCK_CLOEXEC : 0), 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		fprintf(stderr, "%s: error: cannot connect to the simulated hypervisor at %s: %s "
			"(is xensim running? 'xensim start'; was the domain destroyed?)\n",
			lib, path, strerror(-ret));
		goto fail;
	}
	ret = hvc_call(c, &q, NULL, 0, 0, &r);
	if (!ret)
		ret = r.h.err;
	if (!ret)
		c->domid = r.h.a;
	hvc_reply_free(&r);
	if (ret) {
		fprintf(stderr, "%s: error: the simulated hypervisor at %s refused us: %s "
			"(library and xensim from different builds?)\n", lib, path, strerror(-ret));
		goto fail;
	}
	return 0;
fail:
	hvc_close(c);
	return ret;
}

/* Close the connection; idempotent. */
void hvc_close(struct hvc *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Take the descriptors of a received message into r. */
static int take_fds(struct msghdr *m, struct hvc_reply *r)
{
	unsigned int n = 0;

	for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h)) {
		size_t k;

		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(fd));
			if (n < 2 * HV_MAX_NEW_DOMS)
				r->fds[n++] = fd;
			else
				close(fd);
		}
	}
	if (n != r->h.nfds) {
		for (unsigned int i = 0; i < n; i++)
			close(r->fds[i]);
		r->h.nfds = 0;
		return -EPROTO;
	}
	return 0;
}

/* One request, one reply. */
int hvc_call(struct hvc *c, const struct hv_req *q, const void *pl, size_t size,
	     size_t reply_max, struct hvc_reply *r)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 2 * HV_MAX_NEW_DOMS)];
	} cm;
	struct iovec out[2] = { { (void *)q, sizeof(*q) }, { (void *)pl, size } };
	struct msghdr m = { .msg_iov = out, .msg_iovlen = size ? 2 : 1 };
	size_t cap = sizeof(r->h) + HV_MAX_NEW_DOMS * sizeof(uint32_t) + reply_max;
	struct iovec in;
	ssize_t n;
	int ret;

	memset(r, 0, sizeof(*r));
	r->buf = malloc(cap);
	if (!r->buf)
		return -ENOMEM;
	if (c->fd < 0)
		return -ENOTCONN;
	do
		n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EPIPE ? -ECONNRESET : -errno;
	in = (struct iovec){ r->buf, cap };
	m = (struct msghdr){ .msg_iov = &in, .msg_iovlen = 1, .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf) };
	do
		n = recvmsg(c->fd, &m, c->cloexec ? MSG_CMSG_CLOEXEC : 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	memcpy(&r->h, r->buf, sizeof(r->h) <= (size_t)n ? sizeof(r->h) : (size_t)n);
	if ((size_t)n < sizeof(r->h))
		r->h.nfds = 0;
	ret = take_fds(&m, r);
	if (ret)
		return ret;
	if ((m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof(r->h) ||
	    r->h.ndoms > HV_MAX_NEW_DOMS || r->h.nfds < 2 * r->h.ndoms ||
	    (size_t)n < sizeof(r->h) + r->h.ndoms * sizeof(uint32_t))
		return -EPROTO;
	r->doms = (const uint32_t *)((char *)r->buf + sizeof(r->h));
	r->payload = r->doms + r->h.ndoms;
	return 0;
}

/* Free a reply's buffer (its descriptors are the caller's). */
void hvc_reply_free(struct hvc_reply *r)
{
	free(r->buf);
	r->buf = NULL;
}

static pthread_once_t counters_once = PTHREAD_ONCE_INIT;
static struct xensim_counters *counters;

/* Map $XENSIM_DIR/counters (or the directory above $XENSIM_HV's domain). */
static void counters_map(void)
{
	const char *dir = getenv("XENSIM_DIR"), *hv = getenv("XENSIM_HV");
	char path[4096];
	void *p;
	int fd;

	if (dir && *dir) {
		snprintf(path, sizeof(path), "%s/counters", dir);
	} else if (hv && strlen(hv) < sizeof(path) - 16) {
		char *slash;

		strcpy(path, hv);
		for (int i = 0; i < 2 && (slash = strrchr(path, '/')); i++)
			*slash = 0;
		strcat(path, "/counters");
	} else {
		return;
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	p = mmap(NULL, sizeof(*counters), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return;
	counters = p;
	if (__atomic_load_n(&counters->magic, __ATOMIC_ACQUIRE) != XENSIM_COUNTERS_MAGIC) {
		munmap(p, sizeof(*counters));
		counters = NULL;
	}
}

/* This domain's counters, or NULL. */
struct xensim_dom_counters *hvc_counters(uint32_t domid)
{
	pthread_once(&counters_once, counters_map);
	return counters && domid <= XENSIM_MAX_DOMID ? &counters->dom[domid] : NULL;
}
