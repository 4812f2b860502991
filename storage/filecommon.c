/* Opening and probing a disk image file or block device, and plain I/O on it, for file and uring. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "filecommon.h"
#include "filelock.h"

#define PUNCH_MODE (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
#define GUEST_PAGE 4096u	/* a guest segment never crosses one */

/* Whether v is a power of two between lo and hi. */
static bool pow2_between(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v >= lo && v <= hi && !(v & (v - 1));
}

/* Whether the running kernel is at least major.minor. */
static bool kernel_at_least(unsigned int major_want, unsigned int minor_want)
{
	struct utsname u;
	unsigned int maj, min;

	if (uname(&u) || sscanf(u.release, "%u.%u", &maj, &min) != 2)
		return false;
	return maj > major_want || (maj == major_want && min >= minor_want);
}

/*
 * Read a number from /sys/dev/block/MAJ:MIN/NAME. A partition has no queue/
 * of its own: its disk's is one level up.
 */
static int sysfs_u64(dev_t dev, const char *name, uint64_t *v)
{
	static const char *const up[] = { "", "../" };
	char path[128];

	for (size_t i = 0; i < 2; i++) {
		FILE *f;
		int n;

		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s%s", major(dev), minor(dev),
			 up[i], name);
		f = fopen(path, "re");
		if (!f)
			continue;
		n = fscanf(f, "%" SCNu64, v);
		fclose(f);
		if (n == 1)
			return 0;
	}
	return -ENOENT;
}

/* Explain a failed open(2) of the disk, with what to do about it. */
static void open_error(const struct storage_spec *spec, int e, char *err, size_t errlen)
{
	const char *hint = "";
	char direct_hint[PATH_MAX + 96];	/* with the path, whole */

	switch (e) {
	case ENOENT:
		hint = "; check the path";
		break;
	case EACCES:
	case EPERM:
	case EROFS:
		if (!spec->readonly)
			hint = "; add ,ro to use it read-only, or give blkbackd write access";
		break;
	case EBUSY:
		hint = "; it is mounted or held by another program: unmount or release it first";
		break;
	case EISDIR:
		hint = "; give a disk image file or a block device";
		break;
	case EINVAL:
		if (spec->direct) {
			snprintf(direct_hint, sizeof(direct_hint), "; its filesystem refuses O_DIRECT: "
				 "use %s:%s without ,direct", spec->engine->name, spec->path);
			hint = direct_hint;
		}
		break;
	}
	snprintf(err, errlen, "cannot open %s%s: %s%s", spec->path,
		 spec->readonly ? " read-only" : "", strerror(e), hint);
}

/*
 * Whether fd's file lives on a file system that keeps it in memory (tmpfs, ramfs): reading
 * or writing it copies pages and never waits for a device. Such a file system refuses
 * RWF_NOWAIT (EOPNOTSUPP, still in Linux 6.18), so without this the file engine would send
 * every request to a worker and back.
 */
static bool on_memory_fs(int fd)
{
	struct statfs sf;

	return !fstatfs(fd, &sf) && (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC);
}

/* Size and caps of a regular file; discard is a hole punch where the filesystem has one. */
static int probe_file(struct file_target *t, struct storage *disk, const struct storage_spec *spec,
		      const struct stat *st, char *err, size_t errlen)
{
	uint64_t size = (uint64_t)st->st_size;
	uint32_t blksize = (uint32_t)st->st_blksize;

	if (!size) {
		snprintf(err, errlen, "%s is empty: give it a size first (e.g. truncate -s 1G %s)",
			 spec->path, spec->path);
		return -EINVAL;
	}
	if (size % 512) {
		snprintf(err, errlen, "%s is %" PRIu64 " bytes, not a whole number of 512-byte "
			 "sectors: resize it (truncate -s %" PRIu64 " %s rounds it up)", spec->path,
			 size, (size + 511) / 512 * 512, spec->path);
		return -EINVAL;
	}
	disk->size = size;
	t->in_memory = on_memory_fs(t->fd);
	disk->caps.flush = true;
	disk->caps.sector_size = 512;
	disk->caps.physical_sector_size = pow2_between(blksize, 512, 65536) ? blksize : 4096;
	/*
	 * Punching at the end of the file with KEEP_SIZE changes nothing, yet
	 * fails with EOPNOTSUPP where the filesystem cannot punch at all.
	 */
	if (!spec->readonly &&
	    !fallocate(t->fd, PUNCH_MODE, (off_t)size, disk->caps.physical_sector_size)) {
		disk->caps.discard = true;
		disk->caps.discard_zeroes = true;	/* a hole reads as zeroes */
		disk->caps.discard_granularity = disk->caps.physical_sector_size;
	}
	return 0;
}

