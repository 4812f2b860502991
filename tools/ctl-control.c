/* blkbackctl's client of blkbackd's control socket, and the key=value lines it answers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "../blkback/num.h"
#include "ctl.h"
#include "pidfile.h"

/*
 * Send one request line to blkbackd's control socket: 0 and its answer in *answer
 * (caller frees) without the final "ok", or -errno with the reason in why.
 */
int control_ask(const struct ctl *c, const char *request, char **answer, char *why,
		size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = 0, cap = 4096;
	char *buf = NULL, *last;
	ssize_t got;
	int fd = -1, err;

	*answer = NULL;
	if (run_path(c->kind, "sock", sa.sun_path, sizeof(sa.sun_path))) {
		snprintf(why, len, "the control socket's path is longer than a socket's %zu "
			 "bytes: set BLKBACKD_RUNDIR to a shorter directory (for blkbackd too)",
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	err = check_parent_dir(sa.sun_path);
	if (err && err != -ENOENT) {
		snprintf(why, len, "will not use the control socket %s: its directory is %s; "
			 "it must be a directory of yours or root's that no one else can write "
			 "(or set BLKBACKD_RUNDIR)", sa.sun_path, err == -ENOTDIR ?
			 "not a directory (a symlink?)" : "another user's or writable by others");
		return err;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		snprintf(why, len, "cannot reach blkbackd at %s: %s; is it running ('blkbackd "
			 "--daemon' starts it)?", sa.sun_path, strerror(errno));
		goto out;
	}
	/* A resize waits for the disk's requests in flight; give slow storage time. */
	struct timeval tv = { .tv_sec = c->timeout };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, request, strlen(request)) < 0 || write(fd, "\n", 1) < 0) {
		err = -errno;
		snprintf(why, len, "cannot send to blkbackd: %s", strerror(errno));
		goto out;
	}
	err = -ENOMEM;
	snprintf(why, len, "out of memory");
	buf = malloc(cap);
	while (buf && (got = read(fd, buf + n, cap - n - 1)) > 0) {
		char *more;

		n += (size_t)got;
		if (cap - n < 2) {
			more = realloc(buf, cap *= 2);
			if (!more)
				goto out;
			buf = more;
		}
	}
	if (!buf)
		goto out;
	if (got < 0) {
		err = -errno;
		snprintf(why, len, "blkbackd did not answer '%s' within %d s: %s (is a disk's "
			 "storage hanging? 'blkbackctl stats' shows requests in flight)", request,
			 c->timeout, strerror(errno));
		goto out;
	}
	buf[n] = '\0';
	/* The answer's last line is "ok" or "error MESSAGE". */
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	last = strrchr(buf, '\n');
	last = last ? last + 1 : buf;
	err = -EIO;
	if (!strncmp(last, "error ", 6)) {
		snprintf(why, len, "%s", last + 6);
		goto out;
	}
	if (strcmp(last, "ok")) {
		snprintf(why, len, "blkbackd gave no answer to '%s' (it may have stopped)",
			 request);
		goto out;
	}
	*last = '\0';
	*answer = buf;
	buf = NULL;
	err = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return err;
}

/* Send one request line to the daemon's control socket; its answer (caller frees), or die. */
char *control_request(const struct ctl *c, const char *request)
{
	char why[1024], *answer;

	if (control_ask(c, request, &answer, why, sizeof(why)))
		die("%s", why);
	return answer;
}

/* The value of key in a "key=value key=value" line, or NULL (caller frees). */
char *kv(const char *line, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = line; (p = strstr(p, key)); p += klen) {
		if ((p == line || p[-1] == ' ') && p[klen] == '=')
			return strndup(p + klen + 1, strcspn(p + klen + 1, " "));
	}
	return NULL;
}

/* A numeric value of a stats line; 0 if absent. */
uint64_t kv_num(const char *line, const char *key)
{
	char *v = kv(line, key);
	uint64_t n = 0;

	if (v && num_parse_uint(v, UINT64_MAX, &n))
		n = 0;
	free(v);
	return n;
}

/* The daemon's "disk" line of domid's devid in a stats answer, or NULL (caller frees). */
char *stats_disk_line(const char *answer, unsigned int domid, uint32_t devid)
{
	char head[64];
	size_t hlen;

	hlen = (size_t)snprintf(head, sizeof(head), "disk domid=%u devid=%u ", domid, devid);
	for (const char *p = answer; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, head, hlen))
			return strndup(p, strcspn(p, "\n"));
	return NULL;
}
