/* blkbackctl free: free a memory disk blkbackd keeps for a VM that went away (docs/xl.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../blkback/vdev.h"
#include "ctl.h"

/* blkbackctl free UUID VDEV (or UUID/VDEV, as list shows it) */
int cmd_free(struct ctl *c, int argc, char **argv)
{
	char request[256], uuid[80], vdev[16], *answer;
	const char *disk;
	uint32_t devid;

	if (argc == 2 && strchr(argv[1], '/')) {
		snprintf(uuid, sizeof(uuid), "%.*s", (int)(strchr(argv[1], '/') - argv[1]), argv[1]);
		disk = strchr(argv[1], '/') + 1;
	} else if (argc == 3) {
		snprintf(uuid, sizeof(uuid), "%s", argv[1]);
		disk = argv[2];
	} else {
		usage_die("free: usage: blkbackctl free UUID VDEV (the kept disks: blkbackctl list)");
	}
	if (!uuid[0] || strlen(uuid) > 64 || strcspn(uuid, "/ \t\n") != strlen(uuid))
		usage_die("free: bad UUID '%s': give the VM's UUID as 'blkbackctl list' shows it",
			  uuid);
	if (vdev_number(disk, &devid))
		usage_die("bad disk name '%s': give one such as xvdb", disk);
	vdev_name(devid, vdev, sizeof(vdev));
	ctl_open(c);
	snprintf(request, sizeof(request), "free %s/%s", uuid, vdev);
	answer = control_request(c, request);
	free(answer);
	printf("freed the memory disk of VM %s's %s\n", uuid, vdev);
	return 0;
}
