/* xsd-ops.c: one handler per xs_wire.h request type, with xenstored's checks and errors. */
#include "xsd.h"
#include "xensim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS (XSD_QUOTA_PERMS * 4 + 2)

/* The xsd_errors string of errno err (EINVAL if it has none). */
static const char *err_string(int err)
{
	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (xsd_errors[i].errnum == err)
			return xsd_errors[i].errstring;
	return "EINVAL";
}

/* Reply to request h with len bytes of data. */
static void reply(struct xsd_conn *c, const struct xsd_sockmsg *h, const void *data,
		  size_t len)
{
	conn_send(c, h->type, h->req_id, h->tx_id, data, len, NULL, 0);
}

/* Reply "OK" (ret 0) or the error -ret. */
static void answer(struct xsd_conn *c, const struct xsd_sockmsg *h, int ret)
{
	const char *s;

	if (!ret) {
		reply(c, h, "OK", 3);
		return;
	}
	s = err_string(-ret);
	sim_dbg("xenstore: dom%u request %u -> %s", c->domid, h->type, s);
	conn_send(c, XS_ERROR, h->req_id, h->tx_id, s, strlen(s) + 1, NULL, 0);
}

/* Split a payload of NUL-terminated strings; their number, or -1 if it does not end in NUL
 * or holds more than max. */
static int split(char *p, uint32_t len, char **v, int max)
{
	int n = 0;
	char *end = p + len;

	if (!len || end[-1])
		return -1;
	while (p < end) {
		if (n == max)
			return -1;
		v[n++] = p;
		p += strlen(p) + 1;
	}
	return n;
}

/* Parse a decimal number up to max. */
static int parse_uint(const char *s, unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end || errno || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/* Parse a decimal domain id. */
static int parse_domid(const char *s, unsigned int *id)
{
	return parse_uint(s, 0xffff, id);
}

/* The one path argument of h as an absolute path (malloc'ed) or NULL with *ret set. */
static char *one_path(struct xsd_conn *c, const struct xsd_sockmsg *h, char *p, int *ret)
{
	char *v[1], *abs;

	if (split(p, h->len, v, 1) != 1) {
		*ret = -EINVAL;
		return NULL;
	}
	abs = store_canon(c->domid, v[0]);
	if (!abs)
		*ret = -errno;
	return abs;
}

/* A read fault set with xsd_fault_set. */
struct read_fault {
	struct read_fault *next;
	char *path;
	int err;
	unsigned int count;	/* reads left to fail */
};
static struct read_fault *faults;

/* Set, change or (count 0) take away the read fault of path. */
int xsd_fault_set(const char *path, const char *errname, unsigned int count)
{
	struct read_fault **pp, *f;
	int err = 0;

	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (!strcmp(xsd_errors[i].errstring, errname))
			err = xsd_errors[i].errnum;
	if (path[0] != '/' || !err)
		return -EINVAL;
	for (pp = &faults; *pp && strcmp((*pp)->path, path); pp = &(*pp)->next)
		;
	f = *pp;
	if (!count) {
		if (f) {
			*pp = f->next;
			free(f->path);
			free(f);
		}
		return 0;
	}
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f || !(f->path = strdup(path))) {
			free(f);
			return -ENOMEM;
		}
		f->next = faults;
		faults = f;
	}
	f->err = err;
	f->count = count;
	return 0;
}

/* Forget every fault. */
void xsd_fault_clear(void)
{
	while (faults)
		xsd_fault_set(faults->path, err_string(faults->err), 0);
}

/* The error a read of path fails with because of a fault (counted down), or 0. */
static int fault_take(const struct xsd_conn *c, const char *path)
{
	struct read_fault *f;
	int err;

	for (f = faults; f && strcmp(f->path, path); f = f->next)
		;
	if (!f)
		return 0;
	err = f->err;
	sim_log("xenstore: xs-fault: dom%u read %s -> %s (%u left)", c->domid, path,
		err_string(err), f->count - 1);
	if (!--f->count)
		xsd_fault_set(path, err_string(err), 0);
	return err;
}

