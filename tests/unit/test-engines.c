/* Conformance test: every storage engine, driven like blkback/ring.c drives it, against a model. */
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <linux/seccomp.h>
#include <liburing.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine-harness.h"
#include "open-spec.h"

#define MiB (1024u * 1024u)
#define DISK_SIZE (8 * MiB)
#define ROUNDS 40		/* random batches per variant */
#define PATHLEN 1024		/* the scratch paths are short */

/* Never a real disk: a failed open must leave the caller's pointer at it. */
static struct storage sentinel;

/* The scratch directory and the files made in it, removed at exit. */
static char dir[512];
static char made[32][PATHLEN];
static int nmade;

/* One variant: a spec, what backs it, and what it should look like. */
struct variant {
	char name[48];
	char spec[PATHLEN + 64];
	char ro_spec[PATHLEN + 72];
	char image[PATHLEN];		/* the file holding the bytes; "" for mem */
	const char *dev;		/* the block device, or NULL */
	bool direct;
};

/* Remove the scratch files and directory. */
static void cleanup(void)
{
	while (nmade > 0)
		unlink(made[--nmade]);
	if (dir[0])
		rmdir(dir);
}

/* Make the scratch directory on a disk-backed filesystem (not a tmpfs /tmp). */
static int make_dir(void)
{
	const char *build = getenv("BLKBACK_BUILD");
	const char *bases[] = { "/var/tmp", build ? build : "build", "." };

	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		char *abs = realpath(bases[i], NULL);	/* specs need an absolute path */

		if (!abs)
			continue;
		snprintf(dir, sizeof(dir), "%s/blkback-engines.XXXXXX", abs);
		free(abs);
		if (mkdtemp(dir))
			return 0;
	}
	dir[0] = '\0';
	return -1;
}

/* Create dir/name with size bytes (sparse); remembered for cleanup. */
static int make_file(const char *name, uint64_t size, char *path, size_t len)
{
	int fd, ret;

	snprintf(path, len, "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(fd >= 0, "create %s: %s", path, strerror(errno));
	if (fd < 0)
		return -1;
	snprintf(made[nmade++], PATHLEN, "%s", path);
	ret = ftruncate(fd, (off_t)size);
	CHECK(ret == 0, "truncate %s: %s", path, strerror(errno));
	close(fd);
	return ret;
}

/* 512-byte blocks allocated to a file. */
static int64_t blocks_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (int64_t)st.st_blocks;
}

/* The O_DIRECT alignment of path as the kernel states it, else 512. */
static uint32_t dio_align(const char *path)
{
	struct statx stx;
	uint32_t a = 512;

	if (!statx(AT_FDCWD, path, 0, STATX_DIOALIGN, &stx) && (stx.stx_mask & STATX_DIOALIGN)) {
		a = stx.stx_dio_offset_align > a ? stx.stx_dio_offset_align : a;
		a = stx.stx_dio_mem_align > a ? stx.stx_dio_mem_align : a;
	}
	return a;
}

/* Whether a file can punch holes: a punch at its end with KEEP_SIZE changes nothing. */
static bool can_punch(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	bool ok = fd >= 0 && !fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					 DISK_SIZE, 4096);

	if (fd >= 0)
		close(fd);
	return ok;
}

/* A number from /sys/block/NAME/queue/ATTR of a /dev/NAME device; -1 if unreadable. */
static int64_t queue_attr(const char *dev, const char *attr)
{
	char path[256];
	long long v;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/sys/block/%s/queue/%s", strrchr(dev, '/') + 1, attr);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fscanf(f, "%lld", &v);
	fclose(f);
	return n == 1 ? v : -1;
}

/* Whether v is a power of two between lo and hi. */
static bool pow2_in(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v >= lo && v <= hi && !(v & (v - 1));
}

