/* The io_uring engine: a disk image file or block device driven through one io_uring per queue. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "filecommon.h"
#include "storage.h"

/*
 * A queue's ring holds up to 512 requests (order 4), each with one step in flight, so
 * the SQ takes them all and the CQ (twice the SQ) never overflows.
 */
#define URING_DEPTH 512

/* SQ entries of each queue's ring; tests make it small to fill it. */
unsigned int storage_uring_depth = URING_DEPTH;

/* From <linux/blkdev.h> (Linux 6.12); older headers lack it. */
#ifndef BLOCK_URING_CMD_DISCARD
#define BLOCK_URING_CMD_DISCARD _IO(0x12, 0)
#endif

/*
 * The rest of a read or write that came back short, resubmitted. Rare, so
 * allocated when needed; its user_data is its address with bit 0 set, where
 * a first submission's is the storage_io's address.
 */
struct uring_rest {
	struct storage_io *io;
	uint64_t done;			/* bytes transferred so far */
	struct uring_rest *next;	/* while waiting for an SQE */
	int iovcnt;
	struct iovec iov[];		/* what is left of io->iov */
};

/*
 * One queue: its own ring and the eventfd the ring signals, on the disk's
 * file or device (disk->priv, a struct file_target). A CQE is only ever seen
 * by the ring it was submitted on, so completions cannot reach another
 * queue, and the queues of a disk share nothing they change.
 *
 * When the SQ is full and the kernel takes nothing more for now (io_uring_enter
 * says EBUSY or EAGAIN: wait for completions), an I/O waits in order on the
 * queue's lists, and gets its SQE after the next reap or kick. A full SQ is
 * never an error the guest sees.
 */
struct uring_queue {
	const struct file_target *t;	/* the disk's, shared by its queues */
	struct io_uring ring;
	bool ring_ok;			/* ring initialized */
	int efd;			/* what q polls (readable): registered with the ring */
	unsigned int in_kernel;		/* SQEs submitted, CQE not yet seen */
	struct storage_io *waiting, **waiting_tail;	/* no SQE yet, oldest first */
	struct uring_rest *rests;	/* short transfers' rests with no SQE yet */
};

/* Submit every prepared SQE; what the kernel refuses now stays queued for the next try. */
static void uring_enter(struct uring_queue *u)
{
	while (io_uring_sq_ready(&u->ring)) {
		int ret = io_uring_submit(&u->ring);

		/*
		 * Submission stops early at an SQE that fails to prepare (it
		 * completes with its error): go on with the rest. -EBUSY means
		 * completions are waiting: the reap they cause pushes again.
		 * -EAGAIN (no kernel memory) waits for the next kick or reap.
		 */
		if (ret == -EINTR)
			continue;
		if (ret <= 0)
			break;
		u->in_kernel += (unsigned int)ret;
	}
}

/* Take an SQE, submitting what is queued if the SQ is full; NULL if the kernel takes none. */
static struct io_uring_sqe *uring_sqe(struct uring_queue *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		uring_enter(u);
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

/* Prepare the SQE for the rest of a short read or write. */
static void prep_rest(struct io_uring_sqe *sqe, const struct uring_queue *u,
		      struct uring_rest *rest)
{
	const struct storage_io *io = rest->io;

	if (io->op == STORAGE_READ)
		io_uring_prep_readv(sqe, u->t->fd, rest->iov, (unsigned int)rest->iovcnt,
				    io->offset + rest->done);
	else
		io_uring_prep_writev(sqe, u->t->fd, rest->iov, (unsigned int)rest->iovcnt,
				     io->offset + rest->done);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)rest | 1);
}

/* Prepare the I/O's SQE (below, beside the engine's submit). */
static void prep_io(struct io_uring_sqe *sqe, const struct uring_queue *u,
		    struct storage_io *io);

