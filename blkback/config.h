/*
 * The configuration a device reads from xenstore, read and checked apart from xenstore
 * itself: the toolstack's nodes in the backend directory (frontend, frontend-id, params,
 * mode) and the frontend's (ring refs, ring-page-order, event channels, protocol,
 * multi-queue-num-queues, queue-N/, feature-persistent). Each function reads its nodes
 * through a callback, so that tests/fuzz/fuzz-config.c and tests/unit/test-config.c can
 * feed it any node map; it returns 0, or -errno with the reason (the text blkbackd
 * writes to the backend's error node) in why.
 */
#ifndef BLKBACK_CONFIG_H
#define BLKBACK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "../storage/storage.h"
#include "ring.h"

/* Where a device's nodes are, and how to read one. */
struct cfg_nodes {
	/* The node at path as a malloc'd string; NULL if absent (or unreadable). */
	char *(*read)(void *arg, const char *path);
	void *arg;
	const char *bepath;		/* the backend's directory */
	const char *fepath;		/* the frontend's; NULL before cfg_frontend */
};

/* The longest frontend directory accepted, so that every path built on it fits. */
#define CFG_MAX_FEPATH 128

/*
 * The frontend's directory from the backend's frontend and frontend-id nodes, in *fepath
 * (malloc'd). -EAGAIN while either is absent or not yet a number; -EINVAL when the
 * frontend is not domain domid's.
 */
int cfg_frontend(const struct cfg_nodes *n, uint32_t domid, char **fepath, char *why,
		 size_t len);

/*
 * Whether a toolstack made the device and runs a hotplug script for it: libxl writes the
 * script's path in the backend's script node, and waits for InitWait before running it.
 */
bool cfg_hotplug(const struct cfg_nodes *n);

/*
 * The disk: the spec in params (libxl's "aio:" format prefix taken off, "qcow2:" kept as
 * the engine's, "vhd:" served by the vpc engine, "qcow:" and "qed:" refused) (see
 * storage_spec_parse), read-only also when the mode
 * node starts with 'r'. *params gets the spec's text (malloc'd) for the log. On error
 * nothing is left allocated.
 */
int cfg_disk(const struct cfg_nodes *n, struct storage_spec *spec, char **params, char *why,
	     size_t len);

/* The queue count the frontend picked, 1 to max: 1 without multi-queue-num-queues. */
int cfg_nr_queues(const struct cfg_nodes *n, unsigned int max, unsigned int *nr, char *why,
		  size_t len);

/*
 * What every queue shares, into cfg: the ABI (protocol) and the grant mode, mode if the
 * frontend's feature-persistent allows it (and, with cfg->take_over, the backend's: what
 * an earlier daemon offered). cfg->grant_mode is set even on error.
 */
int cfg_common(const struct cfg_nodes *n, enum grant_mode mode, struct blk_ring_config *cfg,
	       char *why, size_t len);

/*
 * Queue q of nr, into cfg: ring_order, ring_refs and remote_port, as Linux blkback reads
 * them from the frontend's directory (one queue) or its queue-q/ (several): without
 * ring-page-order (always top-level) a single ring-ref; with it, ring-ref0 ..
 * ring-ref<2^order - 1>, order at most BLK_RING_MAX_ORDER.
 */
int cfg_queue(const struct cfg_nodes *n, unsigned int nr, unsigned int q,
	      struct blk_ring_config *cfg, char *why, size_t len);

#endif
