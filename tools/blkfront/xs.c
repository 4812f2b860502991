/* xenstore reads and writes, the backend's state, and messages: what every layer of blkfront uses. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <xen/io/xenbus.h>

#include "bfutil.h"
#include "internal.h"

int blkfront_verbose;

/* Write a message for a person into err. */
void bf_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A debug line to stderr with -v. */
void bf_debug(const char *fmt, ...)
{
	va_list ap;

	if (!blkfront_verbose)
		return;
	va_start(ap, fmt);
	fputs("blkfront: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Name of a xenbus state for messages. */
const char *bf_state_name(int s)
{
	static const char *const names[] = {
		"Unknown", "Initialising", "InitWait", "Initialised", "Connected",
		"Closing", "Closed", "Reconfiguring", "Reconfigured",
	};

	return s >= 0 && s < (int)(sizeof(names) / sizeof(names[0])) ? names[s] : "?";
}

/* Read path into a malloc'd string, NULL if absent. */
char *bf_xs_read(struct blkfront *bf, xs_transaction_t t, const char *path)
{
	unsigned int len;

	return xs_read(bf->xs, t, path, &len);
}

/* Read dir/node as a decimal number no larger than max. */
int bf_xs_uint(struct blkfront *bf, xs_transaction_t t, const char *dir, const char *node,
	       uint64_t max, uint64_t *v)
{
	char path[256], *s;
	int err;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	s = bf_xs_read(bf, t, path);
	if (!s)
		return -ENOENT;
	err = bf_parse_uint(s, max, v) ? -EINVAL : 0;
	free(s);
	return err;
}

/* Write a printf-formatted value to dir/node. */
int bf_xs_printf(struct blkfront *bf, xs_transaction_t t, const char *dir, const char *node,
		 const char *fmt, ...)
{
	char path[256], val[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dir, node);
	if (n < 0 || (size_t)n >= sizeof(val))
		return -EINVAL;
	if (!xs_write(bf->xs, t, path, val, (unsigned int)n))
		return errno ? -errno : -EIO;
	return 0;
}

/* The backend's state, XenbusStateUnknown if absent or unreadable. */
int bf_backend_state(struct blkfront *bf)
{
	uint64_t v;

	return bf_xs_uint(bf, XBT_NULL, bf->bepath, "state", XenbusStateReconfigured, &v) ?
	       XenbusStateUnknown : (int)v;
}

/* Drain the watch queue; note a backend that left Connected under us. */
void bf_watch_events(struct blkfront *bf)
{
	char **w;

	while ((w = xs_check_watch(bf->xs)))
		free(w);
	if (bf->state == XenbusStateConnected && !bf->backend_gone &&
	    bf_backend_state(bf) != XenbusStateConnected) {
		bf_debug("backend left Connected (state %s)", bf_state_name(bf_backend_state(bf)));
		bf->backend_gone = true;
	}
}