/* Give the waiting I/Os SQEs, rests first, then the others in order, while there are SQEs. */
static void uring_fill(struct uring_queue *u)
{
	struct io_uring_sqe *sqe;

	while (u->rests && (sqe = uring_sqe(u))) {
		struct uring_rest *rest = u->rests;

		u->rests = rest->next;
		prep_rest(sqe, u, rest);
	}
	while (!u->rests && u->waiting && (sqe = uring_sqe(u))) {
		struct storage_io *io = u->waiting;

		u->waiting = io->engine_next;
		if (!u->waiting)
			u->waiting_tail = &u->waiting;
		prep_io(sqe, u, io);
	}
}

/*
 * Submit what is prepared and what waits for an SQE, as far as the kernel takes it.
 * If it takes nothing while nothing of ours is in the kernel, no completion would
 * come to try again: the eventfd is signalled so that the ring thread comes back.
 */
static void uring_push(struct uring_queue *u)
{
	do {
		uring_fill(u);
		uring_enter(u);
	} while ((u->rests || u->waiting) && io_uring_sq_space_left(&u->ring));
	if ((u->rests || u->waiting || io_uring_sq_ready(&u->ring)) && !u->in_kernel)
		eventfd_write(u->efd, 1);
}

/* Prepare a discard of a block device with the block layer's URING_CMD. */
static void prep_cmd_discard(struct io_uring_sqe *sqe, int fd, uint64_t offset, uint64_t len)
{
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = BLOCK_URING_CMD_DISCARD;
	sqe->addr = offset;
	sqe->addr3 = len;
}

/* Prepare the I/O's SQE. */
static void prep_io(struct io_uring_sqe *sqe, const struct uring_queue *u,
		    struct storage_io *io)
{
	int fd = u->t->fd;

	switch (io->op) {
	case STORAGE_READ:
		io_uring_prep_readv(sqe, fd, io->iov, (unsigned int)io->iovcnt, io->offset);
		break;
	case STORAGE_WRITE:
		io_uring_prep_writev(sqe, fd, io->iov, (unsigned int)io->iovcnt, io->offset);
		break;
	case STORAGE_FLUSH:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	case STORAGE_DISCARD:
		/* caps.discard for a block device means open found the command works. */
		if (u->t->blockdev)
			prep_cmd_discard(sqe, fd, io->offset, io->len);
		else
			io_uring_prep_fallocate(sqe, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
						(off_t)io->offset, (off_t)io->len);
		break;
	}
	io_uring_sqe_set_data(sqe, io);
}

/*
 * Prepare the I/O's SQE on q's ring; submission waits for kick. With no SQE
 * to be had, or others already waiting for one, it waits in line.
 */
static void uring_submit(struct storage_queue *q, struct storage_io *io)
{
	struct uring_queue *u = q->priv;
	struct io_uring_sqe *sqe = u->waiting || u->rests ? NULL : uring_sqe(u);

	if (sqe) {
		prep_io(sqe, u, io);
		return;
	}
	io->engine_next = NULL;
	*u->waiting_tail = io;
	u->waiting_tail = &io->engine_next;
}

/* Start everything submit prepared on q since the last kick: one io_uring_enter. */
static void uring_kick(struct storage_queue *q)
{
	uring_push(q->priv);
}

/* Queue what is left of a short read or write after done bytes; 0 or -ENOMEM. */
static int uring_resubmit(struct uring_queue *u, struct storage_io *io, struct uring_rest **restp,
			  uint64_t done)
{
	struct uring_rest *rest = *restp;
	struct io_uring_sqe *sqe;
	uint64_t skip = done;
	int i = 0, n = 0;

	if (!rest) {
		rest = malloc(sizeof(*rest) + (size_t)io->iovcnt * sizeof(rest->iov[0]));
		if (!rest)
			return -ENOMEM;
		rest->io = io;
		*restp = rest;
	}
	rest->done = done;
	while (skip >= io->iov[i].iov_len)	/* done < len: stops inside the vector */
		skip -= io->iov[i++].iov_len;
	for (; i < io->iovcnt; i++, skip = 0)
		rest->iov[n++] = (struct iovec){ (char *)io->iov[i].iov_base + skip,
						 io->iov[i].iov_len - skip };
	rest->iovcnt = n;
	sqe = u->rests ? NULL : uring_sqe(u);
	if (sqe) {
		prep_rest(sqe, u, rest);
	} else {			/* waits for room, ahead of new I/O */
		rest->next = u->rests;
		u->rests = rest;
	}
	return 0;
}

