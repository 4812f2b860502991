/*
 * xsd-txn.c: transactions. Each one works on a private copy-on-read copy of the store and
 * records the generation of every node it looked at; commit fails with EAGAIN if any of
 * them changed since, with ENOSPC if the domain's node quota no longer holds it, else
 * replays the transaction's changes on the real store (firing the watches).
 */
#include "xsd.h"
#include "xensim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct access {
	char *path;
	uint64_t gen; /* 0: absent */
};

struct op {
	int type;
	char *path;
	char *data;
	unsigned int len;
	struct xsd_perm *perm;
	unsigned int nperm;
};

struct xsd_txn {
	struct xsd_txn *next;
	uint32_t id;
	struct xsd_conn *conn;
	struct xsd_tree tree;
	struct access *acc;
	unsigned int nacc, acc_cap;
	struct op *ops;
	unsigned int nops, ops_cap;
	unsigned int base, peak; /* nodes the caller owned at start; most it owned inside */
	bool oom;
};

/* Grow array *v of n elements of size sz to hold one more. */
static int grow(void **v, unsigned int n, unsigned int *cap, size_t sz)
{
	void *m;
	unsigned int c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 16;
	m = realloc(*v, c * sz);
	if (!m)
		return -ENOMEM;
	*v = m;
	*cap = c;
	return 0;
}

/* The store copy looked at path: remember the generation the first time. A node the
 * transaction created itself is absent from the real store: commit conflicts only if
 * somebody else created it meanwhile. */
static void on_access(void *arg, const char *path, const struct xsd_node *n)
{
	struct xsd_txn *t = arg;

	for (unsigned int i = 0; i < t->nacc; i++)
		if (!strcmp(t->acc[i].path, path))
			return;
	if (grow((void **)&t->acc, t->nacc, &t->acc_cap, sizeof(*t->acc)) ||
	    !(t->acc[t->nacc].path = strdup(path))) {
		t->oom = true;
		return;
	}
	t->acc[t->nacc++].gen = n && !n->fresh ? n->gen : 0;
}

/* Free transaction t (already unlinked). */
static void txn_free(struct xsd_txn *t)
{
	store_free(&t->tree);
	for (unsigned int i = 0; i < t->nacc; i++)
		free(t->acc[i].path);
	for (unsigned int i = 0; i < t->nops; i++) {
		free(t->ops[i].path);
		free(t->ops[i].data);
		free(t->ops[i].perm);
	}
	free(t->acc);
	free(t->ops);
	free(t);
}

/* Start a transaction on connection c. */
int txn_start(struct xsd_conn *c, uint32_t *id)
{
	struct xsd_txn *t;
	unsigned int ntxn, nwatch;

	/* Per domain, as in xenstored where a guest has a single connection. */
	conn_dom_usage(c->domid, &ntxn, &nwatch);
	if (!xsd_priv(&c->caller) && ntxn >= XSD_QUOTA_TXNS)
		return -ENOSPC;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (store_clone(&xsd_main, &t->tree)) {
		txn_free(t);
		return -ENOMEM;
	}
	t->tree.access = on_access;
	t->tree.access_arg = t;
	t->conn = c;
	t->base = t->peak = xsd_main.owned[c->domid];
	/* Ids are never 0 (XBT_NULL) and not reused soon. */
	do
		t->id = ++c->next_txid;
	while (!t->id || txn_find(c, t->id));
	t->next = c->txns;
	c->txns = t;
	c->ntxn++;
	*id = t->id;
	return 0;
}