/* XS_READ */
static void do_read(struct xsd_conn *c, const struct xsd_sockmsg *h, char *p,
		    struct xsd_tree *t)
{
	int ret = 0;
	char *path = one_path(c, h, p, &ret);
	struct xsd_node *n;

	if (path)
		ret = -fault_take(c, path);
	if (path && !ret)
		ret = store_get(t, &c->caller, path, XS_PERM_READ, &n);
	if (ret)
		answer(c, h, ret);
	else
		reply(c, h, n->data, n->len);
	free(path);
}

/* XS_WRITE: path NUL data. */
static void do_write(struct xsd_conn *c, const struct xsd_sockmsg *h, char *p,
		     struct xsd_tree *t, struct xsd_txn *txn)
{
	size_t plen = strnlen(p, h->len);
	char *path;
	int ret;

	if (plen == h->len) {
		answer(c, h, -EINVAL);
		return;
	}
	path = store_canon(c->domid, p);
	if (!path) {
		answer(c, h, -errno);
		return;
	}
	ret = store_write(t, &c->caller, path, p + plen + 1, h->len - (unsigned)plen - 1, 0);
	if (!ret && txn)
		ret = txn_log(txn, TXN_WRITE, path, p + plen + 1, h->len - (unsigned)plen - 1,
			      NULL, 0);
	answer(c, h, ret);
	free(path);
}

/* XS_MKDIR */
static void do_mkdir(struct xsd_conn *c, const struct xsd_sockmsg *h, char *p,
		     struct xsd_tree *t, struct xsd_txn *txn)
{
	int ret = 0;
	char *path = one_path(c, h, p, &ret);

	if (path)
		ret = store_write(t, &c->caller, path, NULL, 0, STORE_MKDIR);
	if (!ret && txn)
		ret = txn_log(txn, TXN_MKDIR, path, NULL, 0, NULL, 0);
	answer(c, h, ret);
	free(path);
}

/* XS_RM */
static void do_rm(struct xsd_conn *c, const struct xsd_sockmsg *h, char *p,
		  struct xsd_tree *t, struct xsd_txn *txn)
{
	int ret = 0;
	char *path = one_path(c, h, p, &ret);

	if (path)
		ret = store_rm(t, &c->caller, path);
	if (!ret && txn)
		ret = txn_log(txn, TXN_RM, path, NULL, 0, NULL, 0);
	answer(c, h, ret);
	free(path);
}

/* The children names of n, each NUL-terminated, in buf (XENSTORE_PAYLOAD_MAX * 2 bytes).
 * Returns the length, or -E2BIG. */
static int names(const struct xsd_node *n, char *buf, size_t size)
{
	size_t len = 0;

	for (unsigned int i = 0; i < n->nchild; i++) {
		size_t l = strlen(n->child[i]->name) + 1;

		if (len + l > size)
			return -E2BIG;
		memcpy(buf + len, n->child[i]->name, l);
		len += l;
	}
	return (int)len;
}

/* XS_DIRECTORY: E2BIG when it does not fit, then clients use XS_DIRECTORY_PART. */
static void do_directory(struct xsd_conn *c, const struct xsd_sockmsg *h, char *p,
			 struct xsd_tree *t)
{
	static char buf[XENSTORE_PAYLOAD_MAX];
	int ret = 0, len;
	char *path = one_path(c, h, p, &ret);
	struct xsd_node *n;

	if (path)
		ret = store_get(t, &c->caller, path, XS_PERM_READ, &n);
	free(path);
	if (ret) {
		answer(c, h, ret);
		return;
	}
	len = names(n, buf, sizeof(buf));
	if (len < 0)
		answer(c, h, len);
	else
		reply(c, h, buf, (size_t)len);
}

/* XS_DIRECTORY_PART: path, byte offset -> generation NUL names..., a final empty name when
 * the listing ends in this part. */
static void do_directory_part(struct xsd_conn *c, const struct xsd_sockmsg *h, char *p,
			      struct xsd_tree *t)
{
	char *v[2], *path, *blob = NULL, out[XENSTORE_PAYLOAD_MAX];
	size_t total = 0, off, len, room;
	unsigned int o;
	struct xsd_node *n;
	int ret;