/* The size and caps are what this variant's file or device must give. */
static void check_caps(const struct variant *v, struct storage *disk, struct storage_queue *q)
{
	const struct storage_caps *c = &disk->caps;
	bool path = disk->ops->needs_path;

	CHECK_U64(disk->size, DISK_SIZE, "size as opened");
	CHECK(!disk->readonly, "%s: opened read-only", v->name);
	CHECK(pow2_in(c->sector_size, 512, H_PAGE), "%s: sector_size %u", v->name, c->sector_size);
	CHECK(pow2_in(c->physical_sector_size, c->sector_size, 65536),
	      "%s: physical_sector_size %u with sector_size %u", v->name,
	      c->physical_sector_size, c->sector_size);
	CHECK(disk->size % c->sector_size == 0, "%s: size not a multiple of the sector size", v->name);
	CHECK(c->discard || (!c->discard_zeroes && !c->secure_discard),
	      "%s: discard_zeroes or secure_discard without discard", v->name);
	CHECK(!c->discard_granularity || (pow2_in(c->discard_granularity, 512, 1u << 30) &&
					  c->discard_granularity % c->sector_size == 0),
	      "%s: discard_granularity %u", v->name, c->discard_granularity);
	if (!path)
		return;
	CHECK(c->flush, "%s: a file or device has a write cache to flush", v->name);
	{
		struct storage_poll sp;

		storage_poll(q, &sp);
		CHECK(disk->ops->reap && sp.fd >= 0 && sp.events == POLLIN,
		      "%s: no fd to poll readable, or no reap", v->name);
	}
	if (v->direct)
		CHECK_INT(c->sector_size, dio_align(v->dev ? v->dev : v->image),
			  "sector_size under O_DIRECT = the kernel's DIO alignment");
	else if (!v->dev)
		CHECK_INT(c->sector_size, 512, "sector_size of a regular file");
	if (v->dev) {
		int64_t lbs = queue_attr(v->dev, "logical_block_size");
		int64_t max = queue_attr(v->dev, "discard_max_bytes");

		if (!v->direct && lbs > 0)
			CHECK_INT(c->sector_size, lbs, "sector_size of a block device");
		/* The uring engine may lack the kernel's discard command: only file must offer it. */
		if (max >= 0)
			CHECK(disk->ops == &storage_uring_ops ? !c->discard || max > 0 :
			      c->discard == (max > 0), "%s: discard %d, discard_max_bytes %lld",
			      v->name, c->discard, (long long)max);
		CHECK(!c->discard_zeroes, "%s: a block device's discard promised zeroes", v->name);
	} else {
		bool punch = can_punch(v->image);

		CHECK(c->discard == punch, "%s: discard %d, but the filesystem %s punch holes",
		      v->name, c->discard, punch ? "can" : "cannot");
		CHECK(c->discard_zeroes == punch, "%s: a punched hole reads as zeroes", v->name);
		CHECK(!c->secure_discard, "%s: a file cannot erase securely", v->name);
	}
}

/*
 * Batches of random non-overlapping reads and writes, many in flight, against
 * the model. The last batch is deeper than an io_uring SQ, of smaller requests.
 */
static void random_rounds(struct h_disk *h)
{
	uint32_t ss = h->disk->caps.sector_size;

	for (int round = 0; round < ROUNDS; round++) {
		int n = round == ROUNDS - 1 ? H_SLOTS : H_BATCH;

		for (int i = 0; i < n; i++) {
			struct h_slot *s = &h->slot[i];
			uint64_t len = h_layout(h, s, n > H_BATCH ? 4 : H_SEGS), off = 0;
			bool clash = true;

			/* Round 0 touches the first and the last bytes of the disk. */
			for (int tries = 0; clash && tries < 1000; tries++) {
				if (round == 0 && i < 2)
					off = i ? h->model_size - len : 0;
				else
					off = ss * (h_rnd(&h->seed) % ((h->model_size - len) / ss + 1));
				clash = false;
				for (int j = 0; j < i && !clash; j++)
					clash = off < h->slot[j].io.offset + h->slot[j].io.len &&
						h->slot[j].io.offset < off + len;
			}
			CHECK(!clash, "%s: no free place for a request", h->name);
			s->io.offset = off;
			s->io.op = h_rnd(&h->seed) % 5 < 3 ? STORAGE_WRITE : STORAGE_READ;
			if (s->io.op == STORAGE_WRITE)
				h_fill(h, s);
			else
				memset(s->pages, 0x5a, H_SEGS * H_PAGE);
		}
		h_run(h, n);
		for (int i = 0; i < n; i++)
			if (h->slot[i].io.op == STORAGE_READ && !h_compare(h, &h->slot[i]))
				break;
	}
}

