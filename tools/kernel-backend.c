/*
 * Refuse to serve a kind a kernel backend driver serves, and warn when xen-blkback could
 * load after we start. Facts from Linux: a xenbus backend driver shows as
 * /sys/bus/xen-backend/drivers/<kind> (xen-blkback's is "vbd"); a loadable module as
 * /sys/module/<name> with an initstate file, a built-in one with parameters only; every
 * backend/<kind> device sends a uevent with MODALIAS=xen-backend:<kind>, which makes udev
 * load xen-blkback (alias xen-backend:vbd) unless modprobe.d blacklists it. A blacklist
 * stops such alias loads only: 'modprobe xen-blkback' by name needs an install line.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../blkback/log.h"
#include "kernel-backend.h"

#define MODULE "xen-blkback"
/* The lines that keep it out, as the messages give them. */
#define KEEP_OUT "'blacklist xen-blkback' and 'install xen-blkback /bin/false' in " \
	"/etc/modprobe.d/blkbackd.conf"
#define OTHER_ROUTE "or, on Xen 4.19 and later, serve kind vbd3 (blkbackd's default) and " \
	"give the disks backendtype=tap (see docs/xl.md)"

/* What keeps xen-blkback from loading. */
struct keep_out {
	bool blacklist;		/* no load by alias (udev's, systemd-modules-load's) */
	bool install;		/* no load by name either ('modprobe xen-blkback') */
};

/* The tree the check reads: "" for /, or BLKBACKD_SYSROOT (tests). */
static const char *sysroot(void)
{
	const char *root = getenv(KERNEL_BACKEND_ROOT_ENV);

	return root ? root : "";
}

/* root + rel into buf; false if it does not fit. */
static bool path_of(char *buf, size_t len, const char *rel)
{
	return (size_t)snprintf(buf, len, "%s/%s", sysroot(), rel) < len;
}

/* Does rel exist under the root? */
static bool exists(const char *rel)
{
	char path[PATH_MAX];

	return path_of(path, sizeof(path), rel) && !access(path, F_OK);
}

/* Open rel under the root for reading, or NULL. */
static FILE *open_rel(const char *rel)
{
	char path[PATH_MAX];

	return path_of(path, sizeof(path), rel) ? fopen(path, "re") : NULL;
}

/* Is the n bytes at s the module's name? modprobe treats - and _ alike. */
static bool is_module(const char *s, size_t n)
{
	if (n != strlen(MODULE))
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = s[i] == '_' ? '-' : s[i];

		if (a != MODULE[i])
			return false;
	}
	return true;
}

/* Is the module in a comma-separated list of names? */
static bool in_list(const char *list, size_t len)
{
	while (len) {
		size_t n = strcspn(list, ",");

		if (n > len)
			n = len;
		if (is_module(list, n))
			return true;
		list += n;
		len -= n;
		if (len) {
			list++;
			len--;
		}
	}
	return false;
}

/* The running kernel's release, from the root's /proc (uname on the real one). */
static bool kernel_release(char *buf, size_t len)
{
	FILE *f = open_rel("proc/sys/kernel/osrelease");
	struct utsname u;
	bool ok = false;

	if (f) {
		ok = fgets(buf, (int)len, f) != NULL;
		fclose(f);
		buf[strcspn(buf, "\n")] = '\0';
		return ok && *buf;
	}
	if (*sysroot() || uname(&u))
		return false;
	snprintf(buf, len, "%s", u.release);
	return true;
}

/*
 * Does list (modules.dep or modules.builtin of the running kernel) name the module? Its
 * path into where (for the message). Lines are "kernel/.../xen-blkback.ko[.xz]: deps".
 */
static bool listed(const char *list, char *where, size_t len)
{
	static const char *const dirs[] = { "lib/modules", "usr/lib/modules" };
	char release[128], rel[PATH_MAX], line[1024];
	bool found = false;

	if (!kernel_release(release, sizeof(release)))
		return false;
	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]) && !found; d++) {
		FILE *f;

		snprintf(rel, sizeof(rel), "%s/%s/%s", dirs[d], release, list);
		f = open_rel(rel);
		while (f && !found && fgets(line, sizeof(line), f)) {
			char *end = line + strcspn(line, ":\n"), *base, *ko;

			*end = '\0';
			base = strrchr(line, '/');
			base = base ? base + 1 : line;
			ko = strstr(base, ".ko");
			if (ko && (!ko[3] || ko[3] == '.') &&
			    is_module(base, (size_t)(ko - base))) {
				snprintf(where, len, "/%s/%s/%s", dirs[d], release, line);
				found = true;
			}
		}
		if (f)
			fclose(f);
	}
	return found;
}

/* Read one modprobe.d line: a blacklist or install line for the module. */
static void parse_line(char *line, struct keep_out *k)
{
	char *save = NULL, *cmd = strtok_r(line, " \t\n", &save);
	char *name = cmd ? strtok_r(NULL, " \t\n", &save) : NULL;
	char *rest = name ? strtok_r(NULL, "\n", &save) : NULL;

	if (!name || !is_module(name, strlen(name)))
		return;
	if (!strcmp(cmd, "blacklist"))
		k->blacklist = true;
	/* An install command that runs modprobe --ignore-install loads it all the same. */
	else if (!strcmp(cmd, "install") && rest && !strstr(rest, "--ignore-install") &&
		 !strstr(rest, "insmod"))
		k->install = true;
}

