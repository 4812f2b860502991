/* blkbackctl limit: a disk's I/O limits (iops=, bps= and their bursts), changed live. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../blkback/num.h"
#include "../blkback/vdev.h"
#include "../storage/storage.h"
#include "ctl.h"

/* Append " key=N" to the request for each limit given. */
static void add_given(char *req, size_t len, const char *key, uint64_t v)
{
	size_t n = strlen(req);

	if (v != STORAGE_LIMIT_UNSET)
		snprintf(req + n, len - n, " %s=%" PRIu64, key, v);
}

/* Print one bucket of a "limits" answer line: its rate, burst and tokens. */
static void print_bucket(const char *line, const char *name, bool bytes)
{
	char key[32], a[NUM_SIZE_TEXT], b[NUM_SIZE_TEXT], t[NUM_SIZE_TEXT];
	uint64_t rate, burst, tokens;

	snprintf(key, sizeof(key), "%s_limit", name);
	rate = kv_num(line, key);
	snprintf(key, sizeof(key), "%s_burst", name);
	burst = kv_num(line, key);
	snprintf(key, sizeof(key), "%s_tokens", name);
	tokens = kv_num(line, key);
	if (!rate) {
		printf("  %-5s no limit\n", name);
	} else if (bytes) {
		printf("  %-5s %s bytes a second, burst %s (holds %s now)\n", name,
		       num_size_text(rate, a), num_size_text(burst, b), num_size_text(tokens, t));
	} else {
		printf("  %-5s %" PRIu64 " requests a second, burst %" PRIu64 " (holds %" PRIu64
		       " now)\n", name, rate, burst, tokens);
	}
}

/* blkbackctl limit DOMAIN VDEV [iops=N] [iops-burst=N] [bps=SIZE] [bps-burst=SIZE] */
int cmd_limit(struct ctl *c, int argc, char **argv)
{
	char request[256], vdev[16], err[512], *answer, *line;
	struct storage_limits given;
	unsigned int domid;
	uint32_t devid;

	if (argc < 3 || argv[1][0] == '-' || argv[2][0] == '-')
		usage_die("limit: give DOMAIN and VDEV, then the limits to set, e.g. 'blkbackctl "
			  "limit guest1 xvdb iops=5000 bps=100M' (none: show them)");
	if (vdev_number(argv[2], &devid))
		usage_die("bad disk name '%s': give one such as xvdb", argv[2]);
	storage_limits_unset(&given);
	for (int i = 3; i < argc; i++) {
		char key[32], *val = strchr(argv[i], '=');
		size_t klen = val ? (size_t)(val - argv[i]) : strlen(argv[i]);
		int e = -ENOENT;

		if (klen < sizeof(key)) {
			snprintf(key, sizeof(key), "%.*s", (int)klen, argv[i]);
			e = storage_limit_option(&given, key, val ? val + 1 : NULL, err, sizeof(err));
		}
		if (e == -ENOENT)
			usage_die("limit: unknown limit '%s': give iops=N, iops-burst=N, bps=SIZE or "
				  "bps-burst=SIZE (iops=0, bps=0: no limit)", argv[i]);
		if (e)
			usage_die("limit: %s", err);
	}
	need_daemon(c);
	ctl_open(c);
	domid = domain_ref(c, argv[1]);
	snprintf(request, sizeof(request), "limit %u %u", domid, devid);
	add_given(request, sizeof(request), "iops", given.iops);
	add_given(request, sizeof(request), "iops-burst", given.iops_burst);
	add_given(request, sizeof(request), "bps", given.bps);
	add_given(request, sizeof(request), "bps-burst", given.bps_burst);
	answer = control_request(c, request);
	line = strstr(answer, "limits");
	if (!line)
		die("blkbackd did not say the limits in force: is it older than this blkbackctl?");
	vdev_name(devid, vdev, sizeof(vdev));
	printf("%s on domain %u: I/O limits%s\n", vdev, domid, argc > 3 ? " set" : "");
	print_bucket(line, "iops", false);
	print_bucket(line, "bps", true);
	printf("  %" PRIu64 " requests waited for their turn, %.3f s in all\n",
	       kv_num(line, "throttled"), (double)kv_num(line, "throttle_ns") / 1e9);
	free(answer);
	return 0;
}
