/*
 * blkfront.h: a userspace Xen block frontend, written only on the real Xen interfaces
 * (libxenstore, xengntshr_* from libxengnttab, libxenevtchn, xen/io/blkif.h). It runs in a
 * Linux domU (gntalloc) and, unchanged, in a xensim domain through the drop-in libraries.
 *
 * Three layers:
 *   - connect/disconnect: the xenbus handshake with the backend, as Linux xen-blkfront does;
 *   - I/O: request slots, each owning pages of a data pool shared once to the backend;
 *   - the low-level ring: put any request on the ring, push with or without notify, set
 *     req_prod directly, read responses raw (for hostile-frontend tests).
 * Functions return 0 (or a count) or -errno; a message for a person goes to the err buffer.
 */
#ifndef BLKFRONT_H
#define BLKFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * ring.h uses xen_mb/xen_rmb/xen_wmb, which libxenctrl normally supplies. The ring is
 * shared with another CPU, so these are real fences; the Makefile sets
 * __XEN_INTERFACE_VERSION__ so ring.h leaves them to us.
 */
#ifndef xen_mb
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif
#include <xen/grant_table.h>
#include <xen/io/ring.h>
#include <xen/io/blkif.h>

#define BLKFRONT_PAGE_SIZE 4096u
#define BLKFRONT_SECTOR 512u
#define BLKFRONT_MAX_RING_ORDER 4	/* what we accept of max-ring-page-order */
#define BLKFRONT_MAX_SLOTS 512		/* request slots at most: an order-4 ring's entries */
#define BLKFRONT_MAX_QUEUES 16		/* rings at most (multi-queue-num-queues) */
/* Slots unless asked for more; fewer when they would not fit BLKFRONT_GNTALLOC_LIMIT. */
#define BLKFRONT_DEFAULT_SLOTS 64
/* Linux gntalloc's default limit of pages shared at once: the default slot count keeps
 * slots * (data + indirect pages per slot) + ring pages within it. */
#define BLKFRONT_GNTALLOC_LIMIT 1024u
#define BLKFRONT_SEGS BLKIF_MAX_SEGMENTS_PER_REQUEST
/* The largest request without indirect descriptors: 11 full pages. The largest of a
 * connection is blkfront_max_req_bytes(). */
#define BLKFRONT_MAX_REQ_BYTES (BLKFRONT_SEGS * BLKFRONT_PAGE_SIZE)
/* Indirect segments: the default, as Linux blkfront's max_indirect_segments, and the most. */
#define BLKFRONT_DEFAULT_INDIRECT 32
#define BLKFRONT_MAX_INDIRECT 256
/* Segment descriptors one indirect page holds (512). */
#define BLKFRONT_SEGS_PER_INDIRECT_PAGE \
	(BLKFRONT_PAGE_SIZE / sizeof(struct blkif_request_segment))

struct blkfront;

/* One node of blkfront_opts.extra_nodes: name is relative to our vbd's directory
 * ("protocol", "queue-1/event-channel"); value NULL removes the node. */
struct blkfront_node {
	const char *name;
	const char *value;
};

/*
 * The ring layout we speak, and the protocol node that says so (blkif.h's
 * XEN_IO_PROTO_ABI_*). NATIVE is the layout of the architecture blkfront was built for,
 * published by its name (on x86_64 the same bytes and name as X86_64); the node is never
 * left out, since backends on x86 take a missing node for x86_32.
 */
enum blkfront_abi { BLKFRONT_ABI_NATIVE, BLKFRONT_ABI_X86_32, BLKFRONT_ABI_X86_64 };
/* The protocol node's value for abi. */
const char *blkfront_abi_name(enum blkfront_abi abi);
/* The ABI a connection speaks. */
enum blkfront_abi blkfront_abi(const struct blkfront *bf);

/* How to connect. Start from blkfront_opts_init(): some defaults are not zero. */
struct blkfront_opts {
	const char *vdev;		/* "xvdb", "51728" */
	unsigned int timeout_ms;	/* each wait for the backend; default 10 s */
	int max_ring_order;		/* largest ring-page-order to accept; -1: up to 4 */
	unsigned int slots;		/* request slots; 0: the ring size, at most
					 * BLKFRONT_DEFAULT_SLOTS, fewer if the grant
					 * device will not share that many pages */
	bool no_persistent;		/* do not write feature-persistent=1 */
	bool no_reset;			/* fail instead of resetting a stale connection */
	int indirect_segs;		/* -1 (blkfront_opts_init): min(backend's, 32);
					 * 0: direct requests only; N: min(N, backend's,
					 * BLKFRONT_MAX_INDIRECT) */
	bool indirect_always;		/* send every read/write as BLKIF_OP_INDIRECT when
					 * it fits, even of 11 segments or fewer */
	unsigned int queues;		/* rings wanted; 0: 1; N: min(N, backend's,
					 * BLKFRONT_MAX_QUEUES) */
	enum blkfront_abi abi;		/* ring layout and protocol node; default native */
	/* For hostile-frontend tests: nodes to write or remove in our directory after our
	 * own, in the transaction that publishes the rings. */
	const struct blkfront_node *extra_nodes;
	unsigned int n_extra_nodes;
};