	if (split(p, h->len, v, 2) != 2 || parse_uint(v[1], 0x7fffffff, &o)) {
		answer(c, h, -EINVAL);
		return;
	}
	off = o;
	path = store_canon(c->domid, v[0]);
	if (!path) {
		answer(c, h, -errno);
		return;
	}
	ret = store_get(t, &c->caller, path, XS_PERM_READ, &n);
	free(path);
	if (ret)
		goto out;
	for (unsigned int i = 0; i < n->nchild; i++)
		total += strlen(n->child[i]->name) + 1;
	blob = malloc(total + 1);
	if (!blob) {
		ret = -ENOMEM;
		goto out;
	}
	names(n, blob, total);
	if (off > total || (off && blob[off - 1])) {
		ret = -EINVAL;
		goto out;
	}
	len = (size_t)snprintf(out, sizeof(out), "%llu", (unsigned long long)n->gen) + 1;
	room = sizeof(out) - len - 1;
	while (off < total) {
		size_t l = strlen(blob + off) + 1;

		if (l > room)
			break;
		memcpy(out + len, blob + off, l);
		len += l;
		room -= l;
		off += l;
	}
	if (off == total)
		out[len++] = 0;
	reply(c, h, out, len);
out:
	if (ret)
		answer(c, h, ret);
	free(blob);
}

/* XS_GET_PERMS (also on @introduceDomain / @releaseDomain) */
static void do_get_perms(struct xsd_conn *c, const struct xsd_sockmsg *h, char *p,
			 struct xsd_tree *t)
{
	char *v[1], *path, buf[MAX_ARGS * 16]; /* SET_PERMS takes at most MAX_ARGS - 1 */
	const struct xsd_perm *perm;
	unsigned int nperm, *np;
	struct xsd_node *n;
	int ret;

	if (split(p, h->len, v, 1) != 1) {
		answer(c, h, -EINVAL);
		return;
	}
	if (v[0][0] == '@') {
		perm = watch_special_perms(v[0], &np);
		if (!perm) {
			answer(c, h, -ENOENT);
			return;
		}
		nperm = *np;
		if (!(store_perm_for(&c->caller, perm, nperm) & XS_PERM_READ)) {
			answer(c, h, -EACCES);
			return;
		}
	} else {
		path = store_canon(c->domid, v[0]);
		if (!path) {
			answer(c, h, -errno);
			return;
		}
		ret = store_get(t, &c->caller, path, XS_PERM_READ, &n);
		free(path);
		if (ret) {
			answer(c, h, ret);
			return;
		}
		perm = n->perm;
		nperm = n->nperm;
	}
	reply(c, h, buf, store_print_perms(perm, nperm, buf));
}

/* XS_SET_PERMS: path, then the permissions, owner first. */
static void do_set_perms(struct xsd_conn *c, const struct xsd_sockmsg *h, char *p,
			 struct xsd_tree *t, struct xsd_txn *txn)
{
	char *v[MAX_ARGS], *path = NULL;
	struct xsd_perm perm[MAX_ARGS];
	unsigned int *np;
	struct xsd_perm *sp;
	int n = split(p, h->len, v, MAX_ARGS), ret;

	if (n < 2) {
		/* NUL-terminated but too many entries: the quota error. */
		answer(c, h, n < 0 && h->len && !p[h->len - 1] ? -ENOSPC : -EINVAL);
		return;
	}
	ret = store_parse_perms(v + 1, (unsigned)n - 1, perm);
	if (ret)
		goto out;
	if (v[0][0] == '@') {
		sp = watch_special_perms(v[0], &np);
		if (!sp)
			ret = -ENOENT;
		else if (!xsd_priv(&c->caller))
			ret = -EACCES;
		else if (n - 1 > XSD_QUOTA_PERMS + 1)
			ret = -ENOSPC;
		else {
			memcpy(sp, perm, (size_t)(n - 1) * sizeof(*perm));
			*np = (unsigned)n - 1;
		}
		goto out;
	}
	path = store_canon(c->domid, v[0]);
	if (!path) {
		ret = -errno;
		goto out;
	}
	ret = store_set_perms(t, &c->caller, path, perm, (unsigned)n - 1);
	if (!ret && txn)
		ret = txn_log(txn, TXN_PERMS, path, NULL, 0, perm, (unsigned)n - 1);
out:
	answer(c, h, ret);
	free(path);
}