/* The open transaction id of c, or NULL. */
struct xsd_txn *txn_find(struct xsd_conn *c, uint32_t id)
{
	for (struct xsd_txn *t = c->txns; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

/* The private store of t. */
struct xsd_tree *txn_tree(struct xsd_txn *t)
{
	return &t->tree;
}

/* Has t looked at more nodes than an unprivileged domain may? */
bool txn_too_big(const struct xsd_txn *t)
{
	return !xsd_priv(&t->conn->caller) && t->nacc >= XSD_QUOTA_TXN_NODES;
}

/* Record a change made inside t, to replay at commit. */
int txn_log(struct xsd_txn *t, int type, const char *path, const void *data, unsigned int len,
	    const struct xsd_perm *perm, unsigned int nperm)
{
	struct op *o;

	if (grow((void **)&t->ops, t->nops, &t->ops_cap, sizeof(*t->ops)))
		goto oom;
	o = &t->ops[t->nops];
	*o = (struct op){ .type = type, .len = len, .nperm = nperm };
	o->path = strdup(path);
	if (!o->path)
		goto oom;
	if (data) {
		o->data = malloc(len ? len : 1);
		if (!o->data)
			goto oom_op;
		memcpy(o->data, data, len);
	}
	if (perm) {
		o->perm = malloc(nperm * sizeof(*perm));
		if (!o->perm)
			goto oom_op;
		memcpy(o->perm, perm, nperm * sizeof(*perm));
	}
	t->nops++;
	if (t->tree.owned[t->conn->domid] > t->peak)
		t->peak = t->tree.owned[t->conn->domid];
	return 0;
oom_op:
	free(o->path);
	free(o->data);
oom:
	t->oom = true;
	return -ENOMEM;
}

/* Did any node t looked at change in the real store since? */
static bool conflicts(const struct xsd_txn *t)
{
	for (unsigned int i = 0; i < t->nacc; i++) {
		const struct xsd_node *n = store_lookup(&xsd_main, t->acc[i].path);

		if ((n ? n->gen : 0) != t->acc[i].gen)
			return true;
	}
	return false;
}

/* Would replaying t take an unprivileged caller over its node quota? The transaction was
 * checked against the counts of its start: other transactions (or plain writes) may have
 * used the room since. The peak counts, so that the replay cannot fail half-way. */
static bool over_quota(const struct xsd_txn *t)
{
	const struct xsd_caller *c = &t->conn->caller;

	return !xsd_priv(c) && t->peak > t->base &&
	       xsd_main.owned[c->domid] + (t->peak - t->base) > XSD_QUOTA_NODES;
}

/* Replay t's changes on the real store, with the quotas of an unprivileged caller checked
 * again; they fail only for memory, or when the store changed where t did not look. */
static int replay(const struct xsd_txn *t)
{
	const struct xsd_caller *c = &t->conn->caller;
	int ret = 0;

	for (unsigned int i = 0; i < t->nops && !ret; i++) {
		const struct op *o = &t->ops[i];

		switch (o->type) {
		case TXN_WRITE:
			ret = store_write(&xsd_main, c, o->path, o->data, o->len, 0);
			break;
		case TXN_MKDIR:
			ret = store_write(&xsd_main, c, o->path, NULL, 0, STORE_MKDIR);
			break;
		case TXN_RM:
			ret = store_rm(&xsd_main, c, o->path);
			break;
		case TXN_PERMS:
			ret = store_set_perms(&xsd_main, c, o->path, o->perm, o->nperm);
			break;
		}
	}
	if (ret)
		sim_log("xenstore: dom%u transaction %u: replay failed (%s); store may be partial",
			t->conn->domid, t->id, strerror(-ret));
	return ret;
}

/* End t: commit (EAGAIN on conflict) or abort. Frees t either way. */
int txn_end(struct xsd_conn *c, struct xsd_txn *t, bool commit)
{
	int ret = 0;

	for (struct xsd_txn **p = &c->txns; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			c->ntxn--;
			break;
		}
	if (commit) {
		if (t->oom || t->tree.oom)
			ret = -ENOMEM;
		else if (conflicts(t))
			ret = -EAGAIN;
		else if (over_quota(t))
			ret = -ENOSPC;
		else
			ret = replay(t);
	}
	txn_free(t);
	return ret;
}

/* Abort every transaction of c. */
void txn_del_all(struct xsd_conn *c)
{
	while (c->txns)
		txn_end(c, c->txns, false);
}
