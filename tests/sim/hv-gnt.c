/*
 * hv-gnt.c: xensim's grant tables checked against what Xen enforces, through the real
 * libxengnttab API: wrong grantee, read-only grants, bad refs, batch maps, grant copy
 * statuses, pages kept alive while mapped, set_max_grants, unmap notification at unmap and
 * at process death, destroy revoking grants; plus map/unmap round trip timings.
 * usage: hv-gnt XENSIM DOM2NAME   (domains 0, 1 and 2 = DOM2NAME exist; XENSIM_DIR set)
 */
#include "hv-test.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#define PG 4096
#define BATCH 352

static const struct xensim_counters *cnt;

/* A grant table handle acting as domain dom. */
static xengnttab_handle *gt(unsigned int dom)
{
	hv_as(dom);
	return xengnttab_open(NULL, 0);
}

/* A grant sharing handle acting as domain dom. */
static xengntshr_handle *gs(unsigned int dom)
{
	hv_as(dom);
	return xengntshr_open(NULL, 0);
}

/* Read-only grants, wrong grantees and bad refs are refused as by Xen + gntdev. */
static void test_checks(xengnttab_handle *g0, xengntshr_handle *s1)
{
	uint32_t ref, ref2, bad = 40000, unused = 30000;
	char *shr, *shr2, *m;
	uint64_t err0 = cnt->dom[0].map_errors;

	shr = xengntshr_share_pages(s1, 0, 1, &ref, 0);
	CHECK(shr, "share a read-only page");
	shr2 = xengntshr_share_pages(s1, 2, 1, &ref2, 1);
	CHECK(shr2, "share a page with dom2");
	if (!shr || !shr2)
		return;
	strcpy(shr, "read-only data");
	errno = 0;
	m = xengnttab_map_grant_ref(g0, 1, ref, PROT_READ | PROT_WRITE);
	CHECK(!m && errno == EINVAL, "writable map of a read-only grant must fail EINVAL");
	m = xengnttab_map_grant_ref(g0, 1, ref, PROT_READ);
	CHECK(m && !strcmp(m, "read-only data"), "read-only map shows the data");
	if (m) {
		CHECK(mprotect(m, PG, PROT_READ | PROT_WRITE) != 0,
		      "a read-only map cannot be made writable");
		CHECK(xengnttab_unmap(g0, m, 2) == -1 && errno == EINVAL, "unmap with a wrong count");
		CHECK(xengnttab_unmap(g0, m, 1) == 0, "unmap");
	}
	m = xengnttab_map_grant_ref(g0, 1, ref2, PROT_READ);
	CHECK(!m && errno == EINVAL, "map of a grant to another domain must fail");
	m = xengnttab_map_grant_ref(g0, 1, bad, PROT_READ);
	CHECK(!m && errno == EINVAL, "map of ref beyond the table must fail");
	m = xengnttab_map_grant_ref(g0, 1, unused, PROT_READ);
	CHECK(!m && errno == EINVAL, "map of an unused ref must fail");
	m = xengnttab_map_grant_ref(g0, 999, 8, PROT_READ);
	CHECK(!m && errno == EINVAL, "map from a domain that does not exist must fail");
	CHECK(cnt->dom[0].map_errors - err0 == 5, "map_errors counted: %llu",
	      (unsigned long long)(cnt->dom[0].map_errors - err0));
	CHECK(xengntshr_unshare(s1, shr, 1) == 0 && xengntshr_unshare(s1, shr2, 1) == 0,
	      "unshare");
	m = xengnttab_map_grant_ref(g0, 1, ref, PROT_READ);
	CHECK(!m && errno == EINVAL, "map of an ended grant must fail");
}

