/* The engine table, spec parsing, and opening a disk (with the fault layer when asked). */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../blkback/num.h"
#include "storage.h"

static const struct storage_ops *const engines[] = {
	&storage_mem_ops, &storage_file_ops, &storage_uring_ops, &storage_nbd_ops,
	&storage_qcow2_ops, &storage_vmdk_ops, &storage_vhdx_ops, &storage_vpc_ops, &storage_raw_ops,
};

#define N_ENGINES (sizeof(engines) / sizeof(engines[0]))

/* The eventfd disks write when their size changes; -1 for none. */
static int notify_fd = -1;

/* Find an engine by name, built in or in a module; NULL, and why in err if known. */
const struct storage_ops *storage_engine_find(const char *name, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	for (size_t i = 0; i < N_ENGINES; i++)
		if (!strcmp(engines[i]->name, name))
			return engines[i];
	return storage_module_load(name, err, errlen);
}

/* Find an engine by name; NULL if there is none. */
const struct storage_ops *storage_engine(const char *name)
{
	return storage_engine_find(name, NULL, 0);
}

/* The eventfd that disks opened from now on write when their size changes. */
void storage_set_notify_fd(int fd)
{
	__atomic_store_n(&notify_fd, fd, __ATOMIC_RELEASE);
}

/* Append the accepted forms of every engine to a message. */
static void append_usage(char *err, size_t errlen)
{
	size_t len = strlen(err);

	snprintf(err + len, errlen - len, "; accepted forms:");
	for (size_t i = 0; i < N_ENGINES; i++) {
		len = strlen(err);
		snprintf(err + len, errlen - len, " %s", engines[i]->usage);
	}
	storage_module_usage(err, errlen);
}

/* Parse a size with an optional K/M/G/T suffix (powers of 1024), at most STORAGE_MAX_SIZE. */
int storage_parse_size(const char *s, uint64_t *bytes)
{
	return num_parse_size(s, STORAGE_MAX_SIZE, bytes);
}

/* Mark a message that filled its buffer: it may have been cut, and must say so. */
static void mark_cut(char *err, size_t errlen)
{
	if (errlen > 4 && strlen(err) + 1 >= errlen)
		memcpy(err + errlen - 4, "...", 4);
}

/* Parse fault=START+COUNT[:eio|enospc|short|stall] (sectors of 512 bytes). */
static int spec_fault(struct storage_spec *spec, char *val, char *err, size_t errlen)
{
	static const char *const kinds[] = {
		[STORAGE_FAULT_EIO] = "eio", [STORAGE_FAULT_ENOSPC] = "enospc",
		[STORAGE_FAULT_SHORT] = "short", [STORAGE_FAULT_STALL] = "stall",
	};
	char *plus = strchr(val, '+'), *colon = strchr(val, ':');
	uint64_t start, count;

	if (colon)
		*colon++ = '\0';
	if (plus)
		*plus++ = '\0';
	spec->fault = STORAGE_FAULT_EIO;
	for (unsigned int k = STORAGE_FAULT_EIO; colon && k <= STORAGE_FAULT_STALL; k++)
		if (!strcmp(colon, kinds[k]))
			spec->fault = k;
	if (colon && strcmp(colon, kinds[spec->fault]))
		goto bad;
	if (!plus || storage_parse_size(val, &start) || storage_parse_size(plus, &count) ||
	    !count || start > (UINT64_MAX >> 9) - count)
		goto bad;
	spec->fault_start = start;
	spec->fault_count = count;
	return 0;
bad:
	spec->fault = STORAGE_FAULT_NONE;
	snprintf(err, errlen, "bad fault option: give fault=START+COUNT[:eio|enospc|short|stall], "
		 "in 512-byte sectors (e.g. fault=2048+8)");
	return -EINVAL;
}

/* The limit options: key, field, a rate (0 turns it off) or a burst, a size, bounds. */
static const struct limit_key {
	const char *key;
	size_t off;
	bool rate, size;
	uint64_t min, max;
	const char *what, *example;
} limit_keys[] = {
	{ "iops", offsetof(struct storage_limits, iops), true, false, 1, STORAGE_IOPS_MAX,
	  "the requests a second", "iops=5000" },
	{ "iops-burst", offsetof(struct storage_limits, iops_burst), false, false, 1,
	  STORAGE_IOPS_BURST_MAX, "the requests that may go at once", "iops-burst=500" },
	{ "bps", offsetof(struct storage_limits, bps), true, true, STORAGE_BPS_MIN,
	  STORAGE_BPS_MAX, "the bytes a second of reads and writes", "bps=100M" },
	{ "bps-burst", offsetof(struct storage_limits, bps_burst), false, true, STORAGE_BPS_MIN,
	  STORAGE_BPS_BURST_MAX, "the bytes that may go at once", "bps-burst=8M" },
};

