/*
 * Engines shipped as loadable modules: an engine whose library a Xen host without that
 * storage should not need (rbd: librbd and librados, tens of MB of Ceph) lives in its own
 * shared object, ENGINE.so in the engine directory, packaged apart, and is loaded when a
 * spec first names it. The module exports its struct storage_ops as storage_ENGINE_ops and
 * calls nothing of the core: everything it needs comes through the structs it is given.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../blkback/version.h"
#include "storage.h"

/* Where make install puts the modules: $(LIBDIR)/blkbackd/engines. */
#ifndef BLKBACK_ENGINE_DIR
#define BLKBACK_ENGINE_DIR "/usr/local/lib/blkbackd/engines"
#endif

/* The engines that are modules, and the Debian package that ships each. */
static const struct module {
	const char *name;
	const char *package;
	const char *usage;	/* its accepted form, for errors that list them all */
} modules[] = {
	{ "rbd", "blkbackd-rbd", "rbd:POOL/IMAGE[@SNAP][,mon_host=ADDRS][,conf=FILE][,id=CLIENT]"
	  "[,keyring=FILE][,timeout=SECONDS][,ro]" },
};

#define N_MODULES (sizeof(modules) / sizeof(modules[0]))

/* Modules loaded so far: kept for the life of the process (librados does not unload). */
static const struct storage_ops *loaded[N_MODULES];
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * The directory the modules are loaded from: $BLKBACKD_ENGINE_DIR when set (the tests run
 * the build tree's modules so; see blkbackd(8)), else the one make install fills.
 */
static const char *engine_dir(void)
{
	const char *dir = getenv("BLKBACKD_ENGINE_DIR");

	return dir && *dir ? dir : BLKBACK_ENGINE_DIR;
}

/* Append the accepted form of every loadable engine to a message. */
void storage_module_usage(char *err, size_t errlen)
{
	for (size_t i = 0; i < N_MODULES; i++) {
		size_t len = strlen(err);

		snprintf(err + len, errlen - len, " %s", modules[i].usage);
	}
}

/* Load the module of a loadable engine; NULL, and why in err, if it cannot be loaded. */
const struct storage_ops *storage_module_load(const char *name, char *err, size_t errlen)
{
	const struct storage_ops *ops = NULL;
	char path[1024], sym[64];
	const char *version;
	const uint32_t *abi;
	size_t i;
	void *h;

	for (i = 0; i < N_MODULES && strcmp(modules[i].name, name); i++)
		;
	if (i == N_MODULES)
		return NULL;		/* not an engine at all: err stays empty */
	pthread_mutex_lock(&load_lock);
	if (loaded[i])
		goto out;
	snprintf(path, sizeof(path), "%s/%s.so", engine_dir(), name);
	snprintf(sym, sizeof(sym), "storage_%s_ops", name);
	/* A module not installed is the common case: say that, not dlopen's words for it. */
	if (access(path, F_OK)) {
		if (errlen)
			snprintf(err, errlen, "the %s engine is not installed (no %s): install the "
				 "%s package", name, path, modules[i].package);
		goto out;
	}
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		if (errlen)
			snprintf(err, errlen, "cannot load the %s engine: %s (is the %s package "
				 "complete, with its libraries?)", name, dlerror(), modules[i].package);
		goto out;
	}
	ops = dlsym(h, sym);
	version = dlsym(h, "storage_module_version");
	if (!version || strcmp(version, BLKBACK_VERSION)) {
		if (errlen)
			snprintf(err, errlen, "cannot load the %s engine: %s is of blkbackd %s, not "
				 "of this blkbackd %s: install the %s package of the same version",
				 name, path, version ? version : "(unknown)", BLKBACK_VERSION,
				 modules[i].package);
		dlclose(h);
		ops = NULL;
		goto out;
	}
	abi = dlsym(h, "storage_module_abi");
	if (!abi || *abi != STORAGE_MODULE_ABI) {
		if (errlen)
			snprintf(err, errlen, "cannot load the %s engine: %s was built against other "
				 "headers than this blkbackd (layout %#x, not %#x): rebuild both, or "
				 "install the %s package that came with this blkbackd", name, path,
				 abi ? *abi : 0, STORAGE_MODULE_ABI, modules[i].package);
		dlclose(h);
		ops = NULL;
		goto out;
	}
	if (!ops || strcmp(ops->name, name)) {
		if (errlen)
			snprintf(err, errlen, "cannot load the %s engine: %s has no %s: not a "
				 "module of this blkbackd", name, path, sym);
		dlclose(h);
		ops = NULL;
		goto out;
	}
	loaded[i] = ops;
out:
	ops = loaded[i];
	pthread_mutex_unlock(&load_lock);
	return ops;
}
