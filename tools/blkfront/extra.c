/*
 * Extra nodes a hostile-frontend test asks to publish: written or removed in our own
 * directory after the protocol's nodes, in the same transaction, so that the backend
 * sees them at Initialised exactly as a malicious frontend would leave them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Write (any length) or remove opts.extra_nodes in transaction t: 0 or -errno. */
int bf_publish_extra(struct blkfront *bf, xs_transaction_t t)
{
	for (unsigned int i = 0; i < bf->opts.n_extra_nodes; i++) {
		const struct blkfront_node *n = &bf->opts.extra_nodes[i];
		unsigned int len = n->value ? (unsigned int)strlen(n->value) : 0;
		char path[256];

		snprintf(path, sizeof(path), "%s/%s", bf->fepath, n->name);
		if (n->value ? !xs_write(bf->xs, t, path, n->value, len) :
			       !xs_rm(bf->xs, t, path)) {
			int e = errno;

			if (n->value || e != ENOENT)	/* removing what is absent is done */
				return e ? -e : -EIO;
		}
		bf_debug("extra node %s %s", path, n->value ? "written" : "removed");
	}
	return 0;
}
