/*
 * xc.c: xensim's drop-in libxenctrl.so.4.17 (Debian 12's soname, so that blkbackd's run-time
 * load finds it beside the drop-in libxengnttab): only what blkbackd reads of a domain,
 * xc_domain_getinfolist's domain and flags (shut down, and why: 'xensim shutdown'), asked
 * of the simulator's control socket in $XENSIM_DIR. xc_domain_getinfo is there only because
 * programs bound at load (vchan-socket-proxy, -z now) need it resolved: it is not simulated
 * (tests/sim/hv-xcstub.c, preloaded where it is called, says the same).
 */
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xenctrl.h>

/* A handle: the simulator's control socket. */
struct xc_interface_core {
	char control[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Open a handle inside a simulated domain; NULL, saying why, elsewhere. */
XENSIM_API xc_interface *xc_interface_open(xentoollog_logger *logger,
					   xentoollog_logger *dombuild_logger, unsigned open_flags)
{
	const char *dir = getenv("XENSIM_DIR");
	xc_interface *xch;

	(void)dombuild_logger, (void)open_flags;
	if (!dir || !*dir || strlen(dir) + sizeof("/control") > sizeof(xch->control)) {
		hvc_log(logger, "xenctrl", 0, "XENSIM_DIR is not set (or too long). This is "
			"xensim's drop-in libxenctrl: run the program inside a simulated domain "
			"('xensim run DOMAIN -- CMD')");
		errno = ENOENT;
		return NULL;
	}
	xch = calloc(1, sizeof(*xch));
	if (!xch)
		return NULL;
	snprintf(xch->control, sizeof(xch->control), "%s/control", dir);
	return xch;
}

/* Close a handle. */
XENSIM_API int xc_interface_close(xc_interface *xch)
{
	free(xch);
	return 0;
}

/* Ask the simulator "dominfo FIRST MAX"; its answer (malloc'd), or NULL with errno. */
static char *ask(const xc_interface *xch, uint32_t first, unsigned int max)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[64], *out = NULL;
	size_t len = 0, cap = 0;
	int fd, err = 0;

	memcpy(sa.sun_path, xch->control, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto fail;
	snprintf(req, sizeof(req), "dominfo %u %u\n", first, max);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		goto fail;
	for (;;) {
		ssize_t n;

		if (len + 1024 + 1 > cap) {
			char *more = realloc(out, cap = cap ? cap * 2 : 4096);

			if (!more)
				goto fail;
			out = more;
		}
		n = read(fd, out + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (!n)
			break;
		len += (size_t)n;
	}
	close(fd);
	out[len] = '\0';
	if (strncmp(out, "ok\n", 3)) {
		free(out);
		errno = EIO;
		return NULL;
	}
	return out;
fail:
	err = errno ? errno : EIO;
	if (fd >= 0)
		close(fd);
	free(out);
	errno = err;
	return NULL;
}

/* The domains from first_domain on, at most max_domains: domain and flags only. */
XENSIM_API int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain,
				     unsigned int max_domains, xc_domaininfo_t *info)
{
	char *answer = ask(xch, first_domain, max_domains), *p;
	int n = 0;

	if (!answer)
		return -1;
	for (p = answer + 3; *p && (unsigned int)n < max_domains; p = strchr(p, '\n') + 1) {
		unsigned int id, flags;

		if (sscanf(p, "%u %u", &id, &flags) != 2 || !strchr(p, '\n'))
			break;
		memset(&info[n], 0, sizeof(info[n]));
		info[n].domain = (domid_t)id;
		info[n].flags = flags;
		n++;
	}
	free(answer);
	return n;
}

/* Not simulated (see the top): EPERM, as for an unprivileged caller. */
XENSIM_API int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid, unsigned int max_doms,
				 xc_dominfo_t *info)
{
	(void)xch, (void)first_domid, (void)max_doms, (void)info;
	errno = EPERM;
	return -1;
}
