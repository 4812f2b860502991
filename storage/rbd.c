/*
 * The rbd engine: a Ceph RBD image through librbd, built as a loadable module
 * (build/engines/rbd.so; storage/module.c loads it) so that blkbackd itself does not
 * need the Ceph libraries.
 *
 * One image handle per disk, shared by its queues: the exclusive lock and the header
 * watch belong to a handle, and two handles of one image in one process would fight
 * over the lock. Every aio completion of the image lands on one eventfd
 * (rbd_set_image_notification) and one list that rbd_poll_io_events drains. Each
 * queue polls (storage_ops.poll) an epoll set of that eventfd and a queue eventfd of its own:
 * whichever queue reaps first takes every completion of the image, runs its own, and
 * hands each of the others to the queue that submitted it (its list, its eventfd), so
 * that done always runs on the submitting queue's thread. No thread per request.
 *
 * A resize by another client (rbd resize) reaches us through rbd_update_watch, whose
 * callback runs on a librbd thread that must not call back into librbd: it wakes a
 * thread of the disk that reads the new size (which may wait for the cluster) and tells
 * the core through disk->notify_fd; the core takes the size over (size_now).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../blkback/version.h"
#include "storage.h"

#define RBD_USAGE "rbd:POOL/IMAGE[@SNAP][,mon_host=ADDRS][,conf=FILE][,id=CLIENT]" \
	"[,keyring=FILE][,timeout=SECONDS][,ro]"
#define RBD_TIMEOUT_S 30	/* default bound on reaching the monitors at open */
#define RBD_REAP_BATCH 64	/* completions taken from librbd per call */

/* What the spec says: the image and how to reach its cluster. */
struct rbd_spec {
	char *pool, *image, *snap;
	char *conf, *id, *mon_host, *keyring;
	unsigned int timeout_s;
};

/* One request in librbd, from submit until its done. */
struct rbd_req {
	struct storage_io *io;
	struct rbd_queue *q;		/* the queue that submitted it, whose thread runs done */
	rbd_completion_t c;
	int64_t result;
	struct rbd_req *next;		/* on a list of completed requests */
};

/* The disk: one cluster connection and one image handle, shared by the queues. */
struct rbd_disk {
	rados_t cluster;
	rados_ioctx_t ioctx;
	rbd_image_t image;
	bool have_cluster, have_ioctx, have_image;
	int efd;			/* the image's completion eventfd */
	uint64_t watch_handle;
	bool watching;
	/* The header watcher's thread, which reads the size after a change. */
	pthread_t size_thread;
	bool size_thread_ok;
	pthread_mutex_t size_lock;
	pthread_cond_t size_cond;
	bool size_changed, size_stop;	/* under size_lock */
	uint64_t size_now;		/* atomic: the image's size as last read */
	int notify_fd;
	char name[160];			/* pool/image[@snap], for messages */
};

/* One queue: its epoll set (what it polls) and the completions other queues took for it. */
struct rbd_queue {
	struct rbd_disk *rd;
	int epfd;
	int efd;			/* written when another queue hands us completions */
	pthread_mutex_t lock;
	struct rbd_req *handed;		/* under lock: completed, taken by another queue */
};

/* Module identity, checked by storage/module.c against the core's version and layout. */
const char storage_module_version[] = BLKBACK_VERSION;
const uint32_t storage_module_abi = STORAGE_MODULE_ABI;

/* Free the parsed spec; idempotent. */
static void rbd_spec_free(struct storage_spec *spec)
{
	struct rbd_spec *s = spec->engine_spec;

	if (!s)
		return;
	free(s->pool);
	free(s->image);
	free(s->snap);
	free(s->conf);
	free(s->id);
	free(s->mon_host);
	free(s->keyring);
	free(s);
	spec->engine_spec = NULL;
}

/* Whether a pool, image or snapshot name is usable: not empty, no '/' '@' or spaces. */
static bool good_name(const char *s)
{
	return *s && strcspn(s, "/@ \t") == strlen(s) && strlen(s) < 64;
}