/*
 * Discard 1 MiB in four pieces in flight together: it reads back as zeroes
 * where the engine says so, and the blocks go back to the filesystem.
 */
static void test_discard(struct h_disk *h, const struct variant *v)
{
	const struct storage_caps *c = &h->disk->caps;
	uint64_t g = c->discard_granularity ? c->discard_granularity : c->sector_size;
	uint64_t piece = g > 256 * 1024 ? g : 256 * 1024, off = 2 * MiB, len = 4 * piece;
	int64_t before, after;

	if (!c->discard) {
		printf("%s: discard not offered: not tested\n", v->name);
		return;
	}
	off = (off + g - 1) / g * g;
	h_write(h, off, len);
	h_flush(h);
	before = v->image[0] ? blocks_of(v->image) : 0;
	for (int i = 0; i < 4; i++) {
		struct h_slot *s = &h->slot[i];

		s->io.op = STORAGE_DISCARD;
		s->io.offset = off + (uint64_t)i * piece;
		s->io.len = piece;
		s->io.iov = NULL;
		s->io.iovcnt = 0;
		s->io.secure = false;
	}
	h_run(h, 4);
	if (v->image[0]) {
		after = blocks_of(v->image);
		/* Allow for metadata: at least half the range must be freed. */
		CHECK(after >= 0 && after <= before - (int64_t)(len / 512 / 2),
		      "%s: %s kept its blocks: %" PRId64 " before discarding %" PRIu64 " bytes, "
		      "%" PRId64 " after", v->name, v->image, before, len, after);
	}
	if (c->discard_zeroes) {
		memset(h->model + off, 0, len);
		h_verify(h, off, len);
	} else {
		h_write(h, off, len);	/* unknown content: make it known again */
	}
}

/* Grow a file-backed disk (new space reads as zeroes), then shrink it back. */
static void test_resize(struct h_disk *h, const struct variant *v)
{
	struct storage *disk = h->disk;
	char err[512] = "";
	int ret;

	if (!disk->ops->resize)
		return;
	if (v->dev) {
		ret = disk->ops->resize(disk, DISK_SIZE + MiB, err, sizeof(err));
		CHECK(ret < 0 && strstr(err, v->dev), "%s: a block device grew by itself: %d '%s'",
		      v->name, ret, err);
		ret = disk->ops->resize(disk, DISK_SIZE, err, sizeof(err));
		CHECK(ret == 0, "%s: resize to the device's own size: %s", v->name, err);
		return;
	}
	ret = disk->ops->resize(disk, DISK_SIZE + MiB, err, sizeof(err));
	CHECK(ret == 0, "%s: grow: %s", v->name, err);
	CHECK_U64(disk->size, DISK_SIZE + MiB, "size after growing");
	if (v->image[0]) {
		struct stat st;

		CHECK(!stat(v->image, &st) && (uint64_t)st.st_size == DISK_SIZE + MiB,
		      "%s: %s did not grow", v->name, v->image);
	}
	if (!ret) {
		struct h_slot *s = &h->slot[0];

		s->io.op = STORAGE_READ;
		s->io.offset = DISK_SIZE + MiB - 8192;
		h_layout_pages(s, 8192);
		memset(s->pages, 0xee, 8192);
		h_run(h, 1);
		CHECK(s->pages[0] == 0 && !memcmp(s->pages, s->pages + 1, 8191),
		      "%s: grown space does not read as zeroes", v->name);
	}
	ret = disk->ops->resize(disk, DISK_SIZE, err, sizeof(err));
	CHECK(ret == 0, "%s: shrink: %s", v->name, err);
	CHECK_U64(disk->size, DISK_SIZE, "size after shrinking back");
}

/*
 * A file that shrinks under the engine makes a read end early, inside one of
 * its iovecs: the engine must report an error, never the full length.
 */
