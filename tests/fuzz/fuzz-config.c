/*
 * libFuzzer target for the configuration a device reads from xenstore (blkback/config.c):
 * the input is a node map (see fuzz-config.h), read through the same callback blkbackd
 * gives config.c, in the order device.c reads it: frontend, disk, queue count, what the
 * queues share, then each queue. After each call the contract is checked against a
 * model of the rules written here from blkif.h and docs/reference.md: what is accepted
 * is exactly what the nodes say (an order within the offer, 2^order ring refs, 1 to max
 * queues, a known ABI, persistent grants only when both ends agree), a refusal has a
 * reason naming the node, and every path read is whole and in the device's directories.
 * A violation abort()s; LeakSanitizer reports whatever a call did not free.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../blkback/backend.h"
#include "../../blkback/config.h"
#include "fuzz-config.h"
#include "fuzz-check.h"


#define MAX_NODES 1024
#define MAX_READS 64		/* no call reads more nodes than this */
#define WHY_LEN 512		/* as device.c's */
#define PATH_MAX_LEN 255	/* config.c's buffers: a longer path would be cut short */

/*
 * The node map of one input (its strings in arena: no allocation of the harness's own
 * slows the run or hides one of config.c's), and the paths read since read_reset().
 */
static struct node {
	const char *path, *value;
	uint32_t hash;		/* of path: most lookups compare only this */
} nodes[MAX_NODES];
static size_t nr_nodes;
static char arena[1 << 18];	/* a 4 KiB input expands to less than 100 KiB */
static char reads[MAX_READS][PATH_MAX_LEN];
static size_t nr_reads;
static const char *scope_fe;	/* the frontend directory reads may be under */

/* FNV-1a of a path. */
static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* The value of the node at path (the last line that set it), or NULL. */
static const char *lookup(const char *path)
{
	uint32_t h = hash(path);

	for (size_t i = nr_nodes; i-- > 0;)
		if (nodes[i].hash == h && !strcmp(nodes[i].path, path))
			return nodes[i].value;
	return NULL;
}

/* Is path dir itself or under it? */
static int under(const char *path, const char *dir)
{
	size_t len = strlen(dir);

	return !strncmp(path, dir, len) && (path[len] == '/' || path[len] == '\0');
}

/* The reader config.c is given: logs the path, checks it, returns a copy of the value. */
static char *read_node(void *arg, const char *path)
{
	const char *value;
	char *copy;

	CHECK(arg == nodes && path);
	CHECK(strlen(path) < PATH_MAX_LEN);
	CHECK(under(path, FUZZ_BE) || (scope_fe && under(path, scope_fe)));
	CHECK(nr_reads < MAX_READS);
	strcpy(reads[nr_reads++], path);
	value = lookup(path);
	if (!value)
		return NULL;
	copy = strdup(value);
	CHECK(copy);
	return copy;
}

/* Forget the paths read so far. */
static void read_reset(void)
{
	nr_reads = 0;
}

/*
 * Parse the input's text into the node map, expanding the B/ and F/ prefixes. A value
 * ends at the end of its line or at a NUL byte, as a C string read from xenstore would.
 */
static void load_nodes(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *end = text + size;
	size_t used = 0;

	nr_nodes = 0;
	while (text < end && nr_nodes < MAX_NODES) {
		const char *nl = memchr(text, '\n', (size_t)(end - text));
		const char *line = text, *stop = nl ? nl : end, *eq;
		const char *dir = "";
		int n;

		text = stop + 1;
		eq = memchr(line, '=', (size_t)(stop - line));
		if (!eq)
			continue;
		if (eq - line >= 2 && !strncmp(line, "B/", 2))
			dir = FUZZ_BE, line++;
		else if (eq - line >= 2 && !strncmp(line, "F/", 2))
			dir = FUZZ_FE, line++;
		n = snprintf(arena + used, sizeof(arena) - used, "%s%.*s%c%.*s", dir,
			     (int)(eq - line), line, '\0', (int)(stop - eq - 1), eq + 1);
		CHECK(n >= 0 && (size_t)n < sizeof(arena) - used);
		nodes[nr_nodes].path = arena + used;
		nodes[nr_nodes].hash = hash(arena + used);
		nodes[nr_nodes].value = arena + used + strlen(arena + used) + 1;
		nr_nodes++;
		used += (size_t)n + 1;
	}
}

