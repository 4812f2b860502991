/*
 * xsd-path.c: xenstore paths and permissions, checked and converted: pure functions that
 * the store, the watches and the requests use, calling nothing of the server.
 */
#include "xsd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Is this a character xenstored accepts in a path? */
static bool valid_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || strchr("-/_@", ch);
}

/* xenstored's is_valid_nodename on an absolute path. */
static bool valid_path(const char *p)
{
	size_t len = strlen(p), local = 0;
	unsigned int id;
	int off = 0;

	if (p[0] != '/' || (len > 1 && p[len - 1] == '/') || strstr(p, "//"))
		return false;
	if (sscanf(p, "/local/domain/%5u/%n", &id, &off) == 1 && off > 0)
		local = (size_t)off;
	if (len > local + XENSTORE_REL_PATH_MAX || len > XENSTORE_ABS_PATH_MAX)
		return false;
	for (; *p; p++)
		if (!valid_char(*p))
			return false;
	return true;
}

/* Absolute path of a client path: relative ones live under /local/domain/<domid>. */
char *store_canon(unsigned int domid, const char *path)
{
	char *abs;

	if (path[0] == '/')
		abs = strdup(path);
	else if (asprintf(&abs, "/local/domain/%u/%s", domid, path) < 0)
		abs = NULL;
	if (!abs) {
		errno = ENOMEM;
		return NULL;
	}
	if (!valid_path(abs)) {
		free(abs);
		errno = EINVAL;
		return NULL;
	}
	return abs;
}

/* xenstored's perm_for_conn: what caller c may do on a node with these perms. */
unsigned int store_perm_for(const struct xsd_caller *c, const struct xsd_perm *p,
			    unsigned int n)
{
	const unsigned int all = XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER;

	if (xsd_priv(c) || p[0].id == c->domid || (c->target >= 0 && p[0].id == (unsigned)c->target))
		return all;
	for (unsigned int i = 1; i < n; i++)
		if (p[i].id == c->domid || (c->target >= 0 && p[i].id == (unsigned)c->target))
			return p[i].perms & (XS_PERM_READ | XS_PERM_WRITE);
	return p[0].perms & (XS_PERM_READ | XS_PERM_WRITE);
}

/* Parse permission strings ("n0", "r5", "w2", "b3"). */
int store_parse_perms(char **v, unsigned int n, struct xsd_perm *out)
{
	for (unsigned int i = 0; i < n; i++) {
		char *end;
		unsigned long id;

		switch (v[i][0]) {
		case 'n': out[i].perms = XS_PERM_NONE; break;
		case 'r': out[i].perms = XS_PERM_READ; break;
		case 'w': out[i].perms = XS_PERM_WRITE; break;
		case 'b': out[i].perms = XS_PERM_READ | XS_PERM_WRITE; break;
		default: return -EINVAL;
		}
		if (v[i][1] < '0' || v[i][1] > '9')
			return -EINVAL;
		errno = 0;
		id = strtoul(v[i] + 1, &end, 10);
		if (*end || errno || id > XENSIM_MAX_DOMID)
			return -EINVAL;
		out[i].id = (unsigned int)id;
	}
	return 0;
}

/* Print perms as NUL-separated strings. */
unsigned int store_print_perms(const struct xsd_perm *p, unsigned int n, char *buf)
{
	static const char ch[] = "nrwb";
	unsigned int len = 0;

	for (unsigned int i = 0; i < n; i++)
		len += (unsigned int)sprintf(buf + len, "%c%u", ch[p[i].perms & 3], p[i].id) + 1;
	return len;
}
