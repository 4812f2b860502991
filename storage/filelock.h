/* Locks on disk image files, so that no two writers share one by mistake. */
#ifndef STORAGE_FILELOCK_H
#define STORAGE_FILELOCK_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Take an open file description lock on the whole of fd (opened from path): a write
 * lock when write, else a read lock. The lock lasts as long as the open file
 * description: until the last close of fd and the end of any I/O still using it.
 * -EBUSY, with a message naming the holder in err, when another open file holds a
 * lock that conflicts; another -errno, with a message, when the lock cannot be taken.
 */
int file_lock(int fd, const char *path, bool write, char *err, size_t errlen);

#endif
