/*
 * hvproto.h: the wire protocol between the drop-in libxengnttab/libxenevtchn and the
 * simulated hypervisor in the xensim daemon, over the SOCK_SEQPACKET socket
 * $XENSIM_DIR/dom<ID>/hv. The socket a library connects to is the domain it acts as.
 *
 * One request, one reply, strictly in turn on each connection (a handle is one
 * connection; the library serialises its threads). A request is struct hv_req followed by
 * count payload records; a reply is struct hv_rep followed by ndoms domids, then count
 * payload records. File descriptors ride on the reply as SCM_RIGHTS:
 *   - for every domid listed in the reply, two memfds of that domain's guest memory,
 *     read-write then read-only, the first time this connection needs them;
 *   - HV_BIND_*: the port's "in" eventfd (readable when the port is pending) and its
 *     "out" eventfd (xenevtchn_notify writes 1 there: the peer's "in").
 * Requests never carry descriptors. Event notification never goes through the daemon.
 */
#ifndef XENSIM_HVPROTO_H
#define XENSIM_HVPROTO_H
#include <stdint.h>

#define HV_MAGIC 0x68767331u         /* "hvs1": HV_HELLO checks both sides speak this */
#define HV_PAGE_SIZE 4096u
#define HV_MAX_PAGES 16384u          /* pages per map/share call */
#define HV_MAX_COPY 4096u            /* grant sides per copy request (the lib splits) */
#define HV_MAX_NEW_DOMS 32u          /* domains whose memfds one reply may carry */
#define HV_MSG_MAX (HV_MAX_PAGES * 8u + 1024u) /* largest message either way */
#define HV_NOTIFY_NONE 0xffffffffu   /* notify offset/port "-1" */

enum hv_op {
	HV_HELLO = 1,        /* a = HV_MAGIC; rep a = our domid */
	HV_MAP,              /* a = writable, b = notify offset, c = notify port;
			      * payload hv_gref[count]; rep a = mapping id, payload hv_frame[count] */
	HV_UNMAP,            /* a = mapping id */
	HV_SET_MAX_GRANTS,   /* a = max pages mapped at once by this connection */
	HV_SHARE,            /* a = grantee domid, b = writable, c = notify offset,
			      * d = notify port; rep a = share id, payload hv_share[count] */
	HV_UNSHARE,          /* a = share id, b = first page, c = pages */
	HV_COPY,             /* payload hv_copy[count] (grant sides only);
			      * rep payload hv_copied[count] */
	HV_BIND_UNBOUND,     /* a = remote domid; rep a = port, fds in + out */
	HV_BIND_INTERDOMAIN, /* a = remote domid, b = remote port; rep a = port, fds in + out */
	HV_UNBIND,           /* a = port */
	HV_RESTRICT,         /* a = domid */
};

struct hv_req {
	uint32_t op;
	uint32_t count;
	uint32_t a, b, c, d;
};

struct hv_rep {
	int32_t err;         /* 0 or -errno */
	uint32_t count;      /* payload records */
	uint32_t ndoms;      /* domids (uint32) before the payload; 2 memfds each */
	uint32_t nfds;       /* descriptors attached */
	uint32_t a, b;
};

/* HV_MAP request record. */
struct hv_gref {
	uint32_t domid;
	uint32_t ref;
};

/* HV_MAP reply record: which memfd page backs the mapped page. */
struct hv_frame {
	uint32_t domid;
	uint32_t frame;
};

/* HV_SHARE reply record. */
struct hv_share {
	uint32_t ref;
	uint32_t frame;
};

/* HV_COPY request record: one grant side of a copy segment. */
struct hv_copy {
	uint32_t domid;
	uint32_t ref;
	uint16_t offset;
	uint16_t len;
	uint32_t write;      /* the copy writes into this grant */
};

/* HV_COPY reply record: GNTST_* and where the bytes are. */
struct hv_copied {
	int32_t status;
	uint32_t domid;
	uint32_t frame;
	uint32_t pad;
};
#endif
