/* For the engine tests: one storage I/O and what its completion reported. */
#ifndef TESTS_UNIT_STORAGE_OP_H
#define TESTS_UNIT_STORAGE_OP_H

#include <stddef.h>
#include <stdint.h>

#include "../../storage/storage.h"

/* One I/O and what its completion reported. */
struct op {
	struct storage_io io;
	int calls;
	int64_t result;
};

/* Completion callback: record the result and count the calls. */
static inline void op_done(struct storage_io *io, int64_t result)
{
	struct op *op = (struct op *)((char *)io - offsetof(struct op, io));

	op->calls++;
	op->result = result;
}

#endif
