/* Engine table, spec parsing and the checked entry points into an engine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../blkback/num.h"
#include "storage.h"

static const struct storage_ops *const engines[] = {
	&storage_mem_ops, &storage_file_ops, &storage_uring_ops,
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

/* A disk's size as its storage has it now, if it can change by itself; 0 otherwise. */
uint64_t storage_size_now(struct storage *disk)
{
	return disk->ops->size_now ? disk->ops->size_now(disk) : 0;
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

/* Apply one key[=value] option to the spec. */
static int spec_option(struct storage_spec *spec, char *opt, char *err, size_t errlen)
{
	char *val = strchr(opt, '=');

	if (val)
		*val++ = '\0';
	bool path = spec->engine->needs_path;

	/* An engine that parses its own spec takes every option but ro and fault=. */
	if (spec->engine->parse_option && strcmp(opt, "ro") && strcmp(opt, "fault"))
		return spec->engine->parse_option(spec, opt, val, err, errlen);
	if (!strcmp(opt, "ro") && !val) {
		spec->readonly = true;
	} else if (!strcmp(opt, "direct") && !val && path) {
		spec->direct = true;
	} else if (!strcmp(opt, "shared") && !val && path) {
		spec->shared = true;
	} else if (!strcmp(opt, "size") && val && !path) {
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
	} else if (!strcmp(opt, "fault") && val) {
		return spec_fault(spec, val, err, errlen);
	} else if (!strcmp(opt, "name") && val && *val && !path) {
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
	}
	/* Only an engine that parses its own options may take brackets. */
	for (rest = opt; (opt = next_field(&rest, spec->engine->parse_option != NULL));) {
		ret = spec_option(spec, opt, err, errlen);
		if (ret)
			goto out;
	}
	ret = -EINVAL;
	if (!spec->engine->needs_path && !spec->engine->parse_target && !spec->size &&
	    !spec->name) {
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
	spec->path = spec->name = NULL;
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

/* Open a queue on an open disk, with the engine's per-queue state if it has any. */
int storage_queue_open(struct storage *disk, struct storage_queue **qp)
{
	struct storage_queue *q = calloc(1, sizeof(*q));
	int ret = 0;

	if (!q)
		return -ENOMEM;
	q->disk = disk;
	if (disk->ops->queue_open)
		ret = disk->ops->queue_open(disk, q);
	if (ret) {
		free(q);
		return ret;
	}
	*qp = q;
	return 0;
}

/* Close a queue with nothing in flight; NULL is fine. */
void storage_queue_close(struct storage_queue *q)
{
	if (!q)
		return;
	if (q->disk->ops->queue_close)
		q->disk->ops->queue_close(q);
	free(q);
}

/* The rule of the engine contract io breaks, or NULL if it keeps them all. */
static const char *contract_broken(const struct storage *disk, const struct storage_io *io)
{
	bool data = io->op == STORAGE_READ || io->op == STORAGE_WRITE;
	uint64_t sum = 0;

	if (!io->done)
		return "an I/O needs a done callback";
	if (io->op > STORAGE_DISCARD)
		return "unknown operation";
	if (io->op != STORAGE_FLUSH && !io->len)
		return "only a flush may be empty";
	if (data && (io->iovcnt <= 0 || !io->iov))
		return "a read or write needs iovecs";
	for (int i = 0; data && i < io->iovcnt; i++) {
		if (io->iov[i].iov_len > io->len - sum)
			return "the iovecs hold more than len";
		sum += io->iov[i].iov_len;
	}
	if (data && sum != io->len)
		return "the iovecs hold less than len";
	if (io->op == STORAGE_DISCARD && !disk->caps.discard)
		return "discard on a disk that does not offer it";
	if (io->op == STORAGE_DISCARD && io->secure && !disk->caps.secure_discard)
		return "secure discard on a disk that does not offer it";
	if (io->op != STORAGE_FLUSH &&
	    (io->offset > disk->size || io->len > disk->size - io->offset))
		return "the range goes past the end of the disk";
	if (io->op != STORAGE_READ && disk->readonly)
		return "a change to a read-only disk";
	return NULL;
}

/*
 * Submit an I/O on q if it keeps the engine contract (the parser made sure it does).
 * One that does not would have an engine write past its disk or into a read-only
 * one: it is refused, for the caller to fail that request and halt its ring; the
 * daemon and every other disk go on.
 */
int storage_submit(struct storage_queue *q, struct storage_io *io, const char **why)
{
	*why = contract_broken(q->disk, io);
	if (*why)
		return -EINVAL;
	q->disk->ops->submit(q, io);
	return 0;
}

/* Start what submit queued on q, where the engine defers it. */
void storage_kick(struct storage_queue *q)
{
	if (q->disk->ops->kick)
		q->disk->ops->kick(q);
}

/* The fd that polls readable when q has completions; -1 for an engine that completes inline. */
int storage_event_fd(struct storage_queue *q)
{
	return q->disk->ops->event_fd ? q->disk->ops->event_fd(q) : -1;
}

/* Run q's completions on the calling thread. */
void storage_reap(struct storage_queue *q)
{
	if (q->disk->ops->reap)
		q->disk->ops->reap(q);
}
