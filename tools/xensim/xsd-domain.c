/* xsd-domain.c: the xenstore side of domains: the store's skeleton, introduce, release. */
#include "xsd.h"
#include "xensim.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct xsd_caller dom0 = { .domid = 0, .target = -1 };
static bool ready;
/* Domains introduced and not released yet. */
static bool introduced[XENSIM_MAX_DOMID + 1];

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

/* Introduce domain id the way a toolstack (libxl__domain_make) and xenstored do. */
int xsd_domain_add(unsigned int id, const char *name)
{
	/* The home, its name and domid are dom0's, readable by the guest: a guest that could
	 * rename itself could pass for another (blkbackctl finds domains by name), and one
	 * that could remove its home would break its own release. */
	struct xsd_perm ro[2] = { { 0, XS_PERM_NONE }, { id, XS_PERM_READ } };
	struct xsd_perm rw = { .id = id, .perms = XS_PERM_NONE };
	static const char *const ro_dirs[] = { "cpu", "memory", "device", "control", NULL };
	/* What libxl gives the guest to write. */
	static const char *const rw_dirs[] = {
		"data", "drivers", "feature", "attr", "error", "control/shutdown",
		"control/feature-poweroff", "control/feature-reboot", "control/feature-suspend",
		"control/sysrq", "device/suspend/event-channel", NULL
	};
	char path[64], domid[16];
	int ret;

	ret = xsd_listen(id);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/local/domain/%u", id);
	snprintf(domid, sizeof(domid), "%u", id);
	ret = put(id, "", NULL, STORE_MKDIR);
	if (!ret)
		ret = store_set_perms(&xsd_main, &dom0, path, ro, id ? 2 : 1);
	/* Nodes dom0 creates inherit their parent's permissions. */
	if (!ret)
		ret = put(id, "name", name, 0);
	if (!ret)
		ret = put(id, "domid", domid, 0);
	for (const char *const *d = ro_dirs; !ret && *d; d++)
		ret = put(id, *d, NULL, STORE_MKDIR);
	for (const char *const *d = rw_dirs; !ret && id && *d; d++) {
		ret = put(id, *d, NULL, STORE_MKDIR);
		snprintf(path, sizeof(path), "/local/domain/%u/%s", id, *d);
		if (!ret)
			ret = store_set_perms(&xsd_main, &dom0, path, &rw, 1);
	}
	if (ret) {
		xsd_domain_remove(id, false);
		return ret;
	}
	introduced[id] = true;
	watch_fire_special("@introduceDomain");
	return 0;
}

/* Release domain id: connections, home directory, @releaseDomain. */
void xsd_domain_remove(unsigned int id, bool kill)
{
	char path[64];
	bool was;

	if (!ready || id > XENSIM_MAX_DOMID)
		return;
	xsd_unlisten(id, kill);
	snprintf(path, sizeof(path), "/local/domain/%u", id);
	if (store_lookup(&xsd_main, path))
		store_rm(&xsd_main, &dom0, path);
	/* Whatever the store holds: watchers count on it to learn that a domain went. */
	was = introduced[id];
	introduced[id] = false;
	if (was)
		watch_fire_special("@releaseDomain");
}

/* Close every connection and free the store; idempotent. */
void xsd_fini(void)
{
	if (!ready)
		return;
	for (unsigned int id = 0; id <= XENSIM_MAX_DOMID; id++)
		xsd_unlisten(id, false);
	store_free(&xsd_main);
	xsd_fault_clear();
	ready = false;
}
