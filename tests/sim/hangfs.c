// hangfs: a passthrough FUSE file system whose requests can be held inside the kernel.
//
//   hangfs --backing DIR --control FIFO --events FILE [--debug] MOUNTPOINT
//
// Mirrors the regular files directly in DIR at MOUNTPOINT. Lines written to FIFO say which
// operations to hold ("hang OP", "release OP", "release all"); a held request waits in hangfs
// before it touches DIR, so the process that made the system call waits inside the kernel, as
// on hung storage. FILE gets "ready" once mounted, "held OP /name" for each request held,
// "done OP /name RESULT" once a held request has been let go and has finished, and
// "cmd LINE" (or "bad LINE") once a control line has taken effect. Every read and write
// reaches hangfs (direct_io); requests run on many threads, so a held one blocks only itself.
// SIGTERM or SIGINT lets everything held go on and unmounts. See tests/sim/lib-hangfs.sh.
#define FUSE_USE_VERSION 312
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum op { OP_OPEN, OP_CREATE, OP_READ, OP_WRITE, OP_FSYNC, OP_FLUSH, OP_RELEASE, OP_TRUNCATE,
	  OP_FALLOCATE, OP_COUNT };
static const char *const op_names[OP_COUNT] = {
	"open", "create", "read", "write", "fsync", "flush", "release", "truncate", "fallocate",
};

// The hold state of one operation. Held requests take tickets 1, 2, ... in arrival order;
// those up to `released` may go on, each once the one before it has started (oldest first).
struct op_state {
	bool hang;
	unsigned long issued;
	unsigned long released;
	unsigned long started;
};

static struct {
	int dirfd;
	int evfd;
	int ctlfd;
	const char *mnt;
	struct fuse *fuse;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	struct op_state ops[OP_COUNT];
} hs = { .dirfd = -1, .evfd = -1, .ctlfd = -1, .lock = PTHREAD_MUTEX_INITIALIZER,
	 .cond = PTHREAD_COND_INITIALIZER };

// Append one line to the events file in a single write(2).
static void event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void event(const char *fmt, ...)
{
	char line[4200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(hs.evfd, line, n) != n)
		fprintf(stderr, "hangfs: cannot append to the events file: %s\n", strerror(errno));
}

// Has the FUSE session ended (unmounted, or the connection aborted)?
static bool session_gone(void)
{
	return hs.fuse && fuse_session_exited(fuse_get_session(hs.fuse));
}

// Hold the request if its operation hangs. Returns 0 when not held, 1 when held and now let
// go, -ENOTCONN when the session ended while held (the kernel has already failed it).
static int hold(enum op op, const char *path)
{
	struct op_state *s = &hs.ops[op];
	unsigned long ticket;
	int ret = 1;

	pthread_mutex_lock(&hs.lock);
	if (!s->hang || hs.stopping) {
		pthread_mutex_unlock(&hs.lock);
		return 0;
	}
	ticket = ++s->issued;
	event("held %s %s", op_names[op], path);
	while (s->released < ticket || s->started != ticket - 1) {
		struct timespec until;

		if (s->released < ticket && session_gone()) {
			ret = -ENOTCONN;
			if (s->started == ticket - 1)
				break;
		}
		// Timed, to notice a session that ends while nothing is released.
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 200 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&hs.cond, &hs.lock, &until);
	}
	s->started = ticket;
	pthread_cond_broadcast(&hs.cond);
	pthread_mutex_unlock(&hs.lock);
	return ret;
}

// Finish a request: log "done" if it was held. Returns res.
static int finish(int held, enum op op, const char *path, int res)
{
	if (held)
		event("done %s %s %d", op_names[op], path, res);
	return res;
}

// Let every held request of op go on (all operations when op is OP_COUNT). Takes the lock.
static void release(enum op op, bool stop_hanging)
{
	pthread_mutex_lock(&hs.lock);
	for (int i = 0; i < OP_COUNT; i++) {
		if (op != OP_COUNT && i != (int)op)
			continue;
		if (stop_hanging)
			hs.ops[i].hang = false;
		hs.ops[i].released = hs.ops[i].issued;
	}
	pthread_cond_broadcast(&hs.cond);
	pthread_mutex_unlock(&hs.lock);
}

