/* The ring journal: a shared mapping of a run-directory file that outlives the daemon. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"

#define JOURNAL_MAGIC 0x314a4b42u	/* "BKJ1" */

struct journal_file {
	uint32_t magic;
	uint32_t nslots;
	struct journal_key key;
	RING_IDX req_cons;		/* every request before it is in a slot */
	uint32_t _pad;
	struct journal_slot slot[];
};

/* Bytes of a journal file of nslots slots. */
static size_t journal_bytes(unsigned int nslots)
{
	return sizeof(struct journal_file) + (size_t)nslots * sizeof(struct journal_slot);
}

/* Map path's first len bytes, shared; -errno. */
static int journal_map(struct journal *j, int fd, unsigned int nslots)
{
	void *p = mmap(NULL, journal_bytes(nslots), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	j->f = p;
	j->nslots = nslots;
	return 0;
}

/* Create (truncating) the journal of a ring. */
int journal_create(struct journal *j, const char *path, const struct journal_key *key,
		   unsigned int nslots)
{
	int fd, err;

	memset(j, 0, sizeof(*j));
	if (!path)
		return 0;
	j->path = strdup(path);
	if (!j->path)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	err = ftruncate(fd, (off_t)journal_bytes(nslots)) ? -errno : journal_map(j, fd, nslots);
	close(fd);
	if (err)
		goto fail;
	j->f->nslots = nslots;
	j->f->key = *key;
	/* The magic last: a half-made file is never taken for a journal. */
	__atomic_store_n(&j->f->magic, JOURNAL_MAGIC, __ATOMIC_RELEASE);
	return 0;
fail:
	journal_close(j, true);
	return err;
}

/* Open the journal a killed daemon left, if it belongs to key. */
int journal_open(struct journal *j, const char *path, const struct journal_key *key,
		 unsigned int nslots)
{
	struct stat st;
	int fd, err;

	memset(j, 0, sizeof(*j));
	if (!path)
		return -ENOENT;
	j->path = strdup(path);
	if (!j->path)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	err = fstat(fd, &st) ? -errno :
	      (size_t)st.st_size != journal_bytes(nslots) ? -ESTALE : journal_map(j, fd, nslots);
	close(fd);
	if (err)
		goto fail;
	if (j->f->magic != JOURNAL_MAGIC || j->f->nslots != nslots ||
	    memcmp(&j->f->key, key, sizeof(*key))) {
		err = -ESTALE;
		goto fail;
	}
	return 0;
fail:
	free(j->path);
	j->path = NULL;
	if (j->f)
		munmap(j->f, journal_bytes(j->nslots));
	j->f = NULL;
	return err;
}

/* The consumer index recorded. */
RING_IDX journal_req_cons(const struct journal *j)
{
	return j->f ? j->f->req_cons : 0;
}

/* Slot k, for recovery. */
const struct journal_slot *journal_slot(const struct journal *j, unsigned int k)
{
	return &j->f->slot[k];
}

/*
 * The stores below are ordered with release semantics: a daemon killed at any
 * instruction leaves a journal whose state fields describe data already written.
 * A process's stores reach the shared page before it dies, so no flush is needed.
 */

/* A request was copied off index idx into slot k. */
void journal_take(struct journal *j, unsigned int k, RING_IDX idx, const blkif_request_t *req)
{
	struct journal_slot *s;

	if (!j->f)
		return;
	s = &j->f->slot[k];
	s->idx = idx;
	s->req = *req;
	__atomic_store_n(&s->state, JSLOT_TAKEN, __ATOMIC_RELEASE);
}

/* Every request before req_cons is in a slot. */
void journal_set_req_cons(struct journal *j, RING_IDX req_cons)
{
	if (j->f)
		__atomic_store_n(&j->f->req_cons, req_cons, __ATOMIC_RELEASE);
}

/* Slot k's response was written at ring index rsp_idx (not yet published). */
void journal_answer(struct journal *j, unsigned int k, RING_IDX rsp_idx)
{
	if (!j->f)
		return;
	j->f->slot[k].rsp_idx = rsp_idx;
	__atomic_store_n(&j->f->slot[k].state, JSLOT_ANSWERED, __ATOMIC_RELEASE);
}

/* Slot k's response was published. */
void journal_free_slot(struct journal *j, unsigned int k)
{
	if (j->f)
		__atomic_store_n(&j->f->slot[k].state, JSLOT_FREE, __ATOMIC_RELEASE);
}

/* Unmap the journal; with remove, delete its file too. */
void journal_close(struct journal *j, bool remove)
{
	if (j->f)
		munmap(j->f, journal_bytes(j->nslots));
	j->f = NULL;
	if (j->path && remove)
		unlink(j->path);
	free(j->path);
	j->path = NULL;
}
