/* Small xenstore helpers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenio.h"
#include "xs.h"

/* Read path (printf-style) into a malloc'd string; NULL if absent (errno ENOENT) or if the read failed. */
char *bxs_read(struct xs_handle *xs, xs_transaction_t t, const char *fmt, ...)
{
	char path[256];
	unsigned int len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return xs_read(xs, t, path, &len);
}

/* Parse a whole string as a decimal number no larger than max. */
int parse_uint(const char *s, uint64_t max, uint64_t *val)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*val = v;
	return 0;
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

/* Write a printf-formatted value to dir/node. */
int bxs_printf(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *node,
	       const char *fmt, ...)
{
	char path[256], val[256];
	va_list ap;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (!xs_write(xs, t, path, val, strlen(val)))
		return errno ? -errno : -EIO;
	return 0;
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
