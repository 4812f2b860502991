/* The input format of fuzz-config, shared with the seed generator. */
#ifndef FUZZ_CONFIG_H
#define FUZZ_CONFIG_H

/*
 * Byte 0: what the backend offers. Then the node map as text: one `path=value` a line
 * (the first '=' splits; a line without one is skipped; a later line for the same path
 * wins). A path starting with "B/" is in the backend's directory FUZZ_BE, one starting
 * with "F/" in the frontend's FUZZ_FE; any other is taken as it is.
 */
#define FUZZ_QUEUES_MASK 0x1f	/* bits 0-4: multi-queue-max-queues - 1 (1 .. 32) */
#define FUZZ_MODE_SHIFT	5	/* bits 5-6: the grant mode asked for, see fuzz_mode() */
#define FUZZ_MODE_MASK	0x03
#define FUZZ_TAKE_OVER	0x80	/* read as a daemon taking over from an earlier one */

#define FUZZ_DOMID	5
#define FUZZ_BE		"/local/domain/0/backend/vbd3/5/51728"
#define FUZZ_FE		"/local/domain/5/device/vbd/51728"

#endif