/* Parse POOL/IMAGE[@SNAP]; a snapshot is served read-only. */
static int rbd_parse_target(struct storage_spec *spec, const char *target, char *err, size_t errlen)
{
	struct rbd_spec *s = calloc(1, sizeof(*s));
	const char *slash = strchr(target, '/'), *at = strchr(target, '@');

	if (!s)
		return -ENOMEM;
	spec->engine_spec = s;
	s->timeout_s = RBD_TIMEOUT_S;
	if (!slash || (at && at < slash))
		goto bad;
	s->pool = strndup(target, (size_t)(slash - target));
	s->image = at ? strndup(slash + 1, (size_t)(at - slash - 1)) : strdup(slash + 1);
	s->snap = at ? strdup(at + 1) : NULL;
	if (!s->pool || !s->image || (at && !s->snap))
		return -ENOMEM;
	if (!good_name(s->pool) || !good_name(s->image) || (s->snap && !good_name(s->snap)))
		goto bad;
	if (s->snap)
		spec->readonly = true;
	return 0;
bad:
	snprintf(err, errlen, "bad rbd target '%s': give POOL/IMAGE or POOL/IMAGE@SNAP, names "
		 "without '/', '@' or spaces (accepted form: %s)", target, RBD_USAGE);
	return -EINVAL;
}

/* Set *field to a copy of val. */
static int set_str(char **field, const char *val)
{
	free(*field);
	*field = strdup(val);
	return *field ? 0 : -ENOMEM;
}

/* One option of the spec: the cluster's address, configuration, client and key. */
static int rbd_parse_option(struct storage_spec *spec, const char *key, const char *val,
			    char *err, size_t errlen)
{
	struct rbd_spec *s = spec->engine_spec;
	char *end;

	if (val && *val && !strcmp(key, "mon_host"))
		return set_str(&s->mon_host, val);
	if (val && *val == '/' && !strcmp(key, "conf"))
		return set_str(&s->conf, val);
	if (val && *val == '/' && !strcmp(key, "keyring"))
		return set_str(&s->keyring, val);
	if (val && good_name(val) && !strcmp(key, "id"))
		return set_str(&s->id, val);
	if (val && !strcmp(key, "timeout")) {
		unsigned long t = strtoul(val, &end, 10);

		if (*val >= '1' && *val <= '9' && !*end && t <= 3600) {
			s->timeout_s = (unsigned int)t;
			return 0;
		}
	}
	snprintf(err, errlen, "unknown or malformed option '%s%s%s' for engine 'rbd' (conf and "
		 "keyring take absolute paths, timeout 1 to 3600 seconds; accepted form: %s)",
		 key, val ? "=" : "", val ? val : "", RBD_USAGE);
	return -EINVAL;
}

/* Read the image's size after a header change, on the disk's own thread; tell the core. */
static void *size_thread(void *arg)
{
	struct rbd_disk *rd = arg;
	uint64_t size;

	pthread_mutex_lock(&rd->size_lock);
	for (;;) {
		while (!rd->size_changed && !rd->size_stop)
			pthread_cond_wait(&rd->size_cond, &rd->size_lock);
		if (rd->size_stop)
			break;
		rd->size_changed = false;
		pthread_mutex_unlock(&rd->size_lock);
		/* May wait for the cluster: only this thread does. */
		if (!rbd_get_size(rd->image, &size) &&
		    size != __atomic_load_n(&rd->size_now, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&rd->size_now, size, __ATOMIC_RELEASE);
			if (rd->notify_fd >= 0)
				eventfd_write(rd->notify_fd, 1);
		}
		pthread_mutex_lock(&rd->size_lock);
	}
	pthread_mutex_unlock(&rd->size_lock);
	return NULL;
}

/* librbd's header watch callback, on a librbd thread: only wake the size thread. */
static void header_changed(void *arg)
{
	struct rbd_disk *rd = arg;

	pthread_mutex_lock(&rd->size_lock);
	rd->size_changed = true;
	pthread_cond_signal(&rd->size_cond);
	pthread_mutex_unlock(&rd->size_lock);
}

/* Release what open made, in reverse; idempotent. */
static void rbd_teardown(struct rbd_disk *rd)
{
	if (rd->watching)
		rbd_update_unwatch(rd->image, rd->watch_handle);	/* waits for callbacks */
	rd->watching = false;
	if (rd->size_thread_ok) {
		pthread_mutex_lock(&rd->size_lock);
		rd->size_stop = true;
		pthread_cond_signal(&rd->size_cond);
		pthread_mutex_unlock(&rd->size_lock);
		pthread_join(rd->size_thread, NULL);
		rd->size_thread_ok = false;
	}
	if (rd->have_image)
		rbd_close(rd->image);	/* flushes the cache, releases the exclusive lock */
	rd->have_image = false;
	if (rd->have_ioctx)
		rados_ioctx_destroy(rd->ioctx);
	rd->have_ioctx = false;
	if (rd->have_cluster)
		rados_shutdown(rd->cluster);
	rd->have_cluster = false;
	if (rd->efd >= 0)
		close(rd->efd);
	rd->efd = -1;
}

