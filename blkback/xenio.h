/* The Xen public I/O headers, with the memory barriers ring.h expects. */
#ifndef BLKBACK_XENIO_H
#define BLKBACK_XENIO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * ring.h uses xen_mb/xen_rmb/xen_wmb, which libxenctrl normally supplies.
 * The ring is shared with another CPU, so these must be real fences, not
 * just compiler barriers: x86 orders stores against stores and loads against
 * loads, but a full barrier is needed before re-reading req_event/rsp_event.
 * The Makefile sets __XEN_INTERFACE_VERSION__ so ring.h leaves these to us.
 */
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#include <xen/grant_table.h>
#include <xen/io/ring.h>
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>

#define XEN_PAGE_SIZE 4096u
#define SECTOR_SHIFT 9
#define SECTORS_PER_PAGE (XEN_PAGE_SIZE >> SECTOR_SHIFT)

#endif
