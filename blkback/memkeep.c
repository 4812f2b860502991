/*
 * A toolstack's mem disk belongs to its disk, not to the domain id: libxl removes every
 * disk with the old domain on xl save, migrate and reboot, and adds it to a new domain
 * (new domid, same UUID, same devid). So such a ramdisk is named by the key
 * vm/UUID/VDEV (the UUID read from /local/domain/<id>/vm when the disk is attached), and
 * at its removal the daemon decides:
 *  - the frontend's directory still there when online 0 is seen: a detach: free;
 *  - else the domain's shutdown reason, from Xen (libxenctrl, loaded at run time: its
 *    soname changes with every Xen release): suspend (save, migrate): keep until the same
 *    key attaches again or an admin frees it; reboot, soft_reset, crash, watchdog: keep
 *    for the grace window (--mem-keep-grace), then free; poweroff, a running domain (xl
 *    destroy, block-detach -f), a domain gone, or no libxenctrl: free.
 * See docs/xl.md, "What happens to a disk during the guest's life".
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <xengnttab.h>

#include "device-int.h"
#include "log.h"
#include "memkeep.h"
#include "vdev.h"
#include "xs.h"

/* From Xen's public domctl.h and sched.h (a stable ABI): the domain info flags. */
#define DOMINF_SHUTDOWN (1u << 2)
#define DOMINF_SHUTDOWN_SHIFT 16
#define DOMINF_SHUTDOWN_MASK 255u
enum { SHUTDOWN_POWEROFF, SHUTDOWN_REBOOT, SHUTDOWN_SUSPEND, SHUTDOWN_CRASH,
       SHUTDOWN_WATCHDOG, SHUTDOWN_SOFT_RESET };

/*
 * The start of xen_domctl_getdomaininfo, the same in 4.17 and 4.20; the rest differs
 * between releases, so the buffer is far larger than any of them.
 */
struct dominfo_head {
	uint16_t domain;
	uint16_t pad;
	uint32_t flags;
};

typedef void *xc_open_fn(void *logger, void *dombuild_logger, unsigned int flags);
typedef int xc_close_fn(void *xch);
typedef int xc_getinfolist_fn(void *xch, uint32_t first, unsigned int max, void *info);

/* libxenctrl, if it could be loaded and opened; one for the daemon. */
static struct {
	void *lib, *xch;
	xc_close_fn *close;
	xc_getinfolist_fn *getinfolist;
} xc;

/* Open path's libxenctrl.so.MAJOR.MINOR (the soname), if its directory has one. */
static void *open_in_dir(const char *libpath)
{
	char dir[512], path[800], best[256] = "";
	const char *slash = strrchr(libpath, '/');
	struct dirent *e;
	DIR *dp;

	if (!slash || (size_t)(slash - libpath) >= sizeof(dir))
		return NULL;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - libpath), libpath);
	dp = opendir(dir);
	if (!dp)
		return NULL;
	while ((e = readdir(dp))) {
		unsigned int major, minor;
		int end = 0;

		/* The soname's form only; the newest if there are several. */
		if (sscanf(e->d_name, "libxenctrl.so.%u.%u%n", &major, &minor, &end) == 2 &&
		    !e->d_name[end] && strlen(e->d_name) < sizeof(best) &&
		    (!best[0] || strverscmp(e->d_name, best) > 0))
			snprintf(best, sizeof(best), "%s", e->d_name);
	}
	closedir(dp);
	if (!best[0])
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, best);
	return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

/*
 * Load libxenctrl from where the Xen libraries we link were loaded from: libxengnttab's
 * directory (xensim's drop-in one there, in the simulator), then libxenstore's.
 */
static void *load_xenctrl(void)
{
	Dl_info info;
	void *lib = NULL;

	if (dladdr((void *)xengnttab_open, &info) && info.dli_fname)
		lib = open_in_dir(info.dli_fname);
	if (!lib && dladdr((void *)xs_open, &info) && info.dli_fname)
		lib = open_in_dir(info.dli_fname);
	return lib;
}

