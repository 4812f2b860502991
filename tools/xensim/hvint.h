/*
 * hvint.h: what the files of the simulated hypervisor share. Calls go one way: hv.c
 * (domains created and destroyed, sockets, dispatch) -> hv-gnt.c (guest memory and grant
 * tables) -> hv-evtchn.c (event channels) -> hv-dom.c (the domain table and what every
 * handler shares). Not an interface for the rest of the daemon: that is hv.h.
 */
#ifndef XENSIM_HVINT_H
#define XENSIM_HVINT_H
#include "peer.h"
#include "counters.h"
#include "hvproto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HV_GNT_ENTRIES 32768u  /* Xen's default: 64 grant frames of v1 entries */
#define HV_GNT_RESERVED 8u     /* refs 0-7 are the toolstack's (GNTTAB_NR_RESERVED_ENTRIES) */
#define HV_MEM_FRAMES 262144u  /* 1 GiB of sparse guest memory per domain */
#define HV_MAX_PORTS 4096u     /* the 2-level event channel ABI on 64-bit */

struct hv_conn;

/* A grant table entry (v1 semantics). */
struct hv_gnt {
	uint32_t frame;
	uint16_t grantee;
	bool in_use, readonly;
};

enum hv_port_state { PORT_FREE, PORT_UNBOUND, PORT_INTERDOMAIN };

/* An event channel port; in/out are eventfds: "in" readable = pending on this port,
 * "out" = the peer's "in" (writing it notifies the peer). */
struct hv_port {
	enum hv_port_state state;
	uint32_t remote_dom, remote_port;
	int in, out;
	struct hv_conn *owner;   /* NULL once unbound by its user but still referenced */
	unsigned int refs;       /* unmap notifications that will send on it */
};

struct hv_dom {
	uint32_t id;
	bool alive;              /* false: destroyed, kept only while others map its pages */
	unsigned int refs;       /* 1 while alive + foreign pages mapped */
	int listen_fd;
	int memfd, memfd_ro;
	uint32_t *frame_use;     /* per frame: 1 if granted + mappings; 0 = free */
	uint32_t frame_cursor;   /* next-fit allocation */
	struct hv_gnt *gnt;      /* HV_GNT_ENTRIES */
	uint32_t *gnt_free;      /* FIFO of free refs: reuse a ref as late as possible */
	uint32_t gnt_head, gnt_count;
	struct hv_port *ports;   /* HV_MAX_PORTS, port 0 never used */
	struct hv_conn *conns;
	struct xensim_dom_counters *cnt;
};

/* An unmap notification (Linux gntdev/gntalloc SET_UNMAP_NOTIFY). */
struct hv_notify {
	uint32_t offset;         /* HV_NOTIFY_NONE: do not clear a byte */
	uint32_t port;           /* HV_NOTIFY_NONE: do not send an event */
};

/* A page of a mapping: which domain's frame it holds. */
struct hv_page {
	struct hv_dom *dom;
	uint32_t frame;
};

struct hv_map {
	uint32_t count;
	struct hv_notify notify;
	struct hv_page *pages;
};

struct hv_shr {
	uint32_t count, left;
	uint32_t grantee;
	struct hv_notify notify;
	uint32_t *refs;          /* UINT32_MAX once unshared */
};

/* One library handle's connection. */
struct hv_conn {
	struct hv_conn *next;
	struct hv_dom *dom;
	int fd;
	struct sim_peer peer;    /* the process at the other end */
	uint32_t max_grants, mapped;
	int32_t restrict_dom;    /* -1: unrestricted */
	uint8_t sent[(XENSIM_MAX_DOMID + 8) / 8]; /* memfds of these domains were sent */
	struct hv_map **maps;    /* by mapping id */
	uint32_t nmaps;
	struct hv_shr **shrs;    /* by share id */
	uint32_t nshrs;
	bool dead;
};

/* A reply under construction (hv.c sends it). */
struct hv_reply {
	struct hv_rep h;
	uint32_t doms[HV_MAX_NEW_DOMS];
	int fds[2 * HV_MAX_NEW_DOMS];
	void *payload;           /* count records of the op's reply type */
	size_t size;             /* bytes of payload */
};

/* hv.c */
struct xensim_dom_counters *hv_cnt(uint32_t domid);

/* hv-dom.c */
struct hv_dom *hv_dom_get(uint32_t domid, uint32_t self); /* alive domain, DOMID_SELF ok */
/* Put d in the table at domid (NULL: take it out); for hv.c. */
void hv_dom_set(uint32_t domid, struct hv_dom *d);
/* Drop a reference; the last one frees d (gnt_dom_fini, memfds, ports). */
void hv_dom_put(struct hv_dom *d);
/* Attach the memfds of d to the reply unless c has them; -E2BIG when too many. */
int hv_reply_memfds(struct hv_conn *c, struct hv_reply *r, struct hv_dom *d);
/* Grow a pointer table to hold index i; 0 or -ENOMEM. */
int hv_table_grow(void ***tab, uint32_t *n, uint32_t i);
/* Allocate, and free (idempotent), the grant table and the frame use counts of d. */
int gnt_dom_init(struct hv_dom *d);
void gnt_dom_fini(struct hv_dom *d);

/* hv-gnt.c */
/* Revoke every grant of d and free its unmapped pages (destroy). */
void gnt_dom_revoke(struct hv_dom *d);
void gnt_frame_put(struct hv_dom *d, uint32_t frame);
int gnt_map(struct hv_conn *c, const struct hv_req *q, const void *pl, struct hv_reply *r);
int gnt_unmap(struct hv_conn *c, uint32_t id, bool notify);
int gnt_share(struct hv_conn *c, const struct hv_req *q, struct hv_reply *r);
int gnt_unshare(struct hv_conn *c, uint32_t id, uint32_t first, uint32_t count, bool notify);
int gnt_copy(struct hv_conn *c, const struct hv_req *q, const void *pl, struct hv_reply *r);

/* hv-evtchn.c */
int evt_bind_unbound(struct hv_conn *c, uint32_t remote, struct hv_reply *r);
int evt_bind_interdomain(struct hv_conn *c, uint32_t rdom, uint32_t rport,
			 struct hv_reply *r);
int evt_unbind(struct hv_conn *c, uint32_t port);
int evt_restrict(struct hv_conn *c, uint32_t domid);
/* Close every port c bound. */
void evt_conn_release(struct hv_conn *c);
/* Close every port of d (destroy). */
void evt_dom_close(struct hv_dom *d);
/* Hold port of d for an unmap notification; -EINVAL when it is not bound. */
int evt_port_get(struct hv_dom *d, uint32_t port);
/* Send an event through port of d if asked (notify), and drop the hold. */
void evt_port_put(struct hv_dom *d, uint32_t port, bool notify);
#endif