/* Mark every field of l as not given. */
void storage_limits_unset(struct storage_limits *l)
{
	l->iops = l->iops_burst = l->bps = l->bps_burst = STORAGE_LIMIT_UNSET;
}

/* One I/O limit option into l; -ENOENT if key is no limit's. */
int storage_limit_option(struct storage_limits *l, const char *key, const char *val, char *err,
			 size_t errlen)
{
	char lo[NUM_SIZE_TEXT], hi[NUM_SIZE_TEXT];
	const struct limit_key *k = NULL;
	uint64_t v = 0;
	int e;

	for (size_t i = 0; i < sizeof(limit_keys) / sizeof(limit_keys[0]); i++)
		if (!strcmp(key, limit_keys[i].key))
			k = &limit_keys[i];
	if (!k)
		return -ENOENT;
	if (!val || !*val)
		e = -EINVAL;
	else if (k->size)
		e = num_parse_size(val, UINT64_MAX >> 1, &v);
	else
		e = num_parse_uint(val, UINT64_MAX >> 1, &v);
	if (!e && !v && !k->rate) {
		snprintf(err, errlen, "bad %s '%s': a burst of 0 would let no request through; give "
			 "%s from %s to %s, or leave %s out for the default (a tenth of a second's "
			 "worth)", key, val, k->what, num_size_text(k->min, lo),
			 num_size_text(k->max, hi), key);
		return -EINVAL;
	}
	if (!e && v && (v < k->min || v > k->max))
		e = -ERANGE;
	if (e) {
		snprintf(err, errlen, "bad %s '%s': %s; give %s, %s%s to %s%s (e.g. %s)", key,
			 val ? val : "", e == -ERANGE ? "out of range" : "not a number", k->what,
			 k->rate ? "0 (no limit) or " : "", num_size_text(k->min, lo),
			 num_size_text(k->max, hi),
			 k->size ? ", with an optional K, M, G or T suffix" : "", k->example);
		return -EINVAL;
	}
	*(uint64_t *)(void *)((char *)l + k->off) = v;
	return 0;
}

/* One rate and its burst, given over old: a rate alone gets the default burst. */
static int merge_pair(uint64_t old_rate, uint64_t old_burst, uint64_t *rate, uint64_t *burst,
		      const char *name, char *err, size_t errlen)
{
	bool rate_given = *rate != STORAGE_LIMIT_UNSET, burst_given = *burst != STORAGE_LIMIT_UNSET;

	if (!rate_given)
		*rate = old_rate;
	if (!burst_given)
		*burst = rate_given ? 0 : old_burst;
	if (!*rate)
		*burst = burst_given ? *burst : 0;
	if (!*rate && *burst) {
		snprintf(err, errlen, "%s-burst=%" PRIu64 " without %s: a burst needs its rate "
			 "(give %s=N too, or leave %s-burst out)", name, *burst, name, name, name);
		return -EINVAL;
	}
	return 0;
}

/* The limits given over old, into given; -EINVAL for a burst without its rate. */
int storage_limits_merge(const struct storage_limits *old, struct storage_limits *given,
			 char *err, size_t errlen)
{
	int e = merge_pair(old->iops, old->iops_burst, &given->iops, &given->iops_burst, "iops",
			   err, errlen);

	return e ? e : merge_pair(old->bps, old->bps_burst, &given->bps, &given->bps_burst, "bps",
				  err, errlen);
}

/* The burst in force: as given, or a tenth of a second's worth, at least min. */
uint64_t storage_limit_burst(uint64_t rate, uint64_t burst, uint64_t min)
{
	if (burst)
		return burst;
	return rate / 10 > min ? rate / 10 : min;
}