/* Load and open libxenctrl; once, at start, with a warning if it cannot be had. */
void memkeep_init(void)
{
	xc_open_fn *open;
	const char *why = "no libxenctrl.so.* beside libxenstore (is xen-utils installed?)";

	if (xc.lib)
		return;
	xc.lib = load_xenctrl();
	if (xc.lib) {
		open = (xc_open_fn *)dlsym(xc.lib, "xc_interface_open");
		xc.close = (xc_close_fn *)dlsym(xc.lib, "xc_interface_close");
		xc.getinfolist = (xc_getinfolist_fn *)dlsym(xc.lib, "xc_domain_getinfolist");
		why = "it lacks xc_domain_getinfolist";
		if (open && xc.close && xc.getinfolist) {
			why = "xc_interface_open failed (not in dom0, or not root?)";
			xc.xch = open(NULL, NULL, 0);
		}
	}
	if (xc.xch) {
		log_debug(LOG_XS, "libxenctrl loaded: mem disks follow their VM through save, "
			  "migrate and reboot");
		return;
	}
	log_warn("cannot use libxenctrl: %s; without the domains' shutdown reasons, a "
		 "toolstack's mem disk is freed whenever its domain goes, also on xl save, "
		 "migrate and reboot (their contents are lost)", why);
	if (xc.lib)
		dlclose(xc.lib);
	memset(&xc, 0, sizeof(xc));
}

/* Close libxenctrl; idempotent. */
void memkeep_exit(void)
{
	if (xc.xch)
		xc.close(xc.xch);
	if (xc.lib)
		dlclose(xc.lib);
	memset(&xc, 0, sizeof(xc));
}

/*
 * A toolstack's unnamed mem disk: name its ramdisk by the key vm/UUID/VDEV, the UUID read
 * now from /local/domain/<domid>/vm ("/vm/UUID"). Without one the disk stays anonymous.
 */
void memkeep_key(struct blk_dev *d, struct storage_spec *spec)
{
	char *vm = bxs_read(d->be->xs, XBT_NULL, "/local/domain/%u/vm", d->domid);
	char vdev[16], key[sizeof(d->mem_key)];
	const char *uuid = vm && !strncmp(vm, "/vm/", 4) ? vm + 4 : NULL;

	if (!uuid || !*uuid || strlen(uuid) > 64 || strcspn(uuid, "/ \t") != strlen(uuid)) {
		log_debug(LOG_XS, "%s: no /vm/UUID in /local/domain/%u/vm: its mem disk goes "
			  "with this device", d->name, d->domid);
		free(vm);
		return;
	}
	vdev_name(d->devid, vdev, sizeof(vdev));
	snprintf(key, sizeof(key), STORAGE_MEM_KEY_PREFIX "%s/%s", uuid, vdev);
	free(vm);
	spec->name = strdup(key);
	spec->keyed = spec->name != NULL;
	if (spec->keyed && storage_mem_kept(key))
		log_info("%s: attaches its VM's kept memory disk %s again", d->name, key);
}

/* What the domain's state says of its disk's removal: the verdict and why, in d. */
static void decide_by_domain(struct blk_dev *d)
{
	union { struct dominfo_head h; uint8_t room[16384]; } info;
	unsigned int reason;
	int n;

	if (!xc.xch) {
		d->keep = MEMKEEP_FREE;
		snprintf(d->keep_why, sizeof(d->keep_why), "no libxenctrl");
		return;
	}
	memset(&info, 0, sizeof(info));
	n = xc.getinfolist(xc.xch, d->domid, 1, &info);
	if (n < 1 || info.h.domain != d->domid) {
		d->keep = MEMKEEP_FREE;
		snprintf(d->keep_why, sizeof(d->keep_why), n < 0 ? "no domain info" : "domain gone");
		return;
	}
	if (!(info.h.flags & DOMINF_SHUTDOWN)) {
		d->keep = MEMKEEP_FREE;	/* xl destroy of a running guest, block-detach -f */
		snprintf(d->keep_why, sizeof(d->keep_why), "destroy");
		return;
	}
	reason = info.h.flags >> DOMINF_SHUTDOWN_SHIFT & DOMINF_SHUTDOWN_MASK;
	switch (reason) {
	case SHUTDOWN_SUSPEND:
		d->keep = MEMKEEP_UNTIL_FREED;
		snprintf(d->keep_why, sizeof(d->keep_why), "suspend");
		break;
	case SHUTDOWN_REBOOT:
	case SHUTDOWN_SOFT_RESET:
	case SHUTDOWN_CRASH:
	case SHUTDOWN_WATCHDOG:
		d->keep = MEMKEEP_GRACE;
		snprintf(d->keep_why, sizeof(d->keep_why), "%s", reason == SHUTDOWN_REBOOT ?
			 "reboot" : reason == SHUTDOWN_SOFT_RESET ? "soft_reset" :
			 reason == SHUTDOWN_CRASH ? "crash" : "watchdog");
		break;
	default:
		d->keep = MEMKEEP_FREE;
		if (reason == SHUTDOWN_POWEROFF)
			snprintf(d->keep_why, sizeof(d->keep_why), "poweroff");
		else
			snprintf(d->keep_why, sizeof(d->keep_why), "shutdown %u", reason);
		break;
	}
}

