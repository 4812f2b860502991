/*
 * hv-xcstub.c: LD_PRELOAD'ed into vchan-socket-proxy's client only (tests/sim/vchan.sh).
 * Its client path opens libxenctrl unconditionally (connect_vchan), which needs
 * /dev/xen/privcmd, just to ask, if libxenvchan_client_init fails, whether the server's
 * domain is still there. xensim simulates no hypercall interface: the handle opens, and
 * the question fails with EPERM, which the proxy takes as "keep waiting". No grant or
 * event channel call goes through here.
 */
#include <errno.h>
#include <xenctrl.h>

/* A handle that is never used for a hypercall. */
xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dombuild_logger,
				unsigned open_flags)
{
	static char handle;

	(void)logger, (void)dombuild_logger, (void)open_flags;
	return (xc_interface *)&handle;
}

/* Nothing to close. */
int xc_interface_close(xc_interface *xch)
{
	(void)xch;
	return 0;
}

/* Domain information is not simulated: EPERM, like an unprivileged caller. */
int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid, unsigned int max_doms,
		      xc_dominfo_t *info)
{
	(void)xch, (void)first_domid, (void)max_doms, (void)info;
	errno = EPERM;
	return -1;
}