// The name in DIR of a path under the mountpoint, or NULL if it is not directly in it.
static const char *backing_name(const char *path)
{
	if (path[0] != '/' || path[1] == '\0' || strchr(path + 1, '/'))
		return NULL;
	return path + 1;
}

// 0, or -errno when the call that returned res failed.
static int result(long res)
{
	return res < 0 ? -errno : 0;
}

// Mount-time settings: no caching, every read and write reaches hangfs.
static void *hfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	// The test changes DIR behind the kernel's back: cache nothing.
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	cfg->hard_remove = 1;
	cfg->nullpath_ok = 0;
	return NULL;
}

// stat(2): the backing directory for "/", else a regular file in it.
static int hfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	const char *name = backing_name(path);
	int res;

	if (strcmp(path, "/") == 0)
		return fstat(hs.dirfd, st) < 0 ? -errno : 0;
	if (fi)
		res = fstat(fi->fh, st);
	else if (!name)
		return -ENOENT;
	else
		res = fstatat(hs.dirfd, name, st, AT_SYMLINK_NOFOLLOW);
	if (res < 0)
		return -errno;
	return S_ISREG(st->st_mode) ? 0 : -ENOENT;
}

// The regular files in the backing directory.
static int hfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct dirent *de;
	DIR *d;
	int fd;

	(void)off, (void)fi, (void)flags;
	if (strcmp(path, "/") != 0)
		return -ENOTDIR;
	fd = openat(hs.dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		int err = -errno;

		close(fd);
		return err;
	}
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	while ((de = readdir(d))) {
		struct stat st;

		if (fstatat(hs.dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			fill(buf, de->d_name, NULL, 0, 0);
	}
	closedir(d);
	return 0;
}

// The flags to open the backing file with: no O_DIRECT (the FUSE layer's buffers need not be
// aligned), never through a symlink.
static int backing_flags(int flags)
{
	return (flags & ~(O_DIRECT | O_NOCTTY)) | O_NOFOLLOW | O_CLOEXEC;
}

// open(2) of an existing file (holdable: open).
static int hfs_open(const char *path, struct fuse_file_info *fi)
{
	const char *name = backing_name(path);
	int held = hold(OP_OPEN, path), fd;

	if (held < 0)
		return finish(1, OP_OPEN, path, held);
	if (!name)
		return finish(held, OP_OPEN, path, -ENOENT);
	fd = openat(hs.dirfd, name, backing_flags(fi->flags) & ~(O_CREAT | O_EXCL));
	if (fd < 0)
		return finish(held, OP_OPEN, path, -errno);
	fi->fh = fd;
	fi->direct_io = 1;
	return finish(held, OP_OPEN, path, 0);
}

// open(2) with O_CREAT of a file that does not exist yet (holdable: create).
static int hfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	const char *name = backing_name(path);
	int held = hold(OP_CREATE, path), fd;

	if (held < 0)
		return finish(1, OP_CREATE, path, held);
	if (!name)
		return finish(held, OP_CREATE, path, -EINVAL);
	fd = openat(hs.dirfd, name, backing_flags(fi->flags) | O_CREAT, mode);
	if (fd < 0)
		return finish(held, OP_CREATE, path, -errno);
	fi->fh = fd;
	fi->direct_io = 1;
	return finish(held, OP_CREATE, path, 0);
}

// read(2) and pread(2) (holdable: read).
static int hfs_read(const char *path, char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	int held = hold(OP_READ, path);
	ssize_t n;

	if (held < 0)
		return finish(1, OP_READ, path, held);
	n = pread(fi->fh, buf, size, off);
	return finish(held, OP_READ, path, n < 0 ? -errno : (int)n);
}