/*
 * The toolstack removes the disk (online 0, first seen now): decide, once, what becomes
 * of its ramdisk when its storage closes (memkeep_apply). libxl removes the frontend's
 * directory in the same transaction as online 0 only when it forces the removal (a
 * domain's destroy, block-detach -f); a plain detach leaves it until the end.
 */
void memkeep_decide(struct blk_dev *d)
{
	char *fe;

	if (!d->mem_key[0] || d->keep_decided)
		return;
	d->keep_decided = true;
	fe = d->fepath ? bxs_read(d->be->xs, XBT_NULL, "%s", d->fepath) : NULL;
	if (fe) {
		d->keep = MEMKEEP_FREE;
		snprintf(d->keep_why, sizeof(d->keep_why), "detach");
	} else {
		decide_by_domain(d);
	}
	free(fe);
	log_debug(LOG_XS, "%s: removed by the toolstack (%s%s): its memory disk %s will be %s",
		  d->name, d->keep_why, fe ? ": the frontend is still there" : "", d->mem_key,
		  d->keep == MEMKEEP_FREE ? "freed" : d->keep == MEMKEEP_GRACE ?
		  "kept for the grace window" : "kept until it attaches again or is freed");
}

/* Arm the keep timer for the earliest end of a kept ramdisk, freeing those past theirs. */
void memkeep_expire(struct blk_backend *be)
{
	struct itimerspec its = { 0 };
	char name[128], why[16];
	uint64_t next, n;

	if (read(be->keep_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("cannot read the keep timer: %s", strerror(errno));
	while (storage_mem_expire(name, sizeof(name), why, sizeof(why), &next))
		log_info("memory disk %s, kept after a %s, is freed: its VM did not attach it "
			 "again within %u s (--mem-keep-grace)", name, why, be->mem_grace_s);
	its.it_value.tv_sec = (time_t)(next / 1000);
	its.it_value.tv_nsec = (long)(next % 1000) * 1000000;
	if (timerfd_settime(be->keep_fd, TFD_TIMER_ABSTIME, &its, NULL))
		log_err("cannot arm the keep timer: %s; kept memory disks stay until freed",
			strerror(errno));
}

/* CLOCK_MONOTONIC in ms. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The disk's storage has closed: free its ramdisk, or keep it as decided. */
void memkeep_apply(struct blk_dev *d)
{
	uint64_t until = 0;

	if (!d->mem_key[0])
		return;
	if (d->keep == MEMKEEP_FREE || (d->keep == MEMKEEP_GRACE && !d->be->mem_grace_s)) {
		if (!storage_mem_free(d->mem_key))
			log_debug(LOG_XS, "%s: memory disk %s freed (%s)", d->name, d->mem_key,
				  d->keep_decided ? d->keep_why : "closed");
	} else {
		if (d->keep == MEMKEEP_GRACE)
			until = now_ms() + (uint64_t)d->be->mem_grace_s * 1000;
		if (!storage_mem_keep(d->mem_key, d->keep_why, until))
			log_info("%s: keeping memory disk %s after a %s %s", d->name, d->mem_key,
				 d->keep_why, until ? "for the grace window" :
				 "until its VM attaches it again ('blkbackctl free' frees it)");
		memkeep_expire(d->be);
	}
	d->mem_key[0] = '\0';	/* once */
}