/*
 * Size and caps of a block device. BLKDISCARD and BLKSECDISCARD check that
 * the device supports the operation (EOPNOTSUPP) before they look at the
 * range, so a range of one byte probes them harmlessly: EINVAL means
 * supported. Old kernels checked the range first, so sysfs must agree for
 * discard too; before Linux 5.19 BLKSECDISCARD did, and sysfs does not show
 * secure erase, so there secure discard is not offered.
 */
static int probe_blockdev(struct file_target *t, struct storage *disk,
			  const struct storage_spec *spec, const struct stat *st,
			  char *err, size_t errlen)
{
	uint64_t size, v, range[2] = { 0, 1 };
	unsigned int pbs;
	int lbs;

	t->blockdev = true;
	if (ioctl(t->fd, BLKGETSIZE64, &size) || ioctl(t->fd, BLKSSZGET, &lbs) ||
	    ioctl(t->fd, BLKPBSZGET, &pbs)) {
		int e = errno;

		snprintf(err, errlen, "cannot read the size of block device %s: %s",
			 spec->path, strerror(e));
		return -e;
	}
	if (!size) {
		snprintf(err, errlen, "block device %s has no size (an unattached loop device?)",
			 spec->path);
		return -EINVAL;
	}
	if (!pow2_between((uint64_t)lbs, 512, 65536) || size % (uint64_t)lbs) {
		snprintf(err, errlen, "block device %s reports a logical block size of %d bytes "
			 "and a size of %" PRIu64 " bytes: not usable", spec->path, lbs, size);
		return -EINVAL;
	}
	disk->size = size;
	disk->caps.flush = true;
	disk->caps.sector_size = (uint32_t)lbs;
	disk->caps.physical_sector_size = pbs > (unsigned int)lbs ? pbs : (uint32_t)lbs;
	if (spec->readonly)
		return 0;
	if (ioctl(t->fd, BLKDISCARD, range) && errno == EINVAL &&
	    (sysfs_u64(st->st_rdev, "queue/discard_max_bytes", &v) || v > 0)) {
		disk->caps.discard = true;
		/* What a discard leaves behind is up to the device: never promised as zeroes. */
		disk->caps.discard_zeroes = false;
		if (!sysfs_u64(st->st_rdev, "queue/discard_granularity", &v) &&
		    pow2_between(v, (uint64_t)lbs, 1u << 30))
			disk->caps.discard_granularity = (uint32_t)v;
		if (!sysfs_u64(st->st_rdev, "discard_alignment", &v) && v < (1u << 30))
			disk->caps.discard_alignment = (uint32_t)v;
		disk->caps.secure_discard = kernel_at_least(5, 19) &&
			ioctl(t->fd, BLKSECDISCARD, range) && errno == EINVAL;
	}
	return 0;
}

/*
 * The alignment O_DIRECT needs here becomes the logical sector size, so the
 * protocol engine rejects any request the kernel would. statx(STATX_DIOALIGN)
 * (Linux 6.1) says it; before that, the logical block size of the device that
 * holds the file is the usual answer.
 */