/* A batch of pages maps into one contiguous range; one bad ref fails it all. */
static void test_batch(xengnttab_handle *g0, xengntshr_handle *s1)
{
	uint32_t refs[BATCH];
	uint64_t maps0 = cnt->dom[0].maps, unmaps0 = cnt->dom[0].unmaps;
	char *shr = xengntshr_share_pages(s1, 0, BATCH, refs, 1), *m;
	double t;
	int n;

	CHECK(shr, "share %d pages", BATCH);
	if (!shr)
		return;
	for (int i = 0; i < BATCH; i++)
		shr[i * PG] = (char)i;
	m = xengnttab_map_domain_grant_refs(g0, BATCH, 1, refs, PROT_READ | PROT_WRITE);
	CHECK(m, "map %d pages", BATCH);
	if (m) {
		int ok = 1;

		for (int i = 0; i < BATCH; i++)
			ok &= m[i * PG] == (char)i;
		CHECK(ok, "the mapped pages are the shared pages, in order");
		m[5 * PG + 7] = 'x';
		CHECK(shr[5 * PG + 7] == 'x', "a write through the map shows in the share");
		CHECK(xengnttab_unmap(g0, m, BATCH) == 0, "unmap the batch");
	}
	CHECK(cnt->dom[0].maps - maps0 == BATCH && cnt->dom[0].unmaps - unmaps0 == BATCH,
	      "maps/unmaps counted");
	refs[100] = 40000;
	m = xengnttab_map_domain_grant_refs(g0, BATCH, 1, refs, PROT_READ);
	CHECK(!m && errno == EINVAL, "one bad ref fails the whole batch");
	CHECK(cnt->dom[0].maps - maps0 == BATCH, "a refused batch maps nothing");
	refs[100] = refs[99] + 1;

	/* Round trip timings. */
	for (n = 0, t = hv_now(); hv_now() - t < 0.5; n++) {
		m = xengnttab_map_grant_ref(g0, 1, refs[0], PROT_READ | PROT_WRITE);
		xengnttab_unmap(g0, m, 1);
	}
	printf("map+unmap of 1 page: %.1f us\n", (hv_now() - t) / n * 1e6);
	for (n = 0, t = hv_now(); hv_now() - t < 0.5; n++) {
		m = xengnttab_map_domain_grant_refs(g0, BATCH, 1, refs, PROT_READ | PROT_WRITE);
		xengnttab_unmap(g0, m, BATCH);
	}
	printf("map+unmap of %d pages: %.1f us\n", BATCH, (hv_now() - t) / n * 1e6);
	{
		static xengnttab_grant_copy_segment_t seg[BATCH];
		static char buf[BATCH * PG];

		for (int i = 0; i < BATCH; i++)
			seg[i] = (xengnttab_grant_copy_segment_t){ .source.foreign = { refs[i], 0, 1 },
								   .dest.virt = buf + i * PG,
								   .len = PG,
								   .flags = GNTCOPY_source_gref };
		for (n = 0, t = hv_now(); hv_now() - t < 0.5; n++)
			xengnttab_grant_copy(g0, BATCH, seg);
		CHECK(seg[BATCH - 1].status == GNTST_okay && buf[5 * PG + 7] == 'x',
		      "grant copy of the batch");
		printf("grant copy of %d pages: %.1f us\n", BATCH, (hv_now() - t) / n * 1e6);
	}
	CHECK(xengntshr_unshare(s1, shr, BATCH) == 0, "unshare the batch");
}

/* A page ungranted while mapped lives on, and is not handed out again meanwhile. */
static void test_alive(xengnttab_handle *g0, xengntshr_handle *s1)
{
	uint32_t ref, refs[64];
	char *shr = xengntshr_share_pages(s1, 0, 1, &ref, 1), *m, *fresh;
	int zero = 1;

	CHECK(shr, "share");
	if (!shr)
		return;
	strcpy(shr, "still here");
	m = xengnttab_map_grant_ref(g0, 1, ref, PROT_READ | PROT_WRITE);
	CHECK(m, "map");
	CHECK(xengntshr_unshare(s1, shr, 1) == 0, "unshare while mapped");
	if (!m)
		return;
	CHECK(!strcmp(m, "still here"), "the mapped page keeps its data after the unshare");
	fresh = xengntshr_share_pages(s1, 0, 64, refs, 1);
	CHECK(fresh, "share 64 more");
	if (fresh) {
		for (int i = 0; i < 64 * PG; i++)
			zero &= fresh[i] == 0;
		CHECK(zero, "fresh shared pages are zeroed (the old page was not reused)");
		memset(fresh, 0x5a, 64 * PG);
		CHECK(!strcmp(m, "still here"), "writes to new pages do not reach the old one");
		xengntshr_unshare(s1, fresh, 64);
	}
	CHECK(xengnttab_unmap(g0, m, 1) == 0, "unmap");
}

