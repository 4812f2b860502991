/*
 * Does a kernel backend act on the devices blkbackd is asked to serve? Linux's xen-blkback
 * registers the xenbus backend driver "vbd" and probes every device under backend/vbd of
 * its domain: with it there, blkbackd --kind vbd would fight it over each disk.
 */
#ifndef TOOLS_KERNEL_BACKEND_H
#define TOOLS_KERNEL_BACKEND_H

/*
 * For tests only: a directory that stands for / where the check reads sysfs, /proc,
 * the module lists and modprobe.d (a fake tree with or without xen-blkback).
 */
#define KERNEL_BACKEND_ROOT_ENV "BLKBACKD_SYSROOT"

/*
 * Before serving kind: 0 to go on, after a warning when xen-blkback is not loaded but
 * could load later (kind vbd only); -EBUSY, with the message logged saying what to
 * change, when a kernel driver already serves kind in this domain.
 */
int kernel_backend_check(const char *kind);

#endif
