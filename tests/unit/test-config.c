/* Unit test: the configuration read from xenstore (blkback/config.c), over a table of nodes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../blkback/backend.h"
#include "../../blkback/config.h"
#include "check.h"

#define BE "/local/domain/0/backend/vbd3/3/51728"
#define FE "/local/domain/3/device/vbd/51728"

/* A node table: path and value pairs, ending with a NULL path. */
struct node {
	const char *path, *value;
};

/* The fake reader: a copy of the table's value for path, or NULL. */
static char *read_table(void *arg, const char *path)
{
	for (const struct node *n = arg; n->path; n++)
		if (!strcmp(n->path, path))
			return strdup(n->value);
	return NULL;
}

/* The nodes of table t, with the frontend at FE. */
static struct cfg_nodes nodes(const struct node *t)
{
	return (struct cfg_nodes){ .read = read_table, .arg = (void *)t, .bepath = BE,
				   .fepath = FE };
}

/* Check a refusal: -EINVAL and exactly the reason want. */
static void check_refused(int rc, const char *why, const char *want, const char *what)
{
	CHECK_INT(rc, -EINVAL, what);
	CHECK(!strcmp(why, want), "%s: reason '%s', want '%s'", what, why, want);
}

/* A frontend directory is accepted only from domain 3's own tree, and only when short. */
static void test_frontend(void)
{
	char long_fe[200], why[512];
	struct node t[] = { { BE "/frontend", FE }, { BE "/frontend-id", "3" }, { NULL, NULL } };
	struct cfg_nodes n = nodes(t);
	char *fe = NULL;

	CHECK_INT(cfg_frontend(&n, 3, &fe, why, sizeof(why)), 0, "frontend");
	CHECK(fe && !strcmp(fe, FE), "fepath '%s'", fe ? fe : "(null)");
	free(fe);

	t[1].value = "x";	/* not a number yet: wait */
	CHECK_INT(cfg_frontend(&n, 3, &fe, why, sizeof(why)), -EAGAIN, "frontend-id x");
	CHECK(fe == NULL, "fepath set on -EAGAIN");
	t[1].value = "65536";
	CHECK_INT(cfg_frontend(&n, 3, &fe, why, sizeof(why)), -EAGAIN, "frontend-id 65536");
	t[1].path = BE "/nothing";
	CHECK_INT(cfg_frontend(&n, 3, &fe, why, sizeof(why)), -EAGAIN, "no frontend-id");
	t[1].path = BE "/frontend-id";

	t[1].value = "4";
	check_refused(cfg_frontend(&n, 3, &fe, why, sizeof(why)), why,
		      "frontend " FE " (id 4) does not belong to domain 3", "frontend-id 4");
	t[1].value = "3";
	t[0].value = "/local/domain/30/device/vbd/51728";
	check_refused(cfg_frontend(&n, 3, &fe, why, sizeof(why)), why,
		      "frontend /local/domain/30/device/vbd/51728 (id 3) does not belong to "
		      "domain 3", "domain 30's directory");
	/* 128 bytes are accepted, 129 are not. */
	snprintf(long_fe, sizeof(long_fe), "/local/domain/3/%0*d", CFG_MAX_FEPATH - 16, 7);
	t[0].value = long_fe;
	CHECK_INT(cfg_frontend(&n, 3, &fe, why, sizeof(why)), 0, "128-byte frontend");
	free(fe);
	snprintf(long_fe, sizeof(long_fe), "/local/domain/3/%0*d", CFG_MAX_FEPATH - 15, 7);
	CHECK_INT(cfg_frontend(&n, 3, &fe, why, sizeof(why)), -EINVAL, "129-byte frontend");
	CHECK(fe == NULL, "fepath set on -EINVAL");
}