/* Name whoever holds the image's exclusive lock into buf ("another client" if unknown). */
static void lock_owners(struct rbd_disk *rd, char *buf, size_t len)
{
	char *owners[8];
	size_t n = 8, used = 0;
	rbd_lock_mode_t mode;

	snprintf(buf, len, "another client");
	if (rbd_lock_get_owners(rd->image, &mode, owners, &n) || !n)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", owners[i]);
	rbd_lock_get_owners_cleanup(owners, n);
}

/* Whether none of the keyrings librados looks for by default exists (cluster "ceph"). */
static bool no_default_keyring(const char *id)
{
	static const char *const fixed[] = {
		"/etc/ceph/ceph.keyring", "/etc/ceph/keyring", "/etc/ceph/keyring.bin",
	};
	char path[128];

	snprintf(path, sizeof(path), "/etc/ceph/ceph.client.%s.keyring", id ? id : "admin");
	if (!access(path, F_OK))
		return false;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (!access(fixed[i], F_OK))
			return false;
	return true;
}

/* Connect to the cluster as the spec says, bounded by its timeout. */
static int rbd_connect(struct rbd_disk *rd, const struct rbd_spec *s, char *err, size_t errlen)
{
	char timeout[16];
	int ret;

	ret = rados_create(&rd->cluster, s->id);
	if (ret) {
		snprintf(err, errlen, "rbd:%s: cannot make a Ceph client: %s", rd->name,
			 strerror(-ret));
		return ret;
	}
	rd->have_cluster = true;	/* rados_shutdown releases it, connected or not */
	/*
	 * librados's own log goes to stderr, the daemon's log, only if a conf file asks:
	 * what fails is said in err.
	 */
	rados_conf_set(rd->cluster, "log_to_stderr", "false");
	rados_conf_set(rd->cluster, "err_to_stderr", "false");
	/* With mon_host and no conf, no ceph.conf is needed: read none. */
	if (s->conf || !s->mon_host) {
		ret = rados_conf_read_file(rd->cluster, s->conf);
		if (ret) {
			snprintf(err, errlen, "rbd:%s: cannot read the Ceph configuration %s: %s",
				 rd->name, s->conf ? s->conf : "(the default ceph.conf)",
				 strerror(-ret));
			return ret;
		}
	}
	/*
	 * No keyring given and none where librados looks by default: it would go on without
	 * cephx anyway, after printing that on stderr (its logging is not up yet, whatever
	 * err_to_stderr says); an empty keyring says the same without the noise.
	 */
	if (!s->keyring && !s->conf && no_default_keyring(s->id) &&
	    (ret = rados_conf_set(rd->cluster, "keyring", "/dev/null"))) {
		snprintf(err, errlen, "rbd:%s: cannot set up the Ceph client: %s", rd->name,
			 strerror(-ret));
		return ret;
	}
	snprintf(timeout, sizeof(timeout), "%u", s->timeout_s);
	/*
	 * Partial discards must discard (by default librbd skips those under its
	 * granularity, and the old data reads back). librbd's cache is off: a write is
	 * answered once the OSDs have it, never from this process's memory, so that it
	 * survives a kill of the daemon as a file disk's write in the page cache does
	 * (docs/restart.md). An I/O never times out: an OSD that dies and comes back gets
	 * it done (rados_osd_op_timeout stays 0).
	 */
	if ((s->mon_host && (ret = rados_conf_set(rd->cluster, "mon_host", s->mon_host))) ||
	    (s->keyring && (ret = rados_conf_set(rd->cluster, "keyring", s->keyring))) ||
	    (ret = rados_conf_set(rd->cluster, "client_mount_timeout", timeout)) ||
	    (ret = rados_conf_set(rd->cluster, "rbd_skip_partial_discard", "false")) ||
	    (ret = rados_conf_set(rd->cluster, "rbd_cache", "false"))) {
		snprintf(err, errlen, "rbd:%s: bad Ceph setting (mon_host '%s'?): %s", rd->name,
			 s->mon_host ? s->mon_host : "", strerror(-ret));
		return ret;
	}
	ret = rados_connect(rd->cluster);
	if (ret) {
		snprintf(err, errlen, "rbd:%s: cannot connect to the Ceph cluster (mon_host %s) "
			 "within %u s: %s; check that its monitors run and are reachable, and the "
			 "client's key (id=, keyring=)", rd->name,
			 s->mon_host ? s->mon_host : "from the configuration", s->timeout_s,
			 strerror(-ret));
		return ret;
	}
	return 0;
}

