/*
 * hv-test.h: helpers for the C tests of xensim's simulated hypervisor (hv-*.c). A test
 * process acts as several domains at once: the domain of a handle is the hv socket it
 * connects to, so hv_as(ID) points XENSIM_HV at $XENSIM_DIR/dom<ID>/hv before an open.
 * Run with the drop-in libraries first in LD_LIBRARY_PATH (tests/sim/hv.sh does).
 */
#ifndef HV_TEST_H
#define HV_TEST_H
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "../../tools/xensim/counters.h"

static int hv_failures;

#define CHECK(cond, ...)                                                     \
	do {                                                                     \
		if (!(cond)) {                                                   \
			hv_failures++;                                           \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);   \
			printf(__VA_ARGS__);                                     \
			printf(" (errno %s)\n", strerror(errno));                \
		}                                                                \
	} while (0)

/* Act as domain id for the next handle opened. */
static inline void hv_as(unsigned int id)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/dom%u/hv", getenv("XENSIM_DIR"), id);
	setenv("XENSIM_HV", path, 1);
}

/* Seconds since some fixed point. */
static inline double hv_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait up to ms for fd to be readable; 1 if it is. */
static inline int hv_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* The counters file of the running simulator. */
static inline const struct xensim_counters *hv_counters_map(void)
{
	char path[4096];
	FILE *f;
	void *p;

	snprintf(path, sizeof(path), "%s/counters", getenv("XENSIM_DIR"));
	f = fopen(path, "r");
	if (!f)
		return NULL;
	p = mmap(NULL, sizeof(struct xensim_counters), PROT_READ, MAP_SHARED, fileno(f), 0);
	fclose(f);
	return p == MAP_FAILED ? NULL : p;
}

/* Finish: print the verdict, exit 0 / 1. */
static inline int hv_done(const char *name)
{
	printf("%s: %s\n", name, hv_failures ? "FAILED" : "ok");
	return hv_failures ? 1 : 0;
}
#endif
