/* The nbd engine's insides, shared by storage/nbd.c (the engine) and nbd-conn.c (a connection). */
#ifndef STORAGE_NBD_INT_H
#define STORAGE_NBD_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage.h"

struct nbd_handle;

#define NBD_MAX_RANGE (1u << 30)	/* bytes of one trim or write-zeroes command */
#define NBD_BACKOFF_MIN_MS 50		/* the first wait after a failed attempt ... */
#define NBD_BACKOFF_MAX_MS 2000		/* ... doubling up to this */
#define NBD_ATTEMPT_MS 5000		/* one reconnect attempt may take this long */
#define NBD_DRAIN_MAX 256		/* replies read in one reap, at most */

/* What a server offers on a connection. */
struct nbd_offer {
	uint64_t size;
	bool readonly, flush, trim, zero, multi_conn;
	uint32_t min_block, pref_block, max_block;	/* bytes */
};

struct nbd_req;

/* One NBD command of a request: on its connection's wait list or sent list, or done. */
struct nbd_part {
	struct nbd_req *req;
	struct nbd_part *prev, *next;	/* in the list it is on */
	uint64_t off;
	uint32_t len;
	char *buf;			/* READ/WRITE: the bytes */
	bool sent;			/* libnbd has it and owes its callback */
};

/* One storage_io, cut into parts. */
struct nbd_req {
	struct storage_io *io;
	struct nbd_queue *nq;		/* the queue it came on: done runs on its thread */
	char *bounce;			/* the bytes of several iovecs, or NULL */
	unsigned int nparts, left;	/* parts, and parts not finished */
	int err;			/* the first part's error, -errno */
	struct nbd_req *next_done;	/* on nq's done list */
	struct nbd_part part[];
};

enum nbd_conn_state { NBD_UP, NBD_CONNECTING, NBD_WAITING };

/* One libnbd handle and its state, used by one queue or (without multi-conn) all of them. */
struct nbd_conn {
	struct nbd_disk *d;
	pthread_mutex_t lock;		/* everything here, the handle's calls, owners' done lists */
	struct nbd_handle *h;		/* NULL while waiting */
	enum nbd_conn_state state;
	struct nbd_part wait, sent;	/* list heads: parts to send, parts libnbd has */
	uint64_t down_since;		/* ms: when the server was lost; 0 while up */
	uint64_t next_try, attempt_end;	/* ms: the next attempt; the end of this one */
	unsigned int backoff_ms;
	bool failing;			/* down past the timeout: I/O fails at once */
	bool was_up;			/* it has been up: coming back is a reconnect */
	unsigned int resend;		/* parts waiting when the connection came back */
	struct nbd_queue *cur;		/* the queue whose thread runs libnbd now */
};

/* A queue: its connection, its finished requests, and (shared connection) its fds. */
struct nbd_queue {
	struct nbd_disk *d;
	struct nbd_conn *conn;
	struct nbd_req *done;		/* finished, newest first; under conn->lock */
	int efd;			/* shared: rung when another thread finished ours */
	int epfd;			/* shared: polls efd and the socket */
	int sock;			/* shared: the socket as registered in epfd, or -1 */
};

/* The disk: where the server is, what it offered at open. */
struct nbd_disk {
	char *uri;
	unsigned int timeout_ms;	/* reconnect timeout */
	struct nbd_offer offer;
	uint64_t max_part;		/* bytes of one read or write command */
	pthread_mutex_t lock;		/* h0 */
	struct nbd_handle *h0;		/* open's connection, until a queue takes it */
	struct nbd_conn *shared;	/* without multi-conn: every queue's connection */
	unsigned int conns_up, conns_down;	/* atomic, for storage_link */
	uint64_t reconnects;		/* atomic */
};

/* Milliseconds on the monotonic clock. */
uint64_t nbe_now_ms(void);
/* Read what the server offers on a connected handle; -errno with a message in err. */
int nbe_read_offer(struct nbd_handle *h, struct nbd_offer *o, char *err, size_t errlen);
/* A handle set up for uri, connecting; NULL with the reason in err. */
struct nbd_handle *nbe_start_connect(const char *uri, char *err, size_t errlen);

/* A connection on h (connected), or with h NULL one that connects from its queue's loop. */
struct nbd_conn *nbe_conn_new(struct nbd_disk *d, struct nbd_handle *h);
/* Close it; nothing is in flight. NULL is fine. */
void nbe_conn_free(struct nbd_conn *c);
/* Queue r's parts to send; false (nothing queued) if the connection is failing. Locked. */
bool nbe_conn_add(struct nbd_conn *c, struct nbd_req *r);
/* Send what waits, if up; cur is the calling queue. Locked. */
void nbe_conn_send(struct nbd_conn *c, struct nbd_queue *cur);
/* What the connection waits for now. Locked. */
void nbe_conn_wants(struct nbd_conn *c, struct storage_poll *p);
/* Do what the socket or the clock allows: replies, sends, reconnects, the timeout. Locked. */
void nbe_conn_step(struct nbd_conn *c, struct nbd_queue *cur);

#endif
