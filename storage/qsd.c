/*
 * A qemu-storage-daemon per image disk: started on a socket in a private directory,
 * watched while it serves, stopped when the disk closes; and at a daemon's start, the
 * ones a killed predecessor left stopped and their directories removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../blkback/log.h"
#include "qsd.h"
#include "storage.h"

#define QSD_PROG "qemu-storage-daemon"
#define OUT_KEEP 1536		/* bytes of its output kept for messages */
#define NARGS 16

enum qsd_state { QSD_STARTING, QSD_READY, QSD_EXITED };

struct qsd {
	char dir[128];			/* the private directory (a socket's path is short) */
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char pidfile[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char exe[PATH_MAX];		/* qemu-storage-daemon, found in PATH */
	char *image;			/* for messages */
	char *argv[NARGS];		/* argv[1..]: malloc'd */
	pid_t pid;
	int out;			/* read end of its stdout and stderr */
	pthread_t keeper;
	pthread_mutex_t lock;		/* state, status, stopping, msg */
	pthread_cond_t cond;
	enum qsd_state state;
	int status;			/* wait status, once exited; -errno if it never ran */
	bool stopping;
	bool dead;			/* exited while serving (atomic) */
	char msg[OUT_KEEP + 1];		/* the last of its output */
	size_t msglen;
};

/* Where the private directories go: blkbackd's run directory, else $TMPDIR or /tmp. */
static char base_dir[PATH_MAX];

/* The directory private directories are made in. */
static const char *base(void)
{
	const char *t = getenv("TMPDIR");

	return base_dir[0] ? base_dir : t && *t ? t : "/tmp";
}

/* Milliseconds on the monotonic clock. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The absolute time ms from now on CLOCK_MONOTONIC (the condition variable's clock). */
static struct timespec deadline(unsigned int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/* Find qemu-storage-daemon in PATH, into exe; -ENOENT if it is not there. */
static int find_exe(char *exe, size_t len)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;
	int ret = -ENOENT;

	copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	if (!copy)
		return -ENOMEM;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		int n = snprintf(exe, len, "%s/%s", dir, QSD_PROG);

		if (n > 0 && (size_t)n < len && !access(exe, X_OK)) {
			ret = 0;
			break;
		}
	}
	free(copy);
	return ret;
}

/* s with every ',' doubled, as qemu's option syntax wants it in a value; NULL if no memory. */
static char *escape_commas(const char *s)
{
	char *out = malloc(2 * strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		*o++ = *s;
		if (*s == ',')
			*o++ = ',';
	}
	*o = '\0';
	return out;
}

/* Fill q->argv: the image's file (or device) node under the format's node, an NBD export. */
static int make_args(struct qsd *q, const char *format, const char *image, bool readonly,
		     bool direct)
{
	const char *ro = readonly ? ",read-only=on" : "";
	struct stat st;
	char *img = escape_commas(image), *sock = escape_commas(q->sock);
	int n = 0, ret = -ENOMEM;

	if (!img || !sock)
		goto out;
	q->argv[n++] = strdup(q->exe);
	q->argv[n++] = strdup("--blockdev");
	if (asprintf(&q->argv[n++], "driver=%s,node-name=file0,filename=%s,aio=threads%s%s",
		     !stat(image, &st) && S_ISBLK(st.st_mode) ? "host_device" : "file", img,
		     direct ? ",cache.direct=on" : "", ro) < 0)
		q->argv[--n] = NULL;
	q->argv[n++] = strdup("--blockdev");
	if (asprintf(&q->argv[n++], "driver=%s,node-name=" QSD_EXPORT ",file=file0,discard=unmap%s",
		     format, ro) < 0)
		q->argv[--n] = NULL;
	q->argv[n++] = strdup("--nbd-server");
	if (asprintf(&q->argv[n++], "addr.type=unix,addr.path=%s", sock) < 0)
		q->argv[--n] = NULL;
	q->argv[n++] = strdup("--export");
	if (asprintf(&q->argv[n++], "type=nbd,id=export0,node-name=" QSD_EXPORT ",name=" QSD_EXPORT
		     ",writable=%s", readonly ? "off" : "on") < 0)
		q->argv[--n] = NULL;
	q->argv[n++] = strdup("--pidfile");
	q->argv[n++] = escape_commas(q->pidfile);
	q->argv[n] = NULL;
	ret = 0;
	for (int i = 0; i < n; i++)
		if (!q->argv[i])
			ret = -ENOMEM;
out:
	free(img);
	free(sock);
	return ret;
}