/* set_max_grants bounds what a handle maps at once. */
static void test_max(xengntshr_handle *s1)
{
	xengnttab_handle *g = gt(0);
	uint32_t refs[5];
	char *shr = xengntshr_share_pages(s1, 0, 5, refs, 1), *m;

	CHECK(g && shr, "open + share");
	if (!g || !shr)
		return;
	CHECK(xengnttab_set_max_grants(g, 4) == 0, "set_max_grants");
	m = xengnttab_map_domain_grant_refs(g, 5, 1, refs, PROT_READ);
	CHECK(!m, "mapping 5 pages with a limit of 4 must fail");
	m = xengnttab_map_domain_grant_refs(g, 4, 1, refs, PROT_READ);
	CHECK(m, "mapping 4 pages with a limit of 4");
	CHECK(!xengnttab_map_grant_ref(g, 1, refs[4], PROT_READ), "a 5th page must fail");
	xengnttab_close(g);
	xengntshr_unshare(s1, shr, 5);
}

/* Grant copy: per-segment GNTST_* statuses, and the bytes. */
static void test_copy(xengnttab_handle *g0, xengntshr_handle *s1)
{
	uint32_t ro, rw, other;
	char *p_ro = xengntshr_share_pages(s1, 0, 1, &ro, 0);
	char *p_rw = xengntshr_share_pages(s1, 0, 1, &rw, 1);
	char *p_other = xengntshr_share_pages(s1, 2, 1, &other, 1);
	char local[PG * 2], back[64];
	xengnttab_grant_copy_segment_t seg[7];
	uint64_t copies0 = cnt->dom[0].copies;

	CHECK(p_ro && p_rw && p_other, "share pages");
	if (!p_ro || !p_rw || !p_other)
		return;
	strcpy(p_ro + 100, "from a read-only grant");
	strcpy(local + PG - 5, "crossing a page");
	memset(seg, 0, sizeof(seg));
	/* 0: read from ro into local memory: ok */
	seg[0] = (xengnttab_grant_copy_segment_t){ .source.foreign = { ro, 100, 1 },
						   .dest.virt = back, .len = 23,
						   .flags = GNTCOPY_source_gref };
	/* 1: write local (crossing a local page) into rw: ok */
	seg[1] = (xengnttab_grant_copy_segment_t){ .source.virt = local + PG - 5,
						   .dest.foreign = { rw, 4000, 1 }, .len = 16,
						   .flags = GNTCOPY_dest_gref };
	/* 2: write into the ro grant: refused */
	seg[2] = (xengnttab_grant_copy_segment_t){ .source.virt = local,
						   .dest.foreign = { ro, 0, 1 }, .len = 8,
						   .flags = GNTCOPY_dest_gref };
	/* 3: bad ref */
	seg[3] = (xengnttab_grant_copy_segment_t){ .source.foreign = { 40000, 0, 1 },
						   .dest.virt = local, .len = 8,
						   .flags = GNTCOPY_source_gref };
	/* 4: granted to dom2, not to us */
	seg[4] = (xengnttab_grant_copy_segment_t){ .source.foreign = { other, 0, 1 },
						   .dest.virt = local, .len = 8,
						   .flags = GNTCOPY_source_gref };
	/* 5: no such domain */
	seg[5] = (xengnttab_grant_copy_segment_t){ .source.foreign = { ro, 0, 999 },
						   .dest.virt = local, .len = 8,
						   .flags = GNTCOPY_source_gref };
	/* 6: grant to grant: ro -> rw */
	seg[6] = (xengnttab_grant_copy_segment_t){ .source.foreign = { ro, 100, 1 },
						   .dest.foreign = { rw, 0, 1 }, .len = 23,
						   .flags = GNTCOPY_source_gref | GNTCOPY_dest_gref };
	CHECK(xengnttab_grant_copy(g0, 7, seg) == 0, "grant copy");
	CHECK(seg[0].status == GNTST_okay && !strcmp(back, "from a read-only grant"),
	      "copy from a grant: %d", seg[0].status);
	CHECK(seg[1].status == GNTST_okay && !strcmp(p_rw + 4000, "crossing a page"),
	      "copy into a grant: %d", seg[1].status);
	CHECK(seg[2].status == GNTST_general_error, "write to ro: %d", seg[2].status);
	CHECK(seg[3].status == GNTST_bad_gntref, "bad ref: %d", seg[3].status);
	CHECK(seg[4].status == GNTST_general_error, "not our grant: %d", seg[4].status);
	CHECK(seg[5].status == GNTST_bad_domain, "no such domain: %d", seg[5].status);
	CHECK(seg[6].status == GNTST_okay && !strcmp(p_rw, "from a read-only grant"),
	      "grant to grant: %d", seg[6].status);
	CHECK(cnt->dom[0].copies - copies0 == 3, "copies counted: %llu",
	      (unsigned long long)(cnt->dom[0].copies - copies0));
	seg[0].source.foreign.offset = PG - 4;
	CHECK(xengnttab_grant_copy(g0, 1, seg) == -1 && errno == EINVAL,
	      "a grant side crossing its page fails the call");
	xengntshr_unshare(s1, p_ro, 1);
	xengntshr_unshare(s1, p_rw, 1);
	xengntshr_unshare(s1, p_other, 1);
}