/* Open the image: read-write under its exclusive lock, or read-only (ro, a snapshot). */
static int rbd_open_image(struct rbd_disk *rd, const struct rbd_spec *s, bool ro, char *err,
			  size_t errlen)
{
	uint64_t features = 0;
	char owners[256];
	int ret;

	ret = rados_ioctx_create(rd->cluster, s->pool, &rd->ioctx);
	if (ret) {
		snprintf(err, errlen, "rbd:%s: %s pool '%s'%s", rd->name,
			 ret == -ENOENT ? "no such" : "cannot open", s->pool,
			 ret == -ENOENT ? " in the cluster" : "");
		if (ret != -ENOENT)
			snprintf(err + strlen(err), errlen - strlen(err), ": %s", strerror(-ret));
		return ret;
	}
	rd->have_ioctx = true;
	ret = ro ? rbd_open_read_only(rd->ioctx, s->image, &rd->image, s->snap) :
		   rbd_open(rd->ioctx, s->image, &rd->image, NULL);
	if (ret) {
		if (ret == -ENOENT)
			snprintf(err, errlen, "rbd:%s: no such image%s in pool '%s'", rd->name,
				 s->snap ? " or snapshot" : "", s->pool);
		else
			snprintf(err, errlen, "rbd:%s: cannot open the image: %s", rd->name,
				 strerror(-ret));
		return ret;
	}
	rd->have_image = true;
	if (ro)
		return 0;
	ret = rbd_get_features(rd->image, &features);
	if (!ret && !(features & RBD_FEATURE_EXCLUSIVE_LOCK)) {
		snprintf(err, errlen, "rbd:%s: the image lacks the exclusive-lock feature, without "
			 "which another client could write it at the same time: enable it (rbd "
			 "feature enable %s/%s exclusive-lock) or attach it read-only (,ro)",
			 rd->name, s->pool, s->image);
		return -EOPNOTSUPP;
	}
	/* Held until close; a peer's request for it is refused, not granted. */
	ret = ret ? ret : rbd_lock_acquire(rd->image, RBD_LOCK_MODE_EXCLUSIVE);
	if (ret) {
		lock_owners(rd, owners, sizeof(owners));
		if (ret == -EROFS || ret == -EBUSY)
			snprintf(err, errlen, "rbd:%s: the image is in use: client %s holds its "
				 "exclusive lock; detach it there first, or attach it read-only "
				 "(,ro)", rd->name, owners);
		else
			snprintf(err, errlen, "rbd:%s: cannot take the image's exclusive lock: %s",
				 rd->name, strerror(-ret));
		return ret == -EROFS || ret == -EBUSY ? -EBUSY : ret;
	}
	return 0;
}

