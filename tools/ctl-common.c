/* What every blkbackctl command shares: errors, xenstore, domains, a disk's xenstore view. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>

#include "../blkback/num.h"
#include "../blkback/vdev.h"
#include "../blkback/xenio.h"
#include "../blkback/xs.h"
#include "../storage/storage.h"
#include "ctl.h"
#include "pidfile.h"

/* Print "blkbackctl: " and the message, and exit with status. */
static void __attribute__((noreturn)) vdie(int status, const char *fmt, va_list ap)
{
	fputs("blkbackctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	exit(status);
}

/* Print an error and exit 1: the command failed. */
void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(1, fmt, ap);
}

/* Print what is wrong with the command line and exit 2. */
void usage_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(2, fmt, ap);
}

/* Parse a --timeout value in seconds. */
int parse_timeout(const char *s)
{
	uint64_t v;

	if (num_parse_uint(s, 86400, &v) || !v)
		usage_die("bad --timeout '%s': give a number of seconds from 1 to 86400", s);
	return (int)v;
}

/* Seconds on the monotonic clock. */
double ctl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A disk's size for people: in MiB when it is whole MiB (what attach and resize have always
 * printed, so 3 TiB is "3145728 MiB"), else in KiB, else in bytes: exact, never "0 MiB".
 */
const char *ctl_size_text(uint64_t bytes, char buf[CTL_SIZE_TEXT])
{
	if (bytes && !(bytes & ((1u << 20) - 1)))
		snprintf(buf, CTL_SIZE_TEXT, "%" PRIu64 " MiB", bytes >> 20);
	else if (bytes && !(bytes & ((1u << 10) - 1)))
		snprintf(buf, CTL_SIZE_TEXT, "%" PRIu64 " KiB", bytes >> 10);
	else
		snprintf(buf, CTL_SIZE_TEXT, "%" PRIu64 " bytes", bytes);
	return buf;
}

/* Connect to xenstore and find our own domid. */
void ctl_open(struct ctl *c)
{
	uint64_t self = 0;

	c->xs = xs_open(0);
	if (!c->xs)
		die("cannot connect to xenstore: %s; run as root in dom0 with xenstored running",
		    strerror(errno));
	bxs_read_uint(c->xs, XBT_NULL, "domid", UINT16_MAX, &self);
	c->self = (unsigned int)self;
	if ((size_t)snprintf(c->root, sizeof(c->root), "/local/domain/%u/backend/%s", c->self,
			     c->kind) >= sizeof(c->root))
		usage_die("bad --kind '%s': too long", c->kind);
}

/* Refuse to go on when no daemon serves our kind. */
void need_daemon(const struct ctl *c)
{
	char path[PATH_MAX];

	if (pidfile_path(c->kind, path, sizeof(path)))
		die("the run directory's path is too long: set BLKBACKD_RUNDIR to the one "
		    "blkbackd uses");
	if (!pidfile_owner(path))
		die("no blkbackd is running for kind %s (no live %s): start it with "
		    "'blkbackd --daemon', then try again", c->kind, path);
}

/* The command that lists domains: xensim's in a simulated domain (its drop-in libraries
 * connect to XENSIM_HV), else xl's. */
static const char *domain_lister(void)
{
	return getenv("XENSIM_HV") ? "xensim list" : "xl list";
}

/* Resolve a domain name or id; die with advice if there is no such domain. */
unsigned int domain_id(const struct ctl *c, const char *arg)
{
	unsigned int n, found = UINT32_MAX;
	char **doms;
	uint64_t id;

	if (!parse_uint(arg, UINT16_MAX, &id)) {
		char *dir = bxs_read(c->xs, XBT_NULL, "/local/domain/%" PRIu64, id);

		if (!dir)
			die("there is no domain %" PRIu64 " ('%s' shows the running domains)", id,
			    domain_lister());
		free(dir);
		return (unsigned int)id;
	}
	doms = xs_directory(c->xs, XBT_NULL, "/local/domain", &n);
	for (unsigned int i = 0; doms && i < n && found == UINT32_MAX; i++) {
		char *name = bxs_read(c->xs, XBT_NULL, "/local/domain/%s/name", doms[i]);

		if (name && !strcmp(name, arg) && !parse_uint(doms[i], UINT16_MAX, &id))
			found = (unsigned int)id;
		free(name);
	}
	free(doms);
	if (found == UINT32_MAX)
		die("there is no domain named '%s' ('%s' shows the running domains)", arg,
		    domain_lister());
	return found;
}

/* Resolve a domain name, or take any domid: a dead domain's disk may still be in blkbackd. */
unsigned int domain_ref(const struct ctl *c, const char *arg)
{
	uint64_t id;

	return parse_uint(arg, UINT16_MAX, &id) ? domain_id(c, arg) : (unsigned int)id;
}

/* The name of a domain, or "?" (caller frees). */
char *domain_name(const struct ctl *c, unsigned int domid)
{
	char *name = bxs_read(c->xs, XBT_NULL, "/local/domain/%u/name", domid);

	return name ? name : strdup("?");
}

/* dir/node as a xenbus state; Unknown if absent or malformed. */
static int read_state(const struct ctl *c, const char *dir, const char *node)
{
	char *s = dir ? bxs_read(c->xs, XBT_NULL, "%s/%s", dir, node) : NULL;
	uint64_t v;
	int state = XenbusStateUnknown;

	if (s && !num_parse_uint(s, XenbusStateReconfigured, &v))
		state = (int)v;
	free(s);
	return state;
}

/* Read what xenstore says of domid's devid; disk_view_free frees it. */
void disk_view_read(const struct ctl *c, unsigned int domid, uint32_t devid,
		    struct disk_view *v)
{
	char be[160], *fe, *mode, *sectors;
	uint64_t n;

	memset(v, 0, sizeof(*v));
	snprintf(be, sizeof(be), "%s/%u/%u", c->root, domid, devid);
	v->spec = bxs_read(c->xs, XBT_NULL, "%s/params", be);
	v->error = bxs_read(c->xs, XBT_NULL, "%s/error", be);
	v->bs = read_state(c, be, "state");
	fe = bxs_read(c->xs, XBT_NULL, "%s/frontend", be);
	v->fs = read_state(c, fe, "state");
	mode = bxs_read(c->xs, XBT_NULL, "%s/mode", be);
	v->ro = mode && mode[0] == 'r';
	if (v->spec && !v->ro) {
		struct storage_spec spec;
		char err[STORAGE_ERR_LEN];

		if (!storage_spec_parse(v->spec, &spec, err, sizeof(err))) {
			v->ro = spec.readonly;
			storage_spec_free(&spec);
		}
	}
	sectors = bxs_read(c->xs, XBT_NULL, "%s/sectors", be);
	if (sectors && !num_parse_uint(sectors, UINT64_MAX >> SECTOR_SHIFT, &n))
		v->bytes = n << SECTOR_SHIFT;
	free(sectors);
	free(mode);
	free(fe);
}

/* Free what disk_view_read allocated; idempotent. */
void disk_view_free(struct disk_view *v)
{
	free(v->spec);
	free(v->error);
	v->spec = v->error = NULL;
}
