/* Logging: errors always, debug output behind a flag mask (-d ring,io,xs). */
#ifndef BLKBACK_LOG_H
#define BLKBACK_LOG_H

#include <stdbool.h>

enum log_flag {
	LOG_RING = 1u << 0,	/* ring attach, sweeps, notifications */
	LOG_IO = 1u << 1,	/* every request and its result */
	LOG_XS = 1u << 2,	/* xenstore watches and state machine */
};

extern unsigned int log_mask;

/* Send logs to syslog instead of stderr, tagged with ident. */
void log_use_syslog(const char *ident);

/* Parse "ring,io,xs" or "all" into a mask; -EINVAL names nothing useful. */
int log_parse_mask(const char *s, unsigned int *mask);

void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(3, __VA_ARGS__)
#define log_warn(...) log_msg(4, __VA_ARGS__)
#define log_info(...) log_msg(6, __VA_ARGS__)
#define log_debug(flag, ...) do {				\
		if (log_mask & (flag))				\
			log_msg(7, __VA_ARGS__);		\
	} while (0)

#endif
