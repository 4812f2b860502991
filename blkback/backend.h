/* The backend: every device under /local/domain/<self>/backend/<kind>, driven by xenstore watches. */
#ifndef BLKBACK_BACKEND_H
#define BLKBACK_BACKEND_H

#include <xenstore.h>

struct blk_dev;

struct blk_backend {
	struct xs_handle *xs;
	unsigned int self;		/* our domid */
	char kind[32];			/* vbd3 by default */
	char root[96];			/* /local/domain/<self>/backend/<kind> */
	struct blk_dev *devs;
};

/* Connect to xenstore and watch the backend directory. */
int backend_open(struct blk_backend *be, const char *kind);

/* The fd to poll for watch events. */
int backend_fd(const struct blk_backend *be);

/* Handle every pending watch event. */
void backend_process(struct blk_backend *be);

/* Close every device (guests see Closing) and disconnect; idempotent. */
void backend_close(struct blk_backend *be);

#endif