static void test_short_read(struct h_disk *h, const struct variant *v)
{
	const uint64_t cut = 1536;	/* EOF lands 512 bytes into the third iovec */
	struct h_slot *s = &h->slot[0];
	int ret;

	if (!v->image[0] || v->dev)
		return;
	ret = truncate(v->image, DISK_SIZE - cut);
	CHECK(ret == 0, "truncate %s: %s", v->image, strerror(errno));
	if (ret)
		return;
	s->io.op = STORAGE_READ;
	s->io.offset = DISK_SIZE - 8192;
	h_layout_pages(s, 8192);
	s->iov[1].iov_len = 2048;
	s->iov[2] = (struct iovec){ s->pages + 2 * H_PAGE, 2048 };
	s->io.iovcnt = 3;
	s->want_error = true;
	h_run(h, 1);
	s->want_error = false;
	ret = truncate(v->image, DISK_SIZE);
	CHECK(ret == 0, "truncate %s: %s", v->image, strerror(errno));
	memset(h->model + DISK_SIZE - cut, 0, cut);
}

/* Run every check on one variant; returns the I/O count. */
static uint64_t run_variant(const struct variant *v)
{
	struct h_disk h;
	char err[512] = "";
	uint64_t total = 0;
	int ret;

	if (h_init(&h, v->name, DISK_SIZE, 0x9e3779b97f4a7c15ull ^ (uint64_t)strlen(v->spec))) {
		CHECK(0, "%s: out of memory", v->name);
		goto out;
	}
	ret = open_spec(v->spec, &h.disk, err, sizeof(err));
	CHECK(ret == 0, "open '%s': %d: %s", v->spec, ret, err);
	if (ret)
		goto out;
	ret = storage_queue_open(h.disk, &h.q);
	CHECK(ret == 0, "%s: storage_queue_open: %s", v->name, strerror(-ret));
	if (ret) {
		storage_close(h.disk);
		goto out;
	}
	check_caps(v, h.disk, h.q);
	random_rounds(&h);
	h_flush(&h);
	test_discard(&h, v);
	test_resize(&h, v);
	test_short_read(&h, v);
	h_two_queues(&h);
	h_verify(&h, 0, DISK_SIZE);
	h_flush(&h);
	printf("%s: sector %u, physical %u, flush %d, discard %d (zeroes %d, secure %d, "
	       "granularity %u)\n", v->name, h.disk->caps.sector_size,
	       h.disk->caps.physical_sector_size, h.disk->caps.flush, h.disk->caps.discard,
	       h.disk->caps.discard_zeroes, h.disk->caps.secure_discard,
	       h.disk->caps.discard_granularity);
	storage_queue_close(h.q);
	storage_close(h.disk);

	/* What was written is in the file; a read-only open reads it. */
	h.disk = NULL;
	h.q = NULL;
	ret = open_spec(v->ro_spec, &h.disk, err, sizeof(err));
	CHECK(ret == 0, "open '%s': %d: %s", v->ro_spec, ret, err);
	if (ret)
		goto out;
	CHECK(h.disk->readonly, "%s: ',ro' gave a writable disk", v->name);
	CHECK_U64(h.disk->size, DISK_SIZE, "size reopened read-only");
	ret = storage_queue_open(h.disk, &h.q);
	CHECK(ret == 0, "%s: storage_queue_open read-only: %s", v->name, strerror(-ret));
	if (!ret)
		h_verify(&h, 0, DISK_SIZE);
	storage_queue_close(h.q);
	storage_close(h.disk);
out:
	for (int i = 0; i < 4; i++)
		total += h.nr[i];
	printf("%s: %" PRIu64 " I/Os (%" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64
	       " flushes, %" PRIu64 " discards)\n", v->name, total, h.nr[STORAGE_READ],
	       h.nr[STORAGE_WRITE], h.nr[STORAGE_FLUSH], h.nr[STORAGE_DISCARD]);
	h_free(&h);
	return total;
}

