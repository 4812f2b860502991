/* Logging to stderr (foreground), or syslog or else a log file (--daemon). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

unsigned int log_mask;
static bool to_syslog;
static FILE *log_file;		/* where logs go without syslog; NULL: stderr */

/* Is a syslog daemon listening on /dev/log? */
static bool syslog_listens(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (!ok) {	/* rsyslog and journald listen on datagrams; a stream one is rare */
		close(fd);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ok = fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Send logs to syslog, tagged with ident; without a syslog daemon, append them to fallback. */
int log_use_syslog(const char *ident, const char *fallback)
{
	int fd;

	if (syslog_listens()) {
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		to_syslog = true;
		return 0;
	}
	fd = open(fallback, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	log_file = fdopen(fd, "a");
	if (!log_file) {
		close(fd);
		return -ENOMEM;
	}
	setvbuf(log_file, NULL, _IOLBF, 0);
	return 1;
}

/* Parse "ring,io,xs" or "all" into a mask. */
int log_parse_mask(const char *s, unsigned int *mask)
{
	static const struct { const char *name; unsigned int bit; } names[] = {
		{ "ring", LOG_RING }, { "io", LOG_IO }, { "xs", LOG_XS },
		{ "all", LOG_RING | LOG_IO | LOG_XS },
	};
	unsigned int m = 0;

	while (*s) {
		size_t len = strcspn(s, ",");
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == len && !strncmp(s, names[i].name, len))
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return -EINVAL;
		m |= names[i].bit;
		s += len;
		if (*s == ',')
			s++;
	}
	*mask = m;
	return 0;
}

/* Print one log line with a timestamp, or hand it to syslog; a line of any length, whole. */
void log_msg(int prio, const char *fmt, ...)
{
	static const char *const level[8] = {
		"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
	};
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	if (to_syslog) {
		vsyslog(prio, fmt, ap);
	} else {
		FILE *out = log_file ? log_file : stderr;
		char line[1024], *text = line, when[32];
		struct timespec ts;
		struct tm tm;
		va_list again;
		int n;

		va_copy(again, ap);
		n = vsnprintf(line, sizeof(line), fmt, ap);
		/* Longer than the usual line: format it again whole, on the heap. */
		if (n >= (int)sizeof(line) && vasprintf(&text, fmt, again) < 0)
			text = NULL;
		va_end(again);
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		/* A log file outlives the day: it gets the date too. */
		strftime(when, sizeof(when), log_file ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm);
		/* One call, so one write of the whole line among the threads' lines. */
		fprintf(out, "%s.%03ld blkbackd %s: %s\n", when, ts.tv_nsec / 1000000,
			level[prio & 7], text ? text : "(a log line too long for memory)");
		if (text != line)
			free(text);
	}
	va_end(ap);
	errno = saved;
}

/* log_msg, at most once per LOG_LIMIT_S seconds for l; the next says how many were held back. */
void log_limited(struct log_limit *l, int prio, const char *fmt, ...)
{
	struct timespec ts;
	char *line;
	uint64_t now;
	va_list ap;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec;
	if (l->logged && now < l->next_s) {
		l->held++;
		return;
	}
	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		line = NULL;
	if (l->held)
		log_msg(prio, "%s (and %" PRIu64 " more like it held back)",
			line ? line : "(out of memory)", l->held);
	else
		log_msg(prio, "%s", line ? line : "(out of memory)");
	free(line);
	l->logged = true;
	l->held = 0;
	l->next_s = now + LOG_LIMIT_S;
}