/* Open the disk the spec names: connect, open the image, set up completions and the watch. */
static int rbd_disk_open(struct storage *disk, const struct storage_spec *spec, char *err,
			 size_t errlen)
{
	const struct rbd_spec *s = spec->engine_spec;
	struct rbd_disk *rd = calloc(1, sizeof(*rd));
	uint64_t size;
	int ret;

	if (!rd)
		return -ENOMEM;
	rd->efd = -1;
	rd->notify_fd = disk->notify_fd;
	pthread_mutex_init(&rd->size_lock, NULL);
	pthread_cond_init(&rd->size_cond, NULL);
	snprintf(rd->name, sizeof(rd->name), "%s/%s%s%s", s->pool, s->image, s->snap ? "@" : "",
		 s->snap ? s->snap : "");
	ret = rbd_connect(rd, s, err, errlen);
	ret = ret ? ret : rbd_open_image(rd, s, spec->readonly, err, errlen);
	if (ret)
		goto fail;
	rd->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ret = rd->efd < 0 ? -errno : rbd_set_image_notification(rd->image, rd->efd,
								 EVENT_TYPE_EVENTFD);
	if (ret) {
		snprintf(err, errlen, "rbd:%s: cannot set up completions: %s", rd->name,
			 strerror(-ret));
		goto fail;
	}
	/* Watch first, then read the size: no change falls between the two. */
	ret = -pthread_create(&rd->size_thread, NULL, size_thread, rd);
	rd->size_thread_ok = !ret;
	ret = ret ? ret : rbd_update_watch(rd->image, &rd->watch_handle, header_changed, rd);
	rd->watching = !ret;
	ret = ret ? ret : rbd_get_size(rd->image, &size);
	if (ret) {
		snprintf(err, errlen, "rbd:%s: cannot watch the image or read its size: %s",
			 rd->name, strerror(-ret));
		goto fail;
	}
	if (!size || size % 512) {
		snprintf(err, errlen, "rbd:%s: the image's size, %" PRIu64 " bytes, is not a "
			 "non-zero multiple of 512: resize it (rbd resize)", rd->name, size);
		ret = -EINVAL;
		goto fail;
	}
	__atomic_store_n(&rd->size_now, size, __ATOMIC_RELEASE);
	disk->size = size;
	disk->readonly = spec->readonly;
	disk->caps.flush = false;	/* no cache: a write is durable when the OSDs answer */
	disk->caps.discard = !spec->readonly;
	disk->caps.discard_zeroes = !spec->readonly;	/* with rbd_skip_partial_discard off */
	disk->caps.sector_size = disk->caps.physical_sector_size = 512;
	disk->priv = rd;
	return 0;
fail:
	rbd_teardown(rd);
	pthread_mutex_destroy(&rd->size_lock);
	pthread_cond_destroy(&rd->size_cond);
	free(rd);
	return ret;
}

/* Close the image and the connection; every queue was closed before. */
static void rbd_disk_close(struct storage *disk)
{
	struct rbd_disk *rd = disk->priv;

	rbd_teardown(rd);
	pthread_mutex_destroy(&rd->size_lock);
	pthread_cond_destroy(&rd->size_cond);
	free(rd);
}

/* blkbackctl resize: resize the image itself (we hold its lock); nothing in flight. */
static int rbd_disk_resize(struct storage *disk, uint64_t size, char *err, size_t errlen)
{
	struct rbd_disk *rd = disk->priv;
	int ret;

	if (disk->readonly) {
		snprintf(err, errlen, "rbd:%s is read-only: cannot resize it", rd->name);
		return -EROFS;
	}
	ret = rbd_resize(rd->image, size);
	if (ret) {
		snprintf(err, errlen, "rbd:%s: rbd_resize to %" PRIu64 " bytes failed: %s",
			 rd->name, size, strerror(-ret));
		return ret;
	}
	__atomic_store_n(&rd->size_now, size, __ATOMIC_RELEASE);
	disk->size = size;
	return 0;
}

/* The image's size as last read after a header change. */
static uint64_t rbd_size_now(struct storage *disk)
{
	struct rbd_disk *rd = disk->priv;

	return __atomic_load_n(&rd->size_now, __ATOMIC_ACQUIRE);
}

/* A queue: its own eventfd, and an epoll set of it and the image's eventfd. */
static int rbd_queue_open(struct storage *disk, struct storage_queue *q)
{
	struct rbd_disk *rd = disk->priv;
	struct rbd_queue *rq = calloc(1, sizeof(*rq));
	struct epoll_event ev = { .events = EPOLLIN };
	int ret = 0;

	if (!rq)
		return -ENOMEM;
	rq->rd = rd;
	pthread_mutex_init(&rq->lock, NULL);
	rq->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	rq->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (rq->efd < 0 || rq->epfd < 0)
		ret = -errno;
	ev.data.fd = rq->efd;
	if (!ret && epoll_ctl(rq->epfd, EPOLL_CTL_ADD, rq->efd, &ev))
		ret = -errno;
	ev.data.fd = rd->efd;
	if (!ret && epoll_ctl(rq->epfd, EPOLL_CTL_ADD, rd->efd, &ev))
		ret = -errno;
	if (ret) {
		if (rq->efd >= 0)
			close(rq->efd);
		if (rq->epfd >= 0)
			close(rq->epfd);
		pthread_mutex_destroy(&rq->lock);
		free(rq);
		return ret;
	}
	q->priv = rq;
	return 0;
}

/* Release a queue with nothing in flight. */
static void rbd_queue_close(struct storage_queue *q)
{
	struct rbd_queue *rq = q->priv;

	close(rq->epfd);
	close(rq->efd);
	pthread_mutex_destroy(&rq->lock);
	free(rq);
}

