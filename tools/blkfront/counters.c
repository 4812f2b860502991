/* The simulator's per-domain counters: $XENSIM_DIR/counters, mapped read-only. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../xensim/counters.h"
#include "bfutil.h"

struct bf_counters {
	const struct xensim_counters *map;
	size_t len;
};

/* Map the counters file when running in xensim (XENSIM_DIR set): 1, 0 outside, -errno. */
int bf_counters_open(struct bf_counters **cp, char *err, size_t errlen)
{
	const char *dir = getenv("XENSIM_DIR");
	struct bf_counters *c = NULL;
	char path[4096];
	struct stat st;
	int fd = -1, ret;

	*cp = NULL;
	if (!dir || !*dir)
		return 0;
	snprintf(path, sizeof(path), "%s/counters", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		snprintf(err, errlen, "cannot open the simulator's counters %s: %s (is xensim "
			 "running there? unset XENSIM_DIR outside the simulator)", path,
			 strerror(errno));
		goto out;
	}
	ret = -EPROTO;
	if ((size_t)st.st_size < sizeof(struct xensim_counters)) {
		snprintf(err, errlen, "%s is %lld bytes, smaller than the counters layout this "
			 "blkfront knows (%zu): rebuild blkfront and xensim together", path,
			 (long long)st.st_size, sizeof(struct xensim_counters));
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		ret = -ENOMEM;
		goto out;
	}
	c->len = sizeof(struct xensim_counters);
	c->map = mmap(NULL, c->len, PROT_READ, MAP_SHARED, fd, 0);
	if (c->map == MAP_FAILED) {
		ret = -errno;
		snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
		c->map = NULL;
		goto out;
	}
	if (c->map->magic != XENSIM_COUNTERS_MAGIC || c->map->max_domid != XENSIM_MAX_DOMID) {
		snprintf(err, errlen, "%s does not hold xensim counters this blkfront knows "
			 "(magic or size differ): rebuild blkfront and xensim together", path);
		goto out;
	}
	*cp = c;
	c = NULL;
	ret = 1;
out:
	bf_counters_close(c);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Add one domain's counters, read with relaxed atomic loads (others update them). */
static void add_dom(const struct xensim_dom_counters *d, struct bf_counts *out)
{
	out->maps += __atomic_load_n(&d->maps, __ATOMIC_RELAXED);
	out->unmaps += __atomic_load_n(&d->unmaps, __ATOMIC_RELAXED);
	out->copies += __atomic_load_n(&d->copies, __ATOMIC_RELAXED);
	out->notifies += __atomic_load_n(&d->notifies, __ATOMIC_RELAXED);
}

/* Sum the counters of domains a and b, each counted once. */
void bf_counters_read(const struct bf_counters *c, unsigned int a, unsigned int b,
		      struct bf_counts *out)
{
	memset(out, 0, sizeof(*out));
	if (a <= XENSIM_MAX_DOMID)
		add_dom(&c->map->dom[a], out);
	if (b != a && b <= XENSIM_MAX_DOMID)
		add_dom(&c->map->dom[b], out);
}

/* Unmap and free; NULL is fine. */
void bf_counters_close(struct bf_counters *c)
{
	if (!c)
		return;
	if (c->map)
		munmap((void *)c->map, c->len);
	free(c);
}
