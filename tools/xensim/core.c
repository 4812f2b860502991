/*
 * core.c: what every part of the xensim daemon uses and which calls none of them: the run
 * directory, the log, listening sockets, and the table of domains (domain.c creates and
 * destroys them).
 */
#include "counters.h"
#include "xensim.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

char sim_dir[XENSIM_DIR_MAX + 1];
bool sim_debug;

static struct sim_domain *doms[XENSIM_MAX_DOMID + 1];

/* Log a line to stderr with a timestamp. */
void sim_log(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;
	char buf[1024];

	clock_gettime(CLOCK_REALTIME, &ts);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%lld.%03ld xensim[%d]: %s\n", (long long)ts.tv_sec,
		ts.tv_nsec / 1000000, (int)getpid(), buf);
}

/* Listen on a Unix socket of type at path; the fd or -errno. */
int sim_listen(const char *path, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Build "$sim_dir/dom<id>/<leaf>" (leaf "" for the directory). */
int sim_dom_path(char *buf, size_t size, unsigned int id, const char *leaf)
{
	int n = snprintf(buf, size, "%s/dom%u%s%s", sim_dir, id, *leaf ? "/" : "", leaf);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The domain with this id, or NULL. */
struct sim_domain *dom_by_id(unsigned int id)
{
	return id <= XENSIM_MAX_DOMID ? doms[id] : NULL;
}

/* The domain named ref, or with decimal id ref. */
struct sim_domain *dom_lookup(const char *ref)
{
	char *end;
	unsigned long id;

	for (unsigned int i = 0; i <= XENSIM_MAX_DOMID; i++)
		if (doms[i] && !strcmp(doms[i]->name, ref))
			return doms[i];
	if (*ref < '0' || *ref > '9')
		return NULL;
	id = strtoul(ref, &end, 10);
	return *end || id > XENSIM_MAX_DOMID ? NULL : doms[id];
}

/* The next domain after prev in id order. */
struct sim_domain *dom_next(const struct sim_domain *prev)
{
	for (unsigned int i = prev ? prev->id + 1 : 0; i <= XENSIM_MAX_DOMID; i++)
		if (doms[i])
			return doms[i];
	return NULL;
}

/* Put d in the table at id (NULL: take the domain there out). */
void dom_set(unsigned int id, struct sim_domain *d)
{
	doms[id] = d;
}

/* "id name" lines for every domain (malloc'ed). */
char *dom_list(void)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	for (struct sim_domain *d = dom_next(NULL); d; d = dom_next(d))
		fprintf(f, "%u %s\n", d->id, d->name);
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	return s;
}