/* params and mode. */
static void test_disk(void)
{
	struct node t[] = { { BE "/params", "mem:size=64M" }, { BE "/mode", "w" },
			    { NULL, NULL } };
	struct cfg_nodes n = nodes(t);
	struct storage_spec spec = { 0 };
	char why[512], *params = NULL;

	CHECK_INT(cfg_disk(&n, &spec, &params, why, sizeof(why)), 0, "mem:size=64M");
	CHECK(spec.engine == &storage_mem_ops && spec.size == 64u << 20 && !spec.readonly,
	      "mem:size=64M, mode w");
	CHECK(params && !strcmp(params, "mem:size=64M"), "params '%s'", params ? params : "");
	storage_spec_free(&spec);
	free(params);

	t[1].value = "r";
	CHECK_INT(cfg_disk(&n, &spec, &params, why, sizeof(why)), 0, "mode r");
	CHECK(spec.readonly, "mode r is not read-only");
	storage_spec_free(&spec);
	free(params);

	t[0].value = "mem:size=1M,ro";
	t[1].path = BE "/nothing";	/* no mode node: the spec decides */
	CHECK_INT(cfg_disk(&n, &spec, &params, why, sizeof(why)), 0, "ro, no mode");
	CHECK(spec.readonly, ",ro is not read-only");
	storage_spec_free(&spec);
	free(params);

	t[0].value = "disk.img";
	CHECK_INT(cfg_disk(&n, &spec, &params, why, sizeof(why)), -EINVAL, "no engine");
	CHECK(strstr(why, "bad disk spec 'disk.img'") != NULL, "reason '%s'", why);
	CHECK(params == NULL && spec.path == NULL && spec.name == NULL, "left allocated");

	t[0].path = BE "/nothing";
	check_refused(cfg_disk(&n, &spec, &params, why, sizeof(why)), why,
		      "no params node: write the disk spec (e.g. mem:size=64M) to " BE "/params",
		      "no params");
}

/* libxl's tap params (4.19 on): FORMAT:TARGET, raw spelled aio; other formats refused. */
static void test_libxl_format(void)
{
	struct node t[] = { { BE "/params", "aio:file:/srv/vm1.img" }, { BE "/mode", "r" },
			    { NULL, NULL } };
	struct cfg_nodes n = nodes(t);
	struct storage_spec spec = { 0 };
	char why[512], *params = NULL;

	CHECK_INT(cfg_disk(&n, &spec, &params, why, sizeof(why)), 0, "aio:file:");
	CHECK(spec.engine == &storage_file_ops && !strcmp(spec.path, "/srv/vm1.img") &&
	      spec.readonly, "aio:file:/srv/vm1.img, mode r");
	CHECK(params && !strcmp(params, "file:/srv/vm1.img"), "params '%s'", params ? params : "");
	storage_spec_free(&spec);
	free(params);

	t[0].value = "aio:mem:size=256M";
	CHECK_INT(cfg_disk(&n, &spec, &params, why, sizeof(why)), 0, "aio:mem:");
	CHECK(spec.engine == &storage_mem_ops && spec.size == 256u << 20, "aio:mem:size=256M");
	storage_spec_free(&spec);
	free(params);

	/* Only the first colon's word is a format: an engine's own colons stay. */
	t[0].value = "aio:nbd:nbd://127.0.0.1:10809/vm1";
	CHECK_INT(cfg_disk(&n, &spec, &params, why, sizeof(why)), 0, "aio:nbd:");
	CHECK(spec.engine == &storage_nbd_ops && spec.uri &&
	      !strcmp(spec.uri, "nbd://127.0.0.1:10809/vm1"), "uri '%s'", spec.uri ? spec.uri : "");
	storage_spec_free(&spec);
	free(params);
	t[0].value = "aio:nbd:host:10809";
	CHECK_INT(cfg_disk(&n, &spec, &params, why, sizeof(why)), -EINVAL, "aio:nbd:host");
	CHECK(strstr(why, "bad disk spec 'nbd:host:10809': give the server's URI") != NULL,
	      "reason '%s'", why);

	t[0].value = "vhd:/srv/vm1.vhd";
	check_refused(cfg_disk(&n, &spec, &params, why, sizeof(why)), why,
		      "the toolstack asks for a vhd image ('vhd:/srv/vm1.vhd'): blkbackd serves "
		      "raw images only; in the xl disk line write format=raw, or leave format out",
		      "vhd:");
	CHECK(params == NULL && spec.path == NULL, "left allocated");
	t[0].value = "qcow2:/srv/vm1.qcow2";
	CHECK_INT(cfg_disk(&n, &spec, &params, why, sizeof(why)), -EINVAL, "qcow2:");
	CHECK(strstr(why, "a qcow2 image") != NULL, "reason '%s'", why);
	/* aio: with nothing after it is an empty spec, refused as such. */
	t[0].value = "aio:";
	CHECK_INT(cfg_disk(&n, &spec, &params, why, sizeof(why)), -EINVAL, "aio: alone");
}

