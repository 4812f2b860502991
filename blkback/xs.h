/* Small xenstore helpers: formatted paths, checked number parsing. */
#ifndef BLKBACK_XS_H
#define BLKBACK_XS_H

#include <stdbool.h>
#include <stdint.h>
#include <xenstore.h>

/* Read path (printf-style) into a malloc'd string; NULL if absent (errno ENOENT) or if the read failed. */
char *bxs_read(struct xs_handle *xs, xs_transaction_t t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Read a decimal number no larger than max. Returns 0, -ENOENT if the node
 * is absent, -EINVAL if it holds anything but digits or exceeds max, another
 * -errno if the read itself failed (the node may well exist).
 */
int bxs_read_uint(struct xs_handle *xs, xs_transaction_t t, const char *path,
		  uint64_t max, uint64_t *val);

/* Write a printf-formatted value to dir/node. Returns 0 or -errno. */
int bxs_printf(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *node,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Run body inside a transaction, again from the start while the commit
 * conflicts (EAGAIN). An error from body aborts it. Returns 0 or -errno.
 */
int bxs_transact(struct xs_handle *xs, int (*body)(struct xs_handle *xs, xs_transaction_t t,
						   void *arg), void *arg);

/* Parse a whole string as a decimal number no larger than max. */
int parse_uint(const char *s, uint64_t max, uint64_t *val);

/* Name of a xenbus state, for logs and tables. */
const char *xenbus_state_name(int state);

#endif