/* Fill in a file-engine variant over path. */
static void set_variant(struct variant *v, const char *engine, const char *path, bool direct,
			const char *dev)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s%s%s", engine, dev ? " on a loop device" : "",
		 direct ? ",direct" : "");
	snprintf(v->spec, sizeof(v->spec), "%s:%s%s", engine, dev ? dev : path,
		 direct ? ",direct" : "");
	snprintf(v->ro_spec, sizeof(v->ro_spec), "%s,ro", v->spec);
	snprintf(v->image, sizeof(v->image), "%s", path);
	v->dev = dev;
	v->direct = direct;
}

/* A spec that parses must fail to open, leave the pointer alone and name the path. */
static void expect_refused(const char *spec, const char *word, const char *word2)
{
	struct storage *disk = &sentinel;
	char err[512] = "stale";
	int ret = open_spec(spec, &disk, err, sizeof(err));

	CHECK(ret < 0, "'%s' opened", spec);
	CHECK(disk == &sentinel, "'%s': disk pointer written by a failed open", spec);
	CHECK(strstr(err, word) != NULL, "'%s': message '%s' does not mention '%s'", spec, err, word);
	CHECK(!word2 || strstr(err, word2), "'%s': message '%s' does not mention '%s'", spec, err,
	      word2);
	if (!ret)
		storage_close(disk);
}

/* Files that are no disk are refused with a message naming them. */
static void test_open_errors(const char *engine)
{
	char spec[PATHLEN + 64], path[PATHLEN];

	snprintf(path, sizeof(path), "%s/missing.img", dir);
	snprintf(spec, sizeof(spec), "%s:%s", engine, path);
	expect_refused(spec, path, "No such file");
	snprintf(spec, sizeof(spec), "%s:%s", engine, dir);
	expect_refused(spec, dir, "directory");
	snprintf(spec, sizeof(spec), "%s:%s,ro", engine, dir);
	expect_refused(spec, dir, "directory");
	snprintf(spec, sizeof(spec), "%s:/dev/null", engine);
	expect_refused(spec, "/dev/null", "block device");
	snprintf(path, sizeof(path), "%s/%s-odd.img", dir, engine);
	if (access(path, F_OK))
		make_file(strrchr(path, '/') + 1, 1000, path, sizeof(path));
	snprintf(spec, sizeof(spec), "%s:%s", engine, path);
	expect_refused(spec, path, "512");
	snprintf(path, sizeof(path), "%s/%s-empty.img", dir, engine);
	if (access(path, F_OK))
		make_file(strrchr(path, '/') + 1, 0, path, sizeof(path));
	snprintf(spec, sizeof(spec), "%s:%s", engine, path);
	expect_refused(spec, path, "empty");
}

/* The engine table knows file and uring; a name it does not know is refused. */
static void test_engine_table(void)
{
	struct storage_spec spec;
	char err[512] = "";
	int ret;

	CHECK(storage_engine("file") == &storage_file_ops, "storage_engine(\"file\")");
	CHECK(storage_engine("uring") == &storage_uring_ops, "storage_engine(\"uring\")");
	CHECK(storage_file_ops.needs_path && storage_uring_ops.needs_path, "needs_path");
	ret = storage_spec_parse("nosuch:/srv/disk.img", &spec, err, sizeof(err));
	CHECK_INT(ret, -EINVAL, "unknown engine");
	CHECK(strstr(err, "nosuch") && strstr(err, "file:PATH") && strstr(err, "uring:PATH"),
	      "unknown-engine message '%s' does not name it and list file and uring", err);
	if (!ret)
		storage_spec_free(&spec);
	ret = storage_spec_parse("file:disk.img", &spec, err, sizeof(err));
	CHECK_INT(ret, -EINVAL, "relative path");
	if (!ret)
		storage_spec_free(&spec);
}

/*
 * Open spec in a child whose seccomp filter fails system call nr with errno
 * e when its third argument has every bit of mask (mask 0: always), the way
 * a container runtime or a filesystem would refuse it. The open must fail
 * with -e and a message holding w1 and w2.
 */
