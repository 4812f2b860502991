/* Logging: errors always, debug output behind a flag mask (-d ring,io,xs). */
#ifndef BLKBACK_LOG_H
#define BLKBACK_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_flag {
	LOG_RING = 1u << 0,	/* ring attach, sweeps, notifications */
	LOG_IO = 1u << 1,	/* every request and its result */
	LOG_XS = 1u << 2,	/* xenstore watches and state machine */
};

extern unsigned int log_mask;

/*
 * Send logs to syslog instead of stderr, tagged with ident; when no syslog daemon listens
 * on /dev/log, append them to the file fallback instead. Returns 0 (syslog), 1 (the
 * file) or -errno when neither can be used (logs still go to stderr).
 */
int log_use_syslog(const char *ident, const char *fallback);

/* Parse "ring,io,xs" or "all" into a mask; -EINVAL names nothing useful. */
int log_parse_mask(const char *s, unsigned int *mask);

void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * One kind of message that a guest can cause at will (a bad request, a failing disk): the
 * first is logged at once, then at most one per LOG_LIMIT_S seconds, so that a hostile
 * guest cannot flood the log. Zero-initialised; used by one thread.
 */
#define LOG_LIMIT_S 10
struct log_limit {
	bool logged;		/* one was logged ... */
	uint64_t next_s;	/* ... and the next may be from this second on (monotonic) */
	uint64_t held;		/* held back since */
};

void log_limited(struct log_limit *l, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(...) log_msg(3, __VA_ARGS__)
#define log_warn(...) log_msg(4, __VA_ARGS__)
#define log_info(...) log_msg(6, __VA_ARGS__)
#define log_debug(flag, ...) do {				\
		if (log_mask & (flag))				\
			log_msg(7, __VA_ARGS__);		\
	} while (0)

#endif