// write(2) and pwrite(2) (holdable: write).
static int hfs_write(const char *path, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	int held = hold(OP_WRITE, path);
	ssize_t n;

	if (held < 0)
		return finish(1, OP_WRITE, path, held);
	n = pwrite(fi->fh, buf, size, off);
	return finish(held, OP_WRITE, path, n < 0 ? -errno : (int)n);
}

// fsync(2) and fdatasync(2) (holdable: fsync).
static int hfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	int held = hold(OP_FSYNC, path);

	if (held < 0)
		return finish(1, OP_FSYNC, path, held);
	return finish(held, OP_FSYNC, path,
		      result(datasync ? fdatasync(fi->fh) : fsync(fi->fh)));
}

// Each close(2) of a file descriptor (holdable: flush).
static int hfs_flush(const char *path, struct fuse_file_info *fi)
{
	int held = hold(OP_FLUSH, path), fd;

	if (held < 0)
		return finish(1, OP_FLUSH, path, held);
	// Closing a duplicate reports what close(2) of the backing file would.
	fd = dup(fi->fh);
	if (fd < 0)
		return finish(held, OP_FLUSH, path, -errno);
	return finish(held, OP_FLUSH, path, result(close(fd)));
}

// The last close of an open file; the kernel does not make close(2) wait for it (holdable:
// release).
static int hfs_release(const char *path, struct fuse_file_info *fi)
{
	int held = hold(OP_RELEASE, path);

	close(fi->fh);
	return finish(held != 0, OP_RELEASE, path, 0);
}

// truncate(2), ftruncate(2) and open's O_TRUNC (holdable: truncate).
static int hfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	const char *name = backing_name(path);
	int held = hold(OP_TRUNCATE, path), fd, res;

	if (held < 0)
		return finish(1, OP_TRUNCATE, path, held);
	if (fi)
		return finish(held, OP_TRUNCATE, path, result(ftruncate(fi->fh, size)));
	if (!name)
		return finish(held, OP_TRUNCATE, path, -ENOENT);
	fd = openat(hs.dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return finish(held, OP_TRUNCATE, path, -errno);
	res = result(ftruncate(fd, size));
	close(fd);
	return finish(held, OP_TRUNCATE, path, res);
}

// fallocate(2), any mode the backing file system takes (holdable: fallocate).
static int hfs_fallocate(const char *path, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	int held = hold(OP_FALLOCATE, path);

	if (held < 0)
		return finish(1, OP_FALLOCATE, path, held);
	return finish(held, OP_FALLOCATE, path, result(fallocate(fi->fh, mode, off, len)));
}

// unlink(2).
static int hfs_unlink(const char *path)
{
	const char *name = backing_name(path);

	if (!name)
		return -ENOENT;
	return result(unlinkat(hs.dirfd, name, 0));
}

// statfs(2): the backing file system's.
static int hfs_statfs(const char *path, struct statvfs *st)
{
	(void)path;
	return result(fstatvfs(hs.dirfd, st));
}

// utimensat(2) and futimens(2), for touch.
static int hfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	const char *name = backing_name(path);

	if (fi)
		return result(futimens(fi->fh, tv));
	if (!name)
		return -ENOENT;
	return result(utimensat(hs.dirfd, name, tv, AT_SYMLINK_NOFOLLOW));
}

// chmod(2).
static int hfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	const char *name = backing_name(path);

	if (fi)
		return result(fchmod(fi->fh, mode));
	if (!name)
		return -ENOENT;
	return result(fchmodat(hs.dirfd, name, mode, 0));
}

static const struct fuse_operations hfs_ops = {
	.init = hfs_init,
	.getattr = hfs_getattr,
	.readdir = hfs_readdir,
	.open = hfs_open,
	.create = hfs_create,
	.read = hfs_read,
	.write = hfs_write,
	.fsync = hfs_fsync,
	.flush = hfs_flush,
	.release = hfs_release,
	.truncate = hfs_truncate,
	.fallocate = hfs_fallocate,
	.unlink = hfs_unlink,
	.statfs = hfs_statfs,
	.utimens = hfs_utimens,
	.chmod = hfs_chmod,
};