static void open_refused(const char *spec, int nr, uint32_t mask, int e, const char *w1,
			 const char *w2)
{
#if defined(__x86_64__) || defined(__aarch64__)
#ifdef __x86_64__
	const uint32_t arch = AUDIT_ARCH_X86_64;
#else
	const uint32_t arch = AUDIT_ARCH_AARCH64;
#endif
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 4),
		/* The low half of the third argument: both architectures are little-endian. */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, mask),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, mask, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (uint32_t)e),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(insns) / sizeof(insns[0]), .filter = insns };
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct storage *disk = &sentinel;
		char err[512] = "";
		int ret;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			_exit(77);
		ret = open_spec(spec, &disk, err, sizeof(err));
		printf("%s, refused by seccomp: %d: %s\n", spec, ret, err);
		fflush(stdout);
		_exit(ret == -e && disk == &sentinel && strstr(err, w1) && strstr(err, w2) ? 0 : 1);
	}
	CHECK(pid > 0, "fork: %s", strerror(errno));
	if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 77) {
		printf("note: cannot install a seccomp filter here: '%s' refused not checked\n", spec);
		return;
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s refused with %s: want -%d and a "
	      "message with '%s' and '%s' (status %d)", spec, strerror(e), e, w1, w2, status);
#else
	(void)nr, (void)mask, (void)e, (void)w1, (void)w2;
	printf("note: no seccomp filter for this architecture: '%s' refused not checked\n", spec);
#endif
}

/* Where the kernel refuses io_uring or the filesystem O_DIRECT, open says so and what to use. */
static void test_refusals(const char *image, bool uring)
{
	char spec[PATHLEN + 64], want[PATHLEN + 64];

	for (int e = 0; e < 2; e++) {
		const char *engine = e ? "uring" : "file";

		if (e && !uring)
			continue;
		snprintf(spec, sizeof(spec), "%s:%s,direct", engine, image);
		snprintf(want, sizeof(want), "%s:%s without ,direct", engine, image);
		open_refused(spec, __NR_openat, O_DIRECT, EINVAL, "O_DIRECT", want);
	}
#ifdef __NR_io_uring_setup
	if (uring) {
		snprintf(spec, sizeof(spec), "uring:%s", image);
		snprintf(want, sizeof(want), "use file:%s instead", image);
		open_refused(spec, __NR_io_uring_setup, 0, EPERM, "io_uring", want);
	}
#endif
}

/* Attach a loop device to image; returns its fd (name in dev) or -1 with the reason in why. */
static int loop_attach(const char *image, char *dev, size_t devlen, char *why, size_t whylen)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC), back = -1, lfd = -1;
	struct loop_info64 info;

	if (ctl < 0) {
		snprintf(why, whylen, "cannot open /dev/loop-control: %s", strerror(errno));
		goto out;
	}
	back = open(image, O_RDWR | O_CLOEXEC);
	for (int tries = 0; back >= 0 && lfd < 0 && tries < 8; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (n < 0) {
			snprintf(why, whylen, "LOOP_CTL_GET_FREE: %s", strerror(errno));
			break;
		}
		snprintf(dev, devlen, "/dev/loop%d", n);
		lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0) {
			snprintf(why, whylen, "cannot open %s: %s", dev, strerror(errno));
			break;
		}
		if (ioctl(lfd, LOOP_SET_FD, back)) {
			int e = errno;

			close(lfd);
			lfd = -1;
			snprintf(why, whylen, "LOOP_SET_FD on %s: %s", dev, strerror(e));
			if (e != EBUSY)		/* EBUSY: someone else took it first */
				break;
		}
	}
	if (lfd >= 0) {
		/* Detach by itself when the last user closes it, even if this test dies. */
		memset(&info, 0, sizeof(info));
		info.lo_flags = LO_FLAGS_AUTOCLEAR;
		if (ioctl(lfd, LOOP_SET_STATUS64, &info))
			printf("note: %s: LOOP_SET_STATUS64: %s\n", dev, strerror(errno));
	}
out:
	if (back >= 0)
		close(back);
	if (ctl >= 0)
		close(ctl);
	return lfd;
}

