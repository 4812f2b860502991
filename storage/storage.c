/* The engine table, spec parsing, and opening a disk (with the fault layer when asked). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../blkback/num.h"
#include "storage.h"

static const struct storage_ops *const engines[] = {
	&storage_mem_ops, &storage_file_ops, &storage_uring_ops, &storage_nbd_ops,
};

#define N_ENGINES (sizeof(engines) / sizeof(engines[0]))

/* Find an engine by name; NULL if there is none. */
const struct storage_ops *storage_engine(const char *name)
{
	for (size_t i = 0; i < N_ENGINES; i++)
		if (!strcmp(engines[i]->name, name))
			return engines[i];
	return NULL;
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

/* Apply one key[=value] option to the spec. */
static int spec_option(struct storage_spec *spec, char *opt, char *err, size_t errlen)
{
	char *val = strchr(opt, '=');

	if (val)
		*val++ = '\0';
	bool path = spec->engine->needs_path, mem = !path && !spec->engine->needs_uri;

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

/* Parse a spec: ENGINE:[PATH][,key=value...]. */
int storage_spec_parse(const char *text, struct storage_spec *spec, char *err, size_t errlen)
{
	char *copy = strdup(text), *colon, *opt, *save = NULL;
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
	spec->engine = storage_engine(copy);
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
	if (spec->engine->needs_path) {
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
	for (opt = strtok_r(opt, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		ret = spec_option(spec, opt, err, errlen);
		if (ret)
			goto out;
	}
	ret = -EINVAL;
	if (!spec->engine->needs_path && !spec->engine->needs_uri && !spec->size && !spec->name) {
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
