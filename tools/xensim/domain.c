/*
 * domain.c: the simulated domains created and destroyed as a toolstack does: the
 * hypervisor, then xenstore. The table of domains is core.c's.
 */
#include "domain.h"
#include "xensim.h"
#include "hv.h"
#include "xsd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Like Xen, ids are not reused while the simulator runs. */
static unsigned int next_id = 1;

/* A name is letters, digits, '-', '_' and '.', and not only digits (those are ids). */
static bool valid_name(const char *name)
{
	bool digits = true;
	size_t len = strlen(name);

	if (!len || len >= XENSIM_NAME_MAX)
		return false;
	for (const char *p = name; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("-_.", *p)))
			return false;
		digits &= *p >= '0' && *p <= '9';
	}
	return !digits;
}

/* Create domain name with id (0 for dom0) as a toolstack would. */
static int create_id(const char *name, unsigned int id)
{
	struct sim_domain *d;
	char dir[PATH_MAX], sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int ret;

	ret = sim_dom_path(dir, sizeof(dir), id, "");
	if (!ret)
		ret = sim_dom_path(sock, sizeof(sock), id, "xenstored");
	if (ret)
		return ret;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->id = id;
	d->target = -1;
	snprintf(d->name, sizeof(d->name), "%s", name);
	if (mkdir(dir, 0755) && errno != EEXIST) {
		ret = -errno;
		free(d);
		return ret;
	}
	dom_set(id, d);
	ret = hv_domain_create(id);
	if (ret) {
		sim_log("cannot create domain %s: hypervisor: %s", name, strerror(-ret));
		goto fail;
	}
	d->introduced = true;
	ret = xsd_domain_add(id, name);
	if (ret) {
		sim_log("cannot create domain %s: xenstore: %s", name, strerror(-ret));
		hv_domain_destroy(id);
		goto fail;
	}
	sim_log("domain %u (%s) created", id, name);
	return 0;
fail:
	dom_set(id, NULL);
	free(d);
	rmdir(dir);
	return ret;
}

/* Create Domain-0. */
int dom_init(void)
{
	return create_id("Domain-0", 0);
}

/* Create a guest domain: the next free id. */
int dom_create(const char *name, unsigned int *id)
{
	int ret;

	if (!valid_name(name))
		return -EINVAL;
	if (dom_lookup(name))
		return -EEXIST;
	if (next_id > XENSIM_MAX_DOMID)
		return -ENOSPC;
	ret = create_id(name, next_id);
	if (ret)
		return ret;
	*id = next_id++;
	return 0;
}

/* Destroy domain id; dom0 only at shutdown (through dom_destroy_all). */
static void destroy(unsigned int id, bool kill)
{
	struct sim_domain *d = dom_by_id(id);
	char path[PATH_MAX];

	if (!d)
		return;
	if (kill)	/* also the processes that only hold grants or ports */
		hv_domain_kill(id);
	hv_domain_destroy(id);
	xsd_domain_remove(id, kill);
	if (!sim_dom_path(path, sizeof(path), id, "hv"))
		unlink(path);
	if (!sim_dom_path(path, sizeof(path), id, ""))
		rmdir(path);
	sim_log("domain %u (%s) destroyed", id, d->name);
	dom_set(id, NULL);
	free(d);
}

/* Destroy guest domain id: its processes are killed, like a domain's vCPUs stop. */
int dom_destroy(unsigned int id)
{
	if (id == 0)
		return -EPERM;
	if (!dom_by_id(id))
		return -ENOENT;
	destroy(id, true);
	return 0;
}

/* Destroy every domain, dom0 last, without killing anybody (the simulator stops). */
void dom_destroy_all(void)
{
	for (unsigned int id = XENSIM_MAX_DOMID; id > 0; id--)
		destroy(id, false);
	destroy(0, false);
}

/*
 * Mark guest domain id shut down with reason, as SCHEDOP_shutdown does: what a toolstack
 * (and blkbackd, through libxenctrl) then reads of it. Its processes go on: the
 * simulator does not stop a domain's vCPUs; the test stops what it runs there.
 */
int dom_shutdown(unsigned int id, unsigned int reason)
{
	struct sim_domain *d = dom_by_id(id);

	if (id == 0)
		return -EPERM;
	if (!d)
		return -ENOENT;
	d->shutdown = true;
	d->reason = reason;
	sim_log("domain %u (%s) shut down, reason %u", id, d->name, reason);
	return 0;
}

