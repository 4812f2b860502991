/* xsd-domain.c: the xenstore side of domains: the store's skeleton, introduce, release. */
#include "xsd.h"
#include "xensim.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct xsd_caller dom0 = { .domid = 0, .target = -1 };
static bool ready;

/* Create the store with /local/domain, owned by dom0. */
int xsd_init(void)
{
	int ret = store_init(&xsd_main);

	if (ret)
		return ret;
	xsd_main.live = true;
	ready = true;
	return store_write(&xsd_main, &dom0, "/local/domain", NULL, 0, STORE_MKDIR);
}

/* Write /local/domain/<id>/<leaf> = value as dom0. */
static int put(unsigned int id, const char *leaf, const char *value, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/local/domain/%u%s%s", id, *leaf ? "/" : "", leaf);
	return store_write(&xsd_main, &dom0, path, value, value ? (unsigned)strlen(value) : 0,
			   flags);
}

/* Introduce domain id the way a toolstack and xenstored do. */
int xsd_domain_add(unsigned int id, const char *name)
{
	struct xsd_perm own = { .id = id, .perms = XS_PERM_NONE };
	char path[64], domid[16];
	int ret;

	ret = xsd_listen(id);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/local/domain/%u", id);
	snprintf(domid, sizeof(domid), "%u", id);
	/* The home directory belongs to the domain; dom0 can do anything anyway. */
	ret = put(id, "", NULL, STORE_MKDIR);
	if (!ret)
		ret = store_set_perms(&xsd_main, &dom0, path, &own, 1);
	if (!ret)
		ret = put(id, "name", name, 0);
	if (!ret)
		ret = put(id, "domid", domid, 0);
	for (const char *const *d = (const char *const[]){ "device", "control", "data", NULL };
	     !ret && *d; d++)
		ret = put(id, *d, NULL, STORE_MKDIR);
	if (ret) {
		xsd_domain_remove(id, false);
		return ret;
	}
	watch_fire_special("@introduceDomain");
	return 0;
}

/* Release domain id: connections, home directory, @releaseDomain. */
void xsd_domain_remove(unsigned int id, bool kill)
{
	char path[64];

	if (!ready)
		return;
	xsd_unlisten(id, kill);
	snprintf(path, sizeof(path), "/local/domain/%u", id);
	if (store_lookup(&xsd_main, path)) {
		store_rm(&xsd_main, &dom0, path);
		watch_fire_special("@releaseDomain");
	}
}

/* Close every connection and free the store; idempotent. */
void xsd_fini(void)
{
	if (!ready)
		return;
	for (unsigned int id = 0; id <= XENSIM_MAX_DOMID; id++)
		xsd_unlisten(id, false);
	store_free(&xsd_main);
	ready = false;
}
