/* Logging to stderr (foreground) or syslog (--daemon). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

unsigned int log_mask;
static bool to_syslog;

/* Send logs to syslog instead of stderr, tagged with ident. */
void log_use_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	to_syslog = true;
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

/* Print one log line with a timestamp, or hand it to syslog. */
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
		struct timespec ts;
		struct tm tm;
		char line[1024], when[16];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "%s.%03ld blkbackd %s: %s\n", when, ts.tv_nsec / 1000000,
			level[prio & 7], line);
	}
	va_end(ap);
	errno = saved;
}

/* log_msg, at most once per LOG_LIMIT_S seconds for l; the next says how many were held back. */
void log_limited(struct log_limit *l, int prio, const char *fmt, ...)
{
	struct timespec ts;
	char line[768];
	uint64_t now;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec;
	if (l->logged && now < l->next_s) {
		l->held++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (l->held)
		log_msg(prio, "%s (and %" PRIu64 " more like it held back)", line, l->held);
	else
		log_msg(prio, "%s", line);
	l->logged = true;
	l->held = 0;
	l->next_s = now + LOG_LIMIT_S;
}
