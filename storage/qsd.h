/* A qemu-storage-daemon serving one disk image on a private Unix socket (storage/qsd.c). */
#ifndef STORAGE_QSD_H
#define STORAGE_QSD_H

#include <stdbool.h>
#include <stddef.h>

struct qsd;

/* How long a qemu-storage-daemon may take to serve, or to stop, before it is killed. */
#define QSD_START_S 30
#define QSD_STOP_S 10

/* Its NBD export's name. */
#define QSD_EXPORT "disk0"

/*
 * Start qemu-storage-daemon serving image (a file or block device) with qemu's driver
 * format over NBD on a socket in a private directory, read-only or writable, O_DIRECT if
 * direct; return once it serves (its pidfile is written) or has failed. On error nothing is
 * left (no process, socket or directory) and err holds why, with qemu's own message.
 */
int qsd_start(struct qsd **qp, const char *format, const char *image, bool readonly,
	      bool direct, char *err, size_t errlen);

/* Its socket's path. */
const char *qsd_socket(const struct qsd *q);

/* Whether it exited while serving (then the disk's I/O fails; the log says why). */
bool qsd_dead(const struct qsd *q);

/* Stop it (SIGTERM: qemu flushes the image and exits), remove its socket and directory. */
void qsd_stop(struct qsd *q);

#endif