/* XS_WATCH / XS_UNWATCH: path, token. */
static void do_watch(struct xsd_conn *c, const struct xsd_sockmsg *h, char *p, bool add)
{
	char *v[2];
	int ret;

	if (split(p, h->len, v, 2) != 2) {
		answer(c, h, -EINVAL);
		return;
	}
	ret = add ? watch_add(c, v[0], v[1]) : watch_del(c, v[0], v[1]);
	answer(c, h, ret);
	if (!ret && add)
		watch_fire_initial(c);
}

/* XS_TRANSACTION_START */
static void do_txn_start(struct xsd_conn *c, const struct xsd_sockmsg *h, char *p)
{
	char *v[1], buf[16];
	uint32_t id;
	int ret;

	if (split(p, h->len, v, 1) != 1) {
		answer(c, h, -EINVAL);
		return;
	}
	ret = txn_start(c, &id);
	if (ret) {
		answer(c, h, ret);
		return;
	}
	reply(c, h, buf, (size_t)snprintf(buf, sizeof(buf), "%u", id) + 1);
}

/* XS_TRANSACTION_END: "T" commit, "F" abort. */
static void do_txn_end(struct xsd_conn *c, const struct xsd_sockmsg *h, char *p,
		       struct xsd_txn *txn)
{
	char *v[1];

	if (split(p, h->len, v, 1) != 1 || (strcmp(v[0], "T") && strcmp(v[0], "F"))) {
		answer(c, h, -EINVAL);
		return;
	}
	answer(c, h, txn_end(c, txn, !strcmp(v[0], "T")));
}

/* The domain named by the single domid argument of a privileged request. */
static int domain_arg(struct xsd_conn *c, const struct xsd_sockmsg *h, char *p, int nargs,
		      char **v, struct sim_domain **d)
{
	unsigned int id;

	if (!xsd_priv(&c->caller))
		return -EACCES;
	if (split(p, h->len, v, nargs) != nargs || parse_domid(v[0], &id))
		return -EINVAL;
	*d = dom_by_id(id);
	return *d ? 0 : -ENOENT;
}

/* XS_INTRODUCE / XS_RELEASE / XS_RESUME / XS_SET_TARGET: dom0 only. */
static void do_domain_op(struct xsd_conn *c, const struct xsd_sockmsg *h, char *p)
{
	char *v[3];
	struct sim_domain *d;
	unsigned int tid;
	int ret;

	switch (h->type) {
	case XS_INTRODUCE:
		ret = domain_arg(c, h, p, 3, v, &d);
		if (!ret && !d->introduced) {
			d->introduced = true;
			watch_fire_special("@introduceDomain");
		}
		break;
	case XS_RELEASE:
		ret = domain_arg(c, h, p, 1, v, &d);
		if (!ret && d->id == 0)
			ret = -EINVAL;
		else if (!ret && d->introduced) {
			d->introduced = false;
			watch_fire_special("@releaseDomain");
		}
		break;
	case XS_RESUME:
		ret = domain_arg(c, h, p, 1, v, &d);
		break;
	default: /* XS_SET_TARGET */
		ret = domain_arg(c, h, p, 2, v, &d);
		if (!ret && (parse_domid(v[1], &tid) || !dom_by_id(tid)))
			ret = -ENOENT;
		if (!ret) {
			d->target = (int)tid;
			for (struct xsd_conn *o = xsd_conns; o; o = o->next)
				if (o->domid == d->id)
					o->caller.target = (int)tid;
		}
		break;
	}
	answer(c, h, ret);
}

