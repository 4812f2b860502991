/* The memory engine: a sparse ramdisk, optionally named so that it outlives detach. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "storage.h"

/*
 * The bytes live in a private anonymous mapping with MAP_NORESERVE: pages the
 * guest never wrote are not allocated, and reading them maps the shared zero
 * page, so an untouched 1 TiB ramdisk costs nothing.
 *
 * Queues need no state of their own (every I/O completes inline), and several
 * queues may submit at once: submit only reads base, then copies or zeroes the
 * bytes of its own range, and a discard gives back only the pages wholly
 * inside its range, so I/O to other bytes of the same pages is untouched.
 * Overlapping I/O in flight together has no defined result in the protocol
 * either. Only resize moves base, with nothing in flight on any queue.
 */
struct ramdisk {
	char *name;		/* NULL for an anonymous ramdisk */
	uint8_t *base;
	uint64_t size;
	bool attached;
	struct ramdisk *next;	/* in the list of named ramdisks */
};

/* Named ramdisks live until the daemon exits; disks open from any thread. */
static pthread_mutex_t named_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ramdisk *named;

/* Allocate a ramdisk of size bytes. */
static int ramdisk_new(const char *name, uint64_t size, struct ramdisk **rdp)
{
	struct ramdisk *rd = calloc(1, sizeof(*rd));
	void *base;

	if (!rd)
		return -ENOMEM;
	base = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		int err = -errno;

		free(rd);
		return err;
	}
	rd->base = base;
	rd->size = size;
	if (name && !(rd->name = strdup(name))) {
		munmap(base, size);
		free(rd);
		return -ENOMEM;
	}
	*rdp = rd;
	return 0;
}

/* Free an anonymous ramdisk. */
static void ramdisk_free(struct ramdisk *rd)
{
	munmap(rd->base, rd->size);
	free(rd->name);
	free(rd);
}

/* Find or create the named ramdisk and claim it. */
static int named_claim(const struct storage_spec *spec, struct ramdisk **rdp,
		       char *err, size_t errlen)
{
	struct ramdisk *rd;
	int ret = 0;

	pthread_mutex_lock(&named_lock);
	for (rd = named; rd && strcmp(rd->name, spec->name); rd = rd->next)
		;
	if (rd && rd->attached) {
		snprintf(err, errlen, "ramdisk '%s' is already attached to another disk; "
			 "detach it first or pick another name", spec->name);
		ret = -EBUSY;
	} else if (rd && spec->size && spec->size != rd->size) {
		snprintf(err, errlen, "ramdisk '%s' exists with size %llu bytes, not %llu; "
			 "leave out size= to reuse it", spec->name,
			 (unsigned long long)rd->size, (unsigned long long)spec->size);
		ret = -EINVAL;
	} else if (!rd && !spec->size) {
		snprintf(err, errlen, "no ramdisk named '%s' exists yet: give size=SIZE "
			 "to create it", spec->name);
		ret = -ENOENT;
	} else if (!rd) {
		ret = ramdisk_new(spec->name, spec->size, &rd);
		if (!ret) {
			rd->next = named;
			named = rd;
		}
	}
	if (!ret) {
		rd->attached = true;
		*rdp = rd;
	}
	pthread_mutex_unlock(&named_lock);
	return ret;
}

/* Open an anonymous or named ramdisk. */
static int mem_open(struct storage *disk, const struct storage_spec *spec, char *err, size_t errlen)
{
	struct ramdisk *rd;
	int ret;

	if (spec->name)
		ret = named_claim(spec, &rd, err, errlen);
	else
		ret = ramdisk_new(NULL, spec->size, &rd);
	if (ret)
		return ret;
	disk->size = rd->size;
	disk->caps.flush = false;	/* no volatile cache: nothing to flush */
	disk->caps.discard = true;
	disk->caps.discard_zeroes = true;
	disk->caps.discard_granularity = (uint32_t)sysconf(_SC_PAGESIZE);
	disk->priv = rd;
	return 0;
}

/* Release the disk: an anonymous ramdisk's memory goes, a named one stays. */
static void mem_close(struct storage *disk)
{
	struct ramdisk *rd = disk->priv;

	if (rd->name) {
		pthread_mutex_lock(&named_lock);
		rd->attached = false;
		pthread_mutex_unlock(&named_lock);
	} else {
		ramdisk_free(rd);
	}
}

/*
 * Zero a range; the whole pages inside it go back to the kernel. The partial
 * pages at either end are zeroed byte by byte, never dropped: another queue
 * may be writing the rest of them.
 */
static int mem_discard(const struct ramdisk *rd, uint64_t offset, uint64_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t start = (offset + page - 1) & ~(page - 1);
	uint64_t end = (offset + len) & ~(page - 1);

	if (start >= end) {
		memset(rd->base + offset, 0, len);
		return 0;
	}
	memset(rd->base + offset, 0, start - offset);
	memset(rd->base + end, 0, offset + len - end);
	/* A private anonymous mapping reads as zeroes after MADV_DONTNEED. */
	if (madvise(rd->base + start, end - start, MADV_DONTNEED))
		return -errno;
	return 0;
}

/* Copy between the iovecs and the ramdisk; completes inline, on any queue. */
static void mem_submit(struct storage_queue *q, struct storage_io *io)
{
	const struct ramdisk *rd = q->disk->priv;
	uint8_t *p = rd->base + io->offset;

	if (io->op == STORAGE_DISCARD) {
		int err = mem_discard(rd, io->offset, io->len);

		io->done(io, err ? err : (int64_t)io->len);
		return;
	}
	for (int i = 0; i < io->iovcnt; i++) {
		if (io->op == STORAGE_READ)
			memcpy(io->iov[i].iov_base, p, io->iov[i].iov_len);
		else if (io->op == STORAGE_WRITE)
			memcpy(p, io->iov[i].iov_base, io->iov[i].iov_len);
		p += io->iov[i].iov_len;
	}
	io->done(io, (int64_t)io->len);
}

/* Grow or shrink the ramdisk (no queue has I/O in flight); grown space reads as zeroes. */
static int mem_resize(struct storage *disk, uint64_t size, char *err, size_t errlen)
{
	struct ramdisk *rd = disk->priv;
	void *base = mremap(rd->base, rd->size, size, MREMAP_MAYMOVE);

	if (base == MAP_FAILED) {
		int ret = -errno;

		snprintf(err, errlen, "cannot resize the ramdisk to %llu bytes: %s",
			 (unsigned long long)size, strerror(errno));
		return ret;
	}
	rd->base = base;
	rd->size = size;
	disk->size = size;
	return 0;
}

const struct storage_ops storage_mem_ops = {
	.name = "mem",
	.usage = "mem:size=SIZE[,name=NAME][,ro]",
	.open = mem_open,
	.close = mem_close,
	.submit = mem_submit,
	.resize = mem_resize,
};