/* In the child, between fork and exec (async-signal-safe calls only). */
static void child(const struct qsd *q, int outfd, pid_t parent)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int null;

	/* Killed blkbackd: qemu gets SIGTERM, flushes the image and exits. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	/* blkbackd blocks SIGTERM and ignores SIGPIPE; an exec keeps both. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	sigaction(SIGPIPE, &dfl, NULL);
	setsid();	/* a terminal's ^C reaches blkbackd, which stops it */
	null = open("/dev/null", O_RDONLY);
	if (null < 0 || dup2(null, 0) < 0 || dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0)
		_exit(127);
	close_range(3, ~0u, 0);
	execv(q->exe, q->argv);
	_exit(127);
}

/* Keep the last of its output in q->msg. Locked. */
static void keep_output(struct qsd *q, const char *buf, size_t n)
{
	if (n >= OUT_KEEP) {
		buf += n - OUT_KEEP;
		n = OUT_KEEP;
	}
	if (q->msglen + n > OUT_KEEP) {
		size_t drop = q->msglen + n - OUT_KEEP;

		memmove(q->msg, q->msg + drop, q->msglen - drop);
		q->msglen -= drop;
	}
	memcpy(q->msg + q->msglen, buf, n);
	q->msglen += n;
	q->msg[q->msglen] = '\0';
}

/* Whether its pidfile is written: it serves. */
static bool pidfile_written(const struct qsd *q)
{
	struct stat st;

	return !stat(q->pidfile, &st) && st.st_size > 0;
}

/* qemu's output s as one line, into out: its lines joined with "; ", the last newline gone. */
static void one_line(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for (; *s && o + 3 < len; s++) {
		if (*s != '\n') {
			out[o++] = *s;
		} else if (s[1]) {
			out[o++] = ';';
			out[o++] = ' ';
		}
	}
	out[o] = '\0';
}