/*
 * Every feature node of the protocol, in one place: what the backend offers and what we
 * picked. negotiate.c alone reads and writes them.
 */
struct blkfront_features {
	/* offered at InitWait */
	unsigned int max_ring_order;	/* max-ring-page-order, 0 if absent */
	unsigned int max_queues;	/* multi-queue-max-queues, 1 if absent */
	/* offered at Connected */
	bool flush;			/* feature-flush-cache */
	bool barrier;			/* feature-barrier */
	bool discard;			/* feature-discard */
	bool discard_secure;		/* discard-secure */
	uint32_t discard_granularity;	/* bytes */
	uint32_t discard_alignment;	/* bytes */
	bool persistent;		/* feature-persistent (the backend's) */
	unsigned int max_indirect;	/* feature-max-indirect-segments, 0 if absent */
	/* what we picked */
	unsigned int ring_order;	/* ring-page-order written (0: ring-ref only) */
	unsigned int nr_queues;		/* rings in use; with 1, no multi-queue-num-queues */
	bool use_persistent;		/* both sides said feature-persistent=1 */
	unsigned int indirect_segs;	/* most segments of an indirect request; 0: we send
					 * direct requests only */
	bool indirect_always;		/* every read/write that fits goes indirect */
};

/* The disk as the backend describes it when Connected. */
struct blkfront_disk {
	uint64_t sectors;		/* in 512-byte units, whatever sector-size is */
	uint32_t info;			/* VDISK_* bits */
	uint32_t sector_size;
	uint32_t physical_sector_size;
	bool readonly;
};

/* Fill opts with the defaults. */
void blkfront_opts_init(struct blkfront_opts *opts);

/*
 * Connect to device/vbd/<vdev> of this domain: wait for backend InitWait, share the rings
 * and bind their event channels, publish, wait for backend Connected, share the data pool
 * sized for the indirect segments it offers, go Connected.
 * On error *bfp is NULL and err says what failed and what to do.
 */
int blkfront_connect(const struct blkfront_opts *opts, struct blkfront **bfp,
		     char *err, size_t errlen);

/* Closing, wait for the backend to let go, Closed, then unshare and unbind; frees bf.
 * Returns the first error of the handshake (the resources are released anyway). */
int blkfront_disconnect(struct blkfront *bf, char *err, size_t errlen);

const struct blkfront_features *blkfront_features(const struct blkfront *bf);
const struct blkfront_disk *blkfront_disk(const struct blkfront *bf);
/* This domain's id, the backend's domain id, our device number. */
unsigned int blkfront_domid(const struct blkfront *bf);
unsigned int blkfront_backend_id(const struct blkfront *bf);
uint32_t blkfront_devid(const struct blkfront *bf);
const char *blkfront_backend_path(const struct blkfront *bf);
/* Disk size in bytes. */
uint64_t blkfront_size(const struct blkfront *bf);

/* ---- I/O layer ---- */

#define BLKFRONT_QUEUE_ANY (-1)

/*
 * One request slot: id = slot index; buf = its blkfront_slot_pages() pages, contiguous.
 * Slots are not tied to a queue: each submit picks one.
 */
struct blkfront_req {
	unsigned int id;
	uint8_t op;			/* BLKIF_OP_* */
	uint64_t offset;		/* bytes */
	uint32_t len;			/* bytes */
	void *buf;
	int queue;			/* the caller's pick of a queue for the next submit;
					 * BLKFRONT_QUEUE_ANY (what blkfront_req_get sets):
					 * round-robin */
	unsigned int on_queue;		/* the queue it went on, once submitted */
	int16_t status;			/* BLKIF_RSP_*, once complete */
	uint64_t submit_ns, complete_ns;
	void *user;			/* the caller's */
	bool inflight;
	struct blkfront_req *next_free;
};

/* Number of request slots (the deepest queue possible). */
unsigned int blkfront_slots(const struct blkfront *bf);
/* Number of rings (queues) in use. */
unsigned int blkfront_queues(const struct blkfront *bf);
/* The largest read or write one request may carry on this connection: the slot's pages,
 * 11 without indirect descriptors, up to 256 (1 MiB) with them. */
uint32_t blkfront_max_req_bytes(const struct blkfront *bf);
/* A free slot (its queue set to BLKFRONT_QUEUE_ANY), or NULL when every slot is in
 * flight or held. */
struct blkfront_req *blkfront_req_get(struct blkfront *bf);
/* Give a completed (or never submitted) slot back. */
void blkfront_req_put(struct blkfront *bf, struct blkfront_req *req);

