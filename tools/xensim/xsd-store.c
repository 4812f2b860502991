/* xsd-store.c: the xenstore node tree: lookups, quotas, changes (each fires its watches). */
#include "xsd.h"
#include "xensim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct xsd_tree xsd_main;
static uint64_t gen_counter;

/* A fresh generation number, never 0 (0 stands for "absent" in transactions). */
uint64_t store_next_gen(void)
{
	return ++gen_counter;
}

/* The child of n named by the len bytes at name, or NULL. */
static struct xsd_node *child_of(const struct xsd_node *n, const char *name, size_t len)
{
	for (unsigned int i = 0; i < n->nchild; i++)
		if (strlen(n->child[i]->name) == len && !memcmp(n->child[i]->name, name, len))
			return n->child[i];
	return NULL;
}

/* Path of node n (malloc'ed). */
static char *node_path(const struct xsd_node *n)
{
	size_t len = 0;
	const struct xsd_node *m;
	char *s, *e;

	if (!n->parent)
		return strdup("/");
	for (m = n; m->parent; m = m->parent)
		len += strlen(m->name) + 1;
	s = malloc(len + 1);
	if (!s)
		return NULL;
	e = s + len;
	*e = 0;
	for (m = n; m->parent; m = m->parent) {
		size_t l = strlen(m->name);

		e -= l;
		memcpy(e, m->name, l);
		*--e = '/';
	}
	return s;
}

static void expand(struct xsd_tree *t, struct xsd_node *n);
static struct xsd_node *source_of(struct xsd_tree *t, const struct xsd_node *n);

/* Walk path as far as it exists: the deepest existing node, *rest the part after it. In a
 * transaction copy every node reached has its children copied. */
static struct xsd_node *walk(struct xsd_tree *t, const char *path, const char **rest)
{
	struct xsd_node *n = t->root, *c;
	const char *p = path + 1;

	for (;;) {
		const char *e;

		expand(t, n);
		if (!*p)
			break;
		e = strchrnul(p, '/');
		c = child_of(n, p, (size_t)(e - p));
		if (!c)
			break;
		n = c;
		p = *e ? e + 1 : e;
	}
	*rest = p;
	return n;
}

/* The node at an absolute path, or NULL. */
struct xsd_node *store_lookup(struct xsd_tree *t, const char *path)
{
	const char *rest;
	struct xsd_node *n = walk(t, path, &rest);

	return *rest ? NULL : n;
}

/* Tell a transaction copy that node n (at path, NULL: compute) is looked at. */
static void note(struct xsd_tree *t, const char *path, const struct xsd_node *n)
{
	char *p;

	if (!t->access)
		return;
	if (path) {
		t->access(t->access_arg, path, n);
		return;
	}
	p = node_path(n);
	if (p)
		t->access(t->access_arg, p, n);
	free(p);
}

/* xenstored's get_node + errno_from_parents: the node if caller may do want on it. */
int store_get(struct xsd_tree *t, const struct xsd_caller *c, const char *path,
	      unsigned int want, struct xsd_node **out)
{
	const char *rest;
	struct xsd_node *n = walk(t, path, &rest);

	*out = NULL;
	if (!*rest) {
		note(t, path, n);
		if ((store_perm_for(c, n->perm, n->nperm) & want) != want)
			return -EACCES;
		*out = n;
		return 0;
	}
	note(t, path, NULL);
	/* Absent: say so only to who may see the nearest existing ancestor. */
	note(t, NULL, n);
	return store_perm_for(c, n->perm, n->nperm) & want ? -ENOENT : -EACCES;
}

/* Bytes a node takes for the node size quota. */
static size_t node_size(const struct xsd_node *n)
{
	size_t s = n->len + n->nperm * sizeof(struct xs_permissions);

	for (unsigned int i = 0; i < n->nchild; i++)
		s += strlen(n->child[i]->name) + 1;
	return s;
}

/* Take node n out of t's count of nodes per owner. */
static void uncount(struct xsd_tree *t, const struct xsd_node *n)
{
	if (n->nperm && n->perm[0].id <= XENSIM_MAX_DOMID && t->owned[n->perm[0].id])
		t->owned[n->perm[0].id]--;
}

