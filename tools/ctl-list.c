/* blkbackctl list: the disks in xenstore, with what blkbackd knows of them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../blkback/num.h"
#include "../blkback/vdev.h"
#include "../blkback/xenio.h"
#include "../blkback/xs.h"
#include "../storage/storage.h"
#include "ctl.h"

/* One row of list: xenstore's view, with what the daemon knows (line, or NULL) over it. */
static void list_row(const char *dom, const char *vdev, const struct disk_view *v,
		     const char *line)
{
	char size[NUM_SIZE_TEXT] = "-", *abi = line ? kv(line, "abi") : NULL,
	     *ro = line ? kv(line, "ro") : NULL;
	uint64_t bytes = line ? kv_num(line, "size") : 0;

	/* The daemon knows the size once it has opened the disk; xenstore once connected. */
	if (!bytes)
		bytes = v->bytes;
	if (bytes)
		num_size_text(bytes, size);
	printf("%-20s %-8s %-13s %-13s %10s  %-4s %-11s %s\n", dom, vdev,
	       xenbus_state_name(v->bs), xenbus_state_name(v->fs), size,
	       (ro ? !strcmp(ro, "1") : v->ro) ? "ro" : "rw", abi ? abi : "-",
	       v->spec ? v->spec : "?");
	if (v->error)
		printf("%-20s error: %s\n", "", v->error);
	free(abi);
	free(ro);
}

/* The memory disks blkbackd keeps for VMs that went away ("kept" lines of stats), if any. */
static void list_kept(const char *answer)
{
	bool head = false;

	for (const char *p = answer; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		char *line, *name, *why, size[NUM_SIZE_TEXT], since[32], until[48];
		time_t t;

		if (strncmp(p, "kept ", 5))
			continue;
		line = strndup(p, strcspn(p, "\n"));
		if (!line)
			break;
		name = kv(line, "name");
		why = kv(line, "why");
		num_size_text(kv_num(line, "size"), size);
		t = (time_t)kv_num(line, "since");
		strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S", localtime(&t));
		t = (time_t)kv_num(line, "until");
		if (t)
			strftime(until, sizeof(until), "until %Y-%m-%d %H:%M:%S", localtime(&t));
		else
			snprintf(until, sizeof(until), "until attached or freed");
		if (!head)
			printf("\nKept memory disks (blkbackctl free UUID VDEV frees one):\n"
			       "%-48s %10s %10s  %-10s %-19s %s\n", "UUID/VDEV", "SIZE", "HELD",
			       "AFTER", "SINCE", "KEPT");
		head = true;
		printf("%-48s %10s %10s  %-10s %-19s %s\n",
		       name ? name + strlen(STORAGE_MEM_KEY_PREFIX) : "?", size,
		       ctl_size_text(kv_num(line, "bytes"), (char[CTL_SIZE_TEXT]){ 0 }),
		       why ? why : "?", since, until);
		free(name);
		free(why);
		free(line);
	}
}

/* blkbackctl list: the disks in xenstore, and what blkbackd knows of them if it runs. */
int cmd_list(struct ctl *c, int argc, char **argv)
{
	unsigned int nd = 0, nv;
	char **doms, **vdevs, *answer = NULL, why[256];

	(void)argv;
	if (argc > 1)
		usage_die("list: takes no arguments; usage: blkbackctl list");
	ctl_open(c);
	if (control_ask(c, "stats", &answer, why, sizeof(why)))
		answer = NULL;	/* no daemon: what xenstore says is all there is */
	printf("%-20s %-8s %-13s %-13s %10s  %-4s %-11s %s\n", "DOMAIN", "VDEV", "BACKEND",
	       "FRONTEND", "SIZE", "MODE", "ABI", "SPEC");
	doms = xs_directory(c->xs, XBT_NULL, c->root, &nd);
	for (unsigned int i = 0; doms && i < nd; i++) {
		char dom[96], vdev[16], dir[160], *name;
		uint64_t domid, devid;

		if (num_parse_uint(doms[i], UINT16_MAX, &domid))
			continue;
		name = domain_name(c, (unsigned int)domid);
		snprintf(dom, sizeof(dom), "%.64s (%" PRIu64 ")", name, domid);	/* names: <= 64 */
		snprintf(dir, sizeof(dir), "%s/%s", c->root, doms[i]);
		vdevs = xs_directory(c->xs, XBT_NULL, dir, &nv);
		for (unsigned int k = 0; vdevs && k < nv; k++) {
			struct disk_view v;
			char *line;

			if (num_parse_uint(vdevs[k], UINT32_MAX, &devid))
				continue;
			vdev_name((uint32_t)devid, vdev, sizeof(vdev));
			disk_view_read(c, (unsigned int)domid, (uint32_t)devid, &v);
			line = answer ? stats_disk_line(answer, (unsigned int)domid,
							(uint32_t)devid) : NULL;
			list_row(dom, vdev, &v, line);
			free(line);
			disk_view_free(&v);
		}
		free(vdevs);
		free(name);
	}
	free(doms);
	list_kept(answer);
	free(answer);
	return 0;
}