// The operation named name, OP_COUNT for "all" (when allowed), or -1.
static int parse_op(const char *name, bool all_ok)
{
	if (all_ok && strcmp(name, "all") == 0)
		return OP_COUNT;
	for (int i = 0; i < OP_COUNT; i++)
		if (strcmp(name, op_names[i]) == 0)
			return i;
	return -1;
}

// Carry out one control line; log "cmd LINE" once it has taken effect, "bad LINE" if not.
static void control_line(char *line)
{
	char verb[16], arg[16], extra;
	int op;

	if (line[0] == '\0')
		return;
	if (sscanf(line, "%15s %15s %c", verb, arg, &extra) != 2)
		goto bad;
	if (strcmp(verb, "hang") == 0 && (op = parse_op(arg, false)) >= 0) {
		pthread_mutex_lock(&hs.lock);
		hs.ops[op].hang = true;
		pthread_mutex_unlock(&hs.lock);
	} else if (strcmp(verb, "release") == 0 && (op = parse_op(arg, true)) >= 0) {
		release(op, true);
	} else {
		goto bad;
	}
	event("cmd %s", line);
	return;
bad:
	fprintf(stderr, "hangfs: unknown control command '%s' (hang OP, release OP, release all;"
		" OP is open, create, read, write, fsync, flush, release, truncate or fallocate)\n",
		line);
	event("bad %s", line);
}

// The control thread: read command lines from the FIFO for ever.
static void *control_thread(void *arg)
{
	char buf[512];
	size_t len = 0;

	(void)arg;
	for (;;) {
		ssize_t n = read(hs.ctlfd, buf + len, sizeof(buf) - 1 - len);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "hangfs: reading the control FIFO failed: %s\n",
				n < 0 ? strerror(errno) : "end of file");
			return NULL;
		}
		len += n;
		buf[len] = '\0';
		while ((nl = strchr(buf, '\n'))) {
			*nl = '\0';
			control_line(buf);
			len -= nl + 1 - buf;
			memmove(buf, nl + 1, len + 1);
		}
		if (len == sizeof(buf) - 1) {
			fprintf(stderr, "hangfs: control line too long, dropped\n");
			len = 0;
		}
	}
}