/*
 * Put a request on a ring (not yet pushed): on req->queue, or the next queue in turn.
 * op READ/WRITE (len bytes at offset, data in req->buf, len <= blkfront_max_req_bytes();
 * more than 11 pages, or any size with indirect_always, go as BLKIF_OP_INDIRECT),
 * FLUSH_DISKCACHE/WRITE_BARRIER (len 0, or up to 11 pages of data), or DISCARD (any len).
 * Offsets and lengths must be multiples of the sector size.
 */
int blkfront_submit(struct blkfront *bf, struct blkfront_req *req, uint8_t op,
		    uint64_t offset, uint32_t len);
/* Push every ring that has new requests, notifying the backend only where it asked. */
int blkfront_kick(struct blkfront *bf);
/*
 * Collect up to max completed requests from every ring into done[]; waits up to
 * timeout_ms (-1: forever) for the first one when none is ready. Returns the count, 0 on
 * timeout, -ESHUTDOWN when the backend closed the device, -EPROTO when it answered an id
 * not in flight on that ring. A backend that is restarted while Connected and answers
 * later is only a slow backend here: nothing fails before timeout_ms.
 */
int blkfront_reap(struct blkfront *bf, struct blkfront_req **done, unsigned int max,
		  int timeout_ms);
/* Requests submitted and not yet reaped. */
unsigned int blkfront_inflight(const struct blkfront *bf);
/* Submit one request and wait for it: the sync path of read/write; status as -errno. */
int blkfront_sync_io(struct blkfront *bf, uint8_t op, uint64_t offset, uint32_t len,
		     void *data, int timeout_ms);
/* Notifications we sent and event-channel wakeups we took. */
void blkfront_io_counts(const struct blkfront *bf, uint64_t *notifies, uint64_t *wakeups);

/* ---- low-level ring: for tests that play a hostile frontend ---- */

/*
 * The ring functions below work on the current queue: 0 unless changed here.
 * -EINVAL if queue is not one of blkfront_queues().
 */
int blkfront_ring_select(struct blkfront *bf, unsigned int queue);
/* Its indices and size; its slots (RING_GET_REQUEST) are in the native layout only when
 * the connection speaks it: blkfront_ring_put and _get_response translate. */
blkif_front_ring_t *blkfront_ring(struct blkfront *bf);
/* Copy req into the slot at req_prod_pvt and advance it; -ENOSPC if the ring is full and
 * force is false (with force the slot is overwritten anyway). */
int blkfront_ring_put(struct blkfront *bf, const blkif_request_t *req, bool force);
/* The same with an indirect request (its operation should be BLKIF_OP_INDIRECT). */
int blkfront_ring_put_indirect(struct blkfront *bf, const blkif_request_indirect_t *req,
			       bool force);
enum blkfront_notify { BLKFRONT_NOTIFY_NEVER, BLKFRONT_NOTIFY_IF_ASKED, BLKFRONT_NOTIFY_ALWAYS };
/* Publish req_prod_pvt as req_prod, then notify as asked. */
int blkfront_ring_push(struct blkfront *bf, enum blkfront_notify how);
/* Write the shared req_prod directly (any value), without notifying. */
void blkfront_ring_set_req_prod(struct blkfront *bf, RING_IDX prod);
/* Send an event to the backend on the current queue's event channel. */
int blkfront_ring_notify(struct blkfront *bf);
/* Take the next unconsumed response off the ring as it is: 1, or 0 if none. */
int blkfront_ring_get_response(struct blkfront *bf, blkif_response_t *rsp);
/* Wait up to timeout_ms for an event from the backend on any queue or a xenstore change:
 * 1 when woken, 0 on timeout, -ESHUTDOWN once the backend left Connected. */
int blkfront_ring_wait(struct blkfront *bf, int timeout_ms);
/* The data pool: slot s owns pages s*P .. s*P+P-1, P = blkfront_slot_pages(). */
unsigned int blkfront_slot_pages(const struct blkfront *bf);
unsigned int blkfront_pool_pages(const struct blkfront *bf);
grant_ref_t blkfront_pool_gref(const struct blkfront *bf, unsigned int page);
void *blkfront_pool_page(const struct blkfront *bf, unsigned int page);
/* Indirect pages of each slot (0 without indirect descriptors), and slot's k-th one:
 * BLKFRONT_SEGS_PER_INDIRECT_PAGE segment descriptors the caller may fill, and its grant
 * ref for indirect_grefs[]. NULL / 0 when slot or k is out of range. */
unsigned int blkfront_indirect_pages(const struct blkfront *bf);
struct blkif_request_segment *blkfront_indirect_page(const struct blkfront *bf,
						     unsigned int slot, unsigned int k);
grant_ref_t blkfront_indirect_gref(const struct blkfront *bf, unsigned int slot,
				   unsigned int k);

/* Debug messages to stderr when set (-v). */
extern int blkfront_verbose;

#endif