/* Free node n and its subtree, uncounting their owners. */
static void node_free(struct xsd_tree *t, struct xsd_node *n)
{
	if (!n)
		return;
	for (unsigned int i = 0; i < n->nchild; i++)
		node_free(t, n->child[i]);
	if (t)
		uncount(t, n);
	free(n->child);
	free(n->name);
	free(n->data);
	free(n->perm);
	free(n);
}

/* A new node named by len bytes at name with a copy of perms. */
static struct xsd_node *node_new(const char *name, size_t len, const struct xsd_perm *perm,
				 unsigned int nperm)
{
	struct xsd_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strndup(name, len);
	n->perm = malloc(nperm * sizeof(*perm));
	if (!n->name || !n->perm) {
		node_free(NULL, n);
		return NULL;
	}
	memcpy(n->perm, perm, nperm * sizeof(*perm));
	n->nperm = nperm;
	n->gen = store_next_gen();
	return n;
}

/* Append child c to parent p. */
static int add_child(struct xsd_node *p, struct xsd_node *c)
{
	if (p->nchild == p->cap) {
		unsigned int cap = p->cap ? p->cap * 2 : 4;
		struct xsd_node **v = realloc(p->child, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->child = v;
		p->cap = cap;
	}
	p->child[p->nchild++] = c;
	c->parent = p;
	return 0;
}

/* Take child c out of its parent. */
static void remove_child(struct xsd_node *c)
{
	struct xsd_node *p = c->parent;

	for (unsigned int i = 0; i < p->nchild; i++)
		if (p->child[i] == c) {
			memmove(&p->child[i], &p->child[i + 1],
				(p->nchild - i - 1) * sizeof(p->child[0]));
			p->nchild--;
			break;
		}
	c->parent = NULL;
}

/* Replace the data of n. */
static int set_data(struct xsd_node *n, const char *data, unsigned int len)
{
	char *d = malloc(len ? len : 1);

	if (!d)
		return -ENOMEM;
	memcpy(d, data, len);
	free(n->data);
	n->data = d;
	n->len = len;
	return 0;
}

/* Create the missing part rest of path below anc; the new leaf in *leaf. */
static int create(struct xsd_tree *t, const struct xsd_caller *c, struct xsd_node *anc,
		  const char *rest, unsigned int datalen, struct xsd_node **leaf)
{
	unsigned int nnew = 1;
	struct xsd_node *n = anc, *first = NULL;
	const char *p;
	int ret = 0;

	for (p = rest; *p; p++)
		nnew += *p == '/';
	if (!xsd_priv(c)) {
		const char *e = strchrnul(rest, '/');

		if (t->owned[c->domid] + nnew > XSD_QUOTA_NODES)
			return -ENOSPC;
		if (node_size(anc) + (size_t)(e - rest) + 1 > XSD_QUOTA_NODE_SIZE ||
		    datalen + (anc->nperm) * sizeof(struct xs_permissions) > XSD_QUOTA_NODE_SIZE)
			return -ENOSPC;
	}
	for (p = rest; *p;) {
		const char *e = strchrnul(p, '/');
		struct xsd_node *m = node_new(p, (size_t)(e - p), n->perm, n->nperm);

		if (!m) {
			ret = -ENOMEM;
			goto fail;
		}
		/* Unprivileged domains own what they create; dom0 keeps the parent's owner. */
		if (!xsd_priv(c))
			m->perm[0].id = c->domid;
		ret = add_child(n, m);
		if (ret) {
			node_free(NULL, m);
			goto fail;
		}
		t->owned[m->perm[0].id]++;
		/* Absent from the real store when the transaction looked (see txn.c). */
		m->fresh = t->src != NULL;
		if (!first)
			first = m;
		n = m;
		p = *e ? e + 1 : e;
	}
	anc->gen = store_next_gen();
	*leaf = n;
	return 0;
fail:
	if (first) {
		remove_child(first);
		node_free(t, first);
	}
	return ret;
}

/* Write (or with STORE_MKDIR create) the node at absolute path, with implicit parents. */
int store_write(struct xsd_tree *t, const struct xsd_caller *c, const char *path,
		const char *data, unsigned int len, int flags)
{
	const char *rest;
	struct xsd_node *n = walk(t, path, &rest);
	int ret;

	if (!*rest) {
		note(t, path, n);
		if (!(store_perm_for(c, n->perm, n->nperm) & XS_PERM_WRITE))
			return -EACCES;
		if (flags & STORE_MKDIR)
			return 0;
		if (!xsd_priv(c) && node_size(n) - n->len + len > XSD_QUOTA_NODE_SIZE)
			return -ENOSPC;
		ret = set_data(n, data, len);
		if (ret)
			return ret;
		n->gen = store_next_gen();
	} else {
		struct xsd_node *anc = n;

		note(t, path, NULL);
		note(t, NULL, anc);
		if (!(store_perm_for(c, anc->perm, anc->nperm) & XS_PERM_WRITE))
			return -EACCES;
		ret = create(t, c, anc, rest, (flags & STORE_MKDIR) ? 0 : len, &n);
		if (ret)
			return ret;
		if (!(flags & STORE_MKDIR) && set_data(n, data, len)) {
			/* Out of memory: the new node stays, empty, as if mkdir'ed. */
			return -ENOMEM;
		}
	}
	if (t->live)
		watch_fire(path, n->perm, n->nperm, NULL, 0, false);
	return 0;
}

/* Fire exact watches on every node below n (path is n's), before they go. */
static void fire_subtree(const struct xsd_node *n, char *path, size_t len, size_t size)
{
	for (unsigned int i = 0; i < n->nchild; i++) {
		const struct xsd_node *ch = n->child[i];
		size_t l = strlen(ch->name);

		if (len + l + 2 > size)
			continue;
		path[len] = '/';
		memcpy(path + len + 1, ch->name, l + 1);
		fire_subtree(ch, path, len + l + 1, size);
		watch_fire(path, ch->perm, ch->nperm, NULL, 0, true);
		path[len] = 0;
	}
}

/* Uncount the nodes of the real store below s (their copies never made, then dropped). */
static void uncount_source(struct xsd_tree *t, const struct xsd_node *s)
{
	for (unsigned int i = 0; i < s->nchild; i++) {
		uncount_source(t, s->child[i]);
		uncount(t, s->child[i]);
	}
}

/* Before transaction node n goes: uncount what its uncopied descendants stand for. */
static void uncount_lazy(struct xsd_tree *t, struct xsd_node *n)
{
	const struct xsd_node *s;

	if (!n->lazy) {
		for (unsigned int i = 0; i < n->nchild; i++)
			uncount_lazy(t, n->child[i]);
		return;
	}
	s = source_of(t, n);
	if (s)
		uncount_source(t, s);
}

/*
 * A transaction removes n: note every node below it (the uncopied ones from the real
 * store), so that writing one of them again later in the transaction is not taken at
 * commit for creating a node somebody else created meanwhile.
 */
static void note_subtree(struct xsd_tree *t, const struct xsd_node *n, bool real)
{
	const struct xsd_node *s;

	note(t, NULL, n);
	if (!real && n->lazy) {
		s = source_of(t, n);
		for (unsigned int i = 0; s && i < s->nchild; i++)
			note_subtree(t, s->child[i], true);
		return;
	}
	for (unsigned int i = 0; i < n->nchild; i++)
		note_subtree(t, n->child[i], real);
}

/* Remove the node at absolute path and everything below it. */
int store_rm(struct xsd_tree *t, const struct xsd_caller *c, const char *path)
{
	struct xsd_node *n;
	int ret;

	if (!strcmp(path, "/"))
		return -EINVAL;
	ret = store_get(t, c, path, XS_PERM_WRITE, &n);
	if (ret == -ENOENT) {
		/* Removing an absent child of an existing node succeeds. */
		char *parent = strdup(path);

		if (!parent)
			return -ENOMEM;
		*strrchr(parent, '/') = 0;
		ret = store_lookup(t, *parent ? parent : "/") ? 0 : -ENOENT;
		free(parent);
		return ret;
	}
	if (ret)
		return ret;
	note(t, NULL, n->parent);
	if (t->src) {
		note_subtree(t, n, false);
		uncount_lazy(t, n);
	}
	n->parent->gen = store_next_gen();
	remove_child(n);
	if (t->live) {
		char buf[XENSTORE_ABS_PATH_MAX + 2];
		size_t len = strlen(path);

		if (len < sizeof(buf)) {
			memcpy(buf, path, len + 1);
			fire_subtree(n, buf, len, sizeof(buf));
		}
		watch_fire(path, n->perm, n->nperm, NULL, 0, false);
	}
	node_free(t, n);
	return 0;
}

/* Set the permissions of the node at absolute path (owner or dom0 only). */
int store_set_perms(struct xsd_tree *t, const struct xsd_caller *c, const char *path,
		    const struct xsd_perm *p, unsigned int np)
{
	struct xsd_node *n;
	struct xsd_perm *copy, *old;
	unsigned int nold;
	int ret = store_get(t, c, path, XS_PERM_WRITE | XS_PERM_OWNER, &n);

	if (ret)
		return ret;
	if (!xsd_priv(c) && np > XSD_QUOTA_PERMS)
		return -ENOSPC;
	/* Unprivileged domains may not give their nodes away. */
	if (!xsd_priv(c) && p[0].id != n->perm[0].id)
		return -EPERM;
	copy = malloc(np * sizeof(*p));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, p, np * sizeof(*p));
	if (t->owned[n->perm[0].id])
		t->owned[n->perm[0].id]--;
	t->owned[copy[0].id]++;
	old = n->perm;
	nold = n->nperm;
	n->perm = copy;
	n->nperm = np;
	n->gen = store_next_gen();
	/* As xenstored: who could read the node before is told too (it may not be now). */
	if (t->live)
		watch_fire(path, n->perm, n->nperm, old, nold, false);
	free(old);
	return 0;
}

