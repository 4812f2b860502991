/* Small xenstore helpers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <xen/io/xs_wire.h>

#include "xenio.h"
#include "xs.h"

/* Read path (printf-style) into a malloc'd string; NULL if absent (errno ENOENT) or the read failed. */
char *bxs_read(struct xs_handle *xs, xs_transaction_t t, const char *fmt, ...)
{
	unsigned int len;
	char *path, *val;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&path, fmt, ap);
	va_end(ap);
	if (n < 0) {
		errno = ENOMEM;
		return NULL;
	}
	val = xs_read(xs, t, path, &len);
	n = errno;	/* ENOENT (absent) or why the read failed: callers tell them apart */
	free(path);
	errno = n;
	return val;
}

/* Read a decimal number no larger than max. */
int bxs_read_uint(struct xs_handle *xs, xs_transaction_t t, const char *path,
		  uint64_t max, uint64_t *val)
{
	unsigned int len;
	char *s = xs_read(xs, t, path, &len);
	int ret;

	if (!s)		/* ENOENT: absent; anything else: xenstore did not answer */
		return errno && errno != ENOENT ? -errno : -ENOENT;
	ret = parse_uint(s, max, val);
	free(s);
	return ret;
}

/* The longest value that fits in dir/node: a xenstore message holds the path and the value. */
size_t bxs_value_max(const char *dir, const char *node)
{
	size_t path = strlen(dir) + 1 + strlen(node) + 1;

	return path >= XENSTORE_PAYLOAD_MAX ? 0 : XENSTORE_PAYLOAD_MAX - path;
}

/* Write len bytes of val to dir/node; -E2BIG, never cut, when xenstore cannot hold them. */
static int write_node(struct xs_handle *xs, xs_transaction_t t, const char *dir,
		      const char *node, const char *val, size_t len)
{
	char *path;
	int err = 0;

	if (len > bxs_value_max(dir, node))
		return -E2BIG;
	if (asprintf(&path, "%s/%s", dir, node) < 0)
		return -ENOMEM;
	if (!xs_write(xs, t, path, val, (unsigned int)len))
		err = errno ? -errno : -EIO;
	free(path);
	return err;
}

/* Write a printf-formatted value to dir/node. */
int bxs_printf(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *node,
	       const char *fmt, ...)
{
	va_list ap;
	char *val;
	int n, err;

	va_start(ap, fmt);
	n = vasprintf(&val, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	err = write_node(xs, t, dir, node, val, (size_t)n);
	free(val);
	return err;
}

/* Write a message to dir/node; one too long for xenstore is cut, saying so at its end. */
int bxs_write_message(struct xs_handle *xs, xs_transaction_t t, const char *dir,
		      const char *node, const char *msg)
{
	static const char cut[] = " [... cut to fit xenstore; the log has all of it]";
	size_t len = strlen(msg), max = bxs_value_max(dir, node);
	char *val;
	int err;

	if (len <= max)
		return write_node(xs, t, dir, node, msg, len);
	if (max < sizeof(cut))
		return -E2BIG;
	val = malloc(max + 1);
	if (!val)
		return -ENOMEM;
	memcpy(val, msg, max - (sizeof(cut) - 1));
	memcpy(val + max - (sizeof(cut) - 1), cut, sizeof(cut));
	err = write_node(xs, t, dir, node, val, max);
	free(val);
	return err;
}

/* Run body inside a transaction, retried while the commit conflicts. */
int bxs_transact(struct xs_handle *xs, int (*body)(struct xs_handle *xs, xs_transaction_t t,
						   void *arg), void *arg)
{
	for (;;) {
		xs_transaction_t t = xs_transaction_start(xs);
		int err;

		if (t == XBT_NULL)
			return -errno;
		err = body(xs, t, arg);
		if (err) {
			xs_transaction_end(xs, t, true);
			return err;
		}
		if (xs_transaction_end(xs, t, false))
			return 0;
		if (errno != EAGAIN)
			return -errno;
	}
}

/* What bxs_set_state writes. */
struct state_write {
	const char *dir;
	int state;
};

/*
 * The state node, if it still exists (see bxs_set_state). A read that fails otherwise
 * says nothing about the node: the write goes ahead.
 */
static int write_state(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	struct state_write *w = arg;
	char path[256];
	uint64_t v;

	if (snprintf(path, sizeof(path), "%s/state", w->dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (bxs_read_uint(xs, t, path, XenbusStateReconfigured, &v) == -ENOENT)
		return -ENOENT;
	return bxs_printf(xs, t, w->dir, "state", "%d", w->state);
}

/*
 * A plain write after the toolstack deleted the device's directory (libxl removes it once
 * the device is Closed) would create it again; such a leftover blocks that vdev for the
 * domain's life.
 */
int bxs_set_state(struct xs_handle *xs, const char *dir, int state)
{
	struct state_write w = { .dir = dir, .state = state };

	return bxs_transact(xs, write_state, &w);
}

/* Name of a xenbus state, for logs and tables. */
const char *xenbus_state_name(int state)
{
	static const char *const names[] = {
		[XenbusStateUnknown] = "Unknown",
		[XenbusStateInitialising] = "Initialising",
		[XenbusStateInitWait] = "InitWait",
		[XenbusStateInitialised] = "Initialised",
		[XenbusStateConnected] = "Connected",
		[XenbusStateClosing] = "Closing",
		[XenbusStateClosed] = "Closed",
		[XenbusStateReconfiguring] = "Reconfiguring",
		[XenbusStateReconfigured] = "Reconfigured",
	};

	if (state < 0 || state >= (int)(sizeof(names) / sizeof(names[0])))
		return "Invalid";
	return names[state];
}
