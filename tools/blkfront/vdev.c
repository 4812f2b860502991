/* Virtual device names and numbers, in the Linux xen-blkfront scheme. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bfutil.h"

#define XVD_MAJOR 202u
#define EXTENDED (1u << 28)	/* disks past xvdp use the extended scheme */
#define MAX_INDEX ((1u << 20) - 1)

/* Number of a whole-disk name: xvda..xvdz, xvdaa..; or a plain non-zero number. */
int bf_vdev_number(const char *name, uint32_t *devid)
{
	uint64_t index = 0, num;
	const char *p;

	if (!bf_parse_uint(name, UINT32_MAX, &num)) {
		if (!num)
			return -EINVAL;
		*devid = (uint32_t)num;
		return 0;
	}
	if (strncmp(name, "xvd", 3) || !name[3] || strlen(name) > 8)
		return -EINVAL;
	/* Bijective base 26: a..z, aa..zz, aaa.. */
	for (p = name + 3; *p; p++) {
		if (*p < 'a' || *p > 'z')
			return -EINVAL;
		index = index * 26 + (uint64_t)(*p - 'a' + 1);
	}
	index--;
	if (index > MAX_INDEX)
		return -EINVAL;
	if (index < 16)
		*devid = (XVD_MAJOR << 8) | (uint32_t)(index << 4);
	else
		*devid = EXTENDED | (uint32_t)(index << 8);
	return 0;
}

/* Name of a device number: "xvdb", or the number itself for other schemes. */
void bf_vdev_name(uint32_t devid, char *buf, size_t len)
{
	char letters[8];
	uint32_t index;
	size_t n = 0, o = 0;

	if (devid & EXTENDED) {
		if (devid & 0xff || devid >> 29 || ((devid >> 8) & MAX_INDEX) < 16) {
			snprintf(buf, len, "%u", devid);
			return;
		}
		index = (devid >> 8) & MAX_INDEX;
	} else if ((devid >> 8) == XVD_MAJOR && !(devid & 0xf)) {
		index = (devid >> 4) & 0xf;
	} else {
		snprintf(buf, len, "%u", devid);
		return;
	}
	for (index++; index && n < sizeof(letters); index = (index - 1) / 26)
		letters[n++] = (char)('a' + (index - 1) % 26);
	if (len < 4 + n) {
		snprintf(buf, len, "%u", devid);
		return;
	}
	memcpy(buf, "xvd", 3);
	for (o = 3; n > 0; o++)
		buf[o] = letters[--n];
	buf[o] = '\0';
}
