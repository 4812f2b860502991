/* For the engine tests: open a disk from a spec that must parse. */
#ifndef TESTS_UNIT_OPEN_SPEC_H
#define TESTS_UNIT_OPEN_SPEC_H

#include "../../storage/storage.h"
#include "check.h"

/* Parse a spec (it must parse) and open it; returns the open's result, err holds any message. */
static inline int open_spec(const char *text, struct storage **disk, char *err, size_t errlen)
{
	struct storage_spec spec;
	int ret;

	err[0] = '\0';
	ret = storage_spec_parse(text, &spec, err, errlen);
	CHECK(ret == 0, "spec '%s' refused: %s", text, err);
	if (ret)
		return ret;
	ret = storage_open(&spec, disk, err, errlen);
	storage_spec_free(&spec);
	return ret;
}

#endif
