/* Virtual device names (xvdb) and the numbers xenstore uses for them (51728). */
#ifndef BLKBACK_VDEV_H
#define BLKBACK_VDEV_H

#include <stddef.h>
#include <stdint.h>

/* Number of a whole-disk name: xvda..xvdz, xvdaa..; or a plain number. -EINVAL otherwise. */
int vdev_number(const char *name, uint32_t *devid);

/* Name of a device number: "xvdb", or the number itself for other schemes. */
void vdev_name(uint32_t devid, char *buf, size_t len);

#endif