/* XS_GET_DOMAIN_PATH / XS_IS_DOMAIN_INTRODUCED: anybody may ask. */
static void do_domain_query(struct xsd_conn *c, const struct xsd_sockmsg *h, char *p)
{
	char *v[1], buf[32];
	unsigned int id;
	struct sim_domain *d;

	if (split(p, h->len, v, 1) != 1 || parse_domid(v[0], &id)) {
		answer(c, h, -EINVAL);
		return;
	}
	if (h->type == XS_GET_DOMAIN_PATH) {
		reply(c, h, buf, (size_t)snprintf(buf, sizeof(buf), "/local/domain/%u", id) + 1);
		return;
	}
	d = dom_by_id(id);
	reply(c, h, d && d->introduced ? "T" : "F", 2);
}

/* XS_CONTROL: dom0 only; "print TEXT" logs, "help" lists, anything else EINVAL. */
static void do_control(struct xsd_conn *c, const struct xsd_sockmsg *h, char *p)
{
	static const char help[] = "Valid commands:\nprint <string>\nhelp\n";
	size_t clen = strnlen(p, h->len);

	if (!xsd_priv(&c->caller)) {
		answer(c, h, -EACCES);
		return;
	}
	if (clen == h->len) {
		answer(c, h, -EINVAL);
		return;
	}
	if (!strcmp(p, "print")) {
		sim_log("xenstore: control print: %.*s", (int)(h->len - clen - 1), p + clen + 1);
		answer(c, h, 0);
	} else if (!strcmp(p, "help")) {
		reply(c, h, help, sizeof(help));
	} else {
		answer(c, h, -EINVAL);
	}
}

/* Serve request h with NUL-terminated payload p on connection c. */
void ops_handle(struct xsd_conn *c, const struct xsd_sockmsg *h, char *p)
{
	struct xsd_txn *txn = NULL;
	struct xsd_tree *t = &xsd_main;

	sim_dbg("xenstore: dom%u req %u type %u tx %u len %u", c->domid, h->req_id, h->type,
		h->tx_id, h->len);
	switch (h->type) {
	case XS_READ: case XS_WRITE: case XS_MKDIR: case XS_RM: case XS_DIRECTORY:
	case XS_DIRECTORY_PART: case XS_GET_PERMS: case XS_SET_PERMS: case XS_TRANSACTION_END:
		if (!h->tx_id)
			break;
		txn = txn_find(c, h->tx_id);
		if (!txn) {
			answer(c, h, -ENOENT);
			return;
		}
		if (h->type != XS_TRANSACTION_END && txn_too_big(txn)) {
			answer(c, h, -ENOSPC);
			return;
		}
		t = txn_tree(txn);
		break;
	default:
		break;
	}
	switch (h->type) {
	case XS_READ: do_read(c, h, p, t); break;
	case XS_WRITE: do_write(c, h, p, t, txn); break;
	case XS_MKDIR: do_mkdir(c, h, p, t, txn); break;
	case XS_RM: do_rm(c, h, p, t, txn); break;
	case XS_DIRECTORY: do_directory(c, h, p, t); break;
	case XS_DIRECTORY_PART: do_directory_part(c, h, p, t); break;
	case XS_GET_PERMS: do_get_perms(c, h, p, t); break;
	case XS_SET_PERMS: do_set_perms(c, h, p, t, txn); break;
	case XS_WATCH: do_watch(c, h, p, true); break;
	case XS_UNWATCH: do_watch(c, h, p, false); break;
	case XS_TRANSACTION_START: do_txn_start(c, h, p); break;
	case XS_TRANSACTION_END:
		if (!txn)
			answer(c, h, -ENOENT);
		else
			do_txn_end(c, h, p, txn);
		break;
	case XS_INTRODUCE: case XS_RELEASE: case XS_RESUME: case XS_SET_TARGET:
		do_domain_op(c, h, p);
		break;
	case XS_GET_DOMAIN_PATH: case XS_IS_DOMAIN_INTRODUCED: do_domain_query(c, h, p); break;
	case XS_RESET_WATCHES:
		watch_del_all(c);
		txn_del_all(c);
		answer(c, h, 0);
		break;
	case XS_CONTROL: do_control(c, h, p); break;
	default:
		/* Unknown types, and XS_WATCH_EVENT / XS_ERROR sent by a client. */
		answer(c, h, -EINVAL);
		break;
	}
}