/* Wait for an event on port of x (up to 10 s); 1 if it came. */
static int got_event(xenevtchn_handle *x, evtchn_port_t port)
{
	if (!hv_readable(xenevtchn_fd(x), 10000))
		return 0;
	if (xenevtchn_pending(x) != (int)port)
		return 0;
	xenevtchn_unmask(x, port);
	return 1;
}

/* A bound pair of ports: *pa in domain a (handle *xa), *pb in domain b. */
static void port_pair(unsigned a, unsigned b, xenevtchn_handle **xa, xenevtchn_handle **xb,
		      evtchn_port_t *pa, evtchn_port_t *pb)
{
	hv_as(a);
	*xa = xenevtchn_open(NULL, 0);
	hv_as(b);
	*xb = xenevtchn_open(NULL, 0);
	*pa = (evtchn_port_t)xenevtchn_bind_unbound_port(*xa, b);
	*pb = (evtchn_port_t)xenevtchn_bind_interdomain(*xb, a, *pa);
	/* Drain the bind-time event Xen sets on the new port. */
	if (hv_readable(xenevtchn_fd(*xb), 0) && xenevtchn_pending(*xb) == (int)*pb)
		xenevtchn_unmask(*xb, *pb);
}

/* Unmap notification on unmap and at process death, both directions. */
static void test_notify(xengntshr_handle *s1)
{
	xenevtchn_handle *x1, *x0;
	evtchn_port_t p1, p0;
	uint32_t ref;
	char *shr = xengntshr_share_pages(s1, 0, 1, &ref, 1), *m;
	int sync[2], status;
	pid_t pid;

	port_pair(1, 0, &x1, &x0, &p1, &p0);
	CHECK(shr && x1 && x0, "setup");
	if (!shr || !x1 || !x0 || pipe(sync))
		return;
	/* dom0 maps with notify through p0, then unmaps: byte cleared, dom1 gets p1. */
	shr[100] = 1;
	{
		xengnttab_handle *g = gt(0);

		m = xengnttab_map_grant_ref_notify(g, 1, ref, PROT_READ | PROT_WRITE, 100, p0);
		CHECK(m, "map with notify");
		CHECK(xengnttab_unmap(g, m, 1) == 0, "unmap");
		CHECK(shr[100] == 0, "the unmap cleared the byte");
		CHECK(got_event(x1, p1), "the unmap sent the event");
		xengnttab_close(g);
	}
	/* The same from a child killed while it maps. */
	shr[100] = 1;
	pid = fork();
	if (pid == 0) {
		xengnttab_handle *g = gt(0);
		xenevtchn_handle *x;
		evtchn_port_t p;

		hv_as(0);
		x = xenevtchn_open(NULL, 0);
		p = (evtchn_port_t)xenevtchn_bind_unbound_port(x, 1);
		m = g && x ? xengnttab_map_grant_ref_notify(g, 1, ref, PROT_READ | PROT_WRITE,
							    100, p) : NULL;
		if (write(sync[1], &p, sizeof(p)) != sizeof(p) || !m)
			_exit(1);
		pause();
		_exit(0);
	}
	{
		evtchn_port_t cp = 0, mine;

		CHECK(read(sync[0], &cp, sizeof(cp)) == sizeof(cp), "child ready");
		mine = (evtchn_port_t)xenevtchn_bind_interdomain(x1, 0, cp);
		got_event(x1, mine); /* bind-time event */
		CHECK(shr[100] == 1, "byte still set while the child maps");
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		CHECK(got_event(x1, mine), "the child's death sent the unmap event");
		CHECK(shr[100] == 0, "the child's death cleared the byte");
		xenevtchn_unbind(x1, mine);
	}
	/* The other way: a child in dom1 shares with notify and dies; dom0 maps it. */
	pid = fork();
	if (pid == 0) {
		xengntshr_handle *s = gs(1);
		xenevtchn_handle *x;
		uint32_t r[2];

		hv_as(1);
		x = xenevtchn_open(NULL, 0);
		r[1] = (uint32_t)xenevtchn_bind_unbound_port(x, 0);
		m = s && x ? xengntshr_share_page_notify(s, 0, &r[0], 1, 200, r[1]) : NULL;
		if (m)
			m[200] = 1;
		if (write(sync[1], r, sizeof(r)) != sizeof(r) || !m)
			_exit(1);
		pause();
		_exit(0);
	}
	{
		uint32_t r[2] = { 0, 0 };
		xengnttab_handle *g = gt(0);
		evtchn_port_t mine;

		CHECK(read(sync[0], r, sizeof(r)) == sizeof(r), "child ready");
		m = xengnttab_map_grant_ref(g, 1, r[0], PROT_READ);
		mine = (evtchn_port_t)xenevtchn_bind_interdomain(x0, 1, r[1]);
		got_event(x0, mine);
		CHECK(m && m[200] == 1, "dom0 maps the child's page");
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		CHECK(got_event(x0, mine), "the sharer's death sent the event");
		CHECK(m && m[200] == 0, "the sharer's death cleared the byte");
		CHECK(!xengnttab_map_grant_ref(g, 1, r[0], PROT_READ),
		      "the dead sharer's grant ended");
		if (m)
			xengnttab_unmap(g, m, 1);
		xengnttab_close(g);
	}
	xenevtchn_close(x0);
	xenevtchn_close(x1);
	xengntshr_unshare(s1, shr, 1);
	close(sync[0]);
	close(sync[1]);
}