static int probe_direct(struct file_target *t, struct storage *disk,
			const struct storage_spec *spec, const struct stat *st,
			char *err, size_t errlen)
{
	struct statx stx;
	uint64_t align = 512, v;

	if (!statx(t->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) &&
	    (stx.stx_mask & STATX_DIOALIGN)) {
		if (!stx.stx_dio_offset_align) {
			snprintf(err, errlen, "%s does not support direct I/O: use %s:%s without "
				 ",direct", spec->path, spec->engine->name, spec->path);
			return -EINVAL;
		}
		align = stx.stx_dio_offset_align > stx.stx_dio_mem_align ?
			stx.stx_dio_offset_align : stx.stx_dio_mem_align;
	} else if (t->blockdev) {
		align = disk->caps.sector_size;
	} else if (!sysfs_u64(st->st_dev, "queue/logical_block_size", &v)) {
		align = v;
	}
	if (align < 512)
		align = 512;
	if (!pow2_between(align, 512, GUEST_PAGE) || disk->size % align) {
		snprintf(err, errlen, "%s needs direct I/O aligned to %" PRIu64 " bytes, but %s: "
			 "use %s:%s without ,direct", spec->path, align,
			 align > GUEST_PAGE ? "a guest's pages are 4096 bytes" :
			 "its size is not a multiple of that", spec->engine->name, spec->path);
		return -EINVAL;
	}
	if (align > disk->caps.sector_size)
		disk->caps.sector_size = (uint32_t)align;
	if (disk->caps.physical_sector_size < disk->caps.sector_size)
		disk->caps.physical_sector_size = disk->caps.sector_size;
	if (disk->caps.discard_granularity && disk->caps.discard_granularity < align)
		disk->caps.discard_granularity = (uint32_t)align;
	return 0;
}

