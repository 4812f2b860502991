/*
 * xsd.h: the simulated xenstored. One listening socket per domain ($XENSIM_DIR/dom<ID>/
 * xenstored); the socket a client connects to decides its domain. Modelled on the C
 * xenstored of Xen 4.17: same wire protocol (xen/io/xs_wire.h), permissions, watches,
 * transactions, quotas and error strings.
 */
#ifndef XENSIM_XSD_H
#define XENSIM_XSD_H
#include <errno.h> /* before xs_wire.h: it defines xsd_errors only then */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <xen/io/xs_wire.h>
#include <xenstore_lib.h>

#include "peer.h"
#include "counters.h"

/* ---- the interface for domain.c and daemon.c ---- */

/* Create the store: /, /local, /local/domain. */
int xsd_init(void);
/* Introduce domain id: /local/domain/<id> (name, domid...), its sockets, @introduceDomain. */
int xsd_domain_add(unsigned int id, const char *name);
/* Release domain id: its sockets and connections closed (clients killed when kill is set),
 * /local/domain/<id> removed, @releaseDomain fired. Idempotent. */
void xsd_domain_remove(unsigned int id, bool kill);
/* Close everything and free the store; idempotent. */
void xsd_fini(void);
/*
 * For tests (xensim xs-fault): the next count reads (XS_READ, in a transaction or not) of
 * the absolute path fail with the error named errname ("EIO", "EACCES"...); count 0 takes
 * the fault away. 0, or -EINVAL for a relative path or an unknown error name.
 */
int xsd_fault_set(const char *path, const char *errname, unsigned int count);
/* Forget every fault; idempotent. */
void xsd_fault_clear(void);

/* ---- inside the xenstore server ---- */

/* xenstored's default quotas (xenstored_core.c, Xen 4.17); dom0 is exempt. */
#define XSD_QUOTA_NODES 1000      /* nodes owned by one domain: ENOSPC */
#define XSD_QUOTA_WATCHES 128     /* watches per domain: E2BIG */
#define XSD_QUOTA_NODE_SIZE 2048  /* data + perms + children names of one node: ENOSPC */
#define XSD_QUOTA_TXNS 10         /* open transactions per domain: ENOSPC */
#define XSD_QUOTA_PERMS 5         /* permission entries per node: ENOSPC */
#define XSD_QUOTA_TXN_NODES 1024  /* nodes one transaction touches: ENOSPC */
/* A real guest has one xenstore connection (its ring); a simulated one may open a few, but
 * not enough to multiply the per-domain quotas' cost. More are refused at accept. */
#define XSD_QUOTA_CONNS 8
/* Output backlog past which a connection's requests are not read any more, and past which
 * an unprivileged connection's watch events are dropped: a client that does not read its
 * replies stalls only itself. */
#define XSD_OUT_PAUSE (64 * 1024)
#define XSD_OUT_EVENT_MAX (256 * 1024)

struct xsd_perm {
	unsigned int id;
	unsigned int perms; /* XS_PERM_READ | XS_PERM_WRITE */
};

struct xsd_node {
	char *name;                /* path component; "" for the root */
	struct xsd_node *parent;
	struct xsd_node **child;   /* in creation order, like xenstored */
	unsigned int nchild, cap;
	char *data;
	unsigned int len;
	struct xsd_perm *perm;     /* perm[0]: owner and everybody's default */
	unsigned int nperm;
	uint64_t gen;              /* bumped on each change of this node */
	bool fresh;                /* transaction copy: created by the transaction */
	bool lazy;                 /* transaction copy: children not copied from the store yet */
	bool lazy_data;            /* transaction copy: data not copied from the store yet */
};

/* Called with each node a transaction looks at, before it changes it (node NULL: absent). */
typedef void xsd_access_fn(void *arg, const char *path, const struct xsd_node *node);

struct xsd_tree {
	struct xsd_node *root;
	unsigned int owned[XENSIM_MAX_DOMID + 1]; /* nodes owned by each domain */
	bool live;                 /* the real store: changes fire watches */
	/* Transaction copies are copy-on-read: a node's children are copied from src when the
	 * transaction first walks through it, so a transaction costs what it touches. */
	struct xsd_tree *src;
	bool oom;                  /* a copy failed: the transaction cannot commit */
	xsd_access_fn *access;     /* transaction copies: note what was looked at */
	void *access_arg;
};

/* Who asks: the domain of the connection. */
struct xsd_caller {
	unsigned int domid;
	int target; /* SET_TARGET: acts with the rights of this domain too, or -1 */
};

static inline bool xsd_priv(const struct xsd_caller *c)
{
	return c->domid == 0;
}

extern struct xsd_tree xsd_main;

/* xsd-path.c */
/* xenstored's perm_for_conn: what caller c may do on a node with these perms. */
unsigned int store_perm_for(const struct xsd_caller *c, const struct xsd_perm *p,
			    unsigned int n);
/* Absolute, checked path for a client path of domain domid (malloc'ed), or NULL + errno. */
char *store_canon(unsigned int domid, const char *path);
/* Parse "r5"-style strings into perms; -EINVAL if malformed. */
int store_parse_perms(char **v, unsigned int n, struct xsd_perm *out);
/* Print perms as "n0\0r5\0" into buf (size >= 12 * n); returns the length. */
unsigned int store_print_perms(const struct xsd_perm *p, unsigned int n, char *buf);

