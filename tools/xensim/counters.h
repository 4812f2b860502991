/*
 * counters.h: what the simulated hypervisor charges each domain, shared read-only with
 * tests and benchmarks through the file $XENSIM_DIR/counters (mmap it, index by domid).
 * The daemon and the drop-in libraries update it with relaxed atomic adds.
 */
#ifndef XENSIM_COUNTERS_H
#define XENSIM_COUNTERS_H
#include <stdint.h>

#define XENSIM_COUNTERS_MAGIC 0x78656e73696d6331ULL /* "xensimc1" */
#define XENSIM_MAX_DOMID 1023                        /* domids 0..1023, never reused */

/* One domain's counters; "by" means this domain made the call. */
struct xensim_dom_counters {
	uint64_t map_calls;      /* xengnttab_map_* calls by this domain */
	uint64_t maps;           /* grant pages mapped by this domain */
	uint64_t unmaps;         /* grant pages unmapped by this domain */
	uint64_t copy_calls;     /* xengnttab_grant_copy calls by this domain */
	uint64_t copies;         /* grant copy segments done by this domain */
	uint64_t notifies;       /* xenevtchn_notify calls by this domain */
	uint64_t shares;         /* pages this domain granted (xengntshr_share_*) */
	uint64_t unshares;       /* pages this domain ungranted */
	uint64_t map_errors;     /* grant map/copy segments refused (bad ref, wrong domain, ro) */
	uint64_t reserved[7];
};

struct xensim_counters {
	uint64_t magic;                   /* XENSIM_COUNTERS_MAGIC */
	uint32_t max_domid;               /* XENSIM_MAX_DOMID */
	uint32_t pad;
	struct xensim_dom_counters dom[XENSIM_MAX_DOMID + 1];
};
#endif