/* One CQE: finish its I/O, or resubmit the rest of a short transfer. */
static void uring_complete(struct uring_queue *u, uint64_t data, int res)
{
	struct uring_rest *rest = (data & 1) ? (struct uring_rest *)(uintptr_t)(data & ~1ull) : NULL;
	struct storage_io *io = rest ? rest->io : (struct storage_io *)(uintptr_t)data;
	uint64_t done = rest ? rest->done : 0;
	int64_t result;

	if (res < 0) {
		result = res;
	} else if (io->op == STORAGE_FLUSH) {
		result = 0;
	} else if (io->op == STORAGE_DISCARD) {
		result = (int64_t)io->len;
	} else if (res == 0) {
		result = -EIO;		/* end of file inside the disk: it shrank under us */
	} else {
		done += (uint64_t)res;
		if (done >= io->len)
			result = (int64_t)io->len;
		else if (!(result = uring_resubmit(u, io, &rest, done)))
			return;
	}
	free(rest);
	io->done(io, result);
}

/* Run every completion of q; then submit what done() callbacks and retries queued. */
static void uring_reap(struct storage_queue *q)
{
	struct uring_queue *u = q->priv;
	struct io_uring_cqe *cqe;
	eventfd_t count;

	/* Read first: a CQE posted after the drain below signals again. EAGAIN is fine. */
	eventfd_read(u->efd, &count);
	while (!io_uring_peek_cqe(&u->ring, &cqe)) {
		uint64_t data = cqe->user_data;
		int res = cqe->res;

		io_uring_cqe_seen(&u->ring, cqe);
		if (u->in_kernel)
			u->in_kernel--;
		uring_complete(u, data, res);
	}
	uring_push(u);
}

/* Change the size, with nothing in flight on any queue. */
static int uring_resize(struct storage *disk, uint64_t size, char *err, size_t errlen)
{
	return file_target_resize(disk->priv, disk, size, err, errlen);
}

/* q's ring thread polls the eventfd registered with the io_uring, readable. */
static void uring_poll(struct storage_queue *q, struct storage_poll *p)
{
	const struct uring_queue *u = q->priv;

	p->fd = u->efd;
	p->events = POLLIN;
}

/*
 * Whether this kernel discards a block device with a URING_CMD (Linux 6.12).
 * An empty range probes it: a kernel with the command refuses it with EINVAL
 * after checking the device can discard; one without answers EOPNOTSUPP, and
 * one without URING_CMD at all is caught by the opcode probe first. The
 * ring is open's own, thrown away after the probe.
 */
static bool uring_cmd_discard_works(struct io_uring *ring, int fd,
				    const struct io_uring_probe *probe)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int res;

	if (!probe || !io_uring_opcode_supported(probe, IORING_OP_URING_CMD) ||
	    !(sqe = io_uring_get_sqe(ring)))
		return false;
	prep_cmd_discard(sqe, fd, 0, 0);
	io_uring_sqe_set_data64(sqe, 0);
	if (io_uring_submit_and_wait(ring, 1) != 1 || io_uring_peek_cqe(ring, &cqe))
		return false;
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res == -EINVAL;
}

/*
 * Keep discard only where the ring can do it without blocking the ring
 * thread: IORING_OP_FALLOCATE (Linux 5.6) for a file, the URING_CMD (Linux
 * 6.12) for a block device. io_uring has no secure erase. Running BLKDISCARD
 * synchronously instead would stall every request of the ring for as long
 * as the device takes, so where the command is missing, discard is not
 * offered (the file engine offers it).
 */