/* "exited with status N" or "was killed by signal N", for a wait status. */
static void describe_status(int status, char *buf, size_t len)
{
	if (status < 0)
		snprintf(buf, len, "could not be started: %s", strerror(-status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

/*
 * The keeper thread: forks the daemon (its parent-death signal is tied to this thread,
 * which lives as long as the daemon), reads its output until it exits, reaps it, and says
 * so if it was serving and nobody stopped it.
 */
static void *keeper(void *arg)
{
	struct qsd *q = arg;
	int pipefd[2];
	pid_t parent = getpid(), pid;
	char buf[512], what[128], said[2 * OUT_KEEP];
	int status = 0;

	if (pipe2(pipefd, O_CLOEXEC)) {
		q->status = -errno;
		goto exited;
	}
	pid = fork();
	if (pid == 0)
		child(q, pipefd[1], parent);
	if (pid < 0)
		q->status = -errno;
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		goto exited;
	}
	pthread_mutex_lock(&q->lock);
	q->pid = pid;
	q->out = pipefd[0];
	pthread_mutex_unlock(&q->lock);
	for (;;) {
		struct pollfd p = { .fd = q->out, .events = POLLIN };
		bool starting;
		ssize_t n;

		pthread_mutex_lock(&q->lock);
		starting = q->state == QSD_STARTING;
		if (starting && pidfile_written(q)) {
			q->state = QSD_READY;
			starting = false;
			pthread_cond_broadcast(&q->cond);
		}
		pthread_mutex_unlock(&q->lock);
		/* While it starts, look at the pidfile every 20 ms; then wait for output. */
		if (poll(&p, 1, starting ? 20 : -1) <= 0)
			continue;
		n = read(q->out, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;		/* EOF: it exited */
		pthread_mutex_lock(&q->lock);
		keep_output(q, buf, (size_t)n);
		pthread_mutex_unlock(&q->lock);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	q->status = status;
exited:
	pthread_mutex_lock(&q->lock);
	if (q->state == QSD_READY && !q->stopping) {
		__atomic_store_n(&q->dead, true, __ATOMIC_RELEASE);
		describe_status(q->status, what, sizeof(what));
		one_line(q->msg, said, sizeof(said));
		log_err("qemu-storage-daemon (pid %ld) serving %s %s%s%s; the disk's I/O fails "
			"from now on (writes since the guest's last flush may be lost with qemu's "
			"caches): detach the disk and attach it again", (long)q->pid, q->image,
			what, said[0] ? ", saying: " : "", said);
	}
	q->state = QSD_EXITED;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Remove the private directory and what qemu left in it; idempotent. */
static void remove_dir(const char *dir)
{
	char path[PATH_MAX];
	static const char *const names[] = { "sock", "pid" };

	if (!dir[0])
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	if (rmdir(dir) && errno != ENOENT)
		log_warn("cannot remove %s: %s", dir, strerror(errno));
}

/* Free what qsd_start allocated; the process has been reaped. */
static void qsd_free(struct qsd *q)
{
	remove_dir(q->dir);
	for (int i = 0; i < NARGS; i++)
		free(q->argv[i]);
	if (q->out >= 0)
		close(q->out);
	free(q->image);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* Wait until it has exited, SIGKILL after ms; then join the keeper. Locked on entry, not after. */
static void wait_exit(struct qsd *q, unsigned int ms)
{
	struct timespec until = deadline(ms);

	while (q->state != QSD_EXITED)
		if (pthread_cond_timedwait(&q->cond, &q->lock, &until) == ETIMEDOUT) {
			log_err("qemu-storage-daemon (pid %ld) serving %s has not exited in %u s: "
				"killing it", (long)q->pid, q->image, ms / 1000);
			if (q->pid > 0)
				kill(q->pid, SIGKILL);
			until = deadline(60000);
		}
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->keeper, NULL);
}

/* Wait until it serves; else stop it, with why and qemu's own words in err: -EIO. */
static int wait_ready(struct qsd *q, const char *format, char *err, size_t errlen)
{
	struct timespec until = deadline(QSD_START_S * 1000);
	char what[128] = "", said[2 * OUT_KEEP];

	pthread_mutex_lock(&q->lock);
	while (q->state == QSD_STARTING &&
	       pthread_cond_timedwait(&q->cond, &q->lock, &until) != ETIMEDOUT)
		;
	if (q->state == QSD_READY) {
		pthread_mutex_unlock(&q->lock);
		return 0;
	}
	q->stopping = true;
	if (q->state == QSD_STARTING) {
		if (q->pid > 0)
			kill(q->pid, SIGKILL);
		snprintf(what, sizeof(what), "did not start serving in %d s", QSD_START_S);
	}
	wait_exit(q, QSD_STOP_S * 1000);	/* unlocks, joins the keeper */
	if (!what[0])
		describe_status(q->status, what, sizeof(what));
	one_line(q->msg, said, sizeof(said));
	snprintf(err, errlen, "%s image %s: qemu-storage-daemon %s: %s", format, q->image, what,
		 said[0] ? said : "it said nothing");
	return -EIO;
}

/* Start qemu-storage-daemon for image; see qsd.h. */
int qsd_start(struct qsd **qp, const char *format, const char *image, bool readonly,
	      bool direct, char *err, size_t errlen)
{
	struct qsd *q = calloc(1, sizeof(*q));
	pthread_condattr_t ca;
	int ret = -ENOMEM, n;

	if (!q)
		return -ENOMEM;
	q->out = -1;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	q->image = strdup(image);
	if (!q->image)
		goto fail;
	ret = find_exe(q->exe, sizeof(q->exe));
	if (ret) {
		snprintf(err, errlen, "%s image %s: %s is not installed (not found in PATH): "
			 "install qemu-system-common, or serve a raw image with file:", format,
			 image, QSD_PROG);
		goto fail;
	}
	n = snprintf(q->dir, sizeof(q->dir), "%s/qsd-XXXXXX", base());
	if (n < 0 || (size_t)n + sizeof("/sock") > sizeof(q->sock)) {
		snprintf(err, errlen, "%s image %s: the socket's directory %s is too long for a "
			 "Unix socket: set BLKBACKD_RUNDIR to a shorter one", format, image,
			 base());
		q->dir[0] = '\0';
		ret = -ENAMETOOLONG;
		goto fail;
	}
	if (!mkdtemp(q->dir)) {
		ret = -errno;
		snprintf(err, errlen, "%s image %s: cannot make a directory in %s for "
			 "qemu-storage-daemon's socket: %s", format, image, base(), strerror(-ret));
		q->dir[0] = '\0';
		goto fail;
	}
	memcpy(q->sock, q->dir, (size_t)n);
	memcpy(q->sock + n, "/sock", sizeof("/sock"));
	memcpy(q->pidfile, q->dir, (size_t)n);
	memcpy(q->pidfile + n, "/pid", sizeof("/pid"));
	ret = make_args(q, format, image, readonly, direct);
	if (ret)
		goto fail;
	ret = -pthread_create(&q->keeper, NULL, keeper, q);
	if (ret)
		goto fail;
	ret = wait_ready(q, format, err, errlen);
	if (ret)
		goto fail;
	log_info("%s image %s: served by qemu-storage-daemon pid %ld on %s", format, image,
		 (long)q->pid, q->sock);
	*qp = q;
	return 0;
fail:
	qsd_free(q);	/* the process, if any, has been reaped: its directory goes */
	return ret;
}

/* Its socket's path. */
const char *qsd_socket(const struct qsd *q)
{
	return q->sock;
}

/* Whether it exited while serving. */
bool qsd_dead(const struct qsd *q)
{
	return __atomic_load_n(&q->dead, __ATOMIC_ACQUIRE);
}

/* Stop it and remove its directory. */
void qsd_stop(struct qsd *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	if (q->state != QSD_EXITED && q->pid > 0)
		kill(q->pid, SIGTERM);
	wait_exit(q, QSD_STOP_S * 1000);
	qsd_free(q);
}

/*
 * Whether pid runs qemu-storage-daemon (its comm, cut to 15 bytes), and has not exited:
 * a zombie whose parent (init, after its blkbackd died) has not reaped it yet is done.
 */
static bool is_qsd(pid_t pid)
{
	char path[64], line[128] = "", *end;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	/* "PID (COMM) STATE ...": COMM may hold spaces and parentheses, so the last ')'. */
	end = strrchr(line, ')');
	return end && end[1] == ' ' && end[2] != 'Z' && strchr(line, '(') &&
	       !strncmp(strchr(line, '(') + 1, QSD_PROG, 15);
}

/* Stop a qemu-storage-daemon a killed blkbackd left: SIGTERM, wait, SIGKILL after QSD_STOP_S. */
static void stop_stale(const char *dir, pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	uint64_t end = now_ms() + QSD_STOP_S * 1000;

	log_info("stopping qemu-storage-daemon pid %ld, which a killed blkbackd left serving "
		 "from %s", (long)pid, dir);
	kill(pid, SIGTERM);
	while (is_qsd(pid)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ms();

		if (now >= end) {
			log_err("qemu-storage-daemon pid %ld has not exited in %d s: killing it",
				(long)pid, QSD_STOP_S);
			kill(pid, SIGKILL);
			end = now + 60000;
		}
		/* Its pidfd is readable once it has exited; without one, look every 50 ms. */
		if (fd >= 0 && poll(&p, 1, (int)(end - now)) > 0)
			break;
		if (fd < 0)
			poll(NULL, 0, 50);
	}
	if (fd >= 0)
		close(fd);
}

/* Set where the private directories go, and clean up what a killed predecessor left there. */
int storage_image_setup(const char *dir)
{
	DIR *d;
	struct dirent *e;
	int n = snprintf(base_dir, sizeof(base_dir), "%s", dir);

	if (n < 0 || (size_t)n >= sizeof(base_dir)) {
		base_dir[0] = '\0';
		return -ENAMETOOLONG;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		base_dir[0] = '\0';
		return -errno;
	}
	d = opendir(dir);
	if (!d) {
		base_dir[0] = '\0';
		return -errno;
	}
	while ((e = readdir(d))) {
		char sub[PATH_MAX], path[PATH_MAX + 8];
		FILE *f;
		long pid = 0;

		if (strncmp(e->d_name, "qsd-", 4))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		snprintf(path, sizeof(path), "%s/pid", sub);
		f = fopen(path, "r");
		if (f && fscanf(f, "%ld", &pid) == 1 && pid > 1 && is_qsd((pid_t)pid))
			stop_stale(sub, (pid_t)pid);
		if (f)
			fclose(f);
		remove_dir(sub);
	}
	closedir(d);
	return 0;
}