/* xsd-store.c: a change to the live store fires its watches (xsd-watch.c) */
struct xsd_node *store_lookup(struct xsd_tree *t, const char *path);
int store_get(struct xsd_tree *t, const struct xsd_caller *c, const char *path,
	      unsigned int want, struct xsd_node **out);
#define STORE_MKDIR 1   /* create if absent, keep the data if present */
int store_write(struct xsd_tree *t, const struct xsd_caller *c, const char *path,
		const char *data, unsigned int len, int flags);
int store_rm(struct xsd_tree *t, const struct xsd_caller *c, const char *path);
int store_set_perms(struct xsd_tree *t, const struct xsd_caller *c, const char *path,
		    const struct xsd_perm *p, unsigned int n);
int store_init(struct xsd_tree *t);
/* A transaction's copy of src: copies nodes only as the transaction reaches them. */
int store_clone(struct xsd_tree *src, struct xsd_tree *dst);
void store_free(struct xsd_tree *t);
uint64_t store_next_gen(void);

/* xsd-watch.c */
struct xsd_conn;
struct xsd_watch {
	struct xsd_watch *next;
	char *path;      /* absolute, or a special "@..." name */
	char *token;
	bool relative;   /* given relative to /local/domain/<id>: events are too */
};
/* Fire watches for a change at path, for who may read it per perm or (old != NULL) per
 * the permissions it had before (exact: only watches on path, not on its ancestors). */
void watch_fire(const char *path, const struct xsd_perm *perm, unsigned int nperm,
		const struct xsd_perm *old, unsigned int nold, bool exact);
/* Fire the special @introduceDomain / @releaseDomain watches. */
void watch_fire_special(const char *name);
int watch_add(struct xsd_conn *c, const char *path, const char *token);
void watch_fire_initial(struct xsd_conn *c);
int watch_del(struct xsd_conn *c, const char *path, const char *token);
void watch_del_all(struct xsd_conn *c);
/* The permissions of a special node, or NULL. */
struct xsd_perm *watch_special_perms(const char *name, unsigned int **nperm);

/* xsd-txn.c */
struct xsd_txn;
int txn_start(struct xsd_conn *c, uint32_t *id);
struct xsd_txn *txn_find(struct xsd_conn *c, uint32_t id);
struct xsd_tree *txn_tree(struct xsd_txn *t);
/* Too many nodes looked at for an unprivileged caller? */
bool txn_too_big(const struct xsd_txn *t);
/* Record a successful change to replay at commit. */
#define TXN_WRITE 1
#define TXN_MKDIR 2
#define TXN_RM 3
#define TXN_PERMS 4
int txn_log(struct xsd_txn *t, int op, const char *path, const void *data, unsigned int len,
	    const struct xsd_perm *perm, unsigned int nperm);
/* Commit (EAGAIN when something it looked at changed) or abort; frees the transaction. */
int txn_end(struct xsd_conn *c, struct xsd_txn *t, bool commit);
void txn_del_all(struct xsd_conn *c);

/* xsd-conn.c: the connections and their output, calling nothing above */
struct xsd_conn {
	struct xsd_conn *next;
	int fd;
	unsigned int domid;
	struct sim_peer peer;    /* the process at the other end */
	struct xsd_caller caller;
	unsigned char *in;       /* header + payload + NUL */
	size_t in_len;
	char *out;
	size_t out_off, out_len, out_cap;
	bool paused;             /* not reading: too much output waiting */
	uint32_t armed;          /* the epoll events set for fd */
	struct xsd_watch *watches;
	unsigned int nwatch;
	struct xsd_txn *txns;
	unsigned int ntxn;
	uint32_t next_txid;
	uint64_t dropped;        /* watch events dropped for backlog */
};
extern struct xsd_conn *xsd_conns;
/* Queue a message (header + a + b) on c. */
void conn_send(struct xsd_conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
	       const void *a, size_t alen, const void *b, size_t blen);
size_t conn_backlog(const struct xsd_conn *c);
/* What the connections of domain domid hold: transactions and watches. */
void conn_dom_usage(unsigned int domid, unsigned int *ntxn, unsigned int *nwatch);
/* Set the epoll events of c from its state (paused, output waiting). */
void conn_arm(struct xsd_conn *c);
/* Write what the socket takes; 0, or -errno when the client is gone. */
int conn_flush(struct xsd_conn *c);

/* xsd-listen.c: the sockets; requests go to ops_handle */
/* Listen on $XENSIM_DIR/dom<id>/xenstored for domain id. */
int xsd_listen(unsigned int id);
/* Stop listening for domain id and close its connections, SIGKILLing their processes. */
void xsd_unlisten(unsigned int id, bool kill_clients);
/* Close connection c: its watches and transactions go with it. */
void conn_close(struct xsd_conn *c);

/* xsd-ops.c: serve one request; payload is NUL-terminated at payload[h->len]. */
void ops_handle(struct xsd_conn *c, const struct xsd_sockmsg *h, char *payload);
#endif