/* Whether this directory's filesystem takes O_DIRECT; the reason in why if not. */
static bool direct_ok(char *why, size_t whylen)
{
	char path[PATHLEN];
	int fd;

	if (make_file("direct-probe.img", 4096, path, sizeof(path)))
		return false;
	fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "the filesystem of %s refuses O_DIRECT: %s", dir,
			 strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

/* Whether this machine has io_uring at all; the reason in why if not. */
static bool uring_ok(char *why, size_t whylen)
{
	struct io_uring ring;
	int ret = io_uring_queue_init(4, &ring, 0);

	if (ret) {
		snprintf(why, whylen, "io_uring_queue_init: %s", strerror(-ret));
		return false;
	}
	io_uring_queue_exit(&ring);
	return true;
}

/* The file and uring engines over regular files, with and without O_DIRECT. */
static uint64_t file_variants(bool direct, bool uring)
{
	static const char *const engines[] = { "file", "uring" };
	uint64_t total = 0;

	for (int e = 0; e < 2; e++) {
		if (e == 1 && !uring)
			continue;
		for (int d = 0; d < 2; d++) {
			struct variant v;
			char name[32], path[PATHLEN];

			if (d && !direct)
				continue;
			snprintf(name, sizeof(name), "%s%s.img", engines[e], d ? "-direct" : "");
			if (make_file(name, DISK_SIZE, path, sizeof(path)))
				continue;
			set_variant(&v, engines[e], path, d, NULL);
			total += run_variant(&v);
		}
	}
	return total;
}

/* The same over loop devices, where this machine lets us make them. */
static uint64_t loop_variants(bool direct, bool uring)
{
	static const char *const engines[] = { "file", "uring" };
	uint64_t total = 0;

	for (int e = 0; e < 2; e++) {
		for (int d = 0; d < 2; d++) {
			struct variant v;
			char name[32], path[PATHLEN], dev[64], why[256] = "";
			int lfd;

			if ((e == 1 && !uring) || (d && !direct))
				continue;
			snprintf(name, sizeof(name), "loop-%s%s.img", engines[e], d ? "-direct" : "");
			if (make_file(name, DISK_SIZE, path, sizeof(path)))
				continue;
			lfd = loop_attach(path, dev, sizeof(dev), why, sizeof(why));
			if (lfd < 0) {
				printf("SKIP loop device variants: %s\n", why);
				return total;
			}
			set_variant(&v, engines[e], path, d, dev);
			total += run_variant(&v);
			if (ioctl(lfd, LOOP_CLR_FD, 0))
				printf("note: %s: LOOP_CLR_FD: %s\n", dev, strerror(errno));
			close(lfd);
		}
	}
	return total;
}

/* Run every variant. */
int main(void)
{
	struct variant mem;
	char why_direct[PATHLEN + 64] = "", why_uring[128] = "", image[PATHLEN];
	bool direct, uring;
	uint64_t total = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (make_dir()) {
		printf("cannot make a scratch directory under /var/tmp, the build directory or .\n");
		return 1;
	}
	atexit(cleanup);
	direct = direct_ok(why_direct, sizeof(why_direct));
	uring = uring_ok(why_uring, sizeof(why_uring));
	if (!direct)
		printf("SKIP the ,direct variants: %s\n", why_direct);
	if (!uring)
		printf("SKIP the uring variants: this machine has no io_uring (%s)\n", why_uring);

	test_engine_table();
	test_open_errors("file");
	test_open_errors("uring");
	if (!make_file("refused.img", DISK_SIZE, image, sizeof(image)))
		test_refusals(image, uring);

	memset(&mem, 0, sizeof(mem));
	snprintf(mem.name, sizeof(mem.name), "mem");
	snprintf(mem.spec, sizeof(mem.spec), "mem:size=%u,name=test-engines", DISK_SIZE);
	snprintf(mem.ro_spec, sizeof(mem.ro_spec), "mem:name=test-engines,ro");
	total += run_variant(&mem);
	total += file_variants(direct, uring);
	total += loop_variants(direct, uring);
	printf("all variants: %" PRIu64 " I/Os\n", total);
	return check_done("test-engines");
}
