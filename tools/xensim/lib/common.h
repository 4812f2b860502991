/*
 * common.h: what xensim's drop-in libxengnttab and libxenevtchn share: the connection to
 * the simulated hypervisor ($XENSIM_HV, protocol in ../hvproto.h), the counters file and
 * error logging.
 */
#ifndef XENSIM_LIB_COMMON_H
#define XENSIM_LIB_COMMON_H
#include "../counters.h"
#include "../hvproto.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The public functions; everything else stays hidden (-fvisibility=hidden). */
#define XENSIM_API __attribute__((visibility("default")))

struct xentoollog_logger;

/* One connection to the hypervisor: one library handle. */
struct hvc {
	int fd;
	uint32_t domid;
	bool cloexec;
};

/* A reply: the header, the domids whose memfd pairs came, the payload, the fds. */
struct hvc_reply {
	struct hv_rep h;
	const uint32_t *doms;
	const void *payload;
	int fds[2 * HV_MAX_NEW_DOMS];
	void *buf;
};

/* Connect to $XENSIM_HV and say hello; on failure print why (as the real libraries do
 * when /dev/xen is missing) and return -errno. lib names the library for messages. */
int hvc_open(struct hvc *c, const char *lib, bool cloexec);
/* Close the connection; idempotent. */
void hvc_close(struct hvc *c);
/* One round trip: send q + payload, wait for the reply (at most reply_max payload bytes).
 * 0 when the exchange worked (the daemon's verdict is r->h.err) or -errno. The caller
 * owns r->fds[0 .. r->h.nfds) and must call hvc_reply_free. */
int hvc_call(struct hvc *c, const struct hv_req *q, const void *pl, size_t size,
	     size_t reply_max, struct hvc_reply *r);
void hvc_reply_free(struct hvc_reply *r);
/* This domain's counters in $XENSIM_DIR/counters, or NULL when it cannot be mapped. */
struct xensim_dom_counters *hvc_counters(uint32_t domid);
/* Log an error through logger, or to stderr when it is NULL ("lib: error: msg: errno"). */
void hvc_log(struct xentoollog_logger *logger, const char *lib, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#endif
