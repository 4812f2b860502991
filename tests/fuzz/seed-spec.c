/* Write fuzz-spec's seed corpus into DIR: valid disk specs of every engine. usage: seed-spec DIR */
#include <stdio.h>
#include <string.h>

static const char *const seeds[] = {
	"mem:size=64M", "mem:size=1G,ro", "mem:name=disk0,size=4096", "mem:name=disk1",
	"mem:size=1MiB,fault=2048+8:enospc", "file:/var/lib/disk.img",
	"file:/dev/sdb,ro,direct", "file:/tmp/x.img,fault=0+1:eio",
	"uring:/var/lib/disk.img,direct", "uring:/dev/vdb,ro,fault=16+16",
	"mem:size=1M,iops=5000,iops-burst=50,bps=100M,bps-burst=8M", "file:/srv/x.img,bps=4K,iops=0",
};

int main(int argc, char **argv)
{
	char path[512];
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: seed-spec DIR\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/spec-%zu", argv[1], i);
		f = fopen(path, "wb");
		/* Byte 0: an error buffer of 16 + 240 bytes, then the text. */
		if (!f || fputc(240, f) == EOF || fputs(seeds[i], f) == EOF) {
			perror(path);
			err = 1;
		}
		if (f && fclose(f)) {
			perror(path);
			err = 1;
		}
	}
	return err;
}