/* An empty store: the root, owned by dom0, readable by nobody else. */
int store_init(struct xsd_tree *t)
{
	static const struct xsd_perm root_perm = { 0, XS_PERM_NONE };

	memset(t, 0, sizeof(*t));
	t->root = node_new("", 0, &root_perm, 1);
	if (!t->root)
		return -ENOMEM;
	t->owned[0] = 1;
	return 0;
}

/* A copy of store node n without its data and children, which expand() copies when the
 * transaction reaches the node: a big directory walked through costs names, not data. */
static struct xsd_node *node_copy(const struct xsd_node *n)
{
	struct xsd_node *m = node_new(n->name, strlen(n->name), n->perm, n->nperm);

	if (!m)
		return NULL;
	m->gen = n->gen;
	m->len = n->len;
	m->lazy = m->lazy_data = true;
	return m;
}

/* The node of the real store that transaction node n copies, or NULL (also when out of
 * memory: then t->oom is set). */
static struct xsd_node *source_of(struct xsd_tree *t, const struct xsd_node *n)
{
	struct xsd_node *s;
	char *p = node_path(n);

	if (!p) {
		t->oom = true;
		return NULL;
	}
	s = store_lookup(t->src, p);
	free(p);
	return s;
}

/* Copy the children of transaction node n from the real store, the first time they are
 * needed. Out of memory sets t->oom and leaves n without children. */