/* Has a file named name been read from a directory read earlier (which overrides it)? */
static bool seen(char (*names)[NAME_MAX + 1], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

/*
 * What modprobe.d says of the module. As kmod reads it: *.conf of these directories, a
 * file in an earlier one hiding a file of the same name in a later one.
 */
static void read_modprobe_d(struct keep_out *k)
{
	static const char *const dirs[] = {
		"etc/modprobe.d", "run/modprobe.d", "usr/local/lib/modprobe.d", "lib/modprobe.d",
		"usr/lib/modprobe.d",
	};
	static char names[256][NAME_MAX + 1];
	size_t n = 0;

	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		char path[PATH_MAX], line[1024];
		DIR *dir = path_of(path, sizeof(path), dirs[d]) ? opendir(path) : NULL;
		struct dirent *e;

		while (dir && (e = readdir(dir))) {
			size_t len = strlen(e->d_name);
			char rel[PATH_MAX];
			FILE *f;

			if (len < 6 || strcmp(e->d_name + len - 5, ".conf") ||
			    seen(names, n, e->d_name))
				continue;
			if (n < sizeof(names) / sizeof(names[0]))
				snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
			snprintf(rel, sizeof(rel), "%s/%s", dirs[d], e->d_name);
			f = open_rel(rel);
			while (f && fgets(line, sizeof(line), f)) {
				line[strcspn(line, "#")] = '\0';
				parse_line(line, k);
			}
			if (f)
				fclose(f);
		}
		if (dir)
			closedir(dir);
	}
}

/* What the kernel command line says: module_blacklist= (the kernel refuses every load),
 * modprobe.blacklist= (kmod's blacklist). */
static void read_cmdline(struct keep_out *k)
{
	FILE *f = open_rel("proc/cmdline");
	char line[4096], *save = NULL;

	if (!f)
		return;
	if (fgets(line, sizeof(line), f)) {
		for (char *w = strtok_r(line, " \t\n", &save); w;
		     w = strtok_r(NULL, " \t\n", &save)) {
			if (!strncmp(w, "module_blacklist=", 17) && in_list(w + 17, strlen(w + 17)))
				k->blacklist = k->install = true;
			else if (!strncmp(w, "modprobe.blacklist=", 19) &&
				 in_list(w + 19, strlen(w + 19)))
				k->blacklist = true;
		}
	}
	fclose(f);
}

/* xen-blkback is not loaded: warn if it could load while we serve kind vbd. */
static void warn_if_loadable(void)
{
	struct keep_out k = { false, false };
	char where[PATH_MAX];

	if (!listed("modules.dep", where, sizeof(where)))
		return;
	read_modprobe_d(&k);
	read_cmdline(&k);
	if (!k.blacklist && !k.install)
		log_warn("xen-blkback is not loaded, but this kernel has it (%s) and nothing "
			 "keeps it out: udev loads it as soon as a vbd device appears (its "
			 "alias is xen-backend:vbd), and Xen's start-up files may load it too; "
			 "it would then act on the disks blkbackd serves. Keep it out with "
			 KEEP_OUT, where);
	else if (!k.install)
		log_warn("xen-blkback is blacklisted, which keeps udev from loading it for a vbd "
			 "device, but 'modprobe xen-blkback' by name (Xen's xencommons script runs "
			 "one) still loads it and it would then act on the disks blkbackd serves: "
			 "add 'install xen-blkback /bin/false' to /etc/modprobe.d/blkbackd.conf");
}

/* Refuse kind when a kernel driver serves it; warn when xen-blkback could load later. */
int kernel_backend_check(const char *kind)
{
	char driver[PATH_MAX];
	bool vbd = !strcmp(kind, "vbd"), loaded, builtin;

	snprintf(driver, sizeof(driver), "sys/bus/xen-backend/drivers/%s", kind);
	loaded = exists("sys/module/xen_blkback/initstate");
	builtin = exists("sys/module/xen_blkback") && !loaded;
	if (!exists(driver) && !(vbd && loaded)) {
		if (vbd && !builtin)
			warn_if_loadable();
		return 0;
	}
	if (!vbd)
		log_err("a kernel driver serves backend kind %s in this domain (/%s exists): "
			"blkbackd --kind %s would fight it over every device, so it does not "
			"start. Serve another kind: vbd3, blkbackd's default, is no kernel "
			"driver's", kind, driver, kind);
	else if (builtin)
		log_err("the kernel's xen-blkback is built into this kernel and serves every disk "
			"under backend/vbd (/%s exists): blkbackd --kind vbd would fight it over "
			"each disk, so it does not start. Boot a kernel that builds it as a module "
			"(CONFIG_XEN_BLKDEV_BACKEND=m), or this one with initcall_blacklist="
			"xen_blkif_init on its command line; " OTHER_ROUTE, driver);
	else
		log_err("the kernel's xen-blkback is loaded and serves every disk under "
			"backend/vbd (/%s exists): blkbackd --kind vbd would fight it over each "
			"disk, so it does not start. Unload it with 'modprobe -r xen-blkback' "
			"(once the disks it serves are detached) and keep it out with " KEEP_OUT
			"; "
			OTHER_ROUTE, exists(driver) ? driver : "sys/module/xen_blkback/initstate");
	return -EBUSY;
}
