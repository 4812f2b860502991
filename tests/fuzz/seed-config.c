/*
 * Write fuzz-config's seed corpus into DIR: valid configurations of each shape (one
 * queue with a single ring-ref, multi-page rings, several queues, a take-over), in each
 * ABI and grant mode. usage: seed-config DIR
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz-config.h"

#define PERSISTENT (0u << FUZZ_MODE_SHIFT)
#define MAP (1u << FUZZ_MODE_SHIFT)
#define COPY (2u << FUZZ_MODE_SHIFT)

/* One seed being written: its text, and whether anything went wrong. */
static char text[4096];
static size_t used;
static int failed;

/* Append a printf-formatted line to text. */
static void line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void line(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text + used, sizeof(text) - used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 1 >= sizeof(text) - used) {
		fprintf(stderr, "seed-config: seed too long\n");
		failed = 1;
		return;
	}
	used += (size_t)n;
	text[used++] = '\n';
	text[used] = '\0';
}

/* Start a seed: the toolstack's backend nodes, a disk of params, mode w or r. */
static void start(const char *params, char mode)
{
	used = 0;
	text[0] = '\0';
	line("B/frontend=%s", FUZZ_FE);
	line("B/frontend-id=%u", FUZZ_DOMID);
	line("B/params=%s", params);
	line("B/mode=%c", mode);
}

/* The frontend's nodes: nr queues of 2^order pages (order < 0: no ring-page-order). */
static void frontend(unsigned int nr, int order, const char *protocol, int persistent)
{
	char dir[32] = "F";
	unsigned int ref = 8;

	if (nr > 1)
		line("F/multi-queue-num-queues=%u", nr);
	if (order >= 0)
		line("F/ring-page-order=%d", order);
	if (protocol)
		line("F/protocol=%s", protocol);
	line("F/feature-persistent=%d", persistent);
	for (unsigned int q = 0; q < nr; q++) {
		if (nr > 1)
			snprintf(dir, sizeof(dir), "F/queue-%u", q);
		if (order < 0)
			line("%s/ring-ref=%u", dir, ref++);
		for (unsigned int i = 0; order >= 0 && i < 1u << order; i++)
			line("%s/ring-ref%u=%u", dir, i, ref++);
		line("%s/event-channel=%u", dir, 3 + q);
	}
	line("F/state=3");
}

/* Write the seed built so far as DIR/NAME, after the offer byte. */
static void put(const char *dir, const char *name, unsigned int offer)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fputc((int)offer, f) == EOF || fputs(text, f) == EOF) {
		perror(path);
		failed = 1;
	}
	if (f && fclose(f)) {
		perror(path);
		failed = 1;
	}
}

int main(int argc, char **argv)
{
	const char *dir;

	if (argc != 2) {
		fprintf(stderr, "usage: seed-config DIR\n");
		return 2;
	}
	dir = argv[1];

	start("mem:size=64M", 'w');
	frontend(1, -1, "x86_64-abi", 1);
	put(dir, "single-x86_64", 3 | PERSISTENT);

	start("mem:size=1G,name=disk0", 'r');
	frontend(1, -1, "x86_32-abi", 0);
	put(dir, "single-x86_32-ro", 0 | MAP);

	start("file:/var/lib/disk.img,direct", 'w');
	frontend(1, -1, NULL, 1);
	put(dir, "single-noproto", 1 | COPY);

	/* xl's plain phy disk on Xen 4.17's route: a path alone, type phy */
	start("/dev/vg0/vm1", 'w');
	line("B/type=phy");
	frontend(1, -1, "x86_64-abi", 1);
	put(dir, "phy-path", 3 | PERSISTENT);

	start("uring:/dev/vdb,fault=16+8:eio", 'w');
	frontend(1, 2, "x86_64-abi", 1);
	put(dir, "order2", 7 | PERSISTENT);

	start("mem:size=32M", 'w');
	frontend(1, 4, "x86_32-abi", 1);
	line("B/feature-persistent=1");
	put(dir, "order4-takeover", 3 | PERSISTENT | FUZZ_TAKE_OVER);

	start("mem:size=64M", 'w');
	frontend(2, -1, "x86_64-abi", 1);
	put(dir, "mq2", 1 | PERSISTENT);

	start("file:/srv/guest.img", 'w');
	frontend(4, 1, NULL, 0);
	put(dir, "mq4-order1", 7 | MAP);

	start("mem:size=16M", 'w');
	frontend(32, 0, "x86_64-abi", 1);
	line("B/feature-persistent=0");
	put(dir, "mq32-takeover", 0 | PERSISTENT | FUZZ_TAKE_OVER);
	return failed;
}
