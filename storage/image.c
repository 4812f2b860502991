/*
 * The image engines qcow2:, vmdk:, vhdx:, vpc: and raw:: a qemu-storage-daemon of the
 * disk's own (storage/qsd.c) opens the image with qemu's driver of that name and serves it
 * over NBD on a private Unix socket; the data path is the nbd engine on that socket.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qsd.h"
#include "storage.h"

/* How long the nbd engine waits for qemu before I/O fails (qemu only goes if it died). */
#define IMAGE_NBD_TIMEOUT_S 10

/* The disk: the nbd engine's disk on the socket, and the process behind it. */
struct image {
	struct storage inner;
	struct qsd *qsd;
};

/* The nbd engine's disk inside. */
static struct storage *inner(struct storage *disk)
{
	return &((struct image *)disk->priv)->inner;
}

/* s percent-encoded where a URI's query value may not hold it as it is, into buf. */
static int uri_escape(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || strchr("/-._~", c);

		if (o + 4 > len)
			return -ENAMETOOLONG;
		o += (size_t)(plain ? snprintf(buf + o, len - o, "%c", c) :
				      snprintf(buf + o, len - o, "%%%02X", c));
	}
	buf[o] = '\0';
	return 0;
}

/* Start the image's qemu-storage-daemon and connect the nbd engine to it. */
static int image_open(struct storage *disk, const struct storage_spec *spec, char *err,
		      size_t errlen)
{
	const char *format = disk->ops->name;
	struct image *img;
	char sock[3 * PATH_MAX], uri[3 * PATH_MAX + 64];
	int ret;

	if (spec->shared) {
		snprintf(err, errlen, "%s image %s: 'shared' is for file: and uring: disks; qemu "
			 "locks an image it serves", format, spec->path);
		return -EINVAL;
	}
	img = calloc(1, sizeof(*img));
	if (!img)
		return -ENOMEM;
	ret = qsd_start(&img->qsd, format, spec->path, spec->readonly, spec->direct, err, errlen);
	if (ret)
		goto fail;
	ret = uri_escape(qsd_socket(img->qsd), sock, sizeof(sock));
	if (ret)
		goto fail;
	snprintf(uri, sizeof(uri), "nbd+unix:///" QSD_EXPORT "?socket=%s", sock);
	img->inner.ops = &storage_nbd_ops;
	img->inner.caps.sector_size = img->inner.caps.physical_sector_size = 512;
	ret = storage_nbd_open_uri(&img->inner, uri, spec->readonly, IMAGE_NBD_TIMEOUT_S, err,
				   errlen);
	if (ret)
		goto fail;
	disk->size = img->inner.size;
	disk->readonly = img->inner.readonly;
	disk->caps = img->inner.caps;
	disk->priv = img;
	return 0;
fail:
	qsd_stop(img->qsd);
	free(img);
	return ret;
}

/* Close the nbd engine's disk, then stop qemu (which flushes the image). */
static void image_close(struct storage *disk)
{
	struct image *img = disk->priv;

	storage_nbd_ops.close(&img->inner);
	qsd_stop(img->qsd);
	free(img);
	disk->priv = NULL;
}

/* A queue: a queue of the nbd disk. */
static int image_queue_open(struct storage *disk, struct storage_queue *q)
{
	struct storage_queue *iq;
	int ret = storage_queue_open(inner(disk), &iq);

	if (!ret)
		q->priv = iq;
	return ret;
}

/* Close the nbd disk's queue. */
static void image_queue_close(struct storage_queue *q)
{
	storage_queue_close(q->priv);
	q->priv = NULL;
}

/* To the nbd engine; failed at once once qemu has died (the log said so). */
static void image_submit(struct storage_queue *q, struct storage_io *io)
{
	struct storage_queue *iq = q->priv;

	if (qsd_dead(((struct image *)q->disk->priv)->qsd)) {
		io->done(io, -EIO);
		return;
	}
	iq->disk->ops->submit(iq, io);
}

/* What the nbd engine's queue waits for. */
static void image_poll(struct storage_queue *q, struct storage_poll *p)
{
	storage_poll(q->priv, p);
}

/* The nbd engine's queue's completions. */
static void image_reap(struct storage_queue *q)
{
	storage_reap(q->priv);
}

/* The connections to qemu. */
static void image_link(const struct storage *disk, struct storage_link *l)
{
	storage_link(&((const struct image *)disk->priv)->inner, l);
}

#define IMAGE_OPS(fmt, what)							\
const struct storage_ops storage_##fmt##_ops = {				\
	.name = #fmt,								\
	.usage = #fmt ":/ABSOLUTE/PATH" what "[,ro][,direct]",			\
	.needs_path = true,							\
	.open = image_open,							\
	.close = image_close,							\
	.queue_open = image_queue_open,						\
	.queue_close = image_queue_close,					\
	.submit = image_submit,							\
	.poll = image_poll,							\
	.reap = image_reap,							\
	.link = image_link,							\
}

IMAGE_OPS(qcow2, ".qcow2");
IMAGE_OPS(vmdk, ".vmdk");
IMAGE_OPS(vhdx, ".vhdx");
IMAGE_OPS(vpc, ".vhd");
IMAGE_OPS(raw, ".img");
