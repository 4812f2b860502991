/* xsd-watch.c: watches: registration, matching, events, the special @ nodes. */
#include "xsd.h"
#include "xensim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The special nodes: dom0 owns them and by default nobody else sees their events. */
static struct xsd_perm intro_perm[XSD_QUOTA_PERMS + 1] = { { 0, XS_PERM_NONE } };
static struct xsd_perm release_perm[XSD_QUOTA_PERMS + 1] = { { 0, XS_PERM_NONE } };
static unsigned int intro_nperm = 1, release_nperm = 1;

/* The permissions of special node name, or NULL if it is not one. */
struct xsd_perm *watch_special_perms(const char *name, unsigned int **nperm)
{
	if (!strcmp(name, "@introduceDomain")) {
		*nperm = &intro_nperm;
		return intro_perm;
	}
	if (!strcmp(name, "@releaseDomain")) {
		*nperm = &release_nperm;
		return release_perm;
	}
	return NULL;
}

/* Is path equal to or below base? */
static bool is_child(const char *path, const char *base)
{
	size_t len = strlen(base);

	if (!strcmp(base, "/"))
		return true;
	return !strncmp(path, base, len) && (path[len] == '/' || !path[len]);
}

/* Queue one event for watch w of c about path. */
static void send_event(struct xsd_conn *c, const struct xsd_watch *w, const char *path)
{
	if (w->relative) {
		char home[32];
		int len = snprintf(home, sizeof(home), "/local/domain/%u/", c->domid);

		if (!strncmp(path, home, (size_t)len))
			path += len;
	}
	if (!xsd_priv(&c->caller) && conn_backlog(c) > XSD_OUT_EVENT_MAX) {
		if (!c->dropped++)
			sim_log("xenstore: dom%u does not read its watch events; dropping them",
				c->domid);
		return;
	}
	sim_dbg("xenstore: dom%u event %s token %s", c->domid, path, w->token);
	conn_send(c, XS_WATCH_EVENT, 0, 0, path, strlen(path) + 1, w->token,
		  strlen(w->token) + 1);
}

/* Fire the watches on path (and, unless exact, on its ancestors) for readers of perm, or
 * of old when given. */
void watch_fire(const char *path, const struct xsd_perm *perm, unsigned int nperm,
		const struct xsd_perm *old, unsigned int nold, bool exact)
{
	for (struct xsd_conn *c = xsd_conns; c; c = c->next) {
		if (!(store_perm_for(&c->caller, perm, nperm) & XS_PERM_READ) &&
		    !(old && (store_perm_for(&c->caller, old, nold) & XS_PERM_READ)))
			continue;
		for (struct xsd_watch *w = c->watches; w; w = w->next)
			if (exact ? !strcmp(path, w->path) : is_child(path, w->path))
				send_event(c, w, path);
	}
}

/* Fire a special watch (@introduceDomain, @releaseDomain). */
void watch_fire_special(const char *name)
{
	unsigned int *np;
	const struct xsd_perm *p = watch_special_perms(name, &np);

	if (p)
		watch_fire(name, p, *np, NULL, 0, true);
}

/* Add watch (path, token) to c and fire it once, as xenstored does. */
int watch_add(struct xsd_conn *c, const char *path, const char *token)
{
	struct xsd_watch *w;
	unsigned int ntxn, nwatch;
	char *abs;

	if (path[0] == '@') {
		if (strlen(path) > XENSTORE_REL_PATH_MAX)
			return -EINVAL;
		abs = strdup(path);
		if (!abs)
			return -ENOMEM;
	} else {
		abs = store_canon(c->domid, path);
		if (!abs)
			return -errno;
	}
	for (w = c->watches; w; w = w->next)
		if (!strcmp(w->path, abs) && !strcmp(w->token, token)) {
			free(abs);
			return -EEXIST;
		}
	/* Per domain, as in xenstored where a guest has a single connection. */
	conn_dom_usage(c->domid, &ntxn, &nwatch);
	if (!xsd_priv(&c->caller) && nwatch >= XSD_QUOTA_WATCHES) {
		free(abs);
		return -E2BIG;
	}
	w = calloc(1, sizeof(*w));
	if (!w || !(w->token = strdup(token))) {
		free(w);
		free(abs);
		return -ENOMEM;
	}
	w->path = abs;
	w->relative = path[0] != '/' && path[0] != '@';
	w->next = c->watches;
	c->watches = w;
	c->nwatch++;
	return 0;
}

/* Queue the initial event of the watch c added last (after its reply). */
void watch_fire_initial(struct xsd_conn *c)
{
	if (c->watches)
		send_event(c, c->watches, c->watches->path);
}

/* Remove watch (path, token) from c. */
int watch_del(struct xsd_conn *c, const char *path, const char *token)
{
	char *abs = path[0] == '@' ? strdup(path) : store_canon(c->domid, path);

	if (!abs)
		return errno == ENOMEM ? -ENOMEM : -EINVAL;
	for (struct xsd_watch **p = &c->watches; *p; p = &(*p)->next) {
		struct xsd_watch *w = *p;

		if (!strcmp(w->path, abs) && !strcmp(w->token, token)) {
			*p = w->next;
			c->nwatch--;
			free(w->path);
			free(w->token);
			free(w);
			free(abs);
			return 0;
		}
	}
	free(abs);
	return -ENOENT;
}

/* Drop every watch of c. */
void watch_del_all(struct xsd_conn *c)
{
	while (c->watches) {
		struct xsd_watch *w = c->watches;

		c->watches = w->next;
		free(w->path);
		free(w->token);
		free(w);
	}
	c->nwatch = 0;
}