// Unmount lazily: the loop ends once the last open file on the mount is closed.
static void unmount_lazily(void)
{
	pid_t pid;

	if (umount2(hs.mnt, MNT_DETACH) == 0 || errno == EINVAL)
		return;
	// Not root: fusermount3 can.
	pid = fork();
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", hs.mnt, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

// The signal thread: on SIGTERM, SIGINT or SIGHUP let everything held go on and unmount
// lazily; the loop ends once the last file open on the mount is closed, so the requests let go
// finish normally. A second signal exits at once (the kernel then fails what is left).
static void *signal_thread(void *arg)
{
	sigset_t *set = arg;
	int sig;

	while (sigwait(set, &sig) != 0)
		;
	pthread_mutex_lock(&hs.lock);
	hs.stopping = true;
	pthread_mutex_unlock(&hs.lock);
	release(OP_COUNT, true);
	unmount_lazily();
	while (sigwait(set, &sig) != 0)
		;
	fprintf(stderr, "hangfs: second signal %d, exiting with files still open on %s\n", sig,
		hs.mnt);
	_exit(1);
}

// Print how to call hangfs.
static void usage(void)
{
	fprintf(stderr, "usage: hangfs --backing DIR --control FIFO --events FILE [--debug] "
		"MOUNTPOINT\n");
}

// Parse the options, open the control FIFO and events file, mount, serve until unmounted.
int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "backing", required_argument, NULL, 'b' },
		{ "control", required_argument, NULL, 'c' },
		{ "events", required_argument, NULL, 'e' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *backing = NULL, *control = NULL, *events = NULL;
	char mount_opts[64];
	bool debug = false, mounted = false;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *cfg = NULL;
	pthread_t tid;
	sigset_t sigs;
	struct stat st;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "dh", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': backing = optarg; break;
		case 'c': control = optarg; break;
		case 'e': events = optarg; break;
		case 'd': debug = true; break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (!backing || !control || !events || optind != argc - 1) {
		usage();
		return 2;
	}
	hs.mnt = argv[optind];

	hs.dirfd = open(backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (hs.dirfd < 0) {
		fprintf(stderr, "hangfs: cannot open the backing directory %s: %s\n", backing,
			strerror(errno));
		goto out;
	}
	if (mkfifo(control, 0600) < 0 && errno != EEXIST) {
		fprintf(stderr, "hangfs: cannot create the control FIFO %s: %s\n", control,
			strerror(errno));
		goto out;
	}
	// Read and write: the FIFO never reports end of file when a writer closes it.
	hs.ctlfd = open(control, O_RDWR | O_CLOEXEC);
	if (hs.ctlfd < 0 || fstat(hs.ctlfd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		fprintf(stderr, "hangfs: cannot open the control FIFO %s: %s\n", control,
			hs.ctlfd < 0 ? strerror(errno) : "not a FIFO");
		goto out;
	}
	hs.evfd = open(events, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (hs.evfd < 0) {
		fprintf(stderr, "hangfs: cannot open the events file %s: %s\n", events,
			strerror(errno));
		goto out;
	}

	// Every thread blocks these; the signal thread takes them.
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	// Root's other processes (the daemon under test) use it too.
	snprintf(mount_opts, sizeof(mount_opts), "fsname=hangfs,subtype=hangfs%s",
		 geteuid() == 0 ? ",allow_other" : "");
	if (fuse_opt_add_arg(&args, argv[0]) || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, mount_opts) || (debug && fuse_opt_add_arg(&args, "-d"))) {
		fprintf(stderr, "hangfs: out of memory\n");
		goto out;
	}
	hs.fuse = fuse_new(&args, &hfs_ops, sizeof(hfs_ops), NULL);
	if (!hs.fuse) {
		fprintf(stderr, "hangfs: fuse_new failed\n");
		goto out;
	}
	if (fuse_mount(hs.fuse, hs.mnt) != 0) {
		// Exit 3: the lib tells a refused mount (no FUSE here) from other failures.
		fprintf(stderr, "hangfs: the kernel refused to mount FUSE at %s (see above; in a "
			"container FUSE needs /dev/fuse and CAP_SYS_ADMIN)\n", hs.mnt);
		rc = 3;
		goto out;
	}
	mounted = true;
	if (pthread_create(&tid, NULL, control_thread, NULL) != 0 ||
	    pthread_create(&tid, NULL, signal_thread, &sigs) != 0) {
		fprintf(stderr, "hangfs: cannot start a thread\n");
		goto out;
	}
	cfg = fuse_loop_cfg_create();
	if (!cfg) {
		fprintf(stderr, "hangfs: out of memory\n");
		goto out;
	}
	// Each held request keeps a thread: allow many.
	fuse_loop_cfg_set_max_threads(cfg, 512);
	fuse_loop_cfg_set_idle_threads(cfg, 4);
	event("ready");
	rc = fuse_loop_mt(hs.fuse, cfg) == 0 ? 0 : 1;

out:
	if (mounted) {
		pthread_mutex_lock(&hs.lock);
		hs.stopping = true;
		pthread_mutex_unlock(&hs.lock);
		release(OP_COUNT, true);
		fuse_unmount(hs.fuse);
	}
	if (hs.fuse)
		fuse_destroy(hs.fuse);
	if (cfg)
		fuse_loop_cfg_destroy(cfg);
	fuse_opt_free_args(&args);
	if (hs.evfd >= 0)
		close(hs.evfd);
	if (hs.dirfd >= 0)
		close(hs.dirfd);
	return rc;
}