/* Destroying a domain revokes its grants; pages others map stay until unmapped. A child
 * acts as dom2 (destroying a domain kills its processes). */
static void test_destroy(xengnttab_handle *g0, const char *xensim, const char *dom2)
{
	uint32_t refs[2] = { 0, 0 };
	char *m = NULL, cmd[4096];
	xengnttab_grant_copy_segment_t seg;
	int sync[2], status;
	pid_t pid;

	if (pipe(sync))
		return;
	pid = fork();
	if (pid == 0) {
		xengntshr_handle *s2 = gs(2);
		char *shr = s2 ? xengntshr_share_pages(s2, 0, 2, refs, 1) : NULL;

		if (shr)
			strcpy(shr, "dom2's page");
		if (write(sync[1], refs, sizeof(refs)) != sizeof(refs) || !shr)
			_exit(1);
		pause();
		_exit(0);
	}
	CHECK(read(sync[0], refs, sizeof(refs)) == sizeof(refs), "dom2 shares");
	m = xengnttab_map_grant_ref(g0, 2, refs[0], PROT_READ);
	CHECK(m && !strcmp(m, "dom2's page"), "dom0 maps dom2's page");
	snprintf(cmd, sizeof(cmd), "'%s' destroy '%s'", xensim, dom2);
	CHECK(system(cmd) == 0, "%s", cmd);
	CHECK(m && !strcmp(m, "dom2's page"), "the mapped page outlives its domain");
	CHECK(!xengnttab_map_grant_ref(g0, 2, refs[1], PROT_READ), "its other grant is gone");
	seg = (xengnttab_grant_copy_segment_t){ .source.foreign = { refs[1], 0, 2 },
						.dest.virt = cmd, .len = 8,
						.flags = GNTCOPY_source_gref };
	CHECK(xengnttab_grant_copy(g0, 1, &seg) == 0 && seg.status == GNTST_bad_domain,
	      "copy from a destroyed domain: %d", seg.status);
	if (m)
		CHECK(xengnttab_unmap(g0, m, 1) == 0, "unmap the orphan page");
	kill(pid, SIGKILL);  /* if the destroy did not already */
	waitpid(pid, &status, 0);
	close(sync[0]);
	close(sync[1]);
}

int main(int argc, char **argv)
{
	xengnttab_handle *g0;
	xengntshr_handle *s1;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc != 3 || !getenv("XENSIM_DIR")) {
		fprintf(stderr, "usage: XENSIM_DIR=DIR %s XENSIM DOM2NAME\n", argv[0]);
		return 2;
	}
	cnt = hv_counters_map();
	g0 = gt(0);
	s1 = gs(1);
	if (!cnt || !g0 || !s1) {
		printf("FAIL: cannot open the counters or the handles\n");
		return 1;
	}
	test_checks(g0, s1);
	test_batch(g0, s1);
	test_alive(g0, s1);
	test_max(s1);
	test_copy(g0, s1);
	test_notify(s1);
	test_destroy(g0, argv[1], argv[2]);
	xengnttab_close(g0);
	xengntshr_close(s1);
	return hv_done("hv-gnt");
}
