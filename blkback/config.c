/* The configuration a device reads from xenstore, read through a callback and checked. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "xs.h"

/* Room for any node path: a directory of at most 128 bytes, queue-N/ and a node name. */
#define PATH_LEN 256
#define DIR_LEN 192

/*
 * Read the node whose path fmt formats into path (PATH_LEN bytes); NULL if absent. A path
 * that does not fit (it cannot: bepath and fepath are bounded) is never read cut short.
 */
static char *get(const struct cfg_nodes *n, char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static char *get(const struct cfg_nodes *n, char *path, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(path, PATH_LEN, fmt, ap);
	va_end(ap);
	if (len < 0 || len >= PATH_LEN)
		return NULL;
	return n->read(n->arg, path);
}

/* Room for a guest's value in a message: CLIP_LEN - 4 bytes of it, then "..." if longer. */
#define CLIP_LEN 68

/* The bytes byte c takes in a message: 1, or 4 as \xNN. */
static size_t shown_len(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '\\' ? 1 : 4;
}

/*
 * s for a message, into buf: a guest may write anything there, and the message goes to
 * the log and to the error node that blkbackctl list and stats print. So each byte that
 * is not printable ASCII (a newline would fake a row, an escape would drive the
 * terminal), and the backslash, shows as \xNN; what does not fit is cut, with "...".
 */
static const char *clip(const char *s, char buf[CLIP_LEN])
{
	size_t all = 0, o = 0;

	for (const char *p = s; *p; p++)
		all += shown_len((unsigned char)*p);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (all >= CLIP_LEN && o + shown_len(c) > CLIP_LEN - 4) {
			memcpy(buf + o, "...", 4);
			return buf;
		}
		if (shown_len(c) == 1)
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, 5, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

/* The node at path as a decimal number no larger than max: -ENOENT if absent, -EINVAL if bad. */
static int get_uint(const struct cfg_nodes *n, const char *path, uint64_t max, uint64_t *v)
{
	char *s = n->read(n->arg, path);
	int ret = -ENOENT;

	if (s)
		ret = parse_uint(s, max, v);
	free(s);
	return ret;
}

/* The frontend's directory from frontend and frontend-id, if it is domain domid's. */
int cfg_frontend(const struct cfg_nodes *n, uint32_t domid, char **fepath, char *why,
		 size_t len)
{
	char path[PATH_LEN], prefix[64];
	char *fe = get(n, path, "%s/frontend", n->bepath);
	uint64_t id;
	int ret = -EAGAIN;

	*fepath = NULL;
	snprintf(path, sizeof(path), "%s/frontend-id", n->bepath);
	if (!fe || get_uint(n, path, UINT16_MAX, &id)) {
		snprintf(why, len, "waiting for %s/frontend and %s/frontend-id", n->bepath,
			 n->bepath);
		goto out;
	}
	ret = -EINVAL;
	snprintf(prefix, sizeof(prefix), "/local/domain/%u/", domid);
	if (id != domid || strncmp(fe, prefix, strlen(prefix)) || strlen(fe) > CFG_MAX_FEPATH) {
		snprintf(why, len, "frontend %.*s%s (id %" PRIu64 ") does not belong to domain %u",
			 CFG_MAX_FEPATH, fe, strlen(fe) > CFG_MAX_FEPATH ? "..." : "", id, domid);
		goto out;
	}
	*fepath = fe;
	fe = NULL;
	ret = 0;
out:
	free(fe);
	return ret;
}

/* Whether a toolstack made the device and runs a hotplug script for it (a script node). */
bool cfg_hotplug(const struct cfg_nodes *n)
{
	char path[PATH_LEN];
	char *s = get(n, path, "%s/script", n->bepath);

	free(s);
	return s != NULL;
}

/* The image formats libxl may put before a tap disk's target that blkbackd does not serve. */
static const char *const libxl_refused[] = { "qcow", "qed" };

/*
 * The spec in a params node: libxl (4.19 on) writes a tap disk's as FORMAT:TARGET, where
 * raw is "aio"; so "aio:mem:size=64M" is the spec "mem:size=64M". "qcow2:PATH" is the
 * qcow2 engine's spec as it is, and "vhd:PATH" the vpc engine's (qemu's name for VHD):
 * in place, into *spec. qcow and qed are refused, saying so: -EINVAL with why.
 */
static int strip_format(char *text, char **spec, char *why, size_t len)
{
	size_t n = strcspn(text, ":");

	*spec = text;
	if (text[n] != ':')
		return 0;
	if (n == 3 && !strncmp(text, "aio", 3)) {
		*spec = text + 4;
		return 0;
	}
	if (n == 3 && !strncmp(text, "vhd", 3)) {
		memcpy(text, "vpc", 3);
		return 0;
	}
	for (size_t i = 0; i < sizeof(libxl_refused) / sizeof(libxl_refused[0]); i++) {
		if (strlen(libxl_refused[i]) == n && !strncmp(text, libxl_refused[i], n)) {
			snprintf(why, len, "the toolstack asks for a %s image ('%.*s'): blkbackd "
				 "serves qcow2, vhd, vmdk, vhdx and raw images, not %s: convert it "
				 "(qemu-img convert -O qcow2), then write format=qcow2 in the xl disk "
				 "line", libxl_refused[i], 96, text, libxl_refused[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * A plain xl phy disk ('phy:/dev/vg0/vm1,xvdb,w', type phy): libxl writes the device's path
 * alone in params, for the kernel's backend. Where blkbackd serves kind vbd instead (Xen
 * 4.17's route, xen-blkback kept out), such a disk is a file: disk on that path; into
 * *text, freeing the old. Anything else stays as it is.
 */
static int phy_path(const struct cfg_nodes *n, char **text)
{
	char path[PATH_LEN], *type, *spec;
	int ret = 0;

	if ((*text)[0] != '/')
		return 0;
	type = get(n, path, "%s/type", n->bepath);
	if (type && !strcmp(type, "phy")) {
		if (asprintf(&spec, "file:%s", *text) < 0) {
			ret = -ENOMEM;
		} else {
			free(*text);
			*text = spec;
		}
	}
	free(type);
	return ret;
}

/* The disk spec in params, made read-only by a mode node starting with 'r'. */
int cfg_disk(const struct cfg_nodes *n, struct storage_spec *spec, char **params, char *why,
	     size_t len)
{
	char path[PATH_LEN];
	char *text = get(n, path, "%s/params", n->bepath), *mode = NULL, *target;
	int ret = -EINVAL;

	*params = NULL;
	if (!text) {
		snprintf(why, len, "no params node: write the disk spec (e.g. mem:size=64M) to "
			 "%s/params", n->bepath);
		goto out;
	}
	why[0] = '\0';
	ret = strip_format(text, &target, why, len);
	if (ret)
		goto out;
	if (target != text)
		memmove(text, target, strlen(target) + 1);
	ret = phy_path(n, &text);
	if (!ret)
		ret = storage_spec_parse(text, spec, why, len);
	if (ret) {
		if (!why[0])	/* out of memory: the parser says nothing */
			snprintf(why, len, "%s", strerror(-ret));
		goto out;
	}
	mode = get(n, path, "%s/mode", n->bepath);
	spec->readonly |= mode && mode[0] == 'r';
	*params = text;
	text = NULL;
out:
	free(text);
	free(mode);
	return ret;
}

/* The frontend's multi-queue-num-queues, 1 to max; 1 when absent. */
int cfg_nr_queues(const struct cfg_nodes *n, unsigned int max, unsigned int *nr, char *why,
		  size_t len)
{
	char path[PATH_LEN];
	char *s = get(n, path, "%s/multi-queue-num-queues", n->fepath), buf[CLIP_LEN];
	uint64_t v = 1;
	int ret = 0;

	if (s && (parse_uint(s, max, &v) || v == 0)) {
		snprintf(why, len, "frontend asks for multi-queue-num-queues '%s'; this backend "
			 "offers 1 to %u (multi-queue-max-queues)", clip(s, buf), max);
		ret = -EINVAL;
		goto out;
	}
	*nr = (unsigned int)v;
out:
	free(s);
	return ret;
}

/* The ABI and the grant mode, shared by every queue. */
int cfg_common(const struct cfg_nodes *n, enum grant_mode mode, struct blk_ring_config *cfg,
	       char *why, size_t len)
{
	char path[PATH_LEN], *protocol, buf[CLIP_LEN];
	uint64_t v;
	int ret;

	/* Persistent grants when asked to and the frontend offers them, as Linux blkback. */
	cfg->grant_mode = mode;
	snprintf(path, sizeof(path), "%s/feature-persistent", n->fepath);
	if (mode == GRANT_MODE_PERSISTENT && (get_uint(n, path, 1, &v) || v != 1))
		cfg->grant_mode = GRANT_MODE_MAP;
	/* Taking over: persistent only if the frontend saw an earlier daemon offer it. */
	snprintf(path, sizeof(path), "%s/feature-persistent", n->bepath);
	if (cfg->take_over && cfg->grant_mode == GRANT_MODE_PERSISTENT &&
	    (get_uint(n, path, 1, &v) || v != 1))
		cfg->grant_mode = GRANT_MODE_MAP;
	protocol = get(n, path, "%s/protocol", n->fepath);
	ret = blkif_abi_from_protocol(protocol, &cfg->abi);
	if (ret)
		snprintf(why, len, "frontend protocol '%s' is not one of x86_32-abi, x86_64-abi",
			 protocol ? clip(protocol, buf) : "(null)");
	free(protocol);
	return ret;
}

/* Queue q's ring order, ring refs and event channel. */
int cfg_queue(const struct cfg_nodes *n, unsigned int nr, unsigned int q,
	      struct blk_ring_config *cfg, char *why, size_t len)
{
	char dir[DIR_LEN], path[PATH_LEN], buf[CLIP_LEN];
	char *s = get(n, path, "%s/ring-page-order", n->fepath);
	uint64_t order = 0, v = 0;
	int ret = -EINVAL;

	/* One queue keeps the top-level nodes; several have queue-N/, as blkif.h says. */
	if (nr == 1)
		snprintf(dir, sizeof(dir), "%s", n->fepath);
	else
		snprintf(dir, sizeof(dir), "%s/queue-%u", n->fepath, q);
	if (s && parse_uint(s, BLK_RING_MAX_ORDER, &order)) {
		snprintf(why, len, "frontend asks for ring-page-order '%s'; this backend offers "
			 "0 to %u (max-ring-page-order)", clip(s, buf), BLK_RING_MAX_ORDER);
		goto out;
	}
	cfg->ring_order = (unsigned int)order;
	for (unsigned int i = 0; i < 1u << order; i++) {
		if (s)
			snprintf(path, sizeof(path), "%s/ring-ref%u", dir, i);
		else
			snprintf(path, sizeof(path), "%s/ring-ref", dir);
		if (get_uint(n, path, UINT32_MAX, &v)) {
			snprintf(why, len, "frontend has no valid %s", path);
			goto out;
		}
		cfg->ring_refs[i] = (grant_ref_t)v;
	}
	snprintf(path, sizeof(path), "%s/event-channel", dir);
	if (get_uint(n, path, UINT32_MAX, &v)) {
		snprintf(why, len, "frontend has no valid %s", path);
		goto out;
	}
	cfg->remote_port = (evtchn_port_t)v;
	ret = 0;
out:
	free(s);
	return ret;
}