/* Apply one key[=value] option to the spec. */
static int spec_option(struct storage_spec *spec, char *opt, char *err, size_t errlen)
{
	char *val = strchr(opt, '=');

	if (val)
		*val++ = '\0';
	bool path = spec->engine->needs_path, mem = !path && !spec->engine->needs_uri;

	int lim = storage_limit_option(&spec->limits, opt, val, err, errlen);

	if (lim != -ENOENT)
		return lim;
	/* An engine that parses its own spec takes every option but ro, fault= and limits. */
	if (spec->engine->parse_option && strcmp(opt, "ro") && strcmp(opt, "fault"))
		return spec->engine->parse_option(spec, opt, val, err, errlen);
	if (!strcmp(opt, "ro") && !val) {
		spec->readonly = true;
	} else if (!strcmp(opt, "direct") && !val && path) {
		spec->direct = true;
	} else if (!strcmp(opt, "shared") && !val && path) {
		spec->shared = true;
	} else if (!strcmp(opt, "size") && val && mem) {
		int e = storage_parse_size(val, &spec->size);

		if (e == -ERANGE) {
			num_error(err, errlen, "size", val, e, true, 512, STORAGE_MAX_SIZE);
			return -EINVAL;
		}
		if (e || !spec->size || spec->size % 512) {
			snprintf(err, errlen, "bad size '%s': give a non-zero multiple of 512 "
				 "bytes, with an optional K, M, G or T suffix (e.g. size=64M)", val);
			return -EINVAL;
		}
	} else if (!strcmp(opt, "timeout") && val && spec->engine->needs_uri) {
		uint64_t secs;

		if (num_parse_uint(val, 86400, &secs) || !secs) {
			snprintf(err, errlen, "bad timeout '%s': give the seconds (1 to 86400) an NBD "
				 "disk waits for its server to come back before its I/O fails "
				 "(e.g. timeout=60)", val);
			return -EINVAL;
		}
		spec->timeout_s = (unsigned int)secs;
	} else if (!strcmp(opt, "fault") && val) {
		return spec_fault(spec, val, err, errlen);
	} else if (!strcmp(opt, "huge") && !val && mem) {
		spec->huge = true;
	} else if (!strcmp(opt, "name") && val && *val && mem) {
		if (strcspn(val, "/ \t") != strlen(val)) {
			snprintf(err, errlen, "bad ramdisk name '%s': no '/' or spaces", val);
			return -EINVAL;
		}
		free(spec->name);
		spec->name = strdup(val);
		if (!spec->name)
			return -ENOMEM;
	} else {
		snprintf(err, errlen, "unknown or malformed option '%s%s%s' for engine '%s'",
			 opt, val ? "=" : "", val ? val : "", spec->engine->name);
		return -EINVAL;
	}
	return 0;
}

/*
 * The next comma-separated field of *s (NULL at the end), cut off in place; with
 * brackets, a comma inside [...] does not separate (rbd's mon_host=[v2:IP:PORT,v1:...]).
 */
static char *next_field(char **s, bool brackets)
{
	char *start = *s, *p;
	int depth = 0;

	while (start && *start == ',')
		start++;
	if (!start || !*start)
		return NULL;
	for (p = start; *p && (*p != ',' || depth > 0); p++)
		depth += !brackets ? 0 : *p == '[' ? 1 : *p == ']' && depth > 0 ? -1 : 0;
	*s = *p ? p + 1 : NULL;
	*p = '\0';
	return start;
}