/* A plain xl phy disk's params, a path alone, is a file: disk; only with type phy. */
static void test_phy_path(void)
{
	struct node t[] = { { BE "/params", "/dev/vg0/vm1" }, { BE "/type", "phy" },
			    { BE "/mode", "w" }, { NULL, NULL } };
	struct cfg_nodes n = nodes(t);
	struct storage_spec spec = { 0 };
	char why[256], *params = NULL;

	CHECK_INT(cfg_disk(&n, &spec, &params, why, sizeof(why)), 0, "phy path");
	CHECK(spec.engine == &storage_file_ops && !strcmp(spec.path, "/dev/vg0/vm1") &&
	      !spec.readonly, "phy /dev/vg0/vm1 is not file:/dev/vg0/vm1 rw");
	CHECK(params && !strcmp(params, "file:/dev/vg0/vm1"), "params '%s'", params ? params : "");
	storage_spec_free(&spec);
	free(params);
	params = NULL;

	t[2].value = "r";
	CHECK_INT(cfg_disk(&n, &spec, &params, why, sizeof(why)), 0, "phy path, mode r");
	CHECK(spec.readonly, "phy path with mode r is not read-only");
	storage_spec_free(&spec);
	free(params);
	params = NULL;

	/* Only a phy device: anywhere else a path alone is no spec. */
	t[1].value = "vbd3";
	CHECK_INT(cfg_disk(&n, &spec, &params, why, sizeof(why)), -EINVAL, "path, type vbd3");
	CHECK(strstr(why, "must start with an engine name") != NULL, "reason '%s'", why);
	t[1].path = BE "/types";
	CHECK_INT(cfg_disk(&n, &spec, &params, why, sizeof(why)), -EINVAL, "path, no type");
	/* A relative path stays what it was: refused. */
	t[1].path = BE "/type";
	t[1].value = "phy";
	t[0].value = "vm1.img";
	CHECK_INT(cfg_disk(&n, &spec, &params, why, sizeof(why)), -EINVAL, "relative, phy");
	CHECK(params == NULL, "left allocated");
}

/* Whether the device has a hotplug script: a script node, whatever it holds. */
static void test_hotplug(void)
{
	struct node t[] = { { BE "/script", "/etc/xen/scripts/blkbackd" }, { NULL, NULL } };
	struct cfg_nodes n = nodes(t);

	CHECK(cfg_hotplug(&n), "a script node is not a hotplug device");
	t[0].path = BE "/scripts";
	CHECK(!cfg_hotplug(&n), "no script node is a hotplug device");
}

/* Read the whole configuration of table t as device.c does; 0 or the first refusal. */
static int read_all(const struct node *t, unsigned int max, enum grant_mode mode,
		    bool take_over, unsigned int *nr, struct blk_ring_config *cfg, char *why)
{
	struct cfg_nodes n = nodes(t);
	int err;

	memset(cfg, 0, sizeof(*cfg) * BLK_MAX_QUEUES);
	for (unsigned int q = 0; q < BLK_MAX_QUEUES; q++)
		cfg[q].take_over = take_over;
	err = cfg_nr_queues(&n, max, nr, why, 512);
	err = err ? err : cfg_common(&n, mode, &cfg[0], why, 512);
	for (unsigned int q = 0; !err && q < *nr; q++) {
		cfg[q].abi = cfg[0].abi;
		cfg[q].grant_mode = cfg[0].grant_mode;
		err = cfg_queue(&n, *nr, q, &cfg[q], why, 512);
	}
	return err;
}

/* One queue, a single ring-ref, no protocol node: an x86_32 guest; persistent if offered. */
static void test_single(void)
{
	struct node t[] = { { FE "/ring-ref", "8" }, { FE "/event-channel", "11" },
			    { FE "/feature-persistent", "1" }, { NULL, NULL } };
	struct blk_ring_config cfg[BLK_MAX_QUEUES];
	unsigned int nr = 0;
	char why[512];

	CHECK_INT(read_all(t, 4, GRANT_MODE_PERSISTENT, false, &nr, cfg, why), 0, "single");
	CHECK_INT(nr, 1, "queues");
	CHECK_INT(cfg[0].ring_order, 0, "order");
	CHECK_U64(cfg[0].ring_refs[0], 8, "ring-ref");
	CHECK_U64(cfg[0].remote_port, 11, "event-channel");
	CHECK_INT(cfg[0].abi, BLKIF_ABI_X86_32, "abi without protocol");
	CHECK_INT(cfg[0].grant_mode, GRANT_MODE_PERSISTENT, "grant mode");

	t[2].value = "0";	/* the frontend does not want persistent grants */
	CHECK_INT(read_all(t, 4, GRANT_MODE_PERSISTENT, false, &nr, cfg, why), 0, "fp 0");
	CHECK_INT(cfg[0].grant_mode, GRANT_MODE_MAP, "feature-persistent 0");
	t[2].value = "1";
	CHECK_INT(read_all(t, 4, GRANT_MODE_COPY, false, &nr, cfg, why), 0, "copy");
	CHECK_INT(cfg[0].grant_mode, GRANT_MODE_COPY, "copy asked for");
	/* Taking over: persistent only if the earlier daemon offered it (backend node). */
	CHECK_INT(read_all(t, 4, GRANT_MODE_PERSISTENT, true, &nr, cfg, why), 0, "take over");
	CHECK_INT(cfg[0].grant_mode, GRANT_MODE_MAP, "take-over without backend feature");
}