/* Open spec->path as the spec asks and fill disk->size and disk->caps. */
int file_target_open(struct file_target *t, struct storage *disk, const struct storage_spec *spec,
		     char *err, size_t errlen)
{
	int flags = (spec->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (spec->direct ? O_DIRECT : 0);
	struct stat st;
	int ret;

	t->fd = -1;
	t->blockdev = false;
	t->direct = spec->direct;
	t->in_memory = false;
	t->path = strdup(spec->path);
	if (!t->path)
		return -ENOMEM;
	/*
	 * O_EXCL on a block device refuses one that is mounted or held by another
	 * exclusive opener (another guest's disk). Only a sole writer needs that.
	 */
	if (!spec->readonly && !spec->shared && !stat(spec->path, &st) && S_ISBLK(st.st_mode))
		flags |= O_EXCL;
	t->fd = open(spec->path, flags);
	if (t->fd < 0) {
		ret = -errno;
		open_error(spec, -ret, err, errlen);
		goto out;
	}
	if (fstat(t->fd, &st)) {
		ret = -errno;
		snprintf(err, errlen, "cannot stat %s: %s", spec->path, strerror(-ret));
		goto out;
	}
	/* A sole writer takes a write lock; a reader, or a writer that shares, a read lock. */
	if ((S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) &&
	    (ret = file_lock(t->fd, spec->path, !spec->readonly && !spec->shared, err, errlen)))
		goto out;
	if (S_ISREG(st.st_mode)) {
		ret = probe_file(t, disk, spec, &st, err, errlen);
	} else if (S_ISBLK(st.st_mode)) {
		ret = probe_blockdev(t, disk, spec, &st, err, errlen);
	} else {
		ret = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		snprintf(err, errlen, "%s is %s: give a disk image file or a block device",
			 spec->path, S_ISDIR(st.st_mode) ? "a directory" :
			 "neither a regular file nor a block device");
	}
	if (!ret && spec->direct)
		ret = probe_direct(t, disk, spec, &st, err, errlen);
out:
	if (ret)
		file_target_close(t);
	return ret;
}

/* Close the file or device; idempotent. */
void file_target_close(struct file_target *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	free(t->path);
	t->path = NULL;
}

/* Give the disk size bytes: truncate or extend a file; take a block device's new size. */
int file_target_resize(struct file_target *t, struct storage *disk, uint64_t size,
		       char *err, size_t errlen)
{
	uint64_t now;

	if (t->blockdev) {
		if (ioctl(t->fd, BLKGETSIZE64, &now)) {
			int e = errno;

			snprintf(err, errlen, "cannot read the size of block device %s: %s",
				 t->path, strerror(e));
			return -e;
		}
		if (now != size) {
			snprintf(err, errlen, "block device %s is %" PRIu64 " bytes: resize the "
				 "device itself (e.g. lvextend), then give its new size", t->path, now);
			return -EINVAL;
		}
	} else if (disk->readonly) {
		snprintf(err, errlen, "%s is open read-only: it cannot be resized", t->path);
		return -EROFS;
	} else if (ftruncate(t->fd, (off_t)size)) {
		int e = errno;

		snprintf(err, errlen, "cannot resize %s to %" PRIu64 " bytes: %s", t->path, size,
			 strerror(e));
		return -e;
	}
	disk->size = size;
	return 0;
}

/*
 * Read or write all of io->len, resuming after a short transfer: where one
 * ended inside an iovec, the rest of that iovec goes alone, then the
 * vector continues from the next one.
 */
static int64_t file_rw(int fd, const struct storage_io *io)
{
	bool rd = io->op == STORAGE_READ;
	uint64_t done = 0;
	size_t skip = 0;	/* bytes of iov[i] already transferred */
	int i = 0;

	while (done < io->len) {
		off_t off = (off_t)(io->offset + done);
		ssize_t n;

		if (skip) {
			char *p = (char *)io->iov[i].iov_base + skip;
			size_t len = io->iov[i].iov_len - skip;

			n = rd ? pread(fd, p, len, off) : pwrite(fd, p, len, off);
		} else {
			int cnt = io->iovcnt - i < IOV_MAX ? io->iovcnt - i : IOV_MAX;

			n = rd ? preadv(fd, io->iov + i, cnt, off) : pwritev(fd, io->iov + i, cnt, off);
		}
		if (n < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			return -e;
		}
		if (n == 0)
			return -EIO;	/* end of file inside the disk: it shrank under us */
		done += (uint64_t)n;
		skip += (size_t)n;
		while (i < io->iovcnt && skip >= io->iov[i].iov_len)
			skip -= io->iov[i++].iov_len;
	}
	return (int64_t)io->len;
}

/* Run one I/O to the end with plain system calls. */
int64_t file_target_run(const struct file_target *t, const struct storage_io *io)
{
	uint64_t range[2] = { io->offset, io->len };

	switch (io->op) {
	case STORAGE_READ:
	case STORAGE_WRITE:
		return file_rw(t->fd, io);
	case STORAGE_FLUSH:
		return fdatasync(t->fd) ? -errno : 0;
	case STORAGE_DISCARD:
		if (t->blockdev)
			return ioctl(t->fd, io->secure ? BLKSECDISCARD : BLKDISCARD, range) ?
			       -errno : (int64_t)io->len;
		return fallocate(t->fd, PUNCH_MODE, (off_t)io->offset, (off_t)io->len) ?
		       -errno : (int64_t)io->len;
	}
	return -EINVAL;
}

/* An engine's open: a file_target in disk->priv, opened from spec; freed on error. */
int file_target_attach(struct storage *disk, const struct storage_spec *spec, char *err,
		       size_t errlen)
{
	struct file_target *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	t->fd = -1;
	disk->priv = t;
	ret = file_target_open(t, disk, spec, err, errlen);
	if (ret)
		file_target_detach(disk);
	return ret;
}

/* An engine's close: close and free disk->priv's file_target. */
void file_target_detach(struct storage *disk)
{
	struct file_target *t = disk->priv;

	if (!t)
		return;
	file_target_close(t);
	free(t);
	disk->priv = NULL;
}
