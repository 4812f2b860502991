/* The version every tool prints with --version: the one place it is written. */
#ifndef BLKBACK_VERSION_H
#define BLKBACK_VERSION_H

#include <stdio.h>

#define BLKBACK_VERSION "0.9.0"

/* Print "PROG VERSION" on stdout, for --version. */
static inline void version_print(const char *prog)
{
	printf("%s %s\n", prog, BLKBACK_VERSION);
}

#endif
