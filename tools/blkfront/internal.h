/* internal.h: the frontend's state, shared by the library's files only. */
#ifndef BLKFRONT_INTERNAL_H
#define BLKFRONT_INTERNAL_H

#include <stdarg.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

#include "bfutil.h"
#include "blkfront.h"
#include "request.h"

/* One ring and its event channel. */
struct bf_queue {
	void *sring;
	grant_ref_t ring_refs[1u << BLKFRONT_MAX_RING_ORDER];
	blkif_front_ring_t ring;	/* indices; nr_ents as in abi's layout */
	enum blkfront_abi abi;		/* the layout of the slots (layout.c) */
	evtchn_port_t port;		/* ours; the backend binds to it */
	bool port_bound;
};

struct blkfront {
	struct blkfront_opts opts;
	struct xs_handle *xs;
	xengntshr_handle *xgs;
	xenevtchn_handle *xce;
	unsigned int self;		/* our domid */
	unsigned int backend_id;
	int broken;			/* -EPROTO once the backend broke the protocol */
	uint32_t devid;
	char vdev[16];			/* as the user named it */
	char fepath[96];		/* /local/domain/<self>/device/vbd/<devid> */
	char *bepath;			/* from the frontend's backend node */
	char be_state_path[160];
	bool watching;
	int state;			/* our xenbus state, as last written */
	struct blkfront_features feat;
	struct blkfront_disk disk;

	/* rings and event channels (ring.c): one per queue, on one xenevtchn handle */
	struct bf_queue queues[BLKFRONT_MAX_QUEUES];
	unsigned int nr_queues;		/* set up so far */
	unsigned int ring_pages;	/* per queue */
	unsigned int cur;		/* the low-level API's current queue */
	unsigned int next_queue;	/* round-robin of blkfront_submit */
	uint64_t notifies, wakeups;

	/* data pool, indirect pages and request slots (io.c) */
	void *pool;
	unsigned int pool_pages;
	grant_ref_t *pool_refs;
	unsigned int slot_pages;	/* data pages per slot */
	void *ind_pool;			/* indirect pages, ind_pages per slot */
	unsigned int ind_pages;
	grant_ref_t *ind_refs;
	struct bf_geom geom;
	struct blkfront_req *reqs;
	unsigned int slots;
	struct blkfront_req *free;
	unsigned int inflight;
	bool backend_gone;		/* the backend left Connected while we were */
};

/* Write a message for a person into err (printf-style). */
void bf_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A debug line to stderr when blkfront_verbose is set. */
void bf_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* xs.c */
/* The name of xenbus state s, for messages. */
const char *bf_state_name(int s);
/* Read path into a malloc'd string, NULL if absent. */
char *bf_xs_read(struct blkfront *bf, xs_transaction_t t, const char *path);
/* Read dir/node as a number no larger than max: 0, -ENOENT, -EINVAL. */
int bf_xs_uint(struct blkfront *bf, xs_transaction_t t, const char *dir, const char *node,
	       uint64_t max, uint64_t *v);
/* Write a printf-formatted value to dir/node: 0 or -errno. */
int bf_xs_printf(struct blkfront *bf, xs_transaction_t t, const char *dir, const char *node,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The backend's state, XenbusStateUnknown if unreadable. */
int bf_backend_state(struct blkfront *bf);
/* Handle pending xenstore watch events: note a backend that left Connected. */
void bf_watch_events(struct blkfront *bf);

/* negotiate.c */
/* Read what the backend offers at InitWait and pick ring order and queues. */
void bf_negotiate_initwait(struct blkfront *bf);
/* Remove the transport nodes of an earlier connection from our directory. */
int bf_remove_stale(struct blkfront *bf);
/* Write ring-ref(s), event-channel, protocol and our features in transaction t. */
int bf_publish(struct blkfront *bf, xs_transaction_t t);
/* Read the disk and the features the backend offers once Connected, and pick. */
int bf_negotiate_connected(struct blkfront *bf, char *err, size_t errlen);

/* extra.c */
/* Write or remove opts.extra_nodes in transaction t, after bf_publish. */
int bf_publish_extra(struct blkfront *bf, xs_transaction_t t);

/* ring.c */
/* Share the ring pages and bind an unbound event channel for the backend, per queue. */
int bf_ring_setup(struct blkfront *bf, char *err, size_t errlen);
/* Unshare the rings and unbind the event channels; idempotent. */
void bf_ring_teardown(struct blkfront *bf);
/* Copy req (a request-sized slot) onto queue q's ring; -ENOSPC when full unless force. */
int bf_q_put(struct bf_queue *q, const void *req, bool force);
/* Publish q's requests, then notify as asked. */
int bf_q_push(struct blkfront *bf, struct bf_queue *q, enum blkfront_notify how);
/* Take q's next response: 1, or 0 if none (rsp_event re-armed). */
int bf_q_get_response(struct bf_queue *q, blkif_response_t *rsp);

/* layout.c */
/* Entries a ring of bytes holds in abi's layout. */
unsigned int bf_abi_ring_size(enum blkfront_abi abi, void *sring, size_t bytes);
/* Copy a native request (any of its forms) onto q's ring at idx, in q's layout. */
void bf_abi_put(struct bf_queue *q, RING_IDX idx, const blkif_request_t *req);
/* Read the response at idx of q's ring, in q's layout, into a native one. */
void bf_abi_get(const struct bf_queue *q, RING_IDX idx, blkif_response_t *rsp);

/* io.c */
/* Share the data pool (and indirect pages) and set up the request slots, once the
 * backend is Connected and the indirect segments are known. */
int bf_io_setup(struct blkfront *bf, char *err, size_t errlen);
/* Unshare the pool and free the slots; idempotent. */
void bf_io_teardown(struct blkfront *bf);

#endif