/* The model of a number node: -ENOENT if absent, -EINVAL unless only digits and <= max. */
static int model_uint(const char *path, uint64_t max, uint64_t *v)
{
	const char *s = lookup(path);
	uint64_t x = 0;

	if (!s)
		return -ENOENT;
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		x = x * 10 + (uint64_t)(*s - '0');	/* max < 2^60: no overflow below */
		if (x > max)
			return -EINVAL;
	}
	*v = x;
	return 0;
}

/* A refusal's reason: there, terminated, and naming what it is about. */
static void check_why(const char *why, const char *about)
{
	CHECK(why[0] != '\0');
	CHECK(memchr(why, '\0', WHY_LEN) != NULL);
	CHECK(strstr(why, about) != NULL);
}

/* frontend and frontend-id; returns the frontend directory the rest reads (malloc'd). */
static char *fuzz_frontend(const struct cfg_nodes *n)
{
	const char *fe = lookup(FUZZ_BE "/frontend");
	char why[WHY_LEN] = "", prefix[32], *got = (char *)why;
	uint64_t id;
	int rc, want = 0;

	snprintf(prefix, sizeof(prefix), "/local/domain/%u/", FUZZ_DOMID);
	if (!fe || model_uint(FUZZ_BE "/frontend-id", UINT16_MAX, &id))
		want = -EAGAIN;
	else if (id != FUZZ_DOMID || strncmp(fe, prefix, strlen(prefix)) ||
		 strlen(fe) > CFG_MAX_FEPATH)
		want = -EINVAL;
	rc = cfg_frontend(n, FUZZ_DOMID, &got, why, sizeof(why));
	CHECK(rc == want);
	if (rc) {
		CHECK(got == NULL);
		check_why(why, rc == -EAGAIN ? "frontend-id" : "does not belong to domain");
		got = strdup(FUZZ_FE);	/* read the rest from the usual place all the same */
		CHECK(got);
		return got;
	}
	CHECK(got && !strcmp(got, fe) && under(got, "/local/domain/5"));
	CHECK(strlen(got) <= CFG_MAX_FEPATH);
	return got;
}

/*
 * The spec in params text, as libxl writes a tap disk's (FORMAT:TARGET, raw spelled aio):
 * text after "aio:"; vhd: is the vpc engine's (in vpc, which is big enough); NULL for qcow
 * and qed, which are refused. qcow2: is the qcow2 engine's spec as it is.
 */
static const char *model_target(const char *text, char *vpc, size_t len)
{
	static const char *const formats[] = { "qcow:", "qed:" };

	if (!strncmp(text, "aio:", 4))
		return text + 4;
	if (!strncmp(text, "vhd:", 4)) {
		snprintf(vpc, len, "vpc:%s", text + 4);
		return vpc;
	}
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (!strncmp(text, formats[i], strlen(formats[i])))
			return NULL;
	return text;
}