static void uring_probe_discard(struct io_uring *ring, const struct file_target *t,
				struct storage_caps *caps)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
	bool ok;

	if (t->blockdev)
		ok = caps->discard && uring_cmd_discard_works(ring, t->fd, probe);
	else
		ok = caps->discard && probe && io_uring_opcode_supported(probe, IORING_OP_FALLOCATE);
	io_uring_free_probe(probe);
	caps->secure_discard = false;
	if (!ok) {
		caps->discard = caps->discard_zeroes = false;
		caps->discard_granularity = caps->discard_alignment = 0;
	}
}

/* Explain why io_uring_queue_init failed, and name the engine that works without it. */
static void uring_unavailable(const struct storage_spec *spec, int e, char *err, size_t errlen)
{
	const char *why = "";
	char sysctl[96];
	FILE *f;
	int disabled = 0;

	switch (e) {
	case ENOSYS:
		why = ": this kernel was built without io_uring";
		break;
	case EPERM:
	case EACCES:
		f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
		if (f) {
			if (fscanf(f, "%d", &disabled) != 1)
				disabled = 0;
			fclose(f);
		}
		if (disabled) {
			snprintf(sysctl, sizeof(sysctl), ": disabled by kernel.io_uring_disabled=%d",
				 disabled);
			why = sysctl;
		} else {
			why = ": refused by seccomp or a security module";
		}
		break;
	case ENOMEM:
		why = ": RLIMIT_MEMLOCK may be too low for its rings";
		break;
	}
	snprintf(err, errlen, "io_uring is not available for %s (%s%s); use file:%s%s%s instead",
		 spec->path, strerror(e), why, spec->path, spec->direct ? ",direct" : "",
		 spec->readonly ? ",ro" : "");
}

/* Release a queue's ring and eventfd; idempotent, nothing may be in flight on it. */
static void uring_queue_close(struct storage_queue *q)
{
	struct uring_queue *u = q->priv;

	if (!u)
		return;
	if (u->ring_ok)
		io_uring_queue_exit(&u->ring);
	if (u->efd >= 0)
		close(u->efd);
	free(u);
	q->priv = NULL;
}

/* Give a queue its own ring on the disk's fd, and the eventfd it signals. */
static int uring_queue_open(struct storage *disk, struct storage_queue *q)
{
	struct uring_queue *u = calloc(1, sizeof(*u));
	int ret;

	if (!u)
		return -ENOMEM;
	u->t = disk->priv;
	u->efd = -1;
	u->waiting_tail = &u->waiting;
	q->priv = u;
	ret = io_uring_queue_init(storage_uring_depth, &u->ring, 0);
	if (ret)
		goto out;
	u->ring_ok = true;
	u->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->efd < 0) {
		ret = -errno;
		goto out;
	}
	ret = io_uring_register_eventfd(&u->ring, u->efd);
out:
	if (ret)
		uring_queue_close(q);
	return ret;
}

/*
 * Open the file or device. A ring of the queues' size, set up here and
 * thrown away, says now (with advice) if io_uring is unavailable rather than
 * at each queue_open, and probes what discard the ring can do.
 */
static int uring_open(struct storage *disk, const struct storage_spec *spec, char *err,
		      size_t errlen)
{
	struct io_uring ring;
	int ret = file_target_attach(disk, spec, err, errlen);

	if (ret)
		return ret;
	ret = io_uring_queue_init(URING_DEPTH, &ring, 0);
	if (ret) {
		uring_unavailable(spec, -ret, err, errlen);
		goto out;
	}
	uring_probe_discard(&ring, disk->priv, &disk->caps);
	io_uring_queue_exit(&ring);
out:
	if (ret)
		file_target_detach(disk);
	return ret;
}

const struct storage_ops storage_uring_ops = {
	.name = "uring",
	.usage = "uring:PATH[,direct][,ro][,shared]",
	.needs_path = true,
	.open = uring_open,
	.close = file_target_detach,	/* every queue was closed before */
	.resize = uring_resize,
	.queue_open = uring_queue_open,
	.queue_close = uring_queue_close,
	.submit = uring_submit,
	.kick = uring_kick,
	.poll = uring_poll,
	.reap = uring_reap,
};