/* A 4-page ring in the x86_64 layout, and a 16-page one taken over in persistent mode. */
static void test_multi_page(void)
{
	struct node t[] = { { FE "/ring-page-order", "2" }, { FE "/protocol", "x86_64-abi" },
			    { FE "/ring-ref0", "100" }, { FE "/ring-ref1", "101" },
			    { FE "/ring-ref2", "102" }, { FE "/ring-ref3", "4294967295" },
			    { FE "/ring-ref", "9" }, { FE "/event-channel", "4294967295" },
			    { NULL, NULL } };
	struct node t16[40] = { { FE "/ring-page-order", "4" }, { FE "/protocol", "x86_32-abi" },
				{ FE "/event-channel", "1" }, { FE "/feature-persistent", "1" },
				{ BE "/feature-persistent", "1" } };
	char paths[16][64], vals[16][8], why[512];
	struct blk_ring_config cfg[BLK_MAX_QUEUES];
	unsigned int nr = 0;

	CHECK_INT(read_all(t, 1, GRANT_MODE_MAP, false, &nr, cfg, why), 0, "order 2");
	CHECK_INT(cfg[0].ring_order, 2, "order");
	for (unsigned int i = 0; i < 3; i++)
		CHECK_U64(cfg[0].ring_refs[i], 100 + i, "ring-refN");
	CHECK_U64(cfg[0].ring_refs[3], UINT32_MAX, "ring-ref3");
	CHECK_U64(cfg[0].remote_port, UINT32_MAX, "event-channel");
	CHECK_INT(cfg[0].abi, BLKIF_ABI_X86_64, "x86_64-abi");

	for (unsigned int i = 0; i < 16; i++) {
		snprintf(paths[i], sizeof(paths[i]), FE "/ring-ref%u", i);
		snprintf(vals[i], sizeof(vals[i]), "%u", 200 + i);
		t16[5 + i] = (struct node){ paths[i], vals[i] };
	}
	CHECK_INT(read_all(t16, 1, GRANT_MODE_PERSISTENT, true, &nr, cfg, why), 0, "order 4");
	CHECK_INT(cfg[0].ring_order, 4, "order");
	CHECK_U64(cfg[0].ring_refs[15], 215, "ring-ref15");
	CHECK_INT(cfg[0].abi, BLKIF_ABI_X86_32, "x86_32-abi");
	CHECK_INT(cfg[0].grant_mode, GRANT_MODE_PERSISTENT, "take-over with both ends");
}