/* params and mode: the spec storage_spec_parse makes of params, read-only if mode says so. */
static void fuzz_disk(const struct cfg_nodes *n)
{
	const char *text = lookup(FUZZ_BE "/params"), *mode = lookup(FUZZ_BE "/mode");
	static char vpc[8192 + 8];	/* a xenstore value and "vpc:" */
	const char *target = text ? model_target(text, vpc, sizeof(vpc)) : NULL;
	const char *type = lookup(FUZZ_BE "/type");
	struct storage_spec spec = { 0 }, ref = { 0 };
	char why[WHY_LEN] = "", ref_why[WHY_LEN] = "", *params = why, *phy = NULL;
	int rc, want = -EINVAL;

	/* A plain phy disk: a path alone in params is a file: disk on it. */
	if (target && target[0] == '/' && type && !strcmp(type, "phy")) {
		CHECK(asprintf(&phy, "file:%s", target) > 0);
		target = phy;
	}
	if (target)
		want = storage_spec_parse(target, &ref, ref_why, sizeof(ref_why));
	rc = cfg_disk(n, &spec, &params, why, sizeof(why));
	CHECK(rc == want);
	if (rc) {
		CHECK(params == NULL && !spec.path && !spec.name);
		check_why(why, target ? ref_why : text ? "serves qcow2, vhd, vmdk, vhdx and raw" : "params");
	} else {
		CHECK(params && !strcmp(params, target));
		CHECK(spec.engine == ref.engine && spec.size == ref.size && spec.direct == ref.direct);
		CHECK(spec.fault_start == ref.fault_start && spec.fault_count == ref.fault_count &&
		      spec.fault == ref.fault);
		CHECK(!spec.path == !ref.path && (!spec.path || !strcmp(spec.path, ref.path)));
		CHECK(!spec.name == !ref.name && (!spec.name || !strcmp(spec.name, ref.name)));
		CHECK(spec.readonly == (ref.readonly || (mode && mode[0] == 'r')));
	}
	storage_spec_free(&ref);
	storage_spec_free(&spec);
	free(params);
	free(phy);
}

/* multi-queue-num-queues: 1 when absent, else 1 to max; returns the count the rest uses. */
static unsigned int fuzz_nr_queues(const struct cfg_nodes *n, unsigned int max)
{
	char path[300], why[WHY_LEN] = "";
	unsigned int nr = 12345;
	uint64_t v = 1;
	int rc, want = 0;

	snprintf(path, sizeof(path), "%s/multi-queue-num-queues", n->fepath);
	if (lookup(path) && (model_uint(path, max, &v) || v == 0))
		want = -EINVAL;
	rc = cfg_nr_queues(n, max, &nr, why, sizeof(why));
	CHECK(rc == want);
	if (rc) {
		CHECK(nr == 12345);
		check_why(why, "multi-queue-num-queues");
		return 1;	/* read one queue all the same */
	}
	CHECK(nr == v && nr >= 1 && nr <= max && nr <= BLK_MAX_QUEUES);
	return nr;
}

/* protocol and feature-persistent: a known ABI, persistent grants only if both ends agree. */
static void fuzz_common(const struct cfg_nodes *n, enum grant_mode mode, bool take_over)
{
	struct blk_ring_config cfg;
	const char *protocol;
	char path[300], why[WHY_LEN] = "";
	enum grant_mode want_mode = mode;
	enum blkif_abi want_abi = BLKIF_ABI_NATIVE;
	uint64_t v;
	int rc, want = 0;

	memset(&cfg, 0xa5, sizeof(cfg));
	cfg.take_over = take_over;
	snprintf(path, sizeof(path), "%s/feature-persistent", n->fepath);
	if (mode == GRANT_MODE_PERSISTENT && (model_uint(path, 1, &v) || v != 1))
		want_mode = GRANT_MODE_MAP;
	if (take_over && want_mode == GRANT_MODE_PERSISTENT &&
	    (model_uint(FUZZ_BE "/feature-persistent", 1, &v) || v != 1))
		want_mode = GRANT_MODE_MAP;
	snprintf(path, sizeof(path), "%s/protocol", n->fepath);
	protocol = lookup(path);
	if (!protocol || !*protocol || !strcmp(protocol, "x86_32-abi"))	/* Linux blkback's x86 default */
		want_abi = BLKIF_ABI_X86_32;
	else if (!strcmp(protocol, "x86_64-abi"))
		want_abi = BLKIF_ABI_X86_64;
	else
		want = -EINVAL;
	rc = cfg_common(n, mode, &cfg, why, sizeof(why));
	CHECK(rc == want);
	CHECK(cfg.grant_mode == want_mode);	/* set even on error (device.c shows it) */
	CHECK(cfg.grant_mode == mode || cfg.grant_mode == GRANT_MODE_MAP);
	if (rc) {
		check_why(why, "protocol");
		return;
	}
	CHECK(cfg.abi == want_abi);
	CHECK(cfg.abi == BLKIF_ABI_NATIVE || cfg.abi == BLKIF_ABI_X86_32 ||
	      cfg.abi == BLKIF_ABI_X86_64);
}

