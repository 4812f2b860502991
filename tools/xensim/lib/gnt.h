/*
 * gnt.h: the handle shared by xengnttab_* and xengntshr_* (both are struct
 * xengntdev_handle in xengnttab.h) in xensim's drop-in libxengnttab.
 */
#ifndef XENSIM_LIB_GNT_H
#define XENSIM_LIB_GNT_H
#include "common.h"

#include <pthread.h>
#include <stdint.h>

#define GNT_BUCKETS 256

/* A range this handle mapped (grant map) or shares (gntshr). */
struct gnt_area {
	struct gnt_area *next;
	char *addr;
	uint32_t count;
	uint32_t id;         /* the daemon's mapping or share id */
	uint32_t left;       /* shares: pages still shared */
	uint8_t *gone;       /* shares: per page, already unshared */
};

struct xengntdev_handle {
	struct hvc hv;
	pthread_mutex_t lock;
	struct xentoollog_logger *logger;
	int memfd[XENSIM_MAX_DOMID + 1][2]; /* other domains' memory: read-write, read-only */
	struct gnt_area *maps[GNT_BUCKETS]; /* by address */
	struct gnt_area *shares;
	const char *lib;
};

/* Open a handle for xengnttab_open / xengntshr_open; NULL + errno on failure. */
struct xengntdev_handle *gnt_open(struct xentoollog_logger *logger, const char *what);
/* Unmap everything, close everything; never talks to the daemon (safe after fork). */
int gnt_close(struct xengntdev_handle *h);
/* Keep the memfds that came with a reply. */
void gnt_take_memfds(struct xengntdev_handle *h, struct hvc_reply *r);
/* Map n pages (domid, frame) contiguously; the address or NULL + errno. */
void *gnt_place(struct xengntdev_handle *h, uint32_t n, const struct hv_frame *f, int prot);
/* Set errno from -err and return NULL / -1. */
void *gnt_fail_null(int err);
int gnt_fail(int err);
#endif