/* Two queues of 2-page rings in queue-N/; the top-level ring-ref is not what counts. */
static void test_multi_queue(void)
{
	struct node t[] = { { FE "/multi-queue-num-queues", "2" },
			    { FE "/ring-page-order", "1" },
			    { FE "/ring-ref0", "1" }, { FE "/event-channel", "1" },
			    { FE "/queue-0/ring-ref0", "10" }, { FE "/queue-0/ring-ref1", "11" },
			    { FE "/queue-0/event-channel", "5" },
			    { FE "/queue-1/ring-ref0", "20" }, { FE "/queue-1/ring-ref1", "21" },
			    { FE "/queue-1/event-channel", "6" }, { NULL, NULL } };
	struct blk_ring_config cfg[BLK_MAX_QUEUES];
	unsigned int nr = 0;
	char why[512];

	CHECK_INT(read_all(t, 2, GRANT_MODE_MAP, false, &nr, cfg, why), 0, "2 queues");
	CHECK_INT(nr, 2, "queues");
	CHECK_U64(cfg[0].ring_refs[1], 11, "queue-0 ring-ref1");
	CHECK_U64(cfg[1].ring_refs[0], 20, "queue-1 ring-ref0");
	CHECK_U64(cfg[1].remote_port, 6, "queue-1 event-channel");
	/* More than offered is refused, unless taking over (up to BLK_MAX_QUEUES). */
	check_refused(read_all(t, 1, GRANT_MODE_MAP, false, &nr, cfg, why), why,
		      "frontend asks for multi-queue-num-queues '2'; this backend offers 1 to 1 "
		      "(multi-queue-max-queues)", "2 queues of 1");
	CHECK_INT(read_all(t, BLK_MAX_QUEUES, GRANT_MODE_MAP, true, &nr, cfg, why), 0,
		  "2 queues taken over");
	t[8].path = FE "/queue-1/ring-ref";	/* queue-1 lost its ring-ref1 */
	check_refused(read_all(t, 2, GRANT_MODE_MAP, false, &nr, cfg, why), why,
		      "frontend has no valid " FE "/queue-1/ring-ref1", "queue-1 ring-ref1");
}

/* Each refusal of the frontend's nodes, with its reason. */
static void test_refusals(void)
{
	static const struct {
		const char *path, *value, *reason;
	} bad[] = {
		{ FE "/ring-page-order", "5", "frontend asks for ring-page-order '5'; this "
		  "backend offers 0 to 4 (max-ring-page-order)" },
		{ FE "/ring-page-order", "-1", "frontend asks for ring-page-order '-1'; this "
		  "backend offers 0 to 4 (max-ring-page-order)" },
		{ FE "/ring-page-order", "", "frontend asks for ring-page-order ''; this "
		  "backend offers 0 to 4 (max-ring-page-order)" },
		{ FE "/ring-page-order", "0", "frontend has no valid " FE "/ring-ref0" },
		{ FE "/ring-ref", "4294967296", "frontend has no valid " FE "/ring-ref" },
		{ FE "/ring-ref", "8 ", "frontend has no valid " FE "/ring-ref" },
		{ FE "/event-channel", "x", "frontend has no valid " FE "/event-channel" },
		{ FE "/protocol", "x86_16-abi", "frontend protocol 'x86_16-abi' is not one of "
		  "x86_32-abi, x86_64-abi" },
		/*
		 * A guest's value reaches the log and the error node blkbackctl list prints:
		 * a newline there would fake a row, an escape would drive the terminal.
		 */
		{ FE "/protocol", "x\n4 (4) xvdb Connected\x1b[2J\\\xc2\x9b", "frontend protocol "
		  "'x\\x0a4 (4) xvdb Connected\\x1b[2J\\x5c\\xc2\\x9b' is not one of x86_32-abi, "
		  "x86_64-abi" },
		{ FE "/ring-page-order", "\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b"
		  "\x1b\x1b\x1b\x1b", "frontend asks for ring-page-order '\\x1b\\x1b\\x1b\\x1b"
		  "\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b...'; this "
		  "backend offers 0 to 4 (max-ring-page-order)" },
		{ FE "/multi-queue-num-queues", "0", "frontend asks for multi-queue-num-queues "
		  "'0'; this backend offers 1 to 4 (multi-queue-max-queues)" },
		{ FE "/multi-queue-num-queues", "5", "frontend asks for multi-queue-num-queues "
		  "'5'; this backend offers 1 to 4 (multi-queue-max-queues)" },
		{ FE "/multi-queue-num-queues", "1000", "frontend asks for "
		  "multi-queue-num-queues '1000'; this backend offers 1 to 4 "
		  "(multi-queue-max-queues)" },
	};
	struct blk_ring_config cfg[BLK_MAX_QUEUES];
	unsigned int nr;
	char why[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* A valid single-queue frontend, with one node overridden (first match wins). */
		struct node t[] = { { bad[i].path, bad[i].value }, { FE "/ring-ref", "8" },
				    { FE "/event-channel", "1" }, { NULL, NULL } };

		why[0] = '\0';
		check_refused(read_all(t, 4, GRANT_MODE_MAP, false, &nr, cfg, why), why,
			      bad[i].reason, bad[i].value);
	}
}

/* Run every case. */
int main(void)
{
	test_frontend();
	test_disk();
	test_libxl_format();
	test_hotplug();
	test_phy_path();
	test_single();
	test_multi_page();
	test_multi_queue();
	test_refusals();
	return check_done("test-config");
}