/* Queue q of nr: an order within the offer, exactly 2^order ring refs read, the right ones. */
static void fuzz_queue(const struct cfg_nodes *n, unsigned int nr, unsigned int q)
{
	char dir[300], path[300], bad[300] = "", why[WHY_LEN] = "";
	grant_ref_t refs[BLK_RING_MAX_PAGES];
	struct blk_ring_config cfg;
	uint64_t order = 0, v = 0, port = 0;
	unsigned int nrefs = 0;
	const char *order_node;
	int rc;

	if (nr == 1)
		snprintf(dir, sizeof(dir), "%s", n->fepath);
	else
		snprintf(dir, sizeof(dir), "%s/queue-%u", n->fepath, q);
	snprintf(path, sizeof(path), "%s/ring-page-order", n->fepath);
	order_node = lookup(path);
	if (order_node && model_uint(path, BLK_RING_MAX_ORDER, &order))
		snprintf(bad, sizeof(bad), "ring-page-order");
	for (unsigned int i = 0; !bad[0] && i < 1u << order; i++) {
		if (order_node)
			snprintf(path, sizeof(path), "%s/ring-ref%u", dir, i);
		else
			snprintf(path, sizeof(path), "%s/ring-ref", dir);
		if (model_uint(path, UINT32_MAX, &v))
			snprintf(bad, sizeof(bad), "%s", path);
		refs[i] = (grant_ref_t)v;
	}
	snprintf(path, sizeof(path), "%s/event-channel", dir);
	if (!bad[0] && model_uint(path, UINT32_MAX, &port))
		snprintf(bad, sizeof(bad), "%s", path);

	memset(&cfg, 0xa5, sizeof(cfg));
	read_reset();
	rc = cfg_queue(n, nr, q, &cfg, why, sizeof(why));
	if (bad[0]) {
		CHECK(rc == -EINVAL);
		check_why(why, bad);
		return;
	}
	CHECK(rc == 0);
	CHECK(cfg.ring_order == order && cfg.ring_order <= BLK_RING_MAX_ORDER);
	for (unsigned int i = 0; i < 1u << order; i++)
		CHECK(cfg.ring_refs[i] == refs[i]);
	CHECK(cfg.remote_port == (evtchn_port_t)port);
	/* The ring refs read: exactly ring-ref, or ring-ref0 .. ring-ref<2^order - 1>, in dir. */
	for (size_t r = 0; r < nr_reads; r++) {
		const char *base = strrchr(reads[r], '/') + 1;

		if (strncmp(base, "ring-ref", 8))
			continue;
		if (order_node)
			snprintf(path, sizeof(path), "%s/ring-ref%u", dir, nrefs);
		else
			snprintf(path, sizeof(path), "%s/ring-ref", dir);
		CHECK(!strcmp(reads[r], path));
		nrefs++;
	}
	CHECK(nrefs == 1u << order);
}

/* One input: byte 0 the offer, then the node map; every config call checked. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum grant_mode modes[4] = {
		GRANT_MODE_PERSISTENT, GRANT_MODE_MAP, GRANT_MODE_COPY, GRANT_MODE_PERSISTENT,
	};
	struct cfg_nodes n = { .read = read_node, .arg = nodes, .bepath = FUZZ_BE };
	unsigned int max, nr;
	enum grant_mode mode;
	bool take_over;
	char *fe;

	if (!size)
		return 0;
	max = (data[0] & FUZZ_QUEUES_MASK) + 1;
	mode = modes[(data[0] >> FUZZ_MODE_SHIFT) & FUZZ_MODE_MASK];
	take_over = data[0] & FUZZ_TAKE_OVER;
	load_nodes(data + 1, size - 1);

	scope_fe = NULL;	/* before cfg_frontend, only the backend's nodes are read */
	fe = fuzz_frontend(&n);
	fuzz_disk(&n);
	scope_fe = n.fepath = fe;
	nr = fuzz_nr_queues(&n, take_over ? BLK_MAX_QUEUES : max);
	fuzz_common(&n, mode, take_over);
	for (unsigned int q = 0; q < nr; q++)
		fuzz_queue(&n, nr, q);

	free(fe);
	return 0;
}