/* Parse a spec: ENGINE:[PATH][,key=value...]. */
int storage_spec_parse(const char *text, struct storage_spec *spec, char *err, size_t errlen)
{
	char *copy = strdup(text), *colon, *opt, *rest;
	int ret = -EINVAL;

	memset(spec, 0, sizeof(*spec));
	if (strlen(text) > STORAGE_SPEC_MAX) {
		snprintf(err, errlen, "disk spec '%.64s...' is %zu bytes, longer than the %d "
			 "accepted: give a shorter path", text, strlen(text), STORAGE_SPEC_MAX);
		free(copy);
		return -EINVAL;
	}
	if (!copy)
		return -ENOMEM;
	colon = strchr(copy, ':');
	if (colon)
		*colon = '\0';
	spec->engine = storage_engine_find(copy, err, errlen);
	if (!spec->engine && err[0])	/* a module that did not load says why */
		goto out;
	if (!colon) {
		snprintf(err, errlen, "bad disk spec '%s': it must start with an engine "
			 "name and a colon", text);
		append_usage(err, errlen);
		goto out;
	}
	if (!spec->engine) {
		snprintf(err, errlen, "bad disk spec '%s': unknown storage engine '%s'", text, copy);
		append_usage(err, errlen);
		goto out;
	}
	opt = colon + 1;
	if (spec->engine->parse_target) {
		char *comma = strchr(opt, ',');

		if (comma)
			*comma = '\0';
		ret = spec->engine->parse_target(spec, opt, err, errlen);
		if (ret)
			goto out;
		opt = comma ? comma + 1 : opt + strlen(opt);
	} else if (spec->engine->needs_path) {
		char *comma = strchr(opt, ',');

		if (comma)
			*comma = '\0';
		/* The daemon runs from /: a relative path would name some other file. */
		if (opt[0] != '/') {
			snprintf(err, errlen, "bad disk spec '%s': give the absolute path of a file or "
				 "block device (accepted form: %s)", text, spec->engine->usage);
			goto out;
		}
		if (strlen(opt) >= PATH_MAX) {
			snprintf(err, errlen, "bad disk spec: the path '%.64s...' is %zu bytes, "
				 "longer than the %d a path may have (PATH_MAX): give a shorter path", opt,
				 strlen(opt), PATH_MAX - 1);
			goto out;
		}
		spec->path = strdup(opt);
		if (!spec->path) {
			ret = -ENOMEM;
			goto out;
		}
		opt = comma ? comma + 1 : opt + strlen(opt);
	} else if (spec->engine->needs_uri) {
		char *comma = strchr(opt, ',');

		if (comma)
			*comma = '\0';
		if (!strstr(opt, "://")) {
			snprintf(err, errlen, "bad disk spec '%s': give the server's URI, e.g. "
				 "nbd:nbd+unix:///EXPORT?socket=/run/nbd.sock or "
				 "nbd:nbd://HOST:PORT/EXPORT (accepted form: %s)", text,
				 spec->engine->usage);
			goto out;
		}
		spec->uri = strdup(opt);
		if (!spec->uri) {
			ret = -ENOMEM;
			goto out;
		}
		opt = comma ? comma + 1 : opt + strlen(opt);
	}
	storage_limits_unset(&spec->limits);
	/* Only an engine that parses its own options may take brackets. */
	for (rest = opt; (opt = next_field(&rest, spec->engine->parse_option != NULL));) {
		ret = spec_option(spec, opt, err, errlen);
		if (ret)
			goto out;
	}
	ret = storage_limits_merge(&(struct storage_limits){ 0 }, &spec->limits, err, errlen);
	if (ret)
		goto out;
	ret = -EINVAL;
	if (!spec->engine->needs_path && !spec->engine->needs_uri && !spec->engine->parse_target &&
	    !spec->size && !spec->name) {
		snprintf(err, errlen, "bad disk spec '%s': a ramdisk needs size=SIZE "
			 "(accepted form: %s)", text, spec->engine->usage);
		goto out;
	}
	ret = 0;
out:
	if (ret) {
		if (ret != -EINVAL)
			snprintf(err, errlen, "%s", strerror(-ret));
		mark_cut(err, errlen);
		storage_spec_free(spec);
	}
	free(copy);
	return ret;
}

/* Free what storage_spec_parse allocated; idempotent. */
void storage_spec_free(struct storage_spec *spec)
{
	if (spec->engine && spec->engine->spec_free)
		spec->engine->spec_free(spec);
	free(spec->path);
	free(spec->name);
	free(spec->uri);
	spec->path = spec->name = spec->uri = NULL;
}

/* Open a disk from a parsed spec; on error a message goes into err. */
int storage_open(const struct storage_spec *spec, struct storage **diskp, char *err, size_t errlen)
{
	struct storage *disk = calloc(1, sizeof(*disk));
	int ret;

	if (!disk)
		return -ENOMEM;
	disk->ops = spec->engine;
	disk->readonly = spec->readonly;
	disk->notify_fd = __atomic_load_n(&notify_fd, __ATOMIC_ACQUIRE);
	disk->caps.sector_size = disk->caps.physical_sector_size = 512;
	err[0] = '\0';
	ret = disk->ops->open(disk, spec, err, errlen);
	if (ret) {
		if (!err[0])
			snprintf(err, errlen, "cannot open %s disk: %s", disk->ops->name,
				 strerror(-ret));
		mark_cut(err, errlen);
		free(disk);
		return ret;
	}
	if (spec->fault_count) {
		ret = storage_fault_wrap(disk, spec);
		if (ret) {
			snprintf(err, errlen, "cannot set up fault injection: %s", strerror(-ret));
			storage_close(disk);
			return ret;
		}
	}
	*diskp = disk;
	return 0;
}

/* Close a disk; NULL is fine. */
void storage_close(struct storage *disk)
{
	if (!disk)
		return;
	disk->ops->close(disk);
	free(disk);
}
