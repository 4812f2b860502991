/*
 * What the daemon process holds as a whole: counted from /proc/self and the allocator, so
 * that a test can see that attaching and detaching disks leaves nothing behind.
 */
#include <dirent.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "grant.h"
#include "procstat.h"
#include "../storage/storage.h"

/* Built with AddressSanitizer (gcc says so with a macro, clang with __has_feature). */
#if defined(__SANITIZE_ADDRESS__)
#define PROCSTAT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROCSTAT_ASAN 1
#endif
#endif
#ifdef PROCSTAT_ASAN
/* From <sanitizer/allocator_interface.h>, which clang installs and gcc does not. */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* Entries of a /proc/self directory (not . and ..), less the one for our own fd if fds. */
static unsigned int count_entries(const char *path, bool fds)
{
	DIR *dir = opendir(path);
	struct dirent *e;
	unsigned int n = 0;

	if (!dir)
		return 0;
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return fds && n ? n - 1 : n;	/* the directory's own fd was open while we read */
}

/* Bytes of heap handed out and not freed. */
static uint64_t heap_bytes(void)
{
#ifdef PROCSTAT_ASAN
	/* ASan's allocator replaces malloc's, and mallinfo2 knows nothing of it. */
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();

	/* Chunks in use in every arena, and the large ones malloc mmaps on their own. */
	return mi.uordblks + mi.hblkhd;
#endif
}

/* Print the control socket's "daemon" line. */
void procstat_print(FILE *out, unsigned int disks)
{
	fprintf(out, "daemon fds=%u threads=%u heap_bytes=%" PRIu64 " grant_pages=%" PRIu64
		" disks=%u mem_bytes=%" PRIu64 " kept=%u\n", count_entries("/proc/self/fd", true),
		count_entries("/proc/self/task", false), heap_bytes(), grant_pages_mapped(), disks,
		storage_mem_used(), storage_mem_kept_print(NULL));
}
