/* The input format of fuzz-parse, shared with the seed generator. */
#ifndef FUZZ_PARSE_H
#define FUZZ_PARSE_H

/* Byte 0: bits 0-1 the ABI (0 native, 1 x86_32, 2 x86_64, 3 native on an 8-sector disk). */
#define FUZZ_ABI_MASK	0x03
#define FUZZ_4K		0x04	/* 4096-byte logical sectors, else 512 */
#define FUZZ_RO		0x08	/* read-only disk */
#define FUZZ_DISCARD	0x10	/* feature-discard offered */
#define FUZZ_SECURE	0x20	/* discard-secure offered */
#define FUZZ_INDIRECT	0x40	/* feature-max-indirect-segments = 256 */
#define FUZZ_HUGE	0x80	/* disk of 2^64 - 8 sectors, else FUZZ_SMALL_SECTORS */
#define FUZZ_SMALL_SECTORS 2048

/* The ring slot: the largest layout (native/x86_64 request) is 112 bytes. */
#define FUZZ_SLOT	112

#endif
