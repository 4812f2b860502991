/* The backend: every device under /local/domain/<self>/backend/<kind>, driven by xenstore watches. */
#ifndef BLKBACK_BACKEND_H
#define BLKBACK_BACKEND_H

#include <xenstore.h>

#include "grant.h"

struct blk_dev;

/* Queues per disk at most, whatever --max-queues asks. */
#define BLK_MAX_QUEUES 32

/* How the daemon serves every disk (blkbackd's options). */
struct blk_backend_opts {
	const char *kind;		/* vbd3 by default */
	unsigned int max_queues;	/* multi-queue-max-queues; 0: online CPUs */
	enum grant_mode grant_mode;	/* how guest data is reached */
	unsigned int poll_us;		/* busy-poll window bound, microseconds; 0: none */
	const char *state_dir;		/* ring journals, for a restart; NULL: none */
	unsigned int shutdown_wait_s;	/* an exit waits this long for storage; 0: 10 */
	uint64_t grant_pages_domain;	/* grant pages one domain may hold; 0: default */
	uint64_t grant_pages;		/* ... and every domain together; 0: default */
	uint64_t mem_limit;		/* bytes the ramdisks may allocate; 0: half the RAM */
	unsigned int mem_grace_s;	/* a rebooted VM's mem disk is kept so long ... */
	bool mem_grace_set;		/* ... if set; else MEM_GRACE_S */
};

/* How long a mem disk of a VM that reboots (or crashes) is kept by default, in seconds. */
#define MEM_GRACE_S 60

struct blk_backend {
	struct xs_handle *xs;
	unsigned int self;		/* our domid */
	char kind[32];			/* vbd3 by default */
	char root[96];			/* /local/domain/<self>/backend/<kind> */
	unsigned int max_queues;	/* offered per disk, 1 .. BLK_MAX_QUEUES */
	unsigned int poll_us;
	enum grant_mode grant_mode;
	char state_dir[128];		/* ring journals; "" for none */
	unsigned int shutdown_wait_s;	/* an exit waits this long for storage */
	int stopped_fd;			/* an eventfd: some ring's thread has ended */
	int task_fd;			/* an eventfd: some device's storage call has ended */
	int retry_fd;			/* a timerfd: read again what xenstore failed to answer */
	int keep_fd;			/* a timerfd: a kept mem disk's grace window ends */
	unsigned int mem_grace_s;	/* how long, after a reboot or crash */
	bool rescan;			/* a device waited for its rings and is freed since */
	bool scan_retry, release_retry;	/* a scan, a domain death check, failed to read */
	unsigned int scan_fails, release_fails;	/* ... so many times in a row */
	bool leaving;			/* asked to exit, leaving disks to a successor */
	void *leave_reply;		/* the FILE * of that request, answered at the end */
	struct blk_dev *devs;
};

/* Connect to xenstore and watch the backend directory. */
int backend_open(struct blk_backend *be, const struct blk_backend_opts *opts);

/* The fd to poll for watch events. */
int backend_fd(const struct blk_backend *be);

/* Handle every pending watch event. */
void backend_process(struct blk_backend *be);

/* Called on a ring's thread as it ends (blk_ring_config.stopped): wakes stopped_fd. */
void backend_ring_stopped(void *arg);

/* stopped_fd polled readable: finish the disconnects that waited for rings to stop. */
void backend_reap_rings(struct blk_backend *be);

/* task_fd polled readable: take the results of the storage calls that have ended. */
void backend_reap_jobs(struct blk_backend *be);

/*
 * Reads of xenstore that fail for another reason than the node being absent are tried
 * again from the main loop, XS_RETRIES times in a row at most, XS_RETRY_MS apart and
 * doubling: a transient failure must not read as a removed device or a dead domain.
 */
#define XS_RETRIES 8
#define XS_RETRY_MS 50

/*
 * A read for who ("d3 xvdb", "backend") of what failed with err: arm the retry timer
 * and count *fails up, or after XS_RETRIES in a row say so, reset *fails and give up
 * until the next change. True if a retry is armed.
 */
bool backend_retry_later(struct blk_backend *be, unsigned int *fails, const char *who,
			 const char *what, int err);

/* keep_fd polled readable: free the kept mem disks whose grace window has ended. */
void backend_keep_due(struct blk_backend *be);

/* retry_fd polled readable: run again what waits for a retry. */
void backend_retry_due(struct blk_backend *be);

/* Close every device (guests see Closing) and disconnect; idempotent. */
void backend_close(struct blk_backend *be);

/*
 * After backend_close: wait, without a bound, for the io_uring requests in flight on the
 * disks it left to the exit, which the kernel would run on after the process has gone.
 */
void backend_wait_kernel_io(struct blk_backend *be);

/*
 * Let go of every device for a successor daemon: answer what is in flight, keep
 * the ring journals, and leave the guests Connected. Disks whose data lives in
 * our memory cannot be handed over and are closed. Then disconnect; idempotent.
 */
void backend_leave(struct blk_backend *be);

#endif