static void expand(struct xsd_tree *t, struct xsd_node *n)
{
	const struct xsd_node *s;

	if (!n->lazy && !n->lazy_data)
		return;
	s = source_of(t, n);
	if (t->oom)
		return;
	/* A node removed from the store since it was copied: its copy has no data nor
	 * children. A transaction that uses it notes it, so its commit conflicts. */
	if (n->lazy_data) {
		if (s && s->data && set_data(n, s->data, s->len)) {
			t->oom = true;
			return;
		}
		if (!s || !s->data)
			n->len = 0;
		n->lazy_data = false;
	}
	if (!n->lazy)
		return;
	if (s && s->nchild) {
		n->child = calloc(s->nchild, sizeof(*n->child));
		if (!n->child)
			goto oom;
		n->cap = s->nchild;
		for (unsigned int i = 0; i < s->nchild; i++) {
			struct xsd_node *m = node_copy(s->child[i]);

			if (!m)
				goto oom;
			m->parent = n;
			n->child[n->nchild++] = m;
		}
	}
	n->lazy = false;
	return;
oom:
	t->oom = true;
	for (unsigned int i = 0; i < n->nchild; i++)
		node_free(NULL, n->child[i]);
	free(n->child);
	n->child = NULL;
	n->nchild = n->cap = 0;
}

/* A transaction's copy of src: the root now, the rest as the transaction walks to it. */
int store_clone(struct xsd_tree *src, struct xsd_tree *dst)
{
	memcpy(dst->owned, src->owned, sizeof(dst->owned));
	dst->live = false;
	dst->access = NULL;
	dst->src = src;
	dst->oom = false;
	dst->root = node_copy(src->root);
	return dst->root ? 0 : -ENOMEM;
}

/* Free every node of t; idempotent. */
void store_free(struct xsd_tree *t)
{
	node_free(NULL, t->root);
	t->root = NULL;
}
