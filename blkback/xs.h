/* Small xenstore helpers: formatted paths, checked number parsing. */
#ifndef BLKBACK_XS_H
#define BLKBACK_XS_H

#include <stdbool.h>
#include <stdint.h>
#include <xenstore.h>

#include "num.h"

/*
 * Read path (printf-style, any length) into a malloc'd string; NULL if absent (errno
 * ENOENT) or if the read failed (another errno: the node may well exist).
 */
char *bxs_read(struct xs_handle *xs, xs_transaction_t t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Read a decimal number no larger than max. Returns 0, -ENOENT if the node
 * is absent, -EINVAL if it holds anything but digits or exceeds max, another
 * -errno if the read itself failed (the node may well exist).
 */
int bxs_read_uint(struct xs_handle *xs, xs_transaction_t t, const char *path,
		  uint64_t max, uint64_t *val);

/*
 * Write a printf-formatted value to dir/node, whatever its length. Returns 0 or -errno:
 * -E2BIG, with nothing written, when the value is longer than xenstore holds (see
 * bxs_value_max); a value is never cut.
 */
int bxs_printf(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *node,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * The longest value dir/node can hold: one xenstore message (XENSTORE_PAYLOAD_MAX, 4096
 * bytes) carries the node's path and its value.
 */
size_t bxs_value_max(const char *dir, const char *node);

/*
 * Write a message for people (an error node) to dir/node: one longer than the node holds
 * is cut, ending in a note that says so, so that the reader knows to look in the log.
 */
int bxs_write_message(struct xs_handle *xs, xs_transaction_t t, const char *dir,
		      const char *node, const char *msg);

/*
 * Run body inside a transaction, again from the start while the commit
 * conflicts (EAGAIN). An error from body aborts it. Returns 0 or -errno.
 */
int bxs_transact(struct xs_handle *xs, int (*body)(struct xs_handle *xs, xs_transaction_t t,
						   void *arg), void *arg);

/*
 * Write a xenbus state to dir/state, in one transaction, only while that node exists:
 * -ENOENT, with nothing written, once dir has been removed.
 */
int bxs_set_state(struct xs_handle *xs, const char *dir, int state);

/* Name of a xenbus state, for logs and tables. */
const char *xenbus_state_name(int state);

#endif