/* Hand an I/O to librbd; one refused at once completes here, with librbd's error. */
static void rbd_submit(struct storage_queue *q, struct storage_io *io)
{
	struct rbd_queue *rq = q->priv;
	rbd_image_t img = rq->rd->image;
	struct rbd_req *req = malloc(sizeof(*req));
	int ret;

	if (!req) {
		io->done(io, -ENOMEM);
		return;
	}
	req->io = io;
	req->q = rq;
	ret = rbd_aio_create_completion(req, NULL, &req->c);
	if (ret) {
		free(req);
		io->done(io, ret);
		return;
	}
	switch (io->op) {
	case STORAGE_READ:
		ret = rbd_aio_readv(img, io->iov, io->iovcnt, io->offset, req->c);
		break;
	case STORAGE_WRITE:
		ret = rbd_aio_writev(img, io->iov, io->iovcnt, io->offset, req->c);
		break;
	case STORAGE_FLUSH:
		ret = rbd_aio_flush(img, req->c);
		break;
	case STORAGE_DISCARD:
		ret = rbd_aio_discard(img, io->offset, io->len, req->c);
		break;
	default:
		ret = -EOPNOTSUPP;
		break;
	}
	if (ret < 0) {
		rbd_aio_release(req->c);
		free(req);
		io->done(io, ret);
	}
}

/* The engine's result for a completed request: bytes for a transfer, 0 for a flush. */
static int64_t req_result(const struct storage_io *io, ssize_t r)
{
	if (r < 0)
		return r >= -4095 ? r : -EIO;
	if (io->op == STORAGE_FLUSH)
		return 0;
	if (io->op == STORAGE_READ)
		return r;	/* the byte count */
	return (int64_t)io->len;	/* a write or discard says 0 */
}

/* Run completed requests' done, on this queue's thread, and free them. */
static void run_done(struct rbd_req *list)
{
	while (list) {
		struct rbd_req *req = list;

		list = req->next;
		req->io->done(req->io, req->result);
		free(req);
	}
}

/*
 * Take every completion of the image: ours run here, the others go to the queue that
 * submitted them. Then run what other queues handed to us.
 */
static void rbd_reap(struct storage_queue *q)
{
	struct rbd_queue *rq = q->priv;
	struct rbd_disk *rd = rq->rd;
	rbd_completion_t comps[RBD_REAP_BATCH];
	struct rbd_req *mine = NULL, **tail = &mine;
	eventfd_t v;
	int n;

	/* Reset the eventfd before draining: a completion after the drain sets it again. */
	eventfd_read(rd->efd, &v);
	do {
		n = rbd_poll_io_events(rd->image, comps, RBD_REAP_BATCH);
		for (int i = 0; i < n; i++) {
			struct rbd_req *req = rbd_aio_get_arg(comps[i]);

			req->result = req_result(req->io, rbd_aio_get_return_value(comps[i]));
			rbd_aio_release(comps[i]);
			req->next = NULL;
			if (req->q == rq) {
				*tail = req;
				tail = &req->next;
				continue;
			}
			pthread_mutex_lock(&req->q->lock);
			req->next = req->q->handed;
			req->q->handed = req;
			pthread_mutex_unlock(&req->q->lock);
			eventfd_write(req->q->efd, 1);
		}
	} while (n == RBD_REAP_BATCH);
	eventfd_read(rq->efd, &v);
	pthread_mutex_lock(&rq->lock);
	*tail = rq->handed;
	rq->handed = NULL;
	pthread_mutex_unlock(&rq->lock);
	run_done(mine);
}

/* What q's thread waits for: its epoll set (the image's or another queue's completions). */
static void rbd_poll(struct storage_queue *q, struct storage_poll *p)
{
	p->fd = ((struct rbd_queue *)q->priv)->epfd;
	p->events = POLLIN;
}

/* The engine, found by storage/module.c as storage_rbd_ops. */
const struct storage_ops storage_rbd_ops = {
	.name = "rbd",
	.usage = RBD_USAGE,
	.open = rbd_disk_open,
	.close = rbd_disk_close,
	.resize = rbd_disk_resize,
	.queue_open = rbd_queue_open,
	.queue_close = rbd_queue_close,
	.submit = rbd_submit,
	.poll = rbd_poll,
	.reap = rbd_reap,
	.parse_target = rbd_parse_target,
	.parse_option = rbd_parse_option,
	.spec_free = rbd_spec_free,
	.size_now = rbd_size_now,
};
